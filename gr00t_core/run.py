"""The run identity: where a training job's outputs go and who asked for it.

The launcher builds it from the VAMS event (or a standalone run's arguments) and passes it to the job as
hyperparameters under the VAMS field names, beside the resolved parameters; the container reads it back.
Nothing here is secret: ``hfTokenSecretId`` names a Secrets Manager secret, the token itself is read at run time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields

from gr00t_core.errors import ConfigError

# Where the training container writes TensorBoard event files: the CreateTrainingJob request's
# TensorBoardOutputConfig.LocalPath (SageMaker's documented default), which SageMaker copies to its S3OutputPath
# while the job runs. The launcher sets it; the container's contract reads it (relative to its /opt/ml root).
TENSORBOARD_LOCAL_PATH = "/opt/ml/output/tensorboard"


@dataclass(frozen=True)
class RunIdentity:
    asset_id: str
    database_id: str
    # s3://bucket/pipelines/.../files/ : every object written here becomes an asset file
    output_files_uri: str
    # s3://bucket/pipelines/.../metadata/ : asset.metadata.json written here updates the asset's metadata
    output_metadata_uri: str = ""
    output_preview_uri: str = ""
    # gr00tOutput_{MODEL}_trainingjob_{YYYYMMDDTHHMMSS}_{JOBID}; fixed at launch so restarts keep it
    output_folder: str = ""
    # s3://bucket/prefix/ holding a copy of base models keyed by id + revision ("" = no S3 tier)
    model_cache_uri: str = ""
    # Secrets Manager id (name or ARN) of the Hugging Face token ("" = anonymous hub access)
    hf_token_secret_id: str = ""
    pipeline_id: str = ""
    workflow_id: str = ""
    executing_user: str = ""

    # dataclass field -> hyperparameter key (VAMS event field names where VAMS has one)
    _KEYS = {
        "asset_id": "assetId",
        "database_id": "databaseId",
        "output_files_uri": "outputS3AssetFilesPath",
        "output_metadata_uri": "outputS3AssetMetadataPath",
        "output_preview_uri": "outputS3AssetPreviewPath",
        "output_folder": "outputFolderName",
        "model_cache_uri": "modelCacheS3Uri",
        "hf_token_secret_id": "hfTokenSecretId",
        "pipeline_id": "pipelineId",
        "workflow_id": "workflowId",
        "executing_user": "executingUserName",
    }

    @property
    def output_prefix_uri(self) -> str:
        """s3://.../files/gr00tOutput_.../ : where this run's checkpoints and reports go."""
        return f"{self.output_files_uri.rstrip('/')}/{self.output_folder}/"

    def to_hyperparameters(self) -> dict[str, str]:
        return {self._KEYS[k]: v for k, v in asdict(self).items() if v}

    @classmethod
    def from_hyperparameters(cls, hps: Mapping[str, str]) -> RunIdentity:
        values = {f.name: str(hps.get(cls._KEYS[f.name], "") or "") for f in fields(cls)}
        missing = [cls._KEYS[k] for k in ("output_files_uri", "output_folder") if not values[k]]
        if missing:
            raise ConfigError(
                [f"hyperparameter {k} is missing: the job must be started by `gr00t-sm launch` or the launch Lambda" for k in missing]
            )
        return cls(**values)


RUN_HYPERPARAMETER_KEYS = frozenset(RunIdentity._KEYS.values())
