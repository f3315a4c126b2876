"""A Ray device farm: profile one device kind on many machines at once.

Every machine with devices attached joins a Ray cluster and advertises each
device as a custom resource, ``{"device:<name>": <count>}`` (``latkit farm
worker`` prints or runs the ``ray start`` line). :func:`build_profile_ray`
then starts one :class:`DeviceWorker` actor per advertised device slot; each
holds an open backend on its node. The driver hands out block keys one at a
time (a :class:`~latency_kit.backends.ModelSpec` is plain data, rebuilt into
a module on the node), appends every result to the profile's journal as it
arrives and writes one profile, exactly as a single-machine run would.

Failures: a measurement that raises leaves its key unmeasured; a lost node
(dead actor) has its in-flight key handed to another node once. Whatever is
still missing at the end stays out of the journal, the profile stays
incomplete and rerunning the same command measures only those keys.

Ray is the ``ray`` extra and is imported only inside these functions.
"""

from __future__ import annotations

import itertools
import re
import time
from collections import deque
from pathlib import Path
from typing import Any, Callable, Sequence

from latency_kit import journal
from latency_kit.backends import Backend, ModelSpec, Prepared, open_backend
from latency_kit.measure.engine import MeasureSettings, measure
from latency_kit.errors import DeviceError, LatkitError, MissingExtraError
from latency_kit.profiles.profile import JOURNAL_FILE, Profile
from latency_kit.measure.blocks import IDENTITY_FIELDS, ProfileJob, Progress, finish_profile, open_job
from latency_kit.stats import LatencyStats

RESOURCE_PREFIX = "device:"
MAX_ATTEMPTS = 2  # per key, across lost nodes


def resource_name(device: str) -> str:
    """The Ray custom resource a node advertises for ``device``."""
    return f"{RESOURCE_PREFIX}{device}"


def require_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise MissingExtraError("ray", "ray") from None
    return ray


def connect(address: str | None) -> Any:
    """Join the cluster at ``address`` (``auto``, ``HOST:PORT``, ``ray://...``);
    ``None`` uses the Ray session this process already started."""
    ray = require_ray()
    if ray.is_initialized():
        return ray
    if address is None:
        raise LatkitError("no Ray cluster: pass --ray auto or --ray HOST:PORT")
    try:
        ray.init(address=address, log_to_driver=False)
    except ConnectionError as exc:
        raise LatkitError(f"cannot reach the Ray cluster at {address!r}: {exc}; start one with "
                          "`ray start --head` and `latkit farm worker --address ...`") from None
    return ray


class DeviceWorker:
    """Runs on a node with the device attached: one open backend, models by handle."""

    def __init__(self, device: str, options: dict[str, Any]):
        import socket

        self.backend = open_backend(device, **options)
        self.host = socket.gethostname()
        self.prepared: dict[int, Prepared] = {}
        self.ids = itertools.count()

    def fingerprint(self) -> dict[str, Any]:
        return {**self.backend.fingerprint(), "runtime": self.backend.runtime}

    def node(self) -> str:
        return self.host

    def measure(self, spec: ModelSpec, settings: MeasureSettings) -> dict[str, Any]:
        return measure(self.backend, spec, settings).to_dict()

    # The Backend interface, remotely (used by whole-network calibration).
    def prepare(self, spec: ModelSpec) -> int:
        handle = next(self.ids)
        self.prepared[handle] = self.backend.prepare(spec)
        return handle

    def run_batch(self, handle: int, iterations: int) -> float:
        return self.backend.run_batch(self.prepared[handle], iterations)

    def release(self, handle: int) -> None:
        prepared = self.prepared.pop(handle, None)
        if prepared is not None:
            self.backend.release(prepared)

    def close(self) -> None:
        self.backend.close()


