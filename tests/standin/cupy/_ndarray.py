"""The stand-in's device array: a NumPy array held on one fake device.

It refuses what CuPy refuses: implicit conversion to NumPy (``np.asarray(a)``), NumPy
arrays mixed into device ops, and arrays of one device used while another is current (the
stand-in has no peer access). Every op counts the launches and synchronisations it would
cost on CuPy (see ``cupy.standin``).
"""

from __future__ import annotations

import numpy

from cupy import _state
from cupy.cuda import memory

_KINDS = "biufc"  # bool, ints, floats, complex: the dtypes CuPy has


def check_dtype(dtype) -> numpy.dtype:
    dt = numpy.dtype(dtype)
    if dt.kind not in _KINDS:
        raise ValueError(f"Unsupported dtype {dt}")
    return dt


def _peer_error(where: int, current: int) -> ValueError:
    return ValueError(
        f"The device where the array resides ({where}) is different from the current device"
        f" ({current}). Peer access is unavailable between these devices (cupy stand-in)."
    )


def unwrap(x, dev: int):
    """The NumPy data of ``x`` for an op running on device ``dev``."""
    if isinstance(x, ndarray):
        if x._dev != dev:
            raise _peer_error(x._dev, dev)
        return x._a
    if isinstance(x, numpy.ndarray):
        raise TypeError(f"Unsupported type {type(x)}")
    if isinstance(x, (list, tuple)):
        return type(x)(unwrap(i, dev) for i in x)
    return x


def wrap(r, dev: int):
    if isinstance(r, numpy.ndarray):
        return ndarray._of(r, dev)
    if isinstance(r, numpy.generic):
        return ndarray._of(numpy.asarray(r), dev)
    if isinstance(r, tuple):
        return tuple(wrap(i, dev) for i in r)
    if isinstance(r, list):
        return [wrap(i, dev) for i in r]
    return r


def call(func, args, kwargs, launches: int = 1, sync: bool = False):
    """Run ``func`` (a NumPy function) on the current device's data; wrap what it returns."""
    dev = _state.current_device()
    a = unwrap(args, dev)
    k = {key: unwrap(v, dev) for key, v in kwargs.items()}
    out = func(*a, **k)
    _state.count_launch(launches)
    if sync:
        _state.count_sync()
    return wrap(out, dev)


def _has_advanced(index) -> bool:
    items = index if isinstance(index, tuple) else (index,)
    return any(isinstance(i, (ndarray, numpy.ndarray, list)) for i in items)


def _index(index, dev: int):
    """Unwrap an index: device arrays must be on ``dev``; NumPy index arrays are copied over
    (CuPy accepts them); a boolean mask makes the result's shape data-dependent (a sync)."""
    items = index if isinstance(index, tuple) else (index,)
    out = []
    for i in items:
        if isinstance(i, ndarray):
            if i._dev != dev:
                raise _peer_error(i._dev, dev)
            if i.dtype == numpy.bool_:
                _state.count_sync()
            out.append(i._a)
        elif isinstance(i, numpy.ndarray):
            _state.count_h2d(i.nbytes)
            out.append(i)
        else:
            out.append(i)
    return tuple(out) if isinstance(index, tuple) else out[0]


class Flags:
    def __init__(self, a: numpy.ndarray):
        self.c_contiguous = bool(a.flags.c_contiguous)
        self.f_contiguous = bool(a.flags.f_contiguous)
        self.owndata = bool(a.flags.owndata)

    def __getitem__(self, key):
        return {"C_CONTIGUOUS": self.c_contiguous, "F_CONTIGUOUS": self.f_contiguous,
                "OWNDATA": self.owndata}[key]


class MemoryPointer:
    def __init__(self, a: numpy.ndarray, dev: int):
        self.ptr = a.ctypes.data
        self.device_id = dev

    @property
    def device(self):
        from cupy.cuda import Device

        return Device(self.device_id)


