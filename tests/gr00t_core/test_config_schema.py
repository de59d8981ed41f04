"""gr00t_config.json's JSON Schema and the README's parameter table both come from the parameter schema."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from gr00t_core.config_schema import SCHEMA_FILE, json_schema, readme_table, schema_text
from gr00t_core.parameters import PARAMETERS, defaults

ROOT = Path(__file__).resolve().parents[2]


def test_the_shipped_schema_is_the_generated_one():
    shipped = (ROOT / SCHEMA_FILE).read_text(encoding="utf-8")
    assert shipped == schema_text(), f"regenerate: python -m gr00t_core.config_schema > {SCHEMA_FILE}"


def test_the_readme_table_is_the_generated_one():
    assert readme_table() in (ROOT / "README.md").read_text(encoding="utf-8"), "README's parameter table: paste readme_table()"


def test_the_schema_names_every_parameter_with_its_default():
    schema = json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    for p in PARAMETERS:
        assert schema["properties"][p.name]["default"] == defaults()[p.name]


@pytest.mark.parametrize(
    "config",
    [
        {},
        defaults(),
        {"maxSteps": 100, "tuneLlm": True, "instanceTypeFallbacks": ["ml.g6e.2xlarge"]},
        {"maxSteps": "100", "tuneLlm": "true", "INVALIDATE_GROOT_MODELS": "true"},  # strings, as VAMS sends them
    ],
)
def test_configs_the_resolver_accepts_pass_the_schema(config):
    jsonschema.validate(json.loads(json.dumps(config)), json_schema())


@pytest.mark.parametrize(
    "config",
    [
        {"maxStep": 100},  # misspelt
        {"maxSteps": 0},  # below the minimum
        {"learningRate": 0},  # exclusive minimum
        {"embodimentTag": "robot"},  # not a choice
        {"tuneLlm": 1},
    ],
)
def test_editors_flag_what_the_resolver_refuses_or_warns_about(config):
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(config, json_schema())
