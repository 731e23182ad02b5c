"""Non-negative LASSO by a spiking locally competitive algorithm (LCA).

Problem::

    minimize_x  F(x) = 0.5 * ||b - A x||_2^2 + lam * ||x||_1   subject to  x >= 0

Spiking LCA (Tang, Lin and Davies 2017, "Sparse coding by spiking neural
networks: convergence theory and computational results", arXiv:1705.05475;
the SLCA of Loihi): one integrate-and-fire neuron per atom (column of ``A``).
Working with the unit-norm atoms ``a_i / d_i`` (``d_i = ||a_i||``, ``u_i = d_i x_i``),
neuron ``i`` integrates, in steps of ``dt`` (time in units of the LCA time constant)::

    v_i += dt * (a_i^T b / d_i - lam / d_i) - sum_{j != i} G_ij * s_j      (G = normalised Gram matrix)

and spikes when ``v_i > 1`` (then ``v_i -= 1``).  The bias is the feed-forward
drive ``A^T b`` (shifted by the threshold ``lam``), the recurrent weights are the
lateral inhibition ``-(G - I)``; the neuron's own reset plays the part of the
diagonal.  Its firing rate ``u_i = (spikes per step) / dt`` converges to the
LASSO solution (Tang et al., Theorem 1), and ``x_i = u_i / d_i``.  The rate is
decoded from the spike counts over a window that discards the first
``burn_in`` fraction of the run (the transient).
"""

from __future__ import annotations

import math
import numbers
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

import snn
from tasks._common import CONVERGED, MAXITER, STATUS_MESSAGES, BaselineResult, SolveResult, TaskError, finite_array, run_chunked

__all__ = ["Problem", "random_problem", "objective", "duality_gap", "solve", "reference", "dense_baseline"]


@dataclass(frozen=True, eq=False)
class Problem:
    """Non-negative LASSO ``min 0.5 ||b - A x||^2 + lam ||x||_1, x >= 0``.

    Parameters
    ----------
    A : (n_samples, n_atoms) array
        The dictionary; every column must be non-zero.
    b : (n_samples,) array
    lam : float
        The l1 weight, ``>= 0``.
    """

    A: Any
    b: Any
    lam: Any

    def __post_init__(self) -> None:
        A = finite_array("A", self.A, ndim=2)
        if A.shape[0] < 1 or A.shape[1] < 1:
            raise TaskError(f"A: must have at least one row and one column, got shape {A.shape}")
        norms = np.linalg.norm(A, axis=0)
        if np.any(norms == 0):
            raise TaskError(f"A: column {int(np.argmin(norms))} is zero; every atom (column) must be non-zero")
        b = finite_array("b", self.b, ndim=1)
        if b.shape != (A.shape[0],):
            raise TaskError(f"b: must have shape ({A.shape[0]},) to match A of shape {A.shape}, got {b.shape}")
        if isinstance(self.lam, bool) or not isinstance(self.lam, numbers.Real):
            raise TaskError(f"lam={self.lam!r}: must be a real number >= 0")
        lam = float(self.lam)
        if math.isnan(lam) or math.isinf(lam):
            raise TaskError(f"lam={self.lam!r}: must be finite (NaN and inf are not allowed)")
        if lam < 0:
            raise TaskError(f"lam={self.lam!r}: must be >= 0 (the l1 weight)")
        for arr in (A, b):
            arr.setflags(write=False)
        object.__setattr__(self, "A", A)
        object.__setattr__(self, "b", b)
        object.__setattr__(self, "lam", lam)

    @property
    def n_atoms(self) -> int:
        return int(self.A.shape[1])

    @property
    def n_samples(self) -> int:
        return int(self.A.shape[0])


