"""The Python entry point of ``latkit nas``: sources by name, then a trained
PNAG from the cache or from training, with the CLI's policy.

Typical use::

    from nas import api
    model, path, trained = api.load_or_fit(device="amd-epyc-ort-1t")   # accuracy: proxy
    model.generate("20ms").best          # what `latkit nas generate` answers

The policy lives here; ``latkit nas`` only maps its flags to these arguments:

* sources (:func:`resolve_sources`): ``--device NAME`` (a stored profile, or a
  measurable device profiled first when a ``profile`` hook is given) or
  ``--cost SPEC`` (:func:`nas.sources.costs.resolve_cost`), in ``--space``
  (default: the profile's own, else ``ofa-mbv3``); ``--accuracy SPEC``
  (:func:`nas.sources.accuracy.resolve_accuracy`, default ``proxy``). A pair
  whose two objectives are one number (MAdds and the ``macs`` proxy) is refused;
* settings: :func:`nas.pnag.settings_for` of the accuracy source, the preset
  and the seed (fewer queries for a source that runs the network);
* the cache: the model stored under the cache key (:mod:`nas.store`) is
  loaded; otherwise PNAG is fitted and saved where :func:`nas.store.default_dir`
  says.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, NamedTuple

from latency_kit.errors import LatkitError
from latency_kit.spaces import SearchSpace, get_space

from nas import store
from nas.pnag import PNAG, Progress, Settings, check_objectives, settings_for
from nas.sources.base import AccuracySource, CostSource

DEFAULT_SPACE = "ofa-mbv3"  # the space of a --cost source or a new profile, unless --space
Notify = Callable[[str], None]
ProfileDevice = Callable[[str, str], None]


class Sources(NamedTuple):
    """The search space and the two objectives' sources (``space`` is ``cost.space``)."""

    space: SearchSpace
    cost: CostSource
    accuracy: AccuracySource


class Fitted(NamedTuple):
    """A trained model, the directory it is stored in, and whether it was trained now."""

    model: PNAG
    path: Path
    trained: bool


def resolve_sources(space: str | SearchSpace | None = None, device: str | None = None,
                    cost: str | CostSource | None = None,
                    accuracy: str | AccuracySource | None = None, *,
                    profile: ProfileDevice | None = None,
                    notify: Notify | None = None) -> Sources:
    """The sources the CLI's ``--space``, ``--device``, ``--cost``, ``--accuracy`` name.

    Give exactly one of ``device`` (a profile name or directory) and ``cost``
    (``table:PATH``, ``madds`` or a :class:`CostSource`). ``space`` is a name
    or a space; ``accuracy`` a spec or a source (``None``: ``proxy``). When
    ``device`` names a measurable device (``cpu``, ``gpu``, ...) with no
    stored profile, ``profile(device, space_name)`` is called first to make
    one (without the hook, the missing profile is an error). ``notify`` gets
    one-line notes for the user (a profile measured on another host).
    Raises ``LatkitError`` for an unknown or inconsistent source.
    """
    if device is not None and cost is None and profile is not None and _unprofiled(device):
        profile(device, space if isinstance(space, str) and space else
                getattr(space, "name", None) or DEFAULT_SPACE)
    space_obj = (get_space(space) if space else None) if isinstance(space, str) else space
    if isinstance(cost, CostSource):
        if device is not None:
            raise LatkitError("give exactly one of a device and a cost source")
        cost_source = cost
    else:
        from nas.sources.costs import resolve_cost

        if space_obj is None and device is None:
            space_obj = get_space(DEFAULT_SPACE)
        cost_source = resolve_cost(cost, device, space_obj)
    note = _host_note(cost_source)
    if note and notify is not None:
        notify(note)
    if not isinstance(accuracy, AccuracySource):
        from nas.sources.accuracy import resolve_accuracy

        accuracy = resolve_accuracy(accuracy, cost_source.space)
    check_objectives(cost_source, accuracy)
    return Sources(cost_source.space, cost_source, accuracy)


def load_or_fit(space: str | SearchSpace | None = None, device: str | None = None,
                cost: str | CostSource | None = None,
                accuracy: str | AccuracySource | None = None, *, name: str | None = None,
                preset: str = "fast", seed: int = 0, settings: Settings | None = None,
                retrain: bool = False, progress: Progress | None = None,
                profile: ProfileDevice | None = None, notify: Notify | None = None) -> Fitted:
    """The stored PNAG for these sources and settings, else one fitted now and saved.

    Sources as in :func:`resolve_sources` (``profile`` and ``notify`` go to
    it). ``settings`` default to :func:`nas.pnag.settings_for` of the accuracy
    source, ``preset`` (``fast``, ``bench``, ``tiny``) and ``seed``. The
    model is looked up under ``name``, with the cost's profile and under
    ``$LATKIT_HOME/nas`` (:func:`nas.store.find`); ``retrain`` fits even when
    one is stored. ``progress(stage, done, total)`` is called while fitting
    only. Raises ``LatkitError`` for bad sources or an unknown preset.
    """
    sources = resolve_sources(space, device, cost, accuracy, profile=profile, notify=notify)
    settings = settings or settings_for(sources.accuracy, preset, seed=seed)
    key = store.cache_key(*sources, settings)
    found = None if retrain else store.find(key, sources.cost, name)
    if found is not None:
        return Fitted(store.load(found, *sources), found, False)
    model = PNAG(*sources, settings).fit(progress)
    return Fitted(model, store.save(model, store.default_dir(key, sources.cost, name), key), True)


def _unprofiled(device: str) -> bool:
    """Whether ``device`` names a measurable device that has no stored profile."""
    from latency_kit.backends import DEVICES
    from latency_kit.profiles.profile import find_profile

    return find_profile(device) is None and device in DEVICES


def _host_note(cost: CostSource) -> str | None:
    """A line when the cost's profile holds another host's ms, else ``None``."""
    from latency_kit.measure.anchor import host_note

    profile = getattr(cost, "profile", None)
    return host_note(profile) if profile is not None else None
