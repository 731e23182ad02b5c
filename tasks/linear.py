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
import scipy.linalg
import scipy.sparse as sp
import scipy.sparse.linalg as spla

import snn
from tasks._common import CONVERGED, MAXITER, STATUS_MESSAGES, BaselineResult, SolveResult, TaskError, finite_array, run_chunked

__all__ = ["Problem", "random_problem", "solve", "reference", "dense_baseline", "iteration"]

#: above this size the SPD check and the eigenvalue estimates use sparse (Lanczos) methods
_DENSE_LIMIT = 3000


def _as_matrix(name: str, value: Any) -> np.ndarray | sp.csr_matrix:
    """A dense float64 array or a CSR matrix, finite, or a TaskError naming ``name``."""
    if sp.issparse(value):
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
    arr = finite_array(name, value, ndim=2)
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
        b = finite_array("b", self.b, ndim=1)
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
    return Iteration(W=W, c=omega * minv * b, omega=omega, rate=float(rate), d_max=float(d.max()), method=method, d=d)


def _check_solver_args(n_steps: Any, rtol: Any, check_every: Any) -> None:
    if isinstance(n_steps, bool) or not isinstance(n_steps, numbers.Integral) or n_steps < 1:
        raise TaskError(f"n_steps={n_steps!r}: must be a positive int")
    if isinstance(rtol, bool) or not isinstance(rtol, numbers.Real) or not (0 < rtol < 1):
        raise TaskError(f"rtol={rtol!r}: must be a number in (0, 1)")
    if isinstance(check_every, bool) or not isinstance(check_every, numbers.Integral) or check_every < 1:
        raise TaskError(f"check_every={check_every!r}: must be a positive int (steps between checks of the stopping rule)")


