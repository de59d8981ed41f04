"""GR00T-compatible ``meta/stats.json``: mean, std, min, max, q01, q99 per dimension of every numeric column.

Semantics match Isaac-GR00T N1.5 ``calculate_dataset_statistics`` (reference/gr00t-reference.md): every parquet
column except ``annotation.*``, values as float32, population std, numpy's linear quantiles at 0.01 and 0.99.
GR00T gets there by concatenating pandas frames and building one Python object per row; here each column is
read by pyarrow straight into one preallocated float32 matrix (rows x dims), so memory stays about the size of
the numeric data and no per-row objects are made. Means and stds accumulate in float64.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from gr00t_core.errors import DatasetError

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
    """Every ``data/**/*.parquet`` file in a stable order (chunk, then episode)."""
    return sorted((dataset_dir / "data").glob("**/*.parquet"))


def compute_stats(dataset_dir: Path, *, files: Sequence[Path] | None = None) -> dict[str, dict[str, list[float]]]:
    """GR00T's stats of every numeric column over all frames of ``files`` (default: every episode parquet file).

    Raises DatasetError when there is no parquet file, a file is unreadable, or columns disagree between files.
    """
    paths = list(files) if files is not None else episode_parquet_files(dataset_dir)
    if not paths:
        raise DatasetError([f"{dataset_dir / 'data'}: no parquet file found; statistics need the episode data"])

    # Pass 1: footers only, to learn the columns and the row count, so each column gets one preallocated matrix.
    schemas: list[dict[str, int]] = []
    rows: list[int] = []
    for path in paths:
        try:
            meta = pq.read_metadata(path)
            schemas.append(stats_columns(meta.schema.to_arrow_schema()))
        except (pa.ArrowException, OSError) as exc:
            raise DatasetError([f"{path}: not a readable parquet file ({exc}); re-export or remove the episode"]) from None
        rows.append(meta.num_rows)
    columns = schemas[0]
    for path, cols in zip(paths, schemas):
        if set(cols) != set(columns):
            diff = sorted(set(cols) ^ set(columns))
            raise DatasetError([f"{path}: numeric columns differ from {paths[0].name} ({', '.join(diff)}); all episodes need the same columns"])

    total = sum(rows)
    matrices: dict[str, np.ndarray] = {}
    offset = 0
    for path, n in zip(paths, rows):
        try:
            table = pq.read_table(path, columns=list(columns))
        except (pa.ArrowException, OSError) as exc:
            raise DatasetError([f"{path}: not a readable parquet file ({exc}); re-export or remove the episode"]) from None
        for name in columns:
            part = column_matrix(table.column(name), name=name, where=str(path))
            target = matrices.get(name)
            if target is None:
                target = matrices[name] = np.empty((total, part.shape[1]), dtype=np.float32)
            elif target.shape[1] != part.shape[1]:
                raise DatasetError(
                    [f"{path}: column {name!r} has {part.shape[1]} values per row, earlier episodes have {target.shape[1]}"]
                )
            target[offset : offset + n] = part
        offset += n
        del table
    if total == 0:
        raise DatasetError([f"{dataset_dir / 'data'}: the parquet files hold no rows"])
    return {name: describe(matrix) for name, matrix in matrices.items()}


def describe(matrix: np.ndarray) -> dict[str, list[float]]:
    """The six GR00T statistics of a ``(rows, dims)`` matrix, one value per dimension."""
    q01, q99 = np.quantile(matrix, [0.01, 0.99], axis=0)
    return {
        "mean": matrix.mean(axis=0, dtype=np.float64).tolist(),
        "std": matrix.std(axis=0, dtype=np.float64).tolist(),
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


__all__ = ["STAT_FIELDS", "column_matrix", "compute_stats", "describe", "episode_parquet_files", "missing_stats", "stats_columns"]
