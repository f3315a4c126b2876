"""Device profiles: a directory holding a LUT, calibration data and metadata.

Layout of a profile directory::

    profile.json      metadata (schema ``latkit.profile`` v1): name, space and
                      its options, device, backend/runtime, fingerprint,
                      measurement settings, status, build time; read and
                      written only through :class:`ProfileMeta`
    lut.json          the block lookup table (see ``latency_kit.lut``)
    calibration.json  whole-network measurements used to fit the predictor
                      (:mod:`latency_kit.profiles.calibration_file`)
    journal.jsonl     present only while a profiling run is unfinished

``load_profile(name_or_path)`` finds a profile by path, then in the user's
profile dir (``$LATKIT_HOME/profiles``), then among the shipped ones.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from latency_kit.errors import CorruptFileError, LatkitError, UnknownNameError
from latency_kit.jsonio import read_json, write_json
from latency_kit.lut import LatencyTable
from latency_kit.paths import profiles_dir, shipped_profiles_dir
from latency_kit.profiles.calibration_file import FILE as CALIBRATION_FILE, read_calibration
from latency_kit.spaces import SearchSpace, get_space

SCHEMA = "latkit.profile"
VERSION = 1
META_FILE, LUT_FILE, JOURNAL_FILE = "profile.json", "lut.json", "journal.jsonl"
# ``profile.json``'s "kind" selects the class that loads the directory: a block
# LUT with calibration ("lut", the default), a per-architecture table
# ("table"), or a profile transferred from other devices ("fewshot").
PROFILE_KINDS: dict[str, str] = {
    "lut": "latency_kit.profiles.profile:Profile",
    "table": "latency_kit.profiles.table:TableProfile",
    "fewshot": "latency_kit.profiles.fewshot:FewShotProfile",
}


class NotAProfileError(CorruptFileError):
    """``profile.json`` exists but is not a latkit profile's metadata."""


class ProfileMeta(dict):
    """``profile.json``: the one code that builds, reads, checks and writes it.

    A plain ``dict`` of the file's fields, in the file's order (so a profile
    read and written again is unchanged), with the constructors and checks of
    the format. The fields, in order: ``schema``, ``version``, ``kind``
    (absent means ``"lut"``), ``name``, ``space``, ``space_options``,
    ``device``, ``backend``, ``fingerprint``, ``settings``, ``status``
    (``"incomplete"`` or ``"complete"``), then fields a kind or a step adds
    (``build_seconds``, ``anchor``, ``farm``, ``shots``, ``data_digest``).
    """

    @classmethod
    def new(cls, name: str, space: str, device: str, backend: str, *,
            kind: str | None = None, space_options: dict[str, Any] | None = None,
            fingerprint: dict[str, Any] | None = None, settings: dict[str, Any] | None = None,
            status: str = "incomplete", **extra: Any) -> "ProfileMeta":
        """Metadata of a new profile; ``kind=None`` leaves ``kind`` out (a block LUT)."""
        meta = cls(schema=SCHEMA, version=VERSION)
        if kind is not None:
            meta["kind"] = kind
        meta.update(name=name, space=space, space_options=_or_empty(space_options), device=device,
                    backend=backend, fingerprint=_or_empty(fingerprint), settings=_or_empty(settings),
                    status=status)
        meta.update(extra)
        return meta

    @classmethod
    def read(cls, path: Path, *, any_version: bool = False) -> "ProfileMeta":
        """``profile.json`` of the profile directory ``path``, checked.

        Raises :class:`NotAProfileError` when the file is not a latkit
        profile's, :class:`~latency_kit.errors.CorruptFileError` when it is
        missing, unreadable or (unless ``any_version``) of another version.
        """
        data = read_json(path / META_FILE, "profile metadata")
        if not isinstance(data, dict) or data.get("schema") != SCHEMA:
            raise NotAProfileError(f"{path / META_FILE} is not a latkit profile")
        if not any_version and data.get("version") != VERSION:
            raise CorruptFileError(f"{path} has profile version {data.get('version')}; "
                                   f"expected {VERSION}")
        return cls(data)

    def write(self, path: Path) -> None:
        """Write to ``path/profile.json`` atomically."""
        write_json(path / META_FILE, dict(self))

    @property
    def kind(self) -> str:
        """Which class loads the profile (a key of :data:`PROFILE_KINDS`)."""
        return str(self.get("kind", "lut"))

    @property
    def complete(self) -> bool:
        return self.get("status") == "complete"


