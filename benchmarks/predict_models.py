"""Latency prediction for arbitrary ONNX models from the per-operator table (issue 18).

Device: ONNX Runtime on this CPU, 1 thread, batch 1 (latkit's ``cpu``).

1. Builds the op table from the training networks, exactly as
   ``latkit profile --device cpu --ops`` does (the ``train`` zoo of
   :mod:`latency_kit.convert.zoo`, varied depth, width, kernel, patch and
   resolution of ViT, ResNet, ConvNeXt, MobileNetV2 and EfficientNet, one or
   two of nine more families, small RegNet and Swin variants, and 6 sampled
   ofa-mbv3 architectures), timing the export and the build apart.
2. Takes the held-out networks: the ``standard`` zoo, published
   configurations none of which is a training network; MobileViT,
   MobileNetV1 and PoolFormer are families absent from training
   (``UNSEEN_FAMILIES``).
3. Measures their truth in ``--processes`` fresh processes, each the median
   of ``--rounds`` interleaved rounds (``measure_interleaved``, as ``latkit
   validate``), combined at the processes' common level
   (``latency_kit.measure.processes.combine``). The noise floor is two
   independent truths, the halves of the processes, compared with each other.
4. Prints side by side, per model and in summary (within ±5%, ±10%, Kendall
   τ; all models, the unseen families, the transformers):
   - latkit's prediction (``latency_kit.predict_model``'s predictor);
   - the sum of standalone single-op measurements: each node of the exported
     graph as its own one-node model, fed its real input values, timed alone
     (nn-Meter's approach, without its learned kernel models);
   - a FLOPs-linear fit on the training networks;
   - the noise floor.
5. Measures 5 of the models with ``latency_kit.measure_model`` (what ``latkit
   measure --model`` runs) against an independent ``onnxruntime`` loop
   (``InferenceSession.run`` timed with ``time.perf_counter``, same session
   options), goal within 5%.

Run on a quiet machine (nothing else running; the load average is printed)::

    python benchmarks/predict_models.py                     # about 15 min on 2 cores
    python benchmarks/predict_models.py --processes 2       # quicker, no noise floor

Needs the ``zoo`` extra (``pip install 'latkit[zoo]'``). Work files go to
``--work`` (default ``$LATKIT_HOME/cache/bench-predict-models``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

CHILD_SETTINGS = {"repeats": 10, "warmup_ms": 200, "batch_ms": 20}
# The models timed against an independent onnxruntime loop.
INDEPENDENT = ("resnet-50", "vit-s16", "efficientnet-b0", "mobilevit-xs", "convnext-t")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", type=int, default=4, help="fresh processes for the truth")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds per process")
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--reuse-table", action="store_true", help="keep an op table built before")
    parser.add_argument("--out", type=Path, default=None, help="write the figures as JSON here")
    parser.add_argument("--only", action="append", default=None, metavar="NAME",
                        help="held-out models to use (repeatable; default: all of the standard zoo)")
    parser.add_argument("--rescore", type=Path, default=None, metavar="RESULT",
                        help="recompute latkit's predictions with the current predictor from the op "
                             "table in --work and the truth in RESULT (an --out file); measures nothing")
    parser.add_argument("--child", nargs=2, metavar=("REQUEST", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return _child(*args.child)
    if args.rescore:
        return _rescore(args.rescore, args.work)

    from latency_kit.convert.zoo import STANDARD, UNSEEN_FAMILIES, export_zoo_model
    from latency_kit.measure.optable import build_op_table, default_networks
    from latency_kit.optable import OpTable
    from latency_kit.paths import cache_dir
    from latency_kit.predict.opmodel import OpPredictor

    work = args.work or cache_dir() / "bench-predict-models"
    work.mkdir(parents=True, exist_ok=True)
    print(f"load average at start: {os.getloadavg()[0]:.2f} (2 cores; run on a quiet machine)")

    started = time.perf_counter()
    training = default_networks(work / "zoo")
    held = [(m, export_zoo_model(m, work / "zoo")) for m in STANDARD
            if args.only is None or m.name in args.only]
    export_s = time.perf_counter() - started
    table_path = work / "ops.json"
    if table_path.exists() and not args.reuse_table:
        table_path.unlink()
    report = build_op_table(training, table_path)
    table = report.table
    print(f"op table: {len(table)} op configurations from {len(table.networks)} networks; "
          f"export {export_s:.0f} s, profiling {report.seconds:.0f} s "
          f"({len(report.profiled)} networks profiled now)")

    predictor = OpPredictor(OpTable.load(table_path))
    t0 = time.perf_counter()
    predictor.regressors  # noqa: B018 - fit once, timed
    fit_s = time.perf_counter() - t0
    flops_fit = _flops_fit(table)
    rows: list[dict[str, Any]] = []
    for model, path in held:
        nodes = _nodes(path)
        prediction = predictor.predict(nodes)
        flops = sum(n.flops for n in nodes)
        rows.append({"name": model.name, "family": model.family, "path": str(path),
                     "unseen_family": model.family in UNSEEN_FAMILIES,
                     "transformer": model.family in ("vit", "deit", "swin", "mobilevit"),
                     "latkit_ms": prediction.latency_ms, "looked_up": prediction.looked_up,
                     "nodes": len(nodes), "flops": flops, "flops_linear_ms": float(flops_fit(flops))})
    print(f"predictor fitted in {fit_s:.1f} s (regressors refit from the table, choices remembered)")

    t0 = time.perf_counter()
    for row in rows:
        row["single_op_ms"], row["single_op_failed"] = _single_op_sum(Path(row["path"]), work / "single")
    print(f"standalone single-op sums: {time.perf_counter() - t0:.0f} s")

    per_process = _truth([Path(r["path"]) for r in rows], args.processes, args.rounds, work)
    from latency_kit.measure.processes import combine

    truth = [s.median_ms for s in combine(per_process)]
    for row, value in zip(rows, truth):
        row["truth_ms"] = value
    half = args.processes // 2
    noise = None
    if half >= 1 and args.processes >= 2:
        a = [s.median_ms for s in combine(per_process[:half])]
        b = [s.median_ms for s in combine(per_process[half:])]
        noise = (a, b)
    _print(rows, noise)

    independent = _independent_check([Path(r["path"]) for r in rows if r["name"] in INDEPENDENT])
    print(f"\nload average at end: {os.getloadavg()[0]:.2f}")
    if args.out:
        args.out.write_text(json.dumps({"rows": rows, "independent": independent,
                                        "export_s": export_s, "build_s": report.seconds,
                                        "entries": len(table)}, indent=1))


def _rescore(result: Path, work: Path | None) -> None:
    """Predictions again, from the saved table, against the saved truth."""
    from latency_kit.optable import OpTable
    from latency_kit.paths import cache_dir
    from latency_kit.predict.opmodel import OpPredictor

    data = json.loads(result.read_text())
    predictor = OpPredictor(OpTable.load((work or cache_dir() / "bench-predict-models") / "ops.json"))
    print(f"rescored {result} (calibration: latency = {predictor.scale:.4f} x node sum)")
    for row in data["rows"]:
        row["latkit_ms"] = predictor.predict(_nodes(Path(row["path"]))).latency_ms
    _print(data["rows"], None)


def _nodes(path: Path):
    from latency_kit.backends.base import ModelSpec
    from latency_kit.backends.onnx_graph import executed_graph
    from latency_kit.backends.onnxruntime import OnnxRuntimeBackend

    return executed_graph(OnnxRuntimeBackend(1), ModelSpec.for_file(str(path)))


def _flops_fit(table):
    """latency = a * FLOPs + b, least squares in relative error over the training networks."""
    flops = np.array([n["flops"] for n in table.networks])
    y = np.array([n["latency_ms"] for n in table.networks])
    A = np.stack([flops, np.ones_like(flops)], axis=1) / y[:, None]
    (a, b), *_ = np.linalg.lstsq(A, np.ones_like(y), rcond=None)
    return lambda f: a * f + b


# -- standalone single-op measurements (the nn-Meter-style baseline) ----------

def _single_op_sum(path: Path, cache: Path) -> tuple[float, int]:
    """Sum over the exported graph's nodes of each node timed alone (ms), and the
    number of nodes that could not run alone (counted as 0 ms)."""
    import onnx
    import onnxruntime as ort
    from onnx import helper, numpy_helper

    model = onnx.load(str(path))
    values = _all_values(path, model)
    inits = {t.name: t for t in model.graph.initializer}
    cache.mkdir(parents=True, exist_ok=True)
    known = _load_cache(cache)
    total, failed = 0.0, 0
    for node in model.graph.node:
        if node.op_type == "Constant":
            continue
        inputs, feeds, tensors = [], {}, []
        for i, name in enumerate(node.input):
            if not name:
                continue
            if name in inits:
                tensors.append(inits[name])
            elif name in values:
                value = values[name]
                inputs.append(helper.make_tensor_value_info(
                    f"in{i}", helper.np_dtype_to_tensor_dtype(value.dtype), list(value.shape)))
                feeds[f"in{i}"] = value
            else:
                tensors.append(numpy_helper.from_array(np.zeros((), np.float32), name))
        renamed = helper.make_node(node.op_type, [f"in{i}" if f"in{i}" in feeds else n
                                                  for i, n in enumerate(node.input)],
                                   [f"out{j}" for j in range(len(node.output))], domain=node.domain)
        renamed.attribute.extend(node.attribute)
        outputs = [helper.make_tensor_value_info(
            f"out{j}", helper.np_dtype_to_tensor_dtype(values[o].dtype), list(values[o].shape))
            if o in values else helper.make_tensor_value_info(f"out{j}", onnx.TensorProto.FLOAT, None)
            for j, o in enumerate(node.output)]
        graph = helper.make_graph([renamed], "single", inputs, outputs, tensors)
        single = helper.make_model(graph, opset_imports=model.opset_import, ir_version=model.ir_version)
        data = single.SerializeToString()
        key = hashlib.sha1(data + b"".join(f"{k}{v.shape}{v.dtype}".encode()
                                          for k, v in feeds.items())).hexdigest()
        if key not in known:
            known[key] = _time_alone(data, feeds, ort)
            _save_cache(cache, known)
        if known[key] is None:
            failed += 1
        else:
            total += known[key]
    return total, failed


def _all_values(path: Path, model) -> dict[str, np.ndarray]:
    """Every intermediate tensor of one run of ``path`` (random input), by name."""
    import onnx
    import onnxruntime as ort

    from latency_kit.backends.base import ModelSpec
    from latency_kit.backends.onnxruntime import file_feeds

    wide = onnx.ModelProto()
    wide.CopyFrom(model)
    existing = {o.name for o in wide.graph.output}
    for node in wide.graph.node:
        for out in node.output:
            if out and out not in existing:
                wide.graph.output.append(onnx.ValueInfoProto(name=out))
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.log_severity_level = 3
    session = ort.InferenceSession(wide.SerializeToString(), options, providers=["CPUExecutionProvider"])
    feeds = file_feeds(session, ModelSpec.for_file(str(path)))
    names = [o.name for o in session.get_outputs()]
    values = dict(zip(names, session.run(names, feeds)))
    values.update(feeds)
    return values


def _time_alone(data: bytes, feeds: dict[str, np.ndarray], ort) -> float | None:
    """Median ms of one node alone (ORT_ENABLE_ALL, 1 thread), or None if it cannot run."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 4
    try:
        session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
        for _ in range(3):
            session.run(None, feeds)
        start = time.perf_counter()
        session.run(None, feeds)
        once = time.perf_counter() - start
        iterations = max(1, int(0.002 / max(once, 1e-7)))
        batches = []
        for _ in range(7):
            start = time.perf_counter()
            for _ in range(iterations):
                session.run(None, feeds)
            batches.append((time.perf_counter() - start) * 1e3 / iterations)
        return float(np.median(batches))
    except Exception:  # noqa: BLE001 - a node that cannot stand alone is counted, not fatal
        return None


