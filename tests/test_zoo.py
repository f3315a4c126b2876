"""The transformers model zoo behind the op table (issue 18): configs build
offline, export with latkit's exporter, and keep activations out of subnormal
floats (which would make x86 CPUs tens of times slower than a trained network)."""

from __future__ import annotations

import pytest
import torch

from latency_kit.errors import LatkitError

pytest.importorskip("transformers", reason="the zoo needs transformers: pip install 'latkit[zoo]'")

from latency_kit.convert.zoo import (STANDARD, TRAIN, UNSEEN_FAMILIES, ZooModel,  # noqa: E402
                                     build_module, export_zoo_model, zoo)

TINY_VIT = ZooModel("vit-tiny", "vit", {"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
                                        "intermediate_size": 64, "patch_size": 8, "image_size": 32}, 32)


def _smallest_normal_activation(net: torch.nn.Module, shape) -> float:
    """The smallest non-zero |value| any convolution or linear layer outputs."""
    smallest = [float("inf")]

    def hook(_module, _inputs, output):
        values = output.detach().abs()
        values = values[values > 0]
        if values.numel():
            smallest[0] = min(smallest[0], float(values.min()))

    handles = [m.register_forward_hook(hook) for m in net.modules()
               if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    with torch.no_grad():
        net(torch.randn(shape))
    for handle in handles:
        handle.remove()
    return smallest[0]


def test_efficientnet_b0_activations_stay_normal():
    model = next(m for m in STANDARD if m.name == "efficientnet-b0")
    # float32's smallest normal number is 1.18e-38; below it x86 takes a slow path
    assert _smallest_normal_activation(build_module(model), model.input_shape) > 1e-30


def test_zoos_are_disjoint_and_name_unseen_families():
    assert {m.name for m in TRAIN}.isdisjoint({m.name for m in STANDARD})
    train_families = {m.family for m in TRAIN}
    assert set(UNSEEN_FAMILIES).isdisjoint(train_families)
    assert set(UNSEEN_FAMILIES) <= {m.family for m in STANDARD}
    assert len(STANDARD) >= 20
    with pytest.raises(LatkitError, match="unknown zoo 'x'; latkit ships: train, standard"):
        zoo("x")


def test_export_once(tmp_path):
    path = export_zoo_model(TINY_VIT, tmp_path)
    stamp = path.stat().st_mtime_ns
    assert path.suffix == ".onnx" and export_zoo_model(TINY_VIT, tmp_path).stat().st_mtime_ns == stamp
    import onnx

    model = onnx.load(str(path))
    dims = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    assert dims == [1, 3, 32, 32]
    assert any(n.op_type == "MatMul" for n in model.graph.node)
