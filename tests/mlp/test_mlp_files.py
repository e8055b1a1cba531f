"""``gputrain mlp`` and the files people have: compressed tables, Arrow streams, and model
files and outputs that must never be lost or read as garbage."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pytest

FAST = ["--hidden", "8", "--epochs", "2", "--batch-size", "64", "--quiet", "--device", "cpu"]


def test_train_on_zstd_csv_and_predict_to_gzipped_csv(tmp_path, cli, table, tables):
    plain = tables.write(table, tmp_path / "d.csv")
    packed = tmp_path / "d.csv.zst"
    with pa.output_stream(str(packed), compression="zstd") as out:
        out.write(open(plain, "rb").read())
    model = tmp_path / "m"
    assert cli.run("mlp", "train", packed, "--label", "animal", *FAST, "-o", model)[0] == 0
    preds = tmp_path / "p.csv.gz"
    code, out, err = cli.run("mlp", "predict", model, packed, "-o", preds)
    assert code == 0, err
    with pa.input_stream(str(preds), compression="gzip") as f:
        back = pcsv.read_csv(f)
    assert back.num_rows == 400 and back.column_names[0] == "prediction"


@pytest.fixture
def model(tmp_path, cli, parquet_file):
    out = tmp_path / "m"
    code, _, err = cli.run("mlp", "train", parquet_file, "--label", "animal", *FAST, "-o", out)
    assert code == 0, err
    assert {p.name for p in out.iterdir()} <= {"model.json", "weights.npz", "checkpoint.npz",
                                               "metrics.jsonl", "learning_curves.png"}
    return out


def test_predict_never_overwrites_its_input_or_the_model(tmp_path, cli, model, table, tables,
                                                         monkeypatch):
    data = tables.write(table, tmp_path / "data.csv")
    before = open(data, "rb").read()
    monkeypatch.chdir(tmp_path)
    for spelling in ("data.csv", "./data.csv", str(data)):
        line = cli.fails("mlp", "predict", model, "data.csv", "-o", spelling)
        assert f"-o {spelling} is the data" in line and "overwritten" in line
    weights = (model / "weights.npz").read_bytes()
    line = cli.fails("mlp", "predict", model, "data.csv", "-o", "m/../m/weights.npz")
    assert "is the model's weights.npz" in line
    assert open(data, "rb").read() == before and (model / "weights.npz").read_bytes() == weights


def test_a_second_train_on_a_held_model_dir_is_refused(tmp_path, cli, parquet_file):
    from gputrain.mlp.checkpoint import model_dir_lock

    out = tmp_path / "m"
    with model_dir_lock(out):  # as a run in another process holds it
        line = cli.fails("mlp", "train", parquet_file, "--label", "animal", *FAST, "-o", out)
    assert f"model directory {out} is in use by another gputrain mlp train run" in line
    code, _, err = cli.run("mlp", "train", parquet_file, "--label", "animal", *FAST, "-o", out)
    assert code == 0, err
    assert not (out / ".lock").exists()  # the finished model directory holds the model only


def test_a_failed_train_leaves_no_model_dir_and_events_need_their_directory(tmp_path, cli,
                                                                            parquet_file):
    out = tmp_path / "m"
    assert "no label column" in cli.fails("mlp", "train", parquet_file, "--label", "nope",
                                          *FAST, "-o", out)
    assert not out.exists()
    line = cli.fails("mlp", "train", parquet_file, "--label", "animal", *FAST, "-o", out,
                     "--events", tmp_path / "nodir" / "ev.jsonl")
    assert "no such directory" in line and not out.exists()
    line = cli.fails("mlp", "train", parquet_file, "--label", "animal", *FAST, "-o", out,
                     "--events", parquet_file)
    assert "--events" in line and "is the data" in line and not out.exists()


def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])


def _flip(path):
    data = bytearray(path.read_bytes())
    data[200:260] = bytes(60)  # inside the first array: a bad CRC
    path.write_bytes(bytes(data))


def _rewrite(path, **changes):
    arrays = dict(np.load(path))
    arrays.update(changes)
    for key in [k for k, v in changes.items() if v is None]:
        del arrays[key]
    np.savez(path, **arrays)


@pytest.mark.parametrize("damage, message", [
    (_truncate, "damaged or not a gputrain file"),
    (_flip, "damaged or not a gputrain file"),
    (lambda p: _rewrite(p, mean=None), "no 'mean'"),
])
def test_damaged_weights_are_one_line(cli, model, parquet_file, damage, message):
    damage(model / "weights.npz")
    for command in ("eval", "predict"):
        extra = ["-o", model.parent / "p.parquet"] if command == "predict" else []
        line = cli.fails("mlp", command, model, parquet_file, *extra)
        assert "weights.npz" in line and message in line


@pytest.mark.parametrize("damage, message", [
    (_truncate, "damaged or not a gputrain file"),
    (_flip, "damaged or not a gputrain file"),
    (lambda p: _rewrite(p, state=np.asarray("{not json")), "damaged checkpoint state"),
    (lambda p: _rewrite(p, state=np.asarray("[1, 2]")), "damaged checkpoint state"),
])
def test_damaged_checkpoint_is_one_line_on_resume(cli, model, parquet_file, damage, message):
    damage(model / "checkpoint.npz")
    line = cli.fails("mlp", "train", parquet_file, "--resume", model, "--epochs", "3")
    assert "checkpoint.npz" in line and message in line


def test_damaged_model_json_is_one_line(cli, model, parquet_file):
    (model / "model.json").write_text('{"format": "gputrain-mlp"}')
    assert "no 'config'" in cli.fails("mlp", "eval", model, parquet_file)
    (model / "model.json").write_text('{"format": "gputrain-ml')
    assert "model.json: unreadable" in cli.fails("mlp", "eval", model, parquet_file)


def test_adamw_decays_by_default_and_l2_sets_the_decay(tmp_path, cli, parquet_file):
    def weights(name, *extra):
        out = tmp_path / name
        code, _, err = cli.run("mlp", "train", parquet_file, "--label", "animal", *FAST,
                               "--dropout", "0", "-o", out, *extra)
        assert code == 0, err
        with np.load(out / "checkpoint.npz") as z:
            return z["model.0.weight"], float(z["optim.weight_decay"])

    adam, adam_decay = weights("adam", "--optimizer", "adam")
    adamw, adamw_decay = weights("adamw", "--optimizer", "adamw")
    plain, plain_decay = weights("adamw0", "--optimizer", "adamw", "--l2", "0")
    assert (adam_decay, adamw_decay, plain_decay) == (0.0, 0.01, 0.0)
    np.testing.assert_array_equal(adam, plain)  # AdamW without decay is Adam
    assert not np.array_equal(adam, adamw)
    assert "--l2 -1.0: must be >= 0" in cli.fails("mlp", "train", parquet_file, "--label",
                                                  "animal", "--l2", "-1", "-o", tmp_path / "x")
