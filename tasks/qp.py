"""Convex quadratic programs by a spiking proportional-integral projected-gradient network.

Problem::

    minimize_x  f(x) = 0.5 x^T Q x + p^T x   subject to  A x <= k,  lb <= x <= ub

with ``Q`` symmetric positive semidefinite.

The network follows the PIPG method (Yu, Elango and Açıkmeşe, "Proportional-
integral projected gradient method for conic optimization", Automatica 2022)
in the neuron form of lava-optimization's QP solver: *gradient neurons* hold
``x`` and descend the Lagrangian, projected onto the box; *constraint neurons*
hold the dual variables and integrate the constraint violation, with a
proportional term on top.  With the rows of ``A`` scaled to unit norm
(``A' = D_r^{-1} A``, ``k' = D_r^{-1} k``) and every projection one step long,
step ``t`` computes from the values of step ``t - 1``::

    x(t) = clip(x - alpha (Q x + p + A'^T v), lb, ub)         population "x" (BoxSigmaDelta)
    w(t) = max(0, w + beta (A' x - k'))                         population "w" (integral, SigmaDelta relu)
    v(t) = max(0, w + 2 beta (A' x - k'))                       population "v" (proportional-integral)

``v = max(0, w_new + beta (A' x - k'))`` is PIPG's proportional-integral dual
(the two forms agree because ``w >= 0``).  Every population is a sigma-delta
population: a neuron sends its change only when it reaches ``vth``, so the
traffic falls as the iterates settle.  The dual variables of ``A x <= k`` are
``y = D_r^{-1} w``.  Steps: ``alpha = 2 / (sqrt(L^2 + 4 omega ||A'||^2) + L)``,
``beta = omega * alpha``, ``L = lambda_max(Q)`` (PIPG's rule).
"""

from __future__ import annotations

import math
import numbers
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import scipy.linalg
import scipy.sparse as sp
import scipy.sparse.linalg as spla

import snn
from snn.models import NeuronModel, _broadcast, _check, _scalar_or_array
from tasks import _baseline
from tasks._common import (
    CONVERGED,
    STATUS_MESSAGES,
    BaselineResult,
    SolveResult,
    TaskError,
    check_callback,
    check_device,
    final_status,
    real_array,
)

__all__ = [
    "Problem",
    "random_problem",
    "objective",
    "violation",
    "kkt_residuals",
    "solve",
    "reference",
    "accuracy",
    "ACCURACY_METRICS",
    "TARGET_METRICS",
    "dense_baseline",
    "cpu_baseline",
    "BoxSigmaDelta",
    "ruiz_scaling",
]

#: the metrics :func:`accuracy` reports (``solve``'s ``errors``), any of which a baseline ``target`` may name
ACCURACY_METRICS = ("rel_objective", "violation", "rel_error")
#: the metrics equal-accuracy baselines match (objective and feasibility together)
TARGET_METRICS = ("rel_objective", "violation")

xp = np


def box_sigma_delta_kernel(params, state, x, step, key):
    """Sigma-delta neuron whose activation is clipped to ``[lo, hi]`` (the box projection of PIPG).

    ``sigma += x``; ``act = min(max(sigma + bias, lo), hi)``; send
    ``delta = act - ref`` when ``|delta| >= vth``, then ``ref += delta``.
    """
    vth, bias, lo, hi = params
    sigma, ref = state
    sigma = sigma + x
    act = sigma + bias
    act = xp.where(act < lo, lo, act)
    act = xp.where(act > hi, hi, act)
    delta = act - ref
    out = xp.where(xp.abs(delta) >= vth, delta, delta * 0.0)
    return out, (sigma, ref + out)


@snn.register_model
@dataclass(frozen=True, eq=False)
class BoxSigmaDelta(NeuronModel):
    """:class:`snn.SigmaDelta` with the activation clipped to the box ``[lo, hi]`` (``-inf``/``inf`` allowed).

    State: ``sigma``, ``ref``.  Graded output (the change of the clipped value).
    """

    vth: Any = 0.0
    bias: Any = 0.0
    lo: Any = -math.inf
    hi: Any = math.inf

    state_vars: ClassVar[tuple[str, ...]] = ("sigma", "ref")
    graded: ClassVar[bool] = True
    kernel: ClassVar[Callable] = staticmethod(box_sigma_delta_kernel)

    def __post_init__(self) -> None:
        for name in ("vth", "bias", "lo", "hi"):
            object.__setattr__(self, name, _scalar_or_array(name, getattr(self, name)))
        _check("vth", self.vth, lambda a: np.isfinite(a) & (a >= 0), "must be a finite threshold >= 0")
        _check("bias", self.bias, np.isfinite, "must be finite")
        _check("lo", self.lo, lambda a: a < np.inf, "must be < inf")
        _check("hi", self.hi, lambda a: a > -np.inf, "must be > -inf")
        if np.any(np.asarray(self.lo) > np.asarray(self.hi)):
            raise TaskError("lo, hi: lo must be <= hi for every neuron")

    def params(self, n: int, dt_ms: float) -> tuple[np.ndarray, ...]:
        return (
            _broadcast("vth", self.vth, n),
            _broadcast("bias", self.bias, n),
            _broadcast("lo", self.lo, n),
            _broadcast("hi", self.hi, n),
        )


