"""gr00t_config.json through its pydantic model: the parameter schema's coercion rules, unknown keys kept for the
resolver's "did you mean" warning, every invalid value named; the model agrees with the shipped JSON Schema."""

from __future__ import annotations

import json

import jsonschema
import pytest

from gr00t_core.config_file import config_file_model
from gr00t_core.config_schema import json_schema
from gr00t_core.errors import ConfigError
from gr00t_core.parameters import PARAMETERS
from gr00t_core.resolution import Tier, parse_config_file, resolve


@pytest.mark.parametrize(
    "content,expected",
    [
        ({}, {}),
        ({"maxSteps": "100", "tuneLlm": "yes", "learningRate": "3e-4"}, {"maxSteps": 100, "tuneLlm": True, "learningRate": 3e-4}),
        ({"maxSteps": 100.0, "numGpus": " 2 "}, {"maxSteps": 100, "numGpus": 2}),
        ({"instanceTypeFallbacks": "ml.g6e.2xlarge, ml.g6e.4xlarge"}, {"instanceTypeFallbacks": ["ml.g6e.2xlarge", "ml.g6e.4xlarge"]}),
        ({"INVALIDATE_GROOT_MODELS": "true"}, {"invalidateModelCache": True}),  # the seeded pipeline's alias
        ({"GROOT_BATCH_SIZE": "8"}, {"batchSize": 8}),  # the metadata key, accepted in every tier
        ({"maxSteps": "", "hubRepoId": None}, {}),  # VAMS' empty strings and null leave a parameter unset
        ({"maxStep": 5, "notes": "x"}, {"maxStep": 5, "notes": "x"}),  # unknown keys kept for the resolver's warning
    ],
)
def test_valid_files_give_typed_values_by_name(content, expected):
    assert parse_config_file(json.dumps(content)) == expected


@pytest.mark.parametrize(
    "content,match",
    [
        ({"maxSteps": "many"}, r"maxSteps = 'many' from gr00t_config.json: expected an integer, got 'many'"),
        ({"maxSteps": 0}, r"maxSteps = 0 from gr00t_config.json: must be at least 1, got 0"),
        ({"maxSteps": True}, r"expected an integer, got the boolean True"),
        ({"learningRate": 0}, r"learningRate = 0 from gr00t_config.json: must be greater than 0"),
        ({"tuneLlm": "maybe"}, r"tuneLlm = 'maybe' from gr00t_config.json: expected true/false"),
        ({"embodimentTag": "robot"}, r"embodimentTag = 'robot' from gr00t_config.json: must be one of new_embodiment"),
        ({"instanceTypeFallbacks": [1, 2]}, r"instanceTypeFallbacks = \[1, 2\] from gr00t_config.json: expected a list of strings"),
        ({"dataConfig": {"a": 1}}, r"dataConfig = \{'a': 1\} from gr00t_config.json: expected a string"),
        ({"INVALIDATE_GROOT_MODELS": "perhaps"}, r"invalidateModelCache = 'perhaps' from gr00t_config.json key INVALIDATE_GROOT_MODELS"),
        ({"GROOT_NUM_GPUS": "99"}, r"numGpus = '99' from gr00t_config.json key GROOT_NUM_GPUS: must be at most 8"),
        ({"datasetPath": "/abs/data"}, r"datasetPath = '/abs/data' from gr00t_config.json: must be a path relative to the asset root"),
    ],
)
def test_invalid_values_name_the_parameter_the_key_and_the_fix(content, match):
    with pytest.raises(ConfigError, match=match) as caught:
        parse_config_file(json.dumps(content))
    assert "validation error" not in str(caught.value) and "Value error" not in str(caught.value)


def test_every_invalid_value_of_the_file_is_reported_at_once():
    with pytest.raises(ConfigError, match=r"\(3 problem\(s\)\)"):
        parse_config_file(json.dumps({"maxSteps": "x", "batchSize": -1, "useSpot": "sometimes", "seed": 1}))


def test_unknown_keys_reach_the_resolver_and_get_a_suggestion():
    config = resolve(file=parse_config_file(b'\xef\xbb\xbf{"maxStep": 5, "batchSize": "4"}'))
    assert config["batchSize"] == 4 and config.provenance["batchSize"] is Tier.FILE
    assert any("ignoring unknown key(s) 'maxStep' (did you mean 'maxSteps'?)" in w for w in config.warnings)


def test_the_model_reads_exactly_the_keys_the_shipped_schema_names():
    model = config_file_model()
    assert list(model.model_fields) == [p.name for p in PARAMETERS]
    accepted = {choice for info in model.model_fields.values() for choice in info.validation_alias.choices}  # type: ignore[union-attr]
    metadata_keys = {p.metadata_key for p in PARAMETERS}
    assert set(json_schema()["properties"]) == accepted - metadata_keys


@pytest.mark.parametrize(
    "config",
    [
        {"maxSteps": 100, "tuneLlm": True, "instanceTypeFallbacks": ["ml.g6e.2xlarge"]},
        {"maxSteps": "100", "tuneLlm": "true", "INVALIDATE_GROOT_MODELS": "true"},
        {"maxSteps": 0},
        {"learningRate": 0},
        {"learningRate": 1.5},
        {"embodimentTag": "robot"},
        {"videoBackend": "decord"},
        {"warmPoolKeepAliveSeconds": 3601},
        {"instanceTypeFallbacks": "ml.g6e.2xlarge"},
    ],
)
def test_the_model_and_the_schema_accept_the_same_values(config):
    try:
        jsonschema.validate(config, json_schema())
        schema_accepts = True
    except jsonschema.ValidationError:
        schema_accepts = False
    try:
        parse_config_file(json.dumps(config))
        model_accepts = True
    except ConfigError:
        model_accepts = False
    assert model_accepts is schema_accepts
