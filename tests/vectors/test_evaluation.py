"""Analogy and word-pair evaluation give gensim's numbers on the same vectors and files."""

import numpy as np
import pytest

from gputrain.errors import GputrainError
from gputrain.vectors.evaluation import (
    evaluate_word_analogies,
    evaluate_word_pairs,
    rankdata,
    read_word_pairs,
    spearman,
)
from gputrain.vectors.keyedvectors import KeyedVectors

gensim_kv = pytest.importorskip("gensim.models.keyedvectors")
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """Vectors where ``base_i : target_i`` share one offset per section (plus noise, so some
    answers are wrong), a question file over them, and gensim's view of the same file."""
    rng = np.random.default_rng(5)
    dim = 24
    words, vectors = [], []
    sections = {"capital-x": 0, "family": 1, "gram1-y": 2}
    offsets = rng.standard_normal((3, dim)) * 1.5
    for name, s in sections.items():
        for i in range(12):
            base = rng.standard_normal(dim)
            words += [f"{name[:3]}b{i}", f"{name[:3]}t{i}"]
            vectors += [base, base + offsets[s] + rng.standard_normal(dim) * 0.9]
    words += ["King", "queen", "Man", "woman"]  # mixed case: questions use lower case
    vectors += list(rng.standard_normal((4, dim)))
    words += [f"filler{i}" for i in range(60)] + ["king", "rare1", "rare2"]
    vectors += list(rng.standard_normal((63, dim)))
    root = tmp_path_factory.mktemp("eval")
    vec_path = root / "v.bin"
    KeyedVectors(words, np.asarray(vectors, np.float32)).save(vec_path)
    lines = []
    for name in sections:
        lines.append(f": {name}")
        p = name[:3]
        for i in range(12):
            for j in range(12):
                if i != j:
                    lines.append(f"{p}b{i} {p}t{i} {p}b{j} {p}t{j}")
        lines.append(f"{p}b0 {p}t0 unknownword {p}t1")  # out of vocabulary
        lines.append(f"{p}b0 {p}t0 rare1 rare2")  # beyond restrict_vocab=100
    lines += ["man woman king queen", "MAN King woman Queen"]  # case-insensitive lookups
    q_path = root / "questions.txt"
    q_path.write_text("\n".join(lines) + "\n")
    return (KeyedVectors.load(vec_path),
            gensim_kv.KeyedVectors.load_word2vec_format(str(vec_path), binary=True), q_path)


@pytest.mark.parametrize("restrict, case_insensitive", [(100, True), (None, True),
                                                        (100, False), (30, True)])
def test_analogies_match_gensim_per_section(planted, restrict, case_insensitive):
    ours, theirs, questions = planted
    result = evaluate_word_analogies(ours, questions, restrict, case_insensitive)
    score, sections = theirs.evaluate_word_analogies(
        str(questions), restrict_vocab=restrict or len(ours), case_insensitive=case_insensitive)
    assert [s.name for s in result.sections] == [s["section"] for s in sections[:-1]]
    for s, g in zip(result.sections, sections[:-1], strict=True):
        assert (s.correct, s.total) == (len(g["correct"]), len(g["correct"]) + len(g["incorrect"]))
    assert result.total.accuracy == pytest.approx(score)
    seen = sum(1 for line in questions.read_text().splitlines() if not line.startswith(":"))
    assert result.answered + result.skipped == seen
    if restrict == 100:
        assert 0 < result.total.correct < result.total.total  # the noise makes some wrong
        assert result.skipped == 6 + (0 if case_insensitive else 2)


def test_section_selection_and_sums(planted):
    ours, _, questions = planted
    full = evaluate_word_analogies(ours, questions, 100)
    chosen = evaluate_word_analogies(ours, questions, 100, sections="syntactic+family")
    assert [s.name for s in chosen.sections] == ["family", "gram1-y"]
    assert chosen.skipped == 4  # the two sections' out-of-vocabulary questions only
    by_name = {s.name: s for s in full.sections}
    summed = full.summed("syntactic+family")
    assert summed.correct == by_name["family"].correct + by_name["gram1-y"].correct
    assert (chosen.total.correct, chosen.total.total) == (summed.correct, summed.total)
    assert full.summed(["capital-x"]).total == by_name["capital-x"].total
    listed = evaluate_word_analogies(ours, questions, 100, sections="family,capital-x")
    assert [s.name for s in listed.sections] == ["capital-x", "family"]
    with pytest.raises(GputrainError, match="no section 'famly'; the sections are capital-x"):
        evaluate_word_analogies(ours, questions, 100, sections="family,famly")
    d = full.to_dict()
    assert d["answered"] == full.answered and d["total"]["accuracy"] == full.total.accuracy


