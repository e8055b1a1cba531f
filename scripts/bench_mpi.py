"""Data-parallel word2vec on one machine, and what it would cost on N nodes.

    python scripts/bench_mpi.py CORPUS --eval-dir DIR [--tokens 3000000] [--epochs 3]
        [--rounds 3] [--sync-words W] [--sync-rows R] [--ranks 2]

Writes the corpus as lines of 1,000 words (its first ``--tokens`` tokens) and trains it,
``--rounds`` times in alternation (A B C A B C ...: a shared machine slows neighbours
alike), with skip-gram, negative 5, dim 100, window 5, sample 1e-3, min-count 5:

- ``mpiexec -n R gputrain w2v --threads 1`` (R ranks of one thread; MPI on loopback and
  shared memory only, each rank bound to a core),
- ``gputrain w2v --threads R`` (one process, R Hogwild workers on the same cores),
- gensim 4 ``Word2Vec`` with R workers (the quality reference),

evaluates every vector file with ``gputrain.vectors.evaluation`` (WordSim-353, SimLex-999,
analogies: syntactic + family within the 30,000 most frequent words) and prints the
median wall-time ratio ranks/threads with its range, and each system's quality against
gensim.

Then the cost model of the ranks' merges on N nodes, from this run's vocabulary and
settings: a hot merge sums 2 x sync_rows x dim float32 every ``sync_words`` words a rank
trains, a full merge 2 x vocab x dim at every epoch end (ring allreduce: each node sends
and receives 2 (N-1)/N times the payload). With each node training S words/s and the
corpus split N ways, communication takes T(N) = 2 (N-1)/N x (hot_bytes x S / sync_words +
full_bytes x S x N / corpus_words) / bandwidth seconds per second of training (merges
block: they do not overlap the training). The table gives, for 10/25/100 Gb/s and a CPU
node (the measured words/s of one rank) or GPU nodes, the node count from which T(N) >= 1
(communication takes as long as training) and the sync_words that keeps T(N) <= 0.1.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_w2v import GENSIM, SETTINGS, evaluate, run_measured, write_lines  # noqa: E402

from gputrain.w2v.config import Word2VecConfig  # noqa: E402

MPI_ENV = {"OMPI_MCA_btl": "self,vader", "OMPI_MCA_oob_tcp_if_include": "lo",
           "OMPI_MCA_btl_vader_single_copy_mechanism": "none",
           "OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"}
BANDWIDTHS_GBIT = (10, 25, 100)
GPU_NODE_WORDS = (10e6, 100e6)  # README "GPU kernels": ~10M end to end, ~80-130M trained


def commands(work: Path, lines: Path, args) -> dict[str, list[str]]:
    s = SETTINGS
    w2v = [sys.executable, "-m", "gputrain", "w2v", str(lines), "--dim", str(s["dim"]),
           "--window", str(s["window"]), "--sample", str(s["sample"]),
           "--min-count", str(s["min_count"]), "--epochs", str(args.epochs), "--device", "cpu",
           "--engine", "cpu", "--quiet", "--no-plot"]
    ranks = ["mpiexec", "-n", str(args.ranks), "--bind-to", "core", *w2v, "--threads", "1",
             "--sync-words", str(args.sync_words), "--sync-rows", str(args.sync_rows),
             "-o", str(work / "ranks.bin")]
    return {
        "ranks": ranks,
        "threads": [*w2v, "--threads", str(args.ranks), "-o", str(work / "threads.bin")],
        "gensim": [sys.executable, "-c", GENSIM, str(lines), str(work / "gensim.bin"),
                   str(args.epochs), str(args.ranks), "1", "0", "5", "0.025"],
    }


def cost_table(vocab: int, corpus_words: int, rank_wps: float, sync_words: int,
               sync_rows: int, dim: int) -> list[str]:
    hot = 2 * min(sync_rows, vocab) * dim * 4
    full = 2 * vocab * dim * 4

    def comm_seconds(n: int, speed: float, sync: float) -> float:  # per second of training
        ring = 2 * (n - 1) / n
        return ring * (hot * speed / sync + full * speed * n / corpus_words)

    lines = [f"cost model: vocab {vocab:,}, dim {dim}, corpus {corpus_words:,} words; hot merge "
             f"{hot / 1e6:.2f} MB every {sync_words:,} words a rank trains, full merge "
             f"{full / 1e6:.2f} MB per epoch",
             f"{'node words/s':>14}{'Gb/s':>6}{'comm s per s (N=2)':>20}"
             f"{'N where comm >= train':>23}{'sync_words for <=10% (N=8)':>28}"]
    for speed in (rank_wps, *GPU_NODE_WORDS):
        for gbit in BANDWIDTHS_GBIT:
            bw = gbit * 1e9 / 8
            t2 = comm_seconds(2, speed, sync_words) / bw
            bound = next((n for n in range(2, 4097)
                          if comm_seconds(n, speed, sync_words) / bw >= 1), None)
            # sync_words such that T(8) <= 0.1 (None: the full merges alone exceed it)
            full_part = 2 * 7 / 8 * full * speed * 8 / corpus_words / bw
            need = None if full_part >= 0.1 else 2 * 7 / 8 * hot * speed / bw / (0.1 - full_part)
            lines.append(f"{speed:>14,.0f}{gbit:>6}{t2:>20.4f}"
                         f"{bound if bound else '> 4096':>23}"
                         f"{f'{need:,.0f}' if need else 'full merges too big':>28}")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("corpus", type=Path)
    ap.add_argument("--eval-dir", type=Path, required=True)
    ap.add_argument("--tokens", type=int, default=3_000_000)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--sync-words", type=int, default=Word2VecConfig.sync_words)
    ap.add_argument("--sync-rows", type=int, default=Word2VecConfig.sync_rows)
    ap.add_argument("--only", default="ranks,threads,gensim", metavar="NAMES")
    args = ap.parse_args()
    os.environ.update(MPI_ENV)
    with tempfile.TemporaryDirectory(prefix="bench_mpi_") as tmp:
        work = Path(tmp)
        lines = work / "corpus_1000.txt"
        n_tokens = write_lines(args.corpus, lines, args.tokens)
        print(f"corpus: {n_tokens:,} tokens, {args.epochs} epochs, {args.ranks} cores; "
              f"--sync-words {args.sync_words} --sync-rows {args.sync_rows}; "
              f"{args.rounds} round(s)", flush=True)
        cmds = commands(work, lines, args)
        names = [n for n in cmds if n in args.only.split(",")]
        runs: dict[str, list[dict]] = {n: [] for n in names}
        for _ in range(args.rounds):
            for name in names:
                seconds, _ = run_measured(cmds[name])
                runs[name].append({"seconds": seconds, **evaluate(work / f"{name}.bin",
                                                                  args.eval_dir)})
                q = runs[name][-1]
                print(f"{name}: {seconds:.1f}s  WS353 {q['wordsim']:.3f} SimLex "
                      f"{q['simlex']:.3f} analogy {100 * q['analogy']:.1f}%  load average "
                      + " ".join(f"{x:.1f}" for x in os.getloadavg()), flush=True)
    report(runs)
    if "ranks" in runs:
        rank_wps = n_tokens * args.epochs / statistics.median(r["seconds"] for r in runs["ranks"])
        rank_wps /= args.ranks
        print("\n".join(cost_table(runs["ranks"][0]["vocab"], n_tokens, rank_wps, args.sync_words,
                                   args.sync_rows, SETTINGS["dim"])))


def report(runs: dict[str, list[dict]]) -> None:
    def med(name, key):
        return statistics.median(r[key] for r in runs[name])

    print(f"{'system':<9}{'wall s':>8}{'WS353':>8}{'SimLex':>8}{'analogy':>9}   (medians)")
    for name in runs:
        print(f"{name:<9}{med(name, 'seconds'):>8.1f}{med(name, 'wordsim'):>8.3f}"
              f"{med(name, 'simlex'):>8.3f}{100 * med(name, 'analogy'):>8.1f}%")
    if "ranks" in runs and "threads" in runs:
        ratios = [r["seconds"] / t["seconds"]
                  for r, t in zip(runs["ranks"], runs["threads"], strict=True)]
        print(f"ranks/threads wall time: {statistics.median(ratios):.2f}x "
              f"(range {min(ratios):.2f}-{max(ratios):.2f} over {len(ratios)} rounds)")
    if "gensim" in runs:
        for name in ("ranks", "threads"):
            if name in runs:
                ws, sl, an = (med(name, k) - med("gensim", k)
                              for k in ("wordsim", "simlex", "analogy"))
                print(f"{name} - gensim: WS353 {ws:+.3f}, SimLex {sl:+.3f}, "
                      f"analogy {100 * an:+.1f} points")


if __name__ == "__main__":
    main()
