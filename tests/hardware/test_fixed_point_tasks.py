"""The QP and QUBO solvers' networks in Loihi fixed point: accuracy against independent solvers, and Lava == our engines.

The QP network is built here exactly as ``tasks.qp.solve`` builds it (PIPG:
``x`` BoxSigmaDelta, ``w``/``v`` ReLU SigmaDelta, the six projections), with
one fixed threshold and one run (``solve`` itself drives it in chunks, which
the run-state API rewrite of the tasks changes); the answer is compared with
OSQP (:func:`tasks.qp.reference`).  The QUBO solver is called as a user calls
it, ``tasks.qubo.solve(problem, simulate=hardware.loihi.fixed_point_simulator())``,
and compared with brute force.
"""

from __future__ import annotations

import os
import time
import warnings

import numpy as np
import pytest
import scipy.sparse as sp

import snn
from hardware import lava_backend, loihi, loihi_qp, loihi_qubo
from hardware.errors import LavaNotFoundError, QuantizationError
from tasks import qp, qubo

pytestmark = pytest.mark.filterwarnings("ignore::hardware.errors.LoihiClipWarning")


def _qp_network(problem: qp.Problem, vth_rel: float = 1e-4) -> snn.Network:
    s = qp._setup(problem, 1.0)
    a, b = s.alpha, s.beta
    n, m = problem.n, problem.m
    x0 = np.clip(np.zeros(n), problem.lb, problem.ub)
    vth = vth_rel * a
    projs = [
        ("x->x", "x", "x", np.eye(n) - a * problem.Q),
        ("v->x", "v", "x", -a * s.Ar.T),
        ("x->w", "x", "w", b * s.Ar),
        ("w->w", "w", "w", sp.identity(m, format="csr")),
        ("x->v", "x", "v", 2 * b * s.Ar),
        ("w->v", "w", "v", sp.identity(m, format="csr")),
    ]
    net = snn.Network(dt_ms=1.0)
    net.add_population(
        "x",
        n,
        qp.BoxSigmaDelta(vth=vth, bias=-a * problem.p, lo=problem.lb, hi=problem.ub),
        initial_state={"sigma": projs[0][3] @ x0, "ref": x0},
    )
    net.add_population("w", m, snn.SigmaDelta(vth=vth, bias=-b * s.kr, activation="relu"), initial_state={"sigma": b * s.Ar @ x0})
    net.add_population("v", m, snn.SigmaDelta(vth=vth, bias=-2 * b * s.kr, activation="relu"), initial_state={"sigma": 2 * b * s.Ar @ x0})
    for name, pre, post, W in projs:
        net.add_projection(pre, post, weights=W, delay_steps=1, name=name)
    return net


def _rel(x, ref):
    return float(np.linalg.norm(x - ref) / np.linalg.norm(ref))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_qp_in_fixed_point_is_close_to_osqp(seed):
    problem = qp.random_problem(20, 10, seed=seed)  # inequalities and box bounds, some active
    x_ref = qp.reference(problem)
    net = _qp_network(problem)
    sim = loihi.fixed_point_simulator()
    fx = sim(net, 3000, engine="event", seed=0)
    x = fx.state.populations["x"]["ref"]
    assert _rel(x, x_ref) < 5e-3
    assert qp.violation(problem, x) < 5e-3
    assert np.all(x >= problem.lb) and np.all(x <= problem.ub)  # the integer box lies inside the float one
    rep = sim.report
    assert {rep.populations[p].kind for p in ("x", "w", "v")} == {"box_sigma_delta"}
    assert isinstance(loihi.quantize(net)[0].population("w").model, loihi_qp.LoihiBoxSigmaDelta)
    # the 8-bit form of the same network is much worse: the 16-bit split and the message exponent are what make it work
    crude = loihi.fixed_point_simulator(weight_bits=8, message_exp=0, value_bits=16)(net, 3000, engine="event", seed=0)
    assert _rel(crude.state.populations["x"]["ref"], x_ref) > 10 * _rel(x, x_ref)


def test_qp_fixed_point_engines_agree_bit_for_bit():
    problem = qp.random_problem(8, 4, seed=5)
    net = _qp_network(problem)
    runs = [loihi.fixed_point_simulator()(net, 200, engine=e, seed=0, record=("spikes", "outputs")) for e in ("reference", "event")]
    for p in ("x", "w", "v"):
        np.testing.assert_array_equal(runs[0].outputs[p], runs[1].outputs[p])
    assert runs[0].state.equals(runs[1].state)
    assert runs[0].counts.to_dict() == runs[1].counts.to_dict()


