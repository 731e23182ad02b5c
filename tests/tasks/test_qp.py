"""tasks.qp: the spiking PIPG network against OSQP, scipy and a numpy transcription of the iteration."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from scipy.optimize import LinearConstraint, minimize

import snn
from tasks import qp
from tasks._common import NONFINITE, TaskError

# most tests run on the reference engine (no compile time); one test holds the default
# "event" engine to it, step for step
ENGINE = "reference"


@pytest.fixture(scope="module")
def problem():
    return qp.random_problem(50, 20, seed=0)


@pytest.fixture(scope="module")
def solved(problem):
    return qp.solve(problem, engine=ENGINE)


def _f(p, x):
    return 0.5 * x @ p.Q @ x + p.p @ x


def test_objective_and_feasibility_at_n50_m20(problem, solved):
    res = solved
    x_ref = qp.reference(problem)
    f_ref = _f(problem, x_ref)
    assert res.success
    assert abs(_f(problem, res.x) - f_ref) / abs(f_ref) <= 1e-2
    viol = max(0.0, float(np.max(problem.A @ res.x - problem.k)))
    scale = max(1.0, float(np.abs(problem.k).max()), 1.0)
    assert viol / scale <= 1e-3
    assert np.all(res.x >= problem.lb) and np.all(res.x <= problem.ub)  # the box holds exactly (clipped activation)
    assert res.errors["violation"] == pytest.approx(viol / scale)
    # the instance is not trivial: constraints and bounds are active at the optimum
    assert np.sum(problem.A @ x_ref > problem.k - 1e-6) >= 3
    assert np.sum(np.abs(x_ref) > 1 - 1e-6) >= 3
    # the multipliers of the active constraints are found
    y = res.info["y"]
    assert np.all(y >= 0)
    inactive = problem.A @ x_ref < problem.k - 1e-2
    assert np.all(y[inactive] < 1e-2)


def test_osqp_reference_agrees_with_scipy(problem):
    x_ref = qp.reference(problem)
    cons = [LinearConstraint(problem.A, -np.inf, problem.k)]
    out = minimize(
        lambda x: _f(problem, x), np.zeros(50), jac=lambda x: problem.Q @ x + problem.p, method="SLSQP",
        constraints=cons, bounds=list(zip(problem.lb, problem.ub)), options={"ftol": 1e-14, "maxiter": 1000},
    )  # fmt: skip
    assert out.success
    assert _f(problem, x_ref) == pytest.approx(out.fun, rel=1e-6)


def _pipg_numpy(p, alpha, beta, steps):
    """The network's iteration written out in numpy (synchronous update, one step delay everywhere)."""
    norms = np.linalg.norm(p.A, axis=1)
    Ar, kr = p.A / norms[:, None], p.k / norms
    x = np.clip(np.zeros(p.n), p.lb, p.ub)
    w = np.zeros(p.m)
    v = np.zeros(p.m)
    for _ in range(steps):
        x_new = np.clip(x - alpha * (p.Q @ x + p.p + Ar.T @ v), p.lb, p.ub)
        r = Ar @ x - kr
        w, v = np.maximum(0, w + beta * r), np.maximum(0, w + 2 * beta * r)
        x = x_new
    return x, w / norms


def test_vth_zero_network_is_the_pipg_iteration(problem):
    res = qp.solve(problem, engine=ENGINE, vth=0.0, rtol=1e-12, feas_tol=1e-12, n_steps=60, check_every=17)
    x, y = _pipg_numpy(problem, res.info["alpha"], res.info["beta"], 60)
    assert res.n_steps == 60 and not res.success
    assert np.allclose(res.x, x, rtol=0, atol=1e-10)
    assert np.allclose(res.info["y"], y, rtol=0, atol=1e-10)


