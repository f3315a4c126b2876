"""Record the outputs of a fixed set of commands, to check a refactor changes none.

    python benchmarks/golden_outputs.py OUT_DIR       # before the change
    python benchmarks/golden_outputs.py OUT_DIR2      # after it
    diff -r OUT_DIR OUT_DIR2                          # must print nothing

The set (issue 19): ``predict`` and ``nas generate`` on every shipped profile,
``lut export`` in every format, ``space sample`` of every space, and a table
imported from the reference data where it is present. Each command runs in a
fresh ``LATKIT_HOME``; stdout and every file written are kept, stderr is not
(it holds progress bars and host notes) unless the command failed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
REFDATA = REPO.parent / "shared" / "refdata"
# shipped profile -> budgets inside its feasible range (and one above it)
SHIPPED = {"amd-epyc-ort-1t": ("20ms", "60ms", "90ms"),
           "nvidia-h100-torch-cuda": ("0.5ms", "0.9ms", "2ms"),
           "nvidia-h100-torch-cuda-b32-fp16": ("3ms", "7ms", "9ms")}
ARCH = "r224_k3e4-k5e6_k3e3-k3e3_k5e4-k5e4_k7e6-k3e3_k3e3-k3e3"
FORMATS = {"csv": "t.csv", "json": "t.json", "table": "t.table.csv",
           "proxyless-yaml": "t.yaml", "ofa-yaml": "ofa"}


def commands() -> list[tuple[str, list[list[str]]]]:
    """``(name, steps)``: each step is latkit's arguments; ``{out}`` is the command's folder."""
    out: list[tuple[str, list[list[str]]]] = []
    for space in ("ofa-mbv3", "nb201"):
        out.append((f"sample-{space}", [["space", "sample", "--space", space, "-n", "3",
                                         "--seed", "0"]]))
    for profile, budgets in SHIPPED.items():
        flags = [part for budget in budgets for part in ("--budget", budget)]
        out.append((f"shipped-{profile}", [
            ["predict", "--device", profile, "--arch", ARCH, "--json"],
            ["nas", "generate", "--device", profile, *flags, "-n", "2", "--json"],
            *[["lut", "export", "--device", profile, "--format", fmt, "-o", f"{{out}}/{name}"]
              for fmt, name in FORMATS.items()]]))
    if REFDATA.is_dir():  # imported tables: a block LUT and a per-architecture one
        note10 = sorted(str(p) for p in (REFDATA / "ofa" / "note10_lut").glob("*.yaml"))
        pixel3 = [str(REFDATA / "help" / "nasbench201" / "latency" / "pixel3.pt"),
                  "--index", str(REFDATA / "help" / "nasbench201" / "str_arch2idx.pt")]
        for name, fmt, files, space in (("note10", "ofa-yaml", note10, "ofa-mbv3"),
                                        ("pixel3", "help", pixel3, "nb201")):
            steps = [["lut", "import", "--format", fmt, *files, "--name", name, "--json"]]
            steps += [["lut", "export", "--device", name, "--format", f, "-o", f"{{out}}/{n}"]
                      for f, n in FORMATS.items()]
            out.append((f"import-{name}", steps))
    return out


def run(name: str, steps: list[list[str]], root: Path, latkit: str) -> None:
    """Run ``steps`` (latkit arguments) in one fresh home; keep their stdout, exit codes, files."""
    folder = root / name
    folder.mkdir(parents=True)
    home = tempfile.mkdtemp(prefix="latkit-golden-")
    try:
        for number, args in enumerate(steps):
            result = subprocess.run([latkit, *[a.replace("{out}", str(folder)) for a in args]],
                                    capture_output=True, text=True, timeout=900,
                                    env={**os.environ, "LATKIT_HOME": home})
            record(folder, f"{number}.", result, home)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def record(folder: Path, prefix: str, result: subprocess.CompletedProcess, home: str) -> None:
    stdout = (result.stdout.replace(str(folder), "{out}").replace(str(REPO), "{repo}")
              .replace(home, "{home}"))
    (folder / f"{prefix}stdout").write_text(stdout)
    (folder / f"{prefix}exit").write_text(f"{result.returncode}\n")
    if result.returncode != 0:  # the error line is behaviour too
        (folder / f"{prefix}stderr").write_text(result.stderr.replace(str(folder), "{out}"))


def main() -> None:
    root = Path(sys.argv[1])
    if root.exists():
        raise SystemExit(f"{root} exists; give a new folder")
    latkit = str(Path(sys.executable).with_name("latkit"))
    for name, args in commands():
        run(name, args, root, latkit)
        print(name, " ".join(p.read_text().strip() for p in sorted((root / name).glob("*exit"))))


if __name__ == "__main__":
    main()
