"""Where the generator's two objectives come from: accuracy and cost sources.

* :mod:`nas.sources.base` -- the base classes (:class:`AccuracySource`,
  :class:`CostSource`), the "held architectures" protocol of table sources
  (:class:`HeldArchitectures`) and the helpers the concrete sources share;
* :mod:`nas.sources.costs` -- device profiles, ``table:PATH`` and ``madds``;
* :mod:`nas.sources.accuracy` -- tables, OFA's predictor, proxies, entry points;
* :mod:`nas.sources.proxies` -- the training-free proxies.
"""

from nas.sources.base import (AccuracySource, CostSource, HeldArchitectures, held_archs,
                              one_torch_thread)

__all__ = ["AccuracySource", "CostSource", "HeldArchitectures", "held_archs", "one_torch_thread"]
