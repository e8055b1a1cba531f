"""scikit-learn's interface to the MLP trainer: ``MLPClassifier`` and ``MLPRegressor``.

    from gputrain.mlp import MLPClassifier
    clf = MLPClassifier(hidden=(64,), device="auto").fit(X_train, y_train)
    clf.predict(X_test), clf.predict_proba(X_test), clf.score(X_test, y_test)

The estimators run the very trainer that ``gputrain mlp train`` runs (``train_mlp`` on an
in-memory table, nothing written to disk), with the same options under the same names and
the same defaults (``epochs`` is a cap, early stopping on a ``val_split`` of the rows with
``patience`` / ``tol``; automatic ``batch_size`` and ``dropout``). ``X`` is numeric (array,
DataFrame, anything ``check_array`` takes); missing values (NaN) are imputed with the
training medians plus a missing indicator unless ``impute=False``. A pandas DataFrame or a
pyarrow Table with string columns goes through the CLI's encoding instead (one-hot
categories, most-frequent imputation: :mod:`gputrain.mlp.encode`), by column name.
``device`` is ``"cpu"``, ``"gpu"``, ``"gpu:N"`` or ``"auto"``. The fitted model lives in
``model_`` as NumPy arrays, so a fitted estimator pickles and clones like any other.
``partial_fit`` is not offered: the trainer's unit of work is a run with its own stopping
rule, not one batch.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from gputrain.backend import resolve_device, to_device
from gputrain.errors import GputrainError
from gputrain.mlp.config import MLPConfig
from gputrain.mlp.data import Table, arrow_to_table
from gputrain.mlp.encode import Encoder
from gputrain.mlp.evaluate import network_outputs
from gputrain.mlp.model import build_network
from gputrain.mlp.preprocess import standardize_

PREDICT_BATCH = 4096


class _NeverStop:
    requested = False


class _MLPBase(BaseEstimator):
    _task = "classify"

    def _config(self) -> MLPConfig:
        names = ("activation", "maxout", "optimizer", "lr", "batch_size", "epochs", "dropout",
                 "l2", "init", "lr_schedule", "val_split", "patience", "tol", "seed", "impute")
        options = {n: getattr(self, n) for n in names}
        options["hidden"] = [int(h) for h in (self.hidden or ())]
        if self._task == "classify":
            options["output"] = self.output
        return MLPConfig(data="", label="y", out_dir=None, task=self._task, **options)

    def _fit(self, X, y):
        from gputrain.mlp.train import train_mlp

        if isinstance(X, Table):
            table = X
        else:
            X = _own_float32(X)
            table = Table("X", X, [f"x{i}" for i in range(X.shape[1])], None, None)
        if table.rows < 2:
            raise ValueError(f"n_samples={table.rows}: training needs at least 2 samples")
        table.labels, table.label_name = y, "y"
        try:
            config = self._config()
            device = resolve_device(str(self.device))
            result = train_mlp(config, device, progress=bool(self.verbose), stop=_NeverStop(),
                               table=table, plot=False)
        except GputrainError as e:
            raise ValueError(str(e)) from None
        meta, weights, mean, std = result.model
        self.model_ = {"meta": meta, "weights": weights, "mean": mean, "std": std}
        self.history_ = result.history
        self.n_iter_ = len(result.history)
        self.best_epoch_ = result.best_epoch
        self.loss_curve_ = [h["loss"] for h in result.history]
        return self

    def _outputs(self, X) -> np.ndarray:
        """Class probabilities, or standardised predictions, of the rows of X (host)."""
        check_is_fitted(self, "model_")
        meta = self.model_["meta"]
        encoder = Encoder.from_dict(meta["encoder"])
        try:
            if encoder.categories and _arrow(X) is None:  # before sklearn's name checks warn
                raise ValueError("this model was fitted on a table with string columns "
                                 f"({', '.join(encoder.categories)}): predict needs a "
                                 "DataFrame or pyarrow Table with them")
            table = self._table(X, reset=False)
            if not isinstance(table, Table):
                table = Table("X", _own_float32(table), encoder.numeric, None, None)
            matrix = encoder.transform(table)
        except GputrainError as e:
            raise ValueError(str(e)) from None
        matrix = standardize_(matrix, self.model_["mean"], self.model_["std"])
        device = resolve_device(str(self.device))
        with device.activate():
            # built for every call (milliseconds): the estimator holds host arrays only,
            # so it pickles, clones and moves between devices freely
            network = build_network(meta["n_in"], meta["n_out"], meta["config"], device)
            network.load_state_dict(self.model_["weights"])
            return network_outputs(network.eval(), to_device(matrix, device), meta,
                                   PREDICT_BATCH)

    def _table(self, X, reset: bool):
        """A :class:`Table` for a DataFrame / pyarrow Table with string columns (numeric
        and string columns in the order the encoder fitted), else the checked array."""
        frame = _arrow(X)
        if frame is None:
            return validate_data(self, X, reset=reset, ensure_all_finite="allow-nan")
        names = np.asarray(frame.column_names, dtype=object)
        if reset:
            self.n_features_in_, self.feature_names_in_ = len(names), names
        elif list(names) != list(self.feature_names_in_):
            raise ValueError(f"X has columns {list(names)}, but {type(self).__name__} was "
                             f"fitted with {list(self.feature_names_in_)}")
        table = arrow_to_table(frame)
        if not reset:  # the matrix's columns in the fitted order
            meta_numeric = Encoder.from_dict(self.model_["meta"]["encoder"]).numeric
            table = arrow_to_table(frame.select(meta_numeric + list(table.categorical)))
        return table

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags


def _checked(estimator, X, y, **check):
    """(X as an array or a Table, y) after scikit-learn's checks."""
    if _arrow(X) is None:
        return validate_data(estimator, X, y, ensure_all_finite="allow-nan", **check)
    from sklearn.utils.validation import check_array

    if y is None:
        raise ValueError(f"{type(estimator).__name__} requires y to be passed, but the "
                         "target y is None")
    y = check_array(y, ensure_2d=False, dtype=None if not check else "numeric")
    try:
        table = estimator._table(X, reset=True)
    except GputrainError as e:
        raise ValueError(str(e)) from None
    if len(y) != table.rows:
        raise ValueError(f"X has {table.rows} rows but y has {len(y)}")
    return table, y


