"""Stochastic gradient descent: plain, with (heavy-ball) momentum, and Nesterov.

Full-batch, mini-batch and per-example SGD are the same rule with different batch sizes.
With ``g = grad + weight_decay * p`` (L2) the updates are, as in PyTorch's ``SGD``
(dampening 0):

- plain:     ``p -= lr * g``
- momentum:  ``b = mu * b + g`` (``b = g`` on the first step); ``p -= lr * b``
- Nesterov:  ``b`` as above; ``p -= lr * (g + mu * b)``

Sparse gradients: plain SGD updates only the touched rows (``sparse.sgd_rows``; the L2
term is applied to touched rows only). With momentum the buffer of every row decays on
every step, so a sparse gradient is densified and the exact dense rule runs.
"""

from __future__ import annotations

from gputrain.backend import get_array_module
from gputrain.errors import GputrainError
from gputrain.optim.optimizer import Optimizer, check_nonnegative, check_positive
from gputrain.optim.sparse import coalesce_rows, sgd_rows


class SGD(Optimizer):
    """``SGD(params, lr, momentum=0.0, nesterov=False, weight_decay=0.0)``."""

    name = "sgd"
    hyper_names = ("momentum", "nesterov")

    def __init__(self, params, lr: float = 0.01, momentum: float = 0.0,
                 nesterov: bool = False, weight_decay: float = 0.0):
        super().__init__(params, lr, weight_decay)
        self.momentum = check_nonnegative(self.name, "momentum", momentum)
        self.nesterov = bool(nesterov)
        if self.nesterov and self.momentum <= 0:
            raise GputrainError(f"{self.name}: nesterov needs momentum > 0")

    @property
    def slot_names(self):
        return ("momentum_buffer",) if self.momentum else ()

    def _update_dense(self, i, p, grad, state):
        xp = get_array_module(p.data)
        g = self.l2_grad(i, p, grad)
        if not self.momentum:
            step = self.scratch(i, "step", p.data)
            xp.multiply(g, self.lr, out=step)
            p.data -= step
            return
        buf = state["momentum_buffer"]
        if state["step"] == 1:
            buf[...] = g
        else:
            buf *= self.momentum
            buf += g
        step = self.scratch(i, "step", p.data)
        if self.nesterov:
            xp.multiply(buf, self.momentum, out=step)
            step += g
            step *= self.lr
        else:
            xp.multiply(buf, self.lr, out=step)
        p.data -= step

    def _update_sparse(self, i, p, grad, state):
        if self.momentum:
            return super()._update_sparse(i, p, grad, state)
        rows, values = grad.rows, grad.values
        if self.weight_decay:
            rows, values = coalesce_rows(rows, values, p.data.shape)
            values += self.weight_decay * p.data[rows]
        sgd_rows(p.data, rows, values, self.lr)


class Momentum(SGD):
    """SGD with heavy-ball momentum (``mu`` = 0.9 by default)."""

    name = "momentum"
    use_nesterov = False

    def __init__(self, params, lr: float = 0.01, momentum: float = 0.9,
                 weight_decay: float = 0.0):
        check_positive(self.name, "momentum", momentum)
        super().__init__(params, lr, momentum=momentum, nesterov=self.use_nesterov,
                         weight_decay=weight_decay)


class Nesterov(Momentum):
    """SGD with Nesterov momentum (``mu`` = 0.9 by default)."""

    name = "nesterov"
    use_nesterov = True
