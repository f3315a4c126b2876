"""Whole-network measurements spread over several fresh processes.

The level of a process's timings is not the level of the next one: on the
shared 2-core CPU the same networks measured 0.943-0.966 of their LUT sum in
three processes, and on an H100 the profiling process sat 1.7% above the LUT
sum while three later processes sat 4.2-5.3% above it
(``benchmarks/results_predictor.md``, ``benchmarks/results_gpu.md``). A
predictor calibrated in the profiling process alone inherits that process's
level; calibrating on the median over several processes averages it out.

:func:`measure_in_processes` runs ``python -m latency_kit.measure.processes`` once
per process. Each child opens the backend itself, measures every network
(``rounds`` interleaved rounds) and writes its statistics; the parent
journals each finished process, so an interrupted run resumes, and combines
them: a network's value is the median of its per-process medians, after
each process is brought to the processes' common level. Only
backends that measure on this machine take part (``Backend.fresh_processes``);
phones and boards already start a process per run on the device.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from latency_kit import journal
from latency_kit.measure.engine import MeasureSettings
from latency_kit.errors import DeviceError
from latency_kit.stats import LatencyStats

Progress = Callable[[int, int, str], None]
CHUNK = 10


def levels(per_process: np.ndarray) -> np.ndarray:
    """Each row's level: the geometric mean of its values."""
    return np.exp(np.log(np.asarray(per_process, dtype=float)).mean(axis=1))


def level_normalised(per_process: np.ndarray) -> np.ndarray:
    """Each process's values (a row) rescaled to the processes' common level.

    A process's level is the geometric mean of what it measured. It moves
    with the machine: on the shared 2-core CPU six fresh processes measured
    30 networks about 6% slower than six processes had two hours before, and
    levels spread 3% within each group of six. A per-network median over
    processes at different levels picks values from different levels. Each
    row is divided by its level and multiplied by the mean level, which keeps
    every process's ranking and the overall level.
    """
    level = levels(per_process)
    return np.asarray(per_process, dtype=float) / level[:, None] * levels(level[None])[0]


def combine(per_process: Sequence[Sequence[LatencyStats]]) -> list[LatencyStats]:
    """Per network, the median over processes of its level-normalised process medians.

    ``per_process[p][i]`` is process ``p``'s statistics of network ``i``. The
    spread fields describe the normalised per-process medians (``count`` is
    the number of processes), so a process that ranks differently shows up
    as spread.
    """
    medians = level_normalised([[s.median_ms for s in row] for row in per_process])
    return [LatencyStats.from_samples(list(medians[:, i]),
                                      max(row[i].iterations for row in per_process))
            for i in range(medians.shape[1])]


def _run_child(request: dict[str, Any], progress: Progress | None, offset: int,
               total: int) -> dict[str, dict[str, Any]]:
    """One child process; its result file's ``{arch: stats}``."""
    with tempfile.TemporaryDirectory(prefix="latkit-proc-") as tmp:
        req, out, log = (Path(tmp) / name for name in ("request.json", "result.json", "stderr"))
        req.write_text(json.dumps(request))
        cmd = [sys.executable, "-m", "latency_kit.measure.processes", str(req), str(out)]
        # stderr goes to a file: a pipe nobody reads while stdout is read could fill and block
        with open(log, "w") as err_file, subprocess.Popen(
                cmd, stdout=subprocess.PIPE, stderr=err_file, text=True,
                env={**os.environ, "PYTHONUNBUFFERED": "1"}) as child:
            assert child.stdout is not None
            for line in child.stdout:  # one line per measured network
                done, _, arch = line.strip().partition(" ")
                if progress and done.isdigit():
                    progress(offset + int(done), total, arch)
        err = log.read_text(errors="replace")
        if child.returncode != 0 or not out.exists():
            last = next((ln for ln in reversed(err.strip().splitlines()) if ln.strip()),
                        f"exit status {child.returncode}")
            raise DeviceError(f"measuring in a fresh process failed: {last.strip()}")
        return json.loads(out.read_text())


