"""``latkit devices``: usable backends and stored profiles."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from latency_kit.cli.common import emit_json, json_option


def device_report() -> dict:
    """Backends usable here and stored profiles, as plain data.

    Profiles are described from their metadata alone (no table is loaded), so
    an unfinished or damaged profile is listed with its status instead of
    hiding the others.
    """
    from latency_kit.backends import DEVICES, backend_class
    from latency_kit.profiles.profile import known_profiles

    backends = []
    for name in sorted(DEVICES):
        cls = backend_class(name)
        ok, why = cls.available()
        backends.append({"device": name, "runtime": cls.runtime, "available": ok, "reason": why})
    profiles = [_profile_row(name, path) for name, path in known_profiles().items()]
    from latency_kit.backends.android_discovery import attached_phones

    phones, note = attached_phones()
    return {"backends": backends, "phones": [p.to_dict() for p in phones], "phones_note": note,
            "profiles": profiles}


def _profile_row(name: str, path: Path) -> dict[str, Any]:
    from latency_kit.errors import LatkitError
    from latency_kit.profiles.profile import JOURNAL_FILE, ProfileMeta

    try:
        meta = ProfileMeta.read(path, any_version=True)
    except LatkitError as exc:
        return {"name": name, "path": str(path), "status": "unreadable", "error": str(exc)}
    fp = meta.get("fingerprint") if isinstance(meta.get("fingerprint"), dict) else {}
    status = str(meta.get("status", "unknown"))
    return {
        "name": name, "path": str(path), "space": meta.get("space"),
        "device": meta.get("device"), "runtime": fp.get("runtime", meta.get("backend")),
        "hardware": fp.get("gpu_name") or fp.get("model") or fp.get("cpu_model"),
        "status": status, "kind": meta.kind,
        "journaled": _count_lines(path / JOURNAL_FILE),
        "space_options": meta.get("space_options", {}),
    }


def _count_lines(path: Path) -> int:
    """Entries measured so far by an unfinished run (0 when none is pending)."""
    try:
        return sum(1 for _ in open(path, "rb"))
    except OSError:
        return 0


def _status_text(row: dict[str, Any]) -> str:
    if "error" in row:
        return f"{row['status']}: {row['error']}"
    if row["status"] != "complete":
        return f"{row['status']} ({row['journaled']} entries so far; rerun `latkit profile` to resume)"
    return row["status"]


@click.command()
@json_option
def devices(as_json: bool) -> None:
    """List usable backends, attached Android phones and stored device profiles."""
    report = device_report()
    if as_json:
        emit_json(report)
        return
    from rich.markup import escape
    from rich.table import Table

    from latency_kit.cli.common import console

    table = Table(title="backends")
    for col in ("device", "runtime", "available"):
        table.add_column(col)
    for b in report["backends"]:
        table.add_row(b["device"], b["runtime"], "yes" if b["available"] else escape(f"no: {b['reason']}"))
    out = console(stderr=False)
    out.print(table)
    table = Table(title="attached phones")
    for col in ("serial", "model", "SoC", "Android", "ABI", "cores"):
        table.add_column(col)
    for ph in report["phones"]:
        table.add_row(ph["serial"], ph["model"] or ph["state"], ph["soc"], ph["android_version"],
                      ph["abi"], ph["core_layout"])
    out.print(table if report["phones"] else f"attached phones: none ({report['phones_note'] or 'adb sees none'})")
    table = Table(title="profiles")
    for col in ("name", "space", "runtime", "hardware", "status"):
        table.add_column(col)
    for p in report["profiles"]:
        table.add_row(p["name"], str(p.get("space")), str(p.get("runtime")), str(p.get("hardware")),
                      _status_text(p))
    out.print(table)
