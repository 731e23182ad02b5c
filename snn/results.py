"""What a run returns: recorded spikes and state, and the operation counts."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["OpCounts", "RunResult"]


@dataclass(frozen=True, eq=False)
class OpCounts:
    """Operation counts of one run: the single input of every energy estimate.

    Attributes
    ----------
    n_steps : int
    dt_ms : float
    spikes : int
        Messages sent: binary spikes plus non-zero graded outputs, every population
        (sources included).
    synaptic_events : int
        Sum over messages of the sender's out-degree, over all projections.
    neuron_updates : int
        Neuron state updates: ``n * n_steps`` summed over non-source populations.
    per_projection : dict
        ``{projection name: synaptic events}``.
    spikes_per_population, neuron_updates_per_population : dict
        ``{population name: count}``.
    graded_spikes : int
        The part of ``spikes`` sent by graded (non-binary) populations.
    spikes_per_step, synaptic_events_per_step : ndarray, int64 ``(n_steps,)``
    n_neurons, n_synapses : int
        Size of the network that was run.
    """

    n_steps: int
    dt_ms: float
    spikes: int
    synaptic_events: int
    neuron_updates: int
    per_projection: Mapping[str, int]
    spikes_per_population: Mapping[str, int]
    neuron_updates_per_population: Mapping[str, int]
    graded_spikes: int
    spikes_per_step: np.ndarray
    synaptic_events_per_step: np.ndarray
    n_neurons: int
    n_synapses: int

    def __repr__(self) -> str:
        return (
            f"OpCounts(n_steps={self.n_steps}, spikes={self.spikes}, synaptic_events={self.synaptic_events}, "
            f"neuron_updates={self.neuron_updates}, graded_spikes={self.graded_spikes})"
        )

    def equals(self, other: OpCounts) -> bool:
        """Every field equal, per-step arrays included."""
        a, b = self.to_dict(), other.to_dict()
        return a == b

    @staticmethod
    def concat(counts: Sequence[OpCounts]) -> OpCounts:
        """The counts of consecutive runs of one network: totals summed, per-step arrays concatenated."""
        cs = list(counts)
        first = cs[0]
        for c in cs[1:]:
            if (
                c.per_projection.keys() != first.per_projection.keys()
                or c.spikes_per_population.keys() != first.spikes_per_population.keys()
            ):
                from snn.errors import SimulationError

                raise SimulationError("counts: runs of different networks cannot be concatenated")

        def total(attr: str) -> dict[str, int]:
            return {k: int(sum(getattr(c, attr)[k] for c in cs)) for k in getattr(first, attr)}

        return OpCounts(
            n_steps=int(sum(c.n_steps for c in cs)),
            dt_ms=first.dt_ms,
            spikes=int(sum(c.spikes for c in cs)),
            synaptic_events=int(sum(c.synaptic_events for c in cs)),
            neuron_updates=int(sum(c.neuron_updates for c in cs)),
            per_projection=total("per_projection"),
            spikes_per_population=total("spikes_per_population"),
            neuron_updates_per_population=total("neuron_updates_per_population"),
            graded_spikes=int(sum(c.graded_spikes for c in cs)),
            spikes_per_step=np.concatenate([np.asarray(c.spikes_per_step, np.int64) for c in cs]),
            synaptic_events_per_step=np.concatenate([np.asarray(c.synaptic_events_per_step, np.int64) for c in cs]),
            n_neurons=first.n_neurons,
            n_synapses=first.n_synapses,
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (per-step arrays as lists)."""
        return {
            "n_steps": self.n_steps,
            "dt_ms": self.dt_ms,
            "spikes": self.spikes,
            "synaptic_events": self.synaptic_events,
            "neuron_updates": self.neuron_updates,
            "graded_spikes": self.graded_spikes,
            "per_projection": dict(self.per_projection),
            "spikes_per_population": dict(self.spikes_per_population),
            "neuron_updates_per_population": dict(self.neuron_updates_per_population),
            "spikes_per_step": self.spikes_per_step.tolist(),
            "synaptic_events_per_step": self.synaptic_events_per_step.tolist(),
            "n_neurons": self.n_neurons,
            "n_synapses": self.n_synapses,
        }


