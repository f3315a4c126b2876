"""Android backend plumbing with a recording adbutils stand-in. NEVER a measurement.

``FakeAdb``/``FakePhone`` implement the slice of adbutils' API the backend
uses (``list``, ``device``, ``shell2``, ``sync.push``) and answer like a
Pixel 7 would (getprop, sysfs, ``sha256sum``); ``benchmark_model`` answers
with a log in the tool's format whose numbers are made up: its lines follow
``tflite/tools/benchmark/benchmark_model.cc`` (run announcements, statistics,
summary, peak memory), ``benchmark_tflite_model.cc`` (delegate outcome) and,
for ``--help=true``, ``tests/fixtures/benchmark_model/help_*.log``
(``Flags::Usage``, ``tflite/tools/command_line_flags.cc``; google-ai-edge/LiteRT).
These tests check the commands issued, pushing, cleanup, selection errors, the
thermal guard, unplug handling and what the backend does with the tool's
delegate and memory lines; the latencies they see mean nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from latency_kit.backends import android_discovery as disc
from latency_kit.backends.android import REMOTE_BINARY, REMOTE_MODELS, AndroidBackend, elf_abi
from latency_kit.errors import DeviceError, LatkitError
from latency_kit.measure.blocks import ProfileJob, profile_blocks
from latency_kit.spaces.ofa_mbv3 import OFAMobileNetV3

from latency_kit.testing.backends import FAST, HEAD, SMALL, BackendSuite, block_spec

pytestmark = pytest.mark.plumbing
adbutils = pytest.importorskip("adbutils")

FIXTURES = Path(__file__).parent / "fixtures" / "benchmark_model"
HELP_CURRENT = (FIXTURES / "help_current.log").read_text()
HELP_OLD = (FIXTURES / "help_old.log").read_text()
DELEGATE_FLAGS = {"use_gpu": ("GPU", "TfLiteGpuDelegateV2"), "use_nnapi": ("NNAPI", "TfLiteNnapiDelegate"),
                  "use_xnnpack": ("XNNPACK", "TfLiteXNNPackDelegate")}
WIRELESS = "adb-28241FDH2000AB-x7Yz1Q (2)._adb-tls-connect._tcp"

PIXEL7_MAX_KHZ = {0: 1803000, 1: 1803000, 2: 1803000, 3: 1803000, 4: 2348000, 5: 2348000,
                  6: 2850000, 7: 2850000}


@dataclass
class Item:
    serial: str
    state: str = "device"


@dataclass
class Reply:
    returncode: int
    output: str


class FakeSync:
    def __init__(self, phone: "FakePhone"):
        self.phone = phone

    def push(self, src, dst, mode=0o755, check=False):
        self.phone.check_plugged()
        self.phone.pushes.append((str(src), str(dst)))
        self.phone.files[str(dst)] = hashlib.sha256(Path(src).read_bytes()).hexdigest()
        return Path(src).stat().st_size


class FakePhone:
    """Answers like a phone; records every call."""

    def __init__(self, serial: str = "28241FDH2000AB", model: str = "Pixel 7", temps=(41000,)):
        self.serial, self.model = serial, model
        self.calls: list[list[str]] = []
        self.pushes: list[tuple[str, str]] = []
        self.files: dict[str, str] = {}  # remote path -> sha256
        self.temps = list(temps)  # successive CPU readings (millidegrees); the last one repeats
        self.unplug_after_runs: int | None = None
        self.runs = 0
        self.plugged = True
        self.sync = FakeSync(self)
        self.help_text = HELP_CURRENT
        self.delegation = "completely"  # what the tool says: completely, partially or not
        self.broken = False  # getprop fails (a phone that cannot be described)

    def check_plugged(self):
        if not self.plugged:
            raise adbutils.AdbError(f"device '{self.serial}' not found")

    def sysfs(self, wanted: list[str]) -> dict[str, str]:
        files = {f"{disc.CPU_DIR}/possible": "0-7"}
        for cpu, khz in PIXEL7_MAX_KHZ.items():
            base = f"{disc.CPU_DIR}/cpu{cpu}/cpufreq"
            files.update({f"{base}/cpuinfo_max_freq": str(khz), f"{base}/scaling_cur_freq": str(khz),
                          f"{base}/scaling_governor": "schedutil"})
        reads_temp = "/sys/class/thermal/thermal_zone0/temp" in wanted
        temp = self.temps.pop(0) if reads_temp and len(self.temps) > 1 else self.temps[0]
        files.update({"/sys/class/thermal/thermal_zone0/type": "BIG",
                      "/sys/class/thermal/thermal_zone0/temp": str(temp),
                      "/sys/class/thermal/thermal_zone1/type": "battery",
                      "/sys/class/thermal/thermal_zone1/temp": "30000"})
        return files

    def shell2(self, args, timeout=None):
        self.check_plugged()
        assert isinstance(args, list), "the backend must pass argument lists"
        self.calls.append(list(args))
        cmd = args[2:] if args[0] == "taskset" else args
        if cmd[0] == "getprop" and self.broken:
            raise adbutils.AdbError("closed")
        if cmd[0] == "getprop":
            props = {"ro.product.model": self.model, "ro.product.manufacturer": "Google",
                     "ro.soc.manufacturer": "Google", "ro.soc.model": "GS201",
                     "ro.build.version.release": "14", "ro.build.version.sdk": "34",
                     "ro.build.fingerprint": "google/panther/panther:14/AP2A/1:user/release-keys",
                     "ro.product.cpu.abi": "arm64-v8a",
                     "ro.product.cpu.abilist": "arm64-v8a,armeabi-v7a,armeabi"}
            return Reply(0, "\n".join(f"[{k}]: [{v}]" for k, v in props.items()))
        if cmd[0] == "grep":
            files = self.sysfs(cmd[3:])
            return Reply(0, "\n".join(f"{p}:{files[p]}" for p in cmd[3:] if p in files))
        if cmd[0] == "ls":
            return Reply(0, "thermal_zone0\nthermal_zone1\ncooling_device0")
        if cmd[0] == "sha256sum":
            sha = self.files.get(cmd[1])
            return Reply(0, f"{sha}  {cmd[1]}") if sha else Reply(1, "No such file or directory")
        if cmd[0] == REMOTE_BINARY and cmd[1:] == ["--help=true"]:
            return Reply(1, self.help_text)
        if cmd[0] == REMOTE_BINARY:
            self.runs += 1
            if self.unplug_after_runs is not None and self.runs > self.unplug_after_runs:
                self.plugged = False
                raise adbutils.AdbError("connection reset by peer")
            flags = dict(a[2:].split("=", 1) for a in cmd[1:])
            assert flags["graph"] in self.files, "benchmark of a model that was never pushed"
            return Reply(0, self.benchmark_log(flags))
        if cmd[0] in ("rm", "mkdir", "chmod"):
            if cmd[0] == "rm":
                for path in cmd[2:]:
                    for f in [f for f in self.files if f == path or f.startswith(path + "/")]:
                        del self.files[f]
            return Reply(0, "")
        return Reply(127, f"/system/bin/sh: {cmd[0]}: not found")

    def benchmark_log(self, flags: dict[str, str]) -> str:
        """A log laid out as benchmark_model prints it (made-up microseconds)."""
        n, warm = int(flags["num_runs"]), int(flags["warmup_runs"])
        avg = 1000 + 10 * (len(flags["graph"]) % 7)
        lines = ["INFO: STARTING!", f"INFO: Graph: [{flags['graph']}]"]
        if flags.get("gpu_precision_loss_allowed"):
            lines.append(f"INFO: Allow lower precision in gpu: [{int(flags['gpu_precision_loss_allowed'] == 'true')}]")
        for flag, (name, kernel) in DELEGATE_FLAGS.items():
            if flags.get(flag) != "true":
                continue
            if self.delegation == "partially":
                lines += [f"INFO: Replacing 40 out of 44 node(s) with delegate ({kernel}) node, yielding 3 "
                          "partitions for the whole graph.",
                          f"INFO: Explicitly applied {name} delegate, and the model graph will be partially "
                          "executed by the delegate w/ 2 delegate kernels."]
            elif self.delegation == "not":
                lines.append(f"INFO: Though {name} delegate is explicitly applied, the model graph will not "
                             "be executed by the delegate.")
            else:
                lines.append(f"INFO: Explicitly applied {name} delegate, and the model graph will be "
                             "completely executed by the delegate.")
        for runs, stats in ((warm, f"count={warm} first={avg + 300} curr={avg} min={avg} max={avg + 300} "
                                   f"avg={avg + 100} std=141"),
                            (n, f"count=1 curr={avg}" if n == 1 else f"count={n} curr={avg}(all same)")):
            lines += [f"INFO: Running benchmark for at least {runs} iterations and at least 0 seconds but "
                      "terminate if exceeding 150 seconds.", f"INFO: {stats}", ""]
        lines.append(f"INFO: Inference timings in us: Init: 900, First inference: {avg + 300}, "
                     f"Warmup (avg): {avg + 100}, Inference (avg): {avg}")
        if flags.get("report_peak_memory_footprint") == "true":
            lines.append("INFO: Overall peak memory footprint (MB) via periodic monitoring: 37.5391")
        return "\n".join(lines) + "\n"

    def commands(self) -> list[str]:
        return [shlex.join(c) for c in self.calls]


class FakeAdb:
    def __init__(self, *phones: FakePhone, waiting: tuple[Item, ...] = ()):
        self.phones = {p.serial: p for p in phones}
        self.waiting = waiting

    def list(self):
        return [Item(s) for s, p in self.phones.items() if p.plugged] + list(self.waiting)

    def device(self, serial=None):
        return self.phones[serial]


def fake_binary(path: Path, machine: int = 183) -> Path:
    """A file with the ELF header of an aarch64 (183) or x86-64 (62) executable."""
    head = b"\x7fELF" + bytes([2, 1, 1]) + bytes(9) + (2).to_bytes(2, "little") + machine.to_bytes(2, "little")
    path.write_bytes(head + b"\0" * 64)
    return path


@pytest.fixture
def binary(tmp_path) -> Path:
    return fake_binary(tmp_path / "android_aarch64_benchmark_model")


@pytest.fixture
def no_conversion(tmp_path, monkeypatch):
    """Stand-in model files instead of litert-torch conversions (plumbing only)."""
    def fake(spec, precision="fp32", cache=None):
        path = tmp_path / f"{abs(hash(spec.key)) % 10**8}.tflite"
        path.write_bytes(spec.key.encode())
        return path
    monkeypatch.setattr("latency_kit.backends.android.cached_tflite", fake)


class TestAndroidStandIn(BackendSuite):
    """The shared suite over the stand-in phone: every call the suite makes goes
    through the backend's real plumbing; the tests of timing order skip."""

    measures_hardware = False

    @pytest.fixture
    def backend(self, binary, no_conversion):
        with AndroidBackend("pixel", adb=FakeAdb(FakePhone()), benchmark_binary=binary,
                            sleep=lambda s: None) as backend:
            yield backend


