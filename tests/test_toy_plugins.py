"""A new space and a new backend are one file each (tests/toy/): they register
themselves and pass the shipped suites of :mod:`latency_kit.testing`.

In this process they register with the registries' class decorators when
their module is imported; in a fresh process, through the entry points of an
installed distribution (here a ``.dist-info`` on ``sys.path``), with no import
of theirs named anywhere.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from latency_kit.backends import BACKENDS, backend_class, device_names, open_backend
from latency_kit.spaces import SPACES, get_space, space_names, takes_resolution
from latency_kit.testing.backends import BackendSuite
from latency_kit.testing.spaces import SpaceSuite

REPO = Path(__file__).resolve().parents[1]
TOYS = {"tests.toy.space": (SPACES, "toy-chain"), "tests.toy.backend": (BACKENDS, "toy-eager")}


@pytest.fixture
def toys():
    """Import the toy modules afresh (so their decorators run) and forget them after."""
    for module in TOYS:
        sys.modules.pop(module, None)
    yield [importlib.import_module(module) for module in TOYS]
    for module, (registry, name) in TOYS.items():
        registry.unregister(name)
        sys.modules.pop(module, None)


class TestToySpace(SpaceSuite):
    @pytest.fixture
    def space(self, toys):
        return get_space("toy-chain")


class TestToyBackend(BackendSuite):
    @pytest.fixture
    def backend(self, toys):
        with open_backend("toy-eager", threads=4) as backend:
            yield backend


def test_decorators_register_on_import(toys) -> None:
    space_module, backend_module = toys
    assert "toy-chain" in space_names() and not takes_resolution("toy-chain")
    assert isinstance(get_space("toy-chain"), space_module.ToyChain)
    assert "toy-eager" in device_names()
    assert backend_class("toy-eager") is backend_module.ToyEagerBackend


def test_unregistered_after(toys) -> None:
    SPACES.unregister("toy-chain")
    with pytest.raises(KeyError, match="unknown space 'toy-chain'"):
        get_space("toy-chain")


def test_entry_points_register_in_a_fresh_process(tmp_path) -> None:
    info = tmp_path / "latkit_toys-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: latkit-toys\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        "[latkit.spaces]\ntoy-chain = tests.toy.space:ToyChain\n\n"
        "[latkit.backends]\ntoy-eager = tests.toy.backend:ToyEagerBackend\n")
    code = ("import sys\n"
            "from latency_kit.spaces import get_space, space_names\n"
            "from latency_kit.backends import backend_class, device_names\n"
            "assert 'tests.toy.space' not in sys.modules  # listed, not imported\n"
            "assert 'toy-chain' in space_names() and 'toy-eager' in device_names()\n"
            "space = get_space('toy-chain')\n"
            "print(type(space).__module__, space.format(space.sample(0)), "
            "backend_class('toy-eager').runtime)\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO)])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    module, arch, runtime = out.stdout.split()
    assert module == "tests.toy.space" and runtime == "torch-eager"
    assert get_space("ofa-mbv3") is not None  # the built-ins are still there


def test_registries_are_lazy() -> None:
    code = ("import sys, latency_kit, latency_kit.spaces, latency_kit.backends\n"
            "from latency_kit.backends import device_names\n"
            "from latency_kit.spaces import space_names\n"
            "names = device_names(), space_names()\n"
            "loaded = [m for m in ('torch', 'latency_kit.spaces.ofa_mbv3', 'latency_kit.backends.gpu',"
            " 'latency_kit.backends.android') if m in sys.modules]\n"
            "print(' '.join(loaded) or 'none')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["none"]
