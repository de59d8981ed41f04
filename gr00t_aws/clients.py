"""boto3 clients, created on first use and shared; tests and local mode pass their own."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

SERVICES = ("s3", "sagemaker", "stepfunctions", "dynamodb")


def _default_factory(service: str) -> Any:
    import boto3  # deferred: importing boto3 costs ~0.1 s and --help / --dry-run may not need it
    from botocore.config import Config

    # Standard retry mode backs off on throttling; short connect timeout so a misrouted call fails fast.
    config = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=30)
    return boto3.client(service, config=config)


class AwsClients:
    """One client per service. ``AwsClients(sagemaker=stubbed)`` replaces one and keeps lazy defaults for the rest."""

    def __init__(self, factory: Callable[[str], Any] | None = None, **given: Any) -> None:
        unknown = set(given) - set(SERVICES)
        if unknown:
            raise TypeError(f"unknown service(s) {sorted(unknown)}; known: {SERVICES}")
        self._factory = factory or _default_factory
        self._clients: dict[str, Any] = dict(given)

    def get(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self._factory(service)
        return self._clients[service]

    @property
    def s3(self) -> Any:
        return self.get("s3")

    @property
    def sagemaker(self) -> Any:
        return self.get("sagemaker")

    @property
    def stepfunctions(self) -> Any:
        return self.get("stepfunctions")

    @property
    def dynamodb(self) -> Any:
        return self.get("dynamodb")
