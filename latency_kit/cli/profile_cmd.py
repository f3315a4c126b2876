"""``latkit profile``: measure every block of a space into a device profile."""

from __future__ import annotations

import inspect
import time
from pathlib import Path

import click

from ..errors import LatkitError
from ._common import console, progress_bar, resolution_option, space_option, space_options_for


@click.command()
@click.option("--device", required=True, help="Device to measure on: cpu (ONNX Runtime), gpu (TensorRT, else torch-CUDA), ...")
@space_option
@resolution_option(multiple=True)
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True,
              help="Intra-op threads of the runtime.")
@click.option("--batch", type=click.IntRange(min=1), default=1, show_default=True,
              help="Batch size of every measurement.")
@click.option("--precision", type=click.Choice(["fp32", "fp16", "int8"]), default="fp32",
              show_default=True, help="Numeric precision (GPU devices: gpu, tensorrt, torch-cuda).")
@click.option("--name", default=None, help="Profile name (default: derived from the device).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Profile directory (default: $LATKIT_HOME/profiles/NAME).")
@click.option("--calibrate", type=click.IntRange(min=0), default=None, metavar="N",
              help="Whole networks to measure for the latency predictor "
                   "(default 30; 0 skips calibration).")
def profile(device: str, space: str, resolution: tuple[int, ...], threads: int, batch: int,
            precision: str, name: str | None, out: Path | None,
            calibrate: int | None = None) -> None:
    """Measure every block the space can contain and write a device profile.

    Resumable: interrupt it at any point and rerun the same command.
    """
    from ..api import build_profile
    from ..backends import backend_class
    from ..spaces import get_space

    get_space(space, **space_options_for(space, resolution))  # validate before measuring
    cls = backend_class(device)
    if precision != "fp32":
        from ..api import default_profile_name
        from ..gpu_settings import check_precision

        if "precision" not in inspect.signature(cls.__init__).parameters:
            raise LatkitError(f"device {device!r} measures fp32 only; --precision is for GPU devices")
        check_precision(precision)
        name = name or f"{default_profile_name(device, threads, batch)}-{precision}"
    ok, why = cls.available()
    if not ok:
        raise LatkitError(f"device {device!r} is not usable here: {why}")
    if hasattr(cls, "describe_choice"):
        console().print(cls.describe_choice())
    started = time.perf_counter()
    with progress_bar(f"profiling {device}") as update:
        from ..calibration import DEFAULT_CALIBRATION

        result = build_profile(device=device, space=space, resolutions=resolution, out=out,
                               name=name, threads=threads, batch=batch, progress=update,
                               precision=precision,
                               calibrate=DEFAULT_CALIBRATION if calibrate is None else calibrate,
                               calibration_progress=lambda done, total, arch: update(
                                   done, total, f"calibration {arch}"))
    cvs = sorted(e.cv for e in result.lut.entries.values())
    flagged = sum(e.flagged for e in result.lut.entries.values())
    console().print(
        f"profile [bold]{result.name}[/] at {result.path}: {len(result.lut)} entries, "
        f"{time.perf_counter() - started:.1f} s this run, median CV {cvs[len(cvs) // 2]:.3f}, "
        f"{flagged} flagged"
    )
