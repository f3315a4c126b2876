"""The per-operator table: measured latency per op configuration of the graph
a runtime executes, as versioned JSON (``latkit.optable`` version 1).

Schema::

    {
      "schema": "latkit.optable", "version": 1, "unit": "ms",
      "device": "cpu", "fingerprint": {...}, "settings": {...},
      "entries": {
        "<op key>": {"op_type": "FusedConv", "domain": "com.microsoft",
                      "input_shapes": [[1, 3, 224, 224], [64, 3, 7, 7], [64]],
                      "output_shapes": [[1, 64, 112, 112]],
                      "attrs": {"kernel_shape": [7, 7], "strides": [2, 2], ...},
                      "median_ms": 0.81, "p10_ms": ..., "p90_ms": ..., "count": 36}
      },
      "networks": [{"name": "resnet-d18-w64", "latency_ms": 41.2,
                    "nodes": 61, "node_sum_ms": 39.7, "flops": 3.6e9}]
    }

An op key is the op type (with its domain), the input and output shapes, and
the attributes that change the kernel's work (kernel, stride, groups,
dilation, pads, the fused activation, ...): two nodes with one key run the
same kernel on the same data sizes. ``count`` is the number of observations
(profiled runs of every node with that key, over all networks). ``networks``
holds the whole-network times the node sums are calibrated on. The table is
data only, never pickled; models fitted on it are refit on load.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from latency_kit.errors import CorruptFileError, LatkitError
from latency_kit.jsonio import read_json, write_json
from latency_kit.stats import LatencyStats

SCHEMA = "latkit.optable"
VERSION = 1
# Devices that build op tables: ONNX Runtime's in-graph profiler, so far.
OP_TABLE_DEVICES = ("cpu",)

# Attributes that describe bookkeeping, not work: left out of the key.
_IGNORED_ATTRS = {"activation_params", "epsilon", "alpha", "beta", "value", "to", "saturate",
                  "keepdims", "noop_with_empty_axes", "fuse_sum", "allowzero"}


@dataclass
class OpNode:
    """One node of the graph a runtime executes (shapes are lists of ints).

    ``run_ms`` holds its time in each profiled run (ms), empty when the node
    was only read (for prediction), not timed.
    """

    name: str
    op_type: str
    domain: str = ""
    attrs: dict[str, Any] = field(default_factory=dict)
    input_shapes: list[list[int]] = field(default_factory=list)
    output_shapes: list[list[int]] = field(default_factory=list)
    run_ms: list[float] = field(default_factory=list)

    @property
    def key(self) -> str:
        """The op key: type, domain, input/output shapes and the attributes that matter."""
        return op_key(self.op_type, self.domain, self.input_shapes, self.output_shapes, self.attrs)

    @property
    def full_type(self) -> str:
        """``op_type`` with a non-default domain prefixed: ``com.microsoft.nchwc:Conv``."""
        return f"{self.domain}:{self.op_type}" if self.domain else self.op_type

    @property
    def flops(self) -> float:
        """Floating-point operations (2 per multiply-add) of one run; see :func:`node_flops`."""
        return node_flops(self.op_type, self.input_shapes, self.output_shapes)

    @property
    def bytes_moved(self) -> float:
        """Bytes read and written by one run, fp32 (4 bytes per element of every input and output)."""
        return 4.0 * (sum(_numel(s) for s in self.input_shapes) + sum(_numel(s) for s in self.output_shapes))


def key_attrs(attrs: dict[str, Any]) -> dict[str, Any]:
    """The attributes of ``attrs`` that go into an op key (sorted by name)."""
    return {k: attrs[k] for k in sorted(attrs) if k not in _IGNORED_ATTRS}


def op_key(op_type: str, domain: str, input_shapes: Sequence[Sequence[int]],
           output_shapes: Sequence[Sequence[int]], attrs: dict[str, Any]) -> str:
    """The canonical text key of an op configuration (compact JSON)."""
    return json.dumps([f"{domain}:{op_type}" if domain else op_type,
                       [list(s) for s in input_shapes], [list(s) for s in output_shapes],
                       key_attrs(attrs)], separators=(",", ":"), sort_keys=True)


def _numel(shape: Sequence[int]) -> int:
    return int(np.prod([max(int(d), 1) for d in shape])) if shape else 1


_CONV = {"Conv", "FusedConv", "ConvTranspose", "QLinearConv", "ConvInteger"}
_MATMUL = {"MatMul", "FusedMatMul", "Gemm", "MatMulInteger", "QLinearMatMul", "FusedGemm"}


def node_flops(op_type: str, input_shapes: Sequence[Sequence[int]],
               output_shapes: Sequence[Sequence[int]]) -> float:
    """FLOPs of one run (2 per multiply-add; 1 per output element for other ops).

    Convolutions: ``2 * output elements * prod(weight.shape[1:])``; matrix
    products: ``2 * output elements * K`` with K the last dimension of the
    first input. Other ops count one operation per output element (at least
    per input element), which is what memory-bound ops cost.
    """
    out = sum(_numel(s) for s in output_shapes) if output_shapes else 0
    if op_type in _CONV and len(input_shapes) > 1 and len(input_shapes[1]) > 1:
        return 2.0 * out * _numel(input_shapes[1][1:])
    if op_type in _MATMUL and input_shapes and input_shapes[0]:
        return 2.0 * out * max(int(input_shapes[0][-1]), 1)
    return float(max(out, _numel(input_shapes[0]) if input_shapes else 0))


@dataclass
class OpEntry:
    """One op configuration: what it is and its measured statistics (ms)."""

    op_type: str
    domain: str
    input_shapes: list[list[int]]
    output_shapes: list[list[int]]
    attrs: dict[str, Any]
    stats: LatencyStats

    @classmethod
    def of(cls, node: OpNode, stats: LatencyStats) -> "OpEntry":
        return cls(node.op_type, node.domain, node.input_shapes, node.output_shapes,
                   key_attrs(node.attrs), stats)

    def node(self) -> OpNode:
        """The entry as an (untimed) :class:`OpNode`, for features."""
        return OpNode("", self.op_type, self.domain, self.attrs, self.input_shapes, self.output_shapes)

    def to_dict(self) -> dict[str, Any]:
        return {"op_type": self.op_type, "domain": self.domain, "input_shapes": self.input_shapes,
                "output_shapes": self.output_shapes, "attrs": self.attrs, **self.stats.to_dict()}


@dataclass
class OpTable:
    """Op key -> :class:`OpEntry`, the whole networks behind them, and their metadata.

    ``networks`` are records ``{"name", "latency_ms", "nodes", "node_sum_ms", "flops"}``
    (end-to-end median, node count, sum of the nodes' median times, FLOPs of
    the executed graph per :func:`node_flops`), and, where ``latency_ms`` was
    measured in fresh processes, the build process's ``in_process_ms`` and
    the ``level`` (their ratio) its node times were scaled by.
    """

    device: str
    entries: dict[str, OpEntry] = field(default_factory=dict)
    networks: list[dict[str, Any]] = field(default_factory=list)
    fingerprint: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    # Every time observed per op key in this process (ms); entries loaded from a
    # file count as their median, ``count`` times. Not written to files.
    _observed: dict[str, list[float]] = field(default_factory=dict, repr=False, compare=False)

    def __len__(self) -> int:
        return len(self.entries)

    def __contains__(self, key: object) -> bool:
        return key in self.entries

    def network_names(self) -> set[str]:
        return {n["name"] for n in self.networks}

    def add_network(self, name: str, latency_ms: float, nodes: Sequence[OpNode]) -> None:
        """Record network ``name`` (end-to-end ``latency_ms``) and fold its nodes'
        per-run times into the entries: each touched entry is rebuilt from every
        time observed for its key. Raises ``LatkitError`` when ``name`` is
        already in the table.
        """
        if name in self.network_names():
            raise LatkitError(f"network {name!r} is already in the op table for {self.device}")
        if not nodes:
            raise LatkitError(f"network {name!r}: the profiler reported no node")
        node_sum = 0.0
        for node in nodes:
            if not node.run_ms:
                raise LatkitError(f"network {name!r}: node {node.name} has no profiled run")
            key = node.key
            if key not in self._observed:
                entry = self.entries.get(key)
                self._observed[key] = [] if entry is None else [entry.stats.median_ms] * entry.stats.count
            seen = self._observed[key]
            seen.extend(node.run_ms)
            self.entries[key] = OpEntry.of(node, LatencyStats.from_samples(seen))
            node_sum += float(np.median(node.run_ms))
        self.networks.append({"name": name, "latency_ms": float(latency_ms), "nodes": len(nodes),
                              "node_sum_ms": node_sum, "flops": sum(n.flops for n in nodes)})

    # -- files ---------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "version": VERSION, "unit": "ms", "device": self.device,
                "fingerprint": self.fingerprint, "settings": self.settings,
                "entries": {k: e.to_dict() for k, e in sorted(self.entries.items())},
                "networks": self.networks}

    @classmethod
    def from_dict(cls, data: Any, source: str = "op table") -> "OpTable":
        """Parse a ``latkit.optable`` document; ``CorruptFileError`` names what is wrong."""
        if not isinstance(data, dict) or data.get("schema") != SCHEMA:
            raise CorruptFileError(f"{source} is not a latkit op table (schema {SCHEMA!r})")
        if data.get("version") != VERSION:
            raise CorruptFileError(f"{source}: op table version {data.get('version')!r}; "
                                   f"this latkit reads version {VERSION}")
        if data.get("unit", "ms") != "ms":
            raise CorruptFileError(f"{source}: unit {data.get('unit')!r}; op tables are in ms")
        entries = data.get("entries")
        networks = data.get("networks", [])
        if not isinstance(entries, dict) or not isinstance(networks, list):
            raise CorruptFileError(f"{source}: 'entries' must be an object and 'networks' a list")
        table = cls(str(data.get("device", "")), fingerprint=dict(data.get("fingerprint") or {}),
                    settings=dict(data.get("settings") or {}))
        for key, raw in entries.items():
            try:
                entry = OpEntry(str(raw["op_type"]), str(raw.get("domain", "")),
                                _shapes(raw["input_shapes"]), _shapes(raw["output_shapes"]),
                                dict(raw.get("attrs") or {}), LatencyStats.from_dict(raw))
            except (KeyError, TypeError, ValueError) as exc:
                raise CorruptFileError(f"{source}: entry {key[:80]}: {exc}") from None
            if entry.node().key != key:
                raise CorruptFileError(f"{source}: entry key {key[:80]} does not match its fields")
            table.entries[key] = entry
        for net in networks:
            if not (isinstance(net, dict) and isinstance(net.get("name"), str)
                    and all(isinstance(net.get(f), (int, float)) for f in
                            ("latency_ms", "nodes", "node_sum_ms"))):
                raise CorruptFileError(f"{source}: a network record lacks name, latency_ms, "
                                       "nodes or node_sum_ms")
        names = [n["name"] for n in networks]
        if len(set(names)) != len(names):
            raise CorruptFileError(f"{source}: duplicate network names")
        table.networks = list(networks)
        return table

    def save(self, path: str | Path) -> None:
        write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: str | Path, advice: str | None = None) -> "OpTable":
        """Read a ``latkit.optable`` JSON file; ``advice`` ends the error for a
        file that is not JSON (:func:`latency_kit.jsonio.read_json`). Raises
        ``CorruptFileError``."""
        return cls.from_dict(read_json(path, "op table", advice), str(path))

    def write_csv(self, path: str | Path) -> None:
        """One row per entry: op type, domain, shapes and attributes as JSON, then the statistics (ms)."""
        stat_fields = ["median_ms", "mean_ms", "p10_ms", "p90_ms", "iqr_ms", "cv", "count"]
        with open(path, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["op_type", "domain", "input_shapes", "output_shapes", "attrs", *stat_fields])
            for _, entry in sorted(self.entries.items()):
                stats = entry.stats.to_dict()
                writer.writerow([entry.op_type, entry.domain, json.dumps(entry.input_shapes),
                                 json.dumps(entry.output_shapes), json.dumps(entry.attrs, sort_keys=True),
                                 *[stats.get(f) for f in stat_fields]])


def read_op_csv(path: str | Path, device: str = "") -> OpTable:
    """Read a CSV written by :meth:`OpTable.write_csv` (no network records).
    Raises ``CorruptFileError`` on a missing column or a duplicate op configuration."""
    table = OpTable(device)
    with open(path, newline="") as handle:
        for line, row in enumerate(csv.DictReader(handle), start=2):
            try:
                node = OpNode("", row["op_type"], row["domain"], json.loads(row["attrs"]),
                              _shapes(json.loads(row["input_shapes"])),
                              _shapes(json.loads(row["output_shapes"])))
                stats = LatencyStats.from_dict({k: float(v) if k != "count" else int(v)
                                                for k, v in row.items()
                                                if k.endswith("_ms") or k in ("cv", "count") if v != ""})
            except (KeyError, TypeError, ValueError) as exc:
                raise CorruptFileError(f"{path}, line {line}: {exc}") from None
            if node.key in table.entries:
                raise CorruptFileError(f"{path}, line {line}: duplicate op configuration")
            table.entries[node.key] = OpEntry.of(node, stats)
    return table


def _shapes(value: Any) -> list[list[int]]:
    if not isinstance(value, list) or not all(isinstance(s, list) for s in value):
        raise ValueError("shapes must be a list of lists of ints")
    return [[int(d) for d in s] for s in value]


def unique_nodes(nodes: Iterable[OpNode]) -> dict[str, OpNode]:
    """The nodes of ``nodes`` by op key (the first of each key)."""
    out: dict[str, OpNode] = {}
    for node in nodes:
        out.setdefault(node.key, node)
    return out
