"""A user's own GR00T data config (``dataConfig`` = ``module:Class``): the module file must travel with the asset.

GR00T N1.5 accepts ``--data-config module:Class`` and imports ``module`` from its Python path. The asset carries
the file at its root (``module.py``, or ``pkg/mod.py`` for ``pkg.mod``); preflight checks that it exists, parses
as Python and defines ``Class`` at module level, without running it (the code only runs inside the trainer).
"""

from __future__ import annotations

import ast
from pathlib import Path

from gr00t_core.data_configs import custom_config_file

MAX_SOURCE_BYTES = 1_000_000  # a data config is a few hundred lines; a bigger file is not one


def check_custom_config(asset_dir: Path, name: str) -> list[str]:
    """Problems with the module of ``name`` under ``asset_dir`` ([] when it can be imported by the trainer)."""
    rel = custom_config_file(name)
    module, _, cls = name.partition(":")
    path = Path(asset_dir) / rel
    where = f"dataConfig {name!r}"
    if not path.is_file():
        return [
            f"{where}: {rel} not found at the asset root ({asset_dir}); put the module defining class {cls} "
            f"there (next to gr00t_config.json) so it travels with the asset to the trainer"
        ]
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return [f"{rel}: cannot be read ({exc.strerror}); make it readable"]
    if len(raw) > MAX_SOURCE_BYTES:
        return [f"{rel}: {len(raw)} bytes is too large for a data config module (at most {MAX_SOURCE_BYTES})"]
    try:
        tree = ast.parse(raw.decode("utf-8-sig"), filename=rel)
    except UnicodeDecodeError as exc:
        return [f"{rel}: not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8"]
    except SyntaxError as exc:
        return [f"{rel}: Python syntax error at line {exc.lineno}: {exc.msg}; fix the module"]
    except ValueError as exc:  # e.g. a NUL byte in the source
        return [f"{rel}: not Python source ({exc})"]
    classes = [n.name for n in tree.body if isinstance(n, ast.ClassDef)]
    if cls not in classes:
        found = ", ".join(classes) or "none"
        return [f"{rel}: defines no top-level class {cls!r} (classes: {found}); fix dataConfig or the module {module}"]
    return []


__all__ = ["check_custom_config"]
