"""Import/export of other tools' latency tables, the restricted unpickler, and
the OFA Note10 published-latency check."""

from __future__ import annotations

import csv
import glob
import io
import json
import os
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from latency_kit import load_profile
from latency_kit.cli import main
from latency_kit.errors import ArchError, CorruptFileError, LatkitError
from latency_kit.formats import export_profile, import_tables
from latency_kit.formats.net_config import check_published, read_net_config
from latency_kit.lut import LatencyTable
from latency_kit.safe_pickle import RefusedPickleError, safe_load
from latency_kit.spaces.ofa_mbv3 import OFAMobileNetV3
from latency_kit.stats import LatencyStats
from latency_kit.profiles.table import TableProfile

ARCH_NB201 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"
OFA_ARCH = "k3e4-k5e6_k3e3-k3e3-k7e6_k5e4-k5e4_k7e6-k3e3_k3e3-k3e3-k3e3-k3e3"


def _ofa_yaml(tmp_path: Path, res: int = 160) -> Path:
    """A small OFA-format table over every block of one resolution (synthetic values)."""
    rng = np.random.default_rng(res)
    data = {b.key: {"count": int(rng.integers(100, 500)), "mean": float(rng.uniform(0.01, 5)),
                    "std": float(rng.uniform(0.001, 0.1))}
            for b in OFAMobileNetV3(resolutions=(res,)).all_blocks()}
    path = tmp_path / f"{res}_lookup_table.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _loads(path: Path):
    return yaml.safe_load(path.read_text())


# -- round trips ----------------------------------------------------------------
def test_ofa_yaml_round_trip_is_lossless(tmp_path):
    files = [_ofa_yaml(tmp_path, 160), _ofa_yaml(tmp_path, 176)]
    profile = import_tables("ofa-yaml", files, "synth")
    assert profile.meta["space_options"] == {"resolutions": [160, 176]}
    written = export_profile(profile, "ofa-yaml", tmp_path / "out")
    assert sorted(p.name for p in written) == sorted(f.name for f in files)
    for f in files:
        assert _loads(tmp_path / "out" / f.name) == _loads(f)


def test_note10_round_trip_and_predict(refdata, tmp_path):
    files = sorted((refdata / "ofa" / "note10_lut").glob("*_lookup_table.yaml"))
    profile = import_tables("ofa-yaml", files, "note10")
    records = profile.meta["fingerprint"]["sources"]
    assert [r["format"] for r in records] == ["ofa-yaml"] * 5
    assert all(len(r["sha256"]) == 64 and Path(r["file"]).name == r["name"] for r in records)
    export_profile(profile, "ofa-yaml", tmp_path / "out")
    for f in files:
        assert _loads(tmp_path / "out" / f.name) == _loads(f)
    loaded = load_profile("note10")
    space = loaded.space
    archs = [space.parse(f"r{r}_{OFA_ARCH}") for r in (160, 176, 192, 208, 224)]
    ms = loaded.predict_many(archs)
    assert np.all(np.isfinite(ms)) and np.all(np.diff(ms) > 0)  # larger input, slower
    entry = loaded.lut.entries["Conv-input:224x224x3-output:112x112x24"]
    assert entry.median_ms == entry.mean_ms == 0.994418 and entry.count == 500
    assert entry.p10_ms is None and entry.iqr_ms is None  # not given by OFA, not invented


def test_proxyless_round_trip_is_lossless(refdata, tmp_path):
    src = refdata / "proxylessnas_lut" / "pixel_trim.yaml"
    profile = import_tables("proxyless-yaml", [src], "pxl")
    assert len(profile.lut) == 72
    key = "expanded_conv-input:112x112x16-output:56x56x24-expand:6-kernel:3-stride:2-idskip:0"
    assert profile.lut.query(key) == pytest.approx(11.297755952380951)
    out = tmp_path / "pixel.yaml"
    export_profile(profile, "proxyless-yaml", out)
    assert _loads(out) == _loads(src)


def _measured_like_table(space_res: int = 160) -> LatencyTable:
    """A latkit table with every stats field filled (values synthetic, format test only)."""
    table = LatencyTable(space="ofa-mbv3", name="m")
    for i, block in enumerate(OFAMobileNetV3(resolutions=(space_res,)).all_blocks()):
        table.add(block.key, LatencyStats.from_samples([0.1 + 0.01 * i + 0.001 * j for j in range(7)]))
    return table


