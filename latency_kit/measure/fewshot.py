"""Measure a device for a few-shot profile: its reference networks, then the profile.

The profile itself (file, transfer model, loading) is
:mod:`latency_kit.profiles.fewshot`; this module only measures.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Sequence

from latency_kit.backends import open_backend
from latency_kit.backends.base import ModelSpec
from latency_kit.measure.engine import MeasureSettings, measure_interleaved
from latency_kit.profiles.fewshot import FewShotProfile, build_fewshot_profile, reference_archs
from latency_kit.profiles.names import default_profile_name
from latency_kit.profiles.profile import Profile


def measure_fewshot_profile(device: str, sources: Sequence[Profile], n: int,
                            name: str | None = None, out: str | Path | None = None,
                            rounds: int = 3, settings: Any = None, batch: int = 1,
                            on_round: Callable[[int], None] | None = None,
                            **backend_options: Any) -> FewShotProfile:
    """Measure ``n`` reference networks on ``device`` and write a few-shot profile.

    The references are measured interleaved over ``rounds`` rounds
    (:func:`latency_kit.measure.engine.measure_interleaved`), so a slow stretch of the
    machine hits one round of every network rather than all of one.
    """
    space = sources[0].space
    refs = reference_archs(space, sources, n)
    settings = settings or MeasureSettings()
    with open_backend(device, batch=batch, **backend_options) as backend:
        fingerprint = {**backend.fingerprint(), "batch": batch}
        runtime = backend.runtime
        measured = measure_interleaved(backend, [ModelSpec.for_arch(space, a, batch) for a in refs],
                                       rounds=rounds, settings=settings, on_round=on_round)
    name = name or f"{default_profile_name(device, backend_options.get('threads'), batch)}-fewshot"
    return build_fewshot_profile(
        space, sources, [(a, s.median_ms) for a, s in zip(refs, measured)], name, out=out,
        device=device, backend=runtime, fingerprint=fingerprint,
        settings={"rounds": rounds, **settings.to_dict()}, stats=[s.to_dict() for s in measured])
