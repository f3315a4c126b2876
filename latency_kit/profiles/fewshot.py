"""Profiles transferred from other devices by a few whole-network measurements.

A ``kind: "fewshot"`` profile directory holds::

    profile.json   metadata (schema ``latkit.profile`` v1, ``kind: "fewshot"``)
    fewshot.json   schema ``latkit.fewshot`` v1: the source profiles (name,
                   path, device), the pool standardisation of their
                   log-latencies, the model settings, and every measurement
                   {"arch", "value_ms", "sources_ms"}

Nothing fitted is stored: loading refits :class:`latency_kit.predict.transfer.FewShotTransfer`
from these numbers (closed form, so identical every time). Predicting asks the
source profiles for the architectures and maps their latencies to this
device. If a source profile was rebuilt since, its latencies at the measured
architectures differ from the stored ones and loading says so. Measuring the
reference networks on a device is :mod:`latency_kit.measure.fewshot`'s part.
"""

from __future__ import annotations

import hashlib
import json
from functools import cached_property
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from latency_kit.errors import CorruptFileError, LatkitError
from latency_kit.predict.transfer import (ARCH_WEIGHT, DEFAULT_ALPHAS, SAMPLED_POOL, FewShotTransfer,
                                         SourceScale, arch_features, candidate_pool,
                                         select_references, usable)
from latency_kit.jsonio import write_json
from latency_kit.lut import LatencyTable
from latency_kit.paths import profiles_dir
from latency_kit.profiles.profile import META_FILE, NotAProfileError, Profile, ProfileMeta, read_data_file
from latency_kit.spaces import SearchSpace

FEWSHOT_FILE = "fewshot.json"
SCHEMA = "latkit.fewshot"
VERSION = 1
SOURCE_RTOL = 1e-6