@pytest.mark.parametrize("fmt", ["csv", "json", "ofa-yaml", "proxyless-yaml"])
def test_block_formats_round_trip(tmp_path, fmt):
    table = _measured_like_table()
    src = tmp_path / "src.json"
    table.save(src)
    profile = import_tables("json", [src], "orig")
    out = tmp_path / ("exported" if fmt == "ofa-yaml" else f"exported.{fmt}")
    written = export_profile(profile, fmt, out)
    back = import_tables(fmt, written, "back", space="ofa-mbv3")
    assert set(back.lut.entries) == set(table.entries)
    for key, stats in table.entries.items():
        got = back.lut.entries[key]
        assert got.median_ms == stats.median_ms and got.count == stats.count
        if fmt in ("csv", "json"):
            assert got == stats  # every field survives
        else:
            assert got.cv == pytest.approx(stats.cv, rel=1e-12)


def test_table_csv_round_trip_and_lookup(tmp_path):
    src = tmp_path / "t.csv"
    rows = {ARCH_NB201: 3.25, ARCH_NB201.replace("avg_pool_3x3", "none"): 1.5}
    src.write_text("arch,value\n" + "".join(f"{a},{v}\n" for a, v in rows.items()))
    profile = import_tables("table", [src], "tbl")
    assert isinstance(load_profile("tbl"), TableProfile)
    assert profile.predict(ARCH_NB201) == 3.25
    out = tmp_path / "out.csv"
    export_profile(profile, "table", out)
    back = import_tables("table", [out], "tbl2")
    assert back.entries == profile.entries
    with pytest.raises(LatkitError, match="not in the per-architecture table"):
        profile.predict(ARCH_NB201.replace("skip_connect~2", "none~2"))


def test_help_import_matches_reference(refdata, tmp_path):
    root = refdata / "help" / "nasbench201"
    profile = import_tables("help", [root / "latency" / "pixel3.pt"], "pixel3",
                            index=root / "str_arch2idx.pt")
    assert len(profile.entries) == 15625
    index = safe_load(root / "str_arch2idx.pt")
    first = next(a for a, i in index.items() if i == 0)
    assert profile.predict(first) == pytest.approx(3.60585)
    out = tmp_path / "pixel3.json"
    export_profile(profile, "json", out)
    assert json.loads(out.read_text())["entries"] == profile.entries


def test_eagle_dict_in_seconds(refdata):
    path = refdata / "eagle_brpnas" / "desktop-cpu-core-i7-7820x-fp32.pkl"
    profile = import_tables("dict", [path], "i7", unit="s")
    assert len(profile.entries) == 15284
    assert profile.predict(ARCH_NB201) == pytest.approx(7.061712741851807)


def test_hwnas_style_nested_dict(tmp_path):
    index = {ARCH_NB201: 0, ARCH_NB201.replace("avg_pool_3x3", "none"): 1}
    (tmp_path / "idx.json").write_text(json.dumps(index))
    nested = {"nasbench201": {"cifar10": {"pixel3_latency": [3.5, 2.0]}}}
    (tmp_path / "hw.pkl").write_bytes(pickle.dumps(nested))
    profile = import_tables("dict", [tmp_path / "hw.pkl"], "hw", index=tmp_path / "idx.json",
                            key_path="nasbench201/cifar10/pixel3_latency")
    assert profile.predict(ARCH_NB201) == 3.5


# -- malformed files ------------------------------------------------------------
@pytest.mark.parametrize("fmt,text", [
    ("ofa-yaml", "key: [unclosed\n"),
    ("ofa-yaml", "- just\n- a list\n"),
    ("ofa-yaml", "Conv-input:160x160x3-output:80x80x24: {count: 3, std: 0.1}\n"),
    ("ofa-yaml", "Conv-input:160x160x3-output:80x80x24: {count: 3, mean: -1, std: 0.1}\n"),
    ("ofa-yaml", "Logits-input:1x1x1536-output:1000: {count: 3, mean: 1, std: 0.1}\n"),
    ("proxyless-yaml", "a: {count: 3, mean: 1.0, std: 0.1}\n"),
    ("proxyless-yaml", "a: {count: many, mean: 1.0, var: 0.1}\n"),
    ("csv", "key,value\nx,1\n"),
    ("csv", "key,median_ms,count\nx,fast,3\n"),
    ("json", "{\"schema\": \"other\"}"),
    ("json", "{not json"),
    ("table", "arch,latency\nx,1\n"),
    ("table", "arch,value\nx,slow\n"),
    ("dict", "\x80\x04\x95garbage"),
])
def test_malformed_files_raise_one_line(tmp_path, fmt, text):
    path = tmp_path / "bad.file"
    path.write_text(text, encoding="latin-1")
    with pytest.raises(CorruptFileError) as info:
        import_tables(fmt, [path], "bad")
    assert "\n" not in str(info.value) and str(path) in str(info.value)


