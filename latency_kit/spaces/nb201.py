"""The ``nb201`` space: the NAS-Bench-201 cell and its standard CIFAR network.

A cell is a DAG of 4 nodes; each of its 6 edges (node j -> node i, j < i)
applies one of five operations. Architecture string (the benchmark's own)::

    |nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|

one ``+``-separated group per node 1-3, each listing ``op~input_node``. The
JSON form is ``{"ops": [6 names]}`` in the same edge order. 5^6 = 15,625
architectures.

The network is the benchmark's CIFAR one: a 3x3 stem convolution to 16
channels with BN, three stages of 5 cells at 16, 32 and 64 channels (32x32,
16x16 and 8x8 feature maps) joined by residual reduction blocks, then BN,
ReLU, global pooling and a linear classifier. ``nor_conv`` is ReLU-Conv-BN;
``avg_pool_3x3`` has stride 1 and excludes padding; ``none`` drops the edge.

Blocks (LUT keys) are the stem, each reduction block, the head, and one entry
per (operation, channels, size) of the cell edges, e.g.
``nb201-edge:nor_conv_3x3-input:16x16x32``. ``skip_connect`` and ``none`` edges
carry no block: they compute nothing a device could time on its own; the
whole-network calibration of a profile absorbs the sums they add.

Degenerate cells: in 341 of the 15,625 cells every path from the input to
node 3 passes through ``none`` (e.g. all ``none``), so the cell's output is
zero whatever its input; NAS-Bench-201 gives all of them 10% CIFAR-10
accuracy (chance). Such a cell is built as ``x * 0``, NAS-Bench-201's own
``none`` operation (``Zero`` returns ``x.mul(0.0)`` in D-X-Y/AutoDL-Projects
``xautodl/models/cell_operations.py``), and none of its edges runs or is a
block (none reaches the output). The exported graph keeps its input: ONNX Runtime does not fold
``x * 0`` (NaN and infinite inputs must propagate) and measures the stem,
reductions, head and the ``x * 0`` nodes. LiteRT's converter does fold it
(the ``.tflite`` keeps its input but no operator), so there the network
measures as a constant, close to 0 ms, like most of these cells in HELP's
pixel3 table. See :func:`is_degenerate`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Sequence

from latency_kit.errors import ArchError
from latency_kit.spaces.base import Block, Decision, SearchSpace

# The operations, in the order NAS-Bench-201's op ids (and BRP-NAS/Eagle's tables) number them.
OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
MEASURED_OPS = ("nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
# Edges in string order: (to node, from node).
EDGES = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
STEM_CHANNELS = 16
CELLS_PER_STAGE = 5
STAGES = ((16, 32), (32, 16), (64, 8))  # (channels, feature-map size)
RESOLUTION = 32

_EDGE_KEY = re.compile(r"^nb201-edge:(\w+)-input:(\d+)x(\d+)x(\d+)$")
_STEM_KEY = re.compile(r"^nb201-stem-input:(\d+)x(\d+)x3-output:(\d+)x(\d+)x(\d+)$")
_REDUCTION_KEY = re.compile(r"^nb201-reduction-input:(\d+)x(\d+)x(\d+)-output:(\d+)x(\d+)x(\d+)$")
_HEAD_KEY = re.compile(r"^nb201-head-input:(\d+)x(\d+)x(\d+)-output:(\d+)$")


@dataclass(frozen=True)
class NB201Arch:
    """A NAS-Bench-201 cell: one operation name per edge, in string order."""

    ops: tuple[str, ...]


class NASBench201(SearchSpace[NB201Arch]):
    """NAS-Bench-201 on CIFAR (32x32 input); ``classes`` sets the classifier width."""

    name = "nb201"

    def __init__(self, classes: int = 10):
        if int(classes) < 1:
            raise ArchError(f"nb201 needs at least one class, got {classes}")
        self.classes = int(classes)

    def __repr__(self) -> str:
        return f"NASBench201(classes={self.classes})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, NASBench201) and other.classes == self.classes

    def __hash__(self) -> int:
        return hash((self.name, self.classes))

    # -- decisions ---------------------------------------------------------------
    def decisions(self) -> list[Decision]:
        return [Decision(f"edge{to}<-{src}", OPS) for to, src in EDGES]

    def encode(self, arch: NB201Arch) -> list[int]:
        self.validate(arch)
        return [OPS.index(op) for op in arch.ops]

    def decode(self, indices: Sequence[int]) -> NB201Arch:
        if len(indices) != len(EDGES):
            raise ArchError(f"nb201 needs {len(EDGES)} decisions, got {len(indices)}")
        try:
            return NB201Arch(tuple(OPS[int(i)] for i in indices))
        except IndexError:
            raise ArchError(f"nb201 op indices must be 0-{len(OPS) - 1}, got {list(indices)}") from None

    def validate(self, arch: NB201Arch) -> NB201Arch:
        """Raise ``ArchError`` unless ``arch`` belongs to this space."""
        if len(arch.ops) != len(EDGES):
            raise ArchError(f"nb201 has {len(EDGES)} edges, got {len(arch.ops)}")
        for op in arch.ops:
            if op not in OPS:
                raise ArchError(f"unknown nb201 operation {op!r}; use one of {', '.join(OPS)}")
        return arch

    # -- text and JSON -----------------------------------------------------------
    def format(self, arch: NB201Arch) -> str:
        return cell_string(arch.ops)

    def parse(self, text: str) -> NB201Arch:
        groups = str(text).strip().split("+")
        example = "|nor_conv_3x3~0|+|nor_conv_3x3~0|avg_pool_3x3~1|+|skip_connect~0|nor_conv_3x3~1|skip_connect~2|"
        if len(groups) != 3:
            raise ArchError(f"malformed nb201 architecture {text!r}; write e.g. {example}")
        ops: list[str] = []
        for node, group in enumerate(groups, 1):
            if not (group.startswith("|") and group.endswith("|")):
                raise ArchError(f"malformed node {group!r} in {text!r}; write e.g. {example}")
            edges = group[1:-1].split("|")
            if len(edges) != node:
                raise ArchError(f"node {node} of {text!r} needs {node} edges, got {len(edges)}")
            for j, edge in enumerate(edges):
                op, _, source = edge.partition("~")
                if source != str(j):
                    raise ArchError(f"edge {edge!r} in {text!r} must come from node {j} (write {op}~{j})")
                ops.append(op)
        return self.validate(NB201Arch(tuple(ops)))

    def to_json(self, arch: NB201Arch) -> dict[str, Any]:
        return {"ops": list(arch.ops)}

    def from_json(self, data: dict[str, Any]) -> NB201Arch:
        try:
            ops = tuple(str(op) for op in data["ops"])
        except (KeyError, TypeError):
            raise ArchError('nb201 JSON needs "ops": a list of 6 operation names') from None
        return self.validate(NB201Arch(ops))

    # -- blocks ------------------------------------------------------------------
    def input_shape(self, arch: NB201Arch, batch: int = 1) -> tuple[int, ...]:
        return (batch, 3, RESOLUTION, RESOLUTION)

    def blocks(self, arch: NB201Arch) -> list[Block]:
        self.validate(arch)
        return _blocks(arch.ops, self.classes)

    def is_degenerate(self, arch: NB201Arch) -> bool:
        """Whether ``arch``'s output is independent of its input (see :func:`is_degenerate`)."""
        return is_degenerate(self.validate(arch).ops)

    def all_blocks(self) -> list[Block]:
        every = {b.key: b for ops in [(op,) * len(EDGES) for op in MEASURED_OPS]
                 for b in _blocks(ops, self.classes)}
        return list(every.values())

    def block_input_shape(self, key: str, batch: int = 1) -> tuple[int, ...]:
        spec = parse_key(key)
        return (batch, spec["cin"], spec["h"], spec["w"])

    def build_block(self, key: str):
        import torch

        from latency_kit.spaces.nb201_layers import Head, ResidualReduction, edge_module, stem

        spec = parse_key(key)
        torch.manual_seed(0)
        kind = spec["kind"]
        if kind == "edge":
            module = edge_module(spec["op"], spec["cin"])
        elif kind == "stem":
            module = stem(spec["cout"])
        elif kind == "reduction":
            module = ResidualReduction(spec["cin"], spec["cout"])
        else:
            module = Head(spec["cin"], spec["cout"])
        return module.eval()

    def build(self, arch: NB201Arch):
        """The whole CIFAR network (cells are DAGs, so it is not a chain of blocks)."""
        import torch

        from latency_kit.spaces.nb201_layers import NB201Network

        self.validate(arch)
        torch.manual_seed(0)
        return NB201Network(arch.ops, self.classes).eval()


