"""The MLP training loop: ``train_mlp(config, device)``.

Every epoch draws a fresh generator on the device from ``(seed, epoch)``; it shuffles the
training rows and feeds the dropout layers. Checkpoints are written after every epoch and
when a stop is requested (first SIGTERM/Ctrl-C: the current batch finishes, the state
is saved with the position inside the epoch, the run returns ``stopped=True`` and the CLI
exits with ``EXIT_CHECKPOINTED``). ``--resume`` continues exactly: same weights, optimizer
moments, shuffling and dropout masks as an uninterrupted run (on a GPU, a run stopped in
the middle of an epoch re-seeds dropout for the rest of that epoch, because CuPy's
generator state cannot be saved).

On a GPU a step makes no synchronising call: the epoch's shuffled rows are gathered a block
of batches at a time (:data:`GATHER_BYTES` of features; a batch is then a slice), and the
batches' loss sum and correct count are added up on the device (by the softmax loss kernel
itself) and read only to report (every :data:`POSTFIX_EVERY` batches), to checkpoint and at
the epoch's end.

``--epochs`` is a cap: training stops once the monitored loss (the validation loss, or the
training loss without a validation split) has not improved by more than ``--tol`` for
``--patience`` epochs in a row (scikit-learn's ``tol`` / ``n_iter_no_change``). The saved
model (``weights.npz``) holds the weights of the best validation epoch (the last epoch when
there is no validation split). The automatic validation split, batch size and dropout
(``config.resolve_auto``) are fixed at the start of a run from the table's size and saved
with its config.

Under ``mpiexec -n N`` the run is data-parallel (:mod:`gputrain.mlp.dataparallel`): every
rank trains a shard of each batch and the ranks sum their gradients once per step; rank 0
alone writes the model, checkpoints, events and progress. Ranks agree on a stop request
every :data:`POSTFIX_EVERY` batches and at epoch ends; dropout masks are drawn per rank.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from gputrain import distributed
from gputrain.autograd import Tensor
from gputrain.backend import Device, to_cpu
from gputrain.errors import GputrainError
from gputrain.events import EventLog
from gputrain.mlp import checkpoint as ckpt
from gputrain.mlp.config import MLPConfig, resolve_auto
from gputrain.mlp.curves import plot_learning_curves
from gputrain.mlp.data import Table, check_data_file
from gputrain.mlp.dataparallel import GradientBucket
from gputrain.mlp.evaluate import evaluate_file, score
from gputrain.mlp.heads import make_head
from gputrain.mlp.model import build_network, dropout_layers, train_loss
from gputrain.mlp.prepared import PreparedData, prepare_data
from gputrain.optim import make_optimizer, make_schedule
from gputrain.stopping import GracefulStop

POSTFIX_EVERY = 25  # batches between progress-bar / event updates (each one syncs a GPU)
GATHER_BYTES = 256 << 20  # features gathered (shuffled) at once: the extra memory training takes


@dataclass
class TrainResult:
    out_dir: str
    task: str
    history: list[dict]
    best_epoch: int | None
    stopped: bool = False
    early_stopped: bool = False
    test_metrics: dict | None = None
    model: tuple | None = None  # (meta, weights, mean, std) of a run without out_dir

    def summary_lines(self) -> list[str]:
        lines = []
        if self.history:
            last = self.history[-1]
            lines.append("epoch {epoch}: ".format(**last) + _fmt(last))
        if self.early_stopped:
            lines.append(f"early stopping: best validation loss at epoch {self.best_epoch}")
        if self.test_metrics:
            lines.append("test: " + _fmt(self.test_metrics))
        if self.stopped:
            lines.append(f"checkpoint saved in {self.out_dir}")
        else:
            lines.append(f"model saved in {self.out_dir}")
        return lines


def _fmt(metrics: dict) -> str:
    keys = [k for k in ("loss", "accuracy", "rmse", "val_loss", "val_accuracy", "val_rmse")
            if metrics.get(k) is not None]
    return " ".join(f"{k} {metrics[k]:.4f}" for k in keys)


@dataclass
class LoopState:
    """What a checkpoint stores besides arrays (JSON)."""

    epoch: int = 0  # epochs completed
    batch: int = 0  # batches completed inside epoch ``epoch`` (a mid-epoch stop)
    rng: dict | None = None  # NumPy bit-generator state at ``batch`` (CPU only)
    loss_sum: float = 0.0
    correct: int = 0
    seen: int = 0
    best_val_loss: float | None = None  # the monitored loss (training loss without validation)
    best_epoch: int | None = None
    bad_epochs: int = 0
    early_stopped: bool = False
    history: list[dict] = field(default_factory=list)


def epoch_seed(seed: int, *path: int) -> int:
    return int(np.random.SeedSequence([seed, *path]).generate_state(1)[0])


def _permutation(rng, n: int, xp):
    if hasattr(rng, "permutation"):
        return rng.permutation(n)
    return xp.argsort(rng.random(n))  # CuPy's Generator has no permutation()


def train_mlp(config: MLPConfig, device: Device, events_path=None, resume: bool = False,
              progress: bool = True, stop=None, table: Table | None = None,
              plot: bool = True) -> TrainResult:
    """Train (or continue) the run described by ``config``; see the module docstring.

    ``table``: train on this in-memory table instead of reading ``config.data`` (the
    estimator API); ``plot=False`` skips the learning-curve PNG. With ``config.out_dir``
    None nothing is written (no checkpoint, no resume) and the best model comes back in
    ``TrainResult.model``.
    """
    config = replace(config).validate()
    if config.test:  # before training, not after it
        check_data_file(config.test)
    out = Path(config.out_dir) if config.out_dir else None
    comm = distributed.world()
    device = comm.device(device)
    progress = progress and comm.is_root
    events_path = events_path if comm.is_root else None
    with EventLog(events_path) as events, _stopper(stop) as stop, device.activate():
        saved = ckpt.load_checkpoint(out) if resume else None
        if saved is None and out and (out / ckpt.CHECKPOINT_FILE).exists():
            raise GputrainError(f"{out} already holds a run; continue it with --resume "
                                f"{out} or choose another -o")
        data = prepare_data(config, device, saved[0] if saved else None, table=table)
        if not saved:
            config = resolve_auto(config, data.n_train, data.rows)
        network = build_network(data.n_in, data.n_out, config, device)
        optimizer = make_optimizer(config.optimizer, network.parameters(), lr=config.lr,
                                   **_decay(config))
        schedule = make_schedule(config.lr_schedule, optimizer, **_schedule_args(config))
        state = LoopState()
        if saved:
            state = _restore(saved, network, optimizer, schedule)
            state.early_stopped = _early_stop_due(config, state)  # --patience may change
        events.emit("start", task=config.task, rows=data.rows, train_rows=data.n_train,
                    val_rows=data.n_val, features=data.n_in, outputs=data.n_out,
                    epochs=config.epochs, device=str(device), resumed_at=state.epoch)
        loop = _Loop(config, data, network, optimizer, schedule, state, events, stop, progress,
                     GradientBucket(comm, network.parameters(), data.xp))
        with np.errstate(over="ignore", invalid="ignore"):  # divergence is checked, not warned
            stopped = loop.run()
        result = TrainResult(str(out or ""), config.task, state.history, state.best_epoch,
                             stopped=stopped, early_stopped=state.early_stopped,
                             model=loop.best)
        if not stopped and state.history and comm.is_root and out:
            if plot:
                plot_learning_curves(state.history, out / ckpt.CURVES_FILE)
            if config.test:  # only rank 0: the others would not wait for its model files
                result.test_metrics = evaluate_file(out, config.test, device)
        events.emit("done", stopped=stopped, epochs=state.epoch, best_epoch=state.best_epoch,
                    early_stopped=state.early_stopped, test=result.test_metrics)
        return result


@contextlib.contextmanager
def _stopper(stop):
    if stop is not None:
        yield stop
        return
    with GracefulStop() as own:
        yield own


def _decay(config: MLPConfig) -> dict:
    """``--l2`` when given; else the optimizer's own weight decay (AdamW's is 0.01)."""
    return {} if config.l2 is None else {"weight_decay": config.l2}


def _schedule_args(config: MLPConfig) -> dict:
    if config.lr_schedule == "step":
        return {"step_size": max(1, config.epochs // 3), "gamma": 0.1}
    if config.lr_schedule == "exponential":
        return {"gamma": 0.9}
    if config.lr_schedule == "linear":
        return {"total_steps": config.epochs, "final_lr": 0.0}
    return {}


def _restore(saved, network, optimizer, schedule) -> LoopState:
    state_json, weights, optim_state = saved
    network.load_state_dict(weights)
    optimizer.load_state_dict(optim_state)
    # the schedule's shape follows this session's --epochs (a longer run stretches the
    # curve rather than training its extra epochs at the old schedule's final lr)
    current = {k: getattr(schedule, k) for k in schedule.hyper_names}
    schedule.load_state_dict(state_json["schedule"] | current)
    return LoopState(**state_json["loop"])


def _early_stop_due(config: MLPConfig, state: LoopState) -> bool:
    return config.patience > 0 and state.bad_epochs >= config.patience


class _Loop:
    def __init__(self, config, data: PreparedData, network, optimizer, schedule, state,
                 events, stop, progress, bucket: GradientBucket):
        self.c, self.d, self.net, self.opt = config, data, network, optimizer
        self.schedule, self.s, self.events, self.stop = schedule, state, events, stop
        self.progress, self.bucket, self.comm = progress, bucket, bucket.comm
        self.batches = -(-data.n_train // config.batch_size)
        self.xp = data.xp
        self.best = None  # (meta, weights, mean, std) when nothing is written to disk

    def run(self) -> bool:
        """Train until the last epoch, early stopping or a stop request (returns True)."""
        from tqdm import tqdm

        s, c = self.s, self.c
        total = self.batches * c.epochs
        with tqdm(total=total, initial=min(total, s.epoch * self.batches + s.batch),
                  disable=not self.progress, unit="batch", dynamic_ncols=True,
                  leave=False) as bar:
            while s.epoch < c.epochs and not s.early_stopped:
                if self._epoch(bar):
                    return True
        return False

    def _epoch(self, bar) -> bool:
        s, c, d, xp = self.s, self.c, self.d, self.xp
        started, cpu_started = time.perf_counter(), time.process_time()
        rng = d.device.rng(epoch_seed(c.seed, s.epoch))
        order = _permutation(rng, d.n_train, xp)
        if s.batch:  # resuming in the middle of this epoch
            if s.rng is not None and isinstance(rng, np.random.Generator):
                rng.bit_generator.state = s.rng
            else:
                rng = d.device.rng(epoch_seed(c.seed, s.epoch, s.batch))
        dropout_rng = rng
        if self.comm.size > 1:  # ranks mask different rows: their own streams
            dropout_rng = d.device.rng(epoch_seed(c.seed, s.epoch, s.batch, self.comm.rank))
        for layer in dropout_layers(self.net):
            layer.rng = dropout_rng
        block = self._gather_batches()
        tally = xp.zeros(2, dtype=xp.float64)  # loss sum, correct count of this session's steps
        seen = s.seen
        bar.set_description(f"epoch {s.epoch + 1}/{c.epochs}")
        head = make_head(c.task, c.output)
        self.net.train()
        for b in range(s.batch, self.batches):
            if b == s.batch or b % block == 0:  # the next block's shuffled rows, at once
                first = b * c.batch_size
                picked = order[first:min(self.batches, (b // block + 1) * block) * c.batch_size]
                rows = picked if d.train_rows is None else d.train_rows[picked]
                xs, ys = d.features[rows], d.targets[rows]
            lo = b * c.batch_size - first
            batch = slice(lo, min(lo + c.batch_size, len(ys)))
            self._step(xs, ys, batch, head, tally)
            seen += batch.stop - batch.start
            bar.update(1)
            if self._stop_agreed(b):
                s.loss_sum, s.correct = self._tallies(tally)
                s.batch, s.seen = b + 1, seen
                s.rng = rng.bit_generator.state if isinstance(rng, np.random.Generator) else None
                self._save_checkpoint()
                self.comm.barrier("the wait for rank 0's checkpoint")  # then all may exit
                return True
            if (b + 1) % POSTFIX_EVERY == 0:
                loss_sum, correct = self._tallies(tally)
                self._report(bar, b + 1, loss_sum / seen, correct / seen)
        loss_sum, correct = self._tallies(tally)
        train = self._train_metrics(loss_sum / seen, correct / seen)
        self._end_epoch(train, time.perf_counter() - started,
                        time.process_time() - cpu_started)
        finished = s.epoch >= c.epochs or s.early_stopped
        return self._stop_agreed(None) and not finished

    def _gather_batches(self) -> int:
        """Batches gathered at once (each a slice of the gathered rows afterwards, with no
        launch of its own): as many as :data:`GATHER_BYTES` of features hold, at least one."""
        row_bytes = max(1, self.d.features[:1].nbytes)
        return max(1, GATHER_BYTES // (row_bytes * self.c.batch_size))

    def _step(self, xs, ys, batch: slice, head, tally) -> None:
        """One optimizer step on the rows ``batch`` of the gathered ``xs``, ``ys``; the head's
        loss adds their loss sum and correct count to ``tally`` (on the device: no sync)."""
        if self.comm.size == 1:
            loss = train_loss(self.net, head, Tensor(xs[batch]), ys[batch], tally)
            self.opt.zero_grad()
            loss.backward()
            self.opt.step()
            return
        mine = self.bucket.shard(batch)
        self.opt.zero_grad()
        if mine.stop > mine.start:
            train_loss(self.net, head, Tensor(xs[mine]), ys[mine], tally).backward()
        self.bucket.reduce(batch.stop - batch.start, mine.stop - mine.start)
        self.opt.step()

    def _tallies(self, tally) -> tuple[float, int]:
        """The epoch's loss sum and correct count so far: the part saved before a resume
        plus what this session's steps added to ``tally`` (summed over the ranks). Reads
        the device: called when reporting, stopping and at the epoch's end."""
        if self.comm.size > 1:
            tally = self.comm.allreduce_sum(tally.copy())
            self.comm.settle()
        loss_sum, correct = (float(v) for v in to_cpu(tally))
        return self.s.loss_sum + loss_sum, self.s.correct + int(correct)

    def _stop_agreed(self, batch: int | None) -> bool:
        """Whether to stop now: this process's request alone, or with ranks the request of
        any of them, asked every POSTFIX_EVERY batches and at the epoch's end (None)."""
        if self.comm.size == 1:
            return bool(self.stop.requested)
        if batch is not None and (batch + 1) % POSTFIX_EVERY and batch + 1 < self.batches:
            return False
        return self.comm.allreduce_max(float(self.stop.requested)) > 0

    def _train_metrics(self, mean_loss: float, accuracy: float) -> dict:
        if self.c.task == "classify":
            return {"loss": mean_loss, "accuracy": accuracy}
        loss = mean_loss * self.d.target_std ** 2
        return {"loss": loss, "rmse": loss ** 0.5}

    def _report(self, bar, batch: int, mean_loss: float, accuracy: float) -> None:
        _check_finite(mean_loss, self.s.epoch + 1)
        metrics = self._train_metrics(mean_loss, accuracy)
        bar.set_postfix({k: f"{v:.4f}" for k, v in metrics.items()}, refresh=False)
        fraction = (self.s.epoch + batch / self.batches) / self.c.epochs
        self.events.emit("progress", progress=round(fraction, 6), epoch=self.s.epoch + 1,
                         **metrics)

    def _end_epoch(self, train: dict, seconds: float, cpu_seconds: float) -> None:
        s, c, d = self.s, self.c, self.d
        _check_finite(train["loss"], s.epoch + 1)
        record = {"epoch": s.epoch + 1, **train}
        if d.n_val:
            val = score(self.net, d.features, d.targets, d.val_rows, c.task,
                        target_std=d.target_std, output=c.output)
            record.update({f"val_{k}": v for k, v in val.items()})
        record.update(lr=self.opt.lr, seconds=round(seconds, 3),
                      cpu_seconds=round(cpu_seconds, 3))
        s.history.append(record)
        s.epoch += 1
        s.batch, s.rng, s.loss_sum, s.correct, s.seen = 0, None, 0.0, 0, 0
        self.schedule.step()
        # the monitored loss, in standardised units for regression (--tol is unit-free)
        monitored = record["val_loss" if d.n_val else "loss"] / d.target_std ** 2
        best = s.best_val_loss
        if best is not None and monitored >= best - c.tol:  # no progress by more than tol
            s.bad_epochs += 1
            s.early_stopped = _early_stop_due(c, s)
        else:
            s.bad_epochs = 0
        if best is None or monitored < best:
            s.best_val_loss = monitored
        if best is None or monitored < best or not d.n_val:  # no validation: the last epoch
            s.best_epoch = s.epoch
            self._save_model()
        self._save_checkpoint()
        if self.comm.is_root and c.out_dir:
            ckpt.write_metrics(c.out_dir, s.history)
        self.events.emit("epoch", epoch=s.epoch, loss=record["loss"],
                         val_loss=record.get("val_loss"), accuracy=record.get("accuracy"),
                         val_accuracy=record.get("val_accuracy"), rmse=record.get("rmse"),
                         val_rmse=record.get("val_rmse"), seconds=record["seconds"])
        self.events.emit("progress", progress=round(s.epoch / c.epochs, 6), epoch=s.epoch,
                         **train)
        if self.progress:
            from tqdm import tqdm

            tqdm.write(f"epoch {s.epoch}/{c.epochs}: {_fmt(record)} ({seconds:.2f} s)")

    def _save_model(self) -> None:
        d = self.d
        if not self.c.out_dir:
            self.best = (self._meta(), self.net.state_dict(), d.mean, d.std)
        elif self.comm.is_root:
            ckpt.save_model(self.c.out_dir, self._meta(), self.net.state_dict(), d.mean, d.std)

    def _meta(self) -> dict:
        d = self.d
        return {"config": self.c.to_dict(), "task": self.c.task, "label": self.c.label,
                "features": d.feature_names, "classes": d.classes, "n_in": d.n_in,
                "encoder": d.encoder.to_dict() if d.encoder else None,
                "n_out": d.n_out, "target_mean": d.target_mean, "target_std": d.target_std,
                "best_epoch": self.s.best_epoch,
                "metrics": self.s.history[-1] if self.s.history else None}

    def _save_checkpoint(self) -> None:
        s = self.s
        if not self.comm.is_root or not self.c.out_dir:  # rank 0 writes the ranks' weights
            return
        state = {"config": self.c.to_dict(), "loop": vars(s), "schedule":
                 self.schedule.state_dict(), "data": self.d.fingerprint()}
        ckpt.save_checkpoint(self.c.out_dir, state, self.net.state_dict(),
                             self.opt.state_dict())
        self.events.emit("checkpoint", epoch=s.epoch, batch=s.batch,
                         path=str(Path(self.c.out_dir) / ckpt.CHECKPOINT_FILE))


def _check_finite(loss: float, epoch: int) -> None:
    """A NaN or infinite loss means training diverged: stop with a clear error, not a model."""
    if not math.isfinite(loss):
        raise GputrainError(f"training diverged: the loss is {loss} in epoch {epoch}; "
                            "try a lower --lr (or --optimizer adam)")
