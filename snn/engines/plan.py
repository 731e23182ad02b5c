"""Turn a :class:`snn.Network` into the flat arrays every engine runs.

The plan is engine-neutral numpy: per population the kernel, its parameter
arrays, its initial state and its random key; per projection the prepared
weights (CSR ``(n_post, n_pre)``), the per-synapse delays, the out-degree of each
pre neuron and the synapse kernel.  Building a plan never changes the network.

Step order (every engine follows it; documented in :func:`snn.simulate`):
for each step ``t`` and each population in order: (1) its input ``x`` is the sum
of what its incoming projections deliver at ``t`` (each projection's
accumulated sum passed through its synapse kernel); (2) its kernel updates the
state, thresholds and resets, giving the output; (3) the output is recorded and
sent through each outgoing projection, arriving ``delay`` steps later.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from snn import _rng
from snn.errors import MAX_DELAY_STEPS, SimulationError, SNNTypeError, bad_value, check_array, check_delays
from snn.models import ExternalInput, NeuronModel
from snn.network import Network
from snn.results import OpCounts

__all__ = ["Plan", "PopulationPlan", "ProjectionPlan", "build_plan", "parse_record", "split_by_delay", "make_counts"]


@dataclass
class PopulationPlan:
    index: int
    name: str
    n: int
    model: NeuronModel
    kernel: Callable
    params: tuple[np.ndarray, ...]
    state0: tuple[np.ndarray, ...]
    state_vars: tuple[str, ...]
    key: int
    dtype: np.dtype
    graded: bool
    is_source: bool
    external: np.ndarray | None = None
    incoming: list[int] = field(default_factory=list)
    outgoing: list[int] = field(default_factory=list)


@dataclass
class ProjectionPlan:
    index: int
    name: str
    pre: int
    post: int
    weights: sp.csr_matrix
    delays: np.ndarray
    max_delay: int
    out_degree: np.ndarray
    min_delay: int
    dtype: np.dtype
    syn_kernel: Callable | None
    syn_params: tuple[np.ndarray, ...]


@dataclass
class Plan:
    dt_ms: float
    seed: int
    populations: list[PopulationPlan]
    projections: list[ProjectionPlan]
    order: list[int]
    record_spikes: set[str]
    record_state: dict[str, tuple[str, ...]]
    record_outputs: set[str]
    n_synapses: int

    def by_name(self, name: str) -> PopulationPlan:
        for p in self.populations:
            if p.name == name:
                return p
        raise KeyError(name)


def parse_record(network: Network, record: Any) -> tuple[set[str], dict[str, tuple[str, ...]], set[str]]:
    """Normalise ``record`` into (spike pops, {pop: state vars}, graded-output pops).

    ``record`` is a tuple of names applied to every population where they exist
    (``"spikes"``, ``"outputs"``, or state variable names such as ``"v"``), or a
    dict ``{population: tuple of names}``.
    """
    pops = network.populations
    if isinstance(record, str):
        record = (record,)
    if isinstance(record, Mapping):
        spec = {}
        for name, what in record.items():
            network.population(name)
            if not isinstance(what, (str, tuple, list, set, frozenset)):
                raise bad_value(SNNTypeError, f"record[{name!r}]", what, "must be a name or a tuple of names like ('spikes', 'v')")
            spec[name] = (what,) if isinstance(what, str) else tuple(what)
        strict = True
    elif isinstance(record, (tuple, list, set, frozenset)):
        spec = {p.name: tuple(record) for p in pops}
        strict = False
    else:
        raise SNNTypeError(f"record={record!r}: must be a tuple of names like ('spikes', 'v') or a dict {{population: names}}")
    spikes, state, outputs = set(), {}, set()
    used = set()
    for p in pops:
        for what in spec.get(p.name, ()):
            if not isinstance(what, str):
                raise SNNTypeError(f"record: entry {what!r} must be a str")
            if what == "spikes":
                spikes.add(p.name)
            elif what == "outputs":
                outputs.add(p.name)
            elif what in p.model.state_vars:
                state.setdefault(p.name, ())
                state[p.name] += (what,)
            elif strict:
                raise bad_value(SimulationError, f"record[{p.name!r}]", what, f"allowed: 'spikes', 'outputs' or a state variable of {type(p.model).__name__} {list(p.model.state_vars)}")
            else:
                continue
            used.add(what)
    if not strict:
        unknown = set(spec[pops[0].name] if pops else ()) - used - {"spikes", "outputs"}
        if unknown:
            allowed = sorted({v for p in pops for v in p.model.state_vars})
            raise bad_value(SimulationError, "record", sorted(unknown), f"no population has these state variables; allowed: 'spikes', 'outputs', {allowed}")
    return spikes, state, outputs


def build_plan(network: Network, *, seed: int, record: Any = ("spikes",), inputs: Mapping[str, Any] | None = None, n_steps: int) -> Plan:
    """Flatten ``network`` into a :class:`Plan` for a run of ``n_steps`` with ``seed``."""
    if not isinstance(network, Network):
        raise SNNTypeError(f"network={network!r}: must be a snn.Network")
    if not network.populations:
        raise bad_value(SimulationError, "network", network, "has no populations")
    index = {p.name: i for i, p in enumerate(network.populations)}
    if inputs is not None and not isinstance(inputs, Mapping):
        raise bad_value(SNNTypeError, "inputs", inputs, "must be None or a dict {population: array (n_steps, n)}")
    inputs = dict(inputs or {})
    pops = []
    for i, p in enumerate(network.populations):
        state0 = p.state0()
        dtype = np.dtype(p.model.dtype)
        ext = None
        if isinstance(p.model, ExternalInput):
            if p.name not in inputs:
                raise bad_value(SimulationError, "inputs", sorted(inputs), f"population {p.name!r} is an ExternalInput: pass inputs={{{p.name!r}: array (n_steps, {p.n})}}")
            ext = check_array(inputs.pop(p.name), f"inputs[{p.name!r}]", dtype=dtype, kinds="biuf", finite=False, cls=SimulationError)
            if ext.ndim != 2 or ext.shape[1] != p.n or ext.shape[0] < 1 or not np.all(np.isfinite(ext)):
                raise bad_value(SimulationError, f"inputs[{p.name!r}]", f"array of shape {ext.shape}", f"must be a finite array (n_steps, {p.n})")
            if ext.shape[0] < n_steps:
                ext = np.concatenate([ext, np.zeros((n_steps - ext.shape[0], p.n), dtype=dtype)])
        pops.append(
            PopulationPlan(
                index=i,
                name=p.name,
                n=p.n,
                model=p.model,
                kernel=type(p.model).kernel,
                params=tuple(p.model.params(p.n, network.dt_ms)),
                state0=tuple(state0[v] for v in p.model.state_vars),
                state_vars=tuple(p.model.state_vars),
                key=_rng.stream_key(seed, i),
                dtype=dtype,
                graded=bool(p.model.graded),
                is_source=bool(p.model.is_source),
                external=ext,
            )
        )
    if inputs:
        raise bad_value(SimulationError, "inputs", sorted(inputs), "names populations that are not ExternalInput populations of this network")
    projs = []
    for j, pr in enumerate(network.projections):
        syn = pr.synapse
        w = syn.prepare(pr.weights) if syn is not None else pr.weights
        dtype = np.dtype(syn.dtype) if syn is not None else np.dtype(np.float64)
        w = sp.csr_matrix(w, dtype=dtype)
        # the delay rule every engine relies on (rings of max_delay + 1 slots, the event engine's
        # int32 per-synapse delays): int64 in [0, MAX_DELAY_STEPS], whatever built the network
        delays = pr.delays
        lo, hi = pr.delay_range
        if delays.dtype != np.int64 or lo < 0 or hi > MAX_DELAY_STEPS:
            delays = check_delays(delays, f"projection {pr.name!r} delays", cls=SimulationError)
        plan = ProjectionPlan(
            index=j,
            name=pr.name,
            pre=index[pr.pre],
            post=index[pr.post],
            weights=w,
            delays=delays,
            max_delay=pr.delay_range[1] if pr.n_synapses else 1,
            out_degree=pr.out_degree(),
            min_delay=pr.delay_range[0],
            dtype=dtype,
            syn_kernel=type(syn).kernel if syn is not None else None,
            syn_params=tuple(syn.params()) if syn is not None else (),
        )
        projs.append(plan)
        pops[plan.pre].outgoing.append(j)
        pops[plan.post].incoming.append(j)
    spikes, state, outputs = parse_record(network, record)
    return Plan(
        dt_ms=network.dt_ms,
        seed=seed,
        populations=pops,
        projections=projs,
        order=[index[name] for name in network.update_order()],
        record_spikes=spikes,
        record_state=state,
        record_outputs=outputs,
        n_synapses=network.n_synapses,
    )


def split_by_delay(proj: ProjectionPlan) -> list[tuple[int, sp.csr_matrix]]:
    """The projection's weights as one CSR matrix per distinct delay, ``[(delay, W_d), ...]``."""
    w = proj.weights
    rows = np.repeat(np.arange(w.shape[0]), np.diff(w.indptr))
    out = []
    for d in np.unique(proj.delays):
        mask = proj.delays == d
        out.append((int(d), sp.csr_matrix((w.data[mask], (rows[mask], w.indices[mask])), shape=w.shape, dtype=w.dtype)))
    return out


