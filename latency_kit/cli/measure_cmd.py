"""``latkit measure``: end-to-end latency of one whole network."""

from __future__ import annotations

import click

from ._common import emit_json, json_option, resolution_option, space_option, space_options_for


@click.command()
@click.option("--device", required=True, help="Device to measure on (see `latkit devices`).")
@space_option
@click.option("--arch", required=True, help="Architecture string of the space.")
@resolution_option()
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--batch", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--repeats", type=click.IntRange(min=3), default=30, show_default=True,
              help="Timed batches.")
@json_option
def measure(device: str, space: str, arch: str, resolution: int | None, threads: int, batch: int,
            repeats: int, as_json: bool) -> None:
    """Measure one architecture end to end and print its median latency."""
    from ..api import measure_arch, parse_arch
    from ..engine import MeasureSettings
    from ..spaces import get_space

    space_obj = get_space(space, **space_options_for(space, [resolution] if resolution else None))
    parsed = parse_arch(space_obj, arch, resolution)
    stats = measure_arch(device, space_obj, parsed, batch=batch, threads=threads,
                         settings=MeasureSettings(repeats=repeats, warmup_ms=200, batch_ms=20))
    if as_json:
        emit_json({"arch": space_obj.format(parsed), "device": device, "latency_ms": stats.median_ms,
                   **stats.to_dict()})
    else:
        click.echo(f"{stats.median_ms:.3f} ms (p10 {stats.p10_ms:.3f}, p90 {stats.p90_ms:.3f}, "
                   f"CV {stats.cv:.3f}, n={stats.count}{', FLAGGED noisy' if stats.flagged else ''})")
