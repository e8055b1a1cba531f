"""The files of an MLP model directory, each written atomically.

``model.json``      what the model is: config, task, feature names, classes, sizes, and
                    the best epoch's metrics. Human-readable.
``weights.npz``     the model's weights (``param.<name>``) and the standardisation
                    statistics (``mean``, ``std``). With a validation split these are the
                    weights of the epoch with the lowest validation loss (early stopping
                    keeps the best weights); without one, the last epoch's.
``checkpoint.npz``  everything ``--resume`` needs to continue exactly: the current weights
                    (``model.<name>``), the optimizer state (``optim.<key>``) and a JSON
                    ``state`` (epoch, position inside the epoch, RNG state, best loss,
                    patience counter, metric history, config).
``metrics.jsonl``   one JSON object per finished epoch (rewritten from the history).

Write order inside an epoch is weights, then checkpoint, so a crash between the two
only makes ``--resume`` redo that epoch, which gives the same weights again.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from gputrain.atomicfile import atomic_open
from gputrain.backend import to_cpu
from gputrain.dirlock import hold_directory
from gputrain.errors import GputrainError

MODEL_FILE = "model.json"
WEIGHTS_FILE = "weights.npz"
CHECKPOINT_FILE = "checkpoint.npz"
METRICS_FILE = "metrics.jsonl"
CURVES_FILE = "learning_curves.png"
FORMAT = "gputrain-mlp"
FORMAT_VERSION = 1


def _save_npz(path: Path, arrays: dict) -> None:
    with atomic_open(path, "wb") as f:
        np.savez(f, **{k: to_cpu(v) for k, v in arrays.items()})


def _load_npz(path: Path) -> dict:
    import zipfile
    import zlib

    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except FileNotFoundError:
        raise
    # truncated (not a zip), a flipped byte (bad CRC, bad deflate stream), a bad array header
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as e:
        raise GputrainError(f"{path}: damaged or not a gputrain file ({e}); "
                            f"{_DAMAGED_HINT}") from None


_DAMAGED_HINT = "train the model again (or restore the file from a copy)"


def _require(arrays: dict, keys, path: Path) -> None:
    missing = [k for k in keys if k not in arrays]
    if missing:
        raise GputrainError(f"{path}: not a gputrain MLP file (no {missing[0]!r}); "
                            f"{_DAMAGED_HINT}")


@contextmanager
def model_dir_lock(out_dir) -> Iterator[bool]:
    """Hold the model directory for one run (created if needed; yields True when created
    now): two ``mlp train -o same_dir`` at once would overwrite each other's files."""
    with hold_directory(out_dir, "model directory",
                        f"model directory {out_dir} is in use by another gputrain mlp train "
                        "run; give this one another -o") as created:
        yield created


def model_files(model_dir) -> dict[str, Path]:
    """What a model directory holds (what -> path), e.g. to refuse an output over them."""
    d = Path(model_dir)
    return {f"the model's {name}": d / name
            for name in (MODEL_FILE, WEIGHTS_FILE, CHECKPOINT_FILE, METRICS_FILE, CURVES_FILE)}


def save_model(out_dir: str | Path, meta: dict, weights: dict, mean, std) -> None:
    out = Path(out_dir)
    arrays = {f"param.{k}": v for k, v in weights.items()}
    arrays.update(mean=mean, std=std)
    _save_npz(out / WEIGHTS_FILE, arrays)
    with atomic_open(out / MODEL_FILE, "w", encoding="utf-8") as f:
        json.dump({"format": FORMAT, "version": FORMAT_VERSION, **meta}, f, indent=1)
        f.write("\n")


def load_model_files(model_dir: str | Path) -> tuple[dict, dict, np.ndarray, np.ndarray]:
    """(meta, weights, mean, std) of a saved model; a clear error when it is not one."""
    d = Path(model_dir)
    if not d.is_dir():
        raise GputrainError(f"{d}: no such model directory")
    meta_path = d / MODEL_FILE
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise GputrainError(f"{d}: not a model directory (no {MODEL_FILE}; "
                            "train one with gputrain mlp train)") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise GputrainError(f"{meta_path}: unreadable ({e})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise GputrainError(f"{meta_path}: not a gputrain MLP model")
    _require(meta, ("config", "task", "features", "label", "n_in", "n_out"), meta_path)
    try:
        arrays = _load_npz(d / WEIGHTS_FILE)
    except FileNotFoundError:
        raise GputrainError(f"{d}: model has no {WEIGHTS_FILE}") from None
    _require(arrays, ("mean", "std"), d / WEIGHTS_FILE)
    weights = {k[len("param."):]: v for k, v in arrays.items() if k.startswith("param.")}
    return meta, weights, arrays["mean"], arrays["std"]


def save_checkpoint(out_dir: str | Path, state: dict, weights: dict, optim_state: dict) -> None:
    arrays = {f"model.{k}": v for k, v in weights.items()}
    for key, value in optim_state.items():
        arrays[f"optim.{key}"] = np.asarray(value)
    arrays["state"] = np.asarray(json.dumps(state))
    _save_npz(Path(out_dir) / CHECKPOINT_FILE, arrays)


def load_checkpoint(model_dir: str | Path) -> tuple[dict, dict, dict]:
    """(state, weights, optimizer state) of the checkpoint in ``model_dir``."""
    path = Path(model_dir) / CHECKPOINT_FILE
    if not Path(model_dir).is_dir():
        raise GputrainError(f"--resume {model_dir}: no such directory")
    try:
        arrays = _load_npz(path)
    except FileNotFoundError:
        raise GputrainError(f"--resume {model_dir}: no checkpoint there ({CHECKPOINT_FILE} "
                            "is missing)") from None
    if "state" not in arrays:
        raise GputrainError(f"{path}: not a gputrain MLP checkpoint")
    try:
        state = json.loads(str(arrays.pop("state")))
    except json.JSONDecodeError as e:
        raise GputrainError(f"{path}: damaged checkpoint state ({e})") from None
    if not isinstance(state, dict):
        raise GputrainError(f"{path}: damaged checkpoint state (not a JSON object)")
    _require(state, ("config", "loop", "schedule"), path)
    weights = {k[len("model."):]: v for k, v in arrays.items() if k.startswith("model.")}
    optim = {k[len("optim."):]: _unwrap(v) for k, v in arrays.items() if k.startswith("optim.")}
    return state, weights, optim


def _unwrap(value: np.ndarray):
    """0-d arrays back to Python scalars/strings (what the optimizer saved)."""
    return value.item() if value.ndim == 0 else value


def read_saved_config(model_dir: str | Path) -> dict:
    state, _, _ = load_checkpoint(model_dir)
    return state["config"]


def write_metrics(out_dir: str | Path, history: list[dict]) -> None:
    with atomic_open(Path(out_dir) / METRICS_FILE, "w", encoding="utf-8") as f:
        for record in history:
            f.write(json.dumps(record) + "\n")
