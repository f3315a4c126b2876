"""Persistence of a trained multi-device generator (:class:`nas.multidevice.MultiDevicePNAG`).

Trained once over several devices, the model then serves any new device from
its reference measurements, in any later process. A stored model is a
directory::

    meta.json        schema ``latkit.nas-multidevice`` v1: the space, the
                     accuracy source's and each training device's cost
                     identity, the settings, the reference architectures,
                     the archive ([arch, accuracy value]) and the networks'
                     configs (:meth:`MultiDevicePNAG.to_state`)
    evaluator.pt     state dict of the evaluator   (torch.load weights_only=True)
    generator.pt     state dict of the generator

The training devices' costs are not stored: loading takes them again (the
same profiles or tables) and rebuilds the pool, the few-shot models and the
margin from them, so the margin is the one the model was trained with. Their
identities must match the stored ones (content, not location, as for
single-device models in :mod:`nas.store`).

Typical use::

    model = MultiDevicePNAG(space, accuracy, costs).fit()
    save(model, "phones-model")
    model = load("phones-model", space, accuracy, costs)   # no training
    answer = model.generate(model.device("phone-x", measured_ms), "20ms")
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Mapping

import torch

from latency_kit.errors import CorruptFileError, LatkitError
from latency_kit.jsonio import read_json, write_json

from nas.multidevice import MultiDevicePNAG
from nas.sources.base import AccuracySource, CostSource
from nas.store import EVALUATOR, GENERATOR, META, content_identity, read_weights

SCHEMA, VERSION = "latkit.nas-multidevice", 1


def save(model: MultiDevicePNAG, path: str | Path) -> Path:
    """Write the fitted ``model`` to the directory ``path`` (created if needed);
    returns it. Raises ``RuntimeError`` for a model that was not fitted."""
    if not hasattr(model, "generator_"):
        raise RuntimeError("save needs a fitted MultiDevicePNAG")
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    meta = {"schema": SCHEMA, "version": VERSION,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **model.to_state()}
    torch.save(model.evaluator_.state_dict(), path / EVALUATOR)
    torch.save(model.generator_.state_dict(), path / GENERATOR)
    write_json(path / META, meta)
    return path


def load(path: str | Path, space: Any, accuracy: AccuracySource,
         costs: Mapping[str, CostSource]) -> MultiDevicePNAG:
    """The model stored in ``path`` for these sources: ``costs`` are the training
    devices' costs by name, as given to :class:`MultiDevicePNAG`.

    Raises ``CorruptFileError`` for a directory that holds no multi-device model
    of this schema and version, or unreadable weights; ``LatkitError`` when the
    space, the accuracy source or a device's costs are not the ones it was
    trained on.
    """
    path = Path(path)
    meta = read_json(path / META, "multi-device model metadata",
                     advice="give the directory that nas.multistore.save wrote")
    if not isinstance(meta, dict) or meta.get("schema") != SCHEMA:
        raise CorruptFileError(f"{path / META} is not a latkit multi-device model")
    if meta.get("version") != VERSION:
        raise CorruptFileError(f"{path} has multi-device model version {meta.get('version')}; "
                               f"expected {VERSION}")
    if meta.get("space_repr") != repr(space):
        raise LatkitError(f"{path} was trained on space {meta.get('space')}, not {space.name}")
    if content_identity(meta["accuracy"]) != content_identity(accuracy.identity()):
        raise LatkitError(f"{path} was trained with accuracy {meta['accuracy'].split('#')[0]}, "
                          f"not {accuracy.identity().split('#')[0]}")
    changed = [name for name, identity in meta["devices"].items()
               if name in costs and content_identity(identity)
               != content_identity(costs[name].identity())]
    if changed:
        raise LatkitError(f"the costs of {', '.join(changed)} changed since {path} was trained; "
                          "retrain the model")
    return MultiDevicePNAG.from_state(space, accuracy, costs, meta,
                                      read_weights(path / EVALUATOR), read_weights(path / GENERATOR))
