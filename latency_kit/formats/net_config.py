"""OFA ``net.config`` files -> ``ofa-mbv3`` architectures.

A ``net.config`` is the JSON that OFA's ``MobileNetV3`` class writes: a stem
(``first_conv``), a list of ``MobileInvertedResidualBlock`` blocks and a head.
Each block's ``mobile_inverted_conv`` gives kernel, expand ratio and output
width; the stage of a block is the width it outputs. The file does not state
the input resolution (OFA keeps it in a separate ``run.config``), so it is
taken from the ``resolution`` argument, else from an ``image_size`` in a
``run.config``/``run.exp.config`` beside the file, else ``default_resolution``. The file is read as UTF-8 (a byte-order mark is
accepted) and a key repeated within one object is an error naming both lines.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Sequence

from latency_kit.errors import ArchError, CorruptFileError
from latency_kit.spaces.ofa_mbv3 import (FEATURE_MIX, HEAD_EXPAND, STEM_WIDTH, WIDTHS, OFAArch,
                               OFAMobileNetV3)
from latency_kit.formats._common import read_json_file
from latency_kit.formats.checks import quote

RUN_CONFIGS = ("run.config", "run.exp.config")
_PUBLISHED = re.compile(r"lat-(\d+(?:\.\d+)?)ms")


def read_net_config(path: str | Path, resolution: int | None = None,
                    default_resolution: int = 224) -> tuple[OFAArch, str]:
    """The architecture in ``path`` and where its resolution came from."""
    path = Path(path)
    if path.is_dir():
        path = path / "net.config"
    config = read_json_file(path, "net.config")
    if not isinstance(config, dict) or not isinstance(config.get("blocks"), list):
        raise CorruptFileError(f"{path} is not an OFA net.config (no 'blocks' list)")
    stages = _stages(config, path)
    res, where = _resolution(path, resolution, default_resolution)
    space = OFAMobileNetV3()
    return space.validate(OFAArch(stages, res)), where


def published_latency(path: str | Path) -> float | None:
    """The latency in an OFA specialised-net folder name (``note10_lat-30ms_...``)."""
    path = Path(path)
    folder = path.parent.name if path.name == "net.config" else path.name
    match = _PUBLISHED.search(folder)
    return float(match.group(1)) if match else None


def _stages(config: dict[str, Any], path: Path) -> tuple[tuple[tuple[int, int], ...], ...]:
    try:
        stem = int(config["first_conv"]["out_channels"])
        head = int(config["final_expand_layer"]["out_channels"])
        mix = int(config["feature_mix_layer"]["out_channels"])
        convs = [block["mobile_inverted_conv"] for block in config["blocks"]]
        layers = [(int(c["out_channels"]), int(c["kernel_size"]), int(c["expand_ratio"]))
                  for c in convs]
    except (KeyError, TypeError, ValueError) as exc:
        raise CorruptFileError(f"{path} is not an OFA MobileNetV3 net.config: {quote(exc)}") from None
    if (stem, head, mix) != (STEM_WIDTH, HEAD_EXPAND, FEATURE_MIX):
        raise ArchError(
            f"{path} is an OFA MobileNetV3 with stem {stem}, head {head}->{mix}; ofa-mbv3 is the "
            f"w1.2 space (stem {STEM_WIDTH}, head {HEAD_EXPAND}->{FEATURE_MIX})")
    stages: list[list[tuple[int, int]]] = [[] for _ in WIDTHS]
    for width, kernel, expand in layers[1:]:  # layers[0] is the fixed first block
        if width not in WIDTHS:
            raise ArchError(f"{path}: block width {width} is not one of ofa-mbv3's {WIDTHS}")
        stages[WIDTHS.index(width)].append((kernel, expand))
    return tuple(tuple(stage) for stage in stages)


def _resolution(path: Path, resolution: int | None, default: int) -> tuple[int, str]:
    if resolution is not None:
        return int(resolution), "given"
    for name in RUN_CONFIGS:
        run = path.parent / name
        if run.is_file():
            try:
                size = json.loads(run.read_text()).get("image_size")
            except (OSError, json.JSONDecodeError, AttributeError):
                continue
            if isinstance(size, list):
                size = max(size)
            if isinstance(size, int):
                return size, name
    return default, "default"


def check_published(profile: Any, folders: Sequence[str | Path],
                    resolution: int | None = None) -> list[dict[str, Any]]:
    """Sum ``profile``'s LUT over OFA specialised nets and compare with the
    latency published in each folder's name.

    One row per folder: ``net``, ``published_ms`` and either ``skipped`` (why
    the net is not in ``ofa-mbv3``) or ``arch``, ``resolution``,
    ``resolution_from``, ``lut_ms`` and the relative ``error``.
    """
    rows: list[dict[str, Any]] = []
    for folder in folders:
        row: dict[str, Any] = {"net": Path(folder).name, "published_ms": published_latency(folder)}
        try:
            arch, where = read_net_config(folder, resolution)
        except ArchError as exc:
            row["skipped"] = str(exc)
            rows.append(row)
            continue
        lut_ms = float(profile.lut_sum(arch))
        row.update(arch=profile.space.format(arch), resolution=arch.resolution,
                   resolution_from=where, lut_ms=lut_ms)
        if row["published_ms"]:
            row["error"] = lut_ms / row["published_ms"] - 1
        rows.append(row)
    return rows
