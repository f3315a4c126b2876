"""``latkit profile``: measure every block of a space into a device profile."""

from __future__ import annotations

import time
from pathlib import Path

import click

from latency_kit.errors import LatkitError
from latency_kit.measure.load import busy_note, median_cv, spread_advice
from latency_kit.cli.common import console, progress_bar, resolution_option, space_option, space_options_for


@click.command()
@click.option("--device", default=None, help="Device to measure on: cpu (ONNX Runtime), gpu (TensorRT, else torch-CUDA), "
                   "tflite-cpu (LiteRT here), an attached phone's model (pixel), android, "
                   "ssh://user@host, ...")
@space_option
@resolution_option(multiple=True)
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True,
              help="Intra-op threads of the runtime.")
@click.option("--batch", type=click.IntRange(min=1), default=1, show_default=True,
              help="Batch size of every measurement.")
@click.option("--precision", type=click.Choice(["fp32", "fp16", "int8"]), default="fp32",
              show_default=True, help="Numeric precision (GPU devices: gpu, tensorrt, torch-cuda).")
@click.option("--cuda-graph/--no-cuda-graph", "cuda_graph", default=None,
              help="GPU devices: time CUDA-graph replays (the default) or plain launches; a "
                   "model whose capture fails is an error under --cuda-graph.")
@click.option("--name", default=None, help="Profile name (default: derived from the device).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Profile directory (default: $LATKIT_HOME/profiles/NAME).")
@click.option("--calibrate", type=click.IntRange(min=0), default=None, metavar="N",
              help="Whole networks to measure for the latency predictor "
                   "(default 30; 0 skips calibration).")
@click.option("--calibration-processes", type=click.IntRange(min=0), default=None, metavar="N",
              help="Fresh processes that each measure every calibration network, for "
                   "runtimes on this machine (default 3; 0 measures them in this process).")
@click.option("--serial", default=None, help="Android: adb serial of the phone when several match.")
@click.option("--benchmark-binary", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Android: TFLite's prebuilt benchmark_model for the phone's ABI "
                   "(else $LATKIT_BENCHMARK_MODEL or $LATKIT_HOME/config.json).")
@click.option("--delegate", type=click.Choice(["cpu", "xnnpack", "gpu", "nnapi"]), default=None,
              help="Android: TFLite delegate (default cpu = XNNPACK).")
@click.option("--core-mask", default=None, metavar="HEX",
              help="Android: taskset CPU mask (default: the fastest cluster).")
@click.option("--pin-big-cores/--no-pin-big-cores", default=None,
              help="Android: pin benchmark_model to the fastest cores (default on).")
@click.option("--remote-python", default=None,
              help="ssh://: python on the board that has ai-edge-litert (default python3).")
@click.option("--ssh-option", "ssh_options", multiple=True, metavar="KEY=VALUE",
              help="ssh://: extra ssh -o option, e.g. IdentityFile=~/.ssh/pi. Repeatable.")
@click.option("--few-shot", "few_shot", type=click.IntRange(min=1), default=None, metavar="N",
              help="Measure only N reference networks and transfer from --from profiles.")
@click.option("--from", "sources", multiple=True, metavar="PROFILE",
              help="Source profile for --few-shot (same space). Repeatable.")
@click.option("--reanchor", is_flag=True,
              help="Re-measure only the calibration networks of the stored profile --device "
                   "NAME (or --out DIR) on this machine and refit its level; the block table "
                   "is kept and the old calibration file too.")
@click.option("--ops", is_flag=True,
              help="Build the per-operator table instead: profile whole networks in-graph with "
                   "ONNX Runtime's profiler (--device cpu); default networks: the 'train' zoo "
                   "(pip install 'latkit[zoo]') and sampled ofa-mbv3 architectures.")
@click.option("--models", "models_dir", type=click.Path(file_okay=False, exists=True, path_type=Path),
              default=None, help="--ops: profile every .onnx model of this directory.")
@click.option("--zoo", "zoo_name", default=None, metavar="NAME",
              help="--ops: profile the networks of a transformers zoo (train, standard).")
@click.option("--ray", "ray_address", default=None, metavar="ADDRESS|auto",
              help="Split the blocks across the devices of a Ray cluster (pip install "
                   "'latkit[ray]'; nodes join with `latkit farm worker`).")
