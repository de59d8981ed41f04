"""The Lambda code path stays light: no torch, transformers, pyarrow, av or numpy, even after a real invocation."""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "transformers", "pyarrow", "av", "numpy")

SCRIPT = textwrap.dedent(
    """
    import json, sys
    import lambda_handler.launch, lambda_handler.job_events, lambda_handler.stop
    from tests.aws_env import aws_world, dataset_meta, lambda_runtime, waiting_task, FakeLambdaContext, load_event, finish_job
    with aws_world() as world:
        world.put_asset(dataset_meta(), config={"maxSteps": 10})
        with lambda_runtime(world):
            token, _ = waiting_task(world)
            event = load_event("vams_event.json")
            event["body"]["TaskToken"] = token
            outcome = lambda_handler.launch.handler(event, FakeLambdaContext())
            finish_job(outcome["trainingJobName"])  # the handler takes the status from DescribeTrainingJob
            done = lambda_handler.job_events.handler(load_event("sagemaker_job_completed.json"), FakeLambdaContext())
    heavy = sorted(m for m in sys.modules if m.split(".")[0] in HEAVY)
    print(json.dumps({"status": outcome["status"], "events": done["action"], "heavy": heavy}))
    """
)


def test_handlers_import_and_run_without_heavy_packages():
    code = f"HEAVY = {HEAVY!r}\n" + SCRIPT
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["status"] == "LAUNCHED" and report["events"] == "callback_sent"
    assert report["heavy"] == []
