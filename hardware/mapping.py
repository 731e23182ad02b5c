"""Map a network onto neuromorphic cores, and count the spike traffic of a run.

:func:`map_network` partitions every population into cores within every
per-core limit of a :class:`~hardware.chips.ChipSpec` and places the cores on
a 2D mesh (chips tiled side by side) or on a 3D stack of ``layers`` meshes
joined by vertical links.  :func:`traffic` replays a :class:`snn.RunResult` on
that mapping and counts messages, link traversals per link type and the work
of the busiest core in every step; ``traffic(...).to_dict()`` is the plain
dict the energy estimator prices.

Model
-----
- A core holds neurons of one population.  Its limits (checked exactly):
  neurons <= ``neurons_per_core``; fan-in axons (distinct presynaptic neurons
  with at least one synapse in the core) <= ``fanin_axons_per_core``; fan-out
  axons (sum over its neurons of the number of distinct destination cores,
  its own core included) <= ``fanout_axons_per_core``; memory (synapses
  stored in the core times ``synapse_bits``, plus ``neuron_state_bits`` per
  neuron where the chip shares that memory) <= ``synaptic_memory_bits_per_core``.
  Synapses are stored at the destination (postsynaptic) core.
- Messages follow Loihi's multicast model: a spike (or non-zero graded output)
  of a neuron sends one message to every distinct core holding at least one
  of its synapses; a message to its own core is local (no link traversed).
- Routes are dimension-ordered: east-west (``x``, mesh columns) first, then
  north-south (``y``, mesh rows), then vertical (``z``, stack layers); a route
  from ``a`` to ``b`` crosses ``|dx|`` E-W, ``|dy|`` N-S and ``|dz|`` vertical
  links.  Links between chips of a layer count as ordinary E-W/N-S links.
- Synaptic events are attributed to the destination core in the step the spike
  is sent (as :class:`snn.OpCounts` counts them), so per step they sum to
  ``counts.synaptic_events_per_step``.  Every non-source neuron is updated
  once per step on its core.  Source populations (inputs) occupy cores like
  any other, their spikes enter the mesh there, and they do no neuron updates.

Placement
---------
``placement="sequential"`` takes neurons in index order, population after
population, and fills the mesh slots in order.  ``placement="locality"`` sorts
each population's neurons along a 3D Hilbert curve through their positions
before partitioning (so a core holds a compact piece of space) and assigns
cores to the same mesh slots by recursive coordinate bisection (halve the
cores at the median of their centroids along their longest spatial extent,
halve the slots along their longest mesh extent, recurse), so cores close in
space sit close on the chip.  Both use the same slots: per layer, chip after
chip of a near-square chip grid, a partly filled chip using a near-square
block of its mesh.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from hardware import chips as _chips
from snn._frontier import frontier
from snn.errors import SNNError, SNNTypeError, bad_value
from snn.network import Network
from snn.results import RunResult

__all__ = ["MappingError", "MappingResult", "Traffic", "hilbert_index", "map_network", "traffic"]

_TOPOLOGIES = ("2d", "3d")
_PLACEMENTS = ("locality", "sequential")
_HILBERT_BITS = 10
_MAX_FANOUT_ROUNDS = 64
# split cores to this fraction of the fan-out limit, leaving room for the destinations later splits add
_FANOUT_FILL = 0.75


class MappingError(SNNError, ValueError):
    """A network does not fit a chip's limits, or mapping arguments are invalid."""


# --------------------------------------------------------------------------- records


