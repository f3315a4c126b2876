"""Check an imported LUT against published latencies: OFA's Note10 tables
summed over OFA's published Note10 nets (both from ../shared/refdata).

    python benchmarks/note10_check.py            # net.config states no resolution: 224
    python benchmarks/note10_check.py --all-resolutions

Prints one row per published ``note10_*`` net: the LUT sum, the published
latency (from the folder name) and the relative error.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from _common import REFDATA

RESOLUTIONS = (160, 176, 192, 208, 224)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--all-resolutions", action="store_true",
                        help="also print the LUT sum at every resolution of the tables")
    args = parser.parse_args(argv)

    from latency_kit.formats import import_tables
    from latency_kit.formats.net_config import check_published

    files = sorted((REFDATA / "ofa" / "note10_lut").glob("*_lookup_table.yaml"))
    folders = sorted((REFDATA / "ofa" / "specialized_net_configs").glob("note10_*"))
    if not files or not folders:
        sys.exit(f"Note10 tables or nets not found under {REFDATA}; set LATKIT_REFDATA")
    with tempfile.TemporaryDirectory() as tmp:
        profile = import_tables("ofa-yaml", files, "note10", out=Path(tmp) / "note10")
        rows = check_published(profile, folders)
        per_res = {r: check_published(profile, folders, resolution=r) for r in RESOLUTIONS}
    print(f"{'net':40} {'published':>9} {'LUT sum':>8} {'error':>7}  res   arch")
    for i, row in enumerate(rows):
        if "skipped" in row:
            print(f"{row['net']:40} {row['published_ms']:9.0f} {'-':>8} {'-':>7}  -     "
                  f"not ofa-mbv3 ({row['skipped'].split(' is an ')[-1].split(';')[0]})")
            continue
        print(f"{row['net']:40} {row['published_ms']:9.0f} {row['lut_ms']:8.2f} "
              f"{row['error']:+7.1%}  {row['resolution']} {row['arch']}")
        if args.all_resolutions:
            sums = "  ".join(f"{r}: {per_res[r][i]['lut_ms']:.2f}" for r in RESOLUTIONS)
            print(f"{'':40} LUT sum per resolution (ms): {sums}")


if __name__ == "__main__":
    main()
