"""``latkit nas``: train the generator and generate architectures for budgets."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import click

from latency_kit.cli.common import console, emit_json, json_option


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
    """A rich progress display with one bar per training stage, shown from the
    first update on (a stored model is loaded without one)."""
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                               TimeElapsedColumn)

    bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn(), console=console())
    tasks: dict[str, Any] = {}

    def update(stage: str, done: int, total: int) -> None:
        if not tasks:
            bar.start()
        if stage not in tasks:
            tasks[stage] = bar.add_task(stage, total=total)
        bar.update(tasks[stage], completed=done, total=total)

    try:
        yield update
    finally:
        if tasks:
            bar.stop()


def _profile_device(device: str, space: str) -> None:
    """Profile ``device`` (a measurable device with no stored profile), with a progress bar."""
    from latency_kit.api import build_profile
    from latency_kit.backends import backend_class
    from latency_kit.cli.common import progress_bar

    console().print(f"no stored profile {device!r}; profiling it now (once)")
    describe = getattr(backend_class(device), "describe_choice", None)
    if describe is not None:  # gpu: say whether TensorRT or torch-CUDA measures
        console().print(describe())
    with progress_bar(f"profiling {device}") as update:
        build_profile(device, space=space, name=device, progress=update,
                      calibration_progress=lambda done, total, arch: update(
                          done, total, arch, stage="calibration"))


def _load_or_fit(space: str | None, device: str | None, cost_spec: str | None,
                 accuracy_spec: str | None, name: str | None, preset: str, seed: int,
                 retrain: bool = False):
    """The flags' model, stored or trained now: :func:`nas.api.load_or_fit` with the
    CLI's displays (a profiling bar, training bars, notes on stderr)."""
    from nas import api

    with _stage_bars() as update:
        return api.load_or_fit(space, device, cost_spec, accuracy_spec, name=name,
                               preset=preset, seed=seed, retrain=retrain, progress=update,
                               profile=_profile_device,
                               notify=lambda note: click.echo(note, err=True))


@nas.command()
@_source_options
@json_option
def train(space, device, cost_spec, accuracy_spec, name, preset, seed, as_json) -> None:
    """Train the evaluator and generator for a device (or cost source) and store them."""
    model, path, _ = _load_or_fit(space, device, cost_spec, accuracy_spec, name, preset, seed,
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
@click.option("--export", "export_format", type=click.Choice(["onnx", "tflite"]), default=None,
              help="Also write each generated network (tflite needs the mobile extra).")
@click.option("-o", "--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Directory for --export.")
@json_option
def generate(space, device, cost_spec, accuracy_spec, name, preset, seed, budgets, count,
             retrain, export_format, out_dir, as_json) -> None:
    """Generate the best architecture under each budget (trains first if needed).

    Answers come from the model's stored front: the same budget always gets
    the same answer, and a larger budget never a worse one.
    """
    from latency_kit.errors import LatkitError
    from latency_kit.units import parse_budget

    if count < 1:
        raise click.BadParameter("must be at least 1", param_hint="-n")
    if export_format and not out_dir:
        raise LatkitError("--export needs -o DIR to write the networks into")
    parsed = [parse_budget(b) for b in budgets]
    model, path, trained = _load_or_fit(space, device, cost_spec, accuracy_spec, name,
                                          preset, seed, retrain)
    results = [model.generate(b, count) for b in parsed]
    rows = [_result_json(model, r) for r in results]
    if export_format:
        _export(model, results, Path(out_dir), rows, export_format)
    if as_json:
        emit_json(rows)
        return
    _print_answers(model, rows, f"PNAG on {model.space.name}, "
                                f"{'trained and stored in' if trained else 'stored model'} {path}")


@nas.command()
@_source_options
@click.option("--points", type=int, default=12, show_default=True,
              help="Budgets, log-spaced from the cheapest answer to the top of the range.")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), default=None,
              help="Also draw the front as a PNG (needs the plot extra: matplotlib).")
@click.option("--overlay", "overlays", multiple=True, type=click.Path(),
              help="Points to draw with the front: a CSV with columns arch, or cost and value "
                   "(optional label), or OFA net.config files or their folders. Repeatable.")
