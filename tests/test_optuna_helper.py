"""The Optuna helper and its runnable example."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import yaml

from latency_kit.errors import LatkitError
from latency_kit.formats import import_tables
from latency_kit.integrations.optuna import LATENCY_ATTR, LatencyObjective
from latency_kit.spaces.ofa_mbv3 import OFAMobileNetV3

optuna = pytest.importorskip("optuna")
EXAMPLE = Path(__file__).resolve().parents[1] / "benchmarks" / "optuna_example.py"


@pytest.fixture
def profile(tmp_path):
    """An imported OFA-format table over every r160 block (synthetic values: plumbing only)."""
    rng = np.random.default_rng(0)
    data = {b.key: {"count": 10, "mean": float(rng.uniform(0.05, 2.0)), "std": 0.01}
            for b in OFAMobileNetV3(resolutions=(160,)).all_blocks()}
    path = tmp_path / "160_lookup_table.yaml"
    path.write_text(yaml.safe_dump(data))
    return import_tables("ofa-yaml", [path], "synth")


def _width(arch) -> float:
    """A cheap stand-in score (total kernel x expand); the test is about latency plumbing."""
    return float(sum(k * e for stage in arch.stages for k, e in stage))


def test_three_line_study_respects_budget(profile):
    sums = profile.predict_many([profile.space.sample(i) for i in range(40)])
    budget = float(np.median(sums))
    lat = LatencyObjective(profile, budget=f"{budget}ms")
    study = optuna.create_study(directions=lat.directions, sampler=lat.sampler(seed=0))
    study.optimize(lat.wrap(_width), n_trials=24)
    for trial in study.trials:
        arch = profile.space.parse(trial.user_attrs["arch"])
        assert trial.values[1] == pytest.approx(profile.predict(arch))
        assert lat.constraints(trial) == [pytest.approx(trial.user_attrs[LATENCY_ATTR] - budget)]
    best = lat.best(study)
    assert best and all(t.values[1] <= budget for t in best)


def test_objective_may_take_the_trial(profile):
    lat = LatencyObjective(profile)
    seen = []
    study = optuna.create_study(directions=lat.directions)
    study.optimize(lat.wrap(lambda trial, arch: seen.append(trial.number) or 1.0), n_trials=3)
    assert seen == [0, 1, 2]
    with pytest.raises(LatkitError, match="need a budget"):
        lat.constraints(study.trials[0])
    with pytest.raises(LatkitError, match="latency budget"):
        LatencyObjective(profile, budget="300M")


@pytest.mark.refdata
def test_example_runs(refdata, capsys):
    spec = importlib.util.spec_from_file_location("optuna_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rows = module.main(["--trials", "30", "--budget", "30ms"])
    out = capsys.readouterr().out
    assert "OFA predicted top-1" in out and "30 trials" in out
    assert rows and all(r["latency_ms"] <= 30 for r in rows)
    assert all(60 < r["score"] < 85 for r in rows)  # top-1 percent from OFA's predictor
