"""The explicit state of a run: continue any run exactly, checkpoint it, restore it.

A :class:`SimState` is everything a run needs to go on where another stopped:

* ``t``: the absolute index of the next step (random draws, annealing schedules
  and spike-source rasters read the absolute step, so a continued run never
  replays the input of an earlier one);
* ``seed``: the run seed (every population's random stream derives from it);
* ``populations``: ``{population: {state variable: (n,) array}}``;
* ``in_flight``: ``{projection: (max_delay, n_post) array}``, the messages
  already sent and not yet delivered: row ``r`` is what the projection delivers
  at step ``t + r`` (summed over its synapses, before any synapse kernel), as
  Lava keeps them in a ``Var`` (``a_buff``);
* ``structure``: what the state fits (population names, sizes, models and state
  variables; projection names, endpoints, sparsity pattern and delays).

The record is immutable (its arrays are read-only).  Engines seed their rings,
step counter and random draws from it and return the next one in
``RunResult.state``::

    state = snn.init_state(net, seed=0)
    a = snn.simulate(net, 200, engine="event", state=state)
    b = snn.simulate(net, 200, engine="event", state=a.state)
    snn.RunResult.concat([a, b])   # == snn.simulate(net, 400, engine="event", seed=0)

Between runs the network may change its *parameters* (thresholds, biases,
weight values, source rates), as Lava's ``Var.set`` allows; a change of
structure is refused with an error naming what changed.

Files: :func:`save_state` writes ``.npz`` (``allow_pickle=False``, a JSON header,
atomic); :func:`load_state` reads it back exactly and checks it.
"""

from __future__ import annotations

import hashlib
import json
import os
import weakref
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from snn.errors import MAX_DELAY_STEPS, FileFormatError, SimulationError, SNNTypeError, bad_value, check_delays, check_seed
from snn.network import Network, Population, Projection

__all__ = ["SimState", "StateError", "init_state", "save_state", "load_state", "structure_of"]

FORMAT = "snn-toolkit.state"
VERSION = 1


class StateError(SimulationError):
    """A run state does not fit the network or the run it is used for."""


def _seed(seed: Any) -> int:
    return check_seed(seed, "seed", cls=SimulationError)


def _readonly(a: np.ndarray) -> np.ndarray:
    a = np.array(a, copy=True)
    a.setflags(write=False)
    return a


@dataclass(frozen=True, eq=False)
class SimState:
    """The state of a network between two runs (see the module notes).

    Attributes
    ----------
    t : int
        Absolute index of the next step.
    seed : int
        Seed of every random draw.
    dt_ms : float
        Time step of the network the state belongs to.
    populations : dict
        ``{population: {variable: array (n,)}}``, in the models' dtypes.
    in_flight : dict
        ``{projection: array (max_delay, n_post)}``; row ``r`` arrives at step ``t + r``.
    structure : str
        JSON description of the network structure the state fits (see :func:`structure_of`).
    owner : str
        Empty for the engines' states.  A ``simulate`` callable that keeps a
        state of its own (e.g. ``hardware.loihi.fixed_point_simulator()``, whose
        integer state this record only shows in float terms) names itself here;
        only that callable can continue the state.
    """

    t: int
    seed: int
    dt_ms: float
    populations: Mapping[str, Mapping[str, np.ndarray]]
    in_flight: Mapping[str, np.ndarray]
    structure: str
    owner: str = ""

    def __post_init__(self) -> None:
        if getattr(self, "_owned", False):  # made by an engine from fresh arrays (SimState.owning)
            return
        object.__setattr__(self, "populations", {p: {v: _readonly(a) for v, a in d.items()} for p, d in self.populations.items()})
        object.__setattr__(self, "in_flight", {j: _readonly(a) for j, a in self.in_flight.items()})

    @classmethod
    def owning(cls, **fields: Any) -> SimState:
        """A state that takes its (fresh, unshared) arrays as they are, made read-only, without copies.

        For engines: the arrays must not be referenced elsewhere.  The state is
        valid for its structure by construction (``check_state`` then skips the
        per-array checks).
        """
        for d in list(fields["populations"].values()) + [fields["in_flight"]]:
            for a in d.values():
                a.setflags(write=False)
        self = cls.__new__(cls)
        object.__setattr__(self, "_owned", True)
        self.__init__(**fields)
        object.__setattr__(self, "_valid_for", fields["structure"])
        return self

    def __repr__(self) -> str:
        n = sum(int(a.shape[0]) for d in self.populations.values() for a in list(d.values())[:1])
        pending = sum(int(np.count_nonzero(a)) for a in self.in_flight.values())
        return f"SimState(t={self.t}, seed={self.seed}, populations={len(self.populations)}, neurons={n}, in_flight_nonzero={pending})"

    def replace(self, **changes: Any) -> SimState:
        """A copy with some fields changed (e.g. ``state.replace(populations=...)``), checked like any state."""
        if self.owner:
            raise bad_value(SNNTypeError, "state", self, f"belongs to {self.owner}; it cannot be edited")
        fields = {k: getattr(self, k) for k in ("t", "seed", "dt_ms", "populations", "in_flight", "structure")}
        unknown = set(changes) - set(fields)
        if unknown:
            raise bad_value(SNNTypeError, "changes", sorted(unknown), f"allowed: {sorted(fields)}")
        fields.update(changes)
        return SimState(**fields)

    def equals(self, other: SimState) -> bool:
        """Bit-for-bit equality of two states (same step, seed, structure and arrays)."""
        if not isinstance(other, SimState):
            return False
        if (self.t, self.seed, self.dt_ms, self.structure) != (other.t, other.seed, other.dt_ms, other.structure):
            return False
        if self.populations.keys() != other.populations.keys() or self.in_flight.keys() != other.in_flight.keys():
            return False
        for p, d in self.populations.items():
            o = other.populations[p]
            if d.keys() != o.keys() or any(not _same(d[v], o[v]) for v in d):
                return False
        return all(_same(a, other.in_flight[j]) for j, a in self.in_flight.items())


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


