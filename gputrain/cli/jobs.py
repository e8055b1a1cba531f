"""``gputrain jobs submit|list|show|cancel|retry|delete|wait|upload|artifacts|download``.

Every subcommand takes ``--server URL`` (env ``GPUTRAIN_SERVER``) and ``--token`` (env
``GPUTRAIN_TOKEN``). ``submit -p key=value`` passes the trainer's CLI options by name;
values are read as JSON when they parse (``2``, ``0.025``, ``true``) and as text otherwise.
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path

import click

from gputrain.cli.options import json_option
from gputrain.errors import GputrainError
from gputrain.service.constants import DEFAULT_PORT, SERVER_ENV, TOKEN_ENV
from gputrain.service.states import JobKind, JobState

STATES = tuple(s.value for s in JobState)
KINDS = tuple(k.value for k in JobKind)


def server_options(func):
    @click.option("--server", envvar=SERVER_ENV, default=f"http://127.0.0.1:{DEFAULT_PORT}",
                  show_default=True, help=f"The gputrain server. Env {SERVER_ENV}.")
    @click.option("--token", envvar=TOKEN_ENV, default=None,
                  help=f"Bearer token. Env {TOKEN_ENV}.")
    @functools.wraps(func)
    def wrapper(server, token, **kwargs):
        from gputrain.service.client import ServiceClient

        with ServiceClient(server, token) as client:
            return func(client, **kwargs)

    return wrapper


def parse_param(text: str) -> tuple[str, object]:
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise GputrainError(f"-p {text!r}: expected NAME=VALUE, e.g. -p epochs=2")
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    if isinstance(value, dict):
        value = raw
    return key.strip().replace("-", "_"), value


def _line(job: dict) -> str:
    metrics = job.get("metrics") or {}
    shown = [f"{k}={metrics[k]:.4g}" for k in ("words_per_second", "epoch", "loss", "accuracy")
             if isinstance(metrics.get(k), int | float)]
    error = f"  error: {job['error']}" if job.get("error") and job["state"] == "failed" else ""
    return (f"{job['id']}  {job['kind']:<4} {job['state']:<10} {100 * job['progress']:5.1f}%  "
            f"{' '.join(shown)}{error}")


def _print(obj, as_json: bool, text: str) -> None:
    click.echo(json.dumps(obj, indent=1) if as_json else text)


@click.group()
def jobs():
    """Submit and follow training jobs on a gputrain server (see `gputrain serve`)."""


@jobs.command()
@click.argument("kind", type=click.Choice(KINDS))
@click.argument("input")
@click.option("-p", "--param", "params", multiple=True, metavar="NAME=VALUE",
              help="A trainer option, e.g. -p epochs=2 -p min_count=1 (repeatable).")
@click.option("--upload", "upload_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Upload this local file first, as INPUT.")
@click.option("--devices", type=click.IntRange(min=1), default=1, show_default=True,
              help="GPUs to train on (more than 1: that many mpiexec ranks on the server).")
@click.option("--wait", "wait_", is_flag=True, help="Wait until the job is finished.")
@json_option
@server_options
def submit(client, kind, input, params, upload_path, devices, wait_, as_json):
    """Queue a KIND job on INPUT (a file in the server's inputs directory)."""
    if upload_path is not None:
        client.upload(upload_path, input)
    job = client.submit(kind, input, dict(parse_param(p) for p in params), devices=devices)
    if wait_:
        job = client.wait(job["id"])
    _print(job, as_json, _line(job) if wait_ else job["id"])
    if wait_ and job["state"] != "succeeded":
        sys.exit(1)


@jobs.command("list")
@click.option("--state", type=click.Choice(STATES), default=None)
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--all", "all_", is_flag=True, help="Every job (page by page), not --limit.")
@click.option("--order", type=click.Choice(["newest", "oldest"]), default="newest",
              show_default=True)
@json_option
@server_options
def list_cmd(client, state, limit, all_, order, as_json):
    """List jobs, newest first."""
    found = client.list(state, None if all_ else limit, order)
    _print(found, as_json, "\n".join(_line(j) for j in found) or "no jobs")


@jobs.command()
@click.argument("job_id")
@json_option
@server_options
def show(client, job_id, as_json):
    """Show one job."""
    job = client.show(job_id)
    _print(job, as_json, _line(job) + f"\n  input: {job['input']}  params: "
           f"{json.dumps(job['params'])}  attempts: {job['attempts']}")


@jobs.command()
@click.argument("job_id")
@json_option
@server_options
def cancel(client, job_id, as_json):
    """Cancel a queued or running job."""
    job = client.cancel(job_id)
    _print(job, as_json, _line(job))


@jobs.command()
@click.argument("job_id")
@json_option
@server_options
def retry(client, job_id, as_json):
    """Queue a failed job again (it resumes from its checkpoint when it has one)."""
    job = client.retry(job_id)
    _print(job, as_json, _line(job))


@jobs.command()
@click.argument("job_id")
@server_options
def delete(client, job_id):
    """Delete a finished job with its outputs and checkpoints."""
    client.delete(job_id)
    click.echo(f"deleted {job_id}")


@jobs.command()
@click.argument("job_id")
@click.option("--timeout", type=click.FloatRange(min=0), default=None,
              help="Give up after this many seconds.")
@click.option("--poll", type=click.FloatRange(min=0.05), default=1.0, show_default=True,
              help="Seconds between looks.")
@json_option
@server_options
def wait(client, job_id, timeout, poll, as_json):
    """Wait for a job to finish; exit 0 if it succeeded, 1 otherwise."""
    show_updates = None if as_json or not sys.stderr.isatty() else (
        lambda j: click.echo("\r" + _line(j), nl=False, err=True))
    job = client.wait(job_id, timeout, poll, show_updates)
    if show_updates:
        click.echo("", err=True)
    _print(job, as_json, _line(job))
    if job["state"] != "succeeded":
        sys.exit(1)


@jobs.command()
@click.argument("path", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--name", default=None, help="Name on the server (default: the file's name).")
@server_options
def upload(client, path, name):
    """Upload a local file into the server's inputs directory."""
    info = client.upload(path, name or path.name)
    click.echo(f"uploaded {info['name']} ({info['size_bytes']} bytes)")


@jobs.command()
@click.argument("job_id")
@json_option
@server_options
def artifacts(client, job_id, as_json):
    """List a job's files (vectors, model, events, log)."""
    files = client.artifacts(job_id)
    _print(files, as_json, "\n".join(f"{f['size_bytes']:>12}  {f['name']}" for f in files))


@jobs.command()
@click.argument("job_id")
@click.argument("name")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write it (default: the artifact's file name).")
@server_options
def download(client, job_id, name, output):
    """Download one of a job's files."""
    dest = output or Path(Path(name).name)
    if output is None and dest.exists():  # the default name must not replace a local file
        raise GputrainError(f"{dest} exists here; give -o to choose where the download goes "
                            f"(-o {dest} replaces it)")
    size = client.download(job_id, name, dest)
    click.echo(f"wrote {dest} ({size} bytes)")
