"""Naming rules: training job names and the asset output folder.

Job names must match SageMaker's ``^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$`` and are derived from the run identity,
so a retried Lambda invocation for the same workflow run computes the same name and cannot start a second job.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime

JOB_NAME_PATTERN = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")
JOB_NAME_MAX = 63
OUTPUT_FOLDER_PREFIX = "gr00tOutput_"


def model_short_name(base_model_path: str) -> str:
    """``nvidia/GR00T-N1.5-3B`` -> ``N1.5-3B`` (the seeded pipeline's MODEL part of the output folder)."""
    name = base_model_path.rstrip("/").rsplit("/", 1)[-1] or "model"
    name = re.sub(r"^GR00T-", "", name, flags=re.IGNORECASE)
    return re.sub(r"[^A-Za-z0-9.\-]", "-", name)


def run_hash(*parts: str, length: int = 10) -> str:
    """A short stable hash of the run identity (hex)."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
    return digest[:length]


def _slug(text: str, limit: int) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()
    return slug[:limit].strip("-") or "asset"


def training_job_name(asset_id: str, *identity: str, prefix: str = "gr00t") -> str:
    """Deterministic job name: ``{prefix}-{asset slug}-{hash of identity}``, at most 63 characters."""
    digest = run_hash(asset_id, *identity)
    room = JOB_NAME_MAX - len(prefix) - len(digest) - 2
    name = f"{prefix}-{_slug(asset_id, room)}-{digest}"
    assert JOB_NAME_PATTERN.match(name), name
    return name


def job_id(job_name: str) -> str:
    """The JOBID part of the output folder: the hash segment at the end of our job names."""
    return job_name.rsplit("-", 1)[-1]


def output_folder_name(base_model_path: str, job_name: str, started: datetime | None = None) -> str:
    """``gr00tOutput_{MODEL}_trainingjob_{YYYYMMDDTHHMMSS}_{JOBID}`` as the seeded pipeline names it."""
    when = (started or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S")
    return f"{OUTPUT_FOLDER_PREFIX}{model_short_name(base_model_path)}_trainingjob_{when}_{job_id(job_name)}"
