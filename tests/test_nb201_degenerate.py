"""Degenerate NAS-Bench-201 cells: every path from the input to node 3 passes through ``none``.

Their output does not depend on the input, so a plain zero tensor let the
exporter and ONNX Runtime drop the network's input and measuring crashed
(``IndexError`` in the README's few-shot tour). They are now built as
``x * 0``, the benchmark's own ``none``, and measured; the few-shot pools
leave them out.
"""

from __future__ import annotations

import json
import pickle
import zipfile
from itertools import product

import numpy as np
import pytest
from click.testing import CliRunner

from latency_kit.api import measure_arch
from latency_kit.backends.base import ModelSpec
from latency_kit.cli import main
from latency_kit.measure.engine import MeasureSettings
from latency_kit.convert.onnx import spec_onnx
from latency_kit.predict.transfer import candidate_pool
from latency_kit.profiles.fewshot import reference_archs, source_pool
from latency_kit.spaces import get_space
from latency_kit.spaces.nb201 import OPS, NB201Arch, is_degenerate
from latency_kit.profiles.table import write_table_profile

ALL_NONE = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
# Convolutions only between nodes 1-3, which nothing feeds: the README tour's reference.
DEAD_CONVS = "|none~0|+|none~0|nor_conv_3x3~1|+|none~0|nor_conv_3x3~1|nor_conv_3x3~2|"
FAST = MeasureSettings(warmup_ms=5, repeats=5, batch_ms=1.0, retries=0)


def _help(path) -> object:
    """A HELP ``.pt`` file's payload (a pickled list or dict in a torch zip; refdata README)."""
    with zipfile.ZipFile(path) as archive:
        name = next(n for n in archive.namelist() if n.endswith("data.pkl"))
        return pickle.loads(archive.read(name))


def test_degenerate_cells_counted_from_their_definition() -> None:
    space = get_space("nb201")
    every = [NB201Arch(ops) for ops in product(OPS, repeat=6)]
    degenerate = [a for a in every if space.is_degenerate(a)]
    assert len(degenerate) == 341
    assert space.is_degenerate(space.parse(ALL_NONE)) and space.is_degenerate(space.parse(DEAD_CONVS))
    # A live path through node 1 alone keeps a cell alive.
    assert not is_degenerate(("skip_connect", "none", "none", "none", "nor_conv_1x1", "none"))
    assert is_degenerate(("nor_conv_3x3", "none", "none", "none", "none", "none"))


@pytest.mark.refdata
def test_degenerate_accuracy_is_chance_in_the_benchmark(refdata) -> None:
    """NAS-Bench-201 trained every one of the 341 cells to exactly 10% on CIFAR-10."""
    data = json.loads((refdata / "nb201_minibench" / "nb201_accuracies.json").read_text())
    column = data["columns"].index("cifar10-test")
    space = get_space("nb201")
    accuracy = {row[1]: row[column] for row in data["rows"]}
    chance = {a: v for a, v in accuracy.items() if space.is_degenerate(space.parse(a))}
    assert len(chance) == 341 and set(chance.values()) == {10.0}
    assert min(v for a, v in accuracy.items() if a not in chance) > 30


def test_degenerate_network_keeps_its_input_and_runs_no_edge(onnx_cache) -> None:
    import onnx
    import onnxruntime as ort
    import torch

    space = get_space("nb201")
    arch = space.parse(DEAD_CONVS)
    assert not any(b.key.startswith("nb201-edge") for b in space.blocks(arch))
    net = space.build(arch)
    x = torch.randn(2, 3, 32, 32)
    assert torch.equal(net(x), net(torch.randn(2, 3, 32, 32)))  # output ignores the input
    x[0, 0, 0, 0] = float("nan")
    assert torch.isnan(net(x)[0]).all() and not torch.isnan(net(x)[1]).any()  # x * 0, not a constant
    path = spec_onnx(ModelSpec.for_arch(space, arch), onnx_cache)
    assert [i.name for i in onnx.load(str(path)).graph.input] == ["input"]
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["input"]
    feed = np.zeros((1, 3, 32, 32), np.float32)
    np.testing.assert_allclose(session.run(None, {"input": feed})[0],
                               net(torch.from_numpy(feed)).detach().numpy(), rtol=1e-5, atol=1e-6)


