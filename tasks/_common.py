"""Shared records and checks of the task modules.

Every task module (``tasks/<name>.py``) has a ``Problem`` record,
``random_problem(..., seed)``, ``solve(problem, *, n_steps, rtol, engine, simulate,
seed, callback) -> SolveResult``, ``reference(problem)`` and
``dense_baseline(problem, device) -> BaselineResult``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from snn.errors import SNNError
from snn.results import OpCounts, RunResult

__all__ = [
    "SolveResult",
    "BaselineResult",
    "TaskError",
    "finite_array",
    "CONVERGED",
    "MAXITER",
    "STATUS_MESSAGES",
    "merge_runs",
    "ChunkedRun",
    "run_chunked",
]

#: status codes of :class:`SolveResult` (scipy habit: 0 is success)
CONVERGED = 0
MAXITER = 1
STATUS_MESSAGES = {CONVERGED: "converged: the stopping rule was met", MAXITER: "n_steps exhausted before the stopping rule was met"}


class TaskError(SNNError, ValueError):
    """A task problem or solver argument is invalid."""


@dataclass(frozen=True, eq=False)
class SolveResult:
    """What a spiking solver returns (``scipy.optimize.OptimizeResult`` habits).

    Attributes
    ----------
    x : ndarray
        The decoded solution.
    success : bool
    status : int
        ``CONVERGED`` (0) or ``MAXITER`` (1).
    message : str
    n_steps : int
        Simulation steps taken (to convergence, or all of them).
    errors : dict
        Named error metrics against :func:`reference` (e.g. ``rel_residual``, ``rel_error``).
    run : snn.RunResult
        The simulation, with its op counts.
    network : snn.Network
        The network that was built.
    reference : ndarray or None
        The conventional solution the errors were measured against.
    info : dict
        Task-specific extras (e.g. per-step residuals).
    """

    x: np.ndarray
    success: bool
    status: int
    message: str
    n_steps: int
    errors: Mapping[str, float]
    run: Any
    network: Any
    reference: Any = None
    info: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class BaselineResult:
    """The conventional iterative algorithm run densely in torch.

    ``flops`` and ``bytes_moved`` are counted from the algorithm (not measured);
    ``wall_time_s`` is measured on ``device`` (with CUDA synchronisation).
    """

    x: np.ndarray
    wall_time_s: float
    flops: int
    bytes_moved: int
    n_iter: int
    device: str
    algorithm: str
    dtype: str = "float32"
    info: Mapping[str, Any] = field(default_factory=dict)


def finite_array(name: str, value: Any, *, ndim: int | None = None, shape: tuple | None = None) -> np.ndarray:
    """``value`` as a float64 array, or a :class:`TaskError` naming ``name``."""
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TaskError(f"{name}: must be a numeric array, got {type(value).__name__}") from None
    if ndim is not None and arr.ndim != ndim:
        raise TaskError(f"{name}: must be {ndim}-D, got shape {arr.shape}")
    if shape is not None and arr.shape != shape:
        raise TaskError(f"{name}: must have shape {shape}, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise TaskError(f"{name}: contains NaN or inf; all values must be finite")
    return arr


def merge_runs(runs: Sequence[RunResult]) -> RunResult:
    """One :class:`snn.RunResult` for consecutive chunks of one run.

    Counts are summed (per-step arrays concatenated), recordings are
    concatenated along time, ``final_state`` is the last chunk's.  The chunks
    must come from networks with the same populations and projections.
    """
    if not runs:
        raise TaskError("runs: need at least one RunResult to merge")
    if len(runs) == 1:
        return runs[0]
    cs = [r.counts for r in runs]
    first = cs[0]

    def _sum(attr: str) -> dict[str, int]:
        return {k: int(sum(getattr(c, attr)[k] for c in cs)) for k in getattr(first, attr)}

    counts = OpCounts(
        n_steps=int(sum(c.n_steps for c in cs)),
        dt_ms=first.dt_ms,
        spikes=int(sum(c.spikes for c in cs)),
        synaptic_events=int(sum(c.synaptic_events for c in cs)),
        neuron_updates=int(sum(c.neuron_updates for c in cs)),
        per_projection=_sum("per_projection"),
        spikes_per_population=_sum("spikes_per_population"),
        neuron_updates_per_population=_sum("neuron_updates_per_population"),
        graded_spikes=int(sum(c.graded_spikes for c in cs)),
        spikes_per_step=np.concatenate([np.asarray(c.spikes_per_step, dtype=np.int64) for c in cs]),
        synaptic_events_per_step=np.concatenate([np.asarray(c.synaptic_events_per_step, dtype=np.int64) for c in cs]),
        n_neurons=first.n_neurons,
        n_synapses=first.n_synapses,
    )

    def _cat(attr: str) -> dict[str, np.ndarray]:
        return {k: np.concatenate([getattr(r, attr)[k] for r in runs]) for k in getattr(runs[0], attr)}

    state = {pop: {v: np.concatenate([r.state[pop][v] for r in runs]) for v in rec} for pop, rec in runs[0].state.items()}
    last = runs[-1]
    return RunResult(
        spikes=_cat("spikes"),
        state=state,
        counts=counts,
        final_state=last.final_state,
        outputs=_cat("outputs"),
        engine=last.engine,
        seed=last.seed,
        wall_time_s=float(sum(r.wall_time_s for r in runs)),
    )


@dataclass(frozen=True, eq=False)
class ChunkedRun:
    """What :func:`run_chunked` returns: the merged run, the steps taken and whether ``on_chunk`` stopped it."""

    run: RunResult
    n_steps: int
    stopped: bool
    network: Any
    n_chunks: int
    carry: Any = None


def run_chunked(
    build: Callable[[int, Any], Any],
    on_chunk: Callable[[int, Any, RunResult, Any], tuple[Any, bool]],
    *,
    n_steps: int,
    chunk_steps: int,
    simulate: Callable[..., RunResult],
    engine: str,
    seed: int | None,
    record: Any,
) -> ChunkedRun:
    """Run a network in chunks of ``chunk_steps`` steps, carrying its state from chunk to chunk.

    ``build(t, carry)`` returns the network for the chunk that starts at step
    ``t`` (``carry`` is ``None`` for the first chunk); the usual way to carry a
    run on is ``add_population(..., initial_state=final state)`` with the
    messages still in flight folded into the receivers' state.
    ``simulate(network, steps, engine=, seed=, record=)`` runs it (any callable
    with :func:`snn.simulate`'s signature) and ``on_chunk(t_end, network, run,
    carry) -> (carry, stop)`` checks the stopping rule after the chunk.

    Every chunk restarts the engine's step counter at 0: this is exact only for
    models whose kernel does not read the step index (sigma-delta, IF, LIF).
    """
    if isinstance(n_steps, bool) or not isinstance(n_steps, (int, np.integer)) or n_steps < 1:
        raise TaskError(f"n_steps={n_steps!r}: must be a positive int")
    if isinstance(chunk_steps, bool) or not isinstance(chunk_steps, (int, np.integer)) or chunk_steps < 1:
        raise TaskError(f"chunk_steps={chunk_steps!r}: must be a positive int")
    runs: list[RunResult] = []
    carry: Any = None
    t = 0
    stopped = False
    network = None
    while t < n_steps and not stopped:
        steps = int(min(chunk_steps, n_steps - t))
        network = build(t, carry)
        run = simulate(network, steps, engine=engine, seed=seed, record=record)
        runs.append(run)
        t += steps
        carry, stopped = on_chunk(t, network, run, carry)
    return ChunkedRun(run=merge_runs(runs), n_steps=t, stopped=bool(stopped), network=network, n_chunks=len(runs), carry=carry)
