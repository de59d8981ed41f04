"""``gr00t-sm launch``: start one SageMaker training job for a VAMS event file or an asset S3 URI.

    gr00t-sm launch --vams-event event.json [--settings settings.json] [--dry-run]
    gr00t-sm launch s3://bucket/asset-prefix/ [--param maxSteps=2000 ...] [--run-id ID] [--dry-run]
                    [--state-machine ARN]

``--dry-run`` prints the CreateTrainingJob request as JSON and sends nothing; it works without deployment
settings (missing values are marked ``<PLACEHOLDER: set GR00T_...>``) and without AWS credentials (then it
cannot read gr00t_config.json or check the dataset, and says so).
"""

from __future__ import annotations

import argparse
import getpass
import json
import re
import sys
from datetime import UTC, datetime
from typing import Any

from gr00t_aws.clients import AwsClients
from gr00t_core.errors import EventError, SettingsError
from launcher.orchestration.settings import DeploymentSettings, load_settings
from launcher.orchestration.vams import build_body, parse_vams_event, split_s3_uri

STANDALONE_PIPELINE = "gr00t-standalone"
TIMEOUT_MARGIN_SECONDS = 3600  # instance start-up, dataset download and model fetch before MaxRuntime counts


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "launch",
        help="start a SageMaker training job for a VAMS event or an asset in S3",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("asset_uri", nargs="?", help="s3://bucket/prefix/ of the asset (standalone run)")
    p.add_argument("--vams-event", metavar="FILE", help="a VAMS pipeline event (JSON) to launch for")
    p.add_argument("--settings", metavar="FILE", help="deployment settings JSON (GR00T_* keys); wins over the environment")
    p.add_argument("--dry-run", action="store_true", help="print the CreateTrainingJob request and send nothing")
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE", help="per-run parameter (repeatable)")
    p.add_argument("--run-id", help="names the run (default: a UTC timestamp); the same id gives the same job name")
    p.add_argument("--asset-id", help="asset id for tags and the job name (default: the prefix's last folder)")
    p.add_argument("--database-id", default="standalone", help="VAMS database id for tags (default: standalone)")
    p.add_argument("--attempt", type=int, default=1, help="rerun a finished run under a new job name (2, 3, ...)")
    p.add_argument("--state-machine", metavar="ARN", help="start this project's state machine instead of the job itself")
    p.add_argument("--timeout-seconds", type=int, help="state machine task timeout (default: maxRuntimeSeconds + 1 h)")
    p.set_defaults(func=run)


def parse_params(pairs: list[str]) -> dict[str, str]:
    params: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise EventError(f"--param {pair!r} must look like KEY=VALUE, e.g. --param maxSteps=2000")
        params[key.strip()] = value
    return params


def standalone_event(
    asset_uri: str,
    *,
    settings: DeploymentSettings,
    run_id: str,
    params: dict[str, str],
    asset_id: str | None = None,
    database_id: str = "standalone",
    attempt: int = 1,
    user: str = "",
) -> dict[str, Any]:
    """A VAMS-shaped event for an asset outside VAMS; outputs follow VAMS's pipelines/.../files/ layout."""
    bucket, key = split_s3_uri(asset_uri if asset_uri.endswith("/") else asset_uri + "/", what="the asset URI")
    asset = asset_id or key.rstrip("/").rsplit("/", 1)[-1] or bucket
    base = settings.output_prefix or f"s3://{bucket}/pipelines/"
    base = base if base.endswith("/") else base + "/"
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", asset)
    run_root = f"{base}{STANDALONE_PIPELINE}/{slug}/output/{run_id}/"
    body = build_body(bucket=bucket, asset_key=key, asset_id=asset, database_id=database_id, output_root=run_root,
                      user=user, gr00tRunParameters=params)
    return {"body": body, "attempt": attempt}


