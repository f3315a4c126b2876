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


# -- CI: a skip for a missing [test] extra is a failure ------------------------------
# CI installs latkit[test]; a test that skips there because one of that extra's
# packages is missing (or fails to import) hides a broken install. .ci/run sets
# LATKIT_STRICT_EXTRAS=1, and such a skip is reported as a failure instead.
STRICT_EXTRAS = "LATKIT_STRICT_EXTRAS"


def extra_packages(extra: str = "test") -> list[str]:
    """Distribution names of latkit's ``extra``, from the installed metadata (dashes)."""
    import re
    from importlib.metadata import PackageNotFoundError, requires

    try:
        specs = requires("latkit") or []
    except PackageNotFoundError:
        return []
    names = []
    for spec in specs:
        if re.search(rf"""extra\s*==\s*["']{extra}["']""", spec):
            names.append(re.split(r"[\s\[<>=!~;(]", spec, maxsplit=1)[0].lower().replace("_", "-"))
    return names


def missing_extra_named(reason: str, packages: list[str]) -> str | None:
    """The package of ``packages`` that a skip ``reason`` names, or ``None``."""
    import re

    words = set(re.findall(r"[a-z0-9][a-z0-9_\-]*", reason.lower().replace("_", "-")))
    return next((p for p in packages if p in words), None)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if not (report.skipped and os.environ.get(STRICT_EXTRAS) == "1"):
        return
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
    package = missing_extra_named(reason, extra_packages())
    if package is not None:
        report.outcome = "failed"
        report.longrepr = (f"skipped for {package}, a package of latkit[test], which CI installs: "
                           f"the install is broken ({reason})")
