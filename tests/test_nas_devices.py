"""Several devices in one command: a row per device, budgets per device, one network
that fits them all (--all-fit), overlaid fronts, and the one-line refusals.

Two stored table profiles over all 15,625 nb201 cells make the devices: dev-a
costs follow :func:`tests.test_nas_pnag.synthetic`, dev-b weighs the six edges
in the reverse order (so the two devices rank networks differently), and one
accuracy table serves both. Tiny training settings keep each model to seconds;
models are stored once for the module and loaded after.
"""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from click.testing import CliRunner

from latency_kit.cli import main
from latency_kit.profiles.table import write_table_profile
from latency_kit.spaces import get_space

from tests.test_nas_pnag import OP_COST, synthetic

DEVICES = ("dev-a", "dev-b")


def cost_b(arch) -> float:
    """dev-b: the same op costs as dev-a, the edge weights reversed, 0.8 times as large."""
    weights = (1.3, 0.9, 1.1, 0.8, 1.2, 1.0)
    return round(0.8 * (0.2 + sum(OP_COST[o] * w for o, w in zip(arch.ops, weights))), 4)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A LATKIT_HOME with profiles dev-a and dev-b, the accuracy CSV, and the truth."""
    home = tmp_path_factory.mktemp("devices_home")
    space = get_space("nb201")
    archs = [space.decode(list(ix)) for ix in itertools.product(range(5), repeat=6)]
    truth = {a: {"dev-a": synthetic(a)[0], "dev-b": cost_b(a), "acc": synthetic(a)[1]}
             for a in archs}
    for device in DEVICES:
        write_table_profile(home / "profiles" / device, device, "nb201",
                            {space.format(a): t[device] for a, t in truth.items()},
                            {"synthetic": True})
    acc = home / "acc.csv"
    acc.write_text("arch,value\n" + "".join(f"{space.format(a)},{t['acc']}\n"
                                            for a, t in truth.items()))
    return space, truth, home, acc


@pytest.fixture()
def home(world, monkeypatch):
    monkeypatch.setenv("LATKIT_HOME", str(world[2]))
    return world


def run(acc, *args: str):
    return CliRunner().invoke(main, ["nas", *args, "--accuracy", f"table:{acc}",
                                     "--preset", "tiny"])


def test_repeated_device_gives_one_row_per_device_and_budget(home):
    space, truth, _, acc = home
    result = run(acc, "generate", "--device", "dev-a", "--device", "dev-b", "--budget", "3ms",
                 "--budget", "5ms", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [(r["device"], r["budget_ms"]) for r in rows] == [
        ("dev-a", 3.0), ("dev-a", 5.0), ("dev-b", 3.0), ("dev-b", 5.0)]
    for row in rows:
        arch = space.parse(row["arch"])
        assert row["latency_ms"] == truth[arch][row["device"]] <= row["budget_ms"]
    # each row is what the one-device command answers
    for device in DEVICES:
        alone = run(acc, "generate", "--device", device, "--budget", "3ms", "--budget", "5ms",
                    "--json")
        assert alone.exit_code == 0, alone.output
        assert [r["arch"] for r in json.loads(alone.stdout)] == \
               [r["arch"] for r in rows if r["device"] == device]
    human = run(acc, "generate", "--device", "dev-a", "--device", "dev-b", "--budget", "4ms")
    assert human.exit_code == 0, human.output
    numbered = [line for line in human.stdout.splitlines() if line[:3] in ("1: ", "2: ")]
    assert len(numbered) == 2 and all(space.parse(line[3:]) for line in numbered)
    assert "dev-a" in human.stdout and "dev-b" in human.stdout


def test_budgets_per_device(home):
    _, truth, _, acc = home
    result = run(acc, "generate", "--device", "dev-a", "--device", "dev-b",
                 "--budget", "dev-a=6ms", "--budget", "dev-b=2.5ms", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [(r["device"], r["budget_ms"]) for r in rows] == [("dev-a", 6.0), ("dev-b", 2.5)]
    assert all(r["latency_ms"] <= r["budget_ms"] for r in rows)
    # a shared budget serves the device without its own
    mixed = run(acc, "generate", "--device", "dev-a", "--device", "dev-b", "--budget", "4ms",
                "--budget", "dev-b=2.5ms", "--json")
    assert [(r["device"], r["budget_ms"]) for r in json.loads(mixed.stdout)] == [
        ("dev-a", 4.0), ("dev-b", 2.5)]


def test_all_fit_returns_a_network_that_fits_every_device(home):
    from nas import api

    space, truth, _, acc = home
    budgets = {"dev-a": 3.5, "dev-b": 2.0}
    result = run(acc, "generate", "--device", "dev-a", "--device", "dev-b", "--all-fit",
                 *[x for d, b in budgets.items() for x in ("--budget", f"{d}={b}ms")], "--json")
    assert result.exit_code == 0, result.output
    [row] = json.loads(result.stdout)
    arch = space.parse(row["arch"])
    for entry in row["devices"]:
        assert entry["budget_ms"] == budgets[entry["device"]]
        assert entry["latency_ms"] == truth[arch][entry["device"]] <= entry["budget_ms"]
    assert row["accuracy"] == truth[arch]["acc"]
    # the best of every network the two models queried that fits both, and the
    # per-device answers are not: each alone breaks the other device's budget
    queried = set()
    for device in DEVICES:
        model = api.load_or_fit(device=device, accuracy=f"table:{acc}", preset="tiny").model
        queried |= {a for a, _, _ in model.archive_}
    fitting = [a for a in queried if all(truth[a][d] <= budgets[d] for d in DEVICES)]
    assert row["accuracy"] == max(truth[a]["acc"] for a in fitting)
    exact = max(t["acc"] for t in truth.values() if all(t[d] <= budgets[d] for d in DEVICES))
    assert row["accuracy"] <= exact
    alone = {d: space.parse(json.loads(run(acc, "generate", "--device", d, "--budget",
                                           f"{budgets[d]}ms", "--json").stdout)[0]["arch"])
             for d in DEVICES}
    assert any(truth[alone[d]][other] > budgets[other]
               for d, other in (("dev-a", "dev-b"), ("dev-b", "dev-a")))
    human = run(acc, "generate", "--device", "dev-a", "--device", "dev-b", "--all-fit",
                "--budget", "dev-a=3.5ms", "--budget", "dev-b=2ms")
    assert human.exit_code == 0 and row["arch"] in human.stdout


def test_all_fit_with_a_budget_below_a_devices_range_is_one_line(home):
    _, _, _, acc = home
    result = run(acc, "generate", "--device", "dev-a", "--device", "dev-b", "--all-fit",
                 "--budget", "dev-a=0.1ms", "--budget", "dev-b=100ms")
    assert result.exit_code != 0
    assert result.output.startswith("error:") and result.output.count("\n") == 1
    assert "below the smallest feasible cost" in result.output


@pytest.mark.parametrize("args, message", [
    (("--device", "dev-a", "--device", "nosuchphone"), "'nosuchphone' is neither a stored profile nor a backend"),
    (("--device", "dev-a", "--device", "dev-a"), "given twice"),
    (("--device", "dev-a", "--device", "dev-b", "--budget", "pixel=3ms"), "names device 'pixel'"),
    (("--device", "dev-a", "--device", "dev-b", "--budget", "dev-a=3ms"), "no budget for device 'dev-b'"),
    (("--device", "dev-a", "--all-fit"), "two or more --device"),
])
def test_bad_device_lists_are_one_line_errors(home, args, message):
    _, _, _, acc = home
    budget = () if "--budget" in args else ("--budget", "3ms")
    result = run(acc, "generate", *args, *budget)
    assert result.exit_code != 0
    assert result.output.startswith("error:") and result.output.count("\n") == 1, result.output
    assert message in result.output


def test_front_with_two_devices_overlays_both_fronts(home, tmp_path, monkeypatch):
    import nas.front
    from nas import api

    _, _, _, acc = home
    drawn = []
    real = nas.front.plot_fronts
    monkeypatch.setattr(nas.front, "plot_fronts", lambda *a, **k: drawn.append(real(*a, **k)))
    png = tmp_path / "fronts.png"
    result = run(acc, "front", "--device", "dev-a", "--device", "dev-b", "--points", "5",
                 "--plot", str(png), "--json")
    assert result.exit_code == 0, result.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = json.loads(result.stdout)
    assert [r["device"] for r in rows] == ["dev-a"] * 5 + ["dev-b"] * 5
    [fig] = drawn
    lines = fig.axes[0].lines
    assert [line.get_label() for line in lines] == [
        "dev-a front", "dev-a answers", "dev-b front", "dev-b answers"]
    for k, device in enumerate(DEVICES):
        model = api.load_or_fit(device=device, accuracy=f"table:{acc}", preset="tiny").model
        front, answers = lines[2 * k], lines[2 * k + 1]
        np.testing.assert_array_equal(front.get_xydata(), [[c, v] for _, v, c in model.front_])
        mine = [r for r in rows if r["device"] == device]
        np.testing.assert_allclose(answers.get_xydata(),
                                   [[r["latency_ms"], r["accuracy"]] for r in mine], atol=1e-4)
        assert front.get_color() == answers.get_color()
    assert lines[0].get_color() != lines[2].get_color()
    # the two devices' fronts differ (dev-b is another device, not a copy)
    assert not np.array_equal(lines[0].get_xydata(), lines[2].get_xydata())


@pytest.fixture()
def stand_in(home):
    """``toy-slow`` (tests/toy/slow.py) with a stored table profile of the same name
    that predicts dev-a's latencies; the device reports them unless told slower."""
    import importlib
    import sys

    from latency_kit.backends import BACKENDS

    space, truth, root, acc = home
    sys.modules.pop("tests.toy.slow", None)
    slow = importlib.import_module("tests.toy.slow").ToySlowBackend
    slow.latency_ms = {space.format(a): t["dev-a"] for a, t in truth.items()}
    slow.slowdown, slow.runs = {}, []
    if not (root / "profiles" / "toy-slow").is_dir():
        folder = root / "profiles" / "toy-slow"
        write_table_profile(folder, "toy-slow", "nb201", dict(slow.latency_ms),
                            {"device": "toy-slow"})
        # as if this machine's toy-slow backend had measured the table, not an import
        meta = json.loads((folder / "profile.json").read_text())
        (folder / "profile.json").write_text(json.dumps({**meta, "backend": "stand-in"}))
    yield slow
    BACKENDS.unregister("toy-slow")
    sys.modules.pop("tests.toy.slow", None)


