"""The per-operator table: in-graph profiling on ONNX Runtime, the table's files,
the predictor for arbitrary ONNX models, and their command lines (issue 18)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import latency_kit
from latency_kit.backends.base import ModelSpec
from latency_kit.backends.onnx_graph import executed_graph
from latency_kit.backends.onnxruntime import OnnxRuntimeBackend
from latency_kit.cli import main
from latency_kit.convert.onnx import export_onnx
from latency_kit.errors import CorruptFileError, LatkitError
from latency_kit.measure.engine import MeasureSettings
from latency_kit.measure.optable import Network, build_op_table, dir_networks
from latency_kit.optable import OpNode, OpTable, node_flops, read_op_csv
from latency_kit.predict.opmodel import OpPredictor

FAST = MeasureSettings(repeats=5, warmup_ms=20, batch_ms=2)


def _net(width: int, depth: int = 2) -> torch.nn.Module:
    layers: list[torch.nn.Module] = [torch.nn.Conv2d(3, width, 3, padding=1), torch.nn.ReLU()]
    for _ in range(depth):
        layers += [torch.nn.Conv2d(width, width, 3, padding=1, groups=width), torch.nn.ReLU(),
                   torch.nn.Conv2d(width, width, 1), torch.nn.ReLU()]
    layers += [torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(width, 10)]
    return torch.nn.Sequential(*layers)


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> Path:
    """Six small convolutional networks of varied width and depth, as ONNX files."""
    directory = tmp_path_factory.mktemp("nets")
    for width, depth in ((8, 1), (16, 2), (24, 1), (32, 2), (40, 1), (48, 3)):
        export_onnx(_net(width, depth), (1, 3, 32, 32), directory / f"w{width}-d{depth}.onnx")
    return directory


@pytest.fixture(scope="module")
def table(models, tmp_path_factory) -> OpTable:
    path = tmp_path_factory.mktemp("table") / "ops.json"
    return build_op_table(dir_networks(models), path, runs=5, warmup=2, settings=FAST,
                          fresh_processes=2).table


@pytest.fixture
def unseen(tmp_path) -> Path:
    """A network at a resolution (40 px) no training network has: new op configurations."""
    return export_onnx(_net(20, 2), (1, 3, 40, 40), tmp_path / "w20-r40.onnx")


def test_executed_graph_is_ort_s_optimised_graph(models):
    nodes = executed_graph(OnnxRuntimeBackend(), ModelSpec.for_file(str(models / "w16-d2.onnx")),
                           runs=3, warmup=1)
    convs = [n for n in nodes if n.op_type in ("Conv", "FusedConv")]
    assert convs, [n.full_type for n in nodes]
    # ORT fuses Conv+ReLU: the activation is an attribute of the executed conv, no Relu node runs
    assert not any(n.op_type == "Relu" for n in nodes)
    assert all(n.attrs.get("activation") == "Relu" for n in convs)
    depthwise = [n for n in convs if n.attrs.get("group") == 16]
    assert len(depthwise) == 2 and depthwise[0].attrs["kernel_shape"] == [3, 3]
    assert all(len(n.run_ms) == 3 and n.output_shapes for n in nodes)
    assert depthwise[0].key == depthwise[1].key  # one configuration, two observations


def test_node_flops_counts_multiply_adds():
    # a 3x3 conv 8->16 channels on 32x32 output: 2 * 16*32*32 * 8*3*3
    assert node_flops("Conv", [[1, 8, 32, 32], [16, 8, 3, 3]], [[1, 16, 32, 32]]) == 2 * 16 * 1024 * 72
    assert node_flops("MatMul", [[1, 197, 384], [384, 1536]], [[1, 197, 1536]]) == 2 * 197 * 1536 * 384
    assert node_flops("Add", [[1, 10], [1, 10]], [[1, 10]]) == 10


def test_table_entries_and_networks(table, models):
    assert len(table.networks) == 6 and table.network_names() == {p.stem for p in models.glob("*.onnx")}
    for net in table.networks:
        assert net["latency_ms"] > 0 and net["node_sum_ms"] > 0 and net["nodes"] > 3
        # measured in 2 fresh processes first; node times scaled to that level
        assert net["in_process_ms"] > 0 and net["level"] == pytest.approx(net["latency_ms"] / net["in_process_ms"])
    assert table.settings["fresh_processes"]["processes"] == 2
    entry = next(e for e in table.entries.values() if e.attrs.get("group") == 48)
    # every node of a key adds its runs: w48-d3 has three identical depthwise convs, 5 runs each
    # (more where ORT's NCHWc layout pads another width to 48 channels: 40 on AVX-512)
    assert entry.stats.count >= 15 and entry.stats.count % 5 == 0
    assert table.settings["regressors"]["entries"] == len(table)


def test_json_round_trip_and_csv(table, tmp_path):
    table.save(tmp_path / "t.json")
    again = OpTable.load(tmp_path / "t.json")
    assert again.to_dict() == table.to_dict()
    table.write_csv(tmp_path / "t.csv")
    back = read_op_csv(tmp_path / "t.csv")
    assert set(back.entries) == set(table.entries)
    key = next(iter(table.entries))
    assert back.entries[key].stats.median_ms == pytest.approx(table.entries[key].stats.median_ms)
    rows = (tmp_path / "t.csv").read_text().splitlines()
    assert rows[0].startswith("op_type,domain,input_shapes,output_shapes,attrs,median_ms")
    assert len(rows) == len(table) + 1


def test_corrupt_and_foreign_tables(table, tmp_path):
    bad = table.to_dict()
    bad["unit"] = "us"
    (tmp_path / "unit.json").write_text(json.dumps(bad))
    with pytest.raises(CorruptFileError, match="unit 'us'"):
        OpTable.load(tmp_path / "unit.json")
    (tmp_path / "lut.json").write_text(json.dumps({"schema": "latkit.lut", "version": 1}))
    with pytest.raises(CorruptFileError, match="not a latkit op table"):
        OpTable.load(tmp_path / "lut.json")
    bad = table.to_dict()
    key = next(iter(bad["entries"]))
    bad["entries"][key]["output_shapes"] = [[9, 9]]
    (tmp_path / "key.json").write_text(json.dumps(bad))
    with pytest.raises(CorruptFileError, match="does not match"):
        OpTable.load(tmp_path / "key.json")
    table.write_csv(tmp_path / "dup.csv")
    lines = (tmp_path / "dup.csv").read_text().splitlines()
    (tmp_path / "dup.csv").write_text("\n".join(lines + lines[1:2]) + "\n")
    with pytest.raises(CorruptFileError, match="duplicate op configuration"):
        read_op_csv(tmp_path / "dup.csv")


def test_resume_skips_profiled_networks(models, tmp_path):
    path = tmp_path / "ops.json"
    networks = dir_networks(models)
    first = build_op_table(networks[:2], path, runs=3, warmup=1, settings=FAST, fresh_processes=0)
    assert len(first.profiled) == 2
    again = build_op_table(networks[:3], path, runs=3, warmup=1, settings=FAST, fresh_processes=0)
    assert again.skipped == [n.name for n in networks[:2]] and again.profiled == [networks[2].name]
    assert len(OpTable.load(path).networks) == 3
    with pytest.raises(LatkitError, match="share a name"):
        build_op_table([networks[0], Network(networks[0].name, networks[1].spec)], tmp_path / "x.json")
    with pytest.raises(LatkitError, match="another threads"):
        build_op_table(networks[:1], path, threads=2)


def test_known_model_is_looked_up(table, models):
    nodes = executed_graph(OnnxRuntimeBackend(), ModelSpec.for_file(str(models / "w32-d2.onnx")))
    result = OpPredictor(table).predict(nodes)
    assert result.estimated == 0 and result.looked_up == len(nodes)
    measured = next(n for n in table.networks if n["name"] == "w32-d2")["latency_ms"]
    assert result.latency_ms == pytest.approx(measured, rel=0.5)


def test_unseen_configurations_use_the_regressor_and_say_so(table, unseen):
    nodes = executed_graph(OnnxRuntimeBackend(), ModelSpec.for_file(str(unseen)))
    result = OpPredictor(table).predict(nodes)
    estimated = [n for n in result.nodes if n.source == "estimated"]
    assert estimated and all(n.model and n.ms > 0 for n in estimated)
    assert any("own" in n.model for n in estimated)  # convs have enough entries for their own model
    assert 0 < result.latency_ms < 10 * max(n["latency_ms"] for n in table.networks)


def test_regressor_choice_is_remembered_and_reused(table):
    choices = table.settings["regressors"]["choices"]
    fresh = OpPredictor(OpTable.from_dict(table.to_dict()))
    for op_type, (name, _, score) in fresh.regressors.items():
        assert name == choices[op_type] and np.isnan(score)  # refit, not cross-validated again


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("LATKIT_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_cli_profile_ops_then_predict_model(home, models, unseen):
    runner = CliRunner()
    built = runner.invoke(main, ["profile", "--device", "cpu", "--ops", "--models", str(models)])
    assert built.exit_code == 0, built.output
    assert "6 networks" in built.output
    out = runner.invoke(main, ["predict", "--device", "cpu", "--model", str(unseen), "--json", "--ops"])
    assert out.exit_code == 0, out.output
    record = json.loads(out.stdout)
    assert record["latency_ms"] > 0 and record["estimated"] > 0
    assert record["looked_up"] + record["estimated"] == len(record["ops"])
    text = runner.invoke(main, ["predict", "--device", "cpu", "--model", str(unseen)])
    assert text.exit_code == 0 and "ms predicted on cpu" in text.output and "estimated" in text.output
    api = latency_kit.predict_model(unseen, "cpu")
    assert api.latency_ms == pytest.approx(record["latency_ms"])
    # a table file elsewhere (`profile --ops --out DIR` writes DIR/ops.json) predicts the same
    from latency_kit.profiles.optables import op_table_path

    moved = home.parent / "elsewhere" / "ops.json"
    moved.parent.mkdir()
    moved.write_bytes(op_table_path("cpu").read_bytes())
    op_table_path("cpu").unlink()
    other = runner.invoke(main, ["predict", "--model", str(unseen), "--op-table", str(moved),
                                 "--json"])
    assert other.exit_code == 0, other.output
    assert json.loads(other.stdout)["latency_ms"] == pytest.approx(record["latency_ms"])
    wrong = runner.invoke(main, ["predict", "--device", "gpu", "--model", str(unseen),
                                 "--op-table", str(moved)])
    assert wrong.exit_code != 0 and "is of device 'cpu'" in wrong.output
    threads = runner.invoke(main, ["predict", "--model", str(unseen), "--op-table", str(moved),
                                   "--threads", "4"])
    assert threads.exit_code != 0 and "built at 1 thread(s), not 4" in threads.output
    # a user's file that is not a table is left alone: no advice to delete it
    csv_file = moved.with_suffix(".csv")
    csv_file.write_text("op_type,domain\nConv,\n")
    foreign = runner.invoke(main, ["predict", "--model", str(unseen), "--op-table", str(csv_file)])
    assert foreign.exit_code != 0 and "give the ops.json" in foreign.output
    assert "delete" not in foreign.output and csv_file.exists()


@pytest.mark.parametrize("args, needle", [
    (["predict", "--device", "cpu", "--model", "MODEL"], "no op table for device cpu"),
    (["predict", "--device", "pixel", "--model", "MODEL"], "only ONNX Runtime (--device cpu)"),
    (["profile", "--device", "tflite-cpu", "--ops", "--models", "DIR"], "cannot build one yet"),
    (["profile", "--device", "cpu", "--models", "DIR"], "add --ops"),
    (["profile", "--device", "cpu", "--ops", "--zoo", "imagenet"], "unknown zoo 'imagenet'"),
    (["predict", "--device", "cpu", "--model", "MODEL", "--arch", "x"], "drop --arch"),
])
def test_op_errors_are_one_line(home, models, unseen, args, needle):
    args = [str(unseen) if a == "MODEL" else str(models) if a == "DIR" else a for a in args]
    result = CliRunner().invoke(main, args)
    assert result.exit_code != 0
    assert needle in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output


def test_predict_a_tflite_file_is_refused(home, tmp_path):
    (tmp_path / "m.tflite").write_bytes(b"TFL3")
    with pytest.raises(LatkitError, match="predicts .onnx models"):
        latency_kit.predict_model(tmp_path / "m.tflite")


def test_a_user_network_node(models):
    """OpNode keys ignore bookkeeping attributes: a Clip's bounds change nothing the kernel does."""
    a = OpNode("a", "FusedConv", "com.microsoft", {"activation": "Clip", "activation_params": [0.0, 6.0]},
               [[1, 3, 8, 8]], [[1, 3, 8, 8]])
    b = OpNode("b", "FusedConv", "com.microsoft", {"activation": "Clip", "activation_params": [0.0, 1.0]},
               [[1, 3, 8, 8]], [[1, 3, 8, 8]])
    c = OpNode("c", "FusedConv", "com.microsoft", {"activation": "Relu"}, [[1, 3, 8, 8]], [[1, 3, 8, 8]])
    assert a.key == b.key != c.key


def test_a_new_table_drops_a_stale_process_journal(models, tmp_path):
    """Fresh-process times journaled for an earlier table must not level a new one."""
    path = tmp_path / "ops.json"
    journal = path.with_suffix(".processes.jsonl")
    journal.write_text('{"process": 0, "how": {}, "stats": {}}\n')
    build_op_table(dir_networks(models)[:1], path, runs=2, warmup=1, settings=FAST, fresh_processes=0)
    assert not journal.exists()


def test_calibration_is_the_median_ratio(table):
    ratios = sorted(n["latency_ms"] / n["node_sum_ms"] for n in table.networks)
    assert OpPredictor(table).scale == pytest.approx(float(np.median(ratios)))


def test_a_table_from_another_cpu_is_refused(models, tmp_path):
    path = tmp_path / "ops.json"
    build_op_table(dir_networks(models)[:1], path, runs=2, warmup=1, settings=FAST, fresh_processes=0)
    data = json.loads(path.read_text())
    data["fingerprint"]["cpu_model"] = "another CPU"
    path.write_text(json.dumps(data))
    with pytest.raises(LatkitError, match="another cpu_model"):
        build_op_table(dir_networks(models)[:2], path, runs=2, warmup=1, settings=FAST, fresh_processes=0)
