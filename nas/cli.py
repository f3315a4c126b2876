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
        click.option("--device", "devices", multiple=True,
                     help="Device profile for latency (`latkit devices`); a measurable device "
                          "(cpu, gpu, ...) is profiled first if no profile of that name exists. "
                          "Repeatable for generate and front: one answer per device."),
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


def _margin_options(func):
    """``--margin-level`` and ``--no-margin``, read as one ``margin_level``
    argument (``None``: no margin) by :func:`_margin_level`."""
    func = click.option("--no-margin", is_flag=True,
                        help="Compare the predicted cost itself with the budget (no margin "
                             "for the predictor's error).")(func)
    return click.option("--margin-level", type=float, default=0.95, show_default=True,
                        help="Keep a margin for the latency predictor's own error: answers fit "
                             "the budget with this share of held-out networks' errors covered "
                             "(measured and printed with each answer).")(func)


def _margin_level(level: float, off: bool) -> float | None:
    ctx = click.get_current_context()
    if off and ctx.get_parameter_source("margin_level") == click.core.ParameterSource.COMMANDLINE:
        raise click.UsageError("give --margin-level or --no-margin, not both")
    if off:
        return None
    if not 0.0 < level < 1.0:
        raise click.BadParameter(f"must be between 0 and 1 (exclusive), got {level}",
                                 param_hint="--margin-level")
    return level


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
def train(space, devices, cost_spec, accuracy_spec, name, preset, seed, as_json) -> None:
    """Train the evaluator and generator for a device (or cost source) and store them."""
    from latency_kit.errors import LatkitError

    if len(devices) > 1:
        raise LatkitError("nas train takes one --device; nas generate and nas front take several "
                          "(and train each that needs it)")
    device = devices[0] if devices else None
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
                   "Repeatable. NAME=BUDGET (pixel=20ms) is a budget of --device NAME only; a "
                   "plain budget is for every device without NAME= budgets.")
@click.option("-n", "count", type=int, default=1, show_default=True,
              help="Architectures per budget (best first).")
@click.option("--all-fit", "all_fit", is_flag=True,
              help="With several --device: one network that fits every device, each under its "
                   "own budget (the i-th budget of each device together).")
@click.option("--verify", is_flag=True,
              help="Measure each answer end to end on the device (its profile's backend, "
                   "here); if it does not fit the budget, the next answer.")
@click.option("--tries", type=int, default=5, show_default=True,
              help="With --verify: answers to measure per budget at most.")
@click.option("--retrain", is_flag=True, help="Train again even if a cached model matches.")
@_margin_options
@click.option("--export", "export_format", type=click.Choice(["onnx", "tflite"]), default=None,
              help="Also write each generated network (tflite needs the mobile extra).")
@click.option("-o", "--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Directory for --export.")
@json_option
def generate(space, devices, cost_spec, accuracy_spec, name, preset, seed, budgets, count,
             all_fit, verify, tries, retrain, margin_level, no_margin, export_format, out_dir,
             as_json) -> None:
    """Generate the best architecture under each budget (trains first if needed).

    Answers come from the model's stored front: the same budget always gets
    the same answer, and a larger budget never a worse one. With several
    --device, one row per (device, budget); with --all-fit, one network that
    fits them all. Answers keep a margin for the latency predictor's error
    (--margin-level), printed with each one.
    """
    from latency_kit.errors import LatkitError

    level = _margin_level(margin_level, no_margin)
    if count < 1:
        raise click.BadParameter("must be at least 1", param_hint="-n")
    if export_format and not out_dir:
        raise LatkitError("--export needs -o DIR to write the networks into")
    targets = _targets(devices, cost_spec, name)
    plan = _plan(budgets, targets)
    _check_units(plan, cost_spec)
    if verify and all_fit:
        raise LatkitError("--verify measures one device's answers; leave out --all-fit")
    if all_fit:
        _generate_all_fit(space, targets, plan, accuracy_spec, preset, seed, retrain, level,
                          as_json)
        return
    measured = _measurable(targets) if verify else {}
    rows, heads = [], []
    for device in targets:
        model, path, trained = _load_or_fit(space, device, cost_spec, accuracy_spec, name,
                                              preset, seed, retrain)
        results = [model.generate(b, count, level) for b in plan[device]]
        these = [_result_json(model, r, device) for r in results]
        if verify:
            results = _verify(model, measured[device], plan[device], results, these, tries, level)
        if export_format:
            _export(model, results, Path(out_dir), these, export_format)
        rows += these
        heads.append((model, path, trained, these, model.margin(level)))
    if as_json:
        emit_json(rows)
        return
    if len(targets) == 1:
        model, path, trained, _, margin = heads[0]
        _print_answers(model, rows, f"PNAG on {model.space.name}, "
                                    f"{'trained and stored in' if trained else 'stored model'} {path}",
                       margin)
        return
    _print_devices([(m, these, margin) for m, _, _, these, margin in heads])


