"""Small synthetic tables for the MLP tests (generated, a few hundred rows)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.feather as feather
import pyarrow.parquet as pq
import pytest


def make_table(rows: int = 400, features: int = 6, seed: int = 0) -> pa.Table:
    """Three separable string classes (argmax of a linear map) and a linear target."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, features)).astype(np.float32) * 3 + 10  # not standardised
    w = np.random.default_rng(1234).normal(size=(features, 3))  # the same rule for every seed
    classes = np.array(["cat", "dog", "emu"], dtype=object)[((x - 10) @ w).argmax(axis=1)]
    target = (x - 10) @ np.arange(1, features + 1) * 0.5 + 7
    cols = {f"f{i}": x[:, i] for i in range(features)}
    return pa.table(cols | {"animal": classes, "target": target.astype(np.float64)})


def write(table: pa.Table, path) -> str:
    path = str(path)
    if path.endswith(".parquet"):
        pq.write_table(table, path)
    elif path.endswith(".csv"):
        pcsv.write_csv(table, path)
    else:
        feather.write_feather(table, path)
    return path


@pytest.fixture
def table() -> pa.Table:
    return make_table()


@pytest.fixture
def parquet_file(tmp_path, table) -> str:
    return write(table, tmp_path / "train.parquet")


@pytest.fixture
def tables():
    """``tables.make(rows=..., seed=...)`` and ``tables.write(table, path)`` for tests."""
    from types import SimpleNamespace

    return SimpleNamespace(make=make_table, write=write)
