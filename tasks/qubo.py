"""QUBO and MaxCut by a stochastic spiking annealer (Boltzmann neurons).

Problem: minimise ``E(x) = x^T Q x`` over ``x`` in ``{0, 1}^n``.  With the
symmetric part ``S = (Q + Q^T) / 2`` flipping ``x_i`` from 0 to 1 changes the
energy by ``S_ii + 2 sum_{j != i} S_ij x_j``.

The network has one :class:`snn.Boltzmann` neuron per variable (on = spiking =
``x_i = 1``) with bias ``-S_ii`` and synapses ``-2 S_ij`` (``i != j``, delay 1),
so a neuron that redraws its state in step ``t`` turns on with probability

    sigmoid(-(energy change of turning x_i on, given x(t-1)) / T(t))

the Gibbs (heat-bath) rule.  Each neuron redraws with probability
``update_prob < 1`` per step (all at once would make coupled neurons flip
together and oscillate), and the temperature cools geometrically::

    T(t) = max(T0 * cooling**t, T_end),   cooling = (T_end / T0) ** (1 / (n_steps - 1))

Defaults: ``T0`` is the median over neurons of the root-sum-square of their
input weights and bias (the size of a typical local field for a random
state), ``T_end = T0 / 1000``.  The random draws come from the run's seed
(:mod:`snn._rng`), so a seed reproduces the run on every engine.  The decoded
answer is the lowest-energy state among the recorded spike vectors (the
energy of every step is computed from the raster).

``maxcut(W)`` turns a MaxCut instance (symmetric weights ``W``, zero diagonal)
into the QUBO ``Q = W - diag(W 1)``, whose energy is minus the cut.
"""

from __future__ import annotations

import math
import numbers
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

import snn
from tasks import _baseline
from tasks._common import (
    CONVERGED,
    MAXITER,
    STATUS_MESSAGES,
    BaselineResult,
    SolveResult,
    TaskError,
    check_callback,
    check_device,
    finite_array,
)

__all__ = [
    "Problem",
    "maxcut",
    "cut_value",
    "random_problem",
    "energy",
    "temperatures",
    "build_network",
    "solve",
    "brute_force",
    "simulated_annealing",
    "reference",
    "accuracy",
    "ACCURACY_METRICS",
    "TARGET_METRICS",
    "dense_baseline",
    "cpu_baseline",
    "BRUTE_FORCE_MAX_N",
]

#: the metrics :func:`accuracy` reports that a baseline ``target`` may name (lower is better for both)
ACCURACY_METRICS = ("energy", "gap")
#: the metric equal-accuracy baselines match: the best energy found (time-to-target)
TARGET_METRICS = ("energy",)

#: largest ``n`` for which :func:`reference` enumerates all ``2**n`` states
BRUTE_FORCE_MAX_N = 20


@dataclass(frozen=True, eq=False)
class Problem:
    """Minimise ``x^T Q x`` over binary ``x``.

    Attributes
    ----------
    Q : ndarray, shape (n, n)
        Any real square matrix (dense or scipy.sparse on input; stored dense,
        float64, read-only).  Only its symmetric part matters.
    """

    Q: Any

    def __post_init__(self) -> None:
        q = self.Q.toarray() if sp.issparse(self.Q) else self.Q
        if np.iscomplexobj(q):
            raise TaskError("Q: must be real; got complex values (x^T Q x of a binary x is real only for real Q)")
        arr = finite_array("Q", q, ndim=2)
        if arr.shape[0] != arr.shape[1] or arr.shape[0] < 1:
            raise TaskError(f"Q: must be square (n, n) with n >= 1, got shape {arr.shape}")
        arr.setflags(write=False)
        object.__setattr__(self, "Q", arr)

    @property
    def n(self) -> int:
        return int(self.Q.shape[0])

    @property
    def symmetric(self) -> np.ndarray:
        """``S = (Q + Q^T) / 2``, ``(n, n)``."""
        return 0.5 * (self.Q + self.Q.T)