def _bounds(name: str, value: Any, n: int, default: float) -> np.ndarray:
    if value is None:
        return np.full(n, default)
    if np.iscomplexobj(value):
        raise TaskError(f"{name}: complex values are not allowed (the imaginary part would be dropped); pass real bounds")
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TaskError(f"{name}: must be a number or an array of shape ({n},)") from None
    if arr.ndim == 0:
        arr = np.full(n, float(arr))
    if arr.shape != (n,):
        raise TaskError(f"{name}: must be a number or an array of shape ({n},), got shape {arr.shape}")
    if np.isnan(arr).any():
        raise TaskError(f"{name}: contains NaN; bounds must be numbers (+-inf allowed)")
    return arr


@dataclass(frozen=True, eq=False)
class Problem:
    """``min 0.5 x^T Q x + p^T x  s.t.  A x <= k, lb <= x <= ub``.

    Parameters
    ----------
    Q : (n, n) array
        Symmetric positive semidefinite.
    p : (n,) array
    A : (m, n) array, optional
        Inequality constraints (given together with ``k``).
    k : (m,) array, optional
    lb, ub : float or (n,) array, optional
        Bounds (default ``-inf`` / ``inf``); ``lb <= ub`` is required.

    Inconsistent bounds and infeasible constraints (checked with a linear
    program, :func:`scipy.optimize.linprog`) raise :class:`TaskError`.
    """

    Q: Any
    p: Any
    A: Any = None
    k: Any = None
    lb: Any = None
    ub: Any = None

    def __post_init__(self) -> None:
        Q = real_array("Q", self.Q, ndim=2)
        n = Q.shape[0]
        if Q.shape != (n, n) or n < 1:
            raise TaskError(f"Q: must be a non-empty square matrix, got shape {Q.shape}")
        scale = max(float(np.abs(Q).max()), 1e-300)
        if np.abs(Q - Q.T).max() > 1e-10 * scale:
            raise TaskError(f"Q: must be symmetric (max |Q - Q^T| = {np.abs(Q - Q.T).max():.3g})")
        Q = 0.5 * (Q + Q.T)
        _check_psd(Q, scale)
        p = real_array("p", self.p, ndim=1)
        if p.shape != (n,):
            raise TaskError(f"p: must have shape ({n},) to match Q of shape {Q.shape}, got {p.shape}")
        if (self.A is None) != (self.k is None):
            raise TaskError("A, k: must be given together (A x <= k) or both left out")
        if self.A is not None:
            A = real_array("A", self.A, ndim=2)
            if A.shape[1] != n or A.shape[0] < 1:
                raise TaskError(f"A: must have shape (m, {n}) with m >= 1, got {A.shape}")
            k = real_array("k", self.k, ndim=1)
            if k.shape != (A.shape[0],):
                raise TaskError(f"k: must have shape ({A.shape[0]},) to match A of shape {A.shape}, got {k.shape}")
            zero = np.linalg.norm(A, axis=1) == 0
            if np.any(zero & (k < 0)):
                i = int(np.flatnonzero(zero & (k < 0))[0])
                raise TaskError(f"A, k: constraint {i} reads 0 <= {k[i]:.3g}, which no x satisfies (infeasible)")
        else:
            A, k = np.zeros((0, n)), np.zeros(0)
        lb = _bounds("lb", self.lb, n, -math.inf)
        ub = _bounds("ub", self.ub, n, math.inf)
        if np.any(lb == math.inf) or np.any(ub == -math.inf):
            raise TaskError("lb, ub: lb must be < inf and ub > -inf")
        bad = np.flatnonzero(lb > ub)
        if bad.size:
            i = int(bad[0])
            raise TaskError(f"lb, ub: inconsistent bounds, lb[{i}] = {lb[i]:.6g} > ub[{i}] = {ub[i]:.6g}")
        if A.shape[0]:
            _check_feasible(A, k, lb, ub)
        for arr in (Q, p, A, k, lb, ub):
            arr.setflags(write=False)
        for name, arr in (("Q", Q), ("p", p), ("A", A), ("k", k), ("lb", lb), ("ub", ub)):
            object.__setattr__(self, name, arr)

    @property
    def n(self) -> int:
        return int(self.Q.shape[0])

    @property
    def m(self) -> int:
        return int(self.A.shape[0])


def _check_psd(Q: np.ndarray, scale: float) -> None:
    """A TaskError unless ``Q`` (symmetric) has no eigenvalue below ``-1e-10 * scale``.

    Tested by a Cholesky factorisation of ``Q + 1e-10 scale I`` (a third of the
    work of one dense eigenvalue decomposition); the smallest eigenvalue is
    computed only for the error message.
    """
    try:
        np.linalg.cholesky(Q + (1e-10 * scale) * np.eye(Q.shape[0]))
    except np.linalg.LinAlgError:
        lmin = float(scipy.linalg.eigvalsh(Q, subset_by_index=[0, 0])[0])
        raise TaskError(f"Q: must be positive semidefinite (smallest eigenvalue {lmin:.3g})") from None


#: below this size the set-up's extreme eigenvalues are computed densely (it costs nothing there)
_SMALL = 16


