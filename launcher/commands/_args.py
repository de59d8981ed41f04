"""Arguments shared by several gr00t-sm subcommands."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gr00t_core.errors import ConfigError
from gr00t_core.json_text import JsonTextError, parse_json


def add_asset_arguments(parser: Any) -> None:
    """ASSET_DIR and --input-parameters, as ``preflight`` and ``local`` take them."""
    parser.add_argument("asset_dir", metavar="ASSET_DIR", help="asset folder: gr00t_config.json + the dataset folder")
    parser.add_argument("--input-parameters", metavar="JSON|@FILE", default="",
                        help="the pipeline's inputParameters (a JSON object, or @file.json)")


def json_object_argument(value: str, option: str) -> dict[str, Any]:
    """A JSON object given inline or as ``@FILE``; '' is an empty object."""
    if not value:
        return {}
    source = option
    content: str | bytes = value
    if value.startswith("@"):
        path = Path(value[1:])
        source = f"{option} file {str(path)!r}"
        try:
            content = path.read_bytes()
        except OSError as exc:
            raise ConfigError([f"{source} cannot be read ({exc.strerror or exc}); give an existing JSON file"]) from None
    try:
        data = parse_json(content, name=source)
    except JsonTextError as exc:
        raise ConfigError([str(exc)]) from None
    if not isinstance(data, dict):
        raise ConfigError([f"{source} must be a JSON object like {{\"maxSteps\": 100}}, got {type(data).__name__}"])
    return data
