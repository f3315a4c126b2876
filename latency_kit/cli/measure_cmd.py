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
    """Measure one architecture end to end and print its median latency.

    With --json the record carries the median (``latency_ms``), its spread
    (p10/p90, IQR, CV, count) and the fingerprint of what was measured.
    """
    from ..api import arch_spec, parse_arch
    from ..backends import open_backend
    from ..engine import MeasureSettings, measure as measure_spec
    from ..spaces import get_space

    space_obj = get_space(space, **space_options_for(space, [resolution] if resolution else None))
    parsed = parse_arch(space_obj, arch, resolution)
    spec = arch_spec(space_obj, parsed, batch)
    settings = MeasureSettings(repeats=repeats, warmup_ms=200, batch_ms=20)
    with open_backend(device, batch=batch, threads=threads) as backend:
        stats = measure_spec(backend, spec, settings)
        fingerprint = {**backend.fingerprint(), "batch": batch, "input_shape": list(spec.input_shape)}
    if as_json:
        emit_json({"arch": space_obj.format(parsed), "device": device, "latency_ms": stats.median_ms,
                   **stats.to_dict(), "fingerprint": fingerprint})
    else:
        click.echo(f"{stats.median_ms:.3f} ms (p10 {stats.p10_ms:.3f}, p90 {stats.p90_ms:.3f}, "
                   f"CV {stats.cv:.3f}, n={stats.count}{', FLAGGED noisy' if stats.flagged else ''})")
