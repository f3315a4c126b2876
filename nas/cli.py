"""``latkit nas``: train the generator and generate architectures for budgets."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import click

from latency_kit.cli._common import console, emit_json, json_option

if TYPE_CHECKING:
    from .pnag import Settings


@click.group()
def nas() -> None:
    """Budget-conditioned architecture generation (PNAG)."""


def _source_options(func):
    options = [
        click.option("--space", default=None,
                     help="Search space (default: the profile's own, else ofa-mbv3)."),
        click.option("--device", default=None,
                     help="Device profile for latency (`latkit devices`); a measurable device "
                          "(cpu, gpu, ...) is profiled first if no profile of that name exists."),
        click.option("--cost", "cost_spec", default=None,
                     help="Cost source instead of a device: table:PATH (ms) or madds."),
        click.option("--accuracy", "accuracy_spec", default=None,
                     help="Accuracy source: table:PATH, ofa-predictor:PATH, proxy[:NAME] or an "
                          "entry-point name. Default: proxy (labelled proxy_score)."),
        click.option("--name", default=None, help="Store/load the trained model under this name."),
        click.option("--preset", type=click.Choice(["fast", "bench", "tiny"]), default="fast",
                     show_default=True,
                     help="Training size: fast (default), bench (benchmarks), tiny (smoke tests)."),
        click.option("--seed", type=int, default=0, show_default=True),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@contextmanager
def _stage_bars() -> Iterator[Any]:
    """A rich progress display with one bar per training stage."""
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                               TimeElapsedColumn)

    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console()) as bar:
        tasks: dict[str, Any] = {}

        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        yield update


def _ensure_profile(device: str, space: str | None) -> None:
    """Profile ``device`` first when it names a backend but no stored profile."""
    from latency_kit.api import build_profile
    from latency_kit.backends import DEVICES, backend_class
    from latency_kit.cli._common import progress_bar
    from latency_kit.profile import find_profile

    if find_profile(device) is not None or device not in DEVICES:
        return
    console().print(f"no stored profile {device!r}; profiling it now (once)")
    describe = getattr(backend_class(device), "describe_choice", None)
    if describe is not None:  # gpu: say whether TensorRT or torch-CUDA measures
        console().print(describe())
    with progress_bar(f"profiling {device}") as update:
        build_profile(device, space=space or "ofa-mbv3", name=device, progress=update)


def cli_settings(preset: str, accuracy: Any, seed: int = 0) -> Settings:
    """The PNAG settings ``latkit nas`` trains with for this preset and accuracy source."""
    from .pnag import settings_from

    overrides: dict[str, Any] = {"seed": seed}
    if preset == "fast" and getattr(accuracy, "label", "") == "proxy_score":
        overrides["archs"] = 100  # a proxy runs the network: keep the default run short
    return settings_from(preset, **overrides)


def _load_or_train(space: str | None, device: str | None, cost_spec: str | None,
                   accuracy_spec: str | None, name: str | None, preset: str, seed: int,
                   retrain: bool = False):
    """Resolve the sources, then load the cached model or train (and store) one."""
    from latency_kit.spaces import get_space

    from . import store
    from .accuracy import resolve_accuracy
    from .costs import resolve_cost
    from .pnag import PNAG

    if device is not None and cost_spec is None:
        _ensure_profile(device, space)
    space_obj = get_space(space) if space else None
    if space_obj is None and device is None:
        space_obj = get_space("ofa-mbv3")
    cost = resolve_cost(cost_spec, device, space_obj)
    space_obj = cost.space
    accuracy = resolve_accuracy(accuracy_spec, space_obj)
    settings = cli_settings(preset, accuracy, seed)
    key = store.cache_key(space_obj, cost, accuracy, settings)
    found = None if retrain else store.find(key, cost, name)
    if found is not None:
        return store.load(found, space_obj, cost, accuracy), found, False
    with _stage_bars() as update:
        model = PNAG(space_obj, cost, accuracy, settings).fit(update)
    path = store.save(model, store.default_dir(key, cost, name), key)
    return model, path, True


@nas.command()
@_source_options
@json_option
def train(space, device, cost_spec, accuracy_spec, name, preset, seed, as_json) -> None:
    """Train the evaluator and generator for a device (or cost source) and store them."""
    model, path, _ = _load_or_train(space, device, cost_spec, accuracy_spec, name, preset, seed,
                                    retrain=True)
    report = model.report_
    summary = {
        "path": str(path),
        "space": model.space.name,
        "cost": model.cost.identity(),
        "accuracy": model.accuracy.identity(),
        "label": model.label,
        "feasible": model.feasible_.to_json() | {"quantiles": None},
        "evaluator_kendall_tau": report.evaluator.get("tau"),
        "accuracy_queries": report.accuracy_queries,
        "seconds": report.seconds,
    }
    if as_json:
        emit_json(summary)
        return
    out = console(stderr=False)
    out.print(f"trained PNAG for {model.space.name} in {report.seconds['total']:.1f} s "
              f"({report.accuracy_queries} {model.label} queries)")
    out.print(f"feasible range {model.feasible_.describe()}; evaluator Kendall tau "
              f"{report.evaluator.get('tau'):.3f} on held-out pairs")
    out.print(f"stored in {path}")


@nas.command()
@_source_options
@click.option("--budget", "budgets", multiple=True, required=True,
              help="Budget: 20ms, '20 ms', 0.02s, 20000us, or 300M (MAdds, with --cost madds). "
                   "Repeatable.")
@click.option("-n", "count", type=int, default=1, show_default=True,
              help="Architectures per budget (best first).")
@click.option("--retrain", is_flag=True, help="Train again even if a cached model matches.")
@click.option("--export", "export_format", type=click.Choice(["onnx"]), default=None,
              help="Also write each generated network.")
@click.option("-o", "--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Directory for --export.")
@json_option
def generate(space, device, cost_spec, accuracy_spec, name, preset, seed, budgets, count,
             retrain, export_format, out_dir, as_json) -> None:
    """Generate the best architecture under each budget (trains first if needed)."""
    from latency_kit.errors import LatkitError
    from latency_kit.units import parse_budget

    if count < 1:
        raise click.BadParameter("must be at least 1", param_hint="-n")
    if export_format and not out_dir:
        raise LatkitError("--export needs -o DIR to write the networks into")
    parsed = [parse_budget(b) for b in budgets]
    model, path, trained = _load_or_train(space, device, cost_spec, accuracy_spec, name,
                                          preset, seed, retrain)
    results = [model.generate(b, count) for b in parsed]
    rows = [_result_json(model, r) for r in results]
    if export_format:
        _export(model, results, Path(out_dir), rows)
    if as_json:
        emit_json(rows)
        return
    _print_table(model, rows, path, trained)


def _cost_field(unit: str) -> tuple[str, str]:
    return ("budget_madds", "madds") if unit == "madds" else ("budget_ms", "latency_ms")


def _result_json(model, result) -> dict[str, Any]:
    budget_key, cost_key = _cost_field(model.unit)

    def pick_json(pick) -> dict[str, Any]:
        return {"arch": model.space.format(pick.arch), cost_key: round(pick.cost, 4),
                model.label: round(pick.value, 4)}

    row = {budget_key: result.budget, **pick_json(result.best)}
    if len(result.picks) > 1:
        row["alternatives"] = [pick_json(p) for p in result.picks[1:]]
    if result.note:
        row["note"] = result.note
    return row


def _export(model, results, out_dir: Path, rows: list[dict[str, Any]]) -> None:
    from latency_kit.export import export_onnx

    out_dir.mkdir(parents=True, exist_ok=True)
    for result, row in zip(results, rows):
        for rank, pick in enumerate(result.picks):
            stem = f"{model.space.name}_{result.budget:g}{'ms' if model.unit == 'ms' else 'madds'}"
            path = out_dir / (f"{stem}_{rank + 1}.onnx" if rank else f"{stem}.onnx")
            export_onnx(model.space.build(pick.arch), model.space.input_shape(pick.arch), path)
            if rank == 0:
                row["onnx"] = str(path)


def _print_table(model, rows: list[dict[str, Any]], path: Path, trained: bool) -> None:
    from rich.table import Table

    budget_key, cost_key = _cost_field(model.unit)
    label = model.label.replace("_", " ")
    table = Table(title=f"PNAG on {model.space.name} ({'trained' if trained else 'cached'}: {path})")
    for column in ("budget", "architecture", f"predicted {cost_key.replace('_', ' ')}", label):
        table.add_column(column, overflow="fold")
    for row in rows:
        picks = [row] + row.get("alternatives", [])
        for i, pick in enumerate(picks):
            table.add_row(model.describe_budget(row[budget_key]) if i == 0 else "", pick["arch"],
                          f"{pick[cost_key]:g}", f"{pick[model.label]:.4g}")
    out = console(stderr=False)
    out.print(table)
    for row in rows:
        if "note" in row:
            out.print(f"note: {row['note']}")
