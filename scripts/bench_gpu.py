#!/usr/bin/env python
"""GPU benchmark: word2vec (the device engine) and MLP epoch time, on one device.

    python scripts/bench_gpu.py [--corpus corpus.txt] [--epochs E] [--fmnist DIR] [--json]
    python scripts/bench_gpu.py --standin CORPUS --epochs E -o VECTORS.bin --json

1. word2vec end to end: ``gputrain w2v CORPUS --device gpu`` (default corpus: the bundled
   Austen novels); words/s = raw corpus tokens x epochs / wall time of the command.
2. word2vec kernel: ``w2v_device_train`` alone (CUDA events) on the launch the trainer
   really makes for that corpus, skip-gram and CBOW (scripts/bench_gpu_w2v.py), in both
   variants: the default and the RING one (context rows kept in shared memory for their
   lifetime), with their ratio (which one the device engine should launch).
3. MLP: 784-256-128-10 ReLU, Adam 1e-3, batch 128, seconds per epoch on Fashion-MNIST
   (--fmnist DIR with train.parquet) or on random data of the same shape.

``--standin``: no GPU needed. Trains CORPUS with the device engine on the GPU stand-in
(tests/standin: the real kernel, emulated on the CPU), writes the vectors to ``-o`` and
prints the stand-in's counters (kernel launches, synchronising calls, bytes each way) per
million words trained. Without it, exits with status 2 and a one-line message when there
is no CUDA device.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import bench_gpu_w2v  # scripts/, next to this file
import numpy as np

from gputrain import backend

REPO = Path(__file__).resolve().parents[1]
BUNDLED = REPO / "gputrain" / "data" / "austen.txt.gz"


def load_fmnist(directory: str | None):
    if directory is None:
        rng = np.random.default_rng(0)
        return rng.random((60000, 784), dtype=np.float32), rng.integers(0, 10, 60000), "random"
    import pyarrow.parquet as pq

    table = pq.read_table(f"{directory}/train.parquet")
    label = "label" if "label" in table.column_names else table.column_names[-1]
    y = table.column(label).to_numpy().astype(np.int64)
    x = np.stack([table.column(c).to_numpy() for c in table.column_names if c != label], 1)
    return (x / max(1.0, float(x.max()))).astype(np.float32), y, f"{directory}/train.parquet"


def bench_mlp(device, directory: str | None, epochs: int) -> dict:
    from gputrain import nn
    from gputrain.autograd import Tensor, ops
    from gputrain.optim import Adam

    xp = device.xp
    x_host, y_host, source = load_fmnist(directory)
    x, y = xp.asarray(x_host), xp.asarray(y_host.astype(np.int32))
    rng = np.random.default_rng(0)
    model = nn.Sequential(nn.Linear(784, 256, rng=rng, device=device), nn.ReLU(),
                          nn.Linear(256, 128, rng=rng, device=device), nn.ReLU(),
                          nn.Linear(128, 10, rng=rng, device=device))
    opt = Adam(model.parameters(), lr=1e-3)
    times = []
    for _ in range(epochs):
        order = xp.asarray(rng.permutation(len(x_host)))
        backend.synchronize(device)
        start = time.perf_counter()
        for i in range(0, len(x_host), 128):
            idx = order[i:i + 128]
            opt.zero_grad()
            loss = ops.softmax_cross_entropy(model(Tensor(x[idx])), y[idx])
            loss.backward()
            opt.step()
        backend.synchronize(device)
        times.append(time.perf_counter() - start)
    return {"data": source, "epochs": epochs, "epoch_s": times,
            "best_epoch_s": min(times), "final_loss": float(backend.to_cpu(loss.data))}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", default=str(BUNDLED), help="word2vec corpus (default: the"
                        " bundled Austen novels)")
    parser.add_argument("--epochs", type=int, default=1, help="word2vec epochs (default 1)")
    parser.add_argument("--standin", metavar="CORPUS",
                        help="train CORPUS on the GPU stand-in and print its counters")
    parser.add_argument("--cbow", action="store_true", help="--standin: CBOW")
    parser.add_argument("--hs", action="store_true",
                        help="--standin: hierarchical softmax besides the negatives")
    parser.add_argument("-o", "--output", default="standin-vectors.bin",
                        help="--standin: where the vectors go")
    parser.add_argument("--fmnist", help="directory with Fashion-MNIST train.parquet")
    parser.add_argument("--mlp-epochs", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    if args.standin:
        sys.path.insert(0, str(REPO / "tests" / "standin"))  # `import cupy` is the stand-in
        print(json.dumps(bench_gpu_w2v.standin_run(args.standin, args.epochs, args.output,
                                                   args.cbow, args.hs)))
        return 0
    if not backend.gpu_available():
        print("bench_gpu: no CUDA device (needs CuPy and an NVIDIA GPU); nothing measured",
              file=sys.stderr)
        return 2
    cp = backend.cupy_module()
    props = cp.cuda.runtime.getDeviceProperties(0)
    report = {"device": props["name"].decode() if isinstance(props["name"], bytes)
              else str(props["name"]),
              "w2v_trainer": bench_gpu_w2v.end_to_end(args.corpus, args.epochs),
              "w2v_kernel": [bench_gpu_w2v.kernel_at_launch_size(args.corpus, cbow)
                             for cbow in (False, True)]}
    report["mlp"] = bench_mlp(backend.resolve_device("gpu"), args.fmnist, args.mlp_epochs)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"device: {report['device']}")
    t = report["w2v_trainer"]
    print(f"w2v        {t['words_per_s'] / 1e6:8.2f} M words/s end to end "
          f"({t['tokens']} tokens x {t['epochs']} epochs in {t['wall_s']:.1f} s)")
    for r in report["w2v_kernel"]:
        print(f"{'cbow' if r['cbow'] else 'skip-gram':10s} kernel "
              f"{r['kernel_words_per_s'] / 1e6:8.1f} M words/s at the trainer's launch of "
              f"{r['launch_tokens']} tokens ({r['launch_chunks']} blocks, sub {r['sub']})")
        print(f"{'':10s} ring   {r['ring']['kernel_words_per_s'] / 1e6:8.1f} M words/s"
              f" (sub {r['ring']['sub']}): ring / default = {r['ring_speedup']:.2f}x"
              f" ({'ring' if r['ring_speedup'] > 1 else 'default'} is faster)")
    m = report["mlp"]
    print(f"mlp        {m['best_epoch_s']:8.2f} s/epoch (best of {m['epochs']}, {m['data']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
