"""Read a table (Parquet, CSV, Feather/Arrow IPC) into one float32 feature matrix.

The file is read in record batches straight into a preallocated ``(rows, features)``
float32 matrix, so the data is never held twice: at any time memory holds the matrix plus
one small batch of Arrow columns. Every batch is checked as it arrives; a non-numeric
column, a missing value, NaN or inf ends the read with a :class:`GputrainError` that names
the file, the column and the row (rows are counted from 0, the CSV header excluded).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gputrain.errors import GputrainError

FORMATS = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
    ".feather": "ipc",
    ".arrow": "ipc",
    ".ipc": "ipc",
}
CHUNK_BYTES = 32 << 20  # rows per conversion chunk: about 32 MiB of float32


@dataclass
class Table:
    """Features as one float32 matrix plus the raw label column (None when not read)."""

    path: str
    features: np.ndarray  # (rows, len(feature_names)) float32, C-contiguous
    feature_names: list[str]
    labels: np.ndarray | None  # (rows,) as stored: ints, floats, bools or str objects
    label_name: str | None

    @property
    def rows(self) -> int:
        return self.features.shape[0]


def detect_format(path: str | Path) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        known = ", ".join(sorted(FORMATS))
        raise GputrainError(f"{path}: unknown data format {suffix or '(no suffix)'!r}; "
                            f"use one of {known}")
    return FORMATS[suffix]


def check_data_file(path: str | Path) -> None:
    """Fail now, with one line, when ``path`` is not a readable table of a known format."""
    detect_format(path)
    _check_file(Path(path))


def _check_file(path: Path) -> None:
    if not path.exists():
        raise GputrainError(f"{path}: no such file")
    if path.is_dir():
        raise GputrainError(f"{path}: is a directory, not a data file")
    try:
        with open(path, "rb"):
            pass
    except OSError as e:
        raise GputrainError(f"{path}: cannot read ({e.strerror or e})") from None


class _Source:
    """Schema, row count and record batches of one file, whatever its format."""

    def __init__(self, path: Path, fmt: str):
        import pyarrow as pa
        import pyarrow.csv as pcsv
        import pyarrow.parquet as pq

        self.path, self.fmt = path, fmt
        if fmt == "parquet":
            self._file = pq.ParquetFile(path, memory_map=True)
            self.schema = self._file.schema_arrow
            self.rows = self._file.metadata.num_rows
        elif fmt == "ipc":
            self._file = pa.ipc.open_file(pa.memory_map(str(path), "r"))
            self.schema = self._file.schema
            self.rows = sum(self._file.get_batch(i).num_rows
                            for i in range(self._file.num_record_batches))
        else:
            reader = pcsv.open_csv(path)
            self.schema = reader.schema  # types inferred from the first block
            reader.close()
            self.rows = _count_lines(path)  # an upper bound: header and blank lines included

    def batches(self, columns: list[str], numeric: set[str]) -> Iterator:
        if self.fmt == "parquet":
            yield from self._file.iter_batches(batch_size=65536, columns=columns)
        elif self.fmt == "ipc":
            for i in range(self._file.num_record_batches):
                yield self._file.get_batch(i).select(columns)
        else:
            import pyarrow as pa
            import pyarrow.csv as pcsv

            # Features are parsed as float32 in every block, so a column whose first
            # block looked like integers does not fail on a later "1.5".
            types = {c: pa.float32() for c in columns if c in numeric}
            opts = pcsv.ConvertOptions(include_columns=columns, column_types=types)
            with pcsv.open_csv(self.path, convert_options=opts) as reader:
                yield from reader


def _count_lines(path: Path) -> int:
    count, last = 0, b"\n"
    with open(path, "rb") as f:
        while block := f.read(1 << 24):
            count += block.count(b"\n")
            last = block[-1:]
    return count + (last != b"\n")


def _is_numeric(arrow_type) -> bool:
    import pyarrow as pa

    return (pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type)
            or pa.types.is_boolean(arrow_type) or pa.types.is_decimal(arrow_type)
            or pa.types.is_null(arrow_type))


def read_table(path: str | Path, features: list[str] | None, label: str | None) -> Table:
    """Read ``features`` (None: every column but ``label``) and ``label`` (None: no label,
    for prediction) from ``path``."""
    import pyarrow as pa

    path = Path(path)
    fmt = detect_format(path)
    _check_file(path)
    try:
        source = _Source(path, fmt)
    except (pa.ArrowException, OSError, ValueError) as e:
        raise GputrainError(f"{path}: cannot read as {fmt}: {_first_line(e)}") from None
    names = list(source.schema.names)
    if label is not None and label not in names:
        raise GputrainError(f"{path}: no label column {label!r} (columns: {_preview(names)})")
    if features is None:
        features = [n for n in names if n != label]
        if not features:
            raise GputrainError(f"{path}: no feature columns besides the label {label!r}")
    else:
        missing = [f for f in features if f not in names]
        if missing:
            raise GputrainError(f"{path}: no feature column {missing[0]!r} (columns: "
                                f"{_preview(names)})")
        if label in features:
            raise GputrainError(f"{path}: column {label!r} is both the label and a feature")
    for name in features:
        arrow_type = source.schema.field(name).type
        if not _is_numeric(arrow_type):
            raise GputrainError(f"{path}: feature column {name!r} is not numeric "
                                f"({arrow_type})")
    columns = features + ([label] if label is not None else [])
    try:
        matrix, labels = _fill(source, columns, features, label)
    except pa.ArrowException as e:
        raise GputrainError(f"{path}: {_first_line(e)}") from None
    if matrix.shape[0] == 0:
        raise GputrainError(f"{path}: the table has no rows")
    return Table(str(path), matrix, features, labels, label)


def _fill(source: _Source, columns, features, label):
    import pyarrow as pa

    width = len(features)
    matrix = np.empty((source.rows, width), dtype=np.float32)
    label_chunks = []
    chunk_rows = max(256, CHUNK_BYTES // (4 * width))
    types = {source.schema.field(n).type for n in features}
    if source.fmt == "csv":
        types = {pa.float32()}  # features are parsed as float32
    kind = next(iter(types)) if len(types) == 1 else None
    as_tensor = (kind is not None and (pa.types.is_integer(kind) or pa.types.is_floating(kind))
                 and hasattr(pa.RecordBatch, "to_tensor"))
    start = 0
    for batch in source.batches(columns, set(features)):
        for offset in range(0, batch.num_rows, chunk_rows):
            part = batch.slice(offset, chunk_rows)
            n = part.num_rows
            if start + n > matrix.shape[0]:  # only if the file grew while we read it
                raise GputrainError(f"{source.path}: more rows than when reading began")
            block = matrix[start:start + n]
            for name in features:
                column = part.column(name)
                if column.null_count:
                    row = start + int(np.argmax(column.is_null().to_numpy(zero_copy_only=False)))
                    raise GputrainError(f"{source.path}: column {name!r} has a missing or NaN "
                                        f"value at row {row}")
            if as_tensor:  # one C++ pass straight to row-major (about 2x faster than columns)
                block[:] = np.asarray(part.select(features).to_tensor(row_major=True))
            else:
                for j, name in enumerate(features):
                    block[:, j] = part.column(name).to_numpy(zero_copy_only=False)
            if not np.isfinite(block).all():
                r, j = np.argwhere(~np.isfinite(block))[0]
                value = "NaN" if np.isnan(block[r, j]) else block[r, j]
                raise GputrainError(f"{source.path}: column {features[j]!r} has {value} at "
                                    f"row {start + r}")
            if label is not None:
                column = part.column(label)
                if column.null_count:
                    row = start + int(np.argmax(column.is_null().to_numpy(zero_copy_only=False)))
                    raise GputrainError(f"{source.path}: label column {label!r} has a missing "
                                        f"value at row {row}")
                label_chunks.append(column)
            start += n
    if start < matrix.shape[0]:  # CSV: the line count was an upper bound
        matrix.resize((start, width), refcheck=False)
    labels = None
    if label is not None:
        labels = _label_array(pa.chunked_array(label_chunks, type=source.schema.field(label).type)
                              if label_chunks else pa.array([], type=pa.int64()))
    return matrix, labels


def _label_array(chunked) -> np.ndarray:
    import pyarrow as pa

    if pa.types.is_dictionary(chunked.type):
        chunked = chunked.cast(chunked.type.value_type)
    if pa.types.is_decimal(chunked.type):
        chunked = chunked.cast(pa.float64())
    if pa.types.is_string(chunked.type) or pa.types.is_large_string(chunked.type):
        return np.asarray(chunked.to_pylist(), dtype=object)
    return chunked.to_numpy()


def _first_line(e: Exception) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


def _preview(names: list[str], limit: int = 8) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")
