"""The SAM template, the Lambda package and the image buildspec (the VAMS registration: test_vams_registration.py)."""

import importlib
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from cfnlint.decode import cfn_yaml

from launcher.orchestration.settings import ENV_NAMES

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
TEMPLATE = cfn_yaml.load(str(DEPLOY / "template.yaml"))
RESOURCES = TEMPLATE["Resources"]


def _statements(resource):
    props = RESOURCES[resource]["Properties"]
    found = []
    for policy in props.get("Policies", []):
        doc = policy.get("PolicyDocument", policy) if isinstance(policy, dict) else {}
        found += doc.get("Statement", [])
    return found


def test_cfn_lint_is_clean():
    result = subprocess.run([str(Path(sys.executable).parent / "cfn-lint"), str(DEPLOY / "template.yaml")], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("function", ["LaunchFunction", "JobEventsFunction", "StopFunction"])
def test_handlers_exist(function):
    module, attr = RESOURCES[function]["Properties"]["Handler"].rsplit(".", 1)
    assert callable(getattr(importlib.import_module(module), attr))


def test_environment_variables_are_deployment_settings():
    env = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    ours = {k for k in env if k.startswith("GR00T_")}
    assert ours <= set(ENV_NAMES)
    assert {"GR00T_IMAGE_URI", "GR00T_ROLE_ARN", "GR00T_TOKEN_TABLE"} <= ours


def test_every_engine_image_setting_is_a_template_parameter():
    # The launcher picks the image from the engine table; a setting the stack cannot fill refuses that generation.
    from gr00t_core.engines import ENGINES
    from launcher.orchestration.settings import env_name

    env = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    assert {env_name(spec.image_setting) for spec in ENGINES} <= set(env)


def test_pass_role_only_for_the_training_role():
    # the launch Lambda starts jobs; the job-events Lambda relaunches one on a fallback type after a capacity failure
    passes = {r: s for r in ("LaunchFunction", "JobEventsFunction", "StopFunction") for s in _statements(r) if "iam:PassRole" in str(s.get("Action"))}
    assert set(passes) == {"LaunchFunction", "JobEventsFunction"}
    for statement in passes.values():
        assert statement["Resource"] == {"Fn::GetAtt": ["SageMakerExecutionRole", "Arn"]}
        assert statement["Condition"]["StringEquals"]["iam:PassedToService"] == "sagemaker.amazonaws.com"


def test_training_role_writes_only_pipeline_outputs_in_the_asset_bucket():
    asset_writes = [
        s for s in _statements("SageMakerExecutionRole")
        if isinstance(s, dict) and "s3:PutObject" in s.get("Action", []) and "AssetBucketName" in str(s["Resource"])
    ]
    assert len(asset_writes) == 1
    assert asset_writes[0]["Resource"]["Fn::Sub"].endswith(":::${AssetBucketName}/pipelines/*")


KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def _key_statements(resource):
    """Statements granting the asset bucket's KMS key: (the HasAssetKey condition, the statement)."""
    found = []
    for statement in _statements(resource):
        if isinstance(statement, dict) and "Fn::If" in statement:
            condition, granted, otherwise = statement["Fn::If"]
            if "kms:" in str(granted.get("Action")):
                found.append((condition, otherwise, granted))
    return found


@pytest.mark.parametrize(
    "resource,actions",
    [
        # reads the dataset, writes checkpoints (multipart) and SageMaker's output with OutputDataConfig.KmsKeyId
        ("SageMakerExecutionRole", ["kms:Decrypt", "kms:GenerateDataKey", "kms:Encrypt"]),
        ("LaunchFunction", "kms:Decrypt"),  # reads gr00t_config.json and meta/ only
    ],
)
def test_asset_bucket_key_is_granted_only_when_given_and_only_what_s3_needs(resource, actions):
    [(condition, otherwise, granted)] = _key_statements(resource)
    assert condition == "HasAssetKey" and otherwise == {"Ref": "AWS::NoValue"}
    assert granted["Action"] == actions and granted["Resource"] == {"Ref": "AssetBucketKmsKeyArn"}
    assert TEMPLATE["Conditions"]["HasAssetKey"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "AssetBucketKmsKeyArn"}, ""]}]}


