"""Shortest paths by a spike wave front: exact against Dijkstra, stopping rule, fixed point, bad input."""

import numpy as np
import pytest
import scipy.sparse as sp
from _fixed_point import QuantizingSimulator
from scipy.sparse.csgraph import dijkstra

import snn
from tasks import shortest_path as spath
from tasks._common import CONVERGED, MAXITER, TaskError

# The default run uses the numpy reference engine: the event engine compiles each network shape with
# numba (seconds to tens of seconds per shape), which would exceed these tests' time budget.  The
# slow-marked tests at the end run the default engine="event" on the targets.
ENGINE = "reference"
needs_event = pytest.mark.skipif("event" not in snn.engine_names(), reason="the event engine is not available")


@pytest.mark.parametrize(
    ("n", "deg", "max_len", "directed", "seed"),
    [(200, 4, 10, True, 0), (200, 2, 10, True, 1), (150, 3, 25, False, 2), (60, 1, 3, True, 3)],
)
def test_exact_distances_against_dijkstra(n, deg, max_len, directed, seed):
    p = spath.random_problem(n, out_degree=deg, max_length=max_len, directed=directed, seed=seed)
    res = spath.solve(p, engine=ENGINE)
    expected = dijkstra(p.graph, directed=directed, indices=0)
    assert res.success and res.status == CONVERGED
    np.testing.assert_array_equal(res.x, expected)  # inf where unreachable, exact integers elsewhere
    assert res.errors["n_wrong"] == 0
    # every node fires once: events = out-degrees of the reached nodes + one self synapse each
    reached = np.isfinite(expected)
    out_deg = np.diff(p.edges().indptr)
    assert res.run.counts.synaptic_events == int(out_deg[reached].sum() + reached.sum())
    assert res.run.counts.spikes == int(reached.sum())


def test_some_nodes_unreachable():
    p = spath.random_problem(120, out_degree=1, max_length=4, seed=7)
    expected = dijkstra(p.graph, indices=0)
    assert np.isinf(expected).any()
    res = spath.solve(p, engine=ENGINE)
    np.testing.assert_array_equal(res.x, expected)


def test_hand_made_graph_with_a_long_short_cut():
    # 0 -> 1 (5), 0 -> 2 (1), 2 -> 1 (1), 1 -> 3 (2), 4 isolated; two edges into 1 arrive at different times
    g = sp.csr_matrix(([5, 1, 1, 2], ([0, 0, 2, 1], [1, 2, 1, 3])), shape=(5, 5))
    res = spath.solve(spath.Problem(g, source=0), engine=ENGINE)
    np.testing.assert_array_equal(res.x, [0, 2, 1, 4, np.inf])
    # from node 1 the wave goes only forward in a directed graph, both ways when undirected
    np.testing.assert_array_equal(spath.solve(spath.Problem(g, source=1), engine=ENGINE).x, [np.inf, 0, np.inf, 2, np.inf])
    np.testing.assert_array_equal(spath.solve(spath.Problem(g, source=1, directed=False), engine=ENGINE).x, [2, 0, 1, 2, np.inf])
    # a dense array works the same (zeros are no edge)
    np.testing.assert_array_equal(spath.solve(spath.Problem(g.toarray(), source=0), engine=ENGINE).x, res.x)


def test_too_few_steps_reports_maxiter_but_keeps_exact_prefix():
    p = spath.random_problem(200, out_degree=3, max_length=10, seed=5)
    expected = dijkstra(p.graph, indices=0)
    res = spath.solve(p, engine=ENGINE, n_steps=15)
    assert res.status == MAXITER and not res.success
    found = np.isfinite(res.x)
    np.testing.assert_array_equal(res.x[found], expected[found])
    assert np.all(expected[~found] >= 15)


def test_horizon_is_a_safe_bound():
    for seed in range(5):
        p = spath.random_problem(80, out_degree=2, max_length=9, seed=seed)
        d = dijkstra(p.graph, indices=0)
        assert spath.horizon(p) > np.max(d[np.isfinite(d)])


def test_fixed_point_style_simulator_gives_the_same_exact_answer():
    p = spath.random_problem(100, out_degree=3, max_length=8, seed=9)
    sim = QuantizingSimulator(weight_bits=8)
    res = spath.solve(p, simulate=sim)
    assert sim.calls == 1 and res.success
    np.testing.assert_array_equal(res.x, dijkstra(p.graph, indices=0))


@pytest.mark.parametrize(
    ("graph", "word"),
    [
        (sp.csr_matrix(([-1.0], ([0], [1])), shape=(2, 2)), "negative"),
        (sp.csr_matrix(([1.5], ([0], [1])), shape=(2, 2)), "not an integer"),
        (sp.csr_matrix(([0.0], ([0], [1])), shape=(2, 2)), "explicit zero"),
        (np.array([[0.0, np.nan], [1.0, 0.0]]), "NaN"),
        (np.array([[0.0, np.inf], [1.0, 0.0]]), "finite"),
        (np.ones((2, 3)), "square"),
        (np.ones(3), "2-D"),
        ("graph", "graph"),
    ],
)
def test_bad_graph(graph, word):
    with pytest.raises(TaskError, match="graph") as info:
        spath.Problem(graph, source=0)
    assert word in str(info.value)


def test_bad_source_and_arguments():
    g = sp.csr_matrix(([1.0], ([0], [1])), shape=(2, 2))
    for s in (2, -1, True, 0.0):
        with pytest.raises(TaskError, match="source"):
            spath.Problem(g, source=s)
    with pytest.raises(TaskError, match="directed"):
        spath.Problem(g, source=0, directed="yes")
    p = spath.Problem(g, source=0)
    with pytest.raises(TaskError, match="n_steps"):
        spath.solve(p, n_steps=0)
    with pytest.raises(TaskError, match="simulate"):
        spath.solve(p, simulate="fast")


def test_dense_bellman_ford_baseline():
    pytest.importorskip("torch")
    p = spath.random_problem(150, out_degree=3, max_length=10, seed=11)
    b = spath.dense_baseline(p)
    np.testing.assert_array_equal(b.x, dijkstra(p.graph, indices=0))
    n = p.n
    assert b.flops == b.n_iter * (2 * n * n + 2 * n) and b.bytes_moved == b.n_iter * (n * n + 3 * n) * 4
    assert 2 <= b.n_iter <= n


def test_with_the_loihi_fixed_point_simulator():
    """The issue's wiring: solve(p, simulate=hardware.loihi.fixed_point_simulator()) is exact."""
    loihi = pytest.importorskip("hardware.loihi")
    p = spath.random_problem(200, out_degree=4, max_length=10, seed=0)
    sim = loihi.fixed_point_simulator()
    res = spath.solve(p, simulate=sim, engine="reference")
    assert res.success and res.run.engine.endswith("+loihi")
    np.testing.assert_array_equal(res.x, dijkstra(p.graph, indices=0))


@pytest.mark.slow
def test_large_graph_exact():
    p = spath.random_problem(5000, out_degree=3, max_length=30, seed=21)
    res = spath.solve(p, engine=ENGINE)
    assert res.success
    np.testing.assert_array_equal(res.x, dijkstra(p.graph, indices=0))


@pytest.mark.slow
@needs_event
def test_event_engine_is_exact():
    p = spath.random_problem(1000, out_degree=4, max_length=10, seed=1)
    res = spath.solve(p)  # default engine="event"
    assert res.success
    np.testing.assert_array_equal(res.x, dijkstra(p.graph, indices=0))
