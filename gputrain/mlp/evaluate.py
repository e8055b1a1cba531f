"""Scoring and prediction with a trained MLP (no gradients, eval mode, in batches).

``score`` is shared by training (validation) and ``gputrain mlp eval``: classification
reports ``accuracy`` and ``loss`` (mean cross-entropy); regression reports ``loss`` (mean
squared error in the target's own units) and ``rmse``. ``gputrain mlp eval`` adds macro
precision, recall, F1 and ROC AUC, or R² (:mod:`gputrain.mlp.metrics`).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from gputrain.autograd import Tensor, no_grad
from gputrain.backend import Device, get_array_module, to_cpu, to_device
from gputrain.errors import GputrainError
from gputrain.mlp.checkpoint import load_model_files
from gputrain.mlp.data import read_columns, read_table, split_suffix
from gputrain.mlp.encode import Encoder
from gputrain.mlp.heads import make_head
from gputrain.mlp.metrics import classification_metrics, r2_score
from gputrain.mlp.model import build_network
from gputrain.mlp.preprocess import encode_classes, regression_targets, standardize_


def score(network, features, targets, rows, task: str, batch_size: int = 4096,
          target_std: float = 1.0, output: str = "softmax") -> dict:
    """Metrics of ``network`` on ``rows`` (None: all) of device arrays features/targets."""
    xp = get_array_module(features)
    head = make_head(task, output)
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
                loss_sum += head.loss(out, y, reduction="sum").data
                if head.classify:
                    correct += (head.predicted(out.data) == y).sum()
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
    network = build_network(meta["n_in"], meta["n_out"], meta["config"], device)
    network.load_state_dict(weights)
    network.eval()
    return network, meta, mean, std


def read_features(meta: dict, path, label: str | None, mean, std):
    """(standardised input matrix on the host, the table) of ``path`` for this model."""
    if meta.get("encoder"):
        encoder = Encoder.from_dict(meta["encoder"])
        table = encoder.read(path, label)
        matrix = encoder.transform(table)
    else:  # a model saved before encoding existed: numeric columns only
        table = read_table(path, meta["features"], label)
        matrix = table.features
    return standardize_(matrix, mean, std), table


def network_outputs(network, features, meta: dict, batch_size: int) -> np.ndarray:
    """Class probabilities (classification) or standardised predictions, on the host."""
    head = make_head(meta["task"], meta["config"].get("output", "softmax"))
    outputs = []
    with no_grad():
        for start in range(0, features.shape[0], batch_size):
            out = network(Tensor(features[start:start + batch_size])).data
            outputs.append(to_cpu(head.proba(out) if head.classify else out))
    if not outputs:
        return np.zeros((0, meta["n_out"]), dtype=np.float32)
    return np.concatenate(outputs)


def _targets(meta: dict, table):
    if meta["task"] == "classify":
        return encode_classes(table.labels, meta["classes"], table.path).astype(np.int32)
    y = regression_targets(table.labels, table.path)
    return ((y - meta["target_mean"]) / meta["target_std"]).astype(np.float32)[:, None]


def evaluate_file(model_dir, data, device: Device, batch_size: int = 4096) -> dict:
    _check_batch(batch_size)
    with device.activate():  # gpu:N — kernels launch on the current device
        return _evaluate(model_dir, data, device, batch_size)


def _evaluate(model_dir, data, device: Device, batch_size: int) -> dict:
    network, meta, mean, std = load_model(model_dir, device)
    matrix, table = read_features(meta, data, meta["label"], mean, std)
    targets = _targets(meta, table)
    features = to_device(matrix, device)
    metrics = score(network, features, to_device(targets, device), None, meta["task"],
                    batch_size, meta.get("target_std", 1.0),
                    meta["config"].get("output", "softmax"))
    out = network_outputs(network, features, meta, batch_size)
    if meta["task"] == "classify":
        metrics |= classification_metrics(targets, out)
    else:
        metrics["r2"] = r2_score(targets[:, 0], out[:, 0])  # scale-free: standardised units
    return metrics | {"rows": table.rows}


def predict_file(model_dir, data, out_path, device: Device, batch_size: int = 4096,
                 keep: list[str] | None = None) -> int:
    """Write predictions for every row of ``data`` to ``out_path``, after the ``keep``
    columns of ``data`` (identifiers) carried through unchanged; returns the row count."""
    import pyarrow as pa

    from gputrain.atomicfile import atomic_path

    _check_batch(batch_size)
    out_format, codec = split_suffix(out_path)
    with device.activate():  # gpu:N — kernels launch on the current device
        network, meta, mean, std = load_model(model_dir, device)
        matrix, table = read_features(meta, data, None, mean, std)
        out = network_outputs(network, to_device(matrix, device), meta, batch_size)
    kept = read_columns(data, keep) if keep else None
    columns = {name: kept.column(name) for name in keep} if keep else {}
    predicted = {}
    if meta["task"] == "classify":
        classes = meta["classes"]
        labels = np.asarray(classes, dtype=object if isinstance(classes[0], str) else None)
        predicted["prediction"] = pa.array(labels[out.argmax(axis=1)])
        for j, name in enumerate(classes):
            predicted[f"prob_{name}"] = pa.array(out[:, j])
    else:
        predicted["prediction"] = pa.array(out[:, 0] * meta["target_std"] + meta["target_mean"])
    clash = sorted(set(columns) & set(predicted))
    if clash:
        raise GputrainError(f"--keep {clash[0]}: the output already has a column of that name")
    result = pa.table({**columns, **predicted})
    with atomic_path(out_path) as tmp:
        _write(result, tmp, out_format, codec)
    return table.rows


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