def _load_cache(cache: Path) -> dict[str, float | None]:
    file = cache / "times.json"
    return json.loads(file.read_text()) if file.exists() else {}


def _save_cache(cache: Path, known: dict[str, float | None]) -> None:
    (cache / "times.json").write_text(json.dumps(known))


# -- truth in fresh processes -------------------------------------------------

def _truth(paths: list[Path], processes: int, rounds: int, work: Path):
    from latency_kit.stats import LatencyStats

    per_process = []
    for p in range(processes):
        with tempfile.TemporaryDirectory() as tmp:
            request = Path(tmp) / "request.json"
            out = Path(tmp) / "out.json"
            request.write_text(json.dumps({"paths": [str(x) for x in paths], "rounds": rounds}))
            started = time.perf_counter()
            subprocess.run([sys.executable, __file__, "--child", str(request), str(out)], check=True)
            stats = json.loads(out.read_text())
            print(f"truth process {p + 1}/{processes}: {time.perf_counter() - started:.0f} s, "
                  f"load {os.getloadavg()[0]:.2f}", flush=True)
        per_process.append([LatencyStats.from_dict(s) for s in stats])
    return per_process


def _child(request_path: str, out_path: str) -> None:
    from latency_kit.backends import open_backend
    from latency_kit.backends.base import MeasureSettings, ModelSpec
    from latency_kit.measure.engine import measure_interleaved

    request = json.loads(Path(request_path).read_text())
    specs = [ModelSpec.for_file(p) for p in request["paths"]]
    with open_backend("cpu", threads=1) as backend:
        stats = measure_interleaved(backend, specs, request["rounds"], MeasureSettings(**CHILD_SETTINGS))
    Path(out_path).write_text(json.dumps([s.to_dict() for s in stats]))


