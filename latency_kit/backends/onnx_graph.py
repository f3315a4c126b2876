"""The graph ONNX Runtime executes, node by node, with shapes, attributes and times.

ORT rewrites a model before running it: it fuses Conv+activation into
``FusedConv``, MatMul+Add into ``Gemm``, attention and layer-norm patterns
into contrib ops, and on x86 reorders convolutions into the NCHWc layout
(``com.microsoft.nchwc``). The op table is keyed on that executed graph, so a
model is read the same way whether it is profiled (to build the table) or
predicted: one session with ``optimized_model_filepath`` saves the executed
graph (node names, op types, domains, attributes), and its profiler trace
gives every node's input and output shapes and, over ``runs`` inferences,
its time.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from latency_kit.backends.base import ModelSpec
from latency_kit.backends.onnxruntime import OnnxRuntimeBackend, file_feeds, parse_ort_profile
from latency_kit.errors import LatkitError
from latency_kit.optable import OpNode


def executed_graph(backend: OnnxRuntimeBackend, spec: ModelSpec, runs: int = 1,
                   warmup: int = 0) -> list[OpNode]:
    """The nodes ONNX Runtime executes for ``spec``, in the order they ran.

    ``runs`` profiled inferences follow ``warmup`` untimed ones (at least one
    run is made: the shapes come from it). Each node carries its op type and
    domain, its attributes from the saved optimised graph, its input and
    output shapes, and its time in each run (``run_ms``, ms). Raises
    ``LatkitError`` when ORT cannot load the model or its trace holds no node.
    """
    runs = max(1, int(runs))
    with tempfile.TemporaryDirectory() as tmp:
        optimized = str(Path(tmp) / "executed.onnx")
        session = backend.session(spec, profile_dir=tmp, optimized_path=optimized)
        feeds = file_feeds(session, spec) if spec.kind == "file" else {
            session.get_inputs()[0].name: _zeros(spec.input_shape)}
        binding = backend._bind(session, feeds)
        for _ in range(warmup + runs):
            session.run_with_iobinding(binding)
        with open(session.end_profiling()) as handle:
            events = json.load(handle)
        attrs = _graph_attrs(optimized)
    outputs = _output_shapes(events)
    times = parse_ort_profile(events, skip_runs=warmup)
    if not times:
        raise LatkitError(f"ONNX Runtime's profile of {spec.key} holds no node")
    nodes = []
    for op in times:
        domain, node_attrs = attrs.get(op.name, ("", {}))
        nodes.append(OpNode(op.name, op.op_type, domain, node_attrs, op.input_shapes,
                            outputs.get(op.name, []), list(op.run_ms)))
    return nodes


def _zeros(shape: tuple[int, ...]):
    import numpy as np

    return np.zeros(shape, dtype=np.float32)


def _output_shapes(events: list[dict[str, Any]]) -> dict[str, list[list[int]]]:
    """Node name -> output shapes, from the trace's ``args.output_type_shape``."""
    out: dict[str, list[list[int]]] = {}
    for event in events:
        name = str(event.get("name", "")) if isinstance(event, dict) else ""
        args = event.get("args") if isinstance(event, dict) else None
        if event.get("cat") == "Node" and name.endswith("_kernel_time") and isinstance(args, dict):
            out.setdefault(name[: -len("_kernel_time")],
                           [list(next(iter(t.values()))) for t in args.get("output_type_shape", [])
                            if isinstance(t, dict) and t])
    return out


def _graph_attrs(path: str) -> dict[str, tuple[str, dict[str, Any]]]:
    """Node name -> (domain, attributes) of the saved executed graph (weights not loaded)."""
    import onnx
    from onnx import helper

    if not Path(path).is_file():
        raise LatkitError("ONNX Runtime did not save the executed graph")
    model = onnx.load(path, load_external_data=False)
    out = {}
    for node in model.graph.node:
        attrs = {}
        for attr in node.attribute:
            if attr.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS,
                             onnx.AttributeProto.TENSOR, onnx.AttributeProto.TENSORS,
                             onnx.AttributeProto.SPARSE_TENSOR):
                continue
            value = helper.get_attribute_value(attr)
            if isinstance(value, bytes):
                value = value.decode("utf-8", "replace")
            elif isinstance(value, (list, tuple)):
                value = [v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in value]
            attrs[attr.name] = value
        out[node.name] = (node.domain, attrs)
    return out
