"""Find attached Android phones over adb and describe them.

Everything goes through ``adbutils`` (its own adb client and server). Shell
commands are argument lists, which adbutils quotes one by one; serials and
device paths are validated before use. Reading many sysfs files costs one
round trip: ``grep -sH . FILE...`` prints ``FILE:VALUE`` per file and skips
unreadable ones.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable

from latency_kit.errors import DeviceError, LatkitError, MissingExtraError

# adb lists serials such as "28241FDH2000AB", "192.168.1.7:5555" or, for wireless
# debugging, "adb-28241FDH2000AB-x7Yz1Q (2)._adb-tls-connect._tcp" (spaces and
# parentheses). A serial is passed as one argument, never shell text, so only
# what cannot be a serial is refused.
MAX_SERIAL = 255
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
DEVICE_PATH = re.compile(r"^/(?:[A-Za-z0-9._\-]+/)*[A-Za-z0-9._\-]+$")
CPU_DIR = "/sys/devices/system/cpu"
THERMAL_DIR = "/sys/class/thermal"
_PROP = re.compile(r"^\[([^\]]+)\]: \[(.*)\]$")
ATTACH_HINT = ("turn on USB debugging, plug the phone in (or pair it for wireless debugging) and "
               "check that `adb devices` lists it")
log = logging.getLogger(__name__)


def adb_client(adb: Any = None) -> Any:
    """The given adbutils client (a test double, say) or ``adbutils.adb``."""
    if adb is not None:
        return adb
    try:
        import adbutils
    except ImportError:
        raise MissingExtraError("adbutils", "mobile") from None
    return adbutils.adb


def check_serial(serial: str) -> str:
    """``serial`` unless it cannot be an adb serial (empty, control characters, too long)."""
    if not serial or not serial.strip() or _CONTROL.search(serial) or len(serial) > MAX_SERIAL:
        raise LatkitError(f"invalid adb serial {str(serial)[:80]!r}; copy it from `latkit devices` "
                          "or `adb devices`")
    return serial


def check_device_path(path: str) -> str:
    if not DEVICE_PATH.match(path) or "/../" in f"{path}/":
        raise LatkitError(f"refusing unsafe device path {path!r}")
    return path


def adb_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean the phone or the adb server went away."""
    try:
        from adbutils.errors import AdbError
    except ImportError:  # a test double without adbutils installed
        return (OSError,)
    return (AdbError, OSError)


def shell(device: Any, args: list[str], timeout: float = 30.0) -> tuple[int, str]:
    """Run ``args`` on ``device``; return (exit code, output). Quoted per argument."""
    if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
        raise TypeError("shell arguments must be a list of strings")
    result = device.shell2(args, timeout=timeout)
    return int(result.returncode), str(result.output)


def read_files(device: Any, paths: Iterable[str]) -> dict[str, str]:
    """Contents (first line) of readable ``paths``; unreadable ones are left out."""
    paths = [check_device_path(p) for p in paths]
    if not paths:
        return {}
    _, out = shell(device, ["grep", "-sH", ".", *paths])
    found: dict[str, str] = {}
    for line in out.splitlines():
        for path in paths:
            if line.startswith(path + ":") and path not in found:
                found[path] = line[len(path) + 1:].strip()
                break
    return found


def list_dir(device: Any, path: str) -> list[str]:
    _, out = shell(device, ["ls", check_device_path(path)])
    return out.split()


def getprops(device: Any) -> dict[str, str]:
    """All system properties, from one ``getprop`` call."""
    _, out = shell(device, ["getprop"])
    props = {}
    for line in out.splitlines():
        match = _PROP.match(line.strip())
        if match:
            props[match.group(1)] = match.group(2)
    return props


def cpu_ids(device: Any) -> list[int]:
    """Online-possible CPU numbers, from ``/sys/devices/system/cpu/possible`` (e.g. ``0-7``)."""
    text = read_files(device, [f"{CPU_DIR}/possible"]).get(f"{CPU_DIR}/possible", "")
    ids: list[int] = []
    for part in text.split(","):
        if "-" in part:
            lo, hi = part.split("-")
            ids.extend(range(int(lo), int(hi) + 1))
        elif part.strip().isdigit():
            ids.append(int(part))
    return ids


def cpu_freqs(device: Any, cpus: Iterable[int], which: str = "cpuinfo_max_freq") -> dict[int, int]:
    """kHz per CPU from ``cpuN/cpufreq/<which>`` (CPUs without cpufreq are left out)."""
    paths = {cpu: f"{CPU_DIR}/cpu{cpu}/cpufreq/{which}" for cpu in cpus}
    values = read_files(device, paths.values())
    return {cpu: int(values[p]) for cpu, p in paths.items() if values.get(p, "").isdigit()}


