"""How a word2vec run is trained: the engine interface and the choice of engine.

The trainer (:mod:`gputrain.w2v.trainer`) owns the vocabulary, the encoded corpus, the
slices and the learning-rate schedule (:class:`~gputrain.w2v.worker.Plan`), progress,
checkpoints and stopping (:class:`~gputrain.w2v.monitor.Monitor`). An engine owns how the
(epoch, slice) work is trained, through two calls:

``engine.new_state(n_words, dim, n_slots) -> SharedState``
    the tables (``state.w_in``, ``state.w_out``, on the engine's ``device``) and counters;
``engine.run(state, corpus, plan, monitor) -> bool``
    train every (epoch, slice) not yet ``state.done``, adding to ``state.words`` /
    ``loss`` / ``pairs``, setting ``state.done``, and calling ``monitor.boundary()``
    between units of work (slices, or launches of many slices): there the tables are
    consistent, so a checkpoint (or averaging across processes) may read or replace them;
    ``boundary()`` returning False means stop. Returns False if stopped early.

Two engines: :class:`~gputrain.w2v.cpu_engine.CpuEngine` (the compiled window step, in this
process or in ``--threads`` worker processes) and
:class:`~gputrain.w2v.device_engine.DeviceEngine` (one kernel launch trains millions of
tokens with sampling on the device; on the CPU its NumPy twin runs the same algorithm).
"""

from __future__ import annotations

from typing import Protocol

from gputrain.backend import Device
from gputrain.errors import OptionError
from gputrain.w2v.config import Word2VecConfig
from gputrain.w2v.encoded import EncodedCorpus
from gputrain.w2v.shared import SharedState
from gputrain.w2v.worker import Plan


class Engine(Protocol):
    name: str
    device: Device
    n_workers: int

    def new_state(self, n_words: int, dim: int, n_slots: int) -> SharedState: ...

    def run(self, state: SharedState, corpus: EncodedCorpus, plan: Plan, monitor) -> bool: ...


def engine_kind(engine: str, device: Device) -> str:
    """``"device"`` or ``"cpu"``: what ``--engine`` means on ``device`` (auto: the device
    engine on a GPU, the CPU engine otherwise)."""
    if engine == "auto":
        return "device" if device.is_gpu else "cpu"
    return engine


def choose_engine(cfg: Word2VecConfig, device: Device, cache_dir) -> Engine:
    """``cfg.engine``: ``device`` (the device engine: the kernel on a GPU, its NumPy twin
    on the CPU), ``cpu`` (the window step, ``cfg.threads`` processes; CPU only), or
    ``auto`` (the device engine on a GPU, the CPU engine otherwise)."""
    kind = engine_kind(cfg.engine, device)
    if kind == "cpu":
        if device.is_gpu:
            raise OptionError("engine", f"--engine cpu trains on the CPU, not on --device {device}")
        from gputrain.w2v.cpu_engine import CpuEngine

        return CpuEngine(cfg.threads, cache_dir, cfg.hs)
    from gputrain.w2v.device_engine import DeviceEngine

    return DeviceEngine(device, cfg.hs)
