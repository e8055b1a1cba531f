"""Word vectors and the queries users run on them (gensim's ``KeyedVectors`` split).

A :class:`KeyedVectors` knows words, their vectors and (when known) their corpus counts,
nothing about training. Queries run on unit-normalised vectors (computed once and cached)
with the array module of the device the vectors live on, as one matrix product per batch of
queries followed by a partial sort, and give the same answers as gensim 4's
``KeyedVectors.most_similar`` / ``most_similar_cosmul`` / ``similarity`` / ``doesnt_match``.
"""

from __future__ import annotations

import functools
import os
import warnings

import numpy as np

from gputrain.backend import Device, device_of, get_array_module, resolve_device, to_cpu
from gputrain.backend import to_device as _to_device
from gputrain.errors import GputrainError
from gputrain.vectors import formats

_SCORE_BLOCK = 1 << 25  # at most this many query x vocabulary scores in memory at once


def _on_device(method):
    """Runs ``method`` with the vectors' device current: CuPy launches on the current
    device, so vectors on ``gpu:1`` queried while ``gpu:0`` is current would fail (or,
    with peer access, run across the bus)."""

    @functools.wraps(method)
    def run(self, *args, **kwargs):
        with self.device.activate():
            return method(self, *args, **kwargs)

    return run


class KeyedVectors:
    """``words[i]`` has the vector ``vectors[i]`` (and ``counts[i]`` occurrences, if known).

    ``vectors`` is an ``(n, dim)`` float32 NumPy or CuPy array; queries run where it lives.
    Words are expected in descending frequency order (``restrict_vocab`` takes a prefix).
    """

    def __init__(self, words, vectors, counts=None):
        xp = get_array_module(vectors)
        with device_of(vectors).activate():
            vectors = xp.asarray(vectors, dtype=np.float32)
        words = list(words)
        if vectors.ndim != 2 or vectors.shape[0] != len(words):
            raise GputrainError(
                f"vectors must be a ({len(words)}, dim) matrix for {len(words)} words, "
                f"got shape {tuple(vectors.shape)}"
            )
        index = {w: i for i, w in enumerate(words)}
        if len(index) != len(words):
            dup = next(w for i, w in enumerate(words) if index[w] != i)
            raise GputrainError(f"duplicate word {dup!r} in the vocabulary")
        if counts is not None:
            counts = np.asarray(to_cpu(counts), dtype=np.int64)
            if counts.shape != (len(words),):
                raise GputrainError(f"counts must have {len(words)} entries, got {counts.shape}")
        self._words = words
        self._index = index
        self.vectors = vectors
        self.counts = counts
        self._normed = None
        self._by_lower = None  # lower-cased word -> its forms, built at the first miss

    # ------------------------------------------------------------------ files and devices

    @classmethod
    def load(cls, path: str | os.PathLike, fmt: str | None = None, device=None,
             limit: int | None = None) -> KeyedVectors:
        """Read word2vec binary/text (ours, gensim's, word2vec.c's) or Parquet.

        The format is detected from the content unless ``fmt`` (``bin``/``txt``/``parquet``)
        is given; ``device`` (a Device or ``"cpu"``/``"gpu"``/``"auto"``; default the CPU)
        is where the vectors go; ``limit`` reads only the first words.
        """
        words, vectors, counts = formats.read_vectors(path, fmt, limit)
        kv = cls(words, vectors, counts)
        return kv if device is None else kv.to(device)

    def save(self, path: str | os.PathLike, fmt: str | None = None) -> str:
        """Write atomically; the format comes from the suffix (``.bin`` default, ``.txt``,
        ``.parquet``) unless ``fmt`` is given. Returns the format written."""
        return formats.write_vectors(path, self._words, to_cpu(self.vectors), self.counts, fmt)

    @property
    def device(self) -> Device:
        return device_of(self.vectors)

    def to(self, device) -> KeyedVectors:
        """These vectors on ``device`` (a Device or a spec such as ``"gpu"``)."""
        if not isinstance(device, Device):
            device = resolve_device(device)
        if device == self.device:
            return self
        return KeyedVectors(self._words, _to_device(self.vectors, device), self.counts)

    # ------------------------------------------------------------------ vocabulary

    @property
    def words(self) -> list[str]:
        return self._words

    @property
    def vector_size(self) -> int:
        return int(self.vectors.shape[1])

    def __len__(self) -> int:
        return len(self._words)

    def __contains__(self, word) -> bool:
        return word in self._index

    def __repr__(self) -> str:
        return f"KeyedVectors({len(self)} words, dim {self.vector_size}, on {self.device})"

    def index_of(self, word: str) -> int:
        try:
            return self._index[word]
        except (KeyError, TypeError):
            raise GputrainError(
                f"word {word!r} is not in the vocabulary ({len(self)} words)"
                + self._case_hint(word)
            ) from None

    def _case_hint(self, word) -> str:
        """``" (did you mean 'king'? words are case-sensitive)"`` when the word is in the
        vocabulary in another case (up to 3 forms), else ``""``."""
        if not isinstance(word, str):
            return ""
        if self._by_lower is None:
            self._by_lower = {}
            for w in self._words:
                self._by_lower.setdefault(w.lower(), []).append(w)
        forms = self._by_lower.get(word.lower(), [])
        if not forms:
            return ""
        shown = " or ".join(repr(w) for w in forms[:3]) + (" or ..." if len(forms) > 3 else "")
        return f" (did you mean {shown}? words are case-sensitive)"

    def get_vector(self, word: str, norm: bool = False):
        return (self.normed if norm else self.vectors)[self.index_of(word)]

    __getitem__ = get_vector

    @property
    @_on_device
    def normed(self):
        """Unit-length rows (zero rows stay zero), computed once."""
        if self._normed is None:
            xp = get_array_module(self.vectors)
            v = self.vectors  # einsum: no (n, dim) temporary for the squares
            norms = xp.sqrt(xp.einsum("ij,ij->i", v, v))[:, None]
            self._normed = self.vectors / xp.where(norms > 0, norms, 1).astype(np.float32)
        return self._normed

    # ------------------------------------------------------------------ queries

    @_on_device
    def similarity(self, a: str, b: str) -> float:
        """Cosine similarity of two words."""
        return float(self.normed[self.index_of(a)] @ self.normed[self.index_of(b)])

    def _query_rows(self, items) -> tuple[object, list[int]]:
        """Rows for query items: a word's unit vector, a vector as given (gensim's
        convention), and the indices of the words."""
        xp = get_array_module(self.vectors)
        rows, used = [], []
        for item in items:
            if isinstance(item, str):
                i = self.index_of(item)
                used.append(i)
                rows.append(self.normed[i])
            else:
                v = _to_device(item, self.device, dtype=np.float32).reshape(-1)
                if v.shape[0] != self.vector_size:
                    raise GputrainError(
                        f"query vector has {v.shape[0]} values, the vectors have "
                        f"{self.vector_size}"
                    )
                rows.append(v)
        return (xp.stack(rows) if rows else xp.zeros((0, self.vector_size), np.float32)), used

    @_on_device
    def most_similar(self, positive=None, negative=(), topn: int | None = 10,
                     restrict_vocab: int | None = None) -> list[tuple[str, float]]:
        """3CosAdd: words closest to the mean of ``positive`` minus ``negative`` (words, as
        unit vectors, or vectors, as given), excluding the query words;
        ``[(word, cosine), ...]`` best first (``topn=None``: all words)."""
        positive, negative = _as_list(positive), _as_list(negative)
        if not positive and not negative:
            raise GputrainError("most_similar needs at least one positive or negative word")
        pos, used_p = self._query_rows(positive)
        neg, used_n = self._query_rows(negative)
        query = _unit(pos.sum(axis=0) - neg.sum(axis=0), get_array_module(pos))
        idx, scores = self.top_similar(query[None, :], topn, restrict_vocab,
                                       exclude=[used_p + used_n])
        return self._pairs(idx[0], scores[0])

    @_on_device
    def most_similar_cosmul(self, positive=None, negative=(), topn: int | None = 10,
                            restrict_vocab: int | None = None) -> list[tuple[str, float]]:
        """3CosMul (Levy & Goldberg 2014): maximise prod((1+cos(w, p))/2) /
        (prod((1+cos(w, n))/2) + 1e-6), the shifted cosines gensim uses."""
        positive, negative = _as_list(positive), _as_list(negative)
        if not positive:
            raise GputrainError("most_similar_cosmul needs at least one positive word")
        pos, used_p = self._query_rows(positive)
        neg, used_n = self._query_rows(negative)
        xp = get_array_module(pos)
        m = _restricted(len(self), restrict_vocab)
        vocab = self.normed[:m]
        num = xp.prod((1 + vocab @ pos.T) / 2, axis=1)
        den = xp.prod((1 + vocab @ neg.T) / 2, axis=1) + 1e-6
        scores = (num / den)[None, :]
        idx, best = _top_k(scores, topn, [used_p + used_n], xp)
        return self._pairs(idx[0], best[0])

    @_on_device
    def doesnt_match(self, words) -> str:
        """The word furthest from the mean of the (normalised) others. Words not in the
        vocabulary are left out with a warning (as gensim does); none left is an error."""
        words = [str(w) for w in _as_list(words)]
        unknown = [w for w in words if w not in self._index]
        if unknown:
            warnings.warn("doesnt_match ignores words not in the vocabulary: "
                          + ", ".join(repr(w) + self._case_hint(w) for w in unknown),
                          stacklevel=2)
            words = [w for w in words if w in self._index]
        if not words:
            raise GputrainError("doesnt_match needs at least one word in the vocabulary"
                                + (f" (none of {', '.join(map(repr, unknown))} is)"
                                   if unknown else ""))
        rows, _ = self._query_rows(words)
        xp = get_array_module(rows)
        dists = to_cpu(rows @ _unit(rows.mean(axis=0), xp))
        return sorted(zip(dists.tolist(), words, strict=True))[0][1]

    @_on_device
    def most_similar_batch(self, queries, topn: int = 10, restrict_vocab: int | None = None):
        """Neighbours of many words (each excluded from its own list) or of the rows of an
        ``(q, dim)`` matrix at once: a list of ``[(word, cosine), ...]`` per query."""
        if isinstance(queries, (list, tuple)) and all(isinstance(q, str) for q in queries):
            rows, used = self._query_rows(queries)
            exclude = [[i] for i in used]
        else:
            rows, exclude = queries, None
        idx, scores = self.top_similar(rows, topn, restrict_vocab, exclude)
        return [self._pairs(i, s) for i, s in zip(idx, scores, strict=True)]

    @_on_device
    def top_similar(self, queries, topn: int, restrict_vocab: int | None = None,
                    exclude=None) -> tuple[np.ndarray, np.ndarray]:
        """Batched cosine top-k: ``queries`` is ``(q, dim)``, normalised here; ``exclude[j]``
        lists word indices never returned for query ``j``. Returns NumPy ``(q, k)`` indices
        and scores, best first (``-inf`` scores where fewer than ``k`` words remain)."""
        xp = get_array_module(self.vectors)
        queries = _to_device(queries, self.device, dtype=np.float32)
        norms = xp.linalg.norm(queries, axis=1, keepdims=True)
        queries = queries / xp.where(norms > 0, norms, 1).astype(np.float32)
        vocab = self.normed[: _restricted(len(self), restrict_vocab)]
        step = max(1, _SCORE_BLOCK // max(1, vocab.shape[0]))
        out_idx, out_scores = [], []
        for start in range(0, queries.shape[0], step):
            block = queries[start : start + step] @ vocab.T  # (q, m): one matrix product
            ex = None if exclude is None else exclude[start : start + step]
            idx, scores = _top_k(block, topn, ex, xp)
            out_idx.append(idx)
            out_scores.append(scores)
        if not out_idx:
            return np.zeros((0, 0), np.int64), np.zeros((0, 0), np.float32)
        return np.concatenate(out_idx), np.concatenate(out_scores)

    # ------------------------------------------------------------------ evaluation

    def evaluate_word_analogies(self, path, restrict_vocab: int | None = 30000,
                                case_insensitive: bool = True, sections=None):
        """Analogy accuracy per section (see :mod:`gputrain.vectors.evaluation`)."""
        from gputrain.vectors.evaluation import evaluate_word_analogies

        return evaluate_word_analogies(self, path, restrict_vocab, case_insensitive, sections)

    def evaluate_word_pairs(self, path, restrict_vocab: int | None = 300000,
                            case_insensitive: bool = True):
        """Spearman / Pearson / OOV ratio on a word-pair file (WordSim-353, SimLex-999)."""
        from gputrain.vectors.evaluation import evaluate_word_pairs

        return evaluate_word_pairs(self, path, restrict_vocab, case_insensitive)

    def _pairs(self, idx, scores) -> list[tuple[str, float]]:
        pairs = zip(idx.tolist(), scores.tolist(), strict=True)
        return [(self._words[i], s) for i, s in pairs if s != -np.inf]


def _as_list(x) -> list:
    if x is None:
        return []
    if isinstance(x, str) or (hasattr(x, "ndim") and x.ndim == 1):
        return [x]
    return list(x)


def _unit(v, xp):
    n = xp.linalg.norm(v)
    return v / n if float(n) > 0 else v


def _restricted(n: int, restrict_vocab: int | None) -> int:
    if restrict_vocab is None:
        return n
    if restrict_vocab < 1:
        raise GputrainError(f"restrict_vocab must be at least 1, got {restrict_vocab}")
    return min(n, int(restrict_vocab))


def _top_k(scores, k: int, exclude, xp) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise top ``k`` of a ``(q, m)`` score matrix, as NumPy arrays, best first.
    ``scores`` is overwritten (excluded entries become ``-inf``)."""
    q, m = scores.shape
    if exclude is not None:
        rows = [j for j, ex in enumerate(exclude) for i in ex if i < m]
        cols = [i for ex in exclude for i in ex if i < m]
        if rows:
            scores[xp.asarray(rows), xp.asarray(cols)] = -xp.inf
    k = m if k is None else max(0, min(int(k), m))  # topn=None: every word, ranked
    if k == 0:
        return np.zeros((q, 0), np.int64), np.zeros((q, 0), np.float32)
    if k < m:
        part = xp.argpartition(scores, m - k, axis=1)[:, m - k :]
    else:
        part = xp.broadcast_to(xp.arange(m), (q, m))
    part_scores = xp.take_along_axis(scores, part, axis=1)
    order = xp.argsort(-part_scores, axis=1, kind="stable")
    idx = xp.take_along_axis(part, order, axis=1)
    best = xp.take_along_axis(part_scores, order, axis=1)
    return to_cpu(idx).astype(np.int64), to_cpu(best).astype(np.float32)

