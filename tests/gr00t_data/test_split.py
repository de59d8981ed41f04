"""A copy restricted to some episodes: meta/episodes.jsonl, info.json and stats.json describe exactly those."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from gr00t_core.errors import DatasetError
from gr00t_data.split import EPISODES_STATS, listed_episodes, restrict_episodes, write_stats
from gr00t_data.stats import compute_stats, load_numeric
from gr00t_data.synthetic import generate_dataset

LENGTHS = [10, 12, 14, 16]  # distinct, so total_frames tells which episodes are listed


@pytest.fixture(scope="module")
def _pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate_dataset(tmp_path_factory.mktemp("split") / "dataset", episode_lengths=LENGTHS, width=32, height=24,
                            write_modality=True, write_stats=True)


@pytest.fixture
def dataset(tmp_path: Path, _pristine: Path) -> Path:
    return Path(shutil.copytree(_pristine, tmp_path / "dataset"))


@pytest.mark.parametrize(("positions", "indices", "split"), [
    ([0, 1, 2], [0, 1, 2], "0:3"),  # the last one held out (N1.6/N1.7, the builtin engine)
    ([1, 2, 3], [1, 2, 3], "1:4"),  # the first one held out (N1.5)
    ([3], [3], "3:4"),  # a held-out copy
    ([2, 3], [2, 3], "2:4"),
])
def test_the_meta_files_list_only_the_kept_episodes(dataset, positions, indices, split):
    assert restrict_episodes(dataset, positions) == indices
    info = json.loads((dataset / "meta/info.json").read_text())
    assert [e["episode_index"] for e in listed_episodes(dataset)] == indices
    assert info["total_episodes"] == len(indices)
    assert info["total_frames"] == sum(LENGTHS[i] for i in indices)
    assert info["total_videos"] == 2 * len(indices)  # two cameras
    assert info["splits"] == {"train": split}
    per_episode = [json.loads(line)["episode_index"] for line in (dataset / EPISODES_STATS).read_text().splitlines()]
    assert per_episode == indices


def test_stats_cover_the_listed_episodes_only(dataset, tmp_path):
    everything = compute_stats(dataset)
    restrict_episodes(dataset, [0, 1, 2])
    other = tmp_path / "other" / "meta"
    other.mkdir(parents=True)
    write_stats(dataset, other.parent)
    stats = json.loads((dataset / "meta/stats.json").read_text())
    assert (other / "stats.json").read_text() == (dataset / "meta/stats.json").read_text()
    files = [dataset / f"data/chunk-000/episode_{i:06d}.parquet" for i in (0, 1, 2)]
    action = load_numeric(files).columns["action"]
    assert stats["action"]["mean"] == pytest.approx(action.mean(axis=0).tolist(), rel=1e-5)
    assert stats["action"]["max"] == pytest.approx(action.max(axis=0).tolist())
    assert not np.allclose(stats["action"]["mean"], everything["action"]["mean"])  # episode 3 is not in them


def test_a_copy_without_episodes_is_refused(dataset):
    with pytest.raises(DatasetError, match="no episode left"):
        restrict_episodes(dataset, [])
