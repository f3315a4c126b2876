"""CI turns a skip for a missing ``[test]`` extra into a failure (tests/conftest.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from latency_kit.errors import MissingExtraError

from tests.conftest import STRICT_EXTRAS, extra_packages, missing_extra_named

CASES = '''
import pytest

def test_litert_missing():
    pytest.importorskip("ai_edge_litert_not_here")  # another module, not ai-edge-litert

def test_optuna_missing():
    pytest.skip("optuna is not installed; install it with: pip install 'latkit[search]'")

def test_phone_absent():
    pytest.skip("no phone attached (adb devices lists none)")
'''


def test_the_test_extra_is_read_from_the_installed_metadata() -> None:
    packages = extra_packages("test")
    assert {"ai-edge-litert", "litert-torch", "adbutils", "ray", "optuna"} <= set(packages)
    assert "tensorrt" not in packages  # the gpu extra is not installed by CI


def test_skip_reasons_that_name_a_test_extra_package() -> None:
    packages = extra_packages("test")
    assert missing_extra_named(str(MissingExtraError("litert-torch", "mobile")), packages) \
        == "litert-torch"
    assert missing_extra_named("could not import 'ai_edge_litert': No module named "
                               "'ai_edge_litert'", packages) == "ai-edge-litert"
    assert missing_extra_named("no phone attached", packages) is None
    assert missing_extra_named("tensorrt is not installed; pip install 'latkit[gpu]'",
                               packages) is None
    assert missing_extra_named("needs an array of GPUs", packages) is None  # not "ray"


def test_strict_ci_fails_such_a_skip_and_keeps_the_others(tmp_path: Path) -> None:
    shutil.copy(Path(__file__).with_name("conftest.py"), tmp_path / "conftest.py")
    (tmp_path / "test_cases.py").write_text(CASES)
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          str(tmp_path)], capture_output=True, text=True, cwd=tmp_path,
                         env={**os.environ, STRICT_EXTRAS: "1", "COLUMNS": "250"}, timeout=120)
    assert "1 failed, 2 skipped" in run.stdout, run.stdout
    assert "test_optuna_missing - skipped for optuna, a package of latkit[test]" in run.stdout
