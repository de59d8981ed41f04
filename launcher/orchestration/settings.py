"""Deployment settings: what the operator allows, read once from the environment or a ``--settings`` JSON file.

The Lambda functions get these as environment variables (the SAM template sets them); ``gr00t-sm launch`` reads
the same keys from the environment and from ``--settings FILE`` (the file wins). They cap what a per-asset
``gr00t_config.json`` may request: an asset cannot ask for an instance type, instance count, runtime or base
model the operator did not allow. Each default sits beside its variable as ``DEFAULT_X``.
"""

from __future__ import annotations

import fnmatch
import functools
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from gr00t_core.errors import SettingsError
from gr00t_core.json_text import JsonTextError, parse_json

DEFAULT_ALLOWED_INSTANCE_TYPES = ("ml.g6e.*",)
DEFAULT_MAX_INSTANCE_COUNT = 4
DEFAULT_MAX_RUNTIME_SECONDS = 24 * 3600
DEFAULT_MAX_KEEP_ALIVE_SECONDS = 3600  # the SageMaker developer guide's warm-pool maximum
DEFAULT_ALLOWED_BASE_MODEL_OWNERS = ("nvidia",)
DEFAULT_MODEL_CACHE_PREFIX = "gr00t-model-cache/"
DEFAULT_JOB_NAME_PREFIX = "gr00t"
DEFAULT_TOKEN_TTL_SECONDS = 14 * 86400  # kept after the job ends so late duplicate events still find their record
DEFAULT_FILE_SYSTEM_ACCESS_MODE = "rw"  # the job fills the cache on a miss

PLACEHOLDER = "<PLACEHOLDER: set {env}>"

_FILE_SYSTEM_TYPES = ("FSxLustre", "EFS")
_ROLE_ARN = re.compile(r"^arn:aws[a-z\-]*:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+$")
_FS_ID = re.compile(r"^fs-[0-9a-f]{8,}$")
_SUBNET = re.compile(r"^subnet-[0-9a-f]{8,17}$")
_SECURITY_GROUP = re.compile(r"^sg-[0-9a-f]{8,17}$")
_S3_PREFIX = re.compile(r"^s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9](/.*)?$")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")
_JOB_PREFIX = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,19}$")
# A key ARN, not an id or alias: IAM policies name KMS keys only by key ARN (AWS KMS developer guide,
# "Specifying KMS keys in IAM policy statements"), and the template grants the roles this same ARN.
_KMS_KEY_ARN = re.compile(r"^arn:aws[a-z\-]*:kms:[a-z0-9\-]+:\d{12}:key/(mrk-[0-9a-f]{32}|[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12})$")


def _env(name: str, **kwargs: Any) -> Any:
    return field(metadata={"env": name}, **kwargs)


