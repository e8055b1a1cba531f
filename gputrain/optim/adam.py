"""Adam (Kingma & Ba 2015) and AdamW (Loshchilov & Hutter 2019).

Adam, with ``g = grad + weight_decay * p`` (L2) and ``t`` the parameter's step count:
``m = b1*m + (1-b1)*g``, ``v = b2*v + (1-b2)*g*g``,
``p -= lr * (m / (1-b1**t)) / (sqrt(v / (1-b2**t)) + eps)``.

AdamW decouples the decay from the gradient: ``p *= 1 - lr*weight_decay``, then the Adam
step with ``g = grad`` (weight_decay defaults to 0.01, as in PyTorch).

On a GPU, the dense updates of a step are one launch for up to 8 float32 parameters
(``kernels.adam_multi``, NumPy twin :func:`adam_multi`) instead of 12 per parameter.

Sparse gradients (``SparseGrad``) are applied lazily, like PyTorch's ``SparseAdam``: only
the touched rows' moments decay and only touched rows move (``sparse.adam_rows``); the
weight decay (L2 for Adam, decoupled for AdamW) also acts on the touched rows only. This
differs from the dense rule for rows that were touched before but not now. (PyTorch's
SparseAdam also moves eps outside the bias correction; we keep dense Adam's formula, so a
step that touches every row is exactly the dense step.)
"""

from __future__ import annotations

import math

import numpy

from gputrain.backend import device_of, get_array_module, is_gpu_array
from gputrain.optim.optimizer import Optimizer, check_positive, check_unit
from gputrain.optim.sparse import adam_rows, coalesce_rows


class Adam(Optimizer):
    """``Adam(params, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0)``;
    ``betas=(b1, b2)`` is accepted too."""

    name = "adam"
    hyper_names = ("beta1", "beta2", "eps")
    slot_names = ("m", "v")
    decoupled = False

    def __init__(self, params, lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-8, weight_decay: float = 0.0, betas=None):
        super().__init__(params, lr, weight_decay)
        if betas is not None:
            beta1, beta2 = betas
        self.beta1 = check_unit(self.name, "beta1", beta1)
        self.beta2 = check_unit(self.name, "beta2", beta2)
        self.eps = check_positive(self.name, "eps", eps)

    def _update_dense(self, i, p, grad, state):
        xp = get_array_module(p.data)
        if self.decoupled:
            if self.weight_decay:
                p.data *= 1.0 - self.lr * self.weight_decay
            g = grad
        else:
            g = self.l2_grad(i, p, grad)
        b1, b2, t = self.beta1, self.beta2, state["step"]
        m, v = state["m"], state["v"]
        tmp = self.scratch(i, "tmp", p.data)
        xp.subtract(g, m, out=tmp)  # m += (1-b1)(g - m)  ==  b1*m + (1-b1)*g
        tmp *= 1.0 - b1
        m += tmp
        xp.multiply(g, g, out=tmp)  # v += (1-b2)(g*g - v)
        tmp -= v
        tmp *= 1.0 - b2
        v += tmp
        # lr/bc1 * m / (sqrt(v)/sqrt(bc2) + eps) == c * m / (sqrt(v) + eps*sqrt(bc2))
        root_bc2 = math.sqrt(1.0 - b2**t)
        xp.sqrt(v, out=tmp)
        tmp += self.eps * root_bc2
        xp.divide(m, tmp, out=tmp)
        tmp *= self.lr * root_bc2 / (1.0 - b1**t)
        p.data -= tmp

    def _update_dense_group(self, indices):
        """On a GPU: float32 parameters sharing a step count and a device, one launch per 8
        (``kernels.adam_multi``); anything else one parameter at a time."""
        fused: dict = {}
        rest = []
        for i in indices:
            p = self.params[i]
            if is_gpu_array(p.data) and p.data.dtype == numpy.float32 == p.grad.dtype:
                fused.setdefault((self.state[i]["step"], device_of(p.data)), []).append(i)
            else:
                rest.append(i)
        super()._update_dense_group(rest)
        from gputrain import kernels

        for (step, device), group in fused.items():
            xp = get_array_module(self.params[group[0]].data)
            with device.activate():
                kernels.adam_multi(
                    [self.params[i].data for i in group],
                    [xp.ascontiguousarray(self.params[i].grad) for i in group],
                    [self.state[i]["m"] for i in group], [self.state[i]["v"] for i in group],
                    self.lr, self.beta1, self.beta2, self.eps, self.weight_decay, step,
                    self.decoupled)

    def _update_sparse(self, i, p, grad, state):
        rows, values = grad.rows, grad.values
        if self.weight_decay:
            rows, values = coalesce_rows(rows, values, p.data.shape)
            if self.decoupled:
                p.data[rows] *= 1.0 - self.lr * self.weight_decay
            else:
                values += self.weight_decay * p.data[rows]
        adam_rows(p.data, state["m"], state["v"], rows, values, self.lr, self.beta1,
                  self.beta2, self.eps, state["step"])


class AdamW(Adam):
    """Adam with decoupled weight decay (default 0.01)."""

    name = "adamw"
    decoupled = True

    def __init__(self, params, lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-8, weight_decay: float = 0.01, betas=None):
        super().__init__(params, lr, beta1, beta2, eps, weight_decay, betas)


def adam_multi(params, grads, ms, vs, lr: float, beta1: float, beta2: float, eps: float,
               weight_decay: float, step: int, decoupled: bool) -> None:
    """NumPy twin of ``kernels.adam_multi``: Adam (L2) or AdamW (``decoupled``) on lists of
    float32 arrays in place, in the kernel's float32 arithmetic (which is also
    ``Adam._update_dense``'s)."""
    f32 = numpy.float32
    root_bc2 = math.sqrt(1.0 - beta2**step)
    step_size = f32(lr * root_bc2 / (1.0 - beta1**step))
    eps_hat = f32(eps * root_bc2)
    for p, g, m, v in zip(params, grads, ms, vs, strict=True):
        xp = get_array_module(p)
        if decoupled:
            p *= f32(1.0 - lr * weight_decay)
        else:
            g = g + f32(weight_decay) * p
        m += f32(1.0 - beta1) * (g - m)
        v += f32(1.0 - beta2) * (g * g - v)
        p -= step_size * (m / (xp.sqrt(v) + eps_hat))