# ---------------------------------------------------------------------------------------------
# structure: what a state fits


_PATTERN_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _pattern_digest(pr: Projection) -> str:
    """Digest of a projection's sparsity pattern and delays (cached: the arrays are read-only)."""
    hit = _PATTERN_CACHE.get(pr)
    if hit is None:
        h = hashlib.blake2b(digest_size=16)
        w = pr.weights
        for a in (np.asarray(w.indptr, np.int64), np.asarray(w.indices, np.int64), np.asarray(pr.delays, np.int64)):
            h.update(np.ascontiguousarray(a).tobytes())
        hit = h.hexdigest()
        _PATTERN_CACHE[pr] = hit
    return hit


_DTYPES_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def state_dtypes(pop: Population) -> dict[str, np.dtype]:
    """``{state variable: dtype}`` of a population's model (cached: populations are immutable)."""
    hit = _DTYPES_CACHE.get(pop)
    if hit is None:
        hit = _DTYPES_CACHE[pop] = {v: a.dtype for v, a in pop.model.initial_state(pop.n).items()}
    return hit


def ring_dtype(pr: Projection) -> np.dtype:
    """The dtype of a projection's in-flight sums (its synapse type's, float64 without one)."""
    return np.dtype(pr.synapse.dtype) if pr.synapse is not None else np.dtype(np.float64)


def _structure_items(network: Network) -> dict[str, list]:
    pops = []
    for p in network.populations:
        dtypes = state_dtypes(p)
        pops.append([p.name, p.n, type(p.model).__name__, [[v, str(dtypes[v])] for v in p.model.state_vars]])
    projs = []
    for pr in network.projections:
        n_post, n_pre = pr.weights.shape
        projs.append([pr.name, pr.pre, pr.post, [int(n_post), int(n_pre)], str(ring_dtype(pr)), pr.delay_range[1], _pattern_digest(pr)])
    return {"populations": pops, "projections": projs}


def structure_of(network: Network) -> str:
    """The structure a state fits, as a JSON string (parameters excluded)."""
    if not isinstance(network, Network):
        raise SNNTypeError(f"network={network!r}: must be a snn.Network")
    return json.dumps(_structure_items(network), separators=(",", ":"))


def structure_difference(expected: str, network: Network) -> str | None:
    """``None`` when ``network`` has the structure ``expected``, else what changed (one line)."""
    got = _structure_items(network)
    try:
        want = json.loads(expected)
        want_pops, want_projs = want["populations"], want["projections"]
    except (ValueError, KeyError, TypeError):
        return "the state's structure record is unreadable"
    fields_pop = ("name", "size", "model", "state variables")
    fields_proj = ("name", "pre", "post", "shape (n_post, n_pre)", "synapse dtype", "max delay", "sparsity pattern or delays")
    for kind, a, b, fields in (
        ("population", want_pops, got["populations"], fields_pop),
        ("projection", want_projs, got["projections"], fields_proj),
    ):
        names_a, names_b = [x[0] for x in a], [x[0] for x in b]
        if names_a != names_b:
            return f"{kind}s differ: the state has {names_a}, the network {names_b}"
        for x, y in zip(a, b):
            for f, u, v in zip(fields, x, y):
                if u != v:
                    return f"{kind} {x[0]!r}: {f} changed ({u} in the state, {v} in the network)"
    return None


# ---------------------------------------------------------------------------------------------
# making and checking states


