"""LiteRT on a Linux board over SSH (``--device ssh://user@host[:port]``).

For a Raspberry Pi, a Jetson or any Linux machine with Python and
``pip install ai-edge-litert``. Uses the system ``ssh``/``scp`` clients with
argument lists (every remote word is quoted with :func:`shlex.quote`), key
authentication only (``BatchMode``), one multiplexed connection
(``ControlMaster``) and your ``~/.ssh/config``; extra ``-o`` options
(``IdentityFile=...``) come from ``ssh_options`` / ``--ssh-option``.

The pipeline: make a private work dir on the board, copy
:mod:`latency_kit.runners.litert_runner` there and start it once; per model,
``scp`` the ``.tflite`` file (converted and cached here) and ask the runner to
load it; ``run_batch`` asks it to time ``n`` inferences on the board's own
clock, so the network never enters a measurement; ``release`` deletes the
model and ``close`` the work dir.

A user's ``.tflite`` file (``latkit measure --model``) is copied as it is. The
board's runner feeds every input at the shape the file loads with, so the
shapes are read here with LiteRT first: a dynamic dimension, or ``--shape``,
is refused in one line (save the file with static shapes, or measure it on
``tflite-cpu`` or a phone, which take ``--shape``). LiteRT's Python
interpreter has no per-operator profiler, so ``--ops`` is refused too.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Sequence
from urllib.parse import urlsplit

from latency_kit.errors import DeviceError, LatkitError
from latency_kit.convert.onnx import cache_name
from latency_kit.convert.tflite import cached_tflite, check_precision, converter_version
from latency_kit.runners import litert_runner
from latency_kit.backends.base import Backend, ModelSpec, Prepared

_NAME = re.compile(r"^[A-Za-z0-9._-]+$")
_HOST = re.compile(r"^[A-Za-z0-9.:-]+$")
_REMOTE_PATH = re.compile(r"^/[A-Za-z0-9._/-]+$")
_OPTION = re.compile(r"^[A-Za-z]+=[^\s]+$")


def parse_ssh_url(url: str) -> tuple[str, str, int]:
    """``ssh://user@host[:port]`` -> (user, host, port), validated."""
    parts = urlsplit(url)
    try:
        port = parts.port or 22
    except ValueError:
        port = -1
    user, host = parts.username or "", parts.hostname or ""
    if (parts.scheme != "ssh" or not _NAME.match(user) or not _HOST.match(host) or not 0 < port < 65536
            or parts.path not in ("", "/") or parts.query or parts.password):
        raise LatkitError(f"invalid SSH device {url!r}; write it as ssh://user@host or ssh://user@host:port")
    return user, host, port


