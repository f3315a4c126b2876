"""Latency prediction from LUT features (:mod:`.features`, :mod:`.predictor`) and
few-shot transfer between devices (:mod:`.transfer`)."""
