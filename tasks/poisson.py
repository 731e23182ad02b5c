"""The 3D Poisson equation on a grid, solved by a sigma-delta spiking network.

Problem: ``-laplacian(u) = f`` on the grid points of an ``(nx, ny, nz)`` box with
spacing ``h`` and zero Dirichlet boundary, discretised with the 7-point stencil::

    6 u[i] - sum(u[j] for the 6 axis neighbours j of i) = h**2 f[i]      (A u = b)

(neighbours outside the box count as 0).  One sigma-delta neuron sits on each
grid point (positions from :func:`snn.layout.grid`) and talks to its 6 grid
neighbours, found geometrically from those positions.  A sigma-delta neuron
accumulates the graded deltas it receives (``sigma = W @ ref``, the weighted sum
of the values its neighbours have sent), forms ``act = sigma + bias`` and sends
``act - ref`` only when that change is at least ``vth``: once the values settle
the network falls silent.

Two iterations are available (both are the network's own dynamics; the host
only checks the stopping rule between chunks of steps and lowers ``vth``):

``method="jacobi"``
    ``u <- a u + w * sum(neighbours) + w h^2 f`` with ``w ~ 1/6`` (rounded down
    to 7 fractional bits) and ``a = 1 - 6 w`` (a self synapse), so the fixed
    point is exactly ``A u = b``.  Converges at the Jacobi rate
    ``rho = (cos(pi/(nx+1)) + cos(pi/(ny+1)) + cos(pi/(nz+1))) / 3`` per step:
    about 700 steps on 16^3 for a relative error of 1e-3.
``method="momentum"`` (default)
    The second-order (heavy-ball) Richardson iteration with the optimal constant
    coefficients (Frankel 1950; Golub and Varga 1961), which converges at
    Chebyshev's asymptotic rate ``sqrt(beta)`` instead of ``rho``::

        u_{k+1} = (1 + beta - omega) u_k + omega J u_k - beta u_{k-1} + omega D^-1 b,
        omega = 4 / (sqrt(1 - rho) + sqrt(1 + rho))**2,   beta = ((sqrt(1+rho) - sqrt(1-rho)) / (sqrt(1+rho) + sqrt(1-rho)))**2

    (``J`` the neighbour average, ``D = 6``).  ``u_{k-1}`` reaches each neuron
    through a co-located relay population ``lag`` (a second sigma-delta neuron
    per grid point that repeats ``u`` one step late), so every synapse has a
    delay of one step.  ``w = omega/6`` and ``beta`` are rounded to 7 fractional
    bits and the self weight is ``1 + beta - 6 w`` exactly, so the fixed point
    is again exactly ``A u = b``.  About 80 steps on 16^3.

Weights that are multiples of ``2**-7`` (all below 1 in magnitude, except the
relay's 1) are represented exactly by an 8-bit weight quantiser, which keeps
the fixed point exact in Loihi-style fixed point too.  What limits a
fixed-point run is the resolution of the bias and state: the first pass
stalls, and :func:`solve` then refines (solves for the correction with a new
pass).  Measured with ``hardware.loihi.fixed_point_simulator()`` (seed 0,
``rtol=1e-3``), one continued fixed-point run per pass: without refinement the
16^3 pass stalls (relative error 1.4 after 400 steps); with refinement passes
(each a new stage from ``snn.init_state(net).replace(t=k)``) 16^3 converges
in 160 steps (1.1e-4), 8^3 in 100 steps (1.2e-4).  In float (seed 0): 85
steps (1.1e-5) and Jacobi 670 steps (1.2e-4).

Examples
--------
>>> from tasks import poisson
>>> p = poisson.random_problem((8, 8, 8), seed=0)
>>> res = poisson.solve(p, engine="reference")
>>> bool(res.success and res.errors["rel_error"] <= 1e-3)
True
"""

from __future__ import annotations

import math
import numbers
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

import snn
from tasks import _baseline, _grid
from tasks._common import CONVERGED, MAXITER, BaselineResult, SolveResult, TaskError, check_callback
from tasks._grid import CONV3D_FLOPS_PER_POINT, GRID_SPACING_UM

