"""Build a device profile: measure every block of a space, resumably.

Progress is journaled entry by entry (``journal.jsonl``), so a run that is
interrupted (Ctrl-C, kill, an unplugged phone) continues where it stopped when
rerun with the same output directory; finished tables are written atomically.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

from latency_kit import journal
from latency_kit.backends.base import Backend, ModelSpec
from latency_kit.measure.engine import MeasureSettings, measure
from latency_kit.errors import CorruptFileError, LatkitError
from latency_kit.lut import LatencyTable
from latency_kit.profiles.calibration_file import FILE as CALIBRATION_FILE
from latency_kit.profiles.profile import (JOURNAL_FILE, LUT_FILE, META_FILE, NotAProfileError, Profile,
                                          ProfileMeta)
from latency_kit.spaces import SearchSpace
from latency_kit.stats import LatencyStats

# Fingerprint fields that must match for a resumed run to add to a profile.
IDENTITY_FIELDS = ("device", "runtime", "runtime_version", "opset", "threads", "precision",
                   "batch", "cpu_model", "model", "gpu_name", "delegate", "cuda_graph")


class Progress(Protocol):
    def __call__(self, done: int, total: int, key: str) -> None: ...


@dataclass
class ProfileJob:
    """What to profile and where to write it."""

    space: SearchSpace
    out: Path
    name: str
    device: str
    space_options: dict[str, Any] = field(default_factory=dict)
    settings: MeasureSettings = field(default_factory=MeasureSettings)
    batch: int = 1

    def spec(self, key: str, input_shape: tuple[int, ...]) -> ModelSpec:
        shape = (self.batch, *input_shape[1:])
        return ModelSpec(self.space.name, "block", key, shape,
                         tuple(sorted(self.space_options.items())))


def _check_identity(old: dict[str, Any], new: dict[str, Any], out: Path) -> None:
    for name in IDENTITY_FIELDS:
        if name in old and name in new and old[name] != new[name]:
            raise LatkitError(
                f"{out} holds a profile measured with {name}={old[name]!r}, not {new[name]!r}; "
                "choose another --out or --name"
            )


def open_job(job: ProfileJob, backend: Backend) -> tuple[ProfileMeta, LatencyTable]:
    """Create or reopen the profile directory; return its metadata and table so far."""
    job.out.mkdir(parents=True, exist_ok=True)
    fingerprint = {**backend.fingerprint(), "batch": job.batch}
    if (job.out / META_FILE).exists():
        try:
            meta = ProfileMeta.read(job.out, any_version=True)
        except NotAProfileError as exc:
            raise CorruptFileError(f"{exc}; choose another --out or delete it") from None
        if meta.get("space") != job.space.name:
            raise LatkitError(
                f"{job.out} holds a {meta.get('space')} profile, not {job.space.name}; "
                "choose another --out or --name")
        _check_identity(meta.get("fingerprint", {}), fingerprint, job.out)
        old_res = meta.get("space_options", {}).get("resolutions")
        new_res = job.space_options.get("resolutions")
        if old_res and new_res:
            meta["space_options"]["resolutions"] = sorted(set(old_res) | set(new_res))
        meta["status"] = "incomplete"
    else:
        meta = ProfileMeta.new(job.name, job.space.name, job.device, backend.runtime,
                               space_options=job.space_options, fingerprint=fingerprint,
                               settings=job.settings.to_dict())
    meta.setdefault("fingerprint", fingerprint)
    resolutions = meta.get("space_options", {}).get("resolutions")
    if resolutions:  # the input size the numbers depend on: batch x 3 x r x r
        meta["fingerprint"]["resolutions"] = sorted(resolutions)
    meta.write(job.out)
    lut_path = job.out / LUT_FILE
    table = LatencyTable.load(lut_path) if lut_path.exists() else LatencyTable(
        space=job.space.name, name=job.name, settings=job.settings.to_dict())
    table.fingerprint = meta["fingerprint"]
    for key, record in journal.read_journal(job.out / JOURNAL_FILE).items():
        try:
            table.add(key, LatencyStats.from_dict(record["stats"]))
        except (KeyError, TypeError, ValueError):
            continue  # a damaged record: that block is simply measured again
    return meta, table


def profile_blocks(job: ProfileJob, backend: Backend,
                   progress: Progress | None = None,
                   after_lut: Callable[[Profile], None] | None = None) -> Profile:
    """Measure every block of ``job.space`` not yet in the profile at ``job.out``.

    ``after_lut`` runs once the table is complete (the calibration step hooks
    in here) and may add files to the profile before it is marked complete.
    """
    started = time.perf_counter()
    meta, table = open_job(job, backend)
    blocks = job.space.all_blocks()
    todo = [b for b in blocks if b.key not in table]
    done = len(blocks) - len(todo)
    journal_path = job.out / JOURNAL_FILE
    if progress:
        progress(done, len(blocks), "")
    for block in todo:
        stats = measure(backend, job.spec(block.key, block.input_shape), job.settings)
        journal.append(journal_path, {"key": block.key, "stats": stats.to_dict()})
        table.add(block.key, stats)
        done += 1
        if progress:
            progress(done, len(blocks), block.key)
    return finish_profile(job.out, meta, table, started, after_lut)


def finish_profile(out: Path, meta: ProfileMeta, table: LatencyTable, started: float,
                   after_lut: Callable[[Profile], None] | None = None) -> Profile:
    """Write the finished table, drop the journal, run ``after_lut``, mark complete.

    The order matters for resuming: the table is saved before the journal is
    removed, and the profile is marked complete only after ``after_lut``
    (calibration) has finished. ``started`` is this run's ``perf_counter``;
    this run's time is added to ``build_seconds`` only if it changed the
    table or the calibration networks, so reopening a finished profile (to
    use it, or to check it is complete) does not make its build look slower.
    """
    meta["fingerprint"] = {**meta.get("fingerprint", {}), **run_summary(table)}
    before = _measured(out)
    table.save(out / LUT_FILE)
    (out / JOURNAL_FILE).unlink(missing_ok=True)
    if after_lut:
        after_lut(Profile(out, meta, table))
    meta["status"] = "complete"
    if _measured(out) != before or "build_seconds" not in meta:
        meta["build_seconds"] = round(meta.get("build_seconds", 0.0) + time.perf_counter() - started,
                                      2)
    meta.write(out)
    return Profile.load(out)


# What ran (``LatencyStats.run``) that must be the same for every entry of one
# table: a table of CUDA-graph replays and plain launches, or of GPU-delegate
# and CPU times, holds two devices' numbers.
UNIFORM_RUN_FIELDS = ("launch", "delegate", "compute_precision")


def run_summary(table: LatencyTable) -> dict[str, Any]:
    """Fingerprint fields from what the entries say ran; ``LatkitError`` if they disagree.

    Each of :data:`UNIFORM_RUN_FIELDS` that entries record must have one
    value, which joins the fingerprint; entries a delegate took only in part
    are listed under ``partial_delegation`` (their keys), so a profile says
    where its "GPU" numbers include CPU work.
    """
    seen: dict[str, dict[Any, str]] = {}
    partial: list[str] = []
    for key, stats in sorted(table.entries.items()):
        run = stats.run or {}
        for name in UNIFORM_RUN_FIELDS:
            if name in run:
                seen.setdefault(name, {}).setdefault(run[name], key)
        if run.get("delegation") == "partial":
            partial.append(key)
    for name, values in seen.items():
        if len(values) > 1:
            (a, key_a), (b, key_b) = list(values.items())[:2]
            raise LatkitError(f"entries of one table ran with {name} {a!r} ({key_a[:50]}) and "
                              f"{b!r} ({key_b[:50]}); measure the profile again under one setting "
                              "(another --name)")
    summary: dict[str, Any] = {name: next(iter(values)) for name, values in seen.items()}
    if partial:
        summary["partial_delegation"] = partial
    return summary


def _measured(out: Path) -> tuple[bytes, ...]:
    """What a build adds to a profile: its table and calibration files, as stored."""
    return tuple((out / name).read_bytes() if (out / name).exists() else b""
                 for name in (LUT_FILE, CALIBRATION_FILE))
