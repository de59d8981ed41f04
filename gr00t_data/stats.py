"""GR00T-compatible ``meta/stats.json``: mean, std, min, max, q01, q99 per dimension of every numeric column.

Semantics match Isaac-GR00T N1.5 ``calculate_dataset_statistics`` (https://github.com/NVIDIA/Isaac-GR00T, gr00t/data/dataset.py): every parquet
column except ``annotation.*``, values as float32, population std, numpy's linear quantiles at 0.01 and 0.99.
GR00T gets there by concatenating pandas frames and building one Python object per row; here each column is
read by pyarrow straight into one preallocated float32 matrix (rows x dims), so memory stays about the size of
the numeric data and no per-row objects are made. The reductions themselves are GR00T's (float32 numpy over the
same rows in the same order), so the file holds what GR00T would have written itself.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from gr00t_core.errors import DatasetError
from gr00t_data.meta import data_file, parse_jsonl

STAT_FIELDS = ("mean", "std", "min", "max", "q01", "q99")
_SKIPPED_PREFIX = "annotation."  # GR00T skips these columns (language annotations stored as indices)


def _numeric_width(field: pa.Field) -> int | None:
    """Dimensions of a numeric column: 1 for scalars, the list size for fixed lists, 0 for variable lists
    (width read from the data), None for columns GR00T cannot average (strings, structs, images)."""
    t = field.type
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t):
        return 1
    if pa.types.is_fixed_size_list(t):
        inner = t.value_type
        return t.list_size if (pa.types.is_integer(inner) or pa.types.is_floating(inner)) else None
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        inner = t.value_type
        return 0 if (pa.types.is_integer(inner) or pa.types.is_floating(inner)) else None
    return None


def stats_columns(schema: pa.Schema) -> dict[str, int]:
    """Column name -> declared width (0 = list whose width comes from the data) for the columns GR00T averages."""
    out: dict[str, int] = {}
    for f in schema:
        if f.name.startswith(_SKIPPED_PREFIX):
            continue
        width = _numeric_width(f)
        if width is not None:
            out[f.name] = width
    return out


def column_matrix(column: pa.ChunkedArray | pa.Array, *, name: str, where: str) -> np.ndarray:
    """One numeric column as a float32 ``(rows, dims)`` matrix without per-row Python objects.

    Raises DatasetError when the column has nulls or rows of different widths (GR00T would crash on both).
    """
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if array.null_count:
        raise DatasetError([f"{where}: column {name!r} has {array.null_count} empty (null) value(s); re-export the episode"])
    t = array.type
    if pa.types.is_fixed_size_list(t) or pa.types.is_list(t) or pa.types.is_large_list(t):
        rows = len(array)
        if pa.types.is_fixed_size_list(t):
            width = t.list_size
        else:
            lengths = pc.list_value_length(array)
            lo, hi = pc.min_max(lengths).values() if rows else (pa.scalar(0), pa.scalar(0))
            if lo.as_py() != hi.as_py():
                raise DatasetError(
                    [f"{where}: column {name!r} has rows of different widths ({lo.as_py()} to {hi.as_py()}); every row must have the same length"]
                )
            width = hi.as_py() or 0
        values = pc.list_flatten(array)
        if values.null_count:
            raise DatasetError([f"{where}: column {name!r} holds {values.null_count} null number(s); re-export the episode"])
        flat = values.to_numpy(zero_copy_only=False).astype(np.float32, copy=False)
        return flat.reshape(rows, width)
    return array.to_numpy(zero_copy_only=False).astype(np.float32, copy=False).reshape(-1, 1)


def episode_parquet_files(dataset_dir: Path) -> list[Path]:
    """The parquet files GR00T reads: one per episode of meta/episodes.jsonl through info.json's ``data_path``.

    Falls back to every ``data/**/*.parquet`` file when the meta files cannot say (preparation checks them).
    """
    try:
        info = json.loads((dataset_dir / "meta/info.json").read_text(encoding="utf-8-sig"))
        rows, _, errors = parse_jsonl((dataset_dir / "meta/episodes.jsonl").read_text(encoding="utf-8-sig"), "episodes")
        if not errors and rows:
            return [dataset_dir / data_file(info, int(row["episode_index"])) for row in rows]
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        pass
    return sorted((dataset_dir / "data").glob("**/*.parquet"))


@dataclass
class NumericData:
    """Every numeric column of a set of episode files, stacked: ``columns[name]`` is float32 ``(frames, dims)``."""

    columns: dict[str, np.ndarray]
    rows: list[int]  # frames per file, in the order given


def _label(path: Path, base: Path | None) -> str:
    try:
        return str(path.relative_to(base)) if base else str(path)
    except ValueError:
        return str(path)


def load_numeric(paths: Sequence[Path], *, base: Path | None = None) -> NumericData:
    """Read the GR00T-averaged columns of ``paths`` into one preallocated float32 matrix per column.

    Raises DatasetError listing every unreadable file (missing, truncated, not parquet), every file whose
    columns differ from the first one's, and every column with nulls or ragged widths. ``base`` shortens the
    file names in messages.
    """
    problems: list[str] = []
    # Pass 1: footers only, to learn the columns and row counts, so each column gets one preallocated matrix.
    schemas: list[dict[str, int] | None] = []
    rows: list[int] = []
    for path in paths:
        try:
            meta = pq.read_metadata(path)
            schemas.append(stats_columns(meta.schema.to_arrow_schema()))
            rows.append(meta.num_rows)
        except FileNotFoundError:
            problems.append(f"{_label(path, base)}: episode file missing; restore it or remove the episode from meta/episodes.jsonl")
            schemas.append(None)
            rows.append(0)
        except (pa.ArrowException, OSError) as exc:
            problems.append(f"{_label(path, base)}: not a readable parquet file ({exc}); re-export or restore the episode")
            schemas.append(None)
            rows.append(0)
    readable = [(p, s) for p, s in zip(paths, schemas, strict=True) if s is not None]
    if not readable:
        raise DatasetError(problems or ["no parquet file to read; the dataset needs its data/ folder"])
    first_path, columns = readable[0]
    for path, cols in readable[1:]:
        if set(cols) != set(columns):
            diff = ", ".join(sorted(set(cols) ^ set(columns)))
            problems.append(f"{_label(path, base)}: numeric columns differ from {_label(first_path, base)} ({diff}); all episodes need the same columns")
    if problems:
        raise DatasetError(problems)

    total = sum(rows)
    matrices: dict[str, np.ndarray] = {}
    offset = 0
    for path, n in zip(paths, rows, strict=True):
        where = _label(path, base)
        try:
            table = pq.read_table(path, columns=list(columns))
        except (pa.ArrowException, OSError) as exc:
            problems.append(f"{where}: not a readable parquet file ({exc}); re-export or restore the episode")
            offset += n
            continue
        for name in columns:
            try:
                part = column_matrix(table.column(name), name=name, where=where)
            except DatasetError as exc:
                problems.extend(exc.problems)
                continue
            target = matrices.get(name)
            if target is None:
                target = matrices[name] = np.zeros((total, part.shape[1]), dtype=np.float32)
            elif target.shape[1] != part.shape[1]:
                problems.append(f"{where}: column {name!r} has {part.shape[1]} values per frame, earlier episodes have {target.shape[1]}")
                continue
            target[offset : offset + n] = part
        offset += n
        del table
    if problems:
        raise DatasetError(problems)
    return NumericData(matrices, rows)


def compute_stats(dataset_dir: Path, *, files: Sequence[Path] | None = None) -> dict[str, dict[str, list[float]]]:
    """GR00T's stats of every numeric column over all frames of ``files`` (default: every episode's file).

    Raises DatasetError when a file is unreadable, columns disagree between files, or there are no frames.
    """
    paths = list(files) if files is not None else episode_parquet_files(dataset_dir)
    if not paths:
        raise DatasetError([f"{dataset_dir / 'data'}: no parquet file found; statistics need the episode data"])
    data = load_numeric(paths, base=dataset_dir)
    return stats_of(data, where=str(dataset_dir / "data"))


def stats_of(data: NumericData, *, where: str) -> dict[str, dict[str, list[float]]]:
    """The six statistics of every column of already loaded data."""
    if not sum(data.rows):
        raise DatasetError([f"{where}: the parquet files hold no rows"])
    return {name: describe(matrix) for name, matrix in data.columns.items()}


def describe(matrix: np.ndarray) -> dict[str, list[float]]:
    """The six GR00T statistics of a ``(rows, dims)`` matrix, one value per dimension."""
    q01, q99 = np.quantile(matrix, [0.01, 0.99], axis=0)
    return {
        "mean": matrix.mean(axis=0).astype(np.float64).tolist(),
        "std": matrix.std(axis=0).astype(np.float64).tolist(),
        "min": matrix.min(axis=0).astype(np.float64).tolist(),
        "max": matrix.max(axis=0).astype(np.float64).tolist(),
        "q01": q01.astype(np.float64).tolist(),
        "q99": q99.astype(np.float64).tolist(),
    }


def missing_stats(stats: Any, required: Sequence[str]) -> list[str]:
    """What a stats.json lacks for GR00T: required columns absent or entries without one of the six fields."""
    if not isinstance(stats, dict):
        return ["the file is not a JSON object of column -> statistics"]
    problems = [f"no entry for {name!r}" for name in required if name not in stats]
    for name, entry in stats.items():
        if not isinstance(entry, dict):
            problems.append(f"{name!r} is not an object")
            continue
        absent = [f for f in STAT_FIELDS if f not in entry]
        if absent:
            problems.append(f"{name!r} lacks {', '.join(absent)}")
    return problems


__all__ = [
    "STAT_FIELDS",
    "NumericData",
    "column_matrix",
    "compute_stats",
    "describe",
    "episode_parquet_files",
    "load_numeric",
    "missing_stats",
    "stats_columns",
    "stats_of",
]
