"""``gputrain mlp train|eval|predict`` end to end, and one clear line for every bad input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gputrain.events import read_events
from gputrain.stopping import EXIT_CHECKPOINTED

FAST = ["--hidden", "16", "--epochs", "3", "--batch-size", "32", "--lr", "0.01", "--quiet",
        "--device", "cpu"]


def test_train_eval_predict_classify(tmp_path, cli, parquet_file, tables):
    model = tmp_path / "model"
    code, out, _ = cli.run("mlp", "train", parquet_file, "--label", "animal", *FAST,
                       "-o", model, "--test", parquet_file)
    assert code == 0 and "test: loss" in out and f"model saved in {model}" in out
    for name in ("model.json", "weights.npz", "checkpoint.npz", "metrics.jsonl"):
        assert (model / name).exists(), name

    test = tables.write(tables.make(rows=120, seed=4), tmp_path / "test.feather")
    code, out, _ = cli.run("mlp", "eval", model, test, "--json", "--device", "cpu")
    metrics = json.loads(out)
    assert code == 0 and set(metrics) == {"accuracy", "loss", "rows", "precision", "recall", "f1",
                                          "roc_auc"}
    assert metrics["rows"] == 120 and metrics["accuracy"] > 0.6 and metrics["loss"] > 0

    code, out, _ = cli.run("mlp", "eval", model, test)
    assert code == 0 and out.startswith("accuracy: ")

    preds = tmp_path / "preds.parquet"
    code, out, _ = cli.run("mlp", "predict", model, test, "-o", preds)
    assert code == 0 and "wrote 120 predictions" in out
    table = pq.read_table(preds)
    assert table.column_names == ["prediction", "prob_cat", "prob_dog", "prob_emu"]
    probs = np.column_stack([table.column(c).to_numpy() for c in table.column_names[1:]])
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    labels = np.array(["cat", "dog", "emu"])[probs.argmax(axis=1)]
    assert table.column("prediction").to_pylist() == labels.tolist()
    truth = np.array(tables.make(rows=120, seed=4).column("animal").to_pylist())
    assert (labels == truth).mean() == pytest.approx(metrics["accuracy"])

    unlabelled = tables.write(tables.make(rows=120, seed=4).drop_columns(["animal"]),
                              tmp_path / "unlabelled.csv")
    assert cli.run("mlp", "predict", model, unlabelled, "-o", preds)[0] == 0
    assert pq.read_table(preds).column("prediction").to_pylist() == labels.tolist()


def test_regress_eval_and_predict(tmp_path, cli, parquet_file):
    model = tmp_path / "reg"
    features = "f0,f1,f2,f3,f4,f5"
    code, *_ = cli.run("mlp", "train", parquet_file, "--label", "target", "--task",
                   "regress", "--features", features, *FAST, "-o", model)
    assert code == 0
    code, out, _ = cli.run("mlp", "eval", model, parquet_file, "--json")
    metrics = json.loads(out)
    assert set(metrics) == {"loss", "rmse", "r2", "rows"}
    assert metrics["rmse"] == pytest.approx(metrics["loss"] ** 0.5)
    preds = tmp_path / "p.csv"
    assert cli.run("mlp", "predict", model, parquet_file, "-o", preds)[0] == 0
    predicted = np.loadtxt(preds, skiprows=1)
    truth = pq.read_table(parquet_file).column("target").to_numpy()
    rmse = float(np.sqrt(np.mean((predicted - truth) ** 2)))
    assert rmse == pytest.approx(metrics["rmse"], rel=1e-4)


@pytest.fixture
def bad_files(tmp_path):
    def write(name, columns):
        path = tmp_path / name
        pq.write_table(pa.table(columns), path)
        return str(path)

    return write


def test_bad_data_gets_one_line(tmp_path, cli, parquet_file, bad_files):
    out = str(tmp_path / "m")
    train = ("mlp", "train")
    assert "no such file" in cli.fails(*train, tmp_path / "nope.parquet", "--label", "y",
                                   "-o", out)
    assert "unknown data format" in cli.fails(*train, tmp_path / "x.txt", "--label", "y",
                                          "-o", out)
    unreadable = tmp_path / "locked.parquet"
    unreadable.write_bytes(b"PAR1 nonsense")
    assert "cannot read as parquet" in cli.fails(*train, unreadable, "--label", "y",
                                             "-o", out)
    assert "no label column 'y'" in cli.fails(*train, parquet_file, "--label", "y",
                                          "-o", out)
    assert "no feature column 'f9'" in cli.fails(*train, parquet_file, "--label", "animal",
                                             "--features", "f0,f9", "-o", out)
    lists = bad_files("lists.parquet", {"y": [0, 1], "word": [[1], [2]]})
    assert "'word' is not numeric" in cli.fails(*train, lists, "--label", "y", "-o", out)
    nan = bad_files("nan.parquet", {"y": [0, 1, 1], "x": [1.0, 2.0, float("nan")]})
    assert "column 'x' has NaN at row 2" in cli.fails(*train, nan, "--label", "y",
                                                  "--no-impute", "-o", out)
    inf = bad_files("inf.parquet", {"y": [0, 1, 1], "x": [1.0, float("inf"), 2.0]})
    assert "column 'x' has inf at row 1" in cli.fails(*train, inf, "--label", "y",
                                                  "-o", out)
    empty = bad_files("empty.parquet", {"y": pa.array([], pa.int64()),
                                        "x": pa.array([], pa.float32())})
    assert "no rows" in cli.fails(*train, empty, "--label", "y", "-o", out)
    one = bad_files("one.parquet", {"y": [3, 3, 3], "x": [1.0, 2.0, 3.0]})
    assert "only one class" in cli.fails(*train, one, "--label", "y", "-o", out)


@pytest.mark.parametrize("option, value, message", [
    ("--lr", "-0.1", "--lr -0.1: must be > 0"),
    ("--hidden", "64,0", "--hidden: layer sizes must be >= 1"),
    ("--hidden", "abc", "--hidden 'abc': expected sizes like 256,128"),
    ("--batch-size", "0", "--batch-size 0: must be >= 1"),
    ("--epochs", "0", "--epochs 0: must be >= 1"),
    ("--dropout", "1.0", "--dropout 1.0: must be in [0.0, 1.0)"),
    ("--dropout", "-0.5", "--dropout -0.5: must be >= 0"),
    ("--val-split", "1", "--val-split 1.0: must be in [0.0, 1.0)"),
    ("--patience", "-1", "--patience -1: must be >= 0"),
    ("--activation", "swish", "--activation 'swish': use one of relu"),
    ("--optimizer", "lion", "--optimizer 'lion': use one of"),
    ("--task", "cluster", "--task 'cluster': use one of classify, regress"),
    ("--init", "zeros", "--init 'zeros': use one of auto"),
    ("--lr-schedule", "cosine", "--lr-schedule 'cosine': use one of none"),
])
def test_nonsense_options_get_one_line(tmp_path, cli, parquet_file, option, value, message):
    line = cli.fails("mlp", "train", parquet_file, "--label", "animal", option, value,
                 "-o", tmp_path / "m")
    assert message in line


def test_resume_and_model_dir_errors(tmp_path, parquet_file, cli):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert "no checkpoint there" in cli.fails("mlp", "train", parquet_file, "--label",
                                          "animal", "--resume", empty)
    assert "no such directory" in cli.fails("mlp", "train", parquet_file, "--label",
                                        "animal", "--resume", tmp_path / "absent")
    assert "not a model directory" in cli.fails("mlp", "eval", empty, parquet_file)
    assert "nothere.csv: no such file" in cli.fails("mlp", "train", parquet_file, "--label",
                                                "animal", *FAST, "-o", tmp_path / "t",
                                                "--test", tmp_path / "nothere.csv")
    assert not (tmp_path / "t").exists()  # refused before training, not after it
    (tmp_path / "afile").write_text("")
    assert "not a directory: " in cli.fails("mlp", "train", parquet_file, "--label",
                                        "animal", *FAST, "-o", tmp_path / "afile" / "m")
    assert "file exists: " in cli.fails("mlp", "train", parquet_file, "--label", "animal",
                                    *FAST, "-o", tmp_path / "afile")
    assert "-o MODEL_DIR is required" in cli.fails("mlp", "train", parquet_file,
                                               "--label", "animal")
    model = tmp_path / "m"
    assert cli.run("mlp", "train", parquet_file, "--label", "animal", *FAST, "-o",
               model)[0] == 0
    assert "already holds a run" in cli.fails("mlp", "train", parquet_file, "--label",
                                          "animal", *FAST, "-o", model)
    assert "--hidden 32 differs from the checkpoint's 16" in cli.fails(
        "mlp", "train", parquet_file, "--resume", model, "--hidden", "32")
    # more epochs is a continuation; the saved options are reused
    code, out, _ = cli.run("mlp", "train", parquet_file, "--resume", model, "--epochs",
                       "4", "--quiet")
    assert code == 0 and out.startswith("epoch 4:")


def test_sigterm_checkpoints_and_exits_75_then_resumes(tmp_path, cli, tables):
    data = tables.write(tables.make(rows=2000, seed=2), tmp_path / "d.parquet")
    model, events = tmp_path / "m", tmp_path / "events.jsonl"
    cmd = [sys.executable, "-m", "gputrain", "mlp", "train", data, "--label", "animal",
           "--hidden", "32", "--batch-size", "8", "--epochs", "200", "--device", "cpu",
           "--patience", "0", "-o", str(model), "--events", str(events), "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=os.environ | {"OPENBLAS_NUM_THREADS": "1"})
    deadline = time.time() + 60
    while not any(e["event"] == "progress" for e in read_events(events)):
        assert proc.poll() is None and time.time() < deadline, proc.communicate()
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == EXIT_CHECKPOINTED, err
    assert "Traceback" not in err and "--resume" in err
    assert (model / "checkpoint.npz").exists()
    assert read_events(events)[-1]["event"] == "done"
    assert read_events(events)[-1]["stopped"] is True
    # the service restarts the job with --resume; here it is told to finish one epoch after
    # the stop (an epoch takes ~0.1 s, so a loaded machine may stop after epoch 2 or later)
    last = [e for e in read_events(events) if e["event"] == "checkpoint"][-1]
    code, out, _ = cli.run("mlp", "train", data, "--resume", model, "--epochs",
                       last["epoch"] + 1, "--quiet")
    assert code == 0 and out.startswith(f"epoch {last['epoch'] + 1}:")


def test_diverging_training_fails_with_one_line_and_saves_no_model(tmp_path, cli, parquet_file):
    model = tmp_path / "m"
    line = cli.fails("mlp", "train", parquet_file, "--label", "animal", "--hidden", "16",
                 "--epochs", "2", "--optimizer", "sgd", "--lr", "1e30", "--quiet",
                 "--device", "cpu", "-o", model)
    assert "training diverged" in line and "--lr" in line
    assert not (model / "weights.npz").exists()


def test_without_lr_each_optimizer_takes_its_own_default(tmp_path, cli, parquet_file):
    # adadelta's step is scaled by lr (default 1.0): a shared 1e-3 default would cripple it
    model = tmp_path / "m"
    code, _, err = cli.run("mlp", "train", parquet_file, "--label", "animal",
                       "--hidden", "16", "--epochs", "5", "--batch-size", "16",
                       "--optimizer", "adadelta",
                       "--quiet", "--device", "cpu", "-o", model)
    assert code == 0, err
    last = [json.loads(x) for x in (model / "metrics.jsonl").read_text().splitlines()][-1]
    assert last["lr"] == 1.0 and last["accuracy"] > 0.8