def core_layout(max_khz: dict[int, int]) -> str:
    """Clusters as ``4x1.80GHz+3x2.42GHz+1x2.84GHz`` (slowest first)."""
    counts: dict[int, int] = {}
    for khz in max_khz.values():
        counts[khz] = counts.get(khz, 0) + 1
    return "+".join(f"{n}x{khz / 1e6:.2f}GHz" for khz, n in sorted(counts.items()))


def big_core_mask(max_khz: dict[int, int], threads: int) -> str:
    """Hex ``taskset`` mask of the fastest cluster(s), enough cores for ``threads``."""
    chosen: list[int] = []
    for khz in sorted(set(max_khz.values()), reverse=True):
        chosen.extend(cpu for cpu, f in max_khz.items() if f == khz)
        if len(chosen) >= threads:
            break
    return format(sum(1 << cpu for cpu in chosen), "x") if chosen else ""


@dataclass
class PhoneInfo:
    """What ``latkit devices`` shows about an attached phone."""

    serial: str
    state: str = "device"
    model: str = ""
    manufacturer: str = ""
    soc: str = ""
    android_version: str = ""
    sdk: str = ""
    build: str = ""
    abi: str = ""
    abis: list[str] = field(default_factory=list)
    core_layout: str = ""
    max_khz: dict[int, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def matches(self, name: str) -> bool:
        """Case-insensitive substring match on the model (or maker + model), ignoring
        spaces, ``-`` and ``_``: ``pixel7`` and ``pixel-7`` match "Pixel 7"."""
        needle = _squash(name)
        return bool(needle) and (needle in _squash(self.model)
                                 or needle in _squash(f"{self.manufacturer} {self.model}"))


def _squash(text: str) -> str:
    return re.sub(r"[\s_\-]+", "", text.lower())


def describe(device: Any) -> PhoneInfo:
    """Read model, SoC, Android build, ABIs and core layout of one phone."""
    props = getprops(device)
    soc = " ".join(v for v in (props.get("ro.soc.manufacturer"), props.get("ro.soc.model")) if v)
    soc = soc or props.get("ro.board.platform") or props.get("ro.hardware", "")
    max_khz = cpu_freqs(device, cpu_ids(device))
    abis = [a for a in props.get("ro.product.cpu.abilist", "").split(",") if a]
    return PhoneInfo(
        serial=device.serial, model=props.get("ro.product.model", ""),
        manufacturer=props.get("ro.product.manufacturer", ""), soc=soc,
        android_version=props.get("ro.build.version.release", ""),
        sdk=props.get("ro.build.version.sdk", ""), build=props.get("ro.build.fingerprint", ""),
        abi=props.get("ro.product.cpu.abi", abis[0] if abis else ""), abis=abis,
        core_layout=core_layout(max_khz), max_khz=max_khz)


def list_phones(adb: Any = None) -> list[PhoneInfo]:
    """Every phone adb sees; ones not ready (``unauthorized``, ``offline``) carry only state.

    A phone that fails while it is being described (unplugged meanwhile, a
    shell that refuses ``getprop``) is left out with a logged warning, so the
    others stay usable. Raises ``DeviceError`` only when adb cannot list at all.
    """
    client = adb_client(adb)
    try:
        items = list(client.list())
    except adb_errors() as exc:
        raise DeviceError(f"adb failed while listing phones: {exc}") from None
    phones = []
    for item in items:
        if item.state != "device":
            phones.append(PhoneInfo(serial=item.serial, state=item.state))
            continue
        try:
            phones.append(describe(client.device(serial=item.serial)))
        except (*adb_errors(), ValueError) as exc:
            why = (str(exc).strip().splitlines() or [type(exc).__name__])[-1]
            log.warning("skipping phone %s: describing it failed: %s", item.serial, why)
    return phones


def _listing(phones: list[PhoneInfo], describe_one: Any, most: int = 3) -> str:
    shown = [describe_one(p) for p in phones[:most]]
    return ", ".join(shown + ([f"{len(phones) - most} more"] if len(phones) > most else []))


def _not_ready_hint(phones: list[PhoneInfo]) -> str:
    waiting = [p for p in phones if p.state != "device"]
    if not waiting:
        return ""
    listing = _listing(waiting, lambda p: f"{p.serial} ({p.state})")
    return f"; not ready: {listing} (unlock the phone and accept the USB debugging prompt)"


def no_phone_message(name: str, phones: list[PhoneInfo], note: str = "") -> str:
    """One line: no ready phone is ``name`` (``android``: none at all), what adb sees, how to attach one."""
    ready = [p for p in phones if p.state == "device"]
    what = "no Android phone is attached" if name == "android" else f"no attached phone matches {name!r}"
    seen = (f"attached: {_listing(ready, lambda p: f'{p.model} ({p.serial})')}" if ready
            else note or "adb lists no phone")
    return f"{what} ({seen}{_not_ready_hint(phones)}); {ATTACH_HINT}"


def find_phone(name: str = "android", serial: str | None = None,
               adb: Any = None) -> tuple[Any, PhoneInfo]:
    """The adbutils device and description of the phone ``name``/``serial`` selects.

    ``name`` ``"android"`` matches any phone; otherwise it is a case-insensitive
    substring of the model. ``serial`` picks one of several matches.
    """
    client = adb_client(adb)
    phones = list_phones(client)
    ready = [p for p in phones if p.state == "device"]
    if serial is not None:
        check_serial(serial)
        ready = [p for p in ready if p.serial == serial]
        if not ready:
            raise DeviceError(f"no attached phone has serial {serial!r}"
                              f"{_not_ready_hint(phones)}; see `latkit devices`")
    matches = ready if name == "android" else [p for p in ready if p.matches(name)]
    if not matches:
        raise DeviceError(no_phone_message(name, phones))
    if len(matches) > 1:
        listing = ", ".join(f"{p.model} ({p.serial})" for p in matches)
        raise DeviceError(f"{len(matches)} attached phones match {name!r}: {listing}; "
                          "pick one with --serial SERIAL")
    return client.device(serial=matches[0].serial), matches[0]


def adb_server_running() -> bool:
    """Whether an adb server answers on its port (``ANDROID_ADB_SERVER_PORT``, default 5037)."""
    import socket

    port = int(os.environ.get("ANDROID_ADB_SERVER_PORT", "5037"))
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.3).close()
        return True
    except OSError:
        return False


