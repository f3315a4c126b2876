"""The search-space interface shared by profiling and NAS.

A search space says which decisions make an architecture, how an architecture
is written as text and JSON, how to build it as a real ``torch.nn.Module``, and
which blocks it consists of. Each block has a lookup-table key that fully
describes it, so a block can be rebuilt from its key alone (this is what lets
profiling jobs travel to other processes or machines as plain strings).

A new space is one module with a subclass of :class:`SearchSpace` that
registers itself (an entry point in the ``latkit.spaces`` group, or the
``@latency_kit.spaces.register_space`` decorator) and passes the shipped
suite :class:`latency_kit.testing.spaces.SpaceSuite`.

What the latency predictor knows of a space's blocks comes from two hooks with
defaults, so a space that overrides neither still works:
:meth:`SearchSpace.block_costs` (MACs, parameters, activation size of a block;
default: counted on the torch module) and :meth:`SearchSpace.block_groupings`
(named groups of blocks, e.g. stages; default: none).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, ClassVar, Generic, Hashable, Sequence, TypeVar

import numpy as np

Arch = TypeVar("Arch", bound=Hashable)


@dataclass(frozen=True)
class Decision:
    """One categorical choice the generator makes (e.g. a layer's kernel)."""

    name: str
    choices: tuple[Any, ...]


@dataclass(frozen=True)
class Block:
    """One measurable piece of a network: its LUT key and NCHW input shape."""

    key: str
    input_shape: tuple[int, ...]


@dataclass(frozen=True)
class BlockGrouping:
    """One way to split a network's blocks into named groups (stages, kernel sizes...).

    ``group_of(key)`` is the group of the block with that LUT key, one of
    ``groups``; every block is in exactly one group. The latency predictor
    gets one LUT-sum column per group, named ``lut:<group>``.
    """

    groups: tuple[str, ...]
    group_of: Callable[[str], str]


class SearchSpace(ABC, Generic[Arch]):
    """Base class of search spaces. Architectures are immutable and hashable."""

    name: ClassVar[str]
    # Whether the space takes an input-resolution option (a ``resolutions``
    # constructor argument and attribute); see latency_kit.spaces.takes_resolution.
    takes_resolution: ClassVar[bool] = False

    # -- decisions and encodings -------------------------------------------------
    @abstractmethod
    def decisions(self) -> list[Decision]:
        """The ordered categorical decisions that make an architecture."""

    @abstractmethod
    def encode(self, arch: Arch) -> list[int]:
        """Choice indices, one per decision (inactive decisions get index 0)."""

    @abstractmethod
    def decode(self, indices: Sequence[int]) -> Arch:
        """The architecture for one choice index per decision."""

    def sample(self, rng: np.random.Generator | int | None = None) -> Arch:
        """A uniformly random architecture over the decisions."""
        rng = np.random.default_rng(rng)
        return self.decode([int(rng.integers(len(d.choices))) for d in self.decisions()])

    def is_degenerate(self, arch: Arch) -> bool:
        """Whether ``arch``'s output is independent of its input (a NAS-Bench-201 cell
        whose every path passes through ``none``, say). Such networks are measured, but
        never chosen as calibration or reference networks. Default: none is."""
        return False

    def features(self, arch: Arch) -> np.ndarray:
        """A fixed-length numeric vector (one-hot per decision) for learned models."""
        parts = []
        for decision, index in zip(self.decisions(), self.encode(arch)):
            onehot = np.zeros(len(decision.choices), dtype=np.float32)
            onehot[index] = 1.0
            parts.append(onehot)
        return np.concatenate(parts)

    # -- text and JSON -----------------------------------------------------------
    @abstractmethod
    def parse(self, text: str) -> Arch:
        """Parse the readable string form; raise ``ArchError`` when malformed."""

    @abstractmethod
    def format(self, arch: Arch) -> str:
        """The readable string form; ``parse(format(a)) == a``."""

    @abstractmethod
    def to_json(self, arch: Arch) -> dict[str, Any]:
        """A JSON-serialisable dict; ``from_json(to_json(a)) == a``."""

    @abstractmethod
    def from_json(self, data: dict[str, Any]) -> Arch:
        """Inverse of :meth:`to_json`; raise ``ArchError`` when malformed."""

    def parse_any(self, value: Any) -> Arch:
        """An architecture as a table holds it: the JSON form (a dict) or the string
        form (anything else, as text); raise ``ArchError`` when malformed."""
        return self.from_json(value) if isinstance(value, dict) else self.parse(str(value))

    # -- networks and blocks -----------------------------------------------------
    @abstractmethod
    def input_shape(self, arch: Arch, batch: int = 1) -> tuple[int, ...]:
        """NCHW input shape of the whole network."""

    @abstractmethod
    def blocks(self, arch: Arch) -> list[Block]:
        """The blocks that make the network, in execution order."""

    @abstractmethod
    def all_blocks(self) -> list[Block]:
        """Every distinct block any architecture of this space can contain."""

    @abstractmethod
    def build_block(self, key: str):
        """A ``torch.nn.Module`` (eval mode) for the block with this LUT key."""

    def block_input_shape(self, key: str, batch: int = 1) -> tuple[int, ...]:
        """NCHW input shape of the block with this key."""
        for block in self.all_blocks():
            if block.key == key:
                return (batch, *block.input_shape[1:])
        raise KeyError(key)

    def build(self, arch: Arch):
        """The whole network as a ``torch.nn.Module`` in eval mode.

        The default chains the blocks, so the network is exactly the sequence of
        what the lookup table measured.
        """
        import torch

        modules = [self.build_block(block.key) for block in self.blocks(arch)]
        return torch.nn.Sequential(*modules).eval()

    # -- analytic costs ----------------------------------------------------------
    def macs(self, arch: Arch) -> int:
        """Multiply-accumulates of one inference at batch 1."""
        return sum(self.block_counts(b.key)[0] for b in self.blocks(arch))

    def params(self, arch: Arch) -> int:
        """Number of parameters."""
        return sum(self.block_counts(b.key)[1] for b in self.blocks(arch))

    def block_counts(self, key: str) -> tuple[int, int]:
        """(MACs at batch 1, parameters) of the block with this key, counted on its torch
        module (:func:`latency_kit.spaces.counting.count_macs_params`; cached)."""
        return _counts_cached(self, key)

    # -- what the latency predictor knows of the blocks ---------------------------
    def block_costs(self, key: str) -> tuple[float, float, float]:
        """(MACs, parameters, activation elements) of the block with this key, at batch 1.

        The latency predictor's per-block cost features. Default: MACs and
        parameters from :meth:`block_counts` (needs torch; slow but cached) and
        the block's input elements as its activation size. Spaces that can
        compute them from the key alone override this (``ofa-mbv3`` does).
        """
        macs, params = self.block_counts(key)
        return macs, params, float(np.prod(self.block_input_shape(key)))

    def block_groupings(self) -> tuple[BlockGrouping, ...]:
        """Ways to group this space's blocks; each gives the predictor ``lut:<group>`` columns.

        Default: none; the predictor then uses only the LUT sum and the
        resolution (its generic recipe). ``ofa-mbv3`` groups by stage and by
        depthwise kernel size.
        """
        return ()

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


@lru_cache(maxsize=None)
def _counts_cached(space: SearchSpace, key: str) -> tuple[int, int]:
    from latency_kit.spaces.counting import count_macs_params

    module = space.build_block(key)
    return count_macs_params(module, space.block_input_shape(key))
