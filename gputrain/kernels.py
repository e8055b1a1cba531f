"""CUDA RawKernels (``kernels/*.cu``) behind plain array functions.

Each function takes CuPy arrays, checks them (float32 data, int32 ids, C-contiguous: a
RawKernel ignores strides and reads raw bytes, so a wrong array would give garbage, not an
error), launches the kernel and returns like its NumPy twin:

=========================  ==============================================================
kernel function            NumPy twin
=========================  ==============================================================
sigmoid_bce_forward        gputrain.autograd.ops.losses.sigmoid_bce_forward
sigmoid_bce_backward       gputrain.autograd.ops.losses.sigmoid_bce_backward
softmax_xent_forward       gputrain.autograd.ops.losses.softmax_xent_forward (and _reduced)
softmax_xent_backward      gputrain.autograd.ops.losses.softmax_xent_backward
sgd_rows, adagrad_rows     gputrain.optim.sparse.sgd_rows, adagrad_rows
w2v_device_train           gputrain.w2v.device_twin.train_launch (the device engine)
w2v_device_draws           gputrain.w2v.sampling (keep_mask, reaches, negatives)
adam_multi                 gputrain.optim.adam.adam_multi (Adam/AdamW, many tensors)
bias_relu_forward/backward gputrain.autograd.ops.fused.bias_relu_forward/backward
=========================  ==============================================================

Nondeterminism: ``sgd_rows``, ``adagrad_rows`` (duplicate rows summed with atomicAdd) and
``w2v_device_train`` (Hogwild updates across blocks) sum in no fixed order;
the loss kernels are deterministic. Each ``.cu`` file is compiled once per device
(``cupy.RawModule``, memoized). The ``.cu`` files ship inside the wheel as
``gputrain/_kernels`` (a link to the top-level ``kernels/`` directory in a checkout).
"""

from __future__ import annotations

import math
import threading
from pathlib import Path

import numpy

from gputrain import backend
from gputrain.errors import GputrainError

SOURCES = ("losses.cu", "sparse_rows.cu", "w2v_device.cu", "adam.cu", "bias_act.cu")
NVRTC_OPTIONS = ("--std=c++17",)
BLOCK = 256  # threads per block of the elementwise kernels
MAX_GRID = 65535  # their grid-stride loops cover any size with at most this many blocks
SHARED_DEFAULT = 48 * 1024  # dynamic shared memory a launch gets without opting in
_INT_MAX = 2**31 - 1

_modules: dict = {}
_functions: dict = {}
_lock = threading.Lock()


