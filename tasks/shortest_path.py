"""Single-source shortest paths by a spike wave front with synaptic delays.

Problem: a graph with positive integer edge lengths (``graph[i, j]`` is the
length of the edge ``i -> j``, as in :mod:`scipy.sparse.csgraph`) and a source
node; find the distance from the source to every node (``inf`` when unreachable).

The network has one integrate-and-fire neuron per node (:class:`snn.IF`,
threshold 0.5, reset to 0) and one synapse per edge ``i -> j`` with weight 1
and a delay of ``graph[i, j]`` steps.  The source starts above threshold
(``v = 1``) and fires in step 0; a neuron fires in the first step in which any
spike reaches it, so the first spike of node ``j`` is in step ``d(j)``, its
distance (Dijkstra's algorithm run by the physics of delays).  Each node fires
once: a self synapse of weight ``-(in_degree + 1)`` (delay 1) pushes a neuron
that has fired so far below threshold that all its remaining inputs cannot
lift it back (it needs only binary spikes and integer weights, no refractory
counter, so it maps unchanged to fixed-point hardware).  The synaptic events
are therefore exactly the out-degrees of the reached nodes plus one per
reached node.
"""

from __future__ import annotations

import numbers
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
import scipy.sparse.csgraph as csgraph

import snn
from tasks._common import CONVERGED, MAXITER, STATUS_MESSAGES, BaselineResult, SolveResult, TaskError

__all__ = ["Problem", "random_problem", "build_network", "horizon", "solve", "reference", "dense_baseline"]


def _check_graph(graph: Any) -> sp.csr_matrix:
    if sp.issparse(graph):
        if graph.ndim != 2:
            raise TaskError(f"graph: must be 2-D (n, n), got shape {graph.shape}")
        if graph.dtype.kind not in "biuf":
            raise TaskError(f"graph: must hold real edge lengths, got dtype {graph.dtype}")
        g = sp.csr_matrix(graph, dtype=np.float64, copy=True)
        g.sum_duplicates()
    else:
        try:
            dense = np.array(graph, dtype=np.float64)
        except (TypeError, ValueError):
            raise TaskError(f"graph: must be a scipy.sparse matrix or a 2-D numeric array, got {type(graph).__name__}") from None
        if dense.ndim != 2:
            raise TaskError(f"graph: must be 2-D (n, n), got shape {dense.shape}")
        if np.isnan(dense).any():
            i, j = np.argwhere(np.isnan(dense))[0]
            raise TaskError(f"graph: NaN at ({i}, {j}); edge lengths must be finite positive integers")
        g = sp.csr_matrix(dense)
    if g.shape[0] != g.shape[1] or g.shape[0] < 1:
        raise TaskError(f"graph: must be square (n, n) with n >= 1, got shape {g.shape}")
    g.sort_indices()
    data = g.data
    rows = np.repeat(np.arange(g.shape[0]), np.diff(g.indptr))
    for bad, what in (
        (~np.isfinite(data), "must be finite"),
        (data < 0, "is negative; edge lengths must be positive integers"),
        (data == 0, "is an explicit zero; edge lengths must be positive integers (call graph.eliminate_zeros() if zero means no edge)"),
        (data != np.round(data), "is not an integer; edge lengths are whole numbers of time steps"),
    ):
        if bad.any():
            k = int(np.flatnonzero(bad)[0])
            raise TaskError(f"graph: edge ({rows[k]}, {g.indices[k]}) has length {data[k]!r}, which {what}")
    return g