def test_discovery_describes_phone() -> None:
    phone = disc.list_phones(FakeAdb(FakePhone()))[0]
    assert (phone.model, phone.soc, phone.android_version, phone.abi) == ("Pixel 7", "Google GS201", "14", "arm64-v8a")
    assert phone.core_layout == "4x1.80GHz+2x2.35GHz+2x2.85GHz"
    assert disc.big_core_mask(phone.max_khz, 1) == "c0"
    assert disc.big_core_mask(phone.max_khz, 3) == "f0"


def test_selection_by_model_substring_and_serial() -> None:
    a, b = FakePhone("AAA111", "Pixel 7"), FakePhone("BBB222", "Pixel 6a")
    adb = FakeAdb(a, b, waiting=(Item("CCC333", "unauthorized"),))
    with pytest.raises(DeviceError, match="2 attached phones match 'pixel'.*--serial"):
        disc.find_phone("pixel", adb=adb)
    assert disc.find_phone("PIXEL", "BBB222", adb)[1].model == "Pixel 6a"
    assert disc.find_phone("6a", adb=adb)[1].serial == "BBB222"
    with pytest.raises(DeviceError, match="no attached phone matches 'galaxy'.*unauthorized.*adb devices"):
        disc.find_phone("galaxy", adb=adb)
    assert disc.find_phone("pixel7", adb=adb)[1].serial == "AAA111"  # spaces ignored: "Pixel 7"
    with pytest.raises(DeviceError, match="no attached phone has serial 'x; rm -rf /'"):
        disc.find_phone("pixel", "x; rm -rf /", adb)  # an argument, never shell text: just not there