def _flight_rows(pr: Projection) -> int:
    """Rows of a projection's in-flight record (its largest delay), its delays checked first (a crafted network)."""
    lo, hi = pr.delay_range
    if pr.delays.dtype.kind not in "iu" or lo < 0 or hi > MAX_DELAY_STEPS:
        check_delays(pr.delays, f"projection {pr.name!r} delays", cls=SimulationError)
    return int(hi)


def init_state(network: Network, *, seed: int | None = 0) -> SimState:
    """The state before step 0: every population's initial state, nothing in flight.

    ``seed=None`` draws a fresh seed (kept in the state).
    """
    if not isinstance(network, Network):
        raise SNNTypeError(f"network={network!r}: must be a snn.Network")
    if seed is None:
        seed = int(np.random.SeedSequence().generate_state(1, dtype=np.uint32)[0])
    seed = _seed(seed)
    pops = {}
    for p in network.populations:
        s0 = p.state0()
        pops[p.name] = {v: np.asarray(s0[v]) for v in p.model.state_vars}
    flight = {pr.name: np.zeros((_flight_rows(pr), pr.weights.shape[0]), ring_dtype(pr)) for pr in network.projections}
    return SimState(t=0, seed=seed, dt_ms=network.dt_ms, populations=pops, in_flight=flight, structure=structure_of(network))


def check_state(state: Any, network: Network, structure: str | None = None) -> SimState:
    """``state`` if it fits ``network`` (structure, dt, shapes, dtypes), else a :class:`StateError`.

    ``structure`` is the network's :func:`structure_of`, when the caller has it already.
    """
    if not isinstance(state, SimState):
        raise SNNTypeError(f"state={type(state).__name__}: must be a snn.SimState (snn.init_state(net) or a RunResult.state)")
    if state.owner:
        raise bad_value(
            StateError, "state", state, f"was made by {state.owner} and only it can continue it (pass state= to it, not to snn.simulate)"
        )
    if state.dt_ms != network.dt_ms:
        raise bad_value(StateError, "state.dt_ms", state.dt_ms, f"the network's dt_ms is {network.dt_ms}")
    if structure is not None and state.structure == structure and getattr(state, "_valid_for", None) == structure:
        return state  # an engine's own state for this structure: its arrays are right by construction
    diff = None if structure is not None and state.structure == structure else structure_difference(state.structure, network)
    if diff is not None:
        raise StateError(
            f"state: does not fit this network: {diff}; only parameters (thresholds, biases, weight values, rates) may change between runs"
        )
    for p in network.populations:
        d = state.populations.get(p.name)
        if d is None or set(d) != set(p.model.state_vars):
            raise bad_value(StateError, f"state.populations[{p.name!r}]", sorted(d or ()), f"must hold {list(p.model.state_vars)}")
        dtypes = state_dtypes(p)
        for v in p.model.state_vars:
            a = d[v]
            if a.shape != (p.n,) or a.dtype != dtypes[v]:
                raise bad_value(
                    StateError,
                    f"state.populations[{p.name!r}][{v!r}]",
                    f"{a.dtype} array of shape {a.shape}",
                    f"must be {dtypes[v]} of shape ({p.n},)",
                )
            if a.dtype.kind == "f" and not np.all(np.isfinite(a)):
                raise bad_value(StateError, f"state.populations[{p.name!r}][{v!r}]", "array with NaN or inf", "must be finite")
    for pr in network.projections:
        a = state.in_flight.get(pr.name)
        want = (pr.delay_range[1], pr.weights.shape[0])
        if a is None or a.shape != want or a.dtype != ring_dtype(pr):
            got = "missing" if a is None else f"{a.dtype} array of shape {a.shape}"
            raise bad_value(StateError, f"state.in_flight[{pr.name!r}]", got, f"must be {ring_dtype(pr)} of shape {want}")
        if a.dtype.kind == "f" and not np.all(np.isfinite(a)):
            raise bad_value(StateError, f"state.in_flight[{pr.name!r}]", "array with NaN or inf", "must be finite")
    extra = set(state.populations) - {p.name for p in network.populations}
    extra |= set(state.in_flight) - {pr.name for pr in network.projections}
    if extra:
        raise bad_value(StateError, "state", sorted(extra), "names populations or projections this network does not have")
    return state


# ---------------------------------------------------------------------------------------------
# files

_MAX_HEADER = 1 << 20


