"""Training-free proxies: finite, seeded, ordered sensibly, labelled as proxies."""

from __future__ import annotations

import math

import pytest

from latency_kit.errors import UnknownNameError
from latency_kit.spaces import get_space
from nas.sources.accuracy import ProxyAccuracy, resolve_accuracy
from nas.sources.proxies import DEFAULT_PROXY, PROXIES, get_proxy, proxy_names

NETWORK_PROXIES = ["synflow", "grad_norm", "naswot", "jacob_cov"]
CONV3 = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
EMPTY = "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|"
SMALL = "|nor_conv_1x1~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"


@pytest.fixture(scope="module")
def nb201():
    return get_space("nb201")


@pytest.mark.parametrize("name", NETWORK_PROXIES)
def test_network_proxy_finite_and_seeded(nb201, name) -> None:
    arch = nb201.parse(CONV3)
    first = get_proxy(name)(nb201, arch)
    assert math.isfinite(first)
    assert get_proxy(name)(nb201, arch) == pytest.approx(first, rel=1e-6)


@pytest.mark.parametrize("name", NETWORK_PROXIES)
def test_input_independent_network(nb201, name) -> None:
    """A cell of only ``none`` edges cuts the input off; proxies still return a number."""
    assert math.isfinite(get_proxy(name)(nb201, nb201.parse(EMPTY)))


def test_synflow_orders_by_size(nb201) -> None:
    proxy = get_proxy("synflow")
    empty, small, big = (proxy(nb201, nb201.parse(s)) for s in (EMPTY, SMALL, CONV3))
    assert empty < small < big


def test_synflow_on_ofa_large_net() -> None:
    """The largest ofa-mbv3 network overflows float32 SynFlow; the float64 rerun stays finite."""
    space = get_space("ofa-mbv3", resolutions=(160,))
    proxy = get_proxy("synflow")
    small = proxy(space, space.parse("r160_" + "_".join(["k3e3-k3e3"] * 5)))
    large = proxy(space, space.parse("r160_" + "_".join(["k7e6-k7e6-k7e6-k7e6"] * 5)))
    assert math.isfinite(small) and math.isfinite(large) and small < large


def test_size_proxies(nb201) -> None:
    arch = nb201.parse(SMALL)
    assert get_proxy("macs")(nb201, arch) == nb201.macs(arch)
    assert get_proxy("params")(nb201, arch) == nb201.params(arch)


def test_registry_and_default(nb201) -> None:
    assert DEFAULT_PROXY in PROXIES
    assert set(NETWORK_PROXIES + ["macs", "params"]) == set(proxy_names())
    with pytest.raises(UnknownNameError):
        get_proxy("zen")
    source = resolve_accuracy("proxy:naswot", nb201)
    assert isinstance(source, ProxyAccuracy) and source.label == "proxy_score"
    scores = source.score_many([nb201.parse(SMALL), nb201.parse(CONV3)])
    assert scores.shape == (2,)
    assert "naswot(" in source.identity()
