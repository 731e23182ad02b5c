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
    "trim_last_step",
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
    #: kernel launches and blocking device-to-host reads of one run, counted by
    #: running it under a dispatch counter (``energy.baseline.with_launch_counts``); None: not counted
    kernel_launches: int | None = None
    host_syncs: int | None = None


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


def trim_last_step(run: RunResult, network: Any) -> RunResult:
    """``run`` without its last step: counts, per-step arrays and recordings.

    Needs the ``spikes`` of every population that sends messages (what was
    sent in the last step); the split of that step's synaptic events over
    projections uses ``network``'s out-degrees.
    """
    c = run.counts
    if c.n_steps < 2:
        raise TaskError(f"run: has {c.n_steps} step(s); trimming needs at least 2")
    sent_pop: dict[str, int] = {}
    sent_mask: dict[str, np.ndarray] = {}
    for pop in network.populations:
        if pop.name in run.spikes:
            mask = np.asarray(run.spikes[pop.name][-1], dtype=bool)
        elif c.spikes_per_population.get(pop.name, 0) == 0:
            mask = np.zeros(pop.n, dtype=bool)
        else:
            raise TaskError(f"run: population {pop.name!r} sent messages but its spikes were not recorded; cannot trim")
        sent_mask[pop.name] = mask
        sent_pop[pop.name] = int(mask.sum())
    per_proj = {pr.name: int(pr.out_degree()[sent_mask[pr.pre]].sum()) for pr in network.projections}
    graded = sum(sent_pop[p.name] for p in network.populations if p.model.graded)
    updates = {p.name: (0 if p.model.is_source else p.n) for p in network.populations}
    counts = OpCounts(
        n_steps=c.n_steps - 1,
        dt_ms=c.dt_ms,
        spikes=int(c.spikes - int(c.spikes_per_step[-1])),
        synaptic_events=int(c.synaptic_events - int(c.synaptic_events_per_step[-1])),
        neuron_updates=int(c.neuron_updates - sum(updates.values())),
        per_projection={k: int(v - per_proj.get(k, 0)) for k, v in c.per_projection.items()},
        spikes_per_population={k: int(v - sent_pop.get(k, 0)) for k, v in c.spikes_per_population.items()},
        neuron_updates_per_population={k: int(v - updates.get(k, 0)) for k, v in c.neuron_updates_per_population.items()},
        graded_spikes=int(c.graded_spikes - graded),
        spikes_per_step=np.asarray(c.spikes_per_step[:-1], dtype=np.int64),
        synaptic_events_per_step=np.asarray(c.synaptic_events_per_step[:-1], dtype=np.int64),
        n_neurons=c.n_neurons,
        n_synapses=c.n_synapses,
    )
    return RunResult(
        spikes={k: v[:-1] for k, v in run.spikes.items()},
        state={pop: {k: v[:-1] for k, v in rec.items()} for pop, rec in run.state.items()},
        counts=counts,
        final_state=run.final_state,
        outputs={k: v[:-1] for k, v in run.outputs.items()},
        engine=run.engine,
        seed=run.seed,
        wall_time_s=run.wall_time_s,
    )


@dataclass(frozen=True, eq=False)
class ChunkedRun:
    """What :func:`run_chunked` returns.

    ``run`` is the merged run on the continuous timeline (steps re-executed at
    chunk boundaries counted once), ``n_steps`` its length, ``stopped`` whether
    ``on_chunk`` asked to stop, ``network`` the last chunk's network.
    """

    run: RunResult
    n_steps: int
    stopped: bool
    network: Any
    n_chunks: int
    carry: Any = None


def _with_spikes(record: Any, network: Any) -> dict[str, tuple[str, ...]]:
    if not isinstance(record, Mapping):
        raise TaskError("record: run_chunked needs a dict {population: names}")
    out = {name: ((what,) if isinstance(what, str) else tuple(what)) for name, what in record.items()}
    for pop in network.populations:
        if "spikes" not in out.get(pop.name, ()):
            out[pop.name] = out.get(pop.name, ()) + ("spikes",)
    return out


def run_chunked(
    build: Callable[[int, Any], Any],
    on_chunk: Callable[[int, Any, RunResult, Any], tuple[Any, bool]],
    *,
    n_steps: int,
    chunk_steps: int,
    simulate: Callable[..., RunResult],
    engine: str,
    seed: int | None,
    record: Mapping[str, Any],
) -> ChunkedRun:
    """Run a network in chunks, continuing each chunk from the state the previous one left.

    ``build(t, carry)`` returns the network for the chunk; ``simulate(network,
    steps, engine=, seed=, record=)`` runs it (any callable with
    :func:`snn.simulate`'s signature); ``on_chunk(t, network, run, carry) ->
    (carry, stop)`` checks the stopping rule after the chunk, ``t`` being the
    number of steps of the continuous run so far.

    Continuation by *rewinding one step*: the messages a chunk sends in its last
    step are still in flight when it ends.  Rather than delivering them on the
    host (with the host's copy of the weights, which a quantizing ``simulate``
    would not share), ``on_chunk`` returns as ``carry`` the state *before* the
    last step -- for a sigma-delta neuron ``sigma`` as it ends (its input of
    that step included) and ``ref - out``; for an IF neuron ``v + v_th * spike -
    bias`` -- and the next chunk re-executes that step, so the network itself
    re-sends those messages, with its own weights.  The re-executed step counts
    once: every chunk that is continued this way loses its last step from the
    merged run (:func:`trim_last_step`), and later chunks run ``chunk_steps + 1``
    steps so that checks fall every ``chunk_steps`` steps.  A ``carry`` of
    ``None`` means a fresh start instead (nothing is re-executed or trimmed).

    Every chunk restarts the engine's step counter at 0: exact only for models
    whose kernel does not read the step index (sigma-delta, IF, LIF).  The
    ``spikes`` of every population are recorded (trimming needs them).
    """
    if isinstance(n_steps, bool) or not isinstance(n_steps, (int, np.integer)) or n_steps < 1:
        raise TaskError(f"n_steps={n_steps!r}: must be a positive int")
    if isinstance(chunk_steps, bool) or not isinstance(chunk_steps, (int, np.integer)) or chunk_steps < 1:
        raise TaskError(f"chunk_steps={chunk_steps!r}: must be a positive int")
    runs: list[RunResult] = []
    nets: list[Any] = []
    continued: list[bool] = []
    carry: Any = None
    t = 0
    stopped = False
    network = None
    while t < n_steps and not stopped:
        rewind = carry is not None
        start = t - 1 if rewind else t
        steps = int(min(chunk_steps + (1 if rewind else 0), n_steps - start))
        if rewind and steps < 2:
            break
        if rewind:
            continued[-1] = True
        network = build(start, carry)
        run = simulate(network, steps, engine=engine, seed=seed, record=_with_spikes(record, network))
        runs.append(run)
        nets.append(network)
        continued.append(False)
        t = start + steps
        carry, stopped = on_chunk(t, network, run, carry)
    parts = [trim_last_step(r, net) if cont else r for r, net, cont in zip(runs, nets, continued)]
    merged = merge_runs(parts)
    return ChunkedRun(run=merged, n_steps=t, stopped=bool(stopped), network=network, n_chunks=len(runs), carry=carry)
