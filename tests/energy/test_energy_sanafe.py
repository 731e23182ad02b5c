"""SANA-FE (PyPI sanafe) as the independent reference of the loihi1_sanafe profile.

Three small networks run through SANA-FE's Loihi architecture and through
snn + energy.estimate(..., "loihi1_sanafe", mapping) with the same placement;
the energy totals must agree within 25%.  Where the two simulators' dynamics are
identical (integrate-and-fire with dyadic parameters), SANA-FE's own counts of
synaptic events, messages and hops also check the mapping traffic we build.
"""

from __future__ import annotations

import numpy as np
import pytest

import energy
import snn

pytest.importorskip("sanafe", reason="SANA-FE is an optional extra: pip install 'snn-toolkit[sanafe]'")
from energy import sanafe as esf  # noqa: E402


def _if_recurrent():
    """320 neurons: spike trains into recurrent IF neurons, scattered over 8 cores in different tiles (E-W and N-S hops)."""
    rng = np.random.default_rng(11)
    net = snn.Network(dt_ms=1.0)
    net.add_population("in", 64, snn.SpikeSource(raster=rng.random((80, 64)) < 0.1))
    net.add_population("a", 256, snn.IF(v_th=1.0, bias=rng.integers(1, 8, 256) / 64))
    net.connect("in", "a", snn.connect.fixed_probability(0.2), weight=0.25, seed=1)
    net.connect("a", "a", snn.connect.fixed_probability(0.03), weight=0.125, seed=2)
    cores = np.array([0, 5, 17, 22, 36, 51, 70, 99])
    return net, {"in": cores[np.arange(64) % 2], "a": cores[np.arange(256) % 8]}, True


def _lif_feedforward():
    """350 neurons: spike trains into two leaky layers, half the hidden neurons without bias (idle in SANA-FE)."""
    rng = np.random.default_rng(12)
    net = snn.Network(dt_ms=1.0)
    net.add_population("in", 100, snn.SpikeSource(raster=rng.random((100, 100)) < 0.05))
    net.add_population("hidden", 200, snn.LIF(tau_mem_ms=10.0, bias=np.where(rng.random(200) < 0.5, 0.0, 0.08)))
    net.add_population("out", 50, snn.LIF(tau_mem_ms=20.0))
    net.connect("in", "hidden", snn.connect.fixed_probability(0.1), weight=0.4, seed=3)
    net.connect("hidden", "out", snn.connect.fixed_probability(0.2), weight=0.3, seed=4)
    return net, esf.sequential_placement(net, neurons_per_core=50), False


def _excitatory_inhibitory():
    """350 neurons on 3D grids: Poisson input (replayed), distance-dependent excitation, inhibition, random placement."""
    rng = np.random.default_rng(13)
    net = snn.Network(dt_ms=1.0)
    net.add_population("in", 50, snn.PoissonSource(rate_hz=40.0))
    net.add_population("exc", 240, snn.IF(v_th=1.0, bias=1 / 32, reset="subtract"), positions=snn.layout.grid((6, 8, 5), spacing_um=20.0))
    net.add_population("inh", 60, snn.IF(v_th=1.0, bias=1 / 64), positions=snn.layout.grid((3, 4, 5), spacing_um=40.0))
    net.connect("in", "exc", snn.connect.fixed_probability(0.1), weight=0.5, seed=5)
    net.connect("exc", "exc", snn.connect.distance_gaussian(sigma_um=30.0, p_max=0.3), weight=0.125, seed=6)
    net.connect("exc", "inh", snn.connect.fixed_probability(0.1), weight=0.25, seed=7)
    net.connect("inh", "exc", snn.connect.fixed_probability(0.2), weight=-0.5, seed=8)
    return net, {p.name: rng.integers(0, 40, p.n) * 3 % 128 for p in net.populations}, True


@pytest.fixture(scope="module")
def crosschecks():
    out = []
    for build in (_if_recurrent, _lif_feedforward, _excitatory_inhibitory):
        net, placement, exact_dynamics = build()
        assert 200 <= net.n_neurons <= 500
        x = esf.crosscheck(net, 100, placement, name=build.__name__.strip("_"))
        out.append((x, exact_dynamics))
    return out


def test_estimate_agrees_with_sanafe_within_25_percent(crosschecks):
    for x, _ in crosschecks:
        assert x["sanafe_energy_j"] > 0 and x["estimate_energy_j"] > 0
        assert abs(x["energy_rel_diff"]) < 0.25, (
            f"{x['name']}: estimate {x['estimate_energy_j']:.4g} J vs SANA-FE {x['sanafe_energy_j']:.4g} J"
        )
        assert x["energy_rel_diff"] == pytest.approx((x["estimate_energy_j"] - x["sanafe_energy_j"]) / x["sanafe_energy_j"])


def test_traffic_matches_sanafe_counts_where_the_dynamics_are_identical(crosschecks):
    for x, exact in crosschecks:
        if not exact:
            continue
        ours, theirs = x["snn"], x["sanafe"]
        assert ours["synaptic_events"] == theirs["synaptic_events"]
        assert ours["messages"] == theirs["messages"]
        assert ours["hops"] == theirs["hops"]
        assert x["traffic"]["hops"]["ew"] > 0 and x["traffic"]["hops"]["ns"] > 0


def test_the_report_says_how_far_apart_they_are(crosschecks, tmp_path):
    counts = {"n_steps": 1, "dt_ms": 1.0, "spikes": 1, "synaptic_events": 1, "neuron_updates": 1, "n_neurons": 2, "n_synapses": 1}
    comp = energy.compare("tiny", counts, profiles=["truenorth"])
    paths = energy.report([comp], tmp_path, crosschecks=[x for x, _ in crosschecks])
    md = open(paths["md"], encoding="utf-8").read()
    assert "Cross-check: SANA-FE" in md
    for x, _ in crosschecks:
        assert f"{100 * x['energy_rel_diff']:+.1f} %" in md


def test_unsupported_networks_are_refused():
    net = snn.Network()
    net.add_population("s", 10, snn.SigmaDelta())
    with pytest.raises(energy.EnergyError, match="SigmaDelta"):
        esf.run(net, 5, {"s": np.zeros(10, dtype=int)})
    net = snn.Network()
    net.add_population("in", 4, snn.SpikeSource(raster=np.ones((3, 4), dtype=bool)))
    net.add_population("a", 4, snn.IF())
    net.connect("in", "a", snn.connect.one_to_one(), weight=1.0, delay_steps=2)
    with pytest.raises(energy.EnergyError, match="delays"):
        esf.run(net, 5, esf.sequential_placement(net))
    with pytest.raises(energy.EnergyError, match="placement"):
        esf.run(net, 5, {"in": np.zeros(4, dtype=int)})
    with pytest.raises(energy.EnergyError, match="core indices"):
        esf.run(net, 5, {"in": np.zeros(4, dtype=int), "a": np.full(4, 500)})
