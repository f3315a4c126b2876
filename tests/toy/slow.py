"""``toy-slow``: a stand-in device for ``--verify`` tests that runs no network.

It reports, for each architecture it is asked to run, the latency in
:attr:`ToySlowBackend.latency_ms` times its :attr:`ToySlowBackend.slowdown`
(default 1): a device that measures some networks slower than its profile
predicts. Plumbing only (docs/DESIGN.md section 6): it stands in for the
device's timer, never for a measurement in a benchmark or a shipped profile.
Import the module to register it; ``BACKENDS.unregister("toy-slow")`` after.
"""

from __future__ import annotations

from typing import Any, ClassVar

from latency_kit.backends import Backend, ModelSpec, Prepared, register_backend


@register_backend
class ToySlowBackend(Backend):
    name = "toy-slow"
    runtime = "stand-in"

    latency_ms: ClassVar[dict[str, float]] = {}   # architecture string -> reported ms
    slowdown: ClassVar[dict[str, float]] = {}     # architecture string -> factor
    runs: ClassVar[list[str]] = []                # architectures prepared, in order

    def fingerprint(self) -> dict[str, Any]:
        return {"device": self.name, "runtime": self.runtime, "threads": 1, "precision": "fp32"}

    def prepare(self, spec: ModelSpec) -> Prepared:
        self.runs.append(spec.key)
        return Prepared(spec, self.latency_ms[spec.key] * self.slowdown.get(spec.key, 1.0))

    def run_batch(self, prepared: Prepared, iterations: int) -> float:
        return float(prepared.state)
