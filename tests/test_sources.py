"""Accuracy and cost sources: tables, OFA's predictor, MAdds, proxies, resolvers."""

from __future__ import annotations

import json

import numpy as np
import pytest

from latency_kit.errors import LatkitError
from latency_kit.spaces import get_space
from nas.sources.accuracy import (CallableAccuracy, OFAPredictorAccuracy, ProxyAccuracy, TableAccuracy,
                          ofa_predictor_features, resolve_accuracy)
from nas.sources.costs import MAddsCost, ProfileCost, TableCost, resolve_cost


@pytest.fixture(scope="module")
def ofa():
    return get_space("ofa-mbv3")


@pytest.fixture(scope="module")
def archs(ofa):
    rng = np.random.default_rng(0)
    return [ofa.sample(rng) for _ in range(5)]


def _write_csv(path, space, archs, values):
    lines = ["arch,value,note"] + [f"{space.format(a)},{v},x" for a, v in zip(archs, values)]
    path.write_text("\n".join(lines) + "\n")


def _write_jsonl(path, space, archs, values, json_form=False):
    with open(path, "w") as handle:
        for a, v in zip(archs, values):
            arch = space.to_json(a) if json_form else space.format(a)
            handle.write(json.dumps({"arch": arch, "value": v}) + "\n")


@pytest.mark.parametrize("kind", ["csv", "jsonl", "jsonl-json-form"])
def test_table_round_trip(tmp_path, ofa, archs, kind) -> None:
    values = [10.5, 11.25, 3.0, 7.75, 20.0]
    if kind == "csv":
        path = tmp_path / "t.csv"
        _write_csv(path, ofa, archs, values)
    else:
        path = tmp_path / "t.jsonl"
        _write_jsonl(path, ofa, archs, values, json_form=kind.endswith("json-form"))
    cost = resolve_cost(f"table:{path}", None, ofa)
    acc = resolve_accuracy(f"table:{path}", ofa)
    assert isinstance(cost, TableCost) and isinstance(acc, TableAccuracy)
    assert cost.unit == "ms" and acc.label == "accuracy"
    assert cost.cost_many(archs[::-1]).tolist() == values[::-1]
    assert acc.score_many(archs).tolist() == values
    assert cost.known_range() == (3.0, 20.0)
    assert set(cost.archs()) == set(archs)
    assert str(path.resolve()) in cost.identity()


def test_table_identity_tracks_content(tmp_path, ofa, archs) -> None:
    path = tmp_path / "t.csv"
    _write_csv(path, ofa, archs, [1, 2, 3, 4, 5])
    first = TableCost.from_file(path, ofa).identity()
    assert TableCost.from_file(path, ofa).identity() == first
    _write_csv(path, ofa, archs, [1, 2, 3, 4, 6])
    assert TableCost.from_file(path, ofa).identity() != first


def test_from_mapping(ofa, archs) -> None:
    mapping = {ofa.format(a): float(i) for i, a in enumerate(archs)}
    cost = TableCost.from_mapping(ofa, mapping)
    acc = TableAccuracy.from_mapping(ofa, {a: float(i) for i, a in enumerate(archs)})
    assert cost.cost_many(archs).tolist() == [0, 1, 2, 3, 4]
    assert cost.identity() == TableCost.from_mapping(ofa, dict(reversed(mapping.items()))).identity()
    assert acc.score(archs[2]) == 2.0


def test_table_errors(tmp_path, ofa, archs) -> None:
    path = tmp_path / "t.csv"
    _write_csv(path, ofa, archs[:2], [1, 2])
    with pytest.raises(LatkitError, match="not in table"):
        TableCost.from_file(path, ofa).cost_many([archs[3]])
    with pytest.raises(LatkitError, match="does not exist"):
        resolve_cost(f"table:{tmp_path / 'nope.csv'}", None, ofa)
    bad = tmp_path / "bad.csv"
    bad.write_text("name,ms\nx,1\n")
    with pytest.raises(LatkitError, match="arch and value"):
        TableAccuracy.from_file(bad, ofa)
    bad.write_text(f"arch,value\n{ofa.format(archs[0])},fast\n")
    with pytest.raises(LatkitError, match="not a number"):
        TableAccuracy.from_file(bad, ofa)
    bad.write_text(f"arch,value\n{ofa.format(archs[0])},1\n{ofa.format(archs[0])},2\n")
    with pytest.raises(LatkitError, match="appears twice, at line 2 and line 3"):
        TableAccuracy.from_file(bad, ofa)
    bad.write_text("\ufeffarch,value\n" + f"{ofa.format(archs[0])},71.5\n")  # a BOM: fine
    assert list(TableAccuracy.from_file(bad, ofa).values.values()) == [71.5]
    bad.write_text("arch,value\nr224_garbage,1\n")
    with pytest.raises(LatkitError, match="line 2: bad ofa-mbv3 architecture"):
        TableAccuracy.from_file(bad, ofa)
    jl = tmp_path / "bad.jsonl"
    jl.write_text('{"arch": "x"}\n')
    with pytest.raises(LatkitError, match="arch and value"):
        TableCost.from_file(jl, ofa)


