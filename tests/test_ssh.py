"""The SSH transport for real: an sshd on 127.0.0.1 with throwaway keys.

The "board" is this machine: sshd listens on a free loopback port, accepts a
key made in ``tmp_path``, and the remote runner is this interpreter
(``sys.executable``), which has ai-edge-litert. Skips when ``sshd`` or
``ssh-keygen`` is not installed (``.ci/system-deps`` installs openssh-server).
"""

from __future__ import annotations

import getpass
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from latency_kit.backends import backend_class, open_backend
from latency_kit.backends.litert import litert_available
from latency_kit.backends.ssh import SSHBackend, parse_ssh_url
from latency_kit.measure.engine import measure
from latency_kit.errors import DeviceError, LatkitError
from latency_kit.measure.blocks import ProfileJob, profile_blocks
from latency_kit.spaces.ofa_mbv3 import OFAMobileNetV3

from latency_kit.testing.backends import FAST, HEAD, SMALL, BackendSuite, block_spec
from tests.test_backend_litert import tflite_cache  # noqa: F401  (shared conversion cache)

SSHD = shutil.which("sshd") or ("/usr/sbin/sshd" if os.path.exists("/usr/sbin/sshd") else None)
KEYGEN = shutil.which("ssh-keygen")
needs_sshd = pytest.mark.skipif(
    not (SSHD and KEYGEN and shutil.which("ssh") and shutil.which("scp")),
    reason="sshd/ssh-keygen/ssh/scp not installed (apt-get install openssh-server openssh-client)")
needs_litert = pytest.mark.skipif(not litert_available()[0], reason=litert_available()[1])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def sshd(tmp_path_factory):
    """A running sshd on loopback; yields (device URL, client ssh options)."""
    if not (SSHD and KEYGEN):
        pytest.skip("sshd not installed (apt-get install openssh-server)")
    tmp = tmp_path_factory.mktemp("sshd")
    for name in ("host_key", "user_key"):
        subprocess.run([KEYGEN, "-q", "-t", "ed25519", "-N", "", "-f", str(tmp / name)], check=True)
    shutil.copy(tmp / "user_key.pub", tmp / "authorized_keys")
    port = _free_port()
    (tmp / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {tmp / 'host_key'}\n"
        f"AuthorizedKeysFile {tmp / 'authorized_keys'}\nPidFile {tmp / 'sshd.pid'}\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n"
        "StrictModes no\nPermitRootLogin prohibit-password\nSubsystem sftp internal-sftp\n")
    if os.geteuid() == 0:
        os.makedirs("/run/sshd", exist_ok=True)  # privilege separation dir Debian's sshd expects
    proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(tmp / "sshd_config")],
                            stdout=subprocess.DEVNULL, stderr=open(tmp / "sshd.log", "w"))
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.1)
    if proc.poll() is not None:
        pytest.skip(f"sshd did not start: {(tmp / 'sshd.log').read_text().strip()[-300:]}")
    host_pub = (tmp / "host_key.pub").read_text().split()
    (tmp / "known_hosts").write_text(f"[127.0.0.1]:{port} {host_pub[0]} {host_pub[1]}\n")
    options = (f"IdentityFile={tmp / 'user_key'}", "IdentitiesOnly=yes",
               f"UserKnownHostsFile={tmp / 'known_hosts'}", "StrictHostKeyChecking=yes")
    yield f"ssh://{getpass.getuser()}@127.0.0.1:{port}", options, tmp
    proc.terminate()
    proc.wait(timeout=10)


class TwoBlocks(OFAMobileNetV3):
    """ofa-mbv3 at 224 px restricted to two real blocks, to keep the test short."""

    def all_blocks(self):
        return [b for b in super().all_blocks() if b.key in (SMALL, HEAD)]


@pytest.fixture(scope="module")
def board(sshd, tflite_cache):  # noqa: F811
    """One connection to the loopback "board" for the shared suite's tests."""
    url, options, _ = sshd
    with SSHBackend(url, remote_python=sys.executable, ssh_options=options,
                    cache=tflite_cache) as backend:
        yield backend


