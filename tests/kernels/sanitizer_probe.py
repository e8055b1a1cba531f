"""Run one kernel of kernels/*.cu on the CPU emulator built with a gcc sanitizer; meant to
be run in a subprocess whose environment preloads that sanitizer's runtime
(emulator.sanitizer_env). test_sanitizers.py uses it to show that a broken kernel fails:

  race      softmax_xent_forward with every __syncthreads() removed (ThreadSanitizer)
  overflow  sgd_rows given a row id one past the end of the table (AddressSanitizer)
  ok-race / ok-overflow   the same launches done right (must pass)

usage: python sanitizer_probe.py {race,overflow,ok-race,ok-overflow} {thread,address}
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import emulator  # noqa: E402


def softmax(remove_barriers: bool) -> None:
    source = (emulator.KERNEL_DIR / "losses.cu").read_text()
    if remove_barriers:
        assert "__syncthreads();" in source
        source = source.replace("__syncthreads();", ";")
    name = "losses.cu (barriers removed)" if remove_barriers else "losses.cu"
    module = emulator.EmulatedModule(code=source, sanitize=SANITIZE, name=name)
    rows, classes = 4, 300
    logits = np.random.default_rng(0).normal(size=(rows, classes)).astype(np.float32)
    labels = np.arange(rows, dtype=np.int32)
    loss, probs = np.empty(rows, np.float32), np.empty_like(logits)
    module.get_function("softmax_xent_forward")(
        (rows,), (128,), (logits, labels, loss, probs, np.int32(rows), np.int32(classes)))
    print("loss", loss)


def sgd(out_of_range: bool) -> None:
    module = emulator.EmulatedModule(path=emulator.KERNEL_DIR / "sparse_rows.cu",
                                     sanitize=SANITIZE)
    vocab, dim = 50, 37
    table = np.zeros((vocab, dim), np.float32)
    rows = np.array([3, 7, vocab if out_of_range else vocab - 1], np.int32)
    values = np.ones((3, dim), np.float32)
    module.get_function("sgd_rows")(
        (2,), (64,), (table, rows, values, np.float32(0.1), np.int32(3), np.int32(dim)))
    print("sum", table.sum())


if __name__ == "__main__":
    MODE, SANITIZE = sys.argv[1], sys.argv[2]
    {"race": lambda: softmax(True), "ok-race": lambda: softmax(False),
     "overflow": lambda: sgd(True), "ok-overflow": lambda: sgd(False)}[MODE]()
