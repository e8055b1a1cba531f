"""gputrain's MLP with its defaults against scikit-learn's, on scikit-learn's bundled tables.

Each table is split --splits times (train_test_split, 25% test, stratified for
classification, random_state 0..splits-1); on every split both systems are fitted with
default settings and scored on the same test rows: accuracy for classification, RMSE for
regression. scikit-learn's estimator is ``make_pipeline(StandardScaler(), MLPClassifier())``
(or MLPRegressor): its documentation asks for scaled inputs, and gputrain standardises
its inputs itself. The output is a Markdown table (means over the splits, and the
gputrain - scikit-learn difference: accuracy points, RMSE ratio).

    python scripts/compare_sklearn.py --splits 5 [--device cpu] [--tables iris,wine]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from sklearn import datasets
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier as SkClassifier
from sklearn.neural_network import MLPRegressor as SkRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from gputrain.mlp import MLPClassifier, MLPRegressor

TABLES = {  # name: (loader, task)
    "iris": (datasets.load_iris, "classify"),
    "wine": (datasets.load_wine, "classify"),
    "breast_cancer": (datasets.load_breast_cancer, "classify"),
    "digits": (datasets.load_digits, "classify"),
    "diabetes": (datasets.load_diabetes, "regress"),
    "friedman1": (lambda return_X_y: datasets.make_friedman1(1000, noise=1.0, random_state=0),
                  "regress"),
}


def run_split(name: str, split: int, device: str) -> dict:
    loader, task = TABLES[name]
    X, y = loader(return_X_y=True)
    classify = task == "classify"
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=split, stratify=y if classify else None)
    sk = make_pipeline(StandardScaler(), SkClassifier(random_state=split) if classify
                       else SkRegressor(random_state=split))
    ours = (MLPClassifier if classify else MLPRegressor)(seed=split, device=device)
    row = {"rows": len(X), "features": X.shape[1]}
    for system, model in (("sklearn", sk), ("gputrain", ours)):
        started = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(X_train, y_train)
        row[f"{system}_seconds"] = time.perf_counter() - started
        pred = model.predict(X_test)
        row[system] = (float(np.mean(pred == y_test)) if classify
                       else float(np.sqrt(np.mean((pred - y_test) ** 2))))
        est = model[-1] if system == "sklearn" else model
        row[f"{system}_epochs"] = est.n_iter_
    return row


def show(a: np.ndarray) -> str:
    return f"{a.mean():.3f} ± {a.std():.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--splits", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--tables", default=",".join(TABLES))
    args = parser.parse_args()
    print("| table | rows x features | metric | scikit-learn | gputrain | difference "
          "| epochs (sklearn / gputrain) | seconds (sklearn / gputrain) |")
    print("|---|---|---|---|---|---|---|---|")
    for name in args.tables.split(","):
        rows = [run_split(name, s, args.device) for s in range(args.splits)]
        classify = TABLES[name][1] == "classify"
        sk = np.array([r["sklearn"] for r in rows])
        ours = np.array([r["gputrain"] for r in rows])
        if classify:
            metric, diff = "accuracy", f"{np.mean(ours - sk):+.3f}"
        else:
            metric, diff = "RMSE", f"x{np.mean(ours) / np.mean(sk):.3f}"
        def med(key, rows=rows):
            return np.median([r[key] for r in rows])

        print(f"| {name} | {rows[0]['rows']} x {rows[0]['features']} | {metric} | {show(sk)} "
              f"| {show(ours)} | {diff} | {med('sklearn_epochs'):.0f} / "
              f"{med('gputrain_epochs'):.0f} | {med('sklearn_seconds'):.1f} / "
              f"{med('gputrain_seconds'):.1f} |", flush=True)


if __name__ == "__main__":
    main()
