"""Deployment settings: environment parsing, the --settings file on top, validation and placeholders."""

import json

import pytest

from gr00t_core.errors import SettingsError
from launcher.orchestration.settings import (
    DEFAULT_MAX_INSTANCE_COUNT,
    ENV_NAMES,
    DeploymentSettings,
    env_name,
    is_placeholder,
    load_settings,
    settings_from_environment,
)


def test_defaults_without_any_environment():
    s = load_settings({})
    assert s == DeploymentSettings()
    assert s.max_instance_count == DEFAULT_MAX_INSTANCE_COUNT
    assert s.allowed_base_model_owners == ("nvidia",)
    assert s.missing_for_launch() == ["GR00T_IMAGE_URI", "GR00T_ROLE_ARN"]


def test_environment_values_are_parsed_by_type():
    s = load_settings(
        {
            "GR00T_ROLE_ARN": "arn:aws:iam::123456789012:role/sm",
            "GR00T_ALLOWED_INSTANCE_TYPES": "ml.g6e.*, ml.p5.48xlarge",
            "GR00T_MAX_INSTANCE_COUNT": "8",
            "GR00T_SUBNETS": "subnet-0123456789abcdef0",
            "GR00T_SECURITY_GROUPS": "sg-0123456789abcdef0",
            "GR00T_MODEL_CACHE_BUCKET": "cache-bucket",
            "UNRELATED": "x",
        }
    )
    assert s.allowed_instance_types == ("ml.g6e.*", "ml.p5.48xlarge")
    assert s.max_instance_count == 8
    assert s.subnets == ("subnet-0123456789abcdef0",)
    assert s.model_cache_uri == "s3://cache-bucket/gr00t-model-cache/"
    assert s.allows_instance_type("ml.g6e.12xlarge") and not s.allows_instance_type("ml.g5.xlarge")


def test_settings_file_wins_over_environment(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"GR00T_MAX_INSTANCE_COUNT": 2, "GR00T_ALLOWED_INSTANCE_TYPES": ["ml.g5.*"]}))
    s = load_settings({"GR00T_MAX_INSTANCE_COUNT": "8", "GR00T_IMAGE_URI": "img:1"}, path)
    assert s.max_instance_count == 2
    assert s.allowed_instance_types == ("ml.g5.*",)
    assert s.image_uri == "img:1"  # not in the file: the environment's value stays


@pytest.mark.parametrize(
    "env,match",
    [
        ({"GR00T_ROLE_ARN": "my-role"}, "GR00T_ROLE_ARN: 'my-role' is not an IAM role ARN"),
        ({"GR00T_MAX_INSTANCE_COUNT": "many"}, "GR00T_MAX_INSTANCE_COUNT: expected an integer"),
        ({"GR00T_MAX_KEEP_ALIVE_SECONDS": "7200"}, "between 0 and 3600"),
        ({"GR00T_MAX_RUNTIME_SECONDS": str(29 * 86400)}, "at most 28 days"),
        ({"GR00T_FILE_SYSTEM_ID": "fs-0123456789abcdef0", "GR00T_FILE_SYSTEM_TYPE": "FSxLustre", "GR00T_FILE_SYSTEM_DIRECTORY": "/abcd/models"}, "needs GR00T_SUBNETS"),
        ({"GR00T_FILE_SYSTEM_ID": "fs-0123456789abcdef0", "GR00T_FILE_SYSTEM_TYPE": "NFS"}, "must be one of FSxLustre, EFS"),
        ({"GR00T_FILE_SYSTEM_TYPE": "EFS"}, "GR00T_FILE_SYSTEM_ID is empty"),
        ({"GR00T_SUBNETS": "subnet-0123456789abcdef0"}, "set both GR00T_SUBNETS and GR00T_SECURITY_GROUPS"),
        ({"GR00T_SUBNETS": "net-1", "GR00T_SECURITY_GROUPS": "sg-0123456789abcdef0"}, "subnet ids"),
        ({"GR00T_MODEL_CACHE_BUCKET": "s3://cache"}, "not an S3 bucket name"),
        ({"GR00T_OUTPUT_PREFIX": "bucket/prefix"}, "must be an s3://bucket/prefix/ URI"),
        ({"GR00T_JOB_NAME_PREFIX": "gr00t_x"}, "letters, digits or hyphens"),
        # IAM policies cannot name a key by alias or bare id, so neither can the setting the template grants on
        ({"GR00T_ASSET_KMS_KEY_ARN": "alias/vams-assets"}, "GR00T_ASSET_KMS_KEY_ARN: 'alias/vams-assets' is not a KMS key ARN"),
        ({"GR00T_ASSET_KMS_KEY_ARN": "1234abcd-12ab-34cd-56ef-1234567890ab"}, "is not a KMS key ARN"),
    ],
)
def test_invalid_settings_name_the_variable(env, match):
    with pytest.raises(SettingsError, match=match):
        load_settings(env)


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "arn:aws-us-gov:kms:us-gov-west-1:123456789012:key/mrk-1234abcd12ab34cd56ef1234567890ab",  # multi-Region key
    ],
)
def test_asset_kms_key_arn_is_read_from_the_environment(arn):
    assert load_settings({"GR00T_ASSET_KMS_KEY_ARN": arn}).asset_kms_key_arn == arn
    assert load_settings({}).asset_kms_key_arn == ""  # the default: the asset bucket uses SSE-S3 / aws managed keys


