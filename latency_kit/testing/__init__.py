"""Shared test suites for extension points, shipped so a third-party backend or
space can be checked the way latkit's own are (as ``optuna.testing`` does):
:class:`latency_kit.testing.backends.BackendSuite`, :mod:`latency_kit.testing.spaces`."""
