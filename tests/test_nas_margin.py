"""Budget margins for the latency predictor's own error (issue 20).

An answer is chosen so that its predicted latency times the cost's margin
fits the budget. The margin is a conformal bound on held-out errors: each
calibration network predicted by the fit on the others (calibrated profiles),
or each source device predicted from the others (few-shot profiles).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from latency_kit import load_profile
from latency_kit.cli import main
from latency_kit.errors import LatkitError
from latency_kit.predict.ridge import calibration_data, ridge_fit
from latency_kit.profiles.fewshot import build_fewshot_profile, reference_archs
from latency_kit.profiles.table import write_table_profile
from latency_kit.spaces import get_space
from nas.margin import cost_margin
from nas.pnag import PNAG, settings_from
from nas.sources.accuracy import TableAccuracy
from nas.sources.costs import ProfileCost, TableCost

SHIPPED = "amd-epyc-ort-1t"


def test_calibrated_profile_errors_are_leave_one_out():
    profile = load_profile(SHIPPED)
    errors = profile.held_out_errors
    entries = profile.calibration()
    assert errors.cases == len(entries) == len(errors.groups) and errors.scale == 1.0
    X, y = calibration_data(profile.features, entries, profile.features.recipe.features)
    fit = ridge_fit(X[1:], y[1:], np.ones(len(y) - 1), profile.features.recipe.alphas(), True)
    assert errors.groups["network 0"][0] == pytest.approx(np.log(y[0] / fit.predict(X[:1])[0]))


def test_margin_of_a_calibrated_profile_is_applied_and_reported():
    cost = ProfileCost.load(SHIPPED)
    margin = cost_margin(cost, 0.95)
    residuals = np.sort(np.concatenate(list(cost.held_out_errors().groups.values())))
    assert margin.factor == pytest.approx(np.exp(residuals[-1]))  # 30 cases: the largest
    assert 0.9 < margin.coverage < 1.0 and margin.margin.cases == 30
    assert cost_margin(TableCost.from_mapping(get_space("nb201"),
                                              {get_space("nb201").sample(0): 1.0})) is None
    with pytest.raises(ValueError):
        cost_margin(cost, 1.0)


def test_a_coverage_measured_on_few_devices_is_flagged():
    from latency_kit.predict.heldout import HeldOutErrors
    from latency_kit.predict.margin import margin_of

    rng = np.random.default_rng(0)
    def errors(devices: int, by_device: bool = True) -> HeldOutErrors:
        return HeldOutErrors({f"d{k}": rng.normal(0, 1, 200) for k in range(devices)}, 0.1, "x",
                             by_device)
    assert margin_of(errors(3)).few_groups and not margin_of(errors(13)).few_groups
    assert not margin_of(errors(3, by_device=False)).few_groups  # networks, not devices


def test_devices_covered_and_the_two_step_bound():
    """Six well predicted devices and three badly predicted ones: the pooled 90%
    bound lets the good ones hide the bad, and ``devices_covered`` shows it; the
    two-step bound (``device_level``) is the conformal quantile over devices at
    80% of each device's own 90% quantile."""
    from latency_kit.predict.heldout import HeldOutErrors
    from latency_kit.predict.margin import device_bounds, fit_margin, margin_of

    groups = {f"g{i}": np.linspace(-0.05, 0.05, 100) for i in range(6)}
    groups |= {"b1": np.linspace(0, 0.2, 100), "b2": np.linspace(0, 0.3, 100),
               "b3": np.linspace(0, 0.4, 100)}
    pooled = fit_margin(groups, 0.9)
    two_step = fit_margin(groups, 0.9, device_level=0.8)
    own = sorted(device_bounds(groups, 0.9).values())
    assert two_step.log_bound == own[7]            # ceil(10 * 0.8) = 8th of 9 devices
    assert pooled.log_bound < 0.2 < two_step.log_bound == pytest.approx(0.27, abs=0.01)
    assert pooled.devices_covered == 7             # b2 and b3 fall short when left out
    assert np.mean(groups["b2"] <= pooled.log_bound) < 0.7 <= 0.9 <= np.mean(
        groups["b2"] <= two_step.log_bound)
    assert two_step.devices_covered > pooled.devices_covered and two_step.coverage > pooled.coverage
    assert two_step.device_level == 0.8 and pooled.device_level is None
    # few devices: the level over devices is capped at n / (n + 1), the largest bound
    assert fit_margin({"a": groups["g0"], "b": groups["b3"]}, 0.9, 0.8).log_bound == own[-1]
    # a budget margin reports the devices it met; one from networks does not
    margin = margin_of(HeldOutErrors(groups, 0.1, "x", by_device=True), 0.9)
    assert margin.margin.log_bound == pooled.log_bound
    assert (margin.to_json()["devices_covered"], margin.to_json()["devices"]) == (7, 9)
    from nas.cli import _margin_line
    assert "target 90%; 7 of 9 held-out devices had 90% of their networks under it)" in \
        _margin_line(margin)
    assert "devices_covered" not in margin_of(HeldOutErrors(groups, 0.1, "x"), 0.9).to_json()


