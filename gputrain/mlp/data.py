"""Read a table (Parquet, CSV, Feather/Arrow IPC) into one float32 feature matrix.

The file is read in record batches straight into a preallocated ``(rows, features)``
float32 matrix, so the data is never held twice: at any time memory holds the matrix plus
one small batch of Arrow columns. Every batch is checked as it arrives; a non-numeric
column or value, a missing value, NaN, inf or a value too large for float32 ends the read
with a :class:`GputrainError` that names the file, the column and the row (rows are counted
from 0, the CSV header excluded).

CSV may be compressed (``.csv.gz``, ``.csv.bz2``, ``.csv.zst``, ``.csv.lz4``, ``.csv.br``:
pyarrow decompresses while it parses); ``.arrow``/``.ipc``/``.feather`` may be in the IPC
file format (Feather v2) or the stream format.

For training and prediction with encoding (``read_table(..., categorical=True,
missing=True)``), string and dictionary columns come back as object arrays in
``Table.categorical`` (None for a missing value) and missing numeric values as NaN in the
matrix; :mod:`gputrain.mlp.encode` turns both into numbers.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gputrain.errors import GputrainError, OptionError

FORMATS = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".csv": "csv",
    ".feather": "ipc",
    ".arrow": "ipc",
    ".ipc": "ipc",
}
COMPRESSIONS = {".gz": "gzip", ".bz2": "bz2", ".zst": "zstd", ".zstd": "zstd",
                ".lz4": "lz4", ".br": "brotli"}  # for CSV: codecs pyarrow streams
CHUNK_BYTES = 32 << 20  # rows per conversion chunk: about 32 MiB of float32
FLOAT32_MAX = float(np.finfo(np.float32).max)


@dataclass
class Table:
    """Features as one float32 matrix plus the raw label column (None when not read)."""

    path: str
    features: np.ndarray  # (rows, len(feature_names)) float32, C-contiguous
    feature_names: list[str]
    labels: np.ndarray | None  # (rows,) as stored: ints, floats, bools or str objects
    label_name: str | None
    categorical: dict[str, np.ndarray] = field(default_factory=dict)  # name: str objects

    @property
    def rows(self) -> int:
        return self.features.shape[0]


def split_suffix(path: str | Path) -> tuple[str, str | None]:
    """(format, compression codec or None) from the name: ``x.csv.gz`` is gzipped CSV."""
    suffixes = [s.lower() for s in Path(path).suffixes]
    codec = COMPRESSIONS.get(suffixes[-1]) if suffixes else None
    suffix = suffixes[-2] if codec and len(suffixes) > 1 else (suffixes[-1] if suffixes else "")
    if suffix not in FORMATS:
        known = ", ".join(sorted(FORMATS))
        raise GputrainError(f"{path}: unknown data format {suffix or '(no suffix)'!r}; "
                            f"use one of {known} (CSV may end in .gz, .bz2, .zst, .lz4, .br)")
    if codec and FORMATS[suffix] != "csv":
        raise GputrainError(f"{path}: a compressed {FORMATS[suffix]} file cannot be read "
                            "directly; decompress it (Parquet and Arrow compress inside the "
                            "file)")
    return FORMATS[suffix], codec


def detect_format(path: str | Path) -> str:
    return split_suffix(path)[0]


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

    def __init__(self, path: Path, fmt: str, codec: str | None = None):
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.path, self.fmt, self.codec = path, fmt, codec
        if fmt == "parquet":
            self._file = pq.ParquetFile(path, memory_map=True)
            self.schema = self._file.schema_arrow
            self.rows = self._file.metadata.num_rows
        elif fmt == "ipc":
            mapped = pa.memory_map(str(path), "r")
            try:
                reader = pa.ipc.open_file(mapped)
                self._batches = [reader.get_batch(i) for i in range(reader.num_record_batches)]
            except pa.ArrowInvalid:  # not the file format: the stream format (zero-copy too)
                mapped.seek(0)
                reader = pa.ipc.open_stream(mapped)
                self._batches = list(reader)
            self.schema = reader.schema
            self.rows = sum(b.num_rows for b in self._batches)
        else:
            with self._open_csv() as reader:
                self.schema = reader.schema  # types inferred from the first block

    @functools.cached_property
    def rows(self) -> int:
        """Rows (Parquet, Arrow: exact, set at open); CSV: counted when first asked (an upper
        bound: the header and blank lines count), so a look at the schema stays cheap."""
        return _count_lines(self.path, self.codec)

    def _open_csv(self, **options):
        import pyarrow as pa
        import pyarrow.csv as pcsv

        # an explicit stream: pyarrow would also guess the codec from the name, but only
        # for some suffixes
        stream = pa.input_stream(str(self.path), compression=self.codec)
        return pcsv.open_csv(stream, **options)

    def batches(self, columns: list[str], numeric: set[str]) -> Iterator:
        if self.fmt == "parquet":
            yield from self._file.iter_batches(batch_size=65536, columns=columns)
        elif self.fmt == "ipc":
            for batch in self._batches:
                yield batch.select(columns)
        else:
            import pyarrow as pa
            import pyarrow.csv as pcsv

            # Features are parsed as float64 in every block, so a column whose first
            # block looked like integers does not fail on a later "1.5", and a value too
            # large for float32 is still seen as the number it is.
            types = {c: pa.float64() for c in columns if c in numeric}
            opts = pcsv.ConvertOptions(include_columns=columns, column_types=types,
                                       strings_can_be_null=True)
            start = 0
            with self._open_csv(convert_options=opts) as reader:
                while True:
                    try:
                        batch = reader.read_next_batch()
                    except StopIteration:
                        return
                    except pa.ArrowInvalid as e:
                        raise _bad_csv_value(self, columns, numeric, start, e) from None
                    start += batch.num_rows
                    yield batch


def _count_lines(path: Path, codec: str | None) -> int:
    import pyarrow as pa

    count, last = 0, b"\n"
    with pa.input_stream(str(path), compression=codec) as f:
        while block := f.read(1 << 24):
            count += block.count(b"\n")
            last = block[-1:]
    return count + (last != b"\n")


def _bad_csv_value(source: _Source, columns, numeric, start: int, error) -> GputrainError:
    """The error for a CSV block pyarrow could not convert (its message names neither the
    row nor always the column): read the file again as text from row ``start`` and find the
    first value that does not convert to its column's type."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    wanted = {c: pa.float64() if c in numeric else source.schema.field(c).type for c in columns}
    opts = pcsv.ConvertOptions(include_columns=columns, strings_can_be_null=True,
                               column_types={c: pa.string() for c in columns})
    row = 0
    try:
        with source._open_csv(convert_options=opts) as reader:
            for batch in reader:
                if row + batch.num_rows > start:
                    for name in columns:
                        found = _first_unconvertible(batch.column(name), wanted[name])
                        if found is not None:
                            return _unconvertible(source.path, name, name in numeric,
                                                  wanted[name], row + found[0], found[1])
                row += batch.num_rows
    except pa.ArrowInvalid as e:  # not a value: the text itself (a row with more fields)
        error = e
    return GputrainError(f"{source.path}: cannot read as csv after row {start}: "
                         f"{_first_line(error)}")