def _check_w(w: Any) -> np.ndarray:
    w = w.toarray() if sp.issparse(w) else w
    if np.iscomplexobj(w):
        raise TaskError("W: must hold real edge weights; got complex values")
    arr = finite_array("W", w, ndim=2)
    if arr.shape[0] != arr.shape[1] or arr.shape[0] < 1:
        raise TaskError(f"W: must be square (n, n) with n >= 1, got shape {arr.shape}")
    if not np.allclose(arr, arr.T, rtol=0.0, atol=1e-12 * max(1.0, float(np.max(np.abs(arr))))):
        i, j = np.unravel_index(int(np.argmax(np.abs(arr - arr.T))), arr.shape)
        raise TaskError(f"W: must be symmetric (an undirected graph); W[{i}, {j}]={arr[i, j]!r} but W[{j}, {i}]={arr[j, i]!r}")
    if np.any(np.diag(arr) != 0):
        i = int(np.flatnonzero(np.diag(arr))[0])
        raise TaskError(f"W: diagonal must be zero (a self-loop is never cut); W[{i}, {i}]={arr[i, i]!r}")
    return arr


def maxcut(W: Any) -> Problem:
    """The QUBO of MaxCut on the graph with symmetric weights ``W`` (zero diagonal).

    ``Q = W - diag(W 1)``, so ``x^T Q x = -cut(x)`` with
    ``cut(x) = sum_{i<j} W_ij [x_i != x_j]``.
    """
    w = _check_w(W)
    return Problem(w - np.diag(w.sum(axis=1)))


def cut_value(W: Any, x: Any) -> float:
    """``sum_{i<j} W_ij [x_i != x_j]`` for a 0/1 vector ``x`` ``(n,)``."""
    w = _check_w(W)
    xv = np.asarray(x, dtype=np.float64)
    if xv.shape != (w.shape[0],):
        raise TaskError(f"x: must have shape ({w.shape[0]},), got {xv.shape}")
    diff = xv[:, None] != xv[None, :]
    return float(0.5 * np.sum(w * diff))


def random_problem(
    n: int = 20,
    *,
    kind: str = "maxcut",
    density: float = 0.5,
    seed: int | np.random.Generator | None = None,
) -> Problem:
    """A seeded instance.

    ``kind="maxcut"``: :func:`maxcut` of an Erdos-Renyi graph ``G(n, density)``
    with unit weights.  ``kind="qubo"``: ``Q`` with i.i.d. standard normal
    entries, each kept with probability ``density``.
    """
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise TaskError(f"n={n!r}: must be a positive int")
    if isinstance(density, bool) or not isinstance(density, numbers.Real) or not 0 <= density <= 1:
        raise TaskError(f"density={density!r}: must be in [0, 1]")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    if kind == "maxcut":
        upper = np.triu(rng.random((n, n)) < density, k=1).astype(np.float64)
        return maxcut(upper + upper.T)
    if kind == "qubo":
        return Problem(rng.standard_normal((n, n)) * (rng.random((n, n)) < density))
    raise TaskError(f"kind={kind!r}: allowed: 'maxcut', 'qubo'")


def energy(problem: Problem, x: Any) -> np.ndarray | float:
    """``x^T Q x`` for ``x`` of shape ``(n,)`` (a float) or ``(k, n)`` (``(k,)`` energies)."""
    xv = np.asarray(x, dtype=np.float64)
    if xv.shape[-1:] != (problem.n,) or xv.ndim not in (1, 2):
        raise TaskError(f"x: must have shape ({problem.n},) or (k, {problem.n}), got {xv.shape}")
    e = np.einsum("...i,ij,...j->...", xv, problem.Q, xv)
    return float(e) if xv.ndim == 1 else e


def _local_scale(problem: Problem) -> float:
    s = problem.symmetric
    off = s - np.diag(np.diag(s))
    field = np.sqrt(np.sum((2.0 * off) ** 2, axis=1) + np.diag(s) ** 2)
    pos = field[field > 0]
    return float(np.median(pos)) if pos.size else 1.0