@dataclass(frozen=True)
class DeploymentSettings:
    image_uri: str = _env("GR00T_IMAGE_URI", default="")  # the training image in ECR (builtin and GR00T N1.5)
    # One image per later Isaac-GR00T generation (container/Dockerfile built with its GR00T_COMMIT); "" = that
    # generation cannot be launched here. gr00t_core.engines names the field each engine runs on.
    image_uri_n1_6: str = _env("GR00T_IMAGE_URI_N1_6", default="")
    image_uri_n1_7: str = _env("GR00T_IMAGE_URI_N1_7", default="")
    role_arn: str = _env("GR00T_ROLE_ARN", default="")  # SageMaker execution role passed to the job
    # fnmatch patterns, e.g. "ml.g6e.*"; every instance type a config names (fallbacks too) must match one
    allowed_instance_types: tuple[str, ...] = _env("GR00T_ALLOWED_INSTANCE_TYPES", default=DEFAULT_ALLOWED_INSTANCE_TYPES)
    max_instance_count: int = _env("GR00T_MAX_INSTANCE_COUNT", default=DEFAULT_MAX_INSTANCE_COUNT)
    max_runtime_seconds: int = _env("GR00T_MAX_RUNTIME_SECONDS", default=DEFAULT_MAX_RUNTIME_SECONDS)
    max_keep_alive_seconds: int = _env("GR00T_MAX_KEEP_ALIVE_SECONDS", default=DEFAULT_MAX_KEEP_ALIVE_SECONDS)
    # Hugging Face owners whose models may be fine-tuned ("*" = any); absolute local paths are always allowed
    allowed_base_model_owners: tuple[str, ...] = _env(
        "GR00T_ALLOWED_BASE_MODEL_OWNERS", default=DEFAULT_ALLOWED_BASE_MODEL_OWNERS
    )
    token_table: str = _env("GR00T_TOKEN_TABLE", default="")  # DynamoDB table of task tokens by job name
    token_ttl_seconds: int = _env("GR00T_TOKEN_TTL_SECONDS", default=DEFAULT_TOKEN_TTL_SECONDS)
    model_cache_bucket: str = _env("GR00T_MODEL_CACHE_BUCKET", default="")  # "" = no S3 model-cache tier
    model_cache_prefix: str = _env("GR00T_MODEL_CACHE_PREFIX", default=DEFAULT_MODEL_CACHE_PREFIX)
    file_system_id: str = _env("GR00T_FILE_SYSTEM_ID", default="")  # FSx for Lustre / EFS model cache ("" = none)
    file_system_type: str = _env("GR00T_FILE_SYSTEM_TYPE", default="")  # FSxLustre | EFS
    # FSx: /<MountName>/<path>; EFS: /<path>
    file_system_directory: str = _env("GR00T_FILE_SYSTEM_DIRECTORY", default="")
    file_system_access_mode: str = _env("GR00T_FILE_SYSTEM_ACCESS_MODE", default=DEFAULT_FILE_SYSTEM_ACCESS_MODE)
    subnets: tuple[str, ...] = _env("GR00T_SUBNETS", default=())
    security_groups: tuple[str, ...] = _env("GR00T_SECURITY_GROUPS", default=())
    hf_token_secret_id: str = _env("GR00T_HF_TOKEN_SECRET_ID", default="")  # a secret's id, never the token
    output_prefix: str = _env("GR00T_OUTPUT_PREFIX", default="")  # s3://bucket/prefix/ for standalone runs
    # The asset bucket's customer-managed KMS key ("" = SSE-S3 / AWS managed). Sent as OutputDataConfig.KmsKeyId:
    # without it SageMaker encrypts its output with the account's aws/s3 key, not the bucket's key.
    asset_kms_key_arn: str = _env("GR00T_ASSET_KMS_KEY_ARN", default="")
    job_name_prefix: str = _env("GR00T_JOB_NAME_PREFIX", default=DEFAULT_JOB_NAME_PREFIX)

    @property
    def model_cache_uri(self) -> str:
        if not self.model_cache_bucket:
            return ""
        prefix = self.model_cache_prefix.strip("/")
        return f"s3://{self.model_cache_bucket}/{prefix}/" if prefix else f"s3://{self.model_cache_bucket}/"

    @property
    def has_file_system(self) -> bool:
        return bool(self.file_system_id)

    def allows_instance_type(self, instance_type: str) -> bool:
        return any(fnmatch.fnmatchcase(instance_type, pattern) for pattern in self.allowed_instance_types)

    def allows_base_model(self, base_model_path: str) -> bool:
        if base_model_path.startswith("/"):
            return True
        owner = base_model_path.split("/", 1)[0]
        return "*" in self.allowed_base_model_owners or owner in self.allowed_base_model_owners

    def missing_for_launch(self) -> list[str]:
        """Environment variable names that must be set before a job can really be started."""
        return [env_name(name) for name in ("image_uri", "role_arn") if not getattr(self, name)]

    def with_placeholders(self) -> DeploymentSettings:
        """A copy with clearly marked placeholders for what is missing (``--dry-run`` without settings)."""
        missing = ("role_arn", *IMAGE_FIELDS)
        placeholders: dict[str, Any] = {name: PLACEHOLDER.format(env=env_name(name)) for name in missing if not getattr(self, name)}
        return replace(self, **placeholders)


