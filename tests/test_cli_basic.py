"""The `latkit` command: help everywhere, one-line user errors, core commands.

Commands run in-process through click's runner (fast); one bad input also
runs the installed console script to check a real process prints no
traceback.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import numpy as np
import pytest
from click.testing import CliRunner

from latency_kit.cli import main

LATKIT = str(Path(sys.executable).with_name("latkit"))
ARCH = "r224_k3e4-k5e6_k3e3-k3e3_k5e4-k5e4_k7e6-k3e3_k3e3-k3e3"
ARCH_160 = "r160_k3e3-k3e3_k3e3-k3e3_k3e3-k3e3_k3e3-k3e3_k3e3-k3e3"


def command_paths(group: click.Group = main, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command and subcommand under ``group`` (plugins included)."""
    ctx = click.Context(group)
    paths = [prefix]
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if isinstance(command, click.Group):
            paths += command_paths(command, prefix + (name,))
        else:
            paths.append(prefix + (name,))
    return paths


def run(*args: str) -> "click.testing.Result":
    return CliRunner().invoke(main, list(args), prog_name="latkit")


def assert_user_error(result, *fragments: str) -> None:
    """Exit code 2, exactly one stderr line starting with ``error:``, no traceback."""
    assert result.exit_code == 2, (result.output, result.exception)
    assert isinstance(result.exception, SystemExit), result.exception
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), result.stderr
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0]


# -- help -------------------------------------------------------------------------

def test_walk_finds_the_core_commands() -> None:
    found = {" ".join(p) for p in command_paths()}
    assert {"profile", "devices", "space list", "space sample", "export", "measure"} <= found


@pytest.mark.parametrize("path", command_paths(), ids=lambda p: " ".join(p) or "latkit")
def test_help(path: tuple[str, ...]) -> None:
    result = run(*path, "--help")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Usage:")
    # A real description, not just the usage line.
    body = result.output.split("\n", 2)[-1]
    assert len(body.split()) > 3, f"`latkit {' '.join(path)}` has no help text"


# -- bad inputs ----------------------------------------------------------------------

