"""word2vec training speed and quality: ``gputrain w2v`` against gensim 4 ``Word2Vec``
(and word2vec.c and fastText when installed: ``pip install word2vec fasttext``).

``gensim`` reads the file with ``corpus_file`` (its fast mode); ``gensim-iter`` reads it
as a ``LineSentence`` iterable. They differ in more than speed: in ``corpus_file`` mode
each worker decays the learning rate by its *own* share of the corpus (gensim 4.4's
``word2vec_corpusfile.pyx``: ``epoch_progress = its words / all words``), so with 2
workers every epoch ends at the rate of half-way through it and the run ends at 0.1 alpha,
a higher rate than the linear schedule that word2vec.c, gensim's iterable mode and
gputrain follow.

    python scripts/bench_w2v.py CORPUS --eval-dir DIR [--tokens N] [--epochs E] [--threads T]
        [--cbow] [--hs] [--negative K] [--alpha A] [--rounds R] [--seed S]
        [--peers gensim,gensim-iter,word2vec.c,fasttext]

Writes the corpus as lines of 1,000 words (optionally only its first N tokens: gensim's
``corpus_file`` mode silently truncates lines over 10,000 words), then trains every system
on it with the same settings (skip-gram or CBOW, negative sampling and/or hierarchical
softmax, dim 100, window 5, sample 1e-3, min-count 5, the same alpha, epochs and threads;
fastText with ``minn=0, maxn=0``), each as a separate command as a user would run it
(gputrain through its CLI), ``--rounds`` times in alternation (A B C A B C ...: a shared,
noisy machine slows neighbouring runs alike), and evaluates all vector files with the same code
(``gputrain.vectors.evaluation``): WordSim-353 and SimLex-999 Spearman, analogy accuracy over
the syntactic sections plus ``family`` within the 30,000 most frequent words. Words/s is
raw corpus tokens x epochs over the wall time of the whole command; peak memory is the largest
sum over the command's process tree of each process's proportional set size (PSS: resident
memory with pages shared by N processes counted 1/N each, so forked workers mapping the
same tables are not counted twice), sampled every 50 ms.
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import statistics
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
from gputrain.w2v.config import CBOW_ALPHA, SG_ALPHA
from gputrain.w2v.corpus import iter_chunks

SETTINGS = dict(dim=100, window=5, sample=1e-3, min_count=5)

GENSIM = textwrap.dedent("""
    import sys
    from gensim.models import Word2Vec
    from gensim.models.word2vec import LineSentence
    corpus, out, epochs, threads, sg, hs, negative, alpha, seed, mode = sys.argv[1:11]
    source = dict(corpus_file=corpus) if mode == "file" else dict(sentences=LineSentence(corpus))
    model = Word2Vec(**source, sg=int(sg), hs=int(hs), negative=int(negative),
                     alpha=float(alpha), vector_size={dim}, window={window},
                     sample={sample}, min_count={min_count}, epochs=int(epochs),
                     workers=int(threads), seed=int(seed))
    model.wv.save_word2vec_format(out, binary=True)
""").format(**SETTINGS)

FASTTEXT = textwrap.dedent("""
    import sys
    import fasttext
    corpus, out, epochs, threads, sg, hs, negative, alpha = sys.argv[1:9]  # no seed option
    model = fasttext.train_unsupervised(
        corpus, model="skipgram" if int(sg) else "cbow", loss="hs" if int(hs) else "ns",
        neg=int(negative), lr=float(alpha), dim={dim}, ws={window}, t={sample},
        minCount={min_count}, epoch=int(epochs), thread=int(threads), minn=0, maxn=0,
        verbose=0)
    words = model.get_words()
    with open(out, "w", encoding="utf-8") as f:
        f.write(f"{{len(words)}} {dim}\\n")
        for w in words:
            f.write(w + " " + " ".join(f"{{x:.6f}}" for x in model.get_word_vector(w)) + "\\n")
