import json

import pytest

from gr00t_core.errors import ConfigError
from gr00t_core.resolution import Tier, parse_config_file, parse_json_object, resolve


def test_precedence_file_over_metadata_over_parameters_over_defaults():
    config = resolve(
        file={"maxSteps": 100},
        metadata={"GROOT_MAX_STEPS": "200", "GROOT_BATCH_SIZE": "8"},
        parameters={"maxSteps": "300", "batchSize": "4", "learningRate": "3e-4"},
    )
    assert config["maxSteps"] == 100 and config.provenance["maxSteps"] is Tier.FILE
    assert config["batchSize"] == 8 and config.provenance["batchSize"] is Tier.METADATA
    assert config["learningRate"] == 3e-4 and config.provenance["learningRate"] is Tier.PARAMETERS
    assert config["saveSteps"] == 2000 and config.provenance["saveSteps"] is Tier.DEFAULT


def test_run_parameters_sit_just_below_the_file():
    config = resolve(file={"maxSteps": 10}, run={"maxSteps": 20, "batchSize": 2}, metadata={"GROOT_BATCH_SIZE": "4"})
    assert config["maxSteps"] == 10
    assert config["batchSize"] == 2 and config.provenance["batchSize"] is Tier.RUN


def test_hyperparameters_keep_the_launchers_provenance_and_the_file_still_wins():
    launched = resolve(metadata={"GROOT_MAX_STEPS": "50"}, parameters={"batchSize": "4"})
    hps = {**launched.to_strings(), "gr00tProvenance": launched.provenance_json(), "assetId": "x"}
    in_container = resolve(file={"batchSize": 2}, hyperparameters=hps)
    assert in_container["maxSteps"] == 50 and in_container.provenance["maxSteps"] is Tier.METADATA
    assert in_container["batchSize"] == 2 and in_container.provenance["batchSize"] is Tier.FILE
    assert in_container.provenance["saveSteps"] is Tier.DEFAULT


def test_empty_strings_mean_absent_as_in_vams():
    config = resolve(metadata={"GROOT_MAX_STEPS": ""}, parameters={"maxSteps": "7"})
    assert config["maxSteps"] == 7


def test_every_bad_value_is_reported_at_once_with_its_tier():
    with pytest.raises(ConfigError) as info:
        resolve(
            file={"learningRate": "fast"},
            metadata={"GROOT_MAX_STEPS": "many", "GROOT_TUNE_LLM": "perhaps"},
            parameters={"embodimentTag": "robot"},
        )
    problems = info.value.problems
    assert len(problems) == 4
    text = str(info.value)
    assert "learningRate = 'fast' from gr00t_config.json" in text
    assert "maxSteps = 'many' from asset metadata key GROOT_MAX_STEPS" in text
    assert "tuneLlm = 'perhaps' from asset metadata key GROOT_TUNE_LLM" in text
    assert "embodimentTag = 'robot' from pipeline inputParameters" in text


def test_warnings_travel_with_the_error_so_a_typo_is_visible_when_something_else_fails():
    with pytest.raises(ConfigError) as info:
        resolve(file={"maxStep": 10, "learningRate": "fast"})
    assert info.value.problems == ["learningRate = 'fast' from gr00t_config.json: expected a number such as 1e-4, got 'fast'"]
    assert "note: gr00t_config.json: ignoring unknown key(s) 'maxStep' (did you mean 'maxSteps'?)" in str(info.value)
    with pytest.raises(ConfigError) as rules:
        resolve(file={"maxStep": 10, "numGpus": 4})
    assert any("maxStep" in w for w in rules.value.warnings)


def test_a_bad_value_shadowed_by_a_higher_tier_is_only_a_warning():
    config = resolve(file={"maxSteps": 5}, metadata={"GROOT_MAX_STEPS": "lots"})
    assert config["maxSteps"] == 5
    assert any("overridden" in w for w in config.warnings)


def test_unknown_keys_in_the_file_are_warned_with_a_suggestion():
    config = resolve(file={"maxStep": 5, "learning_rate": 1e-3})
    warning = " ".join(config.warnings)
    assert "'maxStep' (did you mean 'maxSteps'?)" in warning
    assert "learning_rate" in warning
    assert config["maxSteps"] == 6000


def test_unrelated_asset_metadata_is_ignored_but_unknown_groot_keys_warn():
    config = resolve(metadata={"owner": "team-a", "GROOT_MAX_STEP": "5"})
    assert any("GROOT_MAX_STEP" in w for w in config.warnings)
    assert not any("owner" in w for w in config.warnings)


