"""Reading an asset's small files from S3 (gr00t_config.json, the dataset's meta/ files) with a size cap.

A missing object is ``None`` (the caller decides whether that is an error); access denied, a missing bucket
or an oversized file are :class:`AssetError` with the S3 URI and what to do, because a VAMS user reads them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError, ParamValidationError

from gr00t_aws.aws_errors import error_code, error_message
from gr00t_core.errors import AssetError
from gr00t_core.json_text import DEFAULT_MAX_BYTES

if TYPE_CHECKING:  # boto3-stubs (requirements-dev.txt): types only, not shipped in the Lambda package
    from mypy_boto3_s3 import S3Client

DEFAULT_MAX_OBJECT_BYTES = DEFAULT_MAX_BYTES  # the most any JSON document is read (gr00t_core.json_text)

# GetObject for a missing key: 404 NoSuchKey "The specified key does not exist." when the caller may list the
# bucket, else 403 AccessDenied (S3 API reference, GetObject, Permissions). HeadObject answers without a body,
# so botocore reports the bare status, code "404" / "403" (botocore/parsers.py, _do_generic_error_parse); this
# module reads with GetObject only. A missing bucket is 404 NoSuchBucket.
_MISSING = {"NoSuchKey", "404", "NotFound"}
_DENIED = {"AccessDenied", "403", "Forbidden", "AllAccessDisabled", "InvalidObjectState"}


def s3_uri(bucket: str, key: str) -> str:
    return f"s3://{bucket}/{key}"


def _asset_error(exc: ClientError, bucket: str, key: str, action: str) -> AssetError:
    code = error_code(exc)
    where = s3_uri(bucket, key)
    if code in _DENIED:
        return AssetError(
            f"Access denied {action} {where}: the pipeline's Lambda role needs s3:GetObject and s3:ListBucket on the "
            f"asset bucket {bucket!r} (check the bucket policy and KMS key policy too)"
        )
    if code == "NoSuchBucket":
        return AssetError(f"The asset bucket {bucket!r} does not exist ({action} {where}); check bucketAsset in the event")
    return AssetError(f"S3 error {code or 'unknown'} {action} {where}: {error_message(exc) or exc}")


# Requests botocore cannot even build: a bucket name outside botocore's VALID_BUCKET ``^[a-zA-Z0-9.\-_]{1,255}$``
# (botocore/handlers.py, validate_bucket_name) raises ParamValidationError, which is not a ClientError; a key with
# a lone surrogate cannot be encoded into the URL (UnicodeEncodeError). Both are the event's fault, not S3's.
_UNSENDABLE = (ParamValidationError, UnicodeEncodeError)


def _unsendable(exc: Exception, bucket: str, key: str, action: str) -> AssetError:
    detail = exc.kwargs.get("report", exc) if isinstance(exc, ParamValidationError) else "the key is not UTF-8 text"
    return AssetError(f"Cannot request {action} s3://{bucket!r}/{key!r} ({detail}); check bucketAsset and the S3 paths in the event")


def read_object(s3: S3Client, bucket: str, key: str, *, max_bytes: int = DEFAULT_MAX_OBJECT_BYTES) -> bytes | None:
    """The object's bytes, or None when it does not exist. Larger than ``max_bytes``: AssetError, body unread."""
    try:
        response = s3.get_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if error_code(exc) in _MISSING:
            return None
        raise _asset_error(exc, bucket, key, "reading") from None
    except _UNSENDABLE as exc:
        raise _unsendable(exc, bucket, key, "reading") from None
    body = response["Body"]
    try:
        size = int(response.get("ContentLength", 0))
        if size > max_bytes:
            raise AssetError(
                f"{s3_uri(bucket, key)} is {size} bytes, more than the {max_bytes} bytes this pipeline reads from a "
                "metadata file; is it the right file?"
            )
        return body.read()
    finally:
        body.close()


def prefix_exists(s3: S3Client, bucket: str, prefix: str) -> bool:
    """True when at least one object lives under ``prefix``."""
    try:
        response = s3.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1)
    except ClientError as exc:
        raise _asset_error(exc, bucket, prefix, "listing") from None
    except _UNSENDABLE as exc:
        raise _unsendable(exc, bucket, prefix, "listing") from None
    return bool(response.get("KeyCount") or response.get("Contents"))


def prefix_reader(s3: S3Client, bucket: str, prefix: str, *, max_bytes: int = DEFAULT_MAX_OBJECT_BYTES) -> Callable[[str], bytes | None]:
    """``read("meta/info.json")`` for files under ``s3://bucket/prefix`` (what gr00t_data.meta.check_meta takes)."""
    base = prefix if not prefix or prefix.endswith("/") else prefix + "/"

    def read(relative: str) -> bytes | None:
        return read_object(s3, bucket, base + relative.lstrip("/"), max_bytes=max_bytes)

    return read
