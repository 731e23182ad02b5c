"""tasks.qp: the spiking PIPG network against OSQP, scipy and a numpy transcription of the iteration."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import LinearConstraint, minimize

import snn
from tasks import qp
from tasks._common import TaskError

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
