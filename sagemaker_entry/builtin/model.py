"""The builtin policy: a compact GR00T-style flow-matching action model built from transformers blocks.

Like GR00T N1.5's action head: the state goes through an MLP encoder, the noisy action chunk and the
flow-matching timestep through an action encoder (action embedding concatenated with a sinusoidal timestep
embedding, swish MLP), and a transformer predicts the velocity ``actions - noise`` at the action tokens; the
timestep is drawn from Beta(1.5, 1) mapped to ``(0.999 - s) / 0.999`` and discretised into 1000 buckets; at
inference a few Euler steps integrate the flow from Gaussian noise. Instead of a 3B VLM, the observation tokens
are a SigLIP vision transformer's patch tokens per camera (a transformers config, random init offline) and one
hashed-word task-text token; the transformer (transformers' SigLIP encoder stack) attends over
[state, text, image patches, noisy actions].

Parts (what the tune flags select): ``vision`` (tuneVisual), ``projector`` (every encoder/decoder, embedding and
position table: tuneProjector), ``diffusion`` (the action transformer: tuneDiffusionModel).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from transformers import SiglipVisionConfig, SiglipVisionModel
from transformers.models.siglip.modeling_siglip import SiglipEncoder

from gr00t_core.errors import ConfigError

TIMESTEP_BUCKETS = 1000  # GR00T N1.5 num_timestep_buckets
NOISE_BETA = (1.5, 1.0)  # GR00T N1.5 noise_beta_alpha, noise_beta_beta
NOISE_S = 0.999  # GR00T N1.5 noise_s

PART_PREFIXES: dict[str, tuple[str, ...]] = {
    "vision": ("vision.",),
    "projector": ("image_proj.", "state_encoder.", "text_embedding.", "action_encoder.", "action_decoder.", "position"),
    "diffusion": ("transformer.", "final_norm."),
}
TUNE_FLAGS = {"vision": "tuneVisual", "projector": "tuneProjector", "diffusion": "tuneDiffusionModel"}


@dataclass
class PolicyConfig:
    """Everything needed to rebuild the network (saved as part of builtin_policy.json in each checkpoint)."""

    state_dim: int
    action_dim: int
    cameras: int
    horizon: int = 16
    image_size: int = 64
    patch_size: int = 16
    vision_hidden_size: int = 128
    vision_layers: int = 2
    hidden_size: int = 128
    layers: int = 4
    heads: int = 4
    text_vocab: int = 4096
    text_tokens: int = 16
    inference_steps: int = 4
    # LoRA adapters injected into these Linear modules (full names); empty = none
    lora_rank: int = 0
    lora_alpha: int = 16
    lora_dropout: float = 0.0
    lora_targets: list[str] = field(default_factory=list)

    @property
    def patches(self) -> int:
        return (self.image_size // self.patch_size) ** 2

    @property
    def sequence_length(self) -> int:
        return 2 + self.cameras * self.patches + self.horizon

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PolicyConfig:
        return cls(**data)


def part_of(parameter_name: str) -> str:
    for part, prefixes in PART_PREFIXES.items():
        if parameter_name.startswith(prefixes):
            return part
    raise KeyError(f"parameter {parameter_name!r} belongs to no part")  # a new module was added without a part


class _MLP(nn.Sequential):
    def __init__(self, d_in: int, d_hidden: int, d_out: int) -> None:
        super().__init__(nn.Linear(d_in, d_hidden), nn.SiLU(), nn.Linear(d_hidden, d_out))


def sinusoidal(timesteps: torch.Tensor, dim: int) -> torch.Tensor:
    """GR00T's SinusoidalPositionalEncoding of integer timesteps ``(B, T)`` -> ``(B, T, dim)``."""
    half = dim // 2
    exponent = -torch.arange(half, dtype=torch.float32, device=timesteps.device) * (math.log(10000.0) / half)
    angles = timesteps.float().unsqueeze(-1) * exponent.exp()
    return torch.cat([angles.sin(), angles.cos()], dim=-1)


class ActionEncoder(nn.Module):
    """GR00T's action encoder: W1(action) ++ sin(timestep) -> swish(W2) -> W3."""

    def __init__(self, action_dim: int, hidden: int) -> None:
        super().__init__()
        self.hidden = hidden
        self.w1 = nn.Linear(action_dim, hidden)
        self.w2 = nn.Linear(2 * hidden, hidden)
        self.w3 = nn.Linear(hidden, hidden)

    def forward(self, actions: torch.Tensor, timesteps: torch.Tensor) -> torch.Tensor:
        steps = timesteps.unsqueeze(1).expand(-1, actions.shape[1])
        x = torch.cat([self.w1(actions), sinusoidal(steps, self.hidden).to(actions.dtype)], dim=-1)
        return self.w3(F.silu(self.w2(x)))


