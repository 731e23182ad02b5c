"""LASSO (non-negative or signed) by a spiking locally competitive algorithm (LCA).

Problem::

    minimize_x  F(x) = 0.5 * ||b - A x||_2^2 + lam * ||x||_1   subject to  x >= 0   (positive=True)
    minimize_x  F(x) = 0.5 * ||b - A x||_2^2 + lam * ||x||_1                        (positive=False)

The signed problem is solved as the non-negative one on the split dictionary
``[A, -A]`` (``x = x_+ - x_-``), done here for the user.

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
    "duality_gap",
    "solve",
    "reference",
    "accuracy",
    "ACCURACY_METRICS",
    "TARGET_METRICS",
    "dense_baseline",
    "cpu_baseline",
]

#: the metrics :func:`accuracy` reports (``solve``'s ``errors``), any of which a baseline ``target`` may name
ACCURACY_METRICS = ("rel_objective", "rel_error", "rel_gap")
#: the metric the spiking solver's stopping rule is on: what equal-accuracy baselines match
TARGET_METRICS = ("rel_gap",)


@dataclass(frozen=True, eq=False)
class Problem:
    """LASSO ``min 0.5 ||b - A x||^2 + lam ||x||_1``, with ``x >= 0`` when ``positive``.

    Parameters
    ----------
    A : (n_samples, n_atoms) array
        The dictionary; every column must be non-zero.
    b : (n_samples,) array
    lam : float
        The l1 weight, ``>= 0``.
    positive : bool
        ``True`` (default): the non-negative LASSO; ``False``: the signed one
        (scikit-learn's ``Lasso(positive=False)``).
    """

    A: Any
    b: Any
    lam: Any
    positive: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.positive, (bool, np.bool_)):
            raise TaskError(f"positive={self.positive!r}: must be True (x >= 0) or False (signed LASSO)")
        object.__setattr__(self, "positive", bool(self.positive))
        A = real_array("A", self.A, ndim=2)
        if A.shape[0] < 1 or A.shape[1] < 1:
            raise TaskError(f"A: must have at least one row and one column, got shape {A.shape}")
        norms = np.linalg.norm(A, axis=0)
        if np.any(norms == 0):
            raise TaskError(f"A: column {int(np.argmin(norms))} is zero; every atom (column) must be non-zero")
        b = real_array("b", self.b, ndim=1)
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
    positive: bool = True,
    seed: int | np.random.Generator | None = None,
) -> Problem:
    """A sparse-coding instance: Gaussian unit-norm dictionary, sparse code.

    ``n_samples`` defaults to ``n_atoms // 2`` (an overcomplete dictionary);
    ``round(sparsity * n_atoms)`` (at least 1) atoms are active with weights
    uniform in [0.5, 1.5] (``positive=False``: times a random sign);
    ``b = A x_true + noise * N(0, 1)``; ``lam = lam_ratio * max(A^T b)``
    (``max |A^T b|`` for the signed problem).
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
    if not positive:
        x = x * rng.choice([-1.0, 1.0], size=n_atoms)
        b = A @ x + noise * rng.standard_normal(m)
    atb = A.T @ b
    lam = lam_ratio * float(np.max(atb if positive else np.abs(atb)))
    return Problem(A, b, max(lam, 0.0), positive=bool(positive))


def objective(problem: Problem, x: np.ndarray) -> float:
    """``F(x) = 0.5 ||b - A x||^2 + lam ||x||_1`` (``x`` is not required to be >= 0 here)."""
    r = problem.b - problem.A @ x
    return float(0.5 * r @ r + problem.lam * np.abs(x).sum())


def duality_gap(problem: Problem, x: np.ndarray) -> float:
    """``F(x) - D(theta) >= F(x) - F*`` (for ``x >= 0`` when ``positive``): a certificate of sub-optimality.

    ``theta = s r`` with ``r = b - A x`` and ``s = min(1, lam / c)``,
    ``c = max_i (A^T r)_i`` (signed problem: ``max_i |A^T r|_i``; ``s = 1`` when
    ``c <= 0``), is feasible for the dual
    ``max 0.5 ||b||^2 - 0.5 ||b - theta||^2  s.t.  A^T theta <= lam`` (signed: ``|A^T theta| <= lam``).
    """
    A, b, lam = problem.A, problem.b, problem.lam
    r = b - A @ x
    atr = A.T @ r
    c = float(np.max(atr if problem.positive else np.abs(atr)))
    s = min(1.0, lam / c) if c > 0 else 1.0
    theta = s * r
    dual = 0.5 * float(b @ b) - 0.5 * float((b - theta) @ (b - theta))
    primal = 0.5 * float(r @ r) + lam * float(np.abs(x).sum())
    return primal - dual


def reference(problem: Problem) -> np.ndarray:
    """scikit-learn's coordinate descent ``Lasso(positive=problem.positive)``.

    scikit-learn minimises ``1/(2 n_samples) ||b - A x||^2 + alpha ||x||_1``;
    with ``alpha = lam / n_samples`` that is ``F / n_samples``, the same minimiser.
    ``lam = 0``: :func:`scipy.optimize.nnls` (non-negative) or the least-norm least squares.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import Lasso

    if problem.lam == 0:
        if not problem.positive:
            return np.linalg.lstsq(problem.A, problem.b, rcond=None)[0]
        from scipy.optimize import nnls

        return nnls(problem.A, problem.b)[0]
    model = Lasso(alpha=problem.lam / problem.n_samples, positive=problem.positive, fit_intercept=False, tol=1e-12, max_iter=200_000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(np.array(problem.A), np.array(problem.b))
    return np.asarray(model.coef_, dtype=np.float64)


def accuracy(problem: Problem, x: Any, *, ref: np.ndarray | None = None) -> dict[str, float]:
    """The error metrics of ``x`` (what :func:`solve` reports in ``errors``), ``x*`` = ``ref`` or :func:`reference`.

    ``rel_objective = (F(x) - F(x*)) / F(x*)`` (``F(x)`` when ``F(x*) = 0``),
    ``rel_error = ||x - x*|| / ||x*||`` and ``rel_gap`` = :func:`duality_gap` / ``F(x)``.
    """
    if not isinstance(problem, Problem):
        raise TaskError(f"problem: must be a tasks.lasso.Problem, got {type(problem).__name__}")
    x = np.asarray(x, dtype=np.float64)
    x_ref = reference(problem) if ref is None else np.asarray(ref, dtype=np.float64)
    f_ref = objective(problem, x_ref)
    nref = float(np.linalg.norm(x_ref))
    return {
        "rel_objective": (objective(problem, x) - f_ref) / f_ref if f_ref > 0 else objective(problem, x),
        "rel_error": float(np.linalg.norm(x - x_ref) / nref) if nref > 0 else float(np.linalg.norm(x)),
        "rel_gap": _relative_gap(problem, x),
    }


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
    atr = atb - gram[:, support] @ xs
    c = float(np.max(atr if problem.positive else np.abs(atr)))
    s = min(1.0, lam / c) if c > 0 else 1.0
    theta = s * r
    primal = 0.5 * float(r @ r) + lam * float(np.abs(xs).sum())
    dual = 0.5 * float(b @ b) - 0.5 * float((b - theta) @ (b - theta))
    flops = 2 * m * k + 2 * n * k + 10 * m + 3 * n + (0 if problem.positive else n)
    return ((primal - dual) / primal if primal > 0 else 0.0), flops


def solve(
    problem: Problem,
    *,
    n_steps: int = 8000,
    rtol: float = 1e-2,
    engine: str = "event",
    simulate: Callable[..., Any] | None = None,
    seed: int | None = None,
    callback: Callable[[int, np.ndarray], Any] | None = None,
    dt: float | None = None,
    rate_max: float | None = None,
    burn_in: float = 0.25,
    check_every: int = 100,
    reset: str = "subtract",
) -> SolveResult:
    """Solve the LASSO with a spiking LCA network (see the module docstring).

    The network is one :class:`snn.IF` population ``"x"`` (one neuron per
    atom of the dictionary ``D``: ``A``, or ``[A, -A]`` for the signed problem;
    threshold 1, bias ``dt * (D^T b - lam) / d``) and one recurrent projection
    ``"inhibition"``: ``-(G - I)`` (lateral inhibition between atoms, ``G`` the
    Gram matrix of the unit-norm atoms).  It is one continuous run
    (:func:`snn.simulate` with ``state=``), checked every ``check_every`` steps;
    nothing about the network changes between pieces, so the run does not
    depend on ``check_every`` (only where it may stop does).

    Decoding, at a check after ``T`` steps: with ``C_i(t)`` the spike count of
    neuron ``i`` in steps ``[0, t)`` and ``t_w = floor(burn_in * T)``::

        u_i = (C_i(T) - C_i(t_w)) / ((T - t_w) * dt * d_i)

    and ``x = u`` (``x = u[:n] - u[n:]`` for the signed problem).

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
        As :func:`tasks.linear.solve`; the RunResult must hold the ``spikes`` of ``"x"``.
    callback : callable, optional
        ``callback(t, x)`` at every check, ``t`` the steps so far and ``x`` the decoded ``(n_atoms,)`` solution.
    dt : float, optional
        LCA time per step.  Default ``rate_max / max_i((D^T b - lam)_i / d_i)``:
        the most strongly driven neuron starts at ``rate_max`` spikes per step.
        Smaller ``dt`` resolves rates more finely but needs more steps.
    rate_max : float, optional
        See ``dt``; default 0.25 (``reset="subtract"``) or 0.05 (``reset="zero"``).
    burn_in : float
        Fraction of the run excluded from the rate window.
    check_every : int
        Steps between checks of the stopping rule.
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
        ``status`` ``CONVERGED``, ``MAXITER`` or ``NONFINITE`` (never a success);
        ``errors``: ``rel_objective`` ``(F(x) - F(x_ref)) / F(x_ref)``,
        ``rel_error`` (2-norm, against :func:`reference`) and ``rel_gap``;
        ``info``: ``dt``, ``history`` (step, relative gap, spikes since the
        previous check), ``host_flops`` of the stopping-rule checks
        (``2 (m + n) k + 10 m + 3 n`` each, ``k`` the non-zeros of the decoded
        ``x``, plus ``n`` for the signed problem's ``|A^T r|``: the gap is
        evaluated on the support, with ``A^T b`` and ``A^T A`` from the set-up),
        ``setup_flops`` (``A^T A`` and ``A^T b`` for the weights and bias:
        ``2 m n^2 + 2 m n``).
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
    check_callback(callback)
    sim = simulate if simulate is not None else snn.simulate
    A, b, lam = problem.A, problem.b, problem.lam
    m, n = A.shape
    D = A if problem.positive else np.hstack([A, -A])  # the signed problem: the [A, -A] split
    n_net = D.shape[1]
    d = np.linalg.norm(D, axis=0)
    Dn = D / d
    G = Dn.T @ Dn
    drive = (Dn.T @ b) - lam / d
    if dt is None:
        top = float(drive.max())
        dt = rate_max / top if top > 0 else 1.0
    elif not (isinstance(dt, numbers.Real) and math.isfinite(dt) and dt > 0):
        raise TaskError(f"dt={dt!r}: must be a positive finite time step")
    dt = float(dt)
    net = snn.Network(dt_ms=1.0)
    net.add_population("x", n_net, snn.IF(v_th=1.0, v_reset=0.0, bias=dt * drive, reset=reset))
    net.add_projection("x", "x", weights=-(G - np.diag(np.diag(G))), delay_steps=1, name="inhibition")
    gram, atb = A.T @ A, A.T @ b

    n_steps, check_every = int(n_steps), int(check_every)
    cum = np.zeros((n_steps + 1, n_net), dtype=np.int64)  # cum[t] = C(t): spikes of each neuron in steps [0, t)
    state = snn.init_state(net, seed=seed)
    runs: list[Any] = []
    history: list[tuple[int, float, int]] = []
    host_flops = 0
    x = np.zeros(n)
    t = 0
    stopped = False
    while t < n_steps and not stopped:
        k = min(check_every, n_steps - t)
        run = sim(net, k, engine=engine, state=state, record={"x": ("spikes",)})
        state = run.state
        runs.append(run)
        cum[t + 1 : t + k + 1] = cum[t] + np.cumsum(np.asarray(run.spikes["x"], dtype=np.int64), axis=0)
        t += k
        t_w = int(math.floor(burn_in * t))
        u = (cum[t] - cum[t_w]) / float(t - t_w) / dt / d
        x = u if problem.positive else u[:n] - u[n:]
        gap, flops = _sparse_relative_gap(problem, x, gram, atb)
        host_flops += flops
        history.append((t, gap, int(run.counts.spikes)))
        if callback is not None:
            callback(t, x.copy())
        stopped = gap <= rtol
    merged = snn.RunResult.concat(runs)
    x_ref = reference(problem)
    f_ref = objective(problem, x_ref)
    errors = accuracy(problem, x, ref=x_ref)
    status = final_status(stopped, x, errors)
    info = {
        "dt": dt,
        "reset": reset,
        "positive": problem.positive,
        "history": history,
        "n_chunks": len(runs),
        "host_flops": int(host_flops),
        "setup_flops": int(2 * m * n * n + 2 * m * n),
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
        network=net,
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
    target: dict[str, float] | None = None,
    iterations: int | None = None,
    dtype: str = "float32",
) -> BaselineResult:
    """FISTA (Beck and Teboulle 2009) with the soft threshold (non-negative when ``positive``), in dense torch.

    With ``target`` (``{metric: value}`` of :func:`accuracy`, e.g. the spiking
    solver's achieved ``rel_gap``) the run does exactly ``k*`` iterations, the
    first iterate meeting the target (found by an untimed run measuring every
    iterate); the gap checks every ``check_every`` iterations still run (counted).

    ``iterations`` runs exactly that many iterations instead (no search; a
    ``target`` given with it is only checked): the way to repeat a run at a
    ``k*`` found before (``result.n_iter``) without its search, e.g. under a
    launch counter or an energy meter.

    Step ``1/L`` with ``L = ||A||_2^2`` from 50 power iterations (counted).
    Stops when the relative duality gap of :func:`duality_gap` (computed in
    torch every ``check_every`` iterations, counted) is ``<= rtol``.

    Counting (``A`` is ``m x n``, ``s`` bytes per element):

    - FLOPs per iteration: ``A y`` ``2mn``, ``- b`` ``m``, ``A^T (.)`` ``2mn``,
      momentum ``3n``, prox step ``4n`` (signed: ``7n``, the sign and the
      magnitude): ``4mn + m + 7n`` (signed ``4mn + m + 10n``); per gap check
      ``4mn + 8m + 3n`` (signed ``+ 2n``, the absolute values); per power iteration ``4mn + 3n``.
    - bytes per iteration: ``A`` read twice ``2 s m n`` plus vectors
      ``s (5m + 12n)`` (signed ``+ 6 s n``); per gap check ``2 s m n + s (6m + 4n)``
      (signed ``+ 4 s n``); per power iteration ``2 s m n + s (2m + 4n)``.
    """
    import torch

    if not isinstance(problem, Problem):
        raise TaskError(f"problem: must be a tasks.lasso.Problem, got {type(problem).__name__}")
    if dtype not in ("float32", "float64"):
        raise TaskError(f"dtype={dtype!r}: must be 'float32' or 'float64'")
    target = _baseline.check_target(target, ACCURACY_METRICS)
    dev = torch.device(check_device(device))
    m, n = problem.A.shape
    positive = problem.positive
    tdtype = getattr(torch, dtype)
    A = torch.tensor(np.array(problem.A), dtype=tdtype, device=dev)
    b = torch.tensor(np.array(problem.b), dtype=tdtype, device=dev)
    lam = float(problem.lam)
    n_power = 50

    def sync() -> None:
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)

    def rel_gap(x: Any) -> float:
        r = b - A @ x
        atr = A.T @ r
        c = float(torch.max(atr if positive else torch.abs(atr)))
        s = min(1.0, lam / c) if c > 0 else 1.0
        theta = s * r
        primal = 0.5 * float(r @ r) + lam * float(x.sum() if positive else torch.abs(x).sum())
        dual = 0.5 * float(b @ b) - 0.5 * float((b - theta) @ (b - theta))
        return (primal - dual) / primal if primal > 0 else 0.0

    def fista(iters: int, tol: float, callback: Callable[[int, Any], None] | None = None) -> tuple[Any, int, int]:
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
        n_checks = 1
        gap = rel_gap(x)
        while k < iters and gap > tol:
            t_next = 0.5 * (1.0 + math.sqrt(1.0 + 4.0 * t * t))
            y = x + ((t - 1.0) / t_next) * (x - x_prev)
            grad = A.T @ (A @ y - b)
            x_prev = x
            if positive:
                x = torch.clamp(y - (grad + lam) / L, min=0.0)
            else:
                z = y - grad / L
                x = torch.sign(z) * torch.clamp(torch.abs(z) - lam / L, min=0.0)
            t = t_next
            k += 1
            if callback is not None:
                callback(k, x)
            if k % check_every == 0:
                gap = rel_gap(x)
                n_checks += 1
        return x, k, n_checks

    ref = reference(problem) if target is not None else None
    k_target = _baseline.check_iterations(iterations)
    if target is not None and k_target is None:
        k_target, _, _ = _baseline.iterations_to_target(
            lambda cb: fista(max_iter, -math.inf, cb)[1],
            lambda x: accuracy(problem, x.detach().cpu().numpy().astype(np.float64), ref=ref),
            target,
        )
    sync()
    t0 = time.perf_counter()
    x, k, n_checks = fista(max_iter, rtol) if k_target is None else fista(k_target, -math.inf)
    sync()
    wall = time.perf_counter() - t0
    s = 4 if dtype == "float32" else 8
    extra = 0 if positive else 1  # the signed prox and gap's absolute values
    flops = (
        k * (4 * m * n + m + 7 * n + 3 * n * extra) + n_checks * (4 * m * n + 8 * m + 3 * n + 2 * n * extra) + n_power * (4 * m * n + 3 * n)
    )
    bytes_moved = (
        k * (2 * s * m * n + s * (5 * m + 12 * n + 6 * n * extra))
        + n_checks * (2 * s * m * n + s * (6 * m + 4 * n + 4 * n * extra))
        + n_power * (2 * s * m * n + s * (2 * m + 4 * n))
    )
    x_np = x.detach().cpu().numpy().astype(np.float64)
    acc = accuracy(problem, x_np, ref=ref)
    return BaselineResult(
        x=x_np,
        wall_time_s=wall,
        flops=int(flops),
        bytes_moved=int(bytes_moved),
        n_iter=k,
        device=str(dev),
        algorithm="FISTA (dense torch)",
        dtype=dtype,
        info={"rel_gap": acc["rel_gap"], "objective": objective(problem, x_np), "n_gap_checks": n_checks},
        accuracy=acc,
        target=target,
        reached=_baseline.meets(acc, target),
    )


