"""Gradient clipping by global norm and by value (call between backward() and step()).

Both replace ``p.grad`` with a new array (never scale in place: autograd may hand one
array to two parameters). A ``SparseGrad`` is coalesced first, so a row that appears twice
counts with its summed gradient, as in the dense gradient it stands for.
"""

from __future__ import annotations

import math

from gputrain.autograd.tensor import SparseGrad
from gputrain.backend import get_array_module
from gputrain.optim.optimizer import check_positive
from gputrain.optim.sparse import coalesce_rows


def _with_grads(params):
    if hasattr(params, "parameters") and callable(params.parameters):
        params = params.parameters()
    if hasattr(params, "grad"):  # a single tensor
        params = [params]
    out = []
    for p in params:
        if p.grad is None:
            continue
        if isinstance(p.grad, SparseGrad):
            g = p.grad
            rows, values = coalesce_rows(g.rows, g.values, g.shape)
            p.grad = SparseGrad(rows, values, g.shape)
        out.append(p)
    return out


def _array(grad):
    return grad.values if isinstance(grad, SparseGrad) else grad


def _replace(p, array) -> None:
    g = p.grad
    p.grad = SparseGrad(g.rows, array, g.shape) if isinstance(g, SparseGrad) else array


def clip_grad_norm(params, max_norm: float) -> float:
    """Scale all gradients together so that their global L2 norm is at most ``max_norm``.

    Returns the norm before clipping (a float; inf/nan when a gradient is not finite, in
    which case the gradients are left as they are). Scale: ``max_norm / (norm + 1e-6)``
    when that is below 1, as in PyTorch.
    """
    max_norm = check_positive("clip_grad_norm", "max_norm", max_norm)
    ps = _with_grads(params)
    if not ps:
        return 0.0
    total = 0.0
    for p in ps:
        a = _array(p.grad)
        xp = get_array_module(a)
        flat = a.reshape(-1)
        total += float(xp.dot(flat, flat)) if flat.dtype.kind == "f" else float((a * a).sum())
    norm = math.sqrt(total)
    if not math.isfinite(norm):
        return norm
    scale = max_norm / (norm + 1e-6)
    if scale < 1.0:
        for p in ps:
            _replace(p, _array(p.grad) * scale)
    return norm


def clip_grad_value(params, clip_value: float) -> None:
    """Clip every gradient element to ``[-clip_value, clip_value]``."""
    clip_value = check_positive("clip_grad_value", "clip_value", clip_value)
    for p in _with_grads(params):
        a = _array(p.grad)
        _replace(p, get_array_module(a).clip(a, -clip_value, clip_value))
