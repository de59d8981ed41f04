"""The VAMS pipeline event, as Powertools parser (pydantic) models, and what the launcher derives from it.

VAMS invokes the pipeline Lambda with ``{"body": {...}}`` (https://github.com/awslabs/visual-asset-management-system, backend/backend/handlers/workflows, VAMS 2.5); ``body`` is normally an
object but may arrive as a JSON string, ``inputMetadata`` / ``inputParameters`` are JSON strings (``""`` allowed)
and the callback token is ``body.TaskToken``. This project's own state machine sends the same body and puts the
token beside it (``{"body": ..., "TaskToken": ...}``) because ASL cannot add a key to an object it passes through.
Standalone runs add ``gr00tRunParameters`` (per-run parameters, tier "run"); VAMS never sends it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.parser import BaseModel, Field, ValidationError, field_validator, parse
from pydantic import ConfigDict, StrictInt, StrictStr

from gr00t_core import json_text
from gr00t_core.errors import ConfigError, EventError
from gr00t_core.parameters import to_string
from gr00t_core.resolution import parse_json_object
from gr00t_core.s3_uri import S3Uri, S3UriError

# s3://{bucketAsset}/pipelines/{pipeline}/{job}/output/{executionName}/files/
_OUTPUT_PATH = re.compile(r"/pipelines/(?P<pipeline>[^/]+)/(?P<job>[^/]+)/output/(?P<execution>[^/]+)/files/?$")
MAX_ATTEMPT = 99


def split_s3_uri(uri: str, *, what: str) -> tuple[str, str]:
    """(bucket, key) of ``uri`` (:class:`gr00t_core.s3_uri.S3Uri`); :class:`EventError` when it is not one."""
    try:
        parsed = S3Uri.parse(uri, what=what)
    except S3UriError as exc:
        raise EventError(str(exc)) from None
    return parsed.bucket, parsed.key


def build_body(
    *,
    bucket: str,
    asset_key: str,
    asset_id: str,
    database_id: str,
    output_root: str,
    input_metadata: Mapping[str, Any] | None = None,
    input_parameters: Mapping[str, Any] | None = None,
    user: str = "",
    **extra: Any,
) -> dict[str, Any]:
    """The one builder of a VAMS pipeline ``body`` (what VAMS's workflow sends the pipeline Lambda; the fields of
    VAMS's ``WorkflowExecutionInput``), for local mode and standalone runs alike.

    ``output_root`` is the run's ``.../output/{execution}/`` prefix: files/, previews/ and metadata/ sit under it as
    VAMS lays them out. ``input_metadata`` and ``input_parameters`` are sent as JSON strings ("" when empty), the
    parameter values as strings, as VAMS sends them. ``extra`` adds fields (e.g. ``gr00tRunParameters``).
    """
    root = output_root if output_root.endswith("/") else output_root + "/"
    return {
        "inputS3AssetFilePath": f"s3://{bucket}/{asset_key}",
        "outputS3AssetFilesPath": f"{root}files/",
        "outputS3AssetPreviewPath": f"{root}previews/",
        "outputS3AssetMetadataPath": f"{root}metadata/",
        "bucketAsset": bucket,
        "inputAssetLocationKey": asset_key,
        "assetId": asset_id,
        "databaseId": database_id,
        "inputMetadata": json.dumps(dict(input_metadata)) if input_metadata else "",
        "inputParameters": json.dumps({k: to_string(v) for k, v in input_parameters.items()}) if input_parameters else "",
        "executingUserName": user,
        **extra,
    }


def _is_bucket_name(value: str) -> bool:
    try:
        return S3Uri.parse(f"s3://{value}/").bucket == value
    except S3UriError:
        return False


def _json_object(value: Any, what: str) -> dict[str, Any]:
    try:
        return parse_json_object(value, what=what)
    except ConfigError as exc:  # re-raised as ValueError so pydantic reports it with the field's location
        raise ValueError("; ".join(exc.problems)) from None


class VamsBody(BaseModel):
    model_config = ConfigDict(extra="allow")

    inputS3AssetFilePath: StrictStr
    outputS3AssetFilesPath: StrictStr
    outputS3AssetPreviewPath: StrictStr = ""
    outputS3AssetMetadataPath: StrictStr = ""
    inputOutputS3AssetAuxiliaryFilesPath: StrictStr = ""
    bucketAsset: StrictStr = ""
    bucketAssetAuxiliary: StrictStr = ""
    assetId: StrictStr = ""
    databaseId: StrictStr = ""
    workflowDatabaseId: StrictStr = ""
    workflowId: StrictStr = ""
    inputAssetFileKey: StrictStr = ""
    inputAssetLocationKey: StrictStr = ""
    outputType: StrictStr = ""
    inputMetadata: dict[str, Any] = Field(default_factory=dict)
    inputParameters: dict[str, Any] = Field(default_factory=dict)
    executingUserName: StrictStr = ""
    executingRequestContext: Any = None
    TaskToken: StrictStr | None = Field(default=None, min_length=1, max_length=2048)
    gr00tRunParameters: dict[str, Any] = Field(default_factory=dict)

    @field_validator("inputMetadata", mode="before")
    @classmethod
    def _metadata(cls, value: Any) -> dict[str, Any]:
        return _json_object(value, "inputMetadata")

    @field_validator("inputParameters", mode="before")
    @classmethod
    def _parameters(cls, value: Any) -> dict[str, Any]:
        return _json_object(value, "inputParameters")

    @field_validator("gr00tRunParameters", mode="before")
    @classmethod
    def _run_parameters(cls, value: Any) -> dict[str, Any]:
        return _json_object(value, "gr00tRunParameters")

    @field_validator("inputS3AssetFilePath", "outputS3AssetFilesPath")
    @classmethod
    def _s3(cls, value: str) -> str:
        try:
            S3Uri.parse(value)
        except S3UriError:
            raise ValueError(f"must be an s3://bucket/key URI, got {value!r}") from None
        return value

    # Every other URI the run writes to: optional (empty = not written), but a malformed one would launch a job
    # that fails only after training, when the entry uploads there.
    @field_validator("outputS3AssetMetadataPath", "outputS3AssetPreviewPath")
    @classmethod
    def _optional_s3(cls, value: str) -> str:
        return cls._s3(value) if value else value

    @field_validator("bucketAsset")
    @classmethod
    def _bucket(cls, value: str) -> str:
        # the bucket of the asset root when set: the same characters as a bucket in an S3 URI (botocore refuses
        # some of the rest before sending, with ParamValidationError)
        if value and not _is_bucket_name(value):
            raise ValueError(f"must be an S3 bucket name (lowercase letters, digits, dots or hyphens), got {value!r}")
        return value


class VamsEvent(BaseModel):
    model_config = ConfigDict(extra="allow")

    body: VamsBody
    TaskToken: StrictStr | None = Field(default=None, min_length=1, max_length=2048)
    attempt: StrictInt = Field(default=1, ge=1, le=MAX_ATTEMPT)  # standalone reruns; VAMS never sets it

    @field_validator("body", mode="before")
    @classmethod
    def _body(cls, value: Any) -> Any:
        if isinstance(value, str):
            return json_text.parse_json(value, name="body (a JSON string)")  # its JsonTextError is a ValueError
        return value

    @property
    def task_token(self) -> str | None:
        return self.body.TaskToken or self.TaskToken


def _describe_errors(exc: ValidationError) -> list[str]:
    problems = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "event"
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "missing":
            message = "is required but missing"
        elif err["type"].endswith("_type"):
            message = f"{err['msg'].lower()}, got {type(err.get('input')).__name__}"
        problems.append(f"{where} {message}" if err["type"] == "missing" else f"{where}: {message}")
    return problems


def parse_vams_event(event: Any) -> VamsEvent:
    """Validate a raw Lambda event; :class:`EventError` lists every bad field."""
    try:
        # The Lambda runtime's json.loads lets NaN, lone surrogates and any depth through: the same bounds as
        # every other JSON document (gr00t_core.json_text), naming the member.
        if isinstance(event, str):
            event = json_text.parse_json(event, name="The pipeline event")
        else:
            json_text.check_value(event, name="The pipeline event")
    except json_text.JsonTextError as exc:
        raise EventError(f"{exc}; expected {{\"body\": {{...}}}} as VAMS sends it") from None
    if not isinstance(event, Mapping):
        raise EventError(f"The pipeline event must be a JSON object with a 'body', got {type(event).__name__}")
    try:
        return parse(event=dict(event), model=VamsEvent)
    except ValidationError as exc:
        problems = _describe_errors(exc)
        lines = "\n".join(f"  - {p}" for p in problems)
        raise EventError(f"The pipeline event is malformed ({len(problems)} problem(s)):\n{lines}") from None


def find_task_token(event: Any) -> str | None:
    """The callback token of an event that may fail validation, so the failure can still be reported."""
    if isinstance(event, str):
        try:
            event = json_text.parse_json(event, name="event")
        except json_text.JsonTextError:
            return None
    if not isinstance(event, Mapping):
        return None
    body = event.get("body")
    if isinstance(body, str):
        try:
            body = json_text.parse_json(body, name="body")
        except json_text.JsonTextError:
            body = None
    for source in (body if isinstance(body, Mapping) else {}, event):
        token = source.get("TaskToken")
        # 1-2048 characters (Step Functions API reference, SendTaskFailure taskToken); a token that is not UTF-8
        # text cannot be sent at all
        if isinstance(token, str) and 0 < len(token) <= 2048 and json_text.value_problem(token) is None:
            return token
    return None


def flatten_asset_metadata(input_metadata: Mapping[str, Any]) -> dict[str, Any]:
    """Asset metadata (key -> value) from ``inputMetadata``; file metadata of the selected file wins over it.

    VAMS 2.5 sends ``{"VAMS": {"assetMetadata": {k: v}, "fileMetadata": {...}}}``; the list form
    ``{"metadata": [{"metadataKey", "metadataValue"}]}`` of some VAMS builds is accepted too.
    """
    vams = input_metadata.get("VAMS", input_metadata)
    if not isinstance(vams, Mapping):
        return {}
    merged: dict[str, Any] = {}
    for section in ("assetMetadata", "fileMetadata"):
        merged.update(_key_values(vams.get(section)))
    return merged


def _key_values(section: Any) -> dict[str, Any]:
    if not isinstance(section, Mapping):
        return {}
    entries = section.get("metadata")
    if isinstance(entries, list):
        return {
            str(e["metadataKey"]): e.get("metadataValue")
            for e in entries
            if isinstance(e, Mapping) and "metadataKey" in e
        }
    return {str(k): v for k, v in section.items()}


@dataclass(frozen=True)
class AssetLocation:
    """Where the asset lives in S3: ``s3://{bucket}/{root_key}`` (root_key ends with ``/``)."""

    bucket: str
    root_key: str

    def uri(self, relative: str = "") -> str:
        return f"s3://{self.bucket}/{self.root_key}{relative.lstrip('/')}"

    def key(self, relative: str) -> str:
        return f"{self.root_key}{relative.lstrip('/')}"


def asset_location(body: VamsBody) -> AssetLocation:
    """bucketAsset + inputAssetLocationKey is the asset root; without them, the input path (a prefix) or its folder."""
    input_bucket, input_key = split_s3_uri(body.inputS3AssetFilePath, what="body.inputS3AssetFilePath")
    bucket = body.bucketAsset or input_bucket
    root = body.inputAssetLocationKey
    if not root:
        if not input_key or input_key.endswith("/"):
            root = input_key  # no file selected: the path is the asset's prefix
        else:
            root = input_key.rsplit("/", 1)[0] + "/" if "/" in input_key else ""
    if root and not root.endswith("/"):
        root += "/"
    return AssetLocation(bucket, root)


@dataclass(frozen=True)
class RunOrigin:
    """Who started the run and where its outputs go, as named in the event."""

    asset_id: str
    database_id: str
    output_files_uri: str
    output_metadata_uri: str
    output_preview_uri: str
    pipeline_id: str
    execution_id: str
    workflow_id: str
    executing_user: str
    attempt: int

    @property
    def run_key(self) -> tuple[str, ...]:
        """What makes a run unique: a retried Lambda computes the same key, hence the same job name."""
        key = (self.asset_id, self.database_id, self.output_files_uri)
        return key if self.attempt == 1 else (*key, f"attempt-{self.attempt}")

    @property
    def work_uri(self) -> str:
        """s3://.../output/{execution}/sagemaker/ : checkpoints, TensorBoard, SageMaker's own output.

        A sibling of the ``files/`` folder, so VAMS never registers these into the asset, and shared by every
        attempt of the run, so a retried job resumes from the last checkpoint.
        """
        files = self.output_files_uri.rstrip("/")
        if files.endswith("/files"):
            return files[: -len("files")] + "sagemaker/"
        return files + "-sagemaker/"


def run_origin(event: VamsEvent, location: AssetLocation) -> RunOrigin:
    body = event.body
    files = body.outputS3AssetFilesPath if body.outputS3AssetFilesPath.endswith("/") else body.outputS3AssetFilesPath + "/"
    match = _OUTPUT_PATH.search(files)
    asset_id = body.assetId or location.root_key.rstrip("/").rsplit("/", 1)[-1] or location.bucket
    return RunOrigin(
        asset_id=asset_id,
        database_id=body.databaseId,
        output_files_uri=files,
        output_metadata_uri=body.outputS3AssetMetadataPath,
        output_preview_uri=body.outputS3AssetPreviewPath,
        pipeline_id=match.group("pipeline") if match else "",
        execution_id=match.group("execution") if match else "",
        workflow_id=body.workflowId,
        executing_user=body.executingUserName,
        attempt=event.attempt,
    )
