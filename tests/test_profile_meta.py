"""``profile.json`` has one owner, :class:`ProfileMeta`: what it writes, reads and refuses.

The shipped profiles were written by earlier releases; reading and writing
them again must give the same bytes. Each kind of profile gets the fields (in
the order) that the earlier hand-built dicts gave it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from latency_kit.errors import CorruptFileError
from latency_kit.profiles.calibration_file import read_calibration, read_calibration_file, write_calibration
from latency_kit.profiles.profile import META_FILE, SCHEMA, VERSION, NotAProfileError, ProfileMeta, load_profile

SHIPPED = Path(__file__).resolve().parents[1] / "device_profiles"
BASE_FIELDS = ["schema", "version", "name", "space", "space_options", "device", "backend",
               "fingerprint", "settings", "status"]


@pytest.mark.parametrize("name", sorted(p.name for p in SHIPPED.iterdir() if (p / META_FILE).is_file()))
def test_shipped_profiles_read_and_write_unchanged(name: str, tmp_path: Path) -> None:
    meta = ProfileMeta.read(SHIPPED / name)
    assert meta.kind == "lut" and meta.complete and meta["version"] == VERSION
    meta.write(tmp_path)
    original, written = ((d / META_FILE).read_text() for d in (SHIPPED / name, tmp_path))
    assert list(json.loads(written).items()) == list(json.loads(original).items())  # same order
    if original.startswith('{\n "'):  # written by latkit (two GPU ones were re-indented by hand)
        assert written == original
    assert load_profile(SHIPPED / name).meta == meta


def test_new_meta_fields_in_file_order() -> None:
    lut = ProfileMeta.new("p", "ofa-mbv3", "cpu", "onnxruntime", fingerprint={"a": 1})
    assert list(lut) == BASE_FIELDS and lut["status"] == "incomplete" and lut.kind == "lut"
    table = ProfileMeta.new("t", "nb201", "t", "imported", kind="table", status="complete")
    assert list(table) == ["schema", "version", "kind", *BASE_FIELDS[2:]]
    assert table == {"schema": SCHEMA, "version": VERSION, "kind": "table", "name": "t",
                     "space": "nb201", "space_options": {}, "device": "t", "backend": "imported",
                     "fingerprint": {}, "settings": {}, "status": "complete"}
    fewshot = ProfileMeta.new("f", "nb201", "f", "x", kind="fewshot", shots=3, data_digest="d")
    assert list(fewshot)[-2:] == ["shots", "data_digest"] and fewshot.kind == "fewshot"


def test_read_refuses_other_files_and_versions(tmp_path: Path) -> None:
    (tmp_path / META_FILE).write_text(json.dumps({"schema": "something else"}))
    with pytest.raises(NotAProfileError, match="not a latkit profile"):
        ProfileMeta.read(tmp_path)
    (tmp_path / META_FILE).write_text(json.dumps({"schema": SCHEMA, "version": 99}))
    with pytest.raises(CorruptFileError, match="profile version 99; expected 1"):
        ProfileMeta.read(tmp_path)
    assert ProfileMeta.read(tmp_path, any_version=True)["version"] == 99
    with pytest.raises(CorruptFileError, match="does not exist"):
        ProfileMeta.read(tmp_path / "missing")


def test_calibration_file_round_trip(tmp_path: Path) -> None:
    source = SHIPPED / "amd-epyc-ort-1t" / "calibration.json"
    data = read_calibration_file(source)
    copy = tmp_path / "calibration.json"
    write_calibration(copy, data["entries"], **{k: v for k, v in data.items()
                                               if k not in ("schema", "version", "unit", "entries")})
    assert json.loads(copy.read_text()) == json.loads(source.read_text())
    assert read_calibration(tmp_path / "absent.json") == []
    shutil.copy(source, copy)
    copy.write_text(copy.read_text().replace('"version": 1', '"version": 7', 1))
    with pytest.raises(CorruptFileError, match="calibration version 7"):
        read_calibration(copy)
