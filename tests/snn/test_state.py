"""Explicit run state: a split run equals the whole run, bit for bit, on every engine.

``concat(simulate(net, a, state=s0), simulate(net, b, state=...))`` must equal
``simulate(net, a + b)`` in spikes, graded outputs, recorded traces, the final
state (neurons and messages in flight) and every op count, per-step arrays
included.  The whole run is the independent reference here: it never sees a
state boundary.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

import snn
from snn.errors import FileFormatError, SimulationError, SNNTypeError
from snn.state import StateError

ENGINES = ["reference", "event", "torch"]
RECORD = ("spikes", "outputs", "v", "i", "sigma", "ref", "s")


def _random_net(seed: int, *, n_lif: int = 40, max_delay: int = 5) -> snn.Network:
    """Poisson + Boltzmann sources, a refractory LIF with per-synapse delays 1..max_delay,
    a zero-delay chain into a sigma-delta population, and an IF population."""
    rng = np.random.default_rng(seed)
    net = snn.Network(dt_ms=1.0)
    net.add_population("poisson", 15, snn.PoissonSource(rate_hz=120.0))
    net.add_population("lif", n_lif, snn.LIF(tau_mem_ms=8.0, tau_syn_ms=4.0, v_th=1.0, v_reset=0.0, bias=0.02, refractory_steps=2))
    net.add_population("boltz", 12, snn.Boltzmann(temperature=1.0, cooling=0.97, min_temperature=0.05))
    net.add_population("sd", 10, snn.SigmaDelta(vth=0.02, bias=0.05))
    net.add_population("if", 8, snn.IF(v_th=1.0, v_reset=0.0, bias=0.0))

    def rand(n_post, n_pre, density, scale, shift=0.0):
        return sp.random(
            n_post, n_pre, density=density, random_state=int(rng.integers(1 << 30)), data_rvs=lambda k: scale * (rng.random(k) - shift)
        )

    w = rand(n_lif, n_lif, 0.15, 0.6, 0.3).tocsr()
    delays = np.zeros((n_lif, n_lif))
    coo = w.tocoo()
    delays[coo.row, coo.col] = rng.integers(1, max_delay + 1, coo.nnz)
    net.add_projection("lif", "lif", weights=w, delay_steps=delays)
    net.add_projection("poisson", "lif", weights=rand(n_lif, 15, 0.3, 1.5), delay_steps=2)
    net.add_projection("lif", "boltz", weights=rand(12, n_lif, 0.3, 1.0, 0.5), delay_steps=1)
    net.add_projection("boltz", "sd", weights=rand(10, 12, 0.5, 0.4, 0.5), delay_steps=0)  # zero-delay chain
    net.add_projection("sd", "if", weights=rand(8, 10, 0.5, 3.0), delay_steps=0)
    net.add_projection("sd", "sd", weights=rand(10, 10, 0.3, -0.2), delay_steps=3)
    return net


def _assert_same(split: snn.RunResult, whole: snn.RunResult) -> None:
    assert split.t_start == whole.t_start and split.n_steps == whole.n_steps
    assert split.counts.equals(whole.counts), (split.counts, whole.counts)
    assert split.spikes.keys() == whole.spikes.keys()
    for k in whole.spikes:
        np.testing.assert_array_equal(split.spikes[k], whole.spikes[k], err_msg=f"spikes of {k}")
    for k in whole.outputs:
        np.testing.assert_array_equal(split.outputs[k], whole.outputs[k], err_msg=f"outputs of {k}")
    for p, d in whole.traces.items():
        for v, a in d.items():
            assert split.traces[p][v].dtype == a.dtype
            np.testing.assert_array_equal(split.traces[p][v], a, err_msg=f"trace {p}.{v}")
    assert split.state.equals(whole.state)


@pytest.mark.parametrize("engine", ENGINES)
def test_split_equals_whole_random_networks(engine):
    for seed in (0, 1):
        net = _random_net(seed)
        whole = snn.simulate(net, 90, engine=engine, seed=seed + 5, record=RECORD)
        # the network is active everywhere, or the test would prove little
        assert all(v > 0 for v in whole.counts.spikes_per_population.values()), whole.counts.spikes_per_population
        assert any(a.any() for a in whole.state.in_flight.values())
        runs, state = [], snn.init_state(net, seed=seed + 5)
        for k in (1, 17, 2, 40, 30):
            runs.append(snn.simulate(net, k, engine=engine, state=state, record=RECORD))
            state = runs[-1].state
        _assert_same(snn.RunResult.concat(runs), whole)


def test_every_split_point_small_network():
    net = _random_net(3, n_lif=12, max_delay=4)
    n = 24
    for engine in ENGINES:
        whole = snn.simulate(net, n, engine=engine, seed=9, record=RECORD)
        for cut in range(1, n):
            a = snn.simulate(net, cut, engine=engine, state=snn.init_state(net, seed=9), record=RECORD)
            b = snn.simulate(net, n - cut, engine=engine, state=a.state, record=RECORD)
            _assert_same(snn.RunResult.concat([a, b]), whole)


def test_engines_agree_on_states():
    """The event engine's states are the reference's bit for bit; torch's (BLAS sums) to float tolerance."""
    net = _random_net(4)
    ref = snn.simulate(net, 50, engine="reference", seed=2)
    for engine in ("event", "torch"):
        other = snn.simulate(net, 50, engine=engine, seed=2)
        if engine == "event":
            assert other.state.equals(ref.state)
        for p, d in ref.state.populations.items():
            for v, a in d.items():
                np.testing.assert_allclose(other.state.populations[p][v], a, rtol=1e-12, atol=1e-12)
        for j, a in ref.state.in_flight.items():
            np.testing.assert_allclose(other.state.in_flight[j], a, rtol=1e-12, atol=1e-12)
        # and each engine continues the other's state
        a = snn.simulate(net, 20, engine="reference", state=other.state)
        b = snn.simulate(net, 20, engine=engine, state=ref.state)
        assert a.counts.equals(b.counts) and a.state.t == b.state.t == 70


