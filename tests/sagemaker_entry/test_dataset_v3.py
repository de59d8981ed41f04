"""The container's dataset phase converts a LeRobot v3.0 channel into a prepared v2.1 working copy."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from gr00t_data.synthetic_v3 import generate_v3_dataset
from gr00t_data.video import read_frames
from sagemaker_entry.dataset import prepare
from tests.gr00t_data.test_convert import tree_digest


def test_a_v3_channel_becomes_a_prepared_v21_working_copy(tmp_path: Path) -> None:
    channel = generate_v3_dataset(tmp_path / "channel", keep_v21=tmp_path / "v21", episode_lengths=[12, 15, 9],
                                  width=32, height=24, episodes_per_data_file=2, episodes_per_video_file=2)
    before = tree_digest(channel)
    os.chmod(channel / "meta", 0o555)  # a read-only channel (FSx mounted ro, FastFile) must be enough
    try:
        copy, report = prepare(channel, tmp_path / "work/dataset", "so100_dualcam")
    finally:
        os.chmod(channel / "meta", 0o755)
    assert tree_digest(channel) == before
    work = copy.path
    assert json.loads((work / "meta/info.json").read_text())["codebase_version"] == "v2.1"
    assert {"meta/modality.json"} <= set(report.prepared) and (work / "meta/stats.json").is_file()
    assert report.summary["version"] == "v3.0" and "3 episodes" in report.summary["conversion"]
    assert not any(p.is_symlink() for p in work.rglob("*"))  # new files: nothing links back into the channel
    for ep in range(3):
        rel = f"data/chunk-000/episode_{ep:06d}.parquet"
        assert pq.read_table(work / rel).equals(pq.read_table(tmp_path / "v21" / rel))
        video = f"videos/chunk-000/observation.images.front/episode_{ep:06d}.mp4"
        np.testing.assert_array_equal(read_frames(work / video), read_frames(tmp_path / "v21" / video))
    # A retried attempt on the same instance starts from a clean folder.
    again, _ = prepare(channel, tmp_path / "work/dataset", "so100_dualcam")
    assert again.path == work and (work / "meta/stats.json").is_file()