class ndarray:  # noqa: N801 (CuPy's name)
    """``cupy.ndarray`` stand-in. ``cupy.ndarray(shape, dtype)`` allocates on the current
    device (uninitialised: floats are NaN, so a kernel that reads before writing shows)."""

    __slots__ = ("_data", "_dev", "__weakref__")
    __array_priority__ = 100.0

    @property
    def _a(self) -> numpy.ndarray:
        """The data, once queued collectives have landed (a stream orders them before any
        later work: ``_state.drain``)."""
        if _state.queued:
            _state.drain()
        return self._data

    @_a.setter
    def _a(self, a: numpy.ndarray) -> None:
        self._data = a

    def __init__(self, shape, dtype=float, memptr=None, strides=None, order="C"):
        if memptr is not None or strides is not None:
            raise NotImplementedError("cupy stand-in: ndarray(memptr=/strides=) is not emulated")
        self._dev = _state.current_device()
        _state.check_device(self._dev)
        self._a = empty_data(shape, dtype, order)

    @classmethod
    def _of(cls, a: numpy.ndarray, dev: int) -> ndarray:
        check_dtype(a.dtype)
        self = object.__new__(cls)
        self._a, self._dev = a, dev
        if a.flags.owndata:
            memory.track(a, dev)
        return self

    # -- what CuPy refuses ----------------------------------------------------------------
    def __array__(self, *args, **kwargs):
        raise TypeError("Implicit conversion to a NumPy array is not allowed. Please use"
                        " `.get()` to construct a NumPy array explicitly.")

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        from cupy import _ufuncs

        mine = getattr(_ufuncs, ufunc.__name__, None)
        if mine is None:
            return NotImplemented
        if method == "__call__":
            return mine(*inputs, **kwargs)
        if method == "at":
            return mine.at(*inputs, **kwargs)
        if method == "reduce":
            return mine.reduce(*inputs, **kwargs)
        return NotImplemented

    def __array_function__(self, func, types, args, kwargs):
        import cupy

        module = cupy
        for part in func.__module__.split(".")[1:]:
            module = getattr(module, part, None)
            if module is None:
                return NotImplemented
        mine = getattr(module, func.__name__, None)
        if mine is None or not callable(mine):
            return NotImplemented
        return mine(*args, **kwargs)

    # -- attributes -----------------------------------------------------------------------
    shape = property(lambda self: self._a.shape)
    dtype = property(lambda self: self._a.dtype)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    nbytes = property(lambda self: self._a.nbytes)
    itemsize = property(lambda self: self._a.itemsize)
    strides = property(lambda self: self._a.strides)
    flags = property(lambda self: Flags(self._a))
    data = property(lambda self: MemoryPointer(self._a, self._dev))
    T = property(lambda self: ndarray._of(self._a.T, self._dev))
    mT = property(lambda self: ndarray._of(numpy.swapaxes(self._a, -1, -2), self._dev))

    @property
    def base(self):
        return None if self._a.base is None else ndarray._of(self._a.base, self._dev)

    @property
    def device(self):
        from cupy.cuda import Device

        return Device(self._dev)

    def __len__(self) -> int:
        return len(self._a)

    def __iter__(self):
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d array")
        for i in range(len(self._a)):
            yield self[i]

    __hash__ = None

    # -- to the host (synchronising) --------------------------------------------------------
    def get(self, stream=None, order="C", out=None, blocking=True):
        _state.count_sync(self.nbytes)
        host = numpy.array(self._a, order=order, copy=True)
        if out is not None:
            out[...] = host
            return out
        return host

    def set(self, arr, stream=None):
        """CuPy's copy from the host, on ``stream`` (default: the current stream). From
        page-locked memory (``cupyx.empty_pinned``) it is asynchronous on a GPU and counts
        in ``h2d_pinned_bytes`` as well; its order with other streams is checked."""
        from cupy import _order
        from cupy.cuda import get_current_stream

        if not isinstance(arr, numpy.ndarray):
            raise TypeError("Only numpy.ndarray can be set to cupy.ndarray")
        if self.dtype != arr.dtype:
            raise TypeError(f"{arr.dtype} array cannot be set to {self.dtype} array")
        if arr.shape != self.shape:
            raise ValueError(f"Shape mismatch. Old shape: {self.shape}, new shape: {arr.shape}")
        if not self._a.flags.c_contiguous:
            raise RuntimeError("Cannot set to non-contiguous array")
        stream = get_current_stream() if stream is None else stream
        _order.access([self._a], stream.ptr, "ndarray.set")
        _state.count_h2d(arr.nbytes, pinned=memory.is_pinned(arr))
        self._a[...] = arr

    def _scalar(self):
        if self.size != 1:
            raise TypeError("only size-1 arrays can be converted to Python scalars")
        _state.count_sync(self.itemsize)
        return self._a.reshape(()).item()

    def item(self):
        return self._scalar()

    def tolist(self):
        _state.count_sync(self.nbytes)
        return self._a.tolist()

    def __float__(self):
        return float(self._scalar())

    def __int__(self):
        return int(self._scalar())

    def __complex__(self):
        return complex(self._scalar())

    def __bool__(self):
        if self.size != 1:
            raise ValueError("The truth value of an array with more than one element is"
                             " ambiguous. Use a.any() or a.all()")
        return bool(self._scalar())

    def __index__(self):
        if self.ndim != 0 or self.dtype.kind not in "iu":
            raise TypeError("only integer scalar arrays can be converted to a scalar index")
        return int(self._scalar())

    def __format__(self, spec):
        return format(self.get() if self.ndim else self._scalar(), spec)

    def __repr__(self):
        _state.count_sync(self.nbytes)
        return repr(self._a)

    def __str__(self):
        _state.count_sync(self.nbytes)
        return str(self._a)

    def __reduce__(self):
        from cupy import array

        return (array, (self.get(),))

    # -- indexing ------------------------------------------------------------------------
    def __getitem__(self, index):
        dev = _state.current_device() if _has_advanced(index) else self._dev
        if dev != self._dev:
            raise _peer_error(self._dev, dev)
        out = self._a[_index(index, self._dev)]
        if _has_advanced(index):
            _state.count_launch()
        return wrap(out, self._dev)

    def __setitem__(self, index, value):
        dev = _state.current_device()
        if self._dev != dev:
            raise _peer_error(self._dev, dev)
        if isinstance(value, numpy.ndarray):
            _state.count_h2d(value.nbytes)
        elif isinstance(value, ndarray):
            value = unwrap(value, dev)
        self._a[_index(index, dev)] = value
        _state.count_launch()

    # -- conversions and copies ------------------------------------------------------------
    def copy(self, order="C"):
        """A copy on the *current* device (CuPy copies across devices with memcpyPeer)."""
        _state.count_launch()
        return ndarray._of(self._a.copy(order=order), _state.current_device())

    def astype(self, dtype, order="K", casting=None, subok=None, copy=True):
        dt = check_dtype(dtype)
        if not copy and dt == self.dtype:
            return self
        return call(numpy.ndarray.astype, (self, dt), {"order": order, "copy": True})

    def fill(self, value):
        self[...] = value

    def view(self, dtype=None):
        return ndarray._of(self._a.view() if dtype is None else self._a.view(dtype), self._dev)

    def reshape(self, *shape, order="C"):
        return ndarray._of(self._a.reshape(*shape, order=order), self._dev)

    def transpose(self, *axes):
        return ndarray._of(self._a.transpose(*axes), self._dev)

    def swapaxes(self, a, b):
        return ndarray._of(self._a.swapaxes(a, b), self._dev)

    def squeeze(self, axis=None):
        return ndarray._of(self._a.squeeze(axis), self._dev)

    def ravel(self, order="C"):
        out = self._a.ravel(order)
        if not numpy.shares_memory(out, self._a):
            _state.count_launch()
        return ndarray._of(out, self._dev)

    def flatten(self, order="C"):
        return self.copy(order).reshape(-1)

    def __dlpack__(self, *args, **kwargs):
        raise NotImplementedError("cupy stand-in: DLPack is not emulated")


