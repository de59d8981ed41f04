"""The one S3 URI type: ``s3://bucket/key`` parsed once, the same way everywhere (launcher, adapters, local mode).

The bucket is checked for the characters of S3's bucket naming rules (lowercase letters, digits, dots and hyphens,
starting with a letter or digit, at most 63; Amazon S3 user guide, "General purpose bucket naming rules"), not
for every rule: S3 itself refuses the rest with a clear answer. The key is everything after the first ``/`` after
the bucket, possibly empty.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_S3_URI = re.compile(r"^s3://([a-z0-9][a-z0-9.\-]{0,62})(?:/(.*))?$", re.DOTALL)


class S3UriError(ValueError):
    """Not an ``s3://bucket/key`` URI. Each layer re-raises it as its own user error (EventError, ConfigError...)."""


@dataclass(frozen=True)
class S3Uri:
    bucket: str
    key: str = ""  # an object key or a prefix ("" = the bucket's root)

    @classmethod
    def parse(cls, uri: str, *, what: str = "S3 URI") -> S3Uri:
        """``s3://bucket/some/prefix/`` -> ``S3Uri("bucket", "some/prefix/")``; :class:`S3UriError` naming ``what``."""
        match = _S3_URI.match(uri) if isinstance(uri, str) else None
        if not match:
            raise S3UriError(f"{what} must be an s3://bucket/key URI (bucket: lowercase letters, digits, dots or hyphens), got {uri!r}")
        return cls(match.group(1), match.group(2) or "")

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def child(self, relative: str) -> S3Uri:
        """The URI of ``relative`` under this prefix (one ``/`` between them)."""
        key = f"{self.key.rstrip('/')}/{relative.lstrip('/')}" if self.key.strip("/") else relative.lstrip("/")
        return S3Uri(self.bucket, key)
