"""The one way this project reads JSON that a user, VAMS or a dataset hands it.

Every config, metadata file, event body and dataset meta file goes through :func:`parse_json` (or
:func:`parse_json_object` / :func:`parse_json_lines`), so each gets the same guarantees:

* bytes are UTF-8 with or without the byte-order mark Windows editors write;
* the text is bounded in size and nesting depth (deep nesting otherwise ends in RecursionError, not a message);
* numbers are what JSON means by numbers: NaN, Infinity and values that overflow a float (``1e309``) are refused,
  and so are integers longer than Python converts (4,300 digits), each with a message instead of a traceback;
* text is text UTF-8 can carry: a lone UTF-16 surrogate (``"\\ud800"`` is valid JSON) is refused, naming where it
  is, because every service it would reach (S3 keys, SageMaker, DynamoDB, botocore's JSON) fails on it.

Documents that arrive already parsed (a Lambda event: the runtime ran ``json.loads``, which accepts NaN and
surrogates) get the same checks through :func:`check_value`.

Failures raise :class:`JsonTextError`, a ValueError that says what is wrong and where (``name``, line, column);
callers wrap it in the user error of their layer (ConfigError, DatasetError, EventError). Pure: no I/O.
"""

from __future__ import annotations

import json
import math
from typing import Any

DEFAULT_MAX_BYTES = 8 * 1024 * 1024  # meta/episodes.jsonl of a large dataset is a few MB
DEFAULT_MAX_DEPTH = 32  # the deepest legitimate document here (a VAMS event) nests about 6 levels
# Python's default int <-> str conversion limit (sys.get_int_max_str_digits(), Python >= 3.11): a longer integer
# cannot even be printed in a message.
_MAX_INT_DIGITS = 4300
_MAX_INT_BITS = int(_MAX_INT_DIGITS * 3.32)  # log2(10) bits a digit: a safe bound below the limit


class JsonTextError(ValueError):
    """JSON that cannot be used; the message names the document and says what to fix."""


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is too large for a number")
    return value


def _has_lone_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _where(path: tuple[str, ...]) -> str:
    return "".join(f"[{p}]" if p.isdigit() else f".{p}" for p in path).lstrip(".")


def value_problem(value: Any, *, max_depth: int = DEFAULT_MAX_DEPTH) -> str | None:
    """What makes an already-parsed JSON value unusable (too deep, a lone surrogate, a non-finite number, an
    integer past Python's digit limit), naming its path inside the value; None when it is fine. Iterative: a
    value nested thousands deep is measured, not recursed into."""
    stack: list[tuple[Any, tuple[str, ...]]] = [(value, ())]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str):
            if _has_lone_surrogate(item):
                return f"{_where(path) or 'the value'} holds a lone UTF-16 surrogate, which is not text (UTF-8 cannot carry it); remove it"
        elif isinstance(item, float) and not math.isfinite(item):
            return f"{_where(path) or 'the value'} is {item}, not a finite number"
        elif isinstance(item, int) and not isinstance(item, bool) and item.bit_length() > _MAX_INT_BITS:
            return f"{_where(path) or 'the value'} is an integer of more than {_MAX_INT_DIGITS} digits"
        elif isinstance(item, (dict, list)):
            if len(path) >= max_depth:
                return f"{_where(path) or 'the value'} nests JSON more than {max_depth} levels deep; flatten it"
            if isinstance(item, dict):
                for key, child in item.items():
                    if isinstance(key, str) and _has_lone_surrogate(key):
                        return f"a key of {_where(path) or 'the object'} holds a lone UTF-16 surrogate, which is not text; remove it"
                    stack.append((child, (*path, str(key))))
            else:
                stack.extend((child, (*path, str(i))) for i, child in enumerate(item))
    return None


def check_value(value: Any, *, name: str, max_depth: int = DEFAULT_MAX_DEPTH) -> Any:
    """``value`` when :func:`value_problem` finds nothing; else :class:`JsonTextError` naming ``name`` and the path."""
    problem = value_problem(value, max_depth=max_depth)
    if problem is not None:
        raise JsonTextError(f"{name}: {problem}")
    return value


def decode_text(content: str | bytes, *, name: str, max_bytes: int = DEFAULT_MAX_BYTES) -> str:
    """``content`` as text: bytes decoded as UTF-8 (BOM tolerated), both bounded in size."""
    size = len(content) if isinstance(content, bytes) else len(content.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        raise JsonTextError(f"{name} is {size} bytes, more than the {max_bytes} this pipeline reads; is it the right file?")
    if isinstance(content, bytes):
        try:
            return content.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise JsonTextError(f"{name} is not UTF-8 text; save it as UTF-8") from None
    return content[1:] if content.startswith("\ufeff") else content


def parse_json(
    content: str | bytes, *, name: str, max_bytes: int = DEFAULT_MAX_BYTES, max_depth: int = DEFAULT_MAX_DEPTH
) -> Any:
    """One JSON document, bounded and strict about numbers (see the module docstring)."""
    text = decode_text(content, name=name, max_bytes=max_bytes)
    try:
        value = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except json.JSONDecodeError as exc:
        raise JsonTextError(f"{name} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); fix it") from None
    except RecursionError:
        raise JsonTextError(f"{name} nests JSON more than {max_depth} levels deep; flatten it") from None
    except ValueError as exc:  # NaN / Infinity / 1e309 / an integer beyond Python's digit limit
        raise JsonTextError(f"{name} holds a number JSON cannot carry here ({_short(exc)}); write a finite number") from None
    return check_value(value, name=name, max_depth=max_depth)


def parse_json_object(content: str | bytes, *, name: str, max_bytes: int = DEFAULT_MAX_BYTES) -> dict[str, Any]:
    """A JSON document that must be an object (a config file, info.json, an event body)."""
    value = parse_json(content, name=name, max_bytes=max_bytes)
    if not isinstance(value, dict):
        raise JsonTextError(f"{name} must hold a JSON object ({{...}}), found {_kind(value)}")
    return value


def parse_json_lines(content: str | bytes, *, name: str, max_bytes: int = DEFAULT_MAX_BYTES) -> tuple[list[Any], list[int], list[str]]:
    """JSON Lines (episodes.jsonl, tasks.jsonl): rows, the 1-based numbers of blank lines, and one problem per bad
    line (naming file and line). Only a file that cannot be read at all raises."""
    text = decode_text(content, name=name, max_bytes=max_bytes)
    rows: list[Any] = []
    blanks: list[int] = []
    problems: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            blanks.append(number)
            continue
        try:
            rows.append(parse_json(line, name=f"{name} line {number}", max_bytes=max_bytes))
        except JsonTextError as exc:
            problems.append(f"{exc}; fix or remove that line")
    return rows, blanks, problems


def _kind(value: Any) -> str:
    return {list: "an array", str: "a string", bool: "true/false", type(None): "null"}.get(type(value), "a number")


def _short(exc: BaseException) -> str:
    text = str(exc)
    return text if len(text) <= 120 else text[:117] + "..."