def test_functions_that_never_read_the_asset_bucket_get_no_key():
    for function in ("JobEventsFunction", "StopFunction"):
        assert "kms:" not in str(_statements(function))


def test_the_key_reaches_the_lambdas_as_the_deployment_setting():
    env = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    assert env["GR00T_ASSET_KMS_KEY_ARN"] == {"Ref": "AssetBucketKmsKeyArn"}


@pytest.mark.parametrize(
    "value,ok",
    [
        ("", True),  # SSE-S3 / aws managed key: nothing to grant
        (KEY_ARN, True),
        ("arn:aws-cn:kms:cn-north-1:123456789012:key/mrk-1234abcd12ab34cd56ef1234567890ab", True),
        ("alias/vams-assets", False),  # IAM cannot grant a key by alias
        ("arn:aws:kms:us-east-1:123456789012:alias/vams-assets", False),
        ("1234abcd-12ab-34cd-56ef-1234567890ab", False),
    ],
)
def test_key_parameter_and_setting_accept_the_same_values(value, ok):
    from launcher.orchestration.settings import SettingsError, load_settings

    assert bool(re.fullmatch(TEMPLATE["Parameters"]["AssetBucketKmsKeyArn"]["AllowedPattern"], value)) is ok
    try:
        load_settings({"GR00T_ASSET_KMS_KEY_ARN": value})
        accepted = True
    except SettingsError:
        accepted = False
    assert accepted is ok


def _evaluate(node, params):
    """CloudFormation's rule functions, as far as the template's Rules use them."""
    if isinstance(node, dict):
        [(name, arg)] = node.items()
        if name == "Ref":
            return params[arg]
        values = [_evaluate(a, params) for a in arg]
        if name == "Fn::Not":
            return not values[0]
        if name == "Fn::And":
            return all(values)
        if name == "Fn::Or":
            return any(values)
        if name == "Fn::Equals":
            return values[0] == values[1]
        if name == "Fn::Contains":
            return values[1] in values[0]
        raise AssertionError(f"the test does not evaluate {name}: extend _evaluate")
    return node


def _refused_rules(**given):
    """Names of the template rules whose assertions fail for these parameter values (defaults elsewhere)."""
    params = {}
    for name, spec in TEMPLATE["Parameters"].items():
        value = given.get(name, spec.get("Default", ""))
        params[name] = value.split(",") if spec["Type"] == "CommaDelimitedList" else value
    refused = set()
    for rule_name, rule in TEMPLATE["Rules"].items():
        if _evaluate(rule.get("RuleCondition", True), params):
            refused |= {rule_name for a in rule["Assertions"] if not _evaluate(a["Assert"], params)}
    return refused


FS = {"FileSystemId": "fs-0123456789abcdef0", "FileSystemType": "FSxLustre", "FileSystemDirectory": "/abcdefgh/models"}
VPC = {"SubnetIds": "subnet-0123456789abcdef0,subnet-0fedcba9876543210", "SecurityGroupIds": "sg-0123456789abcdef0"}


@pytest.mark.parametrize(
    "given,refused",
    [
        ({}, set()),
        (VPC, set()),
        ({**FS, **VPC}, set()),
        ({**FS, **VPC, "FileSystemType": "EFS", "FileSystemDirectory": "/models"}, set()),
        (FS, {"FileSystemNeedsVpc"}),  # the model cache cannot be mounted outside a VPC
        ({**FS, "SubnetIds": VPC["SubnetIds"]}, {"FileSystemNeedsVpc", "SubnetsAndSecurityGroupsTogether"}),
        ({**FS, **VPC, "FileSystemType": ""}, {"FileSystemNeedsVpc"}),
        ({**FS, **VPC, "FileSystemDirectory": ""}, {"FileSystemNeedsVpc"}),
        ({"FileSystemType": "EFS", **VPC}, {"FileSystemSettingsNeedAFileSystem"}),
        ({"SecurityGroupIds": VPC["SecurityGroupIds"]}, {"SubnetsAndSecurityGroupsTogether"}),
    ],
)
def test_deploy_time_rules_refuse_incomplete_network_settings(given, refused):
    assert _refused_rules(**given) == refused


