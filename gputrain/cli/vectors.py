"""Commands on a vectors file: ``neighbors``, ``similarity``, ``doesnt-match``, ``analogy``,
``eval`` and ``plot``."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import click

from gputrain.cli.options import device_option, json_option
from gputrain.errors import GputrainError
from gputrain.vectors.evaluation import SYNTACTIC_PLUS_FAMILY

_vectors_arg = click.argument("vectors", type=click.Path(dir_okay=True, path_type=Path))
_topn_option = click.option("-n", "--topn", default=10, show_default=True,
                            type=click.IntRange(min=1), help="How many words to list.")
_restrict_option = click.option(
    "--restrict-vocab", type=click.IntRange(min=1), default=None, metavar="N",
    help="Search only the N most frequent words (vector files list them first).",
)


def _load(path: Path, device):
    """Load vectors; loader warnings (e.g. non-UTF-8 words) become one stderr line each."""
    from gputrain.vectors.keyedvectors import KeyedVectors

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        kv = KeyedVectors.load(path, device=device)
    for w in caught:
        if issubclass(w.category, UserWarning):  # ours; not library deprecation noise
            click.echo(f"warning: {w.message}", err=True)
    return kv


def _print_hits(hits, as_json: bool, header: str, query: dict) -> None:
    if as_json:
        query["neighbors"] = [{"word": w, "similarity": s} for w, s in hits]
        click.echo(json.dumps(query, ensure_ascii=False))
        return
    click.echo(header)
    width = max([len(w) for w, _ in hits] + [4])
    for rank, (w, s) in enumerate(hits, 1):
        click.echo(f"{rank:>3}  {w:<{width}}  {s:.4f}")


@click.command()
@_vectors_arg
@click.argument("words", nargs=-1, required=True)
@click.option("--minus", multiple=True, metavar="WORD",
              help="Subtract this word's vector (repeatable): gensim's negative=[...].")
@_topn_option
@_restrict_option
@device_option
@json_option
def neighbors(vectors, words, minus, topn, restrict_vocab, device, as_json):
    """Nearest words by cosine similarity in VECTORS (.bin, .txt or .parquet) to WORDS, or
    to the mean of several WORDS minus the --minus words (3CosAdd, gensim's
    most_similar(positive, negative))."""
    kv = _load(vectors, device)
    hits = kv.most_similar(list(words), list(minus), topn=topn, restrict_vocab=restrict_vocab)
    query = {"positive": list(words), "negative": list(minus)}
    if len(words) == 1 and not minus:
        query = {"word": words[0], **query}
    header = " + ".join(map(repr, words)) + "".join(f" - {w!r}" for w in minus)
    _print_hits(hits, as_json, f"nearest to {header} (cosine):", query)


@click.command()
@_vectors_arg
@click.argument("a")
@click.argument("b")
@device_option
@json_option
def similarity(vectors, a, b, device, as_json):
    """Cosine similarity of words A and B in VECTORS."""
    value = _load(vectors, device).similarity(a, b)
    if as_json:
        click.echo(json.dumps({"a": a, "b": b, "similarity": value}, ensure_ascii=False))
    else:
        click.echo(f"{value:.4f}")


@click.command("doesnt-match")
@_vectors_arg
@click.argument("words", nargs=-1, required=True)
@device_option
@json_option
def doesnt_match(vectors, words, device, as_json):
    """The word of WORDS furthest from the mean of the others (gensim's doesnt_match);
    words not in VECTORS are ignored with a warning."""
    kv = _load(vectors, device)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        odd = kv.doesnt_match(list(words))
    for w in caught:
        click.echo(f"warning: {w.message}", err=True)
    if as_json:
        click.echo(json.dumps({"words": list(words), "doesnt_match": odd,
                               "ignored": [w for w in words if w not in kv]},
                              ensure_ascii=False))
    else:
        click.echo(odd)


@click.command()
@_vectors_arg
@click.argument("a")
@click.argument("b")
@click.argument("c")
@_topn_option
@_restrict_option
@click.option("--cosmul", is_flag=True, help="3CosMul (Levy & Goldberg) instead of 3CosAdd.")
@device_option
@json_option
def analogy(vectors, a, b, c, topn, restrict_vocab, cosmul, device, as_json):
    """A is to B as C is to ?  (the words nearest to B - A + C)."""
    kv = _load(vectors, device)
    query = kv.most_similar_cosmul if cosmul else kv.most_similar
    hits = query(positive=[b, c], negative=[a], topn=topn, restrict_vocab=restrict_vocab)
    method = "3CosMul" if cosmul else "3CosAdd"
    _print_hits(hits, as_json, f"{a} is to {b} as {c} is to ... ({method}):",
                {"a": a, "b": b, "c": c, "method": method})


def _pct(x) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.1f}%"


def _num(x) -> str:
    return "-" if x is None or math.isnan(x) else f"{x:.4f}"


@click.command("eval")
@_vectors_arg
@click.option("--analogies", type=click.Path(path_type=Path), default=None,
              help="Analogy questions (questions-words.txt format).")
@click.option("--pairs", type=click.Path(path_type=Path), multiple=True,
              help="Word-pair similarities (WordSim-353 / SimLex-999); repeatable.")
@click.option("--restrict-vocab", type=click.IntRange(min=1), default=30000,
              show_default=True,
              help="Analogies: answer over the N most frequent words; questions with other "
              "words are skipped.")
@click.option("--sections", default=None, metavar="NAMES",
              help="Analogy sections to count: comma-separated names or 'syntactic+family' "
              "(default all).")
@click.option("--case-sensitive", is_flag=True, help="Do not upper-case words before lookup.")
@device_option
@json_option
def eval_cmd(vectors, analogies, pairs, restrict_vocab, sections, case_sensitive, device,
             as_json):
    """Analogy accuracy per section and word-pair correlations for VECTORS."""
    if analogies is None and not pairs:
        raise GputrainError("eval needs --analogies FILE and/or --pairs FILE")
    kv = _load(vectors, device)
    report: dict = {"vectors": str(vectors), "words": len(kv)}
    if analogies is not None:
        result = kv.evaluate_word_analogies(analogies, restrict_vocab, not case_sensitive,
                                            sections)
        report["analogies"] = {"path": str(analogies), **result.to_dict(),
                               SYNTACTIC_PLUS_FAMILY: result.summed(SYNTACTIC_PLUS_FAMILY)
                               .to_dict()}
    report["pairs"] = [kv.evaluate_word_pairs(p, case_insensitive=not case_sensitive).to_dict()
                       for p in pairs]
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False))
    else:
        _print_eval_table(report)


def _print_eval_table(report: dict) -> None:
    echo = click.echo
    echo(f"{report['vectors']}: {report['words']} words")
    if "analogies" in report:
        an = report["analogies"]
        echo(f"\nanalogies: {an['path']} (3CosAdd, top {an['restrict_vocab']} words)")
        echo(f"{'section':<30} {'correct':>8} {'answered':>9} {'accuracy':>9}")
        rows = an["sections"] + [an["total"], an[SYNTACTIC_PLUS_FAMILY]]
        for i, s in enumerate(rows):
            if i == len(an["sections"]):
                echo("-" * 59)
            echo(f"{s['section']:<30} {s['correct']:>8} {s['total']:>9} "
                 f"{_pct(s['accuracy']):>9}")
        seen = an["answered"] + an["skipped"]
        echo(f"answered {an['answered']} of {seen} questions "
             f"({an['skipped']} skipped: a word outside the top {an['restrict_vocab']})")
    if report["pairs"]:
        echo(f"\n{'word pairs':<30} {'pairs':>6} {'oov':>7} {'spearman':>9} {'pearson':>8}")
        for p in report["pairs"]:
            echo(f"{Path(p['path']).name:<30} {p['pairs_used']:>6} {_pct(p['oov_ratio']):>7} "
                 f"{_num(p['spearman']):>9} {_num(p['pearson']):>8}")


@click.command()
@_vectors_arg
@click.argument("words", nargs=-1, required=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("words.png"), show_default=True,
              help="Image to write (.png, .svg, .pdf).")
@click.option("--neighbors", "neighbors_k", type=click.IntRange(min=0), default=0,
              show_default=True, help="Also draw the K nearest words of each word.")
@device_option
@json_option
def plot(vectors, words, output, neighbors_k, device, as_json):
    """Draw WORDS (and their neighbours) projected to 2-D by PCA."""
    from gputrain.cli.paths import check_output
    from gputrain.vectors.projection import plot_words

    check_output(output, "-o", {"the vectors": vectors})
    kv = _load(vectors, device)
    drawn, coords = plot_words(kv, list(words), output, neighbors=neighbors_k,
                               title=f"{vectors.name}: PCA of {len(words)} word(s)")
    if as_json:
        points = [{"word": w, "x": float(x), "y": float(y), "query": w in words}
                  for w, (x, y) in zip(drawn, coords.tolist(), strict=True)]
        click.echo(json.dumps({"output": str(output), "points": points}, ensure_ascii=False))
    else:
        click.echo(f"wrote {output} ({len(drawn)} words)")
