"""A profile measured on another host: the note, the validate warning, ``profile --reanchor``.

The "other host" is made real enough: a small real 160 px profile whose
stored calibration ms are multiplied by 5 and whose fingerprint names
another CPU and kernel, as when the shipped ``amd-epyc-ort-1t`` (AMD EPYC,
kernel ...-v782) is used on a machine that runs the same networks 5.5x
faster (issue 17). Re-anchoring then measures the calibration networks here
for real (ONNX Runtime), so the level it finds is this machine's.
"""

from __future__ import annotations

import json
import shutil
from io import StringIO

import numpy as np
import pytest
from click.testing import CliRunner

from latency_kit.measure import anchor, load
from latency_kit.cli import main
from latency_kit.fingerprint import host_fingerprint
from latency_kit.profiles.profile import load_profile

from tests.test_predictor import N_CAL, backend, profile_dir  # noqa: F401  (shared fixtures)

OTHER_HOST = {"cpu_model": "AMD EPYC", "os": "Linux 6.18.44-fc-v782"}
ARCH = "r160_k3e4-k5e6_k3e3-k3e3_k5e4-k5e4_k7e6-k3e3_k3e3-k3e3"


@pytest.fixture
def elsewhere(profile_dir, tmp_path):  # noqa: F811
    """A copy of the real profile holding another host's fingerprint and 5x its ms."""
    out = tmp_path / "elsewhere"
    shutil.copytree(profile_dir, out)
    meta = json.loads((out / "profile.json").read_text())
    meta["fingerprint"].update(OTHER_HOST)
    (out / "profile.json").write_text(json.dumps(meta))
    calibration = json.loads((out / "calibration.json").read_text())
    for entry in calibration["entries"]:
        for key, value in entry["stats"].items():
            if key.endswith("_ms") and isinstance(value, (int, float)):
                entry["stats"][key] = 5 * value
    (out / "calibration.json").write_text(json.dumps(calibration))
    return out


def test_host_note_names_the_difference_only_for_host_cpu_profiles(profile_dir, elsewhere) -> None:  # noqa: F811
    assert anchor.host_note(load_profile(profile_dir)) is None  # measured on this host
    profile = load_profile(elsewhere)
    diff = anchor.host_differences(profile)
    assert diff["cpu_model"] == ("AMD EPYC", host_fingerprint()["cpu_model"])
    note = anchor.host_note(profile)
    assert note.startswith("note: profile 'cpu' was measured on another host (cpu_model")
    assert f"latkit validate --profile {elsewhere}" in note  # not found by name: by path
    assert f"latkit profile --reanchor --out {elsewhere}" in note and "\n" not in note
    profile.meta["device"] = "android"  # a phone's profile is not this host's to compare
    assert anchor.host_note(profile) is None