@needs_sshd
@needs_litert
class TestSSH(BackendSuite):
    registered_as = "ssh://user@board"

    @pytest.fixture
    def backend(self, board):
        return board


def test_url_parsing() -> None:
    assert parse_ssh_url("ssh://pi@raspberrypi.local") == ("pi", "raspberrypi.local", 22)
    assert parse_ssh_url("ssh://me@10.0.0.5:2222") == ("me", "10.0.0.5", 2222)
    for bad in ("ssh://raspberrypi", "ssh://a@b:99999", "ssh://a;rm@b", "ssh://a@b/x", "http://a@b"):
        with pytest.raises(LatkitError, match="ssh://user@host"):
            parse_ssh_url(bad)
    assert backend_class("ssh://pi@board") is SSHBackend


@needs_sshd
@needs_litert
def test_profile_blocks_over_ssh(sshd, tflite_cache, tmp_path) -> None:  # noqa: F811
    url, options, _ = sshd
    backend = open_backend(url, threads=1, remote_python=sys.executable, ssh_options=options,
                           cache=tflite_cache)
    try:
        workdir = backend.workdir
        assert backend.run_remote(["test", "-d", workdir]) == ""
        space = TwoBlocks(resolutions=(224,))
        job = ProfileJob(space, tmp_path / "prof", "board", url, {"resolutions": (224,)}, FAST)
        profile = profile_blocks(job, backend)
        assert set(profile.lut.entries) == {SMALL, HEAD}
        assert all(e.median_ms > 0 for e in profile.lut.entries.values())
        fp = profile.meta["fingerprint"]
        assert fp["transport"] == "ssh" and fp["runtime"] == "litert" and fp["cpu_model"]
        assert fp["runtime_version"] and fp["delegate"] == "xnnpack"
        # every model was deleted from the board after its measurement
        assert backend.run_remote(["ls", workdir]).split() == ["litert_runner.py"]
    finally:
        backend.close()
    again = SSHBackend(url, remote_python=sys.executable, ssh_options=options)
    try:
        with pytest.raises(DeviceError):  # the old work dir is gone from the board
            again.run_remote(["test", "-d", workdir])
    finally:
        again.close()


@needs_sshd
def test_remote_python_without_litert_is_user_error(sshd) -> None:
    url, options, _ = sshd
    python = shutil.which("python3", path="/usr/bin:/bin")
    probe = subprocess.run([python or "false", "-c", "import ai_edge_litert, numpy"], capture_output=True)
    if python is None or probe.returncode == 0:
        pytest.skip("no system python3 without ai-edge-litert to try")
    with pytest.raises(LatkitError, match="lacks ai-edge-litert"):
        SSHBackend(url, remote_python=python, ssh_options=options)


@needs_sshd
@needs_litert
def test_lost_connection_is_one_line_device_error(sshd, tflite_cache) -> None:  # noqa: F811
    url, options, _ = sshd
    backend = SSHBackend(url, remote_python=sys.executable, ssh_options=options, cache=tflite_cache)
    try:
        prepared = backend.prepare(block_spec(HEAD))
        assert backend.run_batch(prepared, 2) > 0
        backend._runner.kill()  # the link drops mid-run
        backend._runner.wait()
        with pytest.raises(DeviceError, match="rerun the same command") as info:
            measure(backend, block_spec(HEAD), FAST)
        assert "\n" not in str(info.value)
    finally:
        backend.close()


@needs_sshd
def test_wrong_key_is_clear_error(sshd, tmp_path) -> None:
    url, options, tmp = sshd
    subprocess.run([KEYGEN, "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "other")], check=True)
    bad = tuple(o for o in options if not o.startswith("IdentityFile")) + (f"IdentityFile={tmp_path / 'other'}",)
    with pytest.raises(DeviceError, match="without a password"):
        SSHBackend(url, remote_python=sys.executable, ssh_options=bad)
