"""The budget margin of a cost source (:mod:`latency_kit.predict.margin`).

The conformal machinery lives with the predictors in
:mod:`latency_kit.predict.margin`; this module picks a cost source's held-out
errors (:meth:`nas.sources.base.CostSource.held_out_errors`) and re-exports
what the NAS code uses.
"""

from __future__ import annotations

from typing import Any

from latency_kit.predict.margin import (DEFAULT_LEVEL, BudgetMargin, ConformalMargin,
                                        conformal_quantile, fit_margin, margin_of)

__all__ = ["DEFAULT_LEVEL", "BudgetMargin", "ConformalMargin", "conformal_quantile", "cost_margin",
           "fit_margin"]


def cost_margin(cost: Any, level: float = DEFAULT_LEVEL) -> BudgetMargin | None:
    """The budget margin of ``cost`` (a :class:`nas.sources.base.CostSource`) at
    target coverage ``level`` (:func:`latency_kit.predict.margin.margin_of` of
    its held-out errors); ``None`` when its costs are not predictions (a
    measured table, MAdds) or it has too few held-out cases (a profile with
    under 3 calibration networks). Raises ``ValueError`` for a level outside (0, 1).
    """
    return margin_of(cost.held_out_errors(), level)
