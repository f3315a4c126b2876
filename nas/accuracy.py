"""The accuracy sources under their old name (the README imports ``resolve_accuracy`` from here).

They live in :mod:`nas.sources.accuracy`.
"""

from nas.sources.accuracy import (DEFAULT_ACCURACY, ENTRY_POINT_GROUP, CallableAccuracy,
                                  OFAPredictorAccuracy, ProxyAccuracy, TableAccuracy,
                                  accuracy_entry_points, accuracy_forms, ofa_predictor_features,
                                  resolve_accuracy)

__all__ = ["DEFAULT_ACCURACY", "ENTRY_POINT_GROUP", "CallableAccuracy", "OFAPredictorAccuracy",
           "ProxyAccuracy", "TableAccuracy", "accuracy_entry_points", "accuracy_forms",
           "ofa_predictor_features", "resolve_accuracy"]
