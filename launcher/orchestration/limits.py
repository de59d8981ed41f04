"""Check a CreateTrainingJob request against SageMaker's real limits before sending it.

botocore validates types and required members but not lengths, counts, patterns or enums, and moto accepts
anything; SageMaker itself would reject the request only after the Lambda has done its work. So the request is
walked against the SageMaker service model (min/max/pattern/enum of every member), then the rules the model
does not carry are applied (warm pools vs spot, MaxWait, file systems need a VPC, secrets never in plain sight).

The instance type is the one enum checked against this project's table (gr00t_core.instances) instead of the
service model: the model comes from whatever botocore the Lambda runtime bundles, and an older one lacks newer
instance types that SageMaker accepts.
"""

from __future__ import annotations

import functools
import itertools
import re
import unicodedata
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from gr00t_core.errors import ConfigError
from gr00t_core.instances import SAGEMAKER_INSTANCE_TYPES, unsupported_instance_type
from launcher.orchestration.settings import is_placeholder

if TYPE_CHECKING:  # boto3-stubs (requirements-dev.txt): types only, not shipped in the Lambda package
    from mypy_boto3_sagemaker import SageMakerClient

MAX_RUNTIME_LIMIT = 28 * 86400
MAX_KEEP_ALIVE = 3600  # developer guide (the API model allows 21600)

# Java-regex classes used by the service model, as Python's re spells them (\w for letters is a little looser:
# it also takes digits and "_", which every pattern using \p{L} allows anyway; \d for numbers is a little
# stricter: it refuses No such as "²"). Java's \p{Z} is the Unicode separator category (Zs, Zl, Zp), not
# Python's \s: tab, newline and U+0085 are control characters (Cc) that SageMaker's TagKey / TagValue pattern
# ``([\p{L}\p{Z}\p{N}_.:/=+\-@]*)`` refuses (botocore/data/sagemaker/2017-07-24/service-2.json).
_SEPARATORS = "".join(chr(c) for c in range(0x3001) if unicodedata.category(chr(c)).startswith("Z"))  # none above U+3000
_JAVA_CLASSES = {r"\p{L}": r"\w", r"\p{N}": r"\d", r"\p{Z}": re.escape(_SEPARATORS), r"\p{Alnum}": r"a-zA-Z0-9"}
_TAG_PUNCTUATION = frozenset("_.:/=+-@")


def tag_character_ok(ch: str) -> bool:
    r"""Whether SageMaker's tag pattern takes ``ch``: a letter, separator or number (Java's \p{L} \p{Z} \p{N}: the
    Unicode categories L*, Z*, N*) or one of ``_.:/=+-@``."""
    return unicodedata.category(ch)[0] in "LZN" or ch in _TAG_PUNCTUATION
_SECRET_WORDS = {"TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL", "CREDENTIALS", "APIKEY"}
_SECRET_PAIRS = {("ACCESS", "KEY"), ("PRIVATE", "KEY"), ("API", "KEY")}
_REFERENCE_WORDS = {"ID", "ARN", "NAME"}  # hfTokenSecretId names a secret, it is not one
# Hugging Face tokens and AWS access keys have recognisable shapes: refuse them wherever they appear.
_SECRET_VALUE = re.compile(r"\b(hf_[A-Za-z0-9]{30,}|AKIA[0-9A-Z]{16}|ASIA[0-9A-Z]{16})\b")
# Enums the instance table owns (see the module docstring); _rule_problems checks them against the table.
_TABLE_OWNED_ENUMS = frozenset({"CreateTrainingJob.ResourceConfig.InstanceType"})


@functools.cache
def _operation_model() -> Any:
    import botocore.session  # deferred: only needed when a request is checked

    return botocore.session.get_session().get_service_model("sagemaker").operation_model("CreateTrainingJob")


@functools.cache
def _compiled(java: str) -> re.Pattern[str]:
    text = java
    for java_class, python_class in _JAVA_CLASSES.items():
        text = text.replace(java_class, python_class)
    return re.compile(text, re.DOTALL)


def _walk(shape: Any, value: Any, path: str, problems: list[str]) -> None:
    meta = shape.metadata
    kind = shape.type_name
    if kind == "structure" and isinstance(value, Mapping):
        for name, member_value in value.items():
            member = shape.members.get(name)
            if member is None:
                problems.append(f"{path}.{name}: not a CreateTrainingJob field")
            else:
                _walk(member, member_value, f"{path}.{name}", problems)
        return
    if kind in ("list", "map"):
        count = len(value)
        if "min" in meta and count < meta["min"]:
            problems.append(f"{path}: needs at least {meta['min']} entries, has {count}")
        if "max" in meta and count > meta["max"]:
            problems.append(f"{path}: at most {meta['max']} entries allowed, has {count}")
        if kind == "list":
            for i, item in enumerate(value):
                _walk(shape.member, item, f"{path}[{i}]", problems)
        else:
            for key, item in value.items():
                _walk(shape.key, key, f"{path} key {key!r}", problems)
                _walk(shape.value, item, f"{path}[{key!r}]", problems)
        return
    if kind == "string":
        if not isinstance(value, str):
            problems.append(f"{path}: must be a string, got {type(value).__name__} {value!r}")
            return
        if "min" in meta and len(value) < meta["min"]:
            problems.append(f"{path}: at least {meta['min']} characters, got {len(value)}")
        if "max" in meta and len(value) > meta["max"]:
            problems.append(f"{path}: at most {meta['max']} characters, got {len(value)} ({value[:40]!r}...)")
        if shape.enum and value not in shape.enum and path not in _TABLE_OWNED_ENUMS:
            problems.append(f"{path}: {value!r} is not a value SageMaker accepts here")
        elif "pattern" in meta and not _compiled(meta["pattern"]).fullmatch(value) and not is_placeholder(value):
            problems.append(f"{path}: {value!r} does not match SageMaker's pattern {meta['pattern']}")
        return
    if kind in ("integer", "long") and isinstance(value, int) and not isinstance(value, bool):
        if "min" in meta and value < meta["min"]:
            problems.append(f"{path}: must be at least {meta['min']}, got {value}")
        if "max" in meta and value > meta["max"]:
            problems.append(f"{path}: must be at most {meta['max']}, got {value}")


