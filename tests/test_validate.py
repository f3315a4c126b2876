"""``latkit validate`` end to end on a small real profile, and the metrics."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from latency_kit.cli import main
from latency_kit.stats import LatencyStats
from latency_kit.measure.validation import (METHODS, MacsLinear, median_noise, metrics, tau_ceiling,
                                     truth_noise)

from tests.test_predictor import N_CAL, backend, profile_dir  # noqa: F401  (shared fixtures)


def test_metrics_values() -> None:
    m = metrics([10.0, 20.0, 30.0, 40.0], [10.4, 21.5, 29.0, 50.0])
    assert m["within_5pct"] == 0.5 and m["within_10pct"] == 0.75
    assert m["rmse_ms"] == pytest.approx(np.sqrt((0.4**2 + 1.5**2 + 1.0**2 + 10.0**2) / 4))
    assert m["kendall_tau"] == pytest.approx(1.0)


def test_macs_linear_recovers_a_line() -> None:
    fit = MacsLinear().fit([100, 200, 300], [3.0, 5.0, 7.0])
    assert fit.predict([400])[0] == pytest.approx(9.0)


def test_median_noise_follows_the_median_of_normal_values() -> None:
    assert median_noise(0.02, 1) == pytest.approx(0.02, rel=0.02)
    assert median_noise(0.02, 3) == pytest.approx(0.02 * 0.670, rel=0.03)
    # many values: the median's noise tends to sqrt(pi / 2n) of one value's
    assert median_noise(1.0, 51) == pytest.approx(np.sqrt(np.pi / 102), rel=0.05)


def test_tau_ceiling_falls_with_the_truth_noise() -> None:
    y = np.linspace(20.0, 30.0, 30)
    assert tau_ceiling(y, 0.0) == pytest.approx(1.0)
    assert 1.0 > tau_ceiling(y, 0.005) > tau_ceiling(y, 0.02) > tau_ceiling(y, 0.1) > 0.0


def test_truth_noise_pools_the_spread_over_processes() -> None:
    stats = [LatencyStats(median_ms=m, cv=cv, count=3) for m, cv in [(20.0, 0.01), (25.0, 0.03)]]
    noise = truth_noise(stats)
    assert noise is not None and noise["processes"] == 3
    # the median of the two variances, over the median of chi-square(2) / 2 (= ln 2)
    assert noise["process_noise_pct"] == pytest.approx(
        100 * np.sqrt((0.01**2 + 0.03**2) / 2 / np.log(2)))
    assert noise["noise_pct"] == pytest.approx(0.670 * noise["process_noise_pct"], rel=0.03)
    assert truth_noise([LatencyStats(median_ms=20.0, cv=0.0, count=1)] * 2) is None  # one process


def test_truth_noise_is_not_carried_off_by_a_few_networks() -> None:
    calm = [LatencyStats(median_ms=20.0 + i, cv=0.01, count=3) for i in range(10)]
    hit = calm[:8] + [LatencyStats(median_ms=30.0 + i, cv=0.3, count=3) for i in range(2)]
    assert truth_noise(hit)["process_noise_pct"] == pytest.approx(
        truth_noise(calm)["process_noise_pct"])


def test_validate_cli_end_to_end(profile_dir) -> None:  # noqa: F811
    result = CliRunner().invoke(main, ["validate", "--profile", str(profile_dir), "-n", "2",
                                       "--rounds", "1", "--seed", "3", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output[result.output.index("{"):])
    assert set(METHODS) <= set(data)
    for method in METHODS:
        assert set(data[method]) == {"within_5pct", "within_10pct", "rmse_ms", "kendall_tau"}
        assert 0.0 <= data[method]["within_10pct"] <= 1.0 and data[method]["rmse_ms"] >= 0
    calibration = {e["arch"] for e in json.loads((profile_dir / "calibration.json").read_text())["entries"]}
    assert len(calibration) == N_CAL
    nets = data["networks"]
    assert len(nets) == 2 and not {n["arch"] for n in nets} & calibration
    assert all(n["measured_ms"] > 0 and n["predictor_ms"] > 0 for n in nets)
    ratios = [n["measured_ms"] / n["predictor_ms"] for n in nets]
    assert data["predictor_level"] == pytest.approx(np.sqrt(ratios[0] * ratios[1]))
    margin = data["margin"]  # the budget margin `latkit nas` keeps, checked on these networks
    assert margin["factor"] >= 1.0 and margin["n"] == 2 and 0 < margin["held_out_coverage"] <= 1
    assert margin["covered"] == sum(n["measured_ms"] <= n["predictor_ms"] * margin["factor"]
                                    for n in nets)
    truth = data["truth"]  # measured in 3 fresh processes (the default)
    assert truth["processes"] == 3 and truth["noise_pct"] < truth["process_noise_pct"]
    assert -1.0 <= truth["kendall_tau_ceiling"] <= 1.0


def test_validate_needs_calibration(profile_dir, tmp_path) -> None:  # noqa: F811
    import shutil

    bare = tmp_path / "bare"
    shutil.copytree(profile_dir, bare)
    (bare / "calibration.json").unlink()
    result = CliRunner().invoke(main, ["validate", "--profile", str(bare), "-n", "2"])
    assert result.exit_code == 2 and "--calibrate" in result.output
