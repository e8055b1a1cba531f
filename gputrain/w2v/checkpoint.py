"""Checkpoints of a word2vec run: one ``checkpoint.npz`` in the checkpoint directory.

The directory (``--checkpoint-dir``, default ``OUT.ckpt/`` next to the output) also holds
the encoded corpus cache (:mod:`gputrain.w2v.encoded`), so a resumed run neither re-reads
the text nor re-counts the vocabulary. The checkpoint file holds the tables, the
(epoch, slice) done flags, the words trained so far, the loss tally and history, the
settings and the corpus fingerprint; it is written under a temporary name and renamed, so
it is always either the previous complete checkpoint or the new one.
"""

from __future__ import annotations

import json
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gputrain.atomicfile import atomic_path
from gputrain.backend import to_cpu
from gputrain.dirlock import hold_directory
from gputrain.errors import GputrainError

CHECKPOINT_FILE = "checkpoint.npz"


@dataclass
class Checkpoint:
    w_in: np.ndarray
    w_out: np.ndarray
    done: np.ndarray  # float64 flags, (epochs * n_slices,)
    words: float  # words trained so far (all epochs)
    loss: float  # loss sum so far
    pairs: float  # input-output terms so far
    history: np.ndarray  # (n, 3): words, mean loss per term, alpha
    meta: dict  # settings, corpus fingerprint, slice_words, elapsed seconds
    w_hs: np.ndarray | None = None  # hierarchical softmax's inner-node table, if on


def checkpoint_path(ckpt_dir) -> Path:
    return Path(ckpt_dir) / CHECKPOINT_FILE


@contextmanager
def dir_lock(ckpt_dir) -> Iterator[bool]:
    """Hold ``ckpt_dir`` for one run (created if needed; yields True when created now): a
    second run on the same directory (two trainings with the same ``-o``) would overwrite
    this one's corpus cache and checkpoint, so it is refused with a GputrainError instead."""
    with hold_directory(ckpt_dir, "checkpoint directory",
                        f"checkpoint directory {ckpt_dir} is in use by another gputrain w2v "
                        "run; give this one another -o or --checkpoint-dir") as created:
        yield created


def save_checkpoint(ckpt_dir, ck: Checkpoint) -> Path:
    path = checkpoint_path(ckpt_dir)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            hs = {} if ck.w_hs is None else {"w_hs": to_cpu(ck.w_hs)}
            np.savez(f, w_in=to_cpu(ck.w_in), w_out=to_cpu(ck.w_out), done=ck.done, **hs,
                     totals=np.array([ck.words, ck.loss, ck.pairs], dtype=np.float64),
                     history=np.asarray(ck.history, dtype=np.float64).reshape(-1, 3),
                     meta=np.frombuffer(json.dumps(ck.meta).encode(), dtype=np.uint8))
    return path


def load_checkpoint(ckpt_dir) -> Checkpoint | None:
    """The checkpoint in ``ckpt_dir``, or None when there is none."""
    path = checkpoint_path(ckpt_dir)
    if not path.exists():
        return None
    try:
        with np.load(path) as z:
            words, loss, pairs = (float(x) for x in z["totals"])
            return Checkpoint(z["w_in"], z["w_out"], z["done"].copy(), words, loss, pairs,
                              z["history"], json.loads(bytes(z["meta"]).decode()),
                              z["w_hs"] if "w_hs" in z.files else None)
    # truncated (not a zip), a flipped byte (bad CRC or deflate stream), a missing array
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile,
            zlib.error) as e:
        raise GputrainError(f"checkpoint {path} is damaged ({e}); run again with --restart "
                            "to start over") from None