# -- the independent timing loop ----------------------------------------------

def _independent_check(paths: list[Path]) -> list[dict[str, Any]]:
    """``measure_model`` against a plain ``InferenceSession.run`` loop, alternated 3 times."""
    import onnxruntime as ort

    import latency_kit
    from latency_kit.backends.base import MeasureSettings, ModelSpec
    from latency_kit.backends.onnxruntime import file_feeds

    print("\nlatkit measure --model against an independent onnxruntime loop (ms, median of 3 alternations)")
    print(f"{'model':18s} {'latkit':>9s} {'ort loop':>9s} {'diff':>7s}")
    out = []
    for path in paths:
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        feeds = file_feeds(session, ModelSpec.for_file(str(path)))
        ours, theirs = [], []
        for _ in range(3):
            ours.append(latency_kit.measure_model(path, settings=MeasureSettings(**CHILD_SETTINGS))
                        .stats.median_ms)
            for _ in range(3):
                session.run(None, feeds)
            times = []
            deadline = time.perf_counter() + max(1.0, 12 * ours[-1] / 1e3)
            while time.perf_counter() < deadline or len(times) < 10:
                start = time.perf_counter()
                session.run(None, feeds)
                times.append((time.perf_counter() - start) * 1e3)
            theirs.append(float(np.median(times)))
        a, b = float(np.median(ours)), float(np.median(theirs))
        name = path.stem.rsplit("-", 1)[0]
        print(f"{name:18s} {a:9.2f} {b:9.2f} {100 * (a / b - 1):+6.1f}%")
        out.append({"name": name, "latkit_ms": a, "ort_loop_ms": b})
    return out