@dataclass(frozen=True, eq=False)
class MappingResult:
    """Where every neuron of a network sits on the chip(s).

    Attributes
    ----------
    network : snn.Network
        The mapped network (used by :func:`traffic` for its projections).
    chip : ChipSpec
    topology : {"2d", "3d"}
    layers : int
        Meshes stacked (1 for ``"2d"``).
    placement : {"locality", "sequential"}
    synapse_bits : int
        Bits charged per stored synapse.
    populations : tuple of str
        Population names in network order; global neuron ids run population
        after population (``offsets[name] + local index``).
    offsets : dict
        ``{population: first global neuron id}``.
    neuron_core : ndarray, int64 ``(n_neurons,)``
        Core of every neuron (global ids).
    core_population : ndarray, int64 ``(n_cores,)``
        Index into ``populations`` of each core's population.
    core_xyz : ndarray, int64 ``(n_cores, 3)``
        Mesh coordinates ``(x: E-W column, y: N-S row, z: layer)``.
    core_chip : ndarray, int64 ``(n_cores,)``
        Chip of each core, numbered ``0 .. n_chips-1``.
    fabric_shape : tuple of int
        ``(layers, rows, cols)`` of the mesh nodes available per layer.
    core_neurons, core_fanin_axons, core_fanout_axons, core_synapses, core_memory_bits : ndarray, int64 ``(n_cores,)``
        What each core uses of every limit.
    destinations : scipy.sparse.csr_matrix, int64 ``(n_neurons, n_cores)``
        Synapses of each source neuron in each core (its multicast targets).
    """

    network: Network
    chip: _chips.ChipSpec
    topology: str
    layers: int
    placement: str
    synapse_bits: int
    populations: tuple[str, ...]
    offsets: dict[str, int]
    neuron_core: np.ndarray
    core_population: np.ndarray
    core_xyz: np.ndarray
    core_chip: np.ndarray
    fabric_shape: tuple[int, int, int]
    core_neurons: np.ndarray
    core_fanin_axons: np.ndarray
    core_fanout_axons: np.ndarray
    core_synapses: np.ndarray
    core_memory_bits: np.ndarray
    destinations: sp.csr_matrix
    # per source neuron, precomputed once: [E-W, N-S, vertical] link traversals of one spike,
    # its number of messages, whether one is local, and its longest route
    _route: np.ndarray = field(repr=False, default=None)  # type: ignore[assignment]
    _n_messages: np.ndarray = field(repr=False, default=None)  # type: ignore[assignment]
    _local: np.ndarray = field(repr=False, default=None)  # type: ignore[assignment]
    _max_hops: np.ndarray = field(repr=False, default=None)  # type: ignore[assignment]

    @property
    def n_cores(self) -> int:
        return int(self.core_population.shape[0])

    @property
    def n_chips(self) -> int:
        return int(self.core_chip.max()) + 1 if self.n_cores else 0

    @property
    def n_neurons(self) -> int:
        return int(self.neuron_core.shape[0])

    @property
    def max_route_hops(self) -> int:
        """The longest route (links) any synapse of the network needs."""
        return int(self._max_hops.max()) if self._max_hops.size else 0

    def cores_of(self, population: str) -> np.ndarray:
        """Core of each neuron of ``population``, int64 ``(n,)``."""
        if population not in self.offsets:
            raise bad_value(MappingError, "population", population, f"unknown; mapped populations: {list(self.populations)}")
        start = self.offsets[population]
        return self.neuron_core[start : start + self.network.population(population).n].copy()

    def route(self, src_core: int, dst_core: int) -> tuple[int, int, int]:
        """Links ``(E-W, N-S, vertical)`` a message from ``src_core`` to ``dst_core`` crosses."""
        d = np.abs(self.core_xyz[int(dst_core)] - self.core_xyz[int(src_core)])
        return int(d[0]), int(d[1]), int(d[2])

    def hops_per_spike(self) -> dict[str, int]:
        """Total links crossed if every neuron spiked once: ``{"ew", "ns", "vertical"}``.

        A run-independent measure of placement quality (for run-weighted totals use :func:`traffic`).
        """
        tot = self._route.sum(axis=0)
        return {"ew": int(tot[0]), "ns": int(tot[1]), "vertical": int(tot[2])}

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able summary (no per-neuron arrays)."""
        return {
            "chip": self.chip.name,
            "topology": self.topology,
            "layers": self.layers,
            "placement": self.placement,
            "synapse_bits": self.synapse_bits,
            "n_cores": self.n_cores,
            "n_chips": self.n_chips,
            "fabric_shape": list(self.fabric_shape),
            "cores_per_population": {p: int(np.count_nonzero(self.core_population == i)) for i, p in enumerate(self.populations)},
            "max_core_neurons": int(self.core_neurons.max(initial=0)),
            "max_core_fanin_axons": int(self.core_fanin_axons.max(initial=0)),
            "max_core_fanout_axons": int(self.core_fanout_axons.max(initial=0)),
            "max_core_memory_bits": int(self.core_memory_bits.max(initial=0)),
            "max_route_hops": self.max_route_hops,
            "hops_per_spike": self.hops_per_spike(),
        }

    def __repr__(self) -> str:
        return (
            f"MappingResult(chip={self.chip.name!r}, topology={self.topology!r}, layers={self.layers}, "
            f"placement={self.placement!r}, n_cores={self.n_cores}, n_chips={self.n_chips})"
        )


@dataclass(frozen=True, eq=False)
class Traffic:
    """Spike traffic of one run on one mapping.

    Attributes
    ----------
    n_steps, n_cores, n_chips : int
    topology : str
    messages : int
        Spike messages sent (one per spike and distinct destination core).
    messages_local : int
        Messages delivered within their source core.
    hops_ew, hops_ns, hops_vertical : int
        Link traversals by all messages over the run, per link type.
    messages_per_core_pair : scipy.sparse.csr_matrix, int64 ``(n_cores, n_cores)``
        ``[source core, destination core]`` messages.
    per_step_core_synaptic_events : scipy.sparse.csr_matrix, int64 ``(n_steps, n_cores)``
        Synaptic events of each core in each step.
    per_core_neuron_updates : ndarray, int64 ``(n_cores,)``
        Neuron updates of each core per step.
    per_step_messages : ndarray, int64 ``(n_steps,)``
    per_step_max_core_synaptic_events, per_step_max_core_neuron_updates, per_step_max_hops : ndarray, int64 ``(n_steps,)``
        The per-step latency bound inputs: the busiest core's synaptic events and
        neuron updates, and the longest route used in the step (0 when none).
    per_step_max_core_spikes, per_step_max_core_messages_sent, per_step_max_core_messages_received : ndarray, int64 ``(n_steps,)``
        Per step, the largest number over cores of non-source neurons fired,
        messages sent and messages received (``to_dict(include_cores=True)``).
    """

    n_steps: int
    n_cores: int
    n_chips: int
    topology: str
    messages: int
    messages_local: int
    hops_ew: int
    hops_ns: int
    hops_vertical: int
    messages_per_core_pair: sp.csr_matrix
    per_step_core_synaptic_events: sp.csr_matrix
    per_core_neuron_updates: np.ndarray
    per_step_messages: np.ndarray
    per_step_max_core_synaptic_events: np.ndarray
    per_step_max_core_neuron_updates: np.ndarray
    per_step_max_hops: np.ndarray
    per_step_max_core_spikes: np.ndarray | None = None
    per_step_max_core_messages_sent: np.ndarray | None = None
    per_step_max_core_messages_received: np.ndarray | None = None
    per_step_core_spikes: sp.csr_matrix | None = None
    per_step_core_messages_sent: sp.csr_matrix | None = None
    per_step_core_messages_received: sp.csr_matrix | None = None

    #: above this many cores ``to_dict(include_cores=True)`` leaves the per-core rows out (their frontier costs k^2 per step)
    MAX_CORES_FOR_ROWS = 256

    def core_rows(self) -> tuple[list[list[list[int]]], list[list[list[int]]]] | None:
        """Per step, the per-core rows no other core dominates: send ``[neuron_updates, spikes, messages_sent]``, receive ``[messages_received, synaptic_events]``.

        What ``loihi1_sanafe``'s time model (each core the larger of its send and
        receive work, the busiest core sets the step) needs to be exact for any
        latencies; None when the per-core matrices were not kept or there are
        more than :attr:`MAX_CORES_FOR_ROWS` cores.
        """
        if self.per_step_core_spikes is None or self.per_step_core_messages_sent is None or self.per_step_core_messages_received is None:
            return None
        if self.n_cores > self.MAX_CORES_FOR_ROWS:
            return None
        fired, sent, recv, syn = (
            np.rint(m.toarray()).astype(np.int64)  # integral counts (a float product on the way)
            for m in (
                self.per_step_core_spikes,
                self.per_step_core_messages_sent,
                self.per_step_core_messages_received,
                self.per_step_core_synaptic_events,
            )
        )
        nu = np.broadcast_to(np.asarray(self.per_core_neuron_updates, dtype=np.int64), fired.shape)
        send_rows, recv_rows = [], []
        for k in range(self.n_steps):
            send_rows.append(frontier(np.stack([nu[k], fired[k], sent[k]], axis=1)).tolist())
            recv_rows.append(frontier(np.stack([recv[k], syn[k]], axis=1)).tolist())
        return send_rows, recv_rows

    @property
    def total_hops(self) -> int:
        return self.hops_ew + self.hops_ns + self.hops_vertical

    @property
    def messages_remote(self) -> int:
        """Messages delivered to another core than their source's."""
        return self.messages - self.messages_local

    def to_dict(self, *, include_remote: bool = False, include_cores: bool = False) -> dict[str, Any]:
        """The plain dict of the mapping contract (``energy.estimate(..., mapping=...)``).

        Exactly the contract's keys; ``include_remote=True`` adds ``"messages_remote"``
        and ``include_cores=True`` the per-step per-core maxima
        ``per_step_max_core_spikes``, ``per_step_max_core_messages_sent`` and
        ``per_step_max_core_messages_received`` (the estimator's optional keys:
        without them its per-step time models spread spikes and messages evenly
        over the cores) and, up to :attr:`MAX_CORES_FOR_ROWS` cores, the per-core
        rows ``per_step_core_send`` / ``per_step_core_receive`` (:meth:`core_rows`;
        without them the per-core max of send and receive work is an upper bound).
        """
        extra: dict[str, Any] = {"messages_remote": int(self.messages_remote)} if include_remote else {}
        if include_cores:
            for key in ("per_step_max_core_spikes", "per_step_max_core_messages_sent", "per_step_max_core_messages_received"):
                extra[key] = [int(v) for v in getattr(self, key)]
            rows = self.core_rows()
            if rows is not None:
                extra["per_step_core_send"], extra["per_step_core_receive"] = rows
        return {
            **extra,
            "n_cores": int(self.n_cores),
            "n_chips": int(self.n_chips),
            "topology": self.topology,
            "messages_local": int(self.messages_local),
            "hops": {"ew": int(self.hops_ew), "ns": int(self.hops_ns), "vertical": int(self.hops_vertical)},
            "per_step_max_core_synaptic_events": [int(v) for v in self.per_step_max_core_synaptic_events],
            "per_step_max_core_neuron_updates": [int(v) for v in self.per_step_max_core_neuron_updates],
            "per_step_max_hops": [int(v) for v in self.per_step_max_hops],
        }


