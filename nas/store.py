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
from dataclasses import asdict
from pathlib import Path
from typing import Any, Iterable

import torch

from latency_kit.errors import CorruptFileError
from latency_kit.jsonio import read_json, write_json
from latency_kit.paths import home, profiles_dir

from nas.budget import BudgetContext, FeasibleRange
from nas.evaluator import Evaluator, EvaluatorFit
from nas.generator import Generator
from nas.pnag import ALGORITHM, PNAG, FitReport, Settings, pareto_front

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
    space = model.space
    meta = {
        "schema": SCHEMA,
        "version": VERSION,
        "key": key,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "space": space.name,
        "space_repr": repr(space),
        "cost": model.cost.identity(),
        "unit": model.unit,
        "accuracy": model.accuracy.identity(),
        "label": model.label,
        "settings": asdict(model.settings),
        "extra_context": model.extra_context,
        "feasible": model.feasible_.to_json(),
        "evaluator": model.evaluator_.config,
        "generator": model.generator_.config,
        "evaluator_fit": asdict(model.eval_fit_),
        "report": asdict(model.report_),
        "fallback": space.format(model.fallback_),
        "archive": [[space.format(a), v, c] for a, v, c in model.archive_],
        "front": [[space.format(a), v, c] for a, v, c in model.front_],
    }
    torch.save(model.evaluator_.state_dict(), path / EVALUATOR)
    torch.save(model.generator_.state_dict(), path / GENERATOR)
    write_json(path / META, meta)
    return path


def load(path: str | Path, space: Any, cost: Any, accuracy: Any) -> PNAG:
    """Load a stored model for these sources (the caller checked the key)."""
    path = Path(path)
    meta = read_json(path / META, "nas model metadata")
    if not isinstance(meta, dict) or meta.get("schema") != SCHEMA:
        raise CorruptFileError(f"{path / META} is not a latkit nas model")
    if meta.get("version") != VERSION:
        raise CorruptFileError(f"{path} has nas model version {meta.get('version')}; expected {VERSION}")
    settings = Settings(**meta["settings"])
    model = PNAG(space, cost, accuracy, settings, meta.get("extra_context", []))
    model.feasible_ = FeasibleRange.from_json(meta["feasible"])
    model.context_ = BudgetContext(model.feasible_, model.extra_context)
    model.evaluator_ = Evaluator(**meta["evaluator"])
    model.evaluator_.load_state_dict(_weights(path / EVALUATOR))
    model.evaluator_.eval()
    model.generator_ = Generator(**meta["generator"])
    model.generator_.load_state_dict(_weights(path / GENERATOR))
    model.generator_.eval()
    model.eval_fit_ = EvaluatorFit(**meta["evaluator_fit"])
    model.report_ = FitReport(**meta["report"])
    model.fallback_ = space.parse(meta["fallback"])
    model.archive_ = [(space.parse(a), float(v), float(c)) for a, v, c in meta["archive"]]
    for arch, value, cost_value in model.archive_:
        model.lookups.values[arch] = value
        model.lookups.costs[arch] = cost_value
    model.front_ = pareto_front(model.archive_)
    model.path_ = path
    return model


def _weights(path: Path) -> dict[str, Any]:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError) as exc:
        raise CorruptFileError(f"cannot read {path}: {exc}; delete the model directory to retrain") from None


def load_stored(space: Any, cost: Any, accuracy: Any, settings: Settings,
                name: str | None = None) -> tuple[PNAG, Path] | None:
    """The stored model for these sources and settings and its directory, or ``None``."""
    found = find(cache_key(space, cost, accuracy, settings), cost, name)
    return None if found is None else (load(found, space, cost, accuracy), found)


def load_or_train(space: Any, cost: Any, accuracy: Any, settings: Settings,
                  name: str | None = None, retrain: bool = False,
                  progress: Any = None) -> tuple[PNAG, Path, bool]:
    """The stored model for these sources and settings, else a new one trained and saved.

    Returns ``(model, directory, trained)``. ``retrain`` trains even when a
    stored model matches. Where models live: :func:`default_dir`, :func:`find`.
    """
    stored = None if retrain else load_stored(space, cost, accuracy, settings, name)
    if stored is not None:
        return (*stored, False)
    key = cache_key(space, cost, accuracy, settings)
    model = PNAG(space, cost, accuracy, settings).fit(progress)
    return model, save(model, default_dir(key, cost, name), key), True
