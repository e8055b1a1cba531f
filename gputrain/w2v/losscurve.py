"""The training loss curve as a PNG next to the vectors (when matplotlib is installed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gputrain.atomicfile import atomic_path


def loss_curve_path(vectors_path) -> Path:
    """``vectors.bin`` -> ``vectors.loss.png``."""
    p = Path(vectors_path)
    return p.with_name(p.stem + ".loss.png")


def write_loss_curve(history: np.ndarray, path, title: str = "word2vec") -> Path | None:
    """Plot mean loss per term against words trained; None without matplotlib or data."""
    if len(history) < 2:
        return None
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=100)
    ax.plot(history[:, 0], history[:, 1], lw=1.2)
    ax.set_xlabel("words trained")
    ax.set_ylabel("mean loss per (input, output) term")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return Path(path)
