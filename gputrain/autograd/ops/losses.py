"""Fused losses from logits: softmax + cross-entropy, sigmoid + binary cross-entropy;
and mean squared error (a composite).

The four ``*_forward`` / ``*_backward`` array functions below are the NumPy twins of the
CUDA kernels in :mod:`gputrain.kernels`: on float32 GPU arrays they hand the work to the
kernel (made C-contiguous by the ops below: kernels ignore strides), on NumPy arrays
they compute the same numbers. Keep their names and signatures: the kernel tests
compare the two.
"""

from __future__ import annotations

import numpy

from gputrain.autograd.tensor import Function, Tensor
from gputrain.autograd.tensor import array_module as _xp
from gputrain.backend import is_gpu_array

REDUCTIONS = ("mean", "sum", "none")


# -- array functions (NumPy twins of the CUDA kernels) ---------------------------------
def _use_kernel(*arrays) -> bool:
    """The CUDA kernels take float32 CuPy arrays; other GPU dtypes (float64 in gradient
    checks) run the same array code as NumPy, through CuPy."""
    return is_gpu_array(arrays[0]) and all(a.dtype == numpy.float32 for a in arrays)


def _kernels():
    from gputrain import kernels

    return kernels


def sigmoid_bce_forward(x, t):
    """Elementwise ``-t*log(sigmoid(x)) - (1-t)*log(1-sigmoid(x))``, stable for any |x|:
    ``max(x, 0) - x*t + log1p(exp(-|x|))``."""
    if _use_kernel(x, t):
        return _kernels().sigmoid_bce_forward(x, t)
    xp = _xp(x)
    return xp.maximum(x, 0) - x * t + xp.log1p(xp.exp(-xp.abs(x)))


def sigmoid_bce_backward(x, t, gy, scale: float = 1.0):
    """``(sigmoid(x) - t) * gy * scale``; ``gy`` of ``x``'s shape or one value."""
    if _use_kernel(x, t, gy):
        return _kernels().sigmoid_bce_backward(x, t, gy, scale)
    from gputrain.autograd.ops.activations import stable_sigmoid

    return (stable_sigmoid(x) - t) * (gy * scale)


def softmax_xent_forward(logits, labels):
    """Per-row cross-entropy of softmax(logits) against int labels, and the softmax:
    ``(loss (N,), probs (N, C))``."""
    if _use_kernel(logits):
        return _kernels().softmax_xent_forward(logits, labels)
    xp = _xp(logits)
    shifted = logits - logits.max(axis=1, keepdims=True)
    probs = xp.exp(shifted)
    total = probs.sum(axis=1, keepdims=True)
    probs /= total
    rows = xp.arange(len(labels))
    loss = xp.log(total[:, 0]) - shifted[rows, labels]
    return loss, probs


def softmax_xent_forward_reduced(logits, labels, scale: float, bias=None, tally=None):
    """``(total, probs)`` of softmax(``logits`` + ``bias``): ``scale`` times the sum of the
    per-row cross-entropies (a 0-d array; ``scale`` 1/N gives the mean), summed in row
    order as the kernel does. ``tally`` (float64 (2,), or None): the rows' loss sum (in
    float64, row order) and their count of argmax == label are added to it in place."""
    if _use_kernel(logits) and (bias is None or bias.dtype == numpy.float32):
        return _kernels().softmax_xent_forward_reduced(logits, labels, scale, bias, tally)
    z = logits if bias is None else logits + bias
    loss, probs = softmax_xent_forward(z, labels)
    xp = _xp(loss)
    total = xp.cumsum(loss)[-1] if len(loss) else loss.sum()  # in row order
    if tally is not None:
        # the kernel's argmax skips NaNs (fmaxf); a NaN row's loss is NaN either way
        tally[0] += xp.cumsum(loss, dtype=xp.float64)[-1] if len(loss) else 0.0
        tally[1] += (z.argmax(axis=1) == labels).sum() if len(loss) else 0
    return xp.asarray(total * loss.dtype.type(scale)), probs


def softmax_xent_backward(probs, labels, gy, scale: float = 1.0):
    """``(gx, gb)``: ``gx = (probs - onehot(labels)) * gy[:, None] * scale`` (``gy`` (N,)
    or one value) and its column sums ``gb`` (the gradient of a bias added to the logits)."""
    if _use_kernel(probs, gy):
        return _kernels().softmax_xent_backward(probs, labels, gy, scale)
    xp = _xp(probs)
    gy = xp.broadcast_to(gy * scale, (len(labels),))
    grad = probs * gy[:, None]
    grad[xp.arange(len(labels)), labels] -= gy
    return grad, grad.sum(axis=0)


# -- ops -------------------------------------------------------------------------------
def _reduce(loss, reduction):
    if reduction == "mean":
        return _xp(loss).asarray(loss.mean())
    if reduction == "sum":
        return _xp(loss).asarray(loss.sum())
    return loss


def _scale(reduction, shape) -> float:
    """What the backward kernels multiply the upstream gradient by: 1/size for a mean."""
    size = 1
    for n in shape:
        size *= n
    return 1.0 / size if reduction == "mean" and size else 1.0


def _check_reduction(reduction):
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")


def _contiguous(a):
    """GPU operands of a kernel must be C-contiguous; NumPy code takes any strides."""
    return _xp(a).ascontiguousarray(a) if is_gpu_array(a) else a


