"""Where per-operator tables live, and predicting a model file from one.

An op table is stored per device and thread count under the profiles
directory: ``$LATKIT_HOME/profiles/op-tables/<device>[-<n>t].json``
(:func:`op_table_path`). It is keyed on the graph ONNX Runtime executes, so a
model is read through ORT before its nodes are looked up.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

from latency_kit.errors import LatkitError
from latency_kit.optable import OP_TABLE_DEVICES, OpTable
from latency_kit.paths import profiles_dir
from latency_kit.predict.opmodel import ModelPrediction, OpPredictor
from latency_kit.profiles.names import default_profile_name

_PREDICTORS: dict[str, tuple[float | None, OpPredictor]] = {}  # table file -> (mtime, predictor)


def op_table_path(device: str, threads: int = 1) -> Path:
    """The file of ``device``'s op table at ``threads`` intra-op threads."""
    return profiles_dir() / "op-tables" / f"{default_profile_name(device, threads)}.json"


def load_op_table(device: str, threads: int = 1) -> OpTable:
    """The stored op table of ``device``; ``LatkitError`` saying how to build one when absent."""
    path = op_table_path(device, threads)
    if not path.is_file():
        if device not in OP_TABLE_DEVICES:
            raise LatkitError(f"no op table for device {device}: only ONNX Runtime (--device "
                              f"{', '.join(OP_TABLE_DEVICES)}) builds op tables so far; measure "
                              f"the model on the device instead: latkit measure --model FILE "
                              f"--device {device}")
        flag = f" --threads {threads}" if threads != 1 else ""
        raise LatkitError(f"no op table for device {device}{f' at {threads} threads' if threads != 1 else ''}; "
                          f"build one with: latkit profile --device {device} --ops{flag}")
    return OpTable.load(path)


def op_predictor(device: str, threads: int = 1) -> OpPredictor:
    """The predictor of ``device``'s stored op table, fitted once per process and table version."""
    path = op_table_path(device, threads)
    if not path.is_file():
        load_op_table(device, threads)  # raises, saying how to build one
    return op_predictor_at(path)


USER_TABLE_ADVICE = ("give the ops.json that `latkit profile --device cpu --ops --out DIR` writes "
                     "(its CSV export holds no device or thread count)")


def op_predictor_at(path: str | Path) -> OpPredictor:
    """The predictor of the op table file ``path`` (``latkit profile --ops --out DIR``
    writes ``DIR/ops.json``), fitted once per process and file version. Raises
    ``LatkitError`` for a missing file and ``CorruptFileError`` for one that is
    not an op table."""
    path = Path(path)
    if not path.is_file():
        raise LatkitError(f"op table {path} does not exist; `latkit profile --device cpu --ops "
                          "--out DIR` writes DIR/ops.json")
    stamp = path.stat().st_mtime
    cached = _PREDICTORS.get(str(path.resolve()))
    if cached is None or cached[0] != stamp:  # read the file only when it is new or changed
        cached = (stamp, OpPredictor(OpTable.load(path, advice=USER_TABLE_ADVICE)))
        _PREDICTORS[str(path.resolve())] = cached
    return cached[1]


def predict_model(path: str | Path, device: str | None = "cpu", threads: int | None = None,
                  shapes: Mapping[str, Sequence[int]] | None = None,
                  batch: int | None = None, table: str | Path | None = None) -> ModelPrediction:
    """Predicted latency (ms) of the ONNX model ``path`` on ``device`` from its op table
    at ``threads`` (default 1), or from the op table file ``table`` (``latkit
    profile --ops --out DIR`` writes ``DIR/ops.json``), run at that table's
    thread count; ``device`` and ``threads`` may then be left out, and must
    match the table where given.

    ORT reads the model (the graph it would execute, one untimed run for the
    shapes); each node is looked up, or estimated where its configuration is
    new; the sum is calibrated on whole networks. Raises ``LatkitError`` for a
    file that is not ``.onnx``, a file ORT cannot load, a dynamic input without
    a shape, a device without an op table, and a ``device`` or ``threads`` that
    contradicts ``table``.
    """
    from latency_kit.backends.base import ModelSpec
    from latency_kit.backends.onnx_graph import executed_graph
    from latency_kit.backends.onnxruntime import OnnxRuntimeBackend

    path = Path(path)
    if path.suffix.lower() != ".onnx":
        raise LatkitError(f"{path}: latkit predicts .onnx models (got {path.suffix or 'no extension'})")
    if not path.is_file():
        raise LatkitError(f"{path}: no such model file")
    if table is not None:
        predictor = op_predictor_at(table)
        built = int(predictor.table.fingerprint.get("threads") or 1)
        if device is not None and device != predictor.table.device:
            raise LatkitError(f"op table {table} is of device {predictor.table.device!r}, not "
                              f"{device!r}; drop --device or give that device's table")
        if threads is not None and threads != built:
            raise LatkitError(f"op table {table} was built at {built} thread(s), not {threads}; "
                              "drop --threads or build a table at that count")
        threads = built
    elif device is None:
        raise LatkitError("--model needs --device NAME (the op table's device, e.g. cpu) or "
                          "--op-table FILE")
    else:
        threads = threads or 1
        predictor = op_predictor(device, threads)
    nodes = executed_graph(OnnxRuntimeBackend(threads), ModelSpec.for_file(str(path), shapes, batch))
    return predictor.predict(nodes)