def test_generate_keeps_the_margin_and_never_gets_worse(latkit_home):
    from nas import api

    model = api.load_or_fit(device=SHIPPED).model
    factor = model.margin().factor
    previous = -np.inf
    for budget in np.linspace(model.feasible_.low * 1.3, model.feasible_.high * 1.1, 15):
        kept, bare = model.generate(float(budget)), model.generate(float(budget), margin_level=None)
        assert kept.best.cost * factor <= budget + 1e-9 and kept.margin is model.margin()
        assert bare.best.value >= kept.best.value and bare.margin is None
        assert kept.best.value >= previous
        previous = kept.best.value
    # a fresh search keeps the same margin
    middle = float(np.sqrt(model.feasible_.low * model.feasible_.high))
    searched = model.search(middle, n=3, seed=1)
    assert searched.margin is model.margin()
    assert all(p.cost * factor <= middle + 1e-9 for p in searched.picks)
    assert model.search(middle, seed=1, margin_level=None).margin is None


# HELP's split (benchmarks/_common.py): 13 source devices, 6 unseen ones
HELP_TRAIN = ("1080ti_1", "1080ti_32", "1080ti_256", "silver_4114", "silver_4210r", "samsung_a50",
              "pixel3", "essential_ph_1", "samsung_s7", "titanx_1", "titanx_32", "titanx_256",
              "gold_6240")
HELP_TEST = ("titan_rtx_256", "gold_6226", "fpga", "pixel2", "raspi4", "eyeriss")


def test_fewshot_margin_keeps_answers_within_budget_on_real_devices(refdata, tmp_path):
    """HELP's NAS-Bench-201 tables: each unseen device is a few-shot profile from
    its table's latency on 10 reference networks, the 13 source devices stored as
    table profiles; a tiny PNAG per device answers 12 budgets (its latency
    quantiles). With the 99% margin every answer fits on the device's *true*
    latency (its table); without it, some do not."""
    from latency_kit.formats.arch_tables import read_help, read_index

    root = refdata / "help" / "nasbench201"
    index = read_index(root / "str_arch2idx.pt")
    keys = [index[i] for i in sorted(index)]
    lat = {d: np.array([float(v) for _, v, _ in read_help(root / "latency" / f"{d}.pt", index).rows])
           for d in HELP_TRAIN + HELP_TEST}
    space = get_space("nb201")
    table = json.loads((refdata / "nb201_minibench" / "nb201_accuracies.json").read_text())
    column = table["columns"].index("cifar10-test")
    accuracy = TableAccuracy.from_mapping(space, {space.parse(r[1]): float(r[column])
                                                  for r in table["rows"]})
    sources = [write_table_profile(tmp_path / d, d, "nb201", dict(zip(keys, lat[d].tolist())), {})
               for d in HELP_TRAIN]
    refs = reference_archs(space, sources, 10)
    row = {k: i for i, k in enumerate(keys)}
    overshoot = []
    for device in HELP_TEST:
        truth = lat[device]
        profile = build_fewshot_profile("nb201", sources,
                                        [(a, truth[row[space.format(a)]]) for a in refs], device,
                                        out=tmp_path / f"fewshot-{device}")
        assert len(profile.held_out_errors.groups) == len(HELP_TRAIN)
        model = PNAG(space, ProfileCost(space, profile), accuracy, settings_from("tiny")).fit()
        for budget in np.quantile(truth, np.linspace(0.1, 0.95, 12)):
            kept = model.generate(float(budget), margin_level=0.99)
            assert truth[row[space.format(kept.best.arch)]] <= budget, (device, budget)
            bare = model.generate(float(budget), margin_level=None).best.arch
            overshoot.append(truth[row[space.format(bare)]] > budget)
    assert any(overshoot)


