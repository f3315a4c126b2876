"""Latency of an arbitrary model from the per-operator table.

Each node of the executed graph is looked up in the :class:`OpTable`. A node
whose configuration the table has never seen is estimated by a regressor of
its op type, trained on the table (nn-Meter's kernel predictors, Zhang et al.
2021, predict a kernel from its configuration, FLOPs and memory access; here
the regressor is chosen per op type by cross-validation among a ridge fit, a
random forest and gradient boosting, all on log features and log time). Op
types with too few entries share one regressor over all entries that also
sees the op family. The node sum is then calibrated on the whole networks
the table was built from: ``latency = a * node_sum``, ``a`` the median ratio
of their end-to-end times to their node sums.

Nothing here is pickled: the regressors are refit from the table on load
(seeded, so a prediction is reproducible).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any, Sequence

import numpy as np

from latency_kit.errors import LatkitError
from latency_kit.optable import OpNode, OpTable

# An op type needs this many entries for a regressor of its own.
MIN_OWN = 8
_FAMILIES = ("Conv", "MatMul", "Gemm", "Pool", "Norm", "Softmax", "Gelu", "Reorder", "Resize")


def node_features(node: OpNode) -> list[float]:
    """Numbers that describe a node's work: log FLOPs, log bytes moved, log element
    counts of the first input, the weight and the output, kernel area, stride,
    groups, the input count, and the output's shape as (log) leading dimensions,
    rows and columns: many small matrices (windowed attention) cost more than
    one matrix of the same FLOPs."""
    ins = node.input_shapes
    out = node.output_shapes[0] if node.output_shapes else []
    kernel = node.attrs.get("kernel_shape") or []
    strides = node.attrs.get("strides") or []
    group = node.attrs.get("group", 1)
    return [np.log1p(node.flops), np.log1p(node.bytes_moved),
            np.log1p(_numel(ins[0]) if ins else 0), np.log1p(_numel(ins[1]) if len(ins) > 1 else 0),
            np.log1p(_numel(out)), float(np.prod(kernel)) if isinstance(kernel, list) and kernel else 1.0,
            float(np.prod(strides)) if isinstance(strides, list) and strides else 1.0,
            np.log1p(group if isinstance(group, (int, float)) else 1), float(len(ins)),
            float(len(out)), np.log1p(_numel(out[:-2]) if len(out) > 2 else 1),
            np.log1p(out[-2] if len(out) > 1 else 1), np.log1p(out[-1] if out else 1)]


def _numel(shape: Sequence[int]) -> int:
    return int(np.prod([max(int(d), 1) for d in shape])) if shape else 1


def _family(op_type: str) -> list[float]:
    return [1.0 if fam.lower() in op_type.lower() else 0.0 for fam in _FAMILIES]


def _candidates() -> dict[str, Any]:
    from sklearn.ensemble import GradientBoostingRegressor, RandomForestRegressor
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return {"ridge": make_pipeline(StandardScaler(), Ridge(alpha=1.0)),
            "random-forest": RandomForestRegressor(n_estimators=60, random_state=0),
            "gradient-boosting": GradientBoostingRegressor(n_estimators=120, max_depth=3,
                                                           learning_rate=0.1, random_state=0)}


def choose_regressor(X: np.ndarray, y: np.ndarray, name: str | None = None) -> tuple[str, Any, float]:
    """The candidate with the lowest cross-validated (5-fold) mean absolute error
    of log time, refit on all of ``X, y``: ``(name, model, cv error)``. With
    ``name`` (a choice made before on the same data) only that one is fitted
    and the error is NaN."""
    from sklearn.base import clone
    from sklearn.model_selection import KFold, cross_val_score

    candidates = _candidates()
    if name in candidates:
        return name, clone(candidates[name]).fit(X, y), float("nan")
    folds = KFold(n_splits=min(5, len(y)), shuffle=True, random_state=0)
    best = None
    for name, model in candidates.items():
        score = -float(np.mean(cross_val_score(model, X, y, cv=folds,
                                               scoring="neg_mean_absolute_error")))
        if best is None or score < best[2]:
            best = (name, model, score)
    assert best is not None
    name, model, score = best
    return name, clone(model).fit(X, y), score


@dataclass(frozen=True)
class NodeEstimate:
    """One node's predicted time (ms) and where it came from: ``"table"`` (a
    measured entry) or ``"estimated"`` (the regressor named in ``model``)."""

    name: str
    op_type: str
    ms: float
    source: str
    model: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "op_type": self.op_type, "ms": self.ms, "source": self.source,
                **({"model": self.model} if self.model else {})}


@dataclass
class ModelPrediction:
    """A model's predicted latency (``latency_ms``, calibrated), the raw node
    sum (ms) and the per-node estimates."""

    latency_ms: float
    node_sum_ms: float
    nodes: list[NodeEstimate]

    @property
    def looked_up(self) -> int:
        return sum(n.source == "table" for n in self.nodes)

    @property
    def estimated(self) -> int:
        return sum(n.source == "estimated" for n in self.nodes)

    def to_dict(self) -> dict[str, Any]:
        return {"latency_ms": self.latency_ms, "node_sum_ms": self.node_sum_ms,
                "looked_up": self.looked_up, "estimated": self.estimated,
                "ops": [n.to_dict() for n in self.nodes]}


class OpPredictor:
    """Predicts a model's latency (ms) on the table's device from its executed nodes.

    Raises ``LatkitError`` when the table is empty. A table without whole
    networks uses the node sum as it is. The
    regressor chosen per op type by cross-validation is remembered in
    ``table.settings["regressors"]`` (with the entry count it was chosen on)
    by :meth:`remember_choices`; a table loaded with it refits only those.
    """

    def __init__(self, table: OpTable):
        if not table.entries:
            raise LatkitError(f"the op table for {table.device or 'this device'} is empty")
        self.table = table
        remembered = table.settings.get("regressors") or {}
        self._choices = (remembered.get("choices", {})
                         if remembered.get("entries") == len(table.entries) else {})

    def remember_choices(self) -> dict[str, Any]:
        """Store the per-op-type model choice in ``table.settings`` (save the table after)."""
        choices = {op: name for op, (name, _, _) in self.regressors.items()}
        self.table.settings["regressors"] = {"entries": len(self.table.entries), "choices": choices}
        return choices

    @cached_property
    def _by_type(self) -> dict[str, list[OpNode]]:
        groups: dict[str, list[OpNode]] = {}
        for entry in self.table.entries.values():
            groups.setdefault(entry.node().full_type, []).append(entry.node())
        return groups

    @cached_property
    def _targets(self) -> dict[str, float]:
        return {key: float(np.log(max(e.stats.median_ms, 1e-6))) for key, e in self.table.entries.items()}

    @cached_property
    def regressors(self) -> dict[str, tuple[str, Any, float]]:
        """Op type -> (model name, fitted model, CV error of log time) for types with
        at least :data:`MIN_OWN` entries; ``"*"`` is the shared one over all entries."""
        out = {}
        for op_type, nodes in self._by_type.items():
            if len(nodes) >= MIN_OWN:
                X = np.array([node_features(n) for n in nodes])
                y = np.array([self._targets[n.key] for n in nodes])
                out[op_type] = choose_regressor(X, y, self._choices.get(op_type))
        nodes = [n for group in self._by_type.values() for n in group]
        if len(nodes) >= 2:
            X = np.array([node_features(n) + _family(n.full_type) for n in nodes])
            y = np.array([self._targets[n.key] for n in nodes])
            out["*"] = choose_regressor(X, y, self._choices.get("*"))
        return out

    @cached_property
    def scale(self) -> float:
        """``a`` of ``latency = a * node_sum``: the median ratio of end-to-end time to
        node sum over the table's networks (1 without networks). A median, not a
        least-squares fit: on a noisy machine a few networks whose two
        measurements drifted apart pulled a fit with a per-node and a constant
        term to ``a = 0.64`` and every large model 35% low."""
        ratios = [n["latency_ms"] / n["node_sum_ms"] for n in self.table.networks
                  if n["latency_ms"] > 0 and n["node_sum_ms"] > 0]
        return float(np.median(ratios)) if ratios else 1.0

    def estimate(self, node: OpNode) -> NodeEstimate:
        """One node: the table's median if its configuration was measured, else the regressor's."""
        entry = self.table.entries.get(node.key)
        if entry is not None:
            return NodeEstimate(node.name, node.full_type, entry.stats.median_ms, "table")
        own = self.regressors.get(node.full_type)
        if own is not None:
            name, model, _ = own
            x = node_features(node)
        elif "*" in self.regressors:
            name, model, _ = self.regressors["*"]
            x = node_features(node) + _family(node.full_type)
        else:
            only = next(iter(self.table.entries.values()))
            return NodeEstimate(node.name, node.full_type, only.stats.median_ms, "estimated", "only-entry")
        ms = float(np.exp(model.predict(np.array([x]))[0]))
        return NodeEstimate(node.name, node.full_type, ms, "estimated",
                            f"{name} ({'own' if own is not None else 'shared'})")

    def predict(self, nodes: Sequence[OpNode]) -> ModelPrediction:
        """The calibrated latency (ms) of a model whose executed graph is ``nodes``."""
        if not nodes:
            raise LatkitError("the model has no node to predict")
        estimates = [self.estimate(n) for n in nodes]
        node_sum = sum(e.ms for e in estimates)
        return ModelPrediction(self.scale * node_sum, node_sum, estimates)
