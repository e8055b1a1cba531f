"""`gputrain neighbors / similarity / doesnt-match / analogy / eval / plot` through the
console entry point."""

import json
import subprocess
import sys

import numpy as np
import pytest

from gputrain.cli import main
from gputrain.vectors.keyedvectors import KeyedVectors


@pytest.fixture(scope="module")
def vectors(tmp_path_factory):
    """king - man + woman = queen holds exactly; a few other words around."""
    rng = np.random.default_rng(0)
    base = {w: rng.standard_normal(10) for w in ["man", "king", "paris", "france", "rome"]}
    base["woman"] = base["man"] + rng.standard_normal(10)
    base["queen"] = base["king"] - base["man"] + base["woman"]
    base["italy"] = base["france"] - base["paris"] + base["rome"] + 0.05
    words = list(base) + [f"noise{i}" for i in range(30)]
    matrix = np.array(list(base.values()) + list(rng.standard_normal((30, 10))), np.float32)
    path = tmp_path_factory.mktemp("cli") / "v.bin"
    KeyedVectors(words, matrix).save(path)
    return path


def run(capsys, *args):
    """Run `gputrain ARGS`; returns (exit code, stdout, stderr)."""
    code = 0
    try:
        main([str(a) for a in args])
    except SystemExit as e:
        code = e.code or 0
    out, err = capsys.readouterr()
    return code, out, err


def test_neighbors_table_and_json(capsys, vectors):
    code, out, _ = run(capsys, "neighbors", vectors, "king", "-n", "3", "--device", "cpu")
    assert code == 0 and "nearest to 'king'" in out and len(out.strip().splitlines()) == 4
    code, out, _ = run(capsys, "neighbors", vectors, "king", "-n", "5", "--json")
    data = json.loads(out)
    expected = KeyedVectors.load(vectors).most_similar("king", topn=5)
    assert data["word"] == "king"
    assert [(n["word"], pytest.approx(n["similarity"])) for n in data["neighbors"]] == expected


def test_neighbors_of_several_words_minus_others(capsys, vectors):
    code, out, _ = run(capsys, "neighbors", vectors, "king", "woman", "--minus", "man",
                       "-n", "2")
    assert code == 0 and "nearest to 'king' + 'woman' - 'man'" in out
    assert out.strip().splitlines()[1].split()[1] == "queen"
    code, out, _ = run(capsys, "neighbors", vectors, "france", "rome", "--minus", "paris",
                       "--minus", "man", "--json")
    data = json.loads(out)
    assert data["positive"] == ["france", "rome"] and data["negative"] == ["paris", "man"]
    assert "word" not in data
    expected = KeyedVectors.load(vectors).most_similar(["france", "rome"], ["paris", "man"])
    assert [(n["word"], pytest.approx(n["similarity"])) for n in data["neighbors"]] == expected


def test_similarity_and_doesnt_match(capsys, vectors):
    kv = KeyedVectors.load(vectors)
    code, out, _ = run(capsys, "similarity", vectors, "king", "queen")
    assert code == 0 and float(out) == pytest.approx(kv.similarity("king", "queen"), abs=1e-4)
    code, out, _ = run(capsys, "similarity", vectors, "king", "queen", "--json")
    assert json.loads(out) == {"a": "king", "b": "queen",
                               "similarity": pytest.approx(kv.similarity("king", "queen"))}
    group = ["king", "queen", "man", "woman", "paris"]
    code, out, err = run(capsys, "doesnt-match", vectors, *group)
    assert code == 0 and out.strip() == kv.doesnt_match(group) and err == ""
    code, out, err = run(capsys, "doesnt-match", vectors, *group, "zebra", "Rome", "--json")
    data = json.loads(out)
    assert data["doesnt_match"] == kv.doesnt_match(group)
    assert data["ignored"] == ["zebra", "Rome"]
    assert err.count("\n") == 1 and err.startswith("warning: ") and "'zebra'" in err
    assert "did you mean 'rome'?" in err
    code, _, err = run(capsys, "doesnt-match", vectors, "zebra", "gnu")
    _one_line_error(code, err, "at least one word in the vocabulary", "'gnu'")


def test_a_word_missing_only_by_case_names_the_form_that_exists(capsys, vectors):
    code, _, err = run(capsys, "neighbors", vectors, "King")
    _one_line_error(code, err, "'King' is not in the vocabulary", "did you mean 'king'?")
    code, _, err = run(capsys, "similarity", vectors, "king", "QUEEN")
    _one_line_error(code, err, "'QUEEN'", "did you mean 'queen'?")


def test_analogy_answers_b_minus_a_plus_c(capsys, vectors):
    code, out, _ = run(capsys, "analogy", vectors, "man", "king", "woman", "-n", "1")
    assert code == 0 and "man is to king as woman is to" in out
    assert out.strip().splitlines()[-1].split()[1] == "queen"
    code, out, _ = run(capsys, "analogy", vectors, "paris", "france", "rome", "--json",
                       "--cosmul")
    data = json.loads(out)
    assert data["method"] == "3CosMul" and data["neighbors"][0]["word"] == "italy"