def _unconvertible(path, name: str, feature: bool, arrow_type, row: int, text: str):
    if feature:
        return GputrainError(f"{path}: feature column {name!r} has {text!r} at row {row}, "
                             "which is not a number")
    return GputrainError(f"{path}: label column {name!r} has {text!r} at row {row}, which "
                         f"is not {arrow_type} like the rows before it")


def _first_unconvertible(column, arrow_type) -> tuple[int, str] | None:
    """(index, text) of the first value of a string column that does not cast, or None."""
    import pyarrow as pa

    def casts(part) -> bool:
        try:
            part.cast(arrow_type)
            return True
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return False

    if casts(column):
        return None
    lo, hi = 0, len(column)  # invariant: column[:lo] casts, column[:hi] does not
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if casts(column.slice(0, mid)):
            lo = mid
        else:
            hi = mid
    return hi - 1, column[hi - 1].as_py()


def _is_numeric(arrow_type) -> bool:
    import pyarrow as pa

    return (pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type)
            or pa.types.is_boolean(arrow_type) or pa.types.is_decimal(arrow_type)
            or pa.types.is_null(arrow_type))


def _is_categorical(arrow_type) -> bool:
    import pyarrow as pa

    return (pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type)
            or pa.types.is_dictionary(arrow_type))


