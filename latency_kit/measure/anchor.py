"""Whether a profile's level is this machine's, and re-anchoring it here.

A CPU profile holds the level of the machine it was measured on. Machines of
one kind differ: the shipped ``amd-epyc-ort-1t`` measures ``ofa-mbv3`` at
14.7-62 ms, another machine of the same kind at 3.05-12 ms (DESIGN.md §4),
and their fingerprints differ only in the kernel build. The block table's
*shape* (which blocks cost more) carries over far better than its level, so
re-anchoring re-measures only the profile's calibration networks on this
machine and refits the predictor on them (:func:`reanchor`): the LUT stays,
the ms become this machine's.

- :func:`host_differences` and :func:`host_note`: the one line that
  ``latkit predict`` and ``latkit nas generate`` print for a profile of a
  backend on this host whose fingerprint is not this host's.
- :func:`profile_backend`: the backend (and fresh-process reopen) that
  measures a profile's networks as its calibration did; ``validate`` and
  ``reanchor`` share it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from latency_kit.backends.base import Backend
from latency_kit.measure.calibration import ROUNDS, SETTINGS, Reopen, measure_networks
from latency_kit.errors import LatkitError
from latency_kit.fingerprint import host_fingerprint
from latency_kit.paths import profiles_dir, shipped_profiles_dir
from latency_kit.profiles.calibration_file import FILE, read_calibration_file, write_calibration
from latency_kit.profiles.profile import Profile, ProfileMeta, find_profile, load_profile

# Devices whose profiles are measured by a runtime on this host's CPU.
HOST_DEVICES = ("cpu", "tflite-cpu")
# Host fields whose change moves a CPU profile's level (the kernel build did, 5.5x).
HOST_FIELDS = ("cpu_model", "machine", "cores_available", "os")
JOURNAL = "reanchor.jsonl"


def anchor_host(profile: Profile) -> dict[str, Any]:
    """The host whose level the profile's ms hold: the last re-anchor's, else the profiling host's."""
    anchor = profile.meta.get("anchor") or {}
    return dict(anchor.get("host") or profile.meta.get("fingerprint") or {})


def host_differences(profile: Profile,
                     here: dict[str, Any] | None = None) -> dict[str, tuple[Any, Any]]:
    """``{field: (profile's value, this host's value)}`` for a host-CPU profile; ``{}`` otherwise.

    Only profiles of :data:`HOST_DEVICES` are compared (a phone's or a GPU's
    profile is not measured on this CPU), and only fields the profile records.
    """
    if profile.device not in HOST_DEVICES:
        return {}
    recorded = anchor_host(profile)
    here = host_fingerprint() if here is None else here
    return {name: (recorded[name], here.get(name)) for name in HOST_FIELDS
            if name in recorded and recorded[name] != here.get(name)}


def host_note(profile: Profile, here: dict[str, Any] | None = None) -> str | None:
    """One line saying that ``profile`` was measured on another host, or ``None``.

    Names the first differing field and the two commands that check and fix
    the level (``validate``, ``profile --reanchor``).
    """
    diff = host_differences(profile, here)
    if not diff:
        return None
    field, (old, new) = next(iter(diff.items()))
    more = f" and {len(diff) - 1} more" if len(diff) > 1 else ""
    return (f"note: profile {profile.name!r} was measured on another host ({field} {old!r}, "
            f"here {new!r}{more}); its ms may be off by a constant factor: "
            f"`latkit validate {profile_ref(profile, '--profile')}` checks, "
            f"`{reanchor_command(profile)}` re-anchors it here")


def profile_ref(profile: Profile, path_flag: str) -> str:
    """``--device NAME`` when the stored name finds this profile, else ``PATH_FLAG DIR``."""
    found = find_profile(profile.name)
    if found is not None and Path(found).resolve() == Path(profile.path).resolve():
        return f"--device {profile.name}"
    return f"{path_flag} {profile.path}"


def reanchor_command(profile: Profile) -> str:
    """The command that re-anchors ``profile``."""
    return f"latkit profile --reanchor {profile_ref(profile, '--out')}"


def profile_backend(profile: Profile, device: str | None = None,
                    processes: int = 3) -> tuple[Backend, Reopen | None]:
    """Open the backend that measures ``profile``'s networks, and its fresh-process reopen.

    The settings the numbers depend on come from the profile's fingerprint
    (:data:`RUN_OPTIONS`: threads, precision, CUDA graphs, a phone's delegate
    and core mask; and the batch), so the networks run as they did when the
    profile was calibrated; a backend ignores the ones it does not take.
    ``processes`` fresh processes measure each network where the backend
    allows it (0: in this process). Raises ``LatkitError`` for a profile
    without calibration networks (before anything is opened) and
    ``UnknownNameError`` for an unknown device.
    """
    from latency_kit.backends import open_backend

    require_calibration(profile)
    fingerprint = profile.meta.get("fingerprint", {})
    name = profile.device or device or "cpu"
    options = {k: fingerprint[k] for k in RUN_OPTIONS if fingerprint.get(k) is not None}
    backend = open_backend(name, batch=fingerprint.get("batch"), **options)
    return backend, Reopen.of(backend, name, options, processes)


