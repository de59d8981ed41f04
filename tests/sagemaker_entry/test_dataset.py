"""The dataset working copy: meta/ copied, everything else linked, the channel never written."""

import errno
import json
import os

import pytest

from gr00t_core.errors import AssetError
from gr00t_core.resolution import PROVENANCE_HYPERPARAMETER, Tier, resolve
from sagemaker_entry import dataset
from sagemaker_entry.dataset import ignored_config_file, locate_dataset, make_working_copy


def _channel(root):
    (root / "meta").mkdir(parents=True)
    (root / "meta" / "info.json").write_text('{"fps": 30}')
    (root / "data" / "chunk-000").mkdir(parents=True)
    (root / "data" / "chunk-000" / "episode_000000.parquet").write_bytes(b"PAR1" * 100)
    (root / "videos" / "chunk-000" / "observation.images.front").mkdir(parents=True)
    (root / "videos" / "chunk-000" / "observation.images.front" / "episode_000000.mp4").write_bytes(b"\0" * 300)
    return root


def test_meta_is_copied_and_data_hard_linked_on_one_file_system(tmp_path):
    src = _channel(tmp_path / "channel")
    copy = make_working_copy(src, tmp_path / "work" / "dataset")
    parquet = "data/chunk-000/episode_000000.parquet"
    assert copy.hardlinks and copy.linked_files == 2 and copy.copied_files == 1
    assert os.path.samefile(src / parquet, copy.path / parquet)
    assert not os.path.samefile(src / "meta" / "info.json", copy.path / "meta" / "info.json")
    (copy.path / "meta" / "stats.json").write_text("{}")  # what preparation writes
    assert not (src / "meta" / "stats.json").exists()


def test_symlinks_when_the_channel_is_on_another_file_system(tmp_path, monkeypatch):
    src = _channel(tmp_path / "channel")

    def cross_device(a, b):
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(dataset.os, "link", cross_device)
    copy = make_working_copy(src, tmp_path / "work")
    mp4 = copy.path / "videos/chunk-000/observation.images.front/episode_000000.mp4"
    assert not copy.hardlinks and mp4.is_symlink() and mp4.read_bytes() == b"\0" * 300


def test_an_earlier_working_copy_is_replaced(tmp_path):
    src = _channel(tmp_path / "channel")
    dest = tmp_path / "work"
    (dest / "meta").mkdir(parents=True)
    (dest / "meta" / "stale.json").write_text("{}")
    make_working_copy(src, dest)
    assert not (dest / "meta" / "stale.json").exists()


def test_locate_channel_or_dataset_path_inside_it(tmp_path):
    assert locate_dataset(_channel(tmp_path / "a"), "dataset") == tmp_path / "a"
    assert locate_dataset(tmp_path, "a") == tmp_path / "a"
    with pytest.raises(AssetError, match="no LeRobot dataset in the 'dataset' channel"):
        locate_dataset(tmp_path, "elsewhere")
    with pytest.raises(AssetError, match="does not exist"):
        locate_dataset(tmp_path / "missing", "dataset")


# The job's hyperparameters as the launcher writes them: maxSteps came from the asset's gr00t_config.json.
LAUNCHED = {"maxSteps": "7", "engine": "builtin", "dataConfig": "so100_dualcam",
            PROVENANCE_HYPERPARAMETER: '{"maxSteps":"file"}'}


@pytest.mark.parametrize(
    "content,expected",
    [
        (None, None),  # no file: nothing to say
        (json.dumps({"maxSteps": 7, "engine": "builtin"}), None),  # the same values as the job: nothing to say
        (json.dumps({"maxSteps": "7"}), None),  # "7" and 7 are the same value once coerced
        (json.dumps({"maxSteps": 9000, "dataConfig": "so100"}),
         ["is ignored", "dataConfig = so100 (job: so100_dualcam)", "maxSteps = 9000 (job: 7)", "launch again"]),
        ("\ufeff" + json.dumps({"maxSteps": 9000}), ["maxSteps = 9000 (job: 7)"]),  # UTF-8 BOM (Windows editors)
        ("{bad", ["is ignored", "cannot be used anyway", "not valid JSON (line 1"]),
        (json.dumps({"maxSteps": -3}), ["is ignored", "cannot be used anyway", "maxSteps = -3"]),
    ],
)
def test_a_config_file_in_the_channel_changes_nothing_and_differences_are_named(tmp_path, content, expected):
    config = resolve(hyperparameters=LAUNCHED)
    before = (dict(config.values), dict(config.provenance))
    if content is not None:
        (tmp_path / "gr00t_config.json").write_text(content, encoding="utf-8")
    warning = ignored_config_file(tmp_path, config, LAUNCHED)
    if expected is None:
        assert warning is None
    else:
        assert warning.startswith(f"{tmp_path / 'gr00t_config.json'} is ignored: the training job's hyperparameters")
        for part in expected:
            assert part in warning, (part, warning)
    assert (dict(config.values), dict(config.provenance)) == before
    assert config["maxSteps"] == 7 and config.provenance["maxSteps"] is Tier.FILE