def _lambda_max(matvec: Callable[[np.ndarray], np.ndarray], size: int, dense: Callable[[], np.ndarray]) -> float:
    """The largest eigenvalue of a symmetric PSD operator, from above (for step sizes).

    Lanczos (:func:`scipy.sparse.linalg.eigsh`, ``k=1``, a fixed start vector so that
    the result is the same on every call) on ``matvec``; the Ritz value is a lower
    bound, so it is raised by its own residual bound ``||S v - theta v||`` (then
    ``theta + ||S v - theta v|| >= lambda_max`` by the Krylov-Bogoliubov bound when
    ``v`` is nearest the top eigenvector).  ``dense()`` gives the matrix for sizes
    up to ``_SMALL``, where a dense ``eigvalsh`` is used.
    """
    if size == 0:
        return 0.0
    if size <= _SMALL:
        return float(max(0.0, scipy.linalg.eigvalsh(dense())[-1]))
    op = spla.LinearOperator((size, size), matvec=matvec, dtype=np.float64)
    v0 = np.random.default_rng(0).standard_normal(size)
    vals, vecs = spla.eigsh(op, k=1, which="LA", v0=v0, tol=1e-10, maxiter=20 * size)
    theta, v = float(vals[0]), vecs[:, 0]
    slack = float(np.linalg.norm(matvec(v) - theta * v))
    return max(0.0, theta + slack)


def _check_feasible(A: np.ndarray, k: np.ndarray, lb: np.ndarray, ub: np.ndarray) -> None:
    from scipy.optimize import linprog

    bounds = [(None if not np.isfinite(lo) else lo, None if not np.isfinite(hi) else hi) for lo, hi in zip(lb, ub)]
    res = linprog(np.zeros(A.shape[1]), A_ub=A, b_ub=k, bounds=bounds, method="highs")
    if res.status == 2:
        raise TaskError("A, k, lb, ub: the constraints are infeasible (no x satisfies A x <= k and lb <= x <= ub)")


def objective(problem: Problem, x: np.ndarray) -> float:
    """``f(x) = 0.5 x^T Q x + p^T x``."""
    return float(0.5 * x @ problem.Q @ x + problem.p @ x)


def _constraint_scale(problem: Problem) -> float:
    finite = np.concatenate([problem.k, problem.lb[np.isfinite(problem.lb)], problem.ub[np.isfinite(problem.ub)]])
    return max(1.0, float(np.abs(finite).max())) if finite.size else 1.0


def violation(problem: Problem, x: np.ndarray) -> float:
    """Largest constraint violation relative to the constraint scale.

    ``max(0, max_i (A x - k)_i, max_j (lb - x)_j, max_j (x - ub)_j) / max(1, max |k|, max |finite bounds|)``.
    """
    parts = [0.0]
    if problem.m:
        parts.append(float(np.max(problem.A @ x - problem.k)))
    parts.append(float(np.max(problem.lb - x)))
    parts.append(float(np.max(x - problem.ub)))
    return max(parts) / _constraint_scale(problem)


