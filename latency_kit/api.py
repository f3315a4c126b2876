"""Typed Python entry points behind the CLI commands: the public facade.

Nothing inside the package imports this module; it composes the layers below
(backends, measure, profiles, spaces) into one call per command.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from latency_kit.backends import Backend, ModelSpec, open_backend
from latency_kit.measure.calibration import DEFAULT_CALIBRATION, PROCESSES, Reopen, calibration_step
from latency_kit.measure.engine import MeasureSettings, measure_prepared
from latency_kit.errors import LatkitError
from latency_kit.paths import profiles_dir
from latency_kit.profiles.names import default_profile_name
from latency_kit.profiles.profile import Profile
from latency_kit.measure.blocks import ProfileJob, Progress, profile_blocks
from latency_kit.spaces import SearchSpace, get_space, takes_resolution
from latency_kit.stats import LatencyStats



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
    the loaded profile, stored under ``name`` (default: :func:`default_profile_name`
    of the device, threads, batch and precision).
    """
    options = {"resolutions": tuple(resolutions)} if takes_resolution(space) else {}
    space_obj = get_space(space, **options)
    name = name or default_profile_name(device, backend_options.get("threads"), batch,
                                        backend_options.get("precision"))
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


@dataclass(frozen=True)
class ArchMeasurement:
    """One whole network measured end to end.

    ``arch`` is the network's string in its space; ``stats`` its latency
    statistics (ms); ``info`` what the backend reports about this network
    (:attr:`latency_kit.backends.base.Prepared.info`); ``fingerprint`` the
    backend's, with the ``batch`` and the NCHW ``input_shape``.
    """

    arch: str
    stats: LatencyStats
    info: dict[str, Any]
    fingerprint: dict[str, Any]

    @property
    def median_ms(self) -> float:
        """The headline number: median milliseconds per inference."""
        return self.stats.median_ms


def measure_arch(device: str, space: SearchSpace, arch: Any, batch: int = 1,
                 settings: MeasureSettings | None = None, resolution: int | None = None,
                 **backend_options: Any) -> ArchMeasurement:
    """Measure one whole network of ``space`` end to end on ``device``.

    ``arch`` is an architecture of the space or its string, parsed with
    ``resolution`` where the space takes one (:func:`parse_arch`; raises
    ``ArchError``/``LatkitError`` before any device is opened).
    """
    if isinstance(arch, str):
        arch = parse_arch(space, arch, resolution)
    spec = ModelSpec.for_arch(space, arch, batch)
    with open_backend(device, batch=batch, **backend_options) as backend:
        prepared = backend.prepare(spec)
        try:
            stats = measure_prepared(backend, prepared, settings or MeasureSettings())
        finally:
            backend.release(prepared)
        fingerprint = {**backend.fingerprint(), "batch": batch, "input_shape": list(spec.input_shape)}
    return ArchMeasurement(space.format(arch), stats, dict(prepared.info), fingerprint)


def parse_arch(space: SearchSpace, text: str, resolution: int | None = None) -> Any:
    """Parse ``text`` in ``space``, passing ``resolution`` where the space takes one."""
    if resolution is not None and takes_resolution(space):
        return space.parse(text, resolution=resolution)
    if resolution is not None:
        raise LatkitError(f"space {space.name} has no resolution option")
    return space.parse(text)
