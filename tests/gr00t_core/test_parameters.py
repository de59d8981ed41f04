import pytest

from gr00t_core.parameters import (
    PARAMETERS_BY_NAME,
    SEEDED_PARAMETERS,
    CoercionError,
    coerce,
    defaults,
    lookup,
    to_string,
)

SEEDED_DEFAULTS = {
    "datasetPath": "dataset",
    "dataConfig": "so100_dualcam",
    "baseModelPath": "nvidia/GR00T-N1.5-3B",
    "maxSteps": 6000,
    "batchSize": 32,
    "learningRate": 1e-4,
    "weightDecay": 1e-5,
    "warmupRatio": 0.05,
    "saveSteps": 2000,
    "numGpus": 1,
    "loraRank": 0,
    "loraAlpha": 16,
    "loraDropout": 0.1,
    "tuneLlm": False,
    "tuneVisual": False,
    "tuneProjector": True,
    "tuneDiffusionModel": True,
    "embodimentTag": "new_embodiment",
    "videoBackend": "torchvision_av",
}


def test_the_19_seeded_parameters_keep_names_and_defaults():
    assert [p.name for p in SEEDED_PARAMETERS] == list(SEEDED_DEFAULTS)
    assert {k: defaults()[k] for k in SEEDED_DEFAULTS} == SEEDED_DEFAULTS


@pytest.mark.parametrize(
    "name,key",
    [("maxSteps", "GROOT_MAX_STEPS"), ("tuneDiffusionModel", "GROOT_TUNE_DIFFUSION_MODEL"), ("numGpus", "GROOT_NUM_GPUS"),
     ("datasetPath", "GROOT_DATASET_PATH"), ("loraRank", "GROOT_LORA_RANK")],
)
def test_metadata_keys(name, key):
    assert PARAMETERS_BY_NAME[name].metadata_key == key
    assert lookup(key).name == name


@pytest.mark.parametrize(
    "name,raw,expected",
    [
        ("maxSteps", "6000", 6000),
        ("maxSteps", " 6000 ", 6000),
        ("maxSteps", "1e3", 1000),
        ("maxSteps", 6000.0, 6000),
        ("learningRate", "1e-4", 1e-4),
        ("learningRate", "0.0003", 3e-4),
        ("learningRate", 1, 1.0),
        ("tuneLlm", "true", True),
        ("tuneLlm", "False", False),
        ("tuneLlm", "1", True),
        ("tuneLlm", "0", False),
        ("tuneLlm", 1, True),
        ("tuneLlm", True, True),
        ("instanceTypeFallbacks", "ml.g6e.8xlarge, ml.g6e.12xlarge", ["ml.g6e.8xlarge", "ml.g6e.12xlarge"]),
        ("instanceTypeFallbacks", '["ml.g6e.8xlarge"]', ["ml.g6e.8xlarge"]),
        ("instanceTypeFallbacks", "", []),
        ("dataConfig", "my_pkg.configs:MyConfig", "my_pkg.configs:MyConfig"),
        ("baseModelPath", "/opt/ml/input/data/model_cache/GR00T-N1.5-3B", "/opt/ml/input/data/model_cache/GR00T-N1.5-3B"),
    ],
)
def test_coercion_of_vams_strings(name, raw, expected):
    assert coerce(PARAMETERS_BY_NAME[name], raw) == expected


@pytest.mark.parametrize(
    "name,raw,match",
    [
        ("maxSteps", "abc", "expected an integer"),
        ("maxSteps", "1.5", "expected an integer"),
        ("maxSteps", True, "boolean"),
        ("maxSteps", "0", "at least 1"),
        ("learningRate", "0", "greater than 0"),
        ("learningRate", "nan", "finite"),
        ("learningRate", "fast", "1e-4"),
        ("warmupRatio", "1.5", "at most 1"),
        ("tuneLlm", "maybe", "true/false"),
        ("tuneLlm", 2, "true/false"),
        ("embodimentTag", "robot", "must be one of"),
        ("videoBackend", "ffmpeg", "must be one of"),
        ("dataConfig", "so101", "unknown data config"),
        ("dataConfig", "agibot_genie1_dualcam", "did you mean 'agibot_genie1'"),
        ("datasetPath", "/abs/dataset", "relative"),
        ("datasetPath", "../other", "inside the asset"),
        ("datasetPath", "a/../../b", "inside the asset"),
        ("baseModelPath", "nvidia", "owner/name"),
        ("baseModelPath", "/opt/../etc", "owner/name"),
        ("instanceType", "ml.m5.xlarge", "unknown instance type"),
        ("instanceTypeFallbacks", "ml.g6e.8xlarge,ml.bogus", "ml.bogus"),
        ("warmPoolKeepAliveSeconds", "7200", "at most 3600"),
        ("engine", "gr00t", "must be one of"),
    ],
)
def test_coercion_errors_say_why(name, raw, match):
    with pytest.raises(CoercionError, match=match):
        coerce(PARAMETERS_BY_NAME[name], raw)


def test_to_string_round_trips_through_coerce():
    for name, value in defaults().items():
        p = PARAMETERS_BY_NAME[name]
        assert coerce(p, to_string(value)) == value, name
