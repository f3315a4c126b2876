"""Android backend plumbing with a recording adbutils stand-in. NEVER a measurement.

``FakeAdb``/``FakePhone`` implement the slice of adbutils' API the backend
uses (``list``, ``device``, ``shell2``, ``sync.push``) and answer like a
Pixel 7 would (getprop, sysfs, ``sha256sum``); ``benchmark_model`` answers
with a log in the tool's format whose numbers are made up. These tests check
the commands issued, pushing, cleanup, selection errors, the thermal guard and
unplug handling; the latencies they see mean nothing.
"""

from __future__ import annotations

import hashlib
import json
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from latency_kit.backends import android_discovery as disc
from latency_kit.backends.android import REMOTE_BINARY, REMOTE_MODELS, AndroidBackend, elf_abi
from latency_kit.errors import DeviceError, LatkitError
from latency_kit.profiler import ProfileJob, profile_blocks
from latency_kit.spaces.ofa_mbv3 import OFAMobileNetV3

from .backend_suite import FAST, HEAD, SMALL, block_spec

pytestmark = pytest.mark.plumbing
adbutils = pytest.importorskip("adbutils")

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
        if cmd[0] == REMOTE_BINARY:
            self.runs += 1
            if self.unplug_after_runs is not None and self.runs > self.unplug_after_runs:
                self.plugged = False
                raise adbutils.AdbError("connection reset by peer")
            flags = dict(a[2:].split("=", 1) for a in cmd[1:])
            assert flags["graph"] in self.files, "benchmark of a model that was never pushed"
            n = int(flags["num_runs"])
            avg = 1000 + 10 * (len(flags["graph"]) % 7)  # made-up microseconds
            return Reply(0, f"INFO: count={n} first={avg} curr={avg} min={avg} max={avg} avg={avg} std=0\n"
                            f"INFO: Inference timings in us: Init: 900, First inference: {avg}, "
                            f"Warmup (avg): {avg}, Inference (avg): {avg}\n")
        if cmd[0] in ("rm", "mkdir", "chmod"):
            if cmd[0] == "rm":
                for path in cmd[2:]:
                    for f in [f for f in self.files if f == path or f.startswith(path + "/")]:
                        del self.files[f]
            return Reply(0, "")
        return Reply(127, f"/system/bin/sh: {cmd[0]}: not found")

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
    with pytest.raises(DeviceError, match="no attached phone matches 'galaxy'.*unauthorized"):
        disc.find_phone("galaxy", adb=adb)
    with pytest.raises(LatkitError, match="invalid adb serial"):
        disc.find_phone("pixel", "x; rm -rf /", adb)


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


def test_unplug_mid_profile_then_resume(binary, no_conversion, tmp_path) -> None:
    phone = FakePhone()
    adb = FakeAdb(phone)
    space = TwoBlocks(resolutions=(224,))
    job = ProfileJob(space, tmp_path / "pixel", "pixel", "pixel", {"resolutions": (224,)},
                     AndroidBackend.measure_settings)
    backend = AndroidBackend("pixel", adb=adb, benchmark_binary=binary)
    runs_per_block = 1 + AndroidBackend.measure_settings.repeats
    phone.unplug_after_runs = runs_per_block + 1  # dies during the second block
    with pytest.raises(DeviceError, match="lost contact with Pixel 7.*rerun the same command") as info:
        try:
            profile_blocks(job, backend)
        finally:
            backend.close()
    assert "\n" not in str(info.value)
    journal = (tmp_path / "pixel" / "journal.jsonl").read_text().splitlines()
    assert len(journal) == 1
    first = json.loads(journal[0])["key"]
    phone.plugged, phone.unplug_after_runs = True, None  # plugged back in
    backend = AndroidBackend("pixel", adb=adb, benchmark_binary=binary)
    before = phone.runs
    try:
        profile = profile_blocks(job, backend)
    finally:
        backend.close()
    assert set(profile.lut.entries) == {SMALL, HEAD}
    assert phone.runs - before == runs_per_block  # only the missing block was measured
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
