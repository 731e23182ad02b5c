"""Single-source shortest paths by a spike wave front with synaptic delays.

Problem: a graph with positive edge lengths (``graph[i, j]`` is the length of
the edge ``i -> j``, as in :mod:`scipy.sparse.csgraph`) and a source node; find
the distance from the source to every node (``inf`` when unreachable) and a
shortest path to it (the predecessor of every node, scipy's convention).

The network has one integrate-and-fire neuron per node (:class:`snn.IF`,
threshold 0.5, reset to 0) and one synapse per edge ``i -> j`` with weight 1
and a delay of ``D_ij`` steps, the edge length in steps.  The source starts
above threshold (``v = 1``) and fires in step 0; a neuron fires in the first
step in which any spike reaches it, so the first spike of node ``j`` is in step
``t_j``, its distance in steps (Dijkstra's algorithm run by the physics of
delays).  Each node fires once: a self synapse of weight ``-(in_degree + 1)``
(delay 1) pushes a neuron that has fired so far below threshold that all its
remaining inputs cannot lift it back (it needs only binary spikes and integer
weights, no refractory counter, so it maps unchanged to fixed-point hardware).
The synaptic events are therefore exactly the out-degrees of the reached nodes
plus one per reached node.

Paths: the predecessor of a reached node ``j`` is an in-neighbour ``i`` whose
spike arrived exactly when ``j`` first fired, ``t_i + D_ij = t_j`` (the spike
that woke it); among several (ties) the one with the shortest path length
``x_i + L_ij``, then the lowest index.  This is decoded on the host from the
first-spike times, one pass over the edges (``info["host_ops"]``).
:func:`path` follows the predecessors back to the source.

Edge lengths in steps: integer lengths are used as they are (``D = L``, exact).
Other lengths need a step length ``length_unit`` (or ``rtol > 0``, which picks
``length_unit = rtol * min(L)``): each edge takes ``D = ceil(L / length_unit)``
steps.  Then ``L <= length_unit * D < L + length_unit`` on every edge, so the
returned path to ``j`` (shortest in steps; ``x_j`` is its true length) satisfies::

    d_j <= x_j < d_j + length_unit * h_j <= d_j * (1 + length_unit / min(L))

with ``d_j`` the true distance and ``h_j <= d_j / min(L)`` the number of edges
of a shortest path: the relative error is below ``length_unit / min(L)``
(``errors["error_bound"]``; 0 for exact integer lengths).  An edge may take at
most :data:`MAX_DELAY_STEPS` steps.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
import scipy.sparse.csgraph as csgraph

import snn
from tasks import _baseline
from tasks._common import CONVERGED, MAXITER, STATUS_MESSAGES, BaselineResult, SolveResult, TaskError, check_callback, check_device

__all__ = [
    "Problem",
    "random_problem",
    "delay_steps",
    "build_network",
    "horizon",
    "solve",
    "path",
    "reference",
    "accuracy",
    "ACCURACY_METRICS",
    "TARGET_METRICS",
    "dense_baseline",
    "cpu_baseline",
    "MAX_DELAY_STEPS",
    "NO_PREDECESSOR",
]

#: the metrics :func:`accuracy` reports (``solve`` adds its own ``error_bound``)
ACCURACY_METRICS = ("n_wrong", "max_abs_error", "max_rel_error")
#: the metrics equal-accuracy baselines are checked on (every baseline here is exact: they are only checked)
TARGET_METRICS = ("max_rel_error",)

#: most delay steps of one edge (the engines keep ``max delay`` rows of in-flight messages per neuron)
MAX_DELAY_STEPS = 4096
#: predecessor of the source and of unreachable nodes (as :func:`scipy.sparse.csgraph.dijkstra`)
NO_PREDECESSOR = -9999


def _check_graph(graph: Any) -> sp.csr_matrix:
    if sp.issparse(graph):
        if graph.ndim != 2:
            raise TaskError(f"graph: must be 2-D (n, n), got shape {graph.shape}")
        if graph.dtype.kind not in "biuf":
            raise TaskError(f"graph: must hold real edge lengths, got dtype {graph.dtype}")
        g = sp.csr_matrix(graph, dtype=np.float64, copy=True)
        g.sum_duplicates()
    else:
        if np.iscomplexobj(graph):
            raise TaskError("graph: must hold real edge lengths; got complex values")
        try:
            dense = np.array(graph, dtype=np.float64)
        except (TypeError, ValueError):
            raise TaskError(f"graph: must be a scipy.sparse matrix or a 2-D numeric array, got {type(graph).__name__}") from None
        if dense.ndim != 2:
            raise TaskError(f"graph: must be 2-D (n, n), got shape {dense.shape}")
        if np.isnan(dense).any():
            i, j = np.argwhere(np.isnan(dense))[0]
            raise TaskError(f"graph: NaN at ({i}, {j}); edge lengths must be finite and positive")
        g = sp.csr_matrix(dense)
    if g.shape[0] != g.shape[1] or g.shape[0] < 1:
        raise TaskError(f"graph: must be square (n, n) with n >= 1, got shape {g.shape}")
    g.sort_indices()
    data = g.data
    rows = np.repeat(np.arange(g.shape[0]), np.diff(g.indptr))
    for bad, what in (
        (~np.isfinite(data), "must be finite"),
        (data < 0, "is negative; edge lengths must be positive"),
        (data == 0, "is an explicit zero; edge lengths must be positive (call graph.eliminate_zeros() if zero means no edge)"),
    ):
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise TaskError(f"graph: edge ({rows[k]}, {g.indices[k]}) has length {float(data[k])!r}, which {what}")
    return g


@dataclass(frozen=True, eq=False)
class Problem:
    """Single-source shortest paths.

    Attributes
    ----------
    graph : scipy.sparse.csr_matrix, shape (n, n)
        ``graph[i, j]`` = length of the edge ``i -> j``, a positive finite
        number (whole numbers give exact answers; see the module notes for
        others); missing entries (or zeros of a dense array) are no edge.
        Stored as a canonical float64 CSR copy.
    source : int
        The start node, ``0 <= source < n``.
    directed : bool
        ``False`` lets every edge be used both ways (as ``csgraph``'s ``directed=False``).
    """

    graph: Any
    source: int = 0
    directed: bool = True

    def __post_init__(self) -> None:
        g = _check_graph(self.graph)
        object.__setattr__(self, "graph", g)
        s = self.source
        if isinstance(s, bool) or not isinstance(s, numbers.Integral) or not 0 <= s < g.shape[0]:
            raise TaskError(f"source={s!r}: must be an int node index in [0, {g.shape[0]})")
        object.__setattr__(self, "source", int(s))
        if not isinstance(self.directed, (bool, np.bool_)):
            raise TaskError(f"directed={self.directed!r}: must be a bool")
        object.__setattr__(self, "directed", bool(self.directed))

    @property
    def n(self) -> int:
        return int(self.graph.shape[0])

    def edges(self) -> sp.csr_matrix:
        """The directed edges used, ``(n, n)`` CSR of lengths (both directions, the shorter kept, when undirected; no self loops)."""
        g = self.graph.tocoo()
        rows, cols, vals = g.row, g.col, g.data
        if not self.directed:
            rows, cols, vals = np.concatenate([rows, cols]), np.concatenate([cols, rows]), np.concatenate([vals, vals])
        keep = rows != cols
        rows, cols, vals = rows[keep], cols[keep], vals[keep]
        order = np.lexsort((vals, cols, rows))
        rows, cols, vals = rows[order], cols[order], vals[order]
        first = np.ones(rows.shape[0], dtype=bool)
        first[1:] = (rows[1:] != rows[:-1]) | (cols[1:] != cols[:-1])
        e = sp.csr_matrix((vals[first], (rows[first], cols[first])), shape=self.graph.shape)
        e.sort_indices()
        return e


def random_problem(
    n: int = 200,
    *,
    out_degree: int = 4,
    max_length: int = 10,
    directed: bool = True,
    integer_lengths: bool = True,
    seed: int | np.random.Generator | None = None,
) -> Problem:
    """A seeded random graph: each node has ``out_degree`` distinct random successors; source 0.

    Lengths are uniform in ``1..max_length`` (integers), or with
    ``integer_lengths=False`` uniform real numbers in ``[1, max_length]``.
    """
    for name, v, lo in (("n", n, 2), ("out_degree", out_degree, 1), ("max_length", max_length, 1)):
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < lo:
            raise TaskError(f"{name}={v!r}: must be an int >= {lo}")
    if out_degree > n - 1:
        raise TaskError(f"out_degree={out_degree!r}: must be <= n - 1 = {n - 1}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    rows, cols = [], []
    for i in range(n):
        succ = rng.choice(n - 1, size=out_degree, replace=False)
        succ = succ + (succ >= i)
        rows.append(np.full(out_degree, i))
        cols.append(succ)
    rows_a, cols_a = np.concatenate(rows), np.concatenate(cols)
    if integer_lengths:
        lengths = rng.integers(1, max_length + 1, size=rows_a.shape[0]).astype(np.float64)
    else:
        lengths = rng.uniform(1.0, float(max_length), size=rows_a.shape[0])
    return Problem(sp.csr_matrix((lengths, (rows_a, cols_a)), shape=(n, n)), source=0, directed=directed)


def _nonneg_real(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(float(value)) or float(value) < 0:
        raise TaskError(f"{name}={value!r}: must be a finite number >= 0")
    return float(value)


def delay_steps(problem: Problem, *, length_unit: float | None = None, rtol: float = 0.0) -> tuple[sp.csr_matrix, float]:
    """The edges in steps: ``(D, length_unit)``, ``D`` the ``(n, n)`` CSR of :meth:`Problem.edges` with integer delays.

    Whole-number lengths give ``D = L`` (``length_unit = 1``, exact) unless
    ``length_unit`` is given; otherwise ``D = ceil(L / length_unit)`` with
    ``length_unit`` given, or ``rtol * min(L)`` when ``rtol > 0`` (relative
    error of the distances below ``rtol``, see the module notes).  Other
    lengths without either are refused, with the scaling to use.
    """
    if not isinstance(problem, Problem):
        raise TaskError(f"problem={problem!r}: must be a tasks.shortest_path.Problem")
    rtol = _nonneg_real("rtol", rtol)
    e = problem.edges()
    lengths = e.data
    if length_unit is not None:
        unit = _nonneg_real("length_unit", length_unit)
        if unit == 0:
            raise TaskError(f"length_unit={length_unit!r}: must be > 0 (the length of one step)")
    elif lengths.size == 0 or np.all(lengths == np.round(lengths)):
        unit = 1.0
    elif rtol > 0:
        unit = rtol * float(lengths.min())
    else:
        k = int(np.flatnonzero(lengths != np.round(lengths))[0])
        i = int(np.searchsorted(e.indptr, k, side="right") - 1)
        lo, hi = float(lengths.min()), float(lengths.max())
        suggest = max(1e-2, hi / (lo * MAX_DELAY_STEPS))
        raise TaskError(
            f"graph: edge ({i}, {e.indices[k]}) has length {float(lengths[k])!r}, not a whole number of steps; exact distances need "
            f"integer lengths. Pass rtol > 0 (e.g. rtol={suggest:.3g}: each edge takes ceil(L / length_unit) steps with "
            f"length_unit = rtol * min length = {suggest * lo:.6g}, and the distances are within a relative error rtol), "
            f"or length_unit=..., or scale the lengths to integers yourself"
        )
    steps = e.copy()
    steps.data = np.ceil(lengths / unit) if unit != 1.0 else lengths.copy()
    if steps.nnz and steps.data.max() > MAX_DELAY_STEPS:
        hi = float(lengths.max())
        raise TaskError(
            f"graph: the longest edge ({hi!r}) takes {int(steps.data.max())} steps with length_unit={unit!r}, more than "
            f"MAX_DELAY_STEPS={MAX_DELAY_STEPS}; use length_unit >= {hi / MAX_DELAY_STEPS:.6g}"
            + (f" (rtol >= {hi / MAX_DELAY_STEPS / float(lengths.min()):.3g})" if length_unit is None and unit != 1.0 else "")
        )
    steps.data = steps.data.astype(np.int64)
    return steps, unit


def _horizon(steps: sp.csr_matrix, source: int) -> int:
    if steps.nnz == 0:
        return 1
    order, pred = csgraph.breadth_first_order(steps, source, directed=True, return_predecessors=True)
    depth = np.zeros(steps.shape[0], dtype=np.int64)
    for node in order[1:]:
        depth[node] = depth[pred[node]] + 1
    return int(steps.data.max()) * int(depth.max()) + 1


def horizon(problem: Problem, *, length_unit: float | None = None, rtol: float = 0.0) -> int:
    """Steps that certainly suffice: ``max(D) * (BFS depth from the source) + 1``.

    Every reachable node ``j`` has a path of ``hops(j)`` edges, so
    ``t_j <= max(D) * hops(j)``; the BFS is ``O(edges)`` bookkeeping on the host.
    ``D`` are the delays of :func:`delay_steps`.
    """
    steps, _ = delay_steps(problem, length_unit=length_unit, rtol=rtol)
    return _horizon(steps, problem.source)


def build_network(problem: Problem, *, length_unit: float | None = None, rtol: float = 0.0) -> snn.Network:
    """The wave-front network: population ``nodes`` (IF), projections ``edges`` and ``fire_once``.

    ``edges``: weight 1, delay ``D_ij`` (:func:`delay_steps`) from node ``i`` to
    node ``j``; ``fire_once``: self synapse ``-(in_degree + 1)``, delay 1.
    """
    steps, _ = delay_steps(problem, length_unit=length_unit, rtol=rtol)
    return _network(problem, steps)


def _network(problem: Problem, steps: sp.csr_matrix) -> snn.Network:
    n = problem.n
    post_pre = sp.csr_matrix(steps.T)  # (n_post, n_pre)
    post_pre.sort_indices()
    ones = post_pre.copy()
    ones.data = np.ones_like(ones.data, dtype=np.float64)
    in_degree = np.diff(post_pre.indptr)
    v0 = np.zeros(n)
    v0[problem.source] = 1.0
    net = snn.Network(dt_ms=1.0)
    net.add_population("nodes", n, snn.IF(v_th=0.5, v_reset=0.0), initial_state={"v": v0})
    if ones.nnz:
        net.connect("nodes", "nodes", snn.connect.explicit(ones), weight=1.0, delay_steps=post_pre.data.astype(np.int64), name="edges")
    net.add_projection("nodes", "nodes", weights=sp.diags(-(in_degree + 1.0)).tocsr(), delay_steps=1, name="fire_once")
    net.outputs = ("nodes",)
    return net


def _decode(steps: sp.csr_matrix, lengths: sp.csr_matrix, first: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Path lengths ``(n,)`` and predecessors ``(n,)`` from the first-spike steps (``-1``: never fired).

    The predecessor of ``j`` is an ``i`` with ``t_i + D_ij == t_j``, the one
    with the shortest ``x_i + L_ij`` (then the lowest ``i``); nodes are taken in
    the order of their first spikes, so ``x_i`` is known when ``j`` is decided.
    """
    n = first.shape[0]
    dist = np.full(n, np.inf)
    pred = np.full(n, NO_PREDECESSOR, dtype=np.int64)
    roots = first == 0
    dist[roots] = 0.0
    c = steps.tocoo()
    length = lengths.tocoo().data
    fired_i, fired_j = first[c.row] >= 0, first[c.col] > 0
    keep = fired_i & fired_j & (first[c.row] + c.data == first[c.col])
    rows, cols, vals, when = c.row[keep], c.col[keep], length[keep], first[c.col[keep]]
    order = np.argsort(when, kind="stable")
    rows, cols, vals, when = rows[order], cols[order], vals[order], when[order]
    bounds = np.flatnonzero(np.diff(when)) + 1
    for lo, hi in zip(np.concatenate([[0], bounds]), np.concatenate([bounds, [when.size]])):
        i, j = rows[lo:hi], cols[lo:hi]
        total = dist[i] + vals[lo:hi]
        pick = np.lexsort((i, total, j))
        first_of_j = np.ones(pick.size, dtype=bool)
        first_of_j[1:] = j[pick][1:] != j[pick][:-1]
        pick = pick[first_of_j]
        dist[j[pick]] = total[pick]
        pred[j[pick]] = i[pick]
    return dist, pred


def path(predecessors: Any, target: int) -> list[int]:
    """The nodes of the path from the source to ``target`` (``[]`` if unreachable), from ``info["predecessors"]``."""
    pred = np.asarray(predecessors)
    if pred.ndim != 1 or pred.dtype.kind not in "iu":
        raise TaskError(f"predecessors: must be a 1-D int array (SolveResult.info['predecessors']), got {pred.dtype} of shape {pred.shape}")
    n = pred.shape[0]
    if isinstance(target, bool) or not isinstance(target, numbers.Integral) or not 0 <= target < n:
        raise TaskError(f"target={target!r}: must be an int node index in [0, {n})")
    nodes = [int(target)]
    while pred[nodes[-1]] != NO_PREDECESSOR:
        nodes.append(int(pred[nodes[-1]]))
        if len(nodes) > n:
            raise TaskError("predecessors: contain a cycle; not a shortest-path tree")
    return nodes[::-1]


def solve(
    problem: Problem,
    *,
    n_steps: int | None = None,
    rtol: float = 0.0,
    engine: str = "event",
    simulate: Callable | None = None,
    seed: int | None = None,
    callback: Callable[[int, np.ndarray], Any] | None = None,
    check_every: int | None = None,
    length_unit: float | None = None,
) -> SolveResult:
    """Distances (and shortest paths) from the source as first-spike times of the wave-front network.

    The network runs as one continued run (``run = simulate(net, k,
    state=state)``, ``state = run.state``), checked every ``check_every``
    steps, at most ``T = n_steps`` steps (default :func:`horizon`).  Decoding:
    ``t_j = min{t : node j spiked in step t}`` (never: unreachable), the
    predecessors and path lengths ``x`` as in the module notes.

    Stopping rule (checked on the first-spike times after each chunk, ``T``
    the steps run so far)::

        max over edges (i -> j) with t_i < T of (t_i + D_ij) <= T - 1

    i.e. every spike sent has been delivered within the run, so no first spike
    can still come: then ``status = CONVERGED`` and the run stops; the
    distances are exact for whole-number lengths (within the module notes'
    bound otherwise) and unspiked nodes are unreachable.  Otherwise
    ``MAXITER``: the distances found are still those, but later nodes may be
    missing.  Checking more often only makes the run stop sooner: the run up
    to where it stops equals one chunk of that length, bit for bit.

    Parameters
    ----------
    problem : Problem
    n_steps : int, optional
        Most steps to run; default :func:`horizon` (enough for every reachable node).
    rtol : float
        0 (default): exact; non-integer lengths then need ``length_unit``.  With
        ``rtol > 0`` non-integer lengths use ``length_unit = rtol * min(L)``
        (relative error of the distances below ``rtol``).
    engine, simulate, seed :
        As in :func:`tasks.poisson.solve`; ``simulate`` may be any callable with
        :func:`snn.simulate`'s signature (e.g. a fixed-point simulator).
    callback : callable, optional
        ``callback(T, distances)`` after each chunk; checked to be callable before anything runs.
    check_every : int, optional
        Steps per chunk; default: one chunk of ``n_steps`` (Lava runs need that).
    length_unit : float, optional
        The length of one step (see :func:`delay_steps`).

    Returns
    -------
    SolveResult
        ``x``: distances ``(n,)`` float64, the lengths of the returned paths
        (``inf`` = unreachable).  ``errors``: ``n_wrong`` (nodes whose distance
        differs from Dijkstra's, beyond float rounding), ``max_abs_error`` and
        ``max_rel_error`` over the nodes both find reachable, ``error_bound``
        (the relative bound ``length_unit / min(L)``, 0 when exact).
        ``info``: ``predecessors`` ``(n,)`` int64 (:data:`NO_PREDECESSOR` for
        the source and unreachable nodes; :func:`path` follows them),
        ``first_spike_step`` ``(n,)`` (-1: never), ``length_unit``,
        ``last_spike_step``, ``horizon``, ``reached``, ``host_ops`` (edges
        inspected by the decoding).
    """
    if not isinstance(problem, Problem):
        raise TaskError(f"problem={problem!r}: must be a tasks.shortest_path.Problem")
    steps_mat, unit = delay_steps(problem, length_unit=length_unit, rtol=rtol)
    hz = _horizon(steps_mat, problem.source)
    if n_steps is None:
        n_steps = hz
    if isinstance(n_steps, bool) or not isinstance(n_steps, numbers.Integral) or n_steps < 1:
        raise TaskError(f"n_steps={n_steps!r}: must be a positive int or None")
    n_steps = int(n_steps)
    if check_every is None:
        check_every = n_steps
    if isinstance(check_every, bool) or not isinstance(check_every, numbers.Integral) or check_every < 1:
        raise TaskError(f"check_every={check_every!r}: must be a positive int or None")
    check_callback(callback)
    if simulate is not None and not callable(simulate):
        raise TaskError(f"simulate={simulate!r}: must be None or a callable with snn.simulate's signature")
    sim = simulate or snn.simulate
    net = _network(problem, steps_mat)
    lengths = problem.edges()
    c = steps_mat.tocoo()
    state = snn.init_state(net, seed=0 if seed is None else seed)
    first = np.full(problem.n, -1, dtype=np.int64)
    runs = []
    done, converged = 0, False
    while done < n_steps and not converged:
        length = min(int(check_every), n_steps - done)
        run = sim(net, length, engine=engine, state=state, record={"nodes": ("spikes",)})
        runs.append(run)
        state = run.state
        raster = np.asarray(run.spikes["nodes"], dtype=bool)
        new = (first < 0) & raster.any(axis=0)
        first[new] = done + np.argmax(raster[:, new], axis=0)
        done += length
        sent = first[c.row] >= 0
        converged = bool(not sent.any() or (first[c.row[sent]] + c.data[sent]).max() <= done - 1)
        if callback is not None:
            callback(done, _decode(steps_mat, lengths, first)[0])
    dist, pred = _decode(steps_mat, lengths, first)
    status = CONVERGED if converged else MAXITER

    ref = reference(problem)
    min_len = float(lengths.data.min()) if lengths.nnz else 1.0
    errors = {**accuracy(problem, dist, ref=ref), "error_bound": 0.0 if unit == 1.0 and length_unit is None else unit / min_len}
    fired = first >= 0
    return SolveResult(
        x=dist,
        success=converged,
        status=status,
        message=STATUS_MESSAGES[status],
        n_steps=done,
        errors=errors,
        run=snn.RunResult.concat(runs),
        network=net,
        reference=ref,
        info={
            "predecessors": pred,
            "first_spike_step": first,
            "length_unit": unit,
            "last_spike_step": int(first[fired].max()) if fired.any() else -1,
            "horizon": hz,
            "reached": int(fired.sum()),
            "host_ops": int(steps_mat.nnz),
        },
    )


def reference(problem: Problem) -> np.ndarray:
    """Distances by :func:`scipy.sparse.csgraph.dijkstra` from the source, ``(n,)`` (``inf`` = unreachable)."""
    if not isinstance(problem, Problem):
        raise TaskError(f"problem={problem!r}: must be a tasks.shortest_path.Problem")
    return np.asarray(csgraph.dijkstra(problem.graph, directed=problem.directed, indices=problem.source), dtype=np.float64)


def accuracy(problem: Problem, x: Any, *, ref: np.ndarray | None = None) -> dict[str, float]:
    """Error metrics of distances ``x`` ``(n,)`` (``inf`` = unreachable) against ``ref`` (default :func:`reference`, Dijkstra).

    ``n_wrong``: nodes whose distance differs beyond float rounding
    (``rtol=1e-12``) or whose reachability differs; ``max_abs_error`` and
    ``max_rel_error`` (relative to ``max(distance, shortest edge)``) over the
    nodes both find reachable.
    """
    if not isinstance(problem, Problem):
        raise TaskError(f"problem={problem!r}: must be a tasks.shortest_path.Problem")
    dist = np.asarray(x, dtype=np.float64)
    if dist.shape != (problem.n,):
        raise TaskError(f"x: must have shape ({problem.n},), got {dist.shape}")
    ref = reference(problem) if ref is None else np.asarray(ref, dtype=np.float64)
    lengths = problem.edges()
    both = np.isfinite(ref) & np.isfinite(dist)
    same = np.isclose(dist, ref, rtol=1e-12, atol=0.0) | (np.isinf(dist) & np.isinf(ref))
    min_len = float(lengths.data.min()) if lengths.nnz else 1.0
    return {
        "n_wrong": int(np.sum(~same)),
        "max_abs_error": float(np.max(np.abs(dist[both] - ref[both]))) if both.any() else 0.0,
        "max_rel_error": float(np.max(np.abs(dist[both] - ref[both]) / np.maximum(ref[both], min_len))) if both.any() else 0.0,
    }


def _check_dtype(dtype: Any) -> None:
    if dtype not in ("float32", "float64"):
        raise TaskError(f"dtype={dtype!r}: allowed: 'float32', 'float64'")


def dense_baseline(
    problem: Problem,
    device: str = "cpu",
    *,
    algorithm: str = "frontier",
    target: dict[str, float] | None = None,
    dtype: str = "float32",
) -> BaselineResult:
    """Shortest-path distances in torch: a sparse frontier Bellman-Ford (default) or the dense one.

    ``algorithm="frontier"`` (data-driven Bellman-Ford, the way GPU SSSP codes
    such as Gunrock work): the edges are CSR arrays (``indptr``, ``indices``,
    ``lengths``) of :meth:`Problem.edges`; each round relaxes only the edges
    out of the vertices whose distance changed in the previous round (the
    frontier; the source first)::

        e   = the out-edges of the frontier (gathered with repeat_interleave)
        d'  = scatter_reduce(d, dst[e], d[src[e]] + len[e], "amin")
        frontier = nonzero(d' < d)

    until the frontier is empty.  Two host reads per round (the edge count, to
    size the gather, and ``nonzero``).  Counting, per round with ``f`` frontier
    vertices, ``e`` relaxed edges, ``n`` vertices, ``s`` bytes per distance and
    8 per int64 index: FLOPs ``2 e + n`` (an add and a min per edge, the
    change test per vertex); bytes ``e (48 + 5 s)`` (edge ids and sources
    written, then ``indices`` and ``lengths`` gathered, ``d[src]`` gathered, the
    candidate written and scattered into ``d``), ``+ n (4 s + 2)`` (``d``
    copied, compared, the change mask written and read) ``+ 64 f`` (``indptr``
    twice, counts and offsets, the frontier read and written).
    ``info["edges_relaxed"]`` is the total ``e`` (``info["edges"]``: the graph's).

    ``algorithm="dense"``: Bellman-Ford on the dense ``(n, n)`` length matrix
    (``inf`` = no edge), kept for comparison, a straw man for sparse graphs.
    One iteration: ``d <- min(d, min_i (d_i + L[i, :]))``; it stops when ``d``
    no longer changes (at most ``n`` iterations).  Counting per iteration:
    ``n^2`` additions + ``n^2`` comparisons for the relaxation and ``n`` for the
    change test: ``2 n^2 + 2 n`` FLOPs; bytes: the matrix (``n^2`` elements)
    and ``d`` read and ``d`` written, ``n^2 + 3 n`` elements.

    float32 holds integer distances exactly up to ``2**24``; other lengths are
    rounded to it.  Both are exact algorithms: ``target`` (``{metric: value}``
    of :func:`accuracy`) is only checked (``reached``).
    """
    if not isinstance(problem, Problem):
        raise TaskError(f"problem={problem!r}: must be a tasks.shortest_path.Problem")
    _check_dtype(dtype)
    if algorithm not in ("frontier", "dense"):
        raise TaskError(f"algorithm={algorithm!r}: allowed: 'frontier', 'dense'")
    target = _baseline.check_target(target, ACCURACY_METRICS)
    if algorithm == "frontier":
        result = _frontier_baseline(problem, device, dtype)
    else:
        result = _dense_bellman_ford(problem, device, dtype)
    acc = accuracy(problem, result.x)
    return dataclasses.replace(result, accuracy=acc, target=target, reached=_baseline.meets(acc, target))


def _frontier_baseline(problem: Problem, device: str, dtype: str) -> BaselineResult:
    dev_name = check_device(device)
    import torch

    dev = torch.device(dev_name)
    tdt = getattr(torch, dtype)
    n = problem.n
    e = problem.edges()
    indptr = torch.as_tensor(e.indptr.astype(np.int64), device=dev)
    indices = torch.as_tensor(e.indices.astype(np.int64), device=dev)
    lengths = torch.as_tensor(e.data, dtype=tdt, device=dev)
    d = torch.full((n,), float("inf"), dtype=tdt, device=dev)
    d[problem.source] = 0.0
    frontier = torch.tensor([problem.source], dtype=torch.int64, device=dev)
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    t0 = time.perf_counter()
    rounds = relaxed = visited = 0
    while frontier.numel() > 0:
        starts = indptr.index_select(0, frontier)
        counts = indptr.index_select(0, frontier + 1) - starts
        total = int(counts.sum())  # host read: sizes the gather
        visited += int(frontier.numel())
        rounds += 1
        if total == 0:
            break
        offsets = torch.cumsum(counts, 0) - counts
        eid = torch.repeat_interleave(starts - offsets, counts, output_size=total) + torch.arange(total, device=dev)
        src = torch.repeat_interleave(frontier, counts, output_size=total)
        cand = d.index_select(0, src) + lengths.index_select(0, eid)
        new = d.scatter_reduce(0, indices.index_select(0, eid), cand, reduce="amin", include_self=True)
        frontier = torch.nonzero(new < d).squeeze(1)  # host read: the next frontier's size
        d = new
        relaxed += total
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    wall = time.perf_counter() - t0
    item = 4 if dtype == "float32" else 8
    return BaselineResult(
        x=d.double().cpu().numpy(),
        wall_time_s=wall,
        flops=int(2 * relaxed + rounds * n),
        bytes_moved=int(relaxed * (48 + 5 * item) + rounds * n * (4 * item + 2) + 64 * visited),
        n_iter=rounds,
        device=str(dev),
        algorithm="frontier Bellman-Ford (torch, CSR edge lists, scatter_reduce amin)",
        dtype=dtype,
        info={"edges_relaxed": int(relaxed), "edges": int(e.nnz), "frontier_vertices": int(visited)},
    )


def cpu_baseline(problem: Problem, *, target: dict[str, float] | None = None, min_time_s: float = 0.05) -> BaselineResult:
    """Dijkstra by :func:`scipy.sparse.csgraph.dijkstra` (compiled, binary heap) from the source, float64.

    This is :func:`reference` itself, so its ``accuracy`` is exact by
    construction (``n_wrong = 0``); ``target`` is only checked.  The wall time
    is the median of repeated runs (at least 3 and ``min_time_s`` in all).
    Counting (``m`` edges, ``n`` vertices): FLOPs ``m`` (an add per edge
    scanned; heap comparisons are not counted); bytes ``12 m + 8 n`` (the CSR
    edges once, each distance written).
    """
    if not isinstance(problem, Problem):
        raise TaskError(f"problem={problem!r}: must be a tasks.shortest_path.Problem")
    target = _baseline.check_target(target, ACCURACY_METRICS)
    g = sp.csr_matrix(problem.graph)
    directed, source = problem.directed, problem.source
    dist, wall, stats = _baseline.timed(lambda: csgraph.dijkstra(g, directed=directed, indices=source), min_total_s=min_time_s)
    x = np.asarray(dist, dtype=np.float64)
    acc = accuracy(problem, x)
    m = int(g.nnz) * (1 if directed else 2)
    return BaselineResult(
        x=x,
        wall_time_s=wall,
        flops=int(m),
        bytes_moved=int(12 * m + 8 * problem.n),
        n_iter=int(np.isfinite(x).sum()),
        device="cpu",
        algorithm="Dijkstra (scipy.sparse.csgraph.dijkstra, float64)",
        dtype="float64",
        info={**stats, "exact": True},
        accuracy=acc,
        target=target,
        reached=_baseline.meets(acc, target),
    )


def _dense_bellman_ford(problem: Problem, device: str, dtype: str) -> BaselineResult:
    """Bellman-Ford on the dense ``(n, n)`` length matrix in torch (``inf`` = no edge); see :func:`dense_baseline`.

    One iteration: ``d <- min(d, min_i (d_i + L[i, :]))``; it stops when ``d``
    no longer changes (at most ``n`` iterations).  Counting per iteration:
    ``n^2`` additions + ``n^2`` comparisons for the relaxation and ``n`` for the
    change test: ``2 n^2 + 2 n`` FLOPs; bytes: the matrix (``n^2`` elements)
    and ``d`` read and ``d`` written, ``n^2 + 3 n`` elements.  float32 holds
    integer distances exactly up to ``2**24``; other lengths are rounded to it.
    """
    dev_name = check_device(device)
    import torch

    dev = torch.device(dev_name)
    tdt = getattr(torch, dtype)
    n = problem.n
    e = problem.edges().tocoo()
    lengths = torch.full((n, n), float("inf"), dtype=tdt, device=dev)
    lengths[torch.as_tensor(e.row, device=dev), torch.as_tensor(e.col, device=dev)] = torch.as_tensor(e.data, dtype=tdt, device=dev)
    d = torch.full((n,), float("inf"), dtype=tdt, device=dev)
    d[problem.source] = 0.0
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    t0 = time.perf_counter()
    it = 0
    while it < n:
        new = torch.minimum(d, torch.min(d[:, None] + lengths, dim=0).values)
        it += 1
        if bool(torch.equal(new, d)):
            break
        d = new
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    wall = time.perf_counter() - t0
    item = 4 if dtype == "float32" else 8
    return BaselineResult(
        x=d.double().cpu().numpy(),
        wall_time_s=wall,
        flops=int(it * (2 * n * n + 2 * n)),
        bytes_moved=int(it * (n * n + 3 * n) * item),
        n_iter=it,
        device=str(dev),
        algorithm="Bellman-Ford (torch, dense length matrix)",
        dtype=dtype,
    )
