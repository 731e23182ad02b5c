"""Heat equation stepped by a sigma-delta network, against independent finite differences."""

import dataclasses

import numpy as np
import pytest
import scipy.ndimage
from _bit_exact import assert_same_result
from _fixed_point import QuantizingSimulator, quantize

import snn
from tasks import heat
from tasks._common import CONVERGED, MAXITER, TaskError

# The default run uses the numpy reference engine: the event engine compiles each network shape with
# numba (seconds to tens of seconds per shape), which would exceed these tests' time budget.  The
# slow-marked tests at the end run the default engine="event" on the issue's targets.
ENGINE = "reference"
needs_event = pytest.mark.skipif("event" not in snn.engine_names(), reason="the event engine is not available")


def finite_differences(u0: np.ndarray, r: float, n_time: int) -> np.ndarray:
    """Explicit Euler with the 7-point stencil by scipy.ndimage.correlate (zero outside the box)."""
    k = np.zeros((3, 3, 3))
    k[1, 1, 1] = 1.0 - 6.0 * r
    for d in ((0, 1, 1), (2, 1, 1), (1, 0, 1), (1, 2, 1), (1, 1, 0), (1, 1, 2)):
        k[d] = r
    u = np.array(u0, dtype=np.float64)
    for _ in range(n_time):
        u = scipy.ndimage.correlate(u, k, mode="constant", cval=0.0)
    return u


def rel(a, b):
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


@pytest.fixture(scope="module")
def solved16():
    p = heat.random_problem((16, 16, 16), n_time=100, seed=0)
    return p, heat.solve(p, engine=ENGINE)


def test_issue_target_after_100_steps(solved16):
    p, res = solved16
    fd = finite_differences(p.u0, p.r, 100)
    assert res.success and res.status == CONVERGED and res.n_steps == 100
    assert rel(res.x, fd) <= 1e-3
    # the documented max-norm bound holds and is below rtol * max|u0|
    err = float(np.max(np.abs(res.x - fd)))
    assert err <= res.errors["error_bound"] <= 1e-3 * np.max(np.abs(p.u0)) * (1 + 1e-9)
    np.testing.assert_allclose(heat.reference(p), fd, rtol=1e-12, atol=1e-15)


def test_one_network_step_per_time_step_and_counts(solved16):
    p, res = solved16
    c = res.run.counts
    assert c.n_steps == 100 and c.neuron_updates == 100 * p.n
    assert c.per_projection.keys() == {"u->u"}
    # sigma-delta: some messages are saved, and the count matches the per-step record
    assert 0 < c.synaptic_events < 100 * c.n_synapses
    assert c.synaptic_events == int(c.synaptic_events_per_step.sum())


def test_zero_threshold_reproduces_finite_differences_to_rounding():
    p = heat.random_problem((6, 5, 4), n_time=30, seed=2)
    res = heat.solve(p, engine=ENGINE, vth=0.0)
    np.testing.assert_allclose(res.x, finite_differences(p.u0, p.r, 30), rtol=1e-11, atol=1e-14)


def test_fewer_steps_and_trajectory_callback():
    p = heat.random_problem((5, 5, 5), n_time=20, seed=1)
    seen = {}
    res = heat.solve(p, engine=ENGINE, n_steps=12, vth=0.0, check_every=1, callback=lambda k, u: seen.__setitem__(k, u.copy()))
    assert res.status == MAXITER and not res.success and res.n_steps == 12
    assert sorted(seen) == list(range(1, 13))
    for k in (1, 5, 12):
        np.testing.assert_allclose(seen[k], finite_differences(p.u0, p.r, k), rtol=1e-11, atol=1e-14)
    np.testing.assert_array_equal(res.x, seen[12])
    # the callback comes after each chunk
    steps = []
    heat.solve(p, engine=ENGINE, n_steps=12, vth=0.0, check_every=5, callback=lambda k, u: steps.append(k))
    assert steps == [5, 10, 12]


ENGINES = ["reference", pytest.param("event", marks=needs_event)]