# --------------------------------------------------------------------------- Hilbert curve


def hilbert_index(coords: np.ndarray, bits: int) -> np.ndarray:
    """Position along a 3D Hilbert curve of integer grid points.

    Skilling's transpose algorithm (AIP Conf. Proc. 707, 381 (2004)), vectorised.

    Parameters
    ----------
    coords : array_like of int, ``(n, 3)``
        Grid coordinates in ``[0, 2**bits)``.
    bits : int
        Bits per axis, 1 to 21.

    Returns
    -------
    ndarray, uint64 ``(n,)``
        Indices in ``[0, 2**(3*bits))``; consecutive indices are grid neighbours.
    """
    if isinstance(bits, bool) or not isinstance(bits, numbers.Integral) or not 1 <= bits <= 21:
        raise bad_value(MappingError, "bits", bits, "must be an int from 1 to 21")
    c = np.asarray(coords)
    if c.ndim != 2 or c.shape[1] != 3:
        raise bad_value(MappingError, "coords", f"array of shape {c.shape}", "must have shape (n, 3)")
    if c.size and (c.min() < 0 or c.max() >= (1 << bits)):
        raise bad_value(MappingError, "coords", f"values in [{c.min()}, {c.max()}]", f"must lie in [0, {1 << bits})")
    x = [c[:, i].astype(np.uint64) for i in range(3)]
    zero = np.uint64(0)
    q = 1 << (bits - 1)
    while q > 1:  # inverse undo of the excess work
        p = np.uint64(q - 1)
        uq = np.uint64(q)
        for i in range(3):
            hit = (x[i] & uq) != 0
            x[0] = np.where(hit, x[0] ^ p, x[0])
            t = np.where(hit, zero, (x[0] ^ x[i]) & p)
            x[0] = x[0] ^ t
            x[i] = x[i] ^ t
        q >>= 1
    x[1] = x[1] ^ x[0]  # Gray encode
    x[2] = x[2] ^ x[1]
    t = np.zeros_like(x[0])
    q = 1 << (bits - 1)
    while q > 1:
        t = np.where((x[2] & np.uint64(q)) != 0, t ^ np.uint64(q - 1), t)
        q >>= 1
    key = np.zeros_like(x[0])
    for i in range(3):
        x[i] = x[i] ^ t
    for b in range(bits - 1, -1, -1):
        for i in range(3):
            key = (key << np.uint64(1)) | ((x[i] >> np.uint64(b)) & np.uint64(1))
    return key