def test_wireless_debugging_serial() -> None:
    """``adb devices`` lists wireless-debugging phones as
    ``adb-<serial>-<id> (2)._adb-tls-connect._tcp`` (spaces, parentheses)."""
    adb = FakeAdb(FakePhone("AAA111", "Pixel 7"), FakePhone(WIRELESS, "Pixel 7"))
    device, phone = disc.find_phone("pixel", WIRELESS, adb)
    assert phone.serial == WIRELESS and device.serial == WIRELESS
    for bad in ("", "   ", "adb-1\n2", "a\x00b", "x" * 300):
        with pytest.raises(LatkitError, match="invalid adb serial"):
            disc.find_phone("pixel", bad, adb)


def test_a_phone_that_fails_to_describe_is_skipped(monkeypatch, caplog) -> None:
    """One broken phone costs a warning, not the healthy one next to it."""
    from latency_kit.backends import backend_class

    healthy, broken = FakePhone("AAA111", "Pixel 7"), FakePhone("BBB222", "Pixel 6a")
    broken.broken = True
    adb = FakeAdb(broken, healthy)
    with caplog.at_level(logging.WARNING, logger=disc.__name__):
        phones = disc.list_phones(adb)
    assert [p.serial for p in phones] == ["AAA111"]
    assert "skipping phone BBB222" in caplog.text
    monkeypatch.setattr(disc, "adb_worth_asking", lambda: True)
    monkeypatch.setattr(disc, "adb_client", lambda a=None: a or adb)
    assert backend_class("pixel") is AndroidBackend