# -- printing -----------------------------------------------------------------

def _print(rows: list[dict[str, Any]], noise) -> None:
    from latency_kit.measure.validation import metrics

    methods = [("latkit", "latkit_ms"), ("single-op sum", "single_op_ms"), ("FLOPs-linear", "flops_linear_ms")]
    print(f"\n{'model':18s} {'family':13s} {'truth':>8s} " + " ".join(f"{m:>14s}" for m, _ in methods)
          + f" {'looked up':>10s}")
    for row in rows:
        cells = " ".join(f"{row[k]:7.2f} {100 * (row[k] / row['truth_ms'] - 1):+5.0f}%" for _, k in methods)
        mark = "*" if row["unseen_family"] else " "
        print(f"{row['name']:18s} {row['family'] + mark:13s} {row['truth_ms']:8.2f} {cells} "
              f"{row['looked_up']:4d}/{row['nodes']:<4d}")
    print("(* a family absent from the training networks; errors against the truth)")
    groups = [("all", rows), ("unseen families", [r for r in rows if r["unseen_family"]]),
              ("seen families", [r for r in rows if not r["unseen_family"]]),
              ("transformers", [r for r in rows if r["transformer"]])]
    print(f"\n{'set':16s} {'n':>3s} {'method':14s} {'±5%':>6s} {'±10%':>6s} {'tau':>6s}")
    for label, subset in groups:
        truth = [r["truth_ms"] for r in subset]
        for method, key in methods:
            m = metrics(truth, [r[key] for r in subset])
            print(f"{label:16s} {len(subset):3d} {method:14s} {m['within_5pct']:6.0%} "
                  f"{m['within_10pct']:6.0%} {m['kendall_tau']:6.3f}")
        if noise is not None:
            index = [rows.index(r) for r in subset]
            m = metrics([noise[0][i] for i in index], [noise[1][i] for i in index])
            print(f"{label:16s} {len(subset):3d} {'noise floor':14s} {m['within_5pct']:6.0%} "
                  f"{m['within_10pct']:6.0%} {m['kendall_tau']:6.3f}  (two independent truths)")


if __name__ == "__main__":
    main()
