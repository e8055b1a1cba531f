"""Real tables: string columns, missing values, float class labels, identifiers carried
through predict, and the quality measures of eval."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest

from gputrain.backend import CPU
from gputrain.errors import GputrainError
from gputrain.mlp.config import MLPConfig
from gputrain.mlp.data import read_table
from gputrain.mlp.encode import Encoder
from gputrain.mlp.metrics import classification_metrics, r2_score
from gputrain.mlp.train import train_mlp

FAST = ["--hidden", "16", "--epochs", "30", "--lr", "0.01", "--quiet", "--device", "cpu"]


def shop_table(rows: int = 300, seed: int = 0) -> pa.Table:
    """The label follows a colour (string) and a size with holes in it."""
    rng = np.random.default_rng(seed)
    colour = rng.choice(["red", "green", "blue"], size=rows)
    size = rng.normal(size=rows)
    label = ((colour == "red") | (size > 1.0)).astype(np.float64)  # 0.0 / 1.0 classes
    size[::10] = np.nan
    colour = colour.astype(object)
    colour[5::17] = None
    return pa.table({"id": np.arange(rows) + 1000, "colour": colour, "size": size,
                     "bought": label})


@pytest.fixture
def shop(tmp_path) -> str:
    path = tmp_path / "shop.parquet"
    pq.write_table(shop_table(), path)
    return str(path)


def test_strings_and_missing_values_train_and_are_saved(tmp_path, cli, shop):
    model = tmp_path / "m"
    code, out, err = cli.run("mlp", "train", shop, "--label", "bought", "--features",
                         "colour,size", *FAST, "-o", model)
    assert code == 0, err
    meta = json.loads((model / "model.json").read_text())
    assert meta["classes"] == [0, 1]  # float labels 0.0 / 1.0 are classes
    assert meta["features"] == ["size", "size_missing", "colour=blue", "colour=green",
                                "colour=red", "colour_missing"]
    enc = meta["encoder"]
    assert enc["categories"] == {"colour": ["blue", "green", "red"]}
    size = shop_table()["size"].to_numpy()
    train_median = enc["medians"][0]
    assert abs(train_median - np.nanmedian(size)) < 0.2  # of the training rows
    code, out, _ = cli.run("mlp", "eval", model, shop, "--json")
    assert code == 0 and json.loads(out)["accuracy"] > 0.9


def test_unseen_category_gives_an_all_zero_block():
    table = read_table_from({"c": ["a", "b", "a"], "x": [1.0, 2.0, 3.0]})
    enc = Encoder.fit(table, None, impute=True, max_categories=10, columns=["x", "c"])
    new = read_table_from({"c": ["zzz", "b", None], "x": [1.0, float("nan"), 3.0]})
    m = enc.transform(new)
    assert enc.names == ["x", "c=a", "c=b"]  # nothing was missing in training: no indicator
    np.testing.assert_array_equal(m, [[1, 0, 0], [2, 0, 1], [3, 1, 0]])  # median 2, mode a


def read_table_from(columns: dict, tmp=None):
    import tempfile

    with tempfile.TemporaryDirectory() as d:
        path = f"{d}/t.parquet"
        pq.write_table(pa.table(columns), path)
        return read_table(path, None, None, categorical=True, missing=True)


def test_no_impute_and_too_many_categories_name_the_column(tmp_path, cli, shop):
    code, _, err = cli.run("mlp", "train", shop, "--label", "bought", "--no-impute",
                       "--features", "size", *FAST, "-o", tmp_path / "a")
    assert code == 2 and "column 'size' has NaN at row 0" in err
    code, _, err = cli.run("mlp", "train", shop, "--label", "bought", "--no-impute",
                       "--features", "colour", *FAST, "-o", tmp_path / "b")
    assert code == 2 and "column 'colour' has a missing value at row 5 (--no-impute)" in err
    ids = tmp_path / "ids.csv"
    pcsv.write_csv(pa.table({"name": [f"n{i}" for i in range(50)], "y": [0, 1] * 25}), ids)
    code, _, err = cli.run("mlp", "train", ids, "--label", "y", "--max-categories", "20",
                       *FAST, "-o", tmp_path / "c")
    assert code == 2
    assert "column 'name' has 50 distinct values, more than --max-categories 20" in err


def test_predict_keeps_identifiers_and_names_probabilities(tmp_path, cli, shop):
    model = tmp_path / "m"
    assert cli.run("mlp", "train", shop, "--label", "bought", "--features", "colour,size",
               *FAST, "-o", model)[0] == 0
    new = tmp_path / "new.csv"
    pcsv.write_csv(pa.table({"id": ["a7", "b9"], "colour": ["purple", "red"],
                             "size": [0.0, None]}), new)
    preds = tmp_path / "p.parquet"
    code, out, err = cli.run("mlp", "predict", model, new, "--keep", "id", "-o", preds)
    assert code == 0, err
    got = pq.read_table(preds)
    assert got.column_names == ["id", "prediction", "prob_0", "prob_1"]
    assert got["id"].to_pylist() == ["a7", "b9"]  # carried through as they were
    assert got["prediction"].to_pylist()[1] == 1  # red buys
    code, _, err = cli.run("mlp", "predict", model, new, "--keep", "nope", "-o", preds)
    assert code == 2 and "no column 'nope' to keep" in err
    clash = tmp_path / "clash.csv"
    pcsv.write_csv(pa.table({"prediction": [1], "colour": ["red"], "size": [0.0]}), clash)
    code, _, err = cli.run("mlp", "predict", model, clash, "--keep", "prediction", "-o",
                       preds)
    assert code == 2 and "--keep prediction: the output already has" in err


def test_sigmoid_output_and_new_units_from_the_cli(tmp_path, cli, shop):
    common = [shop, "--label", "bought", "--features", "colour,size", *FAST]
    code, out, err = cli.run("mlp", "train", *common, "--output-unit", "sigmoid",
                         "--activation", "prelu", "-o", tmp_path / "s")
    assert code == 0, err
    weights = np.load(tmp_path / "s" / "weights.npz")
    assert weights["param.1.weight"].shape == (16,)  # one learned slope per unit
    assert weights["param.2.weight"].shape == (16, 1)  # one logit
    code, out, _ = cli.run("mlp", "eval", tmp_path / "s", shop, "--json")
    assert json.loads(out)["accuracy"] > 0.9
    code, _, err = cli.run("mlp", "train", *common, "--maxout", "3", "-o", tmp_path / "x")
    assert code == 0, err
    assert np.load(tmp_path / "x" / "weights.npz")["param.0.weight"].shape == (6, 48)
    code, _, err = cli.run("mlp", "train", *common, "--maxout", "3", "--activation", "tanh",
                       "-o", tmp_path / "y")
    assert code == 2 and "--maxout 3: the hidden units are maxout units" in err


def test_defaults_stop_on_convergence(tmp_path, shop):
    cfg = MLPConfig(data=shop, label="bought", out_dir=str(tmp_path / "d"), hidden=[16],
                    lr=0.01, features=["colour", "size"])
    result = train_mlp(cfg, CPU, progress=False)
    assert result.early_stopped and len(result.history) < 200
    meta = json.loads((tmp_path / "d" / "model.json").read_text())["config"]
    # 300 rows: no validation split, no dropout, batches of 30 (10 steps an epoch)
    assert (meta["val_split"], meta["dropout"], meta["batch_size"]) == (0.0, 0.0, 30)
    losses = [h["loss"] for h in result.history]
    # it stopped because 10 epochs in a row did not beat the best loss by more than tol
    assert min(losses[-10:]) >= min(losses[:-10]) - cfg.tol


def test_metrics_match_scikit_learn():
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(3)
    y = rng.integers(0, 3, 200)
    proba = rng.dirichlet([1, 1, 1], 200)
    proba[np.arange(200), y] += 0.3 * rng.random(200)
    proba /= proba.sum(axis=1, keepdims=True)
    ours = classification_metrics(y, proba)
    p, r, f, _ = metrics.precision_recall_fscore_support(y, proba.argmax(1), average="macro")
    assert ours["precision"] == pytest.approx(p) and ours["recall"] == pytest.approx(r)
    assert ours["f1"] == pytest.approx(f)
    assert ours["roc_auc"] == pytest.approx(metrics.roc_auc_score(y, proba, multi_class="ovr"))
    two = np.round(proba[:, :2] * 4) / 4  # ties
    binary = (y > 0).astype(int)
    assert classification_metrics(binary, two)["roc_auc"] == pytest.approx(
        metrics.roc_auc_score(binary, two[:, 1]))
    pred = y + rng.normal(size=200)
    assert r2_score(y, pred) == pytest.approx(metrics.r2_score(y, pred))


def test_encoder_refuses_a_column_that_changed_kind(tmp_path):
    table = read_table_from({"c": ["a", "b"], "x": [1.0, 2.0]})
    enc = Encoder.fit(table, None, impute=True, max_categories=10, columns=["x", "c"])
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"c": [1.0, 2.0], "x": [1.0, 2.0]}), path)
    with pytest.raises(GputrainError, match="'c' was a string column in training and is "
                                            "numeric here"):
        enc.read(path, None)


def test_a_model_saved_before_encoding_still_predicts(tmp_path, cli, parquet_file):
    model = tmp_path / "old"
    assert cli.run("mlp", "train", parquet_file, "--label", "animal", "--features",
               "f0,f1,f2,f3,f4,f5", *FAST, "-o", model)[0] == 0
    meta = json.loads((model / "model.json").read_text())
    for key in ("output", "maxout", "impute", "max_categories", "tol"):
        del meta["config"][key]  # the config and model.json of an older version
    del meta["encoder"]
    (model / "model.json").write_text(json.dumps(meta))
    code, out, err = cli.run("mlp", "eval", model, parquet_file, "--json")
    assert code == 0, err
    assert json.loads(out)["accuracy"] > 0.8
