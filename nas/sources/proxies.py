"""Training-free accuracy proxies, computed on the space's real torch network.

These are *proxy scores*, not accuracy: they rank untrained networks by a
statistic that correlates (weakly) with trained accuracy. Each proxy is a
callable ``proxy(space, arch) -> float`` (higher is better):

* ``synflow`` -- log of SynFlow (Tanaka et al. 2020): the sum over conv and
  linear weights of ``|w * dR/dw|`` where R is the output sum of the network
  with absolute weights on an all-ones input (float64, eval mode);
* ``grad_norm`` -- sum of the gradient norms of the conv and linear weights
  for a cross-entropy loss on a seeded random batch;
* ``naswot`` -- Mellor et al. 2021: log-determinant of the kernel of binary
  activation codes (sign of each activation's input) over a random batch;
* ``jacob_cov`` -- the score of Mellor et al.'s first version: the eigenvalues
  of the correlation matrix of input Jacobians over a random batch;
* ``macs`` and ``params`` -- the size baselines every proxy must beat.

To stay cheap (they run inside ``latkit nas generate``), the network-based
proxies feed a small input: ``scale`` times the architecture's resolution
(OFA's ofa-mbv3 at 224 px is probed at 56 px). For spaces whose network is the
chain of its blocks, block modules are built once per LUT key and reused, since
building a network costs more than probing it.

``benchmarks/proxy_choice.py`` measures their rank correlation with OFA's
accuracy predictor; ``DEFAULT_PROXY`` is chosen from those figures
(``benchmarks/results_proxies.md``): on 300 random ofa-mbv3 networks plain MACs
ranked best (Spearman 0.93, against 0.86 for NASWOT and 0.54 for SynFlow) and
costs nothing once each block is counted, so ``proxy`` means ``proxy:macs``.
With ``--cost madds`` that makes both objectives the same count; pass another
proxy or a real accuracy source there.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections import Counter
from typing import Any, ClassVar

from latency_kit.errors import UnknownNameError
from latency_kit.spaces import SearchSpace

from nas.sources.base import one_torch_thread

DEFAULT_PROXY = "macs"  # measured best, see the module docstring
_VERSION = 1


class Proxy(ABC):
    """A training-free score of one architecture; higher is better.

    ``runs_network`` says whether a score runs the network (forward and
    backward passes), which makes the proxy an expensive accuracy source.
    """

    name: ClassVar[str]
    runs_network: ClassVar[bool] = True

    def __init__(self, batch: int = 8, scale: float = 0.25, seed: int = 0):
        self.batch, self.scale, self.seed = batch, scale, seed
        self._modules: dict[tuple[str, str, int], Any] = {}

    def __call__(self, space: SearchSpace, arch: Any) -> float:
        """The proxy score of ``arch``, computed on one torch thread."""
        with one_torch_thread():
            return self.score(space, arch)

    @abstractmethod
    def score(self, space: SearchSpace, arch: Any) -> float:
        """The proxy score of ``arch`` (called by ``__call__``)."""

    def identity(self) -> str:
        return f"{self.name}(batch={self.batch},scale={self.scale},seed={self.seed})v{_VERSION}"

    # -- shared network plumbing -------------------------------------------------
    def network(self, space: SearchSpace, arch: Any, mode: str):
        """The torch network of ``arch`` prepared for ``mode`` (``"eval"``/``"train"``).

        Chain spaces reuse one module per (block key, occurrence), so a block
        that appears twice still gets two sets of weights, as in the real net.
        """
        import torch

        from latency_kit.spaces.base import SearchSpace as Base

        if type(space).build is not Base.build:
            torch.manual_seed(self.seed)
            return self._prepare(space.build(arch), mode)
        seen: Counter[str] = Counter()
        modules = []
        for block in space.blocks(arch):
            seen[block.key] += 1
            slot = (mode, block.key, seen[block.key])
            if slot not in self._modules:
                self._modules[slot] = self._prepare(space.build_block(block.key), mode)
            modules.append(self._modules[slot])
        return torch.nn.Sequential(*modules)

    def _prepare(self, module, mode: str):
        return module.train() if mode == "train" else module.eval()

    def input_shape(self, space: SearchSpace, arch: Any, batch: int) -> tuple[int, ...]:
        _, channels, height, width = space.input_shape(arch, batch)
        if height > 32:  # small-image spaces (CIFAR) are probed at full size
            height = max(32, round(height * self.scale))
            width = max(32, round(width * self.scale))
        return (batch, channels, height, width)


def _weights(module):
    import torch

    for layer in module.modules():
        if isinstance(layer, (torch.nn.Conv2d, torch.nn.Linear)):
            yield layer.weight


def _safe_log(value: float) -> float:
    return math.log(value) if value > 0 else -1e3


class SynFlow(Proxy):
    name = "synflow"

    def _prepare(self, module, mode: str):
        import torch

        module = (module.double() if mode == "synflow64" else module.float()).eval()
        with torch.no_grad():
            for tensor in module.state_dict().values():
                if tensor.is_floating_point():
                    tensor.abs_()
        return module

    def score(self, space: SearchSpace, arch: Any) -> float:
        """log SynFlow in float32; large networks that overflow it are redone in float64."""
        total = self._synflow(space, arch, "synflow")
        if not math.isfinite(total):
            total = self._synflow(space, arch, "synflow64")
        return _safe_log(total)

    def _synflow(self, space: SearchSpace, arch: Any, mode: str) -> float:
        import torch

        net = self.network(space, arch, mode)
        net.zero_grad(set_to_none=True)
        dtype = torch.float64 if mode == "synflow64" else torch.float32
        x = torch.ones(self.input_shape(space, arch, 1), dtype=dtype)
        net(x).sum().backward()
        with torch.no_grad():
            total = sum(float((w * w.grad).abs().sum()) for w in _weights(net) if w.grad is not None)
        net.zero_grad(set_to_none=True)
        return total


class GradNorm(Proxy):
    name = "grad_norm"

    def score(self, space: SearchSpace, arch: Any) -> float:
        import torch

        net = self.network(space, arch, "train")
        net.zero_grad(set_to_none=True)
        gen = torch.Generator().manual_seed(self.seed)
        x = torch.randn(self.input_shape(space, arch, self.batch), generator=gen)
        out = net(x)
        labels = torch.randint(0, out.shape[1], (self.batch,), generator=gen)
        torch.nn.functional.cross_entropy(out, labels).backward()
        with torch.no_grad():
            total = sum(float(w.grad.norm()) for w in _weights(net) if w.grad is not None)
        net.zero_grad(set_to_none=True)
        return total


_ACTIVATIONS = ("ReLU", "ReLU6", "Hardswish", "SiLU", "GELU")


class NASWOT(Proxy):
    name = "naswot"

    def score(self, space: SearchSpace, arch: Any) -> float:
        import torch

        net = self.network(space, arch, "train")
        kernel = torch.zeros(self.batch, self.batch, dtype=torch.float64)

        def hook(_module, inputs, _output):
            codes = (inputs[0].detach().reshape(self.batch, -1) > 0).double()
            kernel.add_(codes @ codes.T + (1 - codes) @ (1 - codes).T)

        handles = [m.register_forward_hook(hook) for m in net.modules()
                   if type(m).__name__ in _ACTIVATIONS]
        gen = torch.Generator().manual_seed(self.seed)
        try:
            with torch.no_grad():
                net(torch.randn(self.input_shape(space, arch, self.batch), generator=gen))
        finally:
            for handle in handles:
                handle.remove()
        sign, logdet = torch.linalg.slogdet(kernel)
        return float(logdet) if float(sign) > 0 else -1e3


class JacobCov(Proxy):
    name = "jacob_cov"

    def score(self, space: SearchSpace, arch: Any) -> float:
        import torch

        net = self.network(space, arch, "train")
        gen = torch.Generator().manual_seed(self.seed)
        x = torch.randn(self.input_shape(space, arch, self.batch), generator=gen).requires_grad_()
        net(x).sum().backward()
        net.zero_grad(set_to_none=True)
        if x.grad is None:  # the output ignores the input (an all-``none`` nb201 cell)
            jac = torch.zeros(self.batch, x[0].numel(), dtype=torch.float64)
        else:
            jac = x.grad.reshape(self.batch, -1).double()
        corr = torch.nan_to_num(torch.corrcoef(jac), nan=0.0)
        eig = torch.linalg.eigvalsh(corr)
        k = 1e-5
        return float(-torch.sum(torch.log(eig.clamp_min(0) + k) + 1.0 / (eig.clamp_min(0) + k)))


class MACs(Proxy):
    name = "macs"
    runs_network = False  # counted per block, cached

    def score(self, space: SearchSpace, arch: Any) -> float:
        return float(space.macs(arch))


class Params(Proxy):
    name = "params"
    runs_network = False

    def score(self, space: SearchSpace, arch: Any) -> float:
        return float(space.params(arch))


PROXIES: dict[str, type[Proxy]] = {
    cls.name: cls for cls in (SynFlow, GradNorm, NASWOT, JacobCov, MACs, Params)
}


def proxy_names() -> list[str]:
    return sorted(PROXIES)


def get_proxy(name: str, **settings: Any) -> Proxy:
    """A fresh proxy by name (``settings`` go to its constructor)."""
    if name not in PROXIES:
        raise UnknownNameError("proxy", name, proxy_names())
    return PROXIES[name](**settings)


def proxy_identity(name: str) -> str:
    """The identity of the proxy ``name`` with default settings (for caching)."""
    return get_proxy(name).identity()
