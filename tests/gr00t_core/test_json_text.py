"""The one bounded JSON reader: BOM, size, depth, numbers JSON cannot carry, JSON Lines."""

import pytest

from gr00t_core.json_text import JsonTextError, parse_json, parse_json_lines, parse_json_object


@pytest.mark.parametrize(
    "content,value",
    [
        (b'\xef\xbb\xbf{"a": 1}', {"a": 1}),  # Windows editors' byte-order mark
        ('\ufeff{"a": 1}', {"a": 1}),
        ('{"a": [1, 2.5, "x", null, true]}', {"a": [1, 2.5, "x", None, True]}),
        ('{"big": 1e308}', {"big": 1e308}),
    ],
)
def test_valid_documents(content, value):
    assert parse_json_object(content, name="f.json") == value


@pytest.mark.parametrize(
    "content,says",
    [
        ('{"a": NaN}', "number JSON cannot carry"),
        ('{"a": -Infinity}', "number JSON cannot carry"),
        ('{"a": 1e309}', "number JSON cannot carry"),
        ('{"a": ' + "9" * 5000 + "}", "number JSON cannot carry"),
        ("[" * 50 + "]" * 50, "more than 32 levels"),
        ("[" * 100_000 + "]" * 100_000, "more than 32 levels"),
        ('{"a": 1', "not valid JSON (line 1, column 8"),
        (b"\xff\xfe{}", "not UTF-8"),
        ("[1, 2]", "must hold a JSON object"),
        ('"text"', "must hold a JSON object"),
    ],
)
def test_refused_documents_name_the_file_and_the_fix(content, says):
    with pytest.raises(JsonTextError, match="f.json") as err:
        parse_json_object(content, name="f.json")
    assert says in str(err.value)


def test_size_is_bounded_before_parsing():
    with pytest.raises(JsonTextError, match="more than the 10 this pipeline reads"):
        parse_json("[" + "1," * 20 + "1]", name="f.json", max_bytes=10)


def test_json_lines_keep_going_past_a_bad_line():
    rows, blanks, problems = parse_json_lines(b'{"i": 0}\n\n{"i": NaN}\n{"i": 2}\n', name="meta/episodes.jsonl")
    assert rows == [{"i": 0}, {"i": 2}] and blanks == [2]
    assert problems == [
        "meta/episodes.jsonl line 3 holds a number JSON cannot carry here (NaN is not a JSON number); write a finite number; fix or remove that line"
    ]
