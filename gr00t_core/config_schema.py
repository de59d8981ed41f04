"""``gr00t_config.json`` described for people and editors, generated from the one parameter schema.

* :func:`json_schema` - the JSON Schema (draft 2020-12) shipped as ``schemas/gr00t_config.schema.json``, so an
  editor completes parameter names and flags wrong types, bounds and choices while the file is written;
* :func:`readme_table` - the parameter table of README.md.

Both come from :data:`gr00t_core.parameters.PARAMETERS`; tests keep the shipped file and the README equal to what
these functions generate. Regenerate with ``python -m gr00t_core.config_schema > schemas/gr00t_config.schema.json``.
Values may also be strings (VAMS sends every parameter as a string; :func:`gr00t_core.parameters.coerce` reads both).
"""

from __future__ import annotations

import json
from typing import Any

from gr00t_core.parameters import PARAMETERS, Parameter, defaults, to_string

SCHEMA_FILE = "schemas/gr00t_config.schema.json"
_JSON_TYPES = {str: "string", int: "integer", float: "number", bool: "boolean"}


def _value_schema(p: Parameter) -> dict[str, Any]:
    if p.type is list:
        return {"type": "array", "items": {"type": "string"}}
    schema: dict[str, Any] = {"type": _JSON_TYPES[p.type]}
    if p.choices:
        schema["enum"] = list(p.choices)
    if p.minimum is not None:
        schema["exclusiveMinimum" if p.exclusive_minimum else "minimum"] = p.minimum
    if p.maximum is not None:
        schema["maximum"] = p.maximum
    return schema


def _accepted(p: Parameter) -> dict[str, Any]:
    if p.several:  # one string ("a" or "a,b") or a list of strings
        return {"anyOf": [_value_schema(p), {"type": "array", "items": {"type": "string"}, "minItems": 1}]}
    if p.type is str:
        return _value_schema(p)
    as_string = "comma-separated, as VAMS sends it" if p.type is list else "the same value as a string, as VAMS sends it"
    return {"anyOf": [_value_schema(p), {"type": "string", "description": as_string}]}


def _property(p: Parameter, default: Any) -> dict[str, Any]:
    return {"description": f"{p.help} Asset-metadata key: {p.metadata_key}.", "default": default, **_accepted(p)}


def json_schema() -> dict[str, Any]:
    """The JSON Schema of ``gr00t_config.json`` (every parameter optional; unknown keys are flagged)."""
    values = defaults()
    properties: dict[str, Any] = {}
    for p in PARAMETERS:
        properties[p.name] = _property(p, values[p.name])
        for alias in p.aliases:
            properties[alias] = {"description": f"Another spelling of {p.name}.", **_accepted(p)}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "gr00t_config.json",
        "description": "Training parameters at the root of a VAMS asset; they win over asset metadata, "
        "inputParameters and the defaults.",
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }


def schema_text() -> str:
    """The shipped file's exact text."""
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"


def readme_row(p: Parameter) -> str:
    value = defaults()[p.name]
    shown = to_string(value) if value not in ("", []) else "—"
    meaning = f"{p.help} (one of: {', '.join(p.choices)})" if p.choices else p.help
    return f"| `{p.name}` | `{p.metadata_key}` | `{shown}` | {meaning} |"


def readme_table() -> str:
    """The README's parameter table."""
    rows = ["| parameter | metadata key | default | meaning |", "|---|---|---|---|"]
    return "\n".join(rows + [readme_row(p) for p in PARAMETERS])


if __name__ == "__main__":  # pragma: no cover
    print(schema_text(), end="")
