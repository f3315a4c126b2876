"""Build a per-operator table by profiling whole networks in-graph.

Each network runs on ONNX Runtime as a whole; ORT's profiler gives every
executed node's time in each of ``runs`` inferences, and the nodes are keyed
on the executed (optimised) graph (:mod:`latency_kit.backends.onnx_graph`).
Times taken inside one graph add up to the graph's time, which standalone
single-op models do not (DESIGN.md §4). Every network is also measured end
to end with the same engine as everything else; those times calibrate the
node sums. The table is written after each network, so an interrupted build
resumes where it stopped.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from latency_kit.backends.base import MeasureSettings, ModelSpec
from latency_kit.backends.onnx_graph import executed_graph
from latency_kit.backends.onnxruntime import OnnxRuntimeBackend
from latency_kit.errors import LatkitError
from latency_kit.measure.engine import measure_prepared
from latency_kit.optable import OP_TABLE_DEVICES, OpTable

# The fingerprint fields a resumed table must share with this run.
_SAME = ("runtime", "runtime_version", "threads", "graph_optimization", "cpu_model", "opset")
END_TO_END = MeasureSettings(repeats=15, warmup_ms=200, batch_ms=20)
# Fresh processes that re-measure the networks for calibration, and how hard each measures.
FRESH_PROCESSES = 3
FRESH_SETTINGS = MeasureSettings(repeats=10, warmup_ms=100, batch_ms=20)


@dataclass(frozen=True)
class Network:
    """A network to profile: its name in the table and its spec (a model file or
    an architecture of a space)."""

    name: str
    spec: ModelSpec


@dataclass
class BuildReport:
    """What :func:`build_op_table` did: networks profiled now, skipped (already
    in the table), and the seconds it took."""

    table: OpTable
    profiled: list[str]
    skipped: list[str]
    seconds: float
    path: Path


def build_op_table(networks: Sequence[Network], path: str | Path, device: str = "cpu",
                   threads: int = 1, runs: int = 10, warmup: int = 3,
                   settings: MeasureSettings = END_TO_END, fresh_processes: int = FRESH_PROCESSES,
                   progress: Callable[[int, int, str], None] | None = None) -> BuildReport:
    """Profile ``networks`` on ONNX Runtime and fold their nodes into the op table at ``path``.

    Networks already in the table at ``path`` are skipped (resume). With
    ``fresh_processes``, the networks to profile are first measured end to end
    in that many fresh processes
    (:func:`~latency_kit.measure.processes.measure_files_in_processes`, 2
    interleaved rounds each, combined at the processes' common level). Then
    each network is measured end to end in this process and profiled right
    after, and its node times are scaled by (fresh-process time / this
    process's time): one process's level is not the next one's, and this
    process's level drifts while it works (on the shared 2-core CPU, tables
    built in one process put the same ViT layers 24% apart in two builds), so
    every entry is brought to the typical level of the moment it was
    measured in. A record keeps the fresh-process time as ``latency_ms``, its
    own as ``in_process_ms`` and the factor as ``level``. Raises
    ``LatkitError`` for a device other than ``cpu`` (only ONNX Runtime's
    in-graph profiler builds tables so far), for duplicate network names, and
    for an existing table measured under another fingerprint (ORT version,
    threads, CPU).
    """
    if device not in OP_TABLE_DEVICES:
        raise LatkitError(f"per-operator tables are built with ONNX Runtime's profiler "
                          f"(--device cpu); device {device} cannot build one yet")
    names = [n.name for n in networks]
    if len(set(names)) != len(names):
        raise LatkitError("two networks to profile share a name: "
                          + ", ".join(sorted({n for n in names if names.count(n) > 1})))
    path = Path(path)
    backend = OnnxRuntimeBackend(threads)
    fingerprint = backend.fingerprint()
    if not path.is_file():  # a new table: fresh-process times journaled for an older one are stale
        path.with_suffix(".processes.jsonl").unlink(missing_ok=True)
    table = OpTable.load(path) if path.is_file() else OpTable(
        device, fingerprint=fingerprint,
        settings={"runs": runs, "warmup": warmup, "end_to_end": settings.to_dict()})
    differ = [f for f in _SAME if table.fingerprint.get(f) != fingerprint.get(f)]
    if differ:
        raise LatkitError(f"{path} was built under another {', '.join(differ)}; "
                          "move it away to build a new table")
    start = time.perf_counter()
    todo = [n for n in networks if n.name not in table.network_names()]
    skipped = [n.name for n in networks if n.name in table.network_names()]
    fresh = (_fresh_times(todo, backend, path, fresh_processes, progress)
             if fresh_processes and todo else {})
    done = []
    for index, network in enumerate(todo):
        if progress:
            progress(index, len(todo), network.name)
        prepared = backend.prepare(network.spec)
        try:
            stats = measure_prepared(backend, prepared, settings)
        finally:
            backend.release(prepared)
        nodes = executed_graph(backend, network.spec, runs=runs, warmup=warmup)
        level = fresh[network.name] / stats.median_ms if network.name in fresh else 1.0
        for node in nodes:
            node.run_ms = [ms * level for ms in node.run_ms]
        table.add_network(network.name, fresh.get(network.name, stats.median_ms), nodes)
        if network.name in fresh:
            table.networks[-1].update(in_process_ms=stats.median_ms, level=level)
        table.save(path)
        done.append(network.name)
    if fresh:
        table.settings["fresh_processes"] = {"processes": fresh_processes, "rounds": 2,
                                             "settings": FRESH_SETTINGS.to_dict()}
    if done or "regressors" not in table.settings:
        from latency_kit.predict.opmodel import OpPredictor

        OpPredictor(table).remember_choices()  # cross-validated once here, not at every load
        table.save(path)
    if progress:
        progress(len(networks), len(networks), "")
    return BuildReport(table, done, skipped, time.perf_counter() - start, path)


def _fresh_times(networks: Sequence[Network], backend: OnnxRuntimeBackend, path: Path,
                 processes: int, progress: Callable[[int, int, str], None] | None) -> dict[str, float]:
    """Network name -> end-to-end median (ms) over ``processes`` fresh processes."""
    from latency_kit.measure.processes import measure_files_in_processes

    files = [str(backend.onnx_path(n.spec)) for n in networks]
    names = {f: n.name for f, n in zip(files, networks)}
    stats = measure_files_in_processes(
        "cpu", {"threads": backend.threads}, files, processes, rounds=2, settings=FRESH_SETTINGS,
        journal_path=path.with_suffix(".processes.jsonl"),
        progress=(lambda done, total, name: progress(done, total, f"fresh processes: {names.get(name, name)}"))
        if progress else None)
    return {n.name: s.median_ms for n, s in zip(networks, stats)}


def zoo_networks(zoo_name: str, directory: str | Path) -> list[Network]:
    """The networks of a ``transformers`` zoo (:mod:`latency_kit.convert.zoo`),
    exported to ONNX under ``directory`` (once)."""
    from latency_kit.convert.zoo import export_zoo_model, zoo

    return [Network(m.name, ModelSpec.for_file(str(export_zoo_model(m, directory))))
            for m in zoo(zoo_name)]


def dir_networks(directory: str | Path) -> list[Network]:
    """Every ``.onnx`` file of ``directory`` (named by file stem); ``LatkitError`` when none."""
    files = sorted(Path(directory).glob("*.onnx"))
    if not files:
        raise LatkitError(f"{directory}: no .onnx model to profile")
    return [Network(f.stem, ModelSpec.for_file(str(f))) for f in files]


def space_networks(space: Any, count: int, seed: int = 0) -> list[Network]:
    """``count`` sampled architectures of ``space`` (named ``<space>:<arch>``)."""
    from latency_kit.measure.calibration import sample_archs

    return [Network(f"{space.name}:{space.format(a)}",
                    ModelSpec.for_arch(space, a)) for a in sample_archs(space, count, seed)]


# Sampled ofa-mbv3 architectures among the default training networks.
SPACE_NETWORKS = 6


def default_networks(cache: str | Path) -> list[Network]:
    """The training networks of ``latkit profile --ops``: the ``train`` zoo (needs
    ``transformers``) and :data:`SPACE_NETWORKS` sampled ``ofa-mbv3`` architectures."""
    from latency_kit.spaces import get_space

    return zoo_networks("train", cache) + space_networks(get_space("ofa-mbv3"), SPACE_NETWORKS)


def profile_ops(device: str = "cpu", threads: int = 1, models_dir: str | Path | None = None,
                zoo_name: str | None = None, out: str | Path | None = None,
                progress: Callable[[int, int, str], None] | None = None) -> BuildReport:
    """Build (or resume) ``device``'s op table at ``out`` (default: its stored place,
    :func:`latency_kit.profiles.optables.op_table_path`) from the networks of
    ``models_dir`` (every ``.onnx``), of zoo ``zoo_name``, or by default
    :func:`default_networks`. Raises ``LatkitError`` as :func:`build_op_table` does,
    and for both ``models_dir`` and ``zoo_name``.
    """
    from latency_kit.paths import cache_dir
    from latency_kit.profiles.optables import op_table_path

    if models_dir is not None and zoo_name is not None:
        raise LatkitError("give --models DIR or --zoo NAME, not both")
    if device != "cpu":  # before any export
        build_op_table([], "", device)
    cache = cache_dir() / "zoo"
    if models_dir is not None:
        networks = dir_networks(models_dir)
    elif zoo_name is not None:
        networks = zoo_networks(zoo_name, cache)
    else:
        networks = default_networks(cache)
    path = Path(out) if out is not None else op_table_path(device, threads)
    path.parent.mkdir(parents=True, exist_ok=True)
    return build_op_table(networks, path, device, threads, progress=progress)
