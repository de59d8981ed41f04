"""Copying a trainer's TensorBoard events into the TensorBoard folder as they grow (GR00T N1.5 writes them under
``<output_dir>/runs/``), read back with TensorBoard's own reader."""

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch.utils.tensorboard import SummaryWriter

from sagemaker_entry.contract import read_training_env
from sagemaker_entry.finish import start_event_mirror
from sagemaker_entry.main import Entry
from sagemaker_entry.tensorboard import EventMirror
from tests.entry_jobs import make_job


def _losses(folder):
    events = EventAccumulator(str(folder))
    events.Reload()
    return [(e.step, e.value) for e in events.Scalars("train/loss")] if "train/loss" in events.Tags()["scalars"] else []


def test_each_pass_copies_what_the_trainer_appended_and_a_resumed_run_joins_the_same_run(tmp_path):
    runs, dest = tmp_path / "checkpoints" / "runs", tmp_path / "tensorboard"
    mirror = EventMirror(runs, dest)
    assert mirror.sync() == 0 and not dest.exists()  # the trainer has not started logging yet

    writer = SummaryWriter(log_dir=str(runs / "Jan01_00-00-00_algo-1"))  # as transformers 4.x names the folder
    writer.add_scalar("train/loss", 1.0, 10)
    writer.flush()
    assert mirror.sync() > 0
    [copy] = dest.iterdir()  # flat: the run folder's name is not kept
    first = copy.read_bytes()
    writer.add_scalar("train/loss", 0.5, 20)
    writer.flush()
    assert mirror.sync() > 0 and copy.read_bytes().startswith(first)  # appended, nothing rewritten
    assert mirror.sync() == 0  # nothing new
    writer.close()

    # after a spot restart the trainer writes a new runs/ folder; Studio still shows one run
    resumed = SummaryWriter(log_dir=str(runs / "Jan01_01-00-00_algo-1"))
    resumed.add_scalar("train/loss", 0.25, 30)
    resumed.close()
    (runs / "Jan01_01-00-00_algo-1" / "notes.txt").write_text("not an event file")
    mirror.sync()
    assert _losses(dest) == [(10, 1.0), (20, 0.5), (30, 0.25)]
    assert sorted(p.name.startswith("events.out.tfevents.") for p in dest.iterdir()) == [True, True]


def test_a_file_that_shrank_is_copied_again_whole(tmp_path):
    runs, dest = tmp_path / "runs", tmp_path / "tensorboard"
    (runs / "r").mkdir(parents=True)
    event = runs / "r" / "events.out.tfevents.1.algo-1.7.0"
    event.write_bytes(b"a" * 100)
    mirror = EventMirror(runs, dest)
    assert mirror.sync() == 100
    event.write_bytes(b"b" * 40)  # another file under the same name (a restarted job restored an older one)
    assert mirror.sync() == 40 and (dest / event.name).read_bytes() == b"b" * 40


def test_stop_copies_the_last_records_after_the_polling_thread_ends(tmp_path):
    runs, dest = tmp_path / "runs", tmp_path / "tensorboard"
    mirror = EventMirror(runs, dest, poll_seconds=3600)  # the thread never gets to a pass of its own
    mirror.start()
    with SummaryWriter(log_dir=str(runs / "r")) as writer:
        writer.add_scalar("train/loss", 2.0, 1)
    mirror.stop()
    assert _losses(dest) == [(1, 2.0)]


def _bare_dataset(root):
    (root / "meta").mkdir(parents=True)
    (root / "meta" / "info.json").write_text("{}")
    return root


@pytest.mark.parametrize(
    "parameters,copies",
    [
        ({"engine": "isaac-gr00t", "baseModelPath": "nvidia/GR00T-N1.5-3B"}, True),
        ({"engine": "isaac-gr00t", "baseModelPath": "nvidia/GR00T-N1.6-3B"}, False),
        ({"engine": "builtin"}, False),
    ],
)
def test_the_entry_copies_n15_events_from_the_checkpoint_folder_into_the_tensorboard_folder(tmp_path, parameters, copies):
    job = make_job(tmp_path, _bare_dataset(tmp_path / "ds"), endpoint="http://127.0.0.1:9",
                   parameters={"instanceType": "ml.g6e.4xlarge", **parameters})
    entry = Entry(read_training_env(job.env))
    mirror = start_event_mirror(entry.env, entry.plan(dry_run=True))
    if not copies:
        assert mirror is None
        return
    mirror.stop()
    assert (mirror.source, mirror.dest) == (job.checkpoints / "runs", job.base / "output" / "tensorboard")
