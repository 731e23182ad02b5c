"""Shortest paths by a spike wave front: exact against Dijkstra, stopping rule, fixed point, bad input."""

import numpy as np
import pytest
import scipy.sparse as sp
from _bit_exact import assert_same_result
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
    res = spath.solve(p, simulate=sim, engine=ENGINE)
    assert sim.calls == 1 and res.success
    np.testing.assert_array_equal(res.x, dijkstra(p.graph, indices=0))


@pytest.mark.parametrize(
    ("graph", "word"),
    [
        (sp.csr_matrix(([-1.0], ([0], [1])), shape=(2, 2)), "negative"),
        (sp.csr_matrix(([0.0], ([0], [1])), shape=(2, 2)), "explicit zero"),
        (np.array([[0.0, np.nan], [1.0, 0.0]]), "NaN"),
        (np.array([[0.0, np.inf], [1.0, 0.0]]), "finite"),
        (np.ones((2, 3)), "square"),
        (np.ones(3), "2-D"),
        ("graph", "graph"),
        (np.array([[0.0, 1.0 + 2.0j], [1.0, 0.0]]), "complex"),
        (sp.csr_matrix(np.array([[0.0, 1.0 + 2.0j], [1.0, 0.0]])), "dtype complex"),
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
    b = spath.dense_baseline(p, algorithm="dense")
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


def _paths_check(p, res):
    """Every returned path starts at the source, uses edges of the graph and has its node's returned length."""
    e = p.edges()
    pred = res.info["predecessors"]
    for j in range(p.n):
        nodes = spath.path(pred, j)
        if not np.isfinite(res.x[j]):
            assert nodes == [j] and pred[j] == spath.NO_PREDECESSOR
            continue
        assert nodes[0] == p.source and nodes[-1] == j
        length = sum(e[a, b] for a, b in zip(nodes, nodes[1:]))
        assert all(e[a, b] > 0 for a, b in zip(nodes, nodes[1:]))
        assert length == pytest.approx(res.x[j], rel=1e-12)
        assert len(nodes) - 1 <= res.info["first_spike_step"][j]  # at least one step per edge


@pytest.mark.parametrize(("n", "deg", "max_len", "directed", "seed"), [(200, 4, 10, True, 0), (150, 3, 25, False, 2), (120, 3, 3, True, 4)])
def test_predecessors_give_shortest_paths_like_scipy(n, deg, max_len, directed, seed):
    p = spath.random_problem(n, out_degree=deg, max_length=max_len, directed=directed, seed=seed)
    res = spath.solve(p, engine=ENGINE)
    dist, pred = dijkstra(p.graph, directed=directed, indices=0, return_predecessors=True)
    np.testing.assert_array_equal(res.x, dist)
    _paths_check(p, res)
    # where the shortest path's last edge is unique, the predecessor is scipy's; elsewhere both are shortest (ties)
    e = p.edges().tocoo()
    tight = np.isfinite(dist[e.row]) & (dist[e.row] + e.data == dist[e.col])
    n_tight = np.bincount(e.col[tight], minlength=p.n)
    unique = (n_tight == 1) & np.isfinite(dist)
    unique[p.source] = False
    np.testing.assert_array_equal(res.info["predecessors"][unique], pred[unique])
    assert res.info["predecessors"][p.source] == spath.NO_PREDECESSOR == pred[p.source]
    assert unique.sum() > p.n // 3
    if max_len == 3:
        assert (n_tight > 1).any()  # short lengths: ties happen, and the paths above are checked on them too


def test_non_integer_lengths_are_refused_with_the_scaling_to_use():
    p = spath.random_problem(50, out_degree=3, max_length=10, integer_lengths=False, seed=1)
    with pytest.raises(TaskError, match=r"graph: edge .* not a whole number of steps.*rtol=.*length_unit"):
        spath.solve(p, engine=ENGINE)
    with pytest.raises(TaskError, match="length_unit"):
        spath.solve(p, engine=ENGINE, length_unit=0.0)
    # an edge that would need more delay steps than the engines hold is refused naming the unit to use
    g = sp.csr_matrix(([1.0, 10000.0], ([0, 1], [1, 2])), shape=(3, 3))
    with pytest.raises(TaskError, match=r"MAX_DELAY_STEPS=4096; use length_unit >= 2.44"):
        spath.solve(spath.Problem(g), engine=ENGINE)
    res = spath.solve(spath.Problem(g), engine=ENGINE, length_unit=2.5)
    assert res.success and res.x[2] == 10001.0 and res.info["first_spike_step"][2] == 1 + 4000


@pytest.mark.parametrize("rtol", [0.1, 0.5])
def test_float_lengths_are_quantized_within_the_documented_bound(rtol):
    p = spath.random_problem(100, out_degree=3, max_length=10, integer_lengths=False, seed=1)
    res = spath.solve(p, engine=ENGINE, rtol=rtol, check_every=40)
    dist, pred = dijkstra(p.graph, indices=0, return_predecessors=True)
    unit = res.info["length_unit"]
    assert unit == pytest.approx(rtol * p.graph.data.min()) and res.errors["error_bound"] == pytest.approx(rtol)
    assert res.success
    reach = np.isfinite(dist)
    np.testing.assert_array_equal(np.isfinite(res.x), reach)
    _paths_check(p, res)
    hops = np.array([len(spath.path(pred.astype(np.int64), j)) - 1 for j in range(p.n)])
    d, x = dist[reach], res.x[reach]
    assert np.all(x >= d * (1 - 1e-12))  # a real path is never shorter than the shortest
    assert np.all(x - d <= unit * hops[reach] * (1 + 1e-9))  # ceil rounding: at most one step length per edge of a shortest path
    assert np.all(x - d <= rtol * d * (1 + 1e-9))
    assert res.errors["max_rel_error"] <= rtol
    if rtol == 0.5:
        assert res.errors["n_wrong"] > 0 and res.errors["max_rel_error"] > 0  # coarse steps do pick longer paths


@pytest.mark.parametrize("engine", ["reference", pytest.param("event", marks=needs_event)])
def test_check_interval_does_not_change_the_run(engine):
    p = spath.random_problem(200, out_degree=3, max_length=10, seed=5)
    # not finished: the same 15 steps in chunks of 4 or in one
    assert_same_result(spath.solve(p, engine=engine, n_steps=15, check_every=4), spath.solve(p, engine=engine, n_steps=15))
    # checked every 5 steps the run stops as soon as the rule holds, and equals one run of that length
    seen = []
    early = spath.solve(p, engine=engine, check_every=5, callback=lambda t, d: seen.append((t, int(np.isfinite(d).sum()))))
    assert early.success and early.n_steps < spath.horizon(p) and early.n_steps % 5 == 0
    assert [t for t, _ in seen] == list(range(5, early.n_steps + 1, 5))
    assert seen[-1][1] == early.info["reached"] and seen[0][1] < seen[-1][1]
    one = spath.solve(p, engine=engine, n_steps=early.n_steps)
    assert_same_result(early, one)
    np.testing.assert_array_equal(early.info["predecessors"], one.info["predecessors"])
    np.testing.assert_array_equal(early.x, dijkstra(p.graph, indices=0))


def test_check_interval_does_not_change_the_run_in_fixed_point():
    loihi = pytest.importorskip("hardware.loihi")
    p = spath.random_problem(200, out_degree=3, max_length=10, seed=5)
    small = spath.solve(p, simulate=loihi.fixed_point_simulator(), engine="reference", n_steps=15, check_every=4)
    big = spath.solve(p, simulate=loihi.fixed_point_simulator(), engine="reference", n_steps=15)
    assert_same_result(small, big)
    early = spath.solve(p, simulate=loihi.fixed_point_simulator(), engine="reference", check_every=6)
    assert early.success
    assert_same_result(early, spath.solve(p, simulate=loihi.fixed_point_simulator(), engine="reference", n_steps=early.n_steps))
    np.testing.assert_array_equal(early.x, dijkstra(p.graph, indices=0))


def test_callback_and_path_arguments_are_checked():
    p = spath.random_problem(30, seed=0)
    sim = QuantizingSimulator()
    with pytest.raises(TaskError, match="callback"):
        spath.solve(p, simulate=sim, callback=[])
    assert sim.calls == 0
    with pytest.raises(TaskError, match="check_every"):
        spath.solve(p, check_every=0)
    res = spath.solve(p, engine=ENGINE)
    with pytest.raises(TaskError, match="target"):
        spath.path(res.info["predecessors"], p.n)
    with pytest.raises(TaskError, match="predecessors"):
        spath.path(res.x, 0)


@pytest.mark.parametrize("device", ["bogus", "gpu", 0])
def test_dense_baseline_refuses_bad_devices_naming_device(device):
    pytest.importorskip("torch")
    with pytest.raises(TaskError, match="device="):
        spath.dense_baseline(spath.random_problem(10, seed=0), device=device)