def usb_adb_interface_present(root: str = "/sys/bus/usb/devices") -> bool:
    """Linux: whether any USB device exposes an ADB interface (class ff/42/01)."""
    base = Path(root)
    if not base.is_dir():
        return False
    for interface in base.glob("*:*"):
        try:
            ids = [(interface / f).read_text().strip() for f in
                   ("bInterfaceClass", "bInterfaceSubClass", "bInterfaceProtocol")]
        except OSError:
            continue
        if ids == ["ff", "42", "01"]:
            return True
    return False


def adb_worth_asking() -> bool:
    """False when no phone can be attached: no adb server and (Linux) no USB ADB interface.

    Keeps ``latkit devices`` and mistyped device names from starting an adb server.
    """
    return (adb_server_running() or not sys.platform.startswith("linux")
            or usb_adb_interface_present())


def attached_phones(adb: Any = None) -> tuple[list[PhoneInfo], str]:
    """Phones for ``latkit devices``, and a note when none could be listed."""
    if adb is None and not adb_worth_asking():
        return [], "no adb server running and no USB device with ADB enabled"
    try:
        return list_phones(adb), ""
    except LatkitError as exc:
        return [], str(exc)


def resolve_phone(name: str) -> Any:
    """Registry fallback: the Android backend when an attached phone's model matches ``name``.

    Returns ``None`` (so :func:`missing_phone_error` applies) when adbutils is
    missing, adb fails, or no phone matches. On Linux it does not start an adb
    server unless a USB device with an ADB interface is plugged in.
    """
    if not adb_worth_asking():
        return None
    try:
        phones = list_phones()
    except LatkitError:
        return None
    if any(p.state == "device" and p.matches(name) for p in phones):
        from latency_kit.backends.android import AndroidBackend

        return AndroidBackend
    return None


def missing_phone_error(name: str, known: list[str]) -> DeviceError:
    """The error for a device name nothing serves: most likely a phone that is not attached.

    Same wording as ``--device android`` with no phone, plus the built-in
    ``known`` device names (the name may have been meant as one of them).
    """
    phones, note = attached_phones()
    return DeviceError(f"{no_phone_message(name, phones, note)}; built-in devices: {', '.join(known)}")


def resolve_attached(device: str, attached: bool, known: list[str]) -> Any:
    """The backends registry's ``*`` entry (:class:`latency_kit.backends.Resolver`): a name
    that is no registered device's is an Android phone's model.

    With ``attached``, the Android backend when a phone attached here matches
    ``device`` (:func:`resolve_phone`), else :func:`missing_phone_error` is
    raised; without, the Android backend unchecked (a Ray worker has the phone).
    """
    found = resolve_phone(device) if attached else None
    if attached and found is None:
        raise missing_phone_error(device, known)
    if found is None:
        from latency_kit.backends.android import AndroidBackend

        found = AndroidBackend
    return found
