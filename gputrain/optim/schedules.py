"""Learning-rate schedules: small objects that set ``optimizer.lr`` from a step count.

A schedule remembers the optimizer's lr when it is built (``base_lr``) and, after each
``step()`` (once per epoch or per batch, the caller decides), sets
``optimizer.lr = lr_at(n)`` where ``n`` is the number of ``step()`` calls so far:

- ``ConstantLR`` (name ``none``): ``base_lr``
- ``StepLR(step_size, gamma=0.1)``: ``base_lr * gamma ** (n // step_size)``
- ``ExponentialLR(gamma)``: ``base_lr * gamma ** n``
- ``LinearLR(total_steps, final_lr=0.0)``: from ``base_lr`` to ``final_lr`` in a straight
  line over ``total_steps`` steps, then ``final_lr``.

``state_dict()`` / ``load_state_dict()`` save ``n`` and ``base_lr`` (plain scalars) and
restore the optimizer's lr, so a resumed run continues on the same curve.
"""

from __future__ import annotations

from gputrain.errors import GputrainError
from gputrain.optim.optimizer import check_nonnegative, check_positive


class LRSchedule:
    name = "none"
    hyper_names: tuple[str, ...] = ()

    def __init__(self, optimizer):
        if not hasattr(optimizer, "lr"):
            raise GputrainError(f"lr schedule {self.name}: {optimizer!r} has no lr")
        self.optimizer = optimizer
        self.base_lr = float(optimizer.lr)
        self.last_step = 0

    def lr_at(self, n: int) -> float:
        return self.base_lr

    def step(self) -> float:
        """Advance one step and set the optimizer's lr; returns the new lr."""
        self.last_step += 1
        self.optimizer.lr = self.lr_at(self.last_step)
        return self.optimizer.lr

    def state_dict(self) -> dict:
        out = {"name": self.name, "base_lr": self.base_lr, "last_step": self.last_step}
        out.update({k: getattr(self, k) for k in self.hyper_names})
        return out

    def load_state_dict(self, sd: dict) -> None:
        name = _scalar(sd.get("name"))
        if name != self.name:
            raise GputrainError(f"lr schedule state is for {name!r}, not {self.name!r}")
        self.base_lr = float(_scalar(sd["base_lr"]))
        self.last_step = int(_scalar(sd["last_step"]))
        for k in self.hyper_names:
            setattr(self, k, _scalar(sd[k]))
        self.optimizer.lr = self.lr_at(self.last_step)

    def __repr__(self) -> str:
        hp = "".join(f", {k}={getattr(self, k)}" for k in self.hyper_names)
        return f"{type(self).__name__}(base_lr={self.base_lr}{hp}, last_step={self.last_step})"


class ConstantLR(LRSchedule):
    name = "none"


class StepLR(LRSchedule):
    name = "step"
    hyper_names = ("step_size", "gamma")

    def __init__(self, optimizer, step_size: int, gamma: float = 0.1):
        super().__init__(optimizer)
        self.step_size = int(check_positive(self.name, "step_size", step_size))
        if self.step_size != step_size:
            raise GputrainError(f"lr schedule step: step_size must be a whole number >= 1, "
                                f"got {step_size}")
        self.gamma = check_nonnegative(self.name, "gamma", gamma)

    def lr_at(self, n):
        return self.base_lr * self.gamma ** (n // self.step_size)


class ExponentialLR(LRSchedule):
    name = "exponential"
    hyper_names = ("gamma",)

    def __init__(self, optimizer, gamma: float):
        super().__init__(optimizer)
        self.gamma = check_nonnegative(self.name, "gamma", gamma)

    def lr_at(self, n):
        return self.base_lr * self.gamma**n


class LinearLR(LRSchedule):
    name = "linear"
    hyper_names = ("total_steps", "final_lr")

    def __init__(self, optimizer, total_steps: int, final_lr: float = 0.0):
        super().__init__(optimizer)
        self.total_steps = int(check_positive(self.name, "total_steps", total_steps))
        if self.total_steps != total_steps:
            raise GputrainError(f"lr schedule linear: total_steps must be a whole number "
                                f">= 1, got {total_steps}")
        self.final_lr = check_nonnegative(self.name, "final_lr", final_lr)

    def lr_at(self, n):
        frac = min(n, self.total_steps) / self.total_steps
        return self.base_lr + (self.final_lr - self.base_lr) * frac


SCHEDULES = {
    "none": ConstantLR,
    "step": StepLR,
    "exponential": ExponentialLR,
    "linear": LinearLR,
}


def make_schedule(name: str, optimizer, **kw) -> LRSchedule:
    """A schedule by name: none, step (step_size, gamma), exponential (gamma),
    linear (total_steps, final_lr)."""
    key = str(name or "none").strip().lower()
    cls = SCHEDULES.get(key)
    if cls is None:
        raise GputrainError(f"unknown lr schedule {name!r}: use {', '.join(SCHEDULES)}")
    try:
        return cls(optimizer, **kw)
    except TypeError as e:  # a missing or unknown option
        raise GputrainError(f"lr schedule {key}: {e}") from None


def _scalar(value):
    return value.item() if hasattr(value, "item") else value
