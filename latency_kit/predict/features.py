"""Features of architectures for the latency predictor.

Every block key of a profile gets one row of per-block values, computed once:
its LUT median, the same split by block group (stem, stages, head) and by
depthwise kernel size, MACs, parameters, activation elements written, and a
count of one. An architecture's features are the sum of its blocks' rows
plus arch-level columns (its resolution and the LUT sum scaled by it, so one
model can learn per-resolution corrections). Summing cached rows keeps 1,000
architectures well under a second.

Which features a profile's predictor uses is a :class:`Recipe`, chosen by
the runtime that measured the profile (:func:`recipe_for`): measured
held-out accuracy picked a different set for ONNX Runtime on a CPU than for
torch on a GPU (``benchmarks/results_predictor.md``).

This module imports no scikit-learn (whose import alone takes about 1.7 s of
CPU here, in scipy.stats), nor does the predictor's fit
(:mod:`latency_kit.predict.ridge`), so loading a profile and refitting its
predictor stays well under a second.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from latency_kit.errors import MissingEntryError
from latency_kit.lut import LatencyTable
from latency_kit.spaces import SearchSpace
from latency_kit.spaces.base import BlockGrouping

# Block columns (summed over an architecture's blocks); "lut:<group>" columns
# are added per block group of the space (SearchSpace.block_groupings), and the
# per-block costs come from SearchSpace.block_costs.
BLOCK_COLUMNS = ("lut", "macs", "params", "act", "blocks")
# Columns computed per architecture from the summed ones.
ARCH_COLUMNS = ("resolution", "lut_x_res")
# Per-group LUT sums of ofa-mbv3 (a candidate feature set in the cross-validation).
GROUP_FEATURES = ("lut:stem", "lut:s1", "lut:s2", "lut:s3", "lut:s4", "lut:s5", "lut:head")
# Per-kernel LUT sums of ofa-mbv3: the MBConv blocks by depthwise kernel size, and the rest.
KERNEL_FEATURES = ("lut:k3", "lut:k5", "lut:k7", "lut:k-none")
# The default features, chosen by cross-validation on 80 real calibration
# networks (benchmarks/results_predictor.md): LUT sum plus MACs, parameters,
# activation memory and block count beat the per-group sums (90.4% vs 84.2%
# within ±5%); lut_x_res lets one profile correct per resolution.
DEFAULT_FEATURES = ("lut", "macs", "params", "act", "blocks", "lut_x_res")
# For spaces without block groupings (SearchSpace.block_groupings).
GENERIC_FEATURES = ("lut", "lut_x_res")
DEFAULT_ALPHA = 1e-3
# The ridge penalty of a recipe's ``penalised`` columns (standardised units):
# they may correct the LUT sum, but only as far as the calibration networks
# clearly ask for.
PENALTY = 3.0
REFERENCE_RESOLUTION = 224.0


@dataclass(frozen=True)
class Recipe:
    """The predictor's feature columns; ``penalised`` ones get the ridge penalty ``PENALTY``."""

    features: tuple[str, ...]
    penalised: tuple[str, ...] = ()

    def alphas(self, alpha: float = DEFAULT_ALPHA, penalty: float = PENALTY) -> np.ndarray:
        """Per-column ridge penalties, in the order of :attr:`features`."""
        return np.array([penalty if f in self.penalised else alpha for f in self.features])


DEFAULT_RECIPE = Recipe(DEFAULT_FEATURES)
GENERIC_RECIPE = Recipe(GENERIC_FEATURES)
# ONNX Runtime on a CPU: LUT sum and MACs, plus penalised per-kernel LUT sums.
# Blocks of one kernel size run at another speed inside the network than
# alone. On held-out networks this ranked better than DEFAULT_FEATURES in
# all four sets measured (224 px twice, 160 px, 2 threads; Kendall tau
# 0.972 / 0.963 / 0.959 / 0.917 against 0.917 / 0.913 / 0.936 / 0.903 with
# 30 calibration networks and 12-process truths), while on the H100
# (torch) cross-validation kept the default (2.6% vs 3.6% error).
# benchmarks/results_predictor.md has the figures and how it was chosen.
KERNEL_RECIPE = Recipe(("lut", "macs", "lut_x_res", *KERNEL_FEATURES), KERNEL_FEATURES)
RUNTIME_RECIPES = {"onnxruntime": KERNEL_RECIPE}


