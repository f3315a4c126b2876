"""The Ray device farm on a local cluster: several logical CPU devices on one
machine, measuring real blocks with ONNX Runtime."""

from __future__ import annotations

import builtins
import json

import pytest
from click.testing import CliRunner

from latency_kit.backends import open_backend
from latency_kit.measure.engine import MeasureSettings
from latency_kit.errors import DeviceError, MissingExtraError
from latency_kit.profiles.profile import load_profile
from latency_kit.measure.blocks import ProfileJob, profile_blocks
from latency_kit.spaces.base import Block
from latency_kit.spaces.ofa_mbv3 import OFAMobileNetV3

QUICK = MeasureSettings(warmup_ms=1.0, min_warmup_runs=1, repeats=3, batch_ms=0.5,
                        max_iterations=5, retries=0)
N_BLOCKS = 6


class FewBlocks(OFAMobileNetV3):
    """ofa-mbv3 at 160 px restricted to its first blocks, so the test stays short.
    Workers rebuild blocks from their keys with the ordinary ofa-mbv3 space."""

    def all_blocks(self):
        return super().all_blocks()[:N_BLOCKS]


class WithBadBlock(FewBlocks):
    """The same plus a key no space can build: its measurement fails on the worker."""

    def all_blocks(self):
        return super().all_blocks() + [Block("no-such-block", (1, 3, 8, 8))]


def _job(space, out):
    return ProfileJob(space, out, out.name, "cpu", {"resolutions": (160,)}, QUICK)


@pytest.fixture(scope="module")
def ray_cluster():
    ray = pytest.importorskip("ray")
    # device:pixel7 is advertised by this node, which has no phone attached
    ray.init(num_cpus=2, resources={"device:cpu": 2, "device:pixel7": 1}, include_dashboard=False,
             log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()


@pytest.mark.slow
def test_farm_profile_matches_single_machine(ray_cluster, tmp_path, onnx_cache):
    from latency_kit.measure.farm import profile_blocks_ray, start_workers

    with open_backend("cpu", cache=onnx_cache) as backend:
        single = profile_blocks(_job(FewBlocks(resolutions=(160,)), tmp_path / "single"), backend)

    workers = start_workers("cpu", {"cache": str(onnx_cache)})
    assert len(workers) == 2  # one actor per logical device
    out = tmp_path / "farm"
    with pytest.raises(DeviceError, match="1 of 7 blocks were not measured.*rerun"):
        profile_blocks_ray(_job(WithBadBlock(resolutions=(160,)), out), workers)
    assert json.loads((out / "profile.json").read_text())["status"] == "incomplete"
    journaled = [json.loads(line)["key"] for line in open(out / "journal.jsonl")]
    assert sorted(journaled) == sorted(single.lut.entries)  # the good keys were kept

    # Drop two journaled results (as if their node died before reporting) and
    # lose a node: the rerun hands the dead worker's keys to the live one and
    # measures only what is missing.
    lines = (out / "journal.jsonl").read_text().splitlines(keepends=True)
    (out / "journal.jsonl").write_text("".join(lines[:-2]))
    ray_cluster.kill(workers[1][0])
    resumed = profile_blocks_ray(_job(FewBlocks(resolutions=(160,)), out), workers)
    assert set(resumed.lut.entries) == set(single.lut.entries)
    assert resumed.complete and load_profile(out).complete
    assert sum(resumed.meta["farm"]["blocks_per_host"].values()) == 2
    assert resumed.meta["fingerprint"]["cpu_model"] == single.meta["fingerprint"]["cpu_model"]
    for actor, _, _ in workers:
        ray_cluster.kill(actor)


def test_worker_command_prints_resources():
    from latency_kit.cli import main

    result = CliRunner().invoke(main, ["farm", "worker", "--address", "10.0.0.1:6379",
                                       "--device", "pixel7=2", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == (
        "ray start --address=10.0.0.1:6379 "
        "'--resources={\"device:pixel7\": 2, \"device:cpu\": 1}'")


def test_ray_missing_names_the_extra(monkeypatch):
    real_import = builtins.__import__

    def no_ray(name, *args, **kwargs):
        if name == "ray" or name.startswith("ray."):
            raise ImportError("No module named 'ray'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    from latency_kit.cli import main
    from latency_kit.measure.farm import connect

    with pytest.raises(MissingExtraError, match=r"pip install 'latkit\[ray\]'"):
        connect("auto")
    result = CliRunner().invoke(main, ["profile", "--device", "cpu", "--ray", "auto"])
    assert result.exit_code == 2
    assert "pip install 'latkit[ray]'" in result.output


@pytest.mark.slow
def test_phone_name_with_ray_goes_to_the_cluster(ray_cluster, tmp_path):
    """``--ray`` with a phone's model name is not looked up on the driver (the phone is
    on a worker): the cluster answers, with one line, when no node advertises it or the
    node that does cannot find it."""
    from latency_kit.cli import main

    out = tmp_path / "p"
    for device, expected in (("pixel8", "no node of the Ray cluster advertises 'device:pixel8'; on each "
                                        "machine with a pixel8 attached run `latkit farm worker"),
                             ("pixel7", "no Ray worker could open device 'pixel7': no attached phone "
                                        "matches 'pixel7'")):
        result = CliRunner().invoke(main, ["profile", "--device", device, "--ray", "auto", "--calibrate", "0",
                                           "--out", str(out)])
        assert result.exit_code == 2, result.output
        errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and errors[0].startswith(f"error: {expected}"), result.stderr
        assert "unknown device" not in result.output and not out.exists()
