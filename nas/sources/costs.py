"""Cost sources: how expensive an architecture is, in ms or MAdds.

* :class:`ProfileCost` -- a device profile's latency predictor (``--device NAME``), ms;
  for a per-architecture profile (an imported HELP, HW-NAS-Bench or BRP-NAS
  table) it is a :class:`TableProfileCost`;
* :class:`TableCost` -- a per-architecture table (``table:PATH``), ms;
* :class:`MAddsCost` -- multiply-adds counted on the real network (``madds``).

:func:`resolve_cost` turns the CLI's ``--device``/``--cost`` pair into one of them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from latency_kit.errors import LatkitError
from latency_kit.formats.arch_tables import collect, read_table
from latency_kit.formats.checks import check_plausible
from latency_kit.spaces import SearchSpace
from latency_kit.profiles.table import TableProfile

from nas.sources.base import (ArchTableMixin, CostSource, HeldArchitectures, file_digest,
                              one_torch_thread, positive_range)

COST_FORMS = "table:PATH (per-architecture ms) or madds"
_UNIT_FIX = ("table:PATH takes ms: convert it, or `latkit lut import --format table --unit "
             "{unit}` it and pass --device NAME")
# Files of a profile directory that determine its predictions.
_PROFILE_FILES = ("profile.json", "lut.json", "calibration.json", "predictor.json", "table.json")


class ProfileCost(CostSource):
    """Predicted latency (ms) from a device profile (``latency_kit.load_profile``).

    ``space`` defaults to the profile's own. A space of the same name that the
    profile covers only in part (``ofa-mbv3`` with all resolutions, profiled at
    224 px) is narrowed to the profile's space, so ``cost.space`` is what to search.
    """

    unit = "ms"

    def __new__(cls, *args: Any, **kwargs: Any) -> "ProfileCost":
        profile = args[1] if len(args) > 1 else kwargs.get("profile")
        if cls is ProfileCost and isinstance(profile, TableProfile):
            cls = TableProfileCost  # every route to a table profile answers like table:PATH
        return super().__new__(cls)

    def __init__(self, space: SearchSpace | None, profile: Any):
        self.profile = profile
        super().__init__(_covered_space(profile, space))

    @classmethod
    def load(cls, name: str, space: SearchSpace | None = None) -> "ProfileCost":
        """The profile stored as ``name`` (or at that path)."""
        from latency_kit import load_profile

        return cls(space, load_profile(name))

    def cost_many(self, archs: Sequence[Any]) -> np.ndarray:
        return np.asarray(self.profile.predict_many(list(archs)), dtype=float)

    def held_out_errors(self) -> Any:
        """The profile's held-out errors (``Profile.held_out_errors``)."""
        return self.profile.held_out_errors

    def describe(self) -> dict[str, Any]:
        fingerprint = self.profile.meta.get("fingerprint") or {}
        return {"source": self.profile.name, "unit": self.unit,
                "batch": int(fingerprint.get("batch", 1)),
                "precision": str(fingerprint.get("precision", "fp32"))}

    def identity(self) -> str:
        path = Path(self.profile.path)
        parts = [f"{name}={file_digest(path / name)}" for name in _PROFILE_FILES
                 if (path / name).is_file()]
        return (f"profile:{path.resolve()}#" + ",".join(parts)
                + f";predictor={self.profile.predictor_identity}")


class TableProfileCost(ProfileCost, HeldArchitectures):
    """Latency (ms) from a per-architecture profile (``kind: "table"``).

    Such a table may hold only part of the space (HW-NAS-Bench and BRP-NAS
    tables do), so it behaves as ``table:PATH`` does: :meth:`archs` lists what
    it holds, searches draw from those architectures only, and its range is exact.
    """

    def __init__(self, space: SearchSpace | None, profile: TableProfile):
        super().__init__(space, profile)
        self._archs = profile.architectures()

    def archs(self) -> list[Any]:
        """Every architecture the table holds (in table order)."""
        return list(self._archs)

    def known_range(self) -> tuple[float, float] | None:
        return positive_range(self.profile.entries.values())