# Fingerprint fields that are also backend options: a profile's networks are
# measured again with the values it was measured with.
RUN_OPTIONS = ("threads", "precision", "cuda_graph", "delegate", "core_mask")


def require_calibration(profile: Profile) -> list[dict[str, Any]]:
    """The profile's calibration entries; ``LatkitError`` when it has none (an
    imported table, a LUT-only profile): there is nothing to measure again."""
    entries = profile.calibration()
    if not entries:
        raise LatkitError(f"profile {profile.name!r} has no calibration networks (an imported "
                          "table or a LUT-only profile); measure them with `latkit profile "
                          "--calibrate N` (N > 0)")
    return entries


@dataclass(frozen=True)
class Reanchored:
    """What :func:`reanchor` did.

    ``level`` is the geometric mean of new / old calibration ms (0.2: this
    host runs the networks 5x faster than the profile said); ``path`` is the
    re-anchored profile's directory; ``previous`` the file that keeps the old
    calibration measurements.
    """

    name: str
    path: Path
    networks: int
    level: float
    previous: Path


def writable_copy(profile: Profile) -> Path:
    """The directory to re-anchor: the profile's own, or a user copy of a shipped profile.

    Shipped profiles (``device_profiles``) are never changed; a copy in the
    user's profiles directory shadows them (same name). Raises ``LatkitError``
    when that copy's place is taken by something else.
    """
    path = Path(profile.path).resolve()
    if shipped_profiles_dir().resolve() not in path.parents:
        return path
    target = profiles_dir() / profile.name
    if target.exists():
        raise LatkitError(f"{target} already exists; re-anchor it with --out {target}")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{profile.name}.", dir=target.parent))
    shutil.copytree(path, partial, ignore=shutil.ignore_patterns("nas", "__pycache__"),
                    dirs_exist_ok=True)
    os.replace(partial, target)  # a copy cut short never shadows the shipped profile
    return target


def reanchor(profile: Profile, backend: Backend, reopen: Reopen | None = None,
             rounds: int = ROUNDS,
             progress: Callable[[int, int, str], None] | None = None) -> Reanchored:
    """Re-measure ``profile``'s calibration networks on ``backend`` and refit its level.

    The block table is kept; ``calibration.json`` is replaced by the new
    measurements (the predictor is refit from it on load) and the old one is
    kept as ``calibration.<UTC time>.json``. The host is recorded in
    ``profile.json`` under ``anchor``, so :func:`host_note` stops warning.
    Resumable: measured networks are journaled (``reanchor.jsonl``) until the
    run ends. Raises ``LatkitError`` for a profile without calibration networks.
    """
    entries = require_calibration(profile)
    path = writable_copy(profile)
    old = read_calibration_file(path / FILE)
    batch = int(profile.meta.get("fingerprint", {}).get("batch", 1))
    archs = [profile.parse_arch(e["arch"]) for e in entries]
    stats, how = measure_networks(backend, profile.space, archs, batch, rounds, SETTINGS, reopen,
                                  profile.meta.get("space_options", {}),
                                  journal_path=path / JOURNAL, progress=progress)
    before = np.array([float(e["stats"]["median_ms"]) for e in entries])
    after = np.array([s.median_ms for s in stats])
    level = float(np.exp(np.mean(np.log(after / before))))
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    previous = path / f"calibration.{stamp}.json"
    shutil.copy2(path / FILE, previous)
    # The order keeps a run cut short resumable: the journal still holds the new
    # measurements and calibration.json the old ones until the very last steps.
    meta = ProfileMeta.read(path)
    meta["anchor"] = {"host": host_fingerprint(), "level": level, "networks": len(entries),
                      "previous": previous.name, "at": stamp}
    meta.write(path)
    info = {k: v for k, v in old.items() if k in ("seed",)}
    write_calibration(path / FILE, [{"arch": e["arch"], "stats": s.to_dict()}
                                    for e, s in zip(entries, stats)],
                      **info, **how, settings=SETTINGS.to_dict())
    (path / JOURNAL).unlink(missing_ok=True)
    return Reanchored(profile.name, path, len(entries), level, previous)


def reanchor_stored(name_or_path: str | Path, processes: int = 3,
                    progress: Callable[[int, int, str], None] | None = None) -> Reanchored:
    """:func:`reanchor` the stored profile ``name_or_path`` with its own backend."""
    profile = load_profile(name_or_path)
    backend, reopen = profile_backend(profile, processes=processes)
    try:
        return reanchor(profile, backend, reopen, progress=progress)
    finally:
        backend.close()
