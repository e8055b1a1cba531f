"""A training table made ready for the loop: standardised features and targets on the device.

The feature matrix is read once (float32), standardised in place with the training rows'
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
from gputrain.errors import GputrainError
from gputrain.mlp.config import MLPConfig
from gputrain.mlp.data import read_table
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
                "target_mean": self.target_mean, "target_std": self.target_std}


def prepare_data(config: MLPConfig, device: Device, saved_state: dict | None) -> PreparedData:
    table = read_table(config.data, config.features, config.label)
    where = table.path
    saved = saved_state["data"] if saved_state else None
    if saved and (saved["rows"] != table.rows or saved["features"] != table.feature_names):
        raise GputrainError(f"--resume: {where} has {table.rows} rows x "
                            f"{len(table.feature_names)} features, the checkpoint was trained "
                            f"on {saved['rows']} x {len(saved['features'])}")
    train_rows, val_rows = split_rows(table.rows, config.val_split, config.seed)
    subset = train_rows if len(val_rows) else None
    classes, target_mean, target_std = None, 0.0, 1.0
    if config.task == "classify":
        classes = saved["classes"] if saved else fit_classes(table.labels, where)
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
    )