def _locality_order(positions: np.ndarray, lo: np.ndarray, span: np.ndarray) -> np.ndarray:
    """Neuron order along the Hilbert curve through a common bounding box (stable on ties)."""
    levels = (1 << _HILBERT_BITS) - 1
    grid = np.floor((positions - lo) / span * levels + 0.5).astype(np.int64)
    np.clip(grid, 0, levels, out=grid)
    return np.argsort(hilbert_index(grid, _HILBERT_BITS), kind="stable")


# --------------------------------------------------------------------------- partitioning


def _incoming_pattern(network: Network, post: str, offsets: dict[str, int], n_total: int) -> sp.csr_matrix:
    """``(n_post, n_total)`` int64 CSR: synapses from each global pre neuron onto each post neuron."""
    n_post = network.population(post).n
    out = sp.csr_matrix((n_post, n_total), dtype=np.int64)
    for proj in network.projections:
        if proj.post != post:
            continue
        w = proj.weights
        idx = np.asarray(w.indices, dtype=np.int64) + offsets[proj.pre]
        out = out + sp.csr_matrix((np.ones(w.nnz, dtype=np.int64), idx, np.asarray(w.indptr, dtype=np.int64)), shape=(n_post, n_total))
    out = sp.csr_matrix(out)
    out.sum_duplicates()
    return out


class _Limits:
    def __init__(self, chip: _chips.ChipSpec, synapse_bits: int) -> None:
        self.neurons = chip.neurons_per_core
        self.fanin = chip.fanin_axons_per_core
        self.fanout = chip.fanout_axons_per_core
        self.memory = chip.synaptic_memory_bits_per_core
        self.state_bits = chip.neuron_state_bits if chip.memory_shared_with_neurons else 0
        self.synapse_bits = synapse_bits
        self.chip = chip.name


def _fits_alone(pop: str, local: int, n_syn: int, n_pre: int, lim: _Limits) -> None:
    mem = n_syn * lim.synapse_bits + lim.state_bits
    if mem > lim.memory:
        raise MappingError(
            f"population {pop!r}, neuron {local}: synaptic memory of {n_syn} synapses x {lim.synapse_bits} bits"
            + (f" + {lim.state_bits} state bits" if lim.state_bits else "")
            + f" = {mem} bits exceeds synaptic_memory_bits_per_core={lim.memory} of chip {lim.chip!r}; "
            "a single neuron must fit one core (use fewer synapses or a smaller synapse_bits)"
        )
    if lim.fanin is not None and n_pre > lim.fanin:
        raise MappingError(
            f"population {pop!r}, neuron {local}: fan-in of {n_pre} distinct presynaptic neurons exceeds "
            f"fanin_axons_per_core={lim.fanin} of chip {lim.chip!r}; a single neuron must fit one core"
        )


def _partition_population(pop: str, rows: sp.csr_matrix, order: np.ndarray, lim: _Limits) -> list[np.ndarray]:
    """Greedy contiguous chunks of ``order`` (local neuron ids) that satisfy neurons, memory and fan-in limits."""
    m = rows[order]  # rows permuted into the partition order
    indptr = np.asarray(m.indptr, dtype=np.int64)
    indices = np.asarray(m.indices, dtype=np.int64)
    cum_syn = np.concatenate(([0], np.cumsum(np.asarray(m.data, dtype=np.int64))))  # synapses up to each entry
    n = order.shape[0]
    cores: list[np.ndarray] = []
    start = 0
    guess = 64
    while start < n:
        hi = min(n, start + lim.neurons)
        # memory: synapses * bits + neurons * state_bits, monotone in the end of the chunk
        ends = np.arange(start + 1, hi + 1)
        syn = cum_syn[indptr[ends]] - cum_syn[indptr[start]]
        mem = syn * lim.synapse_bits + (ends - start) * lim.state_bits
        n_mem = int(np.searchsorted(mem, lim.memory, side="right"))
        if n_mem == 0:
            _fits_alone(pop, int(order[start]), int(syn[0]), int(indptr[start + 1] - indptr[start]), lim)
        hi = start + n_mem
        if lim.fanin is not None:
            w = max(1, guess)
            while True:
                end_try = min(hi, start + w)
                seg = indices[indptr[start] : indptr[end_try]]
                _, first = np.unique(seg, return_index=True)
                # row (relative to start) in which each distinct pre first appears
                row_of_entry = np.searchsorted(indptr[start : end_try + 1] - indptr[start], first, side="right") - 1
                new_per_row = np.bincount(row_of_entry, minlength=end_try - start)
                distinct = np.cumsum(new_per_row)
                k = int(np.searchsorted(distinct, lim.fanin, side="right"))
                if k == 0:
                    _fits_alone(pop, int(order[start]), int(syn[0]), int(distinct[0]), lim)
                if k < end_try - start or end_try == hi:
                    hi = start + k
                    break
                w *= 2
        cores.append(order[start:hi])
        guess = max(1, hi - start)
        start = hi
    return cores


