"""Options shared by several subcommands."""

from __future__ import annotations

import click

from gputrain.backend import DEVICE_ENV, Device, resolve_device


def _to_device(ctx, param, value) -> Device:
    return resolve_device(value)


device_option = click.option(
    "--device",
    default=None,
    metavar="auto|cpu|gpu[:N]",
    envvar=DEVICE_ENV,
    callback=_to_device,
    help=f"Where to compute: auto (a CUDA GPU when present, else the CPU), cpu or gpu. "
    f"Env {DEVICE_ENV}.",
)

json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
