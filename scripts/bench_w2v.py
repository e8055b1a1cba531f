"""word2vec training speed and quality: ``gputrain w2v`` against gensim 4 ``Word2Vec``.

    python scripts/bench_w2v.py CORPUS --eval-dir DIR [--tokens N] [--epochs E] [--threads T]
                                [--cbow]

Writes the corpus as lines of 1,000 words (optionally only its first N tokens: gensim's
``corpus_file`` mode silently truncates lines over 10,000 words), then trains both systems
on it with the same settings (skip-gram, dim 100, window 5, negative 5, sample 1e-3,
min-count 5, same epochs and threads), each as a separate command as a user would run it
(gputrain through its CLI), and evaluates both vector files with the same code
(``gputrain.vectors.evaluation``): WordSim-353 and SimLex-999 Spearman, analogy accuracy over
the syntactic sections plus ``family`` within the 30,000 most frequent words. Words/s is
raw corpus tokens x epochs over the wall time of the whole command; peak memory is the largest
sum over the command's process tree of each process's proportional set size (PSS: resident
memory with pages shared by N processes counted 1/N each, so forked workers mapping the
same tables are not counted twice), sampled every 50 ms.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import psutil

from gputrain.vectors.evaluation import (
    SYNTACTIC_PLUS_FAMILY,
    evaluate_word_analogies,
    evaluate_word_pairs,
)
from gputrain.vectors.keyedvectors import KeyedVectors
from gputrain.w2v.corpus import iter_chunks

SETTINGS = dict(dim=100, window=5, negative=5, sample=1e-3, min_count=5)

GENSIM = textwrap.dedent("""
    import sys
    from gensim.models import Word2Vec
    corpus, out, epochs, threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    sg = int(sys.argv[5])
    model = Word2Vec(corpus_file=corpus, sg=sg, vector_size={dim}, window={window},
                     negative={negative}, sample={sample}, min_count={min_count},
                     epochs=epochs, workers=threads, seed=1)
    model.wv.save_word2vec_format(out, binary=True)
""").format(**SETTINGS)


def write_lines(corpus: Path, out: Path, tokens: int | None, per_line: int = 1000) -> int:
    """The corpus as lines of ``per_line`` words; returns the number of tokens written."""
    written = 0
    line: list[str] = []
    with open(out, "w", encoding="utf-8") as f:
        for chunk in iter_chunks(corpus):
            for word in chunk.tokens:
                line.append(word)
                written += 1
                if len(line) == per_line:
                    f.write(" ".join(line) + "\n")
                    line = []
                if tokens and written >= tokens:
                    break
            if tokens and written >= tokens:
                break
        if line:
            f.write(" ".join(line) + "\n")
    return written


def _memory(proc: psutil.Process) -> int:
    try:
        return proc.memory_full_info().pss
    except (AttributeError, psutil.AccessDenied):
        return proc.memory_info().rss


def run_measured(cmd: list[str]) -> tuple[float, int]:
    """Wall seconds and peak memory (bytes, PSS summed over the process tree) of a command."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    parent = psutil.Process(proc.pid)
    peak = 0
    while proc.poll() is None:
        try:
            total = _memory(parent)
            for child in parent.children(recursive=True):
                total += _memory(child)
            peak = max(peak, total)
        except psutil.Error:
            pass
        time.sleep(0.05)
    seconds = time.perf_counter() - start
    err = proc.stderr.read()
    if proc.returncode != 0:
        sys.exit(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{err}")
    return seconds, peak


def evaluate(path: Path, eval_dir: Path) -> dict:
    kv = KeyedVectors.load(path)
    ws = evaluate_word_pairs(kv, eval_dir / "wordsim353.tsv")
    sl = evaluate_word_pairs(kv, eval_dir / "simlex999.txt")
    an = evaluate_word_analogies(kv, eval_dir / "questions-words.txt", restrict_vocab=30000,
                                 sections=SYNTACTIC_PLUS_FAMILY).total
    return {"wordsim": ws.spearman, "simlex": sl.spearman, "analogy": an.accuracy,
            "answered": an.total, "vocab": len(kv)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("corpus", type=Path)
    ap.add_argument("--eval-dir", type=Path, required=True)
    ap.add_argument("--tokens", type=int, default=None, help="use the first N tokens")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--only", choices=["gputrain", "gensim"], default=None)
    ap.add_argument("--cbow", action="store_true", help="CBOW instead of skip-gram (both)")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench_w2v_") as tmp:
        work = args.workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        lines = work / "corpus_1000.txt"
        n_tokens = write_lines(args.corpus, lines, args.tokens)
        print(f"corpus: {n_tokens:,} tokens as lines of 1,000 words; "
              f"{'CBOW' if args.cbow else 'skip-gram'}, {args.epochs} epochs, "
              f"{args.threads} threads", flush=True)
        s = SETTINGS
        systems = {
            "gputrain": [sys.executable, "-m", "gputrain", "w2v", str(lines), "-o",
                         str(work / "gputrain.bin"), "--dim", str(s["dim"]),
                         "--window", str(s["window"]), "--negative", str(s["negative"]),
                         "--sample", str(s["sample"]), "--min-count", str(s["min_count"]),
                         "--epochs", str(args.epochs), "--threads", str(args.threads),
                         "--device", "cpu", "--quiet", "--no-plot"]
                        + (["--cbow"] if args.cbow else []),
            "gensim": [sys.executable, "-c", GENSIM, str(lines), str(work / "gensim.bin"),
                       str(args.epochs), str(args.threads), "0" if args.cbow else "1"],
        }
        rows = {}
        for name, cmd in systems.items():
            if args.only and name != args.only:
                continue
            seconds, peak = run_measured(cmd)
            rows[name] = {"seconds": seconds, "wps": n_tokens * args.epochs / seconds,
                          "rss": peak, **evaluate(work / f"{name}.bin", args.eval_dir)}
            print(f"{name}: done in {seconds:.1f}s", flush=True)

    header = (f"{'system':<10}{'wall s':>8}{'words/s':>11}{'peak PSS':>10}{'WS353':>8}"
              f"{'SimLex':>8}{'analogy':>9}{'answered':>10}{'vocab':>8}")
    print(header)
    for name, r in rows.items():
        print(f"{name:<10}{r['seconds']:>8.1f}{r['wps']:>11,.0f}{r['rss'] / 2**20:>8.0f}MB"
              f"{r['wordsim']:>8.3f}{r['simlex']:>8.3f}{100 * r['analogy']:>8.1f}%"
              f"{r['answered']:>10}{r['vocab']:>8}")
    if len(rows) == 2:
        g, o = rows["gputrain"], rows["gensim"]
        print(f"ratio gputrain/gensim: speed {g['wps'] / o['wps']:.2f}x, "
              f"WS353 {g['wordsim'] - o['wordsim']:+.3f}, SimLex {g['simlex'] - o['simlex']:+.3f},"
              f" analogy {100 * (g['analogy'] - o['analogy']):+.1f} points")


if __name__ == "__main__":
    main()