def read_table(path: str | Path, features: list[str] | None, label: str | None,
               categorical: bool = False, missing: bool = False) -> Table:
    """Read ``features`` (None: every column but ``label``) and ``label`` (None: no label,
    for prediction) from ``path``. ``categorical``: string columns are read into
    ``Table.categorical`` instead of refused; ``missing``: missing numeric values become
    NaN instead of an error (infinities are still refused)."""
    import pyarrow as pa

    source, features, strings = _open_checked(Path(path), features, label, categorical)
    numeric = [f for f in features if f not in strings]
    columns = features + ([label] if label is not None else [])
    try:
        matrix, labels, texts = _fill(source, columns, numeric, label, strings, missing)
    except pa.ArrowException as e:
        raise GputrainError(f"{path}: {_first_line(e)}") from None
    if matrix.shape[0] == 0:
        raise GputrainError(f"{path}: the table has no rows")
    return Table(str(path), matrix, numeric, labels, label, texts)


def check_columns(path: str | Path, features: list[str] | None, label: str | None,
                  field: str = "data") -> None:
    """A cheap look at the schema only (no rows read): the file is a table of a known format
    with these columns, numeric features. An :class:`OptionError` carrying the option at
    fault: ``field`` (the file), ``label`` or ``features``. String feature columns pass:
    training one-hot encodes them."""
    try:
        _open_checked(Path(path), features, label, categorical=True)
    except OptionError:
        raise
    except GputrainError as e:
        raise OptionError(field, str(e)) from None


def _open_checked(path: Path, features: list[str] | None, label: str | None,
                  categorical: bool = False):
    """The file's source, its feature columns and which of them are string columns (only
    with ``categorical``; otherwise they are refused), after every check the schema
    allows."""
    import pyarrow as pa

    fmt, codec = split_suffix(path)
    _check_file(path)
    try:
        source = _Source(path, fmt, codec)
    except (pa.ArrowException, OSError, ValueError) as e:
        what = f"{codec}-compressed {fmt}" if codec else fmt
        raise GputrainError(f"{path}: cannot read as {what}: {_first_line(e)}") from None
    names = list(source.schema.names)
    if label is not None and label not in names:
        raise OptionError("label", f"{path}: no label column {label!r} "
                                   f"(columns: {_preview(names)})")
    if features is None:
        features = [n for n in names if n != label]
        if not features:
            raise GputrainError(f"{path}: no feature columns besides the label {label!r}")
    else:
        missing = [f for f in features if f not in names]
        if missing:
            raise OptionError("features", f"{path}: no feature column {missing[0]!r} "
                                          f"(columns: {_preview(names)})")
        if label in features:
            raise OptionError("features", f"{path}: column {label!r} is both the label and "
                                          "a feature")
    _check_unique(path, names, features + ([label] if label is not None else []))
    strings = []
    for name in features:
        arrow_type = source.schema.field(name).type
        if categorical and _is_categorical(arrow_type):
            strings.append(name)
        elif not _is_numeric(arrow_type):
            raise OptionError("features", f"{path}: feature column {name!r} is not numeric "
                                          f"({arrow_type})")
    return source, features, strings


def _check_unique(path, names: list[str], used: list[str]) -> None:
    """Refuse a column name used twice in the file (or asked for twice): which of the
    columns is meant would be a guess."""
    seen = set()
    for name in used:
        if name in seen:
            raise GputrainError(f"{path}: column {name!r} is asked for twice")
        seen.add(name)
        where = [i for i, n in enumerate(names) if n == name]
        if len(where) > 1:
            raise GputrainError(f"{path}: {len(where)} columns are named {name!r} (columns "
                                f"{', '.join(str(i + 1) for i in where)}); rename them")