def test_eval_table_and_json(capsys, vectors, tmp_path):
    questions = tmp_path / "q.txt"
    questions.write_text(": capital-common-countries\nparis france rome italy\n"
                         ": family\nman king woman queen\nman king woman ghost\n"
                         ": gram8-plural\nman woman king queen\n")
    pairs = tmp_path / "ws.tsv"
    pairs.write_text("# Word 1\tWord 2\tHuman\nking\tqueen\t9\nman\twoman\t8\n"
                     "paris\trome\t5\nking\tnoise1\t1\nman\tnothere\t3\n")
    code, out, _ = run(capsys, "eval", vectors, "--analogies", questions, "--pairs", pairs,
                       "--pairs", pairs)
    assert code == 0
    assert "capital-common-countries" in out and "syntactic+family" in out
    assert "answered 3 of 4 questions (1 skipped" in out
    assert out.count("ws.tsv") == 2
    code, out, _ = run(capsys, "eval", vectors, "--analogies", questions, "--pairs", pairs,
                       "--json", "--sections", "syntactic+family")
    data = json.loads(out)
    assert [s["section"] for s in data["analogies"]["sections"]] == ["family", "gram8-plural"]
    assert data["analogies"]["sections"][0] == {"section": "family", "correct": 1, "total": 1,
                                                "accuracy": 1.0}
    assert data["analogies"]["skipped"] == 1
    assert data["pairs"][0]["pairs_used"] == 4 and data["pairs"][0]["oov"] == 1
    assert data["pairs"][0]["spearman"] > 0.5


def test_non_utf8_words_warn_once_on_one_line(capsys, tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("3 2\ncaf\xe9 1 0\ntea 0.9 0.1\nrice 0 1\n".encode("latin-1"))
    code, out, err = run(capsys, "neighbors", path, "tea", "-n", "1")
    assert code == 0 and "caf\ufffd" in out
    assert err.count("warning:") == 1 and "not valid UTF-8" in err and len(err.splitlines()) == 1


def _is_png(path) -> bool:
    return path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_writes_a_valid_png(capsys, vectors, tmp_path):
    image = pytest.importorskip("matplotlib.image")
    out_png = tmp_path / "words.png"
    code, out, _ = run(capsys, "plot", vectors, "king", "queen", "man", "-o", out_png,
                       "--neighbors", "2")
    assert code == 0 and "wrote" in out and _is_png(out_png)
    pixels = image.imread(out_png)
    assert pixels.shape[0] > 100 and pixels.shape[1] > 100
    assert len(pixels.reshape(-1, pixels.shape[-1])[::97].tolist()) > 0
    assert pixels.std() > 0  # something was drawn
    assert [p.name for p in tmp_path.iterdir()] == ["words.png"]
    code, out, _ = run(capsys, "plot", vectors, "king", "queen", "-o", tmp_path / "two.png",
                       "--json")
    points = json.loads(out)["points"]
    assert [p["word"] for p in points] == ["king", "queen"] and _is_png(tmp_path / "two.png")
    assert points[0]["x"] == pytest.approx(-points[1]["x"])  # two points: centred on PC1


def test_plot_without_matplotlib_says_how_to_install(capsys, vectors, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    code, _, err = run(capsys, "plot", vectors, "king", "queen", "-o", tmp_path / "x.png")
    assert code == 2 and "pip install 'gputrain[plot]'" in err
    assert not (tmp_path / "x.png").exists()


def _one_line_error(code, err, *fragments):
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0]


def test_unknown_word_is_one_line_naming_it(capsys, vectors):
    code, _, err = run(capsys, "neighbors", vectors, "kingdom")
    _one_line_error(code, err, "'kingdom'", "not in the vocabulary")
    code, _, err = run(capsys, "analogy", vectors, "man", "king", "womanhood")
    _one_line_error(code, err, "'womanhood'")
    code, _, err = run(capsys, "plot", vectors, "king", "zebra")
    _one_line_error(code, err, "'zebra'")


def test_missing_truncated_and_malformed_files_say_where(capsys, vectors, tmp_path):
    code, _, err = run(capsys, "neighbors", tmp_path / "missing.bin", "king")
    _one_line_error(code, err, "not found", "missing.bin")
    cut = tmp_path / "cut.bin"
    cut.write_bytes(vectors.read_bytes()[:300])
    code, _, err = run(capsys, "neighbors", cut, "king")
    _one_line_error(code, err, "cut.bin", "truncated", "word 6 of 38", "byte offset 285")
    bad = tmp_path / "bad.txt"
    bad.write_text("2 3\nking 1 2 3\nqueen 1 two 3\n")
    code, _, err = run(capsys, "eval", bad, "--pairs", bad)
    _one_line_error(code, err, "bad.txt", "line 3")
    code, _, err = run(capsys, "eval", vectors)
    _one_line_error(code, err, "--analogies", "--pairs")


def test_a_real_process_exits_2_with_one_line(vectors, tmp_path):
    cut = tmp_path / "cut.bin"
    cut.write_bytes(vectors.read_bytes()[:100])
    proc = subprocess.run([sys.executable, "-m", "gputrain", "neighbors", str(cut), "king"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1
    assert "truncated binary vector file at word 2 of 38" in proc.stderr
