"""Python operators and convenience methods on ``Tensor`` (``+ - * / ** @``, ``t[i]``,
``t.sum()``, ``t.T`` ...), each a thin call into the op that implements it."""

from __future__ import annotations

from gputrain.autograd.ops import activations as act
from gputrain.autograd.ops import arithmetic as ar
from gputrain.autograd.ops import elementwise as el
from gputrain.autograd.ops import reductions as red
from gputrain.autograd.ops import shape as sh
from gputrain.autograd.tensor import Tensor


def attach() -> None:
    T = Tensor
    T.__add__ = lambda a, b: ar.Add.apply(a, b)
    T.__radd__ = lambda a, b: ar.Add.apply(b, a)
    T.__sub__ = lambda a, b: ar.Sub.apply(a, b)
    T.__rsub__ = lambda a, b: ar.Sub.apply(b, a)
    T.__mul__ = lambda a, b: ar.Mul.apply(a, b)
    T.__rmul__ = lambda a, b: ar.Mul.apply(b, a)
    T.__truediv__ = lambda a, b: ar.Div.apply(a, b)
    T.__rtruediv__ = lambda a, b: ar.Div.apply(b, a)
    T.__neg__ = lambda a: ar.Neg.apply(a)
    T.__pow__ = lambda a, c: ar.pow(a, c)
    T.__rpow__ = lambda a, c: ar.pow(c, a)
    T.__matmul__ = lambda a, b: ar.MatMul.apply(a, b)
    T.__rmatmul__ = lambda a, b: ar.MatMul.apply(b, a)
    T.__getitem__ = sh.getitem
    T.sum = red.sum
    T.mean = red.mean
    T.reshape = sh.reshape
    T.transpose = sh.transpose
    T.T = property(lambda a: sh.transpose(a))
    T.exp = el.exp
    T.log = el.log
    T.relu = act.relu
    T.sigmoid = act.sigmoid
    T.tanh = act.tanh
    T.softmax = act.softmax
    T.log_softmax = act.log_softmax