def _arrow(X):
    """X as a pyarrow Table when it is one, or a pandas DataFrame with a column that is not
    numeric; None for everything scikit-learn's ``check_array`` handles."""
    import pyarrow as pa

    if isinstance(X, pa.Table):
        return X
    if hasattr(X, "dtypes") and hasattr(X, "columns") and any(
            str(t) in ("object", "category", "string") for t in X.dtypes):
        return pa.Table.from_pandas(X, preserve_index=False)
    return None


def _own_float32(X) -> np.ndarray:
    """A C-contiguous float32 copy: standardisation works in place, never on the caller's."""
    return np.array(X, dtype=np.float32, order="C", copy=True)


class MLPClassifier(ClassifierMixin, _MLPBase):
    """Classification with ``gputrain mlp train --task classify``; the parameters are the
    CLI's options (``hidden=(256, 128)`` is ``--hidden 256,128``; ``output="sigmoid"`` is
    ``--output-unit sigmoid``)."""

    _task = "classify"

    def __init__(self, hidden=(256, 128), activation="relu", maxout=0, output="softmax",
                 optimizer="adam", lr=None, batch_size=None, epochs=200, dropout=None,
                 l2=None, init="auto", lr_schedule="none", val_split=None, patience=10,
                 tol=1e-4, seed=0, impute=True, device="auto", verbose=False):
        self.hidden, self.activation, self.maxout, self.output = hidden, activation, maxout, output
        self.optimizer, self.lr, self.batch_size, self.epochs = optimizer, lr, batch_size, epochs
        self.dropout, self.l2, self.init, self.lr_schedule = dropout, l2, init, lr_schedule
        self.val_split, self.patience, self.tol, self.seed = val_split, patience, tol, seed
        self.impute, self.device, self.verbose = impute, device, verbose

    def fit(self, X, y):
        X, y = _checked(self, X, y)
        check_classification_targets(y)
        self.classes_, codes = np.unique(y, return_inverse=True)
        return self._fit(X, codes.astype(np.int64))

    def predict_proba(self, X) -> np.ndarray:
        """(rows, classes) probabilities, columns in the order of ``classes_``."""
        return self._outputs(X).astype(np.float64)

    def predict(self, X) -> np.ndarray:
        out = self._outputs(X)
        return self.classes_[out.argmax(axis=1)]


class MLPRegressor(RegressorMixin, _MLPBase):
    """Regression with ``gputrain mlp train --task regress`` (one output, MSE on the
    standardised target); the parameters are the CLI's options."""

    _task = "regress"

    def __init__(self, hidden=(256, 128), activation="relu", maxout=0, optimizer="adam",
                 lr=None, batch_size=None, epochs=200, dropout=None, l2=None, init="auto",
                 lr_schedule="none", val_split=None, patience=10, tol=1e-4, seed=0,
                 impute=True, device="auto", verbose=False):
        self.hidden, self.activation, self.maxout = hidden, activation, maxout
        self.optimizer, self.lr, self.batch_size, self.epochs = optimizer, lr, batch_size, epochs
        self.dropout, self.l2, self.init, self.lr_schedule = dropout, l2, init, lr_schedule
        self.val_split, self.patience, self.tol, self.seed = val_split, patience, tol, seed
        self.impute, self.device, self.verbose = impute, device, verbose

    def fit(self, X, y):
        X, y = _checked(self, X, y, y_numeric=True)
        return self._fit(X, np.asarray(y, dtype=np.float64))

    def predict(self, X) -> np.ndarray:
        out = self._outputs(X)[:, 0].astype(np.float64)
        meta = self.model_["meta"]
        return out * meta["target_std"] + meta["target_mean"]
