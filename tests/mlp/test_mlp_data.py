"""Reading tables: formats, one float32 matrix, and one clear error per kind of bad data."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from gputrain.errors import GputrainError
from gputrain.mlp.data import read_table
from gputrain.mlp.preprocess import (
    encode_classes,
    fit_classes,
    fit_standardizer,
    split_rows,
    standardize_,
)

FEATURES = [f"f{i}" for i in range(6)]


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".feather", ".arrow"])
def test_every_format_reads_the_same_matrix(tmp_path, table, tables, suffix):
    path = tables.write(table, tmp_path / f"data{suffix}")
    t = read_table(path, None, "animal")
    assert t.feature_names == FEATURES + ["target"]
    assert t.features.dtype == np.float32 and t.features.flags.c_contiguous
    assert t.features.shape == (400, 7)
    expected = np.column_stack([table.column(c).to_numpy() for c in FEATURES + ["target"]])
    np.testing.assert_allclose(t.features, expected.astype(np.float32), rtol=1e-6)
    assert list(t.labels[:5]) == table.column("animal").to_pylist()[:5]


def test_chunked_fill_matches_across_batches(tmp_path, tables, monkeypatch):
    import gputrain.mlp.data as data

    monkeypatch.setattr(data, "CHUNK_BYTES", 64)  # many tiny conversion chunks
    big = tables.make(rows=3000)
    path = tables.write(big, tmp_path / "big.csv")
    t = read_table(path, ["f0", "f5"], "target")
    np.testing.assert_allclose(t.features[:, 1], big.column("f5").to_numpy(), rtol=1e-6)
    assert t.rows == 3000


def _bad(tmp_path, name, columns) -> str:
    from pyarrow import csv

    path = tmp_path / name
    if name.endswith(".csv"):
        csv.write_csv(pa.table(columns), path)
    else:
        import pyarrow.parquet as pq

        pq.write_table(pa.table(columns), path)
    return str(path)


@pytest.mark.parametrize("values, message", [
    ([1.0, 2.0, float("nan"), 4.0], "column 'x' has (a missing or NaN value|NaN) at row 2"),
    ([1.0, float("inf"), 3.0, 4.0], "column 'x' has inf at row 1"),
    ([1.0, 2.0, 3.0, float("-inf")], "column 'x' has -inf at row 3"),
    ([1.0, None, 3.0, 4.0], "column 'x' has a missing or NaN value at row 1"),
])
@pytest.mark.parametrize("name", ["bad.parquet", "bad.csv"])
def test_nan_inf_and_missing_name_the_column_and_row(tmp_path, name, values, message):
    path = _bad(tmp_path, name, {"y": [0, 1, 0, 1], "x": values})
    with pytest.raises(GputrainError, match=message):
        read_table(path, None, "y")


def test_non_numeric_feature_is_named(tmp_path):
    path = _bad(tmp_path, "s.parquet", {"y": [0, 1], "name": ["a", "b"]})
    with pytest.raises(GputrainError, match="feature column 'name' is not numeric"):
        read_table(path, None, "y")


def test_missing_columns_and_formats(tmp_path, parquet_file):
    with pytest.raises(GputrainError, match="no label column 'nope'"):
        read_table(parquet_file, None, "nope")
    with pytest.raises(GputrainError, match="no feature column 'zz'"):
        read_table(parquet_file, ["f0", "zz"], "animal")
    with pytest.raises(GputrainError, match="no such file"):
        read_table(tmp_path / "absent.csv", None, "y")
    with pytest.raises(GputrainError, match="unknown data format '.xlsx'"):
        read_table(tmp_path / "sheet.xlsx", None, "y")
    junk = tmp_path / "junk.parquet"
    junk.write_bytes(b"this is not parquet at all")
    with pytest.raises(GputrainError, match="cannot read as parquet"):
        read_table(junk, None, "y")


def test_empty_table_is_an_error(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("y,x\n")
    with pytest.raises(GputrainError, match="no rows"):
        read_table(path, None, "y")


def test_classes_and_encoding():
    labels = np.array(["b", "a", "c", "a"], dtype=object)
    classes = fit_classes(labels, "t")
    assert classes == ["a", "b", "c"]
    assert encode_classes(labels, classes, "t").tolist() == [1, 0, 2, 0]
    with pytest.raises(GputrainError, match="label 'z' at row 1 is not one of"):
        encode_classes(np.array(["a", "z"], dtype=object), classes, "t")
    with pytest.raises(GputrainError, match=r"only one class \(3\)"):
        fit_classes(np.array([3, 3, 3]), "t")
    with pytest.raises(GputrainError, match=r"label 1\.5 at row 1 is not one of"):
        encode_classes(np.array([0.0, 1.5], dtype=np.float32), [0, 1], "t")
    assert fit_classes(np.array([2.0, 0.0, 1.0]), "t") == [0, 1, 2]
    with pytest.raises(GputrainError, match="not a class"):
        fit_classes(np.array([0.5, 1.0]), "t")


def test_standardizer_uses_training_rows_and_handles_constant_columns():
    rng = np.random.default_rng(1)
    m = np.column_stack([rng.normal(5, 2, 1000), np.full(1000, 7.0)]).astype(np.float32)
    train, val = split_rows(1000, 0.2, seed=3)
    assert len(val) == 200 and len(np.intersect1d(train, val)) == 0
    mean, std = fit_standardizer(m, train)
    np.testing.assert_allclose(mean[0], m[train, 0].mean(), rtol=1e-5)
    np.testing.assert_allclose(std[0], m[train, 0].std(), rtol=1e-5)
    assert std[1] == 1.0  # zero variance: the column becomes all zeros
    standardize_(m, mean, std)
    assert np.all(m[:, 1] == 0)
    assert abs(m[train, 0].mean()) < 1e-5


@pytest.mark.parametrize("arrow_type", [pa.int8(), pa.int64(), pa.float64(), pa.float16()])
def test_same_typed_integer_and_float_columns(tmp_path, arrow_type):
    import pyarrow.parquet as pq

    values = np.arange(-60, 60).reshape(40, 3)
    cols = {f"c{j}": pa.array(values[:, j]).cast(arrow_type) for j in range(3)}
    path = tmp_path / "same.parquet"
    pq.write_table(pa.table(cols | {"y": np.arange(40) % 2}), path)
    t = read_table(path, None, "y")
    np.testing.assert_array_equal(t.features, values.astype(np.float32))


@pytest.mark.parametrize("codec, suffix", [("gzip", ".gz"), ("zstd", ".zst"), ("bz2", ".bz2"),
                                           ("lz4", ".lz4")])
def test_compressed_csv_reads_like_the_plain_file(tmp_path, table, tables, codec, suffix):
    plain = tables.write(table, tmp_path / "data.csv")
    packed = tmp_path / f"data.csv{suffix}"
    with pa.output_stream(str(packed), compression=codec) as out:
        out.write(open(plain, "rb").read())
    a, b = read_table(plain, None, "animal"), read_table(packed, None, "animal")
    np.testing.assert_array_equal(a.features, b.features)
    assert list(a.labels) == list(b.labels)


def test_compressed_parquet_is_refused_with_a_reason(tmp_path):
    with pytest.raises(GputrainError, match="compressed parquet file cannot be read"):
        read_table(tmp_path / "x.parquet.gz", None, "y")


def test_arrow_stream_format_is_read(tmp_path, table):
    path = tmp_path / "stream.arrow"
    with pa.ipc.new_stream(str(path), table.schema) as writer:
        for batch in table.to_batches(max_chunksize=150):  # several batches
            writer.write_batch(batch)
    t = read_table(path, None, "animal")
    assert t.rows == 400
    np.testing.assert_array_equal(t.features[:, 0], table.column("f0").to_numpy())


@pytest.mark.parametrize("name", ["dup.csv", "dup.parquet"])
def test_duplicate_column_names_are_refused(tmp_path, name):
    path = tmp_path / name
    if name.endswith(".csv"):
        path.write_text("y,x,z,x\n0,1,2,3\n1,4,5,6\n")
    else:
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_arrays([pa.array([0, 1])] * 4, names=["y", "x", "z", "x"]),
                       path)
    with pytest.raises(GputrainError, match=r"2 columns are named 'x' \(columns 2, 4\)"):
        read_table(path, None, "y")
    t = read_table(path, ["z"], "y")  # the duplicated name is not used: fine
    assert t.features.shape == (2, 1)
    with pytest.raises(GputrainError, match="column 'z' is asked for twice"):
        read_table(path, ["z", "z"], "y")


def _long_csv(path, bad_row: int, bad: str, column: str = "x") -> None:
    lines = ["y,x"] + [f"{i % 2},{i}.5" for i in range(200_000)]
    y, x = lines[bad_row + 1].split(",")
    lines[bad_row + 1] = f"{bad},{x}" if column == "y" else f"{y},{bad}"
    path.write_text("\n".join(lines) + "\n")


def test_bad_csv_value_late_in_the_file_names_column_and_row(tmp_path):
    path = tmp_path / "late.csv"
    _long_csv(path, 180_123, "abc")
    with pytest.raises(GputrainError, match="feature column 'x' has 'abc' at row 180123, which "
                                            "is not a number"):
        read_table(path, None, "y")
    _long_csv(path, 170_001, "cat", column="y")
    with pytest.raises(GputrainError, match="label column 'y' has 'cat' at row 170001, which "
                                            "is not int64"):
        read_table(path, None, "y")


@pytest.mark.filterwarnings("error")  # no raw NumPy RuntimeWarning on the way
@pytest.mark.parametrize("name", ["big.csv", "big.parquet"])
def test_values_too_large_for_float32_are_named_as_such(tmp_path, name):
    path = _bad(tmp_path, name, {"y": [0, 1, 0], "x": [1.0, 2.0, -1e39]})
    with pytest.raises(GputrainError, match=r"column 'x' has -1e\+39 at row 2, too large for "
                                            "float32"):
        read_table(path, None, "y")
