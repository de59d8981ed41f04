"""GPU memory plan (gr00t_core.gpu_memory), table by table, against the published data points."""

import pytest

from gr00t_core import gpu_memory
from gr00t_core.errors import ConfigError
from gr00t_core.parameters import defaults
from gr00t_core.resolution import resolve


def _config(**over):
    return {**defaults(), **over}


@pytest.mark.parametrize(("over", "low", "high"), [
    # N1.5 tutorial: "The default fine-tuning settings require ~25G of VRAM" (batch 32, projector + DiT tuned).
    ({}, 24.5, 25.5),
    # Isaac-GR00T README: freezing the diffusion model saves about 8 GB, so 24 GB cards fit.
    ({"tuneDiffusionModel": False}, 16.5, 17.5),
    # LoRA on the action head keeps the DiT frozen: close to the frozen figure.
    ({"loraRank": 16}, 16.5, 18.0),
    # Every sample costs the same activations: half the batch, ~4.6 GiB less.
    ({"batchSize": 16}, 20.0, 21.0),
])
def test_estimates_match_the_published_points(over, low, high):
    estimate = gpu_memory.plan(_config(**over), gpu_memory_gib=48).estimate_gib
    assert low <= estimate <= high


def test_tuning_the_backbone_adds_its_optimizer_state_and_is_a_lower_bound():
    base = gpu_memory.plan(_config(), gpu_memory_gib=80)
    llm = gpu_memory.plan(_config(tuneLlm=True), gpu_memory_gib=80)
    assert llm.estimate_gib - base.estimate_gib == pytest.approx(gpu_memory.PARAMS_LLM * 14 / 2**30)
    assert llm.lower_bound and not base.lower_bound


@pytest.mark.parametrize(("gib", "over", "tight"), [(48, False, False), (24, True, False), (27, False, True)])
def test_budget_verdicts(gib, over, tight):
    plan = gpu_memory.plan(_config(), gpu_memory_gib=gib)
    assert (plan.over, plan.tight) == (over, tight)


def test_the_batch_that_fits_really_fits():
    plan = gpu_memory.plan(_config(), gpu_memory_gib=24)
    assert plan.max_batch >= 1
    assert not gpu_memory.plan(_config(batchSize=plan.max_batch), gpu_memory_gib=24).over
    assert gpu_memory.plan(_config(batchSize=plan.max_batch + 1), gpu_memory_gib=24).over


@pytest.mark.parametrize(("file", "match"), [
    ({"instanceType": "ml.g5.2xlarge", "batchSize": 64},
     (r"batchSize \(from gr00t_config.json\): estimated peak GPU memory .* on ml.g5.2xlarge \(24 GiB GPUs\) exceeds"
      r".*batchSize \d+ .*tuneDiffusionModel false \(\d+\.\d GiB\); loraRank 16 .*larger GPUs \(ml\.p4d\.24xlarge, ml\.g6e\.xlarge\)")),
    ({"instanceType": "ml.g6e.2xlarge", "tuneLlm": True, "tuneVisual": True},
     r"\(at least\).*ml.g6e.2xlarge.*tuneLlm/tuneVisual false"),
    ({"instanceType": "ml.g6e.2xlarge", "instanceTypeFallbacks": ["ml.g5.2xlarge"]}, r"on ml.g5.2xlarge"),
])
def test_over_budget_is_refused_with_concrete_fixes(file, match):
    with pytest.raises(ConfigError, match=match):
        resolve(file=file)


def test_within_ten_percent_is_a_warning_and_the_builtin_engine_is_not_planned():
    tight = resolve(file={"instanceType": "ml.g6e.2xlarge", "batchSize": 95})
    assert any("within 10% of the GPU memory" in w for w in tight.warnings)
    builtin = resolve(file={"engine": "builtin", "instanceType": "ml.g5.2xlarge", "batchSize": 512})
    assert not any("GPU memory" in w for w in builtin.warnings)