def _fill(source: _Source, columns, features, label, strings=(), missing=False):
    import pyarrow as pa

    width = len(features)
    matrix = np.empty((source.rows, width), dtype=np.float32)
    label_chunks = []
    string_chunks = {name: [] for name in strings}
    chunk_rows = max(256, CHUNK_BYTES // (4 * max(width, 1)))
    types = {source.schema.field(n).type for n in features}
    if source.fmt == "csv":
        types = {pa.float64()}  # features are parsed as float64
    kind = next(iter(types)) if len(types) == 1 else None
    as_tensor = (width > 0 and kind is not None
                 and (pa.types.is_integer(kind) or pa.types.is_floating(kind))
                 and hasattr(pa.RecordBatch, "to_tensor"))
    start = 0
    for batch in source.batches(columns, set(features)):
        for offset in range(0, batch.num_rows, chunk_rows):
            part = batch.slice(offset, chunk_rows)
            n = part.num_rows
            if start + n > matrix.shape[0]:  # only if the file grew while we read it
                raise GputrainError(f"{source.path}: more rows than when reading began")
            block = matrix[start:start + n]
            for name in strings:
                string_chunks[name].append(part.column(name))
            nulls = False
            for name in features:
                column = part.column(name)
                nulls = nulls or column.null_count > 0
                if column.null_count and not missing:
                    row = start + int(np.argmax(column.is_null().to_numpy(zero_copy_only=False)))
                    raise GputrainError(f"{source.path}: column {name!r} has a missing or NaN "
                                        f"value at row {row}")
            with np.errstate(over="ignore", invalid="ignore"):  # checked just below
                if as_tensor and not nulls:  # one C++ pass to row-major (2x faster than columns)
                    block[:] = np.asarray(part.select(features).to_tensor(row_major=True))
                else:
                    for j, name in enumerate(features):
                        block[:, j] = part.column(name).to_numpy(zero_copy_only=False)
            bad = np.isinf(block) if missing else ~np.isfinite(block)  # missing: NaN is a hole
            if bad.any():
                r, j = np.argwhere(bad)[0]
                raise _non_finite(source.path, features[j], start + r,
                                  part.column(features[j])[int(r)].as_py())
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
    texts = {name: _string_array(chunks, source.schema.field(name).type)
             for name, chunks in string_chunks.items()}
    return matrix, labels, texts


def _string_array(chunks, arrow_type) -> np.ndarray:
    """A string or dictionary column as an object array of str (None where missing)."""
    import pyarrow as pa

    chunked = pa.chunked_array(chunks, type=arrow_type)
    if pa.types.is_dictionary(chunked.type):
        chunked = chunked.cast(chunked.type.value_type)
    return np.asarray(chunked.to_pylist(), dtype=object)


def _non_finite(path, name: str, row: int, value) -> GputrainError:
    import math

    value = float(value)
    if math.isfinite(value):  # finite in the file, infinite as float32
        return GputrainError(f"{path}: column {name!r} has {value:g} at row {row}, too large "
                             f"for float32 (largest {FLOAT32_MAX:.4g}); rescale the column")
    return GputrainError(f"{path}: column {name!r} has {'NaN' if math.isnan(value) else value} "
                         f"at row {row}")


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


def read_columns(path: str | Path, names: list[str]):
    """Columns ``names`` of ``path`` as they are stored (a pyarrow Table): identifiers that
    ``predict --keep`` carries through."""
    import pyarrow as pa

    path = Path(path)
    source = _Source(path, *split_suffix(path))
    missing = [n for n in names if n not in source.schema.names]
    if missing:
        raise GputrainError(f"{path}: no column {missing[0]!r} to keep (columns: "
                            f"{_preview(list(source.schema.names))})")
    batches = list(source.batches(names, set()))
    schema = pa.schema([source.schema.field(n) for n in names]) if not batches else None
    return pa.Table.from_batches(batches, schema=schema)


def arrow_to_table(table, where: str = "X") -> Table:
    """An in-memory pyarrow Table as a :class:`Table` without a label: numeric columns in the
    float32 matrix (NaN where missing), string columns in ``categorical``; anything else,
    or an infinite value, is a :class:`GputrainError` naming the column."""
    numeric = [f.name for f in table.schema if not _is_categorical(f.type)]
    for name in numeric:
        if not _is_numeric(table.schema.field(name).type):
            raise GputrainError(f"{where}: column {name!r} is neither numeric nor text "
                                f"({table.schema.field(name).type})")
    matrix = np.empty((table.num_rows, len(numeric)), dtype=np.float32)
    with np.errstate(over="ignore", invalid="ignore"):
        for j, name in enumerate(numeric):
            column = table.column(name)
            values = column.to_numpy(zero_copy_only=False) if column.null_count == 0 else \
                column.cast("float64").fill_null(float("nan")).to_numpy(zero_copy_only=False)
            matrix[:, j] = values
    if np.isinf(matrix).any():
        r, j = np.argwhere(np.isinf(matrix))[0]
        raise GputrainError(f"{where}: column {numeric[j]!r} has an infinite value at row {r}")
    texts = {f.name: _string_array(table.column(f.name).chunks, f.type)
             for f in table.schema if _is_categorical(f.type)}
    return Table(where, matrix, numeric, None, None, texts)
