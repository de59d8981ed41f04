"""compute_stats against an independent computation: GR00T's own way (pandas concat, per-row numpy objects)."""

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from benchmarks.bench_stats import pandas_stats as gr00t_reference_stats  # GR00T's pandas concat, restated
from gr00t_core.errors import DatasetError
from gr00t_data.stats import STAT_FIELDS, column_matrix, compute_stats, missing_stats


def assert_same_stats(ours: dict, reference: dict) -> None:
    assert set(ours) == set(reference)
    for column, entry in reference.items():
        for name in STAT_FIELDS:
            np.testing.assert_allclose(ours[column][name], entry[name], rtol=1e-5, atol=1e-6, err_msg=f"{column}.{name}")


def test_matches_gr00t_on_a_synthetic_dataset(dualcam: Path) -> None:
    files = sorted((dualcam / "data").glob("*/*.parquet"))
    ours = compute_stats(dualcam)
    assert_same_stats(ours, gr00t_reference_stats(files))
    assert len(ours["observation.state"]["q01"]) == 6 and len(ours["index"]["mean"]) == 1


def test_matches_gr00t_on_hand_made_tables_of_every_numeric_type(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    (tmp_path / "data").mkdir()
    for ep, rows in enumerate((7, 1, 50)):
        vec = rng.normal(0, 5, (rows, 3)).astype(np.float32)
        table = pa.table(
            {
                "fixed": pa.FixedSizeListArray.from_arrays(pa.array(vec.reshape(-1)), 3),
                "listed": pa.array(vec.astype(np.float64).tolist(), type=pa.list_(pa.float64())),
                "large": pa.array(vec.tolist(), type=pa.large_list(pa.float32())),
                "ints": pa.array(rng.integers(-1000, 1000, rows), type=pa.int32()),
                "flag": pa.array(rng.integers(0, 2, rows).astype(bool)),
                "annotation.human.task": pa.array(np.zeros(rows, dtype=np.int64)),  # GR00T skips these
                "name": pa.array(["x"] * rows),  # not numeric: not averaged
            }
        )
        pq.write_table(table, tmp_path / "data" / f"episode_{ep:06d}.parquet")
    files = sorted((tmp_path / "data").glob("*.parquet"))
    ours = compute_stats(tmp_path, files=files)
    reference = gr00t_reference_stats(files, exclude=("name",))
    assert_same_stats(ours, reference)
    assert "annotation.human.task" not in ours


def test_quantiles_are_numpy_linear_and_std_is_population(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    values = np.arange(101, dtype=np.float32)
    pq.write_table(pa.table({"x": values}), tmp_path / "data" / "e.parquet")
    stats = compute_stats(tmp_path)["x"]
    assert stats["q01"] == [1.0] and stats["q99"] == [99.0] and stats["min"] == [0.0] and stats["max"] == [100.0]
    assert stats["std"][0] == pytest.approx(float(np.sqrt(((values - 50) ** 2).mean())))


def test_uses_the_episodes_listed_in_the_meta_files(dualcam: Path) -> None:
    stray = dualcam / "data/chunk-000/episode_000009.parquet"  # not in episodes.jsonl: GR00T ignores it
    pq.write_table(pq.read_table(dualcam / "data/chunk-000/episode_000000.parquet"), stray)
    assert compute_stats(dualcam)["index"]["max"] == [39.0]


def test_bad_files_are_all_named(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    pq.write_table(pa.table({"x": [1.0, 2.0]}), tmp_path / "data" / "a.parquet")
    (tmp_path / "data" / "b.parquet").write_bytes(b"not parquet at all")
    (tmp_path / "data" / "c.parquet").write_bytes((tmp_path / "data" / "a.parquet").read_bytes()[:-9])  # truncated
    with pytest.raises(DatasetError) as info:
        compute_stats(tmp_path)
    assert len(info.value.problems) == 2
    assert "data/b.parquet: not a readable parquet file" in info.value.problems[0]
    assert "data/c.parquet" in info.value.problems[1]


@pytest.mark.parametrize(
    "array, match",
    [
        (pa.array([[1.0, 2.0], [3.0]], type=pa.list_(pa.float32())), "rows of different widths"),
        (pa.array([[1.0, 2.0], None], type=pa.list_(pa.float32())), "empty \\(null\\)"),
        (pa.array([[1.0, None]], type=pa.list_(pa.float32())), "null number"),
    ],
)
def test_ragged_or_null_columns_are_errors(array: pa.Array, match: str) -> None:
    with pytest.raises(DatasetError, match=match):
        column_matrix(array, name="observation.state", where="episode_000000.parquet")


def test_missing_stats_names_what_gr00t_needs() -> None:
    complete = {f: [0.0] for f in STAT_FIELDS}
    assert missing_stats({"action": complete, "observation.state": complete}, ["action", "observation.state"]) == []
    partial = {k: v for k, v in complete.items() if k not in ("q01", "q99")}  # LeRobot's own stats format
    assert missing_stats({"action": partial}, ["action", "observation.state"]) == [
        "no entry for 'observation.state'",
        "'action' lacks q01, q99",
    ]
    assert missing_stats([], ["action"]) == ["the file is not a JSON object of column -> statistics"]


def test_json_round_trip_is_plain_floats(dualcam: Path) -> None:
    text = json.dumps(compute_stats(dualcam))
    assert "NaN" not in text and json.loads(text)["action"]["max"]
