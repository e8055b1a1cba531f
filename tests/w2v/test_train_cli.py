"""``gputrain w2v``: outputs, events, bad input, SIGTERM + --resume (as the service runs it)."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from gputrain.cli import main
from gputrain.events import read_events
from gputrain.stopping import EXIT_CHECKPOINTED
from gputrain.vectors.keyedvectors import KeyedVectors


def run_cli(args, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(args)
        sys.exit(0)
    return exit_info.value.code, capsys.readouterr().err


def corpus(path, lines=400, seed=0):
    rng = np.random.default_rng(seed)
    words = [f"w{i}" for i in range(40)]
    path.write_text("\n".join(" ".join(rng.choice(words, 12)) for _ in range(lines)) + "\n")
    return path


def test_trains_and_writes_vectors_events_and_loss_curve(tmp_path, capsys):
    c = corpus(tmp_path / "c.txt")
    out = tmp_path / "v.txt"
    code, err = run_cli(["w2v", str(c), "-o", str(out), "--dim", "8", "--epochs", "2",
                         "--events", str(tmp_path / "ev.jsonl"), "--quiet"], capsys)
    assert code == 0, err
    kv = KeyedVectors.load(out)
    assert len(kv) == 40 and kv.vector_size == 8
    events = read_events(tmp_path / "ev.jsonl")
    names = [e["event"] for e in events]
    assert names[0] == "start" and names[-1] == "done" and "progress" in names
    progress = [e for e in events if e["event"] == "progress"]
    assert all(0 <= e["progress"] <= 1 for e in progress) and progress[-1]["progress"] == 1.0
    assert {"words", "words_per_second", "loss", "alpha", "epoch"} <= set(progress[-1])
    assert events[-1]["output"] == str(out)
    assert not (tmp_path / "v.txt.ckpt").exists()  # cleaned up after success


def test_threads_default_to_the_cores_and_more_are_capped_with_one_warning(
        tmp_path, capsys, monkeypatch):
    import gputrain.cli.w2v as cli_w2v

    c = corpus(tmp_path / "c.txt")
    monkeypatch.setattr(cli_w2v, "available_cores", lambda: 2)

    def started_threads(*extra):
        ev = tmp_path / "ev.jsonl"
        ev.unlink(missing_ok=True)
        code, err = run_cli(["w2v", str(c), "-o", str(tmp_path / "v.bin"), "--dim", "8",
                             "--epochs", "1", "--quiet", "--engine", "cpu", "--events", str(ev),
                             *extra], capsys)
        assert code == 0, err
        return read_events(ev)[0]["threads"], err

    threads, err = started_threads()
    assert threads == min(cli_w2v.default_threads(), 2) and err == ""
    threads, err = started_threads("--threads", "64")
    assert threads == 2
    assert err.count("warning:") == 1 and "--threads 64 is more than the 2 CPU cores" in err


def _threads_warning(tmp_path, capsys, *extra):
    code, err = run_cli(["w2v", str(corpus(tmp_path / "c.txt", lines=100)), "-o",
                         str(tmp_path / "v.bin"), "--dim", "8", "--epochs", "1", "--quiet",
                         *extra], capsys)
    assert code == 0, err
    return err


def test_threads_with_the_device_engine_are_ignored_with_one_warning(tmp_path, capsys):
    err = _threads_warning(tmp_path, capsys, "--engine", "device", "--device", "cpu",
                           "--threads", "2")
    assert err.count("warning:") == 1
    assert "--threads 2 is ignored: the device engine trains in one process on cpu" in err
    assert _threads_warning(tmp_path, capsys, "--engine", "device", "--device", "cpu") == ""
    assert _threads_warning(tmp_path, capsys, "--engine", "cpu", "--threads", "2") == ""


@pytest.mark.gpu
def test_threads_on_a_gpu_point_to_the_cpu_engine(tmp_path, capsys):
    err = _threads_warning(tmp_path, capsys, "--device", "gpu", "--threads", "4")
    assert err.count("warning:") == 1
    assert ("--threads 4 is ignored: the device engine trains in one process on gpu:0 (worker"
            " processes are the CPU engine's: --engine cpu --device cpu)") in err
    assert _threads_warning(tmp_path, capsys, "--device", "gpu", "--threads", "1") == ""


@pytest.mark.parametrize("extra", [["--hs", "--negative", "0"], ["--hs", "--cbow"]])
def test_hierarchical_softmax_from_the_command_line(tmp_path, capsys, extra):
    c = corpus(tmp_path / "c.txt")
    code, err = run_cli(["w2v", str(c), "-o", str(tmp_path / "v.bin"), "--dim", "8",
                         "--epochs", "1", "--quiet", *extra], capsys)
    assert code == 0, err
    assert np.isfinite(KeyedVectors.load(tmp_path / "v.bin").vectors).all()


@pytest.mark.parametrize("args, message", [
    (["missing.txt"], "not found"),
    (["empty.txt"], "empty"),
    (["binary.bin"], "binary"),
    (["ok.txt", "--min-count", "1000"], "--min-count 1000"),
    (["ok.txt", "--window", "0"], "--window"),
    (["ok.txt", "--dim", "0"], "--dim"),
    (["ok.txt", "--negative", "0"], "needs --hs"),
    (["ok.txt", "--negative", "-1", "--hs"], "--negative must be in 0..100"),
    (["ok.txt", "--negative", "0", "--hs", "--vectors", "sum"], "--vectors sum"),
    (["ok.txt", "--epochs", "0"], "--epochs"),
    (["ok.txt", "--alpha", "-1"], "--alpha"),
    (["ok.txt", "--threads", "0"], "--threads"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "binary.bin").write_bytes(os.urandom(5000))
    corpus(tmp_path / "ok.txt", lines=20)
    code, err = run_cli(["w2v", *args, "-o", "v.bin", "--quiet"], capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]
    assert not (tmp_path / "v.bin").exists()
    assert not (tmp_path / "v.bin.ckpt").exists()  # no corpus cache left behind



@pytest.mark.parametrize("output, message", [("v.bin.gz", "compressed"), ("adir", "directory")])
def test_unwritable_output_fails_before_training(tmp_path, capsys, monkeypatch, output, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "adir").mkdir()
    corpus(tmp_path / "ok.txt", lines=20)
    code, err = run_cli(["w2v", "ok.txt", "-o", output, "--events", "ev.jsonl", "--quiet"],
                        capsys)
    assert code == 2 and err.startswith("error: ") and message in err
    assert not (tmp_path / "ev.jsonl").exists() or not read_events(tmp_path / "ev.jsonl")
    assert not (tmp_path / f"{output}.ckpt").exists()

@pytest.mark.slow
def test_sigterm_checkpoints_exit_75_then_resume_finishes(tmp_path):
    c = corpus(tmp_path / "c.txt", lines=3000)
    out, events = tmp_path / "v.bin", tmp_path / "ev.jsonl"
    # 1000 epochs (36M words, ~10 s): the signal must land while it trains (20 epochs
    # took ~0.2 s once the CPU loop became sequential, so it landed after the end)
    cmd = [sys.executable, "-m", "gputrain", "w2v", str(c), "-o", str(out), "--dim", "16",
           "--epochs", "1000", "--events", str(events), "--quiet", "--checkpoint-every",
           "100000"]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while time.time() < deadline:
        if any(e["event"] == "progress" and e["words"] > 0 for e in read_events(events)):
            break
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == EXIT_CHECKPOINTED, err
    assert (tmp_path / "v.bin.ckpt" / "checkpoint.npz").exists() and not out.exists()
    stopped_at = [e for e in read_events(events) if e["event"] == "checkpoint"][-1]["words"]
    done = subprocess.run(cmd + ["--resume"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    evs = read_events(events)
    start = [e for e in evs if e["event"] == "start"][-1]
    assert start["resumed_words"] == stopped_at > 0
    assert evs[-1]["event"] == "done" and out.exists()
    assert json.loads(json.dumps(evs[-1]))["words"] == start["total_words"]


@pytest.mark.slow
def test_workers_stop_when_the_trainer_is_killed(tmp_path):
    c = corpus(tmp_path / "c.txt", lines=3000)
    events = tmp_path / "ev.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "gputrain", "w2v", str(c), "-o",
                             str(tmp_path / "v.bin"), "--dim", "16", "--epochs", "200",
                             "--threads", "2", "--events", str(events), "--quiet"])
    deadline = time.time() + 60
    while time.time() < deadline and not any(
            e["event"] == "progress" and e["words"] > 0 for e in read_events(events)):
        time.sleep(0.1)
    children = [int(p) for p in
                open(f"/proc/{proc.pid}/task/{proc.pid}/children").read().split()]
    assert len(children) == 2
    proc.kill()
    proc.wait()

    def running(pid):  # a zombie nobody has reaped yet counts as stopped
        try:
            return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] != "Z"
        except OSError:
            return False

    deadline = time.time() + 10  # each worker notices at its next slice boundary
    while time.time() < deadline and any(running(p) for p in children):
        time.sleep(0.1)
    assert not any(running(p) for p in children)


def test_a_corpus_without_pairs_warns_and_writes_valid_json_events(tmp_path, capsys):
    c = tmp_path / "c.txt"
    c.write_text("\n".join(["a", "b", "c"] * 50) + "\n")  # one word per sentence
    code, err = run_cli(["w2v", str(c), "-o", str(tmp_path / "v.bin"), "--min-count", "1",
                         "--epochs", "1", "--events", str(tmp_path / "ev.jsonl"), "--quiet"],
                        capsys)
    assert code == 0 and err.startswith("warning: no sentence has two words")
    done = (tmp_path / "ev.jsonl").read_text().splitlines()[-1]
    assert json.loads(done, parse_constant=lambda c: pytest.fail(f"{c} in {done}"))["loss"] is None


def test_a_second_run_on_the_same_checkpoint_dir_is_refused(tmp_path, capsys):
    from gputrain.w2v.checkpoint import dir_lock

    c = corpus(tmp_path / "c.txt", lines=20)
    with dir_lock(tmp_path / "v.bin.ckpt"):  # as a run in another process holds it
        code, err = run_cli(["w2v", str(c), "-o", str(tmp_path / "v.bin"), "--quiet"], capsys)
    assert code == 2 and err.startswith("error: checkpoint directory") and "in use" in err
    assert (tmp_path / "v.bin.ckpt").is_dir()  # the other run's directory is left alone
    code, err = run_cli(["w2v", str(c), "-o", str(tmp_path / "v.bin"), "--quiet"], capsys)
    assert code == 0 and not (tmp_path / "v.bin.ckpt").exists()