def make_counts(plan: Plan, n_steps: int, spikes_per_step, events_per_step, per_projection, per_population) -> OpCounts:
    """Assemble :class:`OpCounts` from an engine's tallies (int64 arrays)."""
    pops, projs = plan.populations, plan.projections
    per_projection = np.asarray(per_projection, dtype=np.int64)
    per_population = np.asarray(per_population, dtype=np.int64)
    return OpCounts(
        n_steps=int(n_steps),
        dt_ms=plan.dt_ms,
        spikes=int(np.sum(spikes_per_step)),
        synaptic_events=int(np.sum(events_per_step)),
        neuron_updates=int(sum(p.n for p in pops if not p.is_source) * n_steps),
        per_projection={pr.name: int(per_projection[j]) for j, pr in enumerate(projs)},
        spikes_per_population={p.name: int(per_population[i]) for i, p in enumerate(pops)},
        neuron_updates_per_population={p.name: (0 if p.is_source else p.n * int(n_steps)) for p in pops},
        graded_spikes=int(sum(per_population[i] for i, p in enumerate(pops) if p.graded)),
        spikes_per_step=np.asarray(spikes_per_step, dtype=np.int64),
        synaptic_events_per_step=np.asarray(events_per_step, dtype=np.int64),
        n_neurons=sum(p.n for p in pops),
        n_synapses=plan.n_synapses,
    )
