"""PyTorch to ``.tflite`` conversion with litert-torch, cached on disk by key.

Models are converted with channel-last (NHWC) input and output
(``litert_torch.to_channel_last_io``), so the graph holds no layout transposes
at its ends that a phone would time but a deployed model would not run.
Float32 is the default; ``precision="fp16"`` stores weights in float16 with
dequantize ops (the usual TFLite float16 format, which the GPU delegate and
XNNPACK on ARM run in half precision), made with ai-edge-quantizer's float
casting, which litert-torch already depends on.

Converting one block takes a few seconds, so files are cached under
``latency_kit.paths.cache_dir() / "tflite"`` by a key of the model, its input
shape, the precision and the converter versions; reprofiling does not
reconvert. Writes are atomic, so concurrent processes can share a cache.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from latency_kit.runners.litert_runner import quiet_fds
from latency_kit.errors import LatkitError, MissingExtraError

PRECISIONS = ("fp32", "fp16")
# Ops whose constant weights the fp16 conversion stores in half precision.
_FP16_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")


def check_precision(precision: str) -> str:
    if precision not in PRECISIONS:
        raise LatkitError(f"unknown TFLite precision {precision!r}; choose one of {', '.join(PRECISIONS)}")
    return precision


def nhwc(shape: tuple[int, ...]) -> tuple[int, ...]:
    """The channel-last form of an NCHW shape (other ranks unchanged)."""
    if len(shape) == 4:
        n, c, h, w = shape
        return (n, h, w, c)
    return tuple(shape)


def converter_version() -> str:
    """``litert-torch <version>``; raises ``MissingExtraError`` when absent."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"litert-torch {version('litert-torch')}"
    except PackageNotFoundError:
        raise MissingExtraError("litert-torch", "mobile") from None


@contextmanager
def _atomic_target(path: Path) -> Iterator[str]:
    """A temporary file beside ``path`` that replaces it if the block succeeds.

    The file gets the usual mode for a new file (0666 less the umask), not
    ``mkstemp``'s private 0600.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".tflite", dir=path.parent)
    os.close(fd)
    try:
        yield tmp
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def convert_module(module, input_shape: tuple[int, ...], path: str | Path,
                   precision: str = "fp32") -> Path:
    """Convert ``module`` for an NCHW input of ``input_shape`` into ``path``.

    4-D inputs and outputs become NHWC; a 2-D output (the classifier) stays
    as it is. The write is atomic.
    """
    check_precision(precision)
    converter_version()
    os.environ.setdefault("LITERT_TORCH_SHOW_PROGRESS", "n")
    import torch

    path = Path(path)
    module = module.eval()
    with torch.no_grad():
        out = module(torch.zeros(input_shape))
    with _atomic_target(path) as tmp, quiet_fds(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import litert_torch

        args = [0] if len(input_shape) == 4 else []
        outputs = [0] if out.dim() == 4 else []
        if args or outputs:
            module = litert_torch.to_channel_last_io(module, args=args, outputs=outputs).eval()
        litert_torch.convert(module, (torch.zeros(nhwc(tuple(input_shape))),)).export(tmp)
        if precision == "fp16":
            _cast_weights_fp16(tmp)
    return path


def _cast_weights_fp16(path: str) -> None:
    """Rewrite the float model at ``path`` with float16 weights, in place."""
    from ai_edge_quantizer import qtyping, quantizer
    from ai_edge_quantizer.algorithm_manager import AlgorithmName

    q = quantizer.Quantizer(path)
    for op in _FP16_OPS:
        q.add_weight_only_config(".*", qtyping.TFLOperationName[op], 16,
                                 algorithm_key=AlgorithmName.FLOAT_CASTING)
    q.quantize().export_model(path, overwrite=True)


def cached_tflite(spec, precision: str = "fp32", cache: str | Path | None = None) -> Path:
    """The ``.tflite`` file of a :class:`~latency_kit.backends.base.ModelSpec`, converting once."""
    import torch

    from latency_kit.convert.onnx import BUILD_REVISION, cache_name
    from latency_kit.paths import cache_dir

    check_precision(precision)
    root = Path(cache) if cache else cache_dir() / "tflite"
    name = cache_name(spec.space, spec.space_options, spec.kind, spec.key, spec.input_shape,
                      precision, converter_version(), torch.__version__.split("+")[0],
                      BUILD_REVISION)
    path = root / f"{name}.tflite"
    if path.exists():
        return path
    if precision == "fp16":  # cast the cached float32 file instead of converting again
        fp32 = cached_tflite(spec, "fp32", cache)
        with _atomic_target(path) as tmp, quiet_fds():
            shutil.copyfile(fp32, tmp)
            _cast_weights_fp16(tmp)
        return path
    convert_module(spec.build_module(), spec.input_shape, path, precision)
    return path