@pytest.mark.parametrize("engine", ENGINES)
def test_check_interval_does_not_change_the_result(engine):
    """A fixed threshold, chunks of 3 steps or one chunk of 30: the same field and op counts, bit for bit."""
    p = heat.random_problem((6, 5, 4), n_time=30, seed=2)
    small = heat.solve(p, engine=engine, vth=2e-3, check_every=3)
    big = heat.solve(p, engine=engine, vth=2e-3, check_every=30)
    assert len(small.info["vth"]) == 10 and len(big.info["vth"]) == 1
    assert 0 < small.run.counts.synaptic_events < 30 * small.run.counts.n_synapses  # the threshold saved messages
    assert_same_result(small, big)
    # and the loop's run is one plain run of the network
    one = snn.simulate(heat.build_network(p, vth=2e-3), 30, engine=engine, seed=0, record=("spikes",))
    assert small.run.counts.to_dict() == one.counts.to_dict() and small.run.state.equals(one.state)


def test_check_interval_does_not_change_the_result_in_fixed_point():
    loihi = pytest.importorskip("hardware.loihi")
    p = heat.random_problem((6, 5, 4), n_time=30, courant=0.75, seed=2)  # r = 1/8: the stencil weights are exact in 8 bits
    sims = [loihi.fixed_point_simulator(), loihi.fixed_point_simulator()]
    small = heat.solve(p, simulate=sims[0], engine="reference", vth=2e-3, check_every=3)
    big = heat.solve(p, simulate=sims[1], engine="reference", vth=2e-3, check_every=30)
    assert_same_result(small, big)
    assert [s.n_quantizations for s in sims] == [1, 1]
    # the messages' fixed-point resolution limits the field to about 0.4% of max|u0| (measured 0.0075 of 2.0)
    assert np.max(np.abs(small.x - finite_differences(p.u0, p.r, 30))) <= 0.01 * np.max(np.abs(p.u0))
    q = [QuantizingSimulator(weight_bits=8, bias_bits=16), QuantizingSimulator(weight_bits=8, bias_bits=16)]
    assert_same_result(heat.solve(p, simulate=q[0], vth=2e-3, check_every=4), heat.solve(p, simulate=q[1], vth=2e-3, check_every=30))


def test_a_non_callable_callback_is_refused_before_any_run():
    p = heat.random_problem((3, 3, 3), n_time=5, seed=0)
    sim = QuantizingSimulator()
    with pytest.raises(TaskError, match="callback"):
        heat.solve(p, simulate=sim, callback=42)
    assert sim.calls == 0


def test_complex_initial_values_are_refused():
    with pytest.raises(TaskError, match="u0: must be real"):
        heat.Problem(np.ones((2, 2, 2)) * (1 + 1j), alpha=1.0, dt=0.1, n_time=3)


def test_a_nan_field_is_never_a_success():
    def nan_simulate(network, n_steps, **kwargs):
        run = snn.simulate(network, n_steps, **kwargs)
        pops = {p: dict(d) for p, d in run.state.populations.items()}
        pops["u"]["sigma"] = np.full_like(pops["u"]["sigma"], np.nan)
        return dataclasses.replace(run, state=run.state.replace(populations=pops))

    p = heat.random_problem((3, 3, 3), n_time=5, seed=0)
    res = heat.solve(p, engine=ENGINE, simulate=nan_simulate, check_every=5)
    assert res.n_steps == p.n_time  # every time step was run, yet
    assert not res.success and res.status == MAXITER and "not finite" in res.message
    # an overflowing reference (finite differences of 1e308) is not a success either: its errors are NaN
    with np.errstate(over="ignore"):
        big = heat.solve(heat.Problem(np.full((3, 3, 3), 1e308), alpha=1.0, dt=0.1, n_time=3), engine=ENGINE)
    assert not big.success and "not finite" in big.message


@pytest.mark.parametrize("device", ["bogus", "cuda:one", None])
def test_dense_baseline_refuses_bad_devices_naming_device(device):
    pytest.importorskip("torch")
    with pytest.raises(TaskError, match="device="):
        heat.dense_baseline(heat.random_problem((3, 3, 3), n_time=2, seed=0), device=device)


