"""SageMaker training instance types this project knows, with their GPU counts.

Source: the SageMaker instance tables (https://aws.amazon.com/sagemaker/pricing/, "Instance details"; docs/deploy.md). Only GPU types make sense for GR00T;
``local``/``local_cpu`` are the SageMaker Python SDK's local-mode types (no GPU).

This table, not botocore's service model, decides which types a job may ask for: the Lambda runtime bundles its
own botocore, whose ``TrainingInstanceType`` enum can lag behind SageMaker (a type launched after that botocore
release would be refused although SageMaker accepts it). A type is added here once it is checked against the
SageMaker instance tables, so the launch path never depends on the runtime's botocore version.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class InstanceType:
    name: str
    gpus: int
    gpu_memory_gib: int  # per GPU
    vcpus: int
    memory_gib: int


def _family(prefix: str, gpu_mem: int, rows: list[tuple[str, int, int, int]]) -> dict[str, InstanceType]:
    return {f"{prefix}.{size}": InstanceType(f"{prefix}.{size}", gpus, gpu_mem, cpu, ram) for size, gpus, cpu, ram in rows}


INSTANCE_TYPES: dict[str, InstanceType] = {
    # NVIDIA L40S, 48 GB: the default family.
    **_family(
        "ml.g6e",
        48,
        [
            ("xlarge", 1, 4, 32),
            ("2xlarge", 1, 8, 64),
            ("4xlarge", 1, 16, 128),
            ("8xlarge", 1, 32, 256),
            ("16xlarge", 1, 64, 512),
            ("12xlarge", 4, 48, 384),
            ("24xlarge", 4, 96, 768),
            ("48xlarge", 8, 192, 1536),
        ],
    ),
    # NVIDIA A10G, 24 GB: needs LoRA or --no-tune-diffusion-model for GR00T N1.5.
    **_family(
        "ml.g5",
        24,
        [
            ("xlarge", 1, 4, 16),
            ("2xlarge", 1, 8, 32),
            ("4xlarge", 1, 16, 64),
            ("8xlarge", 1, 32, 128),
            ("16xlarge", 1, 64, 256),
            ("12xlarge", 4, 48, 192),
            ("24xlarge", 4, 96, 384),
            ("48xlarge", 8, 192, 768),
        ],
    ),
    "ml.p4d.24xlarge": InstanceType("ml.p4d.24xlarge", 8, 40, 96, 1152),
    "ml.p4de.24xlarge": InstanceType("ml.p4de.24xlarge", 8, 80, 96, 1152),
    "ml.p5.4xlarge": InstanceType("ml.p5.4xlarge", 1, 80, 16, 256),
    "ml.p5.48xlarge": InstanceType("ml.p5.48xlarge", 8, 80, 192, 2048),
    "ml.p5e.48xlarge": InstanceType("ml.p5e.48xlarge", 8, 141, 192, 2048),
    "ml.p5en.48xlarge": InstanceType("ml.p5en.48xlarge", 8, 141, 192, 2048),
    # SageMaker Python SDK local mode: runs on this machine, CPU only.
    "local": InstanceType("local", 0, 0, 0, 0),
    "local_cpu": InstanceType("local_cpu", 0, 0, 0, 0),
}

LOCAL_INSTANCE_TYPES = frozenset({"local", "local_cpu"})

# What CreateTrainingJob may carry: the table without the SDK's local-mode types.
SAGEMAKER_INSTANCE_TYPES: tuple[str, ...] = tuple(name for name in INSTANCE_TYPES if name not in LOCAL_INSTANCE_TYPES)

DEFAULT_INSTANCE_TYPE = "ml.g6e.4xlarge"


def gpu_count(instance_type: str) -> int | None:
    """GPUs per instance, or None for a type this table does not know."""
    known = INSTANCE_TYPES.get(instance_type)
    return known.gpus if known else None


def unsupported_instance_type(instance_type: str) -> str:
    """Why ``instance_type`` cannot run a SageMaker job here, naming every type that can."""
    return (
        f"{instance_type!r} is not a SageMaker training instance type this project supports; "
        f"use one of: {', '.join(SAGEMAKER_INSTANCE_TYPES)}"
    )
