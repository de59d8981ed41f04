"""Real AWS error answers (tests/fixtures/aws_errors.json) fed through botocore into real clients.

``answer(client, "sagemaker.describe_training_job.not_found")`` makes the client's next call of that operation
fail exactly as AWS fails it: botocore receives the recorded code, message and HTTP status and raises its own
exception class for them. Every other call, and every later one, goes on to moto for state.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.awsrequest import AWSResponse

_registrations = itertools.count()
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "aws_errors.json"


@dataclass(frozen=True)
class AwsAnswer:
    key: str
    operation: str
    code: str
    message: str
    http_status: int
    source: str


def _load() -> dict[str, AwsAnswer]:
    errors = json.loads(FIXTURES.read_text())["errors"]
    return {key: AwsAnswer(key=key, **{k: v for k, v in e.items()}) for key, e in errors.items()}


ANSWERS = _load()


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


def _error_body(client: Any, code: str, message: str) -> tuple[bytes, dict[str, str]]:
    """The error as the service's wire protocol carries it, so botocore's own parser reads it."""
    protocol = client.meta.service_model.protocol
    if protocol in ("rest-xml", "query", "ec2"):
        xml = f"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>"
        return xml.encode(), {"Content-Type": "application/xml"}
    return json.dumps({"__type": code, "message": message}).encode(), {"Content-Type": "application/x-amz-json-1.1"}


@contextmanager
def answer(client: Any, key: str, *, times: int = 1, operation: str = "", wire: bool = False, **fmt: str) -> Iterator[list[str]]:
    """The next ``times`` calls of the answer's operation on ``client`` get AWS's answer.

    By default the answer is returned from botocore's ``before-call`` event: the call never reaches moto, and
    botocore raises its own exception class for the code. ``wire=True`` returns it as the HTTP response instead
    (``before-send``), in the service's wire format, so botocore's parser and retry mode handle it as they would
    AWS's; moto's own ``before-send`` handler still sees that request, so use it for reads only. ``operation``:
    another operation that answers the same (Step Functions' three callbacks share their errors). ``fmt`` fills
    placeholders in the recorded message (``job_name=...``). Yields the list of calls answered.
    """
    recorded = ANSWERS[key]
    operation = operation or recorded.operation
    message = recorded.message.format(**fmt) if fmt else recorded.message
    answered: list[str] = []
    stage = "before-send" if wire else "before-call"
    event = f"{stage}.{client.meta.service_model.service_id.hyphenize()}.{operation}"
    unique = f"aws-answer-{next(_registrations)}"

    def hook(**_: Any) -> Any:
        if len(answered) >= times:
            return None
        answered.append(operation)
        if wire:
            body, headers = _error_body(client, recorded.code, message)
            return AWSResponse(_["request"].url, recorded.http_status, headers, _Raw(body))
        parsed = {"Error": {"Code": recorded.code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": recorded.http_status}}
        return AWSResponse("", recorded.http_status, {}, _Raw(b"")), parsed

    client.meta.events.register(event, hook, unique_id=unique)
    try:
        yield answered
    finally:
        client.meta.events.unregister(event, unique_id=unique)


def stubber_error(key: str, **fmt: str) -> dict[str, Any]:
    """The recorded answer as keyword arguments of botocore's ``Stubber.add_client_error``."""
    recorded = ANSWERS[key]
    message = recorded.message.format(**fmt) if fmt else recorded.message
    return {"service_error_code": recorded.code, "service_message": message, "http_status_code": recorded.http_status}