def solve(
    problem: Problem,
    *,
    n_steps: int = 2000,
    rtol: float = 1e-3,
    engine: str = "event",
    simulate: Callable[..., Any] | None = None,
    seed: int | None = None,
    callback: Callable[[np.ndarray], Any] | None = None,
    method: str = "richardson",
    omega: float | None = None,
    vth: float | None = None,
    vth_start: float = 0.3,
    vth_decay: float | None = None,
    check_every: int = 10,
    x0: Any = None,
    max_refinements: int = 10,
    stall: float = 0.9,
) -> SolveResult:
    """Solve ``A x = b`` with a network of sigma-delta neurons.

    The network (one :class:`snn.SigmaDelta` population ``"x"`` of ``n``
    neurons, one recurrent projection ``W = I - omega M^{-1} A``, bias
    ``omega M^{-1} b``) runs the iteration of :func:`iteration` with graded
    messages.  It runs in chunks of ``check_every`` steps; between chunks the
    network is rebuilt from the state before the chunk's last step, which the
    next chunk re-executes, so the run continues exactly (the network re-sends
    the messages that were in flight; see :func:`tasks._common.run_chunked`),
    and the threshold is updated.

    Stopping rule, checked after every chunk on the decoded state
    ``x_t = x_0 + sum of the graded messages of every neuron up to step t``
    (the neurons' ``ref``)::

        ||b - A x_t||_2 <= rtol * ||b||_2

    Threshold schedule (adaptive, one value per chunk starting at step ``t``)::

        vth(t) = max(vth_min, vth_start * ||omega M^{-1} b||_inf * vth_decay**t)
        vth_min = 0.5 * rtol * omega * ||b||_2 / (sqrt(n) * max(diag M))

    A quiescent network (no neuron's change reaches ``vth_min``) satisfies
    ``|omega (M^{-1} r)_i| < vth_min`` for every ``i``, hence
    ``||r|| < rtol ||b|| / 2``: the stopping rule is met with a margin once the
    messages stop.  ``vth_decay`` defaults to the contraction factor of the
    iteration; a fixed ``vth`` disables the schedule.

    Iterative refinement: when the residual stalls (``res > stall * res`` of
    the previous check, after at least two chunks of the current stage) --
    which happens when ``simulate`` quantizes the weights, as fixed-point
    hardware does -- the host computes ``r = b - A x`` in float64 and restarts
    the network on ``A e = r`` (bias ``omega M^{-1} r``, ``e = 0``), then
    ``x += e``.  At most ``max_refinements`` times.  For the exact float
    network a restart changes nothing but the threshold schedule (Richardson
    is a stationary iteration).

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
        Any callable with :func:`snn.simulate`'s signature (e.g.
        ``hardware.loihi.fixed_point_simulator()``); default :func:`snn.simulate`.
        Its :class:`snn.RunResult` must hold the graded ``outputs`` and the
        ``final_state`` (``sigma``, ``ref``) of population ``"x"`` in the
        network's units.
    seed : int, optional
        Passed to ``simulate`` (the network itself is deterministic).
    callback : callable, optional
        ``callback(x_t)`` after every chunk, with the decoded state ``(n,)``.
    method : {"richardson", "jacobi"}
    omega : float, optional
        Step; default optimal (see :func:`iteration`).
    vth, vth_start, vth_decay : float
        Threshold schedule (see above).
    check_every : int
        Steps per chunk (between checks of the stopping rule).
    x0 : (n,) array, optional
        Initial guess (default zeros).
    max_refinements, stall
        Iterative refinement (see above); ``max_refinements=0`` disables it.

    Returns
    -------
    SolveResult
        ``x`` (n,); ``errors``: ``rel_residual`` and ``rel_error`` (against
        :func:`reference`); ``info``: ``omega``, ``rate``, ``history`` (step,
        relative residual, vth, messages per chunk), ``refinements`` (the
        steps at which a refinement stage began), ``vth_min``, ``host_flops``
        (the stopping-rule checks, ``2 nnz(A) + 4 n`` each), ``n_chunks``.
    """
    if not isinstance(problem, Problem):
        raise TaskError(f"problem: must be a tasks.linear.Problem, got {type(problem).__name__}")
    _check_solver_args(n_steps, rtol, check_every)
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
    x_init = np.zeros(n) if x0 is None else finite_array("x0", x0, shape=(n,))
    nb = float(np.linalg.norm(b))
    vth_min = 0.5 * rtol * it.omega * nb / (math.sqrt(n) * it.d_max)
    decay = it.rate if vth_decay is None else float(vth_decay)
    decay = min(max(decay, 1e-6), 1.0)
    nnz = int(A.nnz) if sp.issparse(A) else n * n
    history: list[tuple[int, float, float, int]] = []
    # a stage solves A e = b - A base with the network (e starts at e0); x = base + e
    stage: dict[str, Any] = {"base": np.zeros(n), "e": x_init.copy(), "c": it.c, "t0": 0, "res_prev": problem.residual(x_init)}
    stage["v0"] = vth_start * float(np.abs(it.c).max())
    refinements: list[int] = []

    def threshold(t: int) -> float:
        if vth is not None:
            return float(vth)
        return max(vth_min, stage["v0"] * decay ** (t - stage["t0"]))

    def build(t: int, carry: Any) -> snn.Network:
        if carry is None:
            sigma0, ref0 = W @ stage["e"], stage["e"]
        else:
            sigma0, ref0 = carry
        net = snn.Network(dt_ms=1.0)
        net.add_population("x", n, snn.SigmaDelta(vth=threshold(t), bias=stage["c"]), initial_state={"sigma": sigma0, "ref": ref0})
        net.add_projection("x", "x", weights=W, delay_steps=1, name="recurrent")
        return net

    def on_chunk(t_end: int, net: snn.Network, run: Any, carry: Any) -> tuple[Any, bool]:
        final = run.final_state["x"]
        ref = np.asarray(final["ref"], dtype=np.float64)
        stage["e"] = ref
        x = stage["base"] + ref
        # continue by re-executing the last step: state before it (see tasks._common.run_chunked)
        last = np.asarray(run.outputs["x"][-1], dtype=np.float64)
        sigma = np.asarray(final["sigma"], dtype=np.float64)
        ref = ref - last
        res = problem.residual(x)
        vth_used = float(np.asarray(net.population("x").model.vth))
        history.append((t_end, res, vth_used, int(run.counts.spikes)))
        if callback is not None:
            callback(x.copy())
        if res <= rtol:
            return (sigma, ref), True
        stalled = res > stall * stage["res_prev"] and t_end - stage["t0"] >= 2 * check_every
        stage["res_prev"] = res
        if stalled and len(refinements) < max_refinements:
            # iterative refinement: restart the network on the residual equation A e = b - A x (host residual in float64)
            refinements.append(t_end)
            r = b - A @ x
            c = it.omega * r / it.d
            stage.update(base=x, e=np.zeros(n), c=c, t0=t_end, v0=vth_start * float(np.abs(c).max()))
            return None, False
        return (sigma, ref), False

    chunked = run_chunked(
        build,
        on_chunk,
        n_steps=int(n_steps),
        chunk_steps=int(check_every),
        simulate=sim,
        engine=engine,
        seed=seed,
        record={"x": ("outputs",)},
    )
    x = stage["base"] + stage["e"]
    x_ref = reference(problem)
    nref = float(np.linalg.norm(x_ref))
    errors = {
        "rel_residual": problem.residual(x),
        "rel_error": float(np.linalg.norm(x - x_ref) / nref) if nref > 0 else float(np.linalg.norm(x)),
    }
    status = CONVERGED if chunked.stopped else MAXITER
    info = {
        "method": it.method,
        "omega": it.omega,
        "rate": it.rate,
        "vth_min": vth_min,
        "history": history,
        "refinements": refinements,
        "n_chunks": chunked.n_chunks,
        "host_flops": int(chunked.n_chunks * (2 * nnz + 4 * n)),
        "synaptic_events": int(chunked.run.counts.synaptic_events),
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
    rtol: float = 1e-3,
    max_iter: int | None = None,
    dtype: str = "float32",
) -> BaselineResult:
    """Conjugate gradients in dense torch on ``device``, to ``||b - A x_k|| <= rtol ||b||``.

    Counting (per iteration, ``n`` unknowns, ``A`` dense ``n x n``, ``s`` bytes
    per element of ``dtype``):

    - FLOPs: one matvec ``2 n^2``, two dot products ``2 * 2n``, three
      axpy-type updates ``3 * 2n``: ``2 n^2 + 10 n``; set-up ``r = b``, ``r.r``: ``2n``.
    - bytes moved (each kernel reads its operands once and writes its result
      once, no reuse between kernels): matvec ``s (n^2 + 2n)``, dots ``s * 4n``,
      updates ``s * 9n``: ``s (n^2 + 15 n)``.

    The residual used by the stopping rule is CG's recursively updated one.
    """
    import torch

    if not isinstance(problem, Problem):
        raise TaskError(f"problem: must be a tasks.linear.Problem, got {type(problem).__name__}")
    if dtype not in ("float32", "float64"):
        raise TaskError(f"dtype={dtype!r}: must be 'float32' or 'float64'")
    n = problem.n
    max_iter = 10 * n if max_iter is None else int(max_iter)
    tdtype = getattr(torch, dtype)
    dev = torch.device(device)
    A_np = problem.A.toarray() if sp.issparse(problem.A) else problem.A
    A = torch.tensor(np.array(A_np), dtype=tdtype, device=dev)
    b = torch.tensor(np.array(problem.b), dtype=tdtype, device=dev)

    def sync() -> None:
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)

    sync()
    t0 = time.perf_counter()
    x = torch.zeros_like(b)
    r = b.clone()
    p = r.clone()
    rr = torch.dot(r, r)
    tol2 = (rtol * torch.linalg.vector_norm(b)) ** 2
    k = 0
    while k < max_iter and bool(rr > tol2):
        Ap = A @ p
        alpha = rr / torch.dot(p, Ap)
        x = x + alpha * p
        r = r - alpha * Ap
        rr_new = torch.dot(r, r)
        p = r + (rr_new / rr) * p
        rr = rr_new
        k += 1
    sync()
    wall = time.perf_counter() - t0
    s = 4 if dtype == "float32" else 8
    flops = 2 * n + k * (2 * n * n + 10 * n)
    bytes_moved = s * 2 * n + k * s * (n * n + 15 * n)
    x_np = x.detach().cpu().numpy().astype(np.float64)
    return BaselineResult(
        x=x_np,
        wall_time_s=wall,
        flops=int(flops),
        bytes_moved=int(bytes_moved),
        n_iter=k,
        device=str(dev),
        algorithm="conjugate gradients (dense torch)",
        dtype=dtype,
        info={"rel_residual": problem.residual(x_np), "converged": bool(problem.residual(x_np) <= rtol * 1.01)},
    )