def test_activity_falls_to_zero_as_it_settles(problem, solved):
    """With a fixed threshold the traffic stops once every change is below it."""
    res = qp.solve(problem, engine=ENGINE, vth=1e-4, rtol=1e-9, feas_tol=1e-9, n_steps=400, check_every=100)
    per_step = res.run.counts.spikes_per_step
    assert per_step[:20].min() > 20
    assert per_step[-100:].sum() == 0
    counts = solved.run.counts
    assert counts.synaptic_events == sum(counts.per_projection.values())
    assert set(counts.per_projection) == {"x->x", "v->x", "x->w", "w->w", "x->v", "w->v"}


def test_box_only_problem():
    rng = np.random.default_rng(2)
    M = rng.standard_normal((30, 30))
    Q = M.T @ M / 30 + 0.5 * np.eye(30)
    p = 2 * rng.standard_normal(30)
    prob = qp.Problem(Q, p, lb=-0.5, ub=np.full(30, 0.5))
    res = qp.solve(prob, engine=ENGINE)
    out = minimize(
        lambda x: 0.5 * x @ Q @ x + p @ x,
        np.zeros(30),
        jac=lambda x: Q @ x + p,
        bounds=[(-0.5, 0.5)] * 30,
        method="L-BFGS-B",
        options={"ftol": 1e-15, "gtol": 1e-12},
    )
    assert res.success
    assert abs(0.5 * res.x @ Q @ res.x + p @ res.x - out.fun) / abs(out.fun) <= 1e-3
    assert [pop.name for pop in res.network.populations] == ["x"]


def test_box_sigma_delta_kernel_clips():
    model = qp.BoxSigmaDelta(vth=0.1, bias=np.array([0.0, 0.0, 0.0, 5.0]), lo=-1.0, hi=np.array([1.0, 2.0, 3.0, 4.0]))
    params = model.params(4, 1.0)
    out, (sigma, ref) = qp.box_sigma_delta_kernel(params, (np.zeros(4), np.zeros(4)), np.array([-3.0, 0.05, 2.5, 0.0]), 0, 0)
    assert np.array_equal(sigma, [-3.0, 0.05, 2.5, 0.0])
    assert np.array_equal(out, [-1.0, 0.0, 2.5, 4.0])  # clipped to [lo, hi]; 0.05 < vth is not sent
    assert np.array_equal(ref, out)


def test_dense_baseline_pdhg(problem):
    base = qp.dense_baseline(problem)
    x_ref = qp.reference(problem)
    assert base.info["converged"]
    assert abs(_f(problem, base.x) - _f(problem, x_ref)) / abs(_f(problem, x_ref)) <= 1e-2
    assert base.info["violation"] <= 1e-3
    n, m, k = 50, 20, base.n_iter
    c = k // 10
    assert base.flops == k * (2 * n * n + 4 * m * n + 6 * n + 8 * m) + c * (2 * n * n + 4 * m * n + 12 * n + 6 * m)


@pytest.mark.gpu
def test_dense_baseline_cuda(problem):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU")
    assert qp.dense_baseline(problem, device="cuda").info["converged"]


def test_random_problem_is_seeded():
    a, b = qp.random_problem(10, 4, seed=3), qp.random_problem(10, 4, seed=3)
    assert np.array_equal(a.Q, b.Q) and np.array_equal(a.A, b.A) and np.array_equal(a.k, b.k)


Q2 = np.eye(2)
P2 = np.zeros(2)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"lb": [0.0, 1.0], "ub": [1.0, 0.5]}, r"lb, ub: inconsistent bounds, lb\[1\]"),
        ({"A": [[1.0, 0.0], [-1.0, 0.0]], "k": [-1.0, -1.0]}, "infeasible"),
        ({"A": [[1.0, 1.0]], "k": [-3.0], "lb": 0.0}, "infeasible"),
        ({"A": [[0.0, 0.0]], "k": [-1.0]}, "infeasible"),
        ({"A": [[1.0, 0.0]]}, "A, k: must be given together"),
        ({"A": [[1.0, np.nan]], "k": [1.0]}, "A: contains NaN"),
        ({"A": [[1.0, 0.0]], "k": [np.nan]}, "k: contains NaN"),
        ({"A": [[1.0, 0.0]], "k": [1.0, 2.0]}, "k: must have shape"),
        ({"lb": [np.nan, 0.0]}, "lb: contains NaN"),
    ],
)
def test_bad_constraints_name_the_argument(kwargs, match):
    with pytest.raises(TaskError, match=match):
        qp.Problem(Q2, P2, **kwargs)