def temperatures(problem: Problem, n_steps: int, T0: float | None = None, T_end: float | None = None) -> tuple[float, float, float]:
    """``(T0, T_end, cooling)`` of the default geometric schedule (see the module docstring)."""
    t0 = _local_scale(problem) if T0 is None else float(T0)
    t1 = t0 / 1000.0 if T_end is None else float(T_end)
    for name, v in (("T0", t0), ("T_end", t1)):
        if not (math.isfinite(v) and v > 0):
            raise TaskError(f"{name}={v!r}: must be a positive, finite temperature")
    if t1 > t0:
        raise TaskError(f"T_end={t1!r}: must be <= T0={t0!r}")
    cooling = (t1 / t0) ** (1.0 / max(n_steps - 1, 1))
    return t0, t1, min(cooling, 1.0)


def build_network(
    problem: Problem,
    *,
    n_steps: int = 2000,
    T0: float | None = None,
    T_end: float | None = None,
    update_prob: float = 0.1,
    seed: int | np.random.Generator | None = None,
) -> snn.Network:
    """The annealer: population ``x`` (Boltzmann), projection ``x->x`` (``-2 S_ij``, delay 1).

    The initial state is a uniformly random binary vector drawn from ``seed``.
    """
    if not isinstance(problem, Problem):
        raise TaskError(f"problem={problem!r}: must be a tasks.qubo.Problem")
    if isinstance(update_prob, bool) or not isinstance(update_prob, numbers.Real) or not 0 < update_prob <= 1:
        raise TaskError(f"update_prob={update_prob!r}: must be in (0, 1]")
    t0, t1, cooling = temperatures(problem, n_steps, T0, T_end)
    s = problem.symmetric
    w = -2.0 * (s - np.diag(np.diag(s)))
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    s0 = (rng.random(problem.n) < 0.5).astype(np.float64)
    net = snn.Network(dt_ms=1.0)
    model = snn.Boltzmann(bias=-np.diag(s).copy(), temperature=t0, cooling=cooling, min_temperature=t1, update_prob=float(update_prob))
    net.add_population("x", problem.n, model, initial_state={"s": s0})
    if np.any(w != 0):
        net.add_projection("x", "x", weights=sp.csr_matrix(w), delay_steps=1, name="x->x")
    net.outputs = ("x",)
    return net


def _energies(q: np.ndarray, raster: np.ndarray, chunk: int = 4096) -> np.ndarray:
    out = np.empty(raster.shape[0])
    for s in range(0, raster.shape[0], chunk):
        x = raster[s : s + chunk].astype(np.float64)
        out[s : s + chunk] = np.einsum("ki,ki->k", x @ q, x)
    return out


def _is_local_min(problem: Problem, x: np.ndarray, tol: float) -> bool:
    s = problem.symmetric
    d = np.diag(s)
    g = s @ x
    delta = (1.0 - 2.0 * x) * (d + 2.0 * (g - d * x))
    return bool(np.all(delta >= -tol))