""").format(**SETTINGS)
PEERS = ("gensim", "gensim-iter", "word2vec.c", "fasttext")


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


def commands(work: Path, lines: Path, args, seed: int) -> dict[str, list[str]]:
    """The command line of each system (word2vec.c and fastText when installed) with this
    random seed (word2vec.c and fastText's Python API have no seed option)."""
    s = SETTINGS
    negative = 0 if args.hs and not args.negative else args.negative

    def peer_args(name):  # the argv of the GENSIM and FASTTEXT scripts
        return [str(lines), str(work / f"{name}.bin"), str(args.epochs), str(args.threads),
                "0" if args.cbow else "1", "1" if args.hs else "0", str(negative),
                str(args.alpha), str(seed)]

    cmds = {
        "gputrain": [sys.executable, "-m", "gputrain", "w2v", str(lines), "-o",
                     str(work / "gputrain.bin"), "--dim", str(s["dim"]),
                     "--window", str(s["window"]), "--negative", str(negative),
                     "--sample", str(s["sample"]), "--min-count", str(s["min_count"]),
                     "--alpha", str(args.alpha), "--epochs", str(args.epochs),
                     "--threads", str(args.threads), "--seed", str(seed), "--device", "cpu",
                     "--quiet", "--no-plot"]
                    + (["--cbow"] if args.cbow else []) + (["--hs"] if args.hs else []),
        "gensim": [sys.executable, "-c", GENSIM, *peer_args("gensim"), "file"],
    }
    w2v_c = shutil.which("word2vec", path=str(Path(sys.executable).parent))
    if "word2vec.c" in args.peers and w2v_c:
        cmds["word2vec.c"] = [
            w2v_c, "-train", str(lines), "-output", str(work / "word2vec.c.bin"), "-binary", "1",
            "-size", str(s["dim"]), "-window", str(s["window"]), "-sample", str(s["sample"]),
            "-min-count", str(s["min_count"]), "-negative", str(negative),
            "-hs", "1" if args.hs else "0", "-cbow", "1" if args.cbow else "0",
            "-alpha", str(args.alpha), "-iter", str(args.epochs), "-threads", str(args.threads)]
    if "gensim-iter" in args.peers:
        cmds["gensim-iter"] = [sys.executable, "-c", GENSIM, *peer_args("gensim-iter"), "iter"]
    if "fasttext" in args.peers and importlib.util.find_spec("fasttext"):
        cmds["fasttext"] = [sys.executable, "-c", FASTTEXT, *peer_args("fasttext")]
    missing = sorted(set(args.peers) - set(cmds))
    if missing:
        print(f"not installed, left out: {', '.join(missing)}", flush=True)
    return cmds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("corpus", type=Path)
    ap.add_argument("--eval-dir", type=Path, required=True)
    ap.add_argument("--tokens", type=int, default=None, help="use the first N tokens")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--only", choices=["gputrain", *PEERS], default=None)
    ap.add_argument("--cbow", action="store_true", help="CBOW instead of skip-gram (all)")
    ap.add_argument("--hs", action="store_true",
                    help="hierarchical softmax, with --negative 0 unless --negative is given")
    ap.add_argument("--negative", type=int, default=None, help="default 5 (0 with --hs)")
    ap.add_argument("--alpha", type=float, default=None,
                    help=f"initial learning rate (all; default gputrain's: {SG_ALPHA}, "
                         f"{CBOW_ALPHA} with --cbow)")
    ap.add_argument("--rounds", type=int, default=1,
                    help="run the systems alternately this many times (A B A B ...), round r "
                         "with seed SEED + r: one seed's quality is noise (SimLex-999 varies "
                         "by about 0.01 between seeds on 3M tokens)")
    ap.add_argument("--seed", type=int, default=1, help="the first round's seed")
    ap.add_argument("--peers", default="gensim", metavar="NAMES",
                    help="comma-separated: gensim,gensim-iter,word2vec.c,fasttext (default "
                         "gensim; gensim-iter: gensim reading a LineSentence iterable instead "
                         "of corpus_file)")
    args = ap.parse_args()
    args.peers = [p for p in args.peers.split(",") if p]
    if args.negative is None:
        args.negative = 0 if args.hs else 5
    if args.alpha is None:
        args.alpha = CBOW_ALPHA if args.cbow else SG_ALPHA

    with tempfile.TemporaryDirectory(prefix="bench_w2v_") as tmp:
        work = args.workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        lines = work / "corpus_1000.txt"
        n_tokens = write_lines(args.corpus, lines, args.tokens)
        model = "CBOW" if args.cbow else "skip-gram"
        output = f"hierarchical softmax + negative {args.negative}" if args.hs and args.negative \
            else "hierarchical softmax" if args.hs else f"negative {args.negative}"
        print(f"corpus: {n_tokens:,} tokens as lines of 1,000 words; {model}, {output}, "
              f"alpha {args.alpha}, {args.epochs} epochs, {args.threads} threads, "
              f"{args.rounds} round(s), seeds {args.seed}..{args.seed + args.rounds - 1}",
              flush=True)
        names = [n for n in commands(work, lines, args, args.seed)
                 if n == "gputrain" or (n in args.peers and not args.only)]
        if args.only:
            names = [args.only]
        runs: dict[str, list[dict]] = {n: [] for n in names}
        for r in range(args.rounds):
            cmds = commands(work, lines, args, args.seed + r)  # every system the same seed
            for name in names:
                seconds, peak = run_measured(cmds[name])
                runs[name].append({"seconds": seconds, "wps": n_tokens * args.epochs / seconds,
                                   "rss": peak, **evaluate(work / f"{name}.bin", args.eval_dir)})
                print(f"{name}: done in {seconds:.1f}s", flush=True)
    report(runs)


def report(runs: dict[str, list[dict]]) -> None:
    """Per system the median of each figure over its runs; per peer gputrain's speed ratio
    and quality differences round by round (same seed), as medians and ranges."""
    def med(name, key):
        return statistics.median(r[key] for r in runs[name])

    header = (f"{'system':<11}{'wall s':>8}{'words/s':>11}{'peak PSS':>10}{'WS353':>8}"
              f"{'SimLex':>8}{'analogy':>9}{'answered':>10}{'vocab':>8}")
    print(header + ("   (medians)" if any(len(r) > 1 for r in runs.values()) else ""))
    for name in runs:
        print(f"{name:<11}{med(name, 'seconds'):>8.1f}{med(name, 'wps'):>11,.0f}"
              f"{med(name, 'rss') / 2**20:>8.0f}MB{med(name, 'wordsim'):>8.3f}"
              f"{med(name, 'simlex'):>8.3f}{100 * med(name, 'analogy'):>8.1f}%"
              f"{int(med(name, 'answered')):>10}{int(med(name, 'vocab')):>8}")
    if "gputrain" not in runs:
        return
    for peer in runs:
        if peer == "gputrain":
            continue
        pairs = list(zip(runs["gputrain"], runs[peer], strict=True))

        def paired(key, scale=1.0, fmt="+.3f", pairs=pairs):  # median of the round's differences
            d = [scale * (g[key] - o[key]) for g, o in pairs]
            spread = f" ({min(d):{fmt}}..{max(d):{fmt}})" if len(d) > 1 else ""
            return f"{statistics.median(d):{fmt}}{spread}"

        ratios = [g["wps"] / o["wps"] for g, o in pairs]
        spread = f" (range {min(ratios):.2f}-{max(ratios):.2f} over {len(ratios)} rounds)" \
            if len(ratios) > 1 else ""
        print(f"gputrain/{peer}: speed {statistics.median(ratios):.2f}x{spread}, "
              f"WS353 {paired('wordsim')}, SimLex {paired('simlex')}, "
              f"analogy {paired('analogy', 100, '+.1f')} points")


if __name__ == "__main__":
    main()
