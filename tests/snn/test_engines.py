"""Parity of the fast engines with the reference engine (the oracle).

Every network here is seeded and small; each test runs it on ``reference``
and on the fast engine and compares spikes, recorded state, graded outputs,
final state and op counts.  The event engine accumulates in the reference's
order, so it must agree bit for bit; the torch engine within float tolerance
(exactly for integer models).
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import numpy as np
import pytest
import scipy.sparse as sp

import snn
from snn.errors import SimulationError

#: the array namespace of the kernels defined here (engines rebind it with snn.kernels.specialize)
xp = np

# ---------------------------------------------------------------------------------------------
# networks


def _random_weights(rng, n_post, n_pre, p, mean, sd):
    mask = rng.random((n_post, n_pre)) < p
    return sp.csr_matrix(mask * rng.normal(mean, sd, (n_post, n_pre)))


def lif_network(n=120, seed=0):
    """LIF delta (exc) + current-synapse LIF with subtract reset and refractoriness (inh) + IF, Poisson input,
    several delays, a multi-delay projection and a zero-delay projection."""
    rng = np.random.default_rng(seed)
    net = snn.Network(dt_ms=1.0)
    net.add_population("exc", n, snn.LIF(tau_mem_ms=20.0, bias=rng.uniform(0.5, 1.1, n)), initial_state={"v": rng.uniform(0, 1, n)})
    net.add_population("inh", n // 4, snn.LIF(tau_mem_ms=10.0, tau_syn_ms=5.0, reset="subtract", refractory_steps=2, bias=0.6, r=2.0))
    net.add_population("integ", 10, snn.IF(v_th=2.0, bias=0.05))
    net.add_population("poisson", 30, snn.PoissonSource(rate_hz=rng.uniform(20, 80, 30)))
    ee = _random_weights(rng, n, n, 0.1, 0.08, 0.05)
    net.add_projection("exc", "exc", weights=ee, delay_steps=1)
    ei = _random_weights(rng, n // 4, n, 0.2, 0.15, 0.05)
    # several delays in one projection (1..4 steps per synapse)
    delays = np.where(ei.toarray() != 0, rng.integers(1, 5, ei.shape), 1)
    net.add_projection("exc", "inh", weights=ei, delay_steps=delays)
    net.add_projection("inh", "exc", weights=_random_weights(rng, n, n // 4, 0.3, -0.4, 0.1), delay_steps=2)
    net.add_projection("poisson", "exc", weights=_random_weights(rng, n, 30, 0.2, 0.3, 0.1), delay_steps=3)
    net.add_projection("poisson", "inh", weights=_random_weights(rng, n // 4, 30, 0.2, 0.2, 0.1), delay_steps=0)
    net.add_projection("exc", "integ", weights=_random_weights(rng, 10, n, 0.3, 0.2, 0.05), delay_steps=0)
    return net


def graded_network(seed=1):
    """SigmaDelta (identity and ReLU), a CurrentSource and an ExternalInput driven by inputs=."""
    rng = np.random.default_rng(seed)
    net = snn.Network()
    net.add_population("drive", 8, snn.CurrentSource(amplitude=rng.normal(0, 1, 8)))
    net.add_population("ext", 5, snn.ExternalInput())
    net.add_population("sd", 20, snn.SigmaDelta(vth=0.05, bias=rng.normal(0, 0.1, 20)))
    net.add_population("relu", 12, snn.SigmaDelta(vth=0.02, activation="relu"))
    net.add_projection("drive", "sd", weights=rng.normal(0, 0.3, (20, 8)), delay_steps=1)
    net.add_projection("ext", "sd", weights=rng.normal(0, 0.5, (20, 5)), delay_steps=2)
    net.add_projection("sd", "sd", weights=_random_weights(rng, 20, 20, 0.3, -0.05, 0.1), delay_steps=1)
    net.add_projection("sd", "relu", weights=rng.normal(0, 0.4, (12, 20)), delay_steps=0)
    inputs = {"ext": rng.normal(0, 1, (40, 5)) * (rng.random((40, 5)) < 0.3)}
    return net, inputs


def boltzmann_network(seed=2):
    rng = np.random.default_rng(seed)
    n = 40
    j = rng.normal(0, 0.5, (n, n))
    j = np.triu(j, 1) + np.triu(j, 1).T
    net = snn.Network()
    net.add_population(
        "b", n, snn.Boltzmann(bias=rng.normal(0, 0.3, n), temperature=2.0, cooling=0.98, min_temperature=0.05, update_prob=0.5)
    )
    net.add_projection("b", "b", weights=j, delay_steps=1)
    return net


def raster_network(seed=3):
    rng = np.random.default_rng(seed)
    raster = rng.random((25, 15)) < 0.2  # shorter than the run: silent afterwards
    net = snn.Network()
    net.add_population("src", 15, snn.SpikeSource(raster))
    net.add_population("out", 6, snn.LIF(tau_mem_ms=5.0, v_th=0.5))
    net.add_projection("src", "out", weights=rng.uniform(0, 0.4, (6, 15)), delay_steps=1)
    return net


# a fixed-point model and synapse defined here (no import of hardware): int64 state and accumulation
def _int_kernel(params, state, x, step, key):
    decay, vth = params
    (v,) = state
    pv = v * decay
    vd = xp.where(pv < 0, -((-pv) >> 12), pv >> 12)
    y = vd + x
    spikes = y > vth
    return spikes, (xp.where(spikes, y * 0, y),)


def _int_synapse_kernel(params, acc):
    (shift,) = params
    return (acc << shift) >> 1


@snn.register_model
@dataclasses.dataclass(frozen=True, eq=False)
class _TestIntNeuron(snn.NeuronModel):
    decay: int = 3900
    vth: int = 5000

    state_vars: ClassVar[tuple[str, ...]] = ("v",)
    dtype: ClassVar[str] = "int64"
    kernel: ClassVar[Any] = staticmethod(_int_kernel)

    def params(self, n, dt_ms):
        return (np.full(n, self.decay, np.int64), np.full(n, self.vth, np.int64))


@snn.register_synapse
@dataclasses.dataclass(frozen=True)
class _TestIntSynapse(snn.Synapse):
    shift: int = 2

    dtype: ClassVar[str] = "int64"
    kernel: ClassVar[Any] = staticmethod(_int_synapse_kernel)

    def prepare(self, weights):
        w = sp.csr_matrix(weights, copy=True)
        w.data = np.trunc(w.data)
        return w

    def params(self):
        return (np.int64(self.shift),)


def int_network(seed=4):
    rng = np.random.default_rng(seed)
    net = snn.Network()
    net.add_population("src", 20, snn.PoissonSource(rate_hz=100.0))
    net.add_population("a", 30, _TestIntNeuron())
    net.add_population("b", 10, _TestIntNeuron(decay=4000, vth=3000))
    net.add_projection("src", "a", weights=rng.integers(-200, 1200, (30, 20)).astype(float), synapse=_TestIntSynapse(shift=3))
    net.add_projection(
        "a", "a", weights=np.round(_random_weights(rng, 30, 30, 0.3, 300, 400).toarray()), synapse=_TestIntSynapse(shift=1), delay_steps=2
    )
    # an int population fed by a plain float projection (values truncated like astype(int64))
    net.add_projection("a", "b", weights=rng.uniform(0, 900.7, (10, 30)), delay_steps=1)
    return net


# ---------------------------------------------------------------------------------------------
# comparison


def assert_same_run(ref, res, *, exact=True, rtol=1e-9, atol=1e-9):
    assert ref.counts.to_dict() == res.counts.to_dict()
    assert set(ref.spikes) == set(res.spikes)
    for name in ref.spikes:
        np.testing.assert_array_equal(ref.spikes[name], res.spikes[name], err_msg=f"spikes of {name}")
    assert set(ref.outputs) == set(res.outputs)
    for name in ref.outputs:
        _compare(ref.outputs[name], res.outputs[name], exact, rtol, atol, f"outputs of {name}")
    assert {k: set(v) for k, v in ref.traces.items()} == {k: set(v) for k, v in res.traces.items()}
    for name, variables in ref.traces.items():
        for var, arr in variables.items():
            assert res.traces[name][var].dtype == arr.dtype
            _compare(arr, res.traces[name][var], exact, rtol, atol, f"state {name}.{var}")
    for name, variables in ref.state.populations.items():
        for var, arr in variables.items():
            _compare(np.asarray(arr), np.asarray(res.state.populations[name][var]), exact, rtol, atol, f"final {name}.{var}")


def _compare(a, b, exact, rtol, atol, what):
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape, what
    if exact or a.dtype.kind in "iub":
        np.testing.assert_array_equal(a, b, err_msg=what)
    else:
        np.testing.assert_allclose(b, a, rtol=rtol, atol=atol, err_msg=what)


def _snapshot(net):
    return [(p.name, p.n, p.model, {k: v.copy() for k, v in p.initial_state.items()}) for p in net.populations] + [
        (pr.name, pr.weights.copy(), pr.delays.copy()) for pr in net.projections
    ]


def _same_snapshot(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        for u, v in zip(x, y):
            if sp.issparse(u):
                assert (u != v).nnz == 0
            elif isinstance(u, np.ndarray):
                np.testing.assert_array_equal(u, v)
            elif isinstance(u, dict):
                assert u.keys() == v.keys() and all(np.array_equal(u[k], v[k]) for k in u)
            else:
                assert u is v or u == v


# ---------------------------------------------------------------------------------------------
# every fast engine: (engine, options, bit-exact for float models)

ENGINES = [
    pytest.param("event", {}, True, id="event"),
    pytest.param("torch", {"mode": "event"}, False, id="torch-event"),
    pytest.param("torch", {"mode": "dense"}, False, id="torch-dense"),
]


def _fast(net, n_steps, engine, options, **kwargs):
    if engine == "torch":
        pytest.importorskip("torch")
    return snn.simulate(net, n_steps, engine=engine, **kwargs, **options)


@pytest.mark.parametrize(("engine", "options", "exact"), ENGINES)
def test_parity_lif_if_poisson_delays(engine, options, exact):
    net = lif_network()
    before = _snapshot(net)
    ref = snn.simulate(net, 150, engine="reference", seed=7, record=LIF_RECORD)
    res = _fast(net, 150, engine, options, seed=7, record=LIF_RECORD)
    assert ref.counts.spikes > 200 and ref.counts.synaptic_events > 2000  # the test network is active
    assert ref.counts.spikes_per_population["inh"] > 0 and ref.counts.spikes_per_population["integ"] > 0
    assert_same_run(ref, res, exact=exact)
    assert res.engine == engine
    again = _fast(net, 150, engine, options, seed=7, record=LIF_RECORD)
    assert_same_run(res, again)  # deterministic
    _same_snapshot(before, _snapshot(net))  # the network is not changed


@pytest.mark.parametrize(("engine", "options", "exact"), ENGINES)
def test_parity_graded_sigma_delta_current_and_external_input(engine, options, exact):
    net, inputs = graded_network()
    ref = snn.simulate(net, 40, engine="reference", inputs=inputs, record=SD_RECORD)
    res = _fast(net, 40, engine, options, inputs=inputs, record=SD_RECORD)
    assert ref.counts.graded_spikes > 50
    assert_same_run(ref, res, exact=exact)


@pytest.mark.parametrize(("engine", "options", "exact"), ENGINES)
def test_parity_boltzmann_identical_from_the_seed(engine, options, exact):
    net = boltzmann_network()
    ref = snn.simulate(net, 120, engine="reference", seed=11, record=("spikes", "s"))
    res = _fast(net, 120, engine, options, seed=11, record=("spikes", "s"))
    assert_same_run(ref, res, exact=exact)
    other = _fast(net, 120, engine, options, seed=12, record=("spikes",))
    assert not np.array_equal(other.spikes["b"], res.spikes["b"])


@pytest.mark.parametrize(("engine", "options", "exact"), ENGINES)
def test_parity_spike_source_raster_shorter_than_the_run(engine, options, exact):
    net = raster_network()
    ref = snn.simulate(net, 40, engine="reference", record=("spikes", "v"))
    res = _fast(net, 40, engine, options, record=("spikes", "v"))
    assert ref.spikes["src"][25:].sum() == 0 and ref.counts.spikes_per_population["out"] > 0
    assert_same_run(ref, res, exact=exact)


@pytest.mark.parametrize(("engine", "options", "exact"), ENGINES)
def test_parity_integer_model_and_synapse_bit_exact(engine, options, exact):
    net = int_network()
    ref = snn.simulate(net, 80, engine="reference", seed=3, record=("spikes", "v"))
    res = _fast(net, 80, engine, options, seed=3, record=("spikes", "v"))
    assert ref.traces["a"]["v"].dtype == np.int64 and ref.counts.spikes_per_population["a"] > 10
    assert ref.counts.spikes_per_population["b"] > 0
    assert_same_run(ref, res, exact=True)


# ---------------------------------------------------------------------------------------------
# event engine

LIF_RECORD = ("spikes", "outputs", "v", "i", "refractory")
SD_RECORD = ("spikes", "outputs", "sigma", "ref")


def test_event_threads_give_identical_results():
    net = lif_network(n=400, seed=5)
    ref = snn.simulate(net, 60, engine="reference", seed=1, record=("spikes", "v"))
    serial = snn.simulate(net, 60, engine="event", seed=1, record=("spikes", "v"), parallel=False)
    threaded = snn.simulate(net, 60, engine="event", seed=1, record=("spikes", "v"), parallel=True, n_threads=2)
    assert_same_run(ref, serial)
    assert_same_run(ref, threaded)


def test_event_benchmark_workload_uniform_column_weights_and_threads():
    # the benchmark's network at a small size: one weight per pre neuron (stored once per column by the
    # event engine), a target split into parts per thread; bit-exact with and without threads
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    from benchmarks.peers import reference_arrays, reference_network

    net = reference_network(reference_arrays(3000, seed=2))
    ref = snn.simulate(net, 60, engine="reference", record=("spikes", "v"))
    assert ref.counts.spikes > 500
    for options in ({"parallel": False}, {"parallel": True, "n_threads": 2}):
        assert_same_run(ref, snn.simulate(net, 60, engine="event", record=("spikes", "v"), **options))
    # a second run reuses the transposed weights (cache) and gives the same result
    assert_same_run(ref, snn.simulate(net, 60, engine="event", record=("spikes", "v")))


def test_event_fused_update_paths_match_reference_with_uneven_thread_chunks():
    # every way the event engine feeds a population's fused update: straight from its one ring slot (a,
    # s), from the summed input of two projections (b), a source without input (src); a graded population
    # with recorded outputs (every message stored, negative ones included); odd sizes so that the two
    # threads' chunks differ in length and the sender lists are moved together
    from snn.engines import event

    rng = np.random.default_rng(11)
    net = snn.Network(dt_ms=1.0)
    net.add_population("src", 50, snn.PoissonSource(rate_hz=150.0))
    net.add_population("a", 1001, snn.LIF(tau_mem_ms=15.0, bias=rng.uniform(0.0, 0.9, 1001)))
    net.add_population("b", 333, snn.LIF(tau_mem_ms=10.0, tau_syn_ms=4.0, reset="subtract", refractory_steps=1))
    net.add_population("s", 257, snn.SigmaDelta(vth=0.05, bias=-0.1))
    net.add_projection("src", "a", weights=_random_weights(rng, 1001, 50, 0.2, 0.4, 0.2), delay_steps=2)
    net.add_projection("src", "b", weights=_random_weights(rng, 333, 50, 0.3, 0.3, 0.1))
    net.add_projection("a", "b", weights=_random_weights(rng, 333, 1001, 0.02, 0.2, 0.3), delay_steps=3)
    net.add_projection("a", "s", weights=_random_weights(rng, 257, 1001, 0.02, 0.1, 0.3))
    record = ("spikes", "outputs", "v", "sigma")
    ref = snn.simulate(net, 80, engine="reference", seed=4, record=record)
    assert min(ref.counts.spikes_per_population[p] for p in ("a", "b", "s")) > 50
    assert (ref.outputs["s"] < 0).any() and (ref.outputs["s"] > 0).any()
    for options in ({"parallel": False}, {"parallel": True, "n_threads": 2, "parallel_min_neurons": 1}):
        res = snn.simulate(net, 80, engine="event", seed=4, record=record, **options)
        assert_same_run(ref, res)
        stats = event.last_run_stats()
        assert (stats["fused_ring"], stats["fused_x"], stats["whole_array"]) == (2.0, 2.0, 0.0)


def test_event_op_counts_equal_an_independent_count():
    # synaptic events = sum over spikes of the sender's out-degree, counted here from the raster
    net = lif_network(n=80, seed=9)
    res = snn.simulate(net, 50, engine="event", seed=2, record=("spikes",))
    expected = 0
    for pr in net.projections:
        sent = res.spikes[pr.pre].sum(axis=0)
        expected += int(sent @ pr.out_degree())
    assert res.counts.synaptic_events == expected
    assert res.counts.spikes == sum(int(s.sum()) for s in res.spikes.values())


def test_event_array_fallback_for_kernels_outside_the_elementwise_subset():
    # a kernel with a population-wide reduction cannot be compiled per neuron: the whole-array form runs it
    net = snn.Network()
    net.add_population("src", 10, snn.PoissonSource(rate_hz=200.0))
    net.add_population("wta", 6, _WinnerTakeAll())
    net.add_projection("src", "wta", weights=np.random.default_rng(0).uniform(0, 1, (6, 10)))
    ref = snn.simulate(net, 30, engine="reference", record=("spikes", "acc"))
    res = snn.simulate(net, 30, engine="event", record=("spikes", "acc"))
    assert ref.counts.spikes_per_population["wta"] > 0
    assert_same_run(ref, res)


def _wta_kernel(params, state, x, step, key):
    (acc,) = state
    acc = acc * 0.5 + x
    best = acc >= xp.max(acc)
    return best, (acc,)


@snn.register_model
@dataclasses.dataclass(frozen=True, eq=False)
class _WinnerTakeAll(snn.NeuronModel):
    state_vars: ClassVar[tuple[str, ...]] = ("acc",)
    kernel: ClassVar[Any] = staticmethod(_wta_kernel)

    def params(self, n, dt_ms):
        return ()


def test_event_rejects_bad_options():
    net = raster_network()
    with pytest.raises(SimulationError, match="parallel"):
        snn.simulate(net, 5, engine="event", parallel="yes")
    with pytest.raises(SimulationError, match="n_threads"):
        snn.simulate(net, 5, engine="event", n_threads=0)
    with pytest.raises(SimulationError, match="parallel_min_neurons"):
        snn.simulate(net, 5, engine="event", parallel_min_neurons=-3)
    with pytest.raises(TypeError):
        snn.simulate(net, 5, engine="event", mode="dense")


@pytest.mark.parametrize(("engine", "options", "exact"), ENGINES)
def test_parity_models_registered_elsewhere_loihi_fixed_point(engine, options, exact):
    # hardware.loihi registers LoihiLIF (int64 state) and LoihiSynapse (int64 accumulation): bit-exact
    loihi = pytest.importorskip("hardware.loihi")
    rng = np.random.default_rng(6)
    net = snn.Network()
    net.add_population("src", 20, snn.PoissonSource(rate_hz=100.0))
    net.add_population("a", 30, loihi.LoihiLIF(du=400, dv=200, vth=80))
    net.add_projection("src", "a", weights=rng.integers(-50, 200, (30, 20)).astype(float), synapse=loihi.LoihiSynapse(weight_exp=2))
    net.add_projection(
        "a", "a", weights=rng.integers(-100, 100, (30, 30)).astype(float), synapse=loihi.LoihiSynapse(weight_exp=-1), delay_steps=2
    )
    ref = snn.simulate(net, 100, engine="reference", seed=1, record=("spikes", "u", "v"))
    res = _fast(net, 100, engine, options, seed=1, record=("spikes", "u", "v"))
    assert ref.counts.spikes_per_population["a"] > 100
    assert_same_run(ref, res)


# ---------------------------------------------------------------------------------------------
# torch engine


def test_torch_float32_agrees_within_float32_tolerance():
    pytest.importorskip("torch")
    net = raster_network()
    ref = snn.simulate(net, 40, engine="reference", record=("spikes", "v"))
    res = snn.simulate(net, 40, engine="torch", dtype="float32", record=("spikes", "v"))
    np.testing.assert_array_equal(ref.spikes["out"], res.spikes["out"])
    assert res.traces["out"]["v"].dtype == np.float64  # reported in the model's dtype
    np.testing.assert_allclose(res.traces["out"]["v"], ref.traces["out"]["v"], rtol=1e-5, atol=1e-6)
    assert ref.counts.to_dict() == res.counts.to_dict()


def test_torch_auto_mode_rule():
    from snn.engines.torch_engine import choose_mode

    opts = {"max_entries": 2**22, "min_density": 0.05}
    assert choose_mode(100, 100, 5000, 1, is_int=False, cuda=False, **opts) == "dense"  # small and 50% dense
    assert choose_mode(100, 100, 400, 1, is_int=False, cuda=False, **opts) == "event"  # 4% dense
    assert choose_mode(10_000, 10_000, 10**7, 1, is_int=False, cuda=False, **opts) == "event"  # 1e8 entries: too big
    assert choose_mode(1000, 1000, 10**5, 5, is_int=False, cuda=False, **opts) == "event"  # 5 delays x 1e6 entries
    assert choose_mode(100, 100, 5000, 1, is_int=True, cuda=True, **opts) == "event"  # no int64 matmul on CUDA


def test_torch_rejects_bad_options():
    torch = pytest.importorskip("torch")
    net = raster_network()
    with pytest.raises(SimulationError, match="mode"):
        snn.simulate(net, 5, engine="torch", mode="sparse")
    with pytest.raises(SimulationError, match="dtype"):
        snn.simulate(net, 5, engine="torch", dtype="int8")
    with pytest.raises(SimulationError, match="device"):
        snn.simulate(net, 5, engine="torch", device="tpu")
    if not torch.cuda.is_available():
        with pytest.raises(SimulationError, match="CUDA"):
            snn.simulate(net, 5, engine="torch", device="cuda")


def _cuda():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU here")
    return torch


@pytest.mark.gpu
@pytest.mark.parametrize("mode", ["event", "dense"])
def test_torch_cuda_float64_parity(mode):
    _cuda()
    net = lif_network()
    ref = snn.simulate(net, 150, engine="reference", seed=7, record=LIF_RECORD)
    res = snn.simulate(net, 150, engine="torch", device="cuda", dtype="float64", mode=mode, seed=7, record=LIF_RECORD)
    assert_same_run(ref, res, exact=False)


@pytest.mark.gpu
def test_torch_cuda_float32_default_and_integer_models():
    _cuda()
    net = raster_network()
    ref = snn.simulate(net, 40, engine="reference", record=("spikes", "v"))
    res = snn.simulate(net, 40, engine="torch", device="cuda", record=("spikes", "v"))
    np.testing.assert_array_equal(ref.spikes["out"], res.spikes["out"])
    np.testing.assert_allclose(res.traces["out"]["v"], ref.traces["out"]["v"], rtol=1e-5, atol=1e-6)
    net = int_network()
    ref = snn.simulate(net, 80, engine="reference", seed=3, record=("spikes", "v"))
    res = snn.simulate(net, 80, engine="torch", device="cuda", seed=3, record=("spikes", "v"))
    assert_same_run(ref, res, exact=True)
