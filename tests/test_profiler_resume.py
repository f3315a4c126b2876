"""Resuming `latkit profile` after a real process was killed or interrupted.

These tests start the installed ``latkit`` command as a subprocess, stop it
with SIGKILL or SIGINT once some blocks are journaled, and check what a rerun
makes of the directory. One resolution keeps them to some 20-40 s.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from latency_kit.profiles.profile import JOURNAL_FILE, LUT_FILE, META_FILE
from latency_kit.spaces.ofa_mbv3 import OFAMobileNetV3

LATKIT = str(Path(sys.executable).with_name("latkit"))
BLOCKS_224 = {b.key for b in OFAMobileNetV3(resolutions=(224,)).all_blocks()}


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    """One LATKIT_HOME for the module, so both tests share the ONNX export cache."""
    return tmp_path_factory.mktemp("resume_home")


def env_for(home: Path) -> dict[str, str]:
    return {**os.environ, "LATKIT_HOME": str(home), "COLUMNS": "120"}


def profile_args(out: Path | None = None) -> list[str]:
    args = [LATKIT, "profile", "--device", "cpu", "--resolution", "224"]
    if _has_option("--calibrate"):  # whole-network calibration is not what is tested here
        args += ["--calibrate", "0"]
    return args + (["--out", str(out)] if out else [])


def _has_option(option: str) -> bool:
    from click.testing import CliRunner

    from latency_kit.cli import main

    return option in CliRunner().invoke(main, ["profile", "--help"]).output


def start(args: list[str], home: Path, stderr_path: Path) -> subprocess.Popen:
    # SIGINT must reach Python as KeyboardInterrupt even when this test runs
    # in a background job (where the shell sets it to "ignore").
    return subprocess.Popen(args, env=env_for(home), stdout=subprocess.DEVNULL,
                            stderr=open(stderr_path, "w"),
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def wait_for_journal(proc: subprocess.Popen, path: Path, lines: int, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_bytes().count(b"\n") >= lines:
            return
        if proc.poll() is not None:
            pytest.fail(f"latkit profile exited ({proc.returncode}) before journaling {lines} blocks")
        time.sleep(0.05)
    proc.kill()
    pytest.fail(f"no {lines} journaled blocks within {timeout} s")


def journaled(path: Path) -> dict[str, dict]:
    """Complete journal records by key (a kill may truncate the last line)."""
    out = {}
    for line in path.read_bytes().splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        out[record["key"]] = record["stats"]
    return out


def load_without_losing_duplicates(path: Path) -> dict:
    def no_duplicates(pairs):
        keys = [k for k, _ in pairs]
        assert len(keys) == len(set(keys)), f"duplicate keys in {path}"
        return dict(pairs)

    return json.loads(path.read_text(), object_pairs_hook=no_duplicates)


@pytest.mark.slow
def test_sigkill_then_rerun_resumes(home: Path, tmp_path: Path) -> None:
    out = tmp_path / "profile"
    journal_path = out / JOURNAL_FILE
    proc = start(profile_args(out), home, tmp_path / "first.err")
    wait_for_journal(proc, journal_path, lines=8)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    before = journaled(journal_path)
    assert len(before) >= 8 and set(before) <= BLOCKS_224
    assert not (out / LUT_FILE).exists()
    assert json.loads((out / META_FILE).read_text())["status"] == "incomplete"

    result = subprocess.run(profile_args(out), env=env_for(home), capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr
    summary = " ".join(result.stderr.split())
    assert "96 entries" in summary and "median CV" in summary and "s this run" in summary

    assert not journal_path.exists()
    meta = json.loads((out / META_FILE).read_text())
    assert meta["status"] == "complete"
    lut = load_without_losing_duplicates(out / LUT_FILE)
    assert set(lut["entries"]) == BLOCKS_224 and len(lut["entries"]) == 96
    # Blocks measured before the kill were kept, not measured again.
    for key, stats in before.items():
        assert lut["entries"][key] == stats, key
    assert meta["fingerprint"]["resolutions"] == [224]

    # Reopening the finished profile measures nothing and adds no build time.
    again = subprocess.run(profile_args(out), env=env_for(home), capture_output=True, text=True,
                           timeout=600)
    assert again.returncode == 0, again.stderr
    reopened = json.loads((out / META_FILE).read_text())
    assert reopened["status"] == "complete"
    assert reopened["build_seconds"] == meta["build_seconds"] > 0
    assert load_without_losing_duplicates(out / LUT_FILE) == lut


@pytest.mark.slow
def test_ctrl_c_prints_resume_hint_at_default_location(home: Path, tmp_path: Path) -> None:
    journal_path = home / "profiles" / "cpu" / JOURNAL_FILE
    proc = start(profile_args(), home, tmp_path / "stderr.txt")
    wait_for_journal(proc, journal_path, lines=3)
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=60)
    stderr = (tmp_path / "stderr.txt").read_text()
    assert proc.returncode not in (0, None)
    assert "Traceback" not in stderr
    assert "rerun the same command to resume" in stderr

    # The default-location profile is listed as unfinished, with what it holds.
    listing = subprocess.run([LATKIT, "devices", "--json"], env=env_for(home),
                             capture_output=True, text=True, timeout=120)
    assert listing.returncode == 0, listing.stderr
    rows = {row["name"]: row for row in json.loads(listing.stdout)["profiles"]}
    assert rows["cpu"]["status"] == "incomplete"
    assert rows["cpu"]["journaled"] == len(journaled(journal_path)) >= 3
