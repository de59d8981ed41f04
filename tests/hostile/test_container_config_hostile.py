"""Generated input for the container's configuration phase: ``python -m sagemaker_entry`` (in-process through
sagemaker_entry.main.main) reading its SageMaker contract and resolving the hyperparameters.

One real job is laid out per test the way tests/entry_jobs.py lays it out for the end-to-end runs (the
launcher's resolved hyperparameters, run identity and provenance; resourceconfig.json; inputdataconfig.json; the
SM_* variables SageMaker's toolkit sets); every case changes one member of one of them. Property, for every case:

- ``--print-command`` (the configuration phase with no side effects) ends in exactly one documented outcome: exit 0
  and the plan's trainer command as JSON, or exit 2 and one line naming the mutated field or file;
- a refused case, run as the job runs (``train``), exits 2 in setup with that same line in /opt/ml/output/failure;
- never a traceback, never exit 1 ("unexpected error").

Accepted cases are not trained (the plan is what this phase produces; training is the end-to-end tests' job).
"""

from __future__ import annotations

import io
import json
import shutil
import signal
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gr00t_core.resolution import PROVENANCE_HYPERPARAMETER
from tests.entry_jobs import Job, make_job
from tests.hostile.conftest import CASES, FIGURES, counted
from tests.hostile.mutate import Mutation, mutated
from tests.hostile.oracles import names_field

FIGURE = "container configuration"
CONFIG_FILES = ("hyperparameters.json", "resourceconfig.json", "inputdataconfig.json")
ENV = "environment"
JSON_MEMBERS = (PROVENANCE_HYPERPARAMETER,)  # JSON text inside a hyperparameter: mutated inside as well as whole
# SM_* variables as SageMaker's training toolkit sets them for a one-host job (sagemaker-training-toolkit,
# src/sagemaker_training/environment.py), read by sagemaker_entry/contract.py before the /opt/ml files.
TOOLKIT_ENV = {
    "SM_HOSTS": '["algo-1"]', "SM_CURRENT_HOST": "algo-1", "SM_NUM_CPUS": "2", "SM_CHANNELS": '["dataset"]',
    "SM_NETWORK_INTERFACE_NAME": "lo", "SM_CURRENT_INSTANCE_TYPE": "local_cpu",
}


@pytest.fixture(scope="module")
def job(tmp_path_factory: pytest.TempPathFactory) -> Job:
    from gr00t_data.synthetic import generate_dataset

    root = tmp_path_factory.mktemp("job")
    generate_dataset(root / "dataset", episodes=1, frames_per_episode=4, width=16, height=16)
    # The endpoint answers nothing: the configuration phase must not need AWS.
    return make_job(root, root / "dataset", endpoint="http://127.0.0.1:9", extra_env=TOOLKIT_ENV)


def _documents(job: Job) -> dict[str, Any]:
    config_dir = job.base / "input" / "config"
    docs: dict[str, Any] = {name: json.loads((config_dir / name).read_text()) for name in CONFIG_FILES}
    docs[ENV] = {k: v for k, v in job.env.items() if k.startswith(("SM_", "TRAINING_JOB", "GR00T_SM_NPROC"))}
    return docs


def _env_text(value: Any) -> str:
    """An environment variable is text without NUL (execve cannot carry one)."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False) if _dumpable(value) else str(value)
    return text.replace("\x00", "")


def _dumpable(value: Any) -> bool:
    try:
        json.dumps(value)
    except (ValueError, RecursionError):
        return False
    return True


def _main(args: list[str], environ: dict[str, str]) -> tuple[int, str, str]:
    from sagemaker_entry.main import main

    out, err = io.StringIO(), io.StringIO()
    handler = signal.getsignal(signal.SIGTERM)  # train mode installs the entry's own; put pytest's back
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = main(args, environ=environ)
        except SystemExit as exc:
            code = int(exc.code or 0)
        finally:
            signal.signal(signal.SIGTERM, handler)
    return code, out.getvalue(), err.getvalue()


def test_mutated_container_configuration(job: Job, tmp_path: Path) -> None:
    documents = _documents(job)
    seen: dict[str, int] = {}

    @given(st.sampled_from(sorted(documents)).flatmap(lambda name: st.tuples(st.just(name), mutated(documents[name], json_members=JSON_MEMBERS))))
    def case(drawn: tuple[str, tuple[dict[str, Any], Mutation]]) -> None:
        name, (doc, mutation) = drawn
        base = tmp_path / "opt_ml"
        shutil.rmtree(base, ignore_errors=True)
        shutil.copytree(job.base, base, symlinks=True)
        environ = {**{k: v for k, v in job.env.items() if k not in documents[ENV]}, "SAGEMAKER_BASE_DIR": str(base)}
        if name == ENV:
            environ.update({str(k).replace("\x00", ""): _env_text(v) for k, v in doc.items()})
        else:
            environ.update(documents[ENV])
            try:
                text = json.dumps(doc, ensure_ascii=False)
            except (ValueError, RecursionError):
                text = "[" * 3000
            (base / "input" / "config" / name).write_bytes(text.encode("utf-8", "surrogatepass"))
        with counted(FIGURE):
            code, out, err = _main(["--print-command"], environ)
            assert code in (0, 2), f"{mutation} in {name}: exit {code}\n{err[-3000:]}"
            assert "Traceback" not in err, err[-3000:]
            if code == 0:
                assert json.loads(out)["argv"], out[:500]
            else:
                line = err.strip().splitlines()[-1]
                assert name in line or names_field(line, mutation.path), (mutation, line)
                code, _, err = _main(["train"], environ)
                assert code == 2 and "Traceback" not in err, f"{mutation} in {name}: train exit {code}\n{err[-3000:]}"
                written = (base / "output" / "failure").read_text(encoding="utf-8", errors="surrogateescape")
                assert written.endswith("\n") and "\n" not in written[:-1], written
                assert written.startswith("setup") and (name in written or names_field(written, mutation.path)), written
            seen[str(code)] = seen.get(str(code), 0) + 1
            FIGURES[FIGURE]["cases"] += 1
            FIGURES[FIGURE][f"exit {code}"] += 1

    case()
    assert sum(seen.values()) >= CASES, seen
