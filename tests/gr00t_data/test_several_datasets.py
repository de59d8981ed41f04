"""datasetPath naming several folders of the asset: each is checked and prepared, problems name their dataset."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from gr00t_core.parameters import coerce, dataset_paths, lookup
from gr00t_data.preflight import run_preflight
from gr00t_data.synthetic import generate_dataset
from tests.gr00t_data.test_convert import tree_digest

TINY = {"episodes": 2, "frames_per_episode": 12, "width": 32, "height": 24}


@pytest.fixture(scope="module")
def _pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    asset = tmp_path_factory.mktemp("several") / "asset"
    generate_dataset(asset / "recordings/monday", seed=1, **TINY)
    generate_dataset(asset / "recordings/tuesday", seed=2, episode_lengths=[10, 14, 9], width=32, height=24)
    return asset


@pytest.fixture
def asset(tmp_path: Path, _pristine: Path) -> Path:
    return Path(shutil.copytree(_pristine, tmp_path / "asset"))


@pytest.mark.parametrize("raw", ['["recordings/monday", "recordings/tuesday"]', "recordings/monday, recordings/tuesday/",
                                 ["recordings/monday", "recordings/tuesday"]])
def test_a_json_list_or_comma_separated_text_names_several_folders(raw: object) -> None:
    value = coerce(lookup("datasetPath"), raw)
    assert value == "recordings/monday,recordings/tuesday" or value == "recordings/monday,recordings/tuesday/"
    assert dataset_paths(value) == ["recordings/monday", "recordings/tuesday"]


def test_each_dataset_is_checked_and_prepared(asset: Path) -> None:
    (asset / "gr00t_config.json").write_text(json.dumps({"datasetPath": ["recordings/monday", "recordings/tuesday"]}))
    result = run_preflight(asset)
    assert result.ready, result.errors
    assert [d["path"] for d in result.dataset["datasets"]] == ["recordings/monday", "recordings/tuesday"]
    assert (result.dataset["episodes"], result.dataset["frames"]) == (5, 24 + 33)
    for day in ("monday", "tuesday"):
        assert (asset / f"recordings/{day}/meta/stats.json").is_file() and (asset / f"recordings/{day}/meta/modality.json").is_file()


def test_a_broken_dataset_is_named_and_no_dataset_is_changed(asset: Path) -> None:
    (asset / "gr00t_config.json").write_text(json.dumps({"datasetPath": "recordings/monday,recordings/tuesday"}))
    (asset / "recordings/tuesday/videos/chunk-000/observation.images.front/episode_000001.mp4").unlink()
    before = tree_digest(asset)
    result = run_preflight(asset)
    assert not result.ready and tree_digest(asset) == before  # monday is fine but not prepared either
    assert any(e.startswith("dataset recordings/tuesday/: observation.images.front: 1 of 3 video file(s) missing")
               for e in result.errors), result.errors
    assert not any("monday" in e for e in result.errors)
