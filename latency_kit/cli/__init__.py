"""The ``latkit`` command: a thin click layer over the Python API.

Each command group lives in its own module; ``COMMANDS`` lists them. Plugins
(such as the ``nas`` package) add command groups through the
``latkit.commands`` entry point, so ``latency_kit`` never imports them.
"""

from __future__ import annotations

from importlib import import_module

import click

from latency_kit.cli.common import LatkitGroup

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


class CommandsGroup(LatkitGroup):
    """The top-level group: adds ``COMMANDS`` and the plugins' command groups
    the first time it is asked for a command, not at import, so a plugin
    module (``nas.cli``) can import ``latency_kit.cli`` without a cycle."""

    _loaded = False

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        from importlib.metadata import entry_points

        for path in COMMANDS:
            module, attr = path.split(":")
            self.add_command(getattr(import_module(module), attr))
        for entry in entry_points(group="latkit.commands"):
            self.add_command(entry.load(), entry.name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._load()
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        self._load()
        return super().get_command(ctx, name)


@click.group(cls=CommandsGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="latkit")
def main() -> None:
    """latkit: real latency tables, latency predictors and budget-conditioned NAS."""
