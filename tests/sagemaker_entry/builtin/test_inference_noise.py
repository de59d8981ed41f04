"""Where the flow starts at inference: get_action's default is deterministic, GR00T's N(0, I) start stays available."""

import torch

from sagemaker_entry.builtin.model import FlowMatchingPolicy, PolicyConfig
from sagemaker_entry.builtin.policy import DEFAULT_NOISE_SCALE

from .test_model import CFG, _batch


def _chunks(model: FlowMatchingPolicy, noise_scale: float) -> list[torch.Tensor]:
    b = _batch()
    return [model.sample(b["images"], b["state"], b["text"], generator=torch.Generator().manual_seed(seed),
                         noise_scale=noise_scale) for seed in (1, 2)]


def test_a_zero_noise_scale_gives_the_same_chunk_whatever_the_generator_and_gr00t_noise_does_not():
    torch.manual_seed(0)
    model = FlowMatchingPolicy(PolicyConfig(**CFG)).eval()
    same = _chunks(model, 0.0)
    torch.testing.assert_close(same[0], same[1])
    noisy = _chunks(model, 1.0)
    assert (noisy[0] - noisy[1]).abs().max() > 1e-3
    assert DEFAULT_NOISE_SCALE == 0.0