def _measurable(targets: list[Any]) -> dict[Any, Any]:
    """The backend of each ``--device`` for --verify, checked before any training."""
    from nas.verify import measurable

    return {device: measurable(device) for device in targets}


def _verify(model, target, budgets: list[Any], results: list[Any], rows: list[dict[str, Any]],
            tries: int, level: float | None) -> list[Any]:
    """Measure each row's answers on ``target`` (:mod:`nas.verify`) and put the
    first that fits, with what was measured, into the row; returns the results
    with that pick alone (what --export writes), unchanged where none fit."""
    from dataclasses import replace

    from nas.verify import verify_answer

    _, cost_key = _cost_field(model.unit)
    kept = []
    for budget, result, row in zip(budgets, results, rows):
        with console().status(f"measuring answers for {model.describe_budget(row['budget_ms'])} "
                              f"on {target.device}"):
            checked = verify_answer(model, budget, target, tries, level)
        row["tried"] = [{"arch": model.space.format(p.arch), cost_key: round(p.cost, 4),
                         "measured_ms": round(ms, 4)} for p, ms in checked.tried]
        row["verified"] = checked.pick is not None
        kept.append(replace(result, picks=[checked.pick]) if checked.pick is not None else result)
        if checked.pick is None:
            row["note"] = (f"none of the {len(checked.tried)} best answers measured within "
                           f"the budget on {target.device} (measured "
                           + ", ".join(f"{ms:.3g}" for _, ms in checked.tried)
                           + " ms); raise the budget or --tries")
            continue
        row.update({"arch": model.space.format(checked.pick.arch),
                    cost_key: round(checked.pick.cost, 4),
                    model.label: round(checked.pick.value, 4),
                    "measured_ms": round(checked.measured_ms, 4)})
        row.pop("alternatives", None)
    return kept


def _targets(devices: tuple[str, ...], cost_spec: str | None, name: str | None) -> list[Any]:
    """The devices to answer for (``[None]`` for a single ``--cost`` source); checks the names."""
    from latency_kit.errors import LatkitError
    from nas.devices import check_device_names

    if len(devices) > 1 and cost_spec:
        raise LatkitError("give several --device, or one --cost, not both")
    if len(devices) > 1 and name:
        raise LatkitError("--name stores one model; leave it out with several --device")
    if devices:
        check_device_names(devices)
    return list(devices) or [None]


def _check_units(plan: dict[Any, list[Any]], cost_spec: str | None) -> None:
    """Refuse a budget in the other unit than the cost's before anything trains."""
    from nas.budget import check_unit
    from nas.sources.costs import cost_unit

    unit = cost_unit(cost_spec)
    for budget in (b for budgets in plan.values() for b in budgets):
        check_unit(budget, unit)


def _plan(budgets: tuple[str, ...], targets: list[Any]) -> dict[Any, list[Any]]:
    from latency_kit.errors import LatkitError
    from latency_kit.units import parse_budget
    from nas.devices import budget_plan

    if targets == [None]:
        if any("=" in b for b in budgets):
            raise LatkitError("NAME=BUDGET needs --device NAME; with --cost give plain budgets")
        return {None: [parse_budget(b) for b in budgets]}
    return budget_plan(budgets, targets)