def test_lambdas_never_write_to_s3():
    for function in ("LaunchFunction", "JobEventsFunction", "StopFunction"):
        actions = " ".join(str(s) for s in _statements(function))
        assert "s3:Put" not in actions and "s3:Delete" not in actions


def test_event_rule_matches_terminal_states_of_our_jobs_only():
    pattern = RESOURCES["TrainingJobEndedRule"]["Properties"]["EventPattern"]
    assert pattern["source"] == ["aws.sagemaker"]
    assert pattern["detail-type"] == ["SageMaker Training Job State Change"]
    assert pattern["detail"]["TrainingJobStatus"] == ["Completed", "Failed", "Stopped"]
    assert pattern["detail"]["TrainingJobName"] == [{"prefix": "gr00t-"}]


def test_state_machine_uses_the_asl_file_with_both_functions():
    props = RESOURCES["FinetuneStateMachine"]["Properties"]
    assert (DEPLOY / props["DefinitionUri"]).resolve() == ROOT / "stepfunctions" / "gr00t_finetune.asl.json"
    asl = (ROOT / "stepfunctions" / "gr00t_finetune.asl.json").read_text()
    for name in props["DefinitionSubstitutions"]:
        assert "${" + name + "}" in asl


def test_token_table_has_ttl_on_the_store_attribute():
    props = RESOURCES["TaskTokenTable"]["Properties"]
    assert props["KeySchema"] == [{"AttributeName": "jobName", "KeyType": "HASH"}]
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}


