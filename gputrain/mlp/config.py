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
from dataclasses import asdict, dataclass, field, fields

from gputrain.errors import OptionError

TASKS = ("classify", "regress")
ACTIVATIONS = ("relu", "tanh", "sigmoid", "leaky_relu", "hardtanh")
INITS = ("auto", "xavier_uniform", "xavier_normal", "he_uniform", "he_normal", "uniform")
SCHEDULES = ("none", "step", "exponential", "linear")
MUTABLE_ON_RESUME = ("epochs", "patience", "test", "data")


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
    batch_size: int = 128
    epochs: int = 10
    dropout: float = 0.1
    l2: float = 0.0
    init: str = "auto"
    lr_schedule: str = "none"
    val_split: float = 0.1
    patience: int = 3
    seed: int = 0
    test: str | None = None

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
        if not self.label:
            raise OptionError("label", "--label: give the label column's name")
        for size in self.hidden:
            if size < 1:
                raise OptionError("hidden", f"--hidden: layer sizes must be >= 1, got {size}")
        if self.lr is not None:
            _number("lr", self.lr, low=0.0, low_open=True)
        _number("dropout", self.dropout, low=0.0, high=1.0)
        _number("--l2", self.l2, low=0.0)
        _number("val_split", self.val_split, low=0.0, high=1.0)
        _integer("batch_size", self.batch_size, 1)
        _integer("epochs", self.epochs, 1)
        _integer("patience", self.patience, 0)
        _integer("seed", self.seed, 0)
        if self.features is not None:
            if not self.features or any(not f for f in self.features):
                raise OptionError("features", "--features: give comma-separated column names")
            if len(set(self.features)) != len(self.features):
                raise OptionError("features", "--features: a column is named twice")
        return self


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