def test_continuing_does_not_replay_random_input():
    net = snn.Network(1.0)
    net.add_population("p", 200, snn.PoissonSource(rate_hz=100.0))
    a = snn.simulate(net, 50, seed=1)
    b = snn.simulate(net, 50, state=a.state)
    again = snn.simulate(net, 50, seed=1)  # a fresh run with the same seed replays a
    np.testing.assert_array_equal(again.spikes["p"], a.spikes["p"])
    assert not np.array_equal(b.spikes["p"], a.spikes["p"])
    whole = snn.simulate(net, 100, seed=1)
    np.testing.assert_array_equal(whole.spikes["p"][50:], b.spikes["p"])
    assert b.t_start == 50 and b.state.t == 100


def test_spike_source_raster_continues_at_absolute_step():
    raster = np.zeros((10, 3), bool)
    raster[[1, 6, 8], [0, 1, 2]] = True
    net = snn.Network(1.0)
    net.add_population("s", 3, snn.SpikeSource(raster))
    a = snn.simulate(net, 5)
    b = snn.simulate(net, 7, state=a.state)
    np.testing.assert_array_equal(np.concatenate([a.spikes["s"], b.spikes["s"]])[:10], raster)
    assert not b.spikes["s"][5:].any()


def test_external_inputs_are_per_run_rows():
    net = snn.Network(1.0)
    net.add_population("in", 2, snn.ExternalInput())
    net.add_population("n", 2, snn.IF(v_th=10.0))
    net.add_projection("in", "n", weights=np.eye(2), delay_steps=1)
    x = np.arange(20, dtype=float).reshape(10, 2)
    whole = snn.simulate(net, 10, inputs={"in": x}, record=("v",))
    a = snn.simulate(net, 4, inputs={"in": x[:4]}, record=("v",))
    b = snn.simulate(net, 6, state=a.state, inputs={"in": x[4:]}, record=("v",))
    np.testing.assert_array_equal(snn.RunResult.concat([a, b]).traces["n"]["v"], whole.traces["n"]["v"])
    with pytest.raises(SimulationError, match=r"inputs\['in'\].*exactly one row per step"):
        snn.simulate(net, 10, inputs={"in": x[:4]})


