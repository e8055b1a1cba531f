"""Scoring and prediction with a trained MLP (no gradients, eval mode, in batches).

``score`` is shared by training (validation) and ``gputrain mlp eval``: classification
reports ``accuracy`` and ``loss`` (mean cross-entropy); regression reports ``loss`` (mean
squared error in the target's own units) and ``rmse``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from gputrain.autograd import Tensor, no_grad, ops
from gputrain.backend import Device, get_array_module, to_cpu, to_device
from gputrain.errors import GputrainError
from gputrain.mlp.checkpoint import load_model_files
from gputrain.mlp.data import read_table, split_suffix
from gputrain.mlp.model import build_network
from gputrain.mlp.preprocess import encode_classes, regression_targets, standardize_


def score(network, features, targets, rows, task: str, batch_size: int = 4096,
          target_std: float = 1.0) -> dict:
    """Metrics of ``network`` on ``rows`` (None: all) of device arrays features/targets."""
    xp = get_array_module(features)
    total = features.shape[0] if rows is None else len(rows)
    loss_sum = xp.zeros((), dtype=xp.float64)
    correct = xp.zeros((), dtype=xp.int64)
    was_training = network.training
    network.eval()
    try:
        with no_grad():
            for start in range(0, total, batch_size):
                sel = slice(start, start + batch_size)
                idx = sel if rows is None else rows[sel]
                out = network(Tensor(features[idx]))
                y = targets[idx]
                if task == "classify":
                    loss_sum += ops.softmax_cross_entropy(out, y, reduction="sum").data
                    correct += (out.data.argmax(axis=1) == y).sum()
                else:
                    loss_sum += ops.mse(out, y, reduction="sum").data
    finally:
        network.train(was_training)
    loss = float(loss_sum) / max(total, 1)
    if task == "classify":
        return {"accuracy": int(correct) / max(total, 1), "loss": loss}
    loss *= target_std ** 2
    return {"loss": loss, "rmse": math.sqrt(loss)}


def load_model(model_dir: str | Path, device: Device):
    """(network in eval mode, meta, mean, std) of a saved model, on ``device``."""
    meta, weights, mean, std = load_model_files(model_dir)
    cfg = meta["config"]
    network = build_network(meta["n_in"], meta["n_out"], cfg["hidden"], cfg["activation"],
                            cfg["dropout"], cfg["init"], cfg["seed"], device)
    network.load_state_dict(weights)
    network.eval()
    return network, meta, mean, std


def _targets(meta: dict, table, device: Device):
    if meta["task"] == "classify":
        y = encode_classes(table.labels, meta["classes"], table.path).astype(np.int32)
    else:
        y = regression_targets(table.labels, table.path)
        y = ((y - meta["target_mean"]) / meta["target_std"]).astype(np.float32)[:, None]
    return to_device(y, device)


def evaluate_file(model_dir, data, device: Device, batch_size: int = 4096) -> dict:
    _check_batch(batch_size)
    with device.activate():  # gpu:N — kernels launch on the current device
        return _evaluate(model_dir, data, device, batch_size)


def _evaluate(model_dir, data, device: Device, batch_size: int) -> dict:
    network, meta, mean, std = load_model(model_dir, device)
    table = read_table(data, meta["features"], meta["label"])
    features = to_device(standardize_(table.features, mean, std), device)
    targets = _targets(meta, table, device)
    metrics = score(network, features, targets, None, meta["task"], batch_size,
                    meta.get("target_std", 1.0))
    return metrics | {"rows": table.rows}


def predict_file(model_dir, data, out_path, device: Device, batch_size: int = 4096) -> int:
    """Write predictions for every row of ``data`` to ``out_path``; returns the row count."""
    import pyarrow as pa

    from gputrain.atomicfile import atomic_path

    _check_batch(batch_size)
    out_format, codec = split_suffix(out_path)
    with device.activate():  # gpu:N — kernels launch on the current device
        out, meta, rows = _predict(model_dir, data, device, batch_size)
    columns = {}
    if meta["task"] == "classify":
        classes = meta["classes"]
        labels = np.asarray(classes, dtype=object if isinstance(classes[0], str) else None)
        columns["prediction"] = pa.array(labels[out.argmax(axis=1)])
        for j, name in enumerate(classes):
            columns[f"prob_{name}"] = pa.array(out[:, j])
    else:
        columns["prediction"] = pa.array(out[:, 0] * meta["target_std"] + meta["target_mean"])
    result = pa.table(columns)
    with atomic_path(out_path) as tmp:
        _write(result, tmp, out_format, codec)
    return rows


def _predict(model_dir, data, device: Device, batch_size: int):
    """(outputs on the host: class probabilities or standardised values, meta, rows)."""
    network, meta, mean, std = load_model(model_dir, device)
    table = read_table(data, meta["features"], None)
    features = to_device(standardize_(table.features, mean, std), device)
    outputs = []
    with no_grad():
        for start in range(0, table.rows, batch_size):
            out = network(Tensor(features[start:start + batch_size])).data
            if meta["task"] == "classify":
                out = ops.softmax(Tensor(out)).data
            outputs.append(to_cpu(out))
    return np.concatenate(outputs), meta, table.rows


def _write(table, path, fmt: str, codec: str | None = None) -> None:
    if codec:  # only CSV: split_suffix refuses other compressed formats
        import pyarrow as pa
        import pyarrow.csv as pcsv

        with pa.output_stream(str(path), compression=codec) as out:
            pcsv.write_csv(table, out)
    elif fmt == "parquet":
        import pyarrow.parquet as pq

        pq.write_table(table, path)
    elif fmt == "csv":
        import pyarrow.csv as pcsv

        pcsv.write_csv(table, path)
    else:
        import pyarrow.feather as feather

        feather.write_feather(table, path)


def _check_batch(batch_size: int) -> None:
    if batch_size < 1:
        raise GputrainError(f"--batch-size {batch_size}: must be >= 1")