def test_fixed_point_state_continues_a_run_exactly():
    """Two chunks through FixedPointSimulator(state=...) give the one-run spikes (calibration off: one quantization)."""
    problem = qp.random_problem(8, 4, seed=6)
    net = _qp_network(problem)
    vm = {"x": 8.0, "w": 8.0, "v": 8.0}
    sim = loihi.fixed_point_simulator(calibrate=False, value_max=vm)
    whole = sim(net, 120, engine="event", seed=0, record=("spikes", "outputs"))
    a = sim(net, 50, engine="event", seed=0, record=("spikes", "outputs"))
    b = sim(net, 70, engine="event", state=a.state, record=("spikes", "outputs"))
    for p in ("x", "w", "v"):
        np.testing.assert_array_equal(np.concatenate([a.outputs[p], b.outputs[p]]), whole.outputs[p])
    np.testing.assert_array_equal(b.state.populations["x"]["ref"], whole.state.populations["x"]["ref"])
    # a fresh simulator refuses the other's opaque state; from its float view (as_float) it starts a new
    # stage, and the float state converts back exactly when no projection is split (weight_bits=8): a split
    # one's two in-flight sums are folded into one float
    sim8 = loihi.fixed_point_simulator(calibrate=False, value_max=vm, weight_bits=8)
    a8 = sim8(net, 50, engine="event", seed=0, record=("spikes", "outputs"))
    b8 = sim8(net, 70, engine="event", state=a8.state, record=("spikes", "outputs"))
    fresh = loihi.fixed_point_simulator(calibrate=False, value_max=vm, weight_bits=8)
    with pytest.raises(QuantizationError, match="another fixed_point_simulator"):
        fresh(net, 70, engine="event", state=a8.state)
    c8 = fresh(net, 70, engine="event", state=a8.state.as_float(), record=("spikes", "outputs"))
    for p in ("x", "w", "v"):
        np.testing.assert_array_equal(c8.outputs[p], b8.outputs[p])
    assert np.count_nonzero(b8.outputs["x"]) > 10


@pytest.mark.parametrize("kind, seed", [("maxcut", 0), ("maxcut", 1), ("qubo", 2), ("qubo", 3)])
def test_qubo_in_fixed_point_finds_the_brute_force_optimum(kind, seed):
    problem = qubo.random_problem(14, kind=kind, seed=seed)
    sim = loihi.fixed_point_simulator()
    res = qubo.solve(problem, n_steps=1500, seed=seed, simulate=sim)
    assert res.errors["energy"] <= res.errors["reference_energy"] + 1e-9 * abs(res.errors["reference_energy"])
    assert isinstance(loihi.quantize(res.network)[0].population("x").model, loihi_qubo.LoihiBoltzmann)
    ref_engine = qubo.solve(problem, n_steps=1500, seed=seed, simulate=sim, engine="reference")
    np.testing.assert_array_equal(ref_engine.run.spikes["x"], res.run.spikes["x"])


def _need_lava() -> str:
    try:
        return lava_backend.lava_python()
    except LavaNotFoundError as exc:
        pytest.skip(f"Lava environment not available ({exc})")


@pytest.mark.lava
def test_qubo_solve_on_lava_equals_event_bit_for_bit():
    _need_lava()
    problem = qubo.random_problem(12, kind="qubo", seed=3)
    e = qubo.solve(problem, n_steps=300, seed=5, simulate=loihi.fixed_point_simulator(), engine="event")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        lv = qubo.solve(problem, n_steps=300, seed=5, simulate=loihi.fixed_point_simulator(), engine="lava")
    np.testing.assert_array_equal(e.x, lv.x)
    np.testing.assert_array_equal(e.run.spikes["x"], lv.run.spikes["x"])
    assert (e.n_steps, e.status) == (lv.n_steps, lv.status)
    assert e.run.counts.to_dict() == lv.run.counts.to_dict()
    assert e.run.state.equals(lv.run.state)


@pytest.mark.lava
def test_qp_network_on_lava_equals_event_bit_for_bit():
    _need_lava()
    problem = qp.random_problem(8, 4, seed=7)
    net = _qp_network(problem)
    sim = loihi.fixed_point_simulator()
    e = sim(net, 150, engine="event", seed=0, record=("spikes", "outputs"))
    lv = sim(net, 150, engine="lava", seed=0, record=("spikes", "outputs"))
    for p in ("x", "w", "v"):
        np.testing.assert_array_equal(e.outputs[p], lv.outputs[p])
        np.testing.assert_array_equal(e.state.populations[p]["ref"], lv.state.populations[p]["ref"])
    assert e.counts.to_dict() == lv.counts.to_dict()
    assert np.count_nonzero(e.outputs["x"]) > 50


@pytest.mark.lava
def test_chunked_qp_on_a_lava_session_equals_event_bit_for_bit():
    """The solver's loop: each chunk a new threshold (and a new calibration), state=previous.state; Lava via one session."""
    py = _need_lava()
    problem = qp.random_problem(8, 4, seed=8)
    runs = {}
    for engine in ("event", "lava"):
        sim = loihi.fixed_point_simulator()
        out = []
        state = None
        for k in range(5):
            net = _qp_network(problem, vth_rel=1e-2 * 0.5**k)
            opts = {"python": py} if engine == "lava" and state is not None else {}
            kwargs = {"state": state} if state is not None else {"seed": 0}
            r = sim(net, 25, engine=engine, record=("spikes", "outputs"), **kwargs, **opts)
            out.append(r)
            state = r.state
        sess = sim._session
        if engine == "lava":
            assert sess is not None and sess.alive
            pid = sess._proc.pid
        sim.close()
        runs[engine] = out
    for a, b in zip(runs["event"], runs["lava"]):
        assert a.t_start == b.t_start
        for p in ("x", "w", "v"):
            np.testing.assert_array_equal(a.outputs[p], b.outputs[p])
        assert a.counts.to_dict() == b.counts.to_dict()
    np.testing.assert_array_equal(runs["event"][-1].state.populations["x"]["ref"], runs["lava"][-1].state.populations["x"]["ref"])
    assert sum(int(np.count_nonzero(r.outputs["x"])) for r in runs["lava"]) > 30
    deadline = time.time() + 15  # close() stopped the session: its process group is gone
    while time.time() < deadline:
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    with pytest.raises(ProcessLookupError):
        os.killpg(pid, 0)
