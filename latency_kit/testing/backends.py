"""The shared test suite every latency backend must pass, shipped with latkit
(as ``optuna.testing`` is) so a third-party backend is checked the same way.

Subclass :class:`BackendSuite` in a test module and provide the ``backend``
fixture (skip there, with the reason, when the hardware is absent)::

    from latency_kit.testing.backends import BackendSuite

    class TestMyBackend(BackendSuite):
        @pytest.fixture
        def backend(self, model_cache):
            return MyBackend(threads=1, cache=model_cache)

The suite brings its own fixtures: every test runs with a fresh
``LATKIT_HOME`` (``latkit_home``), and ``model_cache`` is one export
directory for the session's suite tests. Set ``registered_as`` to the device name the
backend registers under when it is not ``backend.name`` (a prefix's
``ssh://user@host``, say), and ``measures_hardware = False`` for a stand-in
device whose times are made up (the tests of timing order then skip).

The models are real, tiny ``ofa-mbv3`` blocks, so every backend is exercised
on real convolutions, squeeze-excite and the classifier head.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import pytest

from latency_kit.backends import backend_class
from latency_kit.backends.base import Backend, ModelSpec
from latency_kit.measure.engine import MeasureSettings, measure
from latency_kit.spaces import get_space

SMALL = "expanded_conv-input:7x7x192-output:7x7x192-expand:576-kernel:3-stride:1-idskip:1-se:1-hs:1"
LARGE = "expanded_conv-input:7x7x192-output:7x7x192-expand:1152-kernel:7-stride:1-idskip:1-se:1-hs:1"
HEAD = "Logits-input:1x1x1536-output:1000"
FAST = MeasureSettings(warmup_ms=5, repeats=7, batch_ms=1.0, retries=1)


def block_spec(key: str, batch: int = 1) -> ModelSpec:
    """The spec of the ``ofa-mbv3`` block ``key`` at 224 px and batch size ``batch``."""
    return ModelSpec.for_block(get_space("ofa-mbv3", resolutions=(224,)), key, batch)


class BackendSuite:
    """Contract tests; ``backend`` is a fixture supplied by the subclass."""

    registered_as: ClassVar[str | None] = None  # device name of the registry; None: backend.name
    measures_hardware: ClassVar[bool] = True  # False: a stand-in device, its times made up

    @pytest.fixture
    def backend(self) -> Backend:  # pragma: no cover - overridden
        raise NotImplementedError

    @pytest.fixture(autouse=True)
    def latkit_home(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
        """A fresh LATKIT_HOME per test, so nothing touches the user's profiles or caches."""
        home = tmp_path / "latkit_home"
        home.mkdir()
        monkeypatch.setenv("LATKIT_HOME", str(home))
        return home

    @pytest.fixture
    def model_cache(self, tmp_path_factory: pytest.TempPathFactory) -> Path:
        """One export/conversion cache for the session's suite tests: each block is converted once."""
        path = tmp_path_factory.getbasetemp() / "latkit_model_cache"
        path.mkdir(exist_ok=True)
        return path

    def _timed(self) -> None:
        if not self.measures_hardware:
            pytest.skip("a stand-in device: its times are made up, so their order means nothing")

    def test_identity(self, backend: Backend) -> None:
        assert isinstance(backend.name, str) and backend.name
        assert isinstance(backend.runtime, str) and backend.runtime
        ok, why = type(backend).available()
        assert ok, why

    def test_registered(self, backend: Backend) -> None:
        assert issubclass(type(backend), backend_class(self.registered_as or backend.name))

    def test_fingerprint_names_runtime(self, backend: Backend) -> None:
        fp = backend.fingerprint()
        assert fp["runtime"] == backend.runtime
        assert fp.get("runtime_version")
        for field in ("device", "precision"):
            assert field in fp, f"fingerprint lacks {field}"

    def test_run_batch_positive(self, backend: Backend) -> None:
        prepared = backend.prepare(block_spec(SMALL))
        try:
            times = [backend.run_batch(prepared, 3) for _ in range(3)]
        finally:
            backend.release(prepared)
        assert all(t > 0 for t in times)

    def test_measure_statistics(self, backend: Backend) -> None:
        stats = measure(backend, block_spec(SMALL), FAST)
        assert stats.count >= FAST.repeats
        assert stats.p10_ms <= stats.median_ms <= stats.p90_ms
        assert stats.iqr_ms >= 0 and stats.cv >= 0

    def test_bigger_block_is_slower(self, backend: Backend) -> None:
        """LARGE has about twice SMALL's MAdds. The blocks are timed in turn, three
        rounds, and the best median of each is compared: one round's order can flip on a
        shared 2-core machine (a first-call cost, another job's burst)."""
        self._timed()
        small, large = [], []
        for _ in range(3):
            small.append(measure(backend, block_spec(SMALL), FAST).median_ms)
            large.append(measure(backend, block_spec(LARGE), FAST).median_ms)
        assert min(large) > min(small), f"small {small} ms, large {large} ms"

    def test_head_block_runs(self, backend: Backend) -> None:
        assert measure(backend, block_spec(HEAD), FAST).median_ms > 0

    def test_release_is_idempotent(self, backend: Backend) -> None:
        prepared = backend.prepare(block_spec(HEAD))
        backend.release(prepared)
        backend.release(prepared)
