"""Entry wiring without training: failure file contents, run identity checks, SIGTERM before the trainer."""

import json

import pytest

from sagemaker_entry.contract import read_training_env
from sagemaker_entry.main import Entry, StopRequested, main
from tests.sagemaker_entry.jobs import make_job


def _job(tmp_path, **kw):
    ds = tmp_path / "ds"
    (ds / "meta").mkdir(parents=True)
    (ds / "meta" / "info.json").write_text("{}")
    return make_job(tmp_path, ds, endpoint="http://127.0.0.1:9", **kw)


def test_missing_run_identity_is_a_user_error(tmp_path, capsys):
    job = _job(tmp_path)
    path = job.base / "input" / "config" / "hyperparameters.json"
    hps = json.loads(path.read_text())
    del hps["outputFolderName"]
    path.write_text(json.dumps(hps))
    assert main([], environ=job.env) == 2
    reason = job.failure.read_text()
    assert reason.startswith("setup (reading the job's configuration): Invalid training configuration (1 problem(s)):")
    assert "hyperparameter outputFolderName is missing" in reason and "gr00t-sm launch" in reason
    assert "Traceback" not in capsys.readouterr().err


def test_dataset_channel_without_a_dataset(tmp_path):
    job = _job(tmp_path)
    (job.channel.resolve() / "meta" / "info.json").unlink()
    assert main([], environ=job.env) == 2
    assert "no LeRobot dataset in the 'dataset' channel" in job.failure.read_text()


@pytest.mark.parametrize("phase", ["setup", "dataset", "model"])
def test_sigterm_before_the_trainer_stops_the_phase_at_once(tmp_path, phase):
    entry = Entry(read_training_env(_job(tmp_path).env))
    entry.phase = phase
    with pytest.raises(StopRequested):
        entry.request_stop()
    assert entry.stop.is_set()


def test_sigterm_during_training_is_forwarded_not_raised(tmp_path):
    class Trainer:
        terminated = False

        def terminate(self):
            self.terminated = True

    entry = Entry(read_training_env(_job(tmp_path).env))
    entry.phase, entry.trainer = "training", Trainer()
    entry.request_stop()
    entry.request_stop()  # a second SIGTERM changes nothing
    assert entry.trainer.terminated and entry.stop_at is not None