def solve(
    problem: Problem,
    *,
    n_steps: int = 2000,
    rtol: float = 1e-9,
    engine: str = "event",
    simulate: Callable | None = None,
    seed: int | None = None,
    callback: Callable[[int, np.ndarray], Any] | None = None,
    T0: float | None = None,
    T_end: float | None = None,
    update_prob: float = 0.1,
    compare: bool = True,
    check_every: int | None = None,
) -> SolveResult:
    """Anneal the Boltzmann network for ``n_steps`` steps; return the best state seen.

    One continued run in chunks of ``check_every`` steps (``run =
    simulate(net, k, state=state)``, ``state = run.state``): the temperature
    and the random draws follow the absolute step, so the chunking changes
    nothing, bit for bit.

    Stopping rule: the schedule runs to its end, ``t = n_steps``.  The answer
    ``x* = argmin_t E(s(t))`` over the recorded spike vectors ``s(t)``.
    ``status = CONVERGED`` when ``x*`` is a single-flip local minimum::

        min_i dE_i(x*) >= -rtol * max(1, |E(x*)|),    dE_i = energy change of flipping x_i

    and ``MAXITER`` otherwise (the schedule ended before settling).

    Parameters
    ----------
    problem : Problem
    n_steps : int
        Length of the annealing schedule.
    rtol : float
        Tolerance of the local-minimum test.
    engine, simulate :
        As in :func:`tasks.poisson.solve`.
    seed : int, optional
        Seeds the initial state and every random draw of the run (``None``: fresh).
    callback : callable, optional
        ``callback(t, x_best_so_far)`` after each chunk (``t`` the steps so far);
        checked to be callable before anything runs.
    T0, T_end, update_prob :
        Schedule and redraw probability (see the module docstring).
    compare : bool
        Compute :func:`reference` for the ``errors`` (for large ``n`` the
        classical SA costs ``O(n_sweeps * n)`` Python steps); ``False`` leaves
        only ``errors["energy"]``.
    check_every : int, optional
        Steps per chunk (default: one chunk of ``n_steps``).

    Returns
    -------
    SolveResult
        ``x``: the best binary state ``(n,)``.  ``errors``: ``energy``,
        ``reference_energy`` (brute force for ``n <= 20``, else
        :func:`simulated_annealing` with the same seed), ``ratio`` =
        ``energy / reference_energy`` (for negative optima, 1 is optimal) and
        ``gap`` = ``(energy - reference_energy) / |reference_energy|``.
        ``info``: ``energy_per_step`` ``(n_steps,)``, ``best_step``,
        ``temperatures`` ``(T0, T_end, cooling)``.
    """
    if not isinstance(problem, Problem):
        raise TaskError(f"problem={problem!r}: must be a tasks.qubo.Problem")
    if isinstance(n_steps, bool) or not isinstance(n_steps, numbers.Integral) or n_steps < 1:
        raise TaskError(f"n_steps={n_steps!r}: must be a positive int")
    if isinstance(rtol, bool) or not isinstance(rtol, numbers.Real) or not rtol >= 0:
        raise TaskError(f"rtol={rtol!r}: must be a number >= 0")
    check_callback(callback)
    if simulate is not None and not callable(simulate):
        raise TaskError(f"simulate={simulate!r}: must be None or a callable with snn.simulate's signature")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0):
        raise TaskError(f"seed={seed!r}: must be None or a non-negative int")
    n_steps = int(n_steps)
    if check_every is None:
        check_every = n_steps
    if isinstance(check_every, bool) or not isinstance(check_every, numbers.Integral) or check_every < 1:
        raise TaskError(f"check_every={check_every!r}: must be a positive int or None")
    sim = simulate or snn.simulate
    if seed is None:
        seed = int(np.random.SeedSequence().generate_state(1, dtype=np.uint32)[0])
    net = build_network(problem, n_steps=n_steps, T0=T0, T_end=T_end, update_prob=update_prob, seed=np.random.default_rng([seed, 1]))
    state = snn.init_state(net, seed=seed)
    runs = []
    done = 0
    while done < n_steps:
        run = sim(net, min(int(check_every), n_steps - done), engine=engine, state=state, record={"x": ("spikes",)})
        runs.append(run)
        state = run.state
        done += run.n_steps
        if callback is not None:
            so_far = np.concatenate([np.asarray(r.spikes["x"], dtype=bool) for r in runs])
            callback(done, so_far[int(np.argmin(_energies(problem.Q, so_far)))].astype(np.float64))
    run = snn.RunResult.concat(runs)
    raster = np.asarray(run.spikes["x"], dtype=bool)
    e_steps = _energies(problem.Q, raster)  # on the whole raster: the same arithmetic however the run was chunked
    best = int(np.argmin(e_steps))
    x = raster[best].astype(np.float64)
    e_best = float(e_steps[best])
    status = CONVERGED if math.isfinite(e_best) and _is_local_min(problem, x, rtol * max(1.0, abs(e_best))) else MAXITER
    errors: dict[str, float] = {"energy": e_best}
    ref_x = None
    if compare:
        ref_x = reference(problem, seed=seed)
        errors = _errors(e_best, float(energy(problem, ref_x)))
    return SolveResult(
        x=x,
        success=status == CONVERGED,
        status=status,
        message=STATUS_MESSAGES[status]
        if math.isfinite(e_best)
        else f"the best energy is {e_best} (Q overflows in float64), so it is not a success",
        n_steps=n_steps,
        errors=errors,
        run=run,
        network=net,
        reference=ref_x,
        info={"energy_per_step": e_steps, "best_step": best, "temperatures": temperatures(problem, n_steps, T0, T_end), "seed": seed},
    )