def test_no_phone_message_is_shared(monkeypatch) -> None:
    """``--device android`` and an unattached ``--device pixel`` say the same: what adb
    sees and how to attach a phone; a typo of a built-in name lists the built-ins."""
    from latency_kit.backends import backend_class
    from latency_kit.errors import UnknownNameError

    adb = FakeAdb()
    monkeypatch.setattr(disc, "adb_worth_asking", lambda: True)
    monkeypatch.setattr(disc, "adb_client", lambda a=None: a or adb)
    with pytest.raises(DeviceError) as android:
        disc.find_phone("android", adb=adb)
    assert str(android.value).startswith("no Android phone is attached (adb lists no phone); turn on USB debugging")
    with pytest.raises(DeviceError) as pixel:
        backend_class("pixel")
    message = str(pixel.value)
    assert message.startswith("no attached phone matches 'pixel' (adb lists no phone); turn on USB debugging")
    assert "`adb devices` lists it" in message and "built-in devices: android, cpu" in message
    assert len(message) <= 300 and "\n" not in message
    with pytest.raises(UnknownNameError, match="unknown device 'cpuu'; known devices: android, cpu"):
        backend_class("cpuu")
    assert backend_class("pixel7", attached=False) is AndroidBackend  # a Ray worker has it


def test_binary_pushed_once_and_commands(binary, no_conversion) -> None:
    phone = FakePhone()
    adb = FakeAdb(phone)
    backend = AndroidBackend("pixel", adb=adb, benchmark_binary=binary, sleep=lambda s: None)
    assert phone.pushes == [(str(binary), REMOTE_BINARY)]
    prepared = backend.prepare(block_spec(SMALL))
    assert backend.run_batch(prepared, 20) > 0
    bench = [c for c in phone.calls if REMOTE_BINARY in c][-1]
    assert bench[:2] == ["taskset", "c0"]
    assert "--num_runs=20" in bench and "--num_threads=1" in bench and "--use_xnnpack=true" in bench
    assert f"--graph={prepared.state}" in bench and prepared.state.startswith(REMOTE_MODELS + "/")
    backend.release(prepared)
    assert prepared.state is None and not any(f.startswith(REMOTE_MODELS + "/") for f in phone.files)
    backend.close()
    # a second session reuses the binary (same sha256) and clears stale models first
    AndroidBackend("pixel", adb=adb, benchmark_binary=binary, delegate="gpu").close()
    assert [p for p in phone.pushes if p[1] == REMOTE_BINARY] == [(str(binary), REMOTE_BINARY)]
    assert f"rm -rf {REMOTE_MODELS}" in phone.commands()