def test_help_list_length_must_match_index(tmp_path):
    (tmp_path / "idx.json").write_text(json.dumps({ARCH_NB201: 0}))
    (tmp_path / "lat.pkl").write_bytes(pickle.dumps([1.0, 2.0]))
    with pytest.raises(CorruptFileError, match="2 values but the arch index idx.json has 1"):
        import_tables("help", [tmp_path / "lat.pkl"], "h", index=tmp_path / "idx.json")


def test_missing_file_and_existing_profile(tmp_path):
    with pytest.raises(CorruptFileError, match="does not exist"):
        import_tables("ofa-yaml", [tmp_path / "nope.yaml"], "x")
    src = _ofa_yaml(tmp_path)
    import_tables("ofa-yaml", [src], "x")
    with pytest.raises(LatkitError, match="already exists"):
        import_tables("ofa-yaml", [src], "x")
    assert len(import_tables("ofa-yaml", [src], "x", force=True).lut) == 96


# -- the restricted unpickler ---------------------------------------------------
class _Evil:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_malicious_pickle_is_refused_and_not_run(tmp_path):
    marker = tmp_path / "pwned"
    payload = pickle.dumps({"arch": _Evil(marker)})
    (tmp_path / "evil.pkl").write_bytes(payload)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:  # the torch.save layout
        archive.writestr("archive/data.pkl", payload)
    (tmp_path / "evil.pt").write_bytes(buffer.getvalue())
    for name in ("evil.pkl", "evil.pt"):
        with pytest.raises(RefusedPickleError, match="system"):
            import_tables("dict", [tmp_path / name], "evil")
    assert not marker.exists()
    assert not (Path.cwd() / "pwned").exists()


# -- CLI --------------------------------------------------------------------------
def test_cli_import_export(tmp_path):
    src = _ofa_yaml(tmp_path)
    runner = CliRunner()
    result = runner.invoke(main, ["lut", "import", "--format", "ofa-yaml", str(src),
                                  "--name", "cli", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["entries"] == 96
    result = runner.invoke(main, ["lut", "export", "--device", "cli", "--format", "ofa-yaml",
                                  "-o", str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    assert _loads(tmp_path / "o" / src.name) == _loads(src)
    bad = tmp_path / "bad.yaml"
    bad.write_text("- 1\n")
    result = runner.invoke(main, ["lut", "import", "--format", "ofa-yaml", str(bad), "--name", "b"])
    assert result.exit_code == 2 and result.output.count("\n") == 1
    assert result.output.startswith("error: ")


# -- net.config and the published Note10 check -------------------------------------
def _note10_profile(refdata):
    files = sorted((refdata / "ofa" / "note10_lut").glob("*_lookup_table.yaml"))
    return import_tables("ofa-yaml", files, "note10")


@pytest.mark.refdata
def test_note10_published_latency(refdata):
    folders = sorted(glob.glob(str(refdata / "ofa" / "specialized_net_configs" / "note10_*")))
    rows = {r["net"].split("_top1")[0]: r for r in check_published(_note10_profile(refdata), folders)}
    for net in ("note10_lat-30ms", "note10_lat-41ms", "note10_lat-50ms"):
        assert abs(rows[net]["error"]) <= 0.05, rows[net]
        assert rows[net]["resolution_from"] == "default"  # net.config states no resolution
    # The 8-22 ms nets are OFA MobileNetV3 w1.0 (stem 16, head 960->1280), not ofa-mbv3.
    assert all("skipped" in rows[f"note10_lat-{ms}ms"] for ms in (8, 11, 16, 22))


def test_net_config_errors(tmp_path):
    (tmp_path / "net.config").write_text("{\"blocks\": 3}")
    with pytest.raises(CorruptFileError, match="not an OFA net.config"):
        read_net_config(tmp_path)
    (tmp_path / "net.config").write_text("{oops")
    with pytest.raises(CorruptFileError, match="not valid JSON"):
        read_net_config(tmp_path)


def test_import_refuses_bad_names_and_foreign_dirs(tmp_path):
    src = _ofa_yaml(tmp_path)
    with pytest.raises(LatkitError, match="profile name"):
        import_tables("ofa-yaml", [src], "../escape")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "keep.txt").write_text("precious")
    with pytest.raises(LatkitError, match="not a latkit profile"):
        import_tables("ofa-yaml", [src], "x", out=tmp_path / "mine", force=True)
    assert (tmp_path / "mine" / "keep.txt").exists()
