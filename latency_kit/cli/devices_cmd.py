"""``latkit devices``: usable backends and stored profiles."""

from __future__ import annotations

import click

from ._common import emit_json, json_option


def device_report() -> dict:
    """Backends usable here and stored profiles, as plain data."""
    from ..backends import DEVICES, backend_class
    from ..profile import known_profiles, open_profile_dir

    backends = []
    for name in sorted(DEVICES):
        cls = backend_class(name)
        ok, why = cls.available()
        backends.append({"device": name, "runtime": cls.runtime, "available": ok, "reason": why})
    profiles = []
    for name, path in known_profiles().items():
        try:
            meta = open_profile_dir(path).meta
        except Exception as exc:  # a broken profile must not hide the others
            profiles.append({"name": name, "path": str(path), "error": str(exc)})
            continue
        fp = meta.get("fingerprint", {})
        profiles.append({
            "name": name, "path": str(path), "space": meta.get("space"),
            "device": meta.get("device"), "runtime": fp.get("runtime", meta.get("backend")),
            "hardware": fp.get("cpu_model") or fp.get("model") or fp.get("gpu_name"),
            "status": meta.get("status"),
            "space_options": meta.get("space_options", {}),
        })
    return {"backends": backends, "profiles": profiles}


@click.command()
@json_option
def devices(as_json: bool) -> None:
    """List the backends usable on this machine and the stored device profiles."""
    report = device_report()
    if as_json:
        emit_json(report)
        return
    from rich.table import Table

    from ._common import console

    table = Table(title="backends")
    for col in ("device", "runtime", "available"):
        table.add_column(col)
    for b in report["backends"]:
        table.add_row(b["device"], b["runtime"], "yes" if b["available"] else f"no: {b['reason']}")
    out = console(stderr=False)
    out.print(table)
    table = Table(title="profiles")
    for col in ("name", "space", "runtime", "hardware", "status"):
        table.add_column(col)
    for p in report["profiles"]:
        table.add_row(p["name"], str(p.get("space")), str(p.get("runtime")), str(p.get("hardware")),
                      str(p.get("status", p.get("error"))))
    out.print(table)