def test_resolver_errors(ofa) -> None:
    with pytest.raises(LatkitError, match="exactly one"):
        resolve_cost(None, None, ofa)
    with pytest.raises(LatkitError, match="exactly one"):
        resolve_cost("madds", "cpu", ofa)
    with pytest.raises(LatkitError, match="unknown cost source"):
        resolve_cost("flopz", None, ofa)
    with pytest.raises(LatkitError, match="unknown device profile"):
        resolve_cost(None, "no-such-device", ofa)
    with pytest.raises(LatkitError) as info:
        resolve_accuracy("oracle", ofa)
    message = str(info.value)
    assert "\n" not in message
    assert "table:PATH" in message and "ofa-predictor:PATH" in message and "synflow" in message
    with pytest.raises(LatkitError, match="unknown proxy"):
        resolve_accuracy("proxy:nope", ofa)


def test_madds_cost(ofa) -> None:
    space = get_space("ofa-mbv3", resolutions=(160,))
    small = space.parse("r160_" + "_".join(["k3e3-k3e3"] * 5))
    big = space.parse("r160_" + "_".join(["k7e6-k7e6-k7e6-k7e6"] * 5))
    cost = resolve_cost("madds", None, space)
    assert isinstance(cost, MAddsCost) and cost.unit == "madds"
    values = cost.cost_many([small, big, small])
    assert values[0] == values[2] == space.macs(small)
    assert 50e6 < values[0] < values[1] < 2e9


def test_ofa_features_encoding() -> None:
    ks = [3, 5, 7, 3] * 5
    e = [3, 4, 6, 4] * 5
    feats = ofa_predictor_features(ks, e, [2, 3, 4, 2, 2], 224)
    assert feats.shape == (128,)
    # stage 1 has depth 2: slots 0,1 set, slots 2,3 empty
    assert feats[0:3].tolist() == [1, 0, 0] and feats[3:6].tolist() == [0, 1, 0]
    assert feats[6:12].sum() == 0
    assert feats[60:63].tolist() == [1, 0, 0] and feats[63:66].tolist() == [0, 1, 0]
    assert feats[120:].tolist() == [0, 0, 0, 0, 0, 0, 0, 1]
    assert feats[:60].sum() == 13 and feats[60:120].sum() == 13
    assert ofa_predictor_features(ks, e, [2] * 5, 160)[120:].tolist() == [0, 0, 0, 1, 0, 0, 0, 0]


def _net_config_arch(space, config_path):
    """The ofa-mbv3 architecture of one of OFA's published net.config files."""
    config = json.loads(config_path.read_text())
    blocks = config["blocks"][1:]  # the first block is the fixed 24->24 one
    stages, current, width = [], [], None
    for block in blocks:
        conv = block["mobile_inverted_conv"]
        if conv["out_channels"] != width and current:
            stages.append(tuple(current))
            current = []
        width = conv["out_channels"]
        current.append((conv["kernel_size"], conv["expand_ratio"]))
    stages.append(tuple(current))
    return stages


def test_ofa_predictor_on_published_nets(refdata, ofa) -> None:
    path = refdata / "ofa" / "acc_predictor.pth"
    if not path.is_file():
        pytest.skip("refdata has no ofa/acc_predictor.pth")
    from latency_kit.spaces.ofa_mbv3 import OFAArch

    source = resolve_accuracy(f"ofa-predictor:{path}", ofa)
    assert isinstance(source, OFAPredictorAccuracy) and source.label == "accuracy"
    nets = []  # (published latency, architecture at 224 px); the configs carry no resolution
    for folder in (refdata / "ofa" / "specialized_net_configs").glob("note10_lat-*"):
        config = json.loads((folder / "net.config").read_text())
        if config["first_conv"]["out_channels"] != 24:  # w1.0 nets are another space
            continue
        latency = int(folder.name.split("lat-")[1].split("ms")[0])
        nets.append((latency, OFAArch(tuple(_net_config_arch(ofa, folder / "net.config")), 224)))
    assert len(nets) >= 3, "no w1.2 note10 nets found"
    nets.sort(key=lambda item: item[0])
    scores = source.score_many([a for _, a in nets])
    assert ((0.75 < scores) & (scores < 0.86)).all(), scores  # published 78.4-80.2% top-1
    assert (np.diff(scores) > 0).all(), scores  # slower published nets predict higher
    # bigger networks score higher on average
    rng = np.random.default_rng(1)
    small = [ofa.parse(f"r{r}_" + "_".join(["k3e3-k3e3"] * 5)) for r in (160, 192, 224)]
    large = [ofa.parse(f"r{r}_" + "_".join(["k7e6-k7e6-k7e6-k7e6"] * 5)) for r in (160, 192, 224)]
    randoms = [ofa.sample(rng) for _ in range(50)]
    assert source.score_many(small).mean() < source.score_many(randoms).mean() \
        < source.score_many(large).mean()
    assert str(path.resolve()) in source.identity()


