"""``gputrain w2v`` and its files: nothing the user has is overwritten or lost, outputs are
checked before training, and a failed run leaves no checkpoint directory without a
checkpoint behind."""

from __future__ import annotations

import os
import subprocess

import numpy as np
import pytest

from gputrain.vectors.keyedvectors import KeyedVectors

FAST = ["--dim", "8", "--epochs", "1", "--min-count", "1", "--threads", "1", "--quiet"]


def corpus(path, lines=200, seed=0):
    rng = np.random.default_rng(seed)
    words = [f"w{i}" for i in range(30)]
    path.write_text("\n".join(" ".join(rng.choice(words, 10)) for _ in range(lines)) + "\n")
    return path


def test_output_that_is_the_corpus_is_refused(tmp_path, cli, monkeypatch):
    c = corpus(tmp_path / "c.txt")
    before = c.read_bytes()
    monkeypatch.chdir(tmp_path)
    (tmp_path / "link.txt").symlink_to(c)
    for spelling in ("c.txt", "./c.txt", str(c), "link.txt"):
        line = cli.fails("w2v", "c.txt", "-o", spelling, *FAST)
        assert f"--output {spelling} is the corpus" in line and "overwritten" in line
    line = cli.fails("w2v", "c.txt", "-o", "v.bin", "--events", "./c.txt", *FAST)
    assert "--events ./c.txt is the corpus" in line
    assert c.read_bytes() == before and not (tmp_path / "v.bin.ckpt").exists()


def test_unknown_output_suffix_is_refused_before_training(tmp_path, cli):
    c = corpus(tmp_path / "c.txt")
    line = cli.fails("w2v", c, "-o", tmp_path / "x.xyz", *FAST)
    assert "no vector format is written as '.xyz'" in line
    assert list(tmp_path.iterdir()) == [c]


def test_rerun_without_resume_keeps_the_checkpoint_and_says_how(tmp_path, cli):
    c = corpus(tmp_path / "c.txt", lines=400)
    out = tmp_path / "v.bin"
    args = ["w2v", c, "-o", out, *FAST, "--checkpoint-every", "1000"]
    assert cli.run(*args, "--keep-checkpoint")[0] == 0
    ckpt = tmp_path / "v.bin.ckpt" / "checkpoint.npz"
    saved = ckpt.read_bytes()
    out.unlink()
    line = cli.fails(*args)
    assert "holds the checkpoint of an earlier run" in line and "--resume" in line \
        and "--restart" in line
    assert ckpt.read_bytes() == saved and not out.exists()
    assert "give one of them" in cli.fails(*args, "--resume", "--restart")
    code, _, err = cli.run(*args, "--restart")
    assert code == 0, err
    assert out.exists() and not ckpt.parent.exists()


def test_events_in_a_missing_directory_fail_before_anything_is_created(tmp_path, cli):
    c = corpus(tmp_path / "c.txt")
    line = cli.fails("w2v", c, "-o", tmp_path / "v.bin", "--events",
                     tmp_path / "nodir" / "ev.jsonl", *FAST)
    assert "no such directory" in line and "nodir" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.txt"]


def test_a_full_disk_names_the_file_and_removes_the_cache(tmp_path, cli):
    c = corpus(tmp_path / "c.txt")
    line = cli.fails("w2v", c, "-o", tmp_path / "v.bin", "--events", "/dev/full", *FAST)
    assert line == "error: no space left on device: /dev/full"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.txt"]  # no v.bin.ckpt/


def test_a_full_disk_at_the_end_names_the_vectors_file(tmp_path, cli, monkeypatch):
    import gputrain.vectors.formats as formats
    from gputrain.atomicfile import atomic_open

    def full(path, *args):  # as the real writer fails: an OSError that names no file
        with atomic_open(path, "wb") as f:
            f.write(b"x")
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(formats, "write_word2vec_binary", full)
    c = corpus(tmp_path / "c.txt")
    line = cli.fails("w2v", c, "-o", tmp_path / "v.bin", *FAST)
    assert line == f"error: no space left on device: {tmp_path / 'v.bin'}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.txt"]  # no temp file, no cache


@pytest.fixture
def read_only_dir(tmp_path):
    """A directory no file can be created in: a read-only tmpfs as root, else chmod 0o555."""
    path = tmp_path / "ro"
    path.mkdir()
    if os.geteuid() != 0:
        path.chmod(0o555)
        yield path
        path.chmod(0o755)
        return
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(path)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a read-only tmpfs: {done.stderr.strip()}")
    yield path
    subprocess.run(["umount", "-l", str(path)], check=False)


def test_read_only_output_fails_before_training(tmp_path, cli, read_only_dir):
    c = corpus(tmp_path / "c.txt")
    ckpt = tmp_path / "ck"
    line = cli.fails("w2v", c, "-o", read_only_dir / "v.bin", "--checkpoint-dir", ckpt, *FAST)
    assert str(read_only_dir / "v.bin") in line
    assert not ckpt.exists()


def test_loss_curves_of_two_outputs_do_not_collide_and_short_runs_write_one(tmp_path, cli):
    pytest.importorskip("matplotlib")
    c = corpus(tmp_path / "c.txt", lines=30)  # one epoch in well under half a second
    for name in ("v.bin", "v.txt"):
        code, _, err = cli.run("w2v", c, "-o", tmp_path / name, *FAST)
        assert code == 0, err
        assert (tmp_path / f"{name}.loss.png").read_bytes()[:4] == b"\x89PNG"
    assert KeyedVectors.load(tmp_path / "v.txt").vector_size == 8


def test_a_one_point_history_still_draws_a_curve(tmp_path):
    pytest.importorskip("matplotlib")
    from gputrain.w2v.losscurve import write_loss_curve

    path = write_loss_curve(np.array([[300.0, 0.69, 0.025]]), tmp_path / "v.bin.loss.png")
    assert path is not None and path.read_bytes()[:4] == b"\x89PNG"