def env_name(field_name: str) -> str:
    return _FIELDS[field_name].metadata["env"]


_FIELDS = {f.name: f for f in fields(DeploymentSettings)}
ENV_NAMES: tuple[str, ...] = tuple(f.metadata["env"] for f in fields(DeploymentSettings))
IMAGE_FIELDS = ("image_uri", "image_uri_n1_6", "image_uri_n1_7")


def is_placeholder(value: str) -> bool:
    return value.startswith("<PLACEHOLDER")


def _parse(name: str, raw: Any, default: Any) -> Any:
    if isinstance(default, tuple):
        if isinstance(raw, (list, tuple)):
            items = [str(v).strip() for v in raw]
        elif isinstance(raw, str):
            items = [part.strip() for part in raw.split(",")]
        else:
            raise ValueError(f"expected a comma-separated string or a JSON list, got {raw!r}")
        return tuple(i for i in items if i)
    if isinstance(default, int):
        if isinstance(raw, bool):
            raise ValueError(f"expected an integer, got {raw!r}")
        try:
            return int(str(raw).strip())
        except ValueError:
            raise ValueError(f"expected an integer, got {raw!r}") from None
    if not isinstance(raw, str):
        raise ValueError(f"expected a string, got {raw!r}")
    return raw.strip()


def _validate(s: DeploymentSettings) -> list[str]:
    problems: list[str] = []

    def bad(field_name: str, message: str) -> None:
        problems.append(f"{env_name(field_name)}: {message}")

    if s.role_arn and not is_placeholder(s.role_arn) and not _ROLE_ARN.match(s.role_arn):
        bad("role_arn", f"{s.role_arn!r} is not an IAM role ARN (arn:aws:iam::123456789012:role/NAME)")
    for name in IMAGE_FIELDS:
        uri = getattr(s, name)
        if uri and not is_placeholder(uri) and (len(uri) > 255 or re.search(r"\s", uri)):
            bad(name, f"{uri!r} is not an image URI (ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPO:TAG, <= 255 chars)")
    if not s.allowed_instance_types:
        bad("allowed_instance_types", "must name at least one instance type or pattern, e.g. ml.g6e.*")
    for name in ("max_instance_count", "max_runtime_seconds", "token_ttl_seconds"):
        if getattr(s, name) < 1:
            bad(name, f"must be at least 1, got {getattr(s, name)}")
    if not 0 <= s.max_keep_alive_seconds <= 3600:
        bad("max_keep_alive_seconds", f"must be between 0 and 3600 (SageMaker warm pools), got {s.max_keep_alive_seconds}")
    if s.max_runtime_seconds > 28 * 86400:
        bad("max_runtime_seconds", f"SageMaker allows at most 28 days (2419200 s), got {s.max_runtime_seconds}")
    if not s.allowed_base_model_owners:
        bad("allowed_base_model_owners", "must name at least one Hugging Face owner (e.g. nvidia) or *")
    if s.model_cache_bucket and not _BUCKET.match(s.model_cache_bucket):
        bad("model_cache_bucket", f"{s.model_cache_bucket!r} is not an S3 bucket name (give the name, not s3://...)")
    if s.output_prefix and not _S3_PREFIX.match(s.output_prefix):
        bad("output_prefix", f"{s.output_prefix!r} must be an s3://bucket/prefix/ URI")
    if s.asset_kms_key_arn and not _KMS_KEY_ARN.match(s.asset_kms_key_arn):
        bad("asset_kms_key_arn", f"{s.asset_kms_key_arn!r} is not a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/KEY-ID; not an alias)")
    if not _JOB_PREFIX.match(s.job_name_prefix):
        bad("job_name_prefix", f"{s.job_name_prefix!r} must be 1-20 letters, digits or hyphens")
    if s.file_system_id:
        if not _FS_ID.match(s.file_system_id):
            bad("file_system_id", f"{s.file_system_id!r} is not a file system id (fs-0123456789abcdef0)")
        if s.file_system_type not in _FILE_SYSTEM_TYPES:
            bad("file_system_type", f"must be one of {', '.join(_FILE_SYSTEM_TYPES)} when GR00T_FILE_SYSTEM_ID is set, got {s.file_system_type!r}")
        if not s.file_system_directory.startswith("/"):
            bad("file_system_directory", "must be an absolute path (FSx for Lustre: /<MountName>/<path>; EFS: /<path>)")
        if not (s.subnets and s.security_groups):
            bad("file_system_id", "a file system channel needs GR00T_SUBNETS and GR00T_SECURITY_GROUPS (the job runs in your VPC)")
    elif s.file_system_type or s.file_system_directory:
        bad("file_system_id", "GR00T_FILE_SYSTEM_TYPE/DIRECTORY are set but GR00T_FILE_SYSTEM_ID is empty")
    if s.file_system_access_mode not in ("rw", "ro"):
        bad("file_system_access_mode", f"must be rw or ro, got {s.file_system_access_mode!r}")
    if bool(s.subnets) != bool(s.security_groups):
        bad("subnets", "set both GR00T_SUBNETS and GR00T_SECURITY_GROUPS, or neither")
    if not 0 <= len(s.subnets) <= 16 or any(not _SUBNET.match(x) for x in s.subnets):
        bad("subnets", f"must be 1-16 subnet ids (subnet-...), got {', '.join(s.subnets)}")
    if len(s.security_groups) > 5 or any(not _SECURITY_GROUP.match(x) for x in s.security_groups):
        bad("security_groups", f"must be 1-5 security group ids (sg-...), got {', '.join(s.security_groups)}")
    return problems


