"""The network: a validated, immutable-once-built description of populations and projections.

A :class:`Network` is built with :meth:`~Network.add_population`,
:meth:`~Network.connect` and :meth:`~Network.add_projection`.  What it stores is
frozen: :class:`Population` and :class:`Projection` records whose arrays are
read-only.  Engines consume the description and never change it.

Weights are stored as CSR matrices of shape ``(n_post, n_pre)`` (row = target
neuron) with one integer delay in steps per stored synapse, aligned with
``weights.data``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import scipy.sparse as sp

from snn import connect as _connect
from snn import layout as _layout
from snn.errors import NetworkError, SNNTypeError, bad_value, check_array, check_delays, check_int, check_real, check_seed
from snn.models import NeuronModel
from snn.synapses import Synapse

__all__ = ["Network", "Population", "Projection"]

_MAX_NAME = 128
#: the largest delay that survives the float64 delay matrices exactly


def _readonly(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


@dataclass(frozen=True, eq=False)
class Population:
    """A group of ``n`` neurons of one model, with 3D positions ``(n, 3)`` in µm."""

    name: str
    n: int
    model: NeuronModel
    positions_um: np.ndarray
    initial_state: Mapping[str, np.ndarray]

    def state0(self) -> dict[str, np.ndarray]:
        """The initial state arrays (fresh, writable copies)."""
        state = self.model.initial_state(self.n)
        for k, v in self.initial_state.items():
            state[k] = np.array(v, dtype=state[k].dtype)
        return state


@dataclass(frozen=True, eq=False)
class Projection:
    """Synapses from population ``pre`` to ``post``.

    ``weights`` is a CSR matrix ``(n_post, n_pre)``; ``delays`` holds the delay
    in steps of each stored synapse, aligned with ``weights.data``.
    """

    name: str
    pre: str
    post: str
    weights: sp.csr_matrix
    delays: np.ndarray
    synapse: Synapse | None = None

    @property
    def n_synapses(self) -> int:
        return int(self.weights.nnz)

    def out_degree(self) -> np.ndarray:
        """Number of stored synapses of each pre neuron, int64 ``(n_pre,)`` (a fresh copy)."""
        return self._out_degree.copy()

    @cached_property
    def _out_degree(self) -> np.ndarray:
        # computed once (the weights are read-only); in blocks: bincount converts its input to int64,
        # which at 1e8 synapses is an 800 MB temporary
        idx, n_pre = self.weights.indices, self.weights.shape[1]
        block = 1 << 22
        if idx.size <= block:
            return np.bincount(idx, minlength=n_pre).astype(np.int64)
        counts = np.zeros(n_pre, np.int64)
        for lo in range(0, idx.size, block):
            counts += np.bincount(idx[lo : lo + block], minlength=n_pre)
        return counts

    @cached_property
    def delay_range(self) -> tuple[int, int]:
        """``(min, max)`` delay in steps over the stored synapses, ``(0, 0)`` without synapses (computed once)."""
        if not self.delays.size:
            return 0, 0
        return int(self.delays.min()), int(self.delays.max())


def _check_name(name: Any, what: str) -> str:
    if not isinstance(name, str):
        raise SNNTypeError(f"{what}={name!r}: must be a str")
    if not name or len(name) > _MAX_NAME or not name.isprintable():
        raise bad_value(NetworkError, what, name, f"must be a non-empty printable string of at most {_MAX_NAME} characters")
    return name


class Network:
    """A spiking network description.

    Parameters
    ----------
    dt_ms : float
        The simulation time step in ms.

    Examples
    --------
    >>> import snn
    >>> net = snn.Network(dt_ms=1.0)
    >>> net.add_population("exc", 8, snn.LIF(), positions=snn.layout.grid((2, 2, 2), spacing_um=10.0))
    >>> net.connect("exc", "exc", snn.connect.fixed_probability(0.5), weight=0.1, seed=0)
    """

    def __init__(self, dt_ms: float = 1.0) -> None:
        self.dt_ms = check_real(dt_ms, "dt_ms", min_value=0.0, min_open=True, cls=NetworkError)
        self._populations: dict[str, Population] = {}
        self._projections: dict[str, Projection] = {}
        self._outputs: tuple[str, ...] = ()

    @property
    def outputs(self) -> tuple[str, ...]:
        """Names of the populations that are the network's outputs (e.g. NIR ``Output`` nodes)."""
        return self._outputs

    @outputs.setter
    def outputs(self, names: Any) -> None:
        if isinstance(names, str) or not isinstance(names, (list, tuple)):
            raise SNNTypeError(f"outputs={names!r}: must be a list or tuple of population names")
        seen: list[str] = []
        for name in names:
            if not isinstance(name, str):
                raise SNNTypeError(f"outputs: {name!r} must be a population name (str)")
            if name not in self._populations:
                raise bad_value(NetworkError, "outputs", name, f"unknown population; known: {sorted(self._populations)}")
            if name in seen:
                raise bad_value(NetworkError, "outputs", name, "named twice; each output population once")
            seen.append(name)
        self._outputs = tuple(seen)

    # ------------------------------------------------------------------ queries
    @property
    def populations(self) -> tuple[Population, ...]:
        return tuple(self._populations.values())

    @property
    def projections(self) -> tuple[Projection, ...]:
        return tuple(self._projections.values())

    @property
    def n_neurons(self) -> int:
        return sum(p.n for p in self._populations.values())

    @property
    def n_synapses(self) -> int:
        return sum(p.n_synapses for p in self._projections.values())

    def population(self, name: str) -> Population:
        try:
            return self._populations[name]
        except (KeyError, TypeError):
            raise bad_value(NetworkError, "population", name, f"unknown population; known: {sorted(self._populations)}") from None

    def projection(self, name: str) -> Projection:
        try:
            return self._projections[name]
        except (KeyError, TypeError):
            raise bad_value(NetworkError, "projection", name, f"unknown projection; known: {sorted(self._projections)}") from None

    def __repr__(self) -> str:
        return f"Network(dt_ms={self.dt_ms}, populations={len(self._populations)}, neurons={self.n_neurons}, projections={len(self._projections)}, synapses={self.n_synapses})"

    # ------------------------------------------------------------------ building
    def add_population(
        self,
        name: str,
        n: int,
        model: NeuronModel,
        *,
        positions: Any = None,
        initial_state: Mapping[str, Any] | None = None,
    ) -> Population:
        """Add ``n`` neurons of ``model`` called ``name``.

        ``positions`` is an ``(n, 3)`` array in µm (default: all at the origin);
        ``initial_state`` maps state variable names to scalars or ``(n,)`` arrays.
        """
        _check_name(name, "name")
        if name in self._populations:
            raise bad_value(NetworkError, "name", name, "a population with this name exists already; names must be unique")
        n = check_int(n, "n", min_value=1, cls=NetworkError)
        if not isinstance(model, NeuronModel):
            raise SNNTypeError(f"model={model!r}: must be a neuron model such as snn.LIF(...)")
        model.check_size(n)
        model.check_dt(self.dt_ms)
        # positions go to the layout check as given: their dtype is judged before any conversion
        pos = _layout.as_positions(np.zeros((n, 3)) if positions is None else positions, n, name="positions")
        if initial_state is not None and not isinstance(initial_state, Mapping):
            raise bad_value(SNNTypeError, "initial_state", initial_state, "must be None or a dict {state variable: scalar or (n,) array}")
        init: dict[str, np.ndarray] = {}
        defaults = model.initial_state(n)
        for var, value in (initial_state or {}).items():
            if var not in defaults:
                raise bad_value(
                    NetworkError, "initial_state", var, f"unknown state variable of {type(model).__name__}; allowed: {list(defaults)}"
                )
            what = f"initial_state[{var!r}]"
            dtype = defaults[var].dtype
            # real numbers only (bools where the variable is bool); integer state must be whole and
            # fit its dtype (1e30 is refused, not wrapped to -2**63)
            arr = check_array(value, what, dtype=dtype, kinds="biuf" if dtype.kind == "b" else "iuf", cls=NetworkError)
            if arr.ndim == 0:
                arr = np.full(n, arr)
            if arr.shape != (n,):
                raise bad_value(NetworkError, what, f"array of shape {arr.shape}", f"must be a scalar or have shape ({n},)")
            model.check_state(var, arr)
            init[var] = _readonly(arr)
        pop = Population(name, n, model, pos, init)
        self._populations[name] = pop
        return pop

    def connect(
        self,
        pre: str,
        post: str,
        rule: Any,
        *,
        weight: Any = 1.0,
        delay_steps: Any = 1,
        seed: Any = None,
        synapse: Synapse | None = None,
        name: str | None = None,
        progress: bool = False,
    ) -> Projection:
        """Connect ``pre`` to ``post`` with a connection rule from :mod:`snn.connect`.

        ``weight`` and ``delay_steps`` are scalars, per-synapse arrays, ``(n_post, n_pre)``
        matrices, or functions of the pre-post distance in µm (see
        :func:`snn.connect.conduction_delay`).  ``seed`` (int >= 0 or
        ``numpy.random.Generator``) makes the random choices; ``progress=True``
        shows a tqdm bar while a large rule is built (see :func:`snn.connect.make_projection`).
        """
        pre_pop, post_pop = self.population(pre), self.population(post)
        if not hasattr(rule, "build"):
            raise SNNTypeError(f"rule={rule!r}: must be a connection rule from snn.connect, e.g. snn.connect.fixed_probability(0.1)")
        if not (seed is None or isinstance(seed, np.random.Generator)):
            seed = check_seed(seed, "seed", cls=NetworkError)
        if not (callable(delay_steps) or hasattr(delay_steps, "draw") or sp.issparse(delay_steps)):
            # before the rule resolves them: 2**63 or 10**30 must be refused, never wrapped to int64
            check_delays(delay_steps, "delay_steps", cls=NetworkError)
        rng = _connect.as_generator(seed, "seed")
        mat, delays = _connect.make_projection(
            rule,
            pre_pop.positions_um,
            post_pop.positions_um,
            rng,
            same_population=(pre == post),
            weight=weight,
            delay_steps=delay_steps,
            progress=bool(progress),
        )
        return self._store_arrays(pre, post, mat, delays, synapse, name)

    def add_projection(
        self,
        pre: str,
        post: str,
        *,
        weights: Any,
        delay_steps: Any = 1,
        synapse: Synapse | None = None,
        name: str | None = None,
    ) -> Projection:
        """Add explicit synapses: ``weights`` dense or scipy.sparse of shape ``(n_post, n_pre)``.

        Dense arrays store their non-zero entries; sparse matrices store every
        stored entry (duplicates are summed).  ``delay_steps`` is an int, or an
        array of the weights' shape giving each synapse's delay, or a scipy.sparse
        matrix storing exactly the weights' synapses (one delay each, explicit
        zeros included).
        """
        pre_pop, post_pop = self.population(pre), self.population(post)
        shape = (post_pop.n, pre_pop.n)
        if sp.issparse(weights):
            mat = sp.csr_matrix(weights, dtype=np.float64, copy=True)
            mat.sum_duplicates()
        else:
            try:
                dense = np.asarray(weights, dtype=np.float64)
            except (TypeError, ValueError):
                raise SNNTypeError("weights: must be a numeric array or scipy.sparse matrix of shape (n_post, n_pre)") from None
            if dense.shape != shape:
                raise bad_value(NetworkError, "weights", f"array of shape {dense.shape}", f"must have shape (n_post, n_pre) = {shape}")
            mat = sp.csr_matrix(dense)
        if mat.shape != shape:
            raise bad_value(NetworkError, "weights", f"matrix of shape {mat.shape}", f"must have shape (n_post, n_pre) = {shape}")
        if not np.all(np.isfinite(mat.data)):
            raise bad_value(NetworkError, "weights", "matrix with NaN or inf", "must be finite")
        if sp.issparse(delay_steps):
            dsp = sp.csr_matrix(delay_steps, copy=True)
            if dsp.shape != shape:
                raise bad_value(NetworkError, "delay_steps", f"sparse matrix of shape {dsp.shape}", f"must have the weights' shape {shape}")
            mat.sort_indices()
            if not dsp.has_canonical_format or not (np.array_equal(dsp.indptr, mat.indptr) and np.array_equal(dsp.indices, mat.indices)):
                raise NetworkError(
                    "delay_steps: a sparse matrix of delays must store exactly the weights' synapses (the same pattern, no duplicates)"
                )
            vals = check_delays(dsp.data, "delay_steps", cls=NetworkError).astype(np.float64)
            dmat = sp.csr_matrix((vals, dsp.indices, dsp.indptr), shape=shape)
        elif np.ndim(delay_steps) == 0:
            steps = int(check_delays(delay_steps, "delay_steps", cls=NetworkError))
            dmat = mat.copy()
            dmat.data = np.full(mat.nnz, float(steps))
        else:
            darr = check_delays(delay_steps, "delay_steps", cls=NetworkError)
            if darr.shape != shape:
                raise bad_value(NetworkError, "delay_steps", f"array of shape {darr.shape}", f"must be an int or an array of shape {shape}")
            coo = mat.tocoo()
            vals = darr[coo.row, coo.col].astype(np.float64)
            dmat = sp.csr_matrix((vals, (coo.row, coo.col)), shape=shape)
        return self._store(pre, post, mat, dmat, synapse, name)

    def zero_delay_edges(self) -> list[tuple[str, str]]:
        """``(pre, post)`` of projections with at least one zero-delay synapse."""
        return [(p.pre, p.post) for p in self._projections.values() if p.delays.size and p.delay_range[0] == 0]

    def update_order(self) -> list[str]:
        """Population names in the order they update within a step.

        Insertion order, except that the target of a zero-delay projection
        updates after its source (a stable topological order), so that a spike
        reaches it within the same step.
        """
        names = list(self._populations)
        edges = self.zero_delay_edges()
        order: list[str] = []
        pending = set(names)
        while pending:
            ready = [n for n in names if n in pending and not any(b == n and a in pending for a, b in edges)]
            if not ready:  # guarded at construction; kept for safety
                raise NetworkError(f"zero-delay projections form a cycle among {sorted(pending)}")
            order.append(ready[0])
            pending.discard(ready[0])
        return order

    def _zero_delay_cycle(self, extra: tuple[str, str]) -> list[str]:
        edges = self.zero_delay_edges() + [extra]
        adj: dict[str, list[str]] = {}
        for a, b in edges:
            adj.setdefault(a, []).append(b)
        path: list[str] = []
        state: dict[str, int] = {}

        def visit(node: str) -> list[str]:
            state[node] = 1
            path.append(node)
            for nxt in adj.get(node, []):
                if state.get(nxt) == 1:
                    return path[path.index(nxt) :] + [nxt]
                if state.get(nxt) is None:
                    found = visit(nxt)
                    if found:
                        return found
            path.pop()
            state[node] = 2
            return []

        for start in adj:
            if state.get(start) is None:
                found = visit(start)
                if found:
                    return found
        return []

    def _store(self, pre, post, mat, dmat, synapse, name) -> Projection:
        post_pop = self.population(post)
        if post_pop.model.is_source:
            raise bad_value(
                NetworkError, "post", post, f"population is a {type(post_pop.model).__name__} (a source) and cannot receive synapses"
            )
        if synapse is not None and not isinstance(synapse, Synapse):
            raise SNNTypeError(f"synapse={synapse!r}: must be None or a snn.Synapse (e.g. hardware.loihi.LoihiSynapse)")
        mat = sp.csr_matrix(mat)
        mat.sort_indices()
        dmat = sp.csr_matrix(dmat)
        dmat.sort_indices()
        if mat.nnz != dmat.nnz or not (np.array_equal(mat.indptr, dmat.indptr) and np.array_equal(mat.indices, dmat.indices)):
            # explicit zero weights: the pattern of the delay matrix is the truth
            raise NetworkError("internal: weights and delays disagree on the synapse pattern")
        return self._store_arrays(pre, post, mat, check_delays(dmat.data, "delay_steps", cls=NetworkError), synapse, name)

    def _store_arrays(self, pre, post, mat, delays, synapse, name) -> Projection:
        """Store CSR weights (sorted indices) and the int64 delays aligned with ``mat.data``."""
        post_pop = self.population(post)
        if post_pop.model.is_source:
            raise bad_value(
                NetworkError, "post", post, f"population is a {type(post_pop.model).__name__} (a source) and cannot receive synapses"
            )
        if synapse is not None and not isinstance(synapse, Synapse):
            raise SNNTypeError(f"synapse={synapse!r}: must be None or a snn.Synapse (e.g. hardware.loihi.LoihiSynapse)")
        if name is None:
            base = f"{pre}->{post}"
            name, k = base, 2
            while name in self._projections:
                name, k = f"{base}#{k}", k + 1
        _check_name(name, "name")
        if name in self._projections:
            raise bad_value(NetworkError, "name", name, "a projection with this name exists already")
        for arr in (mat.data, mat.indices, mat.indptr):
            arr.setflags(write=False)
        # the one bound of every delay (also what the engines and the loader check)
        delays = _readonly(check_delays(np.asarray(delays), "delay_steps", cls=NetworkError))
        if delays.size and delays.min() == 0:
            cycle = self._zero_delay_cycle(extra=(pre, post))
            if cycle:
                raise bad_value(
                    NetworkError,
                    "delay_steps",
                    0,
                    f"zero-delay projections would form a cycle {' -> '.join(cycle)}; a recurrent path needs a delay >= 1 somewhere",
                )
        proj = Projection(name, pre, post, mat, delays, synapse)
        self._projections[name] = proj
        return proj