__all__ = [
    "Problem",
    "random_problem",
    "laplacian",
    "condition_number",
    "jacobi_rho",
    "iteration_coefficients",
    "build_network",
    "solve",
    "reference",
    "dense_baseline",
    "cpu_baseline",
    "accuracy",
    "ACCURACY_METRICS",
    "TARGET_METRICS",
    "GRID_SPACING_UM",
    "CONV3D_FLOPS_PER_POINT",
]

#: the metrics :func:`accuracy` reports (``solve``'s ``errors``), any of which a baseline ``target`` may name
ACCURACY_METRICS = ("rel_error", "max_abs_error", "rel_residual")
#: the metric equal-accuracy baselines match (the solver's stopping rule guarantees it: ``kappa * rel_residual <= rtol``)
TARGET_METRICS = ("rel_error",)

#: fractional bits of the weights (see the module docstring)
WEIGHT_FRACTION_BITS = 7
_METHODS = ("momentum", "jacobi")


# --------------------------------------------------------------------------- problem


@dataclass(frozen=True, eq=False)
class Problem:
    """``-laplacian(u) = f`` on an ``(nx, ny, nz)`` grid with spacing ``h``, zero Dirichlet boundary.

    Attributes
    ----------
    f : ndarray, shape (nx, ny, nz)
        The source term at the grid points (finite; stored as a read-only float64 copy).
    h : float
        Grid spacing, > 0.
    """

    f: Any
    h: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "f", _grid.check_grid("f", self.f))
        object.__setattr__(self, "h", _grid.check_h(self.h))
        if not math.isfinite(_grid.norm2(self.rhs)):
            raise TaskError(
                f"f: h**2 * f (h={self.h!r}, max|f|={float(np.max(np.abs(self.f)))!r}) is too large: its 2-norm overflows float64; scale the problem down"
            )

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(int(s) for s in self.f.shape)  # type: ignore[return-value]

    @property
    def n(self) -> int:
        return int(self.f.size)

    @property
    def rhs(self) -> np.ndarray:
        """``b = h**2 f`` flattened in C order, ``(n,)``."""
        return (self.h**2 * self.f).ravel()


def random_problem(shape: Any = (16, 16, 16), *, h: float = 1.0, seed: int | np.random.Generator | None = None) -> Problem:
    """A seeded instance: ``f`` i.i.d. standard normal on an ``(nx, ny, nz)`` grid.

    White-noise ``f`` excites every mode of the grid, the smooth slow ones included.
    """
    shape = _grid.shape3(shape)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    return Problem(rng.standard_normal(shape), h=h)


# --------------------------------------------------------------------------- linear algebra facts


def laplacian(shape: Any) -> sp.csr_matrix:
    """The 7-point ``-laplacian`` times ``h**2`` with zero Dirichlet boundary, ``(n, n)`` CSR.

    Built as a Kronecker sum of 1-D second differences (independent of the
    network's geometric construction); diagonal 6, axis neighbours -1.
    """
    nx, ny, nz = _grid.shape3(shape)

    def d1(m: int) -> sp.csr_matrix:
        return sp.diags([-np.ones(m - 1), 2.0 * np.ones(m), -np.ones(m - 1)], [-1, 0, 1], format="csr")

    ix, iy, iz = sp.identity(nx), sp.identity(ny), sp.identity(nz)
    a = sp.kron(sp.kron(d1(nx), iy), iz) + sp.kron(sp.kron(ix, d1(ny)), iz) + sp.kron(sp.kron(ix, iy), d1(nz))
    return sp.csr_matrix(a)


def _eig_bounds(shape: tuple[int, int, int]) -> tuple[float, float]:
    """Smallest and largest eigenvalue of :func:`laplacian` (exact, from the sine modes)."""
    lo = sum(2.0 - 2.0 * math.cos(math.pi / (m + 1)) for m in shape)
    hi = sum(2.0 - 2.0 * math.cos(math.pi * m / (m + 1)) for m in shape)
    return lo, hi


def condition_number(shape: Any) -> float:
    """``kappa = lambda_max / lambda_min`` of :func:`laplacian` (2-norm condition number)."""
    lo, hi = _eig_bounds(_grid.shape3(shape))
    return hi / lo


def jacobi_rho(shape: Any) -> float:
    """Spectral radius of the Jacobi iteration matrix ``J = (6 I - A) / 6``."""
    nx, ny, nz = _grid.shape3(shape)
    return (math.cos(math.pi / (nx + 1)) + math.cos(math.pi / (ny + 1)) + math.cos(math.pi / (nz + 1))) / 3.0