def _or_empty(value: dict[str, Any] | None) -> dict[str, Any]:
    return {} if value is None else value


class Profile:
    """A loaded device profile. Cheap to load; the predictor is fitted lazily."""

    def __init__(self, path: Path, meta: dict[str, Any], lut: LatencyTable):
        self.path = path
        self.meta = meta if isinstance(meta, ProfileMeta) else ProfileMeta(meta)
        self.lut = lut

    # -- identity --------------------------------------------------------------
    @property
    def name(self) -> str:
        return str(self.meta.get("name") or self.path.name)

    @property
    def device(self) -> str:
        return str(self.meta.get("device", ""))

    @property
    def complete(self) -> bool:
        return self.meta.complete

    @cached_property
    def space(self) -> SearchSpace:
        return get_space(self.meta["space"], **self.meta.get("space_options", {}))

    def parse_arch(self, text: str, **kwargs: Any) -> Any:
        """Parse an architecture string of this profile's space."""
        return self.space.parse(text, **kwargs)

    # -- latency ----------------------------------------------------------------
    def _archs(self, archs: Sequence[Any]) -> list[Any]:
        return [self.parse_arch(a) if isinstance(a, str) else a for a in archs]

    @cached_property
    def features(self):
        """Per-block feature cache (:class:`latency_kit.predict.features.FeatureTable`)."""
        from latency_kit.predict.features import FeatureTable

        return FeatureTable(self.space, self.lut, self.name, runtime=self.meta.get("backend"))

    def lut_sum(self, arch: Any) -> float:
        """Raw sum of the LUT entries of ``arch``'s blocks, in ms."""
        return float(self.lut_sum_many([arch])[0])

    def lut_sum_many(self, archs: Sequence[Any]) -> np.ndarray:
        """Raw LUT sums (ms) of many architectures (objects or strings)."""
        return self.features.lut_sum(self._archs(archs))

    @cached_property
    def linear_fit(self):
        """The predictor's one fit (:func:`latency_kit.predict.ridge.fit_calibration`)
        on ``calibration.json``, or ``None`` when the profile has no calibration
        networks. Numpy only (no scikit-learn import), deterministic, so every
        load refits the same model well under a second."""
        from latency_kit.predict.ridge import fit_calibration

        return fit_calibration(self.features, self.calibration())

    @cached_property
    def predictor(self):
        """:attr:`linear_fit` as a :class:`~latency_kit.predict.predictor.LatencyPredictor`
        (the same fitted object, not a refit: it gives :meth:`predict`'s numbers),
        or ``None`` when the profile has no calibration networks. Imports
        scikit-learn."""
        if self.linear_fit is None:
            return None
        from latency_kit.predict.predictor import LatencyPredictor

        return LatencyPredictor.from_fit(self.linear_fit, self.features.recipe)

    @cached_property
    def held_out_errors(self):
        """The predictor's errors on networks it was not fitted on
        (:class:`~latency_kit.predict.heldout.HeldOutErrors`: log(true ms /
        predicted ms), each calibration network predicted by the fit on the
        others), or ``None`` without 3 calibration networks. What a budget
        margin is built from (:func:`latency_kit.predict.margin.margin_of`)."""
        entries = self.calibration()
        if self.linear_fit is None or len(entries) < 3:
            return None
        from latency_kit.predict.heldout import calibration_errors
        from latency_kit.predict.ridge import calibration_data

        X, y = calibration_data(self.features, entries, self.features.recipe.features)
        return calibration_errors(X, y, self.features.recipe.alphas())

    @property
    def predictor_kind(self) -> str:
        """``"calibrated"`` (LUT features + fitted predictor) or ``"lut-sum"``."""
        return "lut-sum" if self.linear_fit is None else "calibrated"

    @property
    def predictor_identity(self) -> str:
        """How predictions are made from the profile's files (in NAS cache keys).

        A generator trained on one predictor's costs is not reused after the
        predictor changes, even though the files are the same.
        """
        if self.predictor_kind != "calibrated":
            return self.predictor_kind
        from latency_kit.predict.ridge import describe

        return describe(self.features.recipe)

    def predict(self, arch: Any) -> float:
        """Predicted whole-network latency of ``arch`` (object or string) in ms."""
        return float(self.predict_many([arch])[0])

    def predict_many(self, archs: Sequence[Any]) -> np.ndarray:
        """Predicted latency (ms) of many architectures at once.

        The single entry point other profile kinds override. Uses the
        calibrated predictor when the profile has calibration data, else the
        raw LUT sum (see :attr:`predictor_kind`).
        """
        archs = self._archs(archs)
        if self.linear_fit is None:
            return self.features.lut_sum(archs)
        return self.linear_fit.predict(self.features.transform(archs, self.features.recipe.features))

    def predict_model(self, path: str | Path, shapes: dict[str, Sequence[int]] | None = None):
        """Predicted latency of the ONNX model file ``path`` on this profile's device
        (a :class:`~latency_kit.predict.opmodel.ModelPrediction`: ``latency_ms``,
        the per-node estimates and which were looked up), from the device's op
        table at this profile's thread count. Raises ``LatkitError`` when the
        device has no op table (``latkit profile --device D --ops`` builds one).
        """
        from latency_kit.profiles.optables import predict_model

        threads = int(self.meta.get("fingerprint", {}).get("threads") or 1)
        return predict_model(path, self.device, threads, shapes)

    def calibration(self) -> list[dict[str, Any]]:
        """Whole-network measurements stored with the profile (may be empty)."""
        return read_calibration(self.path / CALIBRATION_FILE)

    def __repr__(self) -> str:
        return f"Profile({self.name!r}, space={self.meta.get('space')!r}, entries={len(self.lut)})"

    # -- persistence -----------------------------------------------------------
    @classmethod
    def load(cls, path: str | Path) -> "Profile":
        path = Path(path)
        meta = ProfileMeta.read(path)
        lut_path = path / LUT_FILE
        if lut_path.exists():
            lut = LatencyTable.load(lut_path)
        elif not meta.complete:
            raise LatkitError(f"profile {path} is unfinished; re-run `latkit profile` to complete it")
        else:
            raise CorruptFileError(f"profile {path} has no {LUT_FILE}")
        lut.name = lut.name or str(meta.get("name", path.name))
        return cls(path, meta, lut)


