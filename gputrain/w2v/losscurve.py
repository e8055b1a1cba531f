"""The training loss curve as a PNG next to the vectors (when matplotlib is installed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gputrain.atomicfile import atomic_path


def loss_curve_path(vectors_path) -> Path:
    """``vectors.bin`` -> ``vectors.bin.loss.png`` (the whole name: ``v.bin`` and ``v.txt``
    trained side by side must not share one curve)."""
    p = Path(vectors_path)
    return p.with_name(p.name + ".loss.png")


def write_loss_curve(history: np.ndarray, path, title: str = "word2vec") -> Path | None:
    """Plot mean loss per term against words trained; None without matplotlib or data.

    A short run may have only one or two points (one per half second and per epoch):
    they are drawn as markers, not left out."""
    if len(history) == 0:
        return None
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    ax.plot(history[:, 0], history[:, 1], lw=1.2, marker="o" if len(history) < 10 else None)
    ax.set_xlabel("words trained")
    ax.set_ylabel("mean loss per (input, output) term")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return Path(path)
