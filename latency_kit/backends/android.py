"""TFLite on an Android phone over adb, timed by the stock ``benchmark_model``.

``latkit profile --device pixel`` selects the attached phone whose model
contains "pixel" (``--serial`` when several do). The user supplies
TensorFlow Lite's prebuilt ``benchmark_model`` for the phone's ABI
(``--benchmark-binary``, ``LATKIT_BENCHMARK_MODEL`` or ``benchmark_model`` in
``$LATKIT_HOME/config.json``); it is pushed once to ``/data/local/tmp/latkit``
and reused while its SHA-256 matches. Models go to ``.../latkit/models`` and
are deleted on release and when the backend closes (and at start, after a run
that lost the phone).

Each ``run_batch(prepared, n)`` is one ``benchmark_model --num_runs=n`` run,
pinned with ``taskset`` to the fastest cluster, returning its mean ms per
inference. Before each run the thermal guard reads the CPU thermal zones and
the pinned cores' frequencies, and waits while the phone is hotter than
``max_temp_c``; the readings go into ``thermal_log`` and the profile's
fingerprint. Starting a process per batch costs about 0.1-0.3 s, so
:attr:`AndroidBackend.measure_settings` asks the engine for few, long batches.

The tool's own log is checked after every run (formats in
:mod:`latency_kit.backends.tflite_bench`): a ``--delegate gpu``/``nnapi``/
``xnnpack`` run whose delegate executes none of the graph raises
``DeviceError`` (its numbers would be CPU numbers); a partial delegation is
kept, warned about and recorded in ``prepared.info["entry"]``. The binary's
``--help=true`` flag list is read once per binary (by SHA-256): where it has
``--report_peak_memory_footprint`` each model's first run passes it and the
peak (MB) goes into the entry; where it has ``--gpu_precision_loss_allowed``
the GPU delegate gets it explicitly (``true``, the tool's default), and the
fingerprint's ``compute_precision`` says ``fp16``.

A user's ``.tflite`` file (``latkit measure --model``) is pushed as it is
(named by its SHA-256); its input shapes are read here with LiteRT, and where
``--shape`` (or a batch) changes one, every input goes to the tool as
``--input_layer=a,b --input_layer_shape=1,224,224,3:1,128`` (all inputs, in
the model's order, as ``BenchmarkTfLiteModel::Init`` requires). ``--ops``
runs the tool once more with ``--enable_op_profiling=true`` and reads its Run
Order table (:func:`~latency_kit.backends.tflite_bench.op_times`).

Losing the phone (unplugged, adb died) raises :class:`DeviceError` with one
line; the profiler has journaled every finished entry, so rerunning the same
command resumes.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import time
from pathlib import Path
from typing import Any, Callable, ClassVar

from latency_kit.backends.base import MeasureSettings
from latency_kit.errors import DeviceError, LatkitError
from latency_kit.jsonio import read_json
from latency_kit.paths import home
from latency_kit.convert.tflite import cached_tflite, check_precision, converter_version
from latency_kit.backends import android_discovery as disc
from latency_kit.backends.base import Backend, ModelSpec, OpTimes, Prepared
from latency_kit.backends.tflite_bench import (BenchmarkResult, op_times, parse_benchmark_output,
                                               parse_help_flags)

REMOTE_DIR = "/data/local/tmp/latkit"
REMOTE_BINARY = f"{REMOTE_DIR}/benchmark_model"
REMOTE_MODELS = f"{REMOTE_DIR}/models"
DELEGATES: dict[str, list[str]] = {
    "cpu": ["--use_xnnpack=true"],
    "xnnpack": ["--use_xnnpack=true"],
    "gpu": ["--use_gpu=true"],
    "nnapi": ["--use_nnapi=true"],
}
# The name benchmark_model's delegate provider prints (GetName()) for each --delegate.
DELEGATE_NAMES = {"cpu": "XNNPACK", "xnnpack": "XNNPACK", "gpu": "GPU", "nnapi": "NNAPI"}
# Delegates the user asked for by name: a run they do not execute is refused.
# ("cpu" is a CPU measurement with or without XNNPACK: recorded, not refused.)
REQUIRED = ("xnnpack", "gpu", "nnapi")
MEMORY_FLAG = "report_peak_memory_footprint"
OP_PROFILING_FLAG = "enable_op_profiling"
GPU_LOSS_FLAG = "gpu_precision_loss_allowed"
_HELP_CACHE: dict[str, frozenset[str]] = {}  # binary sha256 -> flags its --help lists
log = logging.getLogger(__name__)
HEX = re.compile(r"^[0-9a-fA-F]{1,16}$")
ELF_ABIS = {(2, 183): "arm64-v8a", (1, 40): "armeabi-v7a", (2, 62): "x86_64", (1, 3): "x86"}
WHERE_TO_GET = (
    "download TensorFlow Lite's prebuilt benchmark tool for the phone's ABI "
    "(https://ai.google.dev/edge/litert/models/measurement, 'Native benchmark binary': "
    "android_aarch64_benchmark_model for arm64-v8a, android_arm_benchmark_model for armeabi-v7a) "
    "and pass --benchmark-binary PATH, set LATKIT_BENCHMARK_MODEL, or add "
    '{"benchmark_model": "PATH"} to $LATKIT_HOME/config.json'
)
# Thermal zone types that describe the CPU or SoC (others: battery, skin, modem, ...).
CPU_ZONE_WORDS = ("cpu", "soc", "tsens", "cluster", "big", "little", "mid", "core", "apc")


def elf_abi(path: Path) -> str | None:
    """The Android ABI an ELF executable was built for, or ``None`` if not ELF."""
    with open(path, "rb") as handle:
        head = handle.read(20)
    if len(head) < 20 or head[:4] != b"\x7fELF":
        return None
    return ELF_ABIS.get((head[4], int.from_bytes(head[18:20], "little")), f"elf-machine-{head[18]}")


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def configured_binary(abi: str, explicit: str | Path | None = None) -> Path:
    """The local ``benchmark_model`` to use: option, env var, then config file."""
    candidate: Any = explicit or os.environ.get("LATKIT_BENCHMARK_MODEL")
    source = "--benchmark-binary" if explicit else "LATKIT_BENCHMARK_MODEL"
    config = home() / "config.json"
    if not candidate and config.is_file():
        entry = read_json(config, "latkit config").get("benchmark_model")
        candidate = entry.get(abi) if isinstance(entry, dict) else entry
        source = str(config)
    if not candidate:
        raise LatkitError(f"no TFLite benchmark_model binary configured for {abi}; {WHERE_TO_GET}")
    path = Path(str(candidate)).expanduser()
    if not path.is_file():
        raise LatkitError(f"benchmark_model binary {path} (from {source}) does not exist; {WHERE_TO_GET}")
    return path


def cpu_temperature(zones: dict[str, str], temps: dict[str, str]) -> float | None:
    """Hottest CPU/SoC zone in deg C (all zones if none is named like a CPU)."""
    def celsius(raw: str) -> float | None:
        try:
            value = float(raw)
        except ValueError:
            return None
        value = value / 1000 if abs(value) >= 200 else value  # millidegrees on most kernels
        return value if -30 < value < 150 else None

    readings = {z: celsius(temps.get(z, "")) for z in zones}
    valid = {z: v for z, v in readings.items() if v is not None}
    cpu = [v for z, v in valid.items() if any(w in zones[z].lower() for w in CPU_ZONE_WORDS)]
    pool = cpu or list(valid.values())
    return max(pool) if pool else None


def file_input_flags(spec: ModelSpec) -> tuple[dict[str, list[int]], list[str]]:
    """The input shapes of the ``.tflite`` file ``spec.key`` (read here with
    LiteRT, ``--shape`` applied) and the ``benchmark_model`` flags that feed
    them: none when the file's own shapes serve, else ``--input_layer`` and
    ``--input_layer_shape`` for every input (the tool's lists are split at
    ``,`` and ``:``, so an input name holding either is refused)."""
    from latency_kit.backends.litert import file_input_shapes

    shapes, resized = file_input_shapes(spec)
    if not resized:
        return shapes, []
    odd = [name for name in shapes if "," in name or ":" in name]
    if odd:
        raise LatkitError(f"input {odd[0]!r} of {spec.key} holds ',' or ':', which benchmark_model's "
                          "--input_layer list cannot carry; save the model with plain input names")
    return shapes, [f"--input_layer={','.join(shapes)}",
                    "--input_layer_shape=" + ":".join(",".join(map(str, s)) for s in shapes.values())]


class AndroidBackend(Backend):
    """Times ``.tflite`` models on an attached phone with ``benchmark_model``."""

    name = "android"
    runtime = "tflite-benchmark_model"
    model_formats = (".tflite",)
    # One process per batch: few, long batches (about 0.3 s of inference each).
    measure_settings: ClassVar[MeasureSettings] = MeasureSettings(
        warmup_ms=0.0, min_warmup_runs=1, repeats=5, batch_ms=300.0, max_iterations=50,
        max_rel_iqr=0.10, retries=1)

    def __init__(self, device: str = "android", serial: str | None = None, threads: int = 1,
                 delegate: str = "cpu", precision: str = "fp32",
                 benchmark_binary: str | Path | None = None, core_mask: str | None = None,
                 pin_big_cores: bool = True, warmup_runs: int = 3, max_temp_c: float = 50.0,
                 cooldown_s: float = 180.0, op_profiling: bool = False,
                 cache: str | Path | None = None, adb: Any = None,
                 sleep: Callable[[float], None] = time.sleep):
        if threads < 1:
            raise ValueError("threads must be >= 1")
        if delegate not in DELEGATES:
            raise LatkitError(f"unknown delegate {delegate!r}; choose one of {', '.join(DELEGATES)}")
        if core_mask is not None and not (HEX.match(core_mask) and int(core_mask, 16) > 0):
            raise LatkitError(f"--core-mask must be a non-zero hex CPU mask such as f0, not {core_mask!r}")
        self.threads, self.delegate = int(threads), delegate
        self.precision = check_precision(precision)
        self.warmup_runs, self.max_temp_c, self.cooldown_s = warmup_runs, max_temp_c, cooldown_s
        self.op_profiling, self.cache, self._sleep = op_profiling, cache, sleep
        self.thermal_log: list[dict[str, Any]] = []
        self.last_result: BenchmarkResult | None = None
        self._lost = False
        self._device, self.phone = self._call(lambda: disc.find_phone(device, serial, adb))
        self.binary = configured_binary(self.phone.abi, benchmark_binary)
        binary_abi = elf_abi(self.binary)
        if binary_abi not in self.phone.abis:
            raise LatkitError(
                f"{self.binary} is built for {binary_abi or 'no ELF target'}, but {self.phone.model} "
                f"runs {', '.join(self.phone.abis) or 'an unknown ABI'}; {WHERE_TO_GET}")
        self.binary_sha256 = sha256(self.binary)
        if core_mask is not None:
            self.core_mask = core_mask.lower()
        else:
            self.core_mask = disc.big_core_mask(self.phone.max_khz, self.threads) if pin_big_cores else ""
        mask = int(self.core_mask, 16) if self.core_mask else 0
        self.pinned = [cpu for cpu in sorted(self.phone.max_khz) if mask >> cpu & 1]
        self._zones = self._call(self._thermal_zones)
        self._call(self._setup)
        self.tool_flags = self._call(self._help_flags)
        self.delegate_flags = [*DELEGATES[delegate]]
        self.compute_precision: str | None = None
        if delegate == "gpu" and GPU_LOSS_FLAG in self.tool_flags:
            self.delegate_flags.append(f"--{GPU_LOSS_FLAG}=true")
            self.compute_precision = "fp16"  # precision loss allowed: the delegate computes in fp16
        self._warned: set[str] = set()

    # -- adb plumbing ---------------------------------------------------------
    def _call(self, action: Callable[[], Any]) -> Any:
        """Run ``action``; turn a lost phone or adb server into one ``DeviceError`` line."""
        if self._lost:
            raise DeviceError("the phone was lost earlier in this run; reconnect it and rerun")
        try:
            return action()
        except disc.adb_errors() as exc:
            self._lost = True
            who = f"{self.phone.model} ({self.phone.serial})" if hasattr(self, "phone") else "the phone"
            raise DeviceError(f"lost contact with {who}: {exc or type(exc).__name__}; reconnect it and "
                              "rerun the same command to resume (finished entries are kept)") from None

    def _shell(self, args: list[str], timeout: float = 30.0) -> str:
        code, out = disc.shell(self._device, args, timeout)
        if code != 0:
            tail = " | ".join(out.strip().splitlines()[-3:])
            raise DeviceError(f"`{args[0]}` failed on {self.phone.model} (exit {code}): {tail}")
        return out

    def _setup(self) -> None:
        """Clear models left by an interrupted run; push the binary unless it is there."""
        self._shell(["rm", "-rf", REMOTE_MODELS])
        self._shell(["mkdir", "-p", REMOTE_MODELS])
        code, out = disc.shell(self._device, ["sha256sum", REMOTE_BINARY])
        if code == 0 and out.split()[:1] == [self.binary_sha256]:
            return
        self._device.sync.push(str(self.binary), REMOTE_BINARY, 0o755)
        self._shell(["chmod", "755", REMOTE_BINARY])

    def _help_flags(self) -> frozenset[str]:
        """Flags the pushed binary's ``--help=true`` lists; asked once per binary (SHA-256).

        The tool prints its usage and exits non-zero, so the exit code is not checked.
        """
        if self.binary_sha256 not in _HELP_CACHE:
            _, out = disc.shell(self._device, [REMOTE_BINARY, "--help=true"])
            _HELP_CACHE[self.binary_sha256] = frozenset(parse_help_flags(out))
        return _HELP_CACHE[self.binary_sha256]

    def _thermal_zones(self) -> dict[str, str]:
        """Thermal zone dir -> type, read once."""
        names = [n for n in disc.list_dir(self._device, disc.THERMAL_DIR) if n.startswith("thermal_zone")]
        types = disc.read_files(self._device, [f"{disc.THERMAL_DIR}/{n}/type" for n in names])
        return {path.rsplit("/", 1)[0]: value for path, value in types.items()}

    def read_thermal(self) -> dict[str, Any]:
        """CPU temperature (deg C) and current kHz of the pinned cores, in one adb call."""
        def read() -> dict[str, Any]:
            temp_paths = [f"{zone}/temp" for zone in self._zones]
            cpus = self.pinned or sorted(self.phone.max_khz)
            freq_paths = [f"{disc.CPU_DIR}/cpu{c}/cpufreq/scaling_cur_freq" for c in cpus]
            values = disc.read_files(self._device, temp_paths + freq_paths)
            temps = {zone: values.get(f"{zone}/temp", "") for zone in self._zones}
            freqs = {c: int(values[p]) for c, p in zip(cpus, freq_paths) if values.get(p, "").isdigit()}
            return {"cpu_temp_c": cpu_temperature(self._zones, temps), "cur_khz": freqs}
        return self._call(read)

    def thermal_guard(self) -> dict[str, Any]:
        """Wait (up to ``cooldown_s``) while the CPU is hotter than ``max_temp_c``; log the state."""
        state, waited, step = self.read_thermal(), 0.0, 5.0
        while (state["cpu_temp_c"] is not None and state["cpu_temp_c"] > self.max_temp_c
               and waited < self.cooldown_s):
            self._sleep(step)
            waited += step
            state = self.read_thermal()
        state = {**state, "cooled_s": waited, "hot": bool(state["cpu_temp_c"] is not None
                                                           and state["cpu_temp_c"] > self.max_temp_c)}
        self.thermal_log.append(state)
        return state

    # -- Backend interface ----------------------------------------------------
    def fingerprint(self) -> dict[str, Any]:
        state = self.thermal_guard()
        governor_cpu = self.pinned[0] if self.pinned else 0
        governor = self._call(lambda: disc.read_files(
            self._device, [f"{disc.CPU_DIR}/cpu{governor_cpu}/cpufreq/scaling_governor"]))
        return {
            "device": self.name, "model": self.phone.model, "manufacturer": self.phone.manufacturer,
            "serial": self.phone.serial, "soc": self.phone.soc,
            "android_version": self.phone.android_version, "sdk": self.phone.sdk,
            "android_build": self.phone.build, "abi": self.phone.abi,
            "core_layout": self.phone.core_layout,
            "runtime": self.runtime,
            "runtime_version": f"benchmark_model sha256:{self.binary_sha256[:16]}",
            "benchmark_binary": self.binary.name, "converter": converter_version(),
            "delegate": self.delegate, "threads": self.threads, "precision": self.precision,
            "compute_precision": self.compute_precision, "delegate_flags": self.delegate_flags,
            "peak_memory": MEMORY_FLAG in self.tool_flags,
            "core_mask": self.core_mask or None, "governor": next(iter(governor.values()), None),
            "thermal": {"cpu_temp_c": state["cpu_temp_c"], "cur_khz": state["cur_khz"],
                        "max_temp_c": self.max_temp_c},
            "layout": "nhwc",
        }

    def prepare(self, spec: ModelSpec) -> Prepared:
        info: dict[str, Any] = {}
        if spec.kind == "file":
            local = Path(spec.key)
            info["inputs"], info["input_flags"] = file_input_flags(spec)
            name = f"model-{sha256(local)[:16]}.tflite"
        else:
            local = cached_tflite(spec, self.precision, self.cache)
            name = local.name
        remote = disc.check_device_path(f"{REMOTE_MODELS}/{name}")
        self._call(lambda: self._device.sync.push(str(local), remote, 0o644))
        return Prepared(spec, state=remote, info={"local": str(local), **info})

    def check_profile_ops(self) -> None:
        """``LatkitError`` when the pushed binary's ``--help`` lists no ``--enable_op_profiling``."""
        if self.tool_flags and OP_PROFILING_FLAG not in self.tool_flags:
            raise LatkitError(f"--ops: {self.binary.name} does not list --{OP_PROFILING_FLAG} in its "
                              f"--help, so it cannot break a model down per operator; {WHERE_TO_GET}")

    def profile_ops(self, prepared: Prepared, runs: int, warmup: int = 3) -> list[OpTimes]:
        """Per-node ms of one ``benchmark_model --enable_op_profiling=true`` run of
        ``runs`` inferences after ``warmup`` (the tool profiles the timed runs
        only). Each :class:`OpTimes` holds the tool's average over those runs.
        ``DeviceError`` when the tool prints no operator-wise profile."""
        result = self.benchmark(prepared, runs, op_profiling=True, warmup_runs=warmup)
        if not result.ops:
            raise DeviceError(f"{self.binary.name} printed no 'Operator-wise Profiling Info for "
                              f"Regular Benchmark Runs' table with --{OP_PROFILING_FLAG}=true")
        return op_times(result.ops)

    def benchmark(self, prepared: Prepared, runs: int, op_profiling: bool | None = None,
                  warmup_runs: int | None = None) -> BenchmarkResult:
        """One ``benchmark_model`` run of ``runs`` inferences after the thermal guard.

        Records what the tool said about the run in ``prepared.info["entry"]``
        (see :meth:`record_entry`). Raises ``DeviceError`` when the requested
        delegate executes none of the graph.
        """
        profiling = self.op_profiling if op_profiling is None else op_profiling
        entry = prepared.info.setdefault("entry", {})
        args = ["taskset", self.core_mask] if self.core_mask else []
        warmup = self.warmup_runs if warmup_runs is None else int(warmup_runs)
        args += [REMOTE_BINARY, f"--graph={prepared.state}", f"--num_threads={self.threads}",
                 f"--warmup_runs={warmup}", "--warmup_min_secs=0",
                 f"--num_runs={int(runs)}", "--min_secs=0", *self.delegate_flags,
                 *prepared.info.get("input_flags", [])]
        if MEMORY_FLAG in self.tool_flags and "peak_memory_mb" not in entry:
            args.append(f"--{MEMORY_FLAG}=true")  # the first run only: timed batches run without it
        if profiling:
            args.append("--enable_op_profiling=true")
        prepared.info["thermal"] = self.thermal_guard()
        prepared.info["thermal"]["key"] = prepared.spec.key
        out = self._call(lambda: self._shell(args, timeout=120.0 + 2.0 * runs))
        result = parse_benchmark_output(out)
        self.record_entry(prepared, result, memory=f"--{MEMORY_FLAG}=true" in args)
        self.last_result = result
        return result

    def record_entry(self, prepared: Prepared, result: BenchmarkResult, memory: bool = False) -> None:
        """Put what ran into ``prepared.info["entry"]``; refuse a delegate that ran nothing.

        The entry holds ``delegate``, ``delegation`` (``full``, ``partial``,
        ``none`` or ``unknown`` when the tool did not say), ``delegate_kernels``
        and ``delegated_nodes`` (``"54/559"``) where printed, ``compute_precision``
        and, after a run with ``memory``, ``peak_memory_mb`` (``None`` when the
        tool printed no peak). Partial delegation is logged once per model.
        """
        entry = prepared.info.setdefault("entry", {})
        name = DELEGATE_NAMES[self.delegate]
        found = result.delegations.get(name)
        executed = found.executed if found else "unknown"
        key = prepared.spec.key
        if executed == "none" and self.delegate in REQUIRED:
            raise DeviceError(
                f"the {name} delegate executed none of {key[:60]!r} on {self.phone.model}: benchmark_model "
                f"said the graph will not be executed by it, so its times are CPU times; profile with "
                f"--delegate cpu, or a model/phone the {name} delegate supports")
        entry.update(delegate=self.delegate, delegation=executed, compute_precision=self.compute_precision)
        if found and found.kernels is not None:
            entry["delegate_kernels"] = found.kernels
        if found and found.nodes is not None:
            entry["delegated_nodes"] = f"{found.nodes}/{found.total_nodes or '?'}"
        if result.gpu_precision_loss_allowed is not None and self.delegate == "gpu":
            entry["compute_precision"] = "fp16" if result.gpu_precision_loss_allowed else "fp32"
        if memory:
            entry["peak_memory_mb"] = result.peak_memory_mb
        if self.delegate in REQUIRED and executed == "partial":
            self._warn_once(key, f"the {name} delegate runs {key[:60]!r} only partly "
                            f"({entry.get('delegate_kernels', '?')} delegate kernels, nodes "
                            f"{entry.get('delegated_nodes', '?')}); the rest runs on the CPU")
        elif self.delegate in REQUIRED and executed == "unknown":
            self._warn_once("unknown", f"{self.binary.name} does not say whether the {name} delegate "
                            "executes the graph (an old build?); partial or no delegation goes unnoticed")

    def _warn_once(self, what: str, message: str) -> None:
        if what not in self._warned:
            self._warned.add(what)
            log.warning(message)

    def run_batch(self, prepared: Prepared, iterations: int) -> float:
        return self.benchmark(prepared, iterations).avg_ms

    def release(self, prepared: Prepared) -> None:
        if prepared.state is not None and not self._lost:
            remote = prepared.state
            self._call(lambda: self._shell(["rm", "-f", remote]))
        prepared.state = None

    def close(self) -> None:
        """Delete pushed models (the binary stays for the next run)."""
        if not self._lost:
            try:
                self._call(lambda: self._shell(["rm", "-rf", REMOTE_MODELS]))
            except DeviceError:
                pass
