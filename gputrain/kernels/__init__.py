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
w2v_device_train           gputrain.w2v.device_twin.train_launch (the device engine;
                           ring=True: its RING variant, same numbers for one block)
w2v_device_draws           gputrain.w2v.sampling (keep_mask, reaches, negatives)
adam_multi                 gputrain.optim.adam.adam_multi (Adam/AdamW, many tensors)
bias_relu_forward/backward gputrain.autograd.ops.fused.bias_relu_forward/backward
=========================  ==============================================================

Nondeterminism: ``sgd_rows``, ``adagrad_rows`` (duplicate rows summed with atomicAdd) and
the loss kernels are deterministic. Each ``.cu`` file is compiled once per device
(``cupy.RawModule``, memoized: ``launch.py``, with the argument checks). One module per
``.cu`` file holds its wrappers; every public name is re-exported here, so callers write
``from gputrain import kernels`` and ``kernels.sgd_rows(...)``. The ``.cu`` files ship
inside the wheel as ``gputrain/_kernels`` (a link to the top-level ``kernels/`` directory
in a checkout).
"""

from gputrain.kernels.adam import ADAM_SLOTS, adam_multi
from gputrain.kernels.bias_act import bias_relu_backward, bias_relu_forward
from gputrain.kernels.launch import (
    NVRTC_OPTIONS,
    SHARED_DEFAULT,
    SOURCES,
    kernel_dir,
    kernel_source,
)
from gputrain.kernels.losses import (
    sigmoid_bce_backward,
    sigmoid_bce_forward,
    softmax_xent_backward,
    softmax_xent_forward,
    softmax_xent_forward_reduced,
)
from gputrain.kernels.sparse_rows import adagrad_rows, sgd_rows
from gputrain.kernels.w2v_device import (
    w2v_device_draws,
    w2v_device_shared_bytes,
    w2v_device_train,
)

__all__ = [
    "ADAM_SLOTS", "NVRTC_OPTIONS", "SHARED_DEFAULT", "SOURCES", "adagrad_rows", "adam_multi",
    "bias_relu_backward", "bias_relu_forward", "kernel_dir", "kernel_source", "sgd_rows",
    "sigmoid_bce_backward", "sigmoid_bce_forward", "softmax_xent_backward",
    "softmax_xent_forward", "softmax_xent_forward_reduced", "w2v_device_draws",
    "w2v_device_shared_bytes", "w2v_device_train",
]
