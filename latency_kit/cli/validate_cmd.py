"""``latkit validate``: score a profile's predictor on freshly measured networks."""

from __future__ import annotations

from pathlib import Path

import click

from latency_kit.cli.common import console, emit_json, json_option, progress_bar
from latency_kit.cli.predict_cmd import open_profile, with_profile_options


@click.command()
@with_profile_options
@click.option("-n", "n", type=click.IntRange(min=2), default=30, show_default=True,
              help="Fresh random networks to measure (never calibration networks).")
@click.option("--seed", type=int, default=1, show_default=True, help="Seed of the sampled networks.")
@click.option("--rounds", type=click.IntRange(min=1), default=3, show_default=True,
              help="Interleaved rounds in this process, where networks are not measured "
                   "in fresh processes; each network's value is the median of its rounds.")
@click.option("--processes", type=click.IntRange(min=0), default=3, show_default=True,
              help="Fresh processes that each measure every network, for runtimes on this "
                   "machine; each network's value is the median over them (0: --rounds here).")
@json_option
def validate(device: str | None, profile_dir: Path | None, n: int, seed: int, rounds: int,
             processes: int, as_json: bool) -> None:
    """Measure n fresh networks end to end and compare predictor, LUT sum and MACs fit.

    Prints, per method, the share within ±5% and ±10% of the measured latency,
    the RMSE (ms) and Kendall tau, and how noisy the measured truth itself is.
    """
    from latency_kit.measure.anchor import profile_backend
    from latency_kit.measure.validation import validate_profile

    profile = open_profile(device, profile_dir)
    backend, reopen = profile_backend(profile, device, processes)
    how = (f"median of {processes} fresh processes" if reopen
           else f"median of {rounds} interleaved rounds")
    try:
        with progress_bar(f"validating {profile.name}", n) as update:
            report = validate_profile(profile, backend, n=n, seed=seed, rounds=rounds,
                                      progress=update, reopen=reopen)
    finally:
        backend.close()
    warning = report.level_warning()
    if warning:
        click.echo(warning, err=True)
    if as_json:
        emit_json(report.to_dict())
        return
    from rich.table import Table

    table = Table(title=f"{profile.name}: {n} fresh networks, {how}")
    for column in ("method", "within ±5%", "within ±10%", "RMSE ms", "Kendall τ"):
        table.add_column(column, justify="left" if column == "method" else "right")
    for method, s in report.scores.items():
        table.add_row(method, f"{100 * s['within_5pct']:.1f}%", f"{100 * s['within_10pct']:.1f}%",
                      f"{s['rmse_ms']:.3f}", f"{s['kendall_tau']:.3f}")
    out = console(stderr=False)
    out.print(table)
    out.print(f"The networks ran at {report.predictor_level:.3f} of the predictor's level "
              "(geometric mean of measured / predicted; within ±5% counts it, Kendall τ does not).")
    if report.margin:
        m = report.margin
        out.print(f"Budget margin (what `latkit nas` keeps below a budget): predicted times "
                  f"{m['factor']:.3f}, target {100 * m['level']:.0f}%, covering "
                  f"{100 * m['held_out_coverage']:.1f}% of held-out calibration networks; "
                  f"{m['covered']} of {m['n']} fresh networks measured within it.")
    if report.truth:
        t = report.truth
        out.print(f"The truth's own noise: one process ±{t['process_noise_pct']:.1f}% per network, "
                  f"the median of {t['processes']} ±{t['noise_pct']:.1f}%; a noise-free predictor "
                  f"would reach Kendall τ ≈ {t['kendall_tau_ceiling']:.3f} against it.")
