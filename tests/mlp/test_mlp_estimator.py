"""The scikit-learn estimators: scikit-learn's own conformance checks, Pipeline and
GridSearchCV, and the same trainer as the CLI."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn.datasets import load_iris, make_regression  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from gputrain.mlp import MLPClassifier, MLPRegressor  # noqa: E402

# small and quick, and still well above the checks' accuracy / R^2 floors
SMALL = dict(hidden=(16,), epochs=60, patience=5, device="cpu")


@parametrize_with_checks([MLPClassifier(**SMALL), MLPRegressor(**SMALL)])
def test_sklearn_check_estimator(estimator, check):
    check(estimator)


def test_classifier_learns_iris_and_keeps_its_labels():
    X, y = load_iris(return_X_y=True)
    names = np.array(["setosa", "versicolor", "virginica"], dtype=object)[y]
    clf = MLPClassifier(hidden=(32,), device="cpu").fit(X, names)
    assert list(clf.classes_) == ["setosa", "versicolor", "virginica"]
    assert clf.score(X, names) > 0.95
    proba = clf.predict_proba(X[:5])
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    assert clf.n_iter_ == len(clf.history_) == len(clf.loss_curve_)
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict_proba(X), clf.predict_proba(X))


def test_pipeline_and_grid_search():
    X, y = load_iris(return_X_y=True)
    pipe = make_pipeline(StandardScaler(), MLPClassifier(hidden=(8,), epochs=30, device="cpu"))
    grid = GridSearchCV(pipe, {"mlpclassifier__activation": ["relu", "prelu"],
                               "mlpclassifier__lr": [1e-2]}, cv=2)
    grid.fit(X, y)
    assert grid.best_score_ > 0.8
    assert grid.best_params_["mlpclassifier__activation"] in ("relu", "prelu")


@pytest.mark.parametrize("activation", ["softplus", "elu", "abs", "cos", "prelu", "maxout"])
def test_every_new_unit_trains_from_the_estimator(activation):
    X, y = load_iris(return_X_y=True)
    clf = MLPClassifier(hidden=(16,), activation=activation, lr=1e-2, epochs=40,
                        device="cpu").fit(X, y)
    assert clf.score(X, y) > 0.9, activation


def test_sigmoid_output_for_a_binary_task():
    X, y = load_iris(return_X_y=True)
    X, y = X[y > 0], np.where(y[y > 0] == 2, "b", "a")
    clf = MLPClassifier(hidden=(16,), output="sigmoid", lr=1e-2, device="cpu").fit(X, y)
    assert clf.model_["weights"]["2.weight"].shape == (16, 1)  # one logit
    assert clf.score(X, y) > 0.9
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 2)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[proba.argmax(axis=1)])
    with pytest.raises(ValueError, match="sigmoid.*3 classes"):
        MLPClassifier(output="sigmoid", device="cpu").fit(*load_iris(return_X_y=True))


def test_regressor_and_missing_values_are_imputed():
    X, y = make_regression(300, 5, noise=1.0, random_state=0)
    X[::7, 2] = np.nan
    reg = MLPRegressor(hidden=(32,), lr=1e-2, device="cpu").fit(X, y)
    assert reg.score(X, y) > 0.95
    assert "x2_missing" in reg.model_["meta"]["features"]
    assert np.isfinite(reg.predict(np.full((2, 5), np.nan))).all()
    with pytest.raises(ValueError, match="missing"):
        MLPRegressor(impute=False, device="cpu").fit(X, y)


def test_a_table_with_string_columns_is_encoded_like_the_cli():
    import pyarrow as pa

    rng = np.random.default_rng(0)
    colour = rng.choice(["red", "green", "blue"], size=300).astype(object)
    size = rng.normal(size=300)
    y = np.where((colour == "red") | (size > 1.0), "yes", "no")
    size[::9] = np.nan
    colour[4::13] = None
    X = pa.table({"colour": colour, "size": size})
    clf = MLPClassifier(hidden=(16,), lr=1e-2, epochs=60, device="cpu").fit(X, y)
    assert list(clf.feature_names_in_) == ["colour", "size"] and clf.n_features_in_ == 2
    assert clf.model_["meta"]["features"] == ["size", "size_missing", "colour=blue",
                                              "colour=green", "colour=red", "colour_missing"]
    assert clf.score(X, y) > 0.9
    new = pa.table({"colour": ["red", "purple", None], "size": [0.0, np.nan, 3.0]})
    pred = clf.predict(new)  # purple: unseen, an all-zero block; None and NaN: imputed
    assert len(pred) == 3 and pred[0] == "yes" and pred[2] == "yes"
    with pytest.raises(ValueError, match="columns"):
        clf.predict(pa.table({"size": [0.0], "colour": ["red"]}))
    with pytest.raises(ValueError, match="string columns .colour.: predict needs a DataFrame"):
        clf.predict(np.zeros((1, 2)))


@pytest.mark.gpu
def test_classifier_on_the_second_gpu_matches_the_cpu():
    """device="gpu:1": trained where it was asked to (the second device of the stand-in or of a
    real machine), answers as NumPy arrays, and learns what the CPU estimator learns."""
    X, y = load_iris(return_X_y=True)
    settings = dict(hidden=(16,), epochs=40, patience=0, seed=0)
    gpu = MLPClassifier(device="gpu:1", **settings).fit(X, y)
    cpu = MLPClassifier(device="cpu", **settings).fit(X, y)
    proba = gpu.predict_proba(X)
    assert isinstance(proba, np.ndarray) and proba.shape == (150, 3)
    assert gpu.score(X, y) > 0.9
    # the devices draw shuffles from their own generators: the same model, not the same bits
    assert (gpu.predict(X) == cpu.predict(X)).mean() > 0.95
