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
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

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


def _text(raw: Any) -> str:
    if not isinstance(raw, str):
        raise ValueError(f"expected a string, got {raw!r}")
    return raw.strip()


def _integer(raw: Any) -> int:
    if isinstance(raw, bool):
        raise ValueError(f"expected an integer, got {raw!r}")
    if isinstance(raw, int):
        return raw
    try:
        return int(str(raw).strip())
    except ValueError:
        raise ValueError(f"expected an integer, got {raw!r}") from None


def _items(raw: Any) -> tuple[str, ...]:
    # An environment variable can only hold text, so lists are comma-separated there; a JSON file may use a list.
    if isinstance(raw, (list, tuple)):
        items = [str(v).strip() for v in raw]
    elif isinstance(raw, str):
        items = [part.strip() for part in raw.split(",")]
    else:
        raise ValueError(f"expected a comma-separated string or a JSON list, got {raw!r}")
    return tuple(i for i in items if i)


def _matching(pattern: re.Pattern[str], problem: str, *, placeholder_ok: bool = False) -> AfterValidator:
    """``problem`` (formatted with the value) when a non-empty value does not match; placeholders pass where
    ``--dry-run`` may put them."""

    def check(value: str) -> str:
        if value and not (placeholder_ok and is_placeholder(value)) and not pattern.match(value):
            raise ValueError(problem.format(value=value))
        return value

    return AfterValidator(check)


def _at_least_one(value: int) -> int:
    if value < 1:
        raise ValueError(f"must be at least 1, got {value}")
    return value


def _runtime(value: int) -> int:
    if value > 28 * 86400:
        raise ValueError(f"SageMaker allows at most 28 days (2419200 s), got {value}")
    return value


def _keep_alive(value: int) -> int:
    if not 0 <= value <= 3600:
        raise ValueError(f"must be between 0 and 3600 (SageMaker warm pools), got {value}")
    return value


