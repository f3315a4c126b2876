"""The latency predictor: sklearn conventions, features, persistence, errors, CLI.

One real profile (160 px LUT measured with tiny settings, a few calibration
networks measured end to end) is built once per session and shared.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from click.testing import CliRunner
from sklearn.utils.estimator_checks import parametrize_with_checks

from latency_kit import LatencyPredictor, load_profile
from latency_kit.api import build_profile
from latency_kit.backends.onnxruntime import OnnxRuntimeBackend
from latency_kit.measure.calibration import JOURNAL, calibrate, sample_archs
from latency_kit.profiles.calibration_file import FILE, read_calibration, write_calibration
from latency_kit.cli import main
from latency_kit.measure.engine import MeasureSettings
from latency_kit.errors import MissingEntryError
from latency_kit.lut import LatencyTable
from latency_kit.predict.features import (DEFAULT_RECIPE, GENERIC_RECIPE, GROUP_FEATURES, KERNEL_FEATURES,
                                  KERNEL_RECIPE, recipe_for)
from latency_kit.predict.predictor import fit_predictor
from latency_kit.predict.ridge import ridge_fit
from latency_kit.spaces import get_space

TINY = MeasureSettings(warmup_ms=2.0, min_warmup_runs=1, repeats=3, batch_ms=0.5, retries=0)
N_CAL = 6


@pytest.fixture(scope="session")
def backend(onnx_cache):
    return OnnxRuntimeBackend(threads=1, cache=onnx_cache)


_BUILT: dict[str, object] = {}  # shared with test_validate.py, which imports these fixtures


@pytest.fixture(scope="session")
def profile_dir(tmp_path_factory, backend):
    """A real 160 px profile with N_CAL calibration networks (tiny settings)."""
    if "dir" not in _BUILT:
        out = tmp_path_factory.mktemp("profiles") / "cpu160"
        build_profile("cpu", resolutions=(160,), out=out, settings=TINY, backend=backend,
                      calibrate=0)
        calibrate(out, get_space("ofa-mbv3", resolutions=(160,)), backend, N_CAL, rounds=1,
                  settings=TINY)
        _BUILT["dir"] = out
    return _BUILT["dir"]


@pytest.fixture
def profile(profile_dir):
    return load_profile(profile_dir)


# -- the estimator ---------------------------------------------------------------------
@parametrize_with_checks([LatencyPredictor(), LatencyPredictor(model="huber"),
                          LatencyPredictor(relative=False)])
def test_sklearn_conventions(estimator, check) -> None:
    check(estimator)


def test_fit_is_deterministic_and_relative() -> None:
    rng = np.random.default_rng(0)
    X = rng.uniform(1, 10, size=(40, 3))
    y = X @ [1.0, 0.5, 0.2] + 1.0
    a = LatencyPredictor(model="gbr").fit(X, y).predict(X)
    b = LatencyPredictor(model="gbr").fit(X, y).predict(X)
    assert np.array_equal(a, b)
    linear = LatencyPredictor().fit(X, y)
    assert np.max(np.abs(linear.predict(X) / y - 1)) < 1e-3


def test_ridge_core_matches_sklearn_ridge() -> None:
    from sklearn.linear_model import Ridge

    rng = np.random.default_rng(1)
    X = rng.uniform(1, 10, size=(30, 4))
    y = X @ [1.0, 0.5, 0.2, 0.0] + 1.0 + rng.normal(0, 0.1, 30)
    w = rng.uniform(0.5, 2, 30)
    fit = ridge_fit(X, y, w, alpha=0.3, relative=False)
    Z = (X - fit.mean) / fit.scale
    reference = Ridge(alpha=0.3).fit(Z, y, sample_weight=w).predict(Z)
    assert np.allclose(fit.predict(X), reference, rtol=1e-8)


def test_per_column_penalty_is_ridge_on_rescaled_columns() -> None:
    from sklearn.linear_model import Ridge

    rng = np.random.default_rng(2)
    X = rng.uniform(1, 10, size=(30, 3))
    y = X @ [1.0, 0.5, 0.2] + rng.normal(0, 0.1, 30)
    alphas = np.array([1e-3, 3.0, 30.0])
    fit = ridge_fit(X, y, np.ones(30), alphas, relative=False)
    Z = (X - fit.mean) / fit.scale
    # penalty a_j on coefficient b_j is penalty 1 on b_j * sqrt(a_j)
    reference = Ridge(alpha=1.0).fit(Z / np.sqrt(alphas), y).predict(Z / np.sqrt(alphas))
    assert np.allclose(fit.predict(X), reference, rtol=1e-8)
    same = ridge_fit(X, y, np.ones(30), np.full(3, 0.3), relative=False)
    assert np.allclose(same.predict(X), ridge_fit(X, y, np.ones(30), 0.3, False).predict(X))


def test_penalised_features_need_their_columns() -> None:
    X = np.random.default_rng(3).uniform(1, 10, size=(10, 3))
    model = LatencyPredictor(features=("lut", "macs"), penalised=("macs",))
    with pytest.raises(ValueError, match="must have the 2 columns"):
        model.fit(X, X.sum(axis=1))
    assert LatencyPredictor(features=("a", "b", "c"), penalised=("c",)).fit(X, X.sum(axis=1))


def test_recipe_follows_the_runtime(profile) -> None:
    ofa, nb201 = get_space("ofa-mbv3"), get_space("nb201")
    assert recipe_for(ofa, "onnxruntime") == KERNEL_RECIPE
    assert recipe_for(ofa, "torch-cuda") == recipe_for(ofa, None) == DEFAULT_RECIPE
    assert recipe_for(nb201, "onnxruntime") == GENERIC_RECIPE
    assert profile.features.recipe == KERNEL_RECIPE  # an ONNX Runtime profile
    assert set(KERNEL_RECIPE.penalised) <= set(KERNEL_RECIPE.features)
    assert list(KERNEL_RECIPE.alphas(1e-3, 3.0)) == [1e-3, 1e-3, 1e-3, 3.0, 3.0, 3.0, 3.0]
    assert profile.predictor.penalised == KERNEL_RECIPE.penalised


# -- features ---------------------------------------------------------------------------
def test_analytic_costs_match_torch_counting() -> None:
    space = get_space("ofa-mbv3", resolutions=(160,))
    blocks = space.all_blocks()  # a third of the MBConv keys (SE or not) and every other kind
    for block in [b for i, b in enumerate(blocks) if i % 3 == 0 or "-expand:" not in b.key]:
        assert space.block_costs(block.key)[:2] == space.block_counts(block.key), block.key


def test_features_sum_blocks(profile) -> None:
    archs = sample_archs(profile.space, 20, seed=5)
    table = profile.features
    X = table.transform(archs)
    names = list(table.names)
    for i, (arch, row) in enumerate(zip(archs, X)):
        keys = [b.key for b in profile.space.blocks(arch)]
        assert row[names.index("lut")] == pytest.approx(profile.lut.total(keys))
        for grouping in (GROUP_FEATURES, KERNEL_FEATURES):  # each splits the whole LUT sum
            assert sum(row[names.index(g)] for g in grouping) == pytest.approx(row[names.index("lut")])
        if i < 2:  # torch counting is slow; the per-block costs are checked above
            assert row[names.index("macs")] * 1e6 == pytest.approx(profile.space.macs(arch))
        assert row[names.index("resolution")] == 160
    assert np.allclose(table.transform(archs[:1]), X[:1])


def test_missing_block_names_key_and_profile(profile_dir, tmp_path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(profile_dir, broken)
    lut = LatencyTable.load(broken / "lut.json")
    arch = load_profile(broken).space.sample(3)
    key = load_profile(broken).space.blocks(arch)[4].key
    del lut.entries[key]
    lut.save(broken / "lut.json")
    with pytest.raises(MissingEntryError) as err:
        load_profile(broken).predict(arch)
    assert key in str(err.value) and repr(load_profile(broken).name) in str(err.value)
    result = CliRunner().invoke(main, ["predict", "--profile", str(broken), "--arch",
                                       load_profile(broken).space.format(arch)])
    assert result.exit_code == 2 and key in result.output


# -- profile integration and persistence --------------------------------------------------
def test_profile_uses_calibrated_predictor(profile) -> None:
    assert profile.predictor_kind == "calibrated"
    entries = profile.calibration()
    assert len(entries) == N_CAL
    assert {e["arch"].split("_")[0] for e in entries} == {"r160"}
    arch = profile.space.sample(11)
    ms = profile.predict(arch)
    assert ms == profile.predict(profile.space.format(arch)) > 0
    assert ms != pytest.approx(profile.lut_sum(arch), rel=1e-9)


def test_profile_predict_is_the_sklearn_predictor(profile) -> None:
    archs = sample_archs(profile.space, 30, seed=12)
    assert isinstance(profile.predictor, LatencyPredictor)
    assert np.allclose(profile.predict_many(archs), profile.predictor.predict_archs(profile.features, archs),
                       rtol=1e-12)


def test_one_fit_behind_predict_and_predictor(profile) -> None:
    """``Profile.predictor`` wraps the fit ``predict`` uses; fitting the estimator anew agrees."""
    archs = sample_archs(profile.space, 30, seed=13)
    assert profile.predictor.linear_ is profile.linear_fit
    wrapped = profile.predictor.predict_archs(profile.features, archs)
    assert np.array_equal(profile.predict_many(archs), wrapped)
    refit = fit_predictor(profile.features, profile.calibration())
    assert np.array_equal(refit.predict_archs(profile.features, archs), wrapped)


def test_load_and_predict_do_not_import_sklearn(profile_dir) -> None:
    import subprocess
    import sys

    code = ("import sys; from latency_kit import load_profile; p = load_profile(sys.argv[1]); "
            "p.predict(p.space.sample(0)); assert p.predictor_kind == 'calibrated'; "
            "print('sklearn' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code, str(profile_dir)], capture_output=True,
                         text=True, check=True).stdout
    assert out.strip() == "False"


def test_refit_on_load_gives_identical_predictions(profile_dir, tmp_path) -> None:
    archs = sample_archs(get_space("ofa-mbv3", resolutions=(160,)), 50, seed=9)
    first = load_profile(profile_dir).predict_many(archs)
    copy = tmp_path / "copy"
    shutil.copytree(profile_dir, copy)
    entries = read_calibration(copy / FILE)
    write_calibration(copy / FILE, json.loads(json.dumps(entries)), seed=0)
    assert np.array_equal(first, load_profile(copy).predict_many(archs))
    assert np.array_equal(first, load_profile(profile_dir).predict_many(archs))


def test_no_calibration_falls_back_to_lut_sum(profile_dir, tmp_path) -> None:
    bare = tmp_path / "bare"
    shutil.copytree(profile_dir, bare)
    (bare / FILE).unlink()
    profile = load_profile(bare)
    arch = profile.space.sample(2)
    assert profile.predictor_kind == "lut-sum"
    assert profile.predict(arch) == pytest.approx(profile.lut_sum(arch))


def test_calibration_resumes_from_journal(profile_dir, backend, tmp_path) -> None:
    """Networks in the journal (an interrupted run) are not measured again."""
    space = get_space("ofa-mbv3", resolutions=(160,))
    out = tmp_path / "resume"
    out.mkdir()
    measured = read_calibration(profile_dir / FILE)
    with open(out / JOURNAL, "w") as handle:
        for entry in measured[:N_CAL - 1]:
            handle.write(json.dumps(entry) + "\n")
        handle.write('{"arch": "r160_k3e')  # a write cut short by a kill
    prepared = []

    class Counting(OnnxRuntimeBackend):
        def prepare(self, spec):
            prepared.append(spec.key)
            return super().prepare(spec)

    entries = calibrate(out, space, Counting(cache=backend.cache), N_CAL, rounds=1, settings=TINY)
    assert prepared == [measured[-1]["arch"]]
    assert [e["arch"] for e in entries] == [e["arch"] for e in measured]
    assert not (out / JOURNAL).exists() and len(read_calibration(out / FILE)) == N_CAL


def test_sample_archs_prefix_stable_and_spread() -> None:
    space = get_space("ofa-mbv3", resolutions=(160, 192, 224))
    ten = [space.format(a) for a in sample_archs(space, 10, seed=0)]
    assert ten[:4] == [space.format(a) for a in sample_archs(space, 4, seed=0)]
    assert len(set(ten)) == 10
    assert {t.split("_")[0] for t in ten} == {"r160", "r192", "r224"}
    assert not set(ten[:3]) & {space.format(a) for a in sample_archs(space, 5, 0, exclude=ten[:3])}


# -- CLI ------------------------------------------------------------------------------------
def test_predict_cli_json(profile_dir, profile) -> None:
    arch = profile.space.format(profile.space.sample(4))
    result = CliRunner().invoke(main, ["predict", "--profile", str(profile_dir), "--arch", arch, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["latency_ms"] == pytest.approx(profile.predict(arch))
    assert data["lut_sum_ms"] == pytest.approx(profile.lut_sum(arch))
    assert data["predictor"] == "calibrated"
    text = CliRunner().invoke(main, ["predict", "--profile", str(profile_dir), "--arch", arch])
    assert text.exit_code == 0 and "ms" in text.output


def test_predict_cli_device_name_and_resolution(profile_dir, profile, latkit_home) -> None:
    shutil.copytree(profile_dir, latkit_home / "profiles" / "cpu160")
    arch = profile.space.sample(6)
    body = profile.space.format(arch).split("_", 1)[1]  # without the r160 prefix
    result = CliRunner().invoke(main, ["predict", "--device", "cpu160", "--arch", body,
                                       "--resolution", "160", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["latency_ms"] == pytest.approx(profile.predict(arch))


def test_predict_cli_arch_file_keeps_order(profile_dir, profile, tmp_path) -> None:
    archs = [profile.space.format(a) for a in sample_archs(profile.space, 200, seed=8)]
    path = tmp_path / "archs.txt"
    path.write_text("\n".join(archs) + "\n")
    result = CliRunner().invoke(main, ["predict", "--profile", str(profile_dir), "--arch-file", str(path)])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [r["arch"] for r in rows] == archs
    assert np.allclose([r["latency_ms"] for r in rows], profile.predict_many(archs))


def test_predict_cli_errors(profile_dir) -> None:
    runner = CliRunner()
    assert runner.invoke(main, ["predict", "--arch", "x"]).exit_code == 2
    result = runner.invoke(main, ["predict", "--device", "nosuch", "--arch", "x"])
    assert result.exit_code == 2 and "nosuch" in result.output
    result = runner.invoke(main, ["predict", "--profile", str(profile_dir), "--arch", "r160_k9e9"])
    assert result.exit_code == 2 and "Traceback" not in result.output


def test_cost_identity_follows_the_predictor_not_only_the_files(profile_dir, monkeypatch) -> None:
    """A generator trained on one predictor's costs must not be reused after it changes."""
    from latency_kit.predict import features
    from nas.sources.costs import ProfileCost

    calibrated = ProfileCost(None, load_profile(profile_dir)).identity()
    assert "predictor=ridge(lut,macs,lut_x_res,lut:k3" in calibrated
    monkeypatch.setattr(features, "RUNTIME_RECIPES", {})  # same files, default features
    default = ProfileCost(None, load_profile(profile_dir)).identity()
    assert "predictor=ridge(lut,macs,params" in default
    assert default.split(";")[0] == calibrated.split(";")[0]
