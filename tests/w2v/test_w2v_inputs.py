"""Corpora people have: standard input, FIFOs, process substitution, a byte-order mark;
progress and prompt stopping while the corpus is read; damaged checkpoint files; what the
events and the progress bar say about epochs and time left."""

from __future__ import annotations

import gzip
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

from gputrain.events import read_events
from gputrain.stopping import EXIT_CHECKPOINTED
from gputrain.vectors.keyedvectors import KeyedVectors
from gputrain.w2v.config import Word2VecConfig
from gputrain.w2v.corpus import iter_chunks

GPUTRAIN = [sys.executable, "-m", "gputrain"]
FAST = ["--dim", "8", "--epochs", "1", "--min-count", "1", "--threads", "1", "--quiet"]


def text(lines=200, seed=0) -> str:
    rng = np.random.default_rng(seed)
    words = [f"w{i}" for i in range(30)]
    return "\n".join(" ".join(rng.choice(words, 10)) for _ in range(lines)) + "\n"


def test_a_byte_order_mark_is_not_part_of_the_first_word(tmp_path, cli):
    path = tmp_path / "bom.txt"
    path.write_bytes(b"\xef\xbb\xbf" + ("hello world\n" * 20 + text()).encode())
    assert next(iter_chunks(path)).tokens[:2] == ["hello", "world"]
    code, _, err = cli.run("w2v", path, "-o", tmp_path / "v.txt", *FAST)
    assert code == 0, err
    words = KeyedVectors.load(tmp_path / "v.txt").words
    assert "hello" in words and not any("\ufeff" in w for w in words)