def kkt_residuals(problem: Problem, x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Relative KKT residuals of ``(x, y)``, ``y >= 0`` the multipliers of ``A x <= k``.

    - ``stationarity = ||x - clip(x - (Q x + p + A^T y), lb, ub)||_inf / max(1, ||p||_inf, ||Q x||_inf)``
    - ``complementarity = |y^T (A x - k)| / max(1, |f(x)|)``
    - ``violation`` as :func:`violation`.
    """
    Q, p, A, k = problem.Q, problem.p, problem.A, problem.k
    qx = Q @ x
    grad = qx + p + (A.T @ y if problem.m else 0.0)
    pg = x - np.clip(x - grad, problem.lb, problem.ub)
    stat = float(np.abs(pg).max()) / max(1.0, float(np.abs(p).max()), float(np.abs(qx).max()))
    comp = abs(float(y @ (A @ x - k))) / max(1.0, abs(objective(problem, x))) if problem.m else 0.0
    return {"stationarity": stat, "complementarity": comp, "violation": violation(problem, x)}


def random_problem(n: int = 50, m: int = 20, *, box: float | None = 1.0, seed: int | np.random.Generator | None = None) -> Problem:
    """A strictly convex QP with ``m`` random inequality constraints, some active at the optimum.

    ``Q = M^T M / n + 0.1 I`` (``M`` Gaussian ``n x n``), ``p`` standard normal,
    ``A`` Gaussian scaled by ``1/sqrt(n)``, ``k = A x_0 + U[0, 0.2]`` with
    ``x_0`` uniform in ``[-0.5, 0.5]^n`` (so ``x_0`` is feasible), and the
    bounds ``[-box, box]`` (``box=None``: no bounds).
    """
    for name, value in (("n", n), ("m", m)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < (1 if name == "n" else 0):
            raise TaskError(f"{name}={value!r}: must be an int >= {1 if name == 'n' else 0}")
    if box is not None and not (isinstance(box, numbers.Real) and box >= 0.5):
        raise TaskError(f"box={box!r}: must be a number >= 0.5 (the bound |x_i| <= box) or None")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    M = rng.standard_normal((n, n)) / math.sqrt(n)
    Q = M.T @ M + 0.1 * np.eye(n)
    p = rng.standard_normal(n)
    if m:
        A = rng.standard_normal((m, n)) / math.sqrt(n)
        x0 = rng.uniform(-0.5, 0.5, n)
        k = A @ x0 + rng.uniform(0.0, 0.2, m)
    else:
        A = k = None
    lb = None if box is None else -float(box)
    ub = None if box is None else float(box)
    return Problem(Q, p, A, k, lb, ub)


def reference(problem: Problem) -> np.ndarray:
    """OSQP (``eps_abs = eps_rel = 1e-9``, polished) on ``l <= [A; I] x <= u``."""
    res = _osqp_solve(_osqp_solver(problem, 1e-9, True))
    status = str(res.info.status)
    if "solved" not in status:
        raise TaskError(f"problem: OSQP could not solve it (status {status!r}); is the objective bounded below?")
    return np.asarray(res.x, dtype=np.float64)


def accuracy(problem: Problem, x: Any, *, ref: np.ndarray | None = None) -> dict[str, float]:
    """The error metrics of ``x`` (what :func:`solve` reports in ``errors``), ``x*`` = ``ref`` or :func:`reference`.

    ``rel_objective = |f(x) - f(x*)| / max(1, |f(x*)|)``, ``violation`` as
    :func:`violation`, ``rel_error = ||x - x*|| / ||x*||``.
    """
    if not isinstance(problem, Problem):
        raise TaskError(f"problem: must be a tasks.qp.Problem, got {type(problem).__name__}")
    x = np.asarray(x, dtype=np.float64)
    x_ref = reference(problem) if ref is None else np.asarray(ref, dtype=np.float64)
    f_ref = objective(problem, x_ref)
    nref = float(np.linalg.norm(x_ref))
    return {
        "rel_objective": abs(objective(problem, x) - f_ref) / max(1.0, abs(f_ref)),
        "violation": violation(problem, x),
        "rel_error": float(np.linalg.norm(x - x_ref) / nref) if nref > 0 else float(np.linalg.norm(x)),
    }


def _osqp_solver(problem: Problem, eps: float, polish: bool) -> Any:
    """An OSQP solver set up on ``l <= [A; I] x <= u`` (as :func:`reference`), ``eps_abs = eps_rel = eps``."""
    import osqp

    n, m = problem.n, problem.m
    C = sp.vstack([sp.csc_matrix(problem.A), sp.identity(n, format="csc")]).tocsc()
    lower = np.concatenate([np.full(m, -np.inf), problem.lb])
    upper = np.concatenate([problem.k, problem.ub])
    key = "polishing" if int(str(osqp.__version__).split(".")[0]) >= 1 else "polish"
    solver = osqp.OSQP()
    solver.setup(
        sp.csc_matrix(np.triu(problem.Q)), np.array(problem.p), C, lower, upper,
        eps_abs=eps, eps_rel=eps, max_iter=200_000, verbose=False, **{key: polish},
    )  # fmt: skip
    return solver


def _osqp_solve(solver: Any) -> Any:
    try:
        return solver.solve(raise_error=False)
    except TypeError:  # osqp < 1.0 has no raise_error
        return solver.solve()


#: OSQP tolerances :func:`cpu_baseline` tries, loosest first, to meet a target: 10^-1, 10^-1.5, ..., 10^-10
OSQP_EPS_GRID = tuple(10.0 ** (-k / 2) for k in range(2, 21))


def cpu_baseline(
    problem: Problem,
    *,
    eps: float = 1e-3,
    target: dict[str, float] | None = None,
    polish: bool = False,
    min_time_s: float = 0.05,
) -> BaselineResult:
    """OSQP (ADMM with a sparse LDL^T factorisation, compiled C, float64) on ``l <= [A; I] x <= u``.

    ``eps_abs = eps_rel = eps``; with ``target`` (``{metric: value}`` of
    :func:`accuracy`) the loosest ``eps`` of :data:`OSQP_EPS_GRID` whose
    solution meets the target (OSQP is not stopped per iterate: it checks its
    own termination rule, so the accuracy is as close to the target as that
    half-decade grid of tolerances allows; ``info["eps"]`` says which).  The
    wall time is one ``setup`` (scaling, factorisation) plus ``solve``, the
    median of repeated runs (at least 3 and ``min_time_s`` in all).

    Counting per ADMM iteration (``N = nnz(Q) + nnz(C)``, ``K`` = nnz of the
    LDL^T factor, float64 + int32): FLOPs ``4 K + 4 N + 20 (n + m')``
    (two triangular solves, the matvecs, the vector updates); bytes
    ``12 (2 K + 2 N) + 8 * 12 (n + m')``; the factorisation itself is not counted.
    """
    if not isinstance(problem, Problem):
        raise TaskError(f"problem: must be a tasks.qp.Problem, got {type(problem).__name__}")
    if isinstance(eps, bool) or not isinstance(eps, numbers.Real) or not 0 < eps < 1:
        raise TaskError(f"eps={eps!r}: must be a number in (0, 1) (OSQP's eps_abs = eps_rel)")
    if not isinstance(polish, bool):
        raise TaskError(f"polish={polish!r}: must be a bool")
    target = _baseline.check_target(target, ACCURACY_METRICS)
    ref = reference(problem)
    chosen = float(eps)
    if target is not None:
        for chosen in OSQP_EPS_GRID:
            res = _osqp_solve(_osqp_solver(problem, chosen, polish))
            if "solved" in str(res.info.status) and _baseline.meets(accuracy(problem, res.x, ref=ref), target):
                break

    def once() -> Any:
        return _osqp_solve(_osqp_solver(problem, chosen, polish))

    res, wall, stats = _baseline.timed(once, min_total_s=min_time_s)
    x = np.asarray(res.x, dtype=np.float64)
    acc = accuracy(problem, x, ref=ref)
    n, m = problem.n, problem.m
    rows = m + n
    nnz = int(np.count_nonzero(np.triu(problem.Q))) + int(np.count_nonzero(problem.A)) + n
    k_fact = nnz + rows  # a lower estimate of the factor's fill (KKT of size n + m', no fill counted)
    iters = int(res.info.iter)
    import osqp

    return BaselineResult(
        x=x,
        wall_time_s=wall,
        flops=int(iters * (4 * k_fact + 4 * nnz + 20 * (n + rows))),
        bytes_moved=int(iters * (12 * (2 * k_fact + 2 * nnz) + 8 * 12 * (n + rows))),
        n_iter=iters,
        device="cpu",
        algorithm="OSQP (ADMM, sparse LDL^T, float64)",
        dtype="float64",
        info={**stats, "eps": chosen, "polish": polish, "status": str(res.info.status), "library": f"osqp {osqp.__version__}"},
        accuracy=acc,
        target=target,
        reached=_baseline.meets(acc, target),
    )


@dataclass(frozen=True)
class _Setup:
    Ar: np.ndarray
    kr: np.ndarray
    row_norm: np.ndarray
    alpha: float
    beta: float
    L: float
    norm_A: float


def _setup(problem: Problem, omega: float) -> _Setup:
    A, k = problem.A, problem.k
    row_norm = np.linalg.norm(A, axis=1) if problem.m else np.zeros(0)
    safe = np.where(row_norm > 0, row_norm, 1.0)
    Ar, kr = A / safe[:, None], k / safe
    Q = problem.Q
    L = _lambda_max(lambda v: Q @ v, problem.n, lambda: Q)
    # ||A'||_2^2: the largest eigenvalue of the smaller Gram matrix, A' A'^T (m x m) or A'^T A' (n x n)
    if problem.m <= problem.n:
        norm_A2 = _lambda_max(lambda v: Ar @ (Ar.T @ v), problem.m, lambda: Ar @ Ar.T)
    else:
        norm_A2 = _lambda_max(lambda v: Ar.T @ (Ar @ v), problem.n, lambda: Ar.T @ Ar)
    norm_A = math.sqrt(norm_A2)
    alpha = 2.0 / (math.sqrt(L * L + 4.0 * omega * norm_A**2) + L) if (L > 0 or norm_A > 0) else 1.0
    return _Setup(Ar=Ar, kr=kr, row_norm=safe, alpha=alpha, beta=omega * alpha, L=L, norm_A=norm_A)


def ruiz_scaling(problem: Problem, *, n_iter: int = 20) -> np.ndarray:
    """The variable scaling ``D`` (``(n,)``, positive) of Ruiz equilibration of ``K = [[Q, A^T], [A, 0]]``.

    Ruiz (2001), as OSQP's set-up does: ``n_iter`` times, scale every row and
    column of ``K`` by ``1 / sqrt(max |entry|)`` of that column, keeping the
    product of the variable scalings in ``D`` (the constraint scalings are not
    needed: :func:`solve` normalises the rows of ``A`` anyway).  Columns that
    are all zero keep their scale.  ``O(n_iter (n^2 + m n))``.
    """
    Q, A = problem.Q, problem.A
    n, m = problem.n, problem.m
    d, e = np.ones(n), np.ones(m)
    for _ in range(int(n_iter)):
        Qs = np.abs(d[:, None] * Q * d[None, :])
        col = Qs.max(axis=0)
        if m:
            As = np.abs(e[:, None] * A * d[None, :])
            col = np.maximum(col, As.max(axis=0))
            row = As.max(axis=1)
            e = e / np.sqrt(np.where(row > 0, row, 1.0))
        d = d / np.sqrt(np.where(col > 0, col, 1.0))
    return d


def solve(
    problem: Problem,
    *,
    n_steps: int = 5000,
    rtol: float = 1e-3,
    engine: str = "event",
    simulate: Callable[..., Any] | None = None,
    seed: int | None = None,
    callback: Callable[[int, np.ndarray], Any] | None = None,
    feas_tol: float = 1e-4,
    omega: float = 1.0,
    vth: float | None = None,
    vth_start: float = 0.1,
    vth_decay: float = 0.97,
    vth_every: int = 20,
    check_every: int = 20,
    precondition: str | None = None,
) -> SolveResult:
    """Solve the QP with the spiking PIPG network of the module docstring.

    Populations ``"x"`` (:class:`BoxSigmaDelta`, ``n``), ``"w"`` and ``"v"``
    (:class:`snn.SigmaDelta` with ReLU, ``m`` each); projections
    ``x->x: I - alpha Q``, ``v->x: -alpha A'^T``, ``x->w: beta A'``, ``w->w: I``,
    ``x->v: 2 beta A'``, ``w->v: I``; biases ``-alpha p``, ``-beta k'``,
    ``-2 beta k'``.  It is one continuous run (:func:`snn.simulate` with
    ``state=``), cut into pieces where the host acts: every ``vth_every``
    steps it lowers the threshold, every ``check_every`` steps it checks the
    stopping rule.  Only the threshold changes between pieces; the state and
    the messages in flight carry over, so ``check_every`` decides only where
    the run may stop.

    Stopping rule, at every check, on the decoded ``x`` (the ``ref`` of
    ``"x"``: the sum of its graded messages) and ``y = D_r^{-1} w`` (``w`` the
    ``ref`` of ``"w"``), with the residuals of :func:`kkt_residuals`::

        stationarity <= rtol  and  complementarity <= rtol  and  violation <= feas_tol

    Threshold schedule (falling; one value per ``vth_every`` steps starting at ``t``)::

        vth(t) = max(vth_min, vth_start * alpha * max(1, ||p||_inf) * vth_decay**t),
        vth_min = 0.1 * min(rtol, feas_tol) * alpha

    Parameters
    ----------
    problem : Problem
    n_steps, rtol, engine, simulate, seed
        As :func:`tasks.linear.solve`; the RunResult's ``state`` must show
        ``ref`` of ``"x"`` and ``"w"`` in the network's units.
    callback : callable, optional
        ``callback(t, x)`` at every check, ``t`` the steps so far and ``x`` ``(n,)``.
    feas_tol : float
        Tolerance of the relative constraint violation.
    omega : float
        Dual/primal step ratio ``beta / alpha`` (PIPG's ``omega``).
    vth, vth_start, vth_decay : float
        Threshold schedule (a fixed ``vth`` disables it).
    vth_every : int
        Steps between threshold updates.
    check_every : int
        Steps between checks of the stopping rule.
    precondition : {None, "ruiz"}
        ``"ruiz"``: the network solves the problem in the variables
        ``x = D x~`` with ``D`` from Ruiz equilibration of the KKT matrix
        ``[[Q, A^T], [A, 0]]`` (:func:`ruiz_scaling`): ``Q~ = D Q D``, ``p~ = D p``,
        ``A~ = A D``, bounds ``lb / D``, ``ub / D``; the multipliers are
        unchanged.  It helps badly scaled problems (curvatures far apart);
        the stopping rule is always checked on the original problem.

    Returns
    -------
    SolveResult
        ``status`` ``CONVERGED``, ``MAXITER`` or ``NONFINITE`` (never a success);
        ``errors``: ``rel_objective`` ``|f(x) - f(x_ref)| / max(1, |f(x_ref)|)``,
        ``violation``, ``rel_error`` (against :func:`reference`);
        ``info``: ``alpha``, ``beta``, ``y`` (the multipliers), ``kkt``,
        ``history`` (step, KKT residuals, messages since the previous check), ``host_flops``
        (the stopping-rule checks, ``2 n^2 + 4 m n + 10 (n + m)`` each).
    """
    if not isinstance(problem, Problem):
        raise TaskError(f"problem: must be a tasks.qp.Problem, got {type(problem).__name__}")
    if isinstance(n_steps, bool) or not isinstance(n_steps, numbers.Integral) or n_steps < 1:
        raise TaskError(f"n_steps={n_steps!r}: must be a positive int")
    for name, value in (("rtol", rtol), ("feas_tol", feas_tol)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (0 < value < 1):
            raise TaskError(f"{name}={value!r}: must be a number in (0, 1)")
    for name, value in (("check_every", check_every), ("vth_every", vth_every)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
            raise TaskError(f"{name}={value!r}: must be a positive int")
    if not (isinstance(omega, numbers.Real) and math.isfinite(omega) and omega > 0):
        raise TaskError(f"omega={omega!r}: must be a positive finite number")
    if vth is not None and not (isinstance(vth, numbers.Real) and math.isfinite(vth) and vth >= 0):
        raise TaskError(f"vth={vth!r}: must be a finite threshold >= 0 (or None for the schedule)")
    if not (isinstance(vth_start, numbers.Real) and math.isfinite(vth_start) and vth_start >= 0):
        raise TaskError(f"vth_start={vth_start!r}: must be a finite number >= 0")
    if not (isinstance(vth_decay, numbers.Real) and 0 < vth_decay <= 1):
        raise TaskError(f"vth_decay={vth_decay!r}: must be in (0, 1]")
    if precondition not in (None, "ruiz"):
        raise TaskError(f"precondition={precondition!r}: must be None or 'ruiz'")
    check_callback(callback)
    sim = simulate if simulate is not None else snn.simulate
    n, m = problem.n, problem.m
    # the problem the network solves: the original, or the Ruiz-scaled one in x~ = x / D
    if precondition == "ruiz":
        D = ruiz_scaling(problem)
        work = Problem(
            D[:, None] * problem.Q * D[None, :],
            D * problem.p,
            problem.A * D[None, :] if m else None,
            problem.k if m else None,
            problem.lb / D,
            problem.ub / D,
        )
    else:
        D, work = np.ones(n), problem
    s = _setup(work, float(omega))
    alpha, beta = s.alpha, s.beta
    lb, ub = work.lb, work.ub
    vth_min = 0.1 * min(rtol, feas_tol) * alpha
    v0 = vth_start * alpha * max(1.0, float(np.abs(work.p).max()))
    n_steps, check_every, vth_every = int(n_steps), int(check_every), int(vth_every)

    def threshold(t: int) -> float:
        return float(vth) if vth is not None else max(vth_min, v0 * vth_decay**t)

    # projections: (name, pre, post, weights)
    projs: list[tuple[str, str, str, Any]] = [("x->x", "x", "x", np.eye(n) - alpha * work.Q)]
    if m:
        projs += [
            ("v->x", "v", "x", -alpha * s.Ar.T),
            ("x->w", "x", "w", beta * s.Ar),
            ("w->w", "w", "w", sp.identity(m, format="csr")),
            ("x->v", "x", "v", 2.0 * beta * s.Ar),
            ("w->v", "w", "v", sp.identity(m, format="csr")),
        ]
    pops = ("x", "w", "v") if m else ("x",)
    # the initial state: x clipped into the box, no multipliers; sigma = the input that state sends
    ref0 = {"x": np.clip(np.zeros(n), lb, ub), "w": np.zeros(m), "v": np.zeros(m)}
    sigma0 = {p: np.zeros(ref0[p].shape) for p in pops}
    for _, pre, post, W in projs:
        sigma0[post] = sigma0[post] + W @ ref0[pre]
    cache: dict[str, Any] = {}

    def network(th: float) -> snn.Network:
        """The network for the next piece; the same object while the threshold stays."""
        if cache.get("th") != th:
            net = snn.Network(dt_ms=1.0)
            init = {p: {"sigma": sigma0[p], "ref": ref0[p]} for p in pops}
            net.add_population("x", n, BoxSigmaDelta(vth=th, bias=-alpha * work.p, lo=lb, hi=ub), initial_state=init["x"])
            if m:
                net.add_population("w", m, snn.SigmaDelta(vth=th, bias=-beta * s.kr, activation="relu"), initial_state=init["w"])
                net.add_population("v", m, snn.SigmaDelta(vth=th, bias=-2.0 * beta * s.kr, activation="relu"), initial_state=init["v"])
            for name, pre, post, W in projs:
                net.add_projection(pre, post, weights=W, delay_steps=1, name=name)
            cache.update(th=th, net=net)
        return cache["net"]

    th = threshold(0)
    state = snn.init_state(network(th), seed=seed)
    runs: list[Any] = []
    history: list[tuple[int, dict[str, float], int]] = []
    x, w = D * ref0["x"], np.zeros(m)
    sent = 0
    t = 0
    stopped = False
    while t < n_steps and not stopped:
        k = min(n_steps, (t // check_every + 1) * check_every, (t // vth_every + 1) * vth_every) - t
        run = sim(network(th), k, engine=engine, state=state, record=("spikes", "outputs"))  # spikes: the mapping prices routing from them
        state, t = run.state, t + k
        runs.append(run)
        sent += int(run.counts.spikes)
        if t % vth_every == 0:
            th = threshold(t)
        if t % check_every != 0 and t != n_steps:
            continue
        x = D * np.array(state.populations["x"]["ref"], dtype=np.float64)
        if m:
            w = np.array(state.populations["w"]["ref"], dtype=np.float64)
        kkt = kkt_residuals(problem, x, w / s.row_norm)
        history.append((t, kkt, sent))
        sent = 0
        if callback is not None:
            callback(t, x.copy())
        stopped = kkt["stationarity"] <= rtol and kkt["complementarity"] <= rtol and kkt["violation"] <= feas_tol
    merged = snn.RunResult.concat(runs)
    y = w / s.row_norm
    x_ref = reference(problem)
    f_ref = objective(problem, x_ref)
    errors = accuracy(problem, x, ref=x_ref)
    status = final_status(stopped, x, errors)
    info = {
        "alpha": alpha,
        "beta": beta,
        "precondition": precondition,
        "D": D,
        "L": s.L,
        "norm_A": s.norm_A,
        "y": y,
        "kkt": kkt_residuals(problem, x, y),
        "history": history,
        "n_chunks": len(runs),
        "vth_min": vth_min,
        "host_flops": int(len(history) * (2 * n * n + 4 * m * n + 10 * (n + m))),
        "synaptic_events": int(merged.counts.synaptic_events),
        "objective": objective(problem, x),
        "objective_reference": f_ref,
    }
    return SolveResult(
        x=x,
        success=status == CONVERGED,
        status=status,
        message=STATUS_MESSAGES[status],
        n_steps=t,
        errors=errors,
        run=merged,
        network=network(th),
        reference=x_ref,
        info=info,
    )


def dense_baseline(
    problem: Problem,
    device: str = "cpu",
    *,
    rtol: float = 1e-3,
    feas_tol: float = 1e-4,
    max_iter: int = 100_000,
    check_every: int = 10,
    omega: float = 1.0,
    target: dict[str, float] | None = None,
    iterations: int | None = None,
    dtype: str = "float32",
) -> BaselineResult:
    """PDHG in dense torch: the same primal-dual iteration, sequential (Gauss-Seidel) form.

    With ``target`` (``{metric: value}`` of :func:`accuracy`) the run does
    exactly ``k*`` iterations, the first iterate meeting the target (found by
    an untimed run measuring every iterate); the KKT checks every
    ``check_every`` iterations still run (counted).

    ``x+ = clip(x - alpha (Q x + p + A'^T v), lb, ub)``;
    ``w+ = max(0, w + beta (A' x+ - k'))``; ``v+ = max(0, w+ + beta (A' x+ - k'))``
    (PIPG, which is PDHG with dual extrapolation), with the step sizes of
    :func:`solve`.  Stops on the KKT rule of :func:`solve`, evaluated every
    ``check_every`` iterations (counted).

    ``iterations`` runs exactly that many iterations instead (no search; a
    ``target`` given with it is only checked): the way to repeat a run at a
    ``k*`` found before (``result.n_iter``) without its search, e.g. under a
    launch counter or an energy meter.

    Counting (``s`` bytes per element):

    - FLOPs per iteration: ``Q x`` ``2 n^2``, ``A'^T v`` ``2 mn``, ``A' x`` ``2 mn``,
      vector updates ``6n + 8m``: ``2 n^2 + 4 mn + 6 n + 8 m``; per check ``2 n^2 + 4 mn + 12 n + 6 m``.
    - bytes per iteration: ``s (n^2 + 2 mn + 12 n + 14 m)``; per check ``s (n^2 + 2 mn + 10 n + 6 m)``.
    - set-up (host, float64, not timed): ``lambda_max(Q)`` and ``||A'||_2``, reported in ``info``.
    """
    import torch

    if not isinstance(problem, Problem):
        raise TaskError(f"problem: must be a tasks.qp.Problem, got {type(problem).__name__}")
    if dtype not in ("float32", "float64"):
        raise TaskError(f"dtype={dtype!r}: must be 'float32' or 'float64'")
    target = _baseline.check_target(target, ACCURACY_METRICS)
    dev = torch.device(check_device(device))
    n, m = problem.n, problem.m
    st = _setup(problem, float(omega))
    tdtype = getattr(torch, dtype)

    def T(a: np.ndarray) -> Any:
        return torch.tensor(np.array(a), dtype=tdtype, device=dev)

    Q, p, Ar, kr, lb, ub = T(problem.Q), T(problem.p), T(st.Ar), T(st.kr), T(problem.lb), T(problem.ub)
    alpha, beta = st.alpha, st.beta

    def sync() -> None:
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)

    def check(x: Any, w: Any) -> bool:
        x_np = x.detach().cpu().numpy().astype(np.float64)
        y = w.detach().cpu().numpy().astype(np.float64) / st.row_norm
        kkt = kkt_residuals(problem, x_np, y)
        return kkt["stationarity"] <= rtol and kkt["complementarity"] <= rtol and kkt["violation"] <= feas_tol

    def pdhg(iters: int, stop: bool, callback: Callable[[int, Any], None] | None = None) -> tuple[Any, int, int, bool]:
        x = torch.clamp(torch.zeros(n, dtype=tdtype, device=dev), lb, ub)
        w = torch.zeros(m, dtype=tdtype, device=dev)
        v = torch.zeros(m, dtype=tdtype, device=dev)
        k = 0
        n_checks = 0
        done = False
        while k < iters and not done:
            g = Q @ x + p + (Ar.T @ v if m else 0.0)
            x = torch.minimum(torch.maximum(x - alpha * g, lb), ub)
            if m:
                r = Ar @ x - kr
                w = torch.clamp(w + beta * r, min=0.0)
                v = torch.clamp(w + beta * r, min=0.0)
            k += 1
            if callback is not None:
                callback(k, x)
            if k % check_every == 0:
                n_checks += 1
                done = check(x, w) and stop
        return x, k, n_checks, done

    ref = reference(problem) if target is not None else None
    k_target = _baseline.check_iterations(iterations)
    if target is not None and k_target is None:
        k_target, _, _ = _baseline.iterations_to_target(
            lambda cb: pdhg(max_iter, False, cb)[1],
            lambda x: accuracy(problem, x.detach().cpu().numpy().astype(np.float64), ref=ref),
            target,
        )
    sync()
    t0 = time.perf_counter()
    x, k, n_checks, done = pdhg(max_iter, True) if k_target is None else pdhg(k_target, False)
    sync()
    wall = time.perf_counter() - t0
    sz = 4 if dtype == "float32" else 8
    flops = k * (2 * n * n + 4 * m * n + 6 * n + 8 * m) + n_checks * (2 * n * n + 4 * m * n + 12 * n + 6 * m)
    bytes_moved = k * sz * (n * n + 2 * m * n + 12 * n + 14 * m) + n_checks * sz * (n * n + 2 * m * n + 10 * n + 6 * m)
    x_np = x.detach().cpu().numpy().astype(np.float64)
    acc = accuracy(problem, x_np, ref=ref)
    return BaselineResult(
        accuracy=acc,
        target=target,
        reached=_baseline.meets(acc, target),
        x=x_np,
        wall_time_s=wall,
        flops=int(flops),
        bytes_moved=int(bytes_moved),
        n_iter=k,
        device=str(dev),
        algorithm="PDHG / PIPG (dense torch)",
        dtype=dtype,
        info={
            "alpha": alpha,
            "beta": beta,
            "objective": objective(problem, x_np),
            "violation": violation(problem, x_np),
            "converged": done,
        },
    )