def test_predict_says_so_in_one_line(elsewhere) -> None:
    result = CliRunner().invoke(main, ["predict", "--profile", str(elsewhere), "--arch", ARCH])
    assert result.exit_code == 0, result.output
    notes = [line for line in result.stderr.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and "another host" in notes[0]


def test_validate_warns_outside_the_level_range(elsewhere) -> None:
    result = CliRunner().invoke(main, ["validate", "--profile", str(elsewhere), "-n", "2",
                                       "--rounds", "1", "--processes", "0", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["predictor_level"] < 0.8 / 2  # this host runs them about 5x faster
    assert data["level_warning"].startswith("warning: the networks ran at")
    assert data["level_warning"] in result.stderr and "--reanchor" in data["level_warning"]


def test_reanchor_remeasures_the_calibration_networks_and_keeps_the_old(elsewhere) -> None:
    before = json.loads((elsewhere / "calibration.json").read_text())
    lut_before = (elsewhere / "lut.json").read_bytes()
    result = CliRunner().invoke(main, ["profile", "--reanchor", "--out", str(elsewhere),
                                       "--calibration-processes", "0"])
    assert result.exit_code == 0, result.output
    assert "re-anchored profile" in result.stdout
    profile = load_profile(elsewhere)
    assert (elsewhere / "lut.json").read_bytes() == lut_before  # the block table is kept
    after = profile.calibration()
    assert [e["arch"] for e in after] == [e["arch"] for e in before["entries"]]
    level = profile.meta["anchor"]["level"]
    ratios = [a["stats"]["median_ms"] / b["stats"]["median_ms"]
              for a, b in zip(after, before["entries"])]
    assert level == pytest.approx(float(np.exp(np.mean(np.log(ratios)))))
    assert 0.1 < level < 0.4  # the stored ms were 5x this host's
    kept = elsewhere / profile.meta["anchor"]["previous"]
    assert json.loads(kept.read_text()) == before  # nothing is lost
    assert profile.meta["anchor"]["host"] == host_fingerprint()
    assert profile.meta["anchor"]["networks"] == N_CAL
    assert anchor.host_note(profile) is None  # its level is this host's now
    assert not (elsewhere / anchor.JOURNAL).exists()


def test_reanchor_copies_a_shipped_profile(profile_dir, tmp_path, monkeypatch) -> None:  # noqa: F811
    shipped = tmp_path / "shipped"
    shutil.copytree(profile_dir, shipped / "cpu160")
    monkeypatch.setattr(anchor, "shipped_profiles_dir", lambda: shipped)
    profile = load_profile(shipped / "cpu160")

    from latency_kit.stats import LatencyStats

    def measured(*args, **kwargs):  # stands in for the measurement: only files are tested here
        return [LatencyStats(median_ms=1.0, count=1) for _ in profile.calibration()], {"rounds": 1}

    monkeypatch.setattr(anchor, "measure_networks", measured)
    done = anchor.reanchor(profile, backend=None)  # type: ignore[arg-type]
    assert done.path == anchor.profiles_dir() / profile.name != shipped / "cpu160"
    assert not any(p.name.startswith("calibration.2") for p in (shipped / "cpu160").iterdir())
    assert load_profile(profile.name).path == done.path  # the user copy shadows the shipped one


def test_reanchor_refuses_a_profile_without_calibration(profile_dir, tmp_path) -> None:  # noqa: F811
    out = tmp_path / "bare"
    shutil.copytree(profile_dir, out)
    (out / "calibration.json").unlink()
    result = CliRunner().invoke(main, ["profile", "--reanchor", "--out", str(out)])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: profile 'cpu' has no calibration networks")
    # an imported table: refused before any device is opened (no "attach a phone" detour)
    from latency_kit.formats import import_tables

    table = tmp_path / "t.csv"
    table.write_text("arch,value\n|nor_conv_3x3~0|+|nor_conv_3x3~0|none~1|+|none~0|none~1|"
                     "nor_conv_3x3~2|,1.5\n")
    import_tables("table", [table], "note10", space="nb201")
    result = CliRunner().invoke(main, ["profile", "--reanchor", "--device", "note10"])
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: profile 'note10' has no calibration networks")


# -- a busy machine ---------------------------------------------------------------
def test_busy_note_and_spread_advice_follow_the_load(monkeypatch) -> None:
    monkeypatch.setattr(load, "cores", lambda: 2)
    monkeypatch.setattr(load.os, "getloadavg", lambda: (1.85, 1.6, 1.2))
    assert "load average 1.85, 1.60, 1.20 on 2 cores" in load.busy_note()
    advice = load.spread_advice(0.229, 15, 96)
    assert advice.startswith("warning: median spread (CV) 0.229 is above 0.1")
    assert "15 of 96" in advice and "1.85" in advice and "--calibration-processes" in advice
    assert "taskset" in advice and "\n" not in advice
    assert load.spread_advice(0.038, 0, 96) is None  # the shipped profile's spread
    monkeypatch.setattr(load.os, "getloadavg", lambda: (0.3, 0.2, 0.1))
    assert load.busy_note() is None
    assert load.median_cv([0.05, None, 0.01, 0.3]) == 0.05 and load.median_cv([None]) is None


def test_one_display_covers_every_stage(monkeypatch) -> None:
    from rich.console import Console

    from latency_kit.cli import common as _common

    out = StringIO()
    monkeypatch.setattr(_common, "console", lambda stderr=True: Console(file=out, width=160))
    with _common.progress_bar("profiling cpu") as update:
        for done in range(1, 97):
            update(done, 96, f"block {done}")
        update(0, 90, "process 1/3 starting", stage="calibration")
        update(1, 90, "r224_...", stage="calibration")
    text = out.getvalue()
    assert "profiling cpu " in text and "96/96" in text
    assert "profiling cpu: calibration" in text and "1/90" in text


def test_the_busy_note_shows_only_once_measuring_starts(monkeypatch) -> None:
    from rich.console import Console

    from latency_kit.cli import common as _common

    monkeypatch.setattr(_common, "console", lambda stderr=True: Console(file=StringIO(), width=160))
    lines = []
    monkeypatch.setattr(_common.click, "echo", lambda text, err=False: lines.append(text))
    with _common.progress_bar("profiling cpu", heading="note: this machine is busy"):
        pass  # failed before measuring: no note, so the error stays the only line
    assert lines == []
    with _common.progress_bar("profiling cpu", heading="note: this machine is busy") as update:
        update(1, 2, "a")
    assert lines == ["note: this machine is busy"]
