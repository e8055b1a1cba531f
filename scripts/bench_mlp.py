#!/usr/bin/env python3
"""gputrain's MLP against PyTorch (CPU) on the same data, network and thread count.

Trains 784-256-128-10 (by default) with ReLU, Adam, batch 128 on Fashion-MNIST with both
systems and prints one table: seconds per epoch (the fastest epoch, which is the least
disturbed by other load, and the median; data loading not included), CPU seconds per
epoch, test accuracy, and the ratios gputrain / PyTorch. Epochs of the two systems
alternate so that both see the same load on a shared machine. Both see the same standardised
features (gputrain's reader and statistics) and the same hyper-parameters; PyTorch uses its
default initialisation.

Run it from a benchmark virtualenv that has torch (not a gputrain dependency):

    python3 -m venv ../bench-venv && ../bench-venv/bin/pip install torch==2.13.0 \
        numpy pyarrow tqdm click && ../bench-venv/bin/pip install --no-deps -e .
    ../bench-venv/bin/python scripts/bench_mlp.py --threads 2
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--train", default="data/fmnist/train.parquet")
    p.add_argument("--test", default="data/fmnist/test.parquet")
    p.add_argument("--label", default="label")
    p.add_argument("--hidden", default="256,128")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--only", choices=("gputrain", "torch"), default=None)
    return p.parse_args()


def set_threads(n: int) -> None:
    """Before numpy/torch are imported: every BLAS and OpenMP pool gets ``n`` threads."""
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS"):
        os.environ[var] = str(n)


def gputrain_epochs(args):
    """Yield (wall s, cpu s) per epoch, then the test accuracy.

    Each epoch is one ``train_mlp`` call resuming the previous one (resume is exact, so
    this trains the same model as one straight run); that lets epochs of the two systems
    alternate, so both see the same load on a shared machine. Data loading is not timed.
    """
    from gputrain.backend import CPU
    from gputrain.mlp.config import MLPConfig, parse_hidden
    from gputrain.mlp.evaluate import evaluate_file
    from gputrain.mlp.train import train_mlp

    with tempfile.TemporaryDirectory() as out:
        for epoch in range(1, args.epochs + 1):
            cfg = MLPConfig(data=args.train, label=args.label, out_dir=out,
                            hidden=parse_hidden(args.hidden), activation="relu",
                            optimizer="adam", lr=args.lr, batch_size=args.batch_size,
                            epochs=epoch, dropout=args.dropout, val_split=0.0, patience=0,
                            seed=args.seed)
            last = train_mlp(cfg, CPU, progress=False, resume=epoch > 1).history[-1]
            yield last["seconds"], last["cpu_seconds"]
        yield evaluate_file(out, args.test, CPU)["accuracy"]


def torch_epochs(args):
    """Yield (wall s, cpu s) per epoch, then the test accuracy (same data and network)."""
    import numpy as np
    import torch
    from torch import nn

    from gputrain.mlp.data import read_table
    from gputrain.mlp.preprocess import fit_standardizer, standardize_

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    train = read_table(args.train, None, args.label)
    test = read_table(args.test, train.feature_names, args.label)
    mean, std = fit_standardizer(train.features)
    x = torch.from_numpy(standardize_(train.features, mean, std))
    y = torch.from_numpy(train.labels.astype(np.int64))
    xt = torch.from_numpy(standardize_(test.features, mean, std))
    yt = torch.from_numpy(test.labels.astype(np.int64))
    sizes = [x.shape[1], *map(int, args.hidden.split(",")), int(y.max()) + 1]
    layers = []
    for a, b in zip(sizes[:-2], sizes[1:-1], strict=True):
        layers += [nn.Linear(a, b), nn.ReLU()] + ([nn.Dropout(args.dropout)]
                                                  if args.dropout else [])
    model = nn.Sequential(*layers, nn.Linear(sizes[-2], sizes[-1]))
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    loss_fn = nn.CrossEntropyLoss()
    for _ in range(args.epochs):
        started, cpu_started = time.perf_counter(), time.process_time()
        model.train()
        order = torch.randperm(len(x))
        for i in range(0, len(x), args.batch_size):
            idx = order[i:i + args.batch_size]
            loss = loss_fn(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        yield time.perf_counter() - started, time.process_time() - cpu_started
    model.eval()
    with torch.no_grad():
        yield (model(xt).argmax(dim=1) == yt).float().mean().item()


def main() -> int:
    args = parse_args()
    set_threads(args.threads)
    import torch

    names = {"gputrain": "gputrain (NumPy)", "torch": f"PyTorch {torch.__version__}"}
    runs = {k: f(args) for k, f in (("gputrain", gputrain_epochs), ("torch", torch_epochs))
            if args.only in (None, k)}
    times = {k: [] for k in runs}
    for epoch in range(1, args.epochs + 1):  # alternate: one epoch of each in turn
        for key, run in runs.items():
            times[key].append(next(run))
            print(f"epoch {epoch} {names[key]}: {times[key][-1][0]:.3f} s", file=sys.stderr,
                  flush=True)
    accuracy = {k: next(run) for k, run in runs.items()}
    print(f"MLP {args.hidden} relu, Adam lr={args.lr}, batch {args.batch_size}, "
          f"dropout {args.dropout}, {args.epochs} epochs, {args.threads} threads, "
          f"{os.path.basename(args.train)}")
    print(f"{'system':<24} {'min s/epoch':>12} {'median s/epoch':>15} {'median cpu s':>13} "
          f"{'test acc':>9}")
    best = {k: min(t[0] for t in v) for k, v in times.items()}
    wall = {k: statistics.median(t[0] for t in v) for k, v in times.items()}
    cpu = {k: statistics.median(t[1] for t in v) for k, v in times.items()}
    for key in runs:
        print(f"{names[key]:<24} {best[key]:>12.3f} {wall[key]:>15.3f} {cpu[key]:>13.3f} "
              f"{accuracy[key]:>9.4f}")
    if len(runs) == 2:
        gap = (accuracy["gputrain"] - accuracy["torch"]) * 100
        print(f"gputrain/PyTorch epoch time: {best['gputrain'] / best['torch']:.2f}x (min), "
              f"{wall['gputrain'] / wall['torch']:.2f}x (median), "
              f"{cpu['gputrain'] / cpu['torch']:.2f}x (cpu); target <= 1.2x. "
              f"Accuracy difference {gap:+.2f} points (target within 0.5)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
