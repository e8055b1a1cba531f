"""From raw columns to what the network eats: class indices, targets, splits, scaling.

- Classes are the sorted distinct label values (ints, bools or strings); they are saved
  with the model so that predictions come back as the user's own labels.
- The validation split is a seeded random subset of rows, drawn on the host so that it is
  the same on every device.
- Standardisation uses the mean and standard deviation of the *training* rows (float64
  accumulation, chunked so no second copy of the matrix is made) and is applied in place.
  A column with zero variance gets a standard deviation of 1: it becomes all zeros.
"""

from __future__ import annotations

import numpy as np

from gputrain.errors import GputrainError

STATS_CHUNK_ROWS = 8192


def fit_classes(labels: np.ndarray, where: str) -> list:
    """The sorted distinct labels as JSON-friendly Python values (at least two)."""
    if labels.dtype.kind == "f":
        if not np.isfinite(labels).all():
            row = int(np.argmax(~np.isfinite(labels)))
            raise GputrainError(f"{where}: label has {labels[row]} at row {row}")
        if not np.all(labels == np.round(labels)):
            row = int(np.argmax(labels != np.round(labels)))
            raise GputrainError(f"{where}: label {labels[row]} at row {row} is not a class "
                                "(use --task regress for a continuous target)")
        labels = labels.astype(np.int64)
    classes = np.unique(labels)
    if len(classes) < 2:
        value = _plain(classes[0]) if len(classes) else None
        raise GputrainError(f"{where}: the label has only one class ({value!r}); "
                            "classification needs at least two")
    return [_plain(c) for c in classes]


def encode_classes(labels: np.ndarray, classes: list, where: str) -> np.ndarray:
    """Class index (int64) of every label; an error for a label the model never saw."""
    known = np.asarray(classes, dtype=object if isinstance(classes[0], str) else None)
    if labels.dtype.kind == "f" and known.dtype.kind in "iub":
        if np.all(labels == np.round(labels)):
            labels = labels.astype(np.int64)
    if (labels.dtype.kind == "O") != (known.dtype.kind == "O"):
        raise GputrainError(f"{where}: labels are {_kind(labels)} but the model's classes "
                            f"are {_kind(known)}")
    codes = np.searchsorted(known, labels)
    codes = np.minimum(codes, len(known) - 1)
    bad = known[codes] != labels
    if bad.any():
        row = int(np.argmax(bad))
        raise GputrainError(f"{where}: label {_plain(labels[row])!r} at row {row} is not one "
                            "of the model's classes")
    return codes.astype(np.int64)


def _plain(value):
    """A NumPy scalar as the Python value it holds (its repr is what the user wrote)."""
    return value.item() if isinstance(value, np.generic) else value


def _kind(a: np.ndarray) -> str:
    return "strings" if a.dtype.kind == "O" else "numbers"


def regression_targets(labels: np.ndarray, where: str) -> np.ndarray:
    if labels.dtype.kind not in "iufb":
        raise GputrainError(f"{where}: regression needs a numeric label, not {_kind(labels)}")
    targets = labels.astype(np.float32)
    if not np.isfinite(targets).all():
        row = int(np.argmax(~np.isfinite(targets)))
        raise GputrainError(f"{where}: label has {targets[row]} at row {row}")
    return targets


def split_rows(rows: int, val_split: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sorted train and validation row indices; ``val_split=0`` keeps every row for training."""
    n_val = int(round(rows * val_split))
    if val_split > 0:
        n_val = max(1, n_val)
    if rows - n_val < 1:
        raise GputrainError(f"--val-split {val_split} leaves no training rows out of {rows}")
    if n_val == 0:
        return np.arange(rows, dtype=np.int64), np.empty(0, dtype=np.int64)
    order = np.random.default_rng(np.random.SeedSequence([seed, 0x5A17])).permutation(rows)
    return np.sort(order[n_val:]), np.sort(order[:n_val])


def _chunks(matrix: np.ndarray, rows: np.ndarray | None):
    total = matrix.shape[0] if rows is None else len(rows)
    for start in range(0, total, STATS_CHUNK_ROWS):
        if rows is None:
            yield matrix[start:start + STATS_CHUNK_ROWS]
        else:
            yield matrix[rows[start:start + STATS_CHUNK_ROWS]]


def fit_standardizer(matrix: np.ndarray, rows: np.ndarray | None = None):
    """Column mean and std (float32) over ``rows`` of ``matrix`` (None: all rows)."""
    count = matrix.shape[0] if rows is None else len(rows)
    total = np.zeros(matrix.shape[1], dtype=np.float64)
    for block in _chunks(matrix, rows):
        total += block.sum(axis=0, dtype=np.float64)
    mean = total / count
    mean32 = mean.astype(np.float32)
    squares = np.zeros_like(total)
    for block in _chunks(matrix, rows):
        centered = block - mean32  # float32; squares summed in float64
        np.square(centered, out=centered)
        squares += centered.sum(axis=0, dtype=np.float64)
    std = np.sqrt(squares / count)
    std[std == 0] = 1.0
    return mean.astype(np.float32), std.astype(np.float32)


def standardize_(matrix: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """Scale ``matrix`` in place, chunk by chunk, and return it."""
    for start in range(0, matrix.shape[0], STATS_CHUNK_ROWS):
        block = matrix[start:start + STATS_CHUNK_ROWS]
        block -= mean
        block /= std
    return matrix
