"""The engine table (gr00t_core.engines): recognition, refusals before any GPU, ignored-parameter warnings."""

import pytest

from gr00t_core import engines
from gr00t_core.errors import ConfigError
from gr00t_core.parameters import PARAMETERS_BY_NAME
from gr00t_core.resolution import resolve


@pytest.mark.parametrize(("base", "generation"), [
    ("nvidia/GR00T-N1.5-3B", "1.5"),
    ("nvidia/GR00T-N1.6-3B", "1.6"),
    ("nvidia/gr00t-n1.7-3b", "1.7"),
    ("nvidia/GR00T-N2-3B", None),
    ("nvidia/GR00T-N1.55-3B", None),
    ("/opt/models/my-finetune", None),
])
def test_generation_is_recognised_from_the_name_only_when_it_says_so(base, generation):
    assert engines.recognise_generation(base) == generation


@pytest.mark.parametrize("base", ["nvidia/GR00T-N2-3B", "/opt/models/checkpoint"])
def test_an_unrecognised_generation_is_refused_with_the_fix(base):
    with pytest.raises(ConfigError, match=r"cannot tell which Isaac-GR00T generation.*set the parameter gr00tGeneration"):
        resolve(file={"baseModelPath": base})


def test_an_explicit_generation_selects_the_spec():
    config = resolve(file={"baseModelPath": "/opt/models/checkpoint", "gr00tGeneration": "1.6"})
    assert engines.spec_for(config.values).key == "n1.6"
    assert engines.spec_for(resolve(file={"engine": "builtin", "baseModelPath": "/x/y"}).values).key == "builtin"


def test_every_spec_declares_what_the_others_read():
    for spec in engines.ENGINES:
        assert set(spec.honoured) <= set(PARAMETERS_BY_NAME), spec.key
        assert not (spec.honoured & engines.PLATFORM_PARAMETERS - {"numGpus"}), spec.key
        assert spec.batch_size in ("per-gpu", "global")
        assert spec.image_setting.startswith("image_uri")
    assert {s.key for s in engines.ENGINES} == {"builtin", "n1.5", "n1.6", "n1.7"}
    assert [s.generation for s in engines.ENGINES if not s.lora] == ["1.6", "1.7"]


@pytest.mark.parametrize(("base", "tiers", "ignored", "honoured"), [
    # N1.5 hard-codes seed 42 and save_total_limit 5 (scripts/gr00t_finetune.py): no flag reaches them.
    ("nvidia/GR00T-N1.5-3B", {"seed": 7, "saveTotalLimit": 2}, {"seed", "saveTotalLimit"}, set()),
    # N1.6 FinetuneConfig has save_total_limit and video_backend, no seed, no data config, no LoRA.
    ("nvidia/GR00T-N1.6-3B", {"seed": 7, "saveTotalLimit": 2, "videoBackend": "decord", "dataConfig": "so100"},
     {"seed", "dataConfig"}, {"saveTotalLimit", "videoBackend"}),
    # N1.7 FinetuneConfig dropped video_backend.
    ("nvidia/GR00T-N1.7-3B", {"videoBackend": "decord", "loraAlpha": 8}, {"videoBackend", "loraAlpha"}, set()),
])
def test_parameters_set_by_the_user_that_the_engine_cannot_honour_are_warnings(base, tiers, ignored, honoured):
    config = resolve(file={"baseModelPath": base, **tiers})
    said = {w.split(" ", 1)[0] for w in config.warnings if "is ignored:" in w}
    assert said == ignored
    assert not said & honoured


def test_defaults_repeated_by_the_seeded_pipeline_are_not_warnings():
    config = resolve(file={"baseModelPath": "nvidia/GR00T-N1.6-3B", "videoBackend": "torchcodec"},
                     parameters={"dataConfig": "so100_dualcam", "loraAlpha": "16", "seed": "42"})
    assert not [w for w in config.warnings if "is ignored:" in w]
    changed = resolve(file={"baseModelPath": "nvidia/GR00T-N1.6-3B"}, parameters={"dataConfig": "so100"})
    assert any(w.startswith("dataConfig = 'so100' is ignored: Isaac-GR00T N1.6") for w in changed.warnings)


def test_lora_is_refused_where_the_engine_has_none():
    with pytest.raises(ConfigError, match=r"loraRank \(from gr00t_config.json\) = 8: Isaac-GR00T N1.7 .*no LoRA"):
        resolve(file={"baseModelPath": "nvidia/GR00T-N1.7-3B", "loraRank": 8})


def test_a_video_backend_the_generation_cannot_decode_with_is_said_even_at_its_default():
    config = resolve(file={"baseModelPath": "nvidia/GR00T-N1.6-3B"})
    assert any(w.startswith("videoBackend = 'torchvision_av' is ignored: Isaac-GR00T N1.6 decodes with") for w in config.warnings)
    assert not any("videoBackend" in w for w in resolve(file={"baseModelPath": "nvidia/GR00T-N1.6-3B",
                                                               "videoBackend": "decord"}).warnings)


@pytest.mark.parametrize(
    "given,expected",
    [
        ({"engine": "builtin"}, 1e-3),  # the builtin engine's own default: it trains from random weights
        ({"engine": "builtin", "learningRate": "0.0001"}, 1e-3),  # VAMS's seeded inputParameters repeat the default
        ({"engine": "isaac-gr00t"}, 1e-4),  # GR00T's fine-tuning rate stays the default for GR00T engines
    ],
)
def test_engine_defaults_apply_to_values_nobody_chose(given, expected):
    assert resolve(parameters=given).values["learningRate"] == expected


def test_a_learning_rate_someone_chose_is_kept():
    assert resolve(file={"engine": "builtin", "learningRate": 1e-4}).values["learningRate"] == 1e-4
    assert resolve(parameters={"engine": "builtin", "learningRate": "0.0005"}).values["learningRate"] == 5e-4


@pytest.mark.parametrize(
    "engine,model,several",
    [("isaac-gr00t", "nvidia/GR00T-N1.5-3B", True), ("isaac-gr00t", "nvidia/GR00T-N1.6-3B", False), ("builtin", "nvidia/GR00T-N1.5-3B", True)],
)
def test_several_datasets_only_where_the_engine_mixes_them(engine, model, several):
    given = {"engine": engine, "baseModelPath": model, "datasetPath": "a,b"}
    if several:
        assert resolve(parameters=given).values["datasetPath"] == "a,b"
    else:
        with pytest.raises(ConfigError, match="names several datasets, but .* trains on one"):
            resolve(parameters=given)
