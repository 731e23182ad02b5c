"""Linear systems ``A x = b`` (``A`` symmetric positive definite) solved by sigma-delta neurons.

The spiking solver is a preconditioned Richardson iteration

    x_{k+1} = x_k + omega * M^{-1} (b - A x_k) = W x_k + omega * M^{-1} b,
    W = I - omega * M^{-1} A,

with ``M = I`` (``method="richardson"``) or ``M = diag(A)`` (``method="jacobi"``),
run by one population of :class:`snn.SigmaDelta` graded neurons: neuron ``i``
holds ``x_i``; the recurrent projection carries ``W`` (the sparsity pattern of
``A`` plus the diagonal) and the bias is ``omega * M^{-1} b``.  A neuron sends a
graded message (its change since the last message) only when that change is at
least ``vth``, so the number of messages falls as the iteration converges and
stops altogether when every neuron is within ``vth`` of its target.

Example
-------
>>> from tasks import linear
>>> p = linear.random_problem(100, seed=0)
>>> res = linear.solve(p, engine="reference")
>>> res.success, res.errors["rel_residual"] <= 1e-3
(True, True)
"""

from __future__ import annotations

import math
import numbers
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy
import scipy.linalg
import scipy.sparse as sp
import scipy.sparse.linalg as spla

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
    "solve",
    "reference",
    "accuracy",
    "ACCURACY_METRICS",
    "TARGET_METRICS",
    "dense_baseline",
    "cpu_baseline",
    "iteration",
]

#: the metrics :func:`accuracy` reports (``solve``'s ``errors``), any of which a baseline ``target`` may name
ACCURACY_METRICS = ("rel_residual", "rel_error")
#: the metrics the spiking solver's stopping rule is on: what equal-accuracy baselines match
TARGET_METRICS = ("rel_residual",)

#: above this size the SPD check and the eigenvalue estimates use sparse (Lanczos) methods
_DENSE_LIMIT = 3000


def _as_matrix(name: str, value: Any) -> np.ndarray | sp.csr_matrix:
    """A dense float64 array or a CSR matrix, finite, or a TaskError naming ``name``."""
    if sp.issparse(value):
        if value.dtype.kind == "c":
            raise TaskError(f"{name}: complex values are not allowed (the imaginary part would be dropped); pass a real matrix")
        try:
            mat = sp.csr_matrix(value, dtype=np.float64, copy=True)
        except (TypeError, ValueError):
            raise TaskError(f"{name}: must be a numeric matrix, got a sparse matrix of dtype {value.dtype}") from None
        mat.sum_duplicates()
        if not np.all(np.isfinite(mat.data)):
            raise TaskError(f"{name}: contains NaN or inf; all values must be finite")
        for arr in (mat.data, mat.indices, mat.indptr):
            arr.setflags(write=False)
        return mat
    arr = real_array(name, value, ndim=2)
    arr.setflags(write=False)
    return arr


def _check_spd(name: str, A: np.ndarray | sp.csr_matrix) -> None:
    """Raise a TaskError unless ``A`` is square, symmetric and positive definite."""
    if A.ndim != 2 or A.shape[0] != A.shape[1]:
        raise TaskError(f"{name}: must be a square matrix, got shape {A.shape}")
    if A.shape[0] < 1:
        raise TaskError(f"{name}: must not be empty")
    scale = float(abs(A).max()) if A.shape[0] else 0.0
    asym = abs(A - A.T).max() if sp.issparse(A) else np.abs(A - A.T).max()
    if float(asym) > 1e-10 * max(scale, 1e-300):
        raise TaskError(f"{name}: must be symmetric (max |A - A^T| = {float(asym):.3g}, max |A| = {scale:.3g})")
    n = A.shape[0]
    if n <= _DENSE_LIMIT:
        try:
            np.linalg.cholesky(A.toarray() if sp.issparse(A) else A)
        except np.linalg.LinAlgError:
            raise TaskError(f"{name}: must be positive definite (its Cholesky factorisation failed)") from None
    else:
        lmin = float(spla.eigsh(A, k=1, which="SA", return_eigenvectors=False, tol=1e-6)[0])
        if lmin <= 0:
            raise TaskError(f"{name}: must be positive definite (smallest eigenvalue {lmin:.3g})")


