"""``latkit predict``: predicted latency of architectures from a device profile."""

from __future__ import annotations

from pathlib import Path

import click

from latency_kit.cli.common import emit_json, json_option, resolution_option

profile_options = [
    click.option("--device", default=None,
                 help="Name of a stored profile (e.g. cpu; see `latkit devices`)."),
    click.option("--profile", "profile_dir", type=click.Path(file_okay=False, path_type=Path),
                 default=None, help="Profile directory (instead of --device)."),
]


def with_profile_options(func):
    for option in reversed(profile_options):
        func = option(func)
    return func


def open_profile(device: str | None, profile_dir: Path | None):
    """The profile that ``--profile`` or ``--device`` names (one of them is required)."""
    from latency_kit.errors import LatkitError
    from latency_kit.profiles.profile import load_profile

    if profile_dir is None and device is None:
        raise LatkitError("give --device NAME (a stored profile) or --profile DIR")
    return load_profile(profile_dir if profile_dir is not None else device)


def predict_rows(profile, texts: list[str], resolution: int | None) -> list[dict]:
    """One ``{"arch", "latency_ms", "lut_sum_ms", ...}`` per architecture string."""
    from latency_kit.api import parse_arch

    archs = [parse_arch(profile.space, t, resolution) for t in texts]
    latency = profile.predict_many(archs)
    lut_sum = profile.lut_sum_many(archs)
    return [{"arch": profile.space.format(a), "latency_ms": float(ms), "lut_sum_ms": float(raw),
             "predictor": profile.predictor_kind, "profile": profile.name}
            for a, ms, raw in zip(archs, latency, lut_sum)]


@click.command()
@with_profile_options
@click.option("--arch", default=None, help="Architecture string of the profile's space.")
@click.option("--arch-file", type=click.File("r"), default=None,
              help="File with one architecture per line ('-' for stdin); prints a JSON list.")
@click.option("--model", "model", default=None, type=click.Path(dir_okay=False),
              help="An ONNX model file instead of --arch: predicted from the device's op table "
                   "(built by `latkit profile --device cpu --ops`).")
@click.option("--shape", "shapes", multiple=True, metavar="NAME=DIMS",
              help="--model: the shape of an input with dynamic dimensions (repeatable).")
@click.option("--threads", type=click.IntRange(min=1), default=None,
              help="--model: the thread count of the op table to use (default 1, or an "
                   "--op-table file's own).")
@click.option("--ops", is_flag=True, help="--model: print the per-operator breakdown.")
@click.option("--op-table", "op_table", default=None, type=click.Path(dir_okay=False),
              help="--model: an op table file (`latkit profile --ops --out DIR` writes "
                   "DIR/ops.json) instead of the device's stored one.")
@resolution_option()
@json_option
def predict(device: str | None, profile_dir: Path | None, arch: str | None, arch_file,
            model: str | None, shapes: tuple[str, ...], threads: int | None, ops: bool,
            op_table: str | None, resolution: int | None, as_json: bool) -> None:
    """Predict whole-network latency (ms) of architectures on a profiled device,
    or of an ONNX model file (--model) from the device's per-operator table."""
    from latency_kit.errors import LatkitError

    if model is not None:
        if arch is not None or arch_file is not None or profile_dir is not None:
            raise LatkitError("--model predicts a model file; drop --arch, --arch-file and --profile")
        return _predict_file(device, model, shapes, threads, ops, op_table, as_json)
    if shapes or ops or op_table:
        raise LatkitError("--shape, --ops and --op-table apply to --model FILE only")
    if (arch is None) == (arch_file is None):
        raise LatkitError("give exactly one of --arch ARCH, --arch-file FILE or --model FILE")
    from latency_kit.measure.anchor import host_note

    profile = open_profile(device, profile_dir)
    note = host_note(profile)
    if note:
        click.echo(note, err=True)
    if arch_file is not None:
        texts = [line.strip() for line in arch_file if line.strip() and not line.startswith("#")]
        emit_json(predict_rows(profile, texts, resolution))  # always a JSON list
        return
    row = predict_rows(profile, [arch], resolution)[0]
    if as_json:
        emit_json(row)
    else:
        click.echo(f"{row['latency_ms']:.3f} ms ({row['predictor']}; LUT sum "
                   f"{row['lut_sum_ms']:.3f} ms; profile {row['profile']})")


def _predict_file(device: str | None, model: str, shapes: tuple[str, ...], threads: int | None,
                  ops: bool, op_table: str | None, as_json: bool) -> None:
    """``latkit predict --model``: flags -> :func:`latency_kit.profiles.optables.predict_model` -> output."""
    from latency_kit.cli.measure_cmd import parse_shapes
    from latency_kit.profiles.optables import op_predictor_at, predict_model

    result = predict_model(model, device, threads, parse_shapes(shapes), table=op_table)
    device = device or op_predictor_at(op_table).table.device
    if as_json:
        data = {"model": model, "device": device, **result.to_dict()}
        if not ops:
            data.pop("ops")
        emit_json(data)
        return
    click.echo(f"{result.latency_ms:.3f} ms predicted on {device} ({result.looked_up} of "
               f"{len(result.nodes)} nodes looked up in the op table, {result.estimated} estimated; "
               f"node sum {result.node_sum_ms:.3f} ms before calibration)")
    if ops:
        from rich.table import Table

        from latency_kit.cli.common import console

        table = Table(title=f"per operator on {device}")
        for column in ("op", "name", "ms", "share", "from"):
            table.add_column(column, justify="right" if column in ("ms", "share") else "left")
        total = result.node_sum_ms or 1.0
        for node in result.nodes:
            table.add_row(node.op_type, node.name, f"{node.ms:.3f}", f"{node.ms / total:.1%}",
                          "table" if node.source == "table" else f"estimated: {node.model}")
        console(stderr=False).print(table)
