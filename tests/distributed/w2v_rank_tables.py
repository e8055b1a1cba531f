"""Run under mpiexec by tests: every rank trains and saves both of its tables.

``python w2v_rank_tables.py CORPUS OUT_DIR EPOCHS [DEVICE [THREADS]]`` writes OUT_DIR/rank<R>.npy
(input and output rows side by side), so a test can compare the ranks' tables, which only
rank 0 would otherwise write. DEVICE ``gpu`` trains on the device engine (each rank on its
own GPU, merging over NCCL); OUT_DIR/rank<R>.json says its device and its NCCL one.
"""

import json
import sys
from pathlib import Path

import numpy as np

from gputrain.backend import CPU, Device
from gputrain.distributed import world
from gputrain.w2v.config import Word2VecConfig
from gputrain.w2v.trainer import train

corpus, out, epochs = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
threads = int(sys.argv[5]) if len(sys.argv) > 5 else 1
cfg = Word2VecConfig(vector_size=20, epochs=epochs, seed=5, vectors="concat",
                     sync_words=3000, sync_rows=50, threads=threads)
device = Device("gpu", 0) if sys.argv[4:5] == ["gpu"] else CPU
result = train(corpus, cfg, out / "ckpt", device=device)
comm = world()
np.save(out / f"rank{comm.rank}.npy", result.vectors)
nccl = getattr(comm, "_nccl", None)  # made by the first device merge, on the rank's GPU
(out / f"rank{comm.rank}.json").write_text(json.dumps(
    {"device": str(comm.device(device)),
     "nccl_device": None if nccl is None else nccl.device_id()}))

