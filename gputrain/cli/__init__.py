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


def main(argv=None) -> None:
    """Console entry point: run the CLI and turn user errors into one line each."""
    try:
        _main(argv)
    except SystemExit as e:
        from gputrain import distributed

        if distributed.active_size() > 1 and e.code not in (0, None):
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
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
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
    except MemoryError:
        fail("out of memory (try a smaller --batch-size or --max-vocab-size)", 1)
    except BrokenPipeError:
        sys.exit(0)  # `gputrain neighbors ... | head`
    except OSError as e:  # not a directory, file exists, disk full, read-only file system
        what = e.strerror.lower() if e.strerror else str(e) or type(e).__name__
        fail(f"{what}: {e.filename}" if e.filename else what)
