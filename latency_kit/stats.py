"""Robust summary statistics for repeated latency measurements."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Sequence

import numpy as np


@dataclass(frozen=True)
class LatencyStats:
    """Summary of repeated timings of one model, all in milliseconds.

    ``median_ms`` is the value used everywhere; the percentiles, IQR and CV
    (IQR-free: std / mean of the batch times) describe its spread, ``count`` is
    the number of timed batches and ``iterations`` the runs in each batch.
    """

    median_ms: float
    mean_ms: float
    p10_ms: float
    p90_ms: float
    iqr_ms: float
    cv: float
    count: int
    iterations: int = 1
    flagged: bool = False

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
        return self.iqr_ms / self.median_ms if self.median_ms > 0 else 0.0

    def flag(self) -> "LatencyStats":
        """A copy marked as too noisy to trust."""
        return LatencyStats(**{**asdict(self), "flagged": True})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "LatencyStats":
        fields = cls.__dataclass_fields__
        missing = [name for name in ("median_ms", "count") if name not in data]
        if missing:
            raise KeyError(f"latency entry lacks {missing}")
        return cls(**{k: v for k, v in data.items() if k in fields})
