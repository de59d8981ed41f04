"""The one S3 URI type, table by table."""

from __future__ import annotations

import pytest

from gr00t_core.s3_uri import S3Uri, S3UriError


@pytest.mark.parametrize(
    ("uri", "bucket", "key"),
    [
        ("s3://bkt/p/q/", "bkt", "p/q/"),
        ("s3://bkt/", "bkt", ""),
        ("s3://bkt", "bkt", ""),
        ("s3://my.bucket-1/a b/c.json", "my.bucket-1", "a b/c.json"),
        ("s3://b/x", "b", "x"),
    ],
)
def test_valid_uris_split_into_bucket_and_key(uri, bucket, key):
    parsed = S3Uri.parse(uri)
    assert (parsed.bucket, parsed.key) == (bucket, key)


@pytest.mark.parametrize("uri", ["/local/path", "bkt/key", "s3://", "s3:///key", "s3://Upper/key", "S3://bkt/k", "https://bkt/k", None])
def test_invalid_uris_are_refused_naming_what(uri):
    with pytest.raises(S3UriError, match=r"the output prefix must be an s3://bucket/key URI.*got"):
        S3Uri.parse(uri, what="the output prefix")


def test_s3_uri_errors_are_value_errors_and_the_uri_prints_back():
    assert issubclass(S3UriError, ValueError)
    assert str(S3Uri.parse("s3://bkt/p/")) == "s3://bkt/p/"
    assert str(S3Uri("bkt", "p/").child("a.txt")) == "s3://bkt/p/a.txt"
    assert str(S3Uri("bkt").child("/a.txt")) == "s3://bkt/a.txt"