@dataclass(frozen=True, eq=False)
class Problem:
    """``A x = b`` with ``A`` symmetric positive definite.

    Parameters
    ----------
    A : (n, n) array or scipy.sparse matrix
        Symmetric positive definite (checked: symmetry to 1e-10 relative, Cholesky).
    b : (n,) array
    """

    A: Any
    b: Any

    def __post_init__(self) -> None:
        A = _as_matrix("A", self.A)
        _check_spd("A", A)
        b = real_array("b", self.b, ndim=1)
        if b.shape != (A.shape[0],):
            raise TaskError(f"b: must have shape ({A.shape[0]},) to match A of shape {A.shape}, got {b.shape}")
        b.setflags(write=False)
        object.__setattr__(self, "A", A)
        object.__setattr__(self, "b", b)

    @property
    def n(self) -> int:
        return int(self.A.shape[0])

    def residual(self, x: np.ndarray) -> float:
        """Relative residual ``||b - A x||_2 / ||b||_2`` (absolute when ``b = 0``)."""
        r = np.linalg.norm(self.b - self.A @ x)
        nb = np.linalg.norm(self.b)
        return float(r / nb) if nb > 0 else float(r)


def random_problem(n: int = 100, *, cond: float = 10.0, seed: int | np.random.Generator | None = None) -> Problem:
    """A dense SPD system with eigenvalues spread geometrically over ``[1, cond]``.

    ``A = Q diag(lambda) Q^T`` with ``Q`` a random orthogonal matrix; ``b`` is
    standard normal.
    """
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise TaskError(f"n={n!r}: must be a positive int")
    if not (isinstance(cond, numbers.Real) and math.isfinite(cond) and cond >= 1):
        raise TaskError(f"cond={cond!r}: must be a finite number >= 1 (the condition number of A)")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    q = q * np.sign(np.diag(r))
    lam = np.geomspace(1.0, float(cond), n)
    A = (q * lam) @ q.T
    A = 0.5 * (A + A.T)
    b = rng.standard_normal(n)
    return Problem(A, b)


def reference(problem: Problem) -> np.ndarray:
    """The direct solution: :func:`numpy.linalg.solve` (dense) or :func:`scipy.sparse.linalg.spsolve`."""
    if sp.issparse(problem.A):
        return np.asarray(spla.spsolve(problem.A.tocsc(), problem.b), dtype=np.float64)
    return np.linalg.solve(problem.A, problem.b)


def accuracy(problem: Problem, x: Any, *, ref: np.ndarray | None = None) -> dict[str, float]:
    """The error metrics of a solution ``x`` (what :func:`solve` reports in ``errors``).

    ``rel_residual = ||b - A x|| / ||b||`` and ``rel_error = ||x - x*|| / ||x*||``
    (absolute when the denominator is 0), ``x*`` = ``ref`` or :func:`reference`.
    """
    if not isinstance(problem, Problem):
        raise TaskError(f"problem: must be a tasks.linear.Problem, got {type(problem).__name__}")
    x = np.asarray(x, dtype=np.float64)
    x_ref = reference(problem) if ref is None else np.asarray(ref, dtype=np.float64)
    nref = _norm(x_ref)
    return {"rel_residual": problem.residual(x), "rel_error": _norm(x - x_ref) / nref if nref > 0 else _norm(x)}


