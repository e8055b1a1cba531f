"""Array creation, host<->device transfer and the NumPy routines CuPy also has.

Each routine runs NumPy on the current device's data and counts one launch; the ones
whose result shape depends on the data (``unique``, ``nonzero``...) or that return a host
value (``allclose``) also count a synchronisation, as they do on CuPy.
"""

from __future__ import annotations

import numpy

from cupy import _state
from cupy._ndarray import call, check_dtype, empty_data, ndarray, unwrap, wrap


def _here() -> int:
    dev = _state.current_device()
    _state.check_device(dev)
    return dev


# -- creation ---------------------------------------------------------------------------
def empty(shape, dtype=float, order="C"):
    return ndarray._of(empty_data(shape, dtype, order), _here())


def empty_like(a, dtype=None, order="K", subok=None, shape=None):
    return empty(a.shape if shape is None else shape, a.dtype if dtype is None else dtype)


def _filled(shape, value, dtype, order="C"):
    dev = _here()
    dt = check_dtype(dtype if dtype is not None else numpy.asarray(value).dtype)
    _state.count_launch()  # a memset or fill kernel
    return ndarray._of(numpy.full(shape, value, dtype=dt, order=order), dev)


def zeros(shape, dtype=float, order="C"):
    return _filled(shape, 0, dtype, order)


def ones(shape, dtype=float, order="C"):
    return _filled(shape, 1, dtype, order)


def full(shape, fill_value, dtype=None, order="C"):
    if isinstance(fill_value, ndarray):
        fill_value = fill_value.item()
    return _filled(shape, fill_value, dtype, order)


def zeros_like(a, dtype=None, order="K", subok=None, shape=None):
    return _filled(a.shape if shape is None else shape, 0, dtype or a.dtype)


def ones_like(a, dtype=None, order="K", subok=None, shape=None):
    return _filled(a.shape if shape is None else shape, 1, dtype or a.dtype)


def full_like(a, fill_value, dtype=None, order="K", subok=None, shape=None):
    return _filled(a.shape if shape is None else shape, fill_value, dtype or a.dtype)


def _generated(func):
    def make(*args, **kwargs):
        dev = _here()
        _state.count_launch()
        out = func(*args, **kwargs)
        return ndarray._of(out, dev)

    make.__name__ = func.__name__
    return make


arange = _generated(numpy.arange)
linspace = _generated(numpy.linspace)
eye = _generated(numpy.eye)
identity = _generated(numpy.identity)


# -- transfers --------------------------------------------------------------------------
def array(obj, dtype=None, copy=True, order="K", subok=False, ndmin=0):
    """A device array on the current device. From a device array of another device this
    is a peer copy (cudaMemcpyPeer); from host data a host->device copy."""
    dev = _here()
    if isinstance(obj, ndarray):
        dt = obj.dtype if dtype is None else check_dtype(dtype)
        if not copy and dt == obj.dtype and ndmin <= obj.ndim:
            return obj
        _state.count_launch()
        out = numpy.array(obj._a, dtype=dt, order=order, copy=True, ndmin=ndmin)
        return ndarray._of(out, dev)
    if _holds_device_arrays(obj):
        obj = _gather(obj)
    host = numpy.array(obj, dtype=dtype, order="C" if order == "K" else order, copy=True,
                       ndmin=ndmin)
    if host.dtype.kind not in "biufc":
        raise ValueError(f"Unsupported dtype {host.dtype}")
    _state.count_h2d(host.nbytes)
    return ndarray._of(host, dev)


def _holds_device_arrays(obj) -> bool:
    return isinstance(obj, (list, tuple)) and any(
        isinstance(i, ndarray) or _holds_device_arrays(i) for i in obj)


def _gather(obj):
    if isinstance(obj, ndarray):
        return obj.get()
    if isinstance(obj, (list, tuple)):
        return [_gather(i) for i in obj]
    return obj


def asarray(a, dtype=None, order=None, blocking=False):
    """``a`` itself when it is a device array of that dtype (on whatever device it is:
    CuPy does not move it to the current device), else a copy on the current device."""
    return array(a, dtype=dtype, copy=False, order=order or "K")


