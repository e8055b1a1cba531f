#!/usr/bin/env python3
"""gputrain's MLP against PyTorch (CPU) on the same data, network and thread count.

Trains 784-256-128-10 (by default) with ReLU, Adam, batch 128 on Fashion-MNIST with both
systems and prints one table: seconds per epoch (median over the epochs, data loading not
included), test accuracy, and the ratio gputrain / PyTorch. Both see the same standardised
features (gputrain's reader and statistics) and the same hyper-parameters; PyTorch uses its
default initialisation.

Run it from a benchmark virtualenv that has torch (not a gputrain dependency):

    python3 -m venv /work/bench-venv && /work/bench-venv/bin/pip install torch==2.13.0 \
        numpy pyarrow tqdm click && /work/bench-venv/bin/pip install --no-deps -e .
    /work/bench-venv/bin/python scripts/bench_mlp.py --threads 2
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
    p.add_argument("--train", default="/work/data/fmnist/train.parquet")
    p.add_argument("--test", default="/work/data/fmnist/test.parquet")
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


def run_gputrain(args) -> dict:
    from gputrain.backend import CPU
    from gputrain.mlp.config import MLPConfig, parse_hidden
    from gputrain.mlp.evaluate import evaluate_file
    from gputrain.mlp.train import train_mlp

    with tempfile.TemporaryDirectory() as out:
        cfg = MLPConfig(data=args.train, label=args.label, out_dir=out,
                        hidden=parse_hidden(args.hidden), activation="relu", optimizer="adam",
                        lr=args.lr, batch_size=args.batch_size, epochs=args.epochs,
                        dropout=args.dropout, val_split=0.0, patience=0, seed=args.seed)
        result = train_mlp(cfg, CPU, progress=False)
        accuracy = evaluate_file(out, args.test, CPU)["accuracy"]
    return {"epoch_seconds": [h["seconds"] for h in result.history],
            "epoch_cpu_seconds": [h["cpu_seconds"] for h in result.history],
            "accuracy": accuracy}


def run_torch(args) -> dict:
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
    seconds, cpu_seconds = [], []
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
        seconds.append(time.perf_counter() - started)
        cpu_seconds.append(time.process_time() - cpu_started)
    model.eval()
    with torch.no_grad():
        accuracy = (model(xt).argmax(dim=1) == yt).float().mean().item()
    return {"epoch_seconds": seconds, "epoch_cpu_seconds": cpu_seconds, "accuracy": accuracy,
            "version": torch.__version__}


def main() -> int:
    args = parse_args()
    set_threads(args.threads)
    print(f"MLP {args.hidden} relu, Adam lr={args.lr}, batch {args.batch_size}, "
          f"dropout {args.dropout}, {args.epochs} epochs, {args.threads} threads, "
          f"{os.path.basename(args.train)}; seconds are medians over the epochs")
    print(f"{'system':<24} {'s/epoch':>8} {'cpu s/epoch':>12} {'test acc':>9}", flush=True)
    results = {}
    runs = {"gputrain": run_gputrain, "torch": run_torch}
    for key, run in runs.items():
        if args.only not in (None, key):
            continue
        r = results[key] = run(args)
        label = "gputrain (NumPy)" if key == "gputrain" else f"PyTorch {r['version']}"
        print(f"{label:<24} {statistics.median(r['epoch_seconds']):>8.3f} "
              f"{statistics.median(r['epoch_cpu_seconds']):>12.3f} {r['accuracy']:>9.4f}",
              flush=True)
    if len(results) == 2:
        ours, ref = results["gputrain"], results["torch"]
        ratio = statistics.median(ours["epoch_seconds"]) / statistics.median(ref["epoch_seconds"])
        cpu = (statistics.median(ours["epoch_cpu_seconds"])
               / statistics.median(ref["epoch_cpu_seconds"]))
        gap = (ours["accuracy"] - ref["accuracy"]) * 100
        print(f"gputrain/PyTorch epoch time: {ratio:.2f}x wall, {cpu:.2f}x cpu (target <= 1.2x); "
              f"accuracy difference {gap:+.2f} points (target within 0.5)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