class FewShotProfile(Profile):
    """Latency of a device known by N measurements plus other devices' profiles."""

    def __init__(self, path: Path, meta: dict[str, Any], data: dict[str, Any]):
        super().__init__(path, meta, LatencyTable(space=str(meta.get("space", "")),
                                                  name=str(meta.get("name", path.name))))
        self.data = data

    # -- stored data -------------------------------------------------------------
    @property
    def measurements(self) -> list[dict[str, Any]]:
        return list(self.data["measurements"])

    @property
    def source_names(self) -> list[str]:
        return [s["name"] for s in self.data["sources"]]

    @cached_property
    def sources(self) -> list[Profile]:
        """The source profiles, found by stored path first, then by name."""
        found = []
        for entry in self.data["sources"]:
            path = Path(entry.get("path", ""))
            target: str | Path = path if (path / META_FILE).is_file() else entry["name"]
            try:
                found.append(_load(target))
            except LatkitError:
                raise LatkitError(
                    f"few-shot profile {self.name!r} needs source profile {entry['name']!r}, which "
                    "is not stored here; restore it or rebuild with `latkit lut fewshot`") from None
        return found

    @cached_property
    def model(self) -> FewShotTransfer:
        """The transfer model refit from the stored measurements."""
        rows = self.measurements
        archs = [self.space.parse(r["arch"]) for r in rows]
        stored = np.array([r["sources_ms"] for r in rows], dtype=float)
        now = source_matrix(self.sources, archs)
        if not np.allclose(now, stored, rtol=SOURCE_RTOL, atol=1e-9):
            changed = [self.source_names[k] for k in range(stored.shape[1])
                       if not np.allclose(now[:, k], stored[:, k], rtol=SOURCE_RTOL, atol=1e-9)]
            raise LatkitError(
                f"source profile(s) {', '.join(changed)} changed since few-shot profile "
                f"{self.name!r} was built; rebuild it with `latkit lut fewshot`")
        settings = self.data["model"]
        return FewShotTransfer(tuple(settings["alphas"]), float(settings["arch_weight"])).fit(
            self.scale.transform(stored), [r["value_ms"] for r in rows],
            arch_features(self.space, archs))

    @property
    def scale(self) -> SourceScale:
        return SourceScale.from_dict(self.data["scale"])

    @cached_property
    def held_out_errors(self):
        """Held-out errors of the transfer
        (:func:`latency_kit.predict.heldout.transfer_errors`): each source
        device in turn is predicted from the others and its own latencies on
        this profile's reference architectures, over the source pool (at most
        :data:`~latency_kit.predict.transfer.SAMPLED_POOL` of it, seeded);
        ``scale`` is this device's leave-one-out error. ``None`` with fewer
        than 2 source profiles."""
        from latency_kit.predict.heldout import transfer_errors

        if len(self.sources) < 2:
            return None
        rows = self.measurements
        archs = [self.space.parse(r["arch"]) for r in rows]
        pool = source_pool(self.space, self.sources)
        if len(pool) > SAMPLED_POOL:
            picked = np.random.default_rng(0).choice(len(pool), SAMPLED_POOL, replace=False)
            pool = [pool[i] for i in sorted(picked)]
        settings = self.data["model"]
        return transfer_errors(self.source_names, np.array([r["sources_ms"] for r in rows], float),
                               arch_features(self.space, archs), source_matrix(self.sources, pool),
                               arch_features(self.space, pool), self.model.loo_rmse_log_,
                               alphas=tuple(settings["alphas"]),
                               arch_weight=float(settings["arch_weight"]))

    # -- latency -----------------------------------------------------------------
    def predict_many(self, archs: Sequence[Any]) -> np.ndarray:
        archs = self._archs(archs)
        model = self.model
        z = self.scale.transform(source_matrix(self.sources, archs))
        return model.predict(z, arch_features(self.space, archs))

    def lut_sum(self, arch: Any) -> float:
        return float(self.predict_many([arch])[0])

    def lut_sum_many(self, archs: Sequence[Any]) -> np.ndarray:
        """There is no block table; the transferred prediction stands in for its sum."""
        return self.predict_many(archs)

    @property
    def predictor_kind(self) -> str:
        return "fewshot"

    def __repr__(self) -> str:
        return (f"FewShotProfile({self.name!r}, space={self.meta.get('space')!r}, "
                f"shots={len(self.data['measurements'])}, sources={len(self.data['sources'])})")

    @classmethod
    def load(cls, path: str | Path) -> "FewShotProfile":
        path = Path(path)
        meta = ProfileMeta.read(path)
        data = read_data_file(path / FEWSHOT_FILE, "few-shot data", SCHEMA, VERSION)
        for field in ("sources", "scale", "model", "measurements"):
            if field not in data:
                raise CorruptFileError(f"{path / FEWSHOT_FILE} has no {field!r}")
        return cls(path, meta, data)


def _load(name_or_path: str | Path) -> Profile:
    from latency_kit.profiles.profile import load_profile

    return load_profile(name_or_path)


def load_sources(names: Sequence[str | Path], space: str | None = None) -> list[Profile]:
    """Load source profiles and check they share one space (``space`` if given)."""
    if not names:
        raise LatkitError("give at least one source profile with --from")
    profiles = [_load(n) for n in names]
    spaces = {p.name: str(p.meta.get("space")) for p in profiles}
    wanted = space or next(iter(spaces.values()))
    other = {n: s for n, s in spaces.items() if s != wanted}
    if other:
        listing = ", ".join(f"{n} ({s})" for n, s in other.items())
        raise LatkitError(f"source profiles must all be for space {wanted}; {listing} are not. "
                          f"Pass profiles of space {wanted} to --from")
    paths = [str(p.path.resolve()) for p in profiles]
    if len(set(paths)) != len(paths):
        raise LatkitError("the same source profile is given twice to --from")
    return profiles


def source_matrix(sources: Sequence[Profile], archs: Sequence[Any]) -> np.ndarray:
    """Predicted ms of each architecture (rows) on each source (columns)."""
    if not sources:
        return np.zeros((len(archs), 0))
    return np.stack([np.asarray(s.predict_many(list(archs)), dtype=float) for s in sources], axis=1)


def source_pool(space: SearchSpace, sources: Sequence[Profile]) -> list[Any]:
    """Candidate architectures: those every per-architecture source table holds,
    else the whole (small) space or a seeded sample of it; never degenerate ones."""
    tables = [getattr(s, "entries") for s in sources if isinstance(getattr(s, "entries", None), dict)]
    if tables and len(tables) == len(sources):
        common = set(tables[0]).intersection(*tables[1:])
        return usable(space, [space.parse(key) for key in tables[0] if key in common])
    return usable(space, candidate_pool(space))


