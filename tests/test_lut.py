"""The lookup table: round trip, merge, queries and corrupt files."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from latency_kit.errors import CorruptFileError, LatkitError, MissingEntryError
from latency_kit.lut import SCHEMA, VERSION, LatencyTable
from latency_kit.stats import LatencyStats

LATKIT = str(Path(sys.executable).with_name("latkit"))  # the installed console script
KEY_A = "Logits-input:1x1x1536-output:1000"
KEY_B = "Conv_2-input:1x1x1152-output:1x1x1536"
KEY_C = "AvgPool2D-input:7x7x1152-output:1x1x1152"


def make_table(name: str = "bench", **entries: list[float]) -> LatencyTable:
    keys = {"a": KEY_A, "b": KEY_B, "c": KEY_C}
    table = LatencyTable(space="ofa-mbv3", name=name,
                         fingerprint={"device": "cpu", "runtime": "onnxruntime", "threads": 1},
                         settings={"repeats": 5})
    for short, samples in entries.items():
        table.add(keys[short], LatencyStats.from_samples(samples, iterations=3))
    return table


def test_round_trip(tmp_path: Path) -> None:
    table = make_table(a=[0.30, 0.31, 0.29, 0.33], b=[0.2, 0.21, 0.25])
    table.add(KEY_C, LatencyStats.from_samples([0.02, 0.02]).flag())
    path = tmp_path / "lut.json"
    table.save(path)
    loaded = LatencyTable.load(path)
    assert loaded == table
    assert loaded.entries[KEY_C].flagged
    data = json.loads(path.read_text())
    assert data["schema"] == SCHEMA and data["version"] == VERSION and data["unit"] == "ms"
    assert list(data["entries"]) == sorted(data["entries"])  # stable, diff-friendly order


def test_save_is_atomic_and_leaves_no_temp_files(tmp_path: Path) -> None:
    path = tmp_path / "lut.json"
    make_table(a=[1.0]).save(path)
    make_table(a=[2.0]).save(path)
    assert [p.name for p in tmp_path.iterdir()] == ["lut.json"]
    assert LatencyTable.load(path).query(KEY_A) == 2.0
    # The temporary file's private 0600 mode must not stick to the table.
    umask = os.umask(0o022)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask


def test_query_total_missing() -> None:
    table = make_table(a=[0.3, 0.3, 0.3], b=[0.2, 0.2, 0.2])
    assert table.query(KEY_A) == pytest.approx(0.3)
    assert table.total([KEY_A, KEY_B, KEY_A]) == pytest.approx(0.8)
    assert table.missing([KEY_A, KEY_C]) == [KEY_C]
    assert KEY_A in table and KEY_C not in table and len(table) == 2
    assert sorted(table) == sorted([KEY_A, KEY_B])


def test_missing_key_names_key_and_profile() -> None:
    table = make_table(name="pixel7", a=[0.3])
    with pytest.raises(MissingEntryError) as info:
        table.total([KEY_A, KEY_C])
    message = str(info.value)
    assert KEY_C in message and "pixel7" in message and "latkit profile" in message
    assert "\n" not in message
    assert isinstance(info.value, LatkitError) and isinstance(info.value, KeyError)


def test_merge_keeps_ours_unless_overwrite() -> None:
    ours = make_table(a=[1.0], b=[1.0])
    theirs = make_table(b=[2.0], c=[2.0])
    assert ours.merge(theirs) is ours
    assert ours.query(KEY_B) == 1.0 and ours.query(KEY_C) == 2.0
    ours.merge(make_table(b=[3.0]), overwrite=True)
    assert ours.query(KEY_B) == 3.0 and len(ours) == 3


def test_merge_refuses_another_space() -> None:
    with pytest.raises(LatkitError, match="nb201"):
        make_table(a=[1.0]).merge(LatencyTable(space="nb201"))


def test_minimal_foreign_entries_load(tmp_path: Path) -> None:
    path = tmp_path / "lut.json"
    path.write_text(json.dumps({"schema": SCHEMA, "version": VERSION, "space": "ofa-mbv3",
                                "entries": {KEY_A: {"median_ms": 0.5, "count": 10}}}))
    table = LatencyTable.load(path)
    assert table.query(KEY_A) == 0.5 and table.entries[KEY_A].cv is None


def _valid() -> dict:
    return make_table(a=[0.3, 0.31], b=[0.2, 0.2]).to_dict()


CORRUPTIONS = {
    "empty": lambda p: p.write_text(""),
    "truncated": lambda p: p.write_text(json.dumps(_valid())[:200]),
    "binary": lambda p: p.write_bytes(b"\x80\x81\xfe\xff" * 10),
    "not_an_object": lambda p: p.write_text("[1, 2, 3]"),
    "wrong_schema": lambda p: p.write_text(json.dumps({**_valid(), "schema": "other.tool"})),
    "wrong_version": lambda p: p.write_text(json.dumps({**_valid(), "version": 99})),
    "no_entries": lambda p: p.write_text(json.dumps({k: v for k, v in _valid().items()
                                                     if k != "entries"})),
    "entries_a_list": lambda p: p.write_text(json.dumps({**_valid(), "entries": [1, 2]})),
    "entry_not_object": lambda p: p.write_text(json.dumps({**_valid(), "entries": {KEY_A: 3}})),
    "median_is_text": lambda p: p.write_text(json.dumps(
        {**_valid(), "entries": {KEY_A: {"median_ms": "fast", "count": 3}}})),
    "negative_median": lambda p: p.write_text(json.dumps(
        {**_valid(), "entries": {KEY_A: {"median_ms": -1.0, "count": 3}}})),
    "no_space": lambda p: p.write_text(json.dumps({k: v for k, v in _valid().items()
                                                  if k != "space"})),
    "a_directory": lambda p: p.mkdir(),
}


@pytest.mark.parametrize("corruption", sorted(CORRUPTIONS))
def test_corrupt_files_give_one_clear_error(tmp_path: Path, corruption: str) -> None:
    path = tmp_path / "lut.json"
    CORRUPTIONS[corruption](path)
    with pytest.raises(CorruptFileError) as info:
        LatencyTable.load(path)
    message = str(info.value)
    assert str(path) in message and "\n" not in message


def test_wrong_version_says_which(tmp_path: Path) -> None:
    path = tmp_path / "lut.json"
    CORRUPTIONS["wrong_version"](path)
    with pytest.raises(CorruptFileError, match="version 99"):
        LatencyTable.load(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CorruptFileError, match="does not exist"):
        LatencyTable.load(tmp_path / "nope.json")


def _write_profile(directory: Path) -> None:
    """A small complete profile directory in the documented layout."""
    from latency_kit.profiles.profile import LUT_FILE, META_FILE, SCHEMA as PROFILE_SCHEMA

    directory.mkdir(parents=True)
    make_table(name=directory.name, a=[0.3]).save(directory / LUT_FILE)
    (directory / META_FILE).write_text(json.dumps({
        "schema": PROFILE_SCHEMA, "version": 1, "name": directory.name, "space": "ofa-mbv3",
        "space_options": {"resolutions": [224]}, "device": "cpu", "backend": "onnxruntime",
        "fingerprint": {"device": "cpu", "runtime": "onnxruntime"}, "settings": {},
        "status": "complete"}))


def _error_lines(stderr: str) -> list[str]:
    """stderr without `profile`'s busy-machine advice (``note: this machine is busy``),
    which a loaded test machine adds before the error."""
    return [line for line in stderr.strip().splitlines() if not line.startswith("note:")]


def test_cli_on_corrupt_lut_prints_one_line(tmp_path: Path) -> None:
    """A real `latkit profile` process on a damaged profile dir: one line, exit 2."""
    out = tmp_path / "broken"
    _write_profile(out)
    (out / "lut.json").write_text('{"schema": "latkit.')  # truncated mid-write by another tool
    result = subprocess.run([LATKIT, "profile", "--device", "cpu", "--out", str(out)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = _error_lines(result.stderr)
    assert len(lines) == 1 and lines[0].startswith("error:") and "lut.json" in lines[0]


@pytest.mark.parametrize("content", ['{"schema": "latkit.', "[]", '{"schema": "other"}'])
def test_cli_on_corrupt_metadata_prints_one_line(tmp_path: Path, content: str) -> None:
    from click.testing import CliRunner

    from latency_kit.cli import main

    out = tmp_path / "broken"
    _write_profile(out)
    (out / "profile.json").write_text(content)
    result = CliRunner().invoke(main, ["profile", "--device", "cpu", "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)
    lines = _error_lines(result.stderr)
    assert len(lines) == 1 and lines[0].startswith("error:") and "profile.json" in lines[0]
