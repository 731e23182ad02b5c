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

import dataclasses
import weakref
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
from snn.state import SimState, check_state, init_state, ring_dtype, structure_of

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
    #: rows of the projection's in-flight record (its largest delay)
    flight_rows: int = 0


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
    #: absolute index of the run's first step
    t0: int = 0
    #: per projection, what is in flight at ``t0``: ``(max_delay, n_post)``, row ``r`` arrives at ``t0 + r``
    in_flight0: list[np.ndarray] = field(default_factory=list)
    #: the network structure (see :func:`snn.state.structure_of`)
    structure: str = ""
    #: ``{population: {name: neuron indices}}`` for records of a subset of neurons (applied by ``simulate``)
    record_index: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    #: the network-dependent part this plan was made from (engines may key caches on it)
    static: Any = None

    def by_name(self, name: str) -> PopulationPlan:
        for p in self.populations:
            if p.name == name:
                return p
        raise KeyError(name)

    def end_state(self, n_steps: int, populations: list[tuple[np.ndarray, ...]], in_flight: list[np.ndarray]) -> SimState:
        """The :class:`snn.SimState` after ``n_steps`` steps from an engine's final arrays (in plan order)."""
        pops = {
            p.name: {
                v: np.asarray(a, dtype=np.asarray(p.state0[e]).dtype) for e, (v, a) in enumerate(zip(p.state_vars, populations[p.index]))
            }
            for p in self.populations
        }
        flight = {pr.name: np.asarray(in_flight[pr.index], dtype=pr.dtype) for pr in self.projections}
        return SimState.owning(
            t=self.t0 + int(n_steps), seed=self.seed, dt_ms=self.dt_ms, populations=pops, in_flight=flight, structure=self.structure
        )

    def ring_in(self, j: int, n_slots: int) -> list[tuple[int, np.ndarray]]:
        """``[(ring slot, values), ...]`` of projection ``j``'s messages in flight at ``t0``, for a ring of ``n_slots``."""
        return [((self.t0 + r) % n_slots, row) for r, row in enumerate(self.in_flight0[j]) if row.any()]

    def ring_out(self, n_steps: int, j: int, read_slot: Callable[[int], np.ndarray]) -> np.ndarray:
        """Projection ``j``'s messages in flight after ``n_steps``, read from its ring with ``read_slot(slot)``."""
        pr = self.projections[j]
        n_slots = pr.max_delay + 1
        rows = [np.asarray(read_slot((self.t0 + n_steps + r) % n_slots)) for r in range(pr.flight_rows)]
        return np.stack(rows).astype(pr.dtype) if rows else np.zeros((0, pr.weights.shape[0]), pr.dtype)


def _as_index(value: Any, n: int, what: str) -> np.ndarray:
    try:
        idx = np.asarray(value)
    except (TypeError, ValueError):
        idx = np.asarray([None])
    if idx.ndim != 1 or idx.size == 0 or idx.dtype.kind not in "iu":
        raise bad_value(SimulationError, what, value, f"must be a non-empty list of neuron indices in [0, {n})")
    if idx.min() < 0 or idx.max() >= n:
        raise bad_value(SimulationError, what, value, f"neuron indices must be in [0, {n})")
    return idx.astype(np.int64)


def parse_record(network: Network, record: Any, *, with_index: bool = False) -> tuple:
    """Normalise ``record`` into (spike pops, {pop: state vars}, graded-output pops[, {pop: {name: indices}}]).

    ``record`` is a tuple of names applied to every population where they exist
    (``"spikes"``, ``"outputs"``, or state variable names such as ``"v"``), or a
    dict ``{population: names}``, where ``names`` is a tuple of names or a dict
    ``{name: neuron indices or None}`` to record only some neurons (Brian2's
    ``StateMonitor(record=[...])``).
    """
    pops = network.populations
    if isinstance(record, str):
        record = (record,)
    index: dict[str, dict[str, np.ndarray]] = {}
    if isinstance(record, Mapping):
        spec = {}
        for name, what in record.items():
            pop = network.population(name)
            if isinstance(what, Mapping):
                names = []
                for var, sel in what.items():
                    names.append(var)
                    if sel is not None:
                        index.setdefault(name, {})[var] = _as_index(sel, pop.n, f"record[{name!r}][{var!r}]")
                spec[name] = tuple(names)
            elif isinstance(what, str):
                spec[name] = (what,)
            elif isinstance(what, (tuple, list, set, frozenset)):
                spec[name] = tuple(what)
            else:
                raise bad_value(
                    SNNTypeError,
                    f"record[{name!r}]",
                    what,
                    "must be a name, a tuple of names like ('spikes', 'v') or a dict {name: neuron indices}",
                )
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
                raise bad_value(
                    SimulationError,
                    f"record[{p.name!r}]",
                    what,
                    f"allowed: 'spikes', 'outputs' or a state variable of {type(p.model).__name__} {list(p.model.state_vars)}",
                )
            else:
                continue
            used.add(what)
    if not strict:
        unknown = set(spec[pops[0].name] if pops else ()) - used - {"spikes", "outputs"}
        if unknown:
            allowed = sorted({v for p in pops for v in p.model.state_vars})
            raise bad_value(
                SimulationError,
                "record",
                sorted(unknown),
                f"no population has these state variables; allowed: 'spikes', 'outputs', {allowed}",
            )
    if with_index:
        return spikes, state, outputs, index
    return spikes, state, outputs


