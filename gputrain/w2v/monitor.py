"""Watch a training run: progress reports, loss history, epochs, checkpoints, stop requests.

The trainer's parent side: in a one-thread run the training loop calls :meth:`tick`
after every call of the step and :meth:`boundary` between slices; with worker processes the
parent polls :meth:`tick`, :meth:`checkpoint_due` and :meth:`stop_requested` and pauses
the workers for :meth:`checkpoint_now`.
"""

from __future__ import annotations

import time

import numpy as np

from gputrain.w2v import checkpoint as ckpt
from gputrain.w2v.shared import SharedState

REPORT_SECONDS = 0.5


class ReadMonitor:
    """Progress of the pass that reads and encodes the corpus (before training starts):
    ``reading`` events every half second (bytes read, of how many when the corpus is a
    file; tokens so far), and a stop request honoured within one 1 MiB chunk."""

    def __init__(self, report, stop, total_bytes: int | None, passes: int = 1):
        self.report, self.stop, self.total = report, stop, total_bytes
        self.passes, self.current = passes, 0
        self.tokens = 0
        self.last = time.monotonic()

    def next_pass(self) -> ReadMonitor:
        """Start counting a pass (the first report comes after half a second: a small corpus
        reports nothing and its first event stays ``start``)."""
        self.current, self.tokens, self.last = self.current + 1, 0, time.monotonic()
        return self

    def __call__(self, position: int, tokens: int) -> None:
        from gputrain.stopping import StopRequested

        self.tokens += tokens
        if self.stop is not None and self.stop.requested:
            raise StopRequested
        now = time.monotonic()
        if now - self.last < REPORT_SECONDS:
            return
        self.last = now
        fraction = min(1.0, position / self.total) if self.total else None
        self.report("reading", read_bytes=int(position), read_total_bytes=self.total,
                    read_fraction=fraction, read_tokens=self.tokens,
                    read_pass=self.current or 1, read_passes=self.passes)


class Monitor:
    def __init__(self, state: SharedState, plan, ckpt_dir, meta: dict, report, stop,
                 checkpoint_every: int, resumed: ckpt.Checkpoint | None):
        self.state = state
        self.plan = plan
        self.ckpt_dir = ckpt_dir
        self.meta = meta
        self.report = report
        self.stop = stop
        self.checkpoint_every = int(checkpoint_every or 0)
        self.launch_slices = 0  # slices one device launch may train at most (0: any)
        self.base_loss = resumed.loss if resumed else 0.0
        self.base_pairs = resumed.pairs if resumed else 0.0
        self.history = [tuple(r) for r in resumed.history] if resumed else []
        self.elapsed_before = float(resumed.meta.get("elapsed", 0.0)) if resumed else 0.0
        self.t0 = time.monotonic()
        self.start_words = state.words_done()
        self.last_report = 0.0
        self.last_loss = (self.base_loss, self.base_pairs)
        self.next_checkpoint = self._next_threshold(self.start_words)
        self.epochs_seen = self._epochs_complete()
        self.epoch_checkpoint_pending = False
        self.checkpoints = 0

    # -- measurements -----------------------------------------------------------------
    def _next_threshold(self, words: float) -> float:
        if self.checkpoint_every <= 0:
            return float("inf")
        return (words // self.checkpoint_every + 1) * self.checkpoint_every

    def _epochs_complete(self) -> int:
        done = self.state.done.reshape(self.plan.epochs, self.plan.n_slices)
        return int(np.sum(done.all(axis=1)))

    def loss_totals(self) -> tuple[float, float]:
        return (self.base_loss + float(self.state.loss.sum()),
                self.base_pairs + float(self.state.pairs.sum()))

    def progress(self) -> float:
        return min(1.0, self.state.words_done() / max(1, self.plan.total_words))

    def words_per_second(self) -> float:
        seconds = time.monotonic() - self.t0
        return (self.state.words_done() - self.start_words) / seconds if seconds > 0 else 0.0

    def stop_requested(self) -> bool:
        return self.stop is not None and self.stop.requested

    # -- reporting --------------------------------------------------------------------
    def tick(self, force: bool = False) -> None:
        now = time.monotonic()
        new_epoch = self._epochs_complete() > self.epochs_seen  # always a history point
        if not (force or new_epoch) and now - self.last_report < REPORT_SECONDS:
            return
        self.last_report = now
        words = self.state.words_done()
        loss, pairs = self.loss_totals()
        d_loss, d_pairs = loss - self.last_loss[0], pairs - self.last_loss[1]
        mean = d_loss / d_pairs if d_pairs > 0 else float("nan")
        if d_pairs > 0:
            self.last_loss = (loss, pairs)
        alpha = self.plan.alpha_at(words)
        if d_pairs > 0:
            self.history.append((words, mean, alpha))
        epoch = min(self.plan.epochs, int(words // max(1, self.plan.n_ids)) + 1)
        self.report("progress", progress=self.progress(), words=int(words),
                    words_per_second=self.words_per_second(),
                    loss=mean if d_pairs > 0 else None, alpha=alpha,
                    epoch=epoch, loss_total=loss)
        self._check_epochs()

    def _check_epochs(self) -> None:
        complete = self._epochs_complete()
        while self.epochs_seen < complete:
            self.epochs_seen += 1
            # the words at the epoch's end, not now: with worker processes the epoch is
            # noticed a poll later, when the workers are already into the next one
            words = self.epochs_seen * self.plan.n_ids
            self.report("epoch", epoch=self.epochs_seen, words=int(words),
                        progress=min(1.0, words / max(1, self.plan.total_words)))
            self.epoch_checkpoint_pending = self.checkpoint_every > 0

    def checkpoint_due(self) -> bool:
        if self.checkpoint_every <= 0:
            return False
        self._check_epochs()
        return (self.state.words_done() >= self.next_checkpoint
                or self.epoch_checkpoint_pending)

    pause_poll = None  # seconds between the worker processes' pause checks (None: 0.1)

    def pause_due(self) -> bool:
        """Worker processes must pause for :meth:`boundary` (a stop or a checkpoint)."""
        return self.stop_requested() or self.checkpoint_due()

    def boundary(self) -> bool:
        """Between slices (all workers paused): checkpoint if due; False to stop."""
        self.tick()
        if self.stop_requested():
            self.checkpoint_now()
            return False
        if self.checkpoint_due():
            self.checkpoint_now()
        return True

    def checkpoint_now(self) -> None:
        """Write a checkpoint (all workers must be between slices)."""
        loss, pairs = self.loss_totals()
        words = self.state.words_done()
        meta = {**self.meta, "elapsed": self.elapsed_before + time.monotonic() - self.t0}
        path = ckpt.save_checkpoint(self.ckpt_dir, ckpt.Checkpoint(
            self.state.w_in, self.state.w_out, np.array(self.state.done), words, loss, pairs,
            self.history_array(), meta, self.state.w_hs))
        self.checkpoints += 1
        self.next_checkpoint = self._next_threshold(words)
        self.epoch_checkpoint_pending = False
        self.report("checkpoint", path=str(path), words=int(words), progress=self.progress())

    def finish(self) -> None:
        self.last_report = 0.0
        self.tick(force=True)

    def history_array(self) -> np.ndarray:
        return np.asarray(self.history, dtype=np.float64).reshape(-1, 3)

    def stats(self) -> dict:
        loss, pairs = self.loss_totals()
        return {"words_per_second": self.words_per_second(), "loss_total": loss,
                "mean_loss": loss / pairs if pairs else float("nan"),
                "checkpoints": self.checkpoints,
                "elapsed": self.elapsed_before + time.monotonic() - self.t0}