def settings_from_mapping(values: Mapping[str, Any], *, base: DeploymentSettings | None = None, source: str) -> DeploymentSettings:
    """Settings from ``{ENV_NAME: value}`` on top of ``base``; keys other than GR00T_* settings are ignored."""
    kwargs: dict[str, Any] = {}
    problems: list[str] = []
    for f in fields(DeploymentSettings):
        env = f.metadata["env"]
        if env not in values or values[env] is None or values[env] == "" and not isinstance(f.default, str):
            continue
        try:
            kwargs[f.name] = _parse(env, values[env], f.default)
        except ValueError as exc:
            problems.append(f"{env}: {exc}")
    unknown = sorted(k for k in values if k.startswith("GR00T_") and k not in ENV_NAMES)
    if unknown and source != "environment":
        problems.append(f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(ENV_NAMES)}")
    settings = replace(base or DeploymentSettings(), **kwargs)
    problems += _validate(settings)
    if problems:
        lines = "\n".join(f"  - {p}" for p in problems)
        raise SettingsError(f"Invalid deployment settings in {source} ({len(problems)} problem(s)):\n{lines}")
    return settings


def load_settings(environ: Mapping[str, str] | None = None, settings_file: str | Path | None = None) -> DeploymentSettings:
    """Environment variables, then the ``--settings`` JSON file on top (explicit beats ambient)."""
    settings = settings_from_mapping(os.environ if environ is None else environ, source="environment")
    if settings_file is None:
        return settings
    path = Path(settings_file)
    try:
        data = parse_json(path.read_bytes(), name=f"settings file {str(path)!r}")
    except FileNotFoundError:
        raise SettingsError(f"settings file {str(path)!r} does not exist; pass an existing JSON file to --settings") from None
    except JsonTextError as exc:
        raise SettingsError(str(exc)) from None
    if not isinstance(data, dict):
        raise SettingsError(f"settings file {str(path)!r} must hold a JSON object of GR00T_* keys, found {type(data).__name__}")
    return settings_from_mapping(data, base=settings, source=f"settings file {str(path)!r}")


@functools.cache
def settings_from_environment() -> DeploymentSettings:
    """The Lambda's settings: read once per container (environment variables do not change while it lives)."""
    return load_settings()
