"""``energy.estimate``: price a run's operation counts on a device profile.

Operation kinds counted from the inputs (a run's :class:`snn.OpCounts`, or its
``to_dict()``, and optionally a mapping's traffic dict):

``synaptic_event``
    ``counts.synaptic_events`` (sum over messages of the sender's out-degree).
``dense_synapse_op``
    ``counts.n_synapses * counts.n_steps`` (every synapse computed every step:
    how a non-spiking device runs the same network).
``neuron_update``
    ``counts.neuron_updates`` (every non-source neuron, every step).
``spike``
    messages sent by non-source neurons (populations with neuron updates).
``graded_message``
    ``counts.graded_spikes`` (messages of graded populations, sources included).
``message``
    spike messages core to core: with a mapping ``messages_local +
    messages_remote`` (one per firing neuron and destination core); without one,
    one message per spike (``counts.spikes``: every population on one core).
``hop_ew``, ``hop_ns``, ``hop_vertical``
    the mapping's link traversals (zero without a mapping).

The mapping is the plain dict of ``hardware.mapping.traffic(...).to_dict()``
(see the team contract): ``n_cores``, ``n_chips``, ``topology``,
``messages_local``, ``hops`` ``{ew, ns, vertical}``,
``per_step_max_core_synaptic_events``, ``per_step_max_core_neuron_updates``,
``per_step_max_hops`` (lists of ``n_steps``), and optionally
``messages_remote`` (spike messages delivered to another core), ``n_tiles``
(tiles holding neurons: the sync-table lookup), ``per_step_max_core_spikes``,
``per_step_max_core_messages_sent``, ``per_step_max_core_messages_received``
(per-step maxima over cores; without them spikes and messages are spread
evenly over the cores, with a note) and ``per_step_core_send`` /
``per_step_core_receive`` (per step, the per-core rows ``[neuron_updates,
spikes, messages_sent]`` / ``[messages_received, synaptic_events]`` no other
core dominates, read by ``combine: "core-max"`` time models such as
``loihi1_sanafe``'s; without them the busiest core's counts are taken term by
term, an upper bound).  :func:`energy.sanafe.loihi_traffic` gives them all;
``hardware.mapping.traffic(...).to_dict(include_cores=True)`` the maxima.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from energy import profiles as _profiles
from energy.errors import EnergyError, ProfileError, SNNTypeError, UnpricedOperationError
from energy.profiles import REQUIRED_KINDS, Profile

__all__ = ["EnergyEstimate", "estimate", "operation_counts"]


@dataclass(frozen=True)
class EnergyEstimate:
    """The energy and time of a run on one device profile.

    Attributes
    ----------
    profile : str
        The profile's name.
    label : {"estimate", "bound"}
        ``"bound"`` for profiles derived from best-case system figures.
    energy_j : float
        Total energy in joules (the sum of ``breakdown``).
    energy_low_j, energy_high_j : float or None
        The range the profile's sources give (each constant at its low/high end);
        ``None`` when no constant used has a range.
    time_s : float or None
        Run time in seconds (``None`` when the profile has no latency figures).
    time_low_s, time_high_s : float or None
    edp : float or None
        Energy-delay product ``energy_j * time_s`` in J*s.
    breakdown : dict
        ``{term name: joules}``; a sourced static power appears as its own
        term ``"static (P x chip time)"``, a chip-power floor as
        ``"chip power x time (floor excess)"``.
    static_j : float or None
        The static (leakage) energy inside ``energy_j``; ``None`` when the
        profile's sources give no static power (``static_power`` says which).
    static_power : str
        ``"priced"``, ``"not known"`` (dynamic energy only) or ``"included"``
        (an all-in figure that contains it), with the reason.
    operations : dict
        ``{operation kind: count}`` as used for pricing.
    time_model : str
        How the time was computed (mapping bound or the documented fallback).
    notes : tuple of str
        Assumptions, covered operations and fallbacks used.
    assumptions : dict
        ``{operation kind: J per op}`` supplied by the caller for kinds the
        profile does not price (never from the profile's sources).
    """

    profile: str
    label: str
    energy_j: float
    energy_low_j: float | None
    energy_high_j: float | None
    time_s: float | None
    time_low_s: float | None
    time_high_s: float | None
    edp: float | None
    breakdown: Mapping[str, float]
    operations: Mapping[str, int]
    time_model: str
    notes: tuple[str, ...] = ()
    assumptions: Mapping[str, float] = field(default_factory=dict)
    static_j: float | None = None
    static_low_j: float | None = None
    static_high_j: float | None = None
    static_power: str = "not known"

    @property
    def dynamic_j(self) -> float:
        """The energy without the static term (the per-op, dynamic part)."""
        return self.energy_j - (self.static_j or 0.0)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {
            "profile": self.profile,
            "label": self.label,
            "energy_j": self.energy_j,
            "energy_low_j": self.energy_low_j,
            "energy_high_j": self.energy_high_j,
            "time_s": self.time_s,
            "time_low_s": self.time_low_s,
            "time_high_s": self.time_high_s,
            "edp": self.edp,
            "breakdown": dict(self.breakdown),
            "operations": dict(self.operations),
            "time_model": self.time_model,
            "notes": list(self.notes),
            "assumptions": dict(self.assumptions),
            "static_j": self.static_j,
            "static_low_j": self.static_low_j,
            "static_high_j": self.static_high_j,
            "static_power": self.static_power,
            "dynamic_j": self.dynamic_j,
        }


# ------------------------------------------------------------------------------ inputs
@dataclass(frozen=True)
class _Counts:
    n_steps: int
    dt_ms: float
    spikes: int
    synaptic_events: int
    neuron_updates: int
    graded_spikes: int
    spikes_per_population: Mapping[str, int]
    neuron_updates_per_population: Mapping[str, int]
    spikes_per_step: np.ndarray
    synaptic_events_per_step: np.ndarray
    n_neurons: int
    n_synapses: int


#: counts are int64 at every boundary: the largest count accepted
_INT64_MAX = int(np.iinfo(np.int64).max)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:60] + f"... ({len(text)} characters)"


def _nonneg_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or not 0 <= value <= _INT64_MAX:
        raise EnergyError(f"{name}={_short(value)}: must be a non-negative int no larger than 2**63 - 1 (counts are int64)")
    return int(value)


def _per_step(value: Any, name: str, n_steps: int) -> np.ndarray:
    msg = f"{name}: must be a list of {n_steps} non-negative whole numbers (one per step) no larger than 2**63 - 1"
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError, OverflowError):
        raise EnergyError(msg) from None
    if arr.shape != (n_steps,):
        raise EnergyError(f"{msg}, got shape {arr.shape}")
    if arr.dtype.kind in "iu":
        if arr.size and (arr.min() < 0 or (arr.dtype.kind == "u" and arr.max() > _INT64_MAX)):
            raise EnergyError(f"{msg}; min {arr.min()}, max {arr.max()}")
        return arr.astype(np.int64)
    if arr.dtype.kind == "f":
        # a float is exact only below 2**53; above that it cannot be a counted number of events
        if not np.all(np.isfinite(arr)) or np.any(arr < 0) or np.any(arr != np.round(arr)) or np.any(arr >= 2.0**53):
            raise EnergyError(f"{msg} (floats must be whole and below 2**53)")
        return arr.astype(np.int64)
    if arr.dtype == object:
        vals = [_nonneg_int(v, f"{name}[{k}]") for k, v in enumerate(arr.tolist())]
        return np.asarray(vals, dtype=np.int64)
    raise EnergyError(f"{msg}, got dtype {arr.dtype}")


def _as_counts(counts: Any) -> _Counts:
    if hasattr(counts, "to_dict") and not isinstance(counts, Mapping):
        counts = counts.to_dict()
    if not isinstance(counts, Mapping):
        raise SNNTypeError(f"counts={counts!r}: must be a snn.OpCounts (RunResult.counts) or its to_dict()")
    need = ("n_steps", "dt_ms", "spikes", "synaptic_events", "neuron_updates", "n_neurons", "n_synapses")
    missing = [k for k in need if k not in counts]
    if missing:
        raise EnergyError(f"counts: missing {missing}; pass RunResult.counts or RunResult.counts.to_dict()")
    n_steps = _nonneg_int(counts["n_steps"], "counts['n_steps']")
    if n_steps < 1:
        raise EnergyError("counts['n_steps']=0: a run has at least one step")
    dt_ms = counts["dt_ms"]
    if isinstance(dt_ms, bool) or not isinstance(dt_ms, numbers.Real) or not math.isfinite(dt_ms) or dt_ms <= 0:
        raise EnergyError(f"counts['dt_ms']={dt_ms!r}: must be a positive number")
    ints = {k: _nonneg_int(counts[k], f"counts[{k!r}]") for k in ("spikes", "synaptic_events", "neuron_updates", "n_neurons", "n_synapses")}
    graded = _nonneg_int(counts.get("graded_spikes", 0), "counts['graded_spikes']")
    spp = {
        str(k): _nonneg_int(v, f"counts['spikes_per_population'][{k!r}]") for k, v in dict(counts.get("spikes_per_population", {})).items()
    }
    nupp = {
        str(k): _nonneg_int(v, f"counts['neuron_updates_per_population'][{k!r}]")
        for k, v in dict(counts.get("neuron_updates_per_population", {})).items()
    }
    sps = counts.get("spikes_per_step")
    eps = counts.get("synaptic_events_per_step")
    sps = np.full(n_steps, ints["spikes"] / n_steps) if sps is None else _per_step(sps, "counts['spikes_per_step']", n_steps)
    eps = (
        np.full(n_steps, ints["synaptic_events"] / n_steps)
        if eps is None
        else _per_step(eps, "counts['synaptic_events_per_step']", n_steps)
    )
    return _Counts(
        n_steps,
        float(dt_ms),
        ints["spikes"],
        ints["synaptic_events"],
        ints["neuron_updates"],
        graded,
        spp,
        nupp,
        sps,
        eps,
        ints["n_neurons"],
        ints["n_synapses"],
    )


@dataclass(frozen=True)
class _Traffic:
    n_cores: int
    n_chips: int
    topology: str
    messages_local: int
    messages_remote: int | None
    hops: Mapping[str, int]
    max_core_synaptic_events: np.ndarray
    max_core_neuron_updates: np.ndarray
    max_hops: np.ndarray
    # optional keys (None when the mapping does not give them)
    n_tiles: int | None = None
    max_core_spikes: np.ndarray | None = None
    max_core_messages_sent: np.ndarray | None = None
    max_core_messages_received: np.ndarray | None = None
    core_send: tuple[np.ndarray, ...] | None = None
    core_receive: tuple[np.ndarray, ...] | None = None


#: optional per-core row keys of the traffic dict: key -> its columns
_CORE_ROWS = {
    "per_step_core_send": ("neuron_updates", "spikes", "messages_sent"),
    "per_step_core_receive": ("messages_received", "synaptic_events"),
}


#: the columns of the per-core rows, per side of a ``combine: "core-max"`` time model
_CORE_COLUMNS = {
    "send": ("busiest_core_neuron_updates", "busiest_core_spikes", "busiest_core_messages_sent"),
    "receive": ("busiest_core_messages", "busiest_core_synaptic_events"),
}
#: time-model count names of the core-max sides -> the per-step count they fall back on
_CORE_COUNT_OF = {
    "core_neuron_updates": "busiest_core_neuron_updates",
    "core_spikes": "busiest_core_spikes",
    "core_messages_sent": "busiest_core_messages_sent",
    "core_messages_received": "busiest_core_messages",
    "core_synaptic_events": "busiest_core_synaptic_events",
}


def _core_rows(value: Any, name: str, n_steps: int, columns: tuple[str, ...]) -> tuple[np.ndarray, ...]:
    k = len(columns)
    msg = f"{name}: must be a list of {n_steps} lists (one per step) of rows [{', '.join(columns)}] of non-negative whole numbers"
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or len(value) != n_steps:
        raise EnergyError(f"{msg}, got {_short(value)}")
    out = []
    for step, rows in enumerate(value):
        try:
            arr = np.asarray(rows, dtype=object).reshape(-1, k) if len(rows) else np.zeros((0, k), dtype=object)
        except (TypeError, ValueError):
            raise EnergyError(f"{msg}; step {step}: {_short(rows)}") from None
        vals = [_nonneg_int(v, f"{name}[{step}]") for v in arr.ravel().tolist()]
        out.append(np.asarray(vals, dtype=np.int64).reshape(-1, k))
    return tuple(out)


def _as_traffic(mapping: Any, n_steps: int) -> _Traffic:
    if hasattr(mapping, "to_dict") and not isinstance(mapping, Mapping):
        mapping = mapping.to_dict()
    if not isinstance(mapping, Mapping):
        raise SNNTypeError(f"mapping={mapping!r}: must be the plain dict of hardware.mapping.traffic(...).to_dict() or None")
    need = (
        "n_cores",
        "n_chips",
        "topology",
        "messages_local",
        "hops",
        "per_step_max_core_synaptic_events",
        "per_step_max_core_neuron_updates",
        "per_step_max_hops",
    )
    missing = [k for k in need if k not in mapping]
    if missing:
        raise EnergyError(f"mapping: missing {missing}; expected the traffic dict {list(need)}")
    n_cores = _nonneg_int(mapping["n_cores"], "mapping['n_cores']")
    n_chips = _nonneg_int(mapping["n_chips"], "mapping['n_chips']")
    if n_cores < 1 or n_chips < 1:
        raise EnergyError(f"mapping: n_cores={n_cores}, n_chips={n_chips}: both must be >= 1")
    topology = mapping["topology"]
    if topology not in ("2d", "3d"):
        raise EnergyError(f"mapping['topology']={topology!r}: allowed: '2d', '3d'")
    hops = mapping["hops"]
    if not isinstance(hops, Mapping) or set(hops) - {"ew", "ns", "vertical"}:
        raise EnergyError(f"mapping['hops']={hops!r}: must be a dict with keys 'ew', 'ns', 'vertical'")
    hops = {k: _nonneg_int(hops.get(k, 0), f"mapping['hops'][{k!r}]") for k in ("ew", "ns", "vertical")}
    remote = mapping.get("messages_remote")
    opt: dict[str, Any] = {}
    if mapping.get("n_tiles") is not None:
        opt["n_tiles"] = _nonneg_int(mapping["n_tiles"], "mapping['n_tiles']")
        if not 1 <= opt["n_tiles"] <= n_cores:
            raise EnergyError(f"mapping['n_tiles']={opt['n_tiles']}: must be in [1, n_cores={n_cores}] (tiles holding a used core)")
    for key, attr in (
        ("per_step_max_core_spikes", "max_core_spikes"),
        ("per_step_max_core_messages_sent", "max_core_messages_sent"),
        ("per_step_max_core_messages_received", "max_core_messages_received"),
    ):
        if mapping.get(key) is not None:
            opt[attr] = _per_step(mapping[key], f"mapping[{key!r}]", n_steps)
    for key, attr in (("per_step_core_send", "core_send"), ("per_step_core_receive", "core_receive")):
        if mapping.get(key) is not None:
            opt[attr] = _core_rows(mapping[key], f"mapping[{key!r}]", n_steps, _CORE_ROWS[key])
    return _Traffic(
        n_cores,
        n_chips,
        topology,
        _nonneg_int(mapping["messages_local"], "mapping['messages_local']"),
        None if remote is None else _nonneg_int(remote, "mapping['messages_remote']"),
        hops,
        _per_step(mapping["per_step_max_core_synaptic_events"], "mapping['per_step_max_core_synaptic_events']", n_steps),
        _per_step(mapping["per_step_max_core_neuron_updates"], "mapping['per_step_max_core_neuron_updates']", n_steps),
        _per_step(mapping["per_step_max_hops"], "mapping['per_step_max_hops']", n_steps),
        **opt,
    )


def _nonsource_spikes(c: _Counts) -> int:
    if c.spikes_per_population and c.neuron_updates_per_population:
        return int(sum(n for pop, n in c.spikes_per_population.items() if c.neuron_updates_per_population.get(pop, 0) > 0))
    return c.spikes


def _operations(c: _Counts, t: _Traffic | None, notes: list[str]) -> dict[str, int]:
    ops = {
        "synaptic_event": c.synaptic_events,
        "dense_synapse_op": c.n_synapses * c.n_steps,
        "neuron_update": c.neuron_updates,
        "spike": _nonsource_spikes(c),
        "graded_message": c.graded_spikes,
    }
    if t is None:
        ops["message"] = c.spikes
        ops.update(hop_ew=0, hop_ns=0, hop_vertical=0)
    else:
        if t.messages_remote is None:
            ops["message"] = max(c.spikes, t.messages_local)
            notes.append("the mapping gives no 'messages_remote': priced one message per spike")
        else:
            ops["message"] = t.messages_local + t.messages_remote
        ops.update(hop_ew=t.hops["ew"], hop_ns=t.hops["ns"], hop_vertical=t.hops["vertical"])
    return ops


def operation_counts(counts: Any, mapping: Any = None) -> dict[str, int]:
    """The operation kinds :func:`estimate` prices, ``{kind: count}``, for these inputs."""
    c = _as_counts(counts)
    t = None if mapping is None else _as_traffic(mapping, c.n_steps)
    return _operations(c, t, [])


# ------------------------------------------------------------------------------ pricing
def _check_assumptions(prof: Profile, assumptions: Mapping[str, Any] | None) -> dict[str, float]:
    if not assumptions:
        return {}
    if not isinstance(assumptions, Mapping):
        raise SNNTypeError(f"assumptions={assumptions!r}: must be a dict {{operation kind: joules per op or a constant name}}")
    if prof.is_all_in:
        raise EnergyError(f"assumptions={dict(assumptions)!r}: profile {prof.name!r} is an all-in figure; nothing may be added to it")
    out = {}
    for kind, value in assumptions.items():
        if kind not in prof.unpriced:
            raise EnergyError(
                f"assumptions[{kind!r}]: only operation kinds the profile declares unpriced may be assumed; profile {prof.name!r} leaves unpriced {sorted(prof.unpriced)}"
            )
        if isinstance(value, str):
            const = prof.constant(value)
            if const.dimension != "energy":
                raise EnergyError(f"assumptions[{kind!r}]={value!r}: constant is in {const.unit}, not an energy")
            out[kind] = const.si
        elif isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value) and value >= 0:
            out[kind] = float(value)
        else:
            raise EnergyError(
                f"assumptions[{kind!r}]={value!r}: must be joules per operation (a finite number >= 0) or the name of an energy constant of the profile"
            )
    return out


def estimate(
    counts: Any, profile: str | Profile, mapping: Mapping[str, Any] | None = None, *, assumptions: Mapping[str, Any] | None = None
) -> EnergyEstimate:
    """Energy and time of a run on a device profile.

    Parameters
    ----------
    counts : snn.OpCounts or dict
        ``RunResult.counts`` or its ``to_dict()``.
    profile : str or Profile
        A name from :func:`energy.profiles.names` (not a dense-processor profile:
        price FLOPs and bytes with :func:`energy.baseline.model`).
    mapping : dict, optional
        The mapping's traffic dict (see the module docstring).  Where the profile
        prices routing it prices the messages and hops; the per-step maxima give
        the latency bound (the busiest core bounds each step).  Without it: one
        message per spike, no hops, and time from the fallback (the work spread
        evenly over the fewest cores that hold the network: an optimistic time).
    assumptions : dict, optional
        ``{operation kind: joules per op, or the name of an energy constant of the
        profile}`` for kinds the profile declares unpriced (e.g.
        ``{"hop_vertical": "e_hop_ns"}`` to price a 3D-stacked placement's
        vertical hops like a north-south hop).  Marked as assumptions in the
        result; refused for all-in profiles.

    Returns
    -------
    EnergyEstimate

    Raises
    ------
    UnpricedOperationError
        The counts contain an operation the profile has no price for (e.g.
        graded spikes on Loihi 1): no partial total is returned.
    """
    prof = _profiles.get(profile)
    if prof.kind == "dense-processor":
        raise ProfileError(
            f"profile={prof.name!r} is a dense processor (board power, FLOP/s, bandwidth): it prices FLOPs and bytes, not spikes; "
            "use energy.baseline.model(flops, bytes_moved, gpu_profile=...)"
        )
    c = _as_counts(counts)
    t = None if mapping is None else _as_traffic(mapping, c.n_steps)
    notes: list[str] = []
    ops = _operations(c, t, notes)
    assumed = _check_assumptions(prof, assumptions)

    priced = {term.count for term in prof.energy_terms}
    for kind in REQUIRED_KINDS:
        n = ops.get(kind, 0)
        if n == 0 or kind in priced:
            continue
        if kind in prof.covers:
            notes.append(f"{n} {kind}: not priced separately ({prof.covers[kind]})")
        elif kind in assumed:
            notes.append(f"{n} {kind}: priced by the caller's assumption at {assumed[kind]:.3g} J each (not from the profile's sources)")
        else:
            raise UnpricedOperationError(
                f"counts contain {n} {kind} operations, which profile {prof.name!r} has no price for ({prof.unpriced.get(kind, 'no term')}); "
                "refusing to give a partial total. Use a profile that prices them"
                + ("" if prof.is_all_in else ", or pass assumptions={" + repr(kind) + ": joules_per_op} to price them explicitly"),
                kind=kind,
                count=n,
                profile=prof.name,
            )

    breakdown: dict[str, float] = {}
    low = high = 0.0
    ranged = False
    for term in prof.energy_terms:
        n = ops[term.count]
        consts = [prof.constants[r] for r in term.constants]
        breakdown[term.name] = n * sum(m * k.si for m, k in zip(term.multipliers, consts))
        low += n * sum(m * k.low_si for m, k in zip(term.multipliers, consts))
        high += n * sum(m * k.high_si for m, k in zip(term.multipliers, consts))
        ranged |= any(k.has_range for k in consts) and n > 0
    for kind, joules in assumed.items():
        if ops.get(kind, 0):
            breakdown[f"{kind} (assumed)"] = ops[kind] * joules
            low += ops[kind] * joules
            high += ops[kind] * joules
    time_s, time_low, time_high, time_model = _time(prof, c, t, ops, notes)
    err = {k: prof.constants[r].si for k, r in prof.model_error.items()}
    if "time" in err and time_s is not None:
        time_low, time_high = time_low * (1 - err["time"]), time_high * (1 + err["time"])
        notes.append(f"time range widened by the model's stated latency error (+/-{err['time']:.1%})")
    if time_s is not None and time_low == time_s == time_high:
        time_low = time_high = None

    # static (leakage) power x chip time, a term of its own
    static_j = static_low = static_high = None
    sp = prof.static_power
    if "constant" in sp:
        if time_s is None:
            raise ProfileError(f"profile {prof.name!r} has a static power but no time model: static energy needs a chip time")
        k = prof.constants[sp["constant"]]
        units = (t.n_cores if t is not None else _fallback_cores(prof, c)) if sp["per"] == "core" else (t.n_chips if t is not None else 1)
        tl = time_s if time_low is None else time_low
        th = time_s if time_high is None else time_high
        static_j, static_low, static_high = units * k.si * time_s, units * k.low_si * tl, units * k.high_si * th
        breakdown["static (P x chip time)"] = static_j
        low += static_low
        high += static_high
        ranged = True
        static_txt = f"priced: {k.value} {k.unit} per {sp['per']} x {units} {sp['per']}(s) x chip time ({k.source})"
    else:
        static_txt = f"{sp['status']}: {sp['reason']}"
        if sp["status"] == "not known":
            notes.append(f"static power: not known ({sp['reason']}); this energy is dynamic only")

    # a chip-power floor: energy = max(terms, chip power x time)
    if prof.power_floor is not None and time_s is not None:
        k = prof.constants[prof.power_floor]
        tl = time_s if time_low is None else time_low
        th = time_s if time_high is None else time_high
        floor, floor_low, floor_high = k.si * time_s, k.low_si * tl, k.high_si * th
        terms_j = float(sum(breakdown.values()))
        if floor > terms_j:
            breakdown["chip power x time (floor excess)"] = floor - terms_j
        low_terms = low if ranged else terms_j
        high_terms = high if ranged else terms_j
        low, high = max(low_terms, floor_low), max(high_terms, floor_high)
        ranged = ranged or floor_low != floor_high or floor > terms_j
        notes.append(f"energy = max(per-event terms {terms_j:.3g} J, chip power {k.value} {k.unit} x time {time_s:.3g} s = {floor:.3g} J)")
    energy_j = float(sum(breakdown.values()))
    if "energy" in err:
        lo0, hi0 = (low, high) if ranged else (energy_j, energy_j)
        low, high, ranged = lo0 * (1 - err["energy"]), hi0 * (1 + err["energy"]), True
        notes.append(f"energy range widened by the model's stated energy error (+/-{err['energy']:.1%})")

    if prof.label == "bound":
        notes.insert(0, f"{prof.name} is a bound derived from best-case system figures, not an estimate")
    notes.extend(prof.notes)
    return EnergyEstimate(
        profile=prof.name,
        label=prof.label,
        energy_j=energy_j,
        energy_low_j=float(low) if ranged else None,
        energy_high_j=float(high) if ranged else None,
        time_s=time_s,
        time_low_s=time_low,
        time_high_s=time_high,
        edp=None if time_s is None else energy_j * time_s,
        breakdown=breakdown,
        operations={k: int(v) for k, v in ops.items()},
        time_model=time_model,
        notes=tuple(notes),
        assumptions=assumed,
        static_j=static_j,
        static_low_j=static_low,
        static_high_j=static_high,
        static_power=static_txt,
    )


def _fallback_cores(prof: Profile, c: _Counts) -> int:
    spec = prof.time
    per_core = prof.si(spec["neurons_per_core"]) if "neurons_per_core" in spec else float("inf")
    return max(1, math.ceil(c.neuron_updates / c.n_steps / per_core)) if math.isfinite(per_core) else 1


# ------------------------------------------------------------------------------ time
def _sync_tiles(prof: Profile, sync: Mapping[str, Any], t: _Traffic | None, n_cores: int, notes: list[str]) -> int:
    """Tiles in use: the mapping's ``n_tiles``, else the fewest tiles that hold ``n_cores`` cores."""
    if t is not None and t.n_tiles is not None:
        return t.n_tiles
    per_tile = max(1, int(prof.si(sync["cores_per_tile"])))
    tiles = -(-n_cores // per_tile)
    if t is not None:
        notes.append(
            f"time: the mapping gives no 'n_tiles'; the synchronisation latency is looked up for the fewest tiles that hold its {n_cores} cores ({tiles})"
        )
    return tiles


def _sync_latency(prof: Profile, sync: Mapping[str, Any], tiles: int, which: str) -> float:
    """SANA-FE's table lookup: the entry of the largest key <= tiles (the smallest key below all of them)."""
    keys = sorted(int(k) for k in sync["table"])
    chosen = keys[0]
    for k in keys:
        if k <= tiles:
            chosen = k
    const = prof.constants[sync["table"][str(chosen)]]
    return {"value": const.si, "low": const.low_si, "high": const.high_si}[which]


def _time(
    prof: Profile, c: _Counts, t: _Traffic | None, ops: Mapping[str, int], notes: list[str]
) -> tuple[float | None, float | None, float | None, str]:
    spec = prof.time
    model = spec.get("model", "none")
    if model == "none":
        return None, None, None, f"none: {spec.get('note', 'the profile has no latency figures')}"
    if model == "tick":
        const = prof.constants[spec["constant"]]
        return (
            c.n_steps * const.si,
            c.n_steps * const.low_si,
            c.n_steps * const.high_si,
            f"tick: {c.n_steps} steps x {const.value} {const.unit}",
        )
    if model == "throughput":
        chips = t.n_chips if t is not None else 1
        worst = {"value": 0.0, "low": 0.0, "high": 0.0}
        for rate in spec["rates"]:
            const = prof.constants[rate["constant"]]
            n = ops[rate["count"]]
            # a lower rate bound gives a longer time: low time uses the high rate
            worst["value"] = max(worst["value"], n / (const.si * chips))
            worst["low"] = max(worst["low"], n / (const.high_si * chips))
            worst["high"] = max(worst["high"], n / (const.low_si * chips))
        where = "the mapping's" if t is not None else "1 (no mapping)"
        return worst["value"], worst["low"], worst["high"], f"throughput bound on {where} {chips} chip(s): {spec.get('note', '')}"
    # per-step: the busiest core bounds each step
    n_steps = c.n_steps
    neurons_per_step = c.neuron_updates / n_steps
    if t is not None:
        n_cores = t.n_cores
        per_step = {
            "busiest_core_neuron_updates": t.max_core_neuron_updates.astype(np.float64),
            "busiest_core_synaptic_events": t.max_core_synaptic_events.astype(np.float64),
            "longest_route_hops": t.max_hops.astype(np.float64),
        }
        how = f"mapping: per-step bound from the busiest core over {n_cores} cores"
    else:
        n_cores = _fallback_cores(prof, c)
        per_step = {
            "busiest_core_neuron_updates": np.full(n_steps, math.ceil(neurons_per_step / n_cores), dtype=np.float64),
            "busiest_core_synaptic_events": np.ceil(c.synaptic_events_per_step / n_cores),
            "longest_route_hops": np.zeros(n_steps),
        }
        how = (
            f"fallback (no mapping): the work spread evenly over the fewest cores that hold the network ({n_cores}), no routing: optimistic"
        )
    # per-core spike and message counts: the mapping's, else spread evenly over its cores
    msg_per_spike = ops.get("message", c.spikes) / c.spikes if c.spikes else 1.0
    spread = {
        "busiest_core_spikes": (np.ceil(c.spikes_per_step / n_cores), "max_core_spikes"),
        "busiest_core_messages": (np.ceil(c.spikes_per_step / n_cores), "max_core_messages_received"),
        "busiest_core_messages_sent": (np.ceil(c.spikes_per_step * msg_per_spike / n_cores), "max_core_messages_sent"),
    }
    spread_used = set()
    for count, (even, attr) in spread.items():
        given = None if t is None else getattr(t, attr)
        if given is None:
            per_step[count] = even
            spread_used.add(count)
        else:
            per_step[count] = given.astype(np.float64)
    combine = spec.get("combine", "sum")
    used = {term["count"] for term in spec.get("terms", ())}
    core_max = combine == "core-max"
    if core_max:
        sides = {side: [(_CORE_COUNT_OF[term["count"]], term["constants"]) for term in spec.get(side, ())] for side in ("send", "receive")}
        rows = {"send": None if t is None else t.core_send, "receive": None if t is None else t.core_receive}
        for side, terms in sides.items():
            if rows[side] is None:
                used |= {count for count, _ in terms}
        if t is not None and (rows["send"] is None or rows["receive"] is None):
            notes.append(
                "time: the mapping gives no per-core rows ('per_step_core_send' / 'per_step_core_receive'); the busiest core's "
                "counts are taken term by term (an upper bound where different cores are the busiest)"
            )
    if t is not None and used & spread_used:
        notes.append(
            f"time: the mapping has no per-core counts for {sorted(used & spread_used)}; spikes and messages are spread evenly over its cores"
        )
    if "sync" in spec:
        tiles = _sync_tiles(prof, spec["sync"], t, n_cores, notes)
    totals = {}
    for which in ("value", "low", "high"):

        def lat(refs: list[str], which: str = which) -> float:
            return sum({"value": k.si, "low": k.low_si, "high": k.high_si}[which] for k in (prof.constants[r] for r in refs))

        step_time = np.zeros(n_steps)
        for term in spec.get("terms", ()):
            if combine == "max":
                step_time = np.maximum(step_time, per_step[term["count"]] * lat(term["constants"]))
            else:
                step_time += per_step[term["count"]] * lat(term["constants"])
        if core_max:
            # per core max(send work, receive work); the busiest core sets the step
            busiest = np.zeros(n_steps)
            for side, terms in sides.items():
                col = {count: j for j, count in enumerate(_CORE_COLUMNS[side])}
                if rows[side] is not None:
                    w = np.zeros(len(col))
                    for count, refs in terms:
                        w[col[count]] += lat(refs)
                    work = np.array([float((r @ w).max(initial=0.0)) for r in rows[side]])
                else:
                    work = sum((per_step[count] * lat(refs) for count, refs in terms), np.zeros(n_steps))
                busiest = np.maximum(busiest, work)
            step_time += busiest
        for r in spec.get("step_constants", ()):
            k = prof.constants[r]
            step_time += {"value": k.si, "low": k.low_si, "high": k.high_si}[which]
        if "sync" in spec:
            step_time += _sync_latency(prof, spec["sync"], tiles, which)
        totals[which] = float(step_time.sum())
    return totals["value"], totals["low"], totals["high"], f"per-step ({how}); {spec.get('note', '')}".strip()
