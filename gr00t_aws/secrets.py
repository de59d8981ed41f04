"""Secrets Manager adapter: the Hugging Face token, read at run time by secret id (name or ARN).

The token is returned to the caller and never logged, persisted or put in an environment. Error messages name
the secret id (not secret) and what to do, never the value.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from gr00t_aws.aws_errors import error_code, error_message
from gr00t_core.errors import ModelFetchError

if TYPE_CHECKING:  # boto3-stubs (requirements-dev.txt): types only, not shipped in the Lambda package
    from mypy_boto3_secretsmanager import SecretsManagerClient

# JSON secrets (key/value pairs as the console creates them) may hold the token under one of these keys.
TOKEN_KEYS = ("token", "HF_TOKEN", "hf_token", "HUGGING_FACE_HUB_TOKEN", "huggingface_token")


def _token_from_secret_string(secret_id: str, text: str) -> str:
    text = text.strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            data = None
        if isinstance(data, dict):
            for key in TOKEN_KEYS:
                value = data.get(key)
                if isinstance(value, str) and value.strip():
                    return value.strip()
            raise ModelFetchError(
                f"secret {secret_id!r} is a JSON object without a token; store the Hugging Face token as plain text "
                f"or under one of the keys {', '.join(TOKEN_KEYS)}"
            )
    if not text:
        raise ModelFetchError(f"secret {secret_id!r} is empty; store the Hugging Face access token (hf_...) in it")
    return text


def read_hf_token(client: SecretsManagerClient, secret_id: str) -> str:
    """The Hugging Face token stored in Secrets Manager. Raises :class:`ModelFetchError` with a clear reason."""
    try:
        response = client.get_secret_value(SecretId=secret_id)
    except ClientError as exc:
        # GetSecretValue's errors (botocore data secretsmanager/2017-10-17/service-2.json; Secrets Manager API
        # reference): ResourceNotFoundException "Secrets Manager can't find the specified secret.",
        # DecryptionFailure (the KMS key), InvalidRequestException (e.g. the secret is scheduled for deletion),
        # AccessDeniedException (IAM, a common error).
        code = error_code(exc)
        if code == "ResourceNotFoundException":
            # Also the answer for a secret that exists but holds no value yet (boto/boto3#2794).
            raise ModelFetchError(
                f"Hugging Face token secret {secret_id!r} does not exist in Secrets Manager or holds no value yet; "
                "create it with the token (hf_...) as its value, or fix the hfTokenSecretId setting of the deployment"
            ) from None
        if code in ("AccessDeniedException", "AccessDenied"):
            raise ModelFetchError(
                f"the training job's role may not read secret {secret_id!r}; allow secretsmanager:GetSecretValue "
                "on it (and kms:Decrypt for its key)"
            ) from None
        if code == "DecryptionFailure":
            raise ModelFetchError(
                f"secret {secret_id!r} cannot be decrypted: allow kms:Decrypt on its KMS key for the training job's role"
            ) from None
        if code == "InvalidRequestException":
            raise ModelFetchError(
                f"secret {secret_id!r} cannot be read in its current state ({error_message(exc)}); if it is scheduled "
                "for deletion, restore it (RestoreSecret) or point hfTokenSecretId at another secret"
            ) from None
        raise ModelFetchError(f"cannot read Hugging Face token secret {secret_id!r}: {code or exc}") from None
    except BotoCoreError as exc:
        raise ModelFetchError(f"cannot reach Secrets Manager to read secret {secret_id!r}: {exc}") from None
    text = response.get("SecretString")
    if text is None and response.get("SecretBinary") is not None:
        text = bytes(response["SecretBinary"]).decode("utf-8", errors="replace")
    return _token_from_secret_string(secret_id, text or "")
