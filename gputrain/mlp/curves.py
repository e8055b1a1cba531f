"""Learning curves (loss and accuracy or RMSE per epoch) as a PNG, when matplotlib is there."""

from __future__ import annotations

from pathlib import Path

from gputrain.atomicfile import atomic_path


def plot_learning_curves(history: list[dict], path: str | Path) -> bool:
    """Write the plot atomically; False (and nothing written) without matplotlib."""
    if not history:
        return False
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    second = "accuracy" if "accuracy" in history[0] else "rmse"
    epochs = [h["epoch"] for h in history]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    try:
        for ax, metric in zip(axes, ("loss", second), strict=True):
            ax.plot(epochs, [h[metric] for h in history], marker="o", label="train")
            val = [h.get(f"val_{metric}") for h in history]
            if any(v is not None for v in val):
                ax.plot(epochs, val, marker="o", label="validation")
            ax.set_xlabel("epoch")
            ax.set_ylabel(metric)
            ax.grid(alpha=0.3)
            ax.legend()
        fig.tight_layout()
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=100)
    finally:
        plt.close(fig)  # pyplot keeps every open figure alive (a leak in a long service)
    return True
