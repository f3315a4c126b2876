"""Local LiteRT backend (``tflite-cpu``): the shared suite plus conversion checks.

Conversion with litert-torch takes seconds per block, so every test shares one
on-disk conversion cache for the session and converts only a few blocks.
"""

from __future__ import annotations

import pytest

from latency_kit.backends import backend_class, open_backend
from latency_kit.backends.litert import LiteRTBackend, litert_available
from latency_kit.measure.engine import measure

from latency_kit.testing.backends import FAST, HEAD, SMALL, BackendSuite, block_spec

pytestmark = pytest.mark.skipif(not litert_available()[0], reason=litert_available()[1])


@pytest.fixture(scope="session")
def tflite_cache(tmp_path_factory):
    """One conversion cache shared by every LiteRT/SSH test module of the session."""
    path = tmp_path_factory.getbasetemp() / "tflite_cache"
    path.mkdir(exist_ok=True)
    return path


class TestLiteRT(BackendSuite):
    @pytest.fixture
    def backend(self, tflite_cache):
        return LiteRTBackend(threads=1, cache=tflite_cache)


def test_registered_as_tflite_cpu() -> None:
    assert backend_class("tflite-cpu") is LiteRTBackend
    backend = open_backend("tflite-cpu", threads=2, batch=1)
    assert backend.threads == 2 and backend.precision == "fp32"


def test_fingerprint_fields(tflite_cache) -> None:
    fp = LiteRTBackend(threads=2, cache=tflite_cache).fingerprint()
    assert fp["delegate"] == "xnnpack" and fp["threads"] == 2 and fp["layout"] == "nhwc"
    assert fp["converter"].startswith("litert-torch ")


def test_channel_last_io_and_cache(tflite_cache) -> None:
    from ai_edge_litert.interpreter import Interpreter

    backend = LiteRTBackend(cache=tflite_cache)
    path = backend.tflite_path(block_spec(SMALL))
    mtime = path.stat().st_mtime_ns
    assert backend.tflite_path(block_spec(SMALL)).stat().st_mtime_ns == mtime
    interpreter = Interpreter(model_path=str(path))
    assert tuple(interpreter.get_input_details()[0]["shape"]) == (1, 7, 7, 192)
    assert tuple(interpreter.get_output_details()[0]["shape"]) == (1, 7, 7, 192)
    ops = {op["op_name"] for op in interpreter._get_ops_details()}
    assert "TRANSPOSE" not in ops, ops


def test_fp16_weights(tflite_cache) -> None:
    from ai_edge_litert.interpreter import Interpreter

    fp32 = LiteRTBackend(cache=tflite_cache).tflite_path(block_spec(HEAD))
    backend = LiteRTBackend(precision="fp16", cache=tflite_cache)
    fp16 = backend.tflite_path(block_spec(HEAD))
    assert fp16 != fp32 and fp16.stat().st_size < 0.6 * fp32.stat().st_size
    ops = [op["op_name"] for op in Interpreter(model_path=str(fp16))._get_ops_details()]
    assert "DEQUANTIZE" in ops
    assert measure(backend, block_spec(HEAD), FAST).median_ms > 0


def test_unknown_precision_is_user_error() -> None:
    from latency_kit.errors import LatkitError

    with pytest.raises(LatkitError, match="fp32, fp16"):
        LiteRTBackend(precision="int3")


def test_export_whole_network_tflite(tmp_path) -> None:
    """`latkit export --format tflite` writes a runnable whole network (smallest, 160 px)."""
    from ai_edge_litert.interpreter import Interpreter
    from click.testing import CliRunner

    from latency_kit.cli import main

    arch = "r160_" + "_".join(["k3e3-k3e3"] * 5)
    out = tmp_path / "net.tflite"
    result = CliRunner().invoke(main, ["export", "--format", "tflite", "--arch", arch,
                                       "--resolution", "160", "-o", str(out)])
    assert result.exit_code == 0, result.output
    interpreter = Interpreter(model_path=str(out))
    interpreter.allocate_tensors()
    assert tuple(interpreter.get_input_details()[0]["shape"]) == (1, 160, 160, 3)
    assert tuple(interpreter.get_output_details()[0]["shape"]) == (1, 1000)
    interpreter.invoke()