@dataclass(frozen=True, eq=False)
class Problem:
    """Single-source shortest paths.

    Attributes
    ----------
    graph : scipy.sparse.csr_matrix, shape (n, n)
        ``graph[i, j]`` = length of the edge ``i -> j``, a positive integer;
        missing entries (or zeros of a dense array) are no edge.  Stored as a
        canonical float64 CSR copy.
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
    seed: int | np.random.Generator | None = None,
) -> Problem:
    """A seeded random graph: each node has ``out_degree`` distinct random successors, lengths uniform in ``1..max_length``; source 0."""
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
    lengths = rng.integers(1, max_length + 1, size=rows_a.shape[0]).astype(np.float64)
    return Problem(sp.csr_matrix((lengths, (rows_a, cols_a)), shape=(n, n)), source=0, directed=directed)


def horizon(problem: Problem) -> int:
    """Steps that certainly suffice: ``max_length * (BFS depth from the source) + 1``.

    Every reachable node ``j`` has a path of ``hops(j)`` edges, so
    ``d(j) <= max_length * hops(j)``; the BFS is ``O(edges)`` bookkeeping on the host.
    """
    e = problem.edges()
    if e.nnz == 0:
        return 1
    order, pred = csgraph.breadth_first_order(e, problem.source, directed=True, return_predecessors=True)
    depth = np.zeros(problem.n, dtype=np.int64)
    for node in order[1:]:
        depth[node] = depth[pred[node]] + 1
    return int(e.data.max()) * int(depth.max()) + 1


def build_network(problem: Problem) -> snn.Network:
    """The wave-front network: population ``nodes`` (IF), projections ``edges`` and ``fire_once``.

    ``edges``: weight 1, delay ``graph[i, j]`` from node ``i`` to node ``j``;
    ``fire_once``: self synapse ``-(in_degree + 1)``, delay 1.
    """
    if not isinstance(problem, Problem):
        raise TaskError(f"problem={problem!r}: must be a tasks.shortest_path.Problem")
    e = problem.edges()
    n = problem.n
    post_pre = sp.csr_matrix(e.T)  # (n_post, n_pre)
    post_pre.sort_indices()
    ones = post_pre.copy()
    ones.data = np.ones_like(ones.data)
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


def solve(
    problem: Problem,
    *,
    n_steps: int | None = None,
    rtol: float = 0.0,
    engine: str = "event",
    simulate: Callable | None = None,
    seed: int | None = None,
    callback: Callable[[int, np.ndarray], Any] | None = None,
) -> SolveResult:
    """Distances from the source as first-spike times of the wave-front network.

    The network runs ``T = n_steps`` steps (default :func:`horizon`).  Decoding:
    ``d(j) = min{t : node j spiked in step t}``, ``inf`` if it never spiked.

    Stopping rule (checked on the decoded times)::

        max over edges (i -> j) with t_i < T of (t_i + graph[i, j]) <= T - 1

    i.e. every spike sent has been delivered within the run, so no first spike
    can still come: then ``status = CONVERGED`` and the distances are exact
    (unspiked nodes are unreachable).  Otherwise ``MAXITER``: the finite
    distances found are still exact, but later nodes may be missing.

    Parameters
    ----------
    problem : Problem
    n_steps : int, optional
        Steps to run; default :func:`horizon` (enough for every reachable node).
    rtol : float
        Ignored (the answer is exact); kept for the common signature.
    engine, simulate, seed :
        As in :func:`tasks.poisson.solve`; ``simulate`` may be any callable with
        :func:`snn.simulate`'s signature (e.g. a fixed-point simulator).
    callback : callable, optional
        ``callback(T, distances)`` once, after the run.

    Returns
    -------
    SolveResult
        ``x``: distances ``(n,)`` float64 (``inf`` = unreachable).  ``errors``:
        ``n_wrong`` (nodes whose distance differs from Dijkstra's) and
        ``max_abs_error`` over the nodes both find reachable.  ``info``:
        ``last_spike_step``, ``horizon``, ``reached``.
    """
    if not isinstance(problem, Problem):
        raise TaskError(f"problem={problem!r}: must be a tasks.shortest_path.Problem")
    hz = horizon(problem)
    if n_steps is None:
        n_steps = hz
    if isinstance(n_steps, bool) or not isinstance(n_steps, numbers.Integral) or n_steps < 1:
        raise TaskError(f"n_steps={n_steps!r}: must be a positive int or None")
    if isinstance(rtol, bool) or not isinstance(rtol, numbers.Real) or not rtol >= 0:
        raise TaskError(f"rtol={rtol!r}: must be a number >= 0 (ignored: distances are exact)")
    if callback is not None and not callable(callback):
        raise TaskError(f"callback={callback!r}: must be None or a callable")
    if simulate is not None and not callable(simulate):
        raise TaskError(f"simulate={simulate!r}: must be None or a callable with snn.simulate's signature")
    sim = simulate or snn.simulate
    n_steps = int(n_steps)
    net = build_network(problem)
    run = sim(net, n_steps, engine=engine, seed=0 if seed is None else seed, record={"nodes": ("spikes",)})
    raster = np.asarray(run.spikes["nodes"], dtype=bool)
    fired = raster.any(axis=0)
    first = np.argmax(raster, axis=0)
    dist = np.where(fired, first.astype(np.float64), np.inf)

    e = problem.edges().tocoo()
    sent = fired[e.row]
    arrival = first[e.row[sent]] + e.data[sent]
    converged = bool(arrival.size == 0 or arrival.max() <= n_steps - 1)
    status = CONVERGED if converged else MAXITER
    if callback is not None:
        callback(n_steps, dist.copy())

    ref = reference(problem)
    both = np.isfinite(ref) & np.isfinite(dist)
    errors = {
        "n_wrong": int(np.sum(~((dist == ref) | (np.isinf(dist) & np.isinf(ref))))),
        "max_abs_error": float(np.max(np.abs(dist[both] - ref[both]))) if both.any() else 0.0,
    }
    return SolveResult(
        x=dist,
        success=converged,
        status=status,
        message=STATUS_MESSAGES[status],
        n_steps=n_steps,
        errors=errors,
        run=run,
        network=net,
        reference=ref,
        info={"last_spike_step": int(first[fired].max()) if fired.any() else -1, "horizon": hz, "reached": int(fired.sum())},
    )


def reference(problem: Problem) -> np.ndarray:
    """Distances by :func:`scipy.sparse.csgraph.dijkstra` from the source, ``(n,)`` (``inf`` = unreachable)."""
    if not isinstance(problem, Problem):
        raise TaskError(f"problem={problem!r}: must be a tasks.shortest_path.Problem")
    return np.asarray(csgraph.dijkstra(problem.graph, directed=problem.directed, indices=problem.source), dtype=np.float64)


def dense_baseline(problem: Problem, device: str = "cpu", *, dtype: str = "float32") -> BaselineResult:
    """Bellman-Ford on the dense ``(n, n)`` length matrix in torch (``inf`` = no edge).

    One iteration: ``d <- min(d, min_i (d_i + L[i, :]))``; it stops when ``d``
    no longer changes (at most ``n`` iterations).  Counting per iteration:
    ``n^2`` additions + ``n^2`` comparisons for the relaxation and ``n`` for the
    change test: ``2 n^2 + 2 n`` FLOPs; bytes: the matrix (``n^2`` elements)
    and ``d`` read and ``d`` written, ``n^2 + 3 n`` elements.  float32 holds
    integer distances exactly up to ``2**24``.
    """
    if not isinstance(problem, Problem):
        raise TaskError(f"problem={problem!r}: must be a tasks.shortest_path.Problem")
    if dtype not in ("float32", "float64"):
        raise TaskError(f"dtype={dtype!r}: allowed: 'float32', 'float64'")
    from tasks.poisson import _sync, _torch_device

    torch, dev = _torch_device(device)
    tdt = getattr(torch, dtype)
    n = problem.n
    e = problem.edges().tocoo()
    lengths = torch.full((n, n), float("inf"), dtype=tdt, device=dev)
    lengths[torch.as_tensor(e.row, device=dev), torch.as_tensor(e.col, device=dev)] = torch.as_tensor(e.data, dtype=tdt, device=dev)
    d = torch.full((n,), float("inf"), dtype=tdt, device=dev)
    d[problem.source] = 0.0
    _sync(torch, dev)
    t0 = time.perf_counter()
    it = 0
    while it < n:
        new = torch.minimum(d, torch.min(d[:, None] + lengths, dim=0).values)
        it += 1
        if bool(torch.equal(new, d)):
            break
        d = new
    _sync(torch, dev)
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
