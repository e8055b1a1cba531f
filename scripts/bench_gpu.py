#!/usr/bin/env python
"""GPU benchmark: words/s of the word2vec step kernel and MLP epoch time, on one device.

    python scripts/bench_gpu.py [--corpus corpus.txt] [--fmnist DIR] [--json]

1. Kernel: skip-gram (and CBOW) steps on synthetic batches shaped like the trainer's
   (vocab 100k, dim 100, window 5 with word2vec's random shrink, 5 negatives, Zipf word
   frequencies so frequent rows collide as in a real corpus). Reports trained centre words
   per second of the kernel alone (CUDA events, no host work) and with the per-batch loss
   read-back that gputrain.kernels.sgns_step does.
2. Trainer (with --corpus): ``gputrain.w2v.trainer.train`` on the GPU end to end; words/s
   = raw corpus tokens x epochs / wall time, as a user sees it.
3. MLP: 784-256-128-10 ReLU, Adam 1e-3, batch 128, seconds per epoch on Fashion-MNIST
   (--fmnist DIR with train.parquet) or on random data of the same shape.

Exits with status 2 and a one-line message when there is no CUDA device.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time

import numpy as np

from gputrain import backend, kernels


def zipf_ids(rng, vocab: int, shape) -> np.ndarray:
    """Word ids with a Zipf(1) frequency profile over ``vocab`` ids (id 0 most frequent)."""
    cdf = np.cumsum(1.0 / np.arange(1, vocab + 1))
    cdf /= cdf[-1]
    return np.searchsorted(cdf, rng.random(shape)).astype(np.int32)


def w2v_batches(rng, n, batch, vocab, window, negative):
    """``n`` (contexts, targets) batches; contexts padded to 2*window with -1."""
    out = []
    for _ in range(n):
        ctx = zipf_ids(rng, vocab, (batch, 2 * window))
        reach = rng.integers(1, window + 1, batch)  # word2vec's shrunk window
        offset = np.abs(np.arange(2 * window) - (window - 0.5)) + 0.5  # 5,4,..1,1,..5
        ctx[offset[None, :] > reach[:, None]] = -1
        tgt = np.concatenate([zipf_ids(rng, vocab, (batch, 1)),
                              zipf_ids(rng, vocab, (batch, negative))], axis=1)
        out.append((ctx, tgt))
    return out


def bench_w2v_kernel(cp, name: str, vocab=100_000, dim=100, batch=16384, window=5,
                     negative=5, n_batches=40) -> dict:
    rng = np.random.default_rng(0)
    w_in = cp.asarray(((rng.random((vocab, dim)) - 0.5) / dim).astype(np.float32))
    w_out = cp.zeros((vocab, dim), dtype=np.float32)
    batches = [(cp.asarray(c), cp.asarray(t))
               for c, t in w2v_batches(rng, n_batches, batch, vocab, window, negative)]
    step = getattr(kernels, name)
    step(w_in, w_out, *batches[0], 0.025)  # compile + warm up
    cp.cuda.get_current_stream().synchronize()
    start = time.perf_counter()
    for c, t in batches:
        step(w_in, w_out, c, t, 0.025)  # returns the loss: one device sync per batch
    with_sync = time.perf_counter() - start
    # the kernel alone: the same launch gputrain.kernels makes, timed with CUDA events
    fn = kernels._function("w2v_step.cu", name, w_in)
    n_ctx, n_out = 2 * window, negative + 1
    warps, shared = kernels.w2v_launch(name, n_ctx, n_out, dim)
    loss = cp.empty(batch, dtype=np.float32)
    begin, end = cp.cuda.Event(), cp.cuda.Event()
    begin.record()
    for c, t in batches:
        fn(((batch + warps - 1) // warps,), (32 * warps,),
           (w_in, w_out, c, t, loss, np.float32(0.025), np.int32(batch), np.int32(n_ctx),
            np.int32(n_out), np.int32(dim)), shared_mem=shared)
    end.record()
    end.synchronize()
    kernel_s = cp.cuda.get_elapsed_time(begin, end) / 1e3
    words = batch * n_batches
    mean_ctx = sum(int((c >= 0).sum()) for c, _ in batches) / words
    # the README's roofline model: ids, each output row read once and written once, each
    # context row read and written once (sgns; cbow the same rows), the loss
    model_bytes = 4 * (n_ctx + n_out) + 4 * dim * 2 * (n_out + mean_ctx) + 4
    return {"step": name, "vocab": vocab, "dim": dim, "batch_centres": batch,
            "window": window, "negative": negative, "mean_contexts_per_centre": mean_ctx,
            "kernel_words_per_s": words / kernel_s,
            "step_words_per_s_with_loss_sync": words / with_sync,
            "model_bytes_per_word": model_bytes,
            "implied_gb_per_s": words / kernel_s * model_bytes / 1e9}


def bench_trainer(corpus: str, epochs: int) -> dict:
    from gputrain.w2v.config import Word2VecConfig
    from gputrain.w2v.trainer import train

    cfg = Word2VecConfig(vector_size=100, window=5, negative=5, min_count=5, sample=1e-3,
                         epochs=epochs)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        result = train(corpus, cfg, tmp, device=backend.resolve_device("gpu"))
        wall = time.perf_counter() - start
    return {"corpus": corpus, "epochs": epochs, "raw_tokens": result.raw_tokens,
            "wall_s": wall, "words_per_s": result.raw_tokens * epochs / wall}


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
    parser.add_argument("--corpus", help="text corpus for an end-to-end trainer run")
    parser.add_argument("--epochs", type=int, default=1, help="trainer epochs (default 1)")
    parser.add_argument("--fmnist", help="directory with Fashion-MNIST train.parquet")
    parser.add_argument("--mlp-epochs", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    if not backend.gpu_available():
        print("bench_gpu: no CUDA device (needs CuPy and an NVIDIA GPU); nothing measured",
              file=sys.stderr)
        return 2
    cp = backend.cupy_module()
    props = cp.cuda.runtime.getDeviceProperties(0)
    report = {"device": props["name"].decode() if isinstance(props["name"], bytes)
              else str(props["name"]),
              "w2v_kernel": [bench_w2v_kernel(cp, "sgns_step"), bench_w2v_kernel(cp, "cbow_step")]}
    if args.corpus:
        report["w2v_trainer"] = bench_trainer(args.corpus, args.epochs)
    report["mlp"] = bench_mlp(backend.resolve_device("gpu"), args.fmnist, args.mlp_epochs)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"device: {report['device']}")
    for r in report["w2v_kernel"]:
        print(f"{r['step']:10s} kernel {r['kernel_words_per_s'] / 1e6:8.1f} M words/s   "
              f"with loss sync {r['step_words_per_s_with_loss_sync'] / 1e6:8.1f} M words/s   "
              f"({r['mean_contexts_per_centre']:.1f} contexts/centre, batch "
              f"{r['batch_centres']}, ~{r['implied_gb_per_s']:.0f} GB/s at "
              f"{r['model_bytes_per_word'] / 1e3:.1f} kB/word)")
    if "w2v_trainer" in report:
        t = report["w2v_trainer"]
        print(f"trainer    {t['words_per_s'] / 1e6:8.2f} M words/s end to end "
              f"({t['raw_tokens']} tokens x {t['epochs']} epochs in {t['wall_s']:.1f} s)")
    m = report["mlp"]
    print(f"mlp        {m['best_epoch_s']:8.2f} s/epoch (best of {m['epochs']}, {m['data']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
