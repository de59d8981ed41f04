"""What the trainer reads, made ready before it starts: the datasets' working copies (once per node), the base
model from the cache tiers, the modality config and the builtin engine's request file."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sagemaker_entry import contract, engines
from sagemaker_entry.contract import TrainingEnv
from sagemaker_entry.model_cache import HubFetch, ModelCache, ModelResult, S3Tier
from sagemaker_entry.plan import Plan, modality_config_file, trainer_request
from sagemaker_entry.reports import write_json

log = logging.getLogger("gr00t_sm.entry")


def prepare_datasets(plan: Plan) -> list[str]:
    """Working copies of every dataset of the run, prepared; returns the warnings for run_summary.json."""
    from sagemaker_entry.dataset import prepare

    warnings: list[str] = []
    for source, work in ((plan.dataset_source, plan.dataset_dir), *plan.more_datasets):
        copy, report = prepare(source, work, str(plan.config["dataConfig"]), video_backend=str(plan.config["videoBackend"]))
        how = "hard links" if copy.hardlinks else "symbolic links"
        log.info("dataset working copy %s: %d files linked (%s), %d copied; prepared: %s", copy.path, copy.linked_files,
                 how, copy.copied_files, ", ".join(report.prepared) or "nothing needed")
        for warning in report.warnings:
            log.warning("dataset: %s", warning)
        warnings.extend(f"dataset: {w}" for w in report.warnings)
    return warnings + hold_out_episodes(plan)


def hold_out_episodes(plan: Plan) -> list[str]:
    """GR00T engines: the first dataset's evaluation episodes (the ones evaluated) out of its training working copy,
    into ``plan.eval_dataset_dir``; returns the warning when the dataset has too few for that."""
    import shutil

    from gr00t_data.split import listed_episodes
    from sagemaker_entry.dataset import hold_out
    from sagemaker_entry.evaluation import held_out_positions

    if plan.eval_dataset_dir.exists():
        shutil.rmtree(plan.eval_dataset_dir)  # an earlier attempt's on this instance: the evaluation must not read it
    wanted = int(plan.config["evalEpisodes"])
    if not plan.isaac_gr00t or wanted == 0:
        return []
    indices = [int(e["episode_index"]) for e in listed_episodes(plan.dataset_dir)]
    held, why_not = held_out_positions(indices, wanted, plan.spec)
    if why_not:
        log.warning("evaluation: %s", why_not)
        return [f"evaluation: {why_not}"]
    hold_out(plan.dataset_dir, plan.eval_dataset_dir, held)
    log.info("evaluation: episodes %s held out of training (%s); the other %d train",
             ", ".join(str(indices[p]) for p in held), plan.eval_dataset_dir, len(indices) - len(held))
    return []


def model_cache(plan: Plan, client: Callable[[str], Any], hub_fetch: HubFetch | None = None) -> ModelCache:
    """The plan's cache tiers with their clients; the Hub token is read only when a download needs it."""
    tiers = plan.model_cache
    s3 = S3Tier(client("s3"), tiers.s3_uri) if tiers.s3_uri else None
    secret_id = tiers.hf_token_secret_id

    def token() -> str | None:
        if not secret_id:
            return None
        from gr00t_aws.secrets import read_hf_token

        return read_hf_token(client("secretsmanager"), secret_id)

    return ModelCache(list(tiers.tiers), s3=s3, hub_fetch=(hub_fetch or download_from_hub) if tiers.use_hub else None,
                      token_provider=token, required_file=tiers.required_file)


def fetch_model(cache: ModelCache, plan: Plan) -> ModelResult:
    result = cache.fetch(
        str(plan.config["baseModelPath"]), str(plan.config["modelRevision"]), invalidate=bool(plan.config["invalidateModelCache"])
    )
    for note in result.notes:
        log.info("model cache: %s", note)
    if result.path is None:
        log.warning("no cached base model %s for the builtin engine: training starts from random initialization",
                    plan.config["baseModelPath"])
    log.info("base model served by tier '%s' in %.2f s: %s", result.tier, result.seconds, result.path)
    return result


def write_trainer_files(env: TrainingEnv, plan: Plan, base_model_dir: Path | None) -> None:
    """The modality config (engines that take one) and the request file (the builtin engine)."""
    modality = modality_config_file(env, plan)
    if modality is not None:
        how = engines.prepare_modality_config(
            plan.spec, asset_root=env.channel(contract.DATASET_CHANNEL), dataset_dir=plan.dataset_dir,
            embodiment_tag=str(plan.config["embodimentTag"]), dest=modality)
        log.info("modality config %s: %s", modality, how)
    request = trainer_request(env, plan, base_model_dir)
    if request is not None:
        write_json(plan.request_file, request)


def download_from_hub(repo_id: str, revision: str, dest: Path, token: str | None) -> None:
    from gr00t_aws.hf_hub import download_snapshot

    download_snapshot(repo_id, revision, dest, token=token)
