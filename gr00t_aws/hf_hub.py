"""Hugging Face Hub adapter: download one model snapshot into a folder, with errors a user can act on.

The token is passed as an argument (read from Secrets Manager by the caller), never through the environment,
and is scrubbed from any message that could reach a log or the failure file.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from gr00t_core.errors import ModelFetchError


def _scrub(text: str, token: str | None) -> str:
    return text.replace(token, "***") if token else text


def download_snapshot(
    repo_id: str, revision: str, dest: Path, *, token: str | None = None, endpoint: str | None = None, workers: int = 8
) -> Path:
    """Download ``repo_id@revision`` into ``dest`` (created). Raises :class:`ModelFetchError` with the reason."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    dest.mkdir(parents=True, exist_ok=True)
    where = f"{repo_id!r} (revision {revision!r})"
    try:
        snapshot_download(
            repo_id, revision=revision, local_dir=dest, token=token or False, endpoint=endpoint, max_workers=workers
        )
    except GatedRepoError:
        raise ModelFetchError(
            f"model {where} is gated: accept its license on huggingface.co with the account whose token is stored in "
            "the hfTokenSecretId secret" + ("" if token else ", and configure that secret (no token was given)")
        ) from None
    except RevisionNotFoundError:
        raise ModelFetchError(f"model {repo_id!r} has no revision {revision!r}; fix modelRevision") from None
    except RepositoryNotFoundError:
        hint = "the token in the hfTokenSecretId secret was rejected or cannot see it" if token else "it may be private (set hfTokenSecretId)"
        raise ModelFetchError(f"model {where} was not found on the Hugging Face Hub: check baseModelPath; {hint}") from None
    except LocalEntryNotFoundError as exc:
        raise ModelFetchError(
            f"cannot download model {where}: the Hugging Face Hub is unreachable from the training job "
            f"({_scrub(str(exc).splitlines()[0] if str(exc) else type(exc).__name__, token)}); pre-fill the model "
            "cache (modelCacheS3Uri or the model_cache channel) or give the job internet access"
        ) from None
    except HfHubHTTPError as exc:
        status = getattr(getattr(exc, "response", None), "status_code", None)
        if status in (401, 403):
            raise ModelFetchError(
                f"the Hugging Face Hub refused access to model {where} (HTTP {status}): the token in the "
                "hfTokenSecretId secret is missing, wrong or expired"
            ) from None
        raise ModelFetchError(f"downloading model {where} failed: {_scrub(str(exc), token)[:300]}") from None
    except (OSError, ValueError) as exc:
        raise ModelFetchError(f"downloading model {where} failed: {_scrub(str(exc), token)[:300]}") from None
    shutil.rmtree(dest / ".cache", ignore_errors=True)  # the hub client's download bookkeeping, not model files
    return dest


def publish_folder(
    repo_id: str, files: list[tuple[str, Path]], *, token: str, commit_message: str, private: bool = True,
    endpoint: str | None = None,
) -> str:
    """One commit of ``files`` (path in repo, local file) to the model repo ``repo_id``, created (private) when
    missing. Returns the commit URL. Raises :class:`UploadError` with the reason; the token never appears in it.

    ``create_commit`` rather than ``upload_folder``: with ``hf_xet`` installed, upload_folder may split a large
    folder into several commits ("(part N)", huggingface_hub ``HfApi.upload_folder`` docstring) and the run
    promises one. Files go as open binary files, which takes huggingface_hub's LFS path (``_commit_api._upload_files``:
    "Uploading files as a binary IO buffer is not supported by Xet Storage. Falling back to HTTP upload.").
    """
    from huggingface_hub import CommitOperationAdd, HfApi
    from huggingface_hub.errors import HfHubHTTPError

    from gr00t_core.errors import UploadError

    api = HfApi(endpoint=endpoint, token=token)
    where = f"Hugging Face model repo {repo_id!r}"
    handles = []
    try:
        api.create_repo(repo_id, repo_type="model", private=private, exist_ok=True)
        operations = []
        for path_in_repo, local in files:
            handle = open(local, "rb")  # noqa: SIM115 - closed below, after the commit has read it
            handles.append(handle)
            operations.append(CommitOperationAdd(path_in_repo=path_in_repo, path_or_fileobj=handle))
        info = api.create_commit(repo_id, operations, commit_message=commit_message, repo_type="model")
    except (HfHubHTTPError, OSError, ValueError) as exc:
        status = getattr(getattr(exc, "response", None), "status_code", None)
        if status in (401, 403):
            raise UploadError(
                f"the Hugging Face Hub refused to publish to {where} (HTTP {status}): the token in the hfTokenSecretId "
                "secret needs write access to that namespace"
            ) from None
        raise UploadError(f"publishing to {where} failed: {_scrub(str(exc), token)[:300]}") from None
    finally:
        for handle in handles:
            handle.close()
    return str(info.commit_url)