def test_every_problem_is_reported_at_once():
    with pytest.raises(SettingsError, match=r"\(2 problem\(s\)\)"):
        load_settings({"GR00T_ROLE_ARN": "x", "GR00T_MAX_INSTANCE_COUNT": "0"})


@pytest.mark.parametrize(
    "content,match",
    [
        ("{not json", "is not valid JSON"),
        ("[1, 2]", "must hold a JSON object"),
        ('{"GR00T_MAX_INSTANCES": 3}', "unknown setting\\(s\\) GR00T_MAX_INSTANCES"),
    ],
)
def test_bad_settings_files(tmp_path, content, match):
    path = tmp_path / "s.json"
    path.write_text(content)
    with pytest.raises(SettingsError, match=match):
        load_settings({}, path)


def test_missing_settings_file(tmp_path):
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings({}, tmp_path / "nope.json")


def test_placeholders_are_marked_and_only_fill_gaps():
    s = DeploymentSettings(image_uri="img:1").with_placeholders()
    assert s.image_uri == "img:1"
    assert is_placeholder(s.role_arn) and "GR00T_ROLE_ARN" in s.role_arn
    assert s.missing_for_launch() == []


def test_base_model_owners():
    s = DeploymentSettings()
    assert s.allows_base_model("nvidia/GR00T-N1.5-3B")
    assert not s.allows_base_model("someone/GR00T-N1.5-3B")
    assert s.allows_base_model("/opt/ml/input/data/model_cache/gr00t")
    assert DeploymentSettings(allowed_base_model_owners=("*",)).allows_base_model("someone/x")


def test_env_names_are_unique_and_prefixed():
    assert len(set(ENV_NAMES)) == len(ENV_NAMES)
    assert all(n.startswith("GR00T_") for n in ENV_NAMES)


@pytest.mark.parametrize(
    "env,match",
    [
        ({"GR00T_MAX_INSTANCE_COUNT": True}, r"GR00T_MAX_INSTANCE_COUNT: expected an integer, got True"),
        ({"GR00T_MAX_INSTANCE_COUNT": 2.5}, r"GR00T_MAX_INSTANCE_COUNT: expected an integer, got 2.5"),
        ({"GR00T_TOKEN_TTL_SECONDS": "0"}, r"GR00T_TOKEN_TTL_SECONDS: must be at least 1, got 0"),
        ({"GR00T_ROLE_ARN": 7}, r"GR00T_ROLE_ARN: expected a string, got 7"),
        ({"GR00T_SUBNETS": {"a": 1}}, r"GR00T_SUBNETS: expected a comma-separated string or a JSON list"),
        ({"GR00T_IMAGE_URI_N1_6": "repo:tag with space"}, r"GR00T_IMAGE_URI_N1_6: 'repo:tag with space' is not an image URI"),
        ({"GR00T_IMAGE_URI": "x" * 256}, r"GR00T_IMAGE_URI: 'x+' is not an image URI"),
        ({"GR00T_FILE_SYSTEM_ACCESS_MODE": "w"}, r"GR00T_FILE_SYSTEM_ACCESS_MODE: must be rw or ro, got 'w'"),
        ({"GR00T_ALLOWED_INSTANCE_TYPES": " , "}, r"GR00T_ALLOWED_INSTANCE_TYPES: must name at least one instance type"),
        ({"GR00T_ALLOWED_BASE_MODEL_OWNERS": []}, r"GR00T_ALLOWED_BASE_MODEL_OWNERS: must name at least one Hugging Face owner"),
        ({"GR00T_JOB_NAME_PREFIX": ""}, r"GR00T_JOB_NAME_PREFIX: '' must be 1-20 letters"),  # text: "" is a value
        ({"GR00T_SECURITY_GROUPS": "sg-1", "GR00T_SUBNETS": "subnet-0123456789abcdef0"}, r"GR00T_SECURITY_GROUPS: must be 1-5 security group ids"),
        ({"GR00T_FILE_SYSTEM_ID": "fsx-1", "GR00T_FILE_SYSTEM_TYPE": "EFS"}, r"GR00T_FILE_SYSTEM_ID: 'fsx-1' is not a file system id"),
    ],
)
def test_invalid_values_from_a_json_file_or_the_environment(tmp_path, env, match):
    path = tmp_path / "settings.json"
    path.write_text(json.dumps(env))
    with pytest.raises(SettingsError, match=match) as from_file:
        load_settings({}, path)
    # one line per problem naming the variable, never pydantic's own report
    assert "validation error" not in str(from_file.value) and "Value error" not in str(from_file.value)
    assert "pydantic" not in str(from_file.value)


