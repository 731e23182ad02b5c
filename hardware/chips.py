"""Neuromorphic chip specifications as data, every number with its source.

The specifications live in JSON files next to this module
(``hardware/chip_data/<name>.json``).  Each value carries

- ``source``: a key of the file's ``references`` (a paper, a technology brief)
  or ``"assumption"`` / ``"derived"``;
- ``status``: ``"secondary, verify"`` (recalled from the named primary source
  and cross-checked against public secondary pages, *not* re-read from the
  primary), ``"assumption"`` (a modelling choice of this toolkit) or
  ``"derived"`` (computed from other values);
- ``estimate``: ``True`` where the number is an estimate or an assumption.

:func:`get` returns a :class:`ChipSpec`; :func:`available` lists the names.
A :class:`ChipSpec` can also be built by hand (small test chips, what-if
studies); :meth:`ChipSpec.replace` changes a few numbers and records them as
user-given.

Examples
--------
>>> from hardware import chips
>>> spec = chips.get("loihi")
>>> spec.cores_per_chip, spec.neurons_per_core
(128, 1024)
>>> spec.provenance["neurons_per_core"].status
'secondary, verify'
"""

from __future__ import annotations

import dataclasses
import json
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from snn.errors import SNNError, SNNTypeError, bad_value

__all__ = ["ChipError", "ChipSpec", "Provenance", "available", "from_dict", "get"]

_FORMAT = "snn-toolkit chip spec 1"
_STATUSES = ("secondary, verify", "primary", "assumption", "derived", "user")

#: the numeric limits and their meaning; None allowed only where marked
_INT_FIELDS = {
    "cores_per_chip": False,
    "mesh_rows": False,
    "mesh_cols": False,
    "neurons_per_core": False,
    "fanin_axons_per_core": True,
    "fanout_axons_per_core": True,
    "synaptic_memory_bits_per_core": False,
    "neuron_state_bits": False,
    "synapse_bits": False,
    "embedded_processors": False,
    "neurons_per_chip": True,
    "synapses_per_chip": True,
}


class ChipError(SNNError, ValueError):
    """A chip specification is invalid or unknown."""


@dataclass(frozen=True)
class Provenance:
    """Where one number of a :class:`ChipSpec` comes from.

    Attributes
    ----------
    source : str
        A key of :attr:`ChipSpec.references`, or ``"assumption"``, ``"derived"``, ``"user"``.
    status : str
        ``"secondary, verify"``, ``"primary"``, ``"assumption"``, ``"derived"`` or ``"user"``.
    estimate : bool
        True when the value is an estimate or a modelling assumption.
    note : str
        What exactly the number means and how the toolkit uses it.
    """

    source: str
    status: str
    estimate: bool
    note: str = ""


