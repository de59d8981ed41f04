"""Issue #11 §5: every corrupt input ends in exit 2 with one message naming the file; --json stays valid JSON;
the asset is left byte for byte as it was (a dataset that is not ready is never prepared)."""

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from gr00t_data.synthetic import generate_dataset
from launcher import cli


def _not_json(token: str) -> None:
    raise AssertionError(f"--json printed {token}, which is not JSON")


def _snapshot(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def _pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    asset = tmp_path_factory.mktemp("corrupt") / "asset"
    generate_dataset(asset / "dataset", layout="so100_dualcam", episodes=2, frames_per_episode=12, width=32, height=24)
    return asset


@pytest.fixture
def asset(tmp_path: Path, _pristine: Path) -> Path:
    import shutil

    return Path(shutil.copytree(_pristine, tmp_path / "asset"))


def _info_edit(**changes: Any) -> Callable[[Path], None]:
    def edit(asset: Path) -> None:
        path = asset / "dataset/meta/info.json"
        info = json.loads(path.read_text())
        info.update(changes)
        path.write_text(json.dumps(info))
    return edit


def _raw(rel: str, text: bytes | Callable[[bytes], bytes]) -> Callable[[Path], None]:
    def edit(asset: Path) -> None:
        path = asset / "dataset" / rel
        path.write_bytes(text(path.read_bytes()) if callable(text) else text)
    return edit


_EP0 = "data/chunk-000/episode_000000.parquet"
_VID0 = "videos/chunk-000/observation.images.front/episode_000000.mp4"
CASES = [
    ("truncated parquet", _raw(_EP0, lambda b: b[: len(b) // 2]), r"dataset/data/chunk-000/episode_000000.parquet: not a readable parquet file"),
    ("parquet of zeros", _raw(_EP0, b"\0" * 4096), r"episode_000000.parquet: not a readable parquet file"),
    ("broken info.json", _raw("meta/info.json", b'{"fps": 30,'), r"meta/info.json"),
    ("broken episodes.jsonl", _raw("meta/episodes.jsonl", b'{"episode_index": 0, "length": 12\n'), r"meta/episodes.jsonl"),
    ("info.json not UTF-8", _raw("meta/info.json", b"\xff\xfe\x00{"), r"meta/info.json"),
    ("info.json NaN fps", _raw("meta/info.json", lambda b: b.replace(b'"fps": 30', b'"fps": NaN')), r"meta/info.json"),
    ("info.json fps 1e309", _raw("meta/info.json", lambda b: b.replace(b'"fps": 30', b'"fps": 1e309')), r"meta/info.json"),
    ("fps absurd", _info_edit(fps=1e300), r"meta/info.json: fps must be"),
    ("fps a string", _info_edit(fps="30"), r"meta/info.json: fps must be"),
    ("features a list", _info_edit(features=[]), r"meta/info.json: features must be an object"),
    ("chunks_size bool", _info_edit(chunks_size=True), r"meta/info.json: chunks_size must be a positive integer"),
    ("huge total_episodes", _info_edit(total_episodes=10**18), r"meta/info.json: total_episodes"),
    ("unknown placeholder", _info_edit(data_path="data/{chunk}/{episode_index}.parquet"), r"meta/info.json: data_path must be"),
    ("index placeholder", _info_edit(data_path="data/{episode_index[0]}.parquet"), r"meta/info.json: data_path must be"),
    ("attribute placeholder", _info_edit(video_path="videos/{video_key.upper}/{episode_index}.mp4"), r"meta/info.json: video_path must be"),
    ("broken brace", _info_edit(data_path="data/{episode_index:06d.parquet"), r"meta/info.json: data_path must be"),
    ("escaping path", _info_edit(data_path="../../outside/{episode_index}.parquet"), r"meta/info.json: data_path must be .*must stay inside the dataset folder"),
    ("unreadable video", _raw(_VID0, b"not a video at all" * 10), r"episode_000000.mp4"),
    ("empty video", _raw(_VID0, b""), r"episode_000000.mp4"),
]


@pytest.mark.parametrize("edit, match", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_corrupt_input_is_exit_2_with_the_file_named(
    asset: Path, capsys: pytest.CaptureFixture[str], edit: Callable[[Path], None], match: str
) -> None:
    import re

    edit(asset)
    before = _snapshot(asset)
    code = cli.main(["preflight", str(asset), "--json"])
    out, err = capsys.readouterr()
    result = json.loads(out, parse_constant=_not_json)  # always one valid JSON object (no NaN/Infinity)
    assert code == 2 and "Traceback" not in out + err
    assert any(re.search(match, e) for e in result["errors"]), result["errors"]
    assert _snapshot(asset) == before  # nothing changed, nothing added
