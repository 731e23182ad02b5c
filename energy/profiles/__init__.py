"""Device profiles: one JSON data file per device, every constant with its source.

A profile file (``energy/profiles/data/<name>.json``) holds

``constants``
    ``{name: {value, unit, source, grade, basis, scope, [low], [high], [via], [note], [formula]}}``.
    ``grade`` says how we got the number: ``primary`` (read in the primary
    source), ``secondary`` (read where someone else quotes it; ``via`` says where)
    or ``derived`` (computed by us; ``formula`` says how).  ``basis`` says what the
    number rests on: ``simulated``, ``silicon-measured``, ``silicon-calibrated``
    (a model fitted to silicon measurements), ``vendor-claim`` (a vendor's own
    published figure, not independently measured), ``derived`` or
    ``specified`` (a datasheet limit).  ``scope`` is ``per-op`` (one operation's
    share) or ``all-in`` (a whole-system figure that already contains everything).
``energy_terms``
    ``[{name, count, constants: [...], [multipliers: [...]]}]``: each term prices
    one kind of counted operation (``count``, see :data:`OPERATION_KINDS`) with the
    sum of its constants.
``covers`` / ``unpriced``
    ``{operation kind: reason}``: kinds the profile deliberately does not price
    with a term of its own (already inside an all-in figure, or outside the
    source's stated scope), and kinds it has no price for at all.  Every kind of
    :data:`REQUIRED_KINDS` is priced, covered or unpriced; counts containing an
    unpriced kind are refused by :func:`energy.estimate`.
``time``
    the latency model (``per-step``, ``tick``, ``throughput`` or ``none``).
    A per-step model may add ``step_constants`` (latencies paid once per step,
    e.g. a barrier) and ``combine: "max"`` (the step takes its slowest term,
    for throughput floors, instead of the terms in series).  ``combine:
    "core-max"`` is SANA-FE's simple timing model: ``send`` terms (counts
    ``core_neuron_updates``, ``core_spikes``, ``core_messages_sent``) and
    ``receive`` terms (``core_messages_received``, ``core_synaptic_events``)
    are summed per core, each core takes the larger of the two, and the step
    takes its busiest core (plus any ``terms`` in series).  ``sync``
    ``{cores_per_tile, table: {tiles: constant}}`` adds the latency of the
    largest table key <= the tiles in use (the mapping's ``n_tiles``).
``static_power`` (optional)
    ``{"constant": name, "per": "chip"|"core"}`` -- a sourced static (leakage)
    power, charged for the chip time on the chips (or cores) used -- or
    ``{"status": "not known"|"included", "reason": text}`` where no source
    gives one, or an all-in figure already contains it.
``power_floor`` (optional)
    the name of a chip-power constant: the energy is then
    ``max(sum of the terms, chip power x time)`` (e.g. TrueNorth's measured
    chip power at its real-time operating point).
``model_error`` (optional)
    ``{"energy": name, "time": name}``: constants in ``%`` giving a model's
    stated error against silicon, which widens the low/high range.

Dense processors (GPUs, CPUs) have ``kind: "dense-processor"`` and carry
``board_power``, peak FLOP/s per precision (``dtype_peaks``) and
``mem_bandwidth`` for :func:`energy.baseline.model`.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from energy.errors import ProfileError

__all__ = [
    "Constant",
    "Term",
    "Profile",
    "names",
    "get",
    "load",
    "OPERATION_KINDS",
    "REQUIRED_KINDS",
    "GRADES",
    "BASES",
    "SCOPES",
    "UNITS",
]

FORMAT = "snn-toolkit.energy-profile"
VERSION = 1

#: counted operations a term can price (see :func:`energy.estimate` for how each is counted)
OPERATION_KINDS = (
    "synaptic_event",
    "dense_synapse_op",
    "neuron_update",
    "spike",
    "graded_message",
    "message",
    "hop_ew",
    "hop_ns",
    "hop_vertical",
)
#: kinds every neuromorphic/op-level profile must price, cover or declare unpriced
REQUIRED_KINDS = ("synaptic_event", "neuron_update", "spike", "graded_message", "message", "hop_ew", "hop_ns", "hop_vertical")
GRADES = ("primary", "secondary", "derived")
BASES = ("simulated", "silicon-measured", "silicon-calibrated", "vendor-claim", "derived", "specified")
SCOPES = ("per-op", "all-in")
KINDS = ("neuromorphic", "keras-spiking", "op-level", "dense-processor")
LABELS = ("estimate", "bound")
TIME_MODELS = ("per-step", "tick", "throughput", "none")
TIME_COUNTS = (
    "busiest_core_neuron_updates",
    "busiest_core_synaptic_events",
    "busiest_core_spikes",
    "busiest_core_messages",
    "longest_route_hops",
    "busiest_core_messages_sent",
)
#: counts of the two sides of a ``combine: "core-max"`` per-step model (per core, per step)
CORE_TIME_COUNTS = {
    "send": ("core_neuron_updates", "core_spikes", "core_messages_sent"),
    "receive": ("core_messages_received", "core_synaptic_events"),
}

#: unit -> (dimension, factor to SI)
UNITS: dict[str, tuple[str, float]] = {
    "J": ("energy", 1.0),
    "mJ": ("energy", 1e-3),
    "uJ": ("energy", 1e-6),
    "nJ": ("energy", 1e-9),
    "pJ": ("energy", 1e-12),
    "fJ": ("energy", 1e-15),
    "s": ("time", 1.0),
    "ms": ("time", 1e-3),
    "us": ("time", 1e-6),
    "ns": ("time", 1e-9),
    "W": ("power", 1.0),
    "mW": ("power", 1e-3),
    "kW": ("power", 1e3),
    "op/s": ("rate", 1.0),
    "GFLOP/s": ("rate", 1e9),
    "TFLOP/s": ("rate", 1e12),
    "TOP/s/W": ("efficiency", 1e12),
    "GB/s": ("bandwidth", 1e9),
    "TB/s": ("bandwidth", 1e12),
    "GHz": ("frequency", 1e9),
    "count": ("count", 1.0),
    "%": ("fraction", 0.01),
}


@dataclass(frozen=True)
class Constant:
    """One sourced number of a profile.

    ``value``/``low``/``high`` are in ``unit`` as the source gives them;
    ``si``/``low_si``/``high_si`` are the same in SI units (J, s, W, 1/s, B/s, Hz).
    """

    name: str
    value: float
    unit: str
    source: str
    grade: str
    basis: str
    scope: str
    low: float | None = None
    high: float | None = None
    via: str = ""
    note: str = ""
    formula: str = ""

    @property
    def dimension(self) -> str:
        return UNITS[self.unit][0]

    @property
    def si(self) -> float:
        return self.value * UNITS[self.unit][1]

    @property
    def low_si(self) -> float:
        return (self.value if self.low is None else self.low) * UNITS[self.unit][1]

    @property
    def high_si(self) -> float:
        return (self.value if self.high is None else self.high) * UNITS[self.unit][1]

    @property
    def has_range(self) -> bool:
        return self.low is not None or self.high is not None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "value": self.value,
            "unit": self.unit,
            "source": self.source,
            "grade": self.grade,
            "basis": self.basis,
            "scope": self.scope,
        }
        for key in ("low", "high"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        for key in ("via", "note", "formula"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        return out


@dataclass(frozen=True)
class Term:
    """An energy term: ``count`` operations priced at ``sum(multipliers * constants)`` each."""

    name: str
    count: str
    constants: tuple[str, ...]
    multipliers: tuple[float, ...]


@dataclass(frozen=True, eq=False)
class Profile:
    """A device profile read from its data file (see the module docstring)."""

    name: str
    title: str
    kind: str
    scope: str
    label: str
    description: str
    references: Mapping[str, str]
    constants: Mapping[str, Constant]
    energy_terms: tuple[Term, ...]
    covers: Mapping[str, str]
    unpriced: Mapping[str, str]
    time: Mapping[str, Any]
    dtype_peaks: Mapping[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    static_power: Mapping[str, Any] = field(default_factory=lambda: {"status": "not known", "reason": "the profile gives no static power"})
    power_floor: str | None = None
    model_error: Mapping[str, str] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)
    path: str = ""

    def constant(self, name: str) -> Constant:
        """The constant called ``name``."""
        try:
            return self.constants[name]
        except KeyError:
            raise ProfileError(f"constant={name!r}: not in profile {self.name!r}; known: {sorted(self.constants)}") from None

    def si(self, name: str) -> float:
        """Value of constant ``name`` in SI units."""
        return self.constant(name).si

    @property
    def is_all_in(self) -> bool:
        return self.scope == "all-in"

    def __repr__(self) -> str:
        return f"Profile({self.name!r}, kind={self.kind!r}, scope={self.scope!r}, label={self.label!r})"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict of the profile (the same layout as its data file)."""
        out: dict[str, Any] = {
            "format": FORMAT,
            "version": VERSION,
            "name": self.name,
            "title": self.title,
            "kind": self.kind,
            "scope": self.scope,
            "label": self.label,
            "description": self.description,
            "references": dict(self.references),
            "constants": {k: c.to_dict() for k, c in self.constants.items()},
        }
        if self.kind != "dense-processor":
            out["energy_terms"] = [
                {
                    "name": t.name,
                    "count": t.count,
                    "constants": list(t.constants),
                    **({"multipliers": list(t.multipliers)} if any(m != 1 for m in t.multipliers) else {}),
                }
                for t in self.energy_terms
            ]
            out["covers"] = dict(self.covers)
            out["unpriced"] = dict(self.unpriced)
            out["time"] = dict(self.time)
        else:
            out["dtype_peaks"] = dict(self.dtype_peaks)
        out["notes"] = list(self.notes)
        out["static_power"] = dict(self.static_power)
        if self.power_floor is not None:
            out["power_floor"] = self.power_floor
        if self.model_error:
            out["model_error"] = dict(self.model_error)
        out.update(self.extra)
        return out


