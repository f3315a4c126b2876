"""The Pareto front of a trained PNAG model: answers across the range, overlays, a plot.

* :func:`front_rows` -- the model's answers at ``points`` budgets spread over
  its feasible range (what ``latkit nas front`` prints);
* :func:`read_overlay` -- published or baseline points from a CSV file, with
  either an ``arch`` column (costed and scored by the model's own sources) or
  ``cost`` and ``value`` columns, or from OFA ``net.config`` files (one per
  published network, read by :mod:`latency_kit.formats.net_config`);
* :func:`plot_front` -- accuracy (or proxy score) against cost as a PNG, with
  matplotlib (the ``plot`` extra, imported here only);
* :func:`plot_fronts` -- several devices' fronts overlaid on one chart.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from latency_kit.errors import LatkitError

from nas.margin import DEFAULT_LEVEL
from nas.pnag import PNAG, Generation


@dataclass(frozen=True)
class OverlayPoint:
    """One point of an overlay: cost in the model's unit, value in the accuracy
    source's unit, an optional label and architecture string."""

    cost: float
    value: float
    label: str = ""
    arch: str = ""


def front_budgets(model: PNAG, points: int,
                  margin_level: float | None = DEFAULT_LEVEL) -> np.ndarray:
    """``points`` budgets, log-spaced from the cheapest answer (plus the cost's
    margin at ``margin_level``) to the top of the range plus that margin."""
    if points < 2:
        raise LatkitError(f"--points must be at least 2, got {points}")
    factor = model.margin_factor(margin_level)
    low = max(model.feasible_.low, model.front_[0][2] * factor)
    high = max(model.feasible_.high * factor, low)
    return np.clip(np.exp(np.linspace(np.log(low), np.log(high), points)), low, high)


def front_rows(model: PNAG, points: int = 12,
               margin_level: float | None = DEFAULT_LEVEL) -> list[Generation]:
    """The model's answers at :func:`front_budgets` (cheapest to costliest),
    each under the cost's margin at ``margin_level``."""
    return [model.generate(float(b), 1, margin_level)
            for b in front_budgets(model, points, margin_level)]


def read_overlays(paths: Sequence[str | Path], model: PNAG) -> dict[str, list[OverlayPoint]]:
    """Overlays by name: each CSV is one (named after its file); OFA ``net.config``
    files, folders holding one, or a folder of such folders (OFA's
    ``specialized_net_configs``) together form ``"net.config"``, each point
    labelled with its folder's name. A path may be a quoted glob pattern. A
    net.config outside the model's space (OFA's w1.0 nets) is skipped with a
    line on stderr. Raises ``LatkitError`` as :func:`read_overlay` does, or
    when no net.config given is in the space."""
    import glob

    out: dict[str, list[OverlayPoint]] = {}
    configs: list[Path] = []
    for text in paths:
        matches = sorted(glob.glob(str(text))) if glob.has_magic(str(text)) else [str(text)]
        if not matches:
            raise LatkitError(f"overlay {text} matches no file")
        for match in map(Path, matches):
            nested = sorted(p.parent for p in match.glob("*/net.config")) if match.is_dir() else []
            if _is_net_config(match) or nested:
                configs += nested or [match]
            else:
                out[match.stem] = read_overlay(match, model)
    if configs:
        out["net.config"] = _net_config_points(configs, model)
    return out


def _is_net_config(path: Path) -> bool:
    return path.name == "net.config" or (path.is_dir() and (path / "net.config").is_file())


def _net_config_points(paths: list[Path], model: PNAG) -> list[OverlayPoint]:
    import sys

    from latency_kit.formats.net_config import read_net_config
    from latency_kit.spaces import get_space

    ofa = get_space("ofa-mbv3")
    points = []
    for path in paths:
        folder = path if path.is_dir() else path.parent
        try:
            arch, _ = read_net_config(path)
            arch = model.space.parse(ofa.format(arch))
        except LatkitError as exc:
            print(f"skipped {folder.name}: {str(exc)[:200]}", file=sys.stderr)
            continue
        points.append(OverlayPoint(model.cost.cost(arch), model.accuracy.score(arch),
                                   folder.name, model.space.format(arch)))
    if not points:
        raise LatkitError(f"none of the {len(paths)} net.config files describes a "
                          f"{model.space.name} network of this model's space")
    return points


