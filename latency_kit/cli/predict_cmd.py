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
@resolution_option()
@json_option
def predict(device: str | None, profile_dir: Path | None, arch: str | None, arch_file,
            resolution: int | None, as_json: bool) -> None:
    """Predict whole-network latency (ms) of architectures on a profiled device."""
    from latency_kit.errors import LatkitError

    if (arch is None) == (arch_file is None):
        raise LatkitError("give exactly one of --arch ARCH or --arch-file FILE")
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
