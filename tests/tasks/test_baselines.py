"""Conventional baselines (issue 13 item 5): compiled CPU solvers against independent references,
equal-accuracy stopping at the first iterate that meets the target, the sparse frontier shortest path."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import scipy.optimize
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from scipy.sparse import csgraph

from tasks import heat, lasso, linear, poisson, qp, qubo
from tasks import shortest_path as spath
from tasks._common import TaskError

torch = pytest.importorskip("torch")


# ------------------------------------------------------------------------------ CPU baselines vs references
def test_linear_cpu_cg_solves_the_system():
    p = linear.random_problem(40, cond=20.0, seed=1)
    b = linear.cpu_baseline(p, rtol=1e-10)
    x = np.linalg.solve(p.A, p.b)
    assert np.linalg.norm(b.x - x) / np.linalg.norm(x) < 1e-8
    assert b.device == "cpu" and b.n_iter >= 1 and b.info["repeats"] >= 3
    assert b.accuracy == pytest.approx(linear.accuracy(p, b.x)) and b.accuracy["rel_residual"] <= 1e-10 * 1.01
    assert b.target is None and b.reached is None


def test_linear_cpu_cg_on_a_sparse_matrix():
    A = sp.diags([-1.0, 2.5, -1.0], [-1, 0, 1], shape=(30, 30), format="csr")
    p = linear.Problem(A, np.ones(30))
    b = linear.cpu_baseline(p, rtol=1e-10)
    np.testing.assert_allclose(b.x, np.linalg.solve(A.toarray(), np.ones(30)), rtol=1e-8)


def test_lasso_cpu_coordinate_descent_reaches_a_tiny_duality_gap():
    p = lasso.random_problem(n_atoms=32, seed=2)
    b = lasso.cpu_baseline(p, rtol=1e-12)
    # the duality gap certifies sub-optimality independently of the solver
    assert lasso.duality_gap(p, b.x) / lasso.objective(p, b.x) < 1e-6
    assert b.accuracy["rel_gap"] < 1e-6 and b.accuracy["rel_error"] < 1e-4
    if p.positive:
        assert np.all(b.x >= 0)


def test_qp_cpu_osqp_matches_slsqp():
    p = qp.random_problem(8, 4, seed=3)
    b = qp.cpu_baseline(p, eps=1e-9)
    cons = [{"type": "ineq", "fun": lambda x: p.k - p.A @ x, "jac": lambda x: -p.A}]
    ref = scipy.optimize.minimize(
        lambda x: 0.5 * x @ p.Q @ x + p.p @ x,
        np.zeros(p.n),
        jac=lambda x: p.Q @ x + p.p,
        bounds=list(zip(p.lb, p.ub)),
        constraints=cons,
        method="SLSQP",
        options={"ftol": 1e-14, "maxiter": 1000},
    )
    assert ref.success
    np.testing.assert_allclose(b.x, ref.x, atol=1e-5)
    assert b.accuracy["violation"] < 1e-6 and b.info["eps"] == 1e-9


def test_poisson_cpu_cg_matches_the_direct_solve():
    p = poisson.random_problem((5, 4, 3), seed=4)
    b = poisson.cpu_baseline(p, rtol=1e-10)
    ref = spla.spsolve(sp.csc_matrix(poisson.laplacian(p.shape)), p.rhs).reshape(p.shape)
    assert np.linalg.norm(b.x - ref) / np.linalg.norm(ref) < 1e-9
    assert b.x.shape == p.shape


def test_heat_cpu_sparse_stepping_matches_finite_differences():
    p = heat.random_problem((4, 5, 3), n_time=7, seed=5)
    b = heat.cpu_baseline(p, target={"rel_error": 1e-12})
    # the same explicit scheme by hand: u <- (1 - 6r) u + r * (sum of the 6 neighbours), zero outside
    u = np.array(p.u0)
    for _ in range(p.n_time):
        q = np.pad(u, 1)
        nb = q[:-2, 1:-1, 1:-1] + q[2:, 1:-1, 1:-1] + q[1:-1, :-2, 1:-1] + q[1:-1, 2:, 1:-1] + q[1:-1, 1:-1, :-2] + q[1:-1, 1:-1, 2:]
        u = (1 - 6 * p.r) * u + p.r * nb
    np.testing.assert_allclose(b.x, u, rtol=1e-12, atol=1e-14)
    assert b.n_iter == 7 and b.reached is True and b.accuracy["rel_error"] < 1e-12


@pytest.mark.parametrize("directed", [True, False])
def test_shortest_path_cpu_dijkstra_matches_floyd_warshall(directed):
    p = spath.random_problem(60, out_degree=2, directed=directed, integer_lengths=False, seed=6)
    b = spath.cpu_baseline(p)
    ref = csgraph.floyd_warshall(p.graph, directed=directed)[0]
    np.testing.assert_allclose(b.x, ref, rtol=1e-12)
    assert b.accuracy["n_wrong"] == 0 and b.info["exact"]


def test_qubo_cpu_annealing_finds_the_brute_force_optimum():
    p = qubo.random_problem(12, seed=7)
    b = qubo.cpu_baseline(p, n_sweeps=300, seed=1)
    assert qubo.energy(p, b.x) == pytest.approx(qubo.energy(p, qubo.brute_force(p)))
    assert set(np.unique(b.x)) <= {0.0, 1.0} and b.accuracy["gap"] == pytest.approx(0.0, abs=1e-12)
    assert b.n_iter == 300 and "numba" in b.algorithm


# ------------------------------------------------------------------------------ equal accuracy
def _cg_iterate(p, k):
    return spla.cg(p.A, p.b, rtol=0.0, atol=0.0, maxiter=k)[0]


def test_linear_cpu_stops_at_the_first_iterate_meeting_the_target():
    p = linear.random_problem(50, cond=30.0, seed=8)
    t = {"rel_residual": 1e-4}
    b = linear.cpu_baseline(p, target=t)
    assert b.reached and b.accuracy["rel_residual"] <= 1e-4 and b.target == t
    assert linear.accuracy(p, _cg_iterate(p, b.n_iter - 1))["rel_residual"] > 1e-4


def test_linear_torch_stops_at_the_first_iterate_meeting_the_target():
    p = linear.random_problem(50, cond=30.0, seed=8)
    t = {"rel_error": 1e-3}
    b = linear.dense_baseline(p, target=t, dtype="float64")
    assert b.reached and b.accuracy["rel_error"] <= 1e-3
    before = linear.dense_baseline(p, iterations=b.n_iter - 1, dtype="float64")
    assert before.accuracy["rel_error"] > 1e-3
    # iterations= repeats the same run without the search
    again = linear.dense_baseline(p, iterations=b.n_iter, target=t, dtype="float64")
    assert again.n_iter == b.n_iter and again.accuracy == pytest.approx(b.accuracy) and again.reached


def test_poisson_both_baselines_stop_at_the_first_iterate_meeting_the_target():
    p = poisson.random_problem((6, 6, 6), seed=9)
    t = {"rel_error": 1e-4}
    c = poisson.cpu_baseline(p, target=t)
    assert c.reached and c.accuracy["rel_error"] <= 1e-4
    A = poisson.laplacian(p.shape).tocsr()
    prev = spla.cg(A, p.rhs, rtol=0.0, atol=0.0, maxiter=c.n_iter - 1)[0]
    assert poisson.accuracy(p, prev)["rel_error"] > 1e-4
    g = poisson.dense_baseline(p, target=t, dtype="float64")
    assert g.reached and g.accuracy["rel_error"] <= 1e-4
    assert poisson.dense_baseline(p, iterations=g.n_iter - 1, dtype="float64").accuracy["rel_error"] > 1e-4


def test_lasso_both_baselines_stop_at_the_first_iterate_meeting_the_target():
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import Lasso

    p = lasso.random_problem(n_atoms=32, seed=10)
    t = {"rel_gap": 1e-3}
    c = lasso.cpu_baseline(p, target=t)
    assert c.reached and c.accuracy["rel_gap"] <= 1e-3
    if c.n_iter > 1:
        est = Lasso(alpha=p.lam / p.n_samples, positive=p.positive, fit_intercept=False, tol=0.0, max_iter=c.n_iter - 1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            est.fit(np.array(p.A), np.array(p.b))
        assert lasso.accuracy(p, est.coef_)["rel_gap"] > 1e-3
    g = lasso.dense_baseline(p, target=t, dtype="float64")
    assert g.reached and g.accuracy["rel_gap"] <= 1e-3
    assert lasso.dense_baseline(p, iterations=g.n_iter - 1, dtype="float64").accuracy["rel_gap"] > 1e-3


def test_qp_torch_stops_at_the_first_iterate_and_osqp_at_the_loosest_tolerance():
    p = qp.random_problem(12, 5, seed=11)
    t = {"rel_objective": 1e-5, "violation": 1e-4}
    g = qp.dense_baseline(p, target=t, dtype="float64")
    assert g.reached and g.accuracy["rel_objective"] <= 1e-5 and g.accuracy["violation"] <= 1e-4
    prev = qp.dense_baseline(p, iterations=g.n_iter - 1, dtype="float64").accuracy
    assert prev["rel_objective"] > 1e-5 or prev["violation"] > 1e-4
    c = qp.cpu_baseline(p, target=t)
    assert c.reached and c.accuracy["rel_objective"] <= 1e-5 and c.accuracy["violation"] <= 1e-4
    i = qp.OSQP_EPS_GRID.index(c.info["eps"])
    if i > 0:  # the next looser tolerance does not reach the target
        looser = qp.cpu_baseline(p, eps=qp.OSQP_EPS_GRID[i - 1], min_time_s=0.0)
        assert looser.accuracy["rel_objective"] > 1e-5 or looser.accuracy["violation"] > 1e-4


def test_qubo_time_to_target_stops_once_the_energy_is_reached():
    p = qubo.random_problem(14, seed=12)
    e_opt = float(qubo.energy(p, qubo.brute_force(p)))
    c = qubo.cpu_baseline(p, n_sweeps=2000, target={"energy": e_opt})
    assert c.reached and c.accuracy["energy"] == pytest.approx(e_opt) and c.n_iter < 2000
    g = qubo.dense_baseline(p, n_steps=3000, target={"gap": 0.0})
    assert g.reached and g.accuracy["gap"] <= 0.0 + 1e-12 and g.n_iter < 3000


def test_an_unreachable_target_runs_to_the_cap_and_says_so():
    p = linear.random_problem(20, seed=13)
    b = linear.dense_baseline(p, target={"rel_residual": 1e-30}, max_iter=15)
    assert b.reached is False and b.n_iter == 15


# ------------------------------------------------------------------------------ frontier shortest path
@pytest.mark.parametrize("directed", [True, False])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_frontier_shortest_path_equals_dijkstra(directed, dtype):
    # out_degree 1 on 80 nodes leaves nodes unreachable in the directed case
    p = spath.random_problem(80, out_degree=1, max_length=9, directed=directed, seed=14)
    ref = csgraph.dijkstra(p.graph, directed=directed, indices=0)
    if directed:
        assert np.isinf(ref).any()
    b = spath.dense_baseline(p, dtype=dtype)
    np.testing.assert_array_equal(b.x, ref)
    assert b.accuracy["n_wrong"] == 0
    e = p.edges()
    assert b.info["edges"] == e.nnz
    assert b.flops == 2 * b.info["edges_relaxed"] + b.n_iter * p.n
    item = 4 if dtype == "float32" else 8
    assert b.bytes_moved == b.info["edges_relaxed"] * (48 + 5 * item) + b.n_iter * p.n * (4 * item + 2) + 64 * b.info["frontier_vertices"]
    # every reachable vertex enters the frontier at least once, so its out-edges are relaxed at least once
    reach = np.isfinite(ref)
    assert b.info["edges_relaxed"] >= int(np.diff(e.indptr)[reach].sum())


def test_frontier_shortest_path_with_real_lengths_and_an_isolated_source():
    p = spath.random_problem(50, out_degree=3, integer_lengths=False, seed=15)
    b = spath.dense_baseline(p, dtype="float64")
    np.testing.assert_allclose(b.x, csgraph.dijkstra(p.graph, indices=0), rtol=1e-12)
    g = sp.csr_matrix(([1.0, 2.0], ([1, 2], [2, 3])), shape=(4, 4))  # node 0 has no edges
    lone = spath.dense_baseline(spath.Problem(g, source=0))
    assert lone.x[0] == 0.0 and np.all(np.isinf(lone.x[1:])) and lone.n_iter == 1


def test_frontier_shortest_path_launches_and_syncs_are_counted():
    from energy.baseline import with_launch_counts

    p = spath.random_problem(100, out_degree=3, seed=16)
    b = with_launch_counts(lambda: spath.dense_baseline(p))
    # two host reads per round (the edge count; nonzero), one fewer in a round that finds no out-edges;
    # plus the distances copied back once
    assert b.n_iter + 1 <= b.host_syncs <= 2 * b.n_iter + 1
    assert b.kernel_launches > 5 * b.n_iter
    dense = spath.dense_baseline(p, algorithm="dense")
    np.testing.assert_array_equal(dense.x, b.x)
    assert b.flops < dense.flops / 10


# ------------------------------------------------------------------------------ bad input
@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: linear.cpu_baseline(linear.random_problem(5, seed=0), target={"bogus": 1.0}), "target.*bogus"),
        (lambda: linear.cpu_baseline(linear.random_problem(5, seed=0), target={"rel_residual": math.nan}), r"target\['rel_residual'\]"),
        (lambda: linear.cpu_baseline(linear.random_problem(5, seed=0), target=[1e-3]), "target"),
        (lambda: linear.cpu_baseline(linear.random_problem(5, seed=0), rtol=0.0), "rtol"),
        (lambda: linear.dense_baseline(linear.random_problem(5, seed=0), iterations=0), "iterations"),
        (lambda: lasso.cpu_baseline(lasso.random_problem(n_atoms=8, seed=0), max_iter=0), "max_iter"),
        (lambda: qp.cpu_baseline(qp.random_problem(4, 2, seed=0), eps=2.0), "eps"),
        (
            lambda: poisson.dense_baseline(poisson.random_problem((3, 3, 3), seed=0), algorithm="jacobi", target={"rel_error": 1e-3}),
            "target",
        ),
        (lambda: spath.dense_baseline(spath.random_problem(10, seed=0), algorithm="bfs"), "algorithm"),
        (lambda: qubo.cpu_baseline(qubo.random_problem(6, seed=0), n_sweeps=0), "n_sweeps"),
        (lambda: qubo.cpu_baseline(qubo.random_problem(6, seed=0), target={"ratio": 1.0}), "target.*ratio"),
        (lambda: heat.cpu_baseline("not a problem"), "problem"),
    ],
)
def test_bad_baseline_arguments_name_the_argument(call, match):
    with pytest.raises(TaskError, match=match):
        call()


# ------------------------------------------------------------------------------ on a GPU
@pytest.mark.gpu
@pytest.mark.parametrize("directed", [True, False])
def test_frontier_shortest_path_on_cuda_equals_dijkstra(directed):
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU")
    p = spath.random_problem(500, out_degree=1, directed=directed, integer_lengths=False, seed=17)
    b = spath.dense_baseline(p, device="cuda", dtype="float64")
    np.testing.assert_allclose(b.x, csgraph.dijkstra(p.graph, directed=directed, indices=0), rtol=1e-12)
    assert b.device.startswith("cuda") and b.accuracy["n_wrong"] == 0


@pytest.mark.gpu
def test_equal_accuracy_targets_on_cuda():
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU")
    p = linear.random_problem(64, seed=18)
    b = linear.dense_baseline(p, device="cuda", target={"rel_residual": 1e-4}, dtype="float64")
    assert b.reached and b.accuracy["rel_residual"] <= 1e-4
    assert linear.dense_baseline(p, device="cuda", iterations=b.n_iter - 1, dtype="float64").accuracy["rel_residual"] > 1e-4
    q = poisson.random_problem((6, 6, 6), seed=18)
    g = poisson.dense_baseline(q, device="cuda", target={"rel_error": 1e-4}, dtype="float64")
    assert g.reached and g.accuracy["rel_error"] <= 1e-4
