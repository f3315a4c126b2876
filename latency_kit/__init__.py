"""latency_kit: real latency measurement, lookup tables and latency predictors.

Public API (imported lazily, so ``import latency_kit`` is cheap)::

    from latency_kit import load_profile, LatencyTable, get_space
    profile = load_profile("cpu")
    ms = profile.predict(profile.space.sample(0))
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "load_profile": "latency_kit.profiles.profile",
    "Profile": "latency_kit.profiles.profile",
    "LatencyTable": "latency_kit.lut",
    "LatencyStats": "latency_kit.stats",
    "get_space": "latency_kit.spaces",
    "SearchSpace": "latency_kit.spaces",
    "open_backend": "latency_kit.backends",
    "Backend": "latency_kit.backends",
    "MeasureSettings": "latency_kit.measure.engine",
    "measure_model": "latency_kit.measure.model",
    "predict_model": "latency_kit.profiles.optables",
    "OpTable": "latency_kit.optable",
    "build_profile": "latency_kit.api",
    "parse_budget": "latency_kit.units",
    "LatkitError": "latency_kit.errors",
    "import_tables": "latency_kit.formats",
    "export_profile": "latency_kit.formats",
    "TableProfile": "latency_kit.profiles.table",
    "LatencyObjective": "latency_kit.integrations.optuna",
    "LatencyPredictor": "latency_kit.predict.predictor",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'latency_kit' has no attribute {name!r}")
