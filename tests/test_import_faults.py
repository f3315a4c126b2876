"""The fault kinds of table imports (issue 17), one rule each, in every importer.

Each test writes its input in the layout of the tool that produces it (named
in its docstring) with numbers written here, or reads the public reference
data (skipped when absent). Kinds: duplicates within one file, units, joins
with an index, error length, encodings and syntax, partial tables as costs.
"""

from __future__ import annotations

import io
import itertools
import json
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from latency_kit import load_profile
from latency_kit.cli import main
from latency_kit.errors import LatkitError
from latency_kit.formats import export_profile, import_tables
from latency_kit.formats.arch_tables import nb201_string
from latency_kit.formats.checks import PLAUSIBLE_MS
from latency_kit.formats.net_config import read_net_config
from latency_kit.spaces import get_space
from nas.budget import estimate_range
from nas.sources.costs import TableCost, TableProfileCost, resolve_cost

ERROR_CHARS = 300
# Six NAS-Bench-201 cells in the string form of NAS-Bench-201's CellStructure.tostr()
# (D-X-Y/NAS-Bench-201), as HELP's str_arch2idx.pt and HW-NAS-Bench spell them.
OPS = list(itertools.islice(itertools.product(range(1, 5), repeat=6), 0, 4096, 700))[:6]
CELLS = [nb201_string(ops) for ops in OPS]
NB201 = get_space("nb201")


def _error(call, *args, **kwargs) -> str:
    """Run ``call``; it must raise one short LatkitError line, returned."""
    with pytest.raises(LatkitError) as info:
        call(*args, **kwargs)
    message = str(info.value)
    assert "\n" not in message and len(message) <= ERROR_CHARS, message
    return message


def _cli(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args])


