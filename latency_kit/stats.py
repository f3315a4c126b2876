"""Robust summary statistics for repeated latency measurements."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any, Sequence

import numpy as np


@dataclass(frozen=True)
class LatencyStats:
    """Summary of repeated timings of one model, all in milliseconds.

    ``median_ms`` is the value used everywhere; the percentiles, IQR and CV
    (std / mean of the batch times) describe its spread, ``count`` is the
    number of timed batches and ``iterations`` the runs in each batch. The
    spread fields are ``None`` only for entries imported from tools that do
    not record them (we never invent numbers for them). ``run`` is what the
    backend says actually ran for this entry (``Prepared.info["entry"]``: a
    phone's delegate and how much of the graph it took, the compute
    precision, peak memory; a GPU's launch mode), ``None`` where it said
    nothing and in files written before it existed.
    """

    median_ms: float
    count: int
    mean_ms: float | None = None
    p10_ms: float | None = None
    p90_ms: float | None = None
    iqr_ms: float | None = None
    cv: float | None = None
    iterations: int = 1
    flagged: bool = False
    run: dict[str, Any] | None = None

    @classmethod
    def from_samples(cls, samples_ms: Sequence[float], iterations: int = 1) -> "LatencyStats":
        """Summarise per-batch mean times (ms per inference)."""
        arr = np.asarray(samples_ms, dtype=float)
        if arr.size == 0:
            raise ValueError("no samples to summarise")
        if not np.all(np.isfinite(arr)) or np.any(arr < 0):
            raise ValueError(f"invalid latency samples: {arr.tolist()}")
        q10, q25, q50, q75, q90 = np.percentile(arr, [10, 25, 50, 75, 90])
        mean = float(arr.mean())
        cv = float(arr.std(ddof=1) / mean) if arr.size > 1 and mean > 0 else 0.0
        return cls(
            median_ms=float(q50),
            mean_ms=mean,
            p10_ms=float(q10),
            p90_ms=float(q90),
            iqr_ms=float(q75 - q25),
            cv=cv,
            count=int(arr.size),
            iterations=int(iterations),
        )

    @property
    def rel_iqr(self) -> float:
        """IQR relative to the median: the spread measure used for flagging."""
        if self.iqr_ms is None or self.median_ms <= 0:
            return 0.0
        return self.iqr_ms / self.median_ms

    def flag(self) -> "LatencyStats":
        """A copy marked as too noisy to trust."""
        return replace(self, flagged=True)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if data["run"] is None:  # files stay as they were for backends that record nothing
            del data["run"]
        return data

    def with_run(self, run: dict[str, Any] | None) -> "LatencyStats":
        """A copy that records ``run`` (what actually ran); unchanged when ``run`` is empty."""
        return replace(self, run=dict(run)) if run else self

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "LatencyStats":
        """Inverse of :meth:`to_dict`; only ``median_ms`` and ``count`` are required.

        Raises ``KeyError``/``TypeError``/``ValueError`` for malformed data, which
        the table loader turns into one ``CorruptFileError``.
        """
        if not isinstance(data, dict):
            raise TypeError(f"latency entry must be an object, got {type(data).__name__}")
        missing = [name for name in ("median_ms", "count") if name not in data]
        if missing:
            raise KeyError(f"latency entry lacks {missing}")
        values: dict[str, Any] = {}
        for name in cls.__dataclass_fields__:
            if name not in data:
                continue
            value = data[name]
            if name == "flagged":
                values[name] = bool(value)
            elif name == "run":
                if value is not None and not isinstance(value, dict):
                    raise TypeError(f"run must be an object, got {value!r}")
                values[name] = value
            elif name in ("count", "iterations"):
                values[name] = _number(name, value, int)
            elif value is None and name != "median_ms":
                values[name] = None
            else:
                values[name] = _number(name, value, float)
        if values["median_ms"] < 0 or values["count"] < 1:
            raise ValueError(f"latency entry has median_ms {values['median_ms']} and "
                             f"count {values['count']}; need median >= 0 and count >= 1")
        return cls(**values)


def _number(name: str, value: Any, kind: type) -> Any:
    """``value`` as a finite ``kind``; rejects strings, booleans and NaN."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return kind(value)
