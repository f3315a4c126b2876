"""The ``latkit`` command: a thin click layer over the Python API.

Each command group lives in its own module; ``COMMANDS`` lists them. Plugins
(such as the ``nas`` package) add command groups through the
``latkit.commands`` entry point, so ``latency_kit`` never imports them.
"""

from __future__ import annotations

from importlib import import_module

import click

from ._common import LatkitGroup

COMMANDS: list[str] = [
    "latency_kit.cli.profile_cmd:profile",
    "latency_kit.cli.devices_cmd:devices",
    "latency_kit.cli.space_cmd:space",
    "latency_kit.cli.export_cmd:export",
    "latency_kit.cli.measure_cmd:measure",
    "latency_kit.cli.lut_cmd:lut",
    "latency_kit.cli.farm_cmd:farm",
    "latency_kit.cli.predict_cmd:predict",
    "latency_kit.cli.validate_cmd:validate",
]


@click.group(cls=LatkitGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="latkit")
def main() -> None:
    """latkit: real latency tables, latency predictors and budget-conditioned NAS."""


def _register() -> None:
    from importlib.metadata import entry_points

    for path in COMMANDS:
        module, attr = path.split(":")
        main.add_command(getattr(import_module(module), attr))
    for entry in entry_points(group="latkit.commands"):
        main.add_command(entry.load(), entry.name)


_register()
