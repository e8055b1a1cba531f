"""A job spec -> the trainer's command line, checked by the trainer's own click command.

A job runs exactly what a user would type: ``gputrain w2v INPUT -o OUT ...`` or
``gputrain mlp train INPUT ... -o MODEL_DIR``. ``params`` are that command's option names
(``{"min_count": 1}`` -> ``--min-count 1``; ``true``/``false`` for flags; lists for options
that repeat). The spec is validated before it is queued by parsing the argv with the real
click command (``make_context``), so the service accepts exactly what the CLI accepts, and
the error names the field. Options the service controls (outputs, events, device, resume)
are refused; any other file option must name a file under DATA_DIR/inputs, like the input.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

import click

from gputrain.errors import GputrainError, OptionError
from gputrain.service.constants import W2V_CHECKPOINT_EVERY_WORDS
from gputrain.service.inputs import UnsafePath, resolve_input
from gputrain.service.states import JobKind

# click parameter names the service sets itself, per job
CONTROLLED = frozenset({
    "output", "out", "out_dir", "model_dir", "events", "device", "resume", "restart",
    "checkpoint_dir", "save_model",
})


@dataclass(frozen=True)
class Trainer:
    module: str  # where the click command lives
    attr: str
    argv_prefix: tuple[str, ...]  # CLI words after `gputrain` and before INPUT
    output: str  # the -o path, inside the job directory
    input_options: frozenset = frozenset()  # options naming input files (besides click.Path)
    defaults: tuple = ()  # (name, value) the service sets unless the job does
    check: str | None = None  # function in `module` checking the parsed options (ranges)


TRAINERS = {
    JobKind.W2V: Trainer(
        "gputrain.cli.w2v", "w2v", ("w2v",), "vectors.bin", frozenset({"from_model"}),
        defaults=(("checkpoint_every", W2V_CHECKPOINT_EVERY_WORDS), ("quiet", True)),
        check="check_options",
    ),
    JobKind.MLP: Trainer(
        "gputrain.cli.mlp", "mlp", ("mlp", "train"), "model", frozenset({"test"}),
        defaults=(("quiet", True),), check="check_options",
    ),
}


class SpecError(Exception):
    """An invalid job spec (HTTP 422): ``field`` is where, ``reason`` is what."""

    def __init__(self, field: str, reason: str):
        self.field, self.reason = field, reason
        super().__init__(f"{field}: {reason}")


class SpecPathError(SpecError):
    """A file name in a spec that leaves DATA_DIR/inputs (HTTP 400)."""


def trainer_command(kind: JobKind) -> click.Command:
    """The click command that trains ``kind`` (``mlp`` resolves to ``mlp train``)."""
    trainer = TRAINERS[kind]
    command = getattr(importlib.import_module(trainer.module), trainer.attr)
    for word in trainer.argv_prefix[1:]:
        command = command.commands[word]
    return command


def _find_param(command: click.Command, key: str) -> click.Parameter | None:
    flag = "--" + key.replace("_", "-")
    for param in command.params:
        if param.name == key or flag in getattr(param, "opts", ()) or flag in getattr(
            param, "secondary_opts", ()
        ):
            return param
    return None


def _scalar(field: str, value) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise SpecError(field, f"expected a string or a number, got {type(value).__name__}")
    return str(value)


def params_argv(command: click.Command, params: dict, inputs_dir: Path,
                input_options=frozenset()) -> list[str]:
    """``params`` as command-line words for ``command`` (options only, no arguments)."""
    if not isinstance(params, dict):
        raise SpecError("params", "expected an object of option names to values")
    argv: list[str] = []
    for key, value in params.items():
        field = f"params.{key}"
        param = _find_param(command, key)
        if param is None or not isinstance(param, click.Option) or param.hidden:
            raise SpecError(field, f"no such option: --{key.replace('_', '-')}")
        if param.name in CONTROLLED:
            raise SpecError(field, "is set by the service and cannot be given in a job")
        if param.is_flag:
            if not isinstance(value, bool):
                raise SpecError(field, "expected true or false")
            if value:
                argv.append(param.opts[0])
            elif param.secondary_opts:
                argv.append(param.secondary_opts[0])
            continue
        takes_many = param.multiple or param.nargs != 1
        if isinstance(value, list) and not takes_many:
            raise SpecError(field, "expected one value, got a list")
        values = value if isinstance(value, list) else [value]
        words = [_scalar(field, v) for v in values]
        if isinstance(param.type, click.Path | click.File) or param.name in input_options:
            try:
                words = [str(resolve_input(inputs_dir, w)) for w in words]
            except UnsafePath as e:
                raise SpecPathError(field, str(e)) from None
        name = next((o for o in param.opts if o.startswith("--")), param.opts[0])
        if param.nargs != 1:
            argv += [name, *words]
        else:  # --name=value: a value starting with "-" can never pass for an option
            argv += [f"{name}={word}" if name.startswith("--") else f"{name}{word}"
                     for word in words]
    return argv


def check_argv(command: click.Command, name: str, argv: list[str], params: dict,
               check=None) -> None:
    """Parse ``argv`` with ``command`` as the CLI would, then run ``check`` (the trainer's
    range checks) on the parsed options; a :class:`SpecError` if either fails."""
    try:
        ctx = command.make_context(name, list(argv))
        ctx.close()
    except click.ClickException as e:
        param = getattr(e, "param", None)
        key = getattr(param, "name", None)
        if key in params:
            field = f"params.{key}"
        elif isinstance(param, click.Argument):
            field = "input"
        else:
            field = "params"
        raise SpecError(field, e.format_message()) from None
    if check is None:
        return
    try:
        check(ctx.params)
    except OptionError as e:  # the field it carries is a parameter of ``command``
        raise SpecError(_job_field(command, e.field, params), str(e)) from None
    except GputrainError as e:
        raise SpecError("params", str(e)) from None


def _job_field(command: click.Command, name: str, params: dict) -> str:
    """The job's field for ``command``'s parameter ``name``: ``input`` for the argument,
    ``params.<key as the job spelled it>`` for an option."""
    param = next((p for p in command.params if p.name == name), None)
    if isinstance(param, click.Argument):
        return "input"
    key = next((k for k in params if param is not None and _find_param(command, k) is param),
               name)
    return f"params.{key}"


def resume_argv(kind: JobKind, job_dir: Path) -> list[str]:
    """The options that continue a checkpointed run in ``job_dir``; [] when there is none."""
    output = job_dir / TRAINERS[kind].output
    if kind is JobKind.MLP:
        from gputrain.mlp.checkpoint import CHECKPOINT_FILE

        return ["--resume", str(output)] if (output / CHECKPOINT_FILE).exists() else []
    from gputrain.w2v.checkpoint import checkpoint_path

    ckpt_dir = output.with_name(output.name + ".ckpt")  # the CLI's default --checkpoint-dir
    return ["--resume"] if checkpoint_path(ckpt_dir).exists() else []


def job_argv(kind: JobKind, input_name: str, params: dict, job_dir: Path, inputs_dir: Path,
             device: str, events: Path) -> tuple[list[str], bool]:
    """The trainer's argv after ``gputrain`` for one attempt, and whether it resumes."""
    trainer = TRAINERS[kind]
    command = trainer_command(kind)
    try:
        input_path = resolve_input(inputs_dir, input_name)
    except UnsafePath as e:
        raise SpecPathError("input", str(e)) from None
    defaults = {k: v for k, v in trainer.defaults if k not in params}
    options = params_argv(command, defaults | params, inputs_dir, trainer.input_options)
    resume = resume_argv(kind, job_dir)
    argv = [
        *trainer.argv_prefix, str(input_path), "-o", str(job_dir / trainer.output),
        "--events", str(events), "--device", device, *options, *resume,
    ]
    return argv, bool(resume)


def validate(kind: JobKind, input_name: str, params: dict, inputs_dir: Path,
             scratch: Path) -> None:
    """Check a job spec as the trainer's CLI would, before it is queued.

    :class:`SpecPathError` for a file name that leaves the inputs directory, otherwise
    :class:`SpecError` naming the field (``input``, ``params.<name>``) and the reason.
    """
    argv, _ = job_argv(kind, input_name, params, scratch, inputs_dir, "cpu", scratch / "e")
    input_path = Path(argv[len(TRAINERS[kind].argv_prefix)])
    if not input_path.is_file():
        raise SpecError("input", f"no such file in the inputs directory: {input_name}")
    trainer = TRAINERS[kind]
    command = trainer_command(kind)
    check = getattr(importlib.import_module(trainer.module), trainer.check) if trainer.check \
        else None
    check_argv(command, " ".join(trainer.argv_prefix), argv[len(trainer.argv_prefix):], params,
               check)
