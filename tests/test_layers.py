"""The import contracts in pyproject.toml hold (import-linter's ``lint-imports``).

Layers run cli -> api -> measure/formats -> profiles -> predict/backends ->
convert -> spaces/lut -> base modules; nas runs cli -> api -> front/
multidevice/store -> pnag -> its parts -> sources; and ``latency_kit`` never
imports ``nas``. A change that imports upwards fails here, naming the import.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_import_contracts_are_kept() -> None:
    pytest.importorskip("importlinter", reason="import-linter is not installed "
                        "(pip install 'latkit[test]')")
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or "lint-imports"
    run = subprocess.run([exe], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "Contracts: 3 kept, 0 broken." in run.stdout