def _cli_error(*args: str) -> str:
    """A ``latkit`` command that must fail with exit 2 and one short error line."""
    result = _cli(*args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert len(lines[0]) <= ERROR_CHARS + len("error: ")
    return lines[0]


def _torch_zip(path: Path, obj) -> Path:
    """``obj`` in the layout ``torch.save`` writes (a zip whose ``archive/data.pkl``
    is the pickle), as HELP's ``latency/<device>.pt`` and ``str_arch2idx.pt`` are."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("archive/data.pkl", pickle.dumps(obj, protocol=2))
        archive.writestr("archive/version", "3\n")
    path.write_bytes(buffer.getvalue())
    return path


def _ofa_yaml_text(entries: dict[str, tuple[int, float, float]], spread: str = "std") -> str:
    """OFA's ``<r>_lookup_table.yaml`` layout (han-cai/files note10_lut, written by
    PyYAML's ``yaml.dump`` in block style): a block key, then count/mean/std
    indented two spaces, four lines per entry (kept in the given order here)."""
    data = {key: {"count": c, "mean": m, spread: s} for key, (c, m, s) in entries.items()}
    return yaml.safe_dump(data, default_flow_style=False, sort_keys=False)


# Block keys of OFA's 160 px Note10 table, with numbers of the same size written here (ms).
OFA_160 = {
    "Conv-input:160x160x3-output:80x80x24": (498, 0.4956, 0.0102),
    "Conv_1-input:5x5x192-output:5x5x1152": (498, 0.4457, 0.0211),
    "expanded_conv-input:80x80x24-output:80x80x24-expand:24-kernel:3-stride:1-idskip:1-se:0-hs:0":
        (497, 0.9120, 0.0310),
    "Logits-input:1x1x1536-output:1000": (495, 0.2010, 0.0050),
}


# -- duplicates within one file --------------------------------------------------------
def test_table_csv_duplicate_names_both_lines_in_import_and_cost(tmp_path):
    """An ``arch,value`` CSV (latkit's ``table`` format, as ``--cost table:`` reads
    it) with one cell twice, once padded with spaces: both routes refuse it, naming
    the cell and both lines, instead of the import keeping the last silently."""
    path = tmp_path / "pixel3.csv"
    path.write_text(f"arch,value\n{CELLS[0]},3.61\n{CELLS[1]},17.2\n  {CELLS[0]}  ,4.10\n")
    for message in (_error(import_tables, "table", [path], "dup"),
                    _error(TableCost.from_file, path, NB201)):
        assert CELLS[0] in message and "line 2 and line 4" in message
    assert "line 2 and line 4" in _cli_error("lut", "import", "--format", "table", path,
                                             "--name", "dup")
    assert not (tmp_path / "profiles" / "dup").exists()


@pytest.mark.parametrize("fmt,spread", [("ofa-yaml", "std"), ("proxyless-yaml", "var")])
def test_yaml_repeated_key_names_both_lines(tmp_path, fmt, spread):
    """OFA (``MBv3LatencyTable``) and ProxylessNAS (``pixel_trim.yaml``) tables are
    YAML mappings; PyYAML keeps the last of two equal keys silently. A block key
    twice, and a field twice inside one entry, are errors naming both lines."""
    text = _ofa_yaml_text(OFA_160, spread)
    key = next(iter(OFA_160))
    again = text + f"{key}:\n  count: 3\n  mean: 9.9\n  {spread}: 0.1\n"
    path = tmp_path / "160_lookup_table.yaml"
    path.write_text(again)
    message = _error(import_tables, fmt, [path], "dup")
    assert repr(key) in message and "line 1 and line 17" in message
    path.write_text(text.replace("  count: 498\n", "  count: 498\n  count: 499\n", 1))
    assert "'count' appears twice, at line 2 and line 3" in _error(import_tables, fmt, [path], "d")


def test_block_csv_and_lut_json_repeated_key(tmp_path):
    """latkit's block CSV (``latkit lut export --format csv``) and ``lut.json``:
    a key twice names both lines."""
    key = next(iter(OFA_160))
    csv_path = tmp_path / "lut.csv"
    csv_path.write_text(f"key,median_ms,count\n{key},0.49,15\nLogits-input:1x1x1536-output:1000,0.2,15\n"
                        f"{key},0.51,15\n")
    assert "line 2 and line 4" in _error(import_tables, "csv", [csv_path], "dup")
    entry = '{"median_ms": 0.49, "count": 15}'
    lut = tmp_path / "lut.json"
    lut.write_text('{"schema": "latkit.lut", "version": 1, "name": "x", "space": "ofa-mbv3",\n'
                   f' "entries": {{\n  "{key}": {entry},\n  "{key}": {entry}\n }}\n}}\n')
    assert "line 3 and line 4" in _error(import_tables, "json", [lut], "dup")


def test_json_dict_and_index_repeats(tmp_path):
    """A JSON dict arch -> ms (``--format dict``) repeating a key; a HELP-style
    index (``str_arch2idx``: arch string -> position) giving one position to two
    cells; and two spellings of one cell in an Eagle-style dict (op-id tuple and
    string keys): each names the key and both places."""
    path = tmp_path / "lat.json"
    path.write_text("{\n" + f' "{CELLS[0]}": 3.6,\n "{CELLS[1]}": 4.0,\n "{CELLS[0]}": 3.7\n' + "}\n")
    assert "line 2 and line 4" in _error(import_tables, "dict", [path], "d")
    index = _torch_zip(tmp_path / "str_arch2idx.pt", {CELLS[0]: 0, CELLS[1]: 1, CELLS[2]: 1})
    latency = _torch_zip(tmp_path / "pixel3.pt", [3.6, 4.0])
    message = _error(import_tables, "help", [latency], "h", index=index)
    assert "position 1 appears twice, at entry 2 and entry 3" in message
    ops = OPS[3]
    eagle = tmp_path / "eagle.pkl"
    eagle.write_bytes(pickle.dumps({ops: np.float64(0.0047), CELLS[3]: np.float64(0.0048)}))
    message = _error(import_tables, "dict", [eagle], "e", unit="s")
    assert f"architecture '{CELLS[3]}' appears twice, at key {ops!r} and key '{CELLS[3][:20]}" in message


def test_help_list_with_two_spellings_of_one_cell(tmp_path):
    """HELP's list joined with an index whose two entries spell one cell two ways:
    the two positions are named (a .pt has no lines)."""
    index = _torch_zip(tmp_path / "str_arch2idx.pt", {CELLS[0]: 0, f" {CELLS[0]} ": 1})
    latency = _torch_zip(tmp_path / "pixel3.pt", [3.6, 4.0])
    assert "position 0 and position 1" in _error(import_tables, "help", [latency], "h", index=index)


def test_net_config_repeated_key(refdata, tmp_path):
    """One of OFA's published ``net.config`` files (han-cai/files) with its stem's
    ``out_channels`` written twice: an error naming both lines, not the last value."""
    src = next((refdata / "ofa" / "specialized_net_configs").glob("note10_lat-30ms*")) / "net.config"
    text = src.read_text()
    assert read_net_config(src)[0]  # the original reads
    bad = tmp_path / "net.config"
    bad.write_text(text.replace('"out_channels": 24,', '"out_channels": 24,\n        "out_channels": 16,', 1))
    message = _error(read_net_config, bad)
    assert "'out_channels' appears twice, at line 16 and line 17" in message


def test_keys_repeated_across_files_are_pooled(tmp_path):
    """Across files the merge stays: OFA's per-resolution files repeat the head
    blocks (``Logits``) and the import pools them (count-weighted mean)."""
    a, b = tmp_path / "160_lookup_table.yaml", tmp_path / "176_lookup_table.yaml"
    a.write_text(_ofa_yaml_text(OFA_160))
    b.write_text(_ofa_yaml_text({"Conv-input:176x176x3-output:88x88x24": (500, 0.60, 0.01),
                                 "Logits-input:1x1x1536-output:1000": (505, 0.2110, 0.0050)}))
    profile = import_tables("ofa-yaml", [a, b], "pooled")
    logits = profile.lut.entries["Logits-input:1x1x1536-output:1000"]
    assert logits.count == 1000
    assert logits.median_ms == pytest.approx((495 * 0.2010 + 505 * 0.2110) / 1000)


# -- units --------------------------------------------------------------------------------
def test_eagle_pickle_without_unit_is_refused(refdata):
    """BRP-NAS/Eagle's pickle holds seconds (median 4.78 ms): read as ms it would be
    a 5 us network. The error states the median, the range and ``--unit s``."""
    path = refdata / "eagle_brpnas" / "desktop-cpu-core-i7-7820x-fp32.pkl"
    message = _error(import_tables, "dict", [path], "i7")
    assert "0.00478 ms per network" in message and "10 us to 5 min" in message
    assert message.endswith("pass --unit s")
    profile = import_tables("dict", [path], "i7", unit="s")
    assert profile.meta["fingerprint"]["sources"][0]["unit"] == "s"


def test_table_format_applies_unit(tmp_path):
    """``--format table`` used to ignore ``--unit`` while the fingerprint recorded
    it. A CSV in seconds (Eagle's i7 magnitudes) is refused as ms, converted with
    ``--unit s``; one in microseconds of slow networks is refused as ms too."""
    path = tmp_path / "i7_seconds.csv"
    path.write_text(f"arch,value\n{CELLS[0]},0.0047\n{CELLS[1]},0.0061\n{CELLS[2]},0.0039\n")
    assert "pass --unit s" in _error(import_tables, "table", [path], "t")
    profile = import_tables("table", [path], "t", unit="s")
    assert profile.predict(CELLS[1]) == pytest.approx(6.1)
    assert profile.meta["fingerprint"]["sources"][0]["unit"] == "s"
    slow = tmp_path / "gold_us.csv"
    slow.write_text(f"arch,value\n{CELLS[0]},400000\n{CELLS[1]},380000\n")
    assert "above the plausible" in (msg := _error(import_tables, "table", [slow], "g"))
    assert msg.endswith("pass --unit us")
    assert import_tables("table", [slow], "g", unit="us").predict(CELLS[0]) == pytest.approx(400)


def test_block_formats_apply_unit(tmp_path):
    """An OFA table written in seconds is refused as ms and converted with
    ``--unit s`` (mean and std; the export is then in ms, not the file verbatim);
    latkit's block CSV in seconds likewise (times scaled, cv not); a latkit
    lut.json is always ms."""
    seconds = {k: (c, m / 1e3, s / 1e3) for k, (c, m, s) in OFA_160.items()}
    path = tmp_path / "160_lookup_table.yaml"
    path.write_text(_ofa_yaml_text(seconds))
    assert "per block" in (msg := _error(import_tables, "ofa-yaml", [path], "s"))
    assert msg.endswith("pass --unit s")
    profile = import_tables("ofa-yaml", [path], "s", unit="s")
    stem = profile.lut.entries["Conv-input:160x160x3-output:80x80x24"]
    assert stem.median_ms == pytest.approx(0.4956) and stem.cv == pytest.approx(0.0102 / 0.4956)
    written = export_profile(profile, "ofa-yaml", tmp_path / "out")
    back = yaml.safe_load(written[0].read_text())
    assert back["Conv-input:160x160x3-output:80x80x24"]["mean"] == pytest.approx(0.4956)
    csv_path = tmp_path / "lut_s.csv"
    csv_path.write_text("key,median_ms,count,p10_ms,cv\n"
                        + "".join(f"{k},{m / 1e3!r},{c},{m * 0.9e-3!r},0.02\n"
                                  for k, (c, m, _) in OFA_160.items()))
    assert "pass --unit s" in _error(import_tables, "csv", [csv_path], "c")
    entry = import_tables("csv", [csv_path], "c", unit="s").lut.entries[next(iter(OFA_160))]
    assert entry.median_ms == pytest.approx(0.4956) and entry.p10_ms == pytest.approx(0.44604)
    assert entry.cv == 0.02  # a ratio: not scaled
    lut = tmp_path / "lut.json"
    profile.lut.save(lut)
    assert "in ms" in _error(import_tables, "json", [lut], "j", unit="s")


def test_thresholds_depend_on_what_the_table_holds(tmp_path):
    """A median of 5 us is plausible for one block (a GPU kernel) but not for a
    whole network; the documented ranges are the ones applied."""
    assert PLAUSIBLE_MS["block"][0] < 0.005 < PLAUSIBLE_MS["network"][0]
    blocks = {k: (100, 0.005, 0.0001) for k in OFA_160}
    path = tmp_path / "160_lookup_table.yaml"
    path.write_text(_ofa_yaml_text(blocks))
    assert len(import_tables("ofa-yaml", [path], "fast").lut) == 4
    table = tmp_path / "t.csv"
    table.write_text(f"arch,value\n{CELLS[0]},0.005\n")
    assert "below the plausible" in _error(import_tables, "table", [table], "t")


def test_cost_table_in_seconds_is_refused_with_the_import_route(tmp_path):
    """``--cost table:`` reads ms; a table in seconds is refused, pointing to
    ``lut import --unit s`` and ``--device``."""
    path = tmp_path / "i7.csv"
    path.write_text(f"arch,value\n{CELLS[0]},0.0047\n{CELLS[1]},0.0061\n")
    message = _cli_error("nas", "generate", "--space", "nb201", "--cost", f"table:{path}",
                         "--budget", "5ms", "--preset", "tiny")
    assert "--unit s" in message and "--device NAME" in message


# -- joins -------------------------------------------------------------------------------
def test_one_based_index_is_refused(tmp_path):
    """HELP's ``latency/<device>.pt`` list is read by position from 0; an index
    numbered from 1 (same length) used to shift every value to the next network."""
    values = [3.6, 17.2, 15.7, 10.1, 8.4, 12.2]
    latency = _torch_zip(tmp_path / "pixel3.pt", values)
    good = _torch_zip(tmp_path / "str_arch2idx.pt", {c: i for i, c in enumerate(CELLS)})
    one = _torch_zip(tmp_path / "one_based.pt", {c: i + 1 for i, c in enumerate(CELLS)})
    message = _error(import_tables, "help", [latency], "p", index=one)
    assert "from 1 to 6" in message and "renumber the index from 0" in message
    profile = import_tables("help", [latency], "p", index=good)
    assert [profile.predict(c) for c in CELLS] == values
    assert profile.meta["fingerprint"]["sources"][0]["joined"] == {
        "positions": 6, "index": 6, "matched": 6}
    short = _torch_zip(tmp_path / "short.pt", {c: i for i, c in enumerate(CELLS[:5])})
    message = _error(import_tables, "help", [latency], "p5", index=short)
    assert "6 values but the arch index short.pt has 5" in message
    assert "1 values have no architecture (e.g. [5])" in message


def test_join_counts_in_cli_output(tmp_path):
    """The import says how many positions matched the index, in text and --json."""
    latency = _torch_zip(tmp_path / "pixel3.pt", [3.6, 17.2, 15.7, 10.1, 8.4, 12.2])
    index = _torch_zip(tmp_path / "str_arch2idx.pt", {c: i for i, c in enumerate(CELLS)})
    text = _cli("lut", "import", "--format", "help", latency, "--index", index, "--name", "p")
    assert text.exit_code == 0, text.output
    assert "pixel3.pt: 6 of 6 positions matched an architecture of the index (6 architectures)" in text.output
    out = _cli("lut", "import", "--format", "help", latency, "--index", index, "--name", "q", "--json")
    assert json.loads(out.stdout)["joined"] == [
        {"positions": 6, "index": 6, "matched": 6, "file": "pixel3.pt"}]


def test_dict_keyed_by_position_may_be_partial_but_not_shifted(tmp_path):
    """A dict keyed by position (a subset of a benchmark) joins with a full index;
    keys numbered from 1 against an index from 0 are refused."""
    index = _torch_zip(tmp_path / "str_arch2idx.pt", {c: i for i, c in enumerate(CELLS)})
    part = tmp_path / "subset.pkl"
    part.write_bytes(pickle.dumps({0: 3.6, 2: 15.7, 5: 12.2}))
    profile = import_tables("dict", [part], "s", index=index)
    assert profile.meta["fingerprint"]["sources"][0]["joined"] == {
        "positions": 3, "index": 6, "matched": 3}
    shifted = tmp_path / "shifted.pkl"
    shifted.write_bytes(pickle.dumps({i + 1: v for i, v in enumerate([3.6, 17.2, 15.7, 10.1, 8.4, 12.2])}))
    assert "numbers positions from 1 but the index from 0" in _error(
        import_tables, "dict", [shifted], "shifted", index=index)


def test_help_pixel3_join_is_reported(refdata):
    root = refdata / "help" / "nasbench201"
    profile = import_tables("help", [root / "latency" / "pixel3.pt"], "pixel3",
                            index=root / "str_arch2idx.pt")
    assert profile.meta["fingerprint"]["sources"][0]["joined"] == {
        "positions": 15625, "index": 15625, "matched": 15625}


# -- error length -------------------------------------------------------------------------
def _hw_nas_bench() -> dict:
    """``HW-NAS-Bench-v1_0.pickle``'s layout, as ``HWNASBenchAPI.query_by_index``
    reads it (GATECH-EIC/HW-NAS-Bench hw_nas_bench_api.py):
    ``[space][dataset][metric][arch_index]``, 15,625 values per metric."""
    rng = np.random.default_rng(0)
    metrics = ("edgegpu_latency", "edgegpu_energy", "raspi4_latency", "edgetpu_latency",
               "pixel3_latency", "eyeriss_latency", "eyeriss_energy",
               "eyeriss_arithmetic_intensity", "fpga_latency", "fpga_energy")
    return {"nasbench201": {ds: {m: rng.uniform(1, 30, 15625).tolist() for m in metrics}
                            for ds in ("cifar10", "cifar100", "ImageNet16-120")},
            "fbnet": {"pixel3_latency": {"FC_Cin1504_Cout100": 0.1}}}


def test_nested_table_without_key_lists_the_keys(tmp_path):
    """The HW-NAS-Bench pickle passed without ``--key`` used to quote the whole
    nested dict (megabytes); now one line lists the keys at that level."""
    path = tmp_path / "HW-NAS-Bench-v1_0.pickle"
    path.write_bytes(pickle.dumps(_hw_nas_bench()))
    message = _error(import_tables, "dict", [path], "hw")
    assert "--key KEY" in message and "keys: nasbench201, fbnet" in message
    message = _error(import_tables, "dict", [path], "hw", key_path="nasbench201")
    assert "--key nasbench201/KEY" in message and "cifar10, cifar100, ImageNet16-120" in message
    message = _error(import_tables, "dict", [path], "hw", key_path="nasbench201/cifar10/pixel3")
    assert "pixel3_latency, … (10 in all)" in message
    assert "error: " in _cli_error("lut", "import", "--format", "dict", path, "--name", "hw")


def test_long_values_are_quoted_short(tmp_path):
    """A dict whose values are lists of samples, or a CSV cell of junk, are quoted
    in a few dozen characters."""
    samples = tmp_path / "samples.pkl"
    samples.write_bytes(pickle.dumps({CELLS[0]: list(np.linspace(1, 2, 10000))}))
    assert "nested tables" in _error(import_tables, "dict", [samples], "s")
    junk = tmp_path / "junk.csv"
    junk.write_text(f"arch,value\n{CELLS[0]},{'x' * 5000}\n")
    assert "is not a number" in _error(import_tables, "table", [junk], "j")


# -- encodings and syntax -----------------------------------------------------------------
def test_byte_order_mark_csv_is_read(tmp_path):
    """Excel's "CSV UTF-8" and pandas ``to_csv(encoding="utf-8-sig")`` start the
    file with a byte-order mark and end lines with CRLF; every CSV reader accepts it."""
    table = tmp_path / "bom.csv"
    table.write_bytes(("\ufeffarch,value\r\n" + "".join(f"{c},{3 + i}\r\n" for i, c in enumerate(CELLS)))
                      .encode("utf-8"))
    assert import_tables("table", [table], "bom").predict(CELLS[2]) == 5.0
    assert TableCost.from_file(table, NB201).cost(NB201.parse(CELLS[2])) == 5.0
    blocks = tmp_path / "lut.csv"
    blocks.write_bytes(("\ufeffkey,median_ms,count\r\n"
                        + "".join(f"{k},{m},{c}\r\n" for k, (c, m, _) in OFA_160.items())).encode())
    assert len(import_tables("csv", [blocks], "b").lut) == 4


def test_non_utf8_csv_is_one_line(tmp_path):
    """Excel's plain "CSV" saves in the Windows code page (cp1252: 0xB5 for µ)."""
    path = tmp_path / "cp1252.csv"
    path.write_bytes(f"arch,value,note\n{CELLS[0]},3.6,µs\n".encode("cp1252"))
    assert "save it as UTF-8" in _error(import_tables, "table", [path], "c")


def test_yaml_syntax_errors_keep_line_and_column(tmp_path):
    """A tab in the indentation of an OFA table (hand-edited) and an unclosed flow
    list: the error keeps the parser's line and column, on one line."""
    path = tmp_path / "160_lookup_table.yaml"
    path.write_text(_ofa_yaml_text(OFA_160).replace("\n  mean:", "\n\tmean:", 1))
    message = _error(import_tables, "ofa-yaml", [path], "t")
    assert f"{path}:3:1: not valid YAML" in message and "'\\t'" in message
    path.write_text("Conv-input:160x160x3-output:80x80x24:\n  count: 3\n  mean: [0.49\n  std: 0.01\n")
    assert f"{path}:4:6: not valid YAML" in _error(import_tables, "ofa-yaml", [path], "t")


def test_net_config_with_byte_order_mark(refdata, tmp_path):
    """A net.config saved by a Windows editor starts with a byte-order mark."""
    src = next((refdata / "ofa" / "specialized_net_configs").glob("note10_lat-30ms*")) / "net.config"
    bom = tmp_path / "net.config"
    bom.write_bytes(b"\xef\xbb\xbf" + src.read_bytes())
    assert read_net_config(bom)[0] == read_net_config(src)[0]


# -- partial tables as costs ---------------------------------------------------------------
def test_partial_table_as_device_matches_cost_table(tmp_path):
    """A per-architecture table holding 2,500 of NB201's 15,625 cells (as HW-NAS-Bench
    subsets and BRP-NAS's 15,284 do), imported with ``lut import --format table``:
    ``nas generate --device NAME`` used to fail at "cost range"; now it answers as
    ``--cost table:`` does, among the table's cells only (numbers written here)."""
    cells = [NB201.decode(list(ix)) for ix in itertools.product(range(5), repeat=6)]
    rng = np.random.default_rng(1)
    held = [cells[i] for i in rng.choice(len(cells), 2500, replace=False)]
    weight = {"none": 0.0, "skip_connect": 0.1, "nor_conv_1x1": 0.9, "nor_conv_3x3": 2.1,
              "avg_pool_3x3": 0.4}
    cost = {a: round(1.0 + sum(weight[o] * (1 + 0.1 * i) for i, o in enumerate(a.ops)), 4)
            for a in held}
    acc = {a: round(60 + 3 * sum(o.startswith("nor_conv") for o in a.ops[::-1][:4]), 4)
           for a in held}
    for name, values in (("cost.csv", cost), ("acc.csv", acc)):
        (tmp_path / name).write_text("arch,value\n" + "".join(
            f"{NB201.format(a)},{v}\n" for a, v in values.items()))
    assert _cli("lut", "import", "--format", "table", tmp_path / "cost.csv",
                "--name", "part").exit_code == 0
    common = ["--accuracy", f"table:{tmp_path / 'acc.csv'}", "--preset", "tiny",
              "--budget", "4ms", "--budget", "8ms", "--json"]
    by_device = _cli("nas", "generate", "--device", "part", *common)
    by_table = _cli("nas", "generate", "--space", "nb201", "--cost", f"table:{tmp_path / 'cost.csv'}",
                    *common)
    assert by_device.exit_code == 0, by_device.output
    assert by_table.exit_code == 0, by_table.output
    rows, table_rows = json.loads(by_device.stdout), json.loads(by_table.stdout)
    assert [r["arch"] for r in rows] == [r["arch"] for r in table_rows]
    for row in rows:
        arch = NB201.parse(row["arch"])
        assert arch in cost and row["latency_ms"] == cost[arch] <= row["budget_ms"]



def test_small_partial_table_with_the_default_proxy(tmp_path):
    """A 400-cell cost table (fewer than the archive PNAG draws) with the default
    MACs proxy: the archive is drawn from the table's cells, not from the whole
    space (where every cell but the table's has no cost); numbers written here."""
    cells = [NB201.decode(list(ix)) for ix in itertools.product(range(5), repeat=6)]
    rng = np.random.default_rng(2)
    held = [cells[i] for i in rng.choice(len(cells), 400, replace=False)]
    (tmp_path / "cost.csv").write_text("arch,value\n" + "".join(
        f"{NB201.format(a)},{1.0 + 0.3 * sum(o.startswith('nor_conv') for o in a.ops)}\n"
        for a in held))
    result = _cli("nas", "generate", "--space", "nb201", "--cost", f"table:{tmp_path / 'cost.csv'}",
                  "--preset", "tiny", "--budget", "2ms", "--json")
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)
    assert NB201.parse(row["arch"]) in held and row["latency_ms"] <= 2.0
    # the report counts only what the sources answered, not the cells outside the table
    from nas import api

    model = api.load_or_fit("nb201", cost=f"table:{tmp_path / 'cost.csv'}", preset="tiny",
                            retrain=True).model
    assert 0 < model.report_.cost_queries <= len(held)
    assert model.lookups.cost_queries == model.report_.cost_queries < len(model.lookups.costs)


def test_eagle_partial_table_is_a_device_cost(refdata):
    """BRP-NAS/Eagle's i7 table holds 15,284 cells: as ``--device`` its range is
    the table's exact one (README: 1.02 to 9.51 ms) and only its cells are drawn."""
    path = refdata / "eagle_brpnas" / "desktop-cpu-core-i7-7820x-fp32.pkl"
    import_tables("dict", [path], "i7", unit="s")
    cost = resolve_cost(None, "i7", None)
    assert isinstance(cost, TableProfileCost) and len(cost.archs()) == 15284
    low, high = cost.known_range()
    assert round(low, 2) == 1.02 and round(high, 2) == 9.51
    feasible, cheapest = estimate_range(cost.space, cost, samples=300)
    assert feasible.low == pytest.approx(low) and cost.cost(cheapest) == pytest.approx(low)


def test_old_table_profile_loads_and_serves_as_cost(tmp_path):
    """A per-architecture profile as the previous release wrote it (sources
    without ``entries``/``joined``) loads, predicts and serves ``--device``."""
    out = tmp_path / "old"
    out.mkdir()
    (out / "table.json").write_text(json.dumps({
        "schema": "latkit.archtable", "version": 1, "space": "nb201", "unit": "ms",
        "entries": {CELLS[0]: 3.6, CELLS[1]: 17.2}}))
    (out / "profile.json").write_text(json.dumps({
        "schema": "latkit.profile", "version": 1, "kind": "table", "name": "old", "space": "nb201",
        "space_options": {}, "device": "old", "backend": "imported",
        "fingerprint": {"device": "old", "imported": True, "format": "table", "sources": [
            {"file": "/x/t.csv", "name": "t.csv", "format": "table", "sha256": "0" * 64,
             "unit": "ms"}]},
        "settings": {}, "status": "complete"}))
    profile = load_profile(out)
    assert profile.predict(CELLS[1]) == 17.2
    cost = resolve_cost(None, str(out), None)
    assert isinstance(cost, TableProfileCost) and cost.known_range() == (3.6, 17.2)


def test_old_block_import_without_unit_exports_verbatim(tmp_path):
    """An OFA import whose ``source.json`` predates the ``unit`` field still
    exports the original file verbatim."""
    path = tmp_path / "160_lookup_table.yaml"
    path.write_text(_ofa_yaml_text(OFA_160))
    profile = import_tables("ofa-yaml", [path], "o")
    source = json.loads((profile.path / "source.json").read_text())
    del source["unit"]
    (profile.path / "source.json").write_text(json.dumps(source))
    written = export_profile(load_profile("o"), "ofa-yaml", tmp_path / "out")
    assert yaml.safe_load(written[0].read_text()) == yaml.safe_load(path.read_text())


def test_options_a_format_does_not_use_are_refused(tmp_path):
    """``--index`` with a CSV and ``--key`` with a YAML were silently ignored."""
    path = tmp_path / "t.csv"
    path.write_text(f"arch,value\n{CELLS[0]},3.6\n")
    assert "--index is for --format help or dict" in _error(
        import_tables, "table", [path], "t", index=path)
    assert "--key is for --format dict" in _error(import_tables, "table", [path], "t", key_path="a")
