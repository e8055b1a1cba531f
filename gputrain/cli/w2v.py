"""``gputrain w2v CORPUS -o vectors.bin``: train word2vec (skip-gram or CBOW).

The command parses options, shows a progress bar and writes events; the work lives in
:mod:`gputrain.w2v.trainer`. Checkpoints (and the encoded corpus) live in
``--checkpoint-dir`` (default ``OUT.ckpt/``); ``--resume`` continues from the checkpoint
there when there is one. The first SIGTERM/Ctrl-C checkpoints and exits with status 75.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from contextlib import nullcontext
from pathlib import Path

import click

from gputrain.cli.options import device_option
from gputrain.w2v.config import (
    CBOW_ALPHA,
    ENGINE_CHOICES,
    MAX_DEFAULT_THREADS,
    SG_ALPHA,
    VECTOR_CHOICES,
    Word2VecConfig,
    available_cores,
    default_threads,
)

D = Word2VecConfig()


class _Reporter:
    """Send trainer events to the progress bars and the events file: one bar while the
    corpus is read and encoded, one while it trains."""

    def __init__(self, events, show_bar: bool):
        self.events = events
        self.show_bar = show_bar
        self.bar = None
        self.reading = None

    def __call__(self, event: str, **fields) -> None:
        self.events.emit(event, **fields)
        if not self.show_bar:
            return
        if event == "reading":
            self._show_reading(fields)
        elif event in ("start", "progress"):
            self._show_training(event, fields)

    def _show_reading(self, fields: dict) -> None:
        from tqdm import tqdm

        if self.reading is None:
            tqdm.monitor_interval = 0  # no monitor thread: the trainer forks workers
            self.reading = tqdm(total=fields["read_total_bytes"], unit="B", unit_scale=True,
                                file=sys.stderr, dynamic_ncols=True, desc="reading corpus")
        self.reading.n = fields["read_bytes"]
        passes = fields.get("read_passes", 1)
        pass_ = f"pass {fields.get('read_pass', 1)}/{passes}, " if passes > 1 else ""
        self.reading.set_postfix_str(f"{pass_}{fields['read_tokens']:,} tokens", refresh=False)
        self.reading.refresh()

    def _show_training(self, event: str, fields: dict) -> None:
        percent = round(100.0 * fields.get("progress", 0.0), 2)
        if self.bar is None:
            from tqdm import tqdm

            if self.reading is not None:
                self.reading.close()
                self.reading = None
            tqdm.monitor_interval = 0
            # initial: after --resume the ETA comes from this session's rate, not from the
            # whole run's words over this session's seconds
            self.bar = tqdm(total=100.0, initial=percent, unit="%", file=sys.stderr,
                            dynamic_ncols=True,
                            bar_format="{l_bar}{bar}| {n:.1f}% [{elapsed}<{remaining}{postfix}]")
        self.bar.n = percent
        if event == "progress":
            loss = fields.get("loss")
            self.bar.set_postfix_str(
                f"{fields['words_per_second']:,.0f} words/s, alpha {fields['alpha']:.5f}, "
                f"loss {loss:.4f}" if loss is not None else "", refresh=False)
        self.bar.refresh()

    def close(self) -> None:
        for bar in (self.reading, self.bar):
            if bar is not None:
                bar.close()
        self.reading = self.bar = None


# Word2VecConfig fields whose CLI option has another name (the others share theirs)
_PARAM_OF_FIELD = {"vector_size": "dim", "batch_centres": "batch_size", "vectors": "which"}


def check_options(p: dict) -> Word2VecConfig:
    """The settings from the command's parsed options, checked (an ``OptionError`` whose
    field is the option's parameter name otherwise); the service checks a job's options
    with it before queueing."""
    from gputrain.errors import OptionError

    if p["checkpoint_every"] < 0:
        raise OptionError("checkpoint_every",
                          f"--checkpoint-every must be >= 0, got {p['checkpoint_every']}")
    try:
        return Word2VecConfig(
            vector_size=p["dim"], window=p["window"], min_count=p["min_count"],
            negative=p["negative"], ns_exponent=p["ns_exponent"], sample=p["sample"],
            alpha=p["alpha"], min_alpha=p["min_alpha"], epochs=p["epochs"], cbow=p["cbow"],
            hs=p.get("hs", False),
            seed=p["seed"], max_vocab_size=p["max_vocab_size"],
            threads=p["threads"] if p.get("threads") is not None else default_threads(),
            lowercase=p["lowercase"], vectors=p["which"],
            batch_centres=p["batch_size"], engine=p.get("engine", "auto"),
            sync_words=p.get("sync_words", D.sync_words),
            sync_rows=p.get("sync_rows", D.sync_rows)).validate()
    except OptionError as e:
        raise OptionError(_PARAM_OF_FIELD.get(e.field, e.field), str(e)) from None


@click.command()
@click.argument("corpus", type=click.Path(dir_okay=False))
@click.option("-o", "--output", default="vectors.bin", show_default=True,
              help="Vectors file: .bin (word2vec binary), .txt or .parquet.")
@click.option("--dim", type=int, default=D.vector_size, show_default=True,
              help="Vector size.")
@click.option("--window", type=int, default=D.window, show_default=True,
              help="Largest context window (each centre draws 1..window).")
@click.option("--negative", type=int, default=D.negative, show_default=True,
              help="Negative samples per centre word (0: none, needs --hs).")
@click.option("--ns-exponent", type=float, default=D.ns_exponent, show_default=True,
              help="Negatives are drawn from unigram counts to this power.")
@click.option("--sample", type=float, default=D.sample, show_default=True,
              help="Frequent-word subsampling threshold (0: off).")
@click.option("--alpha", type=float, default=None,
              help=f"Initial learning rate.  [default: {SG_ALPHA}; {CBOW_ALPHA} with --cbow]")
@click.option("--min-alpha", type=float, default=D.min_alpha, show_default=True,
              help="Final learning rate (linear decay over all epochs).")
@click.option("--epochs", type=int, default=D.epochs, show_default=True)
@click.option("--min-count", type=int, default=D.min_count, show_default=True,
              help="Ignore words with fewer occurrences.")
@click.option("--max-vocab-size", type=int, default=None,
              help="Bound the words counted at once (gensim-style pruning of rare words).")
@click.option("--cbow", is_flag=True, help="CBOW (mean of context) instead of skip-gram.")
@click.option("--hs", is_flag=True,
              help="Hierarchical softmax (Huffman tree); with --negative 0 it is the only "
                   "output layer, else both train (as word2vec.c -hs 1 -negative K).")
@click.option("--threads", type=int, default=None,
              help="Worker processes on the CPU (Hogwild on shared tables)  [default: the "
                   f"CPU cores, at most {MAX_DEFAULT_THREADS}; more than the cores: capped]")
@click.option("--seed", type=int, default=D.seed, show_default=True,
              help="Random seed (with --threads 1: identical vectors for a seed).")
@device_option
@click.option("--engine", type=click.Choice(ENGINE_CHOICES), default="auto", show_default=True,
              help="device: sampling and training in one kernel launch per millions of words "
                   "(on the CPU, its NumPy twin); cpu: the window step with --threads "
                   "processes; auto: device on a GPU, else cpu.")
@click.option("--vectors", "which", type=click.Choice(VECTOR_CHOICES), default="input",
              show_default=True, help="Save the input vectors, input+output, or both side by side.")
@click.option("--lowercase", is_flag=True, help="Lowercase the corpus.")
@click.option("--batch-size", type=int, default=D.batch_centres, show_default=True,
              help="The device engine's centre words per minibatch (each with its whole "
                   "window); the CPU engine's sequential loop does not use it.")
@click.option("--events", default=None, metavar="FILE", help="Append JSON-lines events here.")
@click.option("--checkpoint-every", type=int, default=0, metavar="WORDS",
              help="Checkpoint every WORDS words trained and at each epoch end (0: only when "
                   "stopped by a signal).")
@click.option("--checkpoint-dir", default=None, metavar="DIR",
              help="Checkpoints and the encoded corpus  [default: OUT.ckpt]")
@click.option("--resume", is_flag=True,
              help="Continue from the checkpoint in --checkpoint-dir, if there is one.")
@click.option("--restart", is_flag=True,
              help="Discard the checkpoint an interrupted run left in --checkpoint-dir and "
                   "start over.")
@click.option("--keep-checkpoint", is_flag=True,
              help="Keep --checkpoint-dir after a successful run (default: delete it).")
@click.option("--save-model", default=None, metavar="FILE",
              help="Also write a trainable model (all tables, vocabulary with counts, "
                   "settings) that --from-model continues.")
@click.option("--from-model", default=None, metavar="FILE",
              help="Continue training this --save-model file on CORPUS: new words reaching "
                   "--min-count join, known rows keep their values, counts add up.")
@click.option("--sync-words", type=int, default=D.sync_words, show_default=True,
              help="Under mpiexec: words each rank trains between merges of the ranks' tables.")
@click.option("--sync-rows", type=int, default=D.sync_rows, show_default=True,
              help="Under mpiexec: rows (most frequent words) merged every time; all rows "
                   "at each epoch end and checkpoint.")
@click.option("--no-plot", is_flag=True, help="Do not write the OUT.loss.png loss curve.")
@click.option("--quiet", is_flag=True, help="No progress bar or summary.")
def w2v(corpus, output, dim, window, negative, ns_exponent, sample, alpha, min_alpha, epochs,
        min_count, max_vocab_size, cbow, hs, threads, seed, device, engine, which, lowercase,
        batch_size, events, checkpoint_every, checkpoint_dir, resume, restart, keep_checkpoint,
        save_model, from_model, sync_words, sync_rows, no_plot, quiet):
    """Train word2vec vectors on CORPUS (UTF-8 text or .gz, '-' for standard input;
    newlines end sentences)."""
    from gputrain.cli.paths import check_output
    from gputrain.distributed import world
    from gputrain.errors import GputrainError
    from gputrain.events import EventLog
    from gputrain.vectors.formats import format_from_suffix
    from gputrain.w2v.checkpoint import checkpoint_path, dir_lock
    from gputrain.w2v.engine import engine_kind
    from gputrain.w2v.trainer import remove_run_files

    cfg = check_options(click.get_current_context().params)
    base = None
    if from_model is not None:
        from gputrain.w2v.model import TrainableModel

        base = TrainableModel.load(from_model)
        cfg = _settings_from_model(cfg, base.config)
    cores = available_cores()
    if threads is not None and threads > 1 and engine_kind(cfg.engine, device) == "device":
        click.echo(f"warning: --threads {threads} is ignored: the device engine trains in one "
                   f"process on {device} (worker processes are the CPU engine's: --engine cpu"
                   + (" --device cpu)" if device.is_gpu else ")"), err=True)
    elif cfg.threads > cores:  # more processes than cores only take turns
        click.echo(f"warning: --threads {cfg.threads} is more than the {cores} CPU cores this "
                   f"process may use; training with {cores} worker processes", err=True)
        cfg = dataclasses.replace(cfg, threads=cores)
    out = Path(output)
    format_from_suffix(out)  # an output we cannot write fails now, not after training
    check_output(output, "--output", {"the corpus": corpus})
    check_output(save_model, "--save-model", {"the corpus": corpus, "the output": out})
    check_output(events, "--events", {"the corpus": corpus, "the output": out}, append=True)
    ckpt_dir = Path(checkpoint_dir) if checkpoint_dir else out.with_name(out.name + ".ckpt")
    if resume and restart:
        raise GputrainError("--resume continues the checkpoint, --restart discards it: "
                            "give one of them")
    root = world().is_root  # under mpiexec rank 0 alone holds the directory, writes and prints
    quiet = quiet or not root
    with EventLog(events if root else None) as log, dir_lock(ckpt_dir) if root else nullcontext():
        try:
            if restart and root:
                checkpoint_path(ckpt_dir).unlink(missing_ok=True)
            elif not resume and root and checkpoint_path(ckpt_dir).exists():
                raise GputrainError(f"{ckpt_dir} holds the checkpoint of an earlier run; "
                                    "continue it with --resume, or start over with --restart")
            result, fmt, plot = _train_and_save(corpus, cfg, ckpt_dir, out, log, device,
                                                checkpoint_every, resume, no_plot, quiet,
                                                base, save_model)
        except BaseException:  # a failed run leaves no cache without a checkpoint behind
            if root and not checkpoint_path(ckpt_dir).exists():
                remove_run_files(ckpt_dir)
            raise
        if not root:
            return
        if not keep_checkpoint:  # still under the lock: no other run can be using it
            remove_run_files(ckpt_dir)
    if not quiet:
        wps = result.stats.get("words_per_second", 0.0)
        click.echo(f"wrote {len(result.words):,} vectors of size {result.vectors.shape[1]} to "
                   f"{out} ({fmt}) in {result.seconds:.1f}s, {wps:,.0f} words/s"
                   + (f"; loss curve {plot}" if plot else ""), err=True)


# settings a continued run takes from the model unless given: (config field, CLI parameter)
_MODEL_SETTINGS = (("vector_size", "dim"), ("window", "window"), ("negative", "negative"),
                   ("cbow", "cbow"), ("hs", "hs"), ("lowercase", "lowercase"),
                   ("sample", "sample"), ("ns_exponent", "ns_exponent"))


def _settings_from_model(cfg: Word2VecConfig, saved: dict) -> Word2VecConfig:
    """``cfg`` with the model's architecture wherever the option was left at its default;
    a --dim that differs from the model's is refused later (the rows keep their size)."""
    ctx = click.get_current_context()
    changes = {field: saved[field] for field, param in _MODEL_SETTINGS
               if field in saved
               and ctx.get_parameter_source(param) == click.core.ParameterSource.DEFAULT}
    if ctx.get_parameter_source("alpha") == click.core.ParameterSource.DEFAULT:
        changes["alpha"] = None  # the default of the model's architecture
    return dataclasses.replace(cfg, **changes).validate()


