import pytest
import torch

from gr00t_core.errors import ConfigError
from sagemaker_entry.builtin.model import (
    NOISE_S,
    FlowMatchingPolicy,
    PolicyConfig,
    build_policy,
    build_vision,
    inject_lora,
    lora_targets,
    merged_state_dict,
    parameter_counts,
    part_of,
    set_trainable,
)

CFG = dict(state_dim=6, action_dim=6, cameras=2, image_size=32, patch_size=16, vision_hidden_size=32,
           vision_layers=1, hidden_size=64, layers=2, heads=4, text_vocab=128, text_tokens=8)


def _batch(n=3):
    g = torch.Generator().manual_seed(0)
    return {
        "images": torch.randint(0, 256, (n, 2, 32, 32, 3), dtype=torch.uint8, generator=g),
        "state": torch.rand(n, 6, generator=g) * 2 - 1,
        "actions": torch.rand(n, 16, 6, generator=g) * 2 - 1,
        "text": torch.randint(0, 128, (n, 8), generator=g),
    }


def test_training_forward_gives_a_finite_loss_with_gradients_where_tuned():
    torch.manual_seed(0)
    model = FlowMatchingPolicy(PolicyConfig(**CFG))
    set_trainable(model, {"projector", "diffusion"})  # GR00T's defaults: the vision encoder stays frozen
    loss = model(**_batch())["loss"]
    loss.backward()
    assert torch.isfinite(loss) and loss.item() > 0
    assert all(p.grad is None for p in model.vision.parameters())
    assert all(p.grad is not None for n, p in model.named_parameters() if part_of(n) != "vision")


def test_every_parameter_belongs_to_a_part_and_the_tune_flags_select_them():
    model = FlowMatchingPolicy(PolicyConfig(**CFG))
    parts = {part_of(n) for n, _ in model.named_parameters()}
    assert parts == {"vision", "projector", "diffusion"}
    counts = {}
    for part in parts:
        set_trainable(model, {part})
        counts[part] = parameter_counts(model)[0]
    assert sum(counts.values()) == parameter_counts(model)[1]


def test_timesteps_follow_groot_beta_schedule():
    model = FlowMatchingPolicy(PolicyConfig(**CFG))
    torch.manual_seed(0)
    t = model.sample_time(20000, torch.device("cpu"))
    # as in GR00T, t spans [(0.999 - 1) / 0.999, 1]: never quite pure noise at the low end
    assert t.min() >= (NOISE_S - 1) / NOISE_S - 1e-6 and t.max() <= 1.0
    # (0.999 - s) / 0.999 with s ~ Beta(1.5, 1): E[s] = 0.6
    assert abs(t.mean().item() - (NOISE_S - 0.6) / NOISE_S) < 0.01


def test_sampling_integrates_the_flow_into_an_action_chunk():
    model = FlowMatchingPolicy(PolicyConfig(**CFG)).eval()
    b = _batch(2)
    chunk = model.sample(b["images"], b["state"], b["text"], generator=torch.Generator().manual_seed(1))
    again = model.sample(b["images"], b["state"], b["text"], generator=torch.Generator().manual_seed(1))
    assert chunk.shape == (2, 16, 6) and torch.equal(chunk, again)


@pytest.mark.parametrize("rank,alpha,dropout", [(4, 8, 0.0), (8, 16, 0.1)])
def test_lora_wraps_the_tuned_parts_with_the_requested_rank(rank, alpha, dropout):
    cfg = PolicyConfig(**CFG)
    model = FlowMatchingPolicy(cfg)
    set_trainable(model, {"diffusion"})
    full = parameter_counts(model)[0]
    cfg.lora_rank, cfg.lora_alpha, cfg.lora_dropout = rank, alpha, dropout
    cfg.lora_targets = lora_targets(model, {"diffusion"})
    assert cfg.lora_targets and all(t.startswith("transformer.") for t in cfg.lora_targets)
    inject_lora(model)
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable and all(".lora_" in n and n.startswith("transformer.") for n in trainable)
    assert 0 < parameter_counts(model)[0] < full
    q = model.transformer.layers[0].self_attn.q_proj
    assert q.lora_A["default"].weight.shape == (rank, 64)
    assert q.scaling["default"] == alpha / rank
    assert (q.lora_dropout["default"].p if dropout else 0.0) == dropout


def test_a_lora_model_rebuilds_from_its_config_and_merges_into_plain_weights():
    cfg = PolicyConfig(**CFG)
    model = FlowMatchingPolicy(cfg)
    cfg.lora_rank, cfg.lora_targets = 4, lora_targets(model, {"projector", "diffusion"})
    inject_lora(model)
    with torch.no_grad():  # LoRA B starts at zero: give the adapters an effect to merge
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.05)
    rebuilt = build_policy(PolicyConfig.from_json(cfg.to_json()))
    rebuilt.load_state_dict(model.state_dict(), strict=True)
    b = _batch(2)
    t = torch.full((2,), 0.5)
    model.eval(), rebuilt.eval()
    with torch.no_grad():
        obs = rebuilt.encode_observation(b["images"], b["state"], b["text"])
        expected = rebuilt.velocity(obs, b["actions"], t)
        plain = FlowMatchingPolicy(PolicyConfig(**CFG)).eval()
        plain.load_state_dict(merged_state_dict(rebuilt), strict=True)
        merged = plain.velocity(plain.encode_observation(b["images"], b["state"], b["text"]), b["actions"], t)
    torch.testing.assert_close(merged, expected, atol=1e-4, rtol=1e-4)


def test_the_image_encoder_can_start_from_a_saved_transformers_model(tmp_path):
    from transformers import SiglipVisionConfig, SiglipVisionModel

    cfg = PolicyConfig(**CFG)
    saved = SiglipVisionModel(SiglipVisionConfig(hidden_size=48, intermediate_size=96, num_hidden_layers=1,
                                                 num_attention_heads=4, image_size=32, patch_size=16))
    saved.save_pretrained(tmp_path / "vision")
    vision = build_vision(cfg, str(tmp_path / "vision"))
    torch.testing.assert_close(vision.embeddings.patch_embedding.weight, saved.embeddings.patch_embedding.weight)
    model = FlowMatchingPolicy(cfg, vision)  # the projection adapts to the loaded width
    assert model(**_batch())["loss"].isfinite()
    with pytest.raises(ConfigError, match="image_size 32, the policy 64"):
        build_vision(PolicyConfig(**{**CFG, "image_size": 64}), str(tmp_path / "vision"))
    with pytest.raises(ConfigError, match="not a loadable SigLIP vision model"):
        build_vision(cfg, str(tmp_path / "nothing"))
