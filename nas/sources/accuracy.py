"""Accuracy sources: how good an architecture is (higher is better).

* :class:`TableAccuracy` -- a per-architecture table (``table:PATH``);
* :class:`OFAPredictorAccuracy` -- OFA's published ImageNet top-1 predictor for
  ``ofa-mbv3`` (``ofa-predictor:PATH``); the user supplies the file;
* :class:`ProxyAccuracy` -- a training-free proxy on the real network
  (``proxy[:NAME]``), labelled ``"proxy_score"`` because it is not accuracy;
* any callable or :class:`AccuracySource` subclass registered under the
  ``latkit.accuracy`` entry point, referred to by its entry-point name.

:func:`resolve_accuracy` turns a spec string into one of them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from latency_kit.errors import LatkitError
from latency_kit.spaces import SearchSpace

from nas.sources.base import AccuracySource, ArchTableMixin, file_digest

ENTRY_POINT_GROUP = "latkit.accuracy"
DEFAULT_ACCURACY = "proxy"


class TableAccuracy(ArchTableMixin, AccuracySource):
    """Accuracy per architecture from a CSV or JSON-lines table.

    ``TableAccuracy.from_file(path, space)`` or ``TableAccuracy.from_mapping(space, {arch: acc})``.
    """

    def score_many(self, archs: Sequence[Any]) -> np.ndarray:
        return self.lookup_many(archs)

    def identity(self) -> str:
        return self.table_identity("table")


# -- OFA's accuracy predictor ----------------------------------------------------

_OFA_KEYS = {"0.weight": (400, 128), "0.bias": (400,), "2.weight": (400, 400), "2.bias": (400,),
             "4.weight": (400, 400), "4.bias": (400,), "6.weight": (1, 400), "6.bias": (1,)}
_OFA_KERNELS, _OFA_EXPANDS = (3, 5, 7), (3, 4, 6)


def ofa_predictor_features(ks: Sequence[int], e: Sequence[int], d: Sequence[int], r: int) -> np.ndarray:
    """OFA's 128-D one-hot encoding of ``{ks: [20], e: [20], d: [5], r}``.

    Per slot (5 stages x 4 layers) a kernel one-hot (3, 5, 7) and an expand
    one-hot (3, 4, 6); slots beyond a stage's depth stay all-zero. Then the
    resolution one-hot over 112, 128, ..., 224. Order: 60 kernel + 60 expand + 8.
    """
    ks_hot = np.zeros(60, dtype=np.float32)
    ex_hot = np.zeros(60, dtype=np.float32)
    for stage, depth in enumerate(d):
        for layer in range(int(depth)):
            slot = 4 * stage + layer
            ks_hot[3 * slot + _OFA_KERNELS.index(int(ks[slot]))] = 1.0
            ex_hot[3 * slot + _OFA_EXPANDS.index(int(e[slot]))] = 1.0
    r_hot = np.zeros(8, dtype=np.float32)
    index = (int(r) - 112) // 16
    if not 0 <= index < 8 or (int(r) - 112) % 16:
        raise LatkitError(f"OFA's predictor covers resolutions 112-224 in steps of 16, not {r}")
    r_hot[index] = 1.0
    return np.concatenate([ks_hot, ex_hot, r_hot])


class OFAPredictorAccuracy(AccuracySource):
    """OFA's ImageNet top-1 predictor (an MLP 128-400-400-400-1) on ``ofa-mbv3``.

    The state dict is loaded with ``torch.load(weights_only=True)`` and run in
    numpy, which is faster than torch for these small batches. Scores are
    predicted top-1 as a fraction (about 0.7-0.8).
    """

    def __init__(self, space: SearchSpace, path: str | Path):
        if space.name != "ofa-mbv3":
            raise LatkitError(f"ofa-predictor: only scores the ofa-mbv3 space, not {space.name}")
        super().__init__(space)
        self.path = Path(path)
        self.weights = _load_ofa_state(self.path)
        self._digest = file_digest(self.path)

    def features_many(self, archs: Sequence[Any]) -> np.ndarray:
        rows = []
        for arch in archs:
            spec = self.space.to_json(arch)
            rows.append(ofa_predictor_features(spec["ks"], spec["e"], spec["d"], spec["r"]))
        return np.stack(rows) if rows else np.zeros((0, 128), dtype=np.float32)

    def score_many(self, archs: Sequence[Any]) -> np.ndarray:
        x = self.features_many(archs)
        w = self.weights
        for layer in ("0", "2", "4"):
            x = np.maximum(x @ w[f"{layer}.weight"].T + w[f"{layer}.bias"], 0.0)
        return (x @ w["6.weight"].T + w["6.bias"])[:, 0].astype(float)

    def identity(self) -> str:
        return f"ofa-predictor:{self.path.resolve()}#{self._digest}"


def _load_ofa_state(path: Path) -> dict[str, np.ndarray]:
    import torch

    if not path.is_file():
        raise LatkitError(f"ofa-predictor file {path} does not exist; give the path of OFA's "
                          "acc_predictor.pth state dict")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a bad file
        raise LatkitError(f"cannot load {path} as a torch state dict ({type(exc).__name__}: "
                          f"{str(exc).splitlines()[0] if str(exc) else ''})") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    shapes = {k: tuple(v.shape) for k, v in state.items()} if isinstance(state, dict) else {}
    if shapes != _OFA_KEYS:
        raise LatkitError(f"{path} is not OFA's accuracy predictor: expected keys and shapes "
                          f"{_OFA_KEYS}, got {shapes or type(state).__name__}")
    return {k: v.detach().numpy().astype(np.float64) for k, v in state.items()}


# -- proxies -----------------------------------------------------------------------

class ProxyAccuracy(AccuracySource):
    """A training-free proxy computed on the real network. Not accuracy.

    Scores are cached per architecture because each one runs the network.
    """

    label = "proxy_score"

    def __init__(self, space: SearchSpace, name: str | None = None):
        from nas.sources.proxies import DEFAULT_PROXY, get_proxy

        super().__init__(space)
        self.name = name or DEFAULT_PROXY
        self.proxy = get_proxy(self.name)
        self.expensive = self.proxy.runs_network  # type: ignore[misc]  # per proxy
        self._cache: dict[Any, float] = {}

    def score_many(self, archs: Sequence[Any]) -> np.ndarray:
        out = np.empty(len(archs), dtype=float)
        for i, arch in enumerate(archs):
            value = self._cache.get(arch)
            if value is None:
                value = self._cache[arch] = float(self.proxy(self.space, arch))
            out[i] = value
        return out

    def describe(self) -> str:
        return f"proxy:{self.name} (a proxy, not accuracy)"

    def identity(self) -> str:
        from nas.sources.proxies import proxy_identity

        return f"proxy:{proxy_identity(self.name)}"


# -- entry points ------------------------------------------------------------------

class CallableAccuracy(AccuracySource):
    """Wraps a plain ``callable(space, archs) -> scores`` registered as an entry point.

    The callable may carry ``label`` (default ``"accuracy"``) and ``expensive``
    (default false: set it when each call runs or trains a network).
    """

    def __init__(self, space: SearchSpace, func: Callable[[SearchSpace, Sequence[Any]], Any],
                 name: str, label: str = "accuracy", expensive: bool | None = None):
        super().__init__(space)
        self.func, self.name = func, name
        self.label = label  # type: ignore[misc]  # instance override of the class label
        self.expensive = bool(getattr(func, "expensive", False) if expensive is None  # type: ignore[misc]
                              else expensive)

    def score_many(self, archs: Sequence[Any]) -> np.ndarray:
        scores = np.asarray(self.func(self.space, list(archs)), dtype=float).reshape(-1)
        if scores.shape != (len(archs),):
            raise LatkitError(f"accuracy entry point {self.name!r} returned {scores.size} scores "
                              f"for {len(archs)} architectures")
        return scores

    def identity(self) -> str:
        func = self.func
        where = f"{getattr(func, '__module__', '?')}:{getattr(func, '__qualname__', repr(func))}"
        return f"entry-point:{self.name}={where}"


def accuracy_entry_points() -> dict[str, Any]:
    """Registered ``latkit.accuracy`` entry points by name (not yet loaded)."""
    from importlib.metadata import entry_points

    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def _from_entry_point(name: str, entry: Any, space: SearchSpace) -> AccuracySource:
    obj = entry.load()
    if isinstance(obj, type) and issubclass(obj, AccuracySource):
        return obj(space)
    if callable(obj):
        return CallableAccuracy(space, obj, name, getattr(obj, "label", "accuracy"))
    raise LatkitError(f"accuracy entry point {name!r} ({entry.value}) is neither a callable "
                      "nor an AccuracySource subclass")


def accuracy_forms() -> str:
    """One line listing the valid accuracy specs."""
    from nas.sources.proxies import proxy_names

    plugins = sorted(accuracy_entry_points())
    forms = f"table:PATH, ofa-predictor:PATH, proxy[:NAME] with NAME in {', '.join(proxy_names())}"
    if plugins:
        forms += f", or a registered source: {', '.join(plugins)}"
    return forms


def resolve_accuracy(spec: str | None, space: SearchSpace) -> AccuracySource:
    """The accuracy source for ``--accuracy SPEC`` (``None`` means ``proxy``)."""
    text = (spec or DEFAULT_ACCURACY).strip()
    kind, _, arg = text.partition(":")
    if kind == "table" and arg:
        return TableAccuracy.from_file(arg, space)
    if kind == "ofa-predictor" and arg:
        return OFAPredictorAccuracy(space, arg)
    if kind == "proxy":
        from nas.sources.proxies import proxy_names

        if arg and arg not in proxy_names():
            raise LatkitError(f"unknown proxy {arg!r}; known proxies: {', '.join(proxy_names())}")
        return ProxyAccuracy(space, arg or None)
    plugins = accuracy_entry_points()
    if text in plugins:
        return _from_entry_point(text, plugins[text], space)
    raise LatkitError(f"unknown accuracy source {text!r}; use {accuracy_forms()}")
