"""What a per-asset config may request, capped by the deployment settings (the operator's limits)."""

from __future__ import annotations

from gr00t_core.engines import spec_for
from gr00t_core.errors import ConfigError
from gr00t_core.instances import SAGEMAKER_INSTANCE_TYPES, unsupported_instance_type
from gr00t_core.parameters import PARAMETERS_BY_NAME
from gr00t_core.resolution import TIER_LABELS, ResolvedConfig, Tier
from launcher.orchestration.request import instance_types_to_try
from launcher.orchestration.settings import DeploymentSettings, env_name


def _source(config: ResolvedConfig, name: str) -> str:
    """Where the value came from, spelled so the user finds it (asset metadata keys are GROOT_*)."""
    tier = config.provenance[name]
    if tier is Tier.METADATA:
        return f"{name} (from asset metadata key {PARAMETERS_BY_NAME[name].metadata_key})"
    return f"{name} (from {TIER_LABELS[tier]})"


def policy_problems(config: ResolvedConfig, settings: DeploymentSettings) -> list[str]:
    problems: list[str] = []
    v = config.values
    for itype in instance_types_to_try(config):
        name = "instanceType" if itype == v["instanceType"] else "instanceTypeFallbacks"
        # The project's instance table decides, not the runtime's botocore enum (see gr00t_core.instances).
        if itype not in SAGEMAKER_INSTANCE_TYPES:
            problems.append(f"{_source(config, name)}: {unsupported_instance_type(itype)}")
        elif not settings.allows_instance_type(itype):
            problems.append(
                f"{_source(config, name)}: {itype!r} is not allowed by this deployment "
                f"(allowed: {', '.join(settings.allowed_instance_types)}); choose an allowed type or ask the operator "
                f"to add it to {env_name('allowed_instance_types')}"
            )
    if v["instanceCount"] > settings.max_instance_count:
        problems.append(
            f"{_source(config, 'instanceCount')} = {v['instanceCount']} exceeds this deployment's maximum of "
            f"{settings.max_instance_count} ({env_name('max_instance_count')})"
        )
    if v["maxRuntimeSeconds"] > settings.max_runtime_seconds:
        problems.append(
            f"{_source(config, 'maxRuntimeSeconds')} = {v['maxRuntimeSeconds']} exceeds this deployment's maximum of "
            f"{settings.max_runtime_seconds} s ({env_name('max_runtime_seconds')}); lower it or train fewer steps"
        )
    if v["warmPoolKeepAliveSeconds"] > settings.max_keep_alive_seconds:
        problems.append(
            f"{_source(config, 'warmPoolKeepAliveSeconds')} = {v['warmPoolKeepAliveSeconds']} exceeds this deployment's "
            f"maximum of {settings.max_keep_alive_seconds} s ({env_name('max_keep_alive_seconds')})"
        )
    image_setting = spec_for(v).image_setting
    if settings.image_uri and not getattr(settings, image_setting):
        problems.append(
            f"{_source(config, 'baseModelPath')} = {v['baseModelPath']!r} needs the {spec_for(v).label} training image, "
            f"which this deployment has not configured; build it (docs/container.md) and set {env_name(image_setting)}"
        )
    if not settings.allows_base_model(v["baseModelPath"]):
        problems.append(
            f"{_source(config, 'baseModelPath')} = {v['baseModelPath']!r}: models from this owner are not allowed here "
            f"(allowed owners: {', '.join(settings.allowed_base_model_owners)}; {env_name('allowed_base_model_owners')})"
        )
    return problems


def enforce_policy(config: ResolvedConfig, settings: DeploymentSettings) -> None:
    problems = policy_problems(config, settings)
    if problems:
        raise ConfigError(problems, header="The training configuration asks for more than this deployment allows")
