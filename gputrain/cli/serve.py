"""``gputrain serve``: the training service (HTTP API, job queue, workers, metrics)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from gputrain.errors import GputrainError
from gputrain.service.constants import (
    DATA_DIR_ENV,
    DEFAULT_HOST,
    DEFAULT_MAX_UPLOAD_BYTES,
    DEFAULT_PORT,
    HOSTS_ENV,
    TOKEN_ENV,
)


def _devices(ctx, param, value):
    if value is None:
        return None
    try:
        devices = [int(d) for d in value.split(",") if d.strip()]
    except ValueError:
        raise click.BadParameter(f"expected GPU numbers like 0,1, got {value!r}") from None
    if not devices or any(d < 0 for d in devices) or len(set(devices)) != len(devices):
        raise click.BadParameter(f"expected distinct GPU numbers like 0,1, got {value!r}")
    return devices


def read_token(token_file: Path | None) -> str | None:
    if token_file is not None:
        try:
            token = token_file.read_text(encoding="utf-8").strip()
        except OSError as e:
            raise GputrainError(f"cannot read --token-file {token_file}: {e.strerror}") from None
        if not token:
            raise GputrainError(f"--token-file {token_file} is empty")
        return token
    return os.environ.get(TOKEN_ENV, "").strip() or None


@click.command()
@click.option("--host", default=DEFAULT_HOST, show_default=True,
              help="Address to listen on (anything but loopback needs a token).")
@click.option("--port", type=click.IntRange(0, 65535), default=DEFAULT_PORT, show_default=True,
              help="TCP port (0: any free port; the address is printed on stderr).")
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              envvar=DATA_DIR_ENV, help=f"Job store, inputs and job outputs. Env {DATA_DIR_ENV}.")
@click.option("--token-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help=f"File holding the bearer token (or set {TOKEN_ENV}).")
@click.option("--devices", callback=_devices, default=None, metavar="0,1,...",
              help="GPUs to train on: one worker per GPU (default: every GPU, else the CPU).")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Number of CPU workers (one job each at a time).")
@click.option("--max-upload-bytes", type=click.IntRange(min=1),
              default=DEFAULT_MAX_UPLOAD_BYTES, show_default=True,
              help="Largest input file PUT /inputs accepts (413 above).")
@click.option("--allowed-hosts", default=None, metavar="NAME,NAME,...", envvar=HOSTS_ENV,
              help="Host header values to answer to, '*' for any (default: loopback names "
                   f"without a token, any name with one). Env {HOSTS_ENV}.")
@click.option("--retain-days", type=click.FloatRange(min=0, min_open=True), default=None,
              metavar="DAYS", help="Delete finished jobs (and their files) this many days after "
                                   "they finished (default: keep them).")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]),
              default="info", show_default=True,
              help="debug also logs the polled endpoints (/healthz, /readyz, /metrics, a job).")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="json: one JSON object a line, for log shippers.")
def serve(host, port, data_dir, token_file, devices, workers, max_upload_bytes, allowed_hosts,
          retain_days, log_level, log_format):
    """Run the training service: jobs over HTTP, persisted in DATA_DIR, Prometheus /metrics."""
    from gputrain.backend import gpu_count
    from gputrain.service.server import serve as run
    from gputrain.service.supervisor import make_slots, visible_gpus

    if devices is not None and workers is not None:
        raise GputrainError("give --devices (GPU workers) or --workers (CPU workers), not both")
    if devices is not None:
        available = gpu_count()
        missing = [d for d in devices if d >= available]
        if missing:
            raise GputrainError(f"--devices {','.join(map(str, devices))}: this machine has "
                                f"{available} CUDA device(s)")
    elif workers is None and gpu_count() > 0:
        devices = list(range(gpu_count()))
    slots = make_slots(devices, workers, visible_gpus(os.environ.get("CUDA_VISIBLE_DEVICES")))
    run(host, port, str(data_dir), read_token(token_file), slots, max_upload_bytes, log_level,
        allowed_hosts, log_format, retain_days)