def test_invalidate_groot_models_is_honoured():
    assert resolve(parameters={"INVALIDATE_GROOT_MODELS": "true"})["invalidateModelCache"] is True
    assert resolve(parameters={"INVALIDATE_GROOT_MODELS": "false"})["invalidateModelCache"] is False
    assert resolve()["invalidateModelCache"] is False


@pytest.mark.parametrize(
    "tiers,match",
    [
        ({"file": {"tuneProjector": False, "tuneDiffusionModel": False}}, "nothing would be trained"),
        ({"file": {"numGpus": 4}}, "ml.g6e.4xlarge has 1 GPU"),
        ({"file": {"numGpus": 4, "instanceType": "ml.g6e.12xlarge", "instanceTypeFallbacks": ["ml.g6e.8xlarge"]}},
         "ml.g6e.8xlarge has 1 GPU"),
        ({"file": {"useSpot": True, "warmPoolKeepAliveSeconds": 600}}, "warm pools do not support managed spot"),
        ({"file": {"useSpot": True, "maxWaitSeconds": 100, "maxRuntimeSeconds": 3600}}, "at least maxRuntimeSeconds"),
        ({"file": {"loraRank": 8, "baseModelPath": "nvidia/GR00T-N1.6-3B"}}, "no LoRA options"),
    ],
)
def test_cross_field_rules(tiers, match):
    with pytest.raises(ConfigError, match=match):
        resolve(**tiers)


def test_cross_field_warnings():
    config = resolve(file={"maxSteps": 10, "saveSteps": 100, "loraAlpha": 32, "instanceType": "ml.g6e.12xlarge"})
    text = " ".join(config.warnings)
    assert "only the final checkpoint" in text
    assert "loraAlpha (from gr00t_config.json) has no effect" in text
    assert "leaves 3 of the 4 GPUs" in text
    seeded_defaults = resolve(parameters={"loraAlpha": "16", "loraDropout": "0.1"})
    assert not any("no effect" in w for w in seeded_defaults.warnings)
    # GPU memory (gr00t_core.gpu_memory): N1.5 defaults need ~25 GiB; a 24 GB A10G is refused with the fixes.
    with pytest.raises(ConfigError, match=r"exceeds the GPU memory.*batchSize \d+.*tuneDiffusionModel false.*loraRank 16"):
        resolve(file={"instanceType": "ml.g5.2xlarge"})


def test_lora_with_no_tune_flags_is_fine():
    config = resolve(file={"loraRank": 16, "tuneProjector": False, "tuneDiffusionModel": False})
    assert config["loraRank"] == 16


def test_parse_config_file_names_the_file_and_line():
    with pytest.raises(ConfigError, match=r"gr00t_config.json is not valid JSON \(line 2"):
        parse_config_file('{"maxSteps": 5,\n "x": }')
    with pytest.raises(ConfigError, match="JSON object"):
        parse_config_file("[1, 2]")
    assert parse_config_file(json.dumps({"maxSteps": 5})) == {"maxSteps": 5}


def test_parse_config_file_takes_the_bytes_of_a_file_with_or_without_a_bom():
    raw = json.dumps({"maxSteps": 5}).encode()
    assert parse_config_file(raw) == parse_config_file(b"\xef\xbb\xbf" + raw) == {"maxSteps": 5}
    with pytest.raises(ConfigError, match="s3://b/a/gr00t_config.json is not UTF-8 text; save it as UTF-8"):
        parse_config_file("{}".encode("utf-16"), name="s3://b/a/gr00t_config.json")


@pytest.mark.parametrize("text,expected", [("", {}), (None, {}), ('{"a": 1}', {"a": 1}), ({"a": 1}, {"a": 1}), ('""', {})])
def test_parse_json_object_accepts_vams_shapes(text, expected):
    assert parse_json_object(text, what="inputParameters") == expected


@pytest.mark.parametrize("text,match", [("{oops", "not valid JSON"), ("[1]", "JSON object"), (5, "JSON object")])
def test_parse_json_object_errors(text, match):
    with pytest.raises(ConfigError, match=match):
        parse_json_object(text, what="inputParameters")


def test_non_mapping_tier_is_a_config_error():
    with pytest.raises(ConfigError, match="gr00t_config.json must be a JSON object"):
        resolve(file=["maxSteps"])