def _destinations(network: Network, offsets: dict[str, int], neuron_core: np.ndarray, n_cores: int) -> sp.csr_matrix:
    """``(n_neurons, n_cores)`` int64 CSR: synapses of each source neuron in each core."""
    n_total = neuron_core.shape[0]
    rows_all, cols_all, vals_all = [], [], []
    for proj in network.projections:
        w = proj.weights
        n_post, n_pre = w.shape
        pattern = sp.csr_matrix((np.ones(w.nnz, dtype=np.int64), w.indices, w.indptr), shape=w.shape)
        post_cores = neuron_core[offsets[proj.post] : offsets[proj.post] + n_post]
        onehot = sp.csr_matrix((np.ones(n_post, dtype=np.int64), post_cores, np.arange(n_post + 1)), shape=(n_post, n_cores))
        per_pre = (pattern.T.tocsr() @ onehot).tocoo()
        rows_all.append(per_pre.row.astype(np.int64) + offsets[proj.pre])
        cols_all.append(per_pre.col.astype(np.int64))
        vals_all.append(per_pre.data.astype(np.int64))
    if not rows_all:
        return sp.csr_matrix((n_total, n_cores), dtype=np.int64)
    dest = sp.coo_matrix((np.concatenate(vals_all), (np.concatenate(rows_all), np.concatenate(cols_all))), shape=(n_total, n_cores)).tocsr()
    dest.sum_duplicates()
    dest.sort_indices()
    return dest


def _row_sums(indptr: np.ndarray, values: np.ndarray) -> np.ndarray:
    cs = np.concatenate(([0], np.cumsum(values, dtype=np.int64)))
    return cs[indptr[1:]] - cs[indptr[:-1]]


def _row_max(indptr: np.ndarray, values: np.ndarray) -> np.ndarray:
    n = indptr.shape[0] - 1
    out = np.zeros(n, dtype=np.int64)
    nonempty = np.flatnonzero(np.diff(indptr) > 0)
    if nonempty.size:
        out[nonempty] = np.maximum.reduceat(values, indptr[nonempty])
    return out


# --------------------------------------------------------------------------- placement