@dataclass(frozen=True, eq=False)
class ChipSpec:
    """One neuromorphic chip: the limits the mapper enforces, and their sources.

    Attributes
    ----------
    name, title : str
    cores_per_chip : int
        Neuromorphic cores per chip; ``mesh_rows * mesh_cols`` of them form the
        chip's 2D mesh (one core per mesh node).
    mesh_rows, mesh_cols : int
        The chip's mesh: rows run north-south, columns east-west.
    neurons_per_core : int
        Neurons (compartments) one core holds.
    fanin_axons_per_core, fanout_axons_per_core : int or None
        Input axons (distinct presynaptic neurons with a synapse in the core) and
        output axons (sum over the core's neurons of their distinct destination
        cores) per core; ``None`` where unpublished (not enforced).
    synaptic_memory_bits_per_core : int
        Memory per core for synapses (and neuron state when
        ``memory_shared_with_neurons``), in bits.
    memory_shared_with_neurons : bool
    neuron_state_bits : int
        Bits one neuron occupies in that memory when it is shared (0 otherwise).
    synapse_bits : int
        Default bits one stored synapse occupies (an assumption; see provenance).
    embedded_processors : int
    neurons_per_chip, synapses_per_chip : int or None
        Headline figures (informative, not limits).
    systems : dict
        ``{board or system name: chips}``.
    provenance : dict
        ``{field name: Provenance}`` for every number above.
    references : dict
        ``{key: full citation}``.
    """

    name: str
    title: str
    cores_per_chip: int
    mesh_rows: int
    mesh_cols: int
    neurons_per_core: int
    fanin_axons_per_core: int | None
    fanout_axons_per_core: int | None
    synaptic_memory_bits_per_core: int
    memory_shared_with_neurons: bool = False
    neuron_state_bits: int = 0
    synapse_bits: int = 16
    embedded_processors: int = 0
    neurons_per_chip: int | None = None
    synapses_per_chip: int | None = None
    systems: Mapping[str, int] = field(default_factory=dict)
    provenance: Mapping[str, Provenance] = field(default_factory=dict)
    references: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise bad_value(ChipError, "name", self.name, "must be a non-empty str")
        for fname, nullable in _INT_FIELDS.items():
            value = getattr(self, fname)
            if value is None and nullable:
                continue
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise bad_value(ChipError, fname, value, "must be an int" + (" or None" if nullable else ""))
            minimum = 0 if fname in ("neuron_state_bits", "embedded_processors") else 1
            if value < minimum:
                raise bad_value(ChipError, fname, value, f"must be >= {minimum}")
            object.__setattr__(self, fname, int(value))
        if self.mesh_rows * self.mesh_cols != self.cores_per_chip:
            raise bad_value(
                ChipError,
                "mesh_rows * mesh_cols",
                self.mesh_rows * self.mesh_cols,
                f"must equal cores_per_chip={self.cores_per_chip} (one core per mesh node)",
            )
        if not isinstance(self.memory_shared_with_neurons, bool):
            raise bad_value(ChipError, "memory_shared_with_neurons", self.memory_shared_with_neurons, "must be a bool")
        systems = dict(self.systems)
        for k, v in systems.items():
            if not isinstance(k, str) or isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1:
                raise bad_value(ChipError, "systems", {k: v}, "must map board/system names to a positive number of chips")
        object.__setattr__(self, "systems", systems)
        prov = dict(self.provenance)
        for k, p in prov.items():
            if not isinstance(p, Provenance):
                raise SNNTypeError(f"provenance[{k!r}]={p!r}: must be a Provenance")
            if p.status not in _STATUSES:
                raise bad_value(ChipError, f"provenance[{k!r}].status", p.status, f"allowed: {list(_STATUSES)}")
        object.__setattr__(self, "provenance", prov)
        object.__setattr__(self, "references", dict(self.references))

    # ------------------------------------------------------------------ queries
    def limits(self) -> dict[str, int | None]:
        """The per-core limits the mapper enforces: ``{name: value or None}``."""
        return {
            "neurons_per_core": self.neurons_per_core,
            "fanin_axons_per_core": self.fanin_axons_per_core,
            "fanout_axons_per_core": self.fanout_axons_per_core,
            "synaptic_memory_bits_per_core": self.synaptic_memory_bits_per_core,
        }

    def estimates(self) -> list[str]:
        """Names of the values flagged as estimates or assumptions."""
        return sorted(k for k, p in self.provenance.items() if p.estimate)

    def replace(self, **changes: Any) -> ChipSpec:
        """A copy with some values changed; their provenance becomes ``status="user"``."""
        unknown = set(changes) - {f.name for f in dataclasses.fields(self)}
        if unknown:
            raise bad_value(
                ChipError, "changes", sorted(unknown), f"unknown fields; allowed: {sorted(f.name for f in dataclasses.fields(self))}"
            )
        prov = dict(self.provenance)
        for k in changes:
            if k in _INT_FIELDS or k in ("memory_shared_with_neurons", "systems"):
                prov[k] = Provenance("user", "user", True, "changed by ChipSpec.replace")
        changes.setdefault("provenance", prov)
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict: every value with its source, status, estimate flag and note."""
        values = {}
        for fname in (*_INT_FIELDS, "memory_shared_with_neurons", "systems"):
            p = self.provenance.get(fname)
            entry: dict[str, Any] = {"value": getattr(self, fname) if fname != "systems" else dict(self.systems)}
            if p is not None:
                entry.update(source=p.source, status=p.status, estimate=p.estimate, note=p.note)
            values[fname] = entry
        return {"format": _FORMAT, "name": self.name, "title": self.title, "references": dict(self.references), "values": values}

    def __repr__(self) -> str:
        return (
            f"ChipSpec({self.name!r}, cores_per_chip={self.cores_per_chip}, mesh={self.mesh_rows}x{self.mesh_cols}, "
            f"neurons_per_core={self.neurons_per_core}, fanin={self.fanin_axons_per_core}, fanout={self.fanout_axons_per_core}, "
            f"memory_bits={self.synaptic_memory_bits_per_core}, synapse_bits={self.synapse_bits})"
        )


def from_dict(data: Mapping[str, Any]) -> ChipSpec:
    """Build a :class:`ChipSpec` from the JSON form of ``hardware/chip_data/*.json``.

    Raises
    ------
    ChipError
        On a foreign format, a missing value or a value without source/status.
    """
    if not isinstance(data, Mapping) or data.get("format") != _FORMAT:
        raise bad_value(ChipError, "format", data.get("format") if isinstance(data, Mapping) else data, f"expected {_FORMAT!r}")
    raw = data.get("values")
    if not isinstance(raw, Mapping):
        raise ChipError("values: missing; a chip spec needs a 'values' object")
    kwargs: dict[str, Any] = {}
    prov: dict[str, Provenance] = {}
    for fname in (*_INT_FIELDS, "memory_shared_with_neurons", "systems"):
        entry = raw.get(fname)
        if not isinstance(entry, Mapping) or "value" not in entry:
            raise bad_value(ChipError, f"values[{fname!r}]", entry, "must be an object with 'value', 'source', 'status', 'estimate'")
        for key in ("source", "status", "estimate"):
            if key not in entry:
                raise bad_value(ChipError, f"values[{fname!r}]", dict(entry), f"has no {key!r}: every number carries its source")
        if not isinstance(entry["estimate"], bool):
            raise bad_value(ChipError, f"values[{fname!r}].estimate", entry["estimate"], "must be true or false")
        kwargs[fname] = entry["value"]
        prov[fname] = Provenance(str(entry["source"]), str(entry["status"]), entry["estimate"], str(entry.get("note", "")))
    refs = dict(data.get("references", {}))
    for fname, p in prov.items():
        if p.source not in refs and p.source not in ("assumption", "derived", "user"):
            raise bad_value(
                ChipError, f"values[{fname!r}].source", p.source, f"must be a key of references {sorted(refs)} or assumption/derived"
            )
    return ChipSpec(name=str(data.get("name", "")), title=str(data.get("title", "")), provenance=prov, references=refs, **kwargs)


def available() -> list[str]:
    """Names of the chip specifications shipped with the toolkit."""
    folder = resources.files("hardware") / "chip_data"
    return sorted(p.name[: -len(".json")] for p in folder.iterdir() if p.name.endswith(".json"))


_CACHE: dict[str, ChipSpec] = {}


def get(name: str) -> ChipSpec:
    """The shipped specification called ``name`` (see :func:`available`).

    Raises
    ------
    ChipError
        If there is no such chip.
    """
    if not isinstance(name, str):
        raise SNNTypeError(f"name={name!r}: must be a str, one of {available()}")
    key = name.lower().replace(" ", "").replace("-", "").replace("_", "")
    if key not in _CACHE:
        names = available()
        if key not in names:
            raise bad_value(ChipError, "chip", name, f"unknown chip; available: {names}")
        text = (resources.files("hardware") / "chip_data" / f"{key}.json").read_text(encoding="utf-8")
        _CACHE[key] = from_dict(json.loads(text))
    return _CACHE[key]