@pytest.mark.parametrize("text, message", [
    ("a b c d\n", "line 1: a question before any ': section' line"),
    ("\n", "no analogy questions found"),
    (": s\na b c d\na b c\n", "line 3: expected 4 words, got 3"),
])
def test_bad_question_files_say_where(planted, tmp_path, text, message):
    path = tmp_path / "q.txt"
    path.write_text(text)
    with pytest.raises(GputrainError, match=message):
        evaluate_word_analogies(planted[0], path)
    with pytest.raises(GputrainError, match="not found"):
        evaluate_word_analogies(planted[0], tmp_path / "missing.txt")


def _pairs(kv, rng, n=40):
    words = kv.words
    out = []
    for _ in range(n):
        a, b = rng.choice(len(words), 2, replace=False)
        out.append((words[a], words[b], float(rng.integers(0, 8))))  # integer scores: ties
    return out


def test_wordsim_tsv_matches_gensim(planted, tmp_path):
    ours, theirs, _ = planted
    rng = np.random.default_rng(1)
    rows = _pairs(ours, rng) + [("tiger", "nothere", 5.0)]
    path = tmp_path / "ws.tsv"
    path.write_text("# comment\n# Word 1\tWord 2\tHuman (mean)\n"
                    + "".join(f"{a}\t{b}\t{s}\n" for a, b, s in rows))
    result = evaluate_word_pairs(ours, path)
    pearson, spear, oov = theirs.evaluate_word_pairs(str(path))
    assert result.spearman == pytest.approx(spear.correlation, abs=1e-6)
    assert result.pearson == pytest.approx(pearson[0], abs=1e-6)
    assert result.oov_ratio * 100 == pytest.approx(oov)
    assert (result.pairs_used, result.oov) == (40, 1)


def test_original_simlex_format_is_detected(planted, tmp_path):
    ours, theirs, _ = planted
    rows = _pairs(ours, np.random.default_rng(2))
    header = ("word1\tword2\tPOS\tSimLex999\tconc(w1)\tconc(w2)\tconcQ\tAssoc(USF)"
              "\tSimAssoc333\tSD\n")
    simlex = tmp_path / "SimLex-999.txt"
    simlex.write_text(header + "".join(f"{a}\t{b}\tN\t{s}\t4.1\t3.2\t2\t0.5\t0\t0.4\n"
                                       for a, b, s in rows))
    three = tmp_path / "simlex3.txt"
    three.write_text("".join(f"{a}\t{b}\t{s}\n" for a, b, s in rows))
    assert read_word_pairs(simlex) == rows
    result = evaluate_word_pairs(ours, simlex)
    pearson, spear, _ = theirs.evaluate_word_pairs(str(three))
    assert result.spearman == pytest.approx(spear.correlation, abs=1e-6)
    assert result.pearson == pytest.approx(pearson[0], abs=1e-6)


@pytest.mark.parametrize("text, message", [
    ("a\tb\n", "line 1: expected word1, word2 and a score"),
    ("a\tb\t1\nc\td\tmany\n", "line 2: score 'many' is not a number"),
    ("# only comments\n", "no word pairs found"),
])
def test_bad_pair_files_say_where(tmp_path, text, message):
    path = tmp_path / "pairs.tsv"
    path.write_text(text)
    with pytest.raises(GputrainError, match=message):
        read_word_pairs(path)


def test_all_pairs_out_of_vocabulary_is_an_error(planted, tmp_path):
    path = tmp_path / "pairs.tsv"
    path.write_text("nope\tnada\t3\n")
    with pytest.raises(GputrainError, match="every pair has a word outside the vocabulary"):
        evaluate_word_pairs(planted[0], path)


def test_rankdata_averages_ties_like_scipy():
    assert rankdata([10, 20, 20, 5, 20]).tolist() == [2, 4, 4, 1, 4]
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 5, 200), rng.normal(size=200)
    np.testing.assert_allclose(rankdata(x), stats.rankdata(x))
    assert spearman(x, y) == pytest.approx(stats.spearmanr(x, y).correlation, abs=1e-12)
    assert np.isnan(spearman([1, 1, 1], [1, 2, 3]))  # constant: undefined, not a crash