def cpu_baseline(
    problem: Problem,
    *,
    rtol: float = 1e-4,
    max_iter: int = 10_000,
    target: dict[str, float] | None = None,
    min_time_s: float = 0.05,
) -> BaselineResult:
    """Coordinate descent by scikit-learn's ``Lasso`` (compiled Cython, float64), as :func:`reference` uses it.

    ``Lasso(alpha=lam / n_samples, positive=problem.positive,
    fit_intercept=False)`` minimises ``F / n_samples`` (the same minimiser).
    Without ``target`` it stops by scikit-learn's own duality-gap rule with
    ``tol=rtol``; with ``target`` (``{metric: value}`` of :func:`accuracy`) the
    timed fit runs exactly ``k*`` epochs (``tol=0``), ``k*`` the first epoch
    whose iterate meets the target (found untimed, one warm-started epoch at a
    time, at most ``max_iter``).  The wall time (the whole ``fit``, input
    checks included) is the median of repeated runs (at least 3 and
    ``min_time_s`` in all).

    Counting per epoch (``A`` is ``m x n``, float64): each coordinate update
    reads a column and updates the residual, ``4 m`` FLOPs and ``24 m`` bytes
    (column and residual read, residual written): ``4 m n`` FLOPs and ``24 m n``
    bytes per epoch (the gap checks scikit-learn does are not counted).
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import Lasso

    if not isinstance(problem, Problem):
        raise TaskError(f"problem: must be a tasks.lasso.Problem, got {type(problem).__name__}")
    if isinstance(rtol, bool) or not isinstance(rtol, numbers.Real) or not rtol > 0:
        raise TaskError(f"rtol={rtol!r}: must be a number > 0 (scikit-learn's tol)")
    if isinstance(max_iter, bool) or not isinstance(max_iter, numbers.Integral) or max_iter < 1:
        raise TaskError(f"max_iter={max_iter!r}: must be a positive int")
    target = _baseline.check_target(target, ACCURACY_METRICS)
    A, b = np.array(problem.A), np.array(problem.b)
    m, n = A.shape
    ref = reference(problem)
    alpha = problem.lam / problem.n_samples

    def model(epochs: int, tol: float, warm: bool = False) -> Any:
        return Lasso(alpha=alpha, positive=problem.positive, fit_intercept=False, tol=tol, max_iter=int(epochs), warm_start=warm)

    def fit(est: Any) -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            est.fit(A, b)
        return np.asarray(est.coef_, dtype=np.float64)

    if target is None:
        est = model(max_iter, rtol)
        fit(est)
        k = int(est.n_iter_)
        once = lambda: fit(model(max_iter, rtol))  # noqa: E731
    else:

        def run(callback: Callable[[int, Any], None]) -> int:
            est = model(1, 0.0, warm=True)
            for epoch in range(1, int(max_iter) + 1):
                callback(epoch, fit(est))
            return int(max_iter)

        k, _, _ = _baseline.iterations_to_target(run, lambda x: accuracy(problem, x, ref=ref), target)
        once = lambda: fit(model(k, 0.0))  # noqa: E731
    x, wall, stats = _baseline.timed(once, min_total_s=min_time_s)
    acc = accuracy(problem, x, ref=ref)
    import sklearn

    return BaselineResult(
        x=x,
        wall_time_s=wall,
        flops=int(k * 4 * m * n),
        bytes_moved=int(k * 24 * m * n),
        n_iter=int(k),
        device="cpu",
        algorithm="coordinate descent (scikit-learn Lasso, float64)",
        dtype="float64",
        info={**stats, "library": f"scikit-learn {sklearn.__version__}"},
        accuracy=acc,
        target=target,
        reached=_baseline.meets(acc, target),
    )
