"""Parquet vectors: columns ``word`` (string), ``count`` (int64, may be null) and ``vector``
(fixed-size list<float32>; plain lists of equal length are read too)."""

from __future__ import annotations

import numpy as np

from gputrain.atomicfile import atomic_path
from gputrain.errors import GputrainError


def read_parquet(path) -> tuple[list[str], np.ndarray, np.ndarray | None]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as e:
        raise GputrainError(f"{path}: not a readable Parquet file ({e})") from None
    missing = {"word", "vector"} - set(table.column_names)
    if missing:
        raise GputrainError(
            f"{path}: Parquet vector file lacks column(s) {', '.join(sorted(missing))} "
            f"(has {', '.join(table.column_names)})"
        )
    words = [str(w) for w in table.column("word").to_pylist()]
    column = table.column("vector").combine_chunks()
    if column.null_count:
        raise GputrainError(f"{path}: column 'vector' has nulls")
    if pa.types.is_fixed_size_list(column.type):
        dim = column.type.list_size
    elif pa.types.is_list(column.type) or pa.types.is_large_list(column.type):
        lengths = np.diff(np.asarray(column.offsets))
        if len(lengths) and (lengths != lengths[0]).any():
            bad = int(np.flatnonzero(lengths != lengths[0])[0])
            raise GputrainError(f"{path}: row {bad}: vector length differs from row 0")
        dim = int(lengths[0]) if len(lengths) else 0
        column = column.flatten()
    else:
        raise GputrainError(f"{path}: column 'vector' must be a list of floats, not {column.type}")
    values = column.flatten() if pa.types.is_fixed_size_list(column.type) else column
    vectors = np.asarray(values.to_numpy(zero_copy_only=False), dtype=np.float32)
    vectors = vectors.reshape(len(words), dim) if len(words) else np.zeros((0, dim), np.float32)
    counts = None
    if "count" in table.column_names and table.column("count").null_count == 0:
        counts = np.asarray(table.column("count").to_numpy(), dtype=np.int64)
    return words, vectors, counts


def write_parquet(path, words, vectors, counts=None) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    n, dim = vectors.shape
    flat = pa.array(vectors.reshape(-1), type=pa.float32())
    count_col = pa.array(
        [None] * n if counts is None else np.asarray(counts, dtype=np.int64), type=pa.int64()
    )
    table = pa.table({
        "word": pa.array(list(words), type=pa.string()),
        "count": count_col,
        "vector": pa.FixedSizeListArray.from_arrays(flat, dim),
    })
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)
