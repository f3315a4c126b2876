"""GPU backends on a real NVIDIA GPU: the shared suite plus their own features.

Everything here skips, with the reason, where no CUDA GPU (or no TensorRT)
is usable. The pure parts are in ``test_gpu_pure.py``.
"""

from __future__ import annotations

import pytest

from latency_kit.backends.gpu import GpuBackend, trtexec_style
from latency_kit.backends.tensorrt import TensorRTBackend
from latency_kit.backends.torch_cuda import TorchCudaBackend
from latency_kit.measure.engine import measure

from latency_kit.testing.backends import FAST, HEAD, SMALL, BackendSuite, block_spec

pytestmark = pytest.mark.gpu


def _need(cls) -> None:
    ok, why = cls.available()
    if not ok:
        pytest.skip(why)


@pytest.fixture(scope="session")
def engine_cache(tmp_path_factory):
    """One ONNX and engine cache for the session, so each engine is built once."""
    return tmp_path_factory.mktemp("gpu_cache")


def _opened(cls, **options):
    _need(cls)
    with cls(warmup_ms=20, **options) as backend:
        yield backend


class TestTorchCuda(BackendSuite):
    @pytest.fixture
    def backend(self):
        yield from _opened(TorchCudaBackend)


class TestTensorRT(BackendSuite):
    @pytest.fixture
    def backend(self, engine_cache):
        yield from _opened(TensorRTBackend, cache=engine_cache)


class TestGpuSelection(BackendSuite):
    @pytest.fixture
    def backend(self):
        yield from _opened(GpuBackend)


def test_gpu_picks_tensorrt_when_importable() -> None:
    _need(GpuBackend)
    backend = GpuBackend(warmup_ms=0)
    expected = "tensorrt" if TensorRTBackend.available()[0] else "torch-cuda"
    assert backend.runtime == expected == backend.fingerprint()["runtime"]
    assert backend.fingerprint()["gpu_name"]


@pytest.mark.parametrize("cuda_graph", [True, False])
@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_torch_cuda_settings(precision, cuda_graph) -> None:
    _need(TorchCudaBackend)
    with TorchCudaBackend(precision=precision, cuda_graph=cuda_graph, warmup_ms=10) as backend:
        prepared = backend.prepare(block_spec(SMALL, batch=2))
        try:
            assert prepared.info["cuda_graph"] is cuda_graph  # capture must work on these blocks
            assert backend.run_batch(prepared, 5) > 0
            assert len(backend.time_each(prepared, 7)) == 7
        finally:
            backend.release(prepared)
        fp = backend.fingerprint()
        assert (fp["precision"], fp["cuda_graph"], fp["runtime"]) == (precision, cuda_graph, "torch-cuda")


def test_tensorrt_engine_and_timing_cache(tmp_path) -> None:
    _need(TensorRTBackend)
    backend = TensorRTBackend(warmup_ms=0, cache=tmp_path)
    first = backend.prepare(block_spec(HEAD))
    backend.release(first)
    second = backend.prepare(block_spec(HEAD))
    backend.release(second)
    assert first.info["engine_built"] and not second.info["engine_built"]
    assert first.info["engine"] == second.info["engine"]
    assert list((tmp_path / "tensorrt").glob("timing-*.cache"))


def test_tensorrt_fp16_engine_is_fp16(engine_cache) -> None:
    _need(TensorRTBackend)
    backend = TensorRTBackend(precision="fp16", warmup_ms=0, cache=engine_cache)
    prepared = backend.prepare(block_spec(SMALL, batch=4))
    try:
        shapes = prepared.info["io"]
        assert {dtype for _, dtype in shapes.values()} == {"torch.float16"}
        assert all(shape[0] == 4 for shape, _ in shapes.values())
        assert measure(backend, block_spec(SMALL, batch=4), FAST).median_ms > 0
    finally:
        backend.release(prepared)


def test_tensorrt_layer_times_and_trtexec_summary(engine_cache) -> None:
    _need(TensorRTBackend)
    backend = TensorRTBackend(warmup_ms=20, cache=engine_cache)
    summary = trtexec_style(backend, block_spec(SMALL), duration_ms=200)
    assert summary["min_ms"] <= summary["median_ms"] <= summary["p99_ms"] <= summary["max_ms"]
    assert summary["count"] >= 10
    layers = summary["layers_ms"]
    assert layers and all(ms >= 0 for ms in layers.values())
    assert sum(layers.values()) > 0


@pytest.mark.parametrize("cls", [TorchCudaBackend, TensorRTBackend])
def test_degenerate_nb201_cell_is_measured(cls, engine_cache) -> None:
    """An NB201 cell whose output ignores its input (x * 0) still has an input to feed."""
    from latency_kit.backends.base import ModelSpec
    from latency_kit.spaces import get_space

    _need(cls)
    space = get_space("nb201")
    options = {"cache": engine_cache} if cls is TensorRTBackend else {}
    with cls(warmup_ms=10, **options) as backend:
        spec = ModelSpec.for_arch(space, space.parse("|none~0|+|none~0|nor_conv_3x3~1|+"
                                            "|none~0|nor_conv_3x3~1|nor_conv_3x3~2|"))
        prepared = backend.prepare(spec)
        try:
            assert prepared.info["launch"] == "cuda-graph"
            assert backend.run_batch(prepared, 5) > 0
        finally:
            backend.release(prepared)