def test_fingerprint_records_phone_and_thermal_state(binary) -> None:
    backend = AndroidBackend("pixel", adb=FakeAdb(FakePhone()), benchmark_binary=binary, threads=2,
                             delegate="nnapi")
    fp = backend.fingerprint()
    assert fp["model"] == "Pixel 7" and fp["soc"] == "Google GS201" and fp["android_build"].startswith("google/")
    assert fp["delegate"] == "nnapi" and fp["threads"] == 2 and fp["core_mask"] == "c0"
    assert fp["thermal"]["cpu_temp_c"] == 41.0 and fp["governor"] == "schedutil"
    assert fp["runtime_version"].startswith("benchmark_model sha256:")


def test_thermal_guard_waits_while_hot(binary) -> None:
    slept: list[float] = []
    phone = FakePhone(temps=(62000, 58000, 49000))
    backend = AndroidBackend("pixel", adb=FakeAdb(phone), benchmark_binary=binary,
                             max_temp_c=50, sleep=slept.append)
    state = backend.thermal_guard()
    assert slept == [5.0, 5.0] and state["cooled_s"] == 10.0 and state["cpu_temp_c"] == 49.0
    assert not state["hot"] and backend.thermal_log[-1] is state


def test_binary_errors_say_where_to_get_it(tmp_path, monkeypatch) -> None:
    adb = FakeAdb(FakePhone())
    monkeypatch.delenv("LATKIT_BENCHMARK_MODEL", raising=False)
    with pytest.raises(LatkitError, match="android_aarch64_benchmark_model.*LATKIT_BENCHMARK_MODEL"):
        AndroidBackend("pixel", adb=adb)
    x86 = fake_binary(tmp_path / "bm_x86", machine=62)
    assert elf_abi(x86) == "x86_64"
    with pytest.raises(LatkitError, match="built for x86_64.*arm64-v8a"):
        AndroidBackend("pixel", adb=adb, benchmark_binary=x86)
    arm = fake_binary(tmp_path / "bm_arm")
    monkeypatch.setenv("LATKIT_HOME", str(tmp_path))
    (tmp_path / "config.json").write_text(json.dumps({"benchmark_model": {"arm64-v8a": str(arm)}}))
    assert AndroidBackend("pixel", adb=adb).binary == arm
    with pytest.raises(LatkitError, match="core-mask"):
        AndroidBackend("pixel", adb=adb, core_mask="0x;reboot")


class TwoBlocks(OFAMobileNetV3):
    def all_blocks(self):
        return [b for b in super().all_blocks() if b.key in (SMALL, HEAD)]


RUNS_PER_BLOCK = 1 + AndroidBackend.measure_settings.repeats  # warm-up + timed batches


def interrupted_profile(binary: Path, out: Path) -> tuple[FakePhone, FakeAdb, ProfileJob, DeviceError]:
    """Profile two blocks; the phone is unplugged during the second one."""
    phone = FakePhone()
    adb = FakeAdb(phone)
    job = ProfileJob(TwoBlocks(resolutions=(224,)), out, out.name, "pixel", {"resolutions": (224,)},
                     AndroidBackend.measure_settings)
    backend = AndroidBackend("pixel", adb=adb, benchmark_binary=binary)
    phone.unplug_after_runs = RUNS_PER_BLOCK + 1
    with pytest.raises(DeviceError) as info:
        try:
            profile_blocks(job, backend)
        finally:
            backend.close()
    return phone, adb, job, info.value


def resume(phone: FakePhone, adb: FakeAdb, job: ProfileJob, binary: Path) -> tuple[Any, int]:
    """Plug the phone back in and rerun: the profile and the benchmark runs it took."""
    phone.plugged, phone.unplug_after_runs = True, None
    backend = AndroidBackend("pixel", adb=adb, benchmark_binary=binary)
    before = phone.runs
    try:
        return profile_blocks(job, backend), phone.runs - before
    finally:
        backend.close()


