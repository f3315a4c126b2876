"""Accuracy and cost sources: where the generator's two objectives come from.

Both are small base classes resolved from a spec string on the CLI:

* accuracy: ``table:PATH``, ``ofa-predictor:PATH``, ``proxy[:NAME]``, or the
  name of a callable registered under the ``latkit.accuracy`` entry point;
* cost: a device profile (``--device NAME``), ``table:PATH`` (ms) or ``madds``.

A source scores a batch of architectures of one space. Higher accuracy is
better; cost is in the source's ``unit`` (``"ms"`` or ``"madds"``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar, Sequence

import numpy as np

from latency_kit.spaces import SearchSpace


class AccuracySource(ABC):
    """Scores architectures; higher is better.

    ``label`` is what the score is called in output: ``"accuracy"`` for real or
    predicted accuracy, ``"proxy_score"`` for training-free proxies, which must
    never be presented as accuracy.
    """

    label: ClassVar[str] = "accuracy"

    def __init__(self, space: SearchSpace):
        self.space = space

    @abstractmethod
    def score_many(self, archs: Sequence[Any]) -> np.ndarray:
        """One score per architecture."""

    def score(self, arch: Any) -> float:
        return float(self.score_many([arch])[0])

    def identity(self) -> str:
        """A stable string that changes when the scores would (for caching)."""
        return type(self).__name__


class CostSource(ABC):
    """Cost of architectures in ``unit`` (``"ms"`` or ``"madds"``); lower is better."""

    unit: ClassVar[str] = "ms"

    def __init__(self, space: SearchSpace):
        self.space = space

    @abstractmethod
    def cost_many(self, archs: Sequence[Any]) -> np.ndarray:
        """One cost per architecture."""

    def cost(self, arch: Any) -> float:
        return float(self.cost_many([arch])[0])

    def identity(self) -> str:
        """A stable string that changes when the costs would (for caching)."""
        return type(self).__name__