def test_standard_input_trains_like_the_file(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text(text())
    for name, source in (("file.txt", str(corpus)), ("stdin.txt", "-")):
        done = subprocess.run([*GPUTRAIN, "w2v", source, "-o", str(tmp_path / name), *FAST],
                              input=corpus.read_bytes(), capture_output=True, timeout=120)
        assert done.returncode == 0, done.stderr
    a, b = (KeyedVectors.load(tmp_path / n) for n in ("file.txt", "stdin.txt"))
    assert a.words == b.words
    np.testing.assert_array_equal(a.vectors, b.vectors)  # one thread, one seed: identical


def test_a_fifo_and_process_substitution_of_gzip_work(tmp_path):
    data = text().encode()
    fifo = tmp_path / "corpus.fifo"
    os.mkfifo(fifo)

    def feed():
        with open(fifo, "wb") as f:
            f.write(data)

    writer = threading.Thread(target=feed)
    writer.start()
    done = subprocess.run([*GPUTRAIN, "w2v", str(fifo), "-o", str(tmp_path / "fifo.bin"),
                           *FAST], capture_output=True, text=True, timeout=120)
    writer.join(timeout=10)
    assert done.returncode == 0, done.stderr
    (tmp_path / "c.txt.gz").write_bytes(gzip.compress(data))
    command = " ".join([*GPUTRAIN, "w2v", "<(cat c.txt.gz)", "-o", "sub.bin", *FAST])
    done = subprocess.run(["bash", "-c", command], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert KeyedVectors.load(tmp_path / "sub.bin").words == \
        KeyedVectors.load(tmp_path / "fifo.bin").words


def test_max_vocab_size_needs_a_file_not_a_stream(tmp_path):
    done = subprocess.run([*GPUTRAIN, "w2v", "-", "-o", str(tmp_path / "v.bin"),
                           "--max-vocab-size", "100", *FAST], input=text(),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stderr.startswith("error: --max-vocab-size reads")
    assert not (tmp_path / "v.bin.ckpt").exists()


def test_reading_reports_progress(tmp_path, monkeypatch):
    from gputrain.w2v import monitor
    from gputrain.w2v.trainer import prepare_corpus

    monkeypatch.setattr(monitor, "REPORT_SECONDS", 0.0)  # every 1 MiB chunk
    corpus = tmp_path / "c.txt"
    corpus.write_text(text(lines=30_000))  # ~2.6 MB: three chunks
    events = []
    for passes, cfg in ((1, Word2VecConfig(min_count=1)),
                        (2, Word2VecConfig(min_count=1, max_vocab_size=1000))):
        events.clear()
        prepare_corpus(corpus, cfg, tmp_path / f"ck{passes}", reuse=False,
                       report=lambda e, **f: events.append((e, f)))
        assert {e for e, _ in events} == {"reading"} and len(events) >= 3 * passes
        last = events[-1][1]
        assert last["read_total_bytes"] == corpus.stat().st_size
        assert last["read_bytes"] == corpus.stat().st_size and last["read_fraction"] == 1.0
        assert last["read_tokens"] == 300_000 and last["read_passes"] == passes
        fractions = [f["read_fraction"] for _, f in events if f["read_pass"] == passes]
        assert fractions == sorted(fractions) and 0 < fractions[0] < 1


def wait_until_blocked_on_a_pipe(pid: int, seconds: float = 30.0) -> None:
    """Until the process sleeps in a pipe read (Linux's /proc/PID/wchan), so the signal
    lands where the test means it to, not during start-up."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if "pipe" in Path(f"/proc/{pid}/wchan").read_text():
                return
        except OSError:
            return
        time.sleep(0.05)


def test_sigterm_while_reading_a_stalled_pipe_stops_at_once(tmp_path):
    fifo = tmp_path / "corpus.fifo"
    os.mkfifo(fifo)
    proc = subprocess.Popen([*GPUTRAIN, "w2v", str(fifo), "-o", str(tmp_path / "v.bin"),
                             "--dim", "8"], stderr=subprocess.PIPE, text=True)
    with open(fifo, "wb") as f:  # returns once the trainer has opened the pipe to read it
        f.write(b"some words but no end yet ")
        f.flush()
        wait_until_blocked_on_a_pipe(proc.pid)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)  # the pipe is still open: a read would block
    assert proc.returncode == EXIT_CHECKPOINTED, err
    assert "stopped while reading the corpus" in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus.fifo"]  # no cache left


def test_damaged_corpus_cache_is_rebuilt_and_damaged_checkpoint_is_one_line(tmp_path, cli):
    corpus = tmp_path / "c.txt"
    corpus.write_text(text(lines=400))
    out, ckpt = tmp_path / "v.bin", tmp_path / "v.bin.ckpt"
    args = ["w2v", corpus, "-o", out, *FAST, "--checkpoint-every", "1000", "--keep-checkpoint"]
    assert cli.run(*args)[0] == 0
    (ckpt / "vocab.json").write_text('{"words": ["a", ')  # torn
    code, _, err = cli.run(*args, "--resume")
    assert code == 0 and err.splitlines() == [
        f"warning: the corpus cache in {ckpt} is damaged (vocab.json); reading the corpus "
        "again"]
    data = (ckpt / "checkpoint.npz").read_bytes()
    (ckpt / "checkpoint.npz").write_bytes(data[:len(data) // 2])
    line = cli.fails(*args, "--resume")
    assert f"checkpoint {ckpt / 'checkpoint.npz'} is damaged" in line and "--restart" in line


def test_epoch_events_carry_the_words_at_the_epoch_end_with_worker_processes(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text(text(lines=3000))
    events = tmp_path / "ev.jsonl"
    done = subprocess.run([*GPUTRAIN, "w2v", str(corpus), "-o", str(tmp_path / "v.bin"),
                           "--dim", "8", "--epochs", "4", "--threads", "2", "--min-count", "1",
                           "--events", str(events), "--quiet"], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    evs = read_events(events)
    per_epoch = evs[0]["corpus_words"]
    epochs = [e for e in evs if e["event"] == "epoch"]
    assert [(e["epoch"], e["words"]) for e in epochs] == \
        [(k, k * per_epoch) for k in range(1, 5)]
    assert [e["progress"] for e in epochs] == [0.25, 0.5, 0.75, 1.0]


def test_eta_after_resume_comes_from_this_sessions_rate():
    from gputrain.cli.w2v import _Reporter
    from gputrain.events import EventLog

    reporter = _Reporter(EventLog(None), show_bar=True)
    try:
        reporter("start", progress=0.5)  # resumed half way
        reporter.bar.start_t -= 10.0  # ten seconds into this session ...
        reporter("progress", progress=0.6, words_per_second=1.0, alpha=0.01, loss=0.5)
        # ... 10% done in 10 s: 40% left is about 40 s (not 6.7 s from 60% in 10 s)
        left = re.search(r"<00:(\d\d)", str(reporter.bar))
        assert left and 35 <= int(left.group(1)) <= 41, str(reporter.bar)
    finally:
        reporter.close()