def test_larger_threshold_saves_more_messages_and_costs_accuracy():
    p = heat.random_problem((10, 10, 10), n_time=40, seed=3)
    fd = finite_differences(p.u0, p.r, 40)
    fine = heat.solve(p, engine=ENGINE, rtol=1e-4)
    coarse = heat.solve(p, engine=ENGINE, rtol=0.3)
    assert coarse.run.counts.synaptic_events < fine.run.counts.synaptic_events
    assert rel(fine.x, fd) < rel(coarse.x, fd)
    assert np.max(np.abs(coarse.x - fd)) <= coarse.errors["error_bound"]


def test_unstable_time_step_is_refused_naming_dt():
    u0 = np.ones((3, 3, 3))
    heat.Problem(u0, alpha=1.0, dt=1.0 / 6.0, n_time=5)  # the limit itself is fine
    with pytest.raises(TaskError, match=r"dt=.*1/6"):
        heat.Problem(u0, alpha=1.0, dt=0.2, n_time=5)
    with pytest.raises(TaskError, match="dt"):
        heat.Problem(u0, alpha=2.0, dt=0.1, n_time=5, h=1.0)


@pytest.mark.parametrize(
    ("kwargs", "word"),
    [
        ({"u0": np.full((2, 2, 2), np.nan)}, "u0"),
        ({"u0": np.ones(4)}, "u0"),
        ({"alpha": -1.0}, "alpha"),
        ({"alpha": float("inf")}, "alpha"),
        ({"dt": 0.0}, "dt"),
        ({"n_time": 0}, "n_time"),
        ({"n_time": 2.5}, "n_time"),
        ({"h": 0.0}, "h"),
    ],
)
def test_bad_problem(kwargs, word):
    args = {"u0": np.ones((2, 2, 2)), "alpha": 1.0, "dt": 0.1, "n_time": 3} | kwargs
    with pytest.raises(TaskError, match=word):
        heat.Problem(**args)


def test_any_simulate_callable():
    p = heat.random_problem((6, 6, 6), n_time=20, seed=4)
    sim = QuantizingSimulator(weight_bits=8, bias_bits=24)
    res = heat.solve(p, simulate=sim, vth=0.0)
    assert sim.calls == 2
    # r = 0.15 is not a dyadic number: 8-bit weights perturb the scheme itself (7% after 20 steps) ...
    assert rel(res.x, finite_differences(p.u0, p.r, 20)) < 0.1
    # ... and the run is exactly the sigma-delta recursion with the simulator's weights, over both chunks
    w = heat.build_network(p).projection("u->u").weights
    wq = quantize(heat.build_network(p), weight_bits=8).projection("u->u").weights
    ref, sigma = p.u0.ravel(), w @ p.u0.ravel()
    for _ in range(20):
        act = sigma
        sigma, ref = sigma + wq @ (act - ref), act
    np.testing.assert_allclose(res.x.ravel(), act, rtol=1e-12, atol=1e-14)


def test_dense_baseline():
    pytest.importorskip("torch")
    p = heat.random_problem((8, 8, 8), n_time=50, seed=5)
    b = heat.dense_baseline(p)
    assert rel(b.x, finite_differences(p.u0, p.r, 50)) < 1e-5
    assert b.flops == 50 * 54 * p.n and b.bytes_moved == 50 * 2 * p.n * 4 and b.n_iter == 50


@pytest.mark.slow
@needs_event
def test_event_engine_meets_the_target_and_agrees_with_reference(solved16):
    p, ref_res = solved16
    res = heat.solve(p)  # default engine="event"
    assert rel(res.x, finite_differences(p.u0, p.r, 100)) <= 1e-3
    assert res.run.counts.synaptic_events == ref_res.run.counts.synaptic_events
    np.testing.assert_allclose(res.x, ref_res.x, rtol=1e-9, atol=1e-12)
