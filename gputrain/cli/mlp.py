"""``gputrain mlp train|eval|predict``: multi-layer perceptrons on tables.

The commands only parse options and print; training, evaluation and prediction live in
:mod:`gputrain.mlp`. Bad input raises :class:`GputrainError`, which the CLI entry point
prints as one line and turns into exit status 2.
"""

from __future__ import annotations

import contextlib
import json
import sys
from dataclasses import fields
from pathlib import Path

import click
from click.core import ParameterSource

from gputrain.cli.options import device_option, json_option
from gputrain.errors import GputrainError
from gputrain.mlp.config import (
    ACTIVATIONS,
    INITS,
    OUTPUTS,
    SCHEDULES,
    TASKS,
    MLPConfig,
    merge_for_resume,
    parse_hidden,
)
from gputrain.optim import OPTIMIZERS

DEFAULTS = MLPConfig(data="", label="", out_dir="")


def _choices(values) -> str:
    return "|".join(values)


def parse_options(options: dict) -> dict:
    """The command's parsed options as MLPConfig values (``--hidden``, ``--features`` split)."""
    options = dict(options)
    options["hidden"] = parse_hidden(options["hidden"])
    if options["features"] is not None:
        options["features"] = [c.strip() for c in options["features"].split(",")]
    return options


def check_options(p: dict) -> MLPConfig:
    """A fresh run's config from the command's parsed options, checked, and a cheap look at
    the tables' schemas (label and feature columns); an ``OptionError`` carrying the option's
    parameter name otherwise. The service checks a job with it before queueing."""
    from gputrain.mlp.data import check_columns

    names = {f.name for f in fields(MLPConfig)}
    options = parse_options({k: v for k, v in p.items() if k in names})
    config = MLPConfig(**options).validate()
    check_columns(config.data, config.features, config.label)
    if config.test:
        check_columns(config.test, config.features, config.label, field="test")
    return config


@click.group()
def mlp():
    """Train, evaluate and apply multi-layer perceptrons on tables (Parquet, CSV, Feather)."""


@mlp.command("train")
@click.argument("data")
@click.option("--label", default="", help="The column to predict.")
@click.option("--features", default=None, metavar="C1,C2,...",
              help="Feature columns (default: every column but the label).")
@click.option("--task", default=DEFAULTS.task, show_default=True, metavar=_choices(TASKS))
@click.option("--hidden", default="256,128", show_default=True, metavar="N1,N2,...",
              help="Hidden layer sizes ('none' for a linear model).")
@click.option("--activation", default=DEFAULTS.activation, show_default=True,
              metavar=_choices(ACTIVATIONS), help="Hidden units (prelu: a learned slope per "
              "unit; maxout: see --maxout).")
@click.option("--maxout", type=int, default=DEFAULTS.maxout, metavar="K",
              help="Maxout hidden units of K linear pieces each (--activation maxout: K=2).")
@click.option("--output-unit", "output", default=DEFAULTS.output, show_default=True,
              metavar=_choices(OUTPUTS),
              help="Output unit for classification (sigmoid: one logit with fused BCE, for "
              "two classes).")
@click.option("--optimizer", default=DEFAULTS.optimizer, show_default=True,
              metavar=_choices(OPTIMIZERS))
@click.option("--lr", type=float, default=None,
              help="Learning rate (default: the optimizer's own: adam/adamw 1e-3, sgd/momentum/"
              "nesterov/adagrad/rmsprop 0.01, adadelta 1.0, adafactor relative step).")
@click.option("--batch-size", type=int, default=None,
              help="Rows per step (default: 200, fewer for a small table so that an epoch "
              "takes about 10 steps).")
@click.option("--epochs", type=int, default=DEFAULTS.epochs, show_default=True,
              help="Most epochs (a resumed run continues up to this number); early stopping "
              "usually ends the run before.")
@click.option("--dropout", type=float, default=None,
              help="Dropout probability after every hidden layer, in [0, 1) (default: 0 below "
              "5000 training rows, 0.1 from there).")
@click.option("--l2", type=float, default=DEFAULTS.l2,
              help="Weight decay (default: the optimizer's own: adamw 0.01, the others 0; "
                   "AdamW decays decoupled from the gradient).")
@click.option("--init", default=DEFAULTS.init, show_default=True, metavar=_choices(INITS),
              help="Weight initialisation (auto: He for relu-like, Xavier otherwise).")
@click.option("--lr-schedule", default=DEFAULTS.lr_schedule, show_default=True,
              metavar=_choices(SCHEDULES))
@click.option("--val-split", type=float, default=None,
              help="Fraction of rows held out for early stopping (0: train on every row and "
              "watch the training loss; default: 0.1 from 2000 rows, 0 below).")
@click.option("--patience", type=int, default=DEFAULTS.patience, show_default=True,
              help="Stop after this many epochs without the validation loss (the training loss "
              "with --val-split 0) improving by more than --tol (0: never).")
@click.option("--tol", type=float, default=DEFAULTS.tol, show_default=True,
              help="Smallest decrease of the monitored loss that counts as progress.")
@click.option("--impute/--no-impute", default=True, show_default=True,
              help="Fill missing feature values (median / most frequent category, plus a "
              "missing indicator) instead of refusing them.")