def _generate_all_fit(space, targets, plan, accuracy_spec, preset, seed, retrain, level,
                      as_json) -> None:
    from latency_kit.errors import LatkitError
    from nas.devices import all_fit

    if len(targets) < 2 or None in targets:
        raise LatkitError("--all-fit needs two or more --device")
    counts = {len(b) for b in plan.values()}
    if len(counts) != 1:
        raise LatkitError("--all-fit pairs the i-th budget of each device; give every device "
                          "the same number of budgets")
    models = {d: _load_or_fit(space, d, None, accuracy_spec, None, preset, seed, retrain).model
              for d in targets}
    answers = [all_fit(models, {d: plan[d][i] for d in targets}, level)
               for i in range(counts.pop())]
    first = next(iter(models.values()))
    budget_key, cost_key = _cost_field(first.unit)
    rows = [{"arch": first.space.format(a.arch), first.label: round(a.value, 4),
             "devices": [{"device": d, budget_key: round(a.budgets[d], 4),
                          cost_key: _down(a.costs[d]), **_margin_json(a.margins[d], a.costs[d])}
                         for d in targets],
             "candidates": a.checked, "fitting_all": a.fitting} for a in answers]
    if as_json:
        emit_json(rows)
        return
    from rich.table import Table

    out = console(stderr=False)
    out.print(f"one network for {len(targets)} devices: the most accurate queried network that "
              f"fits every budget; {first.label.replace('_', ' ')} from "
              + first.accuracy.describe(), soft_wrap=True, highlight=False)
    for d in targets:
        if (line := _margin_line(models[d].margin(level), f" ({d})")) is not None:
            out.print(line, soft_wrap=True, highlight=False)
    for i, (row, answer) in enumerate(zip(rows, answers), 1):
        table = Table()
        for column in ("device", "budget", _cost_column(first.unit), "margin"):
            table.add_column(column)
        for d in targets:
            table.add_row(d, models[d].describe_budget(answer.budgets[d]),
                          _cost_cell(first.unit, answer.costs[d]),
                          _margin_cell(answer.margins[d], answer.costs[d]))
        out.print(table)
        out.print(f"{i}: {row['arch']} ({first.label.replace('_', ' ')} {answer.value:.4g}; "
                  f"{answer.fitting} of {answer.checked} queried networks fit all)",
                  soft_wrap=True, highlight=False)


@nas.command()
@_source_options
@click.option("--points", type=int, default=12, show_default=True,
              help="Budgets, log-spaced from the cheapest answer to the top of the range.")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), default=None,
              help="Also draw the front as a PNG (needs the plot extra: matplotlib); with "
                   "several --device, their fronts overlaid.")
@click.option("--overlay", "overlays", multiple=True, type=click.Path(),
              help="Points to draw with the front: a CSV with columns arch, or cost and value "
                   "(optional label), or OFA net.config files or their folders. Repeatable.")
@click.option("--retrain", is_flag=True, help="Train again even if a cached model matches.")
@_margin_options
@json_option
def front(space, devices, cost_spec, accuracy_spec, name, preset, seed, points, plot_path,
          overlays, retrain, margin_level, no_margin, as_json) -> None:
    """Show the Pareto front: the answers across the feasible range (trains first if needed).

    With several --device, each device's front (rows carry the device) and,
    with --plot, all fronts on one chart.
    """
    from latency_kit.errors import LatkitError
    from nas.front import front_rows, plot_front, plot_fronts, read_overlays

    level = _margin_level(margin_level, no_margin)
    targets = _targets(devices, cost_spec, name)
    if len(targets) > 1 and overlays:
        raise LatkitError("--overlay draws points on one device's axes; give one --device")
    fronts, rows, heads = {}, [], []
    for device in targets:
        model, path, trained = _load_or_fit(space, device, cost_spec, accuracy_spec, name,
                                              preset, seed, retrain)
        results = front_rows(model, points, level)
        these = [_result_json(model, r, device) for r in results]
        rows += these
        fronts[device or model.cost.describe()["source"]] = (model, results)
        heads.append((model, path, trained, these, model.margin(level)))
    if plot_path and len(targets) == 1:
        model, results = next(iter(fronts.values()))
        plot_front(model, results, plot_path, read_overlays(overlays, model),
                   title=f"{model.space.name} on {model.cost.describe()['source']}")
    elif plot_path:
        plot_fronts(fronts, plot_path)
    if as_json:
        emit_json(rows)
        return
    if len(targets) == 1:
        model, path, trained, _, margin = heads[0]
        _print_answers(model, rows, f"Pareto front of PNAG on {model.space.name}, "
                                    f"{'trained and stored in' if trained else 'stored model'} {path}",
                       margin)
    else:
        _print_devices([(m, these, margin) for m, _, _, these, margin in heads])
    if plot_path:
        console(stderr=False).print(f"plot written to {plot_path}")


