"""Few-shot latency transfer: the method, the profile kind and the CLI.

The synthetic device family has known structure: every device's log-latency
is a device-specific mix of three latent per-decision cost vectors, so a new
device's log-latency is (up to noise) a linear function of the sources' and
the transfer must recover its ranking from a few measurements.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from scipy.stats import spearmanr

from latency_kit import load_profile
from latency_kit.cli import main
from latency_kit.errors import LatkitError
from latency_kit.predict.transfer import FewShotTransfer, SourceScale, select_references
from latency_kit.profiles.fewshot import (FewShotProfile, build_fewshot_profile, load_sources,
                                         reference_archs)
from latency_kit.spaces import get_space
from latency_kit.profiles.table import write_table_profile

LATENT = 3


def family(features: np.ndarray, devices: int, seed: int = 0) -> np.ndarray:
    """ms of each row on ``devices`` devices mixing ``LATENT`` latent cost vectors."""
    rng = np.random.default_rng(seed)
    basis = rng.gamma(2.0, 0.05, size=(features.shape[1], LATENT))
    mix = rng.dirichlet(np.ones(LATENT) * 0.7, size=devices)          # devices x LATENT
    scale = rng.uniform(1.0, 20.0, size=devices)
    log_ms = np.log(scale) + (features @ basis) @ mix.T
    return np.exp(log_ms + rng.normal(0, 0.01, size=log_ms.shape))


def onehots(rng: np.random.Generator, rows: int, decisions: int = 12, choices: int = 4) -> np.ndarray:
    picks = rng.integers(choices, size=(rows, decisions))
    return np.concatenate([(picks == c).astype(float) for c in range(choices)], axis=1)


def test_transfer_recovers_synthetic_family():
    feats = onehots(np.random.default_rng(1), 3000)
    ms = family(feats, devices=7)
    sources, targets = ms[:, :5], ms[:, 5:]
    scale = SourceScale.fit(sources)
    z = scale.transform(sources)
    refs = select_references(z, feats, 10)
    assert len(set(refs)) == 10
    proxy = feats @ np.repeat(np.arange(4.0), 12)       # FLOPs-like: bigger choice, more cost
    for target in targets.T:
        model = FewShotTransfer().fit(z[refs], target[refs], feats[refs])
        pred = model.predict(z, feats)
        rho = spearmanr(pred, target)[0]
        assert rho > 0.97, rho
        assert rho > spearmanr(proxy, target)[0] + 0.1
        assert np.median(np.abs(pred / target - 1)) < 0.05


def test_transfer_is_deterministic_and_needs_three_points():
    feats = onehots(np.random.default_rng(2), 200)
    ms = family(feats, devices=4, seed=3)
    z = SourceScale.fit(ms[:, :3]).transform(ms[:, :3])
    first = FewShotTransfer().fit(z[:8], ms[:8, 3], feats[:8]).predict(z, feats)
    second = FewShotTransfer().fit(z[:8], ms[:8, 3], feats[:8]).predict(z, feats)
    np.testing.assert_array_equal(first, second)
    with pytest.raises(LatkitError, match="at least 3"):
        FewShotTransfer().fit(z[:2], ms[:2, 3], feats[:2])
    with pytest.raises(LatkitError, match="only 200 candidates"):
        select_references(z, feats, 201)


# -- profiles over a real space ------------------------------------------------------

@pytest.fixture(scope="module")
def ofa_family(tmp_path_factory):
    """Table profiles of 4 synthetic source devices over 300 ofa-mbv3 architectures,
    plus the hidden truth of a fifth device."""
    space = get_space("ofa-mbv3")
    rng = np.random.default_rng(0)
    archs = list(dict.fromkeys(space.sample(rng) for _ in range(300)))
    feats = np.stack([space.features(a) for a in archs]).astype(float)
    ms = family(feats, devices=5, seed=7)
    root = tmp_path_factory.mktemp("fewshot_sources")
    paths = []
    for k in range(4):
        entries = {space.format(a): float(v) for a, v in zip(archs, ms[:, k])}
        paths.append(str(write_table_profile(root / f"src{k}", f"src{k}", "ofa-mbv3", entries,
                                             {"synthetic": True}).path))
    truth = {space.format(a): float(v) for a, v in zip(archs, ms[:, 4])}
    return space, paths, truth


def test_fewshot_profile_round_trip(ofa_family, tmp_path):
    space, paths, truth = ofa_family
    sources = load_sources(paths)
    refs = reference_archs(space, sources, 10)
    measured = [(space.format(a), truth[space.format(a)]) for a in refs]
    built = build_fewshot_profile("ofa-mbv3", sources, measured, "newdev", out=tmp_path / "newdev")
    loaded = load_profile(str(tmp_path / "newdev"))
    assert isinstance(loaded, FewShotProfile) and loaded.meta["kind"] == "fewshot"
    keys = list(truth)
    pred = loaded.predict_many(keys)
    np.testing.assert_allclose(pred, built.predict_many(keys))
    assert spearmanr(pred, [truth[k] for k in keys])[0] > 0.95
    stored = json.loads((tmp_path / "newdev" / "fewshot.json").read_text())
    assert [m["arch"] for m in stored["measurements"]] == [a for a, _ in measured]


def test_fewshot_profile_notices_changed_source(ofa_family, tmp_path):
    space, paths, truth = ofa_family
    sources = load_sources(paths[:2])
    refs = reference_archs(space, sources, 5)
    build_fewshot_profile("ofa-mbv3", sources, [(a, truth[space.format(a)]) for a in refs],
                          "dev", out=tmp_path / "dev")
    changed = {k: v * 1.5 for k, v in sources[0].entries.items()}
    write_table_profile(tmp_path / "src0", "src0", "ofa-mbv3", changed, {})
    data = json.loads((tmp_path / "dev" / "fewshot.json").read_text())
    data["sources"][0]["path"] = str(tmp_path / "src0")
    (tmp_path / "dev" / "fewshot.json").write_text(json.dumps(data))
    with pytest.raises(LatkitError, match="changed since"):
        load_profile(str(tmp_path / "dev")).predict(refs[0])


def _invoke(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_cli_reference_and_fewshot(ofa_family, tmp_path):
    space, paths, truth = ofa_family
    froms = [x for p in paths for x in ("--from", p)]
    listed = _invoke("lut", "reference", "--space", "ofa-mbv3", "-n", "8", *froms, "--json")
    assert listed.exit_code == 0, listed.output
    archs = [row["arch"] for row in json.loads(listed.output)]
    assert len(set(archs)) == 8 and all(a in truth for a in archs)
    csv = tmp_path / "m.csv"
    csv.write_text("arch,value\n" + "".join(f"{a},{truth[a]}\n" for a in archs))
    built = _invoke("lut", "fewshot", "--space", "ofa-mbv3", *froms, "--measurements", str(csv),
                    "--name", "phone-x", "--json")
    assert built.exit_code == 0, built.output
    assert json.loads(built.output)["shots"] == 8
    profile = load_profile("phone-x")
    assert profile.predict(archs[0]) == pytest.approx(truth[archs[0]], rel=0.1)
    other = next(a for a in truth if a not in archs)
    predicted = _invoke("predict", "--device", "phone-x", "--arch", other, "--json")
    assert predicted.exit_code == 0, predicted.output
    row = json.loads(predicted.output)
    assert row["predictor"] == "fewshot"
    assert row["latency_ms"] == pytest.approx(profile.predict(other))


def test_cli_errors(ofa_family, tmp_path):
    space, paths, truth = ofa_family
    froms = [x for p in paths for x in ("--from", p)]
    too_many = _invoke("lut", "reference", "--space", "ofa-mbv3", "-n", "1000", *froms)
    assert too_many.exit_code == 2
    assert "only 300 are available" in too_many.output
    other_space = _invoke("lut", "reference", "--space", "nb201", *froms)
    assert other_space.exit_code == 2 and "must all be for space nb201" in other_space.output
    write_table_profile(tmp_path / "nb", "nb", "nb201",
                        {"|none~0|+|none~0|none~1|+|none~0|none~1|none~2|": 1.0}, {})
    mixed = _invoke("lut", "reference", "--space", "ofa-mbv3", *froms, "--from", str(tmp_path / "nb"))
    assert mixed.exit_code == 2 and "nb (nb201)" in mixed.output
    csv = tmp_path / "m.csv"
    csv.write_text("arch,value\n" + "".join(f"{a},1.0\n" for a in list(truth)[:4]))
    clobber = _invoke("lut", "fewshot", "--space", "ofa-mbv3", *froms, "--measurements", str(csv),
                      "--name", "x", "--out", paths[0])
    assert clobber.exit_code == 2 and "another kind of profile" in clobber.output
    no_sources = _invoke("profile", "--device", "cpu", "--few-shot", "3")
    assert no_sources.exit_code == 2 and "--from" in no_sources.output


@pytest.mark.slow
def test_profile_few_shot_measures_on_cpu(ofa_family):
    """`latkit profile --device cpu --few-shot 3`: three real ONNX Runtime measurements."""
    from latency_kit.backends import backend_class

    ok, why = backend_class("cpu").available()
    if not ok:
        pytest.skip(why)
    space, paths, _ = ofa_family
    froms = [x for p in paths[:2] for x in ("--from", p)]
    result = _invoke("profile", "--device", "cpu", "--few-shot", "3", *froms, "--name", "cpu-fs")
    assert result.exit_code == 0, result.output
    profile = load_profile("cpu-fs")
    rows = profile.measurements
    assert len(rows) == 3 and all(r["value_ms"] > 0 and r["stats"]["count"] > 0 for r in rows)
    assert profile.meta["fingerprint"]["runtime"] and profile.meta["backend"]
    assert np.all(profile.predict_many([r["arch"] for r in rows]) > 0)


def test_nas_generate_uses_a_fewshot_profile(tmp_path):
    """`latkit nas generate --device <few-shot profile>` on nb201 (tiny preset)."""
    space = get_space("nb201")
    from latency_kit.predict.transfer import candidate_pool

    archs = candidate_pool(space)
    keys = [space.format(a) for a in archs]
    feats = np.stack([space.features(a) for a in archs]).astype(float)
    ms = family(feats, devices=4, seed=11)
    sources = [write_table_profile(tmp_path / f"nb{k}", f"nb{k}", "nb201",
                                   dict(zip(keys, ms[:, k].tolist())), {}) for k in range(3)]
    refs = reference_archs(space, sources, 10)
    truth = dict(zip(keys, ms[:, 3]))
    build_fewshot_profile("nb201", sources, [(a, truth[space.format(a)]) for a in refs], "nbnew")
    acc = tmp_path / "acc.csv"
    acc.write_text("arch,value\n" + "".join(f"{k},{v:.4f}\n" for k, v in
                                             zip(keys, feats @ np.linspace(0, 1, feats.shape[1]))))
    budget = float(np.median(ms[:, 3]))
    result = _invoke("nas", "generate", "--device", "nbnew", "--accuracy", f"table:{acc}",
                     "--preset", "tiny", "--budget", f"{budget:.3f}ms", "--json")
    assert result.exit_code == 0, result.output
    arch = json.loads(result.stdout)[0]["arch"]
    assert arch in keys
    assert load_profile("nbnew").predict(arch) <= budget + 1e-6