def ascontiguousarray(a, dtype=None):
    if isinstance(a, ndarray) and a.flags.c_contiguous and (dtype is None
                                                            or numpy.dtype(dtype) == a.dtype):
        return a
    out = array(a, dtype=dtype, copy=True, order="C")
    return out.reshape(()) if getattr(a, "ndim", 1) == 0 else out


def asfortranarray(a, dtype=None):
    return array(a, dtype=dtype, copy=True, order="F")


def asnumpy(a, stream=None, order="C", out=None, blocking=True):
    if isinstance(a, ndarray):
        return a.get(order=order, out=out)
    result = numpy.asarray(a, order=order)
    if out is not None:
        out[...] = result
        return out
    return result


def copy(a, order="K"):
    return a.copy()


def get_array_module(*args):
    import cupy

    return cupy if any(isinstance(a, ndarray) for a in args) else numpy


# -- routines ---------------------------------------------------------------------------
_PLAIN = (
    "sum", "prod", "mean", "std", "var", "max", "amax", "min", "amin", "argmax", "argmin",
    "nansum", "nanmax", "nanmin", "nanargmax", "nanargmin", "nanmean", "cumsum", "cumprod",
    "any", "all", "count_nonzero", "clip", "dot", "matmul", "einsum", "tensordot",
    "inner", "outer", "vdot", "kron", "concatenate", "stack", "hstack", "vstack",
    "dstack", "column_stack", "tile", "repeat", "flip", "fliplr", "flipud", "roll", "take",
    "take_along_axis", "put", "put_along_axis", "sort", "argsort", "argpartition",
    "partition", "lexsort", "searchsorted", "diff", "around", "round", "nan_to_num",
    "isclose", "array_equal", "trace", "diag", "diagonal", "tril", "triu", "cov",
    "corrcoef", "average", "median", "percentile", "quantile", "histogram", "cross",
    "pad", "real", "imag", "logsumexp", "copyto", "fill_diagonal", "select", "choose",
    "bincount", "interp", "convolve", "ptp",
)
_NO_LAUNCH = ("reshape", "ravel", "transpose", "swapaxes", "moveaxis", "rollaxis",
              "expand_dims", "squeeze", "broadcast_to", "broadcast_arrays", "atleast_1d",
              "atleast_2d", "atleast_3d", "split", "array_split", "hsplit", "vsplit",
              "shape", "ndim", "size", "result_type", "can_cast", "min_scalar_type")
_SYNC = ("unique", "nonzero", "flatnonzero", "argwhere", "allclose", "extract",
         "compress", "trim_zeros")


def _routine(name, launches=1, sync=False):
    impl = getattr(numpy, name)

    def routine(*args, **kwargs):
        return call(impl, args, kwargs, launches=launches, sync=sync)

    routine.__name__ = name
    return routine


ROUTINES = {}
for _name in _PLAIN:
    if hasattr(numpy, _name):
        ROUTINES[_name] = _routine(_name)
for _name in _NO_LAUNCH:
    ROUTINES[_name] = _routine(_name, launches=0)
for _name in _SYNC:
    ROUTINES[_name] = _routine(_name, sync=True)


def where(condition, x=None, y=None):
    if x is None and y is None:
        return call(numpy.nonzero, (condition,), {}, sync=True)
    return call(numpy.where, (condition, x, y), {})


def allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    return bool(call(numpy.allclose, (a, b), {"rtol": rtol, "atol": atol,
                                               "equal_nan": equal_nan}, sync=True)._a)


def ndim(a):
    return a.ndim


def shares_memory(a, b, max_work=None):
    dev = _state.current_device()
    return bool(numpy.shares_memory(unwrap(a, dev), unwrap(b, dev)))


def may_share_memory(a, b, max_work=None):
    return shares_memory(a, b)


class _Linalg:
    """``cupy.linalg``: the few routines gputrain uses, one launch each (cuBLAS/cuSOLVER)."""

    def __getattr__(self, name):
        impl = getattr(numpy.linalg, name)
        if name not in ("norm", "inv", "solve", "det", "qr", "svd", "eigh", "cholesky",
                        "lstsq", "pinv", "matrix_power", "slogdet", "eigvalsh"):
            raise AttributeError(f"cupy.linalg stand-in has no {name!r}")
        return lambda *a, **k: call(impl, a, k)


linalg = _Linalg()
__all__ = ["wrap"]
