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
from typing import Any, ClassVar


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

        space = get_space(self.space, **dict(self.space_options))
        if self.kind == "block":
            return space.build_block(self.key)
        return space.build(space.parse(self.key))


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

    def release(self, prepared: Prepared) -> None:
        """Free what ``prepare`` allocated (default: drop the state)."""
        prepared.state = None

    def close(self) -> None:
        """Release device-wide resources (connections, pushed files)."""

    def __enter__(self) -> "Backend":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
