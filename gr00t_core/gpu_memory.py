"""Peak GPU memory per GPU of an Isaac-GR00T fine-tune, estimated before launch, against the instance's GPUs.

Model (GiB = 2**30 bytes, per GPU; data-parallel training keeps a full replica on every GPU)::

    peak = OVERHEAD + all weights in bf16 (2 B/param)
         + trainable params x (fp32 master 4 + AdamW moments 4 + 4 + bf16 gradient 2 B - the bf16 copy already counted 0)
         + LoRA adapters x 16 B
         + per-GPU batch x activations per sample

Every trainable parameter therefore costs 2 + 14 = 16 bytes, every frozen one 2 bytes.

Published data points the constants are calibrated against (Isaac-GR00T N1.5, one GPU, scripts/gr00t_finetune.py
defaults: batch 32, tune projector + diffusion model, no LoRA):

* "The default fine-tuning settings require ~25G of VRAM. If you don't have that much VRAM, try adding the
  --no-tune_diffusion_model flag" (NVIDIA's GR00T N1.5 SO-101 tutorial, huggingface.co/blog/nvidia/gr00t-n1-5-so101-tuning,
  repeated in the Isaac-GR00T README): default = 25 GiB, so a 24 GB RTX 4090 runs out of memory.
* Freezing the diffusion model saves about 8 GB (Isaac-GR00T README, as quoted in issue #10): with 14 extra bytes per
  trainable parameter that is 8 GiB / 14 B = 0.61 G parameters in the action head's DiT.
* "batch 8 ~ 31 GB" (https://github.com/NVIDIA/Isaac-GR00T/issues/153) is NOT used: the issue does not
  state what was tuned, and with the two points above no setting with a frozen backbone reaches 31 GB at batch 8.

Component sizes of the 3B models (parameters):

* total 3.0 G: the "3B" of nvidia/GR00T-N1.5-3B, GR00T-N1.6-3B, GR00T-N1.7-3B (Hugging Face model ids).
* diffusion action head (DiT) 0.61 G: calibrated from the 8 GB saving above.
* vision encoder 0.40 G: SigLIP-2 so400m, the "400m" of its name (google/siglip2-so400m-*); Eagle's vision tower.
* projectors (state/action encoders, action decoder, VL projection) 0.007 G: a third-party measurement of N1.5 with
  only the projector tuned, "~0.24% of model parameters were trainable" (0.0024 x 3.0 G).
* LLM layers: the rest, 3.0 - 0.61 - 0.40 - 0.007 = 1.98 G.

N1.6/N1.7 publish no memory figures: their estimate uses the same components (same 3B size), which makes it an
estimate, not a measurement. Activations are calibrated with the backbone frozen; tuning the LLM or the vision
encoder also keeps the backbone's activations, which no published figure measures, so those estimates are lower
bounds and say so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

GIB = 2**30
BYTES_FROZEN = 2  # bf16 weights
BYTES_TRAINABLE = 16  # bf16 weight 2 + fp32 master 4 + AdamW exp_avg 4 + exp_avg_sq 4 + bf16 gradient 2

# Parameters by component (see the module docstring for each source).
PARAMS_TOTAL = 3.0e9
PARAMS_DIFFUSION = 8 * GIB / (BYTES_TRAINABLE - BYTES_FROZEN)  # ~0.61e9: "freezing saves about 8 GB"
PARAMS_VISION = 0.40e9
PARAMS_PROJECTOR = 0.0024 * PARAMS_TOTAL
PARAMS_LLM = PARAMS_TOTAL - PARAMS_DIFFUSION - PARAMS_VISION - PARAMS_PROJECTOR

# LoRA adds rank x (d_in + d_out) per adapted d_in x d_out linear: a fraction 2 r / d of a square layer's weights.
# N1.5 adapts the action head only (gr00t_finetune.py: lora_full_model=False); DiT width 1536 = 32 heads x 48
# (GR00T N1.5 config.json, action_head_cfg.diffusion_model_cfg: num_attention_heads 32, attention_head_dim 48).
DIT_WIDTH = 1536

OVERHEAD_GIB = 1.5  # CUDA context, cuDNN/cuBLAS workspaces and allocator slack: the calibration's remainder
# Calibrated: 25 GiB = OVERHEAD + weights + trainable (projector + DiT) + 32 x activations  ->  ~0.29 GiB a sample.
_DEFAULT_TRAINABLE = PARAMS_DIFFUSION + PARAMS_PROJECTOR
ACTIVATIONS_GIB_PER_SAMPLE = (
    25.0 - OVERHEAD_GIB - PARAMS_TOTAL * BYTES_FROZEN / GIB - _DEFAULT_TRAINABLE * (BYTES_TRAINABLE - BYTES_FROZEN) / GIB
) / 32

WARN_FRACTION = 0.90  # within 10 % of the GPU's memory: warn


@dataclass(frozen=True)
class MemoryPlan:
    per_gpu_batch: int
    estimate_gib: float
    budget_gib: float
    lower_bound: bool  # the backbone is tuned: its activations are not modelled
    max_batch: int  # largest per-GPU batch that fits (0: not even one sample)

    @property
    def over(self) -> bool:
        return self.estimate_gib > self.budget_gib

    @property
    def tight(self) -> bool:
        return not self.over and self.estimate_gib > WARN_FRACTION * self.budget_gib


def trainable_params(config: Mapping[str, Any]) -> float:
    lora = int(config["loraRank"]) > 0
    params = 0.0
    if config["tuneLlm"]:
        params += PARAMS_LLM
    if config["tuneVisual"]:
        params += PARAMS_VISION
    if config["tuneProjector"]:
        params += PARAMS_PROJECTOR
    if config["tuneDiffusionModel"] and not lora:
        params += PARAMS_DIFFUSION
    if lora:  # adapters on the DiT, which itself stays frozen
        params += PARAMS_DIFFUSION * 2 * int(config["loraRank"]) / DIT_WIDTH
    return params


def _fixed_gib(config: Mapping[str, Any]) -> float:
    trainable = trainable_params(config)
    return OVERHEAD_GIB + (PARAMS_TOTAL * BYTES_FROZEN + trainable * (BYTES_TRAINABLE - BYTES_FROZEN)) / GIB


def plan(config: Mapping[str, Any], *, gpu_memory_gib: float) -> MemoryPlan:
    """The per-GPU estimate for ``batchSize`` samples per GPU against ``gpu_memory_gib``."""
    batch = int(config["batchSize"])
    fixed = _fixed_gib(config)
    room = gpu_memory_gib - fixed
    return MemoryPlan(
        per_gpu_batch=batch,
        estimate_gib=fixed + batch * ACTIVATIONS_GIB_PER_SAMPLE,
        budget_gib=float(gpu_memory_gib),
        lower_bound=bool(config["tuneLlm"] or config["tuneVisual"]),
        max_batch=max(0, int(room // ACTIVATIONS_GIB_PER_SAMPLE)),
    )


def findings(config: Mapping[str, Any], *, instance_type: str, gpu_memory_gib: float, lora_supported: bool,
             larger: Mapping[str, float]) -> tuple[list[str], list[str]]:
    """(problems, warnings) of the plan, each naming the numbers and the concrete fixes; ``larger`` maps candidate
    instance types (smallest first) to their GPU memory, and only those the plan fits are offered."""
    p = plan(config, gpu_memory_gib=gpu_memory_gib)
    what = (f"estimated peak GPU memory {p.estimate_gib:.1f} GiB per GPU{' (at least)' if p.lower_bound else ''} "
            f"at batchSize {p.per_gpu_batch} on {instance_type} ({p.budget_gib:g} GiB GPUs)")
    if p.over:
        fixes = []
        if p.max_batch >= 1:
            fixes.append(f"batchSize {p.max_batch} (use gradientAccumulationSteps to keep the effective batch)")
        if config["tuneDiffusionModel"] and int(config["loraRank"]) == 0:
            frozen = {**config, "tuneDiffusionModel": False}
            fixes.append(f"tuneDiffusionModel false ({plan(frozen, gpu_memory_gib=gpu_memory_gib).estimate_gib:.1f} GiB)")
            if lora_supported:
                lora = {**config, "loraRank": 16}
                fixes.append(f"loraRank 16 ({plan(lora, gpu_memory_gib=gpu_memory_gib).estimate_gib:.1f} GiB)")
        if config["tuneLlm"] or config["tuneVisual"]:
            fixes.append("tuneLlm/tuneVisual false")
        fitting = [name for name, gib in larger.items() if not plan(config, gpu_memory_gib=gib).over][:2]
        if fitting:
            fixes.append(f"an instance type with larger GPUs ({', '.join(fitting)})")
        return [f"{what} exceeds the GPU memory; fix with one of: {'; '.join(fixes)}"], []
    if p.tight:
        return [], [f"{what}: within 10% of the GPU memory, it may run out of memory; a smaller batchSize leaves room"]
    return [], []


__all__ = ["ACTIVATIONS_GIB_PER_SAMPLE", "MemoryPlan", "findings", "plan", "trainable_params"]
