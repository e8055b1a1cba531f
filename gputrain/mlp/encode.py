"""From a table as read to the network's input columns: imputation and one-hot categories.

- **Numeric columns** stay where they are (the float32 matrix as read, not copied when
  nothing is added). A missing value (null or NaN) becomes the column's median over the
  training rows; every column that had a missing value in training also gets a 0/1
  indicator column ``<name>_missing``, so the network can tell an imputed value from a
  real one (scikit-learn's ``SimpleImputer(strategy="median", add_indicator=True)``).
- **String columns** are one-hot encoded: one 0/1 column ``<name>=<category>`` per
  category seen in the training rows (sorted). One-hot rather than embeddings because
  the tables this trainer is for have few categories per column, a one-hot column is an
  ordinary input (no second kind of parameter, nothing to tune), and a column with more
  distinct values than ``--max-categories`` is nearly always an identifier or free text
  that should not be a feature at all: it is refused with an error naming the column.
  A missing category becomes the most frequent one (plus ``<name>_missing`` when the
  column had missing values in training). A category never seen in training gives an
  all-zero one-hot block at prediction time (scikit-learn's ``handle_unknown="ignore"``):
  the row is predicted as if that column told nothing.

With ``--no-impute`` a missing value stays an error. The encoder's statistics and
categories are saved in ``model.json`` (``encoder``) and applied unchanged to every table
the model scores or predicts.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field

import numpy as np

from gputrain.errors import GputrainError

MEDIAN_COLUMNS = 64  # columns per median pass (bounds the copy of the training rows)


@dataclass
class Encoder:
    columns: list[str]  # the table's feature columns, in order (what predict reads)
    numeric: list[str]
    medians: list[float] | None  # per numeric column; None without imputation
    numeric_missing: list[str] = field(default_factory=list)  # get an indicator column
    categories: dict[str, list[str]] = field(default_factory=dict)
    most_frequent: dict[str, str] = field(default_factory=dict)
    categorical_missing: list[str] = field(default_factory=list)

    @property
    def impute(self) -> bool:
        return self.medians is not None

    @property
    def names(self) -> list[str]:
        """The network's input columns, in order."""
        names = list(self.numeric) + [f"{c}_missing" for c in self.numeric_missing]
        for name, cats in self.categories.items():
            names += [f"{name}={c}" for c in cats]
        return names + [f"{c}_missing" for c in self.categorical_missing]

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Encoder:
        return cls(**d)

    @classmethod
    def fit(cls, table, rows: np.ndarray | None, impute: bool, max_categories: int,
            columns: list[str]) -> Encoder:
        """Statistics of ``rows`` (None: all) of ``table`` (``read_table`` with
        ``categorical=True``)."""
        matrix = table.features
        picked = slice(None) if rows is None else rows
        medians, numeric_missing = None, []
        if not impute:
            _refuse_missing(table)
        else:
            medians = []
            for start in range(0, matrix.shape[1], MEDIAN_COLUMNS):
                block = matrix[:, start:start + MEDIAN_COLUMNS][picked]
                missing = np.isnan(block).any(axis=0)
                numeric_missing += [table.feature_names[start + j] for j in np.flatnonzero(missing)]
                with np.errstate(all="ignore"):
                    med = np.nanmedian(block, axis=0) if missing.any() else np.median(block, axis=0)
                medians += [0.0 if np.isnan(m) else float(m) for m in med]  # all-missing: 0
        categories, most_frequent, categorical_missing = {}, {}, []
        for name, values in table.categorical.items():
            counts = Counter(values[picked].tolist())
            missing = counts.pop(None, 0)
            if missing and not impute:
                raise GputrainError(f"{table.path}: column {name!r} has a missing value at "
                                    f"row {_first_missing(values)} (--no-impute)")
            if len(counts) > max_categories:
                raise GputrainError(f"{table.path}: column {name!r} has {len(counts)} distinct "
                                    f"values, more than --max-categories {max_categories}; "
                                    "leave it out with --features or raise the limit")
            categories[name] = sorted(counts)
            most_frequent[name] = min(counts, key=lambda c: (-counts[c], c)) if counts else ""
            if missing:
                categorical_missing.append(name)
        return cls(columns=list(columns), numeric=list(table.feature_names), medians=medians,
                   numeric_missing=numeric_missing, categories=categories,
                   most_frequent=most_frequent, categorical_missing=categorical_missing)

    def transform(self, table) -> np.ndarray:
        """The float32 input matrix of ``table`` (its numeric matrix is imputed in place)."""
        matrix = table.features
        extra = []
        if self.numeric_missing or self.impute:
            index = {n: j for j, n in enumerate(self.numeric)}
            for name in self.numeric_missing:
                extra.append(np.isnan(matrix[:, index[name]]))
            if self.impute:
                _impute_(matrix, np.asarray(self.medians, dtype=np.float32))
        for name, cats in self.categories.items():
            values = table.categorical[name]
            missing = np.equal(values, None)
            if missing.any() and not self.impute:
                raise GputrainError(f"{table.path}: column {name!r} has a missing value at "
                                    f"row {int(np.argmax(missing))} (--no-impute)")
            filled = np.where(missing, self.most_frequent[name], values)
            code = {c: j for j, c in enumerate(cats)}
            codes = np.fromiter((code.get(v, -1) for v in filled), dtype=np.int64,
                                count=len(filled))
            extra.append(codes[:, None] == np.arange(len(cats)))  # unseen: all zeros
        for name in self.categorical_missing:
            extra.append(np.equal(table.categorical[name], None))
        if not extra:
            return matrix
        blocks = [b[:, None] if b.ndim == 1 else b for b in extra]
        return np.concatenate([matrix] + [b.astype(np.float32) for b in blocks], axis=1)

    def read(self, path, label: str | None):
        """``read_table`` of the columns this encoder needs from ``path``."""
        from gputrain.mlp.data import read_table

        table = read_table(path, self.columns, label, categorical=True, missing=self.impute)
        for name in self.columns:
            was, now = name in self.categories, name in table.categorical
            if was != now:
                kinds = ("numeric", "a string column")
                raise GputrainError(f"{path}: column {name!r} was {kinds[was]} in training "
                                    f"and is {kinds[now]} here")
        return table


def _impute_(matrix: np.ndarray, fill: np.ndarray) -> None:
    for start in range(0, matrix.shape[0], 8192):
        block = matrix[start:start + 8192]
        holes = np.isnan(block)
        if holes.any():
            block[holes] = np.broadcast_to(fill, block.shape)[holes]


def _refuse_missing(table) -> None:
    """--no-impute on a table that did not come through ``read_table`` (which refuses
    missing values itself): the first NaN, by column and row."""
    for start in range(0, table.features.shape[0], 8192):
        holes = np.isnan(table.features[start:start + 8192])
        if holes.any():
            r, j = np.argwhere(holes)[0]
            raise GputrainError(f"{table.path}: column {table.feature_names[j]!r} has a "
                                f"missing value at row {start + r} (--no-impute)")


def _first_missing(values: np.ndarray) -> int:
    return int(np.argmax(np.equal(values, None)))