def _looks_secret(key: str) -> bool:
    """HF_TOKEN, hfToken, aws_secret_access_key: yes. TOKENIZERS_PARALLELISM, hfTokenSecretId: no."""
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", key).upper().replace("-", "_").split("_")
    words = [w for w in words if w]
    if words and words[-1] in _REFERENCE_WORDS:
        return False
    return bool(_SECRET_WORDS & set(words)) or any(pair in itertools.pairwise(words) for pair in _SECRET_PAIRS)


def _secret_problems(request: Mapping[str, Any]) -> list[str]:
    problems = []
    visible = {
        "HyperParameters": request.get("HyperParameters") or {},
        "Environment": request.get("Environment") or {},
        "Tags": {t.get("Key", ""): t.get("Value", "") for t in request.get("Tags") or []},
    }
    for where, entries in visible.items():
        for key, value in entries.items():
            if _looks_secret(key):
                problems.append(
                    f"{where}[{key!r}]: looks like a secret; {where} are visible to anyone who can describe the job. "
                    "Pass a Secrets Manager secret id instead (GR00T_HF_TOKEN_SECRET_ID)"
                )
            elif isinstance(value, str) and _SECRET_VALUE.search(value):
                problems.append(f"{where}[{key!r}]: the value contains a token or access key; remove it")
    return problems


def _rule_problems(request: Mapping[str, Any]) -> list[str]:
    problems = []
    resource = request.get("ResourceConfig", {})
    stopping = request.get("StoppingCondition", {})
    spot = bool(request.get("EnableManagedSpotTraining"))
    keep_alive = resource.get("KeepAlivePeriodInSeconds", 0)
    instance_type = resource.get("InstanceType")
    if instance_type is not None and instance_type not in SAGEMAKER_INSTANCE_TYPES:
        problems.append(f"ResourceConfig.InstanceType: {unsupported_instance_type(instance_type)}")
    if keep_alive and spot:
        problems.append("ResourceConfig.KeepAlivePeriodInSeconds: warm pools cannot be combined with managed spot training")
    if keep_alive > MAX_KEEP_ALIVE:
        problems.append(f"ResourceConfig.KeepAlivePeriodInSeconds: at most {MAX_KEEP_ALIVE} s, got {keep_alive}")
    if resource.get("InstanceCount", 1) < 1:
        problems.append("ResourceConfig.InstanceCount: must be at least 1")
    runtime = stopping.get("MaxRuntimeInSeconds", 0)
    if runtime > MAX_RUNTIME_LIMIT:
        problems.append(f"StoppingCondition.MaxRuntimeInSeconds: SageMaker allows at most 28 days ({MAX_RUNTIME_LIMIT} s), got {runtime}")
    wait = stopping.get("MaxWaitTimeInSeconds")
    if wait is not None and not spot:
        problems.append("StoppingCondition.MaxWaitTimeInSeconds: only valid with EnableManagedSpotTraining")
    if spot and (wait is None or wait < runtime):
        problems.append(f"StoppingCondition.MaxWaitTimeInSeconds: spot training needs it >= MaxRuntimeInSeconds ({runtime}), got {wait}")
    channels = request.get("InputDataConfig", [])
    names = [c.get("ChannelName") for c in channels]
    if len(names) != len(set(names)):
        problems.append(f"InputDataConfig: channel names must be unique, got {names}")
    uses_file_system = any("FileSystemDataSource" in c.get("DataSource", {}) for c in channels)
    if uses_file_system and not request.get("VpcConfig"):
        problems.append("InputDataConfig: a FileSystemDataSource channel needs VpcConfig (subnets and security groups)")
    for c in channels:
        fs = c.get("DataSource", {}).get("FileSystemDataSource")
        if fs and fs.get("FileSystemType") == "FSxLustre" and fs.get("DirectoryPath", "").count("/") < 2:
            problems.append(f"{c.get('ChannelName')}: FSx for Lustre DirectoryPath must be /<MountName>/<path>, got {fs.get('DirectoryPath')!r}")
        if fs and c.get("InputMode", "File") != "File":
            problems.append(f"{c.get('ChannelName')}: file-system channels support only InputMode File")
    return problems


def request_problems(request: Mapping[str, Any], operation_model: Any = None) -> list[str]:
    """Every way ``request`` breaks SageMaker's limits or this project's rules (empty when it is fine)."""
    model = operation_model or _operation_model()
    problems: list[str] = []
    for required in model.input_shape.required_members:
        if required not in request:
            problems.append(f"{required}: required by CreateTrainingJob")
    _walk(model.input_shape, request, "CreateTrainingJob", problems)
    problems = [p.removeprefix("CreateTrainingJob.") for p in problems]
    return problems + _rule_problems(request) + _secret_problems(request)


def validate_training_job_request(request: Mapping[str, Any], operation_model: Any = None) -> None:
    """Raise :class:`ConfigError` listing every problem; nothing is sent when this fails."""
    problems = request_problems(request, operation_model)
    if problems:
        raise ConfigError(problems, header="The training job request breaks SageMaker limits")


def create_training_job_model(sm: SageMakerClient) -> Any:
    """The CreateTrainingJob operation model of a SageMaker client (already loaded with the client)."""
    return sm.meta.service_model.operation_model("CreateTrainingJob")