@click.option("--retrain", is_flag=True, help="Train again even if a cached model matches.")
@json_option
def front(space, device, cost_spec, accuracy_spec, name, preset, seed, points, plot_path,
          overlays, retrain, as_json) -> None:
    """Show the Pareto front: the answers across the feasible range (trains first if needed)."""
    from nas.front import front_rows, plot_front, read_overlays

    model, path, trained = _load_or_fit(space, device, cost_spec, accuracy_spec, name,
                                          preset, seed, retrain)
    extra = read_overlays(overlays, model)
    results = front_rows(model, points)
    rows = [_result_json(model, r) for r in results]
    if plot_path:
        plot_front(model, results, plot_path, extra,
                   title=f"{model.space.name} on {model.cost.describe()['source']}")
    if as_json:
        emit_json(rows)
        return
    _print_answers(model, rows, f"Pareto front of PNAG on {model.space.name}, "
                                f"{'trained and stored in' if trained else 'stored model'} {path}")
    if plot_path:
        console(stderr=False).print(f"plot written to {plot_path}")


def _cost_field(unit: str) -> tuple[str, str]:
    return ("budget_madds", "madds") if unit == "madds" else ("budget_ms", "latency_ms")


def _context(model) -> dict[str, Any]:
    """What every answer carries: the feasible range and what the cost means."""
    info = model.cost.describe()
    out = {"device": info["source"], "unit": model.unit,
           "feasible_low": round(model.feasible_.low, 4),
           "feasible_high": round(model.feasible_.high, 4)}
    for key in ("batch", "precision"):
        if key in info:
            out[key] = info[key]
    return out


def _result_json(model, result) -> dict[str, Any]:
    budget_key, cost_key = _cost_field(model.unit)

    def pick_json(pick) -> dict[str, Any]:
        return {"arch": model.space.format(pick.arch), cost_key: round(pick.cost, 4),
                model.label: round(pick.value, 4)}

    row = {budget_key: result.budget, **pick_json(result.best), **_context(model)}
    if len(result.picks) > 1:
        row["alternatives"] = [pick_json(p) for p in result.picks[1:]]
    if result.note:
        row["note"] = result.note
    return row


def _export(model, results, out_dir: Path, rows: list[dict[str, Any]], fmt: str) -> None:
    """Write each pick as ``<device>_<space>_<budget><unit>[_<rank>].<fmt>``."""
    from latency_kit.convert.onnx import export_onnx

    out_dir.mkdir(parents=True, exist_ok=True)
    device = _file_part(model.cost.describe()["source"])
    for result, row in zip(results, rows):
        for rank, pick in enumerate(result.picks):
            stem = f"{device}_{model.space.name}_{result.budget:g}{model.unit}"
            path = out_dir / (f"{stem}_{rank + 1}.{fmt}" if rank else f"{stem}.{fmt}")
            module, shape = model.space.build(pick.arch), model.space.input_shape(pick.arch)
            if fmt == "tflite":
                from latency_kit.convert.tflite import convert_module

                convert_module(module, shape, path)
            else:
                export_onnx(module, shape, path)
            if rank == 0:
                row[fmt] = str(path)


def _file_part(text: str) -> str:
    """``text`` with characters unsafe in file names replaced by ``-``."""
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in text).strip(".") or "cost"


def _print_answers(model, rows: list[dict[str, Any]], title: str) -> None:
    """The feasible range, a table of answers, then each architecture on one line."""
    from rich.table import Table

    budget_key, cost_key = _cost_field(model.unit)
    label = model.label.replace("_", " ")
    context = _context(model)
    measured = ", ".join(f"{k} {context[k]}" for k in ("batch", "precision") if k in context)
    out = console(stderr=False)
    out.print(f"feasible range {model.feasible_.describe()} on {context['device']}"
              + (f" ({measured})" if measured else "") + f"; {label} from "
              + model.accuracy.describe(), soft_wrap=True, highlight=False)
    out.print(title, soft_wrap=True, highlight=False)
    table = Table()
    for column in ("#", "budget", f"predicted {cost_key.replace('_', ' ')}", label):
        table.add_column(column)
    numbered = []
    for row in rows:
        for i, pick in enumerate([row] + row.get("alternatives", [])):
            numbered.append(pick["arch"])
            table.add_row(str(len(numbered)), model.describe_budget(row[budget_key]) if i == 0 else "",
                          f"{pick[cost_key]:g}", f"{pick[model.label]:.4g}")
    out.print(table)
    for i, arch in enumerate(numbered, 1):
        out.print(f"{i}: {arch}", soft_wrap=True, highlight=False)
    for row in rows:
        if "note" in row:
            out.print(f"note: {row['note']}", soft_wrap=True)
