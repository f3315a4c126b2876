"""``latkit measure``: end-to-end latency of one whole network."""

from __future__ import annotations

import click

from latency_kit.cli.common import emit_json, json_option, resolution_option, space_option, space_options_for


@click.command()
@click.option("--device", required=True, help="Device to measure on (see `latkit devices`).")
@space_option
@click.option("--arch", required=True, help="Architecture string of the space.")
@resolution_option()
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--batch", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--repeats", type=click.IntRange(min=3), default=30, show_default=True,
              help="Timed batches.")
@click.option("--cuda-graph/--no-cuda-graph", "cuda_graph", default=None,
              help="GPU devices: replay each inference as a CUDA graph (default on); with it "
                   "on, a network that cannot be captured is an error, not a plain-launch time.")
@json_option
def measure(device: str, space: str, arch: str, resolution: int | None, threads: int, batch: int,
            repeats: int, cuda_graph: bool | None, as_json: bool) -> None:
    """Measure one architecture end to end and print its median latency.

    With --json the record carries the median (``latency_ms``), its spread
    (p10/p90, IQR, CV, count), what the backend reports about this network
    (``info``: on a GPU, ``launch`` is ``cuda-graph`` or ``eager``) and the
    fingerprint of what was measured.
    """
    from latency_kit.api import measure_arch
    from latency_kit.backends import backend_class, refuse_unused
    from latency_kit.measure.engine import MeasureSettings
    from latency_kit.spaces import get_space

    refuse_unused(backend_class(device), device, cuda_graph=cuda_graph)
    space_obj = get_space(space, **space_options_for(space, [resolution] if resolution else None))
    result = measure_arch(device, space_obj, arch, batch=batch, resolution=resolution,
                          settings=MeasureSettings(repeats=repeats, warmup_ms=200, batch_ms=20),
                          threads=threads, cuda_graph=cuda_graph)
    stats = result.stats
    if as_json:
        emit_json({"arch": result.arch, "device": device, "latency_ms": stats.median_ms,
                   **stats.to_dict(), "info": _plain(result.info), "fingerprint": result.fingerprint})
    else:
        launch = f", {result.info['launch']} launches" if "launch" in result.info else ""
        click.echo(f"{stats.median_ms:.3f} ms (p10 {stats.p10_ms:.3f}, p90 {stats.p90_ms:.3f}, "
                   f"CV {stats.cv:.3f}, n={stats.count}{launch}"
                   f"{', FLAGGED noisy' if stats.flagged else ''})")


def _plain(info: dict) -> dict:
    """The JSON-safe part of a backend's per-model ``info``."""
    return {k: v for k, v in info.items() if isinstance(v, (str, int, float, bool, list, dict))}
