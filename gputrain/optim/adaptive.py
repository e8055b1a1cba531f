"""Per-coordinate adaptive rates: Adagrad, Adadelta, RMSProp (PyTorch's formulas).

With ``g = grad + weight_decay * p`` (L2):

- Adagrad (Duchi et al. 2011): ``s += g*g``; ``p -= lr * g / (sqrt(s) + eps)``.
  Sparse gradients update only the touched rows (``sparse.adagrad_rows``, the twin of the
  CUDA kernel); L2 acts on touched rows only. An untouched row's ``s`` does not change
  under the dense rule either, so the sparse step equals the dense one (without L2).
- Adadelta (Zeiler 2012), no learning rate needed (``lr`` = 1.0 scales the step):
  ``E2 = rho*E2 + (1-rho)*g*g``; ``d = sqrt(D2 + eps) / sqrt(E2 + eps) * g``;
  ``D2 = rho*D2 + (1-rho)*d*d``; ``p -= lr * d``.
- RMSProp (Tieleman & Hinton 2012): ``v = alpha*v + (1-alpha)*g*g``;
  ``p -= lr * g / (sqrt(v) + eps)``; with ``momentum`` mu > 0:
  ``b = mu*b + g / (sqrt(v) + eps)``; ``p -= lr * b``.

Adadelta and RMSProp densify a sparse gradient (their averages decay on every row).
"""

from __future__ import annotations

from gputrain.backend import get_array_module
from gputrain.optim.optimizer import Optimizer, check_nonnegative, check_positive, check_unit
from gputrain.optim.sparse import adagrad_rows, coalesce_rows


class Adagrad(Optimizer):
    """``Adagrad(params, lr=0.01, eps=1e-10, weight_decay=0.0)``."""

    name = "adagrad"
    hyper_names = ("eps",)
    slot_names = ("sum",)

    def __init__(self, params, lr: float = 0.01, eps: float = 1e-10,
                 weight_decay: float = 0.0):
        super().__init__(params, lr, weight_decay)
        self.eps = check_positive(self.name, "eps", eps)

    def _update_dense(self, i, p, grad, state):
        xp = get_array_module(p.data)
        g = self.l2_grad(i, p, grad)
        s = state["sum"]
        tmp = self.scratch(i, "tmp", p.data)
        xp.multiply(g, g, out=tmp)
        s += tmp
        xp.sqrt(s, out=tmp)
        tmp += self.eps
        xp.divide(g, tmp, out=tmp)
        tmp *= self.lr
        p.data -= tmp

    def _update_sparse(self, i, p, grad, state):
        rows, values = grad.rows, grad.values
        if self.weight_decay:
            rows, values = coalesce_rows(rows, values, p.data.shape)
            values += self.weight_decay * p.data[rows]
        adagrad_rows(p.data, state["sum"], rows, values, self.lr, self.eps)


class Adadelta(Optimizer):
    """``Adadelta(params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0)``."""

    name = "adadelta"
    hyper_names = ("rho", "eps")
    slot_names = ("square_avg", "acc_delta")

    def __init__(self, params, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0.0):
        super().__init__(params, lr, weight_decay)
        self.rho = check_unit(self.name, "rho", rho)
        self.eps = check_positive(self.name, "eps", eps)

    def _update_dense(self, i, p, grad, state):
        xp = get_array_module(p.data)
        g = self.l2_grad(i, p, grad)
        rho, eps = self.rho, self.eps
        e2, d2 = state["square_avg"], state["acc_delta"]
        tmp = self.scratch(i, "tmp", p.data)
        delta = self.scratch(i, "delta", p.data)
        xp.multiply(g, g, out=tmp)  # E2 += (1-rho)(g*g - E2)
        tmp -= e2
        tmp *= 1.0 - rho
        e2 += tmp
        xp.add(e2, eps, out=tmp)
        xp.add(d2, eps, out=delta)
        xp.divide(delta, tmp, out=delta)
        xp.sqrt(delta, out=delta)
        delta *= g
        xp.multiply(delta, delta, out=tmp)  # D2 += (1-rho)(d*d - D2)
        tmp -= d2
        tmp *= 1.0 - rho
        d2 += tmp
        if self.lr != 1.0:
            delta *= self.lr
        p.data -= delta


class RMSProp(Optimizer):
    """``RMSProp(params, lr=0.01, alpha=0.99, eps=1e-8, momentum=0.0, weight_decay=0.0)``."""

    name = "rmsprop"
    hyper_names = ("alpha", "eps", "momentum")

    def __init__(self, params, lr: float = 0.01, alpha: float = 0.99, eps: float = 1e-8,
                 momentum: float = 0.0, weight_decay: float = 0.0):
        super().__init__(params, lr, weight_decay)
        self.alpha = check_unit(self.name, "alpha", alpha)
        self.eps = check_positive(self.name, "eps", eps)
        self.momentum = check_nonnegative(self.name, "momentum", momentum)

    @property
    def slot_names(self):
        return ("square_avg", "momentum_buffer") if self.momentum else ("square_avg",)

    def _update_dense(self, i, p, grad, state):
        xp = get_array_module(p.data)
        g = self.l2_grad(i, p, grad)
        v = state["square_avg"]
        tmp = self.scratch(i, "tmp", p.data)
        xp.multiply(g, g, out=tmp)  # v += (1-alpha)(g*g - v)
        tmp -= v
        tmp *= 1.0 - self.alpha
        v += tmp
        xp.sqrt(v, out=tmp)
        tmp += self.eps
        xp.divide(g, tmp, out=tmp)
        if self.momentum:
            buf = state["momentum_buffer"]
            buf *= self.momentum
            buf += tmp
            xp.multiply(buf, self.lr, out=tmp)
        else:
            tmp *= self.lr
        p.data -= tmp
