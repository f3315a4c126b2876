"""A model zoo built from Hugging Face ``transformers`` configs, offline.

``transformers`` builds every architecture from its config with random
weights, without downloading anything; latency does not depend on weight
values. Each network is an image classifier (``AutoModelForImageClassification``)
exported to ONNX with latkit's exporter (:func:`latency_kit.convert.onnx.export_onnx`,
TorchScript, opset 17), input ``1x3xRxR``.

Two zoos ship:

``train``
    Varied configurations (depth, width, kernel, patch, resolution) of ViT,
    ResNet, ConvNeXt, MobileNetV2 and EfficientNet, and one or two of CvT,
    PVTv2, ConvNeXtV2, BiT, DINOv2, SegFormer, BEiT, FocalNet, SwiftFormer,
    RegNet (grouped convolutions) and Swin (windowed attention): the networks
    an op table is built from (``latkit profile --device cpu --ops``).
``standard``
    Published configurations (ViT-B/16, DeiT-S, Swin-T, ConvNeXt-T,
    EfficientNet-B0, MobileViT-S, RegNetY-400MF, ResNet-50, ...), none of them
    in ``train``; MobileViT, MobileNetV1 and PoolFormer are families absent
    from ``train`` altogether (:data:`UNSEEN_FAMILIES`).

The configurations of the published networks follow their papers and the
model cards of the corresponding Hugging Face checkpoints. Needs the
``transformers`` extra (``pip install 'latkit[zoo]'``), imported lazily.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from latency_kit.errors import LatkitError


@dataclass(frozen=True)
class ZooModel:
    """One network: its name, family (a ``transformers`` model type), config
    keyword arguments and input resolution (px)."""

    name: str
    family: str
    config: dict[str, Any] = field(default_factory=dict)
    resolution: int = 224

    @property
    def input_shape(self) -> tuple[int, int, int, int]:
        return (1, 3, self.resolution, self.resolution)


def _vit(name: str, hidden: int, layers: int, heads: int, patch: int = 16, res: int = 224,
         family: str = "vit") -> ZooModel:
    return ZooModel(name, family, {"hidden_size": hidden, "num_hidden_layers": layers,
                                   "num_attention_heads": heads, "intermediate_size": 4 * hidden,
                                   "patch_size": patch, "image_size": res}, res)


def _resnet(name: str, kind: str, depths: list[int], widths: list[int], res: int = 224,
            stem: int = 64) -> ZooModel:
    return ZooModel(name, "resnet", {"layer_type": kind, "depths": depths, "hidden_sizes": widths,
                                     "embedding_size": stem}, res)


def _convnext(name: str, depths: list[int], dims: list[int], res: int = 224) -> ZooModel:
    return ZooModel(name, "convnext", {"depths": depths, "hidden_sizes": dims, "image_size": res}, res)


def _effnet(name: str, width: float, depth: float, res: int) -> ZooModel:
    return ZooModel(name, "efficientnet", {"width_coefficient": width, "depth_coefficient": depth,
                                           "image_size": res, "hidden_dim": _round8(1280 * width)}, res)


def _round8(channels: float) -> int:
    """EfficientNet's channel rounding (to a multiple of 8, never 10% below)."""
    rounded = max(8, int(channels + 4) // 8 * 8)
    return rounded + 8 if rounded < 0.9 * channels else rounded


def _mbv2(name: str, multiplier: float, res: int) -> ZooModel:
    return ZooModel(name, "mobilenet_v2", {"depth_multiplier": multiplier, "image_size": res}, res)


def _mobilevit(name: str, hidden: list[int], neck: list[int], expand: float = 4.0) -> ZooModel:
    return ZooModel(name, "mobilevit", {"hidden_sizes": hidden, "neck_hidden_sizes": neck,
                                        "expand_ratio": expand, "image_size": 256}, 256)


def _regnet(name: str, kind: str, depths: list[int], widths: list[int], group: int) -> ZooModel:
    return ZooModel(name, "regnet", {"layer_type": kind, "depths": depths, "hidden_sizes": widths,
                                     "groups_width": group, "embedding_size": 32})


TRAIN = [
    _vit("vit-d4-w192", 192, 4, 3), _vit("vit-d4-w384", 384, 4, 6),
    _vit("vit-d6-w256-r192", 256, 6, 4, res=192), _vit("vit-d3-w512-p32", 512, 3, 8, patch=32),
    _vit("vit-d2-w768", 768, 2, 12), _vit("vit-d2-w320-p8-r128", 320, 2, 5, patch=8, res=128),
    _resnet("resnet-basic-1111-w64", "basic", [1, 1, 1, 1], [64, 128, 256, 512]),
    _resnet("resnet-basic-2111-w32-r192", "basic", [2, 1, 1, 1], [32, 64, 128, 256], 192, stem=32),
    _resnet("resnet-bottleneck-1121-w256", "bottleneck", [1, 1, 2, 1], [256, 512, 1024, 2048]),
    _resnet("resnet-bottleneck-1211-w128-r160", "bottleneck", [1, 2, 1, 1], [128, 256, 512, 1024], 160),
    _resnet("resnet-basic-2222-w48", "basic", [2, 2, 2, 2], [48, 96, 192, 384], stem=48),
    _convnext("convnext-1131-w64", [1, 1, 3, 1], [64, 128, 256, 512]),
    _convnext("convnext-2222-w96-r192", [2, 2, 2, 2], [96, 192, 384, 768], 192),
    _convnext("convnext-1111-w128", [1, 1, 1, 1], [128, 256, 512, 1024]),
    _mbv2("mobilenet-v2-0.5-r160", 0.5, 160), _mbv2("mobilenet-v2-0.35-r224", 0.35, 224),
    _mbv2("mobilenet-v2-1.4", 1.4, 224), _mbv2("mobilenet-v2-0.75-r192", 0.75, 192),
    _effnet("efficientnet-w0.5-d0.5", 0.5, 0.5, 224), _effnet("efficientnet-w0.75-d0.8-r192", 0.75, 0.8, 192),
    _effnet("efficientnet-w1.2-d0.6", 1.2, 0.6, 224), _effnet("efficientnet-w1.0-d0.5-r256", 1.0, 0.5, 256),
    # resolution variants
    _vit("vit-d4-w384-r160", 384, 4, 6, res=160), _vit("vit-d3-w384-r256", 384, 3, 6, res=256),
    _resnet("resnet-basic-1111-w64-r256", "basic", [1, 1, 1, 1], [64, 128, 256, 512], 256),
    _convnext("convnext-1131-w64-r160", [1, 1, 3, 1], [64, 128, 256, 512], 160),
    _mbv2("mobilenet-v2-1.0-r160", 1.0, 160),
    # more families: their op configurations widen what the regressors see
    ZooModel("cvt-13", "cvt", {}), ZooModel("pvt-v2-b0", "pvt_v2", {}),
    ZooModel("convnextv2-atto", "convnextv2", {"depths": [2, 2, 6, 2], "hidden_sizes": [40, 80, 160, 320]}),
    ZooModel("convnextv2-nano-d1", "convnextv2", {"depths": [1, 1, 2, 1], "hidden_sizes": [80, 160, 320, 640]}),
    ZooModel("bit-1111", "bit", {"depths": [1, 1, 1, 1]}),
    ZooModel("dinov2-d4-w384", "dinov2", {"hidden_size": 384, "num_attention_heads": 6, "num_hidden_layers": 4,
                                          "image_size": 224, "patch_size": 14}),
    ZooModel("segformer-b0", "segformer", {}),
    ZooModel("beit-d4-w384", "beit", {"hidden_size": 384, "num_attention_heads": 6, "num_hidden_layers": 4,
                                      "intermediate_size": 1536}),
    ZooModel("focalnet-1121", "focalnet", {"depths": [1, 1, 2, 1]}),
    ZooModel("swiftformer-xs", "swiftformer", {}),
    # grouped convolutions (1 < group < channels) and windowed attention: op kinds no
    # other training family has (RegNetY-400MF was predicted 44% low, Swin-T 22-26%
    # low, without them); the published configurations stay in the standard zoo
    _regnet("regnety-1121-w32-g8", "y", [1, 1, 2, 1], [32, 64, 128, 256], 8),
    _regnet("regnetx-1111-w48-g16", "x", [1, 1, 1, 1], [48, 96, 192, 384], 16),
    ZooModel("swin-1121-w64", "swin", {"embed_dim": 64, "depths": [1, 1, 2, 1],
                                       "num_heads": [2, 4, 8, 16], "window_size": 7,
                                       "image_size": 224}),
    ZooModel("swin-1111-w96-r192", "swin", {"embed_dim": 96, "depths": [1, 1, 1, 1],
                                            "num_heads": [3, 6, 12, 24], "window_size": 6,
                                            "image_size": 192}, 192),
]

STANDARD = [
    _vit("vit-b16", 768, 12, 12), _vit("vit-s16", 384, 12, 6),
    _vit("deit-s", 384, 12, 6, family="deit"), _vit("deit-t", 192, 12, 3, family="deit"),
    ZooModel("swin-t", "swin", {"embed_dim": 96, "depths": [2, 2, 6, 2], "num_heads": [3, 6, 12, 24],
                                "window_size": 7, "image_size": 224}),
    ZooModel("swin-s", "swin", {"embed_dim": 96, "depths": [2, 2, 18, 2], "num_heads": [3, 6, 12, 24],
                                "window_size": 7, "image_size": 224}),
    _convnext("convnext-t", [3, 3, 9, 3], [96, 192, 384, 768]),
    _effnet("efficientnet-b0", 1.0, 1.0, 224), _effnet("efficientnet-b1", 1.0, 1.1, 240),
    _mobilevit("mobilevit-s", [144, 192, 240], [16, 32, 64, 96, 128, 160, 640]),
    _mobilevit("mobilevit-xs", [96, 120, 144], [16, 32, 48, 64, 80, 96, 384]),
    _mobilevit("mobilevit-xxs", [64, 80, 96], [16, 16, 24, 48, 64, 80, 320], expand=2.0),
    _regnet("regnety-400mf", "y", [1, 3, 6, 6], [48, 104, 208, 440], 8),
    _regnet("regnetx-400mf", "x", [1, 2, 7, 12], [32, 64, 160, 384], 16),
    _resnet("resnet-18", "basic", [2, 2, 2, 2], [64, 128, 256, 512]),
    _resnet("resnet-34", "basic", [3, 4, 6, 3], [64, 128, 256, 512]),
    _resnet("resnet-50", "bottleneck", [3, 4, 6, 3], [256, 512, 1024, 2048]),
    _mbv2("mobilenet-v2-1.0", 1.0, 224),
    ZooModel("mobilenet-v1-1.0", "mobilenet_v1", {"depth_multiplier": 1.0, "image_size": 224}),
    ZooModel("mobilenet-v1-0.5", "mobilenet_v1", {"depth_multiplier": 0.5, "image_size": 224}),
    ZooModel("poolformer-s12", "poolformer", {"depths": [2, 2, 6, 2], "hidden_sizes": [64, 128, 320, 512]}),
]

ZOOS = {"train": TRAIN, "standard": STANDARD}
UNSEEN_FAMILIES = ("mobilevit", "mobilenet_v1", "poolformer")
# transformers model type of a family whose name here is not one (DeiT is built as a ViT).
_MODEL_TYPE = {"deit": "vit"}


def zoo(name: str) -> list[ZooModel]:
    """The networks of zoo ``name``; ``LatkitError`` names the zoos for another name."""
    try:
        return list(ZOOS[name])
    except KeyError:
        raise LatkitError(f"unknown zoo {name!r}; latkit ships: {', '.join(ZOOS)}") from None


def build_module(model: ZooModel):
    """The ``torch.nn.Module`` of ``model`` (random weights, eval mode) returning logits.
    Raises ``LatkitError`` when ``transformers`` is not installed."""
    try:
        from transformers import AutoConfig, AutoModelForImageClassification
    except ImportError:
        raise LatkitError("the model zoo needs transformers: pip install 'latkit[zoo]'") from None
    import torch

    config = AutoConfig.for_model(_MODEL_TYPE.get(model.family, model.family),
                                  **{"num_labels": 1000, **model.config})  # ImageNet's head
    torch.manual_seed(0)
    net = normal_activations(AutoModelForImageClassification.from_config(config).eval())

    class Logits(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = net

        def forward(self, x):
            return self.net(pixel_values=x).logits

    return Logits().eval()


def normal_activations(net):
    """Re-initialise ``net``'s weights so activations keep unit scale through every layer.

    ``transformers`` initialises weights with a small standard deviation (0.02)
    and batch norms in eval mode are identities, so in deep convolutional
    networks activations shrink layer by layer into subnormal floats, which x86
    CPUs process tens of times slower (EfficientNet-B0 ran at 324 ms instead
    of about 10 ms here). Trained weights do not do that; He-initialised
    convolutions and linear layers (Kaiming, ReLU gain) and fresh batch norms
    keep the scale of a trained network. Returns ``net``.
    """
    import torch

    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, (torch.nn.Conv2d, torch.nn.Linear)):
                torch.nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
                if module.bias is not None:
                    module.bias.zero_()
            elif isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                module.reset_parameters()
    return net


def export_zoo_model(model: ZooModel, directory: str | Path) -> Path:
    """``directory/<name>.onnx``, exported once (an existing file is reused)."""
    from latency_kit.convert.onnx import export_onnx

    import hashlib
    import json

    import transformers

    digest = hashlib.sha1(json.dumps([model.family, model.config, model.resolution,
                                      transformers.__version__, "he-init"], sort_keys=True).encode()).hexdigest()[:8]
    path = Path(directory) / f"{model.name}-{digest}.onnx"
    if not path.is_file():
        export_onnx(build_module(model), model.input_shape, path)
    return path