BAD_INPUTS = {
    # a typo of a built-in device lists the known ones; any other name is a phone's model
    # (names no real phone has, so an attached phone cannot match them)
    "profile unknown device": (["profile", "--device", "tflite_cpu"],
                               ["unknown device 'tflite_cpu'", "known devices: android, cpu"]),
    "measure unknown device": (["measure", "--device", "cpuu", "--arch", ARCH], ["unknown device 'cpuu'"]),
    "profile phone not attached": (["profile", "--device", "nosuchphone"],
                                   ["no attached phone matches 'nosuchphone'", "USB debugging",
                                    "`adb devices`", "built-in devices: android, cpu"]),
    "measure phone not attached": (["measure", "--device", "toaster-x9", "--arch", ARCH],
                                   ["no attached phone matches 'toaster-x9'", "built-in devices"]),
    "profile unknown space": (["profile", "--device", "cpu", "--space", "nope"], ["nope", "ofa-mbv3"]),
    "profile cuda graph on cpu": (["profile", "--device", "cpu", "--no-cuda-graph"],
                                  ["device 'cpu' has no CUDA graphs"]),
    "measure cuda graph on cpu": (["measure", "--device", "cpu", "--no-cuda-graph", "--arch", ARCH],
                                  ["device 'cpu' has no CUDA graphs"]),
    "reanchor unknown profile": (["profile", "--reanchor", "--device", "nosuchprofile"],
                                 ["unknown device profile 'nosuchprofile'"]),
    "sample unknown space": (["space", "sample", "--space", "nope"], ["nope", "ofa-mbv3"]),
    "export unknown space": (["export", "--space", "nope", "--arch", ARCH, "-o", "x.onnx"], ["nope"]),
    "profile resolution": (["profile", "--device", "cpu", "--resolution", "300"], ["300", "160"]),
    "sample resolution": (["space", "sample", "--resolution", "100"], ["100", "224"]),
    "measure resolution": (["measure", "--device", "cpu", "--arch", ARCH, "--resolution", "150"],
                           ["150"]),
    "arch resolution": (["export", "--arch", "r150" + ARCH[4:], "-o", "x.onnx"], ["150"]),
    "conflicting resolution": (["measure", "--device", "cpu", "--arch", ARCH_160,
                                "--resolution", "224"], ["160", "224"]),
    "malformed arch": (["measure", "--device", "cpu", "--arch", "k3e3_banana"], ["banana"]),
    "bad layer": (["export", "--arch", ARCH.replace("k3e4", "k9e4"), "-o", "x.onnx"], ["k9e4"]),
    "too few stages": (["export", "--arch", "r224_k3e3-k3e3_k3e3-k3e3", "-o", "x.onnx"],
                       ["malformed"]),
    "bad depth": (["measure", "--device", "cpu", "--arch", "r224_k3e3" + ARCH[13:]], ["depth"]),
    # click's own usage errors get the same one-line treatment
    "bad option value": (["space", "sample", "-n", "0"], ["-n", "latkit space sample --help"]),
    "missing option": (["measure", "--device", "cpu"], ["--arch"]),
    "unknown command": (["toast"], ["toast", "latkit --help"]),
    "unknown option": (["profile", "--device", "cpu", "--fast"], ["--fast"]),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_is_one_line(case: str, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    args, fragments = BAD_INPUTS[case]
    assert_user_error(run(*args), *fragments)
    assert not (tmp_path / "x.onnx").exists()


def test_a_long_error_is_still_one_short_line() -> None:
    """The CLI's last guard: a message quoting a file's contents stays one line."""
    from latency_kit.cli.common import ERROR_CHARS, LatkitGroup
    from latency_kit.errors import LatkitError

    @click.group(cls=LatkitGroup)
    def group() -> None:
        pass

    @group.command()
    def fail() -> None:
        raise LatkitError("table x.yaml holds {" + "'key': 1,\n" * 500 + "}")

    result = CliRunner().invoke(group, ["fail"])
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: table x.yaml holds {'key': 1,; 'key': 1,")
    assert len(line) == len("error: ") + ERROR_CHARS and line.endswith("…")


def test_bad_input_in_a_real_process() -> None:
    result = subprocess.run([LATKIT, "measure", "--device", "tensorrtt", "--arch", ARCH],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.startswith("error: unknown device 'tensorrtt'; known devices: android")
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


# -- space sample ----------------------------------------------------------------------

def test_sample_is_seeded() -> None:
    first, again = run("space", "sample", "-n", "4", "--seed", "3"), run("space", "sample", "-n", "4",
                                                                        "--seed", "3")
    other = run("space", "sample", "-n", "4", "--seed", "4")
    assert first.exit_code == 0 and first.output == again.output != other.output
    lines = first.output.split()
    assert len(lines) == 4 and all(line.startswith("r224_") for line in lines)


def test_sample_json_and_resolution() -> None:
    from latency_kit.spaces import get_space

    result = run("space", "sample", "-n", "3", "--seed", "1", "--resolution", "176", "--json")
    assert result.exit_code == 0, result.output
    records = json.loads(result.stdout)
    space = get_space("ofa-mbv3")
    assert len(records) == 3
    for record in records:
        arch = space.parse(record["arch"])
        assert arch.resolution == 176
        assert space.from_json(record["json"]) == arch
    text = run("space", "sample", "-n", "3", "--seed", "1", "--resolution", "176").output.split()
    assert text == [r["arch"] for r in records]


def test_space_list() -> None:
    result = run("space", "list")
    assert result.exit_code == 0 and "ofa-mbv3" in result.output.split()


# -- export and measure ----------------------------------------------------------------

def test_export_onnx_is_valid(tmp_path: Path) -> None:
    onnx = pytest.importorskip("onnx")
    import onnxruntime as ort

    out = tmp_path / "net.onnx"
    result = run("export", "--arch", ARCH_160, "--format", "onnx", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert result.output.strip() == str(out)
    model = onnx.load(str(out))
    onnx.checker.check_model(model, full_check=True)
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    (logits,) = session.run(None, {"input": np.zeros((1, 3, 160, 160), np.float32)})
    assert logits.shape == (1, 1000)


def test_measure_json() -> None:
    result = run("measure", "--device", "cpu", "--arch", ARCH_160, "--repeats", "3", "--json")
    assert result.exit_code == 0, (result.output, result.exception)
    record = json.loads(result.stdout)
    assert record["arch"] == ARCH_160 and record["device"] == "cpu"
    assert record["latency_ms"] == record["median_ms"] > 0
    assert record["p10_ms"] <= record["latency_ms"] <= record["p90_ms"]
    assert record["iqr_ms"] >= 0 and record["cv"] >= 0 and record["count"] == 3
    fp = record["fingerprint"]
    assert fp["runtime"] == "onnxruntime" and fp["threads"] == 1
    assert fp["input_shape"] == [1, 3, 160, 160] and fp["cpu_model"]


# -- devices ------------------------------------------------------------------------------

def test_devices_json_lists_cpu_and_stored_profiles(latkit_home: Path) -> None:
    """Listing only: the profile is written by latkit's own file code, not measured."""
    from latency_kit.lut import LatencyTable
    from latency_kit.profiles.profile import ProfileMeta
    from latency_kit.spaces import get_space
    from latency_kit.stats import LatencyStats

    space = get_space("ofa-mbv3", resolutions=(224,))
    directory = latkit_home / "profiles" / "laptop"
    fingerprint = {"device": "cpu", "runtime": "onnxruntime", "cpu_model": "Test CPU"}
    ProfileMeta.new("laptop", space.name, "cpu", "onnxruntime", fingerprint=fingerprint,
                    space_options={"resolutions": [224]}, status="complete").write(directory)
    table = LatencyTable(space="ofa-mbv3", name="laptop", fingerprint=fingerprint)
    table.add("Logits-input:1x1x1536-output:1000", LatencyStats.from_dict({"median_ms": 0.3, "count": 1}))
    table.save(directory / "lut.json")

    result = run("devices", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    cpu = [b for b in report["backends"] if b["device"] == "cpu"]
    assert cpu and cpu[0]["available"] and cpu[0]["runtime"] == "onnxruntime"
    rows = {p["name"]: p for p in report["profiles"]}
    assert rows["laptop"]["status"] == "complete" and rows["laptop"]["hardware"] == "Test CPU"
    assert rows["laptop"]["path"] == str(directory)
    # a GPU profile names its GPU, not the host CPU it also records
    assert rows["nvidia-h100-torch-cuda"]["hardware"] == "NVIDIA H100 80GB HBM3"
    assert rows["nvidia-h100-torch-cuda"]["runtime"] == "torch-cuda"

    table_text = run("devices")
    assert table_text.exit_code == 0 and "laptop" in table_text.output
