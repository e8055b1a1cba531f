"""``cupy.cuda.runtime`` stand-in: device count and properties of the fake devices."""

from __future__ import annotations

from cupy import _state


class CUDARuntimeError(RuntimeError):
    def __init__(self, status: int, message: str):
        self.status = status
        super().__init__(message)


TOTAL_MEMORY = 16 * 2**30  # what each fake device reports


def getDeviceCount() -> int:  # noqa: N802 (CUDA's name)
    if _state.devices.count == 0:
        raise CUDARuntimeError(100, "cudaErrorNoDevice: no CUDA-capable device is detected")
    return _state.devices.count


def getDevice() -> int:  # noqa: N802
    return _state.current_device()


def setDevice(device: int) -> None:  # noqa: N802
    _state.set_current_device(device)


def getDeviceProperties(device: int) -> dict:  # noqa: N802
    _state.check_device(device)
    physical = _state.devices.visible[device]
    return {"name": f"cupy stand-in GPU {physical}".encode(), "totalGlobalMem": TOTAL_MEMORY,
            "pciBusID": physical + 1, "pciDeviceID": 0, "pciDomainID": 0,
            "multiProcessorCount": 2, "major": 9, "minor": 0, "warpSize": 32,
            "maxThreadsPerBlock": 1024, "sharedMemPerBlock": 48 * 1024,
            "sharedMemPerBlockOptin": 227 * 1024, "uuid": _state.uuid(physical).encode()}


def deviceSynchronize() -> None:  # noqa: N802
    from cupy import _order

    _state.drain()
    _order.host_wait()
    _state.count_sync(waits_current=False)


def runtimeGetVersion() -> int:  # noqa: N802
    return 12080


def driverGetVersion() -> int:  # noqa: N802
    return 12080


def memGetInfo() -> tuple[int, int]:  # noqa: N802
    from cupy.cuda.memory import used_bytes

    used = used_bytes(_state.current_device())
    return TOTAL_MEMORY - used, TOTAL_MEMORY
