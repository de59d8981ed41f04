"""Optional release of the fine-tuned policy to the Hugging Face Hub (parameter ``hubRepoId``).

After the outputs are in the asset and the inference check has passed, the final checkpoint and the model card
go to a Hub model repository in one commit whose message names the output folder. The repository is created
private when missing; an existing one keeps its visibility. The token is read from Secrets Manager
(``hfTokenSecretId``, as for downloads) and handed to the Hub client as an argument only.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gr00t_core.errors import UploadError

log = logging.getLogger("gr00t_sm.release")

# Files of a checkpoint a user does not need to run the policy (optimizer and scheduler state, RNG states,
# our own upload bookkeeping): the HF Trainer's names (transformers trainer.py OPTIMIZER_NAME, SCHEDULER_NAME,
# rng_state*.pth) and the builtin engine's completion marker.
LEFT_OUT = ("optimizer.pt", "scheduler.pt", ".complete", ".gr00t-uploads.json", "training_args.bin")


def release_files(checkpoint: Path, card: Path) -> list[tuple[str, Path]]:
    """(path in repo, local file): the checkpoint's files at the repo root, the card as README.md."""
    files: list[tuple[str, Path]] = []
    for root, _dirs, names in os.walk(checkpoint):
        for name in sorted(names):
            if name in LEFT_OUT or (name.startswith("rng_state") and name.endswith(".pth")):
                continue
            path = Path(root, name)
            files.append((path.relative_to(checkpoint).as_posix(), path))
    files.append(("README.md", card))
    return sorted(files)


def release(
    repo_id: str, checkpoint: Path, card: Path, *, output_folder: str, token: str | None, endpoint: str | None = None,
    publish: Callable[..., str] | None = None,
) -> str:
    if not token:
        raise UploadError(
            f"hubRepoId is {repo_id!r} but no Hugging Face token is configured: store a token with write access in "
            "Secrets Manager and set the deployment's hfTokenSecretId, or leave hubRepoId empty"
        )
    if publish is None:
        from gr00t_aws.hf_hub import publish_folder

        publish = publish_folder
    files = release_files(checkpoint, card)
    url = publish(repo_id, files, token=token, endpoint=endpoint,
                  commit_message=f"{output_folder}: {checkpoint.name} and model card (gr00t-sagemaker)")
    log.info("published %s (%d files) and the model card to %s", checkpoint.name, len(files) - 1, url)
    return url


def for_entry(env: Any, config: Any, identity: Any, reports_dir: Path, client: Callable[[str], Any]) -> str:
    """The entry's hook: latest checkpoint + the card written among the reports."""
    from sagemaker_entry.checkpoints import list_checkpoints
    from sagemaker_entry.model_card import CARD_FILE

    found = list_checkpoints(env.checkpoint_dir)
    if not found:
        raise UploadError("hubRepoId is set but the run saved no checkpoint to publish")
    token = None
    if identity.hf_token_secret_id:
        from gr00t_aws.secrets import read_hf_token

        token = read_hf_token(client("secretsmanager"), identity.hf_token_secret_id)
    return release(str(config["hubRepoId"]), found[-1][1], reports_dir / CARD_FILE, output_folder=identity.output_folder,
                   token=token)
