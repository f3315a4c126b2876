"""The names profiles are stored under."""

from __future__ import annotations

import re

FP32 = "fp32"


def default_profile_name(device: str, threads: int | None = None, batch: int = 1,
                         precision: str | None = None) -> str:
    """The stored name of a profile built for ``device`` with these settings.

    ``device`` with anything but letters, digits, ``.``, ``_`` and ``-``
    replaced, then ``-{threads}t`` beyond one thread, ``-b{batch}`` beyond
    batch 1 and ``-{precision}`` for a precision other than fp32
    (``gpu-b8-fp16``).
    """
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", device).strip("_") or "device"
    if threads and threads != 1:
        name += f"-{threads}t"
    if batch != 1:
        name += f"-b{batch}"
    if precision and precision != FP32:
        name += f"-{precision}"
    return name