class RemoteBackend(Backend):
    """A :class:`Backend` whose models run on a :class:`DeviceWorker` actor.

    Timing happens on the worker, so the numbers exclude the network.
    """

    name = "ray"
    runtime = "ray"

    def __init__(self, actor: Any, fingerprint: dict[str, Any]):
        self.actor = actor
        self._fingerprint = dict(fingerprint)
        self.runtime = str(fingerprint.get("runtime", "unknown"))  # type: ignore[misc]

    def _get(self, ref: Any) -> Any:
        return require_ray().get(ref)

    def fingerprint(self) -> dict[str, Any]:
        return dict(self._fingerprint)

    def prepare(self, spec: ModelSpec) -> Prepared:
        return Prepared(spec, state=self._get(self.actor.prepare.remote(spec)))

    def run_batch(self, prepared: Prepared, iterations: int) -> float:
        return float(self._get(self.actor.run_batch.remote(prepared.state, iterations)))

    def release(self, prepared: Prepared) -> None:
        self._get(self.actor.release.remote(prepared.state))
        prepared.state = None


def start_workers(device: str, backend_options: dict[str, Any],
                  slots: int | None = None) -> list[tuple[Any, dict[str, Any], str]]:
    """One actor per advertised ``device:<name>`` slot: ``(actor, fingerprint, host)``.

    Actors whose node fails to open the backend are dropped; fingerprints
    must agree on every identity field (one profile is one kind of device).
    """
    ray = require_ray()
    resource = resource_name(device)
    available = int(ray.cluster_resources().get(resource, 0))
    if available < 1:
        raise LatkitError(
            f"no node of the Ray cluster advertises {resource!r}; on each machine with a {device} "
            f"attached run `latkit farm worker --address ADDRESS --device {device} --start`")
    actor_class = ray.remote(DeviceWorker)
    actors = [actor_class.options(resources={resource: 1}, num_cpus=0).remote(device, backend_options)
              for _ in range(min(slots or available, available))]
    workers, errors = [], []
    for actor in actors:
        try:
            fingerprint, host = ray.get([actor.fingerprint.remote(), actor.node.remote()])
            workers.append((actor, fingerprint, host))
        except ray.exceptions.RayError as exc:
            errors.append(_last_line(exc))
    if not workers:
        raise DeviceError(f"no Ray worker could open device {device!r}: {errors[0]}")
    reference = workers[0][1]
    for _, fingerprint, host in workers[1:]:
        for name in IDENTITY_FIELDS:
            if fingerprint.get(name) != reference.get(name):
                raise LatkitError(
                    f"Ray workers disagree on {name}: {reference.get(name)!r} vs "
                    f"{fingerprint.get(name)!r} (on {host}); one profile needs one kind of device")
    return workers


def profile_blocks_ray(job: ProfileJob, workers: Sequence[tuple[Any, dict[str, Any], str]],
                       progress: Progress | None = None,
                       after_lut: Callable[[Profile], None] | None = None) -> Profile:
    """Measure every missing block of ``job`` on ``workers`` (see the module docstring)."""
    ray = require_ray()
    started = time.perf_counter()
    meta, table = open_job(job, RemoteBackend(workers[0][0], workers[0][1]))
    blocks = job.space.all_blocks()
    queue = deque((b, 0) for b in blocks if b.key not in table)
    done = len(blocks) - len(queue)
    journal_path = job.out / JOURNAL_FILE
    idle = deque(worker[0] for worker in workers)
    hosts = {id(w[0]): w[2] for w in workers}
    busy: dict[Any, tuple[Any, Any, int]] = {}
    failed: dict[str, str] = {}
    per_host: dict[str, int] = {}
    if progress:
        progress(done, len(blocks), "")
    while queue or busy:
        while queue and idle:
            block, attempts = queue.popleft()
            actor = idle.popleft()
            ref = actor.measure.remote(job.spec(block.key, block.input_shape), job.settings)
            busy[ref] = (actor, block, attempts)
        if not busy:  # every worker is gone
            break
        [ref], _ = ray.wait(list(busy), num_returns=1)
        actor, block, attempts = busy.pop(ref)
        try:
            stats = ray.get(ref)
        except ray.exceptions.RayActorError as exc:  # the node or its worker died
            if attempts + 1 < MAX_ATTEMPTS:
                queue.append((block, attempts + 1))
            else:
                failed[block.key] = _last_line(exc)
            continue
        except ray.exceptions.RayTaskError as exc:  # the measurement itself failed
            failed[block.key] = _last_line(exc)
            idle.append(actor)
            continue
        idle.append(actor)
        journal.append(journal_path, {"key": block.key, "stats": stats})
        table.add(block.key, LatencyStats.from_dict(stats))
        host = hosts.get(id(actor), "?")
        per_host[host] = per_host.get(host, 0) + 1
        done += 1
        if progress:
            progress(done, len(blocks), block.key)
    missing = [b.key for b in blocks if b.key not in table]
    if missing:
        example = next(iter(failed.items()), (missing[0], "its node was lost"))
        raise DeviceError(
            f"{len(missing)} of {len(blocks)} blocks were not measured (e.g. {example[0]}: "
            f"{example[1]}); rerun the same command to measure only those")
    meta["farm"] = {"workers": len(workers), "blocks_per_host": per_host}
    return finish_profile(job.out, meta, table, started, after_lut)


