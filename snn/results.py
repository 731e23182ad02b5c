"""What a run returns: recorded spikes and state, and the operation counts."""

from __future__ import annotations

from collections.abc import Mapping
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
    """Recorded activity of a run.

    Attributes
    ----------
    spikes : dict
        ``{population: bool array (n_steps, n)}`` for recorded populations.
    state : dict
        ``{population: {variable: array (n_steps, n)}}``, the value after each step.
    outputs : dict
        ``{population: array (n_steps, n)}`` graded outputs (when "outputs" is recorded).
    counts : OpCounts
    final_state : dict
        ``{population: {variable: array (n,)}}`` at the end of the run.
    engine, seed, wall_time_s : run metadata.
    """

    spikes: Mapping[str, np.ndarray]
    state: Mapping[str, Mapping[str, np.ndarray]]
    counts: OpCounts
    final_state: Mapping[str, Mapping[str, np.ndarray]]
    outputs: Mapping[str, np.ndarray] = field(default_factory=dict)
    engine: str = ""
    seed: int = 0
    wall_time_s: float = 0.0

    @property
    def n_steps(self) -> int:
        return self.counts.n_steps

    def rates_hz(self, population: str) -> np.ndarray:
        """Mean firing rate of each neuron of a recorded population, in Hz."""
        s = self.spikes[population]
        return s.mean(axis=0) * 1000.0 / self.counts.dt_ms
