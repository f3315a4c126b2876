"""ONNX Runtime CPU backend: the shared suite plus its own settings."""

from __future__ import annotations

import pytest

from latency_kit.backends import open_backend
from latency_kit.backends.onnxruntime import OnnxRuntimeBackend

from latency_kit.testing.backends import BackendSuite, HEAD, block_spec


class TestOnnxRuntime(BackendSuite):
    @pytest.fixture
    def backend(self, onnx_cache):
        return OnnxRuntimeBackend(threads=1, cache=onnx_cache)


def test_threads_recorded(onnx_cache) -> None:
    fp = OnnxRuntimeBackend(threads=2, cache=onnx_cache).fingerprint()
    assert fp["threads"] == 2 and fp["graph_optimization"] == "ORT_ENABLE_ALL"


def test_open_backend_drops_foreign_options() -> None:
    backend = open_backend("cpu", threads=2, precision="fp16", batch=None)
    assert isinstance(backend, OnnxRuntimeBackend) and backend.threads == 2


def test_onnx_export_is_cached(onnx_cache) -> None:
    backend = OnnxRuntimeBackend(cache=onnx_cache)
    path = backend.onnx_path(block_spec(HEAD))
    mtime = path.stat().st_mtime_ns
    assert backend.onnx_path(block_spec(HEAD)).stat().st_mtime_ns == mtime


def test_batch_size_in_input(onnx_cache) -> None:
    backend = OnnxRuntimeBackend(cache=onnx_cache)
    prepared = backend.prepare(block_spec(HEAD, batch=4))
    session = prepared.state[0]
    assert session.get_inputs()[0].shape[0] == 4
    backend.release(prepared)
