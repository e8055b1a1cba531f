"""Tensor, Function and the reverse-mode sweep.

A :class:`Tensor` wraps one array (NumPy or CuPy) in ``.data``. An op is a
:class:`Function` subclass with ``forward`` (arrays in, one array out) and ``backward``
(the output's gradient in, one gradient per input out) side by side. Calling
``Op.apply(*inputs, **params)`` runs ``forward`` and, when gradients are wanted, records
the op as the output's creator. ``Tensor.backward()`` walks the recorded graph once in
reverse topological order and accumulates gradients into the ``.grad`` of every leaf
that ``requires_grad``.

A gradient is either a dense array or a :class:`SparseGrad` (rows + values), which is
what an embedding lookup produces so that a 1M x 300 table never gets a dense gradient.
"""

from __future__ import annotations

import contextlib
import threading
from dataclasses import dataclass

import numpy

from gputrain.backend import DEFAULT_DTYPE, get_array_module

_state = threading.local()


def is_grad_enabled() -> bool:
    return getattr(_state, "grad_enabled", True)


@contextlib.contextmanager
def no_grad():
    """Inside this block ops record nothing (inference, evaluation, optimizer steps)."""
    previous = is_grad_enabled()
    _state.grad_enabled = False
    try:
        yield
    finally:
        _state.grad_enabled = previous


@dataclass
class SparseGrad:
    """Gradient of a table that touches a few rows: ``table[rows[i]] += values[i]``.

    ``rows`` may repeat; duplicates are summed when the gradient is applied or densified.
    """

    rows: object  # int array (n,)
    values: object  # float array (n, *row_shape)
    shape: tuple  # shape of the full table

    def to_dense(self):
        xp = get_array_module(self.values)
        dense = xp.zeros(self.shape, dtype=self.values.dtype)
        scatter_add_rows(dense, self.rows, self.values)
        return dense

    def coalesce(self) -> SparseGrad:
        """Same gradient with unique, sorted rows (duplicates summed)."""
        xp = get_array_module(self.values)
        unique, inverse = xp.unique(self.rows, return_inverse=True)
        summed = xp.zeros((len(unique),) + tuple(self.shape[1:]), dtype=self.values.dtype)
        scatter_add_rows(summed, inverse.ravel(), self.values)
        return SparseGrad(unique, summed, self.shape)

    def __add__(self, other):
        if isinstance(other, SparseGrad):
            xp = get_array_module(self.values)
            return SparseGrad(
                xp.concatenate([self.rows, other.rows]),
                xp.concatenate([self.values, other.values]),
                self.shape,
            )
        dense = other.copy()
        scatter_add_rows(dense, self.rows, self.values)
        return dense

    __radd__ = __add__


def scatter_add_rows(table, rows, values) -> None:
    """``table[rows[i]] += values[i]`` with duplicate rows summed, in place.

    NumPy's 2-D ``np.add.at`` is slow; a flat 1-D ``add.at`` over ``row*width + col`` is
    several times faster and exact. CuPy's ``add.at`` (scatter_add) uses atomics.
    """
    xp = get_array_module(table)
    if xp is not numpy:
        xp.add.at(table, rows, values)
        return
    width = int(numpy.prod(table.shape[1:], dtype=numpy.int64)) if table.ndim > 1 else 1
    if width == 1:
        numpy.add.at(table.reshape(-1), rows, values.reshape(-1))
        return
    flat = (numpy.asarray(rows, dtype=numpy.int64)[:, None] * width
            + numpy.arange(width, dtype=numpy.int64)).ravel()
    numpy.add.at(table.reshape(-1), flat, values.reshape(-1))


def accumulate(current, new):
    """Sum two gradients, either of which may be None, dense or sparse."""
    if current is None:
        return new
    if new is None:
        return current
    if isinstance(current, SparseGrad) or isinstance(new, SparseGrad):
        return current + new if isinstance(current, SparseGrad) else new + current
    return current + new


def unbroadcast(grad, shape):
    """Sum ``grad`` down to ``shape``: the backward of NumPy broadcasting."""
    if grad.shape == tuple(shape):
        return grad
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = grad.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad if grad.shape == tuple(shape) else grad.reshape(shape)