def reference_archs(space: SearchSpace, sources: Sequence[Profile], n: int) -> list[Any]:
    """The ``n`` architectures to measure on a new device (diverse for the sources)."""
    pool = source_pool(space, sources)
    if n > len(pool):
        raise LatkitError(f"asked for {n} reference architectures but only {len(pool)} are "
                          f"available for space {space.name}"
                          + (" in every source table" if sources else "")
                          + f"; use -n 1..{len(pool)}")
    matrix = source_matrix(sources, pool)
    z = SourceScale.fit(matrix).transform(matrix) if sources else matrix
    chosen = select_references(z, arch_features(space, pool), n)
    return [pool[i] for i in chosen]


def _digest(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def build_fewshot_profile(space: str | SearchSpace, sources: Sequence[Profile],
                          measurements: Sequence[tuple[Any, float]], name: str,
                          out: str | Path | None = None, device: str | None = None,
                          backend: str = "measurements", fingerprint: dict[str, Any] | None = None,
                          settings: dict[str, Any] | None = None,
                          stats: Sequence[dict[str, Any]] | None = None) -> FewShotProfile:
    """Write a ``kind: "fewshot"`` profile from (architecture, ms) pairs and sources.

    ``space`` is a name or a space object; architectures may be strings or
    objects of that space. The pool standardisation is computed here once and
    stored, so loading never has to scan the pool again.
    """
    sources = list(sources)
    if not sources:
        raise LatkitError("few-shot transfer needs at least one source profile (--from)")
    space_name = space if isinstance(space, str) else space.name
    load_sources([s.path for s in sources], space_name)
    space_obj = space if not isinstance(space, str) else sources[0].space
    space_options = dict(sources[0].meta.get("space_options", {}))
    archs, values = [], []
    for arch, value in measurements:
        parsed = space_obj.parse(arch) if isinstance(arch, str) else arch
        if parsed in archs:
            raise LatkitError(f"architecture {space_obj.format(parsed)} is measured twice")
        if not np.isfinite(value) or value <= 0:
            raise LatkitError(f"measurement of {space_obj.format(parsed)} is {value!r} ms; "
                              "latencies must be positive")
        archs.append(parsed)
        values.append(float(value))
    pool = source_pool(space_obj, sources)
    scale = SourceScale.fit(source_matrix(sources, pool))
    at_refs = source_matrix(sources, archs)
    model = FewShotTransfer().fit(scale.transform(at_refs), values, arch_features(space_obj, archs))
    data = {
        "schema": SCHEMA, "version": VERSION, "unit": "ms",
        "sources": [{"name": s.name, "path": str(s.path.resolve()), "device": s.device}
                    for s in sources],
        "pool_size": len(pool),
        "scale": scale.to_dict(),
        "model": {"method": "ridge-log-sources+onehot", "alphas": list(DEFAULT_ALPHAS),
                  "arch_weight": ARCH_WEIGHT},
        "fit": {"alpha": model.alpha_, "loo_rmse_log": model.loo_rmse_log_},
        "measurements": [{"arch": space_obj.format(a), "value_ms": v,
                          "sources_ms": [float(x) for x in row],
                          **({"stats": stats[i]} if stats else {})}
                         for i, (a, v, row) in enumerate(zip(archs, values, at_refs))],
    }
    out_path = Path(out) if out else profiles_dir() / name
    if (out_path / META_FILE).is_file():
        try:
            old_kind = ProfileMeta.read(out_path, any_version=True).kind
        except NotAProfileError:
            old_kind = None
        if old_kind != "fewshot":
            raise LatkitError(f"{out_path} holds another kind of profile; choose another --name "
                              "or --out for the few-shot profile")
    out_path.mkdir(parents=True, exist_ok=True)
    write_json(out_path / FEWSHOT_FILE, data)
    ProfileMeta.new(name, space_obj.name, device or name, backend, kind="fewshot",
                    space_options=space_options, fingerprint=fingerprint, settings=settings,
                    status="complete", shots=len(archs), data_digest=_digest(data)).write(out_path)
    return FewShotProfile.load(out_path)