def _last_line(exc: BaseException) -> str:
    """The last line of a Ray error (the worker's own message), without its class prefix."""
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    return re.sub(r"^[\w.]+(?:Error|Exception): ", "", lines[-1]) if lines else type(exc).__name__


def build_profile_ray(device: str, address: str | None, space: str = "ofa-mbv3",
                      resolutions: Sequence[int] = (224,), out: str | Path | None = None,
                      name: str | None = None, settings: MeasureSettings | None = None,
                      progress: Progress | None = None, batch: int = 1, calibrate: int | None = None,
                      calibration_seed: int = 0, slots: int | None = None,
                      calibration_progress: Progress | None = None,
                      calibration_processes: int = 0,
                      **backend_options: Any) -> Profile:
    """:func:`latency_kit.api.build_profile` with the blocks measured across a Ray cluster.

    Whole-network calibration (``calibrate`` networks, default as for a
    single machine) runs on one worker, since its networks are measured
    interleaved on one device; it runs in that worker's process, so
    ``calibration_processes`` is accepted and ignored.
    """
    from latency_kit.measure.calibration import DEFAULT_CALIBRATION, calibration_step
    from latency_kit.paths import profiles_dir
    from latency_kit.profiles.names import default_profile_name
    from latency_kit.spaces import get_space, takes_resolution

    connect(address)
    options = {"resolutions": tuple(resolutions)} if takes_resolution(space) else {}
    space_obj = get_space(space, **options)
    name = name or default_profile_name(device, backend_options.get("threads"), batch,
                                        backend_options.get("precision"))
    out_path = Path(out) if out else profiles_dir() / name
    workers = start_workers(device, {**backend_options, "batch": batch}, slots)
    try:
        job = ProfileJob(space_obj, out_path, name, device, options, settings or MeasureSettings(),
                         batch)
        remote = RemoteBackend(workers[0][0], workers[0][1])
        n = DEFAULT_CALIBRATION if calibrate is None else calibrate
        return profile_blocks_ray(job, workers, progress,
                                  after_lut=calibration_step(remote, n, calibration_seed,
                                                             progress=calibration_progress))
    finally:
        ray = require_ray()
        for actor, _, _ in workers:
            ray.kill(actor)


def worker_command(address: str, devices: dict[str, int], num_cpus: int | None = None) -> list[str]:
    """The ``ray start`` command that joins ``address`` advertising ``devices``."""
    import json

    resources = {resource_name(d): int(n) for d, n in devices.items()}
    command = ["ray", "start", f"--address={address}", f"--resources={json.dumps(resources)}"]
    if num_cpus is not None:
        command.append(f"--num-cpus={num_cpus}")
    return command


def cluster_devices() -> list[dict[str, Any]]:
    """Alive nodes of the connected cluster and the devices each advertises."""
    ray = require_ray()
    rows = []
    for node in ray.nodes():
        if not node.get("Alive"):
            continue
        devices = {k[len(RESOURCE_PREFIX):]: v for k, v in node.get("Resources", {}).items()
                   if k.startswith(RESOURCE_PREFIX)}
        rows.append({"node": node.get("NodeManagerAddress"), "devices": devices})
    return rows