def _dyadic(x: float, *, down: bool = False) -> float:
    scale = 2**WEIGHT_FRACTION_BITS
    return (math.floor(x * scale) if down else round(x * scale)) / scale


def iteration_coefficients(shape: Any, method: str = "momentum") -> dict[str, float]:
    """Weights of the network and the predicted convergence factor per step.

    Returns
    -------
    dict
        ``w`` (neighbour weight), ``a`` (self weight), ``beta`` (weight of
        ``-u_{k-1}``, 0 for Jacobi) and ``rate`` (the spectral radius of the
        iteration with these rounded weights: the error shrinks by about this
        factor per step).
    """
    shape = _grid.shape3(shape)
    if method not in _METHODS:
        raise TaskError(f"method={method!r}: allowed: {list(_METHODS)}")
    rho = jacobi_rho(shape)
    if method == "jacobi":
        w = _dyadic(1.0 / 6.0, down=True)
        a = 1.0 - 6.0 * w
        return {"w": w, "a": a, "beta": 0.0, "rate": abs(a) + 6.0 * w * rho}
    s_lo, s_hi = math.sqrt(1.0 - rho), math.sqrt(1.0 + rho)
    beta = _dyadic(((s_hi - s_lo) / (s_hi + s_lo)) ** 2)
    w = _dyadic(4.0 / (s_lo + s_hi) ** 2 / 6.0)
    # stability needs omega * (1 + rho) < 2 (1 + beta); step w down until it holds with a margin
    while 6.0 * w * (1.0 + rho) >= 2.0 * (1.0 + beta) - 1e-9:
        w -= 2.0**-WEIGHT_FRACTION_BITS
    a = 1.0 + beta - 6.0 * w
    return {"w": w, "a": a, "beta": beta, "rate": _momentum_rate(a, w, beta, rho)}


def _momentum_rate(a: float, w: float, beta: float, rho: float) -> float:
    """Largest root modulus of ``z^2 - (a + 6 w lam) z + beta`` over ``lam`` in ``[-rho, rho]``."""
    worst = 0.0
    for lam in np.linspace(-rho, rho, 401):
        worst = max(worst, float(np.max(np.abs(np.roots([1.0, -(a + 6.0 * w * lam), beta])))))
    return worst


# --------------------------------------------------------------------------- network


def _plan_weights(shape: tuple[int, int, int], method: str) -> tuple[np.ndarray, dict[str, sp.csr_matrix], dict[str, float]]:
    """Positions, the incoming weight matrices per (post, pre), and the coefficients."""
    c = iteration_coefficients(shape, method)
    pos, nb = _grid.grid_geometry(shape)
    n = pos.shape[0]
    w_uu = sp.csr_matrix(c["w"] * nb + c["a"] * sp.identity(n, format="csr"))
    w_uu.eliminate_zeros()
    mats = {"u<-u": w_uu}
    if method == "momentum":
        mats["u<-lag"] = sp.csr_matrix(-c["beta"] * sp.identity(n, format="csr"))
        mats["lag<-u"] = sp.identity(n, format="csr")
    return pos, mats, c


def build_network(
    problem: Problem,
    *,
    method: str = "momentum",
    vth: float = 0.0,
    initial_state: Mapping[str, Mapping[str, np.ndarray]] | None = None,
) -> snn.Network:
    """The spiking network of :func:`solve` (its first pass, threshold ``vth``).

    Parameters
    ----------
    problem : Problem
    method : {"momentum", "jacobi"}
    vth : float
        Sigma-delta threshold of every neuron (>= 0).
    initial_state : dict, optional
        ``{population: {"sigma": (n,), "ref": (n,)}}`` to start from (default: rest).
        (:func:`solve` continues a run with ``simulate(..., state=run.state)`` instead.)

    Returns
    -------
    snn.Network
        Population ``u`` (``SigmaDelta``, bias ``w h^2 f``) on the grid, plus the
        relay ``lag`` for ``method="momentum"``; projections ``u->u`` (6 neighbours
        and a self synapse), ``lag->u`` and ``u->lag``, every delay 1 step.
    """
    if not isinstance(problem, Problem):
        raise TaskError(f"problem={problem!r}: must be a tasks.poisson.Problem")
    pos, mats, c = _plan_weights(problem.shape, method)
    return _network(problem, pos, mats, c, vth, initial_state)


