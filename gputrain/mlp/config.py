"""The options of one MLP training run, their checks, and how ``--resume`` merges them.

A run's config is saved in its model directory (``model.json`` and the checkpoint).
``--resume`` takes the saved config; options given again on the command line override
the ones that may change between sessions (``epochs``, ``patience``, ``test``, and the
data path, whose table must have the checkpoint's rows and features) and must agree
with the saved value for everything that shapes the model, the data or the random
streams (changing those would not be a continuation).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields, replace

from gputrain.errors import OptionError

TASKS = ("classify", "regress")
ACTIVATIONS = ("relu", "tanh", "sigmoid", "leaky_relu", "hardtanh", "softplus", "elu", "abs",
               "cos", "prelu", "maxout")
OUTPUTS = ("softmax", "sigmoid")
INITS = ("auto", "xavier_uniform", "xavier_normal", "he_uniform", "he_normal", "uniform")
SCHEDULES = ("none", "step", "exponential", "linear")
MUTABLE_ON_RESUME = ("epochs", "patience", "tol", "test", "data")
MAXOUT_PIECES = 2  # --activation maxout without --maxout K
AUTO_BATCH = 200
AUTO_STEPS = 10
DROPOUT_FROM_ROWS = 5000
VAL_FROM_ROWS = 2000


@dataclass
class MLPConfig:
    data: str
    label: str
    out_dir: str
    features: list[str] | None = None
    task: str = "classify"
    hidden: list[int] = field(default_factory=lambda: [256, 128])
    activation: str = "relu"
    optimizer: str = "adam"
    lr: float | None = None  # None: the optimizer's own default (adam 1e-3, adadelta 1.0, ...)
    batch_size: int | None = None  # None: auto_batch_size(training rows)
    epochs: int = 200  # a cap: early stopping usually ends the run first
    dropout: float | None = None  # None: auto_dropout(training rows)
    l2: float | None = None  # weight decay; None: the optimizer's own (adamw 0.01, others 0)
    init: str = "auto"
    lr_schedule: str = "none"
    val_split: float | None = None  # None: auto_val_split(rows)
    patience: int = 10
    tol: float = 1e-4
    seed: int = 0
    test: str | None = None
    maxout: int = 0  # pieces per maxout unit (0: not maxout)
    output: str = "softmax"
    impute: bool = True
    max_categories: int = 100

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> MLPConfig:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})

    def validate(self) -> MLPConfig:
        """Raise a one-line GputrainError naming the option for any nonsense value."""
        from gputrain.optim import OPTIMIZERS

        _choice("task", self.task, TASKS)
        _choice("activation", self.activation, ACTIVATIONS)
        _choice("init", self.init, INITS)
        _choice("lr_schedule", self.lr_schedule, SCHEDULES)
        _choice("optimizer", self.optimizer, tuple(OPTIMIZERS))
        if self.output not in OUTPUTS:
            raise OptionError("output", f"--output-unit {self.output!r}: use one of "
                              f"{', '.join(OUTPUTS)}")
        if self.output == "sigmoid" and self.task != "classify":
            raise OptionError("output", "--output-unit sigmoid: only for --task classify with "
                              "two classes")
        _integer("maxout", self.maxout, 0)
        if self.maxout == 1:
            raise OptionError("maxout", "--maxout 1: a maxout unit needs K >= 2 pieces")
        if self.maxout and self.activation not in ("relu", "maxout"):
            raise OptionError("maxout", f"--maxout {self.maxout}: the hidden units are maxout "
                              f"units; drop --activation {self.activation}")
        if self.maxout:
            self.activation = "maxout"
        elif self.activation == "maxout":
            self.maxout = MAXOUT_PIECES
        if not self.label:
            raise OptionError("label", "--label: give the label column's name")
        for size in self.hidden:
            if size < 1:
                raise OptionError("hidden", f"--hidden: layer sizes must be >= 1, got {size}")
        if self.lr is not None:
            _number("lr", self.lr, low=0.0, low_open=True)
        if self.dropout is not None:
            _number("dropout", self.dropout, low=0.0, high=1.0)
        if self.l2 is not None:
            _number("l2", self.l2, low=0.0)
        if self.val_split is not None:
            _number("val_split", self.val_split, low=0.0, high=1.0)
        if self.batch_size is not None:
            _integer("batch_size", self.batch_size, 1)
        _integer("epochs", self.epochs, 1)
        _integer("patience", self.patience, 0)
        _number("tol", self.tol, low=0.0)
        _integer("max_categories", self.max_categories, 1)
        _integer("seed", self.seed, 0)
        if self.features is not None:
            if not self.features or any(not f for f in self.features):
                raise OptionError("features", "--features: give comma-separated column names")
            if len(set(self.features)) != len(self.features):
                raise OptionError("features", "--features: a column is named twice")
        return self


def auto_batch_size(train_rows: int) -> int:
    """--batch-size auto: AUTO_BATCH rows (scikit-learn's 200), fewer for small tables so
    that an epoch still takes about AUTO_STEPS optimizer steps."""
    return max(1, min(AUTO_BATCH, -(-train_rows // AUTO_STEPS)))


def auto_dropout(train_rows: int) -> float:
    """--dropout auto: none on small tables (they need every unit to fit in few steps and
    stop early instead), 0.1 from DROPOUT_FROM_ROWS training rows up."""
    return 0.1 if train_rows >= DROPOUT_FROM_ROWS else 0.0


def auto_val_split(rows: int) -> float:
    """--val-split auto: hold out 10% for early stopping from VAL_FROM_ROWS rows up; below
    that a validation set is too small to tell progress from noise (tens of rows), so
    every row trains and the training loss is watched (scikit-learn's default)."""
    return 0.1 if rows >= VAL_FROM_ROWS else 0.0


def resolve_auto(config: MLPConfig, train_rows: int, rows: int) -> MLPConfig:
    """``config`` with the automatic validation split, batch size and dropout replaced by
    numbers (``rows`` in the table, ``train_rows`` of them for training)."""
    return replace(config, val_split=config.val_split if config.val_split is not None
                   else auto_val_split(rows),
                   batch_size=config.batch_size or auto_batch_size(train_rows),
                   dropout=auto_dropout(train_rows) if config.dropout is None
                   else config.dropout)


def parse_hidden(text: str) -> list[int]:
    """``"256,128"`` -> [256, 128]; ``""`` or ``"none"`` -> [] (a linear model)."""
    text = text.strip()
    if text.lower() in ("", "none"):
        return []
    sizes = []
    for part in text.split(","):
        try:
            sizes.append(int(part))
        except ValueError:
            raise OptionError("hidden", f"--hidden {text!r}: expected sizes like 256,128") from None
    return sizes


def merge_for_resume(saved: dict, given: dict) -> MLPConfig:
    """The saved config with ``given`` (options set on the command line) applied."""
    merged = dict(saved)
    for key, value in given.items():
        if key in MUTABLE_ON_RESUME or key == "out_dir":
            merged[key] = value
        elif value != saved.get(key):
            raise OptionError(key, f"--resume: --{key.replace('_', '-')} {_show(value)} differs "
                                f"from the checkpoint's {_show(saved.get(key))}; a resumed run "
                                "keeps its model, data and seed options")
    return MLPConfig.from_dict(merged)


def _show(value) -> str:
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return str(value)


def _flag(field: str) -> str:
    return "--" + field.replace("_", "-")


def _choice(field: str, value: str, choices: tuple) -> None:
    option = _flag(field)
    if value not in choices:
        raise OptionError(field, f"{option} {value!r}: use one of {', '.join(choices)}")


def _number(field: str, value, low=None, high=None, low_open=False) -> None:
    option = _flag(field)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value) \
            or math.isinf(value):
        raise OptionError(field, f"{option}: expected a finite number, got {value!r}")
    if low is not None and (value < low or (low_open and value == low)):
        bound = f"> {low}" if low_open else f">= {low}"
        raise OptionError(field, f"{option} {value}: must be {bound}")
    if high is not None and value >= high:
        raise OptionError(field, f"{option} {value}: must be in [{low}, {high})")


def _integer(field: str, value, low: int) -> None:
    option = _flag(field)
    if isinstance(value, bool) or not isinstance(value, int):
        raise OptionError(field, f"{option}: expected an integer, got {value!r}")
    if value < low:
        raise OptionError(field, f"{option} {value}: must be >= {low}")
