"""Seeded random faults on a real boto3 client: a share of its requests answered with AWS's own error answers
(tests/fixtures/aws_errors.json), in the service's wire format, from botocore's ``before-send`` event. botocore's
parser and retry handler then treat them exactly as they treat AWS's; the other requests go on to moto (a server
on loopback: nothing else answers ``before-send`` there, so an answered request never reaches it).
"""

from __future__ import annotations

import itertools
import random
import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from botocore.awsrequest import AWSResponse

from tests.aws_answers import ANSWERS, _error_body, _Raw

_ids = itertools.count()


@dataclass
class Faults:
    """What a :func:`failing` hook did: requests seen and answered, by operation and by error code."""

    seen: Counter[str] = field(default_factory=Counter)
    answered: Counter[str] = field(default_factory=Counter)

    @property
    def requests(self) -> int:
        return sum(self.seen.values())

    @property
    def failed(self) -> int:
        return sum(self.answered.values())


@contextmanager
def failing(client: Any, keys: Sequence[str], *, rate: float, seed: int, operations: str = "*",
            only: str = "") -> Iterator[Faults]:
    """Answer ``rate`` of ``client``'s requests (seeded) with one of the recorded answers ``keys``.

    ``operations``: the botocore event's operation part (``*``: every operation); ``only``: answer only requests
    whose URL contains this text (one checkpoint's keys, say).
    """
    answers = [ANSWERS[k] for k in keys]
    draw = random.Random(seed)
    lock = threading.Lock()  # uploads send from several threads: one draw at a time keeps the run reproducible
    faults = Faults()
    service = client.meta.service_model.service_id.hyphenize()
    event = f"before-send.{service}.{operations}"
    unique = f"faults-{next(_ids)}"

    def hook(request: Any, **kwargs: Any) -> AWSResponse | None:
        operation = kwargs.get("event_name", "").rsplit(".", 1)[-1]
        with lock:
            faults.seen[operation] += 1
            if only and only not in request.url:
                return None
            if draw.random() >= rate:
                return None
            recorded = draw.choice(answers)
            faults.answered[recorded.code] += 1
        body, headers = _error_body(client, recorded.code, recorded.message)
        return AWSResponse(request.url, recorded.http_status, headers, _Raw(body))

    client.meta.events.register(event, hook, unique_id=unique)
    try:
        yield faults
    finally:
        client.meta.events.unregister(event, unique_id=unique)