def _network(problem, pos, mats, c, vth, initial_state, rhs=None) -> snn.Network:
    init = initial_state or {}
    rhs = problem.rhs if rhs is None else rhs
    net = snn.Network(dt_ms=1.0)
    net.add_population("u", problem.n, snn.SigmaDelta(vth=vth, bias=c["w"] * rhs), positions=pos, initial_state=init.get("u"))
    if "u<-lag" in mats:
        net.add_population("lag", problem.n, snn.SigmaDelta(vth=vth), positions=pos, initial_state=init.get("lag"))
    for key, mat in mats.items():
        post, pre = key.split("<-")
        net.add_projection(pre, post, weights=mat, delay_steps=1, name=f"{pre}->{post}")
    net.outputs = ("u",)
    return net


# --------------------------------------------------------------------------- solver


def solve(
    problem: Problem,
    *,
    n_steps: int = 3000,
    rtol: float = 1e-3,
    engine: str = "event",
    simulate: Callable | None = None,
    seed: int | None = None,
    callback: Callable[[int, np.ndarray], Any] | None = None,
    method: str = "momentum",
    check_every: int = 5,
    vth0: float | None = None,
    vth_min: float | None = None,
    max_refinements: int = 3,
) -> SolveResult:
    """Solve ``-laplacian(u) = f`` with a sigma-delta network on the grid.

    The network (:func:`build_network`) runs as one continued run, checked every
    ``check_every`` steps: ``run = simulate(net, k, state=state)``, ``state =
    run.state``.  At a check the host reads the neurons' transmitted values
    ``u = ref`` of population ``u`` (the sum of the graded spikes each has sent)
    and applies the stopping rule; the run then goes on from its state (the
    messages in flight included), with a lower threshold (same network
    structure, new ``vth``).  With a constant threshold the result does not
    depend on ``check_every`` except through where the run stops: the same
    steps checked more often give the same ``x`` and op counts, bit for bit.

    Stopping rule (after step ``k``, a multiple of ``check_every``)::

        kappa(A) * ||b - A u_k||_2 <= rtol * ||b||_2,     b = h^2 f,  A = laplacian(shape)

    which guarantees ``||u_k - u*||_2 <= rtol * ||u*||_2`` (``kappa`` from
    :func:`condition_number`, exact for the 7-point stencil).  If it is not met
    within ``n_steps`` the result has ``status = MAXITER`` and ``success = False``
    (also whenever ``u_k`` is not finite).

    Threshold schedule (geometric, piecewise constant between checks)::

        vth_k = max(vth0 * rate**k, vth_min)

    with ``rate`` the predicted convergence factor per step
    (:func:`iteration_coefficients`), ``vth0 = 0.1 * max|bias|`` and
    ``vth_min = 0.1 * rtol / kappa * w / (|a| + 6 w + beta) * rms(b)`` by
    default, small enough that the quantisation of the messages cannot hold the
    residual above the stopping tolerance.

    Iterative refinement: if the residual stalls, i.e. over the last 8 checks
    of the current pass it fell by less than ``sqrt(rate**(8 check_every))``
    (half the predicted decrease in log scale), the host keeps ``u_k`` and the
    network starts a new pass from rest on the correction problem
    ``A e = b - A u_k`` (bias ``w (b - A u_k)``; the answer is then ``u_k + e``).
    The new pass is a fresh state at rest at the same absolute step
    (``snn.init_state(net).replace(t=k)``), so the passes form one timeline and
    a quantizing ``simulate`` calibrates the correction problem anew.  In float
    this rarely happens; under a fixed-point ``simulate`` whose resolution sets
    an accuracy floor, each pass multiplies the error by about that floor (at
    most ``max_refinements`` passes).

    Parameters
    ----------
    problem : Problem
    n_steps : int
        Most steps to run.
    rtol : float
        Relative error target (see the stopping rule), > 0.
    engine : str
        Engine for :func:`snn.simulate` (ignored by a ``simulate`` that does not use it).
    simulate : callable, optional
        Any callable with :func:`snn.simulate`'s signature, ``state=`` included
        (e.g. a fixed-point simulator); it must return values in the network's units.
    seed : int, optional
        Seed of the run state (the network is deterministic; default 0).
    callback : callable, optional
        ``callback(k, u_k)`` after each check, ``u_k`` of shape ``(nx, ny, nz)``;
        checked to be callable before anything runs.
    method : {"momentum", "jacobi"}
        See the module docstring.
    check_every : int
        Steps between checks.
    vth0, vth_min : float, optional
        Override the threshold schedule (``vth0 = vth_min`` makes it constant).
    max_refinements : int
        Most refinement passes (0 disables refinement).

    Returns
    -------
    SolveResult
        ``x`` of shape ``(nx, ny, nz)``; ``run`` the whole run
        (:meth:`snn.RunResult.concat` of the chunks, spikes recorded);
        ``network`` the last network run;
        ``errors``: ``rel_error``,
        ``max_abs_error`` (against :func:`reference`) and ``rel_residual``;
        ``info``: ``steps`` and ``rel_residual`` at each check, ``vth`` per
        chunk, ``coefficients``, ``kappa``, ``monitor_flops`` (the host's
        residual checks, ``9 n`` per check), ``refined_at`` (steps at which a
        refinement pass began).
    """
    if not isinstance(problem, Problem):
        raise TaskError(f"problem={problem!r}: must be a tasks.poisson.Problem")
    n_steps = _grid.positive_int("n_steps", n_steps)
    rtol = _grid.positive_float("rtol", rtol)
    check_every = _grid.positive_int("check_every", check_every)
    if method not in _METHODS:
        raise TaskError(f"method={method!r}: allowed: {list(_METHODS)}")
    check_callback(callback)
    sim = _grid.simulator(simulate)

    shape, n = problem.shape, problem.n
    pos, mats, coef = _plan_weights(shape, method)
    a_mat = laplacian(shape)
    b = problem.rhs
    b_norm = _grid.norm2(b)
    kappa = condition_number(shape)
    bias = coef["w"] * b
    vth0_given = vth0
    if vth0 is None:
        vth0 = 0.1 * float(np.max(np.abs(bias))) if n else 0.0
    if vth_min is None:
        vth_min = (
            0.1 * rtol / kappa * coef["w"] / (abs(coef["a"]) + 6 * coef["w"] + coef["beta"]) * (_grid.norm2(b / math.sqrt(n)) if n else 0.0)
        )
    vth0 = _grid.positive_float("vth0", vth0, allow_zero=True)
    vth_min = _grid.positive_float("vth_min", vth_min, allow_zero=True)
    if isinstance(max_refinements, bool) or not isinstance(max_refinements, numbers.Integral) or max_refinements < 0:
        raise TaskError(f"max_refinements={max_refinements!r}: must be an int >= 0")

    rate, window = coef["rate"], 8
    rhs, u_base = b, np.zeros(n)
    pass_start, pass_first_check, vth_start = 0, 0, vth0
    vth = max(vth_start, vth_min)
    net = _network(problem, pos, mats, coef, vth, None, rhs)
    state = snn.init_state(net, seed=0 if seed is None else seed)
    runs, steps_hist, res_hist, vth_hist, refined_at = [], [], [], [], []
    done, status = 0, MAXITER
    u = u_base
    rel_res = 1.0 if b_norm > 0 else 0.0
    while done < n_steps:
        length = min(check_every, n_steps - done)
        new_vth = max(vth_start * rate ** (done - pass_start), vth_min)
        if new_vth != vth:  # a parameter change: same structure, the state carries over
            vth = new_vth
            net = _network(problem, pos, mats, coef, vth, None, rhs)
        run = sim(net, length, engine=engine, state=state, record=("spikes",))
        runs.append(run)
        state = run.state
        done += length
        u = u_base + np.asarray(state.populations["u"]["ref"], dtype=np.float64)
        r = b - a_mat @ u
        rel_res = _grid.norm2(r) / b_norm if b_norm > 0 else float(_grid.norm2(r) > 0)
        steps_hist.append(done)
        res_hist.append(rel_res)
        vth_hist.append(vth)
        if callback is not None:
            callback(done, u.reshape(shape).copy())
        if kappa * rel_res <= rtol and np.all(np.isfinite(u)):
            status = CONVERGED
            break
        in_pass = res_hist[pass_first_check:]
        expected = math.sqrt(rate ** (check_every * window))
        if len(refined_at) < max_refinements and len(in_pass) > window and in_pass[-1] > expected * in_pass[-1 - window]:
            # stalled (e.g. at the resolution of a fixed-point simulate): a new pass from rest solves for the correction
            u_base, rhs = u, r
            refined_at.append(done)
            pass_start, pass_first_check = done, len(res_hist)
            vth_start = 0.1 * coef["w"] * float(np.max(np.abs(rhs))) if vth0_given is None else vth0
            vth = max(vth_start, vth_min)
            net = _network(problem, pos, mats, coef, vth, None, rhs)
            state = snn.init_state(net, seed=state.seed).replace(t=done)

    ref = reference(problem)
    x = u.reshape(shape)
    errors = accuracy(problem, x, ref=ref)
    status, message = _grid.finite_status(status, x, errors)
    return SolveResult(
        x=x,
        success=status == CONVERGED,
        status=status,
        message=message,
        n_steps=done,
        errors=errors,
        run=snn.RunResult.concat(runs),
        network=net,
        reference=ref,
        info={
            "method": method,
            "steps": steps_hist,
            "rel_residual": res_hist,
            "vth": vth_hist,
            "coefficients": coef,
            "kappa": kappa,
            "monitor_flops": 9 * n * len(steps_hist),
            "refined_at": refined_at,
        },
    )


