"""The one client configuration: every client the project makes has the same retries, timeouts and pool."""

from __future__ import annotations

from gr00t_aws import clients
from gr00t_aws.clients import AwsClients, client_config, make_client


def test_the_client_configuration_is_standard_retries_with_short_connect_and_a_wide_pool():
    config = client_config()
    assert config.retries == {"mode": "standard", "total_max_attempts": clients.MAX_ATTEMPTS}
    assert config.connect_timeout == 5 and config.read_timeout == 60 and config.max_pool_connections == 48


def test_made_clients_carry_the_configuration(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    s3 = make_client("s3")
    assert s3.meta.config.retries["total_max_attempts"] == clients.MAX_ATTEMPTS
    assert s3.meta.config.max_pool_connections == 48


def test_given_clients_win_and_the_rest_are_made_once_on_first_use():
    made: list[str] = []

    def factory(service: str) -> object:
        made.append(service)
        return object()

    given = object()
    aws = AwsClients(factory=factory, sagemaker=given)
    assert aws.sagemaker is given and made == []
    assert aws.s3 is aws.s3 and aws.get("secretsmanager") is aws.secretsmanager
    assert made == ["s3", "secretsmanager"]