def save_state(state: SimState, path: str | os.PathLike) -> None:
    """Write ``state`` to ``path`` (``.npz``, no pickle, atomic); :func:`load_state` gives it back exactly."""
    from snn.io import atomic_write_bytes

    if not isinstance(state, SimState):
        raise SNNTypeError(f"state={type(state).__name__}: must be a snn.SimState")
    if state.owner:
        raise bad_value(StateError, "state", state, f"was made by {state.owner}; save the state it keeps (e.g. state.fixed)")
    arrays: dict[str, np.ndarray] = {}
    pops = []
    for i, (name, d) in enumerate(state.populations.items()):
        pops.append({"name": name, "vars": list(d)})
        for k, a in enumerate(d.values()):
            arrays[f"pop{i}.{k}"] = np.asarray(a)
    projs = []
    for j, (name, a) in enumerate(state.in_flight.items()):
        projs.append(name)
        arrays[f"proj{j}"] = np.asarray(a)
    header = {
        "format": FORMAT,
        "version": VERSION,
        "t": int(state.t),
        "seed": int(state.seed),
        "dt_ms": float(state.dt_ms),
        "populations": pops,
        "projections": projs,
        "structure": state.structure,
    }
    arrays["header"] = np.array(json.dumps(header))

    def write(fh: Any) -> None:
        np.savez(fh, **arrays)

    atomic_write_bytes(path, write)


def load_state(path: str | os.PathLike, network: Network | None = None) -> SimState:
    """Read a state written by :func:`save_state`; with ``network``, also check that it fits it.

    Every problem (not a state file, a damaged member, wrong shapes or dtypes)
    is a :class:`snn.errors.FileFormatError` naming the file and the member.
    """
    where = os.fspath(path)
    try:
        zf = zipfile.ZipFile(where)
    except (OSError, zipfile.BadZipFile) as exc:
        raise FileFormatError(f"{where}: not a state file written by snn.save_state ({exc})") from None
    with zf:
        names = set(zf.namelist())

        def member(name: str) -> np.ndarray:
            info = zf.getinfo(name + ".npy") if name + ".npy" in names else None
            if info is None:
                raise FileFormatError(f"{where}: member {name!r} is missing")
            if info.file_size > max(_MAX_HEADER, 64 * os.path.getsize(where) + 4096):
                raise FileFormatError(f"{where}: member {name!r} declares {info.file_size} bytes, more than the file can hold")
            try:
                with zf.open(info) as fh:
                    return np.lib.format.read_array(fh, allow_pickle=False)
            except Exception as exc:  # noqa: BLE001 - any damage becomes one clear error
                raise FileFormatError(f"{where}: member {name!r} is damaged ({type(exc).__name__}: {exc})") from None

        head = member("header")
        if head.dtype.kind != "U" or head.shape != () or len(str(head)) > _MAX_HEADER:
            raise FileFormatError(f"{where}: member 'header' is not a JSON string")
        try:
            header = json.loads(str(head))
        except (ValueError, RecursionError) as exc:
            raise FileFormatError(f"{where}: member 'header' is not valid JSON ({exc})") from None
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise FileFormatError(
                f"{where}: not a state file (format {header.get('format') if isinstance(header, dict) else None!r}, expected {FORMAT!r})"
            )
        if header.get("version") != VERSION:
            raise FileFormatError(f"{where}: state file version {header.get('version')!r} is not supported (this toolkit reads {VERSION})")
        try:
            t, seed, dt_ms = header["t"], header["seed"], header["dt_ms"]
            pops_h, projs_h, structure = header["populations"], header["projections"], header["structure"]
            if isinstance(t, bool) or not isinstance(t, int) or t < 0:
                raise ValueError(f"t={t!r} must be an int >= 0")
            _seed(seed)
            if isinstance(dt_ms, bool) or not isinstance(dt_ms, (int, float)) or not np.isfinite(dt_ms) or dt_ms <= 0:
                raise ValueError(f"dt_ms={dt_ms!r} must be a positive number")
            if not isinstance(structure, str) or not isinstance(pops_h, list) or not isinstance(projs_h, list):
                raise ValueError("structure, populations and projections have the wrong types")
            pops = {}
            for i, p in enumerate(pops_h):
                if not isinstance(p, dict) or not isinstance(p.get("name"), str) or not isinstance(p.get("vars"), list):
                    raise ValueError(f"populations[{i}] is malformed")
                pops[p["name"]] = {str(v): member(f"pop{i}.{k}") for k, v in enumerate(p["vars"])}
            flight = {}
            for j, name in enumerate(projs_h):
                if not isinstance(name, str):
                    raise ValueError(f"projections[{j}] is malformed")
                flight[name] = member(f"proj{j}")
        except (KeyError, ValueError, TypeError, SimulationError) as exc:
            raise FileFormatError(f"{where}: member 'header' is malformed ({exc})") from None
    arrays = [(f"{p}.{v}", a) for p, d in pops.items() for v, a in d.items()] + list(flight.items())
    for k, a in arrays:
        if a.dtype.kind not in "fib":
            raise FileFormatError(f"{where}: array {k!r} has dtype {a.dtype}; states hold float, int or bool arrays")
    state = SimState(t=int(t), seed=int(seed), dt_ms=float(dt_ms), populations=pops, in_flight=flight, structure=structure)
    if network is not None:
        check_state(state, network)
    return state