@pytest.mark.parametrize(
    ("Q", "p", "match"),
    [
        (np.array([[1.0, 0.0], [0.0, -1.0]]), P2, "Q: must be positive semidefinite"),
        (np.array([[1.0, 1.0], [0.0, 1.0]]), P2, "Q: must be symmetric"),
        (np.array([[np.nan, 0.0], [0.0, 1.0]]), P2, "Q: contains NaN"),
        (Q2, np.array([1.0, np.nan]), "p: contains NaN"),
        (np.ones((2, 3)), P2, "Q: must be a non-empty square"),
    ],
)
def test_bad_objective_names_the_argument(Q, p, match):
    with pytest.raises(TaskError, match=match):
        qp.Problem(Q, p)


class QuantizingSimulator:
    """A stand-in for a fixed-point ``simulate``: every projection's weights rounded to an 8-bit mantissa
    with one power-of-two step per projection; continues states like :func:`snn.simulate`."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, network, n_steps, *, engine="reference", state=None, record=("spikes",), **options):
        self.calls += 1
        q = snn.Network(dt_ms=network.dt_ms)
        for pop in network.populations:
            q.add_population(pop.name, pop.n, pop.model, initial_state=dict(pop.initial_state))
        for pr in network.projections:
            w = pr.weights.copy()
            step = 2.0 ** math.ceil(math.log2(float(np.abs(w.data).max()) / 127))
            w.data = np.round(w.data / step) * step
            q.add_projection(pr.pre, pr.post, weights=w, delay_steps=1, name=pr.name)
        return snn.simulate(q, n_steps, engine=engine, state=state, record=record, **options)


def assert_same_solve(a, b):
    """Two solves are the same run, bit for bit: x, y, steps, status, every op count, every message of x."""
    assert np.array_equal(a.x, b.x) and np.array_equal(a.info["y"], b.info["y"])
    assert (a.n_steps, a.status, a.success) == (b.n_steps, b.status, b.success)
    assert a.run.counts.equals(b.run.counts)
    assert np.array_equal(a.run.outputs["x"], b.run.outputs["x"])


EVENT = pytest.param("event", marks=[pytest.mark.slow, pytest.mark.skipif("event" not in snn.engine_names(), reason="no event engine")])


@pytest.mark.parametrize("engine", ["reference", EVENT])
def test_small_check_interval_equals_one_big_chunk(problem, engine):
    """check_every decides only where the run may stop: the falling-threshold run is the same either way."""
    one = qp.solve(problem, engine=engine, rtol=1e-12, feas_tol=1e-12, n_steps=200, check_every=200)
    many = qp.solve(problem, engine=engine, rtol=1e-12, feas_tol=1e-12, n_steps=200, check_every=7)
    assert one.info["n_chunks"] == 10 and many.info["n_chunks"] == 37  # threshold updates every 20 steps, checks every 7
    assert len(many.info["history"]) == 29 and len(one.info["history"]) == 1
    assert_same_solve(one, many)


def test_small_check_interval_equals_one_big_chunk_with_quantized_weights(problem):
    one = qp.solve(problem, engine=ENGINE, simulate=QuantizingSimulator(), rtol=1e-12, feas_tol=1e-12, n_steps=150, check_every=150)
    sim = QuantizingSimulator()
    many = qp.solve(problem, engine=ENGINE, simulate=sim, rtol=1e-12, feas_tol=1e-12, n_steps=150, check_every=11)
    assert sim.calls == many.info["n_chunks"] > one.info["n_chunks"]
    assert_same_solve(one, many)
    assert not np.array_equal(one.x, qp.solve(problem, engine=ENGINE, rtol=1e-12, feas_tol=1e-12, n_steps=150).x)  # it did quantize


def test_setup_uses_lanczos_bounds_that_match_dense(problem):
    """L = lambda_max(Q) and ||A'||_2 from eigsh (k=1) agree with dense eigvalsh / SVD, and bound them from above."""
    s = qp._setup(problem, 1.0)
    L = np.linalg.eigvalsh(problem.Q)[-1]
    nA = np.linalg.norm(s.Ar, 2)
    assert L <= s.L <= L * (1 + 1e-9)
    assert nA <= s.norm_A * (1 + 1e-15) and s.norm_A <= nA * (1 + 1e-9)
    # more constraints than unknowns: the n x n Gram matrix is used
    tall = qp.random_problem(20, 45, seed=4)
    st = qp._setup(tall, 1.0)
    assert st.norm_A == pytest.approx(np.linalg.norm(st.Ar, 2), rel=1e-9)
    # the same numbers on every call (a fixed start vector): runs are reproducible bit for bit
    again = qp._setup(problem, 1.0)
    assert (again.L, again.norm_A, again.alpha) == (s.L, s.norm_A, s.alpha)