def test_failed_jobs_alarm_and_dashboard_read_the_lambda_metrics():
    from lambda_handler._runtime import NAMESPACE, SERVICE

    alarm = RESOURCES["FailedJobsAlarm"]["Properties"]
    assert (alarm["Namespace"], alarm["MetricName"]) == (NAMESPACE, "JobsFailed")
    assert alarm["Dimensions"] == [{"Name": "service", "Value": SERVICE}]
    body = RESOURCES["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    for metric in ("JobsLaunched", "JobsSucceeded", "JobsFailed", "TrainingDurationSeconds", "BillableSeconds", "train:loss"):
        assert metric in body


def test_codebuild_builds_the_project_dockerfile_with_the_cuda_base():
    project = RESOURCES["ImageBuildProject"]["Properties"]
    assert project["Source"]["BuildSpec"] == "deploy/buildspec.yml"
    assert project["Environment"]["PrivilegedMode"] is True
    variables = {v["Name"]: v["Value"] for v in project["Environment"]["EnvironmentVariables"]}
    assert variables["INSTALL_GR00T"] == "true"
    assert "cuda" in TEMPLATE["Parameters"]["BuildBaseImage"]["Default"]
    spec = yaml.safe_load((DEPLOY / "buildspec.yml").read_text())
    build = " ".join(spec["phases"]["build"]["commands"])
    assert "-f container/Dockerfile" in build and '--build-arg BASE_IMAGE="$BASE_IMAGE"' in build and "INSTALL_GR00T" in build
    assert any("docker push" in c for c in spec["phases"]["post_build"]["commands"])


def test_lambda_package_holds_the_handlers_and_nothing_heavy(tmp_path):
    spec = importlib.util.spec_from_file_location("package_lambda", DEPLOY / "package_lambda.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = module.build(tmp_path / "lambda")
    assert (out / "lambda_handler" / "launch.py").is_file() and (out / "gr00t_core" / "naming.py").is_file()
    assert not list(out.rglob("__pycache__")) and not (out / "tests").exists()
    assert (out / "launcher" / "__init__.py").is_file() and (out / "launcher" / "orchestration" / "service.py").is_file()
    assert not (out / "launcher" / "commands").exists() and not (out / "launcher" / "cli.py").exists()
    assert module.directory_size(out) < 2_000_000


def test_the_pruned_lambda_package_runs_the_handlers_alone_and_stays_under_10_mb(tmp_path):
    """Build the package with its dependencies, then import and invoke both handlers from it in an interpreter
    that sees only the package and what the Lambda runtime provides (boto3 and its dependencies)."""
    import os
    import subprocess
    import sys

    import boto3
    from moto.server import ThreadedMotoServer

    spec = importlib.util.spec_from_file_location("package_lambda", DEPLOY / "package_lambda.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    package = module.build(tmp_path / "lambda", with_deps=True)
    assert module.directory_size(package) < 10_000_000

    runtime = tmp_path / "runtime"  # stands in for the Lambda runtime's own boto3
    runtime.mkdir()
    for name in ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six.py"):
        found = next(Path(p) / name for p in sys.path if (Path(p) / name).exists())
        (runtime / name).symlink_to(found)

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    try:
        endpoint = f"http://127.0.0.1:{server._server.server_port}"
        env = {
            "PATH": os.environ.get("PATH", ""), "AWS_ENDPOINT_URL": endpoint, "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "GR00T_TOKEN_TABLE": "tokens",
            "POWERTOOLS_TRACE_DISABLED": "true", "POWERTOOLS_METRICS_NAMESPACE": "test",
        }
        boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing",
                     aws_secret_access_key="testing").create_table(
            TableName="tokens", KeySchema=[{"AttributeName": "jobName", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "jobName", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST")
        script = f"""
import json, sys
sys.path[:0] = [{str(package)!r}, {str(runtime)!r}]
from lambda_handler import launch, job_events
from gr00t_core.errors import EventError
ctx = type("Ctx", (), dict(function_name="f", memory_limit_in_mb=512, invoked_function_arn="arn:aws:lambda:us-east-1:1:function:f", aws_request_id="r"))()
event = json.load(open({str(Path(__file__).resolve().parents[1] / "events" / "vams_event.json")!r}))
event["body"].pop("TaskToken", None)
try:
    launch.handler(event, ctx)
except EventError as exc:
    print("launch:", "TaskToken" in str(exc))
completed = json.load(open({str(Path(__file__).resolve().parents[1] / "events" / "sagemaker_job_completed.json")!r}))
print("job_events:", job_events.handler(completed, ctx)["action"])
print("heavy:", sorted(m for m in ("torch", "pyarrow", "numpy", "av") if m in sys.modules))
"""
        proc = subprocess.run([sys.executable, "-S", "-c", script], capture_output=True, text=True, env=env, timeout=120)
    finally:
        server.stop()
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "launch: True" in proc.stdout and "job_events: unknown_job" in proc.stdout and "heavy: []" in proc.stdout


def test_a_schedule_rule_sweeps_waiting_jobs_through_the_job_events_handler():
    rule = RESOURCES["JobSweepRule"]["Properties"]
    assert rule["ScheduleExpression"] == {"Ref": "JobSweepSchedule"}
    assert TEMPLATE["Parameters"]["JobSweepSchedule"]["Default"] == "rate(5 minutes)"
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["JobEventsFunction", "Arn"]}
    permission = RESOURCES["JobSweepPermission"]["Properties"]
    assert (permission["FunctionName"], permission["SourceArn"]) == ({"Ref": "JobEventsFunction"}, {"Fn::GetAtt": ["JobSweepRule", "Arn"]})
    tokens = next(s for s in _statements("JobEventsFunction") if s["Sid"] == "TaskTokens")
    assert "dynamodb:Scan" in tokens["Action"] and tokens["Resource"] == {"Fn::GetAtt": ["TaskTokenTable", "Arn"]}
    callbacks = next(s for s in _statements("JobEventsFunction") if s["Sid"] == "Callbacks")
    assert "states:SendTaskHeartbeat" in callbacks["Action"]
    jobs = next(s for s in _statements("JobEventsFunction") if s["Sid"] == "Jobs")
    assert {"sagemaker:DescribeTrainingJob", "sagemaker:StopTrainingJob"} <= set(jobs["Action"])


def test_dashboard_shows_the_sweep_metrics():
    import inspect

    from lambda_handler import _runtime

    body = RESOURCES["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    source = inspect.getsource(_runtime.record_sweep)
    for metric in ("OrphanJobsStopped", "LostJobEventsRecovered", "SweepErrors"):
        assert metric in body and f'"{metric}"' in source