class SoftmaxCrossEntropy(Function):
    """Cross-entropy of softmax(logits (N, C) [+ bias (C,)]) against labels (N,) (no
    gradient for the labels). ``tally``: see :func:`softmax_cross_entropy`."""

    reduction: str = "mean"
    tally = None

    def forward(self, logits, labels, bias=None):
        self.labels, logits = _contiguous(labels), _contiguous(logits)
        if self.reduction == "none":
            z = logits if bias is None else logits + bias
            loss, self.probs = softmax_xent_forward(z, self.labels)
            return loss
        # the reduction, its scale, the bias and the tallies live in the kernels: no
        # launch of their own
        total, self.probs = softmax_xent_forward_reduced(
            logits, self.labels, _scale(self.reduction, self.labels.shape),
            None if bias is None else _contiguous(bias), self.tally)
        return total

    def backward(self, gy):
        scale = _scale(self.reduction, self.labels.shape)
        gx, gb = softmax_xent_backward(self.probs, self.labels, _contiguous(gy), scale)
        return (gx, None, gb)[:len(self.inputs)]


class SigmoidBCE(Function):
    """Binary cross-entropy of sigmoid(x) against targets t in [0, 1] (no gradient)."""

    reduction: str = "mean"

    def forward(self, x, t):
        self.x, self.t = _contiguous(x), _contiguous(t)
        return _reduce(sigmoid_bce_forward(self.x, self.t), self.reduction)

    def backward(self, gy):
        scale = _scale(self.reduction, self.x.shape)
        return sigmoid_bce_backward(self.x, self.t, _contiguous(gy), scale), None


def _labels_array(labels, like: Tensor):
    xp = like.xp
    data = labels.data if isinstance(labels, Tensor) else labels
    data = xp.asarray(data)
    if data.dtype.kind not in "iu":
        raise ValueError(f"labels must be integers, got dtype {data.dtype}")
    return data.astype(xp.int32, copy=False)


def softmax_cross_entropy(logits, labels, reduction: str = "mean", bias=None,
                          tally=None) -> Tensor:
    """Softmax + cross-entropy from ``logits`` (N, C) and int ``labels`` (N,).

    ``reduction``: ``mean`` over rows (default), ``sum`` or ``none`` (per-row losses).
    ``bias`` (C,): the loss of ``logits + bias`` (a Linear's bias folded into the fused
    loss: on a GPU its add and its gradient's sum cost no launch of their own). ``tally``
    (mean or sum only): a float64 (2,) array of the same device to which the forward adds
    the rows' loss sum and the number of rows whose largest logit is their label (a
    training loop's running tallies, read when it reports, not per batch).
    Labels outside [0, C) are an error on the CPU; on the GPU they are not checked (that
    would cost a device sync per batch), so validate them once up front.
    """
    _check_reduction(reduction)
    logits = logits if isinstance(logits, Tensor) else Tensor(logits)
    if logits.ndim != 2:
        raise ValueError(f"logits must be (N, C), got shape {logits.shape}")
    labels = _labels_array(labels, logits)
    if labels.shape != (logits.shape[0],):
        raise ValueError(f"labels must be ({logits.shape[0]},), got shape {labels.shape}")
    if not is_gpu_array(labels) and labels.size and (
            labels.min() < 0 or labels.max() >= logits.shape[1]):  # -1 would index the end
        raise ValueError(f"labels must be in [0, {logits.shape[1]}), got "
                         f"{int(labels.min())}..{int(labels.max())}")
    if tally is not None and (reduction == "none" or tally.shape != (2,)
                              or tally.dtype != numpy.float64):
        raise ValueError("tally must be a float64 array of shape (2,), with reduction mean "
                         "or sum")
    inputs = (logits, Tensor(labels))
    if bias is not None:
        bias = bias if isinstance(bias, Tensor) else Tensor(bias)
        if bias.shape != (logits.shape[1],):
            raise ValueError(f"bias must be ({logits.shape[1]},), got shape {bias.shape}")
        inputs += (bias,)
    return SoftmaxCrossEntropy.apply(*inputs, reduction=reduction, tally=tally)


def sigmoid_bce_with_logits(x, t, reduction: str = "mean") -> Tensor:
    """Sigmoid + binary cross-entropy from logits ``x`` and targets ``t`` (same shape);
    finite and exact for |x| up to 1e4 and beyond."""
    _check_reduction(reduction)
    x = x if isinstance(x, Tensor) else Tensor(x)
    t_data = t.data if isinstance(t, Tensor) else x.xp.asarray(t, dtype=x.dtype)
    if t_data.shape != x.shape:
        if t_data.ndim:
            raise ValueError(f"sigmoid_bce_with_logits: logits shape {x.shape} and target "
                             f"shape {t_data.shape} differ")
        t_data = x.xp.broadcast_to(t_data, x.shape)
    return SigmoidBCE.apply(x, Tensor(t_data.astype(x.dtype, copy=False)), reduction=reduction)


def mse(pred, target, reduction: str = "mean") -> Tensor:
    """Mean squared error ``mean((pred - target)**2)`` (built from primitives).

    ``pred`` and ``target`` must have the same shape (or one be a scalar): an (N, 1)
    prediction against an (N,) target is an error, not an (N, N) broadcast.
    """
    from gputrain.autograd.ops.arithmetic import pow, sub
    from gputrain.autograd.ops.reductions import mean
    from gputrain.autograd.ops.reductions import sum as sum_

    _check_reduction(reduction)
    shapes = [v.shape if hasattr(v, "shape") else () for v in (pred, target)]
    if shapes[0] != shapes[1] and shapes[0] and shapes[1]:
        # (N, 1) - (N,) would silently broadcast to (N, N)
        raise ValueError(f"mse: prediction shape {tuple(shapes[0])} and target shape "
                         f"{tuple(shapes[1])} differ; reshape one of them")
    sq = pow(sub(pred, target), 2)
    if reduction == "mean":
        return mean(sq)
    return sum_(sq) if reduction == "sum" else sq
