"""Persistence of trained PNAG models: two torch state dicts and JSON metadata.

A stored model is a directory::

    meta.json        schema ``latkit.nas`` v1: cache key, space, source
                     identities, settings, feasible range, network configs,
                     fit report, the archive (every queried architecture
                     as [arch, value, cost]) and its Pareto front, which
                     ``generate`` answers from (recomputed from the archive
                     on load)
    evaluator.pt     state dict of the evaluator   (torch.load weights_only=True)
    generator.pt     state dict of the generator

The cache key hashes the space, the *content* part of the cost and accuracy
source identities (so a shipped profile matches wherever it is installed),
the training settings and any extra context. Models live with their device
profile (``<profile>/nas/<key>``) when that profile is the user's own, and
otherwise under ``$LATKIT_HOME/nas/<name>``.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any, Iterable

import torch

from latency_kit.errors import CorruptFileError
from latency_kit.jsonio import read_json, write_json
from latency_kit.paths import home, profiles_dir

from nas.pnag import ALGORITHM, PNAG, Settings

SCHEMA, VERSION = "latkit.nas", 1
META, EVALUATOR, GENERATOR = "meta.json", "evaluator.pt", "generator.pt"


def content_identity(identity: str) -> str:
    """The part of a source identity that names content, not location (after ``#``)."""
    return identity.split("#", 1)[1] if "#" in identity else identity


def cache_key(space: Any, cost: Any, accuracy: Any, settings: Settings,
              extra_context: Iterable[float] = ()) -> str:
    """A short hash that changes whenever a trained model would."""
    payload = {
        "version": VERSION,
        "algorithm": ALGORITHM,
        "space": repr(space),
        "cost": content_identity(cost.identity()),
        "unit": cost.unit,
        "accuracy": content_identity(accuracy.identity()),
        "settings": settings.training_key(),
        "extra_context": [float(x) for x in extra_context],
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


def models_dir() -> Path:
    """Where models not stored with a profile live."""
    return home() / "nas"


def default_dir(key: str, cost: Any, name: str | None = None) -> Path:
    """Where a model is written: under ``name``, with the user's profile, or by key."""
    if name:
        return models_dir() / name
    profile = getattr(cost, "profile", None)
    path = Path(getattr(profile, "path", "")) if profile is not None else None
    if path is not None and path.resolve().is_relative_to(profiles_dir().resolve()):
        return path / "nas" / key
    prefix = f"{profile.name}-" if profile is not None else ""
    return models_dir() / f"{prefix}{key}"


def find(key: str, cost: Any = None, name: str | None = None) -> Path | None:
    """A stored model directory with this key, or ``None``.

    Looks under ``name`` first, then with the cost's profile (user or
    shipped), then every model under ``$LATKIT_HOME/nas``.
    """
    places: list[Path] = []
    if name:
        places.append(models_dir() / name)
    profile = getattr(cost, "profile", None)
    if profile is not None:
        places.append(Path(profile.path) / "nas" / key)
    root = models_dir()
    if root.is_dir():
        places += sorted(p for p in root.iterdir() if p.is_dir())
    for place in places:
        meta = place / META
        if meta.is_file():
            try:
                if read_json(meta, "nas model metadata").get("key") == key:
                    return place
            except (CorruptFileError, AttributeError):
                continue
    return None


def save(model: PNAG, path: str | Path, key: str) -> Path:
    """Write ``model`` (fitted) to the directory ``path``."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    meta = {
        "schema": SCHEMA,
        "version": VERSION,
        "key": key,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **model.to_state(),
    }
    torch.save(model.evaluator_.state_dict(), path / EVALUATOR)
    torch.save(model.generator_.state_dict(), path / GENERATOR)
    write_json(path / META, meta)
    return path


def load(path: str | Path, space: Any, cost: Any, accuracy: Any) -> PNAG:
    """Load a stored model for these sources (the caller checked the key).

    Raises :class:`CorruptFileError` for a directory that holds no model of
    this schema and version, or unreadable weights.
    """
    path = Path(path)
    meta = read_json(path / META, "nas model metadata")
    if not isinstance(meta, dict) or meta.get("schema") != SCHEMA:
        raise CorruptFileError(f"{path / META} is not a latkit nas model")
    if meta.get("version") != VERSION:
        raise CorruptFileError(f"{path} has nas model version {meta.get('version')}; expected {VERSION}")
    return PNAG.from_state(space, cost, accuracy, meta, read_weights(path / EVALUATOR),
                           read_weights(path / GENERATOR))


def read_weights(path: Path) -> dict[str, Any]:
    """A state dict saved by ``torch.save`` (``weights_only``); ``CorruptFileError`` if unreadable."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError) as exc:
        raise CorruptFileError(f"cannot read {path}: {exc}; delete the model directory to retrain") from None
