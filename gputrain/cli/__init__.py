"""The ``gputrain`` command: a click group whose subcommands live in this package.

Subcommands are imported only when invoked, so ``gputrain w2v`` never pays for the HTTP
stack and ``gputrain --help`` stays fast. Every user-facing failure (a
:class:`~gputrain.errors.GputrainError`, a missing file, Ctrl-C) ends as one line on
stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import importlib
import sys

import click

from gputrain import __version__
from gputrain.errors import GputrainError

# name -> "module:attribute" (the attribute is a click command or group)
SUBCOMMANDS = {
    "w2v": "gputrain.cli.w2v:w2v",
    "neighbors": "gputrain.cli.vectors:neighbors",
    "analogy": "gputrain.cli.vectors:analogy",
    "similarity": "gputrain.cli.vectors:similarity",
    "doesnt-match": "gputrain.cli.vectors:doesnt_match",
    "eval": "gputrain.cli.vectors:eval_cmd",
    "plot": "gputrain.cli.vectors:plot",
    "mlp": "gputrain.cli.mlp:mlp",
    "serve": "gputrain.cli.serve:serve",
    "jobs": "gputrain.cli.jobs:jobs",
}

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class LazyGroup(click.Group):
    def list_commands(self, ctx):
        return sorted(SUBCOMMANDS)

    def get_command(self, ctx, name):
        target = SUBCOMMANDS.get(name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        return getattr(importlib.import_module(module_name), attr)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gputrain")
def cli():
    """Train word2vec vectors and MLPs on NVIDIA GPUs (CuPy) or the CPU (NumPy)."""


def fail(message: str, code: int = EXIT_USAGE) -> None:
    from gputrain import distributed

    rank, size = distributed.launched_rank(), distributed.active_size()
    if size > 1:
        click.echo(f"error: rank {rank} of {size}: {message}", err=True)
    elif not rank:  # an input error before the ranks met: every rank has it, rank 0 says it
        click.echo(f"error: {message}", err=True)
    distributed.abort(code)


def _warning_line(message, category, filename, lineno, file=None, line=None) -> None:
    """Every warning (ours, NumPy's, a library's) as one line, never a source listing."""
    click.echo(f"warning: {message}", err=True)


# what to make smaller when a command runs out of memory (host or GPU)
MEMORY_HINTS = {
    "w2v": "a smaller --dim, --batch-size or --max-vocab-size, or a higher --min-count",
    "mlp train": "smaller --hidden layers or --batch-size",
    "mlp eval": "a smaller --batch-size",
    "mlp predict": "a smaller --batch-size",
    "serve": "fewer --workers",
}
DEFAULT_MEMORY_HINT = "the vectors or the table may be too large for this machine"


def _memory_message(argv: list[str], e: MemoryError) -> str:
    words = [a for a in argv if not a.startswith("-")][:2]
    command = " ".join(words[:2]) if words[:1] == ["mlp"] else (words[0] if words else "")
    hint = MEMORY_HINTS.get(command, DEFAULT_MEMORY_HINT)
    detail = str(e).split(";")[0].strip()  # NumPy: "Unable to allocate 37.3 GiB for an array..."
    what = f"out of memory ({detail[0].lower() + detail[1:]})" if detail else "out of memory"
    return f"{what}; try {hint}" if command in MEMORY_HINTS else f"{what}; {hint}"


def _usage_line(e: click.UsageError) -> str:
    """click's three-line usage error as one line that says where the help is."""
    ctx = e.ctx
    where = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
    return e.format_message().rstrip(".") + where


def main(argv=None) -> None:
    """Console entry point: run the CLI and turn user errors into one line each."""
    import warnings

    argv = sys.argv[1:] if argv is None else list(argv)
    warnings.showwarning = _warning_line
    try:
        _main(argv)
    except SystemExit as e:
        from gputrain import distributed
        from gputrain.stopping import EXIT_CHECKPOINTED

        # a stop with its checkpoint written: every rank exits 75 (no MPI_Abort banner)
        if distributed.active_size() > 1 and e.code not in (0, None, EXIT_CHECKPOINTED):
            distributed.abort(e.code if isinstance(e.code, int) else 1)
        raise
    except BaseException:  # a bug: its traceback, then no rank left waiting for this one
        from gputrain import distributed

        if distributed.active_size() <= 1:
            raise
        import traceback

        traceback.print_exc()
        distributed.abort(1)


def _main(argv) -> None:
    try:
        cli.main(args=argv, prog_name="gputrain", standalone_mode=False)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except click.exceptions.NoArgsIsHelpError as e:  # `gputrain mlp`: the help, as asked
        e.show()
        sys.exit(e.exit_code)
    except click.UsageError as e:
        fail(_usage_line(e), e.exit_code)
    except click.ClickException as e:
        fail(e.format_message())
    except click.Abort:
        fail("aborted", EXIT_INTERRUPTED)
    except KeyboardInterrupt:
        fail("interrupted", EXIT_INTERRUPTED)
    except GputrainError as e:
        fail(str(e))
    except FileNotFoundError as e:
        fail(f"no such file: {e.filename or e}")
    except IsADirectoryError as e:
        fail(f"is a directory, not a file: {e.filename or e}")
    except PermissionError as e:
        fail(f"permission denied: {e.filename or e}")
    except MemoryError as e:  # NumPy's _ArrayMemoryError and CuPy's OutOfMemoryError too
        fail(_memory_message(argv, e))
    except BrokenPipeError:
        sys.exit(0)  # `gputrain neighbors ... | head`
    except OSError as e:  # not a directory, file exists, disk full, read-only file system
        what = e.strerror.lower() if e.strerror else str(e) or type(e).__name__
        fail(f"{what}: {e.filename}" if e.filename else what)