def test_parameters_may_change_structure_may_not():
    def build(v_th=1.0, w=0.5, delay=2, n=5, p=1.0):
        net = snn.Network(1.0)
        net.add_population("src", 4, snn.PoissonSource(rate_hz=200.0 * p))
        net.add_population("n", n, snn.LIF(tau_mem_ms=10.0, v_th=v_th))
        net.add_projection("src", "n", weights=np.full((n, 4), w), delay_steps=delay)
        return net

    a = snn.simulate(build(), 20, seed=3, record=("v",))
    # new threshold, weights and rate: the run goes on from the state
    b = snn.simulate(build(v_th=0.5, w=0.9, p=0.5), 20, state=a.state, record=("v",))
    assert b.t_start == 20 and b.counts.spikes > 0
    # the same continuation by hand: reference semantics are "parameters are read each step"
    c = snn.simulate(build(v_th=0.5, w=0.9, p=0.5), 20, state=a.state, record=("v",), engine="event")
    np.testing.assert_array_equal(b.traces["n"]["v"], c.traces["n"]["v"])
    with pytest.raises(StateError, match="population 'n': size changed"):
        snn.simulate(build(n=6), 5, state=a.state)
    with pytest.raises(StateError, match=r"projection 'src->n': max delay changed \(2 in the state, 3"):
        snn.simulate(build(delay=3), 5, state=a.state)
    sparse = build()
    sparse2 = snn.Network(1.0)
    sparse2.add_population("src", 4, snn.PoissonSource(rate_hz=200.0))
    sparse2.add_population("n", 5, snn.LIF(tau_mem_ms=10.0))
    w = np.full((5, 4), 0.5)
    w[0, 0] = 0.0
    sparse2.add_projection("src", "n", weights=w, delay_steps=2)
    assert sparse.n_synapses != sparse2.n_synapses
    with pytest.raises(StateError, match="sparsity pattern or delays changed"):
        snn.simulate(sparse2, 5, state=a.state)
    other = snn.Network(2.0)
    other.add_population("src", 4, snn.PoissonSource(rate_hz=10.0))
    with pytest.raises(StateError, match="dt_ms"):
        snn.simulate(other, 5, state=a.state)


def test_seed_with_state():
    net = _random_net(0, n_lif=10)
    s = snn.init_state(net, seed=7)
    assert snn.simulate(net, 3, state=s, seed=7).seed == 7
    with pytest.raises(SimulationError, match="seed=8: the run continues state"):
        snn.simulate(net, 3, state=s, seed=8)
    with pytest.raises(SimulationError, match="seed"):
        snn.init_state(net, seed=2**64)
    with pytest.raises(SimulationError, match="seed"):
        snn.init_state(net, seed=-1)
    with pytest.raises(SNNTypeError, match="state=dict"):
        snn.simulate(net, 3, state={"t": 0})


def test_save_and_load_state(tmp_path):
    net = _random_net(1)
    run = snn.simulate(net, 33, engine="event", seed=4)
    path = tmp_path / "s.npz"
    snn.save_state(run.state, path)
    back = snn.load_state(path, net)
    assert back.equals(run.state)
    # the loaded state continues exactly like the original
    a = snn.simulate(net, 10, state=run.state, record=RECORD)
    b = snn.simulate(net, 10, state=back, record=RECORD)
    _assert_same(a, b)
    with np.load(path, allow_pickle=False) as z:
        assert "header" in z.files
    assert not [p for p in tmp_path.iterdir() if p.name != "s.npz"]  # no temporary left behind


def test_bad_states_are_refused(tmp_path):
    net = _random_net(1)
    state = snn.simulate(net, 5).state
    # the state of another network
    small = _random_net(1, n_lif=11)
    with pytest.raises(StateError, match="population 'lif': size changed"):
        snn.simulate(small, 5, state=state)
    with pytest.raises(StateError, match="population 'lif'"):
        snn.load_state(_saved(state, tmp_path / "a.npz"), small)
    # wrong shapes and dtypes, and NaN
    pops = {p: dict(d) for p, d in state.populations.items()}
    pops["lif"]["v"] = pops["lif"]["v"][:-1]
    with pytest.raises(StateError, match=r"state.populations\['lif'\]\['v'\]"):
        snn.simulate(net, 5, state=state.replace(populations=pops))
    pops["lif"]["v"] = np.full(40, np.nan)
    with pytest.raises(StateError, match="NaN"):
        snn.simulate(net, 5, state=state.replace(populations=pops))
    flight = dict(state.in_flight)
    flight["lif->lif"] = flight["lif->lif"].astype(np.int64)
    with pytest.raises(StateError, match=r"in_flight\['lif->lif'\]"):
        snn.simulate(net, 5, state=state.replace(in_flight=flight))
    # foreign and damaged files
    snn.save(net, tmp_path / "net.npz")
    with pytest.raises(FileFormatError, match="not a state file"):
        snn.load_state(tmp_path / "net.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip at all")
    with pytest.raises(FileFormatError, match="junk.npz"):
        snn.load_state(tmp_path / "junk.npz")
    good = _saved(state, tmp_path / "b.npz").read_bytes()
    damaged = bytearray(good)
    for k in range(200, len(damaged) - 200, 97):
        damaged[k] ^= 0xFF
    (tmp_path / "c.npz").write_bytes(bytes(damaged))
    with pytest.raises(FileFormatError, match="c.npz"):
        snn.load_state(tmp_path / "c.npz")