def cell_string(ops: Sequence[str]) -> str:
    """The benchmark's string of a cell: six op names in ``EDGES`` order, unchecked."""
    groups, pos = [], 0
    for node in (1, 2, 3):
        groups.append("|" + "|".join(f"{ops[pos + j]}~{j}" for j in range(node)) + "|")
        pos += node
    return "+".join(groups)


def is_degenerate(ops: Sequence[str]) -> bool:
    """True when no path of non-``none`` edges joins the cell input (node 0) to node 3.

    The cell then outputs zero for every input; 341 of the 15,625 cells are
    like this. ``ops`` is in string (``EDGES``) order.
    """
    reached = {0}
    for (to, src), op in zip(EDGES, ops):  # EDGES is in topological order
        if op != "none" and src in reached:
            reached.add(to)
    return 3 not in reached


# -- keys ------------------------------------------------------------------------

def _edge_key(op: str, channels: int, size: int) -> str:
    return f"nb201-edge:{op}-input:{size}x{size}x{channels}"


@lru_cache(maxsize=4096)
def _blocks(ops: tuple[str, ...], classes: int) -> list[Block]:
    blocks = [Block(f"nb201-stem-input:{RESOLUTION}x{RESOLUTION}x3-output:"
                    f"{RESOLUTION}x{RESOLUTION}x{STEM_CHANNELS}", (1, 3, RESOLUTION, RESOLUTION))]
    measured = [] if is_degenerate(ops) else [op for op in ops if op in MEASURED_OPS]
    for s, (channels, size) in enumerate(STAGES):
        if s > 0:
            cin, hin = STAGES[s - 1]
            blocks.append(Block(f"nb201-reduction-input:{hin}x{hin}x{cin}-output:{size}x{size}x{channels}",
                                (1, cin, hin, hin)))
        for _ in range(CELLS_PER_STAGE):
            blocks += [Block(_edge_key(op, channels, size), (1, channels, size, size)) for op in measured]
    channels, size = STAGES[-1]
    blocks.append(Block(f"nb201-head-input:{size}x{size}x{channels}-output:{classes}",
                        (1, channels, size, size)))
    return blocks


def parse_key(key: str) -> dict[str, Any]:
    """Decode an ``nb201`` block key into its fields; raise ``KeyError`` if malformed."""
    match = _EDGE_KEY.match(key)
    if match and match.group(1) in MEASURED_OPS:
        op, h, w, c = match.groups()
        return {"kind": "edge", "op": op, "h": int(h), "w": int(w), "cin": int(c), "cout": int(c)}
    match = _STEM_KEY.match(key)
    if match:
        h, w, _, _, c = (int(x) for x in match.groups())
        return {"kind": "stem", "h": h, "w": w, "cin": 3, "cout": c}
    match = _REDUCTION_KEY.match(key)
    if match:
        h, w, cin, _, _, cout = (int(x) for x in match.groups())
        return {"kind": "reduction", "h": h, "w": w, "cin": cin, "cout": cout}
    match = _HEAD_KEY.match(key)
    if match:
        h, w, cin, classes = (int(x) for x in match.groups())
        return {"kind": "head", "h": h, "w": w, "cin": cin, "cout": classes}
    raise KeyError(f"not an nb201 block key: {key!r}")