def _not_empty(fix: str) -> AfterValidator:
    def check(value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError(fix)
        return value

    return AfterValidator(check)


def _one_of(*choices: str) -> AfterValidator:
    def check(value: str) -> str:
        if value not in choices:
            raise ValueError(f"must be {' or '.join(choices)}, got {value!r}")
        return value

    return AfterValidator(check)


def _job_name_prefix(value: str) -> str:
    if not _JOB_PREFIX.match(value):
        raise ValueError(f"{value!r} must be 1-20 letters, digits or hyphens")
    return value


Text = Annotated[str, BeforeValidator(_text)]
Integer = Annotated[int, BeforeValidator(_integer)]
Items = Annotated[tuple[str, ...], BeforeValidator(_items)]
PositiveInteger = Annotated[Integer, AfterValidator(_at_least_one)]
ImageUri = Annotated[Text, _matching(re.compile(r"^\S{1,255}$"), "{value!r} is not an image URI (ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPO:TAG, <= 255 chars)", placeholder_ok=True)]


def _env(name: str, default: Any) -> Any:
    # The variable's name is the field's validation alias: the model reads {GR00T_*: value} mappings directly.
    return Field(default=default, validation_alias=name)


class DeploymentSettings(BaseModel):
    # Frozen: read once per Lambda container and shared by every invocation. Built by field name in code and
    # tests, by variable name from the environment and --settings files.
    model_config = ConfigDict(frozen=True, validate_by_name=True, validate_by_alias=True, extra="forbid")

    image_uri: ImageUri = _env("GR00T_IMAGE_URI", "")  # the training image in ECR (builtin and GR00T N1.5)
    # One image per later Isaac-GR00T generation (container/Dockerfile built with its GR00T_COMMIT); "" = that
    # generation cannot be launched here. gr00t_core.engines names the field each engine runs on.
    image_uri_n1_6: ImageUri = _env("GR00T_IMAGE_URI_N1_6", "")
    image_uri_n1_7: ImageUri = _env("GR00T_IMAGE_URI_N1_7", "")
    # SageMaker execution role passed to the job
    role_arn: Annotated[Text, _matching(_ROLE_ARN, "{value!r} is not an IAM role ARN (arn:aws:iam::123456789012:role/NAME)", placeholder_ok=True)] = _env("GR00T_ROLE_ARN", "")
    # fnmatch patterns, e.g. "ml.g6e.*"; every instance type a config names (fallbacks too) must match one
    allowed_instance_types: Annotated[Items, _not_empty("must name at least one instance type or pattern, e.g. ml.g6e.*")] = _env(
        "GR00T_ALLOWED_INSTANCE_TYPES", DEFAULT_ALLOWED_INSTANCE_TYPES
    )
    max_instance_count: PositiveInteger = _env("GR00T_MAX_INSTANCE_COUNT", DEFAULT_MAX_INSTANCE_COUNT)
    max_runtime_seconds: Annotated[PositiveInteger, AfterValidator(_runtime)] = _env("GR00T_MAX_RUNTIME_SECONDS", DEFAULT_MAX_RUNTIME_SECONDS)
    max_keep_alive_seconds: Annotated[Integer, AfterValidator(_keep_alive)] = _env("GR00T_MAX_KEEP_ALIVE_SECONDS", DEFAULT_MAX_KEEP_ALIVE_SECONDS)
    # Hugging Face owners whose models may be fine-tuned ("*" = any); absolute local paths are always allowed
    allowed_base_model_owners: Annotated[Items, _not_empty("must name at least one Hugging Face owner (e.g. nvidia) or *")] = _env(
        "GR00T_ALLOWED_BASE_MODEL_OWNERS", DEFAULT_ALLOWED_BASE_MODEL_OWNERS
    )
    token_table: Text = _env("GR00T_TOKEN_TABLE", "")  # DynamoDB table of task tokens by job name
    token_ttl_seconds: PositiveInteger = _env("GR00T_TOKEN_TTL_SECONDS", DEFAULT_TOKEN_TTL_SECONDS)
    # "" = no S3 model-cache tier
    model_cache_bucket: Annotated[Text, _matching(_BUCKET, "{value!r} is not an S3 bucket name (give the name, not s3://...)")] = _env(
        "GR00T_MODEL_CACHE_BUCKET", ""
    )
    model_cache_prefix: Text = _env("GR00T_MODEL_CACHE_PREFIX", DEFAULT_MODEL_CACHE_PREFIX)
    # FSx for Lustre / EFS model cache ("" = none)
    file_system_id: Annotated[Text, _matching(_FS_ID, "{value!r} is not a file system id (fs-0123456789abcdef0)")] = _env("GR00T_FILE_SYSTEM_ID", "")
    file_system_type: Text = _env("GR00T_FILE_SYSTEM_TYPE", "")  # FSxLustre | EFS
    # FSx: /<MountName>/<path>; EFS: /<path>
    file_system_directory: Text = _env("GR00T_FILE_SYSTEM_DIRECTORY", "")
    file_system_access_mode: Annotated[Text, _one_of("rw", "ro")] = _env("GR00T_FILE_SYSTEM_ACCESS_MODE", DEFAULT_FILE_SYSTEM_ACCESS_MODE)
    subnets: Items = _env("GR00T_SUBNETS", ())
    security_groups: Items = _env("GR00T_SECURITY_GROUPS", ())
    hf_token_secret_id: Text = _env("GR00T_HF_TOKEN_SECRET_ID", "")  # a secret's id, never the token
    # s3://bucket/prefix/ for standalone runs
    output_prefix: Annotated[Text, _matching(_S3_PREFIX, "{value!r} must be an s3://bucket/prefix/ URI")] = _env("GR00T_OUTPUT_PREFIX", "")
    # The asset bucket's customer-managed KMS key ("" = SSE-S3 / AWS managed). Sent as OutputDataConfig.KmsKeyId:
    # without it SageMaker encrypts its output with the account's aws/s3 key, not the bucket's key.
    asset_kms_key_arn: Annotated[
        Text, _matching(_KMS_KEY_ARN, "{value!r} is not a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/KEY-ID; not an alias)")
    ] = _env("GR00T_ASSET_KMS_KEY_ARN", "")
    job_name_prefix: Annotated[Text, AfterValidator(_job_name_prefix)] = _env("GR00T_JOB_NAME_PREFIX", DEFAULT_JOB_NAME_PREFIX)

    @model_validator(mode="after")
    def _combinations(self) -> DeploymentSettings:
        # Rules between settings; pydantic runs them once every setting is valid on its own.
        problems = _combination_problems(self)
        if problems:
            raise ValueError("\n".join(problems))
        return self

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
        return self.model_copy(update=placeholders)

    def environment(self) -> dict[str, str]:
        """The environment variables that describe these settings (what the SAM template sets)."""
        return {env_name(name): ",".join(v) if isinstance(v, tuple) else str(v) for name, v in self}


_ENV_BY_FIELD: dict[str, str] = {name: str(info.validation_alias) for name, info in DeploymentSettings.model_fields.items()}
_FIELD_BY_ENV: dict[str, str] = {env: name for name, env in _ENV_BY_FIELD.items()}
ENV_NAMES: tuple[str, ...] = tuple(_ENV_BY_FIELD.values())
IMAGE_FIELDS = ("image_uri", "image_uri_n1_6", "image_uri_n1_7")


def env_name(field_name: str) -> str:
    return _ENV_BY_FIELD[field_name]


def is_placeholder(value: str) -> bool:
    return value.startswith("<PLACEHOLDER")


def _combination_problems(s: DeploymentSettings) -> list[str]:
    problems: list[str] = []

    def bad(field_name: str, message: str) -> None:
        problems.append(f"{env_name(field_name)}: {message}")

    if s.file_system_id:
        if s.file_system_type not in _FILE_SYSTEM_TYPES:
            bad("file_system_type", f"must be one of {', '.join(_FILE_SYSTEM_TYPES)} when GR00T_FILE_SYSTEM_ID is set, got {s.file_system_type!r}")
        if not s.file_system_directory.startswith("/"):
            bad("file_system_directory", "must be an absolute path (FSx for Lustre: /<MountName>/<path>; EFS: /<path>)")
        if not (s.subnets and s.security_groups):
            bad("file_system_id", "a file system channel needs GR00T_SUBNETS and GR00T_SECURITY_GROUPS (the job runs in your VPC)")
    elif s.file_system_type or s.file_system_directory:
        bad("file_system_id", "GR00T_FILE_SYSTEM_TYPE/DIRECTORY are set but GR00T_FILE_SYSTEM_ID is empty")
    if bool(s.subnets) != bool(s.security_groups):
        bad("subnets", "set both GR00T_SUBNETS and GR00T_SECURITY_GROUPS, or neither")
    if not 0 <= len(s.subnets) <= 16 or any(not _SUBNET.match(x) for x in s.subnets):
        bad("subnets", f"must be 1-16 subnet ids (subnet-...), got {', '.join(s.subnets)}")
    if len(s.security_groups) > 5 or any(not _SECURITY_GROUP.match(x) for x in s.security_groups):
        bad("security_groups", f"must be 1-5 security group ids (sg-...), got {', '.join(s.security_groups)}")
    return problems


def _problems(error: ValidationError) -> dict[str, list[str]]:
    """``{GR00T_X: [what is wrong and the fix]}`` instead of pydantic's report; the combination rules come under
    "" (their lines already name their variables)."""
    problems: dict[str, list[str]] = {}
    for item in error.errors(include_url=False):
        cause = item.get("ctx", {}).get("error")
        message = str(cause) if isinstance(cause, ValueError) else item["msg"]
        if not item["loc"]:
            problems.setdefault("", []).extend(message.splitlines())
            continue
        env = _ENV_BY_FIELD.get(str(item["loc"][0]), str(item["loc"][0]))
        problems.setdefault(env, []).append(f"{env}: {message}")
    return problems


def settings_from_mapping(values: Mapping[str, Any], *, base: DeploymentSettings | None = None, source: str) -> DeploymentSettings:
    """Settings from ``{ENV_NAME: value}`` on top of ``base``; keys other than GR00T_* settings are ignored."""
    given: dict[str, Any] = {}
    for env, name in _FIELD_BY_ENV.items():
        raw = values.get(env)
        # an empty variable means "not set" unless the setting is text (where "" is the documented off value)
        if raw is None or raw == "" and not isinstance(DeploymentSettings.model_fields[name].default, str):
            continue
        given[env] = raw
    problems: list[str] = []
    unknown = sorted(k for k in values if k.startswith("GR00T_") and k not in _FIELD_BY_ENV)
    if unknown and source != "environment":
        problems.append(f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(ENV_NAMES)}")
    layered = {env_name(name): value for name, value in base} if base else {}
    settings = None
    # pydantic checks the combinations only once every setting is valid: a second pass without the invalid
    # settings (they keep their base values) reports those too, so one message lists every problem.
    for _ in range(2):
        try:
            settings = DeploymentSettings.model_validate({**layered, **given})
            break
        except ValidationError as exc:
            found = _problems(exc)
            problems += [line for lines in found.values() for line in lines if line not in problems]
            if not given.keys() & found.keys():
                break
            given = {env: raw for env, raw in given.items() if env not in found}
    if problems or settings is None:
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