def profile(device: str | None, space: str, resolution: tuple[int, ...], threads: int, batch: int,
            precision: str, name: str | None, out: Path | None, few_shot: int | None = None,
            sources: tuple[str, ...] = (), calibrate: int | None = None,
            calibration_processes: int | None = None,
            serial: str | None = None, benchmark_binary: Path | None = None,
            delegate: str | None = None, core_mask: str | None = None,
            pin_big_cores: bool | None = None, remote_python: str | None = None,
            ssh_options: tuple[str, ...] = (), ray_address: str | None = None,
            reanchor: bool = False, cuda_graph: bool | None = None, ops: bool = False,
            models_dir: Path | None = None, zoo_name: str | None = None) -> None:
    """Measure every block the space can contain and write a device profile.

    Resumable: interrupt it at any point and rerun the same command.
    With --reanchor, re-measure a stored profile's calibration networks here.
    """
    if (models_dir or zoo_name) and not ops:
        raise LatkitError("--models and --zoo choose the networks of --ops; add --ops")
    if ops:
        if device is None:
            raise click.UsageError("Missing option '--device'.")
        return _profile_ops(device, threads, models_dir, zoo_name, out)
    if reanchor and (out is not None or device is not None):
        return _reanchor(out if out is not None else device, calibration_processes)
    if device is None:
        raise click.UsageError("Missing option '--device'"
                               + (" (the stored profile to re-anchor) or --out DIR" if reanchor
                                  else "."))
    from latency_kit.api import build_profile
    from latency_kit.backends import backend_class, refuse_unused
    from latency_kit.spaces import get_space

    from click.core import ParameterSource

    # --resolution defaults to 224 for ofa-mbv3; only an explicit one is an error elsewhere
    given = click.get_current_context().get_parameter_source("resolution") != ParameterSource.DEFAULT
    get_space(space, **space_options_for(space, resolution if given else ()))  # validate early
    cls = backend_class(device, attached=not ray_address)  # --ray: a worker has the phone
    if precision != "fp32":
        from latency_kit.backends.gpu_settings import check_precision

        refuse_unused(cls, device, precision=precision)
        check_precision(precision)
    refuse_unused(cls, device, cuda_graph=cuda_graph)
    ok, why = cls.available()
    if not ok and not ray_address:  # with --ray the devices are on the cluster's nodes
        raise LatkitError(f"device {device!r} is not usable here: {why}")
    if hasattr(cls, "describe_choice"):
        console().print(cls.describe_choice())
    if few_shot is not None or sources:
        from latency_kit.cli.lut_fewshot_cmd import profile_fewshot

        if ray_address:
            raise LatkitError("--few-shot measures a few networks on one device; drop --ray")
        explicit = click.get_current_context().get_parameter_source("space") != ParameterSource.DEFAULT
        from latency_kit.profiles.names import default_profile_name

        if precision != "fp32":  # until measure/fewshot.py names by precision itself
            name = name or default_profile_name(device, threads, batch, precision)
        return profile_fewshot(device, space if explicit else None, few_shot, sources, name, out,
                               settings=getattr(cls, "measure_settings", None), threads=threads,
                               precision=precision, batch=batch, serial=serial,
                               benchmark_binary=benchmark_binary, delegate=delegate,
                               core_mask=core_mask, pin_big_cores=pin_big_cores,
                               remote_python=remote_python, ssh_options=ssh_options or None,
                               cuda_graph=cuda_graph)
    builder = build_profile
    if ray_address:
        from functools import partial

        from latency_kit.measure.farm import build_profile_ray, connect

        connect(ray_address)  # fails early, naming the extra, when Ray is missing
        builder = partial(build_profile_ray, address=ray_address)
    started = time.perf_counter()
    with progress_bar(f"profiling {device}", heading=busy_note()) as update:
        from latency_kit.measure.calibration import DEFAULT_CALIBRATION, PROCESSES

        result = builder(device=device, space=space, resolutions=resolution, out=out,
                               name=name, threads=threads, batch=batch, progress=update,
                               precision=precision,
                               settings=getattr(cls, "measure_settings", None),
                               serial=serial, benchmark_binary=benchmark_binary,
                               delegate=delegate, core_mask=core_mask,
                               pin_big_cores=pin_big_cores, remote_python=remote_python,
                               ssh_options=ssh_options or None, cuda_graph=cuda_graph,
                               calibrate=DEFAULT_CALIBRATION if calibrate is None else calibrate,
                               calibration_processes=(PROCESSES if calibration_processes is None
                                                      else calibration_processes),
                               calibration_progress=lambda done, total, arch: update(
                                   done, total, arch, stage="calibration"))
    entries = list(result.lut.entries.values())
    cv = median_cv([e.cv for e in entries])
    flagged = sum(e.flagged for e in entries)
    console().print(
        f"profile [bold]{result.name}[/] at {result.path}: {len(result.lut)} entries, "
        f"{time.perf_counter() - started:.1f} s this run, median CV "
        f"{'n/a' if cv is None else f'{cv:.3f}'}, {flagged} flagged, "
        f"predictor: {result.predictor_kind}"
    )
    advice = spread_advice(cv, flagged, len(entries))
    if advice:
        click.echo(advice, err=True)


def _profile_ops(device: str, threads: int, models_dir: Path | None, zoo_name: str | None,
                 out: Path | None) -> None:
    """``latkit profile --ops``: flags -> :func:`latency_kit.measure.optable.profile_ops` -> summary."""
    from latency_kit.measure.optable import profile_ops

    with progress_bar(f"op table of {device}", heading=busy_note()) as update:
        report = profile_ops(device, threads, models_dir=models_dir, zoo_name=zoo_name,
                             out=out / "ops.json" if out else None,
                             progress=lambda done, total, name: update(done, total, name))
    table = report.table
    console().print(f"op table of [bold]{device}[/] at {report.path}: {len(table)} op configurations "
                    f"from {len(table.networks)} networks ({len(report.profiled)} profiled now, "
                    f"{len(report.skipped)} already there), {report.seconds:.1f} s this run")


def _reanchor(name: str | Path, processes: int | None) -> None:
    """``latkit profile --reanchor``: the thin layer over :func:`latency_kit.measure.anchor.reanchor_stored`."""
    from latency_kit.measure.anchor import reanchor_stored
    from latency_kit.measure.calibration import PROCESSES

    with progress_bar(f"re-anchoring {name}") as update:
        done = reanchor_stored(name, PROCESSES if processes is None else processes,
                               progress=update)
    console(stderr=False).print(
        f"re-anchored profile [bold]{done.name}[/] at {done.path}: {done.networks} calibration "
        f"networks measured here ran at {done.level:.3f} of the stored level; the old "
        f"measurements are in {done.previous.name}. Check it with "
        f"`latkit validate --profile {done.path}`.")
