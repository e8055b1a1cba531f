"""A training table made ready for the loop: standardised features and targets on the device.

The feature matrix is read once (float32), encoded (imputation, one-hot categories:
:mod:`gputrain.mlp.encode`), standardised in place with the training rows'
statistics and handed to the device (no copy on the CPU; on a GPU the host copy is dropped
once the device has it). Targets are class indices (int32) for classification, or the
standardised target (float32, shape (rows, 1)) for regression; the statistics, classes and
row split are kept so that a checkpoint can check that ``--resume`` sees the same data.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

import numpy as np

from gputrain.backend import Device, to_device
from gputrain.errors import GputrainError, OptionError
from gputrain.mlp.config import MLPConfig, auto_val_split
from gputrain.mlp.data import Table, read_table
from gputrain.mlp.encode import Encoder
from gputrain.mlp.preprocess import (
    encode_classes,
    fit_classes,
    fit_standardizer,
    regression_targets,
    split_rows,
    standardize_,
)


@dataclass
class PreparedData:
    device: Device
    features: object  # (rows, n_in) float32 on the device, standardised
    targets: object  # (rows,) int32 classes, or (rows, 1) float32 standardised targets
    train_rows: object | None  # device int64 indices; None: every row trains
    val_rows: object | None
    n_train: int
    n_val: int
    feature_names: list[str]
    classes: list | None
    mean: np.ndarray
    std: np.ndarray
    target_mean: float = 0.0
    target_std: float = 1.0
    encoder: Encoder | None = None

    @property
    def xp(self) -> ModuleType:
        return self.device.xp

    @property
    def rows(self) -> int:
        return self.n_train + self.n_val

    @property
    def n_in(self) -> int:
        return len(self.feature_names)

    @property
    def n_out(self) -> int:
        return len(self.classes) if self.classes is not None else 1

    def fingerprint(self) -> dict:
        return {"rows": self.rows, "features": self.feature_names, "classes": self.classes,
                "mean": self.mean.tolist(), "std": self.std.tolist(),
                "target_mean": self.target_mean, "target_std": self.target_std,
                "encoder": self.encoder.to_dict() if self.encoder else None}


def prepare_data(config: MLPConfig, device: Device, saved_state: dict | None,
                 table: Table | None = None) -> PreparedData:
    """``table``: an in-memory table (numeric features, NaN for missing values) instead of
    reading ``config.data``."""
    if table is None:
        table = read_table(config.data, config.features, config.label, categorical=True,
                           missing=config.impute)
    where = table.path
    saved = saved_state["data"] if saved_state else None
    val_split = auto_val_split(table.rows) if config.val_split is None else config.val_split
    train_rows, val_rows = split_rows(table.rows, val_split, config.seed)
    subset = train_rows if len(val_rows) else None
    if saved and saved.get("encoder"):
        encoder = Encoder.from_dict(saved["encoder"])
    else:
        encoder = Encoder.fit(table, subset, config.impute, config.max_categories,
                              table.feature_names + list(table.categorical))
    table.features = encoder.transform(table)
    table.feature_names, table.categorical = encoder.names, {}
    if saved and (saved["rows"] != table.rows or saved["features"] != table.feature_names):
        raise GputrainError(f"--resume: {where} has {table.rows} rows x "
                            f"{len(table.feature_names)} features, the checkpoint was trained "
                            f"on {saved['rows']} x {len(saved['features'])}")
    classes, target_mean, target_std = None, 0.0, 1.0
    if config.task == "classify":
        classes = saved["classes"] if saved else fit_classes(table.labels, where)
        if config.output == "sigmoid" and len(classes) != 2:
            raise OptionError("output", f"--output-unit sigmoid: the label has {len(classes)} "
                              "classes; a sigmoid output is for two (use the default softmax)")
        targets = encode_classes(table.labels, classes, where).astype(np.int32)
    else:
        targets = regression_targets(table.labels, where)
        if saved:
            target_mean, target_std = saved["target_mean"], saved["target_std"]
        else:
            train_targets = targets if subset is None else targets[subset]
            target_mean = float(train_targets.mean(dtype=np.float64))
            target_std = float(train_targets.std(dtype=np.float64)) or 1.0
        targets = ((targets - target_mean) / target_std).astype(np.float32)[:, None]
    table.labels = None
    if saved:
        mean = np.asarray(saved["mean"], dtype=np.float32)
        std = np.asarray(saved["std"], dtype=np.float32)
    else:
        mean, std = fit_standardizer(table.features, subset)
    features = to_device(standardize_(table.features, mean, std), device)
    table.features = None  # on a GPU this frees the host copy
    return PreparedData(
        device=device,
        features=features,
        targets=to_device(targets, device),
        train_rows=None if subset is None else to_device(train_rows, device),
        val_rows=to_device(val_rows, device) if len(val_rows) else None,
        n_train=len(train_rows),
        n_val=len(val_rows),
        feature_names=table.feature_names,
        classes=classes,
        mean=mean,
        std=std,
        target_mean=target_mean,
        target_std=target_std,
        encoder=encoder,
    )
