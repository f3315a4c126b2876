"""A real Android phone over adb: discovery, one benchmark_model measurement.

Marked ``android``. Skips, with the reason, when adbutils is missing, no phone
is attached and authorised, or no ``benchmark_model`` binary is configured
(``LATKIT_BENCHMARK_MODEL`` or ``$LATKIT_HOME/config.json``; see docs/mobile.md).
Select a phone with ``LATKIT_ANDROID_SERIAL`` when several are attached.
"""

from __future__ import annotations

import os

import pytest

from latency_kit.errors import LatkitError

from latency_kit.testing.backends import FAST, HEAD, SMALL, BackendSuite, block_spec

pytestmark = pytest.mark.android


@pytest.fixture(scope="module")
def phone_serial() -> str:
    pytest.importorskip("adbutils", reason="adbutils not installed (pip install 'latkit[mobile]')")
    from latency_kit.backends.android_discovery import adb_worth_asking, list_phones

    if not adb_worth_asking():
        pytest.skip("no Android phone attached (no adb server, no USB device with ADB)")
    try:
        phones = [p for p in list_phones() if p.state == "device"]
    except LatkitError as exc:
        pytest.skip(f"adb unusable: {exc}")
    wanted = os.environ.get("LATKIT_ANDROID_SERIAL")
    phones = [p for p in phones if not wanted or p.serial == wanted]
    if not phones:
        pytest.skip("no authorised Android phone attached over adb")
    return phones[0].serial


@pytest.fixture(scope="module")
def benchmark_binary(phone_serial) -> str:
    path = os.environ.get("LATKIT_BENCHMARK_MODEL")
    if not path:
        pytest.skip("set LATKIT_BENCHMARK_MODEL to TFLite's prebuilt benchmark_model for the phone's ABI")
    return path


class TestAndroidPhone(BackendSuite):
    """The shared suite on the attached phone (skips, with the reason, without one)."""

    @pytest.fixture
    def backend(self, phone_serial, benchmark_binary, model_cache):
        from latency_kit.backends.android import AndroidBackend

        with AndroidBackend("android", serial=phone_serial, benchmark_binary=benchmark_binary,
                            cache=model_cache) as backend:
            yield backend


def test_discovery_reads_real_phone(phone_serial) -> None:
    from latency_kit.backends.android_discovery import list_phones

    phone = next(p for p in list_phones() if p.serial == phone_serial)
    assert phone.model and phone.abi and phone.android_version
    assert phone.max_khz and "GHz" in phone.core_layout


def test_measure_block_on_phone(phone_serial, benchmark_binary) -> None:
    from latency_kit.backends.android import AndroidBackend
    from latency_kit.measure.engine import measure

    backend = AndroidBackend("android", serial=phone_serial, benchmark_binary=benchmark_binary)
    try:
        fp = backend.fingerprint()
        assert fp["model"] and fp["soc"] and fp["thermal"]["cpu_temp_c"] is not None
        small = measure(backend, block_spec(SMALL), FAST)
        head = measure(backend, block_spec(HEAD), FAST)
        assert small.median_ms > 0 and head.median_ms > 0
        assert backend.last_result is not None and backend.last_result.runs is not None
        prepared = backend.prepare(block_spec(SMALL))
        try:
            first = backend.benchmark(prepared, 1)  # a single timed run: "count=1 curr=X"
            assert first.runs.count == 1 and first.warmup.count >= backend.warmup_runs
            result = backend.benchmark(prepared, 5, op_profiling=True)
        finally:
            backend.release(prepared)
        assert result.runs.count >= 5 and result.ops and sum(op.avg_ms for op in result.ops) > 0
        entry = prepared.info["entry"]
        assert entry["delegation"] in ("full", "partial", "none", "unknown")
        if fp["peak_memory"]:  # the binary lists --report_peak_memory_footprint
            assert entry["peak_memory_mb"] is None or entry["peak_memory_mb"] > 0
    finally:
        backend.close()
