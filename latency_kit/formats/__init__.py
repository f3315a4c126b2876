"""Import other tools' latency tables as latkit profiles, and export ours.

``import_tables(fmt, files, name)`` writes a complete profile to
``$LATKIT_HOME/profiles/NAME`` (or ``out``), so the imported device works
everywhere a measured one does (``load_profile(NAME)``, ``latkit predict``,
``latkit nas generate``). ``export_profile(profile, fmt, out)`` writes a
profile in another tool's format.

Formats (``IMPORT_FORMATS`` / ``EXPORT_FORMATS``):

=================  ======  ======  ===================================================
name               import  export  what
=================  ======  ======  ===================================================
``ofa-yaml``       yes     yes     OFA ``<r>_lookup_table.yaml`` files, {count,mean,std}
``proxyless-yaml`` yes     yes     ProxylessNAS LUT, {count,mean,var}
``csv``            yes     yes     block LUT as CSV (per-arch profiles: ``arch,value``)
``json``           yes     yes     latkit ``lut.json`` (per-arch profiles: ``table.json``)
``table``          yes     yes     per-architecture CSV ``arch,value`` (ms)
``help``           yes     no      HELP ``latency/<device>.pt`` + ``str_arch2idx.pt``
``dict``           yes     no      pickled/JSON dict arch -> latency (Eagle, HW-NAS-Bench)
=================  ======  ======  ===================================================

What the import keeps: block keys, counts and means exactly; the files'
spread (``std``/``var``) as ``cv``. Each file is also stored verbatim in the
profile's ``source.json``, so exporting an unchanged import to its own format
reproduces the files exactly (files given in another ``unit`` are exported
from the converted values). The fingerprint records each file's path, format,
SHA-256, unit and entry count. The rules every importer applies (duplicates,
units, short messages) are in :mod:`latency_kit.formats.checks`.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any, Sequence

from latency_kit.errors import CorruptFileError, LatkitError, UnknownNameError
from latency_kit.jsonio import read_json, write_json
from latency_kit.lut import LatencyTable
from latency_kit.paths import profiles_dir
from latency_kit.profiles.profile import LUT_FILE, META_FILE, Profile, ProfileMeta, load_profile
from latency_kit.formats import arch_tables, block_tables, yaml_lut
from latency_kit.formats._common import source_record
from latency_kit.formats.checks import check_plausible, unit_scale

SOURCE_FILE = "source.json"
SOURCE_SCHEMA = "latkit.source"
BLOCK_FORMATS = ("ofa-yaml", "proxyless-yaml", "csv", "json")
ARCH_FORMATS = ("table", "help", "dict")
IMPORT_FORMATS = BLOCK_FORMATS + ARCH_FORMATS
EXPORT_FORMATS = ("ofa-yaml", "proxyless-yaml", "csv", "json", "table")
_FLAVOURS = {"ofa-yaml": yaml_lut.OFA, "proxyless-yaml": yaml_lut.PROXYLESS}
DEFAULT_SPACES = {"ofa-yaml": "ofa-mbv3", "proxyless-yaml": "proxylessnas", "csv": "ofa-mbv3",
                  "table": "nb201", "help": "nb201", "dict": "nb201"}


def import_tables(fmt: str, files: Sequence[str | Path], name: str, space: str | None = None,
                  index: str | Path | None = None, unit: str | None = None,
                  key_path: str | None = None, out: str | Path | None = None,
                  force: bool = False) -> Profile:
    """Import ``files`` of format ``fmt`` as the profile ``name``; return it loaded.

    ``unit`` (``ms``, ``s`` or ``us``; default ms) is the unit of the files'
    latencies, in every format (a latkit ``lut.json`` is always ms). Each file
    is checked by :mod:`latency_kit.formats.checks`: a key found twice in it is
    an error naming both places, and a median that is no latency of a whole
    network (per-architecture formats) or of a block (block formats) is an
    error naming the unit that fits. Keys repeated *across* files merge (OFA's
    per-resolution files pool their shared head blocks; per-architecture files
    are read in order, later ones winning). The fingerprint's ``sources`` give
    each file's path, format, SHA-256, unit, entry count and, for a list
    joined with ``index``, ``joined``: ``{"positions", "index", "matched"}``.
    Raises :class:`LatkitError` (:class:`CorruptFileError` for a bad file).
    """
    if fmt not in IMPORT_FORMATS:
        raise UnknownNameError("import format", fmt, IMPORT_FORMATS)
    if not files:
        raise LatkitError("give at least one file to import")
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
        raise LatkitError(f"profile name {name!r}: use letters, digits, '.', '_' and '-'")
    unit_scale(unit)  # an unknown unit fails before anything is read
    if index is not None and fmt not in ("help", "dict"):
        raise LatkitError(f"--index is for --format help or dict; a {fmt} file names its keys itself")
    if key_path is not None and fmt != "dict":
        raise LatkitError("--key is for --format dict (a nested pickle or JSON)")
    paths = [Path(f) for f in files]
    dest = Path(out) if out else profiles_dir() / name
    if (dest / META_FILE).exists():
        if not force:
            raise LatkitError(f"profile {dest} already exists; choose another --name or pass --force")
        shutil.rmtree(dest)
    elif dest.exists() and any(dest.iterdir()):
        raise LatkitError(f"{dest} exists and is not a latkit profile; choose another --out")
    if fmt in ARCH_FORMATS:
        return _import_arch(fmt, paths, name, space or DEFAULT_SPACES[fmt], index, unit or "ms",
                            key_path, dest)
    return _import_blocks(fmt, paths, name, space, unit, dest)


def _import_blocks(fmt: str, paths: list[Path], name: str, space: str | None, unit: str | None,
                   dest: Path) -> Profile:
    source: dict[str, Any] | None = None
    if fmt in _FLAVOURS:
        flavour = _FLAVOURS[fmt]
        raws = [yaml_lut.read_file(p, flavour, unit or "ms") for p in paths]
        space = space or DEFAULT_SPACES[fmt]
        table = yaml_lut.merge(raws, flavour, space, name)
        records = [raw.record for raw in raws]
        source = {"schema": SOURCE_SCHEMA, "version": 1, "format": fmt, "unit": unit or "ms",
                  "files": [{"name": r.name, "resolution": r.resolution, "entries": r.entries}
                            for r in raws],
                  "imported": {k: s.median_ms for k, s in table.entries.items()}}
    else:
        table = LatencyTable(space=space or DEFAULT_SPACES.get(fmt, "ofa-mbv3"), name=name)
        records = []
        for path in paths:
            part = (block_tables.read_lut_json(path, unit) if fmt == "json"
                    else block_tables.read_csv(path, table.space, name, unit or "ms"))
            if fmt == "json" and space is None:
                table.space = part.space
            table.merge(LatencyTable(table.space, name, part.entries), overwrite=True)
            records.append(source_record(path, fmt, unit=unit or "ms", entries=len(part)))
    table.name = name
    options = _space_options(table)
    fingerprint = {"device": name, "imported": True, "format": fmt, "sources": records}
    if "resolutions" in options:
        fingerprint["resolutions"] = list(options["resolutions"])
    table.fingerprint = fingerprint
    dest.mkdir(parents=True, exist_ok=True)
    table.save(dest / LUT_FILE)
    if source is not None:
        write_json(dest / SOURCE_FILE, source)
    ProfileMeta.new(name, table.space, name, "imported", kind="lut", space_options=options,
                    fingerprint=fingerprint, status="complete").write(dest)
    return load_profile(dest)


def _space_options(table: LatencyTable) -> dict[str, Any]:
    """``ofa-mbv3`` profiles record the resolutions their stem keys cover."""
    if table.space != "ofa-mbv3":
        return {}
    from latency_kit.spaces.ofa_mbv3 import RESOLUTIONS

    found = sorted({int(m.group(1)) for k in table.entries if (m := yaml_lut._STEM.match(k))})
    bad = [r for r in found if r not in RESOLUTIONS]
    if not found or bad:
        raise CorruptFileError(
            f"the imported ofa-mbv3 table covers resolutions {found or 'none'}; ofa-mbv3 needs "
            f"stem keys 'Conv-input:RxRx3-...' with R in {list(RESOLUTIONS)}")
    return {"resolutions": found}


def _import_arch(fmt: str, paths: list[Path], name: str, space: str, index: str | Path | None,
                 unit: str, key_path: str | None, dest: Path) -> Profile:
    from latency_kit.profiles.table import canonicalizer, write_table_profile

    idx = arch_tables.read_index(index) if index else None
    index_name = Path(index).name if index else "the index"
    scale = unit_scale(unit)
    canon = canonicalizer(space)
    entries: dict[str, float] = {}
    records = []
    for path in paths:
        if fmt == "table":
            part = arch_tables.read_table(path)
        elif fmt == "help":
            part = arch_tables.read_help(path, idx, index_name)
        else:
            part = arch_tables.read_dict(path, idx, key_path, index_name)
        values = arch_tables.collect(
            part.rows, canon, str(path),
            lambda value, where: arch_tables.latency_value(value, where) * scale,
            what=f"{space} architecture")
        check_plausible(values.values(), "network", str(path), unit)
        entries.update(values)  # across files, later files win
        extra = {"joined": part.joined} if part.joined else {}
        records.append(source_record(path, fmt, unit=unit, entries=len(values), **extra))
    if index:
        records.append(source_record(index, "arch-index", entries=len(idx or {})))
    fingerprint = {"device": name, "imported": True, "format": fmt, "sources": records}
    return write_table_profile(dest, name, space, entries, fingerprint)


# -- export ---------------------------------------------------------------------
def export_profile(profile: Profile, fmt: str, out: str | Path) -> list[Path]:
    """Write ``profile`` as ``fmt`` to ``out``; return the files written.

    ``ofa-yaml`` writes one ``<r>_lookup_table.yaml`` per resolution into the
    directory ``out``; the other formats write the single file ``out``.
    """
    from latency_kit.profiles.table import TABLE_FILE, TableProfile

    if fmt not in EXPORT_FORMATS:
        raise UnknownNameError("export format", fmt, EXPORT_FORMATS)
    out = Path(out)
    if isinstance(profile, TableProfile):
        if fmt in ("csv", "table"):
            arch_tables.write_table_csv(out, profile.entries)
        elif fmt == "json":
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(profile.path / TABLE_FILE, out)
        else:
            raise LatkitError(f"{profile.name} is a per-architecture table; export it as csv, "
                              "table or json (block formats need a block LUT)")
        return [out]
    if fmt == "table":
        raise LatkitError(f"{profile.name} is a block LUT; --format table is for per-architecture "
                          "profiles (use csv, json, ofa-yaml or proxyless-yaml)")
    if fmt == "csv":
        block_tables.write_csv(out, profile.lut)
        return [out]
    if fmt == "json":
        profile.lut.save(out)
        return [out]
    return _export_yaml(profile, _FLAVOURS[fmt], out)


def _export_yaml(profile: Profile, flavour: yaml_lut.YamlFlavour, out: Path) -> list[Path]:
    source = _read_source(profile)
    same_format = (source is not None and source.get("format") == flavour.name
                   and source.get("unit", "ms") == "ms")  # the files are kept as given
    groups = (_source_groups(source) if same_format and source else _groups(profile, flavour))
    imported = source.get("imported", {}) if source else {}
    written = []
    for filename, keys, raw in groups:
        entries: dict[str, Any] = {}
        for key in keys:
            stats = profile.lut.entries.get(key)
            if stats is None:
                continue
            verbatim = same_format and raw.get(key) is not None and imported.get(key) == stats.median_ms
            entries[key] = dict(raw[key]) if verbatim else yaml_lut.entry_for(stats, flavour)
        if not entries:
            continue
        path = out / filename if flavour is yaml_lut.OFA else out
        yaml_lut.write_file(path, entries)
        written.append(path)
    if not written:
        raise LatkitError(f"profile {profile.name} has no entries to export as {flavour.name}")
    return written


def _read_source(profile: Profile) -> dict[str, Any] | None:
    path = profile.path / SOURCE_FILE
    if not path.exists():
        return None
    data = read_json(path, "import source")
    if not isinstance(data, dict) or data.get("schema") != SOURCE_SCHEMA:
        raise CorruptFileError(f"{path} is not a latkit import source file")
    return data


def _source_groups(source: dict[str, Any]) -> list[tuple[str, list[str], dict[str, Any]]]:
    return [(f["name"], list(f["entries"]), f["entries"]) for f in source["files"]]


def _groups(profile: Profile, flavour: yaml_lut.YamlFlavour) -> list[tuple[str, list[str], dict]]:
    """Keys per output file: per resolution for OFA (``ofa-mbv3``), else one file."""
    keys = sorted(profile.lut.entries)
    if flavour is not yaml_lut.OFA:
        return [("", keys, {})]
    if profile.meta.get("space") != "ofa-mbv3":
        raise LatkitError(f"ofa-yaml export needs an ofa-mbv3 profile; {profile.name} is "
                          f"{profile.meta.get('space')} (use csv, json or proxyless-yaml)")
    from latency_kit.spaces.ofa_mbv3 import OFAMobileNetV3

    groups = []
    for res in profile.meta.get("space_options", {}).get("resolutions", [224]):
        wanted = {b.key for b in OFAMobileNetV3(resolutions=(res,)).all_blocks()}
        groups.append((f"{res}_lookup_table.yaml", [k for k in keys if k in wanted], {}))
    return groups


__all__ = ["IMPORT_FORMATS", "EXPORT_FORMATS", "import_tables", "export_profile"]