def _load_event(args: argparse.Namespace, settings: DeploymentSettings) -> dict[str, Any]:
    if bool(args.vams_event) == bool(args.asset_uri):
        raise EventError("give either --vams-event FILE or an asset URI (s3://bucket/prefix/), not both and not neither")
    if args.asset_uri:
        run_id = args.run_id or datetime.now(UTC).strftime("run-%Y%m%dT%H%M%S")
        return standalone_event(
            args.asset_uri,
            settings=settings,
            run_id=run_id,
            params=parse_params(args.param),
            asset_id=args.asset_id,
            database_id=args.database_id,
            attempt=args.attempt,
            user=getpass.getuser(),
        )
    try:
        with open(args.vams_event, encoding="utf-8") as fh:
            event = json.load(fh)
    except FileNotFoundError:
        raise EventError(f"--vams-event {args.vams_event!r} does not exist") from None
    except json.JSONDecodeError as exc:
        raise EventError(f"--vams-event {args.vams_event!r} is not valid JSON (line {exc.lineno}: {exc.msg})") from None
    if args.param and isinstance(event, dict):
        body = event.get("body")
        body = json.loads(body) if isinstance(body, str) else body
        if isinstance(body, dict):
            body["gr00tRunParameters"] = parse_params(args.param)
            event["body"] = body
    return event


def task_timeout_seconds(config_values: dict[str, Any]) -> int:
    """How long the state machine waits: the job's runtime (and spot wait), plus start-up margin."""
    runtime = config_values["maxRuntimeSeconds"]
    if config_values["useSpot"]:
        runtime = config_values["maxWaitSeconds"] or 2 * runtime
    return runtime + TIMEOUT_MARGIN_SECONDS


def _plan(event: Any, settings: DeploymentSettings, clients: AwsClients, *, dry_run: bool) -> Any:
    from botocore.exceptions import EndpointConnectionError, NoCredentialsError, NoRegionError

    from launcher.orchestration.service import plan_run

    parsed = parse_vams_event(event)
    now = datetime.now(UTC)
    try:
        return plan_run(parsed, settings, clients.s3, now=now)
    except (NoCredentialsError, NoRegionError, EndpointConnectionError) as exc:
        if not dry_run:
            raise SettingsError(f"cannot reach AWS ({exc}); configure credentials and a region (aws configure)") from None
        print(
            f"gr00t-sm launch: warning: could not read the asset from S3 ({exc}); gr00t_config.json and the dataset "
            "were NOT checked, the request below uses asset metadata, parameters and defaults only",
            file=sys.stderr,
        )
        return plan_run(parsed, settings, clients.s3, now=now, read_files=False)


def run(args: argparse.Namespace, clients: AwsClients | None = None) -> int:
    clients = clients or AwsClients()
    settings = load_settings(settings_file=args.settings)
    event = _load_event(args, settings)
    if args.dry_run:
        missing = settings.missing_for_launch()
        if missing:
            settings = settings.with_placeholders()
            print(f"gr00t-sm launch: note: placeholders stand in for {', '.join(missing)}", file=sys.stderr)
    plan = _plan(event, settings, clients, dry_run=args.dry_run)
    for warning in plan.warnings:
        print(f"gr00t-sm launch: warning: {warning}", file=sys.stderr)
    if args.dry_run:
        print(json.dumps(plan.request(settings), indent=2))
        return 0
    if args.state_machine:
        return _start_state_machine(args, plan, clients)
    from launcher.orchestration.service import launch_plan

    result = launch_plan(plan, settings, clients.sagemaker)
    print(
        json.dumps(
            {
                "trainingJobName": result.job_name,
                "trainingJobArn": result.job_arn,
                "adopted": result.adopted,
                "instanceType": result.instance_type,
                "refusedInstanceTypes": [{"instanceType": t, "reason": why} for t, why in result.refused],
                "outputFolderUri": plan.run.identity.output_prefix_uri,
            },
            indent=2,
        )
    )
    return 0


def _start_state_machine(args: argparse.Namespace, plan: Any, clients: AwsClients) -> int:
    timeout = args.timeout_seconds or task_timeout_seconds(plan.config.values)
    body = plan.event.body.model_dump(exclude_none=True)
    execution_input = {"body": body, "timeoutSeconds": timeout, "attempt": plan.origin.attempt}
    name = re.sub(r"[^A-Za-z0-9_-]", "-", f"{plan.run.job_name}")[:80]
    response = clients.stepfunctions.start_execution(stateMachineArn=args.state_machine, name=name, input=json.dumps(execution_input))
    print(json.dumps({"executionArn": response["executionArn"], "trainingJobName": plan.run.job_name, "timeoutSeconds": timeout}, indent=2))
    return 0


__all__ = ["register", "run", "standalone_event", "task_timeout_seconds"]
