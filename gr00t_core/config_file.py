"""``gr00t_config.json`` as a pydantic model generated from the parameter schema (:mod:`gr00t_core.parameters`).

One field per parameter, read under its name, its aliases and its ``GROOT_*`` metadata key (the keys every tier
accepts); each value goes through :func:`gr00t_core.parameters.coerce`, so the file follows the same rules as the
strings VAMS sends. Keys that name no parameter are kept as extras: :func:`gr00t_core.resolution.resolve` warns
about them with a "did you mean" suggestion instead of refusing the file. The shipped JSON Schema
(:mod:`gr00t_core.config_schema`) comes from the same parameter schema; a test keeps the two in agreement.
"""

from __future__ import annotations

import functools
from typing import Any

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    create_model,
    field_validator,
)

from gr00t_core.errors import ConfigError
from gr00t_core.parameters import PARAMETERS, PARAMETERS_BY_NAME, CoercionError, Parameter, coerce

CONFIG_FILE_NAME = "gr00t_config.json"
_PYTHON_TYPES: dict[type, Any] = {str: str, int: int, float: float, bool: bool, list: list[str]}


def is_absent(raw: Any) -> bool:
    """VAMS writes an unset parameter as an empty string: such a value (or null) leaves the parameter unset."""
    return raw is None or (isinstance(raw, str) and raw.strip() == "")


def _coerced(cls: type[BaseModel], raw: Any, info: ValidationInfo) -> Any:
    if is_absent(raw):
        return None
    try:
        return coerce(PARAMETERS_BY_NAME[str(info.field_name)], raw)
    except CoercionError as exc:
        raise ValueError(str(exc)) from None


def _field(p: Parameter) -> tuple[Any, Any]:
    python_type = _PYTHON_TYPES[p.type]
    return python_type | None, Field(default=None, validation_alias=AliasChoices(p.name, *p.aliases, p.metadata_key), description=p.help)


@functools.cache
def config_file_model() -> type[BaseModel]:
    """The model, built on first use: a Lambda invocation without a gr00t_config.json never pays for it."""
    config = ConfigDict(extra="allow", frozen=True, title=CONFIG_FILE_NAME)
    fields: dict[str, Any] = {p.name: _field(p) for p in PARAMETERS}
    # every field through the project's coercion (VAMS sends strings), before pydantic checks the type
    validators: dict[str, Any] = {"_coerced": field_validator("*", mode="before")(_coerced)}
    return create_model("ConfigFile", __config__=config, __validators__=validators, **fields)


def validate_config_file(data: dict[str, Any]) -> dict[str, Any]:
    """The file's parameters as typed values by name (unset ones left out), plus its unknown keys as written.

    Raises :class:`ConfigError` listing every invalid value, each naming the parameter, the key as written and
    why, in the words :func:`gr00t_core.resolution.resolve` uses for the other tiers.
    """
    try:
        model = config_file_model().model_validate(data)
    except ValidationError as exc:
        raise ConfigError([_problem(item, data) for item in exc.errors(include_url=False)]) from None
    values = {name: value for name, value in model if value is not None}
    return {**values, **(model.model_extra or {})}


def _problem(item: Any, data: dict[str, Any]) -> str:
    key = str(item["loc"][0]) if item["loc"] else ""
    cause = item.get("ctx", {}).get("error")
    message = str(cause) if isinstance(cause, ValueError) else item["msg"]
    name = _NAME_BY_KEY.get(key, key)
    where = CONFIG_FILE_NAME if key == name else f"{CONFIG_FILE_NAME} key {key}"
    return f"{name} = {data.get(key)!r} from {where}: {message}"


_NAME_BY_KEY: dict[str, str] = {key: p.name for p in PARAMETERS for key in (p.name, *p.aliases, p.metadata_key)}