def _vision_config(cfg: PolicyConfig) -> SiglipVisionConfig:
    return SiglipVisionConfig(
        hidden_size=cfg.vision_hidden_size,
        intermediate_size=4 * cfg.vision_hidden_size,
        num_hidden_layers=cfg.vision_layers,
        num_attention_heads=cfg.heads,
        image_size=cfg.image_size,
        patch_size=cfg.patch_size,
        vision_use_head=False,  # the pooled head would be unused parameters (DDP rejects those)
    )


class FlowMatchingPolicy(nn.Module):
    """``forward(images, state, actions, text) -> {"loss"}`` for training; :meth:`sample` for inference."""

    def __init__(self, cfg: PolicyConfig, vision: SiglipVisionModel | None = None) -> None:
        super().__init__()
        self.cfg = cfg
        h = cfg.hidden_size
        self.vision = vision if vision is not None else SiglipVisionModel(_vision_config(cfg))
        self.image_proj = nn.Linear(self.vision.config.hidden_size, h)
        self.state_encoder = _MLP(cfg.state_dim, h, h)
        self.text_embedding = nn.Embedding(cfg.text_vocab, h, padding_idx=0)
        self.action_encoder = ActionEncoder(cfg.action_dim, h)
        self.position = nn.Parameter(torch.randn(1, cfg.sequence_length, h) * 0.02)
        block = SiglipVisionConfig(
            hidden_size=h, intermediate_size=4 * h, num_hidden_layers=cfg.layers, num_attention_heads=cfg.heads
        )
        block._attn_implementation = "sdpa"
        # transformers annotates SiglipEncoder(config: SiglipConfig) but builds it from a SiglipVisionConfig itself
        # (SiglipVisionTransformer.__init__), as here.
        self.transformer = SiglipEncoder(block)  # type: ignore[arg-type]
        self.final_norm = nn.LayerNorm(h)
        self.action_decoder = _MLP(h, h, cfg.action_dim)

    # --- observation -------------------------------------------------------------------------------------
    def _vision_trainable(self) -> bool:
        return any(p.requires_grad for p in self.vision.parameters())

    def encode_observation(self, images: torch.Tensor, state: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        """``(B, 2 + cameras * patches, hidden)`` tokens: state, task text, image patches."""
        batch = state.shape[0]
        dtype = self.image_proj.weight.dtype
        tokens = [self.state_encoder(state.to(dtype)).unsqueeze(1)]
        mask = (text > 0).unsqueeze(-1).to(dtype)
        words = (self.text_embedding(text) * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        tokens.append(words.unsqueeze(1))
        if self.cfg.cameras:
            # uint8 (B, C, S, S, 3) -> SigLIP's input range [-1, 1], channels first, cameras folded into the batch
            pixels = images.flatten(0, 1).permute(0, 3, 1, 2).to(dtype) / 127.5 - 1.0
            # A frozen image encoder needs no graph: skip it to save the backward pass and its memory.
            with torch.set_grad_enabled(torch.is_grad_enabled() and self._vision_trainable()):
                patches = self.vision(pixel_values=pixels).last_hidden_state
            tokens.append(self.image_proj(patches).reshape(batch, -1, self.cfg.hidden_size))
        return torch.cat(tokens, dim=1)

    def velocity(self, observation: torch.Tensor, noisy_actions: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        buckets = (t * TIMESTEP_BUCKETS).long()
        sequence = torch.cat([observation, self.action_encoder(noisy_actions, buckets)], dim=1) + self.position
        hidden = self.transformer(inputs_embeds=sequence).last_hidden_state
        return self.action_decoder(self.final_norm(hidden[:, -self.cfg.horizon :]))

    # --- training ----------------------------------------------------------------------------------------
    def sample_time(self, batch: int, device: torch.device) -> torch.Tensor:
        beta = torch.distributions.Beta(torch.tensor(NOISE_BETA[0], device=device), torch.tensor(NOISE_BETA[1], device=device))
        return (NOISE_S - beta.sample((batch,))) / NOISE_S

    def forward(
        self, images: torch.Tensor, state: torch.Tensor, actions: torch.Tensor, text: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        observation = self.encode_observation(images, state, text)
        actions = actions.to(observation.dtype)
        noise = torch.randn_like(actions)
        t = self.sample_time(actions.shape[0], actions.device).to(actions.dtype)[:, None, None]
        noisy = (1 - t) * noise + t * actions
        predicted = self.velocity(observation, noisy, t[:, 0, 0])
        return {"loss": F.mse_loss(predicted.float(), (actions - noise).float())}

    # --- inference ---------------------------------------------------------------------------------------
    @torch.no_grad()
    def sample(
        self, images: torch.Tensor, state: torch.Tensor, text: torch.Tensor, generator: torch.Generator | None = None,
        noise_scale: float = 1.0,
    ) -> torch.Tensor:
        """Normalised action chunks ``(B, horizon, action_dim)`` by Euler steps from Gaussian noise.

        ``noise_scale`` 1.0 starts from N(0, I) as GR00T N1.5's action head does; 0.0 starts every chunk at the
        noise distribution's mean (deterministic)."""
        observation = self.encode_observation(images, state, text)
        shape = (state.shape[0], self.cfg.horizon, self.cfg.action_dim)
        actions = torch.randn(shape, generator=generator, device=generator.device if generator else None) * noise_scale
        actions = actions.to(observation.device, observation.dtype)
        steps = self.cfg.inference_steps
        for i in range(steps):
            t = torch.full((shape[0],), i / steps, device=actions.device, dtype=actions.dtype)
            actions = actions + self.velocity(observation, actions, t) / steps
        return actions


def build_vision(cfg: PolicyConfig, source: str | None) -> SiglipVisionModel | None:
    """A pretrained SigLIP vision tower when ``source`` (hub id or folder) is given, else None (random init)."""
    if not source:
        return None
    try:
        vision = SiglipVisionModel.from_pretrained(source)
    except (OSError, ValueError) as exc:
        raise ConfigError([f"engine_options.vision_model {source!r}: not a loadable SigLIP vision model ({exc})"]) from None
    problems = [
        f"engine_options.vision_model {source!r} has {name} {getattr(vision.config, name)}, "
        f"the policy {getattr(cfg, name)}: set engine_options {name} to match"
        for name in ("image_size", "patch_size")
        if getattr(vision.config, name) != getattr(cfg, name)
    ]
    if problems:
        raise ConfigError(problems)
    return vision


def set_trainable(model: FlowMatchingPolicy, tuned_parts: set[str]) -> None:
    for name, parameter in model.named_parameters():
        parameter.requires_grad = part_of(name) in tuned_parts


def lora_targets(model: FlowMatchingPolicy, tuned_parts: set[str]) -> list[str]:
    """Every Linear layer of the tuned parts: what LoRA wraps."""
    return [name for name, module in model.named_modules() if isinstance(module, nn.Linear) and part_of(name + ".") in tuned_parts]


def inject_lora(model: FlowMatchingPolicy) -> None:
    """Wrap ``cfg.lora_targets`` with peft LoRA adapters; peft then leaves only the adapters trainable."""
    from peft import LoraConfig, inject_adapter_in_model

    cfg = model.cfg
    config = LoraConfig(
        r=cfg.lora_rank, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout, target_modules=list(cfg.lora_targets)
    )
    inject_adapter_in_model(config, model)


def build_policy(cfg: PolicyConfig, vision: SiglipVisionModel | None = None) -> FlowMatchingPolicy:
    """The network of ``cfg``, LoRA adapters included (weights random until a state dict is loaded)."""
    model = FlowMatchingPolicy(cfg, vision)
    if cfg.lora_rank and cfg.lora_targets:
        inject_lora(model)
    return model


def merged_state_dict(model: FlowMatchingPolicy) -> dict[str, torch.Tensor]:
    """Plain weights (LoRA deltas folded into their base layers) under the names of a model without adapters."""
    from peft.tuners.lora import LoraLayer

    for module in model.modules():
        if isinstance(module, LoraLayer):
            module.merge()
    out = {}
    for name, tensor in model.state_dict().items():
        if ".lora_" in name:
            continue
        out[name.replace(".base_layer.", ".")] = tensor
    return out


def parameter_counts(model: nn.Module) -> tuple[int, int]:
    """(trainable, total) parameter counts."""
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return trainable, total


__all__ = [
    "FlowMatchingPolicy",
    "PolicyConfig",
    "TUNE_FLAGS",
    "build_policy",
    "build_vision",
    "inject_lora",
    "lora_targets",
    "merged_state_dict",
    "parameter_counts",
    "part_of",
    "set_trainable",
]
