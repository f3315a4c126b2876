"""What the benchmarks share: where the reference data is, HELP's device split
and NAS-Bench-201 latency tables, and the Note10 setting (OFA's Note10 LUT as
the cost, OFA's predictor as the accuracy, and the flags of the Note10 scripts).

Imported by name (``from _common import ...``): a script's own folder is the
first entry of ``sys.path``, so no script edits the path. Files are read by
the package's readers (:func:`latency_kit.formats.arch_tables.read_index`,
:func:`~latency_kit.formats.arch_tables.read_help`), as ``latkit lut import
--format help`` reads them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from latency_kit.formats.arch_tables import read_help, read_index

# The reference data (HELP, NAS-Bench-201, OFA's files): $LATKIT_REFDATA, else ../shared/refdata.
REFDATA = Path(os.environ.get("LATKIT_REFDATA", Path(__file__).resolve().parents[2] / "shared" / "refdata"))
HELP_TRAIN = ("1080ti_1", "1080ti_32", "1080ti_256", "silver_4114", "silver_4210r", "samsung_a50",
              "pixel3", "essential_ph_1", "samsung_s7",              # HELP meta-train
              "titanx_1", "titanx_32", "titanx_256", "gold_6240")    # HELP meta-valid
HELP_TEST = ("titan_rtx_256", "gold_6226", "fpga", "pixel2", "raspi4", "eyeriss")


def help_nb201(refdata: Path, devices: Iterable[str]) -> tuple[list[str], dict[str, np.ndarray]]:
    """HELP's NAS-Bench-201 tables: the 15,625 cell strings in index order, and
    each device's latency (ms) per architecture in that order."""
    root = refdata / "help" / "nasbench201"
    index = read_index(root / "str_arch2idx.pt")
    archs = [index[i] for i in sorted(index)]
    latency = {}
    for device in devices:
        rows = read_help(root / "latency" / f"{device}.pt", index).rows  # position order
        latency[device] = np.array([float(value) for _, value, _ in rows])
    return archs, latency


def note10_arguments(parser: argparse.ArgumentParser) -> None:
    """The Note10 benchmarks' shared flags: --preset, --seed, --set KEY=VALUE, --strong."""
    parser.add_argument("--preset", default="fast", choices=["fast", "bench", "tiny"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE", help="override one PNAG setting (repeatable)")
    parser.add_argument("--strong", type=int, default=50,
                        help="EVO reference: this many times PNAG's accuracy queries")


def setting_overrides(pairs: Iterable[str]) -> dict[str, Any]:
    """``["archs=500", "seed_share=0.2"]`` -> ``{"archs": 500, "seed_share": 0.2}``."""
    return {k: json.loads(v) for k, _, v in (p.partition("=") for p in pairs)}


def note10_sources(folder: Path) -> tuple[Any, Any, Any] | None:
    """(ofa-mbv3 space, OFA's Note10 LUT imported into ``folder`` as a cost source,
    OFA's published accuracy predictor), or None when the reference data lacks them."""
    luts = sorted((REFDATA / "ofa" / "note10_lut").glob("*_lookup_table.yaml"))
    predictor = REFDATA / "ofa" / "acc_predictor.pth"
    if not luts or not predictor.is_file():
        print(f"Note10 LUTs or predictor not found under {REFDATA}", file=sys.stderr)
        return None
    from latency_kit.formats import import_tables
    from latency_kit.spaces import get_space
    from nas.sources.accuracy import OFAPredictorAccuracy
    from nas.sources.costs import ProfileCost

    space = get_space("ofa-mbv3")
    profile = import_tables("ofa-yaml", luts, "note10", out=Path(folder) / "note10")
    return space, ProfileCost(space, profile), OFAPredictorAccuracy(space, predictor)