def test_live_cells_build_as_before() -> None:
    """Cells with a live path keep every non-``none`` edge, as the benchmark runs them."""
    space = get_space("nb201")
    arch = space.parse("|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|nor_conv_1x1~1|none~2|")
    cell = next(m for m in space.build(arch).modules() if type(m).__name__ == "Cell")
    assert cell.wiring == [(1, 0), (3, 0), (3, 1)]
    assert [b.key for b in space.blocks(arch)].count("nb201-edge:nor_conv_3x3-input:32x32x16") == 5


def test_degenerate_arch_measured_through_the_api() -> None:
    space = get_space("nb201")
    dead = measure_arch("cpu", space, space.parse(DEAD_CONVS), settings=FAST, threads=1)
    convs = measure_arch("cpu", space, space.parse(DEAD_CONVS.replace("none~0|+", "nor_conv_3x3~0|+", 1)),
                         settings=FAST, threads=1)
    assert 0 < dead.median_ms < convs.median_ms  # stem, reductions, head and x*0; no convolutions


def test_degenerate_arch_measured_through_the_cli() -> None:
    result = CliRunner().invoke(main, ["measure", "--device", "cpu", "--space", "nb201", "--arch",
                                       ALL_NONE, "--repeats", "3", "--json"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert record["arch"] == ALL_NONE and record["latency_ms"] > 0 and record["count"] == 3


def test_pools_leave_degenerate_cells_out(tmp_path) -> None:
    space = get_space("nb201")
    pool = source_pool(space, [])  # no table sources: the whole space
    assert len(pool) == 15625 - 341 and not any(space.is_degenerate(a) for a in pool)
    assert set(candidate_pool(space)) - set(pool) == {a for a in candidate_pool(space)
                                                      if space.is_degenerate(a)}
    keys = [space.format(NB201Arch(ops)) for ops in product(OPS, repeat=6)]
    table = write_table_profile(tmp_path / "tbl", "tbl", "nb201", dict.fromkeys(keys, 1.0), {})
    assert set(source_pool(space, [table])) == set(pool)


def _help_sources(refdata, out) -> list:
    """HELP's pixel3 and gold_6240 NB201 tables as table profiles (the README tour's sources)."""
    root = refdata / "help" / "nasbench201"
    index = _help(root / "str_arch2idx.pt")
    sources = []
    for device in ("pixel3", "gold_6240"):
        latency = _help(root / "latency" / f"{device}.pt")
        entries = {a: float(latency[i]) for a, i in index.items()}
        sources.append(write_table_profile(out / device, device, "nb201", entries, {}))
    return sources


@pytest.mark.refdata
def test_help_reference_sets_hold_no_degenerate_cell(refdata, tmp_path) -> None:
    """The README tour's sources pick none, and neither does HELP's own 10-shot set."""
    root = refdata / "help" / "nasbench201"
    space = get_space("nb201")
    by_index = {i: a for a, i in _help(root / "str_arch2idx.pt").items()}
    assert not any(space.is_degenerate(space.parse(by_index[int(i)]))
                   for i in _help(root / "hardware_embedding_index.pt"))
    refs = reference_archs(space, _help_sources(refdata, tmp_path), 30)
    assert len(set(refs)) == 30 and not any(space.is_degenerate(a) for a in refs)


@pytest.mark.slow
@pytest.mark.refdata
def test_readme_few_shot_tour_runs(refdata, tmp_path) -> None:
    """`latkit profile --device cpu --space nb201 --few-shot N --from pixel3 --from gold_6240`."""
    from latency_kit import load_profile

    froms = [x for p in _help_sources(refdata, tmp_path) for x in ("--from", str(p.path))]
    result = CliRunner().invoke(main, ["profile", "--device", "cpu", "--space", "nb201",
                                       "--few-shot", "4", *froms, "--name", "tour"])
    assert result.exit_code == 0, result.output
    rows = load_profile("tour").measurements
    assert len(rows) == 4 and all(r["value_ms"] > 0 for r in rows)


def test_calibration_and_multidevice_references_skip_degenerate_cells() -> None:
    from latency_kit.measure.calibration import sample_archs

    space = get_space("nb201")
    drawn = sample_archs(space, 300, seed=2)  # 341 of 15,625 are degenerate: some are drawn
    assert len(drawn) == 300 and not any(space.is_degenerate(a) for a in drawn)
    assert sample_archs(space, 30, seed=2) == drawn[:30]  # still prefix-stable
    assert get_space("ofa-mbv3").is_degenerate(get_space("ofa-mbv3").sample(0)) is False