def _train_and_save(corpus, cfg, ckpt_dir, out: Path, log, device, checkpoint_every, resume,
                    no_plot, quiet, base=None, save_model=None):
    """Train, then write the vectors and the loss curve; exits 75 when stopped by a signal."""
    from gputrain.distributed import world
    from gputrain.stopping import EXIT_CHECKPOINTED, GracefulStop, StopRequested
    from gputrain.vectors.keyedvectors import KeyedVectors
    from gputrain.w2v.losscurve import loss_curve_path, write_loss_curve
    from gputrain.w2v.trainer import train

    with GracefulStop() as stop:
        reporter = _Reporter(log, show_bar=not quiet)
        try:
            result = train(corpus, cfg, ckpt_dir, device=device,
                           checkpoint_every=checkpoint_every, resume=resume,
                           report=reporter, stop=stop, init_model=base,
                           keep_tables=save_model is not None)
        except StopRequested:  # while the corpus was read: nothing to checkpoint yet
            reporter.close()
            if not quiet:
                click.echo("stopped while reading the corpus; nothing was trained (run "
                           "again to start over)", err=True)
            sys.exit(EXIT_CHECKPOINTED)
        finally:
            reporter.close()
    if result.stopped:
        if not quiet:
            click.echo(f"stopped: checkpoint in {ckpt_dir} "
                       f"({int(result.words_trained):,} words trained); "
                       "run again with --resume to continue", err=True)
        sys.exit(EXIT_CHECKPOINTED)
    if not world().is_root:
        return result, None, None
    fmt = KeyedVectors(result.words, result.vectors, result.counts).save(out)
    if save_model is not None:
        from gputrain.w2v.model import TrainableModel

        TrainableModel(result.words, result.counts, *result.tables, cfg.to_dict()).save(save_model)
    plot = None if no_plot else write_loss_curve(result.history, loss_curve_path(out))
    loss = result.stats.get("mean_loss")
    if loss is None or not math.isfinite(loss):  # no (centre, context) pair was trained
        loss = None
        click.echo("warning: no sentence has two words in the vocabulary: the vectors are "
                   "untrained (random); check the corpus's newlines and --min-count", err=True)
    log.emit("done", progress=1.0, output=str(out), format=fmt, words=int(result.words_trained),
             vocab_size=len(result.words), seconds=round(result.seconds, 3),
             words_per_second=result.stats.get("words_per_second", 0.0), loss=loss,
             loss_curve=str(plot) if plot else None)
    return result, fmt, plot