def _saved(state, path):
    snn.save_state(state, path)
    return path


def test_record_subset_of_neurons():
    net = _random_net(2)
    full = snn.simulate(net, 30, record=("spikes", "v"))
    for engine in ENGINES:
        part = snn.simulate(net, 30, engine=engine, record={"lif": {"v": [0, 5, 9], "spikes": [3, 1]}, "sd": ("sigma",)})
        np.testing.assert_array_equal(part.traces["lif"]["v"], full.traces["lif"]["v"][:, [0, 5, 9]])
        np.testing.assert_array_equal(part.spikes["lif"], full.spikes["lif"][:, [3, 1]])
        assert part.traces["sd"]["sigma"].shape == (30, 10)
    with pytest.raises(SimulationError, match=r"record\['lif'\]\['v'\].*\[0, 40\)"):
        snn.simulate(net, 3, record={"lif": {"v": [40]}})


def test_concat_refuses_runs_that_do_not_follow():
    net = _random_net(0, n_lif=10)
    a = snn.simulate(net, 5)
    b = snn.simulate(net, 5, state=a.state)
    with pytest.raises(SimulationError, match="contiguous"):
        snn.RunResult.concat([b, a])
    with pytest.raises(SimulationError, match="contiguous"):
        snn.RunResult.concat([a, a])
    c = snn.simulate(net, 5, state=a.state, record=("v",))
    with pytest.raises(SimulationError, match="record the same"):
        snn.RunResult.concat([a, c])


def test_final_state_is_a_deprecated_alias():
    net = _random_net(0, n_lif=10)
    res = snn.simulate(net, 5)
    with pytest.warns(DeprecationWarning):
        old = res.final_state
    for p, d in res.state.populations.items():
        for v, a in d.items():
            np.testing.assert_array_equal(old[p][v], a)
    assert len(repr(res)) < 300 and "silent" in snn.simulate(_random_net(0, n_lif=10), 1).summary()


def test_fixed_point_simulator_split_equals_whole():
    from hardware import loihi as hw

    net = snn.Network(dt_ms=1.0)
    net.add_population("in", 20, snn.PoissonSource(rate_hz=100.0))
    net.add_population("lif", 50, snn.LIF(tau_mem_ms=10.0, tau_syn_ms=5.0, v_th=1.0, v_reset=0.0, bias=0.05))
    net.add_population("sd", 30, snn.SigmaDelta(vth=0.01, bias=0.2))
    net.add_projection("in", "lif", weights=sp.random(50, 20, density=0.3, random_state=1) * 2, delay_steps=2)
    net.add_projection("lif", "lif", weights=sp.random(50, 50, density=0.1, random_state=2) * 0.5, delay_steps=3)
    net.add_projection("lif", "sd", weights=sp.random(30, 50, density=0.3, random_state=3), delay_steps=1)
    net.add_projection("sd", "sd", weights=-0.2 * sp.random(30, 30, density=0.2, random_state=4), delay_steps=1)
    rec = ("spikes", "v", "sigma", "outputs")
    for engine in ("reference", "event"):
        whole = hw.fixed_point_simulator()(net, 80, engine=engine, seed=2, record=rec)
        sim = hw.fixed_point_simulator()
        runs, state = [], None
        for k in (13, 30, 37):
            runs.append(sim(net, k, engine=engine, state=state if state is not None else snn.init_state(net, seed=2), record=rec))
            state = runs[-1].state
        split = snn.RunResult.concat(runs)
        assert split.counts.equals(whole.counts) and split.state.fixed.equals(whole.state.fixed)
        for k in whole.spikes:
            np.testing.assert_array_equal(split.spikes[k], whole.spikes[k])
        for p, d in whole.traces.items():
            for v, a in d.items():
                np.testing.assert_array_equal(split.traces[p][v], a)
        assert sim.n_quantizations == 1  # quantized once for the whole split run
        assert whole.counts.spikes_per_population["sd"] > 0 and whole.counts.spikes_per_population["lif"] > 0
        # the integer state is opaque: plain snn.simulate refuses it, naming who can continue it
        with pytest.raises(StateError, match="fixed_point_simulator"):
            snn.simulate(net, 3, state=state)
