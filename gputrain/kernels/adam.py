"""Multi-tensor Adam / AdamW (kernels/adam.cu)."""

from __future__ import annotations

import math

import numpy

from gputrain.kernels import launch
from gputrain.kernels.launch import check, function, grid_for, same_shape

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
        check(op, f"params[{k}]", p, numpy.float32)
        for what, a in ((f"grads[{k}]", g), (f"m[{k}]", m), (f"v[{k}]", v)):
            same_shape(op, what, check(op, what, a, numpy.float32), p.shape)
    root_bc2 = math.sqrt(1.0 - beta2**step)
    scalars = (numpy.float32(1.0 - beta1), numpy.float32(1.0 - beta2),
               numpy.float32(lr * root_bc2 / (1.0 - beta1**step)), numpy.float32(eps * root_bc2),
               numpy.float32(weight_decay), numpy.float32(1.0 - lr * weight_decay),
               numpy.int32(1 if decoupled else 0))
    fn = function("adam.cu", op, params[0])
    for start in range(0, len(params), ADAM_SLOTS):
        chunk = range(start, min(start + ADAM_SLOTS, len(params)))
        pad = ADAM_SLOTS - len(chunk)
        slots = [[lst[k] for k in chunk] + [lst[start]] * pad for lst in (params, grads, ms, vs)]
        sizes = [numpy.int32(params[k].size) for k in chunk] + [numpy.int32(0)] * pad
        total = sum(int(n) for n in sizes)
        if total:
            fn((grid_for(total),), (launch.BLOCK,),
               (*[a for lst in slots for a in lst], *sizes, *scalars))