def read_overlay(path: str | Path, model: PNAG) -> list[OverlayPoint]:
    """Points from a CSV with a header naming ``arch``, or ``cost`` and ``value``.

    ``arch`` rows are parsed in the model's space and costed and scored by the
    model's own sources, so they sit on the same axes; ``cost,value`` rows are
    taken as they are (cost in the model's unit). An optional ``label`` column
    names points. Raises ``LatkitError`` for a missing file, a header without
    those columns, a bad architecture or number, or a file with no rows.
    """
    path = Path(path)
    if not path.is_file():
        raise LatkitError(f"overlay {path} does not exist; give a CSV with columns arch, "
                          "or cost and value")
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        fields = [f.strip() for f in reader.fieldnames or []]
        reader.fieldnames = fields
        if "arch" not in fields and not {"cost", "value"} <= set(fields):
            raise LatkitError(f"{path}: the CSV header must name arch, or cost and value; "
                              f"got {fields}")
        rows = list(enumerate(reader, 2))
    if not rows:
        raise LatkitError(f"{path}: no rows")
    points = []
    for line, row in rows:
        label = (row.get("label") or "").strip()
        if "arch" in fields and (row.get("arch") or "").strip():
            try:
                arch = model.space.parse(row["arch"].strip())
            except LatkitError as exc:
                raise LatkitError(f"{path}:{line}: bad {model.space.name} architecture: {exc}") from None
            points.append(OverlayPoint(model.cost.cost(arch), model.accuracy.score(arch), label,
                                       model.space.format(arch)))
            continue
        try:
            cost, value = float(row["cost"]), float(row["value"])
        except (KeyError, TypeError, ValueError):
            raise LatkitError(f"{path}:{line}: cost and value must be numbers") from None
        if not (np.isfinite(cost) and np.isfinite(value)) or cost <= 0:
            raise LatkitError(f"{path}:{line}: cost must be positive and value finite")
        points.append(OverlayPoint(cost, value, label))
    return points


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg", force=True)
        import matplotlib.pyplot as plt
    except ImportError:
        raise LatkitError("plotting needs matplotlib; install it with: pip install 'latkit[plot]'") from None
    return plt


def plot_fronts(fronts: dict[str, tuple[PNAG, Sequence[Generation]]], path: str | Path,
                title: str = "") -> Any:
    """Overlay several devices' fronts, ``{device: (model, answers)}``, and write a PNG.

    Per device, in the order given, two lines share one colour: the stored
    front as a step line (exactly ``model.front_``'s (cost, value) points)
    labelled ``"<device> front"``, then the answers as markers labelled
    ``"<device> answers"``. Returns the figure. Raises ``LatkitError`` when
    the models differ in cost unit, search space or accuracy label (their
    axes would not match), or matplotlib is missing.
    """
    models = [m for m, _ in fronts.values()]
    for attr in ("unit", "label"):
        if len({getattr(m, attr) for m in models}) > 1:
            raise LatkitError(f"the devices' fronts differ in {attr} "
                              f"({', '.join(sorted({getattr(m, attr) for m in models}))}); "
                              "plot devices measured in one unit and scored by one source")
    if len({m.space.name for m in models}) > 1:
        raise LatkitError("the devices' fronts are in different search spaces; plot one space")
    plt = _pyplot()
    first = models[0]
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for k, (device, (model, rows)) in enumerate(fronts.items()):
        colour = colours[k % len(colours)]
        _draw_front(ax, model, rows, colour, f"{device} front", f"{device} answers")
    ax.set_xscale("log")
    ax.set_xlabel(f"cost ({'MAdds' if first.unit == 'madds' else 'ms'}, log scale)")
    ax.set_ylabel(first.label.replace("_", " "))
    return _save(plt, fig, ax, path, title or f"{first.space.name}: fronts of {len(fronts)} devices")


def _draw_front(ax: Any, model: PNAG, rows: Sequence[Generation], colour: str, front_label: str,
                answers_label: str) -> None:
    """The model's stored front as a step line, then the answers in ``rows`` as markers."""
    front = model.front_
    ax.plot([c for _, _, c in front], [v for _, v, _ in front], drawstyle="steps-post",
            color=colour, label=front_label)
    ax.plot([g.best.cost for g in rows], [g.best.value for g in rows], "o", color=colour,
            label=answers_label)


def _save(plt: Any, fig: Any, ax: Any, path: str | Path, title: str) -> Any:
    """Title, grid and legend; write ``fig`` to ``path`` and close it; returns ``fig``."""
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return fig


def plot_front(model: PNAG, rows: Sequence[Generation], path: str | Path,
               overlays: dict[str, list[OverlayPoint]] | None = None, title: str = "") -> Any:
    """Draw the front and write it to ``path`` (PNG); returns the matplotlib figure.

    The figure's first line is the model's stored front, every queried
    architecture that no cheaper one beats, as a step line (its data are
    exactly those points); the second holds the answers in ``rows`` as
    markers; each overlay follows as its own marker set. Needs matplotlib
    (``pip install 'latkit[plot]'``), else raises ``LatkitError``.
    """
    plt = _pyplot()
    unit = "MAdds" if model.unit == "madds" else "ms"
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    _draw_front(ax, model, rows, "tab:blue", "PNAG front (queried)", "answers")
    styles = iter(zip("s^Dvp*", ("tab:orange", "tab:green", "tab:red", "tab:purple",
                                 "tab:brown", "tab:pink")))
    for name, points in (overlays or {}).items():
        marker, color = next(styles, ("x", "tab:gray"))
        ax.plot([p.cost for p in points], [p.value for p in points], marker, color=color,
                linestyle="none", label=name)
        for p in points:
            if p.label:
                ax.annotate(p.label, (p.cost, p.value), fontsize=7, xytext=(3, 3),
                            textcoords="offset points")
    ax.set_xlabel(f"cost ({unit})")
    ax.set_ylabel(model.label.replace("_", " "))
    return _save(plt, fig, ax, path,
                 title or f"{model.space.name}: {model.label.replace('_', ' ')} against cost")