def _errors(e: float, e_ref: float) -> dict[str, float]:
    return {
        "energy": e,
        "reference_energy": e_ref,
        "ratio": e / e_ref if e_ref != 0 else float(e == 0),
        "gap": (e - e_ref) / abs(e_ref) if e_ref != 0 else abs(e),
    }


def accuracy(problem: Problem, x: Any, *, ref: np.ndarray | None = None) -> dict[str, float]:
    """The metrics of a binary state ``x`` (what :func:`solve` reports in ``errors``) against ``ref`` (default :func:`reference`).

    ``energy = x^T Q x``, ``reference_energy``, ``ratio = energy / reference_energy``
    (1 is optimal for a negative optimum) and ``gap = (energy - reference_energy) / |reference_energy|``.
    """
    if not isinstance(problem, Problem):
        raise TaskError(f"problem={problem!r}: must be a tasks.qubo.Problem")
    ref = reference(problem) if ref is None else ref
    return _errors(float(energy(problem, x)), float(energy(problem, ref)))


def brute_force(problem: Problem) -> np.ndarray:
    """The exact minimiser by enumerating all ``2**n`` states (``n <= 20``), ``(n,)``.

    Splits ``x = (high, low)`` into two halves so that the energies of all states
    form one ``(2**n_hi, 2**n_lo)`` table: ``E = E_hi[:, None] + E_lo[None, :] + 2 H S_hl L^T``.
    Ties go to the lowest index (``x`` read as a binary number, ``x_0`` the most
    significant bit).
    """
    if not isinstance(problem, Problem):
        raise TaskError(f"problem={problem!r}: must be a tasks.qubo.Problem")
    n = problem.n
    if n > BRUTE_FORCE_MAX_N:
        raise TaskError(f"problem.n={n}: brute force is limited to n <= {BRUTE_FORCE_MAX_N}")
    s = problem.symmetric
    n_hi = n // 2
    n_lo = n - n_hi

    def states(k: int) -> np.ndarray:
        return ((np.arange(2**k)[:, None] >> np.arange(k - 1, -1, -1)[None, :]) & 1).astype(np.float64)

    hi, lo = states(n_hi), states(n_lo)
    s_hh, s_ll, s_hl = s[:n_hi, :n_hi], s[n_hi:, n_hi:], s[:n_hi, n_hi:]
    e_hi = np.einsum("ki,ij,kj->k", hi, s_hh, hi)
    e_lo = np.einsum("ki,ij,kj->k", lo, s_ll, lo)
    table = e_hi[:, None] + e_lo[None, :] + 2.0 * (hi @ s_hl) @ lo.T
    k = int(np.argmin(table))
    return np.concatenate([hi[k // 2**n_lo], lo[k % 2**n_lo]])


def simulated_annealing(
    problem: Problem,
    *,
    n_sweeps: int = 1000,
    T0: float | None = None,
    T_end: float | None = None,
    seed: int | np.random.Generator | None = None,
) -> np.ndarray:
    """Classical single-flip Metropolis simulated annealing in numpy; the best state seen, ``(n,)``.

    Each sweep visits the variables in a random order; a flip with energy change
    ``dE`` is accepted with probability ``min(1, exp(-dE / T))``; ``T`` cools
    geometrically from ``T0`` to ``T_end`` over the sweeps (same defaults as
    :func:`temperatures`).  Local fields are updated incrementally (``O(n)``
    per accepted flip).
    """
    if not isinstance(problem, Problem):
        raise TaskError(f"problem={problem!r}: must be a tasks.qubo.Problem")
    if isinstance(n_sweeps, bool) or not isinstance(n_sweeps, numbers.Integral) or n_sweeps < 1:
        raise TaskError(f"n_sweeps={n_sweeps!r}: must be a positive int")
    t0, t1, cooling = temperatures(problem, n_sweeps, T0, T_end)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    n = problem.n
    s = problem.symmetric
    d = np.diag(s).copy()
    off2 = 2.0 * (s - np.diag(d))
    x = (rng.random(n) < 0.5).astype(np.float64)
    g = off2 @ x  # 2 sum_{j != i} S_ij x_j
    e = float(x @ s @ x)
    best_e, best_x = e, x.copy()
    xl, dl = x.tolist(), d.tolist()
    rows = [off2[i] for i in range(n)]
    temp = t0
    for _ in range(n_sweeps):
        order = rng.permutation(n).tolist()
        us = rng.random(n).tolist()
        for i, u in zip(order, us):
            sign = 1.0 - 2.0 * xl[i]
            de = sign * (dl[i] + float(g[i]))
            if de <= 0.0 or u < math.exp(-de / temp):
                xl[i] = 1.0 - xl[i]
                e += de
                g += sign * rows[i]
                if e < best_e - 1e-12:
                    best_e, best_x = e, np.asarray(xl)
        temp = max(temp * cooling, t1)
    return np.asarray(best_x, dtype=np.float64)


def reference(problem: Problem, *, seed: int | None = 0, n_sweeps: int = 1000) -> np.ndarray:
    """The conventional answer: :func:`brute_force` for ``n <= 20``, else :func:`simulated_annealing`."""
    if not isinstance(problem, Problem):
        raise TaskError(f"problem={problem!r}: must be a tasks.qubo.Problem")
    if problem.n <= BRUTE_FORCE_MAX_N:
        return brute_force(problem)
    return simulated_annealing(problem, n_sweeps=n_sweeps, seed=seed)


def dense_baseline(
    problem: Problem,
    device: str = "cpu",
    *,
    n_steps: int = 2000,
    n_replicas: int = 16,
    update_prob: float = 0.1,
    seed: int = 0,
    target: dict[str, float] | None = None,
    dtype: str = "float32",
) -> BaselineResult:
    """Vectorised simulated annealing in torch: ``n_replicas`` chains, all variables proposed in parallel.

    With ``target`` (``{"energy": e}`` or ``{"gap": g}``, metrics of
    :func:`accuracy`) the run stops after the first step whose best energy
    meets it (time-to-target), else it runs all ``n_steps``.

    Per step, for every chain: local fields ``G = X (2 S_off)`` (one dense
    matmul), ``dE = (1 - 2X)(diag S + G)``; each variable proposes a flip with
    probability ``update_prob`` and accepts it by Metropolis at ``T(t)`` (the
    schedule of :func:`temperatures`); the energy ``sum(X S X)`` of every chain is
    tracked and the best state over chains and steps is returned.

    Counting per step (``R`` replicas): the matmul ``2 R n^2`` FLOPs; the
    elementwise work ``~12 R n`` (dE 3, exp and divide 2, two comparisons,
    select, energy 4); bytes: the matrix (``n^2`` elements) plus ``~8 R n``
    elements of vectors.
    """
    if not isinstance(problem, Problem):
        raise TaskError(f"problem={problem!r}: must be a tasks.qubo.Problem")
    for name, v in (("n_steps", n_steps), ("n_replicas", n_replicas)):
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1:
            raise TaskError(f"{name}={v!r}: must be a positive int")
    if dtype not in ("float32", "float64"):
        raise TaskError(f"dtype={dtype!r}: allowed: 'float32', 'float64'")
    target = _baseline.check_target(target, ACCURACY_METRICS)
    dev_name = check_device(device)
    import torch

    ref = reference(problem, seed=seed) if target is not None else None
    target_e = _target_energy(problem, target, ref)
    dev = torch.device(dev_name)
    tdt = getattr(torch, dtype)
    t0, t1, cooling = temperatures(problem, n_steps)
    n, r = problem.n, int(n_replicas)
    s = problem.symmetric
    gen = torch.Generator(device=dev)
    gen.manual_seed(int(seed))
    diag = torch.as_tensor(np.diag(s).copy(), dtype=tdt, device=dev)
    off2 = torch.as_tensor(2.0 * (s - np.diag(np.diag(s))), dtype=tdt, device=dev)
    sm = torch.as_tensor(s, dtype=tdt, device=dev)
    x = (torch.rand((r, n), generator=gen, device=dev) < 0.5).to(tdt)
    best_e = float("inf")
    best_x = x[0].clone()
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    start = time.perf_counter()
    temp = t0
    steps = 0
    for _ in range(int(n_steps)):
        g = x @ off2
        de = (1.0 - 2.0 * x) * (diag + g)
        propose = torch.rand((r, n), generator=gen, device=dev) < update_prob
        accept = propose & (torch.rand((r, n), generator=gen, device=dev) < torch.exp(torch.clamp(-de / temp, max=0.0)))
        x = torch.where(accept, 1.0 - x, x)
        e = torch.sum((x @ sm) * x, dim=1)
        k = torch.argmin(e)
        e_k = float(e[k])  # host read: is it the best so far?
        if e_k < best_e:
            best_e = e_k
            best_x = x[k].clone()
        temp = max(temp * cooling, t1)
        steps += 1
        if target_e is not None and best_e <= target_e:
            break
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    wall = time.perf_counter() - start
    item = 4 if dtype == "float32" else 8
    # the energy tracking matmul is counted too (an implementation could update it incrementally)
    flops = steps * (2 * 2 * r * n * n + 12 * r * n)
    x_best = best_x.double().cpu().numpy()
    acc = accuracy(problem, x_best, ref=ref)
    return BaselineResult(
        x=x_best,
        wall_time_s=wall,
        flops=int(flops),
        bytes_moved=int(steps * (2 * n * n + 8 * r * n) * item),
        n_iter=steps,
        device=str(dev),
        algorithm=f"parallel Metropolis simulated annealing (torch, {r} replicas)",
        dtype=dtype,
        info={"replicas": r, "update_prob": update_prob, "temperatures": (t0, t1, cooling)},
        accuracy=acc,
        target=target,
        reached=_baseline.meets(acc, target),
    )


def _target_energy(problem: Problem, target: dict[str, float] | None, ref: np.ndarray | None) -> float | None:
    """The energy a ``target`` (``{"energy": e}`` and/or ``{"gap": g}``) asks for: the lower of the two."""
    if target is None:
        return None
    out = []
    if "energy" in target:
        out.append(target["energy"])
    if "gap" in target:
        e_ref = float(energy(problem, ref))
        out.append(e_ref + target["gap"] * abs(e_ref) if e_ref != 0 else target["gap"])
    return min(out)


_SA_KERNEL: Any = None


def _sa_kernel() -> Any:
    """The single-flip Metropolis annealing loop, compiled by numba (once per process, on first use)."""
    global _SA_KERNEL
    if _SA_KERNEL is None:
        import numba

        @numba.njit(cache=False, nogil=True)
        def kernel(diag, off2, n_sweeps, t0, t1, cooling, seed, target_e, use_target):  # pragma: no cover - compiled
            np.random.seed(seed)
            n = diag.shape[0]
            x = np.zeros(n)
            for i in range(n):
                x[i] = 1.0 if np.random.random() < 0.5 else 0.0
            g = np.zeros(n)
            e = 0.0
            for i in range(n):
                e += diag[i] * x[i]
                for j in range(n):
                    g[i] += off2[i, j] * x[j]
                e += 0.5 * x[i] * g[i]
            best_e = e
            best_x = x.copy()
            temp = t0
            accepted = 0
            sweeps = 0
            for _ in range(n_sweeps):
                order = np.random.permutation(n)
                for j in range(n):
                    i = order[j]
                    sign = 1.0 - 2.0 * x[i]
                    de = sign * (diag[i] + g[i])
                    if de <= 0.0 or np.random.random() < math.exp(-de / temp):
                        x[i] = 1.0 - x[i]
                        e += de
                        accepted += 1
                        for q in range(n):
                            g[q] += sign * off2[i, q]
                        if e < best_e - 1e-12:
                            best_e = e
                            best_x[:] = x
                sweeps += 1
                if use_target and best_e <= target_e:
                    break
                temp = max(temp * cooling, t1)
            return best_x, best_e, sweeps, accepted

        _SA_KERNEL = kernel
    return _SA_KERNEL


def cpu_baseline(
    problem: Problem,
    *,
    n_sweeps: int = 1000,
    seed: int = 0,
    target: dict[str, float] | None = None,
    min_time_s: float = 0.05,
) -> BaselineResult:
    """Classical single-flip Metropolis simulated annealing, compiled by numba (one thread, float64).

    The algorithm of :func:`simulated_annealing` (random visiting order per
    sweep, geometric cooling from :func:`temperatures`, incremental local
    fields, the best state seen), as a numba ``njit`` loop with numba's own
    random generator seeded by ``seed`` (so its states differ from the numpy
    version's).  With ``target`` (``{"energy": e}`` or ``{"gap": g}``) it
    stops after the first sweep whose best energy meets it (time-to-target,
    checked once per sweep), else it runs ``n_sweeps``.  The first call in a
    process compiles the kernel (a warm-up run, not timed); the wall time is
    the median of repeated runs (at least 3 and ``min_time_s`` in all).

    Counting (``n`` variables, ``a`` accepted flips): FLOPs ``6 n`` per sweep
    (each proposal's ``dE``, ``exp`` and comparison) plus ``2 n`` per accepted
    flip (the local fields); bytes ``24 n`` per sweep plus ``24 n`` per
    accepted flip (a row of ``2 S`` read, the fields read and written).
    """
    if not isinstance(problem, Problem):
        raise TaskError(f"problem={problem!r}: must be a tasks.qubo.Problem")
    if isinstance(n_sweeps, bool) or not isinstance(n_sweeps, numbers.Integral) or n_sweeps < 1:
        raise TaskError(f"n_sweeps={n_sweeps!r}: must be a positive int")
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise TaskError(f"seed={seed!r}: must be a non-negative int")
    target = _baseline.check_target(target, ACCURACY_METRICS)
    ref = reference(problem, seed=seed)
    target_e = _target_energy(problem, target, ref)
    t0, t1, cooling = temperatures(problem, int(n_sweeps))
    s = problem.symmetric
    diag = np.ascontiguousarray(np.diag(s), dtype=np.float64)
    off2 = np.ascontiguousarray(2.0 * (s - np.diag(np.diag(s))), dtype=np.float64)
    kernel = _sa_kernel()
    args = (
        diag,
        off2,
        int(n_sweeps),
        float(t0),
        float(t1),
        float(cooling),
        int(seed),
        0.0 if target_e is None else float(target_e),
        target_e is not None,
    )
    kernel(*args)  # compile (first call in the process) and warm up: not timed
    (x, e_best, sweeps, accepted), wall, stats = _baseline.timed(lambda: kernel(*args), min_total_s=min_time_s)
    x = np.asarray(x, dtype=np.float64)
    acc = accuracy(problem, x, ref=ref)
    n = problem.n
    import numba

    return BaselineResult(
        x=x,
        wall_time_s=wall,
        flops=int(sweeps * 6 * n + accepted * 2 * n),
        bytes_moved=int(sweeps * 24 * n + accepted * 24 * n),
        n_iter=int(sweeps),
        device="cpu",
        algorithm="single-flip Metropolis simulated annealing (numba-compiled loop, float64)",
        dtype="float64",
        info={**stats, "accepted_flips": int(accepted), "temperatures": (t0, t1, cooling), "library": f"numba {numba.__version__}"},
        accuracy=acc,
        target=target,
        reached=_baseline.meets(acc, target),
    )
