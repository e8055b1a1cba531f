"""Vector-file and query speed: gputrain's KeyedVectors against gensim 4 on the same files.

    python scripts/bench_vectors.py --words 1000000 --dim 300          # random vectors
    python scripts/bench_vectors.py --words 100000 --dim 100 --analogies questions-words.txt
    python scripts/bench_vectors.py --vectors vectors.bin --analogies questions-words.txt

Prints one table of wall times (seconds) and the ratio gensim / gputrain (> 1: we are
faster). Random vectors are written to a temporary directory and removed afterwards.
Text-format rows use ``--text-words`` words (text files are ~3x larger and slow for both).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from gputrain.vectors.keyedvectors import KeyedVectors


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def _vocabulary(n: int, questions: Path | None) -> list[str]:
    """``n`` words; the words of the analogy questions first, so that they are answered."""
    words = []
    if questions is not None:
        seen = set()
        for line in questions.read_text().splitlines():
            for w in [] if line.startswith(":") else line.lower().split():
                if w not in seen:
                    seen.add(w)
                    words.append(w)
    return words[:n] + [f"w{i}" for i in range(n - len(words[:n]))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--words", type=int, default=1_000_000)
    ap.add_argument("--dim", type=int, default=300)
    ap.add_argument("--text-words", type=int, default=100_000)
    ap.add_argument("--vectors", type=Path, help="use this file instead of random vectors")
    ap.add_argument("--analogies", type=Path, help="also time evaluate_word_analogies")
    ap.add_argument("--restrict-vocab", type=int, default=30000)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    try:
        from gensim.models import KeyedVectors as GensimKV
    except ImportError:
        GensimKV = None  # noqa: N806
    rows = []

    def row(name, ours, theirs=None):
        rows.append((name, ours, theirs))
        ratio = f"{theirs / ours:6.2f}x" if theirs else "      -"
        shown = f"{theirs:9.2f}" if theirs else "        -"
        print(f"{name:<38} {ours:9.2f} {shown} {ratio}", flush=True)

    print(f"{'operation':<38} {'gputrain':>9} {'gensim':>9} {'ratio':>7}")
    with tempfile.TemporaryDirectory(dir=".") as tmp:
        if args.vectors is None:
            rng = np.random.default_rng(0)
            vectors = rng.standard_normal((args.words, args.dim), dtype=np.float32)
            kv = KeyedVectors(_vocabulary(args.words, args.analogies), vectors)
            path = Path(tmp) / "v.bin"
            row(f"save .bin {args.words}x{args.dim}", timed(lambda: kv.save(path))[0])
            small = KeyedVectors(kv.words[: args.text_words], vectors[: args.text_words])
            txt = Path(tmp) / "v.txt"
            row(f"save .txt {len(small)}x{args.dim}", timed(lambda: small.save(txt))[0])
            t_txt = timed(lambda: KeyedVectors.load(txt))[0]
            g_txt = (timed(lambda: GensimKV.load_word2vec_format(str(txt)))[0]
                     if GensimKV else None)
            row(f"load .txt {len(small)}x{args.dim}", t_txt, g_txt)
            del kv, small, vectors
        else:
            path = args.vectors
        t_ours, kv = timed(lambda: KeyedVectors.load(path, device=args.device))
        g = None
        if GensimKV:
            t_g, g = timed(lambda: GensimKV.load_word2vec_format(str(path), binary=True))
        row(f"load .bin {len(kv)}x{kv.vector_size}", t_ours, t_g if g else None)
        word = kv.words[min(100, len(kv) - 1)]
        row("first most_similar (normalise once)", timed(lambda: kv.most_similar(word))[0],
            timed(lambda: g.most_similar(word))[0] if g else None)
        queries = kv.words[:1000]
        t_loop = g_loop = 0.0
        for start in range(0, 100, 10):  # interleaved, so both see the same machine load
            block = queries[start : start + 10]
            t_loop += timed(lambda b=block: [kv.most_similar(q) for q in b])[0] * 10
            if g:
                g_loop += timed(lambda b=block: [g.most_similar(q) for q in b])[0] * 10
        g_loop = g_loop or None
        row("1000 most_similar, one by one", t_loop, g_loop)
        row("1000 most_similar, one batch", timed(lambda: kv.most_similar_batch(queries))[0],
            g_loop)
        if args.analogies:
            rv = args.restrict_vocab
            t_a, res = timed(lambda: kv.evaluate_word_analogies(args.analogies, rv))
            g_a = (timed(lambda: g.evaluate_word_analogies(str(args.analogies),
                                                            restrict_vocab=rv))[0]
                   if g else None)
            row(f"analogies ({res.answered} answered)", t_a, g_a)


if __name__ == "__main__":
    main()
