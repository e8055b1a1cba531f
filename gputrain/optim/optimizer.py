"""The optimizer base class: parameters, hyper-parameters, per-parameter state, checkpoints.

An optimizer holds a list of parameters (any object with ``.data`` and ``.grad``, such as a
:class:`gputrain.autograd.tensor.Tensor` with ``requires_grad=True``). ``step()`` updates
every parameter whose ``.grad`` is not None, in place; ``.grad`` is a dense array or a
:class:`SparseGrad` (a few rows of a table). A subclass writes two methods:

- ``_update_dense(p, grad, state)``: the textbook rule on whole arrays;
- ``_update_sparse(p, grad, state)``: the rule on the touched rows only. The default
  densifies the gradient and runs the dense rule (exact, but as costly as a dense step);
  SGD, Adagrad, Adam and AdamW override it with a lazy row update.

Gradients are never modified in place (autograd may hand the same array to two
parameters); scratch buffers are kept per parameter so that a step allocates nothing.

``state_dict()`` is a FLAT dict of str -> scalar / NumPy array (``np.savez`` can store it as
it is; ``load_state_dict`` accepts what ``np.load`` gives back, 0-d arrays included):
``name``, ``lr`` and the other hyper-parameters, and ``param.<i>.<slot>`` for the state
of parameter ``i`` (``step`` and the moment arrays). Loading moves arrays to each
parameter's device and dtype, so a GPU run can resume from a CPU checkpoint and back.
"""

from __future__ import annotations

import math

import numpy

from gputrain.autograd.tensor import SparseGrad
from gputrain.backend import device_of, get_array_module, to_cpu, to_device
from gputrain.errors import GputrainError
from gputrain.optim.sparse import flat_rows


def check_nonnegative(owner: str, name: str, value) -> float:
    value = _as_float(owner, name, value)
    if not value >= 0:
        raise GputrainError(f"{owner}: {name} must be >= 0, got {value}")
    return value


def check_nonpositive(owner: str, name: str, value) -> float:
    value = _as_float(owner, name, value)
    if not value <= 0:
        raise GputrainError(f"{owner}: {name} must be <= 0, got {value}")
    return value


def check_positive(owner: str, name: str, value) -> float:
    value = _as_float(owner, name, value)
    if not value > 0:
        raise GputrainError(f"{owner}: {name} must be > 0, got {value}")
    return value


def check_unit(owner: str, name: str, value) -> float:
    """A decay rate / beta: in [0, 1)."""
    value = _as_float(owner, name, value)
    if not 0.0 <= value < 1.0:
        raise GputrainError(f"{owner}: {name} must be in [0, 1), got {value}")
    return value


def _as_float(owner: str, name: str, value) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise GputrainError(f"{owner}: {name} must be a number, got {value!r}") from None
    if math.isnan(value) or math.isinf(value):
        raise GputrainError(f"{owner}: {name} must be finite, got {value}")
    return value


def _scalar(value):
    """A Python scalar from a scalar, a 0-d array or a 1-element array (np.load output)."""
    if isinstance(value, numpy.ndarray) or hasattr(value, "item"):
        return value.item()
    return value


