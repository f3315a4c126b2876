"""Bridges to other tools' APIs (Optuna)."""