# ------------------------------------------------------------------------------ loading
def _data_dir():
    return resources.files("energy.profiles").joinpath("data")


def names() -> list[str]:
    """Names of every shipped profile, sorted."""
    return sorted(entry.name[: -len(".json")] for entry in _data_dir().iterdir() if entry.name.endswith(".json"))


_CACHE: dict[str, Profile] = {}

#: deepest JSON nesting a profile file may have (the shipped ones use 4)
_MAX_DEPTH = 16
#: largest profile file read (the shipped ones are under 40 kB)
_MAX_BYTES = 4 * 1024 * 1024


def get(name: str | os.PathLike | Profile) -> Profile:
    """The shipped profile called ``name``, or the profile file at a path.

    ``name`` is a shipped name (:func:`names`; no path separators, no ``..``),
    an ``os.PathLike`` (a ``pathlib.Path``: read with :func:`load`), or a
    :class:`Profile` (returned as is).  Shipped profiles are cached after they
    validate.
    """
    if isinstance(name, Profile):
        return name
    if isinstance(name, os.PathLike):
        return load(name)
    if not isinstance(name, str):
        raise ProfileError(
            f"profile={name!r}: must be a profile name (str), a pathlib.Path to a profile file, or an energy.profiles.Profile; known: {names()}"
        )
    if name in _CACHE:
        return _CACHE[name]
    known = names()
    if name not in known:
        hint = (
            " (a path? pass pathlib.Path(...) or use energy.profiles.load(path))"
            if ("/" in name or "\\" in name or name.endswith(".json"))
            else ""
        )
        raise ProfileError(f"profile={name!r}: unknown profile{hint}; known: {known}")
    entry = _data_dir().joinpath(f"{name}.json")
    prof = _read(entry, where=f"profile {name!r}")
    if prof.name != name:
        raise ProfileError(f"profile file {name}.json names itself {prof.name!r}; the file name and 'name' must agree")
    _CACHE[name] = prof
    return prof