def random_problem(
    n_atoms: int = 128,
    n_samples: int | None = None,
    *,
    sparsity: float = 0.06,
    lam_ratio: float = 0.1,
    noise: float = 0.01,
    seed: int | np.random.Generator | None = None,
) -> Problem:
    """A sparse-coding instance: Gaussian unit-norm dictionary, sparse non-negative code.

    ``n_samples`` defaults to ``n_atoms // 2`` (an overcomplete dictionary);
    ``round(sparsity * n_atoms)`` (at least 1) atoms are active with weights
    uniform in [0.5, 1.5]; ``b = A x_true + noise * N(0, 1)``;
    ``lam = lam_ratio * max(A^T b)``.
    """
    for name, value in (("n_atoms", n_atoms), ("n_samples", n_samples)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1):
            raise TaskError(f"{name}={value!r}: must be a positive int")
    if not (isinstance(sparsity, numbers.Real) and 0 < sparsity <= 1):
        raise TaskError(f"sparsity={sparsity!r}: must be in (0, 1] (the fraction of active atoms)")
    if not (isinstance(lam_ratio, numbers.Real) and 0 <= lam_ratio < 1):
        raise TaskError(f"lam_ratio={lam_ratio!r}: must be in [0, 1) (lam as a fraction of max(A^T b))")
    if not (isinstance(noise, numbers.Real) and math.isfinite(noise) and noise >= 0):
        raise TaskError(f"noise={noise!r}: must be a finite number >= 0")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    m = max(1, n_atoms // 2) if n_samples is None else int(n_samples)
    A = rng.standard_normal((m, n_atoms))
    A /= np.linalg.norm(A, axis=0)
    k = max(1, int(round(sparsity * n_atoms)))
    x = np.zeros(n_atoms)
    x[rng.choice(n_atoms, size=k, replace=False)] = rng.uniform(0.5, 1.5, size=k)
    b = A @ x + noise * rng.standard_normal(m)
    lam = lam_ratio * float(np.max(A.T @ b))
    return Problem(A, b, max(lam, 0.0))


def objective(problem: Problem, x: np.ndarray) -> float:
    """``F(x) = 0.5 ||b - A x||^2 + lam ||x||_1`` (``x`` is not required to be >= 0 here)."""
    r = problem.b - problem.A @ x
    return float(0.5 * r @ r + problem.lam * np.abs(x).sum())


def duality_gap(problem: Problem, x: np.ndarray) -> float:
    """``F(x) - D(theta) >= F(x) - F*`` for ``x >= 0``: a certificate of sub-optimality.

    ``theta = s r`` with ``r = b - A x`` and ``s = min(1, lam / max_i (A^T r)_i)``
    (1 when that maximum is <= 0) is feasible for the dual
    ``max 0.5 ||b||^2 - 0.5 ||b - theta||^2  s.t.  A^T theta <= lam``.
    """
    A, b, lam = problem.A, problem.b, problem.lam
    r = b - A @ x
    c = float(np.max(A.T @ r))
    s = min(1.0, lam / c) if c > 0 else 1.0
    theta = s * r
    dual = 0.5 * float(b @ b) - 0.5 * float((b - theta) @ (b - theta))
    primal = 0.5 * float(r @ r) + lam * float(np.abs(x).sum())
    return primal - dual


def reference(problem: Problem) -> np.ndarray:
    """scikit-learn's coordinate descent ``Lasso(positive=True)``.

    scikit-learn minimises ``1/(2 n_samples) ||b - A x||^2 + alpha ||x||_1``;
    with ``alpha = lam / n_samples`` that is ``F / n_samples``, the same minimiser.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import Lasso

    if problem.lam == 0:
        from scipy.optimize import nnls

        return nnls(problem.A, problem.b)[0]
    model = Lasso(alpha=problem.lam / problem.n_samples, positive=True, fit_intercept=False, tol=1e-12, max_iter=200_000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(np.array(problem.A), np.array(problem.b))
    return np.asarray(model.coef_, dtype=np.float64)


def _relative_gap(problem: Problem, x: np.ndarray) -> float:
    f = objective(problem, x)
    return duality_gap(problem, x) / f if f > 0 else 0.0


def _sparse_relative_gap(problem: Problem, x: np.ndarray, gram: np.ndarray, atb: np.ndarray) -> tuple[float, int]:
    """The relative duality gap of :func:`duality_gap` using the support of ``x``; also its FLOPs.

    With ``k`` non-zeros, ``r = b - A[:, S] x_S`` costs ``2 m k``, and
    ``A^T r = A^T b - (A^T A)[:, S] x_S`` costs ``2 n k`` given ``A^T b`` and
    ``A^T A`` (computed once for the network's bias and weights); the norms,
    scaling and sums ``10 m + 3 n``.
    """
    A, b, lam = problem.A, problem.b, problem.lam
    m, n = A.shape
    support = np.flatnonzero(x)
    k = int(support.size)
    xs = x[support]
    r = b - A[:, support] @ xs
    c = float(np.max(atb - gram[:, support] @ xs))
    s = min(1.0, lam / c) if c > 0 else 1.0
    theta = s * r
    primal = 0.5 * float(r @ r) + lam * float(xs.sum())
    dual = 0.5 * float(b @ b) - 0.5 * float((b - theta) @ (b - theta))
    flops = 2 * m * k + 2 * n * k + 10 * m + 3 * n
    return ((primal - dual) / primal if primal > 0 else 0.0), flops


def solve(
    problem: Problem,
    *,
    n_steps: int = 8000,
    rtol: float = 1e-2,
    engine: str = "event",
    simulate: Callable[..., Any] | None = None,
    seed: int | None = None,
    callback: Callable[[np.ndarray], Any] | None = None,
    dt: float | None = None,
    rate_max: float | None = None,
    burn_in: float = 0.25,
    check_every: int = 100,
    reset: str = "subtract",
) -> SolveResult:
    """Solve the non-negative LASSO with a spiking LCA network (see the module docstring).

    The network is one :class:`snn.IF` population ``"x"`` (``n_atoms``
    neurons, threshold 1, reset by subtraction, bias ``dt * (A^T b - lam) / d``)
    and one recurrent projection ``-(G - I)`` (lateral inhibition between
    atoms, ``G`` the Gram matrix of the unit-norm atoms).  It runs in chunks of
    ``check_every`` steps; each chunk starts from the state before the previous
    chunk's last step and re-executes it, so the network itself re-sends the
    spikes that were in flight (exact; see :func:`tasks._common.run_chunked`).

    Decoding, after a chunk ending at step ``T``: with ``C_i(t)`` the spike
    count of neuron ``i`` up to step ``t`` and ``t_w`` the last chunk boundary
    ``<= burn_in * T``::

        x_i = (C_i(T) - C_i(t_w)) / ((T - t_w) * dt * d_i)

    Stopping rule (the relative duality gap of :func:`duality_gap`, which
    bounds the relative sub-optimality, ``(F(x) - F*) / F(x) <= gap / F(x)``)::

        (F(x) - D(theta(x))) / F(x) <= rtol

    Parameters
    ----------
    problem : Problem
    n_steps : int
        Most simulation steps.
    rtol : float
        Relative duality gap of the stopping rule.
    engine, simulate, seed
        As :func:`tasks.linear.solve`; the RunResult must hold the ``spikes``
        and the ``final_state`` (``v``, ``i``, ``refractory``) of ``"x"``.
    callback : callable, optional
        ``callback(x)`` after every chunk, with the decoded ``(n_atoms,)`` solution.
    dt : float, optional
        LCA time per step.  Default ``rate_max / max_i((A^T b - lam)_i / d_i)``:
        the most strongly driven neuron starts at ``rate_max`` spikes per step.
        Smaller ``dt`` resolves rates more finely but needs more steps.
    rate_max : float, optional
        See ``dt``; default 0.25 (``reset="subtract"``) or 0.05 (``reset="zero"``).
    burn_in : float
        Fraction of the run excluded from the rate window.
    check_every : int
        Steps per chunk.
    reset : {"subtract", "zero"}
        The neurons' reset.  ``"subtract"`` (``v -= 1``) keeps the overshoot
        and makes the rate exact.  ``"zero"`` is Loihi's LIF reset, which
        :func:`hardware.loihi.quantize` can map; it discards the overshoot, so
        rates come out low by about half a step's input per spike: measured on
        ``random_problem(64..256, seed=1)`` with ``rate_max=0.05`` and 4000
        steps, the objective is 0.15-0.35% above the optimum and the relative
        duality gap stays near 4-5%, so use ``rtol`` of about 0.05-0.1 with it.

    Returns
    -------
    SolveResult
        ``errors``: ``rel_objective`` ``(F(x) - F(x_ref)) / F(x_ref)``,
        ``rel_error`` (2-norm, against :func:`reference`) and ``rel_gap``;
        ``info``: ``dt``, ``history`` (step, relative gap, spikes per chunk),
        ``host_flops`` of the stopping-rule checks (``2 (m + n) k + 10 m + 3 n``
        each, ``k`` the non-zeros of the decoded ``x``: the gap is evaluated on
        the support, with ``A^T b`` and ``A^T A`` from the set-up), ``setup_flops``
        (``A^T A`` and ``A^T b`` for the weights and bias: ``2 m n^2 + 2 m n``).
    """
    if not isinstance(problem, Problem):
        raise TaskError(f"problem: must be a tasks.lasso.Problem, got {type(problem).__name__}")
    if isinstance(n_steps, bool) or not isinstance(n_steps, numbers.Integral) or n_steps < 1:
        raise TaskError(f"n_steps={n_steps!r}: must be a positive int")
    if isinstance(rtol, bool) or not isinstance(rtol, numbers.Real) or not (0 < rtol < 1):
        raise TaskError(f"rtol={rtol!r}: must be a number in (0, 1)")
    if isinstance(check_every, bool) or not isinstance(check_every, numbers.Integral) or check_every < 1:
        raise TaskError(f"check_every={check_every!r}: must be a positive int")
    if reset not in ("subtract", "zero"):
        raise TaskError(f"reset={reset!r}: must be 'subtract' (exact rates) or 'zero' (Loihi's reset)")
    if rate_max is None:
        rate_max = 0.25 if reset == "subtract" else 0.05
    if not (isinstance(rate_max, numbers.Real) and 0 < rate_max <= 1):
        raise TaskError(f"rate_max={rate_max!r}: must be in (0, 1] spikes per step")
    if not (isinstance(burn_in, numbers.Real) and 0 <= burn_in < 1):
        raise TaskError(f"burn_in={burn_in!r}: must be in [0, 1)")
    sim = simulate if simulate is not None else snn.simulate
    A, b, lam = problem.A, problem.b, problem.lam
    m, n = A.shape
    d = np.linalg.norm(A, axis=0)
    An = A / d
    G = An.T @ An
    drive = (An.T @ b) - lam / d
    if dt is None:
        top = float(drive.max())
        dt = rate_max / top if top > 0 else 1.0
    elif not (isinstance(dt, numbers.Real) and math.isfinite(dt) and dt > 0):
        raise TaskError(f"dt={dt!r}: must be a positive finite time step")
    dt = float(dt)
    W = -(G - np.diag(np.diag(G)))
    model = snn.IF(v_th=1.0, v_reset=0.0, bias=dt * drive, reset=reset)

    # cumulative spike counts C(t) (spikes in steps [0, t) of the continuous run) at the checks
    counts_at: dict[int, np.ndarray] = {0: np.zeros(n, dtype=np.int64)}
    history: list[tuple[int, float, int]] = []
    state: dict[str, Any] = {"x": np.zeros(n), "t": 0, "last": np.zeros(n, dtype=np.int64), "host_flops": 0}
    gram, atb = A.T @ A, A.T @ b

    def decode(t_end: int) -> np.ndarray:
        t_w = max(t for t in counts_at if t <= burn_in * t_end)
        if t_w >= t_end:
            t_w = 0
        rate = (counts_at[t_end] - counts_at[t_w]) / float(t_end - t_w)
        return rate / dt / d

    def build(t: int, carry: Any) -> snn.Network:
        net = snn.Network(dt_ms=1.0)
        init = None if carry is None else {"v": carry[0], "i": carry[1], "refractory": carry[2]}
        net.add_population("x", n, model, initial_state=init)
        net.add_projection("x", "x", weights=W, delay_steps=1, name="inhibition")
        return net

    def on_chunk(t_end: int, net: snn.Network, run: Any, carry: Any) -> tuple[Any, bool]:
        spikes = np.asarray(run.spikes["x"])
        # a continued chunk re-executes the previous chunk's last step: count it once
        start = counts_at[state["t"]] - (state["last"] if carry is not None else 0)
        counts_at[t_end] = start + spikes.sum(axis=0).astype(np.int64)
        state["t"], state["last"] = t_end, spikes[-1].astype(np.int64)
        final = run.final_state["x"]
        # continue by re-executing the last step, from a v that gives the same spikes and the same v after it:
        # IF: v_after = v_before + input + bias, minus v_th (subtract) or set to 0 (zero) where it spiked;
        # for a zero reset any v_before + bias > 1 spikes and ends at 0 (1.5 is well clear of the threshold)
        fired = spikes[-1].astype(np.float64)
        v_after = np.asarray(final["v"], dtype=np.float64)
        v = (v_after + fired if reset == "subtract" else np.where(fired > 0, 1.5, v_after)) - dt * drive
        x = decode(t_end)
        gap, flops = _sparse_relative_gap(problem, x, gram, atb)
        state["host_flops"] += flops
        state["x"] = x
        history.append((t_end, gap, int(run.counts.spikes)))
        if callback is not None:
            callback(x.copy())
        # IF neurons keep no synaptic current (i = 0) and no refractory period
        return (v, np.zeros(n), np.zeros(n)), gap <= rtol

    chunked = run_chunked(
        build,
        on_chunk,
        n_steps=int(n_steps),
        chunk_steps=int(check_every),
        simulate=sim,
        engine=engine,
        seed=seed,
        record={"x": ("spikes",)},
    )
    x = state["x"]
    x_ref = reference(problem)
    f_ref = objective(problem, x_ref)
    nref = float(np.linalg.norm(x_ref))
    errors = {
        "rel_objective": (objective(problem, x) - f_ref) / f_ref if f_ref > 0 else objective(problem, x),
        "rel_error": float(np.linalg.norm(x - x_ref) / nref) if nref > 0 else float(np.linalg.norm(x)),
        "rel_gap": _relative_gap(problem, x),
    }
    status = CONVERGED if chunked.stopped else MAXITER
    info = {
        "dt": dt,
        "reset": reset,
        "history": history,
        "n_chunks": chunked.n_chunks,
        "host_flops": int(state["host_flops"]),
        "setup_flops": int(2 * m * n * n + 2 * m * n),
        "synaptic_events": int(chunked.run.counts.synaptic_events),
        "objective": objective(problem, x),
        "objective_reference": f_ref,
    }
    return SolveResult(
        x=x,
        success=status == CONVERGED,
        status=status,
        message=STATUS_MESSAGES[status],
        n_steps=chunked.n_steps,
        errors=errors,
        run=chunked.run,
        network=chunked.network,
        reference=x_ref,
        info=info,
    )


def dense_baseline(
    problem: Problem,
    device: str = "cpu",
    *,
    rtol: float = 1e-2,
    max_iter: int = 100_000,
    check_every: int = 10,
    dtype: str = "float32",
) -> BaselineResult:
    """FISTA (Beck and Teboulle 2009) with the non-negative soft threshold, in dense torch.

    Step ``1/L`` with ``L = ||A||_2^2`` from 50 power iterations (counted).
    Stops when the relative duality gap of :func:`duality_gap` (computed in
    torch every ``check_every`` iterations, counted) is ``<= rtol``.

    Counting (``A`` is ``m x n``, ``s`` bytes per element):

    - FLOPs per iteration: ``A y`` ``2mn``, ``- b`` ``m``, ``A^T (.)`` ``2mn``,
      momentum ``3n``, prox step ``4n``: ``4mn + m + 7n``; per gap check
      ``4mn + 8m + 3n``; per power iteration ``4mn + 3n``.
    - bytes per iteration: ``A`` read twice ``2 s m n`` plus vectors
      ``s (5m + 12n)``; per gap check ``2 s m n + s (6m + 4n)``; per power iteration ``2 s m n + s (2m + 4n)``.
    """
    import torch

    if not isinstance(problem, Problem):
        raise TaskError(f"problem: must be a tasks.lasso.Problem, got {type(problem).__name__}")
    if dtype not in ("float32", "float64"):
        raise TaskError(f"dtype={dtype!r}: must be 'float32' or 'float64'")
    m, n = problem.A.shape
    tdtype = getattr(torch, dtype)
    dev = torch.device(device)
    A = torch.tensor(np.array(problem.A), dtype=tdtype, device=dev)
    b = torch.tensor(np.array(problem.b), dtype=tdtype, device=dev)
    lam = float(problem.lam)
    n_power = 50

    def sync() -> None:
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)

    def rel_gap(x: Any) -> float:
        r = b - A @ x
        c = float(torch.max(A.T @ r))
        s = min(1.0, lam / c) if c > 0 else 1.0
        theta = s * r
        primal = 0.5 * float(r @ r) + lam * float(x.sum())
        dual = 0.5 * float(b @ b) - 0.5 * float((b - theta) @ (b - theta))
        return (primal - dual) / primal if primal > 0 else 0.0

    sync()
    t0 = time.perf_counter()
    g = torch.Generator(device="cpu").manual_seed(0)
    v = torch.randn(n, generator=g, dtype=tdtype).to(dev)
    for _ in range(n_power):
        v = A.T @ (A @ v)
        v = v / torch.linalg.vector_norm(v)
    L = float(torch.linalg.vector_norm(A @ v) ** 2) * 1.01
    x = torch.zeros(n, dtype=tdtype, device=dev)
    x_prev = x.clone()
    t = 1.0
    k = 0
    n_checks = 0
    gap = rel_gap(x)
    n_checks += 1
    while k < max_iter and gap > rtol:
        t_next = 0.5 * (1.0 + math.sqrt(1.0 + 4.0 * t * t))
        y = x + ((t - 1.0) / t_next) * (x - x_prev)
        grad = A.T @ (A @ y - b)
        x_prev = x
        x = torch.clamp(y - (grad + lam) / L, min=0.0)
        t = t_next
        k += 1
        if k % check_every == 0:
            gap = rel_gap(x)
            n_checks += 1
    sync()
    wall = time.perf_counter() - t0
    s = 4 if dtype == "float32" else 8
    flops = k * (4 * m * n + m + 7 * n) + n_checks * (4 * m * n + 8 * m + 3 * n) + n_power * (4 * m * n + 3 * n)
    bytes_moved = (
        k * (2 * s * m * n + s * (5 * m + 12 * n))
        + n_checks * (2 * s * m * n + s * (6 * m + 4 * n))
        + n_power * (2 * s * m * n + s * (2 * m + 4 * n))
    )
    x_np = x.detach().cpu().numpy().astype(np.float64)
    return BaselineResult(
        x=x_np,
        wall_time_s=wall,
        flops=int(flops),
        bytes_moved=int(bytes_moved),
        n_iter=k,
        device=str(dev),
        algorithm="FISTA (dense torch)",
        dtype=dtype,
        info={"rel_gap": _relative_gap(problem, x_np), "objective": objective(problem, x_np), "n_gap_checks": n_checks},
    )
