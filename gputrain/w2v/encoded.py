"""The corpus encoded once as int32 word ids in a memory-mapped cache.

Epochs (and worker processes, and a resumed run) read ids from ``ids.i32`` instead of
re-tokenising the text. Words outside the vocabulary are dropped, as word2vec does, so
windows reach over them. ``ends.i64`` holds the end offset (exclusive) of every sentence in
id space. Both are written as the corpus streams past, so memory does not grow with the
corpus; ``cache.json`` is written last and marks the cache complete.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from itertools import repeat
from pathlib import Path

import numpy as np

from gputrain.atomicfile import atomic_open, atomic_path
from gputrain.w2v.corpus import iter_chunks
from gputrain.w2v.vocab import Vocab

IDS_FILE = "ids.i32"
ENDS_FILE = "ends.i64"
VOCAB_FILE = "vocab.json"
MANIFEST_FILE = "cache.json"


@dataclass
class EncodedCorpus:
    ids: np.ndarray  # int32 memmap (n_ids,)
    ends: np.ndarray  # int64 memmap (n_sentences,), exclusive sentence ends in id space
    vocab: Vocab
    raw_tokens: int  # tokens in the text, before dropping out-of-vocabulary words
    ids_path: Path | None = None

    def __len__(self) -> int:
        return len(self.ids)

    def read(self, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        """Ids ``[lo, hi)`` and the sentence number of each, read with plain file reads
        (pages of a memory map that were read stay in the process's RSS, so a long
        training run would grow with the corpus)."""
        if self.ids_path is None:
            ids = np.array(self.ids[lo:hi])
        else:
            ids = np.fromfile(self.ids_path, dtype=np.int32, count=hi - lo, offset=4 * lo)
        first, last = np.searchsorted(self.ends, [lo, hi], side="right")
        ends = np.array(self.ends[first:last + 1])
        sentence = np.searchsorted(ends, np.arange(lo, hi), side="right")
        return ids, sentence


def _map_file(path: Path, dtype) -> np.ndarray:
    if path.stat().st_size == 0:
        return np.zeros(0, dtype=dtype)
    return np.memmap(path, dtype=dtype, mode="r")


def _write_ids(path, vocab: Vocab, lowercase: bool, ids_file, ends_file) -> int:
    get = vocab.index.get
    n_ids = 0
    last_end = 0
    for chunk in iter_chunks(path, lowercase):
        ids = np.fromiter(map(get, chunk.tokens, repeat(-1)), np.int32, len(chunk.tokens))
        keep = ids >= 0
        kept_before = np.concatenate([[0], np.cumsum(keep)])
        ids[keep].tofile(ids_file)
        ends = np.unique(n_ids + kept_before[np.asarray(chunk.ends, dtype=np.int64)])
        ends = ends[ends > last_end]  # sentences left empty collapse onto the previous end
        ends.astype(np.int64).tofile(ends_file)
        if len(ends):
            last_end = int(ends[-1])
        n_ids += int(keep.sum())
    if n_ids and last_end != n_ids:
        np.asarray([n_ids], dtype=np.int64).tofile(ends_file)
    return n_ids


def encode_corpus(path, vocab: Vocab, cache_dir, lowercase: bool, settings: dict) -> EncodedCorpus:
    """Stream ``path`` once, writing ids and sentence ends into ``cache_dir``."""
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(cache_dir / IDS_FILE) as ids_tmp, \
            atomic_path(cache_dir / ENDS_FILE) as ends_tmp, \
            open(ids_tmp, "wb") as ids_file, open(ends_tmp, "wb") as ends_file:
        n_ids = _write_ids(path, vocab, lowercase, ids_file, ends_file)
    vocab.save(cache_dir / VOCAB_FILE)
    manifest = {**settings, "n_ids": n_ids, "raw_tokens": vocab.raw_tokens}
    with atomic_open(cache_dir / MANIFEST_FILE, "w", encoding="utf-8") as f:
        json.dump(manifest, f)
    return open_cache(cache_dir)


def open_cache(cache_dir, settings: dict | None = None) -> EncodedCorpus | None:
    """The complete cache in ``cache_dir`` (None if absent or built with other settings)."""
    cache_dir = Path(cache_dir)
    try:
        manifest = json.loads((cache_dir / MANIFEST_FILE).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    if settings is not None and any(manifest.get(k) != v for k, v in settings.items()):
        return None
    vocab = Vocab.load(cache_dir / VOCAB_FILE)
    ids = _map_file(cache_dir / IDS_FILE, np.int32)
    ends = _map_file(cache_dir / ENDS_FILE, np.int64)
    if len(ids) != manifest["n_ids"]:
        return None
    return EncodedCorpus(ids, ends, vocab, int(manifest["raw_tokens"]), cache_dir / IDS_FILE)


def remove_cache(cache_dir) -> None:
    for name in (MANIFEST_FILE, IDS_FILE, ENDS_FILE, VOCAB_FILE):
        try:
            os.unlink(Path(cache_dir) / name)
        except FileNotFoundError:
            pass