def array_module(a):
    """``get_array_module`` for one array, with NumPy arrays answered first (hot path)."""
    return numpy if type(a) is numpy.ndarray else get_array_module(a)


def as_array(value, like=None, dtype=None):
    """Python numbers and lists become float32 arrays (on ``like``'s device when given)."""
    if dtype is None and type(value) is numpy.ndarray and (like is None or type(like) is
                                                            numpy.ndarray):
        return value  # the common case, first
    xp = get_array_module(like) if like is not None else get_array_module(value)
    if isinstance(value, numpy.generic) and dtype is None and like is None:
        return numpy.asarray(value)  # a NumPy scalar (e.g. a reduction) keeps its dtype
    if isinstance(value, (int, float, list, tuple)) or numpy.isscalar(value):
        return xp.asarray(value, dtype=dtype or (like.dtype if like is not None else DEFAULT_DTYPE))
    if like is not None and xp is not numpy and isinstance(value, numpy.ndarray):
        value = xp.asarray(value)  # a host operand of a GPU op goes to the device
    return value if dtype is None else value.astype(dtype, copy=False)


class Tensor:
    """An array with an optional gradient and the op that made it."""

    __array_priority__ = 1000  # so ndarray + Tensor defers to Tensor.__radd__

    def __init__(self, data, requires_grad: bool = False, name: str | None = None):
        if isinstance(data, Tensor):
            data = data.data
        self.data = as_array(data)
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self.name = name
        self.creator: Function | None = None

    # -- array facts -------------------------------------------------------------------
    @property
    def shape(self):
        return self.data.shape

    @property
    def ndim(self):
        return self.data.ndim

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def size(self):
        return self.data.size

    @property
    def xp(self):
        return array_module(self.data)

    def __len__(self):
        return len(self.data)

    def __repr__(self):
        flag = ", requires_grad=True" if self.requires_grad else ""
        return f"Tensor({self.data!r}{flag})"

    def item(self) -> float:
        return float(self.data.reshape(-1)[0]) if self.data.size == 1 else float(self.data)

    def numpy(self):
        from gputrain.backend import to_cpu

        return to_cpu(self.data)

    def detach(self) -> Tensor:
        return Tensor(self.data)

    def zero_grad(self) -> None:
        self.grad = None

    # -- reverse mode -------------------------------------------------------------------
    def backward(self, grad=None, retain_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into every reachable leaf's ``.grad``.

        ``grad`` defaults to ones for a scalar (size-1) tensor. The arrays the ops saved
        for backward are released as the sweep passes them (so a training step does not
        hold two batches of activations); ``retain_graph=True`` keeps them for a second
        ``backward`` through the same graph.
        """
        if not self.requires_grad:
            raise ValueError("backward() on a tensor that does not require grad (made under "
                             "no_grad, or from inputs without requires_grad)")
        if grad is None:
            if self.data.size != 1:
                raise ValueError("backward() without a gradient needs a scalar tensor")
            grad = _seed(self.data)
        else:
            grad = self.xp.asarray(grad.data if isinstance(grad, Tensor) else grad,
                                   dtype=self.dtype)
            if grad.shape != self.shape:
                raise ValueError(f"backward(): gradient shape {grad.shape} != tensor shape "
                                 f"{self.shape}")
        order = _topological_order(self)
        grads = {id(self): grad}
        given = {id(grad)}  # arrays already handed out: a leaf never shares its .grad
        for node in reversed(order):
            g = grads.pop(id(node), None)
            if g is None:
                continue
            fn = node.creator
            if fn is None:
                if node.requires_grad:
                    if node.grad is None:
                        g = _owned(g, given)
                    node.grad = accumulate(node.grad, g)
                continue
            if fn.released:
                raise RuntimeError("backward() through a graph a second time: its saved "
                                   "arrays were released; pass retain_graph=True the first time")
            input_grads = fn.backward(g)
            if not isinstance(input_grads, tuple):
                input_grads = (input_grads,)
            for parent, pg in zip(fn.inputs, input_grads, strict=True):
                if pg is None or not parent.requires_grad:
                    continue
                grads[id(parent)] = accumulate(grads.get(id(parent)), pg)
            if not retain_graph:
                fn.release()

    # Operator overloads are attached by gputrain.autograd.ops (one op, one place).


_seeds: dict = {}


def _seed(data):
    """The gradient of a scalar with respect to itself: a ones array like ``data``, one
    per (device, dtype, shape), made once and reused (on a GPU a fresh one would cost a
    launch every step). Shared, so never written: ops read their upstream gradient, sums
    make new arrays, and a leaf gets a copy of it (``_owned``); a NumPy seed is read-only
    to keep it so."""
    gpu = not isinstance(data, numpy.ndarray)
    key = (type(data), int(data.device.id) if gpu else -1, data.dtype, data.shape)
    seed = _seeds.get(key)
    if seed is None:
        if gpu:
            with data.device:  # CuPy allocates on the current device, not data's
                seed = array_module(data).ones_like(data)
        else:
            seed = numpy.ones_like(data)
            seed.flags.writeable = False
        _seeds[key] = seed
    return seed


def _owned(g, given: set):
    """``g`` or a copy of it that no other leaf shares and that is not a view.

    A leaf owns its ``.grad``: optimizers may update it in place, so it must not be a
    view of another array (reshape, broadcast) nor the very array another leaf got (both
    inputs of an add receive ``gy`` itself).
    """
    if isinstance(g, SparseGrad):
        if g.values.base is not None or id(g.values) in given:
            g = SparseGrad(g.rows, g.values.copy(), g.shape)
        given.add(id(g.values))
        return g
    if g.base is not None or id(g) in given:
        g = g.copy()
    given.add(id(g))
    return g


def _topological_order(root: Tensor) -> list[Tensor]:
    order: list[Tensor] = []
    seen: set[int] = set()
    stack = [(root, False)]
    while stack:  # iterative DFS: deep graphs must not hit the recursion limit
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        if node.creator is not None:
            for parent in node.creator.inputs:
                if parent.requires_grad and id(parent) not in seen:
                    stack.append((parent, False))
    return order


def as_tensor(value, like: Tensor | None = None) -> Tensor:
    if isinstance(value, Tensor):
        return value
    return Tensor(as_array(value, like=like.data if like is not None else None))


class Function:
    """One differentiable op: ``forward(*arrays) -> array`` and ``backward(gy) -> grads``.

    Parameters that are not tensors (axis, p, ...) go to ``__init__`` as keyword
    arguments. ``forward`` may keep on ``self`` whatever ``backward`` needs.
    """

    inputs: tuple[Tensor, ...] = ()
    needs_grad: list[bool] | tuple = ()
    released: bool = False

    def __init__(self, **params):
        self.__dict__.update(params)

    @classmethod
    def apply(cls, *inputs, **params) -> Tensor:
        # this runs for every op of every step: keep the common path (all inputs are
        # tensors) free of per-input conversions
        fn = cls(**params)
        tensors = inputs
        for t in inputs:
            if not isinstance(t, Tensor):
                like = next((t for t in inputs if isinstance(t, Tensor)), None)
                tensors = tuple(as_tensor(x, like=like) for x in inputs)
                break
        y = fn.forward(*[t.data for t in tensors])
        out = Tensor.__new__(Tensor)
        out.data = y if type(y) is numpy.ndarray else as_array(y)
        out.grad = out.name = out.creator = None
        needs = [t.requires_grad for t in tensors]
        out.requires_grad = False
        if any(needs) and is_grad_enabled():
            out.requires_grad = True
            out.creator = fn
            fn.inputs = tensors
            # backward may skip work for inputs that want no gradient (e.g. a data batch)
            fn.needs_grad = needs
        return out

    def release(self) -> None:
        """Drop the inputs and everything ``forward`` saved (after backward)."""
        self.__dict__.clear()
        self.inputs = ()
        self.released = True

    def forward(self, *xs):  # pragma: no cover - abstract
        raise NotImplementedError

    def backward(self, gy):  # pragma: no cover - abstract
        raise NotImplementedError
