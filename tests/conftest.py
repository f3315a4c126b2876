"""Shared fixtures: an isolated LATKIT_HOME per test and the reference data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
REFDATA = Path(os.environ.get("LATKIT_REFDATA", REPO.parent / "shared" / "refdata"))


@pytest.fixture(autouse=True)
def latkit_home(tmp_path_factory, monkeypatch) -> Path:
    """Every test gets its own LATKIT_HOME so nothing touches the user's profiles."""
    home = tmp_path_factory.mktemp("latkit_home")
    monkeypatch.setenv("LATKIT_HOME", str(home))
    return home


@pytest.fixture(scope="session")
def onnx_cache(tmp_path_factory) -> Path:
    """One ONNX export cache for the session, so each block is exported once."""
    return tmp_path_factory.mktemp("onnx_cache")


@pytest.fixture(scope="session")
def refdata() -> Path:
    """The shared reference data; tests that need it skip cleanly without it."""
    if not REFDATA.is_dir():
        pytest.skip(f"reference data not found at {REFDATA} (set LATKIT_REFDATA)")
    return REFDATA
