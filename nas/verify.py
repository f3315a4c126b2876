"""``--verify``: measure an answer end to end on the device; if it does not fit, the next.

The cost model says an answer fits; the device has the last word. For a
device this machine can measure (the profile's backend: ``cpu``,
``tflite-cpu``, an attached phone, ...), :func:`verify_answer` measures the
budget's answers best first with :func:`latency_kit.api.measure_arch` (the
backend opened with the run options the profile was measured with: threads,
precision, batch, ...) and keeps the first whose measured median is within
the budget.

Typical use::

    target = measurable("cpu")
    checked = verify_answer(model, 8.0, target, tries=5)
    checked.pick, checked.measured_ms, checked.tried
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from latency_kit.errors import LatkitError

from nas.margin import DEFAULT_LEVEL
from nas.pnag import PNAG, Pick

Measure = Callable[[Any], float]


@dataclass(frozen=True)
class Target:
    """A backend to measure on: its device name and the options to open it with."""

    device: str
    options: dict[str, Any] = field(default_factory=dict)

    def measure(self, space: Any, arch: Any) -> float:
        """The end-to-end median latency of ``arch`` (ms)."""
        from latency_kit.api import measure_arch

        return float(measure_arch(self.device, space, arch, **self.options).median_ms)


def measurable(name: str | None) -> Target:
    """The backend that measures the networks of ``--device name``, with its
    profile's run options (threads, precision, batch, ...).

    ``name`` is a stored profile (measured by this machine's backend its
    profile names) or a backend name with no profile yet (it is profiled
    first, then measured as it is). Call it before training, so a device that
    cannot be measured is refused at once. Raises ``LatkitError`` for no
    device (a ``--cost`` source), an imported profile (no device measured it
    here) or a profile whose device has no backend here; a phone that is not
    attached raises the backend's ``DeviceError`` (how to attach it).
    """
    from latency_kit import load_profile
    from latency_kit.backends import DEVICES, backend_class
    from latency_kit.errors import UnknownNameError
    from latency_kit.measure.anchor import RUN_OPTIONS
    from latency_kit.profiles.profile import find_profile

    if not name:
        raise LatkitError("--verify measures on a device: give --device NAME, not --cost")
    if find_profile(name) is None:
        backend_class(name)  # unknown names raise with the known ones
        return Target(name)
    profile = load_profile(name)
    device = profile.device
    imported = profile.meta.get("backend") == "imported"
    try:
        if imported or not device:
            raise UnknownNameError("device", device, [])
        backend_class(device)
    except UnknownNameError:
        where = "was imported from another tool's table" if imported \
            else f"was measured on {device or 'an unknown device'!r}"
        raise LatkitError(f"--verify cannot measure {name!r} here: its profile {where}, not a "
                          f"backend of this machine ({', '.join(sorted(DEVICES))})") from None
    fingerprint = profile.meta.get("fingerprint") or {}
    options = {k: fingerprint[k] for k in RUN_OPTIONS if fingerprint.get(k) is not None}
    if fingerprint.get("batch"):
        options["batch"] = int(fingerprint["batch"])
    return Target(device, options)


@dataclass(frozen=True)
class Verified:
    """The outcome for one budget: ``pick`` is the first answer measured within the
    budget (``None`` when none of the tried ones was), ``measured_ms`` its median,
    ``tried`` every (pick, measured ms) in the order measured."""

    budget: float
    pick: Pick | None
    measured_ms: float | None
    tried: list[tuple[Pick, float]]


def verify_answer(model: PNAG, budget: Any, target: Target | Measure, tries: int = 5,
                  margin_level: float | None = DEFAULT_LEVEL) -> Verified:
    """Measure ``model``'s answers for ``budget`` best first (at most ``tries``:
    the answer and the next most accurate that fit the prediction with the
    cost's margin at ``margin_level``, see :meth:`PNAG.generate`) and stop at
    the first whose measured latency (ms) is within the budget.

    ``target`` is a :class:`Target` or a function arch -> measured ms. Raises
    ``LatkitError`` for a bad budget (as :meth:`PNAG.generate`) or ``tries`` < 1,
    and whatever the backend raises for a device it cannot open.
    """
    if tries < 1:
        raise LatkitError(f"--tries must be at least 1, got {tries}")
    measure = (lambda arch: target.measure(model.space, arch)) if isinstance(target, Target) \
        else target
    result = model.generate(budget, tries, margin_level)
    tried: list[tuple[Pick, float]] = []
    for pick in result.picks:
        ms = float(measure(pick.arch))
        tried.append((pick, ms))
        if ms <= result.budget:
            return Verified(result.budget, pick, ms, tried)
    return Verified(result.budget, None, None, tried)