class Optimizer:
    """Base class; see the module docstring. ``lr`` can be changed between steps."""

    name = "optimizer"
    hyper_names: tuple[str, ...] = ()  # hyper-parameters besides lr, saved in state_dict
    slot_names: tuple[str, ...] = ()  # per-parameter state arrays

    def __init__(self, params, lr: float, weight_decay: float = 0.0):
        self.params = _unique_params(params, self.name)
        self.lr = lr
        self.weight_decay = check_nonnegative(self.name, "weight_decay", weight_decay)
        self.state: list[dict] = [{} for _ in self.params]
        self._scratch: list[dict] = [{} for _ in self.params]

    # -- hyper-parameters ---------------------------------------------------------------
    @property
    def lr(self) -> float:
        return self._lr

    @lr.setter
    def lr(self, value) -> None:
        self._lr = check_nonnegative(self.name, "lr", value)

    # -- the step -----------------------------------------------------------------------
    def zero_grad(self) -> None:
        """Drop every parameter's gradient (the next backward starts from nothing)."""
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        """Update every parameter that has a gradient, in place."""
        dense: list[int] = []
        for i, p in enumerate(self.params):
            grad = p.grad
            if grad is None:
                continue
            if tuple(grad.shape) != tuple(p.data.shape):
                raise GputrainError(
                    f"{self.name}: gradient shape {tuple(grad.shape)} does not match "
                    f"parameter {i} shape {tuple(p.data.shape)}"
                )
            state = self.state[i]
            if not state:
                self._init_state(p, state)
            state["step"] += 1
            if isinstance(grad, SparseGrad):
                self._update_sparse(i, p, flat_rows(grad), state)
            else:
                dense.append(i)
        if dense:
            self._update_dense_group(dense)

    def _update_dense_group(self, indices: list[int]) -> None:
        """The dense updates of one step; a subclass may fuse them (Adam on a GPU)."""
        for i in indices:
            p = self.params[i]
            self._update_dense(i, p, p.grad, self.state[i])

    def _init_state(self, p, state: dict) -> None:
        state["step"] = 0
        xp = get_array_module(p.data)
        for slot in self.slot_names:
            state[slot] = xp.zeros_like(p.data)

    def _update_dense(self, i: int, p, grad, state: dict) -> None:  # pragma: no cover
        raise NotImplementedError

    def _update_sparse(self, i: int, p, grad: SparseGrad, state: dict) -> None:
        """Default: densify and take the exact dense step (subclasses may be lazier)."""
        self._update_dense(i, p, grad.to_dense(), state)

    def scratch(self, i: int, key: str, like):
        """A reusable buffer shaped like ``like`` for parameter ``i`` (not saved)."""
        buf = self._scratch[i].get(key)
        if buf is None or buf.shape != like.shape or buf.dtype != like.dtype:
            buf = get_array_module(like).empty_like(like)
            self._scratch[i][key] = buf
        return buf

    def l2_grad(self, i: int, p, grad):
        """``grad + weight_decay * p`` in a scratch buffer (``grad`` itself when wd is 0)."""
        if not self.weight_decay:
            return grad
        xp = get_array_module(p.data)
        out = self.scratch(i, "l2", p.data)
        xp.multiply(p.data, self.weight_decay, out=out)
        out += grad
        return out

    # -- checkpoints --------------------------------------------------------------------
    def hyper(self) -> dict:
        return {"lr": self.lr, "weight_decay": self.weight_decay} | {
            k: getattr(self, k) for k in self.hyper_names
        }

    def state_dict(self) -> dict:
        """Flat dict: name, hyper-parameters, ``param.<i>.<slot>`` (NumPy copies)."""
        out: dict = {"name": self.name, "num_params": len(self.params)}
        out.update(self.hyper())
        for i, state in enumerate(self.state):
            for key, value in state.items():
                out[f"param.{i}.{key}"] = (
                    numpy.array(to_cpu(value), copy=True) if hasattr(value, "shape")
                    else value
                )
        return out

    def load_state_dict(self, sd: dict) -> None:
        """Restore what :meth:`state_dict` gave (or ``np.load`` of it); continues exactly."""
        name = _scalar(sd.get("name"))
        if name != self.name:
            raise GputrainError(f"optimizer state is for {name!r}, not {self.name!r}")
        n = int(_scalar(sd.get("num_params", -1)))
        if n != len(self.params):
            raise GputrainError(
                f"{self.name}: optimizer state has {n} parameters, model has {len(self.params)}"
            )
        before = self.hyper()
        try:
            for key in ("lr", "weight_decay", *self.hyper_names):
                if key not in sd:
                    raise GputrainError(f"{self.name}: optimizer state lacks {key!r}")
                setattr(self, key, _scalar(sd[key]))
            states = self._parse_states(sd)
        except Exception:
            for key, value in before.items():  # all or nothing
                setattr(self, key, value)
            raise
        self.state = states

    def _parse_states(self, sd: dict) -> list[dict]:
        states: list[dict] = [{} for _ in self.params]
        for key, value in sd.items():
            if not key.startswith("param."):
                continue
            index, _, slot = key[len("param."):].partition(".")
            if not index.isdigit() or int(index) >= len(self.params) or not slot:
                raise GputrainError(f"{self.name}: unexpected optimizer state key {key!r}")
            i = int(index)
            p = self.params[i]
            if slot == "step":
                states[i][slot] = int(_scalar(value))
                continue
            arr = to_device(value, device_of(p.data), dtype=p.data.dtype)
            if tuple(arr.shape) != self._slot_shape(p, slot):
                raise GputrainError(
                    f"{self.name}: state {key} has shape {tuple(arr.shape)}, expected "
                    f"{self._slot_shape(p, slot)}"
                )
            states[i][slot] = arr.copy() if arr is value else arr
        for i, state in enumerate(states):
            if not state:
                continue
            expected: dict = {}
            self._init_state(self.params[i], expected)
            if set(state) != set(expected):
                raise GputrainError(
                    f"{self.name}: state of parameter {i} has {sorted(state)}, expected "
                    f"{sorted(expected)}"
                )
        return states

    def _slot_shape(self, p, slot: str) -> tuple:
        return tuple(p.data.shape)

    def __repr__(self) -> str:
        hp = ", ".join(f"{k}={v}" for k, v in self.hyper().items())
        return f"{type(self).__name__}({len(self.params)} params, {hp})"


def _unique_params(params, owner: str) -> list:
    if hasattr(params, "parameters") and callable(params.parameters):
        params = params.parameters()
    try:
        params = list(params)
    except TypeError:
        raise GputrainError(f"{owner}: params must be an iterable of tensors") from None
    out, seen = [], set()
    for p in params:
        if not (hasattr(p, "data") and hasattr(p, "grad")):
            raise GputrainError(f"{owner}: parameter {p!r} is not a tensor with .data/.grad")
        if id(p) not in seen:
            seen.add(id(p))
            out.append(p)
    if not out:
        raise GputrainError(f"{owner}: got an empty parameter list")
    return out