@dataclass(eq=False)
class _Static:
    """The part of a plan that depends on the network only (cached per network)."""

    signature: tuple
    populations: list[PopulationPlan]
    projections: list[ProjectionPlan]
    order: list[int]
    structure: str
    #: derived per-network data engines may keep (e.g. the reference engine's per-delay matrices)
    cache: dict = field(default_factory=dict)


_STATIC: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _signature(network: Network) -> tuple:
    # populations and projections are immutable records, held by the network: their identities
    # say whether it changed (a population or projection added)
    return (network.dt_ms, tuple(id(p) for p in network.populations), tuple(id(pr) for pr in network.projections))


def _readonly_csr(w: sp.csr_matrix) -> sp.csr_matrix:
    for a in (w.data, w.indices, w.indptr):
        a.setflags(write=False)
    return w


def _static_plan(network: Network) -> _Static:
    sig = _signature(network)
    hit = _STATIC.get(network)
    if hit is not None and hit.signature == sig:
        return hit
    index = {p.name: i for i, p in enumerate(network.populations)}
    pops = []
    for i, p in enumerate(network.populations):
        state0 = p.state0()
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
                key=0,
                dtype=np.dtype(p.model.dtype),
                graded=bool(p.model.graded),
                is_source=bool(p.model.is_source),
            )
        )
    projs = []
    for j, pr in enumerate(network.projections):
        syn = pr.synapse
        w = syn.prepare(pr.weights) if syn is not None else pr.weights
        dtype = ring_dtype(pr)
        w = sp.csr_matrix(w, dtype=dtype)
        if w is not pr.weights:
            w = _readonly_csr(w)
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
            flight_rows=pr.delay_range[1],
        )
        projs.append(plan)
        pops[plan.pre].outgoing.append(j)
        pops[plan.post].incoming.append(j)
    static = _Static(sig, pops, projs, [index[name] for name in network.update_order()], structure_of(network))
    _STATIC[network] = static
    return static


def build_plan(
    network: Network,
    *,
    seed: int | None = None,
    record: Any = ("spikes",),
    inputs: Mapping[str, Any] | None = None,
    n_steps: int,
    state: SimState | None = None,
) -> Plan:
    """Flatten ``network`` into a :class:`Plan` for a run of ``n_steps`` from ``state``.

    Without ``state`` the run starts at step 0 from the network's initial state
    with ``seed``.  The network-dependent part is built once per network and
    reused by later runs (a network's populations and projections are immutable).
    """
    if not isinstance(network, Network):
        raise SNNTypeError(f"network={network!r}: must be a snn.Network")
    if not network.populations:
        raise bad_value(SimulationError, "network", network, "has no populations")
    static = _static_plan(network)
    if state is None:
        state = init_state(network, seed=0 if seed is None else seed)
    else:
        check_state(state, network, static.structure)
    if inputs is not None and not isinstance(inputs, Mapping):
        raise bad_value(SNNTypeError, "inputs", inputs, "must be None or a dict {population: array (n_steps, n)}")
    inputs = dict(inputs or {})
    pops = []
    for sp_ in static.populations:
        p = network.populations[sp_.index]
        ext = None
        if isinstance(p.model, ExternalInput):
            if p.name not in inputs:
                raise bad_value(
                    SimulationError,
                    "inputs",
                    sorted(inputs),
                    f"population {p.name!r} is an ExternalInput: pass inputs={{{p.name!r}: array (n_steps, {p.n})}}",
                )
            ext = check_array(inputs.pop(p.name), f"inputs[{p.name!r}]", dtype=sp_.dtype, kinds="biuf", finite=False, cls=SimulationError)
            if ext.ndim != 2 or ext.shape[1] != p.n or not np.all(np.isfinite(ext)):
                raise bad_value(
                    SimulationError, f"inputs[{p.name!r}]", f"array of shape {ext.shape}", f"must be a finite array ({n_steps}, {p.n})"
                )
            if ext.shape[0] != n_steps:
                raise bad_value(
                    SimulationError,
                    f"inputs[{p.name!r}]",
                    f"array with {ext.shape[0]} steps",
                    f"must give exactly one row per step of this run ({n_steps}); rows are the run's own steps, from state.t = {state.t}",
                )
        st = state.populations[p.name]
        pops.append(
            dataclasses.replace(
                sp_,
                state0=tuple(st[v] for v in sp_.state_vars),  # read-only: every engine copies what it changes
                key=_rng.stream_key(state.seed, sp_.index),
                external=ext,
                incoming=list(sp_.incoming),
                outgoing=list(sp_.outgoing),
            )
        )
    if inputs:
        raise bad_value(
            SimulationError, "inputs", sorted(inputs), "names populations that are not ExternalInput populations of this network"
        )
    spikes, state_rec, outputs, index = parse_record(network, record, with_index=True)
    return Plan(
        dt_ms=network.dt_ms,
        seed=state.seed,
        populations=pops,
        projections=static.projections,
        order=list(static.order),
        record_spikes=spikes,
        record_state=state_rec,
        record_outputs=outputs,
        n_synapses=network.n_synapses,
        t0=int(state.t),
        in_flight0=[np.asarray(state.in_flight[pr.name]) for pr in static.projections],
        structure=static.structure,
        record_index=index,
        static=static,
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