@click.option("--max-categories", type=int, default=DEFAULTS.max_categories, show_default=True,
              help="Most distinct values a string column may have (one-hot encoded).")
@click.option("--seed", type=int, default=DEFAULTS.seed, show_default=True)
@device_option
@click.option("-o", "--output", "out_dir", default=None, metavar="MODEL_DIR",
              help="Directory for the model, checkpoint, metrics and plots.")
@click.option("--resume", default=None, metavar="MODEL_DIR",
              help="Continue the run checkpointed in MODEL_DIR.")
@click.option("--events", default=None, metavar="FILE", help="Append JSON-lines events here.")
@click.option("--test", default=None, metavar="DATA", help="Evaluate on this table at the end.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.pass_context
def train(ctx, data, device, out_dir, resume, events, quiet, **options):
    """Train an MLP on DATA (Parquet, CSV or Feather) to predict --label."""
    from gputrain.cli.paths import check_output
    from gputrain.distributed import world
    from gputrain.mlp.checkpoint import read_saved_config
    from gputrain.stopping import EXIT_CHECKPOINTED

    check_output(events, "--events", {"the data": data, "the test table": options.get("test")},
                 append=True)
    options = parse_options(options | {"data": data})
    if resume:
        if out_dir and Path(out_dir).resolve() != Path(resume).resolve():
            raise GputrainError(f"--resume {resume} continues in that directory; "
                                f"drop -o {out_dir} or make it the same")
        given = {k: v for k, v in options.items()
                 if k == "data" or ctx.get_parameter_source(k) != ParameterSource.DEFAULT}
        config = merge_for_resume(read_saved_config(resume), given | {"out_dir": resume})
    else:
        if not out_dir:
            raise GputrainError("-o MODEL_DIR is required (where the model is written)")
        config = MLPConfig(out_dir=out_dir, **options)
    config.validate()
    result = _train_holding_dir(config, device, events, bool(resume), not quiet)
    for line in result.summary_lines() if world().is_root else ():
        click.echo(line)
    if result.stopped and world().is_root:
        click.echo(f"stopped early on request; continue with --resume {config.out_dir}",
                   err=True)
        sys.exit(EXIT_CHECKPOINTED)


def _train_holding_dir(config, device, events, resume: bool, progress: bool):
    """train_mlp with the model directory held (by the root rank under mpiexec); a run
    that fails before its first checkpoint leaves no directory it created behind."""
    from gputrain.dirlock import release_if_empty
    from gputrain.distributed import launched_rank
    from gputrain.mlp.checkpoint import CHECKPOINT_FILE, model_dir_lock
    from gputrain.mlp.train import train_mlp

    out = Path(config.out_dir)
    with model_dir_lock(out) if launched_rank() == 0 else contextlib.nullcontext():
        try:
            result = train_mlp(config, device, events_path=events, resume=resume,
                               progress=progress)
        except BaseException:
            if launched_rank() == 0 and not (out / CHECKPOINT_FILE).exists():
                release_if_empty(out)
            raise
        if launched_rank() == 0:
            release_if_empty(out)  # the lock file only: the model stays
    return result


@mlp.command("eval")
@click.argument("model_dir")
@click.argument("data")
@click.option("--batch-size", type=int, default=4096, show_default=True)
@device_option
@json_option
def eval_cmd(model_dir, data, batch_size, device, as_json):
    """Score the model in MODEL_DIR on DATA (accuracy, loss, macro precision / recall / F1,
    ROC AUC; or loss, RMSE and R²)."""
    from gputrain.mlp.evaluate import evaluate_file

    metrics = evaluate_file(model_dir, data, device, batch_size=batch_size)
    if as_json:
        click.echo(json.dumps(metrics))
        return
    for key, value in metrics.items():
        shown = "n/a (one class)" if value is None else value
        click.echo(f"{key}: {value:.6g}" if isinstance(value, float) else f"{key}: {shown}")


@mlp.command("predict")
@click.argument("model_dir")
@click.argument("data")
@click.option("-o", "--output", "out_path", required=True, metavar="PREDS.parquet",
              help="Where to write predictions (Parquet, CSV or Feather by suffix).")
@click.option("--keep", default=None, metavar="ID,...",
              help="Columns of DATA to copy into the predictions first (identifiers).")
@click.option("--batch-size", type=int, default=4096, show_default=True)
@device_option
def predict(model_dir, data, out_path, keep, batch_size, device):
    """Predict DATA's rows with the model in MODEL_DIR (labels and class probabilities)."""
    from gputrain.cli.paths import check_output
    from gputrain.mlp.checkpoint import model_files
    from gputrain.mlp.evaluate import predict_file

    names = [c.strip() for c in keep.split(",")] if keep else None
    if names is not None and (not all(names) or len(set(names)) != len(names)):
        raise GputrainError(f"--keep {keep!r}: give distinct comma-separated column names")
    check_output(out_path, "-o", {"the data": data} | model_files(model_dir))
    rows = predict_file(model_dir, data, out_path, device, batch_size=batch_size, keep=names)
    click.echo(f"wrote {rows} predictions to {out_path}")
