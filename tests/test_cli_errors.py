"""The CLI's error plumbing: every bad input is one line ``error: ...`` and exit status 2."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gputrain.cli import _memory_message


@pytest.mark.parametrize("args, message", [
    (["w2v"], "error: Missing argument 'CORPUS' (see 'gputrain w2v --help')"),
    (["w2v", "--dim", "x", "c.txt"], "error: Invalid value for '--dim': 'x' is not a valid "
                                     "integer (see 'gputrain w2v --help')"),
    (["nosuch"], "error: No such command 'nosuch' (see 'gputrain --help')"),
    (["mlp", "train", "--bogus"], "error: No such option '--bogus' (see 'gputrain mlp train "
                                  "--help')"),
    (["analogy", "v.bin", "a"], "error: Missing argument 'B' (see 'gputrain analogy --help')"),
])
def test_click_usage_errors_are_one_line_exit_2(cli, args, message):
    assert cli.fails(*args).startswith(message)


def test_help_is_unchanged(cli):
    code, out, err = cli.run("w2v", "--help")
    assert code == 0 and out.startswith("Usage: gputrain w2v [OPTIONS] CORPUS") and not err
    code, _, err = cli.run("mlp")  # a group without a command: its help, as click prints it
    assert "Commands:" in err and "train" in err


def test_out_of_memory_is_one_line_with_a_hint_for_the_command(tmp_path):
    data = tmp_path / "t.parquet"
    pq.write_table(pa.table({"y": [0, 1] * 20, "x": np.arange(40.0)}), data)
    # a layer of 1e14 units cannot be allocated under any overcommit setting
    proc = subprocess.run([sys.executable, "-m", "gputrain", "mlp", "train", str(data),
                           "--label", "y", "--hidden", "100000000000000", "--quiet",
                           "--device", "cpu", "-o", str(tmp_path / "m")],
                          capture_output=True, text=True, timeout=120)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: out of memory (unable to allocate")
    assert lines[0].endswith("try smaller --hidden layers or --batch-size")


def test_memory_hints_fit_the_command():
    e = MemoryError("Unable to allocate 3.00 GiB for an array with shape (1,) and data type "
                    "float32")
    assert "--max-vocab-size" in _memory_message(["w2v", "c.txt", "--dim", "9"], e)
    assert _memory_message(["mlp", "predict", "m", "d.csv"], e).endswith("--batch-size")
    assert "--max-vocab-size" not in _memory_message(["neighbors", "v.bin", "x"], e)
    assert _memory_message(["w2v"], MemoryError()).startswith("out of memory; try")


def test_a_warning_is_one_line(cli, tmp_path, monkeypatch):
    import warnings

    import gputrain.cli.vectors as vectors_cli

    def noisy(*args, **kwargs):
        warnings.warn("something odd", RuntimeWarning, stacklevel=1)
        raise vectors_cli.GputrainError("stop here")

    monkeypatch.setattr(vectors_cli, "_load", noisy)
    code, out, err = cli.run("neighbors", tmp_path / "v.bin", "king")
    assert err.splitlines() == ["warning: something odd", "error: stop here"]


def test_outputs_of_plot_and_jobs_download_never_replace_a_file_unasked(tmp_path, cli,
                                                                        monkeypatch):
    from gputrain.vectors.keyedvectors import KeyedVectors

    monkeypatch.chdir(tmp_path)
    vectors = tmp_path / "v.svg"  # a vector file may have any name: it is sniffed
    KeyedVectors(["a", "b", "c"], np.eye(3, dtype=np.float32)).save(vectors, fmt="txt")
    before = vectors.read_bytes()
    assert "-o v.svg is the vectors" in cli.fails("plot", "v.svg", "a", "b", "-o", "./v.svg")
    (tmp_path / "vectors.bin").write_bytes(b"mine")
    line = cli.fails("jobs", "download", "job1", "vectors.bin", "--server",
                     "http://127.0.0.1:9")  # refused before any request is made
    assert "vectors.bin exists here; give -o" in line
    assert (tmp_path / "vectors.bin").read_bytes() == b"mine" and vectors.read_bytes() == before
