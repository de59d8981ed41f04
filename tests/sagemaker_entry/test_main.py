"""Entry wiring without training: failure file contents, run identity checks, SIGTERM before the trainer."""

import json

import pytest

from sagemaker_entry.contract import read_training_env
from sagemaker_entry.main import Entry, StopRequested, main
from tests.entry_jobs import make_job


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


def test_the_launched_hyperparameters_are_the_configuration_not_a_file_in_the_channel(tmp_path):
    job = _job(tmp_path, parameters={"maxSteps": 4, "learningRate": 0.0005})
    (job.channel / "gr00t_config.json").write_text(json.dumps({"maxSteps": 9000, "learningRate": 0.0005}))
    plan = Entry(read_training_env(job.env)).plan(dry_run=True)
    assert plan.config["maxSteps"] == 4 and plan.config["learningRate"] == 0.0005
    # provenance is the launch's (gr00tProvenance), not "hyperparameters"
    assert plan.config.provenance["maxSteps"].value == "run" and plan.config.provenance["seed"].value == "default"
    [warning] = [w for w in plan.config.warnings if "gr00t_config.json" in w]
    assert "maxSteps = 9000 (job: 4)" in warning and "learningRate" not in warning


def test_hyperparameters_without_provenance_are_their_own_tier(tmp_path):
    """A job made by hand (or a local experiment's SM_HPS) without gr00tProvenance: what it sets is reported as
    coming from the hyperparameters, everything else from the defaults."""
    job = _job(tmp_path)
    hps = {k: v for k, v in job.hyperparameters.items() if k != "gr00tProvenance"}
    env = dict(job.env, SM_HPS=json.dumps(hps))
    config = Entry(read_training_env(env)).plan(dry_run=True).config
    assert config.provenance["maxSteps"].value == "hyperparameters" and config["maxSteps"] == 4
    assert config.provenance["loraAlpha"].value == "hyperparameters"  # the launcher writes every value
    assert not [w for w in config.warnings if "gr00t_config.json" in w]