class SSHBackend(Backend):
    """Times ``.tflite`` models with LiteRT (XNNPACK) on a remote Linux machine."""

    name = "ssh"
    runtime = "litert"
    model_formats = (".tflite",)

    def __init__(self, device: str, threads: int = 1, precision: str = "fp32",
                 remote_python: str | None = None, ssh_options: Sequence[str] = (),
                 cache: str | Path | None = None, timeout_s: float = 120.0):
        if threads < 1:
            raise ValueError("threads must be >= 1")
        self.device = device
        self.user, self.host, self.port = parse_ssh_url(device)
        self.threads, self.precision = int(threads), check_precision(precision)
        self.remote_python = remote_python or os.environ.get("LATKIT_REMOTE_PYTHON", "python3")
        if not _REMOTE_PATH.match(self.remote_python) and not _NAME.match(self.remote_python):
            raise LatkitError(f"invalid remote python {self.remote_python!r}; give a plain path")
        for option in ssh_options:
            if not _OPTION.match(option):
                raise LatkitError(f"invalid ssh option {option!r}; write it as Key=Value, e.g. IdentityFile=~/.ssh/pi")
        self.cache, self.timeout_s = cache, timeout_s
        self._control = tempfile.mkdtemp(prefix="lk-ssh-")
        self._options = ["-o", "BatchMode=yes", "-o", "ConnectTimeout=15",
                         "-o", "ServerAliveInterval=5", "-o", "ServerAliveCountMax=3",
                         "-o", "ControlMaster=auto", "-o", f"ControlPath={self._control}/%C",
                         "-o", "ControlPersist=60"]
        for option in ssh_options:
            self._options += ["-o", option]
        self._runner: subprocess.Popen | None = None
        self._stderr = tempfile.TemporaryFile()
        self.workdir = ""
        try:
            self._start()
        except BaseException:
            self.close()
            raise

    # -- transport ------------------------------------------------------------
    @property
    def _dest(self) -> str:
        return f"{self.user}@{self.host}"

    def _ssh_args(self, words: Sequence[str]) -> list[str]:
        remote = " ".join(shlex.quote(w) for w in words)
        return ["ssh", "-p", str(self.port), *self._options, "--", self._dest, remote]

    def _check(self, args: list[str], what: str, timeout: float | None = None) -> str:
        try:
            proc = subprocess.run(args, capture_output=True, text=True,
                                  timeout=timeout or self.timeout_s, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise DeviceError(f"{what} on {self.device} timed out; is the board reachable?") from None
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["no message"])[-1]
            raise DeviceError(f"{what} on {self.device} failed: {last}; check that "
                              f"`ssh -p {self.port} {self._dest}` works without a password")
        return proc.stdout

    def run_remote(self, words: Sequence[str], what: str = "ssh") -> str:
        """Run a command (one quoted word per item) on the board; return its stdout."""
        return self._check(self._ssh_args(words), what)

    def push(self, local: str | Path, remote: str) -> None:
        if not _REMOTE_PATH.match(remote):
            raise LatkitError(f"refusing unsafe remote path {remote!r}")
        host = f"[{self.host}]" if ":" in self.host else self.host
        self._check(["scp", "-q", "-P", str(self.port), *self._options, "--", str(local),
                     f"{self.user}@{host}:{remote}"], "copying a file")

    def _start(self) -> None:
        workdir = self.run_remote(["mktemp", "-d", "/tmp/latkit.XXXXXXXX"], "creating a work dir").strip()
        if not _REMOTE_PATH.match(workdir):
            raise DeviceError(f"unexpected work dir {workdir!r} from {self.device}")
        self.workdir = workdir
        runner = f"{workdir}/litert_runner.py"
        self.push(litert_runner.__file__, runner)
        words = [self.remote_python, "-u", runner, "--threads", str(self.threads)]
        self._runner = subprocess.Popen(self._ssh_args(words), stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=self._stderr, text=True)
        self.info = self.request({"op": "info"})["info"]

    def request(self, message: dict[str, Any]) -> dict[str, Any]:
        """Send one JSON request to the runner and return its reply."""
        runner = self._runner
        if runner is None or runner.stdin is None or runner.stdout is None:
            raise DeviceError(f"the LiteRT runner on {self.device} is not running")
        try:
            runner.stdin.write(json.dumps(message) + "\n")
            runner.stdin.flush()
            line = runner.stdout.readline()
        except (BrokenPipeError, OSError):
            line = ""
        if not line:
            raise DeviceError(f"lost the LiteRT runner on {self.device}: {self._stderr_tail()}; "
                              "rerun the same command to resume (finished entries are kept)")
        reply = json.loads(line)
        if not reply.get("ok"):
            error = str(reply.get("error"))
            if "ai_edge_litert" in error or "ai-edge-litert" in error:
                raise LatkitError(f"{self.remote_python} on {self.device} lacks ai-edge-litert; run "
                                  "`pip install ai-edge-litert` there or pass --remote-python")
            raise DeviceError(f"the LiteRT runner on {self.device} failed: {error}")
        return reply

    def _stderr_tail(self) -> str:
        self._stderr.seek(0)
        lines = self._stderr.read().decode(errors="replace").strip().splitlines()
        useful = [line for line in lines if "XNNPACK" not in line]
        return useful[-1] if useful else "the connection closed"

    # -- Backend interface ----------------------------------------------------
    def fingerprint(self) -> dict[str, Any]:
        info = dict(self.info)
        return {
            "device": self.device, "host": self.host, "transport": "ssh",
            "cpu_model": info.get("cpu_model"), "machine": info.get("machine"),
            "cores": info.get("cores"), "governor": info.get("governor"), "os": info.get("os"),
            "python": info.get("python"), "runtime": self.runtime,
            "runtime_version": info.get("runtime_version"), "converter": converter_version(),
            "delegate": "xnnpack", "threads": self.threads, "precision": self.precision,
            "layout": "nhwc",
        }

    def prepare(self, spec: ModelSpec) -> Prepared:
        info: dict[str, Any] = {}
        if spec.kind == "file":
            local = Path(spec.key)
            info["inputs"] = self.file_shapes(spec)
            remote = f"{self.workdir}/model-{cache_name(str(local.resolve()))}.tflite"
        else:
            local = cached_tflite(spec, self.precision, self.cache)
            remote = f"{self.workdir}/{local.name}"
        self.push(local, remote)
        model_id = self.request({"op": "load", "path": remote})["id"]
        return Prepared(spec, state=model_id, info={"remote": remote, **info})

    def file_shapes(self, spec: ModelSpec) -> dict[str, list[int]]:
        """The static input shapes of the ``.tflite`` file ``spec.key`` (read here
        with LiteRT); ``LatkitError`` for ``--shape`` or a dynamic dimension,
        which the board's runner cannot set."""
        from latency_kit.backends.litert import file_input_shapes

        where = (f"{self.device} runs a .tflite file at the input shapes it was saved with "
                 "(its runner sets none); save the model with static shapes, or measure it "
                 "on tflite-cpu or a phone, which take --shape")
        if spec.input_shapes or spec.input_shape:
            raise LatkitError(f"--shape/--batch: {where}")
        static = ModelSpec.for_file(spec.key)
        try:
            shapes, _ = file_input_shapes(static)
        except LatkitError as exc:
            if "dynamic dimension" not in str(exc):
                raise
            raise LatkitError(f"{str(exc).split(';')[0]}; {where}") from None
        return shapes

    def run_batch(self, prepared: Prepared, iterations: int) -> float:
        return float(self.request({"op": "run", "id": prepared.state, "iterations": int(iterations)})["ms"])

    def release(self, prepared: Prepared) -> None:
        if prepared.state is not None and self._runner is not None and self._runner.poll() is None:
            self.request({"op": "unload", "id": prepared.state})
        prepared.state = None

    def close(self) -> None:
        """Stop the runner, delete the work dir on the board, end the shared connection."""
        runner, self._runner = self._runner, None
        if runner is not None:
            try:
                if runner.poll() is None and runner.stdin is not None:
                    runner.stdin.write(json.dumps({"op": "quit"}) + "\n")
                    runner.stdin.close()
                runner.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                runner.kill()
                runner.wait()
        if self.workdir:
            try:
                self.run_remote(["rm", "-rf", self.workdir], "cleaning up")
            except DeviceError:
                pass
            self.workdir = ""
        if os.path.isdir(self._control):
            subprocess.run(["ssh", "-p", str(self.port), *self._options, "-O", "exit", self._dest], capture_output=True,
                           stdin=subprocess.DEVNULL, timeout=10)
            shutil.rmtree(self._control, ignore_errors=True)
        self._stderr.close()