def reference(problem: Problem) -> np.ndarray:
    """The direct solution ``A^{-1} h^2 f`` by :func:`scipy.sparse.linalg.spsolve`, shape ``(nx, ny, nz)``."""
    if not isinstance(problem, Problem):
        raise TaskError(f"problem={problem!r}: must be a tasks.poisson.Problem")
    a = sp.csc_matrix(laplacian(problem.shape))
    return np.asarray(spla.spsolve(a, problem.rhs)).reshape(problem.shape)


def accuracy(problem: Problem, x: Any, *, ref: np.ndarray | None = None) -> dict[str, float]:
    """The error metrics of a field ``x`` (``(nx, ny, nz)`` or flat; what :func:`solve` reports in ``errors``).

    ``rel_error = ||x - u*|| / ||u*||``, ``max_abs_error = max |x - u*|``
    (``u*`` = ``ref`` or :func:`reference`) and ``rel_residual = ||b - A x|| / ||b||``.
    """
    if not isinstance(problem, Problem):
        raise TaskError(f"problem={problem!r}: must be a tasks.poisson.Problem")
    x = np.asarray(x, dtype=np.float64).reshape(problem.shape)
    ref = reference(problem) if ref is None else np.asarray(ref, dtype=np.float64).reshape(problem.shape)
    ref_norm = _grid.norm2(ref)
    err = _grid.norm2(x - ref)
    b = problem.rhs
    b_norm = _grid.norm2(b)
    r = _grid.norm2(b - laplacian(problem.shape) @ x.ravel())
    return {
        "rel_error": err / ref_norm if ref_norm > 0 else err,
        "max_abs_error": float(np.max(np.abs(x - ref))),
        "rel_residual": r / b_norm if b_norm > 0 else float(r > 0),
    }


