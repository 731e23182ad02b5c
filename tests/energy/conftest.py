"""Fixtures of the energy tests."""

from __future__ import annotations

import pytest

import snn


@pytest.fixture(scope="session")
def small_run():
    """A small real run: Poisson input into a recurrent LIF population (binary spikes only)."""
    net = snn.Network(dt_ms=1.0)
    net.add_population("in", 40, snn.PoissonSource(rate_hz=50.0), positions=snn.layout.random_box(40, 100.0, seed=0))
    net.add_population("exc", 120, snn.LIF(tau_mem_ms=20.0, bias=0.9), positions=snn.layout.grid((4, 5, 6), spacing_um=20.0))
    net.connect("in", "exc", snn.connect.fixed_probability(0.1), weight=0.3, seed=1)
    net.connect("exc", "exc", snn.connect.fixed_probability(0.05), weight=0.05, seed=2)
    res = snn.simulate(net, 100, seed=3)
    assert res.counts.spikes > 0 and res.counts.graded_spikes == 0
    return net, res
