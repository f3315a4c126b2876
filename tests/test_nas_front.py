"""PNAG's answers as a front: monotone in the budget, the same in every process and
after save/load, one training policy for CLI and API, `nas front`, and the
refusals and file names users see.

Synthetic nb201 tables (cost grows with the convolutions, accuracy with a
known optimum) keep training to seconds; a shipped profile checks the real
stored models.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from latency_kit.errors import LatkitError
from latency_kit.spaces import get_space
from nas.sources.accuracy import ProxyAccuracy, TableAccuracy
from nas.sources.costs import TableCost
from nas.margin import DEFAULT_LEVEL
from nas.pnag import EXPENSIVE, PNAG, PRESETS, pareto_front, settings_for

from tests.test_nas_pnag import synthetic

LATKIT = str(Path(sys.executable).with_name("latkit"))  # the installed console script


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    """nb201 cost and accuracy tables as CSV files, and the values by architecture."""
    space = get_space("nb201")
    archs = [space.decode(list(ix)) for ix in itertools.product(range(5), repeat=6)]
    values = {a: synthetic(a) for a in archs}
    folder = tmp_path_factory.mktemp("tables")
    for name, col in (("dev-a.csv", 0), ("acc.csv", 1)):
        lines = ["arch,value"] + [f"{space.format(a)},{values[a][col]}" for a in archs]
        (folder / name).write_text("\n".join(lines) + "\n")
    # a second device: the same networks, every cost 1.5 times larger
    lines = ["arch,value"] + [f"{space.format(a)},{1.5 * values[a][0]}" for a in archs]
    (folder / "dev-b.csv").write_text("\n".join(lines) + "\n")
    return space, values, folder


def sources(folder: Path, device: str = "dev-a") -> list[str]:
    return ["--space", "nb201", "--cost", f"table:{folder / f'{device}.csv'}",
            "--accuracy", f"table:{folder / 'acc.csv'}", "--preset", "tiny"]


@pytest.fixture(scope="module")
def model(tables):
    space, values, _ = tables
    cost = TableCost.from_mapping(space, {a: v[0] for a, v in values.items()})
    acc = TableAccuracy.from_mapping(space, {a: v[1] for a, v in values.items()})
    return PNAG(space, cost, acc, settings_for(acc, "tiny")).fit()


def sweep(model, points: int = 50) -> np.ndarray:
    f = model.feasible_
    return np.clip(np.exp(np.linspace(np.log(f.low), np.log(f.high), points)), f.low, f.high)


# -- the front --------------------------------------------------------------------------
def test_pareto_front_keeps_only_undominated_points():
    points = [("a", 1.0, 5.0), ("b", 2.0, 4.0), ("c", 2.0, 6.0), ("d", 3.0, 9.0),
              ("e", 0.5, 1.0), ("f", float("nan"), 0.5)]
    assert [p[0] for p in pareto_front(points)] == ["e", "b", "d"]


def test_answers_never_get_worse_for_a_larger_budget(model, tables):
    _, values, _ = tables
    answers = [model.generate(float(b)).best for b in sweep(model)]
    got = [a.value for a in answers]
    assert all(b >= a for a, b in zip(got, got[1:])), got
    assert all(values[a.arch] == (a.cost, a.value) for a in answers)
    # the top of the range is used: the largest budget gets the front's best network
    assert answers[-1].value == max(v for _, v, _ in model.front_)


def test_answers_depend_only_on_the_budget(model):
    budgets = sweep(model, 20)
    forward = [model.generate(float(b)).best.arch for b in budgets]
    backward = [model.generate(float(b)).best.arch for b in budgets[::-1]][::-1]
    assert forward == backward


def test_front_survives_save_and_load_with_identical_answers(model, tables, tmp_path):
    from nas import store

    space, _, _ = tables
    path = store.save(model, tmp_path / "m", "key")
    loaded = store.load(path, space, model.cost, model.accuracy)
    assert loaded.front_ == model.front_

    def answers(m):
        return json.dumps([[space.format(p.arch), p.cost, p.value]
                           for b in sweep(m, 25) for p in m.generate(float(b), n=2).picks])

    assert answers(loaded) == answers(model)


def test_monotone_across_two_processes_asking_in_opposite_orders(tables, latkit_home):
    space, _, folder = tables
    budgets = [f"{b:.3f}ms" for b in np.linspace(1.0, 9.0, 9)]
    env = dict(os.environ, LATKIT_HOME=str(latkit_home))

    def run(order: list[str]) -> dict[float, dict]:
        args = [LATKIT, "nas", "generate", *sources(folder),
                "--json"] + [x for b in order for x in ("--budget", b)]
        done = subprocess.run(args, capture_output=True, text=True, env=env, timeout=300)
        assert done.returncode == 0, done.stderr
        return {row["budget_ms"]: row for row in json.loads(done.stdout)}

    up, down = run(budgets), run(budgets[::-1])
    assert up == down
    values = [up[b]["accuracy"] for b in sorted(up)]
    assert all(b >= a for a, b in zip(values, values[1:])), values


def test_shipped_profiles_answer_monotone_and_use_the_top_of_the_range():
    from latency_kit.paths import shipped_profiles_dir
    from nas import store
    from nas.sources.accuracy import resolve_accuracy
    from nas.sources.costs import resolve_cost

    shipped = sorted(p.name for p in shipped_profiles_dir().iterdir() if (p / "nas").is_dir())
    assert shipped
    for name in shipped:
        cost = resolve_cost(None, name, None)
        accuracy = resolve_accuracy(None, cost.space)
        key = store.cache_key(cost.space, cost, accuracy, settings_for(accuracy))
        found = store.find(key, cost)
        assert found is not None, f"{name}: no shipped model for the default policy"
        model = store.load(found, cost.space, cost, accuracy)
        for level in (None, DEFAULT_LEVEL):  # the front itself, and answers under the margin
            factor = model.margin_factor(level)
            values = [model.generate(float(b) * factor, 1, level).best.value
                      for b in sweep(model)]
            assert all(b >= a for a, b in zip(values, values[1:])), (name, level)
            # large budgets get large networks: the top budget's answer costs more
            # than every random network (the top 15-20% of the range is used)
            top = model.generate(model.feasible_.high * factor, 1, level).best
            assert top.cost > model.feasible_.quantiles[-1], (name, level)


# -- one training policy ------------------------------------------------------------------
def test_policy_gives_cheap_sources_the_full_preset_and_expensive_ones_fewer_queries():
    space = get_space("nb201")
    macs, synflow = ProxyAccuracy(space, "macs"), ProxyAccuracy(space, "synflow")
    assert not macs.expensive and synflow.expensive
    assert settings_for(macs) == PRESETS["fast"]
    assert settings_for(synflow).archs == EXPENSIVE["archs"] < PRESETS["fast"].archs
    assert settings_for(synflow, archs=300).archs == 300  # explicit settings are used as given
    assert PNAG(space, TableCost.from_mapping(space, {space.sample(0): 1.0}),
                macs).settings == PRESETS["fast"]


def test_cli_and_api_give_the_same_answer(tables, latkit_home):
    from latency_kit.cli import main

    space, values, folder = tables
    budgets = ["2.5ms", "4ms", "7ms"]
    result = CliRunner().invoke(main, ["nas", "generate", *sources(folder), "--json"]
                                + [x for b in budgets for x in ("--budget", b)])
    assert result.exit_code == 0, result.output
    cost = TableCost.from_file(folder / "dev-a.csv", space)
    acc = TableAccuracy.from_file(folder / "acc.csv", space)
    api = PNAG(space, cost, acc, settings_for(acc, "tiny")).fit()
    for row, budget in zip(json.loads(result.stdout), budgets):
        assert row["arch"] == space.format(api.generate(budget).best.arch)


# -- what users see -------------------------------------------------------------------------
def test_generate_prints_the_range_and_one_line_architectures(tables):
    from latency_kit.cli import main

    space, _, folder = tables
    result = CliRunner().invoke(main, ["nas", "generate", *sources(folder), "--budget", "4ms",
                                       "-n", "2"], terminal_width=60)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith("feasible range ") and "on dev-a" in lines[0]
    archs = [line.split(": ", 1)[1] for line in lines if line[:2] in ("1:", "2:")]
    assert len(archs) == 2 and all(space.parse(a) for a in archs)  # each whole on one line
    rows = json.loads(CliRunner().invoke(main, ["nas", "generate", *sources(folder), "--budget",
                                                "4ms", "--json"]).stdout)
    assert rows[0]["device"] == "dev-a" and rows[0]["unit"] == "ms"
    assert rows[0]["feasible_low"] < 4.0 < rows[0]["feasible_high"]


def test_front_command_json_and_plot(tables, tmp_path):
    from latency_kit.cli import main

    space, values, folder = tables
    overlay = tmp_path / "published.csv"
    some = sorted(values, key=lambda a: values[a][0])[::3000]
    overlay.write_text("arch,label\n" + "".join(f"{space.format(a)},n{i}\n" for i, a in enumerate(some)))
    png = tmp_path / "front.png"
    result = CliRunner().invoke(main, ["nas", "front", *sources(folder), "--points", "8",
                                       "--json", "--plot", str(png), "--overlay", str(overlay)])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert len(rows) == 8
    assert [r["budget_ms"] for r in rows] == sorted(r["budget_ms"] for r in rows)
    assert all(r["latency_ms"] <= r["budget_ms"] for r in rows)
    got = [r["accuracy"] for r in rows]
    assert all(b >= a for a, b in zip(got, got[1:]))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    human = CliRunner().invoke(main, ["nas", "front", *sources(folder), "--points", "4"])
    assert human.exit_code == 0 and human.stdout.startswith("feasible range")


def test_plotted_line_holds_exactly_the_front(model, tmp_path):
    from nas.front import front_rows, plot_front, read_overlay

    overlay = tmp_path / "points.csv"
    overlay.write_text("cost,value,label\n2.0,70,a\n5.0,75,b\n")
    rows = front_rows(model, 6)
    fig = plot_front(model, rows, tmp_path / "f.png", {"points": read_overlay(overlay, model)})
    line, answers, extra = fig.axes[0].lines[:3]
    np.testing.assert_array_equal(line.get_xydata(), [[c, v] for _, v, c in model.front_])
    np.testing.assert_array_equal(answers.get_xydata(), [[g.best.cost, g.best.value] for g in rows])
    np.testing.assert_array_equal(extra.get_xydata(), [[2.0, 70.0], [5.0, 75.0]])


@pytest.mark.refdata
def test_overlay_reads_ofa_net_configs(refdata, tmp_path):
    """OFA's published Note10 nets (their net.config files) on the Note10 LUT: the
    w1.2 nets become points at their LUT latency; the w1.0 ones are skipped."""
    from latency_kit.formats import import_tables
    from latency_kit.spaces import get_space
    from nas.sources.accuracy import resolve_accuracy
    from nas.sources.costs import ProfileCost
    from nas.front import read_overlays

    luts = sorted((refdata / "ofa" / "note10_lut").glob("*_lookup_table.yaml"))
    cost = ProfileCost(get_space("ofa-mbv3"), import_tables("ofa-yaml", luts, "note10",
                                                            out=tmp_path / "note10"))
    model = PNAG(cost.space, cost, resolve_accuracy(None, cost.space))  # sources only
    pattern = str(refdata / "ofa" / "specialized_net_configs" / "note10_*")
    points = read_overlays([pattern], model)["net.config"]
    by_label = {p.label.split("_")[1]: p for p in points}
    assert sorted(by_label) == ["lat-30ms", "lat-41ms", "lat-50ms", "lat-64ms"]
    assert by_label["lat-30ms"].cost == pytest.approx(29.95, abs=0.01)  # DESIGN.md: 30.0 ms
    assert by_label["lat-41ms"].cost == pytest.approx(40.23, abs=0.01)


@pytest.mark.parametrize("content, message", [
    ("x,y\n1,2\n", "must name arch, or cost and value"),
    ("cost,value\n", "no rows"),
    ("cost,value\nfast,2\n", "must be numbers"),
    ("arch\n|bogus|\n", "bad nb201 architecture"),
])
def test_bad_overlay_is_a_user_error(model, tmp_path, content, message):
    from nas.front import read_overlay

    path = tmp_path / "o.csv"
    path.write_text(content)
    with pytest.raises(LatkitError, match=message):
        read_overlay(path, model)


def test_madds_cost_with_the_macs_proxy_is_refused():
    from latency_kit.cli import main

    result = CliRunner().invoke(main, ["nas", "generate", "--space", "nb201", "--cost", "madds",
                                       "--budget", "30M"])
    assert result.exit_code == 2
    assert result.output.startswith("error:") and result.output.count("\n") == 1
    assert "same number" in result.output and "proxy:synflow" in result.output


def test_export_names_files_by_device_and_budget(tables, tmp_path):
    from latency_kit.cli import main

    _, _, folder = tables
    out = tmp_path / "nets"
    written = []
    for device in ("dev-a", "dev-b"):
        result = CliRunner().invoke(main, ["nas", "generate", *sources(folder, device),
                                           "--budget", "5ms", "--export", "onnx", "-o", str(out),
                                           "--json"])
        assert result.exit_code == 0, result.output
        written.append(Path(json.loads(result.stdout)[0]["onnx"]).name)
    assert written == ["dev-a_nb201_5ms.onnx", "dev-b_nb201_5ms.onnx"]
    assert sorted(p.name for p in out.iterdir()) == written


def test_export_tflite_writes_a_model_litert_loads(tables, tmp_path):
    from ai_edge_litert.interpreter import Interpreter

    from latency_kit.cli import main

    _, _, folder = tables
    result = CliRunner().invoke(main, ["nas", "generate", *sources(folder), "--budget", "4ms",
                                       "--export", "tflite", "-o", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    path = Path(json.loads(result.stdout)[0]["tflite"])
    assert path.name == "dev-a_nb201_4ms.tflite"
    interpreter = Interpreter(model_path=str(path))
    interpreter.allocate_tensors()
    assert list(interpreter.get_input_details()[0]["shape"]) == [1, 32, 32, 3]  # NHWC