def test_setup_does_no_dense_eigendecomposition_or_svd(monkeypatch):
    """Issue 15: the set-up (and the PSD check) of an n=50 QP call no dense eigvalsh and no SVD."""
    import scipy.linalg

    def boom(*args, **kwargs):
        raise AssertionError("a dense eigendecomposition or SVD was called")

    base = qp.random_problem(50, 20, seed=0)
    Q, p, A, k = base.Q, base.p, base.A, base.k
    for mod, name in (
        (np.linalg, "eigvalsh"),
        (np.linalg, "eigh"),
        (np.linalg, "svd"),
        (scipy.linalg, "eigvalsh"),
        (scipy.linalg, "eigh"),
        (scipy.linalg, "svd"),
    ):
        monkeypatch.setattr(mod, name, boom)
    if hasattr(np.linalg, "_linalg"):  # np.linalg.norm(M, 2) calls the module's own svd
        monkeypatch.setattr(np.linalg._linalg, "svd", boom)
    with pytest.raises(AssertionError, match="dense"):
        np.linalg.norm(A, 2)  # the patch holds
    prob = qp.Problem(Q, p, A, k, lb=-1.0, ub=1.0)
    s = qp._setup(prob, 1.0)
    assert s.L > 0 and s.norm_A > 0


def test_singular_psd_objective_is_accepted():
    v = np.random.default_rng(1).standard_normal(30)
    prob = qp.Problem(np.outer(v, v), np.zeros(30), lb=-1.0, ub=1.0)
    assert prob.n == 30
    with pytest.raises(TaskError, match="Q: must be positive semidefinite"):
        qp.Problem(np.outer(v, v) - 1e-3 * np.eye(30), np.zeros(30))


def test_callback_sees_every_check(problem):
    seen = []
    res = qp.solve(
        problem, engine=ENGINE, rtol=1e-12, feas_tol=1e-12, n_steps=60, check_every=25, callback=lambda t, x: seen.append((t, x.copy()))
    )
    assert [t for t, _ in seen] == [25, 50, 60]
    assert np.array_equal(seen[-1][1], res.x)


def test_non_callable_callback_is_refused_before_the_run(problem):
    sim = QuantizingSimulator()
    with pytest.raises(TaskError, match="callback=.*must be None or a callable"):
        qp.solve(problem, simulate=sim, callback=[print])
    assert sim.calls == 0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"Q": Q2 * (1 + 0j)}, "Q: complex values are not allowed"),
        ({"p": np.array([1.0, 1j])}, "p: complex values are not allowed"),
        ({"A": [[1.0, 1j]], "k": [1.0]}, "A: complex values are not allowed"),
        ({"A": [[1.0, 0.0]], "k": [1.0 + 0j]}, "k: complex values are not allowed"),
        ({"lb": [0.0, 1j]}, "lb: complex values are not allowed"),
        ({"ub": 1 + 1j}, "ub: complex values are not allowed"),
    ],
)
def test_complex_data_is_refused(kwargs, match):
    args = {"Q": Q2, "p": P2, **kwargs}
    with pytest.raises(TaskError, match=match):
        qp.Problem(**args)