# --------------------------------------------------------------------------- dense baseline


def dense_baseline(
    problem: Problem,
    device: str = "cpu",
    *,
    algorithm: str = "cg",
    rtol: float = 1e-3,
    max_iter: int = 100000,
    check_every: int = 10,
    target: dict[str, float] | None = None,
    iterations: int | None = None,
    dtype: str = "float32",
) -> BaselineResult:
    """The conventional iterative solver on dense grid arrays in torch.

    With ``target`` (``{metric: value}`` of :func:`accuracy`; ``algorithm="cg"``
    only) CG does exactly ``k*`` iterations, the first iterate meeting the
    target (found by an untimed run measuring every iterate), its residual
    test still evaluated each iteration.

    ``algorithm="cg"``: conjugate gradients; ``"jacobi"``: Jacobi sweeps.  The
    operator is a ``conv3d`` with the 7-point stencil in a 3x3x3 kernel, zero
    padded (the Dirichlet boundary).  Both stop by the rule of :func:`solve`,
    ``kappa ||b - A u|| <= rtol ||b||`` (CG checks its recursive residual every
    iteration, Jacobi the true residual every ``check_every`` sweeps).

    ``iterations`` runs exactly that many iterations instead (no search; a
    ``target`` given with it is only checked): the way to repeat a run at a
    ``k*`` found before (``result.n_iter``) without its search, e.g. under a
    launch counter or an energy meter.

    Counting (per grid point, ``n`` points): a ``conv3d`` application is
    ``CONV3D_FLOPS_PER_POINT = 54`` FLOPs (the 27 multiply-adds a direct
    convolution executes); a dot product or axpy 2, a scale 1.  CG iteration:
    1 conv + 2 dots + 3 axpys = ``64 n``; Jacobi sweep: conv + add + scale =
    ``56 n`` and each check conv + subtract + norm = ``57 n``.  Bytes moved
    count each array element read or written once per operation (stencil
    neighbours from cache), times the element size: CG ``13 n`` elements per
    iteration, Jacobi ``3 n`` per sweep and ``3 n`` per check.
    ``info["flops_7point"]`` gives the count for a 7-point stencil code
    (13 FLOPs per stencil point instead of 54).
    """
    if not isinstance(problem, Problem):
        raise TaskError(f"problem={problem!r}: must be a tasks.poisson.Problem")
    if algorithm not in ("cg", "jacobi"):
        raise TaskError(f"algorithm={algorithm!r}: allowed: 'cg', 'jacobi'")
    rtol = _grid.positive_float("rtol", rtol)
    max_iter = _grid.positive_int("max_iter", max_iter)
    check_every = _grid.positive_int("check_every", check_every)
    if dtype not in ("float32", "float64"):
        raise TaskError(f"dtype={dtype!r}: allowed: 'float32', 'float64'")
    target = _baseline.check_target(target, ACCURACY_METRICS)
    if target is not None and algorithm != "cg":
        raise TaskError(f"target={target!r}: supported with algorithm='cg' only, got algorithm={algorithm!r}")
    if iterations is not None and algorithm != "cg":
        raise TaskError(f"iterations={iterations!r}: supported with algorithm='cg' only, got algorithm={algorithm!r}")
    torch, dev = _grid.torch_device(device)
    tdt = getattr(torch, dtype)
    item = 4 if dtype == "float32" else 8
    n = problem.n
    kappa = condition_number(problem.shape)
    conv = torch.nn.functional.conv3d
    b = torch.as_tensor(problem.rhs.reshape((1, 1) + problem.shape), dtype=tdt, device=dev)

    def cg(iters: int, tol: Any, callback: Callable[[int, Any], None] | None = None) -> tuple[Any, Any, int]:
        """CG from zero, at most ``iters`` iterations while ``||r|| > tol``; ``callback(k, x)`` after iterate ``k``."""
        k_a = _grid.stencil_kernel(torch, dev, tdt, 6.0, -1.0)
        x = torch.zeros_like(b)
        r = b.clone()
        p = r.clone()
        rr = torch.sum(r * r)
        it = 0
        while it < iters and bool(torch.sqrt(rr) > tol):
            q = conv(p, k_a, padding=1)
            alpha = rr / torch.sum(p * q)
            x = x + alpha * p
            r = r - alpha * q
            rr_new = torch.sum(r * r)
            p = r + (rr_new / rr) * p
            rr = rr_new
            it += 1
            if callback is not None:
                callback(it, x)
        return x, rr, it

    ref = reference(problem) if target is not None else None
    k_target = _baseline.check_iterations(iterations)
    if target is not None and k_target is None:
        k_target, _, _ = _baseline.iterations_to_target(
            lambda callback: cg(max_iter, -1.0, callback)[2], lambda x_: accuracy(problem, x_.double().cpu().numpy(), ref=ref), target
        )
    _grid.sync(torch, dev)
    t0 = time.perf_counter()
    b_norm = torch.linalg.vector_norm(b)
    tol = rtol / kappa * b_norm
    flops = 2 * n
    words = n
    if algorithm == "cg":
        flops += 2 * n
        words += 3 * n
        x, rr, it = cg(max_iter, tol) if k_target is None else cg(k_target, torch.zeros_like(tol))
        flops += it * (CONV3D_FLOPS_PER_POINT + 10) * n
        words += it * 13 * n
        flops7 = flops - it * (CONV3D_FLOPS_PER_POINT - 13) * n
        converged = bool(torch.sqrt(rr) <= tol)
    else:
        k_n = _grid.stencil_kernel(torch, dev, tdt, 0.0, 1.0)
        k_a = _grid.stencil_kernel(torch, dev, tdt, 6.0, -1.0)
        x = torch.zeros_like(b)
        it = 0
        checks = 0
        converged = False
        while it < max_iter:
            x = (b + conv(x, k_n, padding=1)) / 6.0
            it += 1
            if it % check_every == 0 or it == max_iter:
                checks += 1
                if bool(torch.linalg.vector_norm(b - conv(x, k_a, padding=1)) <= tol):
                    converged = True
                    break
        flops += it * (CONV3D_FLOPS_PER_POINT + 2) * n + checks * (CONV3D_FLOPS_PER_POINT + 3) * n
        words += it * 3 * n + checks * 3 * n
        flops7 = flops - (it + checks) * (CONV3D_FLOPS_PER_POINT - 13) * n
    _grid.sync(torch, dev)
    wall = time.perf_counter() - t0
    x_np = x.reshape(problem.shape).double().cpu().numpy()
    acc = accuracy(problem, x_np, ref=ref)
    return BaselineResult(
        x=x_np,
        wall_time_s=wall,
        flops=int(flops),
        bytes_moved=int(words * item),
        n_iter=int(it),
        device=str(dev),
        algorithm=f"{algorithm} (torch conv3d 7-point stencil)",
        dtype=dtype,
        info={"converged": converged, "kappa": kappa, "flops_7point": int(flops7)},
        accuracy=acc,
        target=target,
        reached=_baseline.meets(acc, target),
    )


