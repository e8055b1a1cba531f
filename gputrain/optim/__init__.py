"""Optimizers, learning-rate schedules and gradient clipping.

``make_optimizer(name, params, lr=..., **kw)`` builds an optimizer by name (the names in
``OPTIMIZERS``); ``make_schedule(name, optimizer, ...)`` a schedule (``SCHEDULES``).
"""

from __future__ import annotations

from gputrain.errors import GputrainError
from gputrain.optim.adafactor import Adafactor
from gputrain.optim.adam import Adam, AdamW
from gputrain.optim.adaptive import Adadelta, Adagrad, RMSProp
from gputrain.optim.clip import clip_grad_norm, clip_grad_value
from gputrain.optim.optimizer import Optimizer
from gputrain.optim.schedules import (
    SCHEDULES,
    ConstantLR,
    ExponentialLR,
    LinearLR,
    LRSchedule,
    StepLR,
    make_schedule,
)
from gputrain.optim.sgd import SGD, Momentum, Nesterov

OPTIMIZERS = {
    "sgd": SGD,
    "momentum": Momentum,
    "nesterov": Nesterov,
    "adagrad": Adagrad,
    "adadelta": Adadelta,
    "rmsprop": RMSProp,
    "adam": Adam,
    "adamw": AdamW,
    "adafactor": Adafactor,
}


def make_optimizer(name: str, params, lr: float | None = None, **kw) -> Optimizer:
    """An optimizer by name; ``lr=None`` takes the optimizer's default learning rate."""
    key = str(name).strip().lower()
    cls = OPTIMIZERS.get(key)
    if cls is None:
        raise GputrainError(f"unknown optimizer {name!r}: use {', '.join(OPTIMIZERS)}")
    if lr is not None:
        kw["lr"] = lr
    try:
        return cls(params, **kw)
    except TypeError as e:  # an option this optimizer does not take
        raise GputrainError(f"optimizer {key}: {e}") from None


__all__ = [
    "OPTIMIZERS",
    "SCHEDULES",
    "SGD",
    "Adadelta",
    "Adafactor",
    "Adagrad",
    "Adam",
    "AdamW",
    "ConstantLR",
    "ExponentialLR",
    "LRSchedule",
    "LinearLR",
    "Momentum",
    "Nesterov",
    "Optimizer",
    "RMSProp",
    "StepLR",
    "clip_grad_norm",
    "clip_grad_value",
    "make_optimizer",
    "make_schedule",
]
