"""The ``ofa-mbv3`` space: Once-for-All MobileNetV3, width multiplier 1.2.

Five stages of 2-4 mobile inverted bottleneck layers; each layer picks a
kernel (3, 5, 7) and an expand ratio (3, 4, 6); the input resolution is one of
160-224 in steps of 16 (OFA's grid, which its published lookup tables use).

Architecture string (human-readable, round-trips)::

    r224_k3e4-k5e6_k3e3-k3e3-k7e6_k5e4-k5e4_k7e6-k3e3_k3e3-k3e3-k3e3-k3e3

``r<resolution>`` then one ``_``-separated group per stage, each a
``-``-separated list of ``k<kernel>e<expand>`` layers (its length is the
depth). The JSON form is OFA's own ``{"ks": [20], "e": [20], "d": [5], "r": R}``.

Block keys follow OFA's ``MBv3LatencyTable`` format so tables interoperate with
OFA's published ones, e.g.
``expanded_conv-input:56x56x32-output:28x28x48-expand:192-kernel:5-stride:2-idskip:0-se:1-hs:0``
where ``expand`` is the number of middle channels.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Sequence

from latency_kit.errors import ArchError
from latency_kit.spaces.base import Block, BlockGrouping, Decision, SearchSpace
from latency_kit.spaces.channels import make_divisible

STEM_WIDTH = 24
WIDTHS = (32, 48, 96, 136, 192)
STRIDES = (2, 2, 2, 1, 2)
USE_SE = (False, True, False, True, True)
USE_HS = (False, False, True, True, True)
KERNELS = (3, 5, 7)
EXPANDS = (3, 4, 6)
DEPTHS = (2, 3, 4)
MAX_DEPTH = 4
RESOLUTIONS = (160, 176, 192, 208, 224)
HEAD_EXPAND = 1152
FEATURE_MIX = 1536
CLASSES = 1000

Layer = tuple[int, int]  # (kernel, expand ratio)


@dataclass(frozen=True)
class OFAArch:
    """An ``ofa-mbv3`` architecture: per stage a tuple of (kernel, expand) layers."""

    stages: tuple[tuple[Layer, ...], ...]
    resolution: int = 224

    @property
    def depths(self) -> tuple[int, ...]:
        return tuple(len(stage) for stage in self.stages)


def _out_size(size: int, stride: int) -> int:
    return (size - 1) // stride + 1


_KEY = re.compile(
    r"^expanded_conv-input:(\d+)x(\d+)x(\d+)-output:(\d+)x(\d+)x(\d+)-expand:(\d+)"
    r"-kernel:(\d+)-stride:(\d+)-idskip:([01])-se:([01])-hs:([01])$"
)
_SIMPLE_KEY = re.compile(r"^(Conv|Conv_1|AvgPool2D|Conv_2|Logits)-input:(\d+)x(\d+)x(\d+)-output:(.+)$")
_LAYER = re.compile(r"^k(\d+)e(\d+)$")


class OFAMobileNetV3(SearchSpace[OFAArch]):
    """OFA MobileNetV3 w1.2. ``resolutions`` restricts the resolution decision."""

    name = "ofa-mbv3"
    takes_resolution = True

    def __init__(self, resolutions: Sequence[int] = RESOLUTIONS):
        resolutions = tuple(sorted(set(int(r) for r in resolutions)))
        for r in resolutions:
            check_resolution(r)
        self.resolutions = resolutions

    def __repr__(self) -> str:
        return f"OFAMobileNetV3(resolutions={self.resolutions})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, OFAMobileNetV3) and other.resolutions == self.resolutions

    def __hash__(self) -> int:
        return hash((self.name, self.resolutions))

    # -- decisions ---------------------------------------------------------------
    def decisions(self) -> list[Decision]:
        out: list[Decision] = []
        for s in range(len(WIDTHS)):
            out.append(Decision(f"s{s + 1}.depth", DEPTHS))
            for layer in range(MAX_DEPTH):
                out.append(Decision(f"s{s + 1}.l{layer + 1}.kernel", KERNELS))
                out.append(Decision(f"s{s + 1}.l{layer + 1}.expand", EXPANDS))
        out.append(Decision("resolution", self.resolutions))
        return out

    def encode(self, arch: OFAArch) -> list[int]:
        self.validate(arch)
        out: list[int] = []
        for stage in arch.stages:
            out.append(DEPTHS.index(len(stage)))
            for layer in range(MAX_DEPTH):
                if layer < len(stage):
                    out += [KERNELS.index(stage[layer][0]), EXPANDS.index(stage[layer][1])]
                else:
                    out += [0, 0]
        out.append(self.resolutions.index(arch.resolution))
        return out

    def decode(self, indices: Sequence[int]) -> OFAArch:
        expected = len(WIDTHS) * (1 + 2 * MAX_DEPTH) + 1
        if len(indices) != expected:
            raise ArchError(f"ofa-mbv3 needs {expected} decisions, got {len(indices)}")
        stages = []
        pos = 0
        for _ in WIDTHS:
            depth = DEPTHS[indices[pos]]
            slots = indices[pos + 1 : pos + 1 + 2 * MAX_DEPTH]
            stages.append(tuple((KERNELS[slots[2 * i]], EXPANDS[slots[2 * i + 1]]) for i in range(depth)))
            pos += 1 + 2 * MAX_DEPTH
        return OFAArch(tuple(stages), self.resolutions[indices[pos]])

    def validate(self, arch: OFAArch) -> OFAArch:
        """Raise ``ArchError`` unless ``arch`` belongs to this space."""
        if len(arch.stages) != len(WIDTHS):
            raise ArchError(f"ofa-mbv3 has {len(WIDTHS)} stages, got {len(arch.stages)}")
        for s, stage in enumerate(arch.stages):
            if len(stage) not in DEPTHS:
                raise ArchError(f"stage {s + 1} depth {len(stage)} not in {DEPTHS}")
            for kernel, expand in stage:
                if kernel not in KERNELS or expand not in EXPANDS:
                    raise ArchError(
                        f"layer k{kernel}e{expand} in stage {s + 1}: kernel must be one of "
                        f"{KERNELS} and expand one of {EXPANDS}"
                    )
        if arch.resolution not in self.resolutions:
            raise ArchError(
                f"resolution {arch.resolution} not in this space's resolutions {list(self.resolutions)}"
            )
        return arch

    # -- text and JSON -----------------------------------------------------------
    def format(self, arch: OFAArch) -> str:
        stages = ["-".join(f"k{k}e{e}" for k, e in stage) for stage in arch.stages]
        return f"r{arch.resolution}_" + "_".join(stages)

    def parse(self, text: str, resolution: int | None = None) -> OFAArch:
        """Parse ``r224_k3e4-...``; the ``r`` prefix may be left out if ``resolution`` is given."""
        parts = str(text).strip().split("_")
        res = resolution
        if parts and parts[0].startswith("r"):
            try:
                res = int(parts[0][1:])
            except ValueError:
                raise ArchError(f"bad resolution {parts[0]!r} in architecture {text!r}") from None
            if resolution is not None and res != resolution:
                raise ArchError(
                    f"architecture {text!r} is at resolution {res} but resolution {resolution} "
                    "was asked for; drop one of the two or make them agree")
            parts = parts[1:]
        if res is None:
            res = 224 if 224 in self.resolutions else self.resolutions[-1]
        if len(parts) != len(WIDTHS):
            raise ArchError(
                f"malformed ofa-mbv3 architecture {text!r}: expected r<res>_ and 5 '_'-separated "
                "stages of '-'-separated k<kernel>e<expand> layers, e.g. "
                "r224_k3e4-k5e6_k3e3-k3e3_k5e4-k5e4_k7e6-k3e3_k3e3-k3e3"
            )
        stages = []
        for part in parts:
            layers = []
            for token in part.split("-"):
                match = _LAYER.match(token)
                if not match:
                    raise ArchError(f"malformed layer {token!r} in {text!r}; write e.g. k5e4")
                layers.append((int(match.group(1)), int(match.group(2))))
            stages.append(tuple(layers))
        check_resolution(res)
        return self.validate(OFAArch(tuple(stages), res))

    def to_json(self, arch: OFAArch) -> dict[str, Any]:
        ks: list[int] = []
        es: list[int] = []
        for stage in arch.stages:
            padded = list(stage) + [stage[-1]] * (MAX_DEPTH - len(stage))
            ks += [k for k, _ in padded]
            es += [e for _, e in padded]
        return {"ks": ks, "e": es, "d": list(arch.depths), "r": arch.resolution}

    def from_json(self, data: dict[str, Any]) -> OFAArch:
        try:
            ks, es, ds = list(data["ks"]), list(data["e"]), list(data["d"])
            res = int(data.get("r", data.get("resolution", 224)))
            if isinstance(res, list):  # OFA sometimes stores r as a one-element list
                res = int(res[0])
        except (KeyError, TypeError, ValueError) as exc:
            raise ArchError(f"ofa-mbv3 JSON needs ks, e, d and r: {exc}") from None
        if len(ks) != 20 or len(es) != 20 or len(ds) != 5:
            raise ArchError("ofa-mbv3 JSON needs 20 ks, 20 e and 5 d values")
        stages = tuple(
            tuple((int(ks[4 * s + i]), int(es[4 * s + i])) for i in range(int(ds[s])))
            for s in range(5)
        )
        return self.validate(OFAArch(stages, res))

    # -- blocks ------------------------------------------------------------------
    def input_shape(self, arch: OFAArch, batch: int = 1) -> tuple[int, ...]:
        return (batch, 3, arch.resolution, arch.resolution)

    def blocks(self, arch: OFAArch) -> list[Block]:
        self.validate(arch)
        return _blocks(arch.stages, arch.resolution)

    def all_blocks(self) -> list[Block]:
        out: list[Block] = []
        for res in self.resolutions:
            every = [((k, e),) * 4 for k in KERNELS for e in EXPANDS]
            seen: dict[str, Block] = {}
            for layers in every:
                for block in _blocks(tuple(layers for _ in WIDTHS), res):
                    seen.setdefault(block.key, block)
            out.extend(seen.values())
        return out

    def block_input_shape(self, key: str, batch: int = 1) -> tuple[int, ...]:
        spec = parse_key(key)
        return (batch, spec["cin"], spec["h"], spec["w"])

    def block_costs(self, key: str) -> tuple[float, float, float]:
        """Analytic (MACs, parameters, activation elements written) of a block: no torch.

        ``tests/test_predictor.py`` checks the MACs and parameters against
        counting the real torch modules (:meth:`block_counts`).
        """
        return analytic_costs(key)

    def block_groupings(self) -> tuple[BlockGrouping, ...]:
        """By stage (``stem``, ``s1``..``s5``, ``head``) and by depthwise kernel
        (``k3``, ``k5``, ``k7``, and ``k-none`` for blocks without an expanded one)."""
        return STAGE_GROUPING, KERNEL_GROUPING

    def build_block(self, key: str):
        import torch
        from torch import nn

        from latency_kit.spaces import layers as L

        spec = parse_key(key)
        torch.manual_seed(0)
        kind = spec["kind"]
        if kind == "Conv":
            module: nn.Module = L.conv_bn_act(spec["cin"], spec["cout"], 3, 2, nn.Hardswish())
        elif kind == "expanded_conv":
            module = L.MBConv(spec["cin"], spec["cout"], spec["mid"], spec["kernel"], spec["stride"],
                              spec["idskip"], spec["se"], spec["hs"])
        elif kind == "Conv_1":
            module = L.conv_bn_act(spec["cin"], spec["cout"], 1, 1, nn.Hardswish())
        elif kind == "AvgPool2D":
            module = L.GlobalAvgPool()
        elif kind == "Conv_2":
            module = L.conv_bn_act(spec["cin"], spec["cout"], 1, 1, nn.Hardswish(), bn=False)
        else:  # Logits
            module = L.Classifier(spec["cin"], spec["cout"])
        return module.eval()


def check_resolution(res: int) -> None:
    if res not in RESOLUTIONS:
        raise ArchError(f"resolution {res} is out of range for ofa-mbv3; use one of {list(RESOLUTIONS)}")


def _conv_key(kind: str, h: int, cin: int, oh: int, cout: int) -> str:
    return f"{kind}-input:{h}x{h}x{cin}-output:{oh}x{oh}x{cout}"


def _mb_key(h: int, cin: int, oh: int, cout: int, mid: int, kernel: int, stride: int,
            idskip: bool, se: bool, hs: bool) -> str:
    return (
        f"expanded_conv-input:{h}x{h}x{cin}-output:{oh}x{oh}x{cout}-expand:{mid}-kernel:{kernel}"
        f"-stride:{stride}-idskip:{int(idskip)}-se:{int(se)}-hs:{int(hs)}"
    )


@lru_cache(maxsize=65536)
def _blocks(stages: tuple[tuple[Layer, ...], ...], res: int) -> list[Block]:
    size = _out_size(res, 2)
    blocks = [
        Block(_conv_key("Conv", res, 3, size, STEM_WIDTH), (1, 3, res, res)),
        Block(_mb_key(size, STEM_WIDTH, size, STEM_WIDTH, STEM_WIDTH, 3, 1, True, False, False),
              (1, STEM_WIDTH, size, size)),
    ]
    cin = STEM_WIDTH
    for s, stage in enumerate(stages):
        for i, (kernel, expand) in enumerate(stage):
            stride = STRIDES[s] if i == 0 else 1
            out = _out_size(size, stride)
            mid = make_divisible(cin * expand)
            key = _mb_key(size, cin, out, WIDTHS[s], mid, kernel, stride,
                          stride == 1 and cin == WIDTHS[s], USE_SE[s], USE_HS[s])
            blocks.append(Block(key, (1, cin, size, size)))
            cin, size = WIDTHS[s], out
    blocks += [
        Block(_conv_key("Conv_1", size, cin, size, HEAD_EXPAND), (1, cin, size, size)),
        Block(_conv_key("AvgPool2D", size, HEAD_EXPAND, 1, HEAD_EXPAND), (1, HEAD_EXPAND, size, size)),
        Block(_conv_key("Conv_2", 1, HEAD_EXPAND, 1, FEATURE_MIX), (1, HEAD_EXPAND, 1, 1)),
        Block(f"Logits-input:1x1x{FEATURE_MIX}-output:{CLASSES}", (1, FEATURE_MIX, 1, 1)),
    ]
    return blocks


def parse_key(key: str) -> dict[str, Any]:
    """Decode an OFA-format block key into its fields; raise ``KeyError`` if malformed."""
    match = _KEY.match(key)
    if match:
        g = [int(x) for x in match.groups()]
        return {"kind": "expanded_conv", "h": g[0], "w": g[1], "cin": g[2], "oh": g[3], "ow": g[4],
                "cout": g[5], "mid": g[6], "kernel": g[7], "stride": g[8], "idskip": bool(g[9]),
                "se": bool(g[10]), "hs": bool(g[11])}
    match = _SIMPLE_KEY.match(key)
    if match:
        kind, h, w, cin, output = match.groups()
        cout = int(output.split("x")[-1])
        return {"kind": kind, "h": int(h), "w": int(w), "cin": int(cin), "cout": cout}
    raise KeyError(f"not an ofa-mbv3 block key: {key!r}")


# -- block costs and groups (the latency predictor's features) --------------------
def analytic_costs(key: str) -> tuple[int, int, int]:
    """(MACs, parameters, activation elements written) of the block with this key."""
    s = parse_key(key)
    kind, cin, cout = s["kind"], s["cin"], s["cout"]
    hw = s["h"] * s["w"]
    if kind == "Conv":
        ohw = (((s["h"] - 1) // 2) + 1) ** 2
        return ohw * cout * cin * 9, cout * cin * 9 + 2 * cout, ohw * cout
    if kind == "Conv_1":
        return hw * cout * cin, cin * cout + 2 * cout, hw * cout
    if kind == "AvgPool2D":
        return 0, 0, cin
    if kind in ("Conv_2", "Logits"):
        return cin * cout, cin * cout + cout, cout
    mid, k, ohw = s["mid"], s["kernel"], s["oh"] * s["ow"]
    macs = ohw * mid * k * k + ohw * cout * mid
    params = mid * k * k + 2 * mid + mid * cout + 2 * cout
    act = ohw * mid + ohw * cout
    if mid != cin:
        macs += hw * mid * cin
        params += cin * mid + 2 * mid
        act += hw * mid
    if s["se"]:
        se = make_divisible(mid // 4)
        macs += 2 * mid * se
        params += 2 * mid * se + mid + se
    return macs, params, act


def stage_of(key: str) -> str:
    """``stem`` (first conv and first block), ``s1``..``s5``, or ``head``."""
    spec = parse_key(key)
    if spec["kind"] == "Conv" or (spec["kind"] == "expanded_conv" and spec["cout"] == STEM_WIDTH):
        return "stem"
    if spec["kind"] == "expanded_conv":
        return f"s{WIDTHS.index(spec['cout']) + 1}"
    return "head"


def kernel_of(key: str) -> str:
    """``k<kernel>`` of an expanded MBConv block; ``k-none`` for the rest (stem,
    head, and the first block, which has no expansion and a fixed 3x3)."""
    spec = parse_key(key)
    if spec["kind"] != "expanded_conv" or spec["mid"] == spec["cin"]:
        return "k-none"
    return f"k{spec['kernel']}"


STAGE_GROUPING = BlockGrouping(("stem", *(f"s{i + 1}" for i in range(len(WIDTHS))), "head"), stage_of)
KERNEL_GROUPING = BlockGrouping(tuple(f"k{k}" for k in KERNELS) + ("k-none",), kernel_of)