def test_a_setting_that_fails_on_its_own_does_not_hide_the_combination_rules():
    with pytest.raises(SettingsError, match=r"\(4 problem\(s\)\)") as caught:
        load_settings({"GR00T_ROLE_ARN": "x", "GR00T_SUBNETS": "net-1", "GR00T_FILE_SYSTEM_TYPE": "EFS"})
    message = str(caught.value)
    assert "GR00T_ROLE_ARN: 'x' is not an IAM role ARN" in message
    assert "GR00T_SUBNETS: set both GR00T_SUBNETS and GR00T_SECURITY_GROUPS" in message
    assert "GR00T_SUBNETS: must be 1-16 subnet ids (subnet-...), got net-1" in message
    assert "GR00T_FILE_SYSTEM_ID: GR00T_FILE_SYSTEM_TYPE/DIRECTORY are set" in message


@pytest.mark.parametrize(
    "env",
    [
        {"GR00T_MAX_INSTANCE_COUNT": "", "GR00T_SUBNETS": "", "GR00T_MODEL_CACHE_BUCKET": ""},  # "" = unset
        {"GR00T_MAX_INSTANCE_COUNT": " 4 ", "GR00T_ALLOWED_INSTANCE_TYPES": ["ml.g6e.*", " "]},
        {"GR00T_MAX_INSTANCE_COUNT": 4, "GR00T_ALLOWED_INSTANCE_TYPES": "ml.g6e.*,"},
    ],
)
def test_equivalent_spellings_give_the_defaults(tmp_path, env):
    path = tmp_path / "settings.json"
    path.write_text(json.dumps(env))
    assert load_settings({}, path) == DeploymentSettings()


def test_settings_round_trip_through_their_environment():
    s = load_settings(
        {
            "GR00T_ROLE_ARN": "arn:aws:iam::123456789012:role/sm",
            "GR00T_ALLOWED_INSTANCE_TYPES": "ml.g6e.*,ml.p5.48xlarge",
            "GR00T_SUBNETS": "subnet-0123456789abcdef0,subnet-0123456789abcdef1",
            "GR00T_SECURITY_GROUPS": "sg-0123456789abcdef0",
            "GR00T_MAX_KEEP_ALIVE_SECONDS": "0",
        }
    )
    assert set(s.environment()) == set(ENV_NAMES)
    assert load_settings(s.environment()) == s
    assert s.environment()["GR00T_SUBNETS"] == "subnet-0123456789abcdef0,subnet-0123456789abcdef1"


def test_settings_are_frozen_and_code_builds_them_by_field_name():
    s = DeploymentSettings(max_instance_count=2)
    assert s.max_instance_count == 2 and env_name("max_instance_count") == "GR00T_MAX_INSTANCE_COUNT"
    with pytest.raises(ValueError, match="frozen"):
        s.max_instance_count = 3  # type: ignore[misc]
    assert hash(s) == hash(DeploymentSettings(max_instance_count=2))


def test_the_launch_lambda_reads_its_settings_once(monkeypatch):
    settings_from_environment.cache_clear()
    monkeypatch.setenv("GR00T_MAX_INSTANCE_COUNT", "3")
    try:
        assert settings_from_environment().max_instance_count == 3
        monkeypatch.setenv("GR00T_MAX_INSTANCE_COUNT", "5")
        assert settings_from_environment().max_instance_count == 3
    finally:
        settings_from_environment.cache_clear()
