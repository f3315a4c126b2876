"""The backend interface: prepare a model, time it, release it.

A backend wraps one runtime on one device (ONNX Runtime on this CPU, LiteRT on
a phone, TensorRT on a GPU). The measurement engine (``latency_kit.measure.engine``)
drives it: ``prepare`` once, ``run_batch`` repeatedly, ``release`` at the end.
Keeping backends this small means a new runtime is one short file that passes
``latency_kit/testing/backends.py``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, Mapping, Sequence

import numpy as np

from latency_kit.errors import LatkitError


@dataclass(frozen=True)
class ModelSpec:
    """What to measure: a network or block, identified by a stable ``key``.

    ``space`` and ``key`` let a backend rebuild the torch module in any process
    (``kind`` is ``"block"`` for a LUT key, ``"arch"`` for an architecture
    string); ``input_shape`` is NCHW with the batch size first.
    """

    space: str
    kind: str
    key: str
    input_shape: tuple[int, ...]
    space_options: tuple[tuple[str, Any], ...] = ()
    # kind "file" only: the shapes the user gave for named inputs (``--shape``).
    input_shapes: tuple[tuple[str, tuple[int, ...]], ...] = ()

    @classmethod
    def for_file(cls, path: str, input_shapes: Mapping[str, Sequence[int]] | None = None,
                 batch: int | None = None) -> "ModelSpec":
        """The spec of a user's model file (``kind`` ``"file"``, ``key`` its path).

        ``input_shapes`` fixes the dynamic dimensions of named inputs; ``batch``,
        where given, fills a dynamic first dimension (the backend reads the
        other shapes from the file, see :func:`resolve_input_shape`).
        """
        shapes = tuple(sorted((name, tuple(int(d) for d in dims))
                              for name, dims in (input_shapes or {}).items()))
        return cls("", "file", str(path), (batch,) if batch else (), (), shapes)

    @classmethod
    def for_arch(cls, space: Any, arch: Any, batch: int = 1) -> "ModelSpec":
        """The spec of a whole network ``arch`` of ``space`` (a
        :class:`~latency_kit.spaces.SearchSpace`) at batch size ``batch``."""
        return cls(space.name, "arch", space.format(arch), space.input_shape(arch, batch),
                   _space_options(space))

    @classmethod
    def for_block(cls, space: Any, key: str, batch: int = 1) -> "ModelSpec":
        """The spec of the block with LUT key ``key`` of ``space`` at batch size ``batch``;
        ``KeyError`` when ``space`` has no such block."""
        return cls(space.name, "block", key, space.block_input_shape(key, batch),
                   _space_options(space))

    def build_module(self):
        """The ``torch.nn.Module`` this spec describes (eval mode)."""
        from latency_kit.spaces import get_space

        if self.kind == "file":
            raise LatkitError(f"{self.key} is a model file; it has no torch module")

        space = get_space(self.space, **dict(self.space_options))
        if self.kind == "block":
            return space.build_block(self.key)
        return space.build(space.parse(self.key))


def resolve_input_shape(spec: ModelSpec, name: str, declared: Sequence[Any]) -> tuple[int, ...]:
    """The shape to feed input ``name`` of the file ``spec.key``.

    ``declared`` is the shape the file states, where a dynamic dimension is a
    string, ``None`` or a negative number. A shape given in
    ``spec.input_shapes`` wins (its rank must match); else a dynamic first
    dimension takes the batch size (``spec.input_shape[0]``) where one was
    given. Raises ``LatkitError`` naming the input and the dimension that is
    still unknown.
    """
    given = dict(spec.input_shapes)
    if name in given:
        if len(given[name]) != len(declared):
            raise LatkitError(f"--shape {name}: the model's input {name} has {len(declared)} "
                              f"dimensions {_dims(declared)}, not {len(given[name])}")
        return given[name]
    shape = []
    for axis, dim in enumerate(declared):
        if isinstance(dim, (int, np.integer)) and dim >= 0:
            shape.append(int(dim))
        elif axis == 0 and spec.input_shape:
            shape.append(int(spec.input_shape[0]))
        else:
            raise LatkitError(f"input {name} of {spec.key} has a dynamic dimension {axis} "
                              f"({dim if isinstance(dim, str) else '?'} in {_dims(declared)}); "
                              f"set it with --shape {name}=" + "x".join(
                                  str(d) if isinstance(d, (int, np.integer)) and d >= 0 else "N"
                                  for d in declared))
    return tuple(shape)


def _dims(declared: Sequence[Any]) -> str:
    return "[" + ", ".join(str(d) for d in declared) + "]"


def random_input(shape: Sequence[int], dtype: Any, rng: np.random.Generator) -> np.ndarray:
    """A random tensor of ``shape`` and numpy ``dtype``: normal floats, small
    non-negative integers (valid token ids), random booleans."""
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return rng.standard_normal(tuple(shape)).astype(dtype)
    if dtype.kind == "b":
        return rng.integers(0, 2, tuple(shape)).astype(dtype)
    if dtype.kind in "iu":
        return rng.integers(0, 4, tuple(shape)).astype(dtype)
    raise LatkitError(f"cannot make a random input of type {dtype}")


# The devices that run each model-file format (``latkit measure --model``), for advice.
MODEL_FILE_DEVICES = {
    ".onnx": "--device cpu (ONNX Runtime), tensorrt or gpu (TensorRT)",
    ".tflite": "--device tflite-cpu (LiteRT), an Android phone (its model name, e.g. pixel) "
               "or ssh://user@host (LiteRT on a Linux board)",
}


def model_file_advice(suffix: str) -> str:
    """Which devices run a ``suffix`` model file, as the end of an error line."""
    return f"{suffix} files run on {MODEL_FILE_DEVICES[suffix]}"


def no_op_profiler(runtime: str, device: str) -> str:
    """The one-line reason ``--ops`` fails on a runtime without a per-operator profiler."""
    return (f"--ops: device {device} ({runtime}) has no per-operator profiler; it measures "
            "a model end to end only (per-operator tables come from ONNX Runtime on cpu, "
            "benchmark_model on an Android phone and TensorRT on a GPU)")


@dataclass(frozen=True)
class OpTimes:
    """One node of a profiled model: what it is and its time in each profiled run (ms)."""

    name: str
    op_type: str
    input_shapes: list[list[int]]
    run_ms: list[float]
    provider: str = ""


def _space_options(space: Any) -> tuple[tuple[str, Any], ...]:
    """The constructor options that rebuild ``space`` in another process."""
    from latency_kit.spaces import takes_resolution

    return (("resolutions", tuple(space.resolutions)),) if takes_resolution(space) else ()


@dataclass(frozen=True)
class MeasureSettings:
    """How hard to measure. The defaults suit blocks of 0.05-20 ms on a CPU.

    Defined with the backends, since a backend may ask for its own
    (``Backend.measure_settings``: a phone wants few, long batches); the
    engine (:mod:`latency_kit.measure.engine`) applies them.
    """

    warmup_ms: float = 30.0
    min_warmup_runs: int = 2
    repeats: int = 15
    batch_ms: float = 2.0
    max_iterations: int = 200
    max_rel_iqr: float = 0.10
    retries: int = 2

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "MeasureSettings":
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


@dataclass
class Prepared:
    """A model ready to run on a backend; ``state`` is backend-specific.

    ``info["entry"]``, where a backend sets it, is a JSON-safe dict of what
    actually ran (a delegate and how much of the graph it took, a launch
    mode); the engine stores it with the entry's statistics
    (:attr:`latency_kit.stats.LatencyStats.run`).
    """

    spec: ModelSpec
    state: Any = None
    info: dict[str, Any] = field(default_factory=dict)


class Backend(ABC):
    """Base class of latency backends.

    Subclasses set ``name`` and ``runtime`` and implement the four abstract
    methods. ``run_batch`` returns the mean time of one inference, in
    milliseconds, over ``iterations`` back-to-back runs; the engine calls it
    many times and keeps robust statistics.
    """

    name: ClassVar[str]
    runtime: ClassVar[str]
    # True where ``open_backend(device, **options)`` in a fresh Python process
    # measures the same hardware (a local runtime); calibration then spreads
    # its networks over several processes (``latency_kit.measure.processes``).
    fresh_processes: ClassVar[bool] = False
    # The model-file suffixes ``prepare`` takes as a ``ModelSpec.for_file`` (kind "file").
    model_formats: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def available(cls) -> tuple[bool, str]:
        """Whether this backend can run here, and if not, why (one line)."""
        return True, ""

    @abstractmethod
    def fingerprint(self) -> dict[str, Any]:
        """What the numbers depend on: device, runtime and version, threads, ..."""

    @abstractmethod
    def prepare(self, spec: ModelSpec) -> Prepared:
        """Convert and load the model so that ``run_batch`` only times inference."""

    @abstractmethod
    def run_batch(self, prepared: Prepared, iterations: int) -> float:
        """Run ``iterations`` inferences; return the mean milliseconds per inference."""

    def profile_ops(self, prepared: Prepared, runs: int, warmup: int = 3) -> list[OpTimes]:
        """Per-node times of ``runs`` inferences (after ``warmup`` untimed ones)
        from the runtime's own profiler.

        Raises ``LatkitError`` where the runtime has no per-operator profiler.
        """
        raise LatkitError(no_op_profiler(self.runtime, self.name))

    def check_profile_ops(self) -> None:
        """Raise ``LatkitError`` (one line) when :meth:`profile_ops` cannot run on
        this backend; called before anything is timed. By default: when the
        class does not override ``profile_ops``."""
        if type(self).profile_ops is Backend.profile_ops:
            raise LatkitError(no_op_profiler(self.runtime, self.name))

    def release(self, prepared: Prepared) -> None:
        """Free what ``prepare`` allocated (default: drop the state)."""
        prepared.state = None

    def close(self) -> None:
        """Release device-wide resources (connections, pushed files)."""

    def __enter__(self) -> "Backend":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
