"""Reverse-mode automatic differentiation over NumPy / CuPy arrays.

    from gputrain.autograd import Tensor, no_grad, ops
"""

from gputrain.autograd import functional, ops
from gputrain.autograd.gradcheck import GradcheckError, gradcheck, numerical_grad
from gputrain.autograd.tensor import (
    Function,
    SparseGrad,
    Tensor,
    accumulate,
    is_grad_enabled,
    no_grad,
    scatter_add_rows,
    unbroadcast,
)

__all__ = [
    "Function", "GradcheckError", "SparseGrad", "Tensor", "accumulate", "functional",
    "gradcheck", "is_grad_enabled", "no_grad", "numerical_grad", "ops", "scatter_add_rows",
    "unbroadcast",
]
