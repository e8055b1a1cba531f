"""The corpus encoded once as int32 word ids in a memory-mapped cache.

Epochs (and worker processes, and a resumed run) read ids from ``ids.i32`` instead of
re-tokenising the text. Words outside the vocabulary are dropped, as word2vec does, so
windows reach over them. ``ends.i64`` holds the end offset (exclusive) of every sentence in
id space. Both are written as the corpus streams past, so memory does not grow with the
corpus; ``cache.json`` is written last and marks the cache complete.
"""

from __future__ import annotations

import itertools
import json
import os
import warnings
from collections import defaultdict
from dataclasses import dataclass
from itertools import repeat
from pathlib import Path

import numpy as np

from gputrain.atomicfile import atomic_open, atomic_path
from gputrain.w2v.corpus import iter_chunks
from gputrain.w2v.vocab import Vocab, vocab_from_counts

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


def _write_ids(path, vocab: Vocab, lowercase: bool, ids_file, ends_file, on_read=None) -> int:
    get = vocab.index.get
    n_ids = 0
    last_end = 0
    for chunk in iter_chunks(path, lowercase, on_read=on_read):
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


def count_and_encode(path, cache_dir, lowercase: bool, min_count: int, settings: dict,
                     source: str = "corpus", step: int = 1 << 20,
                     on_read=None) -> EncodedCorpus:
    """Vocabulary and id cache in ONE pass over the text (used without --max-vocab-size).

    Tokens get provisional ids in order of first appearance (written to a scratch file)
    while counts accumulate; then the vocabulary is sorted by count and the scratch ids are
    mapped to final ids (or dropped) with array operations, without re-tokenising. The
    result is identical to :func:`~gputrain.w2v.vocab.build_vocab` + :func:`encode_corpus`.
    """
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    index: defaultdict[str, int] = defaultdict(itertools.count().__next__)
    lookup = index.__getitem__
    counts = np.zeros(1 << 16, dtype=np.int64)
    raw = 0
    scratch_ids, scratch_ends = cache_dir / "scratch.i32", cache_dir / "scratch_ends.i64"
    try:
        with open(scratch_ids, "wb") as fi, open(scratch_ends, "wb") as fe:
            for chunk in iter_chunks(path, lowercase, on_read=on_read):
                ids = np.fromiter(map(lookup, chunk.tokens), np.int32, len(chunk.tokens))
                if len(index) > len(counts):
                    counts = np.concatenate([counts, np.zeros(max(len(index), len(counts)),
                                                              dtype=np.int64)])
                counts[:len(index)] += np.bincount(ids, minlength=len(index))
                ids.tofile(fi)
                (raw + np.asarray(chunk.ends, dtype=np.int64)).tofile(fe)
                raw += len(chunk.tokens)
        words = list(index)
        vocab = vocab_from_counts(words, counts[:len(words)], min_count, raw, source)
        remap = np.full(len(words), -1, dtype=np.int32)
        remap[np.fromiter(map(index.__getitem__, vocab.words), np.int64, len(vocab))] = \
            np.arange(len(vocab), dtype=np.int32)
        del index, words
        raw_ends = _map_file(scratch_ends, np.int64)
        with atomic_path(cache_dir / IDS_FILE) as ids_tmp, \
                atomic_path(cache_dir / ENDS_FILE) as ends_tmp, \
                open(ids_tmp, "wb") as ids_file, open(ends_tmp, "wb") as ends_file:
            n_ids = _remap_ids(scratch_ids, raw_ends, remap, raw, step, ids_file, ends_file)
        del raw_ends
    finally:
        for scratch in (scratch_ids, scratch_ends):
            scratch.unlink(missing_ok=True)
    return _finish(cache_dir, vocab, n_ids, settings)


def _remap_ids(scratch_ids, raw_ends, remap, raw: int, step: int, ids_file, ends_file) -> int:
    n_ids = 0
    last_end = 0
    for lo in range(0, raw, step):
        prov = np.fromfile(scratch_ids, dtype=np.int32, count=min(step, raw - lo), offset=4 * lo)
        final = remap[prov]
        keep = final >= 0
        final[keep].tofile(ids_file)
        first, stop = np.searchsorted(raw_ends, [lo, lo + len(prov)], side="right")
        kept_before = np.cumsum(keep)
        ends = np.unique(n_ids + kept_before[np.asarray(raw_ends[first:stop]) - lo - 1])
        ends = ends[ends > last_end]
        ends.astype(np.int64).tofile(ends_file)
        if len(ends):
            last_end = int(ends[-1])
        n_ids += int(keep.sum())
    if n_ids and last_end != n_ids:
        np.asarray([n_ids], dtype=np.int64).tofile(ends_file)
    return n_ids


def encode_corpus(path, vocab: Vocab, cache_dir, lowercase: bool, settings: dict,
                  on_read=None) -> EncodedCorpus:
    """Stream ``path`` once, writing ids and sentence ends into ``cache_dir``."""
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(cache_dir / IDS_FILE) as ids_tmp, \
            atomic_path(cache_dir / ENDS_FILE) as ends_tmp, \
            open(ids_tmp, "wb") as ids_file, open(ends_tmp, "wb") as ends_file:
        n_ids = _write_ids(path, vocab, lowercase, ids_file, ends_file, on_read)
    return _finish(cache_dir, vocab, n_ids, settings)


def _finish(cache_dir: Path, vocab: Vocab, n_ids: int, settings: dict) -> EncodedCorpus:
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
    except FileNotFoundError:
        return None
    except ValueError:  # not JSON, not UTF-8
        return _damaged(cache_dir, MANIFEST_FILE)
    if not isinstance(manifest, dict) or (
            settings is not None and any(manifest.get(k) != v for k, v in settings.items())):
        return None
    try:
        vocab = Vocab.load(cache_dir / VOCAB_FILE)
        ids = _map_file(cache_dir / IDS_FILE, np.int32)
        ends = _map_file(cache_dir / ENDS_FILE, np.int64)
        if len(ids) != manifest["n_ids"] or len(vocab.words) != len(vocab.counts):
            return _damaged(cache_dir, IDS_FILE)
        return EncodedCorpus(ids, ends, vocab, int(manifest["raw_tokens"]), cache_dir / IDS_FILE)
    except (OSError, ValueError, KeyError, TypeError) as e:  # missing or damaged files
        return _damaged(cache_dir, getattr(e, "filename", None) or VOCAB_FILE)


def _damaged(cache_dir: Path, name) -> None:
    """A damaged cache is not an error: it is rebuilt from the corpus (one warning)."""
    warnings.warn(f"the corpus cache in {cache_dir} is damaged ({Path(name).name}); "
                  "reading the corpus again", stacklevel=3)
    return None


def remove_cache(cache_dir) -> None:
    for name in (MANIFEST_FILE, IDS_FILE, ENDS_FILE, VOCAB_FILE):
        try:
            os.unlink(Path(cache_dir) / name)
        except FileNotFoundError:
            pass