def _extreme_eigs(S: np.ndarray | sp.csr_matrix) -> tuple[float, float]:
    """Smallest and largest eigenvalue of the symmetric matrix ``S``."""
    n = S.shape[0]
    if n <= _DENSE_LIMIT:
        dense = S.toarray() if sp.issparse(S) else S
        ev = scipy.linalg.eigvalsh(dense, subset_by_index=[0, 0]), scipy.linalg.eigvalsh(dense, subset_by_index=[n - 1, n - 1])
        return float(ev[0][0]), float(ev[1][0])
    lmax = float(spla.eigsh(S, k=1, which="LA", return_eigenvectors=False, tol=1e-4)[0])
    lmin = float(spla.eigsh(S, k=1, which="SA", return_eigenvectors=False, tol=1e-4)[0])
    return lmin, lmax * 1.001


@dataclass(frozen=True)
class Iteration:
    """The linear iteration the network runs: ``x <- W x + c``.

    ``omega`` is the step, ``rate`` the contraction factor per step (spectral
    radius of ``W``), ``d_max`` the largest diagonal entry of the
    preconditioner ``M`` (1 for Richardson).
    """

    W: Any
    c: np.ndarray
    omega: float
    rate: float
    d_max: float
    method: str
    d: np.ndarray


def iteration(problem: Problem, *, method: str = "richardson", omega: float | None = None) -> Iteration:
    """The iteration matrix and bias of the solver (see the module docstring).

    ``omega=None`` takes the optimal step ``2 / (lambda_min + lambda_max)`` of
    ``M^{-1} A`` (its eigenvalues are those of ``M^{-1/2} A M^{-1/2}``), computed
    once on the host before the run (dense ``eigvalsh`` up to n = 3000, Lanczos above).
    """
    if method not in ("richardson", "jacobi"):
        raise TaskError(f"method={method!r}: must be 'richardson' or 'jacobi'")
    A, b, n = problem.A, problem.b, problem.n
    if method == "jacobi":
        d = np.asarray(A.diagonal(), dtype=np.float64)
        dm12 = 1.0 / np.sqrt(d)
        S = (sp.diags(dm12) @ A @ sp.diags(dm12)).tocsr() if sp.issparse(A) else A * np.outer(dm12, dm12)
        minv = 1.0 / d
    else:
        d = np.ones(n)
        S = A
        minv = d
    lmin, lmax = _extreme_eigs(S)
    if omega is None:
        omega = 2.0 / (lmin + lmax)
    elif not (isinstance(omega, numbers.Real) and math.isfinite(omega) and omega > 0):
        raise TaskError(f"omega={omega!r}: must be a positive finite step (or None for the optimal one)")
    omega = float(omega)
    rate = max(abs(1.0 - omega * lmin), abs(1.0 - omega * lmax))
    # W = I - omega M^-1 A, with the diagonal formed exactly (for Jacobi it is 1 - omega)
    adiag = np.asarray(A.diagonal(), dtype=np.float64)
    diag_w = 1.0 - omega * adiag if method == "richardson" else np.full(n, 1.0 - omega)
    if sp.issparse(A):
        off = (sp.diags(-omega * minv) @ (A - sp.diags(adiag))).tocsr()
        W = (off + sp.diags(diag_w)).tocsr()
        W.eliminate_zeros()
    else:
        W = -(omega * minv)[:, None] * A
        np.fill_diagonal(W, diag_w)
    with np.errstate(over="ignore"):  # an overflowing bias is refused by solve, naming the scale
        c = omega * minv * b
    return Iteration(W=W, c=c, omega=omega, rate=float(rate), d_max=float(d.max()), method=method, d=d)


def _check_solver_args(n_steps: Any, rtol: Any, check_every: Any, vth_every: Any) -> None:
    if isinstance(n_steps, bool) or not isinstance(n_steps, numbers.Integral) or n_steps < 1:
        raise TaskError(f"n_steps={n_steps!r}: must be a positive int")
    if isinstance(rtol, bool) or not isinstance(rtol, numbers.Real) or not (0 < rtol < 1):
        raise TaskError(f"rtol={rtol!r}: must be a number in (0, 1)")
    if isinstance(check_every, bool) or not isinstance(check_every, numbers.Integral) or check_every < 1:
        raise TaskError(f"check_every={check_every!r}: must be a positive int (steps between checks of the stopping rule)")
    if isinstance(vth_every, bool) or not isinstance(vth_every, numbers.Integral) or vth_every < 1:
        raise TaskError(f"vth_every={vth_every!r}: must be a positive int (steps between threshold updates)")


