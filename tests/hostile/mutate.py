"""Hostile input for the entry points: real documents (tests/events/*.json, synthetic datasets) mutated one member
at a time by hypothesis strategies.

Every class of issue #12 is here as values a mutation can plant anywhere in a document: integers past Python's
4,300-digit conversion limit (as strings and as JSON text), JSON nested past the recursion limit, lone UTF-16
surrogates, control characters (newline, tab, U+0085, NUL), NaN / 1e309, wrong JSON types, over-long text and
malformed S3 URIs / bucket names. A mutation names the path it changed, so a test can check that the refusal
names that field.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

DIGITS_LIMIT = 4300  # sys.get_int_max_str_digits(): int(str) refuses longer integers (Python >= 3.11)


def _deep_list(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


def _deep_object(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = {"a": value}
    return value


# Text that breaks naive code. Each entry is a class of issue #12 (or a neighbour of it).
HOSTILE_TEXT = [
    "9" * (DIGITS_LIMIT + 1),
    "-" + "1" * (DIGITS_LIMIT + 200),
    "1e309",
    "-1e309",
    "NaN",
    "Infinity",
    "0x10",
    "",
    " ",
    "[" * 5000 + "]" * 5000,
    '{"a":' * 3000 + "1" + "}" * 3000,
    '{"maxSteps": ' + "9" * (DIGITS_LIMIT + 1) + "}",
    '{"maxSteps": 1e309}',
    '{"maxSteps": NaN}',
    "\ud800",
    "abc\udfffdef",
    "line\nbreak",
    "tab\there",
    "next\x85line",
    "nul\x00byte",
    "\u2028sep",
    "x" * 70_000,
    "s3://",
    "s3://UPPER-Bucket/key/",
    "s3://ab/",
    "s3://a..b/key/",
    "s3://bucket-with-\ud800/key/",
    "s3://vams-asset-bucket/key\nwith-newline/",
    "s3://vams-asset-bucket/\ud800/",
    "http://vams-asset-bucket/key/",
    "s3://vams-asset-bucket",
    "bad bucket!",
    "-bucket",
    "../../etc/passwd",
    "$(reboot)",
    "{video_key}/{episode_index:zz}",
    "{",
]

# Built afresh for every case (deepcopy of a 900-deep list would itself hit the recursion limit). 900 levels: about
# as deep as the Lambda runtime's own JSON parser delivers before it fails.
HOSTILE_VALUES: list[Callable[[], Any]] = [
    lambda: None,
    lambda: True,
    lambda: 0,
    lambda: -1,
    lambda: 10**20,
    lambda: 1.5,
    lambda: float("nan"),
    lambda: float("inf"),
    lambda: [],
    lambda: {},
    lambda: ["a", 1],
    lambda: {"nested": {"x": "\ud800"}},
    lambda: _deep_list(900),
    lambda: _deep_object(200),
    lambda: _deep_list(40),
]


def hostile_scalars() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.sampled_from(HOSTILE_TEXT),
        st.sampled_from(HOSTILE_VALUES).map(lambda make: make()),
        st.text(max_size=40),
        st.integers(min_value=-(2**70), max_value=2**70).map(str),
        st.floats(allow_nan=True, allow_infinity=True).map(repr),
    )


@dataclass
class Mutation:
    """One change to a document: what it did and the path of keys it did it at."""

    kind: str
    path: tuple[str, ...]

    @property
    def field(self) -> str:
        return ".".join(self.path)


def _paths(doc: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [prefix] if prefix else []
    if isinstance(doc, dict):
        for key, value in doc.items():
            found.extend(_paths(value, (*prefix, str(key))))
    return found


def _get(doc: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        doc = doc[key]
    return doc


def _set(doc: Any, path: tuple[str, ...], value: Any) -> None:
    _get(doc, path[:-1])[path[-1]] = value


def _delete(doc: Any, path: tuple[str, ...]) -> None:
    del _get(doc, path[:-1])[path[-1]]


# JSON-in-a-string members of a VAMS body: mutated inside (parsed, changed, dumped again) as well as whole.
JSON_STRING_MEMBERS = ("inputParameters", "inputMetadata")


@st.composite
def mutated(draw: Callable[..., Any], document: dict[str, Any], *, json_members: tuple[str, ...] = ()) -> tuple[dict[str, Any], Mutation]:
    """``document`` with one member replaced, deleted, added to, or (for JSON-string members) changed inside."""
    doc = copy.deepcopy(document)
    for path in _paths(doc):
        if path[-1] in json_members and isinstance(_get(doc, path), str) and _get(doc, path):
            _set(doc, path, json.loads(_get(doc, path)))
    paths = _paths(doc)
    path = draw(st.sampled_from(paths))
    kind = draw(st.sampled_from(["replace", "replace", "replace", "delete", "add"]))
    if kind == "delete":
        _delete(doc, path)
    elif kind == "add" and isinstance(_get(doc, path), dict):
        key = draw(st.one_of(st.sampled_from(["\ud800", "a\nb", "GROOT_MAX_STEPS", "maxSteps", "TaskToken", ""]), st.text(max_size=12)))
        _get(doc, path)[key] = draw(hostile_scalars())
        path = (*path, key)
    else:
        kind = "replace"
        _set(doc, path, draw(hostile_scalars()))
    for member_path in _paths(doc):
        if member_path[-1] in json_members and isinstance(_get(doc, member_path), (dict, list)):
            value = _get(doc, member_path)
            # as VAMS sends them: JSON text (dumped without ensure_ascii so a lone surrogate stays one)
            try:
                _set(doc, member_path, json.dumps(value, ensure_ascii=draw(st.booleans())))
            except (ValueError, RecursionError):
                _set(doc, member_path, "[" * 3000 + "]" * 3000)
    return doc, Mutation(kind, path)
