"""``latkit measure``: end-to-end latency of one whole network (an architecture
of a space, or a model file with ``--model``)."""

from __future__ import annotations

import click

from latency_kit.cli.common import emit_json, json_option, resolution_option, space_option, space_options_for


@click.command()
@click.option("--device", required=True, help="Device to measure on (see `latkit devices`).")
@space_option
@click.option("--arch", default=None, help="Architecture string of the space.")
@click.option("--model", "model", default=None, type=click.Path(dir_okay=False),
              help="A model file instead of --arch: .onnx (--device cpu, tensorrt, gpu) or .tflite "
                   "(--device tflite-cpu, a phone, ssh://user@host).")
@click.option("--shape", "shapes", multiple=True, metavar="NAME=DIMS",
              help="--model: the shape of an input with dynamic dimensions, e.g. input=1x3x224x224 "
                   "(repeatable).")
@click.option("--ops", is_flag=True, help="--model: add a per-operator breakdown from the "
                                          "runtime's profiler (ONNX Runtime on cpu, benchmark_model "
                                          "on a phone, TensorRT's layers on a GPU).")
@resolution_option()
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--batch", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--repeats", type=click.IntRange(min=3), default=30, show_default=True,
              help="Timed batches.")
@click.option("--cuda-graph/--no-cuda-graph", "cuda_graph", default=None,
              help="GPU devices: replay each inference as a CUDA graph (default on); with it "
                   "on, a network that cannot be captured is an error, not a plain-launch time.")
@json_option
def measure(device: str, space: str, arch: str | None, model: str | None, shapes: tuple[str, ...],
            ops: bool, resolution: int | None, threads: int, batch: int,
            repeats: int, cuda_graph: bool | None, as_json: bool) -> None:
    """Measure one architecture end to end and print its median latency.

    With --json the record carries the median (``latency_ms``), its spread
    (p10/p90, IQR, CV, count), what the backend reports about this network
    (``info``: on a GPU, ``launch`` is ``cuda-graph`` or ``eager``) and the
    fingerprint of what was measured. With --model FILE it measures that file
    (input shapes from the model, --shape for dynamic ones) and --ops adds
    the per-operator table.
    """
    from latency_kit.errors import LatkitError

    if (arch is None) == (model is None):
        raise LatkitError("latkit measure takes one of --arch (an architecture of a space) "
                          "or --model FILE")
    if model is None and (shapes or ops):
        raise LatkitError("--shape and --ops apply to --model FILE only")
    if model is not None:
        _measure_file(device, model, shapes, ops, threads, repeats, cuda_graph, as_json)
        return
    from latency_kit.api import measure_arch
    from latency_kit.backends import backend_class, refuse_unused
    from latency_kit.measure.engine import MeasureSettings
    from latency_kit.spaces import get_space

    refuse_unused(backend_class(device), device, cuda_graph=cuda_graph)
    space_obj = get_space(space, **space_options_for(space, [resolution] if resolution else None))
    result = measure_arch(device, space_obj, arch, batch=batch, resolution=resolution,
                          settings=MeasureSettings(repeats=repeats, warmup_ms=200, batch_ms=20),
                          threads=threads, cuda_graph=cuda_graph)
    stats = result.stats
    if as_json:
        emit_json({"arch": result.arch, "device": device, "latency_ms": stats.median_ms,
                   **stats.to_dict(), "info": _plain(result.info), "fingerprint": result.fingerprint})
    else:
        launch = f", {result.info['launch']} launches" if "launch" in result.info else ""
        click.echo(f"{stats.median_ms:.3f} ms (p10 {stats.p10_ms:.3f}, p90 {stats.p90_ms:.3f}, "
                   f"CV {stats.cv:.3f}, n={stats.count}{launch}"
                   f"{', FLAGGED noisy' if stats.flagged else ''})")


def _plain(info: dict) -> dict:
    """The JSON-safe part of a backend's per-model ``info``."""
    return {k: v for k, v in info.items() if isinstance(v, (str, int, float, bool, list, dict))}


def _measure_file(device: str, model: str, shapes: tuple[str, ...], ops: bool, threads: int,
                  repeats: int, cuda_graph: bool | None, as_json: bool) -> None:
    """``latkit measure --model``: flags -> :func:`latency_kit.measure_model` -> output."""
    from latency_kit.backends import backend_class, refuse_unused
    from latency_kit.measure.engine import MeasureSettings
    from latency_kit.measure.model import measure_model

    refuse_unused(backend_class(device), device, cuda_graph=cuda_graph)
    result = measure_model(model, device, shapes=parse_shapes(shapes), threads=threads, ops=ops,
                           settings=MeasureSettings(repeats=repeats, warmup_ms=200, batch_ms=20))
    if as_json:
        emit_json(result.to_dict())
        return
    stats = result.stats
    click.echo(f"{stats.median_ms:.3f} ms (p10 {stats.p10_ms:.3f}, p90 {stats.p90_ms:.3f}, "
               f"CV {stats.cv:.3f}, n={stats.count}{', FLAGGED noisy' if stats.flagged else ''})")
    if result.ops is not None:
        _print_ops(result)


def parse_shapes(values: tuple[str, ...]) -> dict[str, list[int]]:
    """``("input=1x3x224x224", ...)`` -> ``{"input": [1, 3, 224, 224]}``; ``LatkitError`` if malformed."""
    from latency_kit.errors import LatkitError

    shapes = {}
    for value in values:
        name, _, dims = value.rpartition("=")
        try:
            shapes[name] = [int(d) for d in dims.lower().split("x")]
        except ValueError:
            name = ""
        if not name or any(d < 1 for d in shapes.get(name, [0])):
            raise LatkitError(f"--shape {value!r}: expected NAME=DIMS, e.g. input=1x3x224x224")
    return shapes


def _print_ops(result) -> None:
    from rich.table import Table

    from latency_kit.cli.common import console

    table = Table(title=f"per operator: {result.ops_ms:.3f} ms in nodes, "
                        f"{result.stats.median_ms:.3f} ms end to end")
    for column in ("op", "name", "input shapes"):
        table.add_column(column)
    table.add_column("ms", justify="right")
    table.add_column("share", justify="right")
    for op in result.ops:
        table.add_row(op.op_type, op.name, " ".join("x".join(map(str, s)) for s in op.input_shapes),
                      f"{op.ms:.3f}", f"{op.share:.1%}")
    console(stderr=False).print(table)
