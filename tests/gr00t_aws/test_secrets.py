"""The Hugging Face token from Secrets Manager (moto): plain and JSON secrets, and every way it can be wrong."""

import boto3
import pytest
from moto import mock_aws

from gr00t_aws.secrets import read_hf_token
from gr00t_core.errors import ModelFetchError


@pytest.fixture
def sm():
    with mock_aws():
        yield boto3.client("secretsmanager", region_name="us-east-1")


@pytest.mark.parametrize("value", ["hf_plain", '{"token": "hf_plain"}', '{"HF_TOKEN": " hf_plain "}'])
def test_token_forms(sm, value):
    sm.create_secret(Name="hf", SecretString=value)
    assert read_hf_token(sm, "hf") == "hf_plain"


@pytest.mark.parametrize(
    "value,match",
    [(None, "does not exist in Secrets Manager"), ("   ", "is empty"),
     ('{"user": "s3cr3t-not-a-token"}', "JSON object without a token")],
)
def test_bad_secrets_are_user_errors_without_the_value(sm, value, match):
    if value is not None:
        sm.create_secret(Name="hf", SecretString=value)
    with pytest.raises(ModelFetchError, match=match) as info:
        read_hf_token(sm, "hf")
    message = str(info.value)
    assert "'hf'" in message  # the secret is named by its id ...
    assert "s3cr3t-not-a-token" not in message  # ... and never by what it holds
