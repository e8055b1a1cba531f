"""Universal functions (one launch each) and the operators of the stand-in ndarray."""

from __future__ import annotations

import numpy

from cupy import _state
from cupy._ndarray import _index, call, ndarray, unwrap


class ufunc:  # noqa: N801 (CuPy's name)
    def __init__(self, np_ufunc):
        self._f = np_ufunc
        self.__name__ = np_ufunc.__name__
        self.nin, self.nout, self.nargs = np_ufunc.nin, np_ufunc.nout, np_ufunc.nargs

    def __repr__(self):
        return f"<ufunc '{self.__name__}' (cupy stand-in)>"

    def __call__(self, *args, **kwargs):
        return call(self._f, args, kwargs)

    def reduce(self, array, axis=0, dtype=None, out=None, keepdims=False):
        return call(self._f.reduce, (array,), {"axis": axis, "dtype": dtype, "out": out,
                                                "keepdims": keepdims})

    def at(self, a, indices, b=None):
        """In place, unbuffered (CuPy 13: ``add.at`` etc. are atomic scatters); indices
        may be host arrays, as in indexing."""
        dev = _state.current_device()
        args = (unwrap(a, dev), _index(indices, dev)) + (() if b is None else (unwrap(b, dev),))
        self._f.at(*args)
        _state.count_launch()

    def outer(self, a, b, **kwargs):
        return call(self._f.outer, (a, b), kwargs)


NAMES = (
    "add", "subtract", "multiply", "divide", "true_divide", "floor_divide", "power",
    "float_power", "negative", "positive", "absolute", "fabs", "sqrt", "cbrt", "square",
    "reciprocal", "exp", "exp2", "expm1", "log", "log2", "log10", "log1p", "sin", "cos",
    "tan", "arcsin", "arccos", "arctan", "arctan2", "sinh", "cosh", "tanh", "arcsinh",
    "arccosh", "arctanh", "hypot", "maximum", "minimum", "fmax", "fmin", "sign", "floor",
    "ceil", "rint", "trunc", "greater", "greater_equal", "less", "less_equal", "equal",
    "not_equal", "logical_and", "logical_or", "logical_not", "logical_xor", "isnan",
    "isinf", "isfinite", "remainder", "mod", "fmod", "bitwise_and", "bitwise_or",
    "bitwise_xor", "invert", "left_shift", "right_shift", "copysign", "signbit",
    "logaddexp", "logaddexp2", "deg2rad", "rad2deg", "degrees", "radians", "conjugate",
    "nextafter", "ldexp", "frexp", "modf", "heaviside", "divmod",
)

for _name in NAMES:
    globals()[_name] = ufunc(getattr(numpy, _name))
abs = absolute  # noqa: A001, F821
conj = conjugate  # noqa: F821

_BINARY = {"add": "add", "sub": "subtract", "mul": "multiply", "truediv": "true_divide",
           "floordiv": "floor_divide", "pow": "power", "mod": "remainder",
           "and": "bitwise_and", "or": "bitwise_or", "xor": "bitwise_xor",
           "lshift": "left_shift", "rshift": "right_shift"}
_COMPARE = {"lt": "less", "le": "less_equal", "gt": "greater", "ge": "greater_equal",
            "eq": "equal", "ne": "not_equal"}


def _binary(f, reflected=False, inplace=False):
    def op(self, other):
        if not isinstance(other, (ndarray, numpy.ndarray, numpy.generic, int, float, bool,
                                  complex)):
            return NotImplemented
        if inplace:
            return f(self, other, out=self)
        return f(other, self) if reflected else f(self, other)

    return op


for _op, _name in _BINARY.items():
    _f = globals()[_name]
    setattr(ndarray, f"__{_op}__", _binary(_f))
    setattr(ndarray, f"__r{_op}__", _binary(_f, reflected=True))
    setattr(ndarray, f"__i{_op}__", _binary(_f, inplace=True))
for _op, _name in _COMPARE.items():
    setattr(ndarray, f"__{_op}__", _binary(globals()[_name]))
ndarray.__matmul__ = lambda self, other: call(numpy.matmul, (self, other), {})
ndarray.__rmatmul__ = lambda self, other: call(numpy.matmul, (other, self), {})
ndarray.__divmod__ = lambda self, other: call(numpy.divmod, (self, other), {})