def test_unplug_mid_profile_then_resume(binary, no_conversion, tmp_path) -> None:
    phone, adb, job, error = interrupted_profile(binary, tmp_path / "pixel")
    assert re.search("lost contact with Pixel 7.*rerun the same command", str(error))
    assert "\n" not in str(error)
    journal = (tmp_path / "pixel" / "journal.jsonl").read_text().splitlines()
    assert len(journal) == 1
    first = json.loads(journal[0])["key"]
    profile, runs = resume(phone, adb, job, binary)
    assert set(profile.lut.entries) == {SMALL, HEAD}
    assert runs == RUNS_PER_BLOCK  # only the missing block was measured
    assert profile.lut.entries[first].count == AndroidBackend.measure_settings.repeats
    assert not any(f.startswith(REMOTE_MODELS + "/") for f in phone.files)  # models cleaned up


def test_registry_and_devices_command(monkeypatch) -> None:
    from latency_kit.backends import backend_class
    from latency_kit.cli import main

    adb = FakeAdb(FakePhone())
    monkeypatch.setattr(disc, "adb_worth_asking", lambda: True)
    monkeypatch.setattr(disc, "adb_client", lambda a=None: a or adb)
    assert backend_class("pixel") is AndroidBackend
    result = CliRunner().invoke(main, ["devices", "--json"])
    assert result.exit_code == 0, result.output
    phones = json.loads(result.output)["phones"]
    assert phones[0]["model"] == "Pixel 7" and phones[0]["core_layout"].endswith("2x2.85GHz")


def test_help_read_once_and_memory_on_the_first_run_only(binary, no_conversion) -> None:
    """``--help=true`` once per binary; a binary that lists ``--report_peak_memory_footprint``
    gets it on each model's first run, whose peak lands in the entry; the GPU delegate gets
    ``--gpu_precision_loss_allowed=true`` and the fingerprint says fp16, not fp32."""
    from latency_kit.backends import android

    android._HELP_CACHE.clear()
    phone = FakePhone()
    adb = FakeAdb(phone)
    backend = AndroidBackend("pixel", adb=adb, benchmark_binary=binary, delegate="gpu", sleep=lambda s: None)
    AndroidBackend("pixel", adb=adb, benchmark_binary=binary).close()
    assert sum(c[-1] == "--help=true" for c in phone.calls) == 1
    fp = backend.fingerprint()
    assert (fp["precision"], fp["compute_precision"], fp["peak_memory"]) == ("fp32", "fp16", True)
    assert fp["delegate_flags"] == ["--use_gpu=true", "--gpu_precision_loss_allowed=true"]
    prepared = backend.prepare(block_spec(SMALL))
    for _ in range(3):
        backend.run_batch(prepared, 1 if _ == 0 else 20)
    runs = [c for c in phone.calls if any(a.startswith("--graph=") for a in c)]
    assert ["--report_peak_memory_footprint=true" in c for c in runs] == [True, False, False]
    assert all("--gpu_precision_loss_allowed=true" in c for c in runs)
    entry = prepared.info["entry"]
    assert entry["peak_memory_mb"] == pytest.approx(37.5391) and entry["delegation"] == "full"
    assert entry["compute_precision"] == "fp16" and backend.last_result.runs.count == 20
    backend.close()


def test_old_binary_without_the_newer_flags(binary, no_conversion) -> None:
    from latency_kit.backends import android

    android._HELP_CACHE.clear()
    phone = FakePhone()
    phone.help_text = HELP_OLD
    backend = AndroidBackend("pixel", adb=FakeAdb(phone), benchmark_binary=binary, delegate="gpu")
    prepared = backend.prepare(block_spec(SMALL))
    backend.run_batch(prepared, 1)
    run = [c for c in phone.calls if any(a.startswith("--graph=") for a in c)][-1]
    assert not any("memory" in a or "precision" in a for a in run)
    assert backend.fingerprint()["compute_precision"] is None and "peak_memory_mb" not in prepared.info["entry"]
    backend.close()


