"""The dataset working copy: meta/ copied, everything else linked, the channel never written."""

import errno
import json
import os

import pytest

from gr00t_core.errors import AssetError, ConfigError
from sagemaker_entry import dataset
from sagemaker_entry.dataset import locate_dataset, make_working_copy, read_config_file


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


def test_config_file_in_the_channel(tmp_path):
    assert read_config_file(tmp_path) is None
    (tmp_path / "gr00t_config.json").write_text(json.dumps({"maxSteps": 7}))
    assert read_config_file(tmp_path) == {"maxSteps": 7}
    (tmp_path / "gr00t_config.json").write_text("{bad")
    with pytest.raises(ConfigError, match="gr00t_config.json is not valid JSON"):
        read_config_file(tmp_path)
