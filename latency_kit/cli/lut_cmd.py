"""``latkit lut``: lookup-table import, export and transfer.

Subcommands live in their own modules (listed in ``SUBCOMMANDS``) and attach
themselves to the ``lut`` group.
"""

from __future__ import annotations

from importlib import import_module

import click

SUBCOMMANDS: list[str] = [
    "latency_kit.cli.lut_io_cmd:import_",
    "latency_kit.cli.lut_io_cmd:export",
    "latency_kit.cli.lut_fewshot_cmd:fewshot",
    "latency_kit.cli.lut_fewshot_cmd:reference",
]


@click.group()
def lut() -> None:
    """Import, export and transfer lookup tables."""


for _path in SUBCOMMANDS:
    _module, _attr = _path.split(":")
    lut.add_command(getattr(import_module(_module), _attr))