def test_cli_reports_the_margin(latkit_home):
    run = CliRunner()
    out = run.invoke(main, ["nas", "generate", "--device", SHIPPED, "--budget", "30ms", "--json"])
    assert out.exit_code == 0, out.output
    row = json.loads(out.stdout)[0]
    assert row["margin_ms"] > 0 and row["margin"]["cases"] == 30
    assert row["latency_ms"] + row["margin_ms"] <= 30 + 1e-9
    text = run.invoke(main, ["nas", "generate", "--device", SHIPPED, "--budget", "30ms"])
    assert "held-out cases" in text.stdout and "margin" in text.stdout
    bare = run.invoke(main, ["nas", "generate", "--device", SHIPPED, "--budget", "30ms",
                             "--no-margin", "--json"])
    assert json.loads(bare.stdout)[0]["margin_ms"] is None
    bad = run.invoke(main, ["nas", "generate", "--device", SHIPPED, "--budget", "30ms",
                            "--margin-level", "1.5"])
    assert bad.exit_code != 0 and "--margin-level" in bad.output
    both = run.invoke(main, ["nas", "generate", "--device", SHIPPED, "--budget", "30ms",
                             "--margin-level", "0.8", "--no-margin"])
    assert both.exit_code != 0 and "not both" in both.output
    capped = run.invoke(main, ["nas", "generate", "--device", SHIPPED, "--budget", "30ms",
                               "--margin-level", "0.99"])
    assert "target 99%, capped at 96.7% by 30 cases" in capped.stdout


def test_above_the_range_note_counts_the_margin(latkit_home):
    from nas import api

    model = api.load_or_fit(device=SHIPPED).model
    high, factor = model.feasible_.high, model.margin().factor
    assert model.generate(high * (1 + factor) / 2).note is None  # above the range, not the margin
    top = model.generate(high * factor * 1.01)
    assert "plus its margin" in top.note and top.best.cost == pytest.approx(high)
    with pytest.raises(LatkitError, match="margin_level=None"):
        model.generate(model.feasible_.low * 1.001)
    with pytest.raises(ValueError):
        model.generate("30ms", margin_level="x")


def test_json_costs_and_margins_are_rounded_down():
    """A printed cost plus its printed margin never exceeds what the exact ones add to."""
    from nas.cli import _down

    assert _down(10.00009) == 10.0 and _down(9.99999) == 9.9999 and _down(np.float32(2.5)) == 2.5
    assert _down(2.92) == 2.92  # the float nearest 2.92 is just below it: kept as written
    rng = np.random.default_rng(0)
    for cost, margin in rng.uniform(0.1, 60, size=(500, 2)):
        assert _down(cost) <= cost and cost - _down(cost) < 1e-4
        assert _down(cost) + _down(margin) <= cost + margin