def test_non_finite_is_never_success(problem):
    """A simulate callable whose state turns NaN: status NONFINITE, success False."""

    def broken(network, n_steps, **kw):
        run = snn.simulate(network, n_steps, **kw)
        pops = {p: dict(d) for p, d in run.state.populations.items()}
        pops["x"]["ref"] = np.full(problem.n, np.nan)
        return dataclasses.replace(run, state=run.state.replace(populations=pops))

    res = qp.solve(problem, engine=ENGINE, simulate=broken, n_steps=20, check_every=20)
    assert res.status == NONFINITE and not res.success


@pytest.mark.parametrize("device", ["bogus", 3, "cuda:99", "mps"])
def test_dense_baseline_bad_device(problem, device):
    with pytest.raises(TaskError, match=r"device="):
        qp.dense_baseline(problem, device=device)


def test_dense_baseline_cuda_without_cuda(problem):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    with pytest.raises(TaskError, match="device='cuda': torch sees no CUDA device"):
        qp.dense_baseline(problem, device="cuda")


def _badly_scaled(n=30, m=10, seed=5):
    """A QP in variables whose scales span two decades (x_i ~ 1 / s_i)."""
    rng = np.random.default_rng(seed)
    s = np.geomspace(0.1, 10.0, n)
    M = rng.standard_normal((n, n)) / np.sqrt(n)
    Q = s[:, None] * (M.T @ M + 0.1 * np.eye(n)) * s[None, :]
    A = rng.standard_normal((m, n)) / np.sqrt(n) * s[None, :]
    k = A @ (rng.uniform(-0.5, 0.5, n) / s) + rng.uniform(0, 0.2, m)
    return qp.Problem(Q, s * rng.standard_normal(n), A, k, lb=-1.0 / s, ub=1.0 / s)


def test_ruiz_preconditioning_on_a_badly_scaled_problem():
    prob = _badly_scaled()
    x_ref = qp.reference(prob)
    plain = qp.solve(prob, engine=ENGINE, n_steps=2000)
    ruiz = qp.solve(prob, engine=ENGINE, n_steps=2000, precondition="ruiz")
    assert not plain.success  # curvatures 1e4 apart: the plain network is far from done after 2000 steps
    assert ruiz.success and ruiz.n_steps <= 400
    assert abs(_f(prob, ruiz.x) - _f(prob, x_ref)) / abs(_f(prob, x_ref)) <= 1e-3
    assert np.linalg.norm(ruiz.x - x_ref) / np.linalg.norm(x_ref) <= 1e-2
    assert np.all(ruiz.x >= prob.lb - 1e-12) and np.all(ruiz.x <= prob.ub + 1e-12)
    # the scaling equilibrates the KKT matrix: every x column of [[DQD], [E A D]] has max |entry| near 1
    D = qp.ruiz_scaling(prob)
    col = np.abs(D[:, None] * prob.Q * D[None, :]).max(axis=0)
    assert np.all(D > 0) and 0.5 <= col.min() and col.max() <= 1.0 + 1e-6
    with pytest.raises(TaskError, match="precondition='jacobi'"):
        qp.solve(prob, precondition="jacobi")


def test_bad_solver_arguments(problem):
    with pytest.raises(TaskError, match="feas_tol"):
        qp.solve(problem, feas_tol=0.0)
    with pytest.raises(TaskError, match="omega"):
        qp.solve(problem, omega=0.0)


@pytest.mark.slow
@pytest.mark.skipif("event" not in snn.engine_names(), reason="the event engine is not available")
def test_event_engine_matches_reference(problem, solved):
    """The default engine (slow: compiling this three-population network takes about a minute)."""
    ev = qp.solve(problem, engine="event")
    assert ev.run.engine == "event"
    assert ev.success
    assert np.array_equal(ev.x, solved.x)
    assert ev.run.counts.synaptic_events == solved.run.counts.synaptic_events
