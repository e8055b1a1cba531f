"""Words on a page: PCA of their (unit) vectors to 2-D, drawn with matplotlib.

PCA is a NumPy SVD of the centred matrix; matplotlib is the optional ``plot`` extra and is
imported only when a picture is drawn.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from gputrain.atomicfile import atomic_path
from gputrain.backend import to_cpu
from gputrain.errors import GputrainError


def pca_2d(matrix) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``matrix`` projected on its two principal axes, and the fraction of the
    variance each axis explains. Signs are fixed (largest loading positive) so the same
    input always gives the same picture."""
    x = np.asarray(to_cpu(matrix), dtype=np.float64)
    if x.ndim != 2 or x.shape[0] < 2:
        raise GputrainError("PCA needs at least 2 vectors")
    x = x - x.mean(axis=0)
    _, s, vt = np.linalg.svd(x, full_matrices=False)
    axes = vt[:2]
    flip = np.sign(axes[np.arange(len(axes)), np.abs(axes).argmax(axis=1)])
    axes = axes * flip[:, None]
    coords = x @ axes.T
    if coords.shape[1] < 2:  # one-dimensional vectors: a flat line
        coords = np.hstack([coords, np.zeros((len(coords), 1))])
    var = s**2
    explained = var[:2] / var.sum() if var.sum() > 0 else np.zeros(2)
    return coords, np.pad(explained, (0, 2 - len(explained)))


def words_with_neighbors(kv, words: list[str], neighbors: int = 0):
    """The query words, then (without repeats) their ``neighbors`` nearest words each;
    returns ``(words, is_query)``."""
    for w in words:
        kv.index_of(w)  # unknown word: an error that names it
    chosen = list(dict.fromkeys(words))
    is_query = [True] * len(chosen)
    if neighbors > 0:
        for hits in kv.most_similar_batch(chosen, topn=neighbors):
            for w, _ in hits:
                if w not in chosen:
                    chosen.append(w)
                    is_query.append(False)
    return chosen, is_query


def plot_words(kv, words: list[str], output: str | os.PathLike, neighbors: int = 0,
               title: str | None = None) -> tuple[list[str], np.ndarray]:
    """Draw ``words`` (and their nearest neighbours) in 2-D; write the image atomically.
    Returns the words drawn and their 2-D coordinates."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise GputrainError(
            "plotting needs matplotlib: pip install 'gputrain[plot]'"
        ) from None
    chosen, is_query = words_with_neighbors(kv, words, neighbors)
    if len(chosen) < 2:
        raise GputrainError("plot needs at least 2 distinct words (or --neighbors K)")
    rows = np.stack([to_cpu(kv.get_vector(w, norm=True)) for w in chosen])
    coords, explained = pca_2d(rows)
    is_query = np.asarray(is_query)
    fig, ax = plt.subplots(figsize=(8, 6), dpi=100)
    try:
        ax.scatter(coords[~is_query, 0], coords[~is_query, 1], s=14, c="tab:gray",
                   label="neighbours")
        ax.scatter(coords[is_query, 0], coords[is_query, 1], s=28, c="tab:red", label="query")
        for (x, y), w, q in zip(coords, chosen, is_query, strict=True):
            ax.annotate(w, (x, y), xytext=(3, 3), textcoords="offset points",
                        fontsize=10 if q else 8, color="black" if q else "dimgray")
        ax.set_xlabel(f"PC1 ({explained[0]:.0%} of variance)")
        ax.set_ylabel(f"PC2 ({explained[1]:.0%} of variance)")
        ax.set_title(title or "word vectors, PCA to 2-D")
        if neighbors > 0:
            ax.legend(loc="best", fontsize=8)
        fig.tight_layout()
        fmt = Path(output).suffix.lstrip(".").lower() or "png"
        with atomic_path(output) as tmp:
            fig.savefig(tmp, format=fmt)
    except ValueError as e:  # an image format matplotlib does not know
        raise GputrainError(f"cannot write {output}: {e}") from None
    finally:
        plt.close(fig)
    return chosen, coords
