"""The cost sources under their old name (the README imports ``resolve_cost`` from here).

They live in :mod:`nas.sources.costs`.
"""

from nas.sources.costs import (COST_FORMS, MAddsCost, ProfileCost, TableCost, TableProfileCost,
                               resolve_cost)

__all__ = ["COST_FORMS", "MAddsCost", "ProfileCost", "TableCost", "TableProfileCost",
           "resolve_cost"]