@pytest.mark.parametrize("delegate", ["gpu", "nnapi", "xnnpack"])
def test_delegate_that_runs_nothing_is_refused(delegate, binary, no_conversion, tmp_path) -> None:
    """"Though GPU delegate is explicitly applied, the model graph will not be executed by
    the delegate." means the times are CPU times: one line, nothing journaled."""
    phone = FakePhone()
    phone.delegation = "not"
    backend = AndroidBackend("pixel", adb=FakeAdb(phone), benchmark_binary=binary, delegate=delegate)
    job = ProfileJob(TwoBlocks(resolutions=(224,)), tmp_path / "p", "p", "pixel", {"resolutions": (224,)},
                     AndroidBackend.measure_settings)
    with pytest.raises(DeviceError) as info:
        try:
            profile_blocks(job, backend)
        finally:
            backend.close()
    message = str(info.value)
    assert "executed none of" in message and "--delegate cpu" in message
    assert "\n" not in message and len(message) <= 300
    assert not (tmp_path / "p" / "journal.jsonl").exists() or not (tmp_path / "p" / "journal.jsonl").read_text()


def test_cpu_without_xnnpack_is_recorded_not_refused(binary, no_conversion) -> None:
    phone = FakePhone()
    phone.delegation = "not"
    backend = AndroidBackend("pixel", adb=FakeAdb(phone), benchmark_binary=binary, delegate="cpu")
    prepared = backend.prepare(block_spec(SMALL))
    assert backend.run_batch(prepared, 5) > 0
    assert prepared.info["entry"]["delegation"] == "none"
    backend.close()


def test_partial_delegation_is_recorded_and_warned_once(binary, no_conversion, caplog) -> None:
    phone = FakePhone()
    phone.delegation = "partially"
    backend = AndroidBackend("pixel", adb=FakeAdb(phone), benchmark_binary=binary, delegate="gpu")
    prepared = backend.prepare(block_spec(SMALL))
    with caplog.at_level(logging.WARNING, logger="latency_kit.backends.android"):
        for _ in range(3):
            backend.run_batch(prepared, 10)
    entry = prepared.info["entry"]
    assert (entry["delegation"], entry["delegate_kernels"], entry["delegated_nodes"]) == ("partial", 2, "40/44")
    warnings = [r for r in caplog.records if "only partly" in r.getMessage()]
    assert len(warnings) == 1 and "2 delegate kernels" in warnings[0].getMessage()
    backend.close()


# Fingerprint fields this release adds; profiles and journals written before lack them.
NEW_FINGERPRINT_FIELDS = ("compute_precision", "delegate_flags", "peak_memory")


def test_profile_and_journal_from_before_still_load_and_resume(binary, no_conversion, tmp_path) -> None:
    """A phone profile interrupted under the previous release (fingerprint without
    compute_precision/delegate_flags/peak_memory, entries without delegation or
    memory fields) resumes under this one and loads; nothing is re-measured."""
    from latency_kit.cli.devices_cmd import _profile_row
    from latency_kit.profiles.profile import load_profile

    phone, adb, job, _ = interrupted_profile(binary, tmp_path / "pixel")
    meta_path = tmp_path / "pixel" / "profile.json"
    meta = json.loads(meta_path.read_text())
    for name in NEW_FINGERPRINT_FIELDS:
        meta["fingerprint"].pop(name)
    meta_path.write_text(json.dumps(meta))
    journal_path = tmp_path / "pixel" / "journal.jsonl"
    old_entry = json.loads(journal_path.read_text())
    old_entry["stats"].pop("run", None)  # the previous release recorded no per-entry run
    journal_path.write_text(json.dumps(old_entry) + "\n")
    resumed, runs = resume(phone, adb, job, binary)
    assert runs == RUNS_PER_BLOCK  # only the missing block
    loaded = load_profile(tmp_path / "pixel")
    assert loaded.complete and set(loaded.lut.entries) == set(resumed.lut.entries) == {SMALL, HEAD}
    assert loaded.lut.entries[old_entry["key"]].median_ms == old_entry["stats"]["median_ms"]
    assert loaded.lut.entries[old_entry["key"]].run is None
    new_key = ({SMALL, HEAD} - {old_entry["key"]}).pop()
    assert loaded.lut.entries[new_key].run["delegate"] == loaded.meta["fingerprint"]["delegate"]
    assert _profile_row("pixel", tmp_path / "pixel")["hardware"] == "Pixel 7"
