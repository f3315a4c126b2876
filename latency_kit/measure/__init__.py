"""Measuring: the timing engine, fresh processes, block tables, calibration
networks, Ray farms, validation and re-anchoring. Uses backends; writes profiles."""
