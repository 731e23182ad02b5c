"""The 3D heat equation, stepped explicitly by a sigma-delta spiking network.

Problem: ``du/dt = alpha * laplacian(u)`` on the grid points of an
``(nx, ny, nz)`` box with spacing ``h`` and zero Dirichlet boundary, explicit
(forward Euler) time stepping with the 7-point stencil::

    u_{k+1}[i] = (1 - 6 r) u_k[i] + r * sum(u_k[j] for the 6 axis neighbours j),   r = alpha dt / h^2

for ``k = 0 .. n_time - 1``.  It is stable (and a contraction in the max norm)
for ``r <= 1/6``; a larger ``dt`` is refused.

The network is the grid of :mod:`tasks.poisson` (both built by :mod:`tasks._grid`): one :class:`snn.SigmaDelta`
neuron per grid point, a self synapse ``1 - 6 r`` and six neighbour synapses
``r``, all with a one-step delay, so **one network step is one time step**.
Each neuron starts having sent ``u_0`` (``ref = u_0``, ``sigma = W u_0``); in step
``k`` its activation ``act = sigma`` is ``u_{k+1}`` and it sends the change only
when it is at least ``vth``.  With ``vth = 0`` the network reproduces the finite
differences to rounding; with ``vth > 0`` regions where ``u`` changes slowly stay
silent.  The run goes in chunks of ``check_every`` steps, each continuing the
previous one's state (``simulate(..., state=run.state)``, messages in flight
included); chunk ``j`` uses ``vth_j = rtol * max|act| / n_time`` with ``act``
the neurons' activation (``sigma``) at its start,
so the threshold falls with the solution.  Because ``W`` is a max-norm
contraction for ``r <= 1/6``, the transmitted-value errors add up at most
linearly::

    ||x - u_fd||_inf <= sum_j (steps of chunk j) * vth_j <= rtol * max|u_0|

(reported as ``errors["error_bound"]``).  Measured: the 2-norm error relative
to the final field is about 1e-5 to 1e-4 with ``rtol = 1e-3`` on the seeded
16^3, 100-step instances of :func:`random_problem`; with the default, 1% to 5%
of the messages of a dense update are saved (explicit heat stepping keeps the
whole grid changing).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp

import snn
from tasks import _baseline, _grid
from tasks._common import CONVERGED, MAXITER, BaselineResult, SolveResult, TaskError, check_callback
from tasks._grid import CONV3D_FLOPS_PER_POINT

__all__ = [
    "Problem",
    "random_problem",
    "build_network",
    "solve",
    "reference",
    "accuracy",
    "ACCURACY_METRICS",
    "TARGET_METRICS",
    "dense_baseline",
    "cpu_baseline",
    "max_stable_dt",
]

#: the metrics :func:`accuracy` reports (``solve`` adds its own ``error_bound``)
ACCURACY_METRICS = ("rel_error", "max_abs_error")
#: the metric equal-accuracy baselines are checked on (time stepping cannot stop early: every step is needed)
TARGET_METRICS = ("rel_error",)


def max_stable_dt(alpha: float, h: float = 1.0) -> float:
    """The largest ``dt`` of the explicit scheme: ``h**2 / (6 alpha)`` (``r = 1/6``)."""
    return h * h / (6.0 * alpha)


@dataclass(frozen=True, eq=False)
class Problem:
    """Explicit heat-equation stepping on a grid.

    Attributes
    ----------
    u0 : ndarray, shape (nx, ny, nz)
        Initial values at the grid points (finite; stored read-only, float64).
    alpha : float
        Diffusivity, > 0.
    dt : float
        Time step, > 0 and ``<= h**2 / (6 alpha)``.
    n_time : int
        Number of time steps, >= 1.
    h : float
        Grid spacing, > 0.
    """

    u0: Any
    alpha: float
    dt: float
    n_time: int
    h: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "u0", _grid.check_grid("u0", self.u0))
        object.__setattr__(self, "alpha", _grid.positive_float("alpha", self.alpha))
        object.__setattr__(self, "dt", _grid.positive_float("dt", self.dt))
        object.__setattr__(self, "n_time", _grid.positive_int("n_time", self.n_time))
        object.__setattr__(self, "h", _grid.check_h(self.h))
        if self.r > 1.0 / 6.0 * (1.0 + 1e-12):
            raise TaskError(
                f"dt={self.dt!r}: the explicit scheme is unstable with r = alpha*dt/h**2 = {self.r:.6g} > 1/6; "
                f"need dt <= h**2/(6*alpha) = {max_stable_dt(self.alpha, self.h):.6g}"
            )

    @property
    def r(self) -> float:
        """``alpha dt / h**2``, the stencil weight."""
        return self.alpha * self.dt / self.h**2

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(int(s) for s in self.u0.shape)  # type: ignore[return-value]

    @property
    def n(self) -> int:
        return int(self.u0.size)


def random_problem(
    shape: Any = (16, 16, 16),
    *,
    n_time: int = 100,
    alpha: float = 1.0,
    h: float = 1.0,
    courant: float = 0.9,
    seed: int | np.random.Generator | None = None,
) -> Problem:
    """A seeded instance: a few random Gaussian blobs of heat, ``dt = courant * h^2 / (6 alpha)``.

    ``u0`` is the sum of 3 Gaussians with random centres, widths (1 to 3 grid
    spacings) and amplitudes in ``[0.5, 1.5]``.
    """
    shape = _grid.shape3(shape)
    if not 0 < courant <= 1:
        raise TaskError(f"courant={courant!r}: must be in (0, 1] (fraction of the largest stable dt)")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    idx = np.indices(shape, dtype=np.float64)
    u0 = np.zeros(shape)
    for _ in range(3):
        c = rng.uniform(0, 1, 3) * (np.array(shape) - 1)
        s = rng.uniform(1.0, 3.0)
        d2 = sum((idx[k] - c[k]) ** 2 for k in range(3))
        u0 += rng.uniform(0.5, 1.5) * np.exp(-d2 / (2 * s * s))
    return Problem(u0, alpha=alpha, dt=courant * max_stable_dt(alpha, h), n_time=n_time, h=h)


def _weights(problem: Problem) -> tuple[np.ndarray, sp.csr_matrix]:
    pos, nb = _grid.grid_geometry(problem.shape)
    r = problem.r
    w = sp.csr_matrix(r * nb + (1.0 - 6.0 * r) * sp.identity(problem.n, format="csr"))
    w.eliminate_zeros()
    return pos, w


def build_network(problem: Problem, *, vth: float = 0.0) -> snn.Network:
    """The network of :func:`solve`: population ``u`` on the grid, projection ``u->u`` (delay 1).

    Initial state ``ref = u0``, ``sigma = W @ u0`` (the neurons have sent ``u0``).
    """
    if not isinstance(problem, Problem):
        raise TaskError(f"problem={problem!r}: must be a tasks.heat.Problem")
    vth = _grid.positive_float("vth", vth, allow_zero=True)
    pos, w = _weights(problem)
    u0 = problem.u0.ravel()
    return _network(problem, pos, w, vth, u0, w @ u0)


def _network(problem: Problem, pos: np.ndarray, w: sp.csr_matrix, vth: float, ref: np.ndarray, sigma: np.ndarray) -> snn.Network:
    net = snn.Network(dt_ms=1.0)
    net.add_population("u", problem.n, snn.SigmaDelta(vth=vth), positions=pos, initial_state={"ref": ref, "sigma": sigma})
    net.add_projection("u", "u", weights=w, delay_steps=1, name="u->u")
    net.outputs = ("u",)
    return net


def _fd(u0: np.ndarray, r: float, n: int) -> np.ndarray:
    u = np.array(u0, dtype=np.float64)
    for _ in range(n):
        p = np.pad(u, 1)
        nb = p[:-2, 1:-1, 1:-1] + p[2:, 1:-1, 1:-1] + p[1:-1, :-2, 1:-1] + p[1:-1, 2:, 1:-1] + p[1:-1, 1:-1, :-2] + p[1:-1, 1:-1, 2:]
        u = (1.0 - 6.0 * r) * u + r * nb
    return u


def reference(problem: Problem, n_time: int | None = None) -> np.ndarray:
    """Finite differences in numpy (padded array slices): ``u`` after ``n_time`` steps, ``(nx, ny, nz)``."""
    if not isinstance(problem, Problem):
        raise TaskError(f"problem={problem!r}: must be a tasks.heat.Problem")
    return _fd(problem.u0, problem.r, problem.n_time if n_time is None else _grid.positive_int("n_time", n_time))


def accuracy(problem: Problem, x: Any, *, ref: np.ndarray | None = None) -> dict[str, float]:
    """``rel_error`` (2-norm) and ``max_abs_error`` of a field ``x`` against ``ref`` (default :func:`reference`, all ``n_time`` steps)."""
    if not isinstance(problem, Problem):
        raise TaskError(f"problem={problem!r}: must be a tasks.heat.Problem")
    x = np.asarray(x, dtype=np.float64).reshape(problem.shape)
    ref = reference(problem) if ref is None else np.asarray(ref, dtype=np.float64).reshape(problem.shape)
    ref_norm = _grid.norm2(ref)
    err = _grid.norm2(x - ref)
    return {"rel_error": err / ref_norm if ref_norm > 0 else err, "max_abs_error": float(np.max(np.abs(x - ref)))}


def solve(
    problem: Problem,
    *,
    n_steps: int | None = None,
    rtol: float = 1e-3,
    engine: str = "event",
    simulate: Callable | None = None,
    seed: int | None = None,
    callback: Callable[[int, np.ndarray], Any] | None = None,
    vth: float | None = None,
    check_every: int = 10,
) -> SolveResult:
    """Step the heat equation ``min(n_steps, n_time)`` times with the spiking network.

    One continued run, in chunks of ``check_every`` steps (``run =
    simulate(net, k, state=state)``, ``state = run.state``); between chunks
    only the threshold changes (see the module docstring), the state (messages
    in flight included) carries over.  With a fixed ``vth`` the result does not
    depend on ``check_every``, bit for bit.

    Stopping rule: none to test; the run stops at ``k = min(n_steps, n_time)``
    network steps, ``status = CONVERGED`` when ``k = n_time`` (all time steps
    done) and ``MAXITER`` when ``n_steps < n_time`` or the field is not finite.
    The decoded field is the activation ``act = sigma`` of the last step, ``u_k``.

    Parameters
    ----------
    problem : Problem
    n_steps : int, optional
        Network steps (= time steps); default ``n_time``.
    rtol : float
        Accuracy target: the default thresholds (see the module docstring)
        guarantee ``||x - u_fd||_inf <= rtol * max|u0|``.
    engine, simulate, seed :
        As in :func:`tasks.poisson.solve`.
    callback : callable, optional
        ``callback(k, u_k)`` after each chunk (``k`` the time steps done,
        ``u_k`` ``(nx, ny, nz)``); checked to be callable before anything runs.
    vth : float, optional
        A fixed sigma-delta threshold instead of the schedule (0 sends every change).
    check_every : int
        Steps per chunk.

    Returns
    -------
    SolveResult
        ``x`` ``(nx, ny, nz)``; ``run`` the whole run (spikes recorded);
        ``errors``: ``rel_error`` (2-norm, relative to the finite-difference
        field), ``max_abs_error``, ``error_bound`` (the max-norm bound above);
        ``info``: ``vth`` and ``steps`` per chunk, ``r``.
    """
    if not isinstance(problem, Problem):
        raise TaskError(f"problem={problem!r}: must be a tasks.heat.Problem")
    steps = problem.n_time if n_steps is None else min(_grid.positive_int("n_steps", n_steps), problem.n_time)
    rtol = _grid.positive_float("rtol", rtol)
    check_callback(callback)
    sim = _grid.simulator(simulate)
    if vth is not None:
        vth = _grid.positive_float("vth", vth, allow_zero=True)
    check_every = _grid.positive_int("check_every", check_every)
    pos, w = _weights(problem)
    u_max0 = float(np.max(np.abs(problem.u0)))
    u0 = problem.u0.ravel()
    sigma0 = w @ u0

    def threshold(act: np.ndarray) -> float:
        return vth if vth is not None else rtol * float(np.max(np.abs(act))) / problem.n_time

    vth_k = threshold(sigma0)
    net = _network(problem, pos, w, vth_k, u0, sigma0)
    state = snn.init_state(net, seed=0 if seed is None else seed)
    runs, vths, lengths = [], [], []
    done = 0
    while done < steps:
        length = min(check_every, steps - done)
        new_vth = threshold(state.populations["u"]["sigma"])
        if new_vth != vth_k:  # a parameter change: same structure, the state carries over
            vth_k = new_vth
            net = _network(problem, pos, w, vth_k, u0, sigma0)
        run = sim(net, length, engine=engine, state=state, record=("spikes",))
        runs.append(run)
        state = run.state
        vths.append(vth_k)
        lengths.append(length)
        done += length
        if callback is not None:
            callback(done, np.asarray(state.populations["u"]["sigma"], dtype=np.float64).reshape(problem.shape))
    x = np.asarray(state.populations["u"]["sigma"], dtype=np.float64).reshape(problem.shape)
    spans: list[list[float]] = []  # [vth, steps] for each run of equal thresholds (so the bound does not depend on the chunking)
    for k, v in zip(lengths, vths):
        if spans and spans[-1][0] == v:
            spans[-1][1] += k
        else:
            spans.append([v, k])
    bound = math.fsum(v * k for v, k in spans)
    ref = reference(problem, steps)
    errors = {**accuracy(problem, x, ref=ref), "error_bound": bound}
    status, message = _grid.finite_status(CONVERGED if steps == problem.n_time else MAXITER, x, errors)
    return SolveResult(
        x=x,
        success=status == CONVERGED,
        status=status,
        message=message,
        n_steps=steps,
        errors=errors,
        run=snn.RunResult.concat(runs),
        network=net,
        reference=ref,
        info={"vth": vths, "steps": list(np.cumsum(lengths).tolist()), "r": problem.r, "u_max0": u_max0},
    )


def dense_baseline(
    problem: Problem, device: str = "cpu", *, target: dict[str, float] | None = None, dtype: str = "float32"
) -> BaselineResult:
    """Explicit Euler in torch: ``n_time`` ``conv3d`` passes of the 7-point stencil kernel.

    ``target`` (``{metric: value}`` of :func:`accuracy`) changes nothing in the
    run (the answer is the field after all ``n_time`` steps; an explicit scheme
    cannot stop early) and is only checked: ``reached``.

    Counting per step (``n`` grid points): one ``conv3d`` with a 3x3x3 kernel,
    ``CONV3D_FLOPS_PER_POINT = 54`` FLOPs per point (``info["flops_7point"]``:
    13 per point for a 7-point code); bytes: each element read once and
    written once per step (``2 n`` elements).
    """
    if not isinstance(problem, Problem):
        raise TaskError(f"problem={problem!r}: must be a tasks.heat.Problem")
    if dtype not in ("float32", "float64"):
        raise TaskError(f"dtype={dtype!r}: allowed: 'float32', 'float64'")
    target = _baseline.check_target(target, ACCURACY_METRICS)
    torch, dev = _grid.torch_device(device)
    tdt = getattr(torch, dtype)
    r = problem.r
    k = _grid.stencil_kernel(torch, dev, tdt, 1.0 - 6.0 * r, r)
    u = torch.as_tensor(np.array(problem.u0).reshape((1, 1) + problem.shape), dtype=tdt, device=dev)
    conv = torch.nn.functional.conv3d
    _grid.sync(torch, dev)
    t0 = time.perf_counter()
    for _ in range(problem.n_time):
        u = conv(u, k, padding=1)
    _grid.sync(torch, dev)
    wall = time.perf_counter() - t0
    n, steps = problem.n, problem.n_time
    x = u.reshape(problem.shape).double().cpu().numpy()
    acc = accuracy(problem, x)
    return BaselineResult(
        x=x,
        wall_time_s=wall,
        flops=int(steps * CONV3D_FLOPS_PER_POINT * n),
        bytes_moved=int(steps * 2 * n * (4 if dtype == "float32" else 8)),
        n_iter=steps,
        device=str(dev),
        algorithm="explicit Euler (torch conv3d 7-point stencil)",
        dtype=dtype,
        info={"flops_7point": int(steps * 13 * n), "r": r},
        accuracy=acc,
        target=target,
        reached=_baseline.meets(acc, target),
    )


def cpu_baseline(problem: Problem, *, target: dict[str, float] | None = None, min_time_s: float = 0.05) -> BaselineResult:
    """The same explicit Euler stepping as a SciPy sparse matrix: ``u <- M u``, ``n_time`` CSR matvecs (float64).

    ``M = (1 - 6 r) I + r N`` with ``N`` the 6-neighbour adjacency of the
    grid (zero Dirichlet boundary), built once (not timed).  ``target`` is only
    checked (every step is needed; see :func:`dense_baseline`).  The wall time
    is the median of repeated runs (at least 3 and ``min_time_s`` in all).

    Counting per step (``nnz = n + 2 * edges``, int32 indices): FLOPs ``2 nnz``;
    bytes ``12 nnz + 4 n`` (the CSR matrix) ``+ 16 n`` (``u`` read and written).
    """
    if not isinstance(problem, Problem):
        raise TaskError(f"problem={problem!r}: must be a tasks.heat.Problem")
    target = _baseline.check_target(target, ACCURACY_METRICS)
    _, w = _weights(problem)
    M = sp.csr_matrix(w, dtype=np.float64)
    u0 = np.array(problem.u0, dtype=np.float64).ravel()
    steps = problem.n_time

    def run() -> np.ndarray:
        u = u0
        for _ in range(steps):
            u = M @ u
        return u

    u, wall, stats = _baseline.timed(run, min_total_s=min_time_s)
    x = u.reshape(problem.shape)
    acc = accuracy(problem, x)
    n, nnz = problem.n, int(M.nnz)
    return BaselineResult(
        x=x,
        wall_time_s=wall,
        flops=int(steps * 2 * nnz),
        bytes_moved=int(steps * (12 * nnz + 4 * n + 16 * n)),
        n_iter=steps,
        device="cpu",
        algorithm="explicit Euler (scipy.sparse CSR matvec per step, float64)",
        dtype="float64",
        info={**stats, "r": problem.r},
        accuracy=acc,
        target=target,
        reached=_baseline.meets(acc, target),
    )
