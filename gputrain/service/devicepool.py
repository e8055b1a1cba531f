"""Which GPUs are busy: a job that asks for N devices gets N of its own, never shared.

Each GPU worker owns one device slot (``serve --devices 0,1``) and runs one trainer at a
time. A job with ``"devices": N`` runs on the claiming worker's GPU plus N-1 free ones,
lent by idle workers; a worker whose GPU is lent takes no job until it is given back.
Workers claim under :attr:`DevicePool.lock`, so the free count a claim was made against
cannot change before the devices are taken. A CPU worker runs one 1-device job at a time.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gputrain.service.worker import Slot


class DevicePool:
    def __init__(self, slots: list[Slot]):
        self.lock = threading.Lock()
        self.gpus = [s for s in slots if s.device != "cpu"]
        self._busy: set[str] = set()

    @property
    def size(self) -> int:
        """GPUs the server trains on (0 on a CPU server)."""
        return len(self.gpus)

    def room(self, slot: Slot) -> tuple[int, int]:
        """(free now, at most ever) devices for a job claimed by ``slot``'s worker; call
        with :attr:`lock` held."""
        if slot.device == "cpu":
            return 1, 1
        return self.size - len(self._busy), self.size

    def lent(self, slot: Slot) -> bool:
        """``slot``'s GPU runs another worker's job (call with :attr:`lock` held)."""
        return slot.name in self._busy

    def take(self, slot: Slot, n: int) -> list[Slot]:
        """``slot`` and n-1 free GPUs for one job (call with :attr:`lock` held, after a
        claim that :meth:`room` allowed)."""
        if slot.device == "cpu":
            return [slot]
        others = [s for s in self.gpus if s is not slot and s.name not in self._busy]
        taken = [slot, *others[:n - 1]]
        self._busy.update(s.name for s in taken)
        return taken

    def give_back(self, slots: list[Slot]) -> None:
        with self.lock:
            self._busy.difference_update(s.name for s in slots)