def _norm(v: np.ndarray) -> float:
    """``||v||_2`` without overflow or underflow (scaled by ``max |v|``)."""
    top = float(np.max(np.abs(v))) if v.size else 0.0
    if top == 0.0 or not math.isfinite(top):
        return top
    return top * float(np.linalg.norm(v / top))


def solve(
    problem: Problem,
    *,
    n_steps: int = 2000,
    rtol: float = 1e-3,
    engine: str = "event",
    simulate: Callable[..., Any] | None = None,
    seed: int | None = None,
    callback: Callable[[int, np.ndarray], Any] | None = None,
    method: str = "richardson",
    omega: float | None = None,
    vth: float | None = None,
    vth_start: float = 0.3,
    vth_decay: float | None = None,
    vth_every: int = 10,
    check_every: int = 10,
    x0: Any = None,
    max_refinements: int = 10,
    stall: float = 0.9,
) -> SolveResult:
    """Solve ``A x = b`` with a network of sigma-delta neurons.

    The network (one :class:`snn.SigmaDelta` population ``"x"`` of ``n``
    neurons, one recurrent projection ``"recurrent"``: ``W = I - omega M^{-1} A``,
    bias ``omega M^{-1} b``) runs the iteration of :func:`iteration` with graded
    messages.  It is one continuous run (:func:`snn.simulate` with ``state=``),
    cut into pieces where the host acts: every ``vth_every`` steps it sets the
    next threshold (and may start a refinement pass), every ``check_every``
    steps it checks the stopping rule.  Between pieces only parameters change
    (threshold, bias); the network's state and the messages in flight carry
    over, so ``check_every`` decides only where the run may stop.

    Stopping rule, checked every ``check_every`` steps on the decoded state
    ``x_t`` (the neurons' ``ref``: ``x_0`` plus the sum of their graded messages)::

        ||b - A x_t||_2 <= rtol * ||b||_2

    Threshold schedule (falling; one value per ``vth_every`` steps starting at ``t``)::

        vth(t) = max(vth_min, vth_start * ||c||_inf * vth_decay**(t - t_0))
        vth_min = 0.5 * rtol * omega * ||b||_2 / (sqrt(n) * max(diag M))

    with ``c`` the bias and ``t_0`` the start of the current pass.  A quiescent
    network (no neuron's change reaches ``vth_min``) satisfies
    ``|omega (M^{-1} r)_i| < vth_min`` for every ``i``, hence
    ``||r|| < rtol ||b|| / 2``: the stopping rule is met with a margin once the
    messages stop.  ``vth_decay`` defaults to the contraction factor of the
    iteration; a fixed ``vth`` disables the schedule.

    Refinement passes (defect correction): when the residual stalls (``res >
    stall * res`` of the previous threshold update, at least ``2 vth_every``
    steps into the pass) -- which happens when ``simulate`` quantizes the
    weights, as fixed-point hardware does, so that the network runs ``W_q`` --
    the host computes ``r = b - A x`` in float64 and moves the bias to
    ``c' = (I - W_q) x + omega M^{-1} r``: the network carries on from where it
    is and its next changes are the float64 Richardson step ``omega M^{-1} r``.
    ``(I - W_q) x = c - d`` is read from the network itself: ``d = sigma +
    W u + c - ref`` is the change each neuron would make next (``sigma``,
    ``ref`` from ``run.state``, ``u`` the messages of the last step, still in
    flight).  The threshold schedule restarts from ``||c' - c||_inf``.  At most
    ``max_refinements`` passes.  For an exact float network ``c' = c`` up to
    rounding: nothing changes but the threshold.

    Parameters
    ----------
    problem : Problem
    n_steps : int
        Most simulation steps (one step = one iteration).
    rtol : float
        Relative residual of the stopping rule.
    engine : str
        Engine passed to ``simulate`` (``"event"``, ``"reference"``, ``"torch"``).
    simulate : callable, optional
        Any callable with :func:`snn.simulate`'s signature, ``state=``
        included (e.g. ``hardware.loihi.fixed_point_simulator()``); default
        :func:`snn.simulate`.  Its :class:`snn.RunResult` must hold the graded
        ``outputs`` of population ``"x"`` and a ``state`` whose
        ``populations["x"]`` shows ``sigma`` and ``ref`` in the network's units.
    seed : int, optional
        Seed of the run (:func:`snn.init_state`; the network itself is deterministic).
    callback : callable, optional
        ``callback(t, x_t)`` at every check, ``t`` the steps so far and ``x_t`` ``(n,)``.
    method : {"richardson", "jacobi"}
    omega : float, optional
        Step; default optimal (see :func:`iteration`).
    vth, vth_start, vth_decay : float
        Threshold schedule (see above).
    vth_every : int
        Steps between threshold updates and refinement decisions.
    check_every : int
        Steps between checks of the stopping rule.
    x0 : (n,) array, optional
        Initial guess (default zeros).
    max_refinements, stall
        Refinement passes (see above); ``max_refinements=0`` disables them.

    Returns
    -------
    SolveResult
        ``x`` (n,); ``status`` ``CONVERGED``, ``MAXITER`` or ``NONFINITE`` (a NaN or
        inf in ``x`` or an error metric is never a success); ``errors``:
        ``rel_residual`` and ``rel_error`` (against :func:`reference`); ``run``: the
        whole run (:meth:`snn.RunResult.concat` of the pieces); ``info``: ``omega``,
        ``rate``, ``history`` (step, relative residual, vth, messages since the
        previous entry; one entry per check or threshold update), ``refinements``
        (the steps at which a pass began), ``vth_min``, ``host_flops`` (the residuals
        the host computed, ``2 nnz(A) + 4 n`` each), ``n_chunks`` (simulate calls).
    """
    if not isinstance(problem, Problem):
        raise TaskError(f"problem: must be a tasks.linear.Problem, got {type(problem).__name__}")
    _check_solver_args(n_steps, rtol, check_every, vth_every)
    check_callback(callback)
    if vth is not None and not (isinstance(vth, numbers.Real) and math.isfinite(vth) and vth >= 0):
        raise TaskError(f"vth={vth!r}: must be a finite threshold >= 0 (or None for the adaptive schedule)")
    if not (isinstance(vth_start, numbers.Real) and math.isfinite(vth_start) and vth_start >= 0):
        raise TaskError(f"vth_start={vth_start!r}: must be a finite number >= 0")
    if isinstance(max_refinements, bool) or not isinstance(max_refinements, numbers.Integral) or max_refinements < 0:
        raise TaskError(f"max_refinements={max_refinements!r}: must be an int >= 0")
    if not (isinstance(stall, numbers.Real) and 0 < stall <= 1):
        raise TaskError(f"stall={stall!r}: must be in (0, 1]")
    if vth_decay is not None and not (isinstance(vth_decay, numbers.Real) and 0 < vth_decay <= 1):
        raise TaskError(f"vth_decay={vth_decay!r}: must be in (0, 1] (or None for the iteration's contraction factor)")
    sim = simulate if simulate is not None else snn.simulate
    n, A, b = problem.n, problem.A, problem.b
    it = iteration(problem, method=method, omega=omega)
    W = it.W
    if not (np.all(np.isfinite(it.c)) and np.all(np.isfinite(W.data if sp.issparse(W) else W))):
        raise TaskError(
            f"problem: omega M^-1 b or the weights overflow (omega = {it.omega:.3g}, max |b| = {float(np.abs(b).max()):.3g}); rescale A and b"
        )
    x = np.zeros(n) if x0 is None else real_array("x0", x0, shape=(n,))
    nb = _norm(b)
    vth_min = 0.5 * rtol * it.omega * nb / (math.sqrt(n) * it.d_max)
    decay = it.rate if vth_decay is None else float(vth_decay)
    decay = min(max(decay, 1e-6), 1.0)
    nnz = int(A.nnz) if sp.issparse(A) else n * n
    n_steps, check_every, vth_every = int(n_steps), int(check_every), int(vth_every)

    c = it.c  # the bias: omega M^-1 b, moved by refinement passes
    v0, t0 = vth_start * float(np.abs(c).max()), 0  # the current pass: its first threshold and step
    initial = {"sigma": W @ x, "ref": x}
    cache: dict[str, Any] = {}
    refinements: list[int] = []  # the steps at which a refinement pass began

    def network(th: float) -> snn.Network:
        """The network for the next piece; the same object while its parameters stay (so nothing is rebuilt)."""
        key = (th, len(refinements))  # the bias changes only when a refinement pass starts
        if cache.get("key") != key:
            net = snn.Network(dt_ms=1.0)
            net.add_population("x", n, snn.SigmaDelta(vth=th, bias=c), initial_state=initial)
            net.add_projection("x", "x", weights=W, delay_steps=1, name="recurrent")
            cache.update(key=key, net=net)
        return cache["net"]

    def threshold(t: int) -> float:
        return float(vth) if vth is not None else max(vth_min, v0 * decay ** (t - t0))

    th = threshold(0)
    state = snn.init_state(network(th), seed=seed)
    runs: list[Any] = []
    history: list[tuple[int, float, float, int]] = []
    res_prev = problem.residual(x)
    n_residuals = 0
    sent = 0
    t = 0
    stopped = False
    while t < n_steps and not stopped:
        k = min(n_steps, (t // check_every + 1) * check_every, (t // vth_every + 1) * vth_every) - t
        run = sim(
            network(th), k, engine=engine, state=state, record={"x": ("outputs", "spikes")}
        )  # spikes: the mapping prices routing from them
        state, t = run.state, t + k
        runs.append(run)
        sent += int(run.counts.spikes)
        x = np.array(state.populations["x"]["ref"], dtype=np.float64)
        check, update = t % check_every == 0 or t == n_steps, t % vth_every == 0
        if not (check or update):
            continue
        res = problem.residual(x)
        n_residuals += 1
        history.append((t, res, th, sent))
        sent = 0
        if check:
            if callback is not None:
                callback(t, x.copy())
            if res <= rtol:
                stopped = True
                continue
        if update:
            stalled = res > stall * res_prev and t - t0 >= 2 * vth_every
            res_prev = res
            if stalled and len(refinements) < max_refinements and math.isfinite(res):
                # refinement pass (defect correction): c' = (I - W_q) x + omega M^-1 r, with (I - W_q) x = c - d
                # read from the network (d: the change each neuron would send next, its last messages included)
                sigma = np.asarray(state.populations["x"]["sigma"], dtype=np.float64)
                pending = sigma + W @ np.asarray(run.outputs["x"][-1], dtype=np.float64) + c - x
                step = it.omega * (b - A @ x) / it.d
                c_new = c - pending + step
                refinements.append(t)
                v0, t0 = vth_start * float(np.abs(c_new - c).max()), t
                c = c_new
            th = threshold(t)
    merged = snn.RunResult.concat(runs)
    x_ref = reference(problem)
    errors = accuracy(problem, x, ref=x_ref)
    status = final_status(stopped, x, errors)
    info = {
        "method": it.method,
        "omega": it.omega,
        "rate": it.rate,
        "vth_min": vth_min,
        "history": history,
        "refinements": refinements,
        "n_chunks": len(runs),
        "host_flops": int(n_residuals * (2 * nnz + 4 * n)),
        "synaptic_events": int(merged.counts.synaptic_events),
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
    max_iter: int | None = None,
    target: dict[str, float] | None = None,
    iterations: int | None = None,
    dtype: str = "float32",
) -> BaselineResult:
    """Conjugate gradients in dense torch on ``device``, to ``||b - A x_k|| <= rtol ||b||``.

    With ``target`` (``{metric: value}``, metrics of :func:`accuracy`, e.g. the
    spiking solver's achieved ``{"rel_residual": ...}``) the run does instead
    exactly ``k*`` iterations, ``k*`` the first iterate whose metrics are all
    ``<=`` the target (found by an untimed run that measures every iterate;
    see :func:`tasks._baseline.iterations_to_target`); the residual test is then
    still evaluated every iteration (its host syncs are counted), as the
    conventional loop does.

    ``iterations`` runs exactly that many iterations instead (no search; a
    ``target`` given with it is only checked): the way to repeat a run at a
    ``k*`` found before (``result.n_iter``) without its search, e.g. under a
    launch counter or an energy meter.

    Counting (per iteration, ``n`` unknowns, ``A`` dense ``n x n``, ``s`` bytes
    per element of ``dtype``):

    - FLOPs: one matvec ``2 n^2``, two dot products ``2 * 2n``, three
      axpy-type updates ``3 * 2n``: ``2 n^2 + 10 n``; set-up ``r = b``, ``r.r``: ``2n``.
    - bytes moved (each kernel reads its operands once and writes its result
      once, no reuse between kernels): matvec ``s (n^2 + 2n)``, dots ``s * 4n``,
      updates ``s * 9n``: ``s (n^2 + 15 n)``.

    The residual used by the stopping rule is CG's recursively updated one.
    ``accuracy`` is :func:`accuracy` of the result (float64, on the host).
    """
    import torch

    if not isinstance(problem, Problem):
        raise TaskError(f"problem: must be a tasks.linear.Problem, got {type(problem).__name__}")
    if dtype not in ("float32", "float64"):
        raise TaskError(f"dtype={dtype!r}: must be 'float32' or 'float64'")
    target = _baseline.check_target(target, ACCURACY_METRICS)
    dev = torch.device(check_device(device))
    n = problem.n
    max_iter = 10 * n if max_iter is None else int(max_iter)
    tdtype = getattr(torch, dtype)
    A_np = problem.A.toarray() if sp.issparse(problem.A) else problem.A
    A = torch.tensor(np.array(A_np), dtype=tdtype, device=dev)
    b = torch.tensor(np.array(problem.b), dtype=tdtype, device=dev)

    def sync() -> None:
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)

    def cg(iters: int, tol: float, callback: Callable[[int, Any], None] | None = None) -> tuple[Any, int]:
        x = torch.zeros_like(b)
        r = b.clone()
        p = r.clone()
        rr = torch.dot(r, r)
        tol2 = (tol * torch.linalg.vector_norm(b)) ** 2
        k = 0
        while k < iters and bool(rr > tol2):
            Ap = A @ p
            alpha = rr / torch.dot(p, Ap)
            x = x + alpha * p
            r = r - alpha * Ap
            rr_new = torch.dot(r, r)
            p = r + (rr_new / rr) * p
            rr = rr_new
            k += 1
            if callback is not None:
                callback(k, x)
        return x, k

    ref = reference(problem) if target is not None else None
    k_target = _baseline.check_iterations(iterations)
    if target is not None and k_target is None:
        k_target, _, _ = _baseline.iterations_to_target(
            lambda cb: cg(max_iter, 0.0, cb)[1], lambda x: accuracy(problem, x.detach().cpu().numpy().astype(np.float64), ref=ref), target
        )
    sync()
    t0 = time.perf_counter()
    x, k = cg(max_iter, rtol) if k_target is None else cg(k_target, 0.0)
    sync()
    wall = time.perf_counter() - t0
    s = 4 if dtype == "float32" else 8
    flops = 2 * n + k * (2 * n * n + 10 * n)
    bytes_moved = s * 2 * n + k * s * (n * n + 15 * n)
    x_np = x.detach().cpu().numpy().astype(np.float64)
    acc = accuracy(problem, x_np, ref=ref)
    return BaselineResult(
        x=x_np,
        wall_time_s=wall,
        flops=int(flops),
        bytes_moved=int(bytes_moved),
        n_iter=k,
        device=str(dev),
        algorithm="conjugate gradients (dense torch)",
        dtype=dtype,
        info={"rel_residual": acc["rel_residual"], "converged": bool(acc["rel_residual"] <= rtol * 1.01) if target is None else None},
        accuracy=acc,
        target=target,
        reached=_baseline.meets(acc, target),
    )


def cpu_baseline(
    problem: Problem,
    *,
    rtol: float = 1e-3,
    max_iter: int | None = None,
    target: dict[str, float] | None = None,
    min_time_s: float = 0.05,
) -> BaselineResult:
    """Conjugate gradients by :func:`scipy.sparse.linalg.cg` (float64, compiled BLAS) on one CPU thread's worth of work.

    Stops at ``||b - A x_k|| <= rtol ||b||`` (scipy's rule), or with ``target``
    (``{metric: value}`` of :func:`accuracy`) after exactly ``k*`` iterations,
    the first iterate meeting the target (found by an untimed run with a
    per-iterate callback).  The wall time is the median of repeated runs
    (:func:`tasks._baseline.timed`, at least 3 and ``min_time_s`` in all).
    ``A`` is passed as given (a dense array: BLAS ``gemv``; sparse: CSR matvec).

    Counting per iteration (``nnz`` entries of ``A``, float64): FLOPs
    ``2 nnz + 10 n``; bytes ``8 (nnz + 15 n)`` (+ ``4 nnz + 4 n`` of CSR indices when sparse).
    """
    if not isinstance(problem, Problem):
        raise TaskError(f"problem: must be a tasks.linear.Problem, got {type(problem).__name__}")
    if isinstance(rtol, bool) or not isinstance(rtol, numbers.Real) or not 0 < rtol < 1:
        raise TaskError(f"rtol={rtol!r}: must be a number in (0, 1)")
    target = _baseline.check_target(target, ACCURACY_METRICS)
    n = problem.n
    max_iter = 10 * n if max_iter is None else int(max_iter)
    if max_iter < 1:
        raise TaskError(f"max_iter={max_iter!r}: must be a positive int")
    A, b = problem.A, np.array(problem.b)
    ref = reference(problem)

    def run(callback: Callable[[int, Any], None] | None, iters: int, tol: float) -> int:
        count = [0]

        def cb(xk: np.ndarray) -> None:
            count[0] += 1
            if callback is not None:
                callback(count[0], xk)

        spla.cg(A, b, rtol=tol, atol=0.0, maxiter=iters, callback=cb)
        return count[0]

    if target is None:
        k = run(None, max_iter, rtol)  # counts the iterations (untimed)
        solve_once = lambda: spla.cg(A, b, rtol=rtol, atol=0.0, maxiter=max_iter)[0]  # noqa: E731
    else:
        k, _, _ = _baseline.iterations_to_target(lambda cb: run(cb, max_iter, 0.0), lambda x: accuracy(problem, x, ref=ref), target)
        solve_once = lambda: spla.cg(A, b, rtol=0.0, atol=0.0, maxiter=k)[0]  # noqa: E731
    x, wall, stats = _baseline.timed(solve_once, min_total_s=min_time_s)
    x = np.asarray(x, dtype=np.float64)
    acc = accuracy(problem, x, ref=ref)
    nnz = int(problem.A.nnz) if sp.issparse(problem.A) else n * n
    index_bytes = 4 * nnz + 4 * n if sp.issparse(problem.A) else 0
    return BaselineResult(
        x=x,
        wall_time_s=wall,
        flops=int(2 * n + k * (2 * nnz + 10 * n)),
        bytes_moved=int(16 * n + k * (8 * (nnz + 15 * n) + index_bytes)),
        n_iter=int(k),
        device="cpu",
        algorithm="conjugate gradients (scipy.sparse.linalg.cg, float64)",
        dtype="float64",
        info={**stats, "library": f"scipy {scipy.__version__}"},
        accuracy=acc,
        target=target,
        reached=_baseline.meets(acc, target),
    )