def _cost_field(unit: str) -> tuple[str, str]:
    return ("budget_madds", "madds") if unit == "madds" else ("budget_ms", "latency_ms")


def _cost_column(unit: str) -> str:
    """The answers table's cost header: a latency is predicted, MAdds are counted."""
    return "MAdds" if unit == "madds" else "predicted latency ms"


def _cost_cell(unit: str, value: float) -> str:
    """A cost as the budgets are written: 12.3 (ms) or 295.1M (MAdds)."""
    return f"{value / 1e6:.4g}M" if unit == "madds" else f"{value:g}"


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


def _result_json(model, result, device: str | None = None) -> dict[str, Any]:
    """One answer as JSON; ``device`` (the ``--device`` name) overrides the source's name."""
    budget_key, cost_key = _cost_field(model.unit)

    def pick_json(pick) -> dict[str, Any]:
        return {"arch": model.space.format(pick.arch), cost_key: _down(pick.cost),
                model.label: round(pick.value, 4)}

    row = {budget_key: result.budget, **pick_json(result.best),
           **_margin_json(result.margin, result.best.cost), **_context(model)}
    if device is not None:
        row["device"] = device
    if len(result.picks) > 1:
        row["alternatives"] = [pick_json(p) for p in result.picks[1:]]
    if result.note:
        row["note"] = result.note
    return row


def _margin_json(margin, cost: float) -> dict[str, Any]:
    """The margin kept for an answer of predicted ``cost`` ms (``margin`` is a
    :class:`nas.margin.BudgetMargin` or ``None``)."""
    if margin is None:
        return {"margin_ms": None}
    return {"margin_ms": _down(margin.margin_ms(cost)),
            "margin": {k: round(v, 4) if isinstance(v, float) else v
                       for k, v in margin.to_json().items()}}


def _down(value: float) -> float:
    """``value`` rounded down to 4 decimals, so a printed cost plus its printed
    margin never exceeds the budget that the exact ones fit."""
    from decimal import ROUND_FLOOR, Decimal

    return float(Decimal(repr(float(value))).quantize(Decimal("0.0001"), rounding=ROUND_FLOOR))


def _margin_cell(margin, cost: float) -> str:
    return "none" if margin is None else f"{margin.margin_ms(cost):.3g} ms"


def _margin_line(margin, what: str = "") -> str | None:
    """'margin: ... covers 96.7% of held-out cases (30 calibration networks, ...)'."""
    if margin is None:
        return None
    target = f"target {100 * margin.asked:.3g}%"
    if margin.level < margin.asked:
        target += f", capped at {100 * margin.level:.3g}% by {margin.margin.cases} cases"
    if margin.by_device:
        target += (f"; {margin.margin.devices_covered} of {margin.margin.devices} held-out "
                   f"devices had {100 * margin.level:.3g}% of their networks under it")
    line = (f"margin{what}: predicted ms times {margin.factor:.3f}, so answers fit the budget "
            f"for {100 * margin.coverage:.1f}% of held-out cases ({margin.basis}; {target})")
    if margin.few_groups:
        line += (f"; measured on only {margin.margin.devices} devices, so a device unlike them can "
                 "fall outside: check answers with --verify or `latkit validate`")
    return line


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


