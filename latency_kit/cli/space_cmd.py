"""``latkit space``: list spaces and sample architectures."""

from __future__ import annotations

import click

from latency_kit.cli.common import emit_json, json_option, space_option, space_options_for


@click.group()
def space() -> None:
    """Inspect search spaces."""


@space.command("list")
def list_spaces() -> None:
    """List the registered search spaces."""
    from latency_kit.spaces import space_names

    for name in space_names():
        click.echo(name)


@space.command()
@space_option
@click.option("-n", "count", type=click.IntRange(min=1), default=5, show_default=True,
              help="How many architectures.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--resolution", type=int, default=None,
              help="Input resolution for spaces that have one (default: the largest, 224 "
                   "for ofa-mbv3).")
@json_option
def sample(space: str, count: int, seed: int, resolution: int | None, as_json: bool) -> None:
    """Print N random architecture strings (seeded)."""
    import numpy as np

    from latency_kit.spaces import get_space

    space_obj = get_space(space, **space_options_for(space, [resolution] if resolution else None))
    if resolution is None and getattr(space_obj, "resolutions", None):
        space_obj = get_space(space, resolutions=(max(space_obj.resolutions),))
    rng = np.random.default_rng(seed)
    archs = [space_obj.sample(rng) for _ in range(count)]
    if as_json:
        emit_json([{"arch": space_obj.format(a), "json": space_obj.to_json(a)} for a in archs])
    else:
        for arch in archs:
            click.echo(space_obj.format(arch))
