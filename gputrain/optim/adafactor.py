"""Adafactor (Shazeer & Stern 2018): second moments factored into row and column averages.

Variant: the paper's Algorithms 4-5 as implemented by fairseq / Hugging Face
``transformers.optimization.Adafactor`` (means instead of sums, ``decay_rate`` -0.8,
update clipping, optional first moment, optional relative step), with one difference
asked for by gputrain: ``weight_decay`` is L2 added to the gradient, not decoupled.

For a parameter with gradient ``g = grad + weight_decay * p`` at its step ``t``:

- ``b2 = 1 - t**decay_rate``; ``u = g*g + eps1``
- 2-D and higher (factored over the last two axes):
  ``R = b2*R + (1-b2)*mean(u, -1)`` (one number per row),
  ``C = b2*C + (1-b2)*mean(u, -2)`` (one per column),
  ``V = R[:, None] * C[None, :] / mean(R)``;
  1-D (and scalars): ``V = b2*V + (1-b2)*u`` (unfactored).
- ``x = g / sqrt(V)``; ``x /= max(1, RMS(x) / clip_threshold)``
- step size ``a``: ``lr`` when ``relative_step`` is False; otherwise
  ``min(lr, 1/sqrt(t))`` (lr caps it; 1e-2 when built with ``lr=None``); times
  ``max(eps2, RMS(p))`` when ``scale_parameter``.
- with ``beta1`` > 0: ``m = beta1*m + (1-beta1)*a*x`` and ``p -= m``; else ``p -= a*x``.

``Adafactor(params)`` (lr None) is the paper's setting: relative step and parameter scale.
``Adafactor(params, lr=1e-3)`` uses that lr as it is (relative_step/scale_parameter off).
Sparse gradients are densified.
"""

from __future__ import annotations

import math

from gputrain.backend import get_array_module
from gputrain.optim.optimizer import Optimizer, check_nonpositive, check_positive, check_unit


class Adafactor(Optimizer):
    name = "adafactor"
    hyper_names = ("eps1", "eps2", "clip_threshold", "decay_rate", "beta1",
                   "relative_step", "scale_parameter")

    def __init__(self, params, lr: float | None = None, eps1: float = 1e-30,
                 eps2: float = 1e-3, clip_threshold: float = 1.0, decay_rate: float = -0.8,
                 beta1: float = 0.0, weight_decay: float = 0.0,
                 relative_step: bool | None = None, scale_parameter: bool | None = None):
        default = lr is None
        super().__init__(params, 1e-2 if default else lr, weight_decay)
        self.eps1 = check_positive(self.name, "eps1", eps1)
        self.eps2 = check_positive(self.name, "eps2", eps2)
        self.clip_threshold = check_positive(self.name, "clip_threshold", clip_threshold)
        self.decay_rate = check_nonpositive(self.name, "decay_rate", decay_rate)
        self.beta1 = check_unit(self.name, "beta1", beta1)
        self.relative_step = default if relative_step is None else bool(relative_step)
        self.scale_parameter = default if scale_parameter is None else bool(scale_parameter)

    @staticmethod
    def factored(shape) -> bool:
        return len(shape) >= 2

    def _slot_shape(self, p, slot):
        shape = tuple(p.data.shape)
        if slot == "row":
            return shape[:-1]
        if slot == "col":
            return shape[:-2] + shape[-1:]
        return shape

    def _init_state(self, p, state):
        state["step"] = 0
        xp = get_array_module(p.data)
        slots = ("row", "col") if self.factored(p.data.shape) else ("v",)
        if self.beta1:
            slots += ("m",)
        for slot in slots:
            state[slot] = xp.zeros(self._slot_shape(p, slot), dtype=p.data.dtype)

    def step_size(self, p, t: int) -> float:
        a = min(self.lr, 1.0 / math.sqrt(t)) if self.relative_step else self.lr
        if self.scale_parameter:
            a *= max(self.eps2, _rms(p.data))
        return a

    def _update_dense(self, i, p, grad, state):
        xp = get_array_module(p.data)
        g = self.l2_grad(i, p, grad)
        t = state["step"]
        b2 = 1.0 - t ** self.decay_rate
        x = self.scratch(i, "x", p.data)
        xp.multiply(g, g, out=x)
        x += self.eps1
        if "row" in state:
            row, col = state["row"], state["col"]
            row *= b2
            row += (1.0 - b2) * x.mean(axis=-1)
            col *= b2
            col += (1.0 - b2) * x.mean(axis=-2)
            r = row / row.mean(axis=-1, keepdims=True)
            xp.multiply(r[..., :, None], col[..., None, :], out=x)
        else:
            v = state["v"]
            v *= b2
            x *= 1.0 - b2
            v += x
            x[...] = v
        xp.sqrt(x, out=x)
        xp.divide(g, x, out=x)
        x /= max(1.0, _rms(x) / self.clip_threshold)
        x *= self.step_size(p, t)
        if self.beta1:
            m = state["m"]
            m *= self.beta1
            x *= 1.0 - self.beta1
            m += x
            x = m
        p.data -= x


def _rms(a) -> float:
    return float(math.sqrt(float((a * a).mean()))) if a.size else 0.0