def _covered_space(profile: Any, space: SearchSpace | None) -> SearchSpace:
    own = profile.space
    if space is None or space == own:
        return own
    if own.name != space.name:
        raise LatkitError(f"profile {profile.name!r} was measured for space {own.name}, not "
                          f"{space.name}; pass --space {own.name} or profile this space")
    if isinstance(profile, TableProfile):
        return own  # no blocks to cover: the table answers for the architectures it holds
    lut = getattr(profile, "lut", None)
    if lut is None:
        return space
    wanted = {b.key for b in space.all_blocks()}
    missing = sorted(wanted - set(lut))
    if not missing:
        return space
    if {b.key for b in own.all_blocks()} <= wanted:
        return own  # the profile covers part of the requested space: search that part
    raise LatkitError(
        f"profile {profile.name!r} lacks {len(missing)} blocks of {space!r} (e.g. {missing[0]}); "
        "re-run `latkit profile` with the same --space and --resolution options")


class TableCost(ArchTableMixin, CostSource):
    """Latency (ms) per architecture from a CSV or JSON-lines table.

    ``TableCost.from_file(path, space)`` or ``TableCost.from_mapping(space, {arch: ms})``.
    """

    unit = "ms"

    @classmethod
    def from_file(cls, path: str | Path, space: SearchSpace) -> "TableCost":
        """The table in a CSV (header ``arch,value``) or JSON-lines file, in ms.

        Read as ``latkit lut import --format table`` reads it
        (:func:`latency_kit.formats.arch_tables.read_table`): a UTF-8
        byte-order mark is accepted, an architecture found twice is an error
        naming both lines, a value must be a latency >= 0, and a median
        outside 10 us to 5 min per network is refused (the file is then in
        another unit). Raises :class:`LatkitError`.
        """
        path = Path(path)
        if not path.is_file():
            raise LatkitError(f"table {path} does not exist; give table:PATH of a CSV or "
                              "JSON-lines file")

        values = collect(read_table(path).rows, space.parse_any, str(path),
                         what=f"{space.name} architecture")
        check_plausible(values.values(), "network", str(path), "ms", fix=_UNIT_FIX)
        return cls(space, values, str(path.resolve()), file_digest(path))

    def cost_many(self, archs: Sequence[Any]) -> np.ndarray:
        return self.lookup_many(archs)

    def describe(self) -> dict[str, Any]:
        return {"source": Path(self.origin).stem if self.origin != "mapping" else "table",
                "unit": self.unit}

    def identity(self) -> str:
        return self.table_identity("table")


class MAddsCost(CostSource):
    """Multiply-adds of one inference at batch 1 (``space.macs``), unit ``"madds"``.

    Counts are cached per block by the space, and per architecture here, so
    scoring many architectures costs one dictionary lookup per block.
    """

    unit = "madds"

    def __init__(self, space: SearchSpace):
        super().__init__(space)
        self._cache: dict[Any, float] = {}

    def cost_many(self, archs: Sequence[Any]) -> np.ndarray:
        out = np.empty(len(archs), dtype=float)
        with one_torch_thread():
            for i, arch in enumerate(archs):
                value = self._cache.get(arch)
                if value is None:
                    value = self._cache[arch] = float(self.space.macs(arch))
                out[i] = value
        return out

    def describe(self) -> dict[str, Any]:
        return {"source": "madds", "unit": self.unit, "batch": 1}

    def identity(self) -> str:
        return f"madds:{self.space!r}"


MADDS_NAMES = ("madds", "macs", "flops")  # --cost names of MAddsCost


def cost_unit(spec: str | None) -> str:
    """The unit of the cost a ``--cost SPEC`` names (``madds`` or ``ms``; a
    device's profile and a table are in ms), known before the source is
    built, so a budget in the other unit is refused before any training."""
    return "madds" if spec is not None and spec.strip().lower() in MADDS_NAMES else "ms"


def resolve_cost(spec: str | None, device: str | None, space: SearchSpace | None) -> CostSource:
    """The cost source for ``--device NAME`` or ``--cost SPEC`` (exactly one of them).

    With ``device``, ``space`` may be ``None`` to use the profile's own space.
    """
    if (spec is None) == (device is None):
        raise LatkitError(f"give exactly one of --device NAME or --cost SPEC ({COST_FORMS})")
    if device is not None:
        return ProfileCost.load(device, space)
    if space is None:
        raise LatkitError("a --cost source needs a search space; pass --space")
    text = spec.strip()
    if text.lower() in MADDS_NAMES:
        return MAddsCost(space)
    if text.startswith("table:") and len(text) > len("table:"):
        return TableCost.from_file(text[len("table:"):], space)
    raise LatkitError(f"unknown cost source {spec!r}; use --device NAME or --cost {COST_FORMS}")
