"""Intrinsic evaluation of word vectors: analogies and word-pair similarity.

Both follow gensim 4's ``KeyedVectors.evaluate_word_analogies`` / ``evaluate_word_pairs``
semantics, so the numbers are comparable with gensim's on the same vectors:

* analogies (``questions-words.txt``: ``: section`` headers, then ``a b c expected``):
  3CosAdd over the ``restrict_vocab`` most frequent words, the query words excluded;
  questions with a word outside that vocabulary are skipped and counted; with
  ``case_insensitive`` every word is upper-cased and stands for its most frequent casing.
  All questions are answered in batches (one matrix product per batch).
* word pairs (WordSim-353 tsv with ``#`` comments, SimLex-999 in gensim's 3-column form or
  the original one with a ``word1 word2 POS SimLex999 ...`` header): Spearman (average
  ranks for ties) and Pearson correlation between human scores and cosine similarities,
  and the fraction of pairs skipped as out of vocabulary.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from gputrain.backend import get_array_module, to_cpu
from gputrain.errors import GputrainError

SYNTACTIC_PLUS_FAMILY = "syntactic+family"
_BATCH = 2048


def syntactic_or_family(name: str) -> bool:
    """The sections the benchmark reports: the ``gram*`` sections plus ``family``."""
    return name.startswith("gram") or name == "family"


@dataclass
class SectionScore:
    name: str
    correct: int = 0
    total: int = 0  # questions answered (in the vocabulary)

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else float("nan")

    def to_dict(self) -> dict:
        acc = self.accuracy
        return {"section": self.name, "correct": self.correct, "total": self.total,
                "accuracy": None if np.isnan(acc) else acc}


@dataclass
class AnalogyResult:
    """Per-section scores (file order); ``answered`` + ``skipped`` = questions seen."""

    sections: list[SectionScore] = field(default_factory=list)
    skipped: int = 0  # a word outside the restricted vocabulary
    restrict_vocab: int | None = None

    @property
    def answered(self) -> int:
        return sum(s.total for s in self.sections)

    @property
    def total(self) -> SectionScore:
        return self.summed(lambda name: True, "total")

    def summed(self, select, name: str | None = None) -> SectionScore:
        """One score over the chosen sections (names, a predicate or ``syntactic+family``)."""
        keep, _ = _section_filter(select)
        chosen = [s for s in self.sections if keep(s.name)]
        label = name or (select if isinstance(select, str) else "selected")
        return SectionScore(label, sum(s.correct for s in chosen), sum(s.total for s in chosen))

    def to_dict(self) -> dict:
        return {
            "sections": [s.to_dict() for s in self.sections],
            "total": self.total.to_dict(),
            "answered": self.answered,
            "skipped": self.skipped,
            "restrict_vocab": self.restrict_vocab,
        }


@dataclass
class PairsResult:
    path: str
    spearman: float
    pearson: float
    pairs_used: int
    oov: int  # pairs skipped: a word outside the restricted vocabulary

    @property
    def oov_ratio(self) -> float:
        """Fraction (0..1) of pairs skipped; gensim reports this times 100."""
        total = self.pairs_used + self.oov
        return self.oov / total if total else 0.0

    def to_dict(self) -> dict:
        return {"path": self.path, "spearman": _or_none(self.spearman),
                "pearson": _or_none(self.pearson), "pairs_used": self.pairs_used,
                "oov": self.oov, "oov_ratio": self.oov_ratio}


def _or_none(x: float):
    return None if np.isnan(x) else x


def _section_filter(select) -> tuple[Callable[[str], bool], set[str] | None]:
    """A predicate on section names, and the names asked for (None: not a list of names)."""
    if select is None:
        return (lambda name: True), None
    if callable(select):
        return select, None
    if isinstance(select, str):
        if select == SYNTACTIC_PLUS_FAMILY:
            return syntactic_or_family, None
        select = [s.strip() for s in select.split(",") if s.strip()]
    names = set(select)
    return (lambda name: name in names), names


def _vocab_map(kv, restrict_vocab: int | None, case_insensitive: bool) -> dict[str, int]:
    """Key -> index over the first ``restrict_vocab`` words; upper-cased keys map to the
    most frequent casing (gensim's ``ok_vocab``)."""
    words = kv.words[: restrict_vocab if restrict_vocab is not None else len(kv)]
    if not case_insensitive:
        return {w: i for i, w in enumerate(words)}
    mapping: dict[str, int] = {}
    for i, w in enumerate(words):
        mapping.setdefault(w.upper(), i)
    return mapping


def _read_lines(path) -> list[str]:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise GputrainError(f"evaluation file not found: {path}") from None
    except IsADirectoryError:
        raise GputrainError(f"evaluation file is a directory: {path}") from None
    return data.decode("utf-8", "replace").splitlines()


def evaluate_word_analogies(kv, path: str | os.PathLike, restrict_vocab: int | None = 30000,
                            case_insensitive: bool = True, sections=None) -> AnalogyResult:
    """Accuracy per section of 3CosAdd analogies ``a : b :: c : ?`` (gensim's semantics).

    ``sections`` keeps only some sections: a list of names, a comma-separated string, a
    predicate, or ``"syntactic+family"``; questions elsewhere are neither answered nor
    skipped.
    """
    keep, wanted = _section_filter(sections)
    seen: list[str] = []
    vocab = _vocab_map(kv, restrict_vocab, case_insensitive)
    result = AnalogyResult(restrict_vocab=restrict_vocab)
    questions: list[tuple[int, int, int, int, SectionScore]] = []
    section = None
    for line_no, line in enumerate(_read_lines(path), 1):
        if line.startswith(": "):
            section = SectionScore(line[2:].strip())
            seen.append(section.name)
            if keep(section.name):
                result.sections.append(section)
            continue
        if not line.strip():
            continue
        if section is None:
            raise GputrainError(f"{path}: line {line_no}: a question before any ': section' line")
        parts = line.split()
        if len(parts) != 4:
            raise GputrainError(f"{path}: line {line_no}: expected 4 words, got {len(parts)}")
        if not keep(section.name):
            continue
        if case_insensitive:
            parts = [p.upper() for p in parts]
        ids = [vocab.get(p) for p in parts]
        if None in ids:
            result.skipped += 1
            continue
        questions.append((*ids, section))
    if section is None:
        raise GputrainError(f"{path}: no analogy questions found (': section' lines and "
                            "'a b c d' questions)")
    unknown = sorted((wanted or set()) - set(seen))
    if unknown:
        raise GputrainError(f"{path}: no section {', '.join(map(repr, unknown))}; the sections "
                            f"are {', '.join(seen)}")
    if not questions:
        return result
    xp_kv = kv.normed
    abc = np.array([q[:3] for q in questions], dtype=np.int64)
    upper = (lambda w: w.upper()) if case_insensitive else (lambda w: w)
    words = kv.words
    for start in range(0, len(questions), _BATCH):
        part = abc[start : start + _BATCH]
        ia, ib, ic = (_device_index(xp_kv, part[:, j]) for j in range(3))
        query = xp_kv[ib] - xp_kv[ia] + xp_kv[ic]
        top, _ = kv.top_similar(query, 5, restrict_vocab, exclude=part.tolist())
        for (a, b, c, expected, sec), cands in zip(
            questions[start : start + _BATCH], top.tolist(), strict=True
        ):
            ignore = {upper(words[a]), upper(words[b]), upper(words[c])}
            predicted = None
            for i in cands:  # first candidate that is not a query word in another casing
                predicted = upper(words[i])
                if predicted not in ignore:
                    break
            sec.total += 1
            sec.correct += predicted == upper(words[expected])
    return result


def _device_index(matrix, idx: np.ndarray):
    return get_array_module(matrix).asarray(idx)


# ---------------------------------------------------------------------------------------
# word pairs


def read_word_pairs(path: str | os.PathLike) -> list[tuple[str, str, float]]:
    """``(word1, word2, score)`` from WordSim-353 / SimLex-999 style files (format detected:
    ``#`` comments, tab / comma / space separated, optional header naming the columns)."""
    pairs: list[tuple[str, str, float]] = []
    score_col = 2
    header_seen = False
    for line_no, line in enumerate(_read_lines(path), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        sep = "\t" if "\t" in line else ("," if "," in line else None)
        fields = [f.strip() for f in line.split(sep)]
        if not header_seen and not pairs:
            header_seen = True
            if len(fields) >= 3 and not _is_number(fields[2]):  # a header line
                names = [f.lower().replace(" ", "") for f in fields]
                score_col = names.index("simlex999") if "simlex999" in names else 2
                continue
        if len(fields) <= score_col or not fields[0] or not fields[1]:
            raise GputrainError(
                f"{path}: line {line_no}: expected word1, word2 and a score "
                f"(column {score_col + 1}), got {len(fields)} field(s)"
            )
        if not _is_number(fields[score_col]):
            raise GputrainError(
                f"{path}: line {line_no}: score {fields[score_col]!r} is not a number"
            )
        pairs.append((fields[0], fields[1], float(fields[score_col])))
    if not pairs:
        raise GputrainError(f"{path}: no word pairs found")
    return pairs


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def evaluate_word_pairs(kv, path: str | os.PathLike, restrict_vocab: int | None = 300000,
                        case_insensitive: bool = True) -> PairsResult:
    """Spearman and Pearson correlation of cosine similarity with human scores."""
    vocab = _vocab_map(kv, restrict_vocab, case_insensitive)
    gold, rows_a, rows_b = [], [], []
    oov = 0
    for a, b, score in read_word_pairs(path):
        if case_insensitive:
            a, b = a.upper(), b.upper()
        if a not in vocab or b not in vocab:
            oov += 1
            continue
        gold.append(score)
        rows_a.append(vocab[a])
        rows_b.append(vocab[b])
    if not gold:
        raise GputrainError(f"{path}: every pair has a word outside the vocabulary")
    normed = kv.normed
    ia, ib = _device_index(normed, np.array(rows_a)), _device_index(normed, np.array(rows_b))
    model = to_cpu((normed[ia] * normed[ib]).sum(axis=1)).astype(np.float64)
    gold_arr = np.asarray(gold, dtype=np.float64)
    return PairsResult(str(path), spearman(gold_arr, model), pearson(gold_arr, model),
                       len(gold), oov)


def rankdata(x: Iterable[float]) -> np.ndarray:
    """Ranks from 1, ties given their average rank (scipy's ``rankdata(method='average')``)."""
    x = np.asarray(x, dtype=np.float64)
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    bounds = np.flatnonzero(np.r_[True, xs[1:] != xs[:-1], True])  # tie groups
    average = (bounds[:-1] + bounds[1:] - 1) / 2.0 + 1.0
    group = np.repeat(np.arange(len(average)), np.diff(bounds))
    ranks = np.empty(len(x))
    ranks[order] = average[group]
    return ranks


def pearson(x, y) -> float:
    x = np.asarray(x, dtype=np.float64) - np.mean(x)
    y = np.asarray(y, dtype=np.float64) - np.mean(y)
    denom = np.sqrt((x * x).sum() * (y * y).sum())
    return float((x * y).sum() / denom) if denom > 0 else float("nan")


def spearman(x, y) -> float:
    return pearson(rankdata(x), rankdata(y))