def recipe_for(space: SearchSpace, runtime: str | None = None) -> Recipe:
    """The predictor recipe for a profile of ``space`` measured by ``runtime``.

    A space that groups its blocks (:meth:`SearchSpace.block_groupings`) gets
    the runtime's recipe where the space has every column it names, else
    :data:`DEFAULT_RECIPE`; a space without groupings gets :data:`GENERIC_RECIPE`.
    """
    groupings = space.block_groupings()
    if not groupings:
        return GENERIC_RECIPE
    recipe = RUNTIME_RECIPES.get(runtime or "", DEFAULT_RECIPE)
    columns = set(feature_names(groupings))
    return recipe if set(recipe.features) <= columns else DEFAULT_RECIPE


def feature_names(groupings: Sequence[BlockGrouping]) -> tuple[str, ...]:
    """Every feature column of a space with these block groupings, in order."""
    groups = (f"lut:{g}" for grouping in groupings for g in grouping.groups)
    return (*BLOCK_COLUMNS, *groups, *ARCH_COLUMNS)


class FeatureTable:
    """Per-block feature rows of one profile, cached; sums them per architecture.

    ``runtime`` (the profile's ``backend``) picks :attr:`recipe`, the
    predictor's features.
    """

    def __init__(self, space: SearchSpace, lut: LatencyTable, profile_name: str = "",
                 runtime: str | None = None):
        self.space = space
        self.lut = lut
        self.profile_name = profile_name or lut.name or "(unnamed)"
        self._groupings = space.block_groupings()
        self.groups: tuple[str, ...] = tuple(g for grouping in self._groupings for g in grouping.groups)
        self.recipe = recipe_for(space, runtime)
        self._index: dict[str, int] = {}
        self._rows: list[np.ndarray] = []
        self._matrix: np.ndarray | None = None

    @property
    def names(self) -> tuple[str, ...]:
        """Every feature column this table can produce, in order."""
        return feature_names(self._groupings)

    def _row(self, key: str) -> int:
        index = self._index.get(key)
        if index is not None:
            return index
        if key not in self.lut:
            raise MissingEntryError(key, self.profile_name)
        ms = self.lut.query(key)
        macs, params, act = self.space.block_costs(key)
        row = np.zeros(len(BLOCK_COLUMNS) + len(self.groups))
        row[:len(BLOCK_COLUMNS)] = (ms, macs / 1e6, params / 1e6, act / 1e6, 1.0)
        offset = len(BLOCK_COLUMNS)
        for grouping in self._groupings:
            row[offset + grouping.groups.index(grouping.group_of(key))] = ms
            offset += len(grouping.groups)
        self._index[key] = len(self._rows)
        self._rows.append(row)
        self._matrix = None
        return self._index[key]

    def resolution(self, arch: Any) -> float:
        return float(self.space.input_shape(arch)[-1])

    def transform(self, archs: Sequence[Any], names: Sequence[str] | None = None) -> np.ndarray:
        """Feature matrix (one row per architecture) with the columns ``names``."""
        block_ids = [[self._row(b.key) for b in self.space.blocks(a)] for a in archs]
        if self._matrix is None:
            self._matrix = np.vstack(self._rows) if self._rows else np.zeros((0, len(self.names)))
        counts = np.array([len(ids) for ids in block_ids])
        flat = np.fromiter((i for ids in block_ids for i in ids), dtype=np.intp, count=counts.sum())
        starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
        summed = (np.add.reduceat(self._matrix[flat], starts, axis=0) if len(archs)
                  else np.zeros((0, self._matrix.shape[1])))
        res = np.array([self.resolution(a) for a in archs], dtype=float)
        lut_x_res = summed[:, 0] * res / REFERENCE_RESOLUTION
        full = np.column_stack([summed, res, lut_x_res]) if len(archs) else np.zeros((0, len(self.names)))
        if names is None:
            return full
        columns = {name: i for i, name in enumerate(self.names)}
        missing = [n for n in names if n not in columns]
        if missing:
            raise ValueError(f"unknown feature(s) {missing}; known: {list(self.names)}")
        return full[:, [columns[n] for n in names]]

    def lut_sum(self, archs: Sequence[Any]) -> np.ndarray:
        return self.transform(archs, ("lut",))[:, 0]
