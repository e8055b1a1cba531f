"""A trainable word2vec model, and continuing its training on new text.

``gputrain w2v CORPUS --save-model M.npz`` writes what a later run needs to go on training
(the vectors file alone has only the input table): the input, output and (with ``--hs``)
hierarchical-softmax tables, the vocabulary with its counts and the settings.
``gputrain w2v NEW_CORPUS --from-model M.npz`` starts a new run from it, as gensim's
``build_vocab(new, update=True)`` then ``train(new)``:

- the vocabulary grows by the words of the new corpus that occur ``--min-count`` times
  *in it*; the counts of the words already known add up (for subsampling, the negative
  table and the Huffman tree); words absent from the new text keep their rows and counts;
- old rows keep their values, new rows start as a fresh run's do (input rows uniform in
  +-0.5/dim, output rows zero); rows are reordered by the summed counts (vector files list
  the most frequent words first), each row travelling with its word;
- with ``--hs`` the Huffman tree is rebuilt from the summed counts and the inner-node
  rows stay by number (as gensim keeps ``syn1``), so they now serve other paths: the first
  updates move old words more than with negative sampling;
- the learning rate starts again at ``--alpha`` (left out: the default of the model's
  architecture) and decays to ``--min-alpha`` over ``--epochs`` passes of the *new*
  corpus (gensim does the same).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gputrain.atomicfile import atomic_path
from gputrain.errors import GputrainError
from gputrain.w2v.vocab import Vocab

MODEL_FORMAT = "gputrain-w2v-model-1"


@dataclass
class TrainableModel:
    words: list[str]
    counts: np.ndarray  # int64, one per word
    w_in: np.ndarray  # (n, dim) float32
    w_out: np.ndarray  # (n, dim) float32, negative sampling's output rows
    w_hs: np.ndarray | None  # (n, dim) float32, HS inner nodes (None: trained without --hs)
    config: dict  # the Word2VecConfig it was trained with, as a dict

    @property
    def dim(self) -> int:
        return int(self.w_in.shape[1])

    def save(self, path) -> None:
        meta = {"format": MODEL_FORMAT, "words": self.words, "config": self.config}
        tables = {"w_in": self.w_in, "w_out": self.w_out}
        if self.w_hs is not None:
            tables["w_hs"] = self.w_hs
        with atomic_path(Path(path)) as tmp, open(tmp, "wb") as f:
            np.savez(f, counts=np.asarray(self.counts, np.int64), **tables,
                     meta=np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8))

    @classmethod
    def load(cls, path) -> TrainableModel:
        path = Path(path)
        if not path.is_file():
            raise GputrainError(f"--from-model {path}: not found")
        try:
            with np.load(path) as z:
                meta = json.loads(bytes(z["meta"]).decode())
                if meta.get("format") != MODEL_FORMAT:
                    raise ValueError(f"format {meta.get('format')!r}, not {MODEL_FORMAT}")
                model = cls(meta["words"], z["counts"], z["w_in"], z["w_out"],
                            z["w_hs"] if "w_hs" in z.files else None, meta["config"])
        except (OSError, ValueError, KeyError, json.JSONDecodeError) as e:
            raise GputrainError(f"--from-model {path} is not a model saved by gputrain w2v "
                                f"--save-model ({e})") from None
        n = len(model.words)
        if model.counts.shape != (n,) or any(t is not None and t.shape != model.w_in.shape
                                               for t in (model.w_out, model.w_hs)) \
                or model.w_in.shape[0] != n:
            raise GputrainError(f"--from-model {path}: tables and vocabulary do not match")
        return model

    def fingerprint(self) -> dict:
        """What a corpus cache built on this model depends on."""
        return {"words": len(self.words), "total": int(self.counts.sum()),
                "dim": self.dim, "hs": self.w_hs is not None}


def updated_vocab(model: TrainableModel, counted: Counter, min_count: int,
                  raw_tokens: int, pruned: int = 0) -> Vocab:
    """The model's vocabulary grown by the new corpus's counts (``counted``): known words'
    counts add up, unknown words with at least ``min_count`` join; sorted by the summed
    count (stable: old words first among equals)."""
    known = {w: i for i, w in enumerate(model.words)}
    counts = np.asarray(model.counts, dtype=np.int64).copy()
    new_words, new_counts = [], []
    for word, c in counted.items():
        i = known.get(word)
        if i is not None:
            counts[i] += c
        elif c >= min_count:
            new_words.append(word)
            new_counts.append(c)
    words = model.words + new_words
    counts = np.concatenate([counts, np.asarray(new_counts, dtype=np.int64)])
    order = np.argsort(-counts, kind="stable")
    vocab = Vocab([words[i] for i in order], counts[order], raw_tokens)
    vocab.pruned = pruned
    return vocab


def continued_tables(model: TrainableModel, words: list[str], fresh_w_in: np.ndarray,
                     hs: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Tables for ``words``: a word of the model keeps its rows, a new one gets
    ``fresh_w_in``'s row and zero output rows (as in a fresh run)."""
    if fresh_w_in.shape[1] != model.dim:
        raise GputrainError(f"--dim {fresh_w_in.shape[1]} differs from the model's vector size "
                            f"{model.dim}; a continued run keeps it")
    known = {w: i for i, w in enumerate(model.words)}
    src = np.array([known.get(w, -1) for w in words], dtype=np.int64)
    old = src >= 0
    w_in = fresh_w_in.copy()
    w_in[old] = model.w_in[src[old]]
    w_out = np.zeros_like(w_in)
    w_out[old] = model.w_out[src[old]]
    w_hs = None
    if hs:
        w_hs = np.zeros_like(w_in)
        if model.w_hs is not None:  # rows stay by inner-node number, as gensim keeps syn1's
            w_hs[:len(model.w_hs)] = model.w_hs
    return w_in, w_out, w_hs