def read_data_file(path: Path, what: str, schema: str, version: int) -> dict[str, Any]:
    """A profile's versioned JSON data file (table, few-shot data), checked."""
    data = read_json(path, what)
    if not isinstance(data, dict) or data.get("schema") != schema or data.get("version") != version:
        raise CorruptFileError(f"{path} is not a latkit {what} v{version}")
    return data


def _candidates(name: str) -> Iterable[Path]:
    yield profiles_dir() / name
    yield shipped_profiles_dir() / name


def known_profiles() -> dict[str, Path]:
    """Stored profile names -> directories (user profiles shadow shipped ones)."""
    found: dict[str, Path] = {}
    for root in (shipped_profiles_dir(), profiles_dir()):
        if root.is_dir():
            for sub in sorted(root.iterdir()):
                if (sub / META_FILE).is_file():
                    found[sub.name] = sub
    return found


def find_profile(name_or_path: str | Path) -> Path | None:
    """The directory of a stored profile, or ``None``."""
    path = Path(name_or_path)
    if (path / META_FILE).is_file():
        return path
    if isinstance(name_or_path, str) and "/" not in name_or_path:
        for candidate in _candidates(name_or_path):
            if (candidate / META_FILE).is_file():
                return candidate
    return None


def open_profile_dir(path: Path) -> Profile:
    """Load the profile at ``path`` with the class its ``kind`` names."""
    from importlib import import_module

    kind = ProfileMeta.read(path, any_version=True).kind
    if kind not in PROFILE_KINDS:
        raise CorruptFileError(f"{path} has unknown profile kind {kind!r}")
    module, attr = PROFILE_KINDS[kind].split(":")
    return getattr(import_module(module), attr).load(path)


def load_profile(name_or_path: str | Path) -> Profile:
    """Load a profile by directory path or by stored name.

    >>> from latency_kit import load_profile
    >>> profile = load_profile("cpu")                  # doctest: +SKIP
    >>> profile.predict(profile.space.sample(0))       # doctest: +SKIP
    7.93
    """
    path = find_profile(name_or_path)
    if path is None:
        raise UnknownNameError("device profile", str(name_or_path), list(known_profiles()))
    return open_profile_dir(path)