@dataclass(frozen=True, eq=False)
class RunResult:
    """Recorded activity of a run, its op counts, and the state it ended in.

    Attributes
    ----------
    spikes : dict
        ``{population: bool array (n_steps, n)}`` for recorded populations.
    traces : dict
        ``{population: {variable: array (n_steps, n)}}``, the recorded state after each step.
    counts : OpCounts
    state : snn.SimState or None
        The state after the last step: pass it as ``simulate(..., state=res.state)``
        to continue the run exactly (neurons, messages in flight, step, seed).
    outputs : dict
        ``{population: array (n_steps, n)}`` graded outputs (when "outputs" is recorded).
    t_start : int
        Absolute index of the run's first step.
    engine, seed, wall_time_s : run metadata.
    """

    spikes: Mapping[str, np.ndarray]
    traces: Mapping[str, Mapping[str, np.ndarray]]
    counts: OpCounts
    state: Any = None
    outputs: Mapping[str, np.ndarray] = field(default_factory=dict)
    engine: str = ""
    seed: int = 0
    wall_time_s: float = 0.0
    t_start: int = 0

    @property
    def n_steps(self) -> int:
        return self.counts.n_steps

    @property
    def t_stop(self) -> int:
        """Absolute index of the step after the run's last one."""
        return self.t_start + self.counts.n_steps

    @property
    def final_state(self) -> dict[str, dict[str, np.ndarray]]:
        """Deprecated: ``{population: {variable: (n,)}}`` at the end; use ``state.populations``."""
        warnings.warn("RunResult.final_state is deprecated; use RunResult.state.populations", DeprecationWarning, stacklevel=2)
        if self.state is None:
            return {}
        return {p: dict(d) for p, d in self.state.populations.items()}

    def rates_hz(self, population: str) -> np.ndarray:
        """Mean firing rate of each neuron of a recorded population, in Hz."""
        s = self.spikes[population]
        return s.mean(axis=0) * 1000.0 / self.counts.dt_ms

    def __repr__(self) -> str:
        c = self.counts
        return (
            f"RunResult(engine={self.engine!r}, steps {self.t_start}..{self.t_stop}, spikes={c.spikes}, "
            f"synaptic_events={c.synaptic_events}, recorded={sorted(set(self.spikes) | set(self.traces) | set(self.outputs))})"
        )

    def summary(self) -> str:
        """A short table: per population its messages and rate, per projection its events; silent populations flagged."""
        c = self.counts
        lines = [f"run on {self.engine or '?'}: steps {self.t_start}..{self.t_stop} ({c.n_steps} x {c.dt_ms} ms), seed {self.seed}"]
        lines.append(f"  {'population':<24}{'messages':>12}{'per step':>12}")
        for name, k in c.spikes_per_population.items():
            flag = "   (silent: sent nothing)" if k == 0 else ""
            lines.append(f"  {name:<24}{k:>12}{k / max(1, c.n_steps):>12.3g}{flag}")
        if c.per_projection:
            lines.append(f"  {'projection':<24}{'events':>12}")
            for name, k in c.per_projection.items():
                lines.append(f"  {name:<24}{k:>12}")
        lines.append(f"  total: {c.spikes} messages, {c.synaptic_events} synaptic events, {c.neuron_updates} neuron updates")
        return "\n".join(lines)

    @staticmethod
    def concat(runs: Sequence[RunResult]) -> RunResult:
        """One result for consecutive runs ``a``, ``b``, ... where each continued the previous one's state.

        Recordings are concatenated along time, counts summed (per-step arrays
        concatenated), the state is the last run's.  The runs must be
        contiguous (``runs[i + 1].t_start == runs[i].t_stop``), of one seed,
        with the same recorded names.  ``concat`` of a split run equals the
        unsplit run bit for bit.
        """
        from snn.errors import SimulationError, bad_value

        runs = list(runs)
        if not runs or not all(isinstance(r, RunResult) for r in runs):
            raise bad_value(SimulationError, "runs", runs, "must be a non-empty sequence of RunResult")
        for a, b in zip(runs, runs[1:]):
            if b.t_start != a.t_stop:
                raise bad_value(
                    SimulationError,
                    "runs",
                    f"steps {a.t_start}..{a.t_stop} then {b.t_start}..{b.t_stop}",
                    "must be contiguous: each run continues the previous one's state",
                )
            if b.seed != a.seed:
                raise bad_value(SimulationError, "runs", f"seeds {a.seed} and {b.seed}", "must come from one seed")
            same = (
                a.spikes.keys() == b.spikes.keys(),
                a.outputs.keys() == b.outputs.keys(),
                {k: tuple(v) for k, v in a.traces.items()} == {k: tuple(v) for k, v in b.traces.items()},
            )
            if not all(same):
                raise bad_value(
                    SimulationError, "runs", "different recorded names", "every run must record the same populations and variables"
                )
        if len(runs) == 1:
            return runs[0]
        first, last = runs[0], runs[-1]
        return RunResult(
            spikes={k: np.concatenate([r.spikes[k] for r in runs]) for k in first.spikes},
            traces={p: {v: np.concatenate([r.traces[p][v] for r in runs]) for v in d} for p, d in first.traces.items()},
            counts=OpCounts.concat([r.counts for r in runs]),
            state=last.state,
            outputs={k: np.concatenate([r.outputs[k] for r in runs]) for k in first.outputs},
            engine=last.engine,
            seed=first.seed,
            wall_time_s=float(sum(r.wall_time_s for r in runs)),
            t_start=first.t_start,
        )
