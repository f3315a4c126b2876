"""``latkit lut fewshot`` and ``latkit lut reference``: few-shot device transfer."""

from __future__ import annotations

from pathlib import Path

import click

from latency_kit.cli.common import emit_json, json_option

from_option = click.option(
    "--from", "sources", multiple=True, metavar="PROFILE",
    help="Source device profile (name or directory) of the same space. Repeatable.")


@click.command("reference")
@click.option("--space", required=True, help="Search space name (see `latkit space list`).")
@click.option("-n", "count", type=click.IntRange(min=1), default=10, show_default=True,
              help="How many reference architectures.")
@from_option
@json_option
def reference(space: str, count: int, sources: tuple[str, ...], as_json: bool) -> None:
    """List the N reference architectures to measure on a new device.

    With --from, they are chosen to be diverse in the source devices'
    latencies; without, diverse in the architecture decisions alone. Measure
    them and pass the CSV (arch,value in ms) to `latkit lut fewshot`.
    """
    from latency_kit.profiles.fewshot import load_sources, reference_archs
    from latency_kit.spaces import get_space

    profiles = load_sources(sources, space) if sources else []
    space_obj = profiles[0].space if profiles else get_space(space)
    archs = reference_archs(space_obj, profiles, count)
    if as_json:
        emit_json([{"arch": space_obj.format(a)} for a in archs])
        return
    for arch in archs:
        click.echo(space_obj.format(arch))


@click.command("fewshot")
@click.option("--space", required=True, help="Search space name (see `latkit space list`).")
@from_option
@click.option("--measurements", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              required=True, help="CSV with columns arch,value (ms on the new device).")
@click.option("--name", required=True, help="Name of the new profile.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Profile directory (default: $LATKIT_HOME/profiles/NAME).")
@json_option
def fewshot(space: str, sources: tuple[str, ...], measurements: Path, name: str, out: Path | None,
            as_json: bool) -> None:
    """Build a profile for a device known only by a few whole-network measurements."""
    from latency_kit.formats.arch_tables import collect, read_table
    from latency_kit.profiles.fewshot import build_fewshot_profile, load_sources
    from latency_kit.spaces import get_space

    profiles = load_sources(sources, space)
    space_obj = get_space(space)
    table = collect(read_table(measurements).rows, space_obj.parse_any, str(measurements),
                    what=f"{space} architecture")
    result = build_fewshot_profile(space, profiles, list(table.items()), name, out=out)
    summary = {"name": result.name, "path": str(result.path), "space": space,
               "shots": len(table), "sources": result.source_names, **result.data["fit"]}
    if as_json:
        emit_json(summary)
        return
    click.echo(f"few-shot profile {result.name} at {result.path}: {len(table)} measurements, "
               f"{len(profiles)} sources, leave-one-out error {summary['loo_rmse_log']:.1%} (log)")


def profile_fewshot(device: str, space: str | None, shots: int | None, sources: tuple[str, ...],
                    name: str | None, out: Path | None, settings=None, **backend_options) -> None:
    """The ``latkit profile --few-shot N --from ...`` path (called by ``profile``)."""
    from latency_kit.errors import LatkitError
    from latency_kit.measure.fewshot import measure_fewshot_profile
    from latency_kit.profiles.fewshot import load_sources
    from latency_kit.cli.common import console, progress_bar

    if not shots or not sources:
        raise LatkitError("--few-shot N needs source profiles: add --from PROFILE (repeatable)")
    profiles = load_sources(sources, space)
    with progress_bar(f"measuring {shots} reference networks on {device}", total=3) as update:
        result = measure_fewshot_profile(device, profiles, shots, name=name, out=out,
                                         settings=settings, on_round=lambda r: update(r + 1),
                                         **backend_options)
    console().print(f"few-shot profile [bold]{result.name}[/] at {result.path}: {shots} networks "
                    f"measured, {len(profiles)} sources, leave-one-out error "
                    f"{result.data['fit']['loo_rmse_log']:.1%} (log)")