def test_verify_moves_to_the_next_network_when_the_device_measures_slower(stand_in, home):
    _, _, _, acc = home
    plain = run(acc, "generate", "--device", "toy-slow", "--budget", "4ms", "-n", "3", "--json")
    assert plain.exit_code == 0, plain.output
    [answer] = json.loads(plain.stdout)
    assert stand_in.runs == []  # without --verify nothing is measured
    first, second = answer["arch"], answer["alternatives"][0]["arch"]
    stand_in.slowdown = {first: 1.4}  # the device runs the top answer 40% slower
    result = run(acc, "generate", "--device", "toy-slow", "--budget", "4ms", "--verify",
                 "--json")
    assert result.exit_code == 0, result.output
    [row] = json.loads(result.stdout)
    assert stand_in.runs == [first, second]
    assert row["verified"] is True and row["arch"] == second
    assert row["measured_ms"] == pytest.approx(stand_in.latency_ms[second])
    assert row["measured_ms"] <= 4.0
    assert [t["arch"] for t in row["tried"]] == [first, second]
    assert row["tried"][0]["measured_ms"] == pytest.approx(1.4 * row["tried"][0]["latency_ms"])
    assert row["tried"][0]["measured_ms"] > 4.0
    # no answer fits within --tries: the row keeps the model's answer and says so
    stand_in.slowdown = {a: 2.0 for a in stand_in.latency_ms}
    stuck = run(acc, "generate", "--device", "toy-slow", "--budget", "4ms", "--verify",
                "--tries", "2", "--json")
    [row] = json.loads(stuck.stdout)
    assert row["verified"] is False and len(row["tried"]) == 2
    assert row["arch"] == first and "none of the 2 best answers" in row["note"]
    human = run(acc, "generate", "--device", "toy-slow", "--budget", "4ms", "--verify")
    assert human.exit_code == 0 and "none of the 5 best answers" in human.stdout


def test_verify_needs_a_device_this_machine_measures(home):
    _, _, _, acc = home
    result = run(acc, "generate", "--device", "dev-a", "--budget", "4ms", "--verify")
    assert result.exit_code != 0 and result.output.count("\n") == 1
    assert "--verify cannot measure 'dev-a' here" in result.output
    assert "imported" in result.output and "━" not in result.output  # refused before training
