"""``latkit farm``: join machines with attached devices into a Ray device farm."""

from __future__ import annotations

import click

from latency_kit.cli.common import emit_json, json_option


@click.group()
def farm() -> None:
    """Ray device farm: one `latkit profile --ray` measures on every node's devices."""


@farm.command()
@click.option("--address", required=True, help="Ray head address (HOST:PORT), as `ray start --head` printed.")
@click.option("--device", "devices", multiple=True, metavar="NAME[=COUNT]",
              help="Device attached to this machine (repeatable; default: cpu=1).")
@click.option("--num-cpus", type=click.IntRange(min=0), default=None,
              help="CPUs this node offers to Ray (default: Ray's choice).")
@click.option("--start", is_flag=True, help="Run `ray start` now instead of printing it.")
@json_option
def worker(address: str, devices: tuple[str, ...], num_cpus: int | None, start: bool,
           as_json: bool) -> None:
    """Print (or, with --start, run) the `ray start` line that advertises this
    machine's devices as Ray resources, e.g. {"device:pixel7": 1}."""
    import shlex
    import shutil
    import subprocess

    from latency_kit.errors import LatkitError
    from latency_kit.measure.farm import worker_command

    counts: dict[str, int] = {}
    for item in devices or ("cpu",):
        name, _, count = item.partition("=")
        try:
            counts[name] = int(count) if count else 1
        except ValueError:
            raise LatkitError(f"--device {item!r}: write NAME or NAME=COUNT, e.g. pixel7=2") from None
    command = worker_command(address, counts, num_cpus)
    if as_json:
        emit_json({"command": command, "resources": command[3].split("=", 1)[1]})
    elif not start:
        click.echo(shlex.join(command))
    if start:
        ray_cli = shutil.which("ray")
        if ray_cli is None:
            raise LatkitError("the `ray` command is not installed; pip install 'latkit[ray]'")
        raise SystemExit(subprocess.call([ray_cli, *command[1:]]))


@farm.command()
@click.option("--address", default="auto", show_default=True, help="Ray cluster to inspect.")
@json_option
def status(address: str, as_json: bool) -> None:
    """List the cluster's nodes and the devices each advertises."""
    from latency_kit.measure.farm import cluster_devices, connect

    connect(address)
    rows = cluster_devices()
    if as_json:
        emit_json(rows)
        return
    for row in rows:
        devices = ", ".join(f"{k}={v:g}" for k, v in sorted(row["devices"].items())) or "(no devices)"
        click.echo(f"{row['node']}: {devices}")