def load(path: str | os.PathLike) -> Profile:
    """Read and validate a profile data file of your own (same layout as the shipped ones).

    Any defect (unreadable, not UTF-8, not JSON, nested deeper than 16 levels,
    wrong types, missing sections, non-positive constants) is one :class:`ProfileError`.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise ProfileError(f"path={path!r}: must be a str or os.PathLike naming a profile JSON file")
    return _read(Path(path), where=f"path={str(path)!r}")


def _json_depth(text: str) -> int:
    """Deepest nesting of ``[``/``{`` in JSON text, ignoring brackets inside strings."""
    depth = level = 0
    in_str = escaped = False
    for ch in text:
        if in_str:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in "[{":
            level += 1
            depth = max(depth, level)
        elif ch in "]}":
            level -= 1
    return depth


def _read(entry: Any, *, where: str) -> Profile:
    try:
        raw = entry.read_bytes()
    except OSError as exc:
        raise ProfileError(f"{where}: cannot be read ({type(exc).__name__}: {exc})") from None
    if len(raw) > _MAX_BYTES:
        raise ProfileError(f"{where}: {len(raw)} bytes; a profile file is at most {_MAX_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProfileError(f"{where}: not UTF-8 text ({exc})") from None
    # json's parser recurses per nesting level: refuse deep nesting before parsing it
    depth = _json_depth(text)
    if depth > _MAX_DEPTH:
        raise ProfileError(f"{where}: JSON nested {depth} levels deep; a profile has at most {_MAX_DEPTH}")
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise ProfileError(f"{where}: not valid JSON ({exc})") from None
    try:
        return _parse(data, where=where, path=str(entry))
    except ProfileError:
        raise
    except (TypeError, AttributeError, KeyError, ValueError, RecursionError) as exc:
        raise ProfileError(f"{where}: malformed profile ({type(exc).__name__}: {exc})") from None


def _req(d: Mapping[str, Any], key: str, where: str, types: type | tuple[type, ...]) -> Any:
    if key not in d:
        raise ProfileError(f"{where}: missing field {key!r}")
    value = d[key]
    allowed = types if isinstance(types, tuple) else (types,)
    if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):
        raise ProfileError(f"{where}: field {key!r}={value!r} has the wrong type; expected {types}")
    return value


def _choice(value: Any, allowed: tuple[str, ...], where: str, key: str) -> str:
    if value not in allowed:
        raise ProfileError(f"{where}: {key}={value!r}; allowed: {list(allowed)}")
    return value


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ProfileError(f"{where}: {value!r} must be a finite number")
    return float(value)


def _parse_constant(name: str, d: Any, where: str) -> Constant:
    w = f"{where}, constant {name!r}"
    if not isinstance(d, Mapping):
        raise ProfileError(f"{w}: must be an object with value, unit, source, grade, basis, scope")
    value = _number(_req(d, "value", w, (int, float)), f"{w}, value")
    unit = _choice(_req(d, "unit", w, str), tuple(UNITS), w, "unit")
    source = _req(d, "source", w, str)
    if not source.strip():
        raise ProfileError(f"{w}: source must name the paper and table, or the repository and path")
    grade = _choice(_req(d, "grade", w, str), GRADES, w, "grade")
    basis = _choice(_req(d, "basis", w, str), BASES, w, "basis")
    scope = _choice(_req(d, "scope", w, str), SCOPES, w, "scope")
    low = _number(d["low"], f"{w}, low") if "low" in d else None
    high = _number(d["high"], f"{w}, high") if "high" in d else None
    dimension = UNITS[unit][0]
    for key, v in (("value", value), ("low", low), ("high", high)):
        if v is None:
            continue
        if v < 0 or (v == 0 and dimension not in ("energy", "time")):
            allowed = "> 0" if dimension not in ("energy", "time") else ">= 0 (an energy or latency a model sets to nothing may be 0)"
            raise ProfileError(f"{w}: {key}={v!r} {unit}: a {dimension} constant must be {allowed}")
    if (low is not None and low > value) or (high is not None and high < value):
        raise ProfileError(f"{w}: low={low}, value={value}, high={high} must satisfy low <= value <= high")
    if grade == "secondary" and not str(d.get("via", "")).strip():
        raise ProfileError(f"{w}: a secondary constant must say where it was read ('via')")
    if grade == "derived" and not str(d.get("formula", "")).strip():
        raise ProfileError(f"{w}: a derived constant must give its 'formula'")
    unknown = set(d) - {"value", "unit", "source", "grade", "basis", "scope", "low", "high", "via", "note", "formula"}
    if unknown:
        raise ProfileError(f"{w}: unknown fields {sorted(unknown)}")
    return Constant(name, value, unit, source, grade, basis, scope, low, high, d.get("via", ""), d.get("note", ""), d.get("formula", ""))


def _parse(data: Any, *, where: str, path: str = "") -> Profile:
    if not isinstance(data, Mapping) or data.get("format") != FORMAT:
        raise ProfileError(f"{where}: not an snn-toolkit energy profile (format must be {FORMAT!r})")
    if data.get("version") != VERSION:
        raise ProfileError(f"{where}: version {data.get('version')!r} is not supported; allowed: {VERSION}")
    name = _req(data, "name", where, str)
    kind = _choice(_req(data, "kind", where, str), KINDS, where, "kind")
    scope = _choice(_req(data, "scope", where, str), SCOPES, where, "scope")
    label = _choice(data.get("label", "estimate"), LABELS, where, "label")
    raw_constants = _req(data, "constants", where, Mapping)
    constants = {k: _parse_constant(k, v, where) for k, v in raw_constants.items()}

    def const(ref: Any, w: str, dimension: str | None = None) -> str:
        if ref not in constants:
            raise ProfileError(f"{w}: refers to constant {ref!r}, which the profile does not define; known: {sorted(constants)}")
        if dimension is not None and constants[ref].dimension != dimension:
            raise ProfileError(f"{w}: constant {ref!r} is in {constants[ref].unit} ({constants[ref].dimension}); a {dimension} is needed")
        return ref

    terms: list[Term] = []
    covers: dict[str, str] = {}
    unpriced: dict[str, str] = {}
    time: dict[str, Any] = {"model": "none"}
    dtype_peaks: dict[str, str] = {}
    if kind == "dense-processor":
        for key in ("board_power", "mem_bandwidth"):
            const(key, f"{where} (a dense-processor profile)")
        dtype_peaks = dict(_req(data, "dtype_peaks", where, Mapping))
        for dt, ref in dtype_peaks.items():
            const(ref, f"{where}, dtype_peaks[{dt!r}]", "rate")
        const("board_power", where, "power")
        const("mem_bandwidth", where, "bandwidth")
    else:
        for i, t in enumerate(_req(data, "energy_terms", where, list)):
            w = f"{where}, energy_terms[{i}]"
            if not isinstance(t, Mapping):
                raise ProfileError(f"{w}: must be an object with name, count, constants")
            tname = _req(t, "name", w, str)
            count = _choice(_req(t, "count", w, str), OPERATION_KINDS, w, "count")
            refs = tuple(const(r, w, "energy") for r in _req(t, "constants", w, list))
            mult = tuple(_number(m, f"{w}, multipliers") for m in t.get("multipliers", [1.0] * len(refs)))
            if not refs or len(mult) != len(refs):
                raise ProfileError(f"{w}: needs at least one constant and one multiplier per constant")
            if tname in {x.name for x in terms}:
                raise ProfileError(f"{w}: term name {tname!r} is used twice")
            terms.append(Term(tname, count, refs, mult))
        covers = {str(k): str(v) for k, v in _req(data, "covers", where, Mapping).items()}
        unpriced = {str(k): str(v) for k, v in _req(data, "unpriced", where, Mapping).items()}
        priced = {t.count for t in terms}
        for k in list(covers) + list(unpriced):
            _choice(k, OPERATION_KINDS, where, "covers/unpriced kind")
        overlap = (priced & set(covers)) | (priced & set(unpriced)) | (set(covers) & set(unpriced))
        if overlap:
            raise ProfileError(f"{where}: operation kinds {sorted(overlap)} are listed more than once among terms, covers and unpriced")
        missing = [k for k in REQUIRED_KINDS if k not in priced and k not in covers and k not in unpriced]
        if missing:
            raise ProfileError(f"{where}: operation kinds {missing} are neither priced, covered nor declared unpriced")
        if scope == "all-in" and len(terms) != 1:
            raise ProfileError(f"{where}: an all-in profile has exactly one energy term, got {len(terms)}")
        time = dict(_req(data, "time", where, Mapping))
        model = _choice(time.get("model"), TIME_MODELS, f"{where}, time", "model")
        if model == "per-step":
            for j, tt in enumerate(time.get("terms", [])):
                _choice(tt.get("count"), TIME_COUNTS, f"{where}, time.terms[{j}]", "count")
                for r in tt.get("constants", []):
                    const(r, f"{where}, time.terms[{j}]", "time")
            if "neurons_per_core" in time:
                const(time["neurons_per_core"], f"{where}, time", "count")
            sync = time.get("sync")
            if sync is not None:
                const(sync["cores_per_tile"], f"{where}, time.sync", "count")
                for key, ref in sync["table"].items():
                    if not str(key).isdigit():
                        raise ProfileError(f"{where}, time.sync.table: key {key!r} must be a whole number of tiles")
                    const(ref, f"{where}, time.sync.table", "time")
            for r in time.get("step_constants", []):
                const(r, f"{where}, time.step_constants", "time")
            combine = _choice(time.get("combine", "sum"), ("sum", "max", "core-max"), f"{where}, time", "combine")
            for side, counts in CORE_TIME_COUNTS.items():
                if side in time and combine != "core-max":
                    raise ProfileError(f"{where}, time.{side}: only a 'core-max' time model has send/receive terms")
                for j, tt in enumerate(time.get(side, []) if combine == "core-max" else []):
                    _choice(tt.get("count"), counts, f"{where}, time.{side}[{j}]", "count")
                    for r in tt.get("constants", []):
                        const(r, f"{where}, time.{side}[{j}]", "time")
        elif model == "tick":
            const(time.get("constant"), f"{where}, time", "time")
        elif model == "throughput":
            for j, r in enumerate(time.get("rates", [])):
                _choice(r.get("count"), OPERATION_KINDS, f"{where}, time.rates[{j}]", "count")
                const(r.get("constant"), f"{where}, time.rates[{j}]", "rate")
    static = dict(data.get("static_power", {"status": "not known", "reason": "the profile gives no static power"}))
    if "constant" in static:
        const(static["constant"], f"{where}, static_power", "power")
        _choice(static.get("per", "chip"), ("chip", "core"), f"{where}, static_power", "per")
        static.setdefault("per", "chip")
    else:
        _choice(static.get("status"), ("not known", "included"), f"{where}, static_power", "status")
        if not str(static.get("reason", "")).strip():
            raise ProfileError(f"{where}, static_power: a status needs a 'reason'")
    floor = data.get("power_floor")
    if floor is not None:
        const(floor, f"{where}, power_floor", "power")
    model_error = dict(data.get("model_error", {}))
    for key, ref in model_error.items():
        _choice(key, ("energy", "time"), f"{where}, model_error", "key")
        const(ref, f"{where}, model_error[{key!r}]", "fraction")
    known = {
        "static_power",
        "power_floor",
        "model_error",
        "format",
        "version",
        "name",
        "title",
        "kind",
        "scope",
        "label",
        "description",
        "references",
        "constants",
        "energy_terms",
        "covers",
        "unpriced",
        "time",
        "dtype_peaks",
        "notes",
    }
    extra = {k: v for k, v in data.items() if k not in known}
    return Profile(
        name=name,
        title=str(data.get("title", name)),
        kind=kind,
        scope=scope,
        label=label,
        description=str(data.get("description", "")),
        references=dict(data.get("references", {})),
        constants=constants,
        energy_terms=tuple(terms),
        covers=covers,
        unpriced=unpriced,
        time=time,
        dtype_peaks=dtype_peaks,
        notes=tuple(str(n) for n in data.get("notes", ())),
        static_power=static,
        power_floor=floor,
        model_error=model_error,
        extra=extra,
        path=path,
    )
