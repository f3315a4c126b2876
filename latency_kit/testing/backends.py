"""The shared test suite every latency backend must pass.

Subclass :class:`BackendSuite` in a test module and provide the ``backend``
fixture (skip there when the hardware is absent)::

    class TestOnnxRuntime(BackendSuite):
        @pytest.fixture
        def backend(self, onnx_cache):
            return OnnxRuntimeBackend(threads=1, cache=onnx_cache)

The models are real, tiny ``ofa-mbv3`` blocks, so every backend is exercised
on real convolutions, squeeze-excite and the classifier head.
"""

from __future__ import annotations

import pytest

from latency_kit.backends.base import Backend, ModelSpec
from latency_kit.measure.engine import MeasureSettings, measure
from latency_kit.spaces import get_space

SMALL = "expanded_conv-input:7x7x192-output:7x7x192-expand:576-kernel:3-stride:1-idskip:1-se:1-hs:1"
LARGE = "expanded_conv-input:7x7x192-output:7x7x192-expand:1152-kernel:7-stride:1-idskip:1-se:1-hs:1"
HEAD = "Logits-input:1x1x1536-output:1000"
FAST = MeasureSettings(warmup_ms=5, repeats=7, batch_ms=1.0, retries=1)


def block_spec(key: str, batch: int = 1) -> ModelSpec:
    space = get_space("ofa-mbv3", resolutions=(224,))
    shape = space.block_input_shape(key, batch)
    return ModelSpec("ofa-mbv3", "block", key, shape, (("resolutions", (224,)),))


class BackendSuite:
    """Contract tests; ``backend`` is a fixture supplied by the subclass."""

    @pytest.fixture
    def backend(self) -> Backend:  # pragma: no cover - overridden
        raise NotImplementedError

    def test_identity(self, backend: Backend) -> None:
        assert isinstance(backend.name, str) and backend.name
        assert isinstance(backend.runtime, str) and backend.runtime
        ok, why = type(backend).available()
        assert ok, why

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
        small = measure(backend, block_spec(SMALL), FAST).median_ms
        large = measure(backend, block_spec(LARGE), FAST).median_ms
        assert large > small

    def test_head_block_runs(self, backend: Backend) -> None:
        assert measure(backend, block_spec(HEAD), FAST).median_ms > 0

    def test_release_is_idempotent(self, backend: Backend) -> None:
        prepared = backend.prepare(block_spec(HEAD))
        backend.release(prepared)
        backend.release(prepared)
