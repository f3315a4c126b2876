"""``latkit export``: write a whole network to a model file."""

from __future__ import annotations

from pathlib import Path

import click

from latency_kit.cli.common import resolution_option, space_option, space_options_for

FORMATS = ("onnx", "tflite")


@click.command()
@space_option
@click.option("--arch", required=True, help="Architecture string of the space.")
@resolution_option()
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="onnx", show_default=True)
@click.option("--batch", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
def export(space: str, arch: str, resolution: int | None, fmt: str, batch: int, output: Path) -> None:
    """Export one architecture as a model file."""
    from latency_kit.api import parse_arch
    from latency_kit.convert.onnx import export_onnx
    from latency_kit.spaces import get_space

    space_obj = get_space(space, **space_options_for(space, [resolution] if resolution else None))
    parsed = parse_arch(space_obj, arch, resolution)
    if fmt == "tflite":  # litert-torch, channel-last IO (the `mobile` extra)
        from latency_kit.convert.tflite import convert_module

        convert_module(space_obj.build(parsed), space_obj.input_shape(parsed, batch), output)
    else:
        export_onnx(space_obj.build(parsed), space_obj.input_shape(parsed, batch), output)
    click.echo(str(output))