def test_ofa_predictor_errors(tmp_path, ofa) -> None:
    import torch

    with pytest.raises(LatkitError, match="does not exist"):
        resolve_accuracy(f"ofa-predictor:{tmp_path / 'x.pth'}", ofa)
    bad = tmp_path / "bad.pth"
    torch.save({"w": torch.zeros(3)}, bad)
    with pytest.raises(LatkitError, match="not OFA's accuracy predictor"):
        OFAPredictorAccuracy(ofa, bad)
    bad.write_text("junk")
    with pytest.raises(LatkitError, match="cannot load"):
        OFAPredictorAccuracy(ofa, bad)


def test_proxy_label(ofa, archs) -> None:
    source = resolve_accuracy("proxy:params", ofa)
    assert isinstance(source, ProxyAccuracy)
    assert source.label == "proxy_score" and source.label != "accuracy"
    assert source.score_many(archs).tolist() == [float(ofa.params(a)) for a in archs]
    default = resolve_accuracy(None, ofa)
    assert isinstance(default, ProxyAccuracy) and default.label == "proxy_score"
    assert default.identity().startswith("proxy:")


def _score_by_macs(space, archs):
    return [float(space.macs(a)) for a in archs]


class _FakeEntryPoint:
    def __init__(self, name, obj):
        self.name, self.value, self._obj = name, f"tests:{name}", obj

    def load(self):
        return self._obj


def test_entry_point_callable_and_class(monkeypatch, ofa, archs) -> None:
    from nas.sources import accuracy
    from nas.sources import AccuracySource

    class Constant(AccuracySource):
        def score_many(self, archs):
            return np.full(len(archs), 0.5)

    entries = {"by-macs": _FakeEntryPoint("by-macs", _score_by_macs),
               "constant": _FakeEntryPoint("constant", Constant),
               "broken": _FakeEntryPoint("broken", 42)}
    monkeypatch.setattr(accuracy, "accuracy_entry_points", lambda: entries)
    source = resolve_accuracy("by-macs", ofa)
    assert isinstance(source, CallableAccuracy)
    assert source.score_many(archs).tolist() == _score_by_macs(ofa, archs)
    assert "by-macs" in source.identity()
    assert resolve_accuracy("constant", ofa).score(archs[0]) == 0.5
    with pytest.raises(LatkitError, match="neither a callable"):
        resolve_accuracy("broken", ofa)
    with pytest.raises(LatkitError, match="registered source: broken, by-macs, constant"):
        resolve_accuracy("nope", ofa)


def test_profile_cost_wraps_predict_many(tmp_path, ofa, archs) -> None:
    """ProfileCost delegates to the profile; a hand-written LUT stands in for a measured one."""
    from latency_kit.lut import LatencyTable
    from latency_kit.profiles.profile import Profile, ProfileMeta
    from latency_kit.stats import LatencyStats

    space = get_space("ofa-mbv3", resolutions=(224,))
    table = LatencyTable(space="ofa-mbv3", name="hand")
    for i, block in enumerate(space.all_blocks()):
        table.add(block.key, LatencyStats.from_samples([0.1 + 0.01 * i] * 3))
    out = tmp_path / "hand"
    ProfileMeta.new("hand", space.name, "cpu", "onnxruntime", space_options={"resolutions": [224]},
                    status="complete").write(out)
    table.save(out / "lut.json")
    cost = resolve_cost(None, str(out), None)
    assert isinstance(cost, ProfileCost) and cost.unit == "ms"
    arch = space.sample(3)
    profile = Profile.load(out)
    assert cost.cost(arch) == pytest.approx(profile.predict(arch))
    assert str(out.resolve()) in cost.identity()
    # all resolutions asked for, 224 px profiled: search the profiled part
    assert ProfileCost(get_space("ofa-mbv3"), profile).space == space
    with pytest.raises(LatkitError, match="lacks .* blocks"):
        ProfileCost(get_space("ofa-mbv3", resolutions=(160,)), profile)
    with pytest.raises(LatkitError, match="measured for space ofa-mbv3, not nb201"):
        ProfileCost(get_space("nb201"), profile)
