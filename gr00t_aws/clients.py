"""boto3 clients, created on first use and shared: the one client configuration of the project.

Every boto3 client this project makes (the Lambda functions, ``gr00t-sm launch``, the container entry) comes from
:func:`make_client`, configured by :data:`CLIENT_CONFIG`:

* ``retries``: botocore's *standard* mode, :data:`MAX_ATTEMPTS` attempts in all (the first call and 5 retries), with
  exponential backoff on throttling and transient errors
  (https://boto3.amazonaws.com/v1/documentation/api/latest/guide/retries.html).
* ``connect_timeout`` 5 s, so a misrouted call (no VPC endpoint, no NAT) fails fast instead of after 60 s;
  ``read_timeout`` 60 s (botocore's default), long enough for an S3 part upload under load.
* ``max_pool_connections`` 48: the container uploads checkpoints with up to 48 parallel S3 requests
  (:mod:`gr00t_aws.uploads`); a Lambda uses one or two, and the pool only opens what it uses.

Tests and local mode pass their own clients or a factory.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from botocore.config import Config
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sagemaker import SageMakerClient
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_stepfunctions import SFNClient

MAX_ATTEMPTS = 6
CONNECT_TIMEOUT_SECONDS = 5
READ_TIMEOUT_SECONDS = 60
MAX_POOL_CONNECTIONS = 48


def client_config() -> Config:
    """The botocore configuration every client of this project uses (see the module docstring)."""
    from botocore.config import Config  # deferred: importing botocore costs ~0.1 s and --help may not need it

    return Config(
        retries={"mode": "standard", "total_max_attempts": MAX_ATTEMPTS},
        connect_timeout=CONNECT_TIMEOUT_SECONDS,
        read_timeout=READ_TIMEOUT_SECONDS,
        max_pool_connections=MAX_POOL_CONNECTIONS,
    )


def make_client(service: str) -> Any:
    """A boto3 client for ``service`` with :func:`client_config` (region and credentials from the environment)."""
    import boto3  # deferred: importing boto3 costs ~0.1 s and --help / --dry-run may not need it

    return boto3.client(service, config=client_config())  # type: ignore[call-overload]


class AwsClients:
    """One client per service, made on first use. ``AwsClients(sagemaker=stubbed)`` replaces one and keeps lazy
    defaults for the rest; ``AwsClients(factory=f)`` makes every client with ``f(service)``."""

    def __init__(self, factory: Callable[[str], Any] | None = None, **given: Any) -> None:
        self._factory = factory or make_client
        self._clients: dict[str, Any] = dict(given)

    def get(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self._factory(service)
        return self._clients[service]

    @property
    def s3(self) -> S3Client:
        return self.get("s3")

    @property
    def sagemaker(self) -> SageMakerClient:
        return self.get("sagemaker")

    @property
    def stepfunctions(self) -> SFNClient:
        return self.get("stepfunctions")

    @property
    def dynamodb(self) -> DynamoDBClient:
        return self.get("dynamodb")

    @property
    def secretsmanager(self) -> SecretsManagerClient:
        return self.get("secretsmanager")
