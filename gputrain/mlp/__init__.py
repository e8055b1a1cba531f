"""Multi-layer perceptrons on tables: read (``data``), prepare (``preprocess``,
``prepared``), build (``model``), train (``train.train_mlp``), score and predict
(``evaluate``); model directories are described in ``checkpoint``. ``MLPClassifier`` and
``MLPRegressor`` are scikit-learn estimators over the same trainer (``estimator``, imported
on first use: scikit-learn is only needed there)."""

ESTIMATORS = ("MLPClassifier", "MLPRegressor")


def __getattr__(name: str):
    if name in ESTIMATORS:
        from gputrain.mlp import estimator

        return getattr(estimator, name)
    raise AttributeError(f"module 'gputrain.mlp' has no attribute {name!r}")
