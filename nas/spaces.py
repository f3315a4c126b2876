"""Search spaces for NAS: re-exported from ``latency_kit.spaces``.

Spaces live in ``latency_kit`` because profiling needs them too; ``nas``
depends on ``latency_kit`` and never the reverse.
"""

from latency_kit.spaces import SPACES, Block, Decision, SearchSpace, get_space, space_names

__all__ = ["Block", "Decision", "SearchSpace", "SPACES", "get_space", "space_names"]
