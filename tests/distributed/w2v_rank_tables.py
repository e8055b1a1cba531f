"""Run under mpiexec by tests: every rank trains and saves both of its tables.

``python w2v_rank_tables.py CORPUS OUT_DIR EPOCHS`` writes OUT_DIR/rank<R>.npy (input and
output rows side by side), so a test can compare the ranks' tables, which only rank 0
would otherwise write.
"""

import sys
from pathlib import Path

import numpy as np

from gputrain.distributed import world
from gputrain.w2v.config import Word2VecConfig
from gputrain.w2v.trainer import train

corpus, out, epochs = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
cfg = Word2VecConfig(vector_size=20, epochs=epochs, seed=5, vectors="concat",
                     sync_words=3000, sync_rows=50)
result = train(corpus, cfg, out / "ckpt")
np.save(out / f"rank{world().rank}.npy", result.vectors)