def _print_answers(model, rows: list[dict[str, Any]], title: str, margin=None) -> None:
    """The feasible range, a table of answers (each with the ``margin`` kept, a
    :class:`nas.margin.BudgetMargin` or ``None``), then each architecture on one line."""
    from rich.table import Table

    budget_key, cost_key = _cost_field(model.unit)
    label = model.label.replace("_", " ")
    context = _context(model)
    measured = ", ".join(f"{k} {context[k]}" for k in ("batch", "precision") if k in context)
    out = console(stderr=False)
    where = ", MAdds counted on the network" if model.unit == "madds" else f" on {context['device']}"
    out.print(f"feasible range {model.feasible_.describe()}{where}"
              + (f" ({measured})" if measured else "") + f"; {label} from "
              + model.accuracy.describe(), soft_wrap=True, highlight=False)
    out.print(title, soft_wrap=True, highlight=False)
    table = Table()
    for column in ("#", "budget", _cost_column(model.unit), "margin", label):
        table.add_column(column)
    numbered = []
    for row in rows:
        for i, pick in enumerate([row] + row.get("alternatives", [])):
            numbered.append(pick["arch"])
            table.add_row(str(len(numbered)), model.describe_budget(row[budget_key]) if i == 0 else "",
                          _cost_cell(model.unit, pick[cost_key]), _margin_cell(margin, pick[cost_key]),
                          f"{pick[model.label]:.4g}")
    out.print(table)
    if (line := _margin_line(margin)) is not None:
        out.print(line, soft_wrap=True, highlight=False)
    for i, arch in enumerate(numbered, 1):
        out.print(f"{i}: {arch}", soft_wrap=True, highlight=False)
    _print_verified(model, rows)
    for row in rows:
        if "note" in row:
            out.print(f"note: {row['note']}", soft_wrap=True)


def _print_verified(model, rows: list[dict[str, Any]]) -> None:
    """One line per --verify'd answer: what the device measured."""
    budget_key, _ = _cost_field(model.unit)
    for row in rows:
        if row.get("verified"):
            device = f" on {row['device']}" if "device" in row else ""
            console(stderr=False).print(
                f"verified{device}: {model.describe_budget(row[budget_key])} budget, measured "
                f"{row['measured_ms']:.4g} ms end to end ({len(row['tried'])} measured)",
                soft_wrap=True, highlight=False)


def _print_devices(answers: list[tuple[Any, list[dict[str, Any]], Any]]) -> None:
    """Several devices' answers, ``(model, rows, margin)`` per device: one table
    row per (device, budget), then each architecture on one line."""
    from rich.table import Table

    out = console(stderr=False)
    for model, _, margin in answers:
        device = _context(model)['device']
        out.print(f"feasible range {model.feasible_.describe()} on {device}",
                  soft_wrap=True, highlight=False)
        if (line := _margin_line(margin, f" ({device})")) is not None:
            out.print(line, soft_wrap=True, highlight=False)
    table = Table()
    for column in ("#", "device", "budget", "predicted cost", "margin", "value"):
        table.add_column(column, overflow="fold")  # device names wrap, never cut to "nvidia-h100-to…"
    numbered = []
    for model, rows, margin in answers:
        budget_key, cost_key = _cost_field(model.unit)
        for row in rows:
            for i, pick in enumerate([row] + row.get("alternatives", [])):
                numbered.append(pick["arch"])
                table.add_row(str(len(numbered)), row["device"] if i == 0 else "",
                              model.describe_budget(row[budget_key]) if i == 0 else "",
                              model.describe_budget(pick[cost_key]),
                              _margin_cell(margin, pick[cost_key]),
                              f"{pick[model.label]:.4g} ({model.label.replace('_', ' ')})")
    out.print(table)
    for i, arch in enumerate(numbered, 1):
        out.print(f"{i}: {arch}", soft_wrap=True, highlight=False)
    for model, rows, _ in answers:
        _print_verified(model, rows)
    for _, rows, _ in answers:
        for row in rows:
            if "note" in row:
                out.print(f"note ({row['device']}): {row['note']}", soft_wrap=True)
