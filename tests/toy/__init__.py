"""A toy space and a toy backend, each one file that registers itself (see tests/test_toy_plugins.py)."""