def empty_data(shape, dtype, order="C") -> numpy.ndarray:
    """Uninitialised device memory: NaN for floats, 0xA5 bytes otherwise."""
    dt = check_dtype(dtype)
    a = numpy.empty(shape, dtype=dt, order=order)
    if dt.kind in "fc":
        a.fill(numpy.nan)
    else:
        a.view(numpy.uint8).fill(0xA5) if a.size else None
    return a


_METHODS_1 = ("sum", "prod", "mean", "std", "var", "max", "min", "argmax", "argmin",
              "cumsum", "cumprod", "any", "all", "clip", "dot", "round", "conj", "take",
              "repeat", "argsort", "argpartition", "diagonal", "trace", "__abs__",
              "__neg__", "__pos__", "__invert__")


def _method(name):
    impl = getattr(numpy.ndarray, name)

    def method(self, *args, **kwargs):
        return call(impl, (self, *args), kwargs)

    method.__name__ = name
    return method


def _sort(self, axis=-1, kind=None):
    dev = _state.current_device()
    unwrap(self, dev).sort(axis=axis, kind=kind)
    _state.count_launch()


for _name in _METHODS_1:
    setattr(ndarray, _name, _method(_name))
ndarray.sort = _sort
ndarray.nonzero = lambda self: call(numpy.nonzero, (self,), {}, sync=True)
