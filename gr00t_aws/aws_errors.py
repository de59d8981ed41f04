"""Reading an AWS error: its code and message, the two things services answer with.

What each code or message *means* is decided by the adapter that made the call (sagemaker_jobs, callbacks,
task_tokens, s3_assets, secrets, uploads), next to the public source of that meaning; the real answers are
recorded in tests/fixtures/aws_errors.json and fed through botocore into those adapters by the tests.
"""

from __future__ import annotations

from botocore.exceptions import ClientError


def error_code(exc: BaseException) -> str:
    """The service's error code (``"ValidationException"``), "" for anything that is not a ClientError."""
    return exc.response.get("Error", {}).get("Code", "") if isinstance(exc, ClientError) else ""


def error_message(exc: BaseException) -> str:
    """The service's error message, "" for anything that is not a ClientError."""
    return exc.response.get("Error", {}).get("Message", "") if isinstance(exc, ClientError) else ""
