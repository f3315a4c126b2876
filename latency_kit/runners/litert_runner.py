"""Time ``.tflite`` models with LiteRT (XNNPACK); also a standalone remote runner.

The local ``tflite-cpu`` backend imports :func:`load` and :func:`time_invoke`.
The SSH backend copies this very file to a Linux board and runs it there as
``python3 litert_runner.py``: it then reads one JSON request per line on stdin
and answers one JSON line on stdout, so a board pays Python start-up and
model loading once, and only inference is timed, on the board's own clock::

    {"op": "info"}                                -> {"ok": true, "info": {...}}
    {"op": "load", "path": "/tmp/x/m.tflite"}     -> {"ok": true, "id": 1}
    {"op": "run", "id": 1, "iterations": 20}      -> {"ok": true, "ms": 0.41}
    {"op": "unload", "id": 1}                     -> {"ok": true}  (deletes the file)
    {"op": "quit"}                                -> {"ok": true}

It imports nothing from latkit (only numpy and ai_edge_litert), so the board
needs just ``pip install ai-edge-litert``.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
import time
from contextlib import contextmanager
from typing import Any, Iterator


@contextmanager
def quiet_fds() -> Iterator[None]:
    """Silence C++ logs on file descriptors 1 and 2; replay them if the block fails."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        failed = False
        try:
            yield
        except BaseException:
            failed = True
            raise
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
            if failed:
                sink.seek(0)
                sys.stderr.write(sink.read()[-4000:].decode(errors="replace"))


def load(path: str, threads: int = 1) -> Any:
    """An interpreter for ``path`` (XNNPACK, the default delegate) with inputs set."""
    import numpy as np
    from ai_edge_litert.interpreter import Interpreter

    with quiet_fds():  # "INFO: Created TensorFlow Lite XNNPACK delegate for CPU."
        interpreter = Interpreter(model_path=str(path), num_threads=int(threads))
    interpreter.allocate_tensors()
    rng = np.random.default_rng(0)
    for detail in interpreter.get_input_details():
        data = rng.standard_normal(tuple(detail["shape"])).astype(detail["dtype"])
        interpreter.set_tensor(detail["index"], data)
    return interpreter


def time_invoke(interpreter: Any, iterations: int) -> float:
    """Mean milliseconds per ``invoke()`` over ``iterations`` back-to-back runs."""
    invoke = interpreter.invoke
    start = time.perf_counter()
    for _ in range(iterations):
        invoke()
    return (time.perf_counter() - start) * 1e3 / iterations


def runtime_version() -> str:
    from importlib.metadata import version

    return version("ai-edge-litert")


def host_info() -> dict[str, Any]:
    """What the timings depend on, as seen on the machine that runs them."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.lower().startswith(("model name", "hardware", "cpu model")):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    governor = None
    try:
        with open("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor") as handle:
            governor = handle.read().strip()
    except OSError:
        pass
    return {"cpu_model": model, "machine": platform.machine(), "cores": os.cpu_count(),
            "governor": governor, "os": f"{platform.system()} {platform.release()}",
            "python": platform.python_version(), "runtime_version": runtime_version()}


def serve(threads: int, stdin=sys.stdin, stdout=sys.stdout) -> None:
    """Answer JSON-line requests until ``quit`` or end of input."""
    models: dict[int, tuple[str, Any]] = {}
    next_id = 1
    for line in stdin:
        if not line.strip():
            continue
        try:
            request = json.loads(line)
            op = request["op"]
            if op == "info":
                reply: dict[str, Any] = {"ok": True, "info": host_info()}
            elif op == "load":
                models[next_id] = (request["path"], load(request["path"], threads))
                reply = {"ok": True, "id": next_id}
                next_id += 1
            elif op == "run":
                ms = time_invoke(models[int(request["id"])][1], int(request["iterations"]))
                reply = {"ok": True, "ms": ms}
            elif op == "unload":
                path, _ = models.pop(int(request["id"]), (None, None))
                if path and os.path.exists(path):
                    os.unlink(path)
                reply = {"ok": True}
            elif op == "quit":
                stdout.write(json.dumps({"ok": True}) + "\n")
                stdout.flush()
                return
            else:
                reply = {"ok": False, "error": f"unknown op {op!r}"}
        except Exception as exc:  # reported to the caller, which raises
            reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        stdout.write(json.dumps(reply) + "\n")
        stdout.flush()


def main(argv: list[str] | None = None) -> None:
    import argparse

    parser = argparse.ArgumentParser(description="Serve LiteRT timing requests on stdin/stdout.")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    serve(args.threads)


if __name__ == "__main__":
    main()
