"""How busy this machine is, and what a noisy profile means for the user.

Timings on a shared machine are only as good as the machine is quiet: the
shipped ``amd-epyc-ort-1t`` profile has a median spread (coefficient of
variation of an entry's samples) of 0.038; the same command on a loaded
machine ended at 0.229 with 15 entries flagged. These functions turn the
load average and the spread into one line of advice.
"""

from __future__ import annotations

import os
from typing import Sequence

from latency_kit.fingerprint import available_cores as cores

# Median CV above which a profile's table is called noisy (quiet: about 0.04).
NOISY_CV = 0.10
# Load average per available core above which the machine is called busy.
BUSY_LOAD = 0.5


def load_average() -> tuple[float, float, float] | None:
    """The 1, 5 and 15 minute load averages, or ``None`` where the OS has none."""
    try:
        return os.getloadavg()
    except (AttributeError, OSError):
        return None


def describe_load() -> str:
    """``"load average 1.85, 1.60, 1.20 on 2 cores"`` (or that it is unknown)."""
    load = load_average()
    if load is None:
        return f"load average unknown, {cores()} cores"
    return f"load average {load[0]:.2f}, {load[1]:.2f}, {load[2]:.2f} on {cores()} cores"


def busy_note() -> str | None:
    """One line before measuring when the last minute's load exceeds :data:`BUSY_LOAD` per core."""
    load = load_average()
    if load is None or load[0] <= BUSY_LOAD * cores():
        return None
    return (f"note: this machine is busy ({describe_load()}); timings taken now will be "
            "noisy and slow: measure when it is quiet")


def median_cv(cvs: Sequence[float | None]) -> float | None:
    """The median of the known coefficients of variation, or ``None``."""
    known = sorted(c for c in cvs if c is not None)
    return known[len(known) // 2] if known else None


def spread_advice(cv: float | None, flagged: int, entries: int) -> str | None:
    """One line of advice when a table's median CV exceeds :data:`NOISY_CV`, else ``None``.

    Says what the spread means, the load average now, and what to do:
    measure again when the machine is quiet (under a new ``--name``, since a
    rerun resumes and keeps what is measured), pin the run to a core, and
    give calibration more fresh processes.
    """
    if cv is None or cv <= NOISY_CV:
        return None
    return (f"warning: median spread (CV) {cv:.3f} is above {NOISY_CV} (a quiet machine gives "
            f"about 0.04) and {flagged} of {entries} entries were flagged: other work ran "
            f"during the timing ({describe_load()} now). Profile again under a new --name when "
            "the machine is quiet, pinned to one core (`taskset -c 1 latkit profile ...`), "
            "with more fresh processes for calibration (--calibration-processes 5)")
