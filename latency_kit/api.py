"""Typed Python entry points behind the CLI commands of the core issue."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Sequence

from latency_kit.backends import Backend, ModelSpec, open_backend
from latency_kit.measure.calibration import DEFAULT_CALIBRATION, PROCESSES, Reopen, calibration_step
from latency_kit.measure.engine import MeasureSettings, measure
from latency_kit.errors import LatkitError
from latency_kit.paths import profiles_dir
from latency_kit.profiles.profile import Profile
from latency_kit.measure.blocks import ProfileJob, Progress, profile_blocks
from latency_kit.spaces import SearchSpace, get_space
from latency_kit.stats import LatencyStats


def default_profile_name(device: str, threads: int | None = None, batch: int = 1) -> str:
    """The stored name of a profile built for ``device`` with these settings."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", device).strip("_") or "device"
    if threads and threads != 1:
        name += f"-{threads}t"
    if batch != 1:
        name += f"-b{batch}"
    return name


def build_profile(device: str = "cpu", space: str = "ofa-mbv3",
                  resolutions: Sequence[int] = (224,), out: str | Path | None = None,
                  name: str | None = None, settings: MeasureSettings | None = None,
                  progress: Progress | None = None, backend: Backend | None = None,
                  batch: int = 1, calibrate: int = DEFAULT_CALIBRATION, calibration_seed: int = 0,
                  calibration_progress: Progress | None = None,
                  calibration_processes: int = PROCESSES,
                  **backend_options: Any) -> Profile:
    """Measure every block of ``space`` on ``device`` into a profile directory.

    Then measure ``calibrate`` seeded random whole networks (spread over the
    resolutions) for the predictor; 0 skips that step. Backends that measure
    on this machine measure each of those networks in
    ``calibration_processes`` fresh processes (0: in this one; see
    :mod:`latency_kit.measure.calibration`). Resumable: calling it again with the
    same ``out`` continues an interrupted run, calibration included. Returns
    the loaded profile.
    """
    options = {"resolutions": tuple(resolutions)} if space == "ofa-mbv3" else {}
    space_obj = get_space(space, **options)
    name = name or default_profile_name(device, backend_options.get("threads"), batch)
    out_path = Path(out) if out else profiles_dir() / name
    own = backend is None
    backend = backend or open_backend(device, batch=batch, **backend_options)
    try:
        job = ProfileJob(space_obj, out_path, name, device, options,
                         settings or MeasureSettings(), batch)
        reopen = Reopen.of(backend, device, backend_options, calibration_processes) if own else None
        return profile_blocks(job, backend, progress,
                              after_lut=calibration_step(backend, calibrate, calibration_seed,
                                                         progress=calibration_progress,
                                                         reopen=reopen))
    finally:
        if own:
            backend.close()


def measure_arch(device: str, space: SearchSpace, arch: Any, batch: int = 1,
                 settings: MeasureSettings | None = None, **backend_options: Any) -> LatencyStats:
    """Measure one whole network end to end on ``device``."""
    spec = arch_spec(space, arch, batch)
    with open_backend(device, batch=batch, **backend_options) as backend:
        return measure(backend, spec, settings or MeasureSettings())


def arch_spec(space: SearchSpace, arch: Any, batch: int = 1) -> ModelSpec:
    """The :class:`ModelSpec` of a whole network of ``space``."""
    options: dict[str, Any] = {}
    if hasattr(space, "resolutions"):
        options["resolutions"] = tuple(space.resolutions)
    return ModelSpec(space.name, "arch", space.format(arch), space.input_shape(arch, batch),
                     tuple(sorted(options.items())))


def parse_arch(space: SearchSpace, text: str, resolution: int | None = None) -> Any:
    """Parse ``text`` in ``space``, passing ``resolution`` where the space takes one."""
    if resolution is not None and hasattr(space, "resolutions"):
        return space.parse(text, resolution=resolution)
    if resolution is not None:
        raise LatkitError(f"space {space.name} has no resolution option")
    return space.parse(text)