def measure_in_processes(device: str, options: dict[str, Any], space: str,
                         space_options: dict[str, Any], archs: Sequence[str], processes: int,
                         rounds: int = 1, batch: int = 1,
                         settings: MeasureSettings = MeasureSettings(),
                         journal_path: Path | None = None,
                         progress: Progress | None = None) -> list[LatencyStats]:
    """Measure ``archs`` (architecture strings) in ``processes`` fresh processes.

    ``device`` and ``options`` open the backend in each child exactly as
    :func:`latency_kit.backends.open_backend` does. With ``journal_path``,
    finished processes are journaled and not run again, unless they measured
    with other rounds, settings, batch or backend options.
    """
    if processes < 1:
        raise ValueError("processes must be >= 1")
    archs = list(archs)
    request = {"device": device, "options": options, "space": space,
               "space_options": space_options, "archs": archs, "rounds": rounds,
               "batch": batch, "settings": settings.to_dict()}
    # A journaled process counts only if it measured these networks the same way.
    how = json.loads(json.dumps({k: v for k, v in request.items() if k != "archs"}))
    done: dict[str, dict[str, Any]] = {}
    if journal_path:
        for key, record in journal.read_journal(journal_path, "process").items():
            if record.get("how") == how and set(archs) <= set(record.get("stats", {})):
                done[key] = record["stats"]
    total = processes * len(archs)
    for p in range(processes):
        if str(p) in done:
            continue
        if progress:  # the stage shows at once, before the child has prepared its networks
            progress(p * len(archs), total, f"process {p + 1}/{processes} starting")
        result = _run_child(request, progress, p * len(archs), total)
        done[str(p)] = result
        if journal_path:
            journal.append(journal_path, {"process": p, "how": how, "stats": result})
    if progress:
        progress(total, total, archs[-1] if archs else "")
    return combine([[LatencyStats.from_dict(done[str(p)][a]) for a in archs]
                    for p in range(processes)])


def measure_files_in_processes(device: str, options: dict[str, Any], paths: Sequence[str],
                               processes: int, rounds: int = 1,
                               settings: MeasureSettings = MeasureSettings(),
                               journal_path: Path | None = None,
                               progress: Progress | None = None) -> list[LatencyStats]:
    """:func:`measure_in_processes` for model files (``.onnx`` paths) instead of
    architectures of a space."""
    return measure_in_processes(device, options, "", {}, [str(p) for p in paths], processes,
                                rounds, 1, settings, journal_path, progress)


def _child(request_path: str, out_path: str) -> None:
    """Child side: open the backend, measure, write ``{arch: stats}``."""
    from latency_kit.backends import ModelSpec, open_backend
    from latency_kit.measure.engine import measure_interleaved
    from latency_kit.jsonio import write_json
    from latency_kit.spaces import get_space

    request = json.loads(Path(request_path).read_text())
    if request["space"]:
        space = get_space(request["space"], **{k: tuple(v) if isinstance(v, list) else v
                                               for k, v in request["space_options"].items()})

        def spec(text: str) -> ModelSpec:
            return ModelSpec.for_arch(space, space.parse(text), request["batch"])
    else:  # no space: the "archs" are model files (measure_files_in_processes)
        def spec(text: str) -> ModelSpec:
            return ModelSpec.for_file(text)
    settings = MeasureSettings.from_dict(request["settings"])
    result: dict[str, Any] = {}
    archs = request["archs"]
    with open_backend(request["device"], batch=request["batch"], **request["options"]) as backend:
        for start in range(0, len(archs), CHUNK):  # a chunk's sessions are open at once
            part = archs[start:start + CHUNK]
            specs = [spec(a) for a in part]
            last = request["rounds"] - 1

            def tick(r: int, i: int, start: int = start, part: list[str] = part) -> None:
                if r == last:  # one line per network whose last round is timed
                    print(f"{start + i + 1} {part[i]}", flush=True)

            for text, stats in zip(part, measure_interleaved(backend, specs, request["rounds"],
                                                             settings, on_model=tick)):
                result[text] = stats.to_dict()
    write_json(out_path, result)


if __name__ == "__main__":
    _child(*sys.argv[1:3])