def _near_square(count: int, unit_rows: int, unit_cols: int, max_rows: int | None = None, max_cols: int | None = None) -> tuple[int, int]:
    """``(r, c)`` with ``r * c >= count`` minimising the extent ``r*unit_rows + c*unit_cols``, then the area."""
    best = None
    r_hi = count if max_rows is None else min(count, max_rows)
    for r in range(1, max(1, r_hi) + 1):
        c = -(-count // r)
        if max_cols is not None and c > max_cols:
            continue
        score = (r * unit_rows + c * unit_cols, r * c, r)
        if best is None or score < best[0]:
            best = (score, (r, c))
    if best is None:  # pragma: no cover - callers pass count <= max_rows * max_cols
        raise MappingError(f"internal: {count} cores do not fit a {max_rows} x {max_cols} mesh")
    return best[1]


def _slots(n_cores: int, chip: _chips.ChipSpec, layers: int) -> tuple[np.ndarray, np.ndarray, tuple[int, int, int]]:
    """Mesh slots in fill order: ``(xyz (n_cores, 3), chip id (n_cores,), fabric shape)``."""
    per_layer = -(-n_cores // layers)
    chips_per_layer = -(-per_layer // chip.cores_per_chip)
    gr, gc = _near_square(chips_per_layer, chip.mesh_rows, chip.mesh_cols)
    xyz = []
    chip_ids = []
    for z in range(layers):
        left = min(per_layer, n_cores - z * per_layer)
        k = 0
        while left > 0:
            crow, ccol = divmod(k, gc)
            here = min(left, chip.cores_per_chip)
            r, c = _near_square(here, 1, 1, chip.mesh_rows, chip.mesh_cols)
            cell = np.arange(here)
            rr, cc = cell // c, cell % c
            xyz.append(np.stack([ccol * chip.mesh_cols + cc, crow * chip.mesh_rows + rr, np.full(here, z)], axis=1))
            chip_ids.append(np.full(here, z * gr * gc + k))
            left -= here
            k += 1
    xyz_a = np.concatenate(xyz).astype(np.int64)
    ids = np.concatenate(chip_ids).astype(np.int64)
    _, ids = np.unique(ids, return_inverse=True)
    return xyz_a, ids.astype(np.int64), (layers, gr * chip.mesh_rows, gc * chip.mesh_cols)


def _bisect(centroids: np.ndarray, slots: np.ndarray) -> np.ndarray:
    """Slot index of every core by recursive coordinate bisection (both sets have equal size)."""
    n = centroids.shape[0]
    out = np.empty(n, dtype=np.int64)
    stack = [(np.arange(n), np.arange(n))]
    while stack:
        cores, sl = stack.pop()
        if cores.shape[0] == 1:
            out[cores[0]] = sl[0]
            continue
        c = centroids[cores]
        ax = int(np.argmax(np.ptp(c, axis=0)))
        cores = cores[np.argsort(c[:, ax], kind="stable")]
        s = slots[sl]
        sax = int(np.argmax(np.ptp(s, axis=0)))
        others = [a for a in range(3) if a != sax]
        sl = sl[np.lexsort((s[:, others[1]], s[:, others[0]], s[:, sax]))]
        half = cores.shape[0] // 2
        stack.append((cores[:half], sl[:half]))
        stack.append((cores[half:], sl[half:]))
    return out


# --------------------------------------------------------------------------- map_network


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise bad_value(MappingError, name, value, "must be a positive int")
    return int(value)


def map_network(
    network: Network,
    chip: str | _chips.ChipSpec = "loihi",
    topology: str = "2d",
    layers: int = 1,
    placement: str = "locality",
    *,
    synapse_bits: int | None = None,
) -> MappingResult:
    """Partition ``network`` into cores of ``chip`` and place the cores on a mesh.

    Parameters
    ----------
    network : snn.Network
    chip : str or ChipSpec
        A shipped chip name (:func:`hardware.chips.available`) or a specification.
    topology : {"2d", "3d"}
        ``"2d"``: one layer of chips tiled side by side.  ``"3d"``: ``layers``
        layers of chip meshes stacked and joined by vertical links between nodes
        at the same ``(x, y)``.
    layers : int
        Number of stacked layers: 1 for ``"2d"``, at least 2 for ``"3d"``.
        The cores are spread evenly over the layers (the last one may hold fewer).
    placement : {"locality", "sequential"}
        See the module docstring.
    synapse_bits : int, optional
        Bits one stored synapse occupies (default ``chip.synapse_bits``, an assumption).

    Returns
    -------
    MappingResult

    Raises
    ------
    MappingError
        If a single neuron cannot fit a core (its fan-in, its synapses' memory,
        or, with the final partition, its number of destination cores exceeds a
        limit; the message names the limit, the value and the population), or
        on invalid arguments.
    """
    if not isinstance(network, Network):
        raise SNNTypeError(f"network={network!r}: must be a snn.Network")
    if isinstance(chip, str):
        try:
            spec = _chips.get(chip)
        except _chips.ChipError as exc:
            raise MappingError(str(exc)) from None
    elif isinstance(chip, _chips.ChipSpec):
        spec = chip
    else:
        raise SNNTypeError(f"chip={chip!r}: must be a chip name {_chips.available()} or a hardware.chips.ChipSpec")
    if topology not in _TOPOLOGIES:
        raise bad_value(MappingError, "topology", topology, f"allowed: {list(_TOPOLOGIES)}")
    if placement not in _PLACEMENTS:
        raise bad_value(MappingError, "placement", placement, f"allowed: {list(_PLACEMENTS)}")
    layers = _positive_int(layers, "layers")
    if topology == "2d" and layers != 1:
        raise bad_value(MappingError, "layers", layers, "must be 1 for topology='2d' (use topology='3d' to stack meshes)")
    if topology == "3d" and layers < 2:
        raise bad_value(MappingError, "layers", layers, "must be >= 2 for topology='3d' (one layer is topology='2d')")
    bits = spec.synapse_bits if synapse_bits is None else _positive_int(synapse_bits, "synapse_bits")
    pops = network.populations
    if not pops:
        raise bad_value(MappingError, "network", network, "has no populations to map")
    lim = _Limits(spec, bits)

    offsets: dict[str, int] = {}
    n_total = 0
    for p in pops:
        offsets[p.name] = n_total
        n_total += p.n
    all_pos = np.concatenate([p.positions_um for p in pops])
    lo = all_pos.min(axis=0)
    span = np.ptp(all_pos, axis=0)
    span[span == 0] = 1.0

    # 1. partition every population (neurons, memory, fan-in), in its chosen order
    core_lists: list[tuple[int, np.ndarray]] = []  # (population index, global neuron ids)
    for pi, p in enumerate(pops):
        rows = _incoming_pattern(network, p.name, offsets, n_total)
        order = np.arange(p.n) if placement == "sequential" else _locality_order(p.positions_um, lo, span)
        for chunk in _partition_population(p.name, rows, order, lim):
            core_lists.append((pi, chunk + offsets[p.name]))

    # 2. fan-out: split cores whose neurons reach too many cores, until none does
    for _ in range(_MAX_FANOUT_ROUNDS):
        neuron_core = np.empty(n_total, dtype=np.int64)
        for c, (_, ids) in enumerate(core_lists):
            neuron_core[ids] = c
        dest = _destinations(network, offsets, neuron_core, len(core_lists))
        if lim.fanout is None:
            break
        n_dest = np.diff(dest.indptr).astype(np.int64)
        fanout = np.bincount(neuron_core, weights=n_dest, minlength=len(core_lists)).astype(np.int64)
        over = np.flatnonzero(fanout > lim.fanout)
        if over.size == 0:
            break
        new_lists: list[tuple[int, np.ndarray]] = []
        over_set = set(over.tolist())
        for c, (pi, ids) in enumerate(core_lists):
            if c not in over_set:
                new_lists.append((pi, ids))
                continue
            f = n_dest[ids]
            bad = np.flatnonzero(f > lim.fanout)
            if bad.size:
                g = int(ids[bad[0]])
                raise MappingError(
                    f"population {pops[pi].name!r}, neuron {g - offsets[pops[pi].name]}: fan-out of {int(f[bad[0]])} distinct "
                    f"destination cores exceeds fanout_axons_per_core={lim.fanout} of chip {lim.chip!r} "
                    "(with cores filled greedily; its targets are spread over too many cores)"
                )
            # Contiguous pieces of about equal fan-out, each at most _FANOUT_FILL of the limit.  Peeling
            # off only the excess (pieces filled to the limit) does not settle: splitting a core adds
            # destinations to the neurons that reach it, so the full pieces go over again next round and
            # shed a few neurons each time (a 48^3 grid with a distance rule needed > 64 rounds).
            cs = np.cumsum(f)
            pieces = max(2, -(-int(cs[-1]) // max(1, int(lim.fanout * _FANOUT_FILL))))
            cuts = np.searchsorted(cs, cs[-1] * np.arange(1, pieces) / pieces, side="left") + 1
            bounds = np.unique(np.concatenate(([0], np.clip(cuts, 1, ids.shape[0]), [ids.shape[0]])))
            for a, b in zip(bounds[:-1], bounds[1:]):
                piece_cs = cs[a:b] - (cs[a - 1] if a else 0)
                start = 0
                while start < b - a:  # a piece still over the limit (one heavy neuron): greedy within it
                    base = piece_cs[start - 1] if start else 0
                    end = max(start + 1, int(np.searchsorted(piece_cs, base + lim.fanout, side="right")))
                    new_lists.append((pi, ids[a + start : a + end]))
                    start = end
        core_lists = new_lists
    else:  # pragma: no cover - the core count only grows and is bounded by n_neurons
        raise MappingError(f"fan-out splitting did not settle within {_MAX_FANOUT_ROUNDS} rounds")

    n_cores = len(core_lists)
    core_population = np.array([pi for pi, _ in core_lists], dtype=np.int64)

    # 3. placement on mesh slots
    slot_xyz, slot_chip, fabric = _slots(n_cores, spec, layers)
    if placement == "sequential":
        slot_of_core = np.arange(n_cores)
    else:
        centroids = np.stack([all_pos[ids].mean(axis=0) for _, ids in core_lists])
        slot_of_core = _bisect(centroids, slot_xyz.astype(np.float64))
    core_xyz = slot_xyz[slot_of_core]
    core_chip_raw = slot_chip[slot_of_core]
    _, core_chip = np.unique(core_chip_raw, return_inverse=True)

    # 4. per-core usage and per-neuron routes
    indptr = np.asarray(dest.indptr, dtype=np.int64)
    cols = np.asarray(dest.indices, dtype=np.int64)
    data = np.asarray(dest.data, dtype=np.int64)
    core_neurons = np.bincount(neuron_core, minlength=n_cores).astype(np.int64)
    core_fanin = np.bincount(cols, minlength=n_cores).astype(np.int64)
    core_syn = np.bincount(cols, weights=data, minlength=n_cores).astype(np.int64)
    n_dest = np.diff(indptr)
    core_fanout = np.bincount(neuron_core, weights=n_dest, minlength=n_cores).astype(np.int64)
    core_mem = core_syn * bits + core_neurons * lim.state_bits
    src_core = np.repeat(neuron_core, n_dest)
    delta = np.abs(core_xyz[cols] - core_xyz[src_core])
    route = np.stack([_row_sums(indptr, delta[:, a]) for a in range(3)], axis=1)
    local = _row_sums(indptr, (cols == src_core).astype(np.int64))
    max_hops = _row_max(indptr, delta.sum(axis=1))

    result = MappingResult(
        network=network,
        chip=spec,
        topology=topology,
        layers=layers,
        placement=placement,
        synapse_bits=bits,
        populations=tuple(p.name for p in pops),
        offsets=offsets,
        neuron_core=neuron_core,
        core_population=core_population,
        core_xyz=core_xyz,
        core_chip=core_chip.astype(np.int64),
        fabric_shape=fabric,
        core_neurons=core_neurons,
        core_fanin_axons=core_fanin,
        core_fanout_axons=core_fanout,
        core_synapses=core_syn,
        core_memory_bits=core_mem,
        destinations=dest,
        _route=route,
        _n_messages=n_dest.astype(np.int64),
        _local=local,
        _max_hops=max_hops,
    )
    for arr in (
        neuron_core,
        core_population,
        core_xyz,
        result.core_chip,
        core_neurons,
        core_fanin,
        core_fanout,
        core_syn,
        core_mem,
        route,
        local,
        max_hops,
    ):
        arr.setflags(write=False)
    return result


# --------------------------------------------------------------------------- traffic


def traffic(run_result: RunResult, mapping: MappingResult) -> Traffic:
    """Count the spike traffic of ``run_result`` on ``mapping``.

    Parameters
    ----------
    run_result : snn.RunResult
        A run of ``mapping.network`` that recorded spikes (``record=("spikes",)``)
        for every population: each ``spikes[name]`` is bool ``(n_steps, n)``
        (for graded populations, True where the output was non-zero).
    mapping : MappingResult
        From :func:`map_network` on the same network.

    Returns
    -------
    Traffic
        ``.to_dict()`` is the mapping contract's plain dict.

    Raises
    ------
    MappingError
        If a population's spikes were not recorded or do not match the network.

    Notes
    -----
    Cost: one pass over the spike rasters plus one sparse product of the
    spikes ``(n_steps, n_neurons)`` with the precomputed destination matrix
    ``(n_neurons, n_cores)``; the per-neuron route vectors are computed once
    by :func:`map_network`.
    """
    if not isinstance(run_result, RunResult):
        raise SNNTypeError(f"run_result={run_result!r}: must be a snn.RunResult")
    if not isinstance(mapping, MappingResult):
        raise SNNTypeError(f"mapping={mapping!r}: must be a MappingResult from hardware.mapping.map_network")
    n_steps = int(run_result.n_steps)
    if run_result.counts.n_neurons != mapping.n_neurons:
        raise bad_value(
            MappingError,
            "run_result",
            f"run of a network with {run_result.counts.n_neurons} neurons",
            f"must be a run of the mapped network ({mapping.n_neurons} neurons)",
        )
    missing = [p for p in mapping.populations if p not in run_result.spikes]
    if missing:
        raise bad_value(
            MappingError,
            "run_result.spikes",
            f"no record for populations {missing}",
            "traffic needs the spikes of every population: simulate(..., record=('spikes',))",
        )
    n_total = mapping.n_neurons
    counts = np.zeros(n_total, dtype=np.int64)
    t_parts, i_parts = [], []
    for name in mapping.populations:
        s = np.asarray(run_result.spikes[name])
        n = mapping.network.population(name).n
        if s.shape != (n_steps, n):
            raise bad_value(
                MappingError, f"run_result.spikes[{name!r}]", f"array of shape {s.shape}", f"must have shape (n_steps, n) = {(n_steps, n)}"
            )
        s = s.astype(bool, copy=False)
        off = mapping.offsets[name]
        counts[off : off + n] = np.count_nonzero(s, axis=0)
        t, i = np.nonzero(s)
        t_parts.append(t.astype(np.int64))
        i_parts.append(i.astype(np.int64) + off)
    t_idx = np.concatenate(t_parts)
    i_idx = np.concatenate(i_parts)

    messages = int(counts @ mapping._n_messages)
    local = int(counts @ mapping._local)
    hops = counts @ mapping._route

    dest = mapping.destinations
    n_cores = mapping.n_cores
    # messages per (source core, destination core)
    indptr = np.asarray(dest.indptr, dtype=np.int64)
    rows = np.repeat(np.arange(n_total, dtype=np.int64), np.diff(indptr))
    w = counts[rows]
    keep = w > 0
    pair = sp.coo_matrix(
        (w[keep], (mapping.neuron_core[rows[keep]], np.asarray(dest.indices, dtype=np.int64)[keep])), shape=(n_cores, n_cores)
    ).tocsr()
    pair.sum_duplicates()

    # per step: synaptic events of every core, message counts, longest route
    spikes = sp.csr_matrix((np.ones(t_idx.shape[0], dtype=np.int64), (t_idx, i_idx)), shape=(n_steps, n_total))
    step_core = (spikes @ dest).tocsr()
    step_core.sum_duplicates()
    max_events = np.asarray(step_core.max(axis=1).todense(), dtype=np.int64).ravel() if n_cores else np.zeros(n_steps, dtype=np.int64)
    per_step_messages = np.bincount(t_idx, weights=mapping._n_messages[i_idx], minlength=n_steps).astype(np.int64)
    max_hops = np.zeros(n_steps, dtype=np.int64)
    if t_idx.size:
        np.maximum.at(max_hops, t_idx, mapping._max_hops[i_idx])
    is_source = np.array([mapping.network.population(p).model.is_source for p in mapping.populations])
    core_updates = np.where(is_source[mapping.core_population], 0, mapping.core_neurons).astype(np.int64)
    max_updates = np.full(n_steps, int(core_updates.max(initial=0)), dtype=np.int64)
    # per step and core: non-source neurons fired, messages sent, messages received
    on_core = sp.csr_matrix((np.ones(n_total, dtype=np.int64), (np.arange(n_total), mapping.neuron_core)), shape=(n_total, n_cores))
    neuron_source = np.zeros(n_total, dtype=bool)
    for k, name in enumerate(mapping.populations):
        off = mapping.offsets[name]
        neuron_source[off : off + mapping.network.population(name).n] = is_source[k]
    fired_core = spikes @ sp.diags((~neuron_source).astype(np.int64)) @ on_core
    sent_core = spikes @ sp.diags(mapping._n_messages.astype(np.int64)) @ on_core
    recv_core = spikes @ (dest > 0).astype(np.int64)

    def step_max(m: sp.spmatrix) -> np.ndarray:
        return np.asarray(m.max(axis=1).todense(), dtype=np.int64).ravel() if n_cores else np.zeros(n_steps, dtype=np.int64)

    return Traffic(
        n_steps=n_steps,
        n_cores=n_cores,
        n_chips=mapping.n_chips,
        topology=mapping.topology,
        messages=messages,
        messages_local=local,
        hops_ew=int(hops[0]),
        hops_ns=int(hops[1]),
        hops_vertical=int(hops[2]),
        messages_per_core_pair=pair,
        per_step_core_synaptic_events=step_core,
        per_core_neuron_updates=core_updates,
        per_step_messages=per_step_messages,
        per_step_max_core_synaptic_events=max_events,
        per_step_max_core_neuron_updates=max_updates,
        per_step_max_hops=max_hops,
        per_step_max_core_spikes=step_max(sp.csr_matrix(fired_core)),
        per_step_max_core_messages_sent=step_max(sp.csr_matrix(sent_core)),
        per_step_max_core_messages_received=step_max(sp.csr_matrix(recv_core)),
        per_step_core_spikes=sp.csr_matrix(fired_core),
        per_step_core_messages_sent=sp.csr_matrix(sent_core),
        per_step_core_messages_received=sp.csr_matrix(recv_core),
    )