def cpu_baseline(
    problem: Problem,
    *,
    rtol: float = 1e-3,
    max_iter: int = 100000,
    target: dict[str, float] | None = None,
    min_time_s: float = 0.05,
) -> BaselineResult:
    """Conjugate gradients by :func:`scipy.sparse.linalg.cg` on the sparse 7-point Laplacian (CSR, float64).

    Stops by the rule of :func:`solve`, ``kappa ||b - A u|| <= rtol ||b||``
    (scipy's ``rtol = rtol / kappa``), or with ``target`` (``{metric: value}``
    of :func:`accuracy`) after exactly ``k*`` iterations, the first iterate
    meeting the target (found by an untimed run with a per-iterate callback).
    The wall time is the median of repeated runs (at least 3 and
    ``min_time_s`` in all); building the CSR matrix is not timed.

    Counting per iteration (``nnz`` of the Laplacian, ``n`` points, float64 and
    int32 indices): FLOPs ``2 nnz + 10 n``; bytes ``12 nnz + 4 n`` (the CSR
    matvec) ``+ 8 * 15 n`` (vectors).
    """
    if not isinstance(problem, Problem):
        raise TaskError(f"problem={problem!r}: must be a tasks.poisson.Problem")
    rtol = _grid.positive_float("rtol", rtol)
    max_iter = _grid.positive_int("max_iter", max_iter)
    target = _baseline.check_target(target, ACCURACY_METRICS)
    A = laplacian(problem.shape).tocsr()
    b = problem.rhs.copy()
    n = problem.n
    kappa = condition_number(problem.shape)
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
        k = run(None, max_iter, rtol / kappa)
        solve_once = lambda: spla.cg(A, b, rtol=rtol / kappa, atol=0.0, maxiter=max_iter)[0]  # noqa: E731
    else:
        k, _, _ = _baseline.iterations_to_target(lambda cb: run(cb, max_iter, 0.0), lambda x: accuracy(problem, x, ref=ref), target)
        solve_once = lambda: spla.cg(A, b, rtol=0.0, atol=0.0, maxiter=k)[0]  # noqa: E731
    x, wall, stats = _baseline.timed(solve_once, min_total_s=min_time_s)
    x = np.asarray(x, dtype=np.float64).reshape(problem.shape)
    acc = accuracy(problem, x, ref=ref)
    nnz = int(A.nnz)
    return BaselineResult(
        x=x,
        wall_time_s=wall,
        flops=int(k * (2 * nnz + 10 * n)),
        bytes_moved=int(k * (12 * nnz + 4 * n + 8 * 15 * n)),
        n_iter=int(k),
        device="cpu",
        algorithm="conjugate gradients (scipy.sparse.linalg.cg, CSR 7-point Laplacian, float64)",
        dtype="float64",
        info={**stats, "kappa": kappa},
        accuracy=acc,
        target=target,
        reached=_baseline.meets(acc, target),
    )
