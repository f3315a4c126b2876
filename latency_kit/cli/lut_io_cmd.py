"""``latkit lut import`` / ``latkit lut export``: other tools' latency tables."""

from __future__ import annotations

from pathlib import Path

import click

from latency_kit.cli.common import emit_json, json_option

_IMPORT = ("ofa-yaml", "proxyless-yaml", "csv", "json", "table", "help", "dict")
_EXPORT = ("ofa-yaml", "proxyless-yaml", "csv", "json", "table")


@click.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(_IMPORT), required=True,
              help="Format of FILES: ofa-yaml/proxyless-yaml/csv/json are block LUTs; table "
                   "(CSV arch,value or JSON lines, as --cost table: reads), help (.pt list + "
                   "--index) and dict (pickle/JSON) are per-architecture tables.")
@click.option("--name", required=True, help="Name of the new profile (then use --device NAME).")
@click.option("--space", default=None,
              help="Search space of the table (default: ofa-mbv3 for OFA/CSV, nb201 for "
                   "per-architecture tables, the file's own for json).")
@click.option("--index", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Arch index {arch string: position}, e.g. HELP's str_arch2idx.pt.")
@click.option("--unit", type=click.Choice(["ms", "s", "us"]), default=None,
              help="Unit of the files' latencies, in every format (default ms; Eagle pickles "
                   "are in s). A median that is no latency of a whole network (10 us to 5 min) "
                   "or of a block (2 us to 1 min) is refused, naming the unit that fits.")
@click.option("--key", "key_path", default=None,
              help="Path into a nested dict, e.g. nasbench201/cifar10/pixel3_latency.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Profile directory (default: $LATKIT_HOME/profiles/NAME).")
@click.option("--force", is_flag=True, help="Replace an existing profile of that name.")
@json_option
def import_(files: tuple[Path, ...], fmt: str, name: str, space: str | None, index: Path | None,
            unit: str | None, key_path: str | None, out: Path | None, force: bool,
            as_json: bool) -> None:
    """Import latency tables from other tools as the device profile NAME.

    Example: latkit lut import --format ofa-yaml note10_lut/*.yaml --name note10

    A key found twice in one file is an error naming both lines (positions in
    a pickle); a list joined with --index must match it position for position.
    """
    from latency_kit.formats import import_tables
    from latency_kit.profiles.table import TableProfile

    profile = import_tables(fmt, files, name, space=space, index=index, unit=unit,
                            key_path=key_path, out=out, force=force)
    size = len(profile.entries) if isinstance(profile, TableProfile) else len(profile.lut)
    what = "architectures" if isinstance(profile, TableProfile) else "block entries"
    sources = profile.meta.get("fingerprint", {}).get("sources", [])
    joins = [dict(s["joined"], file=s["name"]) for s in sources if s.get("joined")]
    if as_json:
        emit_json({"name": profile.name, "path": str(profile.path), "space": profile.meta["space"],
                   "kind": profile.meta.get("kind", "lut"), "entries": size,
                   "unit": unit or "ms", "joined": joins,
                   "space_options": profile.meta.get("space_options", {})})
        return
    click.echo(f"imported {size} {what} ({profile.meta['space']}) from {len(files)} file(s) "
               f"as profile {profile.name!r} at {profile.path}")
    for join in joins:
        click.echo(f"{join['file']}: {join['matched']} of {join['positions']} positions matched "
                   f"an architecture of the index ({join['index']} architectures)")


@click.command("export")
@click.option("--device", default=None, help="Stored profile name to export.")
@click.option("--profile", "profile_dir", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="Profile directory to export (instead of --device).")
@click.option("--format", "fmt", type=click.Choice(_EXPORT), required=True,
              help="Output format; ofa-yaml writes <r>_lookup_table.yaml files into the -o folder.")
@click.option("-o", "--out", type=click.Path(path_type=Path), required=True,
              help="Output file (a folder for ofa-yaml).")
@json_option
def export(device: str | None, profile_dir: Path | None, fmt: str, out: Path,
           as_json: bool) -> None:
    """Export a profile's table in another tool's format."""
    from latency_kit.errors import LatkitError
    from latency_kit.formats import export_profile
    from latency_kit.profiles.profile import load_profile

    if (device is None) == (profile_dir is None):
        raise LatkitError("give exactly one of --device NAME or --profile DIR")
    profile = load_profile(device if device is not None else profile_dir)
    written = export_profile(profile, fmt, out)
    if as_json:
        emit_json({"profile": profile.name, "format": fmt, "files": [str(p) for p in written]})
        return
    for path in written:
        click.echo(str(path))