def kernel_dir() -> Path:
    """Directory holding the ``.cu`` files (inside the installed package or the checkout)."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_kernels", here.parent / "kernels"):
        if (candidate / SOURCES[0]).is_file():
            return candidate
    raise GputrainError(f"CUDA kernel sources not found next to {here} (broken installation)")


def kernel_source(filename: str) -> str:
    return (kernel_dir() / filename).read_text()


def _load_module(filename: str, like):
    """The compiled module of ``filename`` for the device ``like`` lives on (memoized)."""
    cupy = backend.cupy_module()
    if cupy is None or not backend.is_gpu_array(like):
        raise GputrainError(
            f"gputrain.kernels needs CuPy arrays on a CUDA device, got {type(like).__name__}"
        )
    key = (int(like.device.id), filename)
    with _lock:
        module = _modules.get(key)
        if module is None:
            with cupy.cuda.Device(key[0]):
                module = cupy.RawModule(code=kernel_source(filename), options=NVRTC_OPTIONS)
            _modules[key] = module
    return module


def _function(filename: str, name: str, like):
    """The kernel ``name`` of ``filename`` on ``like``'s device (memoized: cupy's
    ``get_function`` builds a new RawKernel object on every call)."""
    module = _load_module(filename, like)
    key = (id(module), name)
    entry = _functions.get(key)
    if entry is None:
        entry = _functions[key] = (module, module.get_function(name))  # module kept alive
    return entry[1]


def _check(op: str, what: str, a, dtype, ndim: int | None = None):
    if not hasattr(a, "dtype") or not hasattr(a, "flags"):
        raise GputrainError(f"kernels.{op}: {what} must be an array, got {type(a).__name__}")
    if a.dtype != dtype:
        raise GputrainError(
            f"kernels.{op}: {what} must be {numpy.dtype(dtype).name}, got {a.dtype}"
        )
    if not a.flags.c_contiguous:
        raise GputrainError(
            f"kernels.{op}: {what} must be C-contiguous (kernels ignore strides);"
            " pass xp.ascontiguousarray(...)"
        )
    if ndim is not None and a.ndim != ndim:
        raise GputrainError(f"kernels.{op}: {what} must be {ndim}-D, got shape {a.shape}")
    if a.size > _INT_MAX:
        raise GputrainError(f"kernels.{op}: {what} has {a.size} elements, over 2**31 - 1")
    return a


def _same_shape(op: str, what: str, a, shape) -> None:
    if tuple(a.shape) != tuple(shape):
        raise GputrainError(f"kernels.{op}: {what} must have shape {tuple(shape)}, got {a.shape}")


def _grid(n: int) -> int:
    return max(1, min(MAX_GRID, math.ceil(n / BLOCK)))


def _xp(a):
    return backend.get_array_module(a)


# -- fused losses (kernels/losses.cu) ---------------------------------------------------
def sigmoid_bce_forward(x, t):
    """Elementwise ``max(x, 0) - x*t + log1p(exp(-|x|))``, same shape as ``x``."""
    op = "sigmoid_bce_forward"
    _check(op, "x", x, numpy.float32)
    _same_shape(op, "t", _check(op, "t", t, numpy.float32), x.shape)
    loss = _xp(x).empty_like(x)
    if x.size:
        _function("losses.cu", op, x)(
            (_grid(x.size),), (BLOCK,), (x, t, loss, numpy.int32(x.size))
        )
    return loss


def _gy_step(op: str, gy, shape) -> numpy.int32:
    """The upstream gradient is one value (a reduced loss: step 0) or one per element."""
    _check(op, "gy", gy, numpy.float32)
    if gy.size == 1 and gy.ndim <= 1:
        return numpy.int32(0)
    _same_shape(op, "gy", gy, shape)
    return numpy.int32(1)


def sigmoid_bce_backward(x, t, gy, scale: float = 1.0):
    """``(sigmoid(x) - t) * gy * scale``, all of ``x``'s shape; ``gy`` of that shape or one
    value."""
    op = "sigmoid_bce_backward"
    _check(op, "x", x, numpy.float32)
    _same_shape(op, "t", _check(op, "t", t, numpy.float32), x.shape)
    step = _gy_step(op, gy, x.shape)
    gx = _xp(x).empty_like(x)
    if x.size:
        _function("losses.cu", op, x)(
            (_grid(x.size),), (BLOCK,),
            (x, t, gy, gx, numpy.int32(x.size), step, numpy.float32(scale)),
        )
    return gx


def _row_block(classes: int) -> int:
    """Threads per row: a multiple of 32 covering the classes, at most 256 (wider rows
    loop: each thread then handles several classes)."""
    return min(256, max(32, 32 * math.ceil(classes / 32)))


def softmax_xent_forward(logits, labels):
    """``(loss (N,), probs (N, C))``: one block per row, max-subtracted softmax.

    A label outside ``[0, C)`` gives a NaN loss for its row (the kernel cannot raise)."""
    op = "softmax_xent_forward"
    _check(op, "logits", logits, numpy.float32, ndim=2)
    _same_shape(op, "labels", _check(op, "labels", labels, numpy.int32, ndim=1), logits.shape[:1])
    rows, classes = logits.shape
    xp = _xp(logits)
    loss = xp.empty(rows, dtype=numpy.float32)
    probs = xp.empty_like(logits)
    if rows and classes:
        _function("losses.cu", op, logits)(
            (rows,), (_row_block(classes),),
            (logits, labels, loss, probs, numpy.int32(rows), numpy.int32(classes)),
        )
    return loss, probs


def softmax_xent_forward_reduced(logits, labels, scale: float, bias=None, tally=None):
    """``(total (), probs (N, C))`` of softmax(``logits`` + ``bias``): ``total`` is
    ``scale`` times the sum of the rows' losses (``scale`` 1/N: the mean), summed in row
    order by one block (deterministic). ``bias`` (C,) or None; ``tally``: a float64 (2,)
    array the kernel adds the rows' loss sum and correct count (argmax == label) to, or
    None (a scratch one is used: the kernel always writes one)."""
    op = "softmax_xent_forward_reduced"
    _check(op, "logits", logits, numpy.float32, ndim=2)
    _same_shape(op, "labels", _check(op, "labels", labels, numpy.int32, ndim=1), logits.shape[:1])
    rows, classes = logits.shape
    xp = _xp(logits)
    if bias is None:
        bias = xp.zeros(classes, dtype=numpy.float32)
    _same_shape(op, "bias", _check(op, "bias", bias, numpy.float32, ndim=1), (classes,))
    if tally is None:
        tally = xp.zeros(2, dtype=numpy.float64)
    _same_shape(op, "tally", _check(op, "tally", tally, numpy.float64, ndim=1), (2,))
    total = xp.empty((), dtype=numpy.float32)
    probs = xp.empty_like(logits)
    _function("losses.cu", op, logits)(
        (1,), (_row_block(max(classes, 1)),),
        (logits, bias, labels, total, probs, tally, numpy.int32(rows), numpy.int32(classes),
         numpy.float32(scale)),
    )
    return total, probs


def softmax_xent_backward(probs, labels, gy, scale: float = 1.0):
    """``(gx, gb)``: ``gx = (probs - onehot(labels)) * gy[:, None] * scale`` (``gy`` (N,)
    or one value; a row with a bad label becomes NaN) and ``gb`` its column sums (the
    gradient of a bias added to the logits), in one launch."""
    op = "softmax_xent_backward"
    _check(op, "probs", probs, numpy.float32, ndim=2)
    _same_shape(op, "labels", _check(op, "labels", labels, numpy.int32, ndim=1), probs.shape[:1])
    step = _gy_step(op, gy, probs.shape[:1])
    rows, classes = probs.shape
    xp = _xp(probs)
    gx = xp.empty_like(probs)
    gb = xp.empty(classes, dtype=numpy.float32)
    if classes:
        _function("losses.cu", op, probs)(
            (math.ceil(classes / 32),), (32, 8),
            (probs, labels, gy, gx, gb, numpy.int32(rows), numpy.int32(classes), step,
             numpy.float32(scale)),
        )
    return gx, gb


# -- sparse row updates (kernels/sparse_rows.cu) ----------------------------------------
def _rows_args(op: str, table, rows, values):
    _check(op, "table", table, numpy.float32, ndim=2)
    _check(op, "rows", rows, numpy.int32)
    _check(op, "values", values, numpy.float32)
    if values.size != rows.size * table.shape[1]:
        raise GputrainError(
            f"kernels.{op}: values {values.shape} must hold one row of {table.shape[1]}"
            f" for each of the {rows.size} rows"
        )
    return rows.size, table.shape[1]


def sgd_rows(table, rows, values, lr: float) -> None:
    """``table[rows] -= lr * values`` in place, duplicate rows summed (atomicAdd: the
    summation order of a repeated row is not fixed). Row ids must lie in ``[0, V)``."""
    n, dim = _rows_args("sgd_rows", table, rows, values)
    if n and dim:
        _function("sparse_rows.cu", "sgd_rows", table)(
            (_grid(n * dim),), (BLOCK,),
            (table, rows, values, numpy.float32(lr), numpy.int32(n), numpy.int32(dim)),
        )


def adagrad_rows(table, accum, rows, values, lr: float, eps: float) -> None:
    """Adagrad on the touched rows in place: duplicates summed into ``g`` (atomicAdd),
    then ``accum[r] += g*g`` and ``table[r] -= lr * g / (sqrt(accum[r]) + eps)``."""
    op = "adagrad_rows"
    n, dim = _rows_args(op, table, rows, values)
    _same_shape(op, "accum", _check(op, "accum", accum, numpy.float32), table.shape)
    if not (n and dim):
        return
    xp = _xp(table)
    unique, inverse = xp.unique(rows.reshape(-1), return_inverse=True)
    unique = xp.ascontiguousarray(unique, dtype=numpy.int32)
    slot = xp.ascontiguousarray(inverse.reshape(-1), dtype=numpy.int32)
    summed = xp.zeros((len(unique), dim), dtype=numpy.float32)
    _function("sparse_rows.cu", "scatter_add_rows", table)(
        (_grid(n * dim),), (BLOCK,), (summed, slot, values, numpy.int32(n), numpy.int32(dim))
    )
    u = len(unique)
    _function("sparse_rows.cu", "adagrad_unique_rows", table)(
        (_grid(u * dim),), (BLOCK,),
        (table, accum, unique, summed, numpy.float32(lr), numpy.float32(eps), numpy.int32(u),
         numpy.int32(dim)),
    )


# -- device engine (kernels/w2v_device.cu) ---------------------------------------------
def w2v_device_shared_bytes(threads: int, sub: int, window: int, negative: int, dim: int,
                            max_chunk: int, hs_len: int = 0) -> int:
    """Dynamic shared memory of one ``w2v_device_train`` block (the kernel's layout)."""
    k1 = (negative + 1 if negative else 0) + hs_len  # output columns per centre
    ints = 3 * max_chunk + threads + 1 + sub * k1
    ld = dim | 1  # rows padded to an odd stride (no bank conflicts)
    floats = (sub * k1 + sub + (sub + 2 * window) * ld + sub * k1 * ld
              + sub * 2 * window * k1 + sub * ld)
    return 4 * (ints + floats)


def w2v_device_train(w_in, w_out, ids, ids_base: int, starts, first_chunk: int,
                     n_chunks: int, keep_prob, table, key: int, words_before: int,
                     total_words: int, alpha: float, min_alpha: float, window: int,
                     negative: int, sub: int, max_chunk: int, cbow: bool, totals,
                     grid: int, threads: int, w_hs=None, points=None, psigns=None) -> None:
    """Train chunks ``first_chunk .. + n_chunks`` (chunk j = global positions
    ``[starts[j], starts[j+1])``, at most ``max_chunk`` long) in one launch of ``grid``
    blocks; ``ids[i]`` is the token at position ``ids_base + i``. Negative sampling with
    ``negative`` > 0 (``w_out``); hierarchical softmax with ``w_hs`` and the Huffman paths
    ``points`` (int32 (V, L), -1 padded) and ``psigns`` (float32 (V, L)). Adds the loss and
    pair count to ``totals`` (float64 (2,)) on the device: nothing is read back here. See
    kernels/w2v_device.cu and its twin gputrain/w2v/device_twin.py.
    NONDETERMINISTIC with grid > 1: Hogwild atomicAdd updates across blocks."""
    op = "w2v_device_train"
    _check(op, "w_in", w_in, numpy.float32, ndim=2)
    _same_shape(op, "w_out", _check(op, "w_out", w_out, numpy.float32, ndim=2), w_in.shape)
    _check(op, "ids", ids, numpy.int32, ndim=1)
    _check(op, "starts", starts, numpy.int64, ndim=1)
    _same_shape(op, "keep_prob", _check(op, "keep_prob", keep_prob, numpy.float32, ndim=1),
                w_in.shape[:1])
    _check(op, "table", table, numpy.int32, ndim=1)
    _same_shape(op, "totals", _check(op, "totals", totals, numpy.float64, ndim=1), (2,))
    hs_len = 0
    if w_hs is not None:  # the path arrays must cover every word: the kernel indexes by id
        _same_shape(op, "w_hs", _check(op, "w_hs", w_hs, numpy.float32, ndim=2), w_in.shape)
        _check(op, "points", points, numpy.int32, ndim=2)
        _same_shape(op, "points", points, (w_in.shape[0], points.shape[1]))
        _same_shape(op, "psigns", _check(op, "psigns", psigns, numpy.float32, ndim=2),
                    points.shape)
        hs_len = points.shape[1]
    else:  # not read by the kernel without hierarchical softmax (hs_len 0)
        w_hs, points, psigns = w_out, table, keep_prob
    if not 0 <= first_chunk <= first_chunk + n_chunks < len(starts):
        raise GputrainError(f"kernels.{op}: chunks {first_chunk}..+{n_chunks} are not in"
                            f" starts ({len(starts) - 1} chunks)")
    if (not 1 <= sub <= threads + 1 or threads > max_chunk or not 0 <= negative <= 100
            or negative + hs_len == 0):
        raise GputrainError(f"kernels.{op}: need 1 <= sub <= threads + 1, threads <= max_chunk,"
                            f" 0 <= negative <= 100 and an output layer, got sub={sub},"
                            f" threads={threads}, max_chunk={max_chunk}, negative={negative},"
                            f" hs paths of {hs_len}")
    if n_chunks == 0:
        return
    shared = w2v_device_shared_bytes(threads, sub, window, negative, w_in.shape[1], max_chunk,
                                     hs_len)
    fn = _function("w2v_device.cu", op, w_in)
    if shared > SHARED_DEFAULT:
        try:
            fn.max_dynamic_shared_size_bytes = shared
        except Exception as e:  # the device has less than that
            raise GputrainError(f"kernels.{op}: {shared} bytes of shared memory per block is"
                                f" more than this GPU has ({e})") from e
    fn((grid,), (threads,),
       (w_in, w_out, w_hs, ids, numpy.int64(ids_base), starts, numpy.int32(first_chunk),
        numpy.int32(n_chunks), keep_prob, table, numpy.uint32(len(table)), points, psigns,
        numpy.int32(hs_len), numpy.uint64(key),
        numpy.int64(words_before), numpy.float64(total_words), numpy.float64(alpha),
        numpy.float64(min_alpha), numpy.int32(window), numpy.int32(negative),
        numpy.int32(w_in.shape[1]), numpy.int32(sub), numpy.int32(max_chunk),
        numpy.int32(1 if cbow else 0), totals),
       shared_mem=shared)


def w2v_device_draws(ids, base: int, keep_prob, table, key: int, window: int, negative: int):
    """The device engine's draws for positions ``base .. base + len(ids)``: keep flags,
    windows and negatives ``(n, negative)``, int32 (for tests against the twin)."""
    op = "w2v_device_draws"
    _check(op, "ids", ids, numpy.int32, ndim=1)
    _check(op, "keep_prob", keep_prob, numpy.float32, ndim=1)
    _check(op, "table", table, numpy.int32, ndim=1)
    xp = _xp(ids)
    n = len(ids)
    keep, reach = xp.zeros(n, dtype=numpy.int32), xp.zeros(n, dtype=numpy.int32)
    negs = xp.zeros((n, negative), dtype=numpy.int32)
    if n:
        _function("w2v_device.cu", op, ids)(
            (_grid(n),), (BLOCK,),
            (ids, numpy.int64(base), numpy.int32(n), keep_prob, table, numpy.uint32(len(table)),
             numpy.uint64(key), numpy.int32(window), numpy.int32(negative), keep, reach, negs))
    return keep, reach, negs


# -- multi-tensor Adam / AdamW (kernels/adam.cu) -----------------------------------------
ADAM_SLOTS = 8  # tensors per launch


def adam_multi(params, grads, ms, vs, lr: float, beta1: float, beta2: float, eps: float,
               weight_decay: float, step: int, decoupled: bool) -> None:
    """Adam (L2 ``weight_decay``) or AdamW (``decoupled``) on lists of same-device float32
    arrays in place, ``step`` the (shared) step count: one launch per 8 tensors, no host
    synchronisation. Deterministic."""
    op = "adam_multi"
    if not params:
        return
    for k, (p, g, m, v) in enumerate(zip(params, grads, ms, vs, strict=True)):
        _check(op, f"params[{k}]", p, numpy.float32)
        for what, a in ((f"grads[{k}]", g), (f"m[{k}]", m), (f"v[{k}]", v)):
            _same_shape(op, what, _check(op, what, a, numpy.float32), p.shape)
    root_bc2 = math.sqrt(1.0 - beta2**step)
    scalars = (numpy.float32(1.0 - beta1), numpy.float32(1.0 - beta2),
               numpy.float32(lr * root_bc2 / (1.0 - beta1**step)), numpy.float32(eps * root_bc2),
               numpy.float32(weight_decay), numpy.float32(1.0 - lr * weight_decay),
               numpy.int32(1 if decoupled else 0))
    fn = _function("adam.cu", op, params[0])
    for start in range(0, len(params), ADAM_SLOTS):
        chunk = range(start, min(start + ADAM_SLOTS, len(params)))
        pad = ADAM_SLOTS - len(chunk)
        slots = [[lst[k] for k in chunk] + [lst[start]] * pad for lst in (params, grads, ms, vs)]
        sizes = [numpy.int32(params[k].size) for k in chunk] + [numpy.int32(0)] * pad
        total = sum(int(n) for n in sizes)
        if total:
            fn((_grid(total),), (BLOCK,), (*[a for lst in slots for a in lst], *sizes, *scalars))


# -- bias + ReLU (kernels/bias_act.cu) ------------------------------------------------------
def _bias_args(op: str, x, b):
    _check(op, "x", x, numpy.float32, ndim=2)
    _same_shape(op, "b", _check(op, "b", b, numpy.float32, ndim=1), x.shape[1:])
    return numpy.int32(x.shape[0]), numpy.int32(x.shape[1])


def bias_relu_forward(x, b):
    """``relu(x + b)`` for ``x`` (rows, cols) and ``b`` (cols,), in one launch."""
    rows, cols = _bias_args("bias_relu_forward", x, b)
    y = _xp(x).empty_like(x)
    if x.size:
        _function("bias_act.cu", "bias_relu_forward", x)(
            (_grid(x.size),), (BLOCK,), (x, b, y, rows, cols))
    return y


def bias_relu_backward(y, gy):
    """``(gx, gb)``: ``gy`` where ``y > 0`` else 0, and its column sums, in one launch."""
    op = "bias_relu_backward"
    _check(op, "y", y, numpy.float32, ndim=2)
    _same_shape(op, "gy", _check(op, "gy", gy, numpy.float32), y.shape)
    xp = _xp(y)
    gx = xp.empty_like(y)
    gb = xp.empty(y.shape[1], dtype=numpy.float32)
    if y.shape[1]:
        _function("bias_act.cu", op, y)(
            (math.ceil(y.shape[1] / 32),), (32, 8),
            (y, gy, gx, gb, numpy.int32(y.shape[0]), numpy.int32(y.shape[1])))
    return gx, gb
