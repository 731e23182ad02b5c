"""Comparison records for reports: one job priced on many profiles against its dense baselines."""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from energy import baseline as _baseline
from energy import profiles as _profiles
from energy.errors import EnergyError, SNNTypeError, UnpricedOperationError
from energy.estimate import EnergyEstimate, _as_counts, estimate

__all__ = ["Comparison", "compare", "compare_placements", "default_profiles"]


def default_profiles() -> list[str]:
    """Every profile that prices spiking-network op counts (all but the dense processors)."""
    return [n for n in _profiles.names() if _profiles.get(n).kind != "dense-processor"]


@dataclass(frozen=True)
class Comparison:
    """One job (a task at one size, or any network run) priced for a report.

    Attributes
    ----------
    name : str
        The job's name (e.g. the task).
    counts : dict
        The run's op counts (``OpCounts.to_dict()``).
    estimates : dict
        ``{profile: EnergyEstimate}`` for the profiles that price the counts.
    refused : dict
        ``{profile: reason}`` for profiles that refused (an unpriced operation).
    baselines : tuple of BaselineEstimate
        Dense baselines, each ``measured`` or ``modelled``.
    mapping : dict or None
        The mapping traffic dict used.
    accuracy : dict
        ``{metric: value}`` of the spiking solution (e.g. ``rel_error``).
    accuracy_trace : dict or None
        ``{"steps": [...], metric: [...]}``: accuracy against simulation steps.
    target : dict or None
        ``{metric: value}`` the baselines were run to (equal accuracy: the
        spiking solver's achieved value of the task's ``TARGET_METRICS``).
    cpu_baselines : tuple of BaselineEstimate
        Compiled CPU baselines (``energy.baseline.from_cpu``: measured wall
        time, energy from a CPU core power range), kept apart from the GPU
        ``baselines`` so that nothing taking a measured baseline for an NVML
        GPU measurement picks them up.
    extra : dict
        Anything else JSON-able the report should carry (shown as a table).
    """

    name: str
    counts: Mapping[str, Any]
    estimates: Mapping[str, EnergyEstimate]
    refused: Mapping[str, str]
    baselines: tuple[_baseline.BaselineEstimate, ...] = ()
    mapping: Mapping[str, Any] | None = None
    accuracy: Mapping[str, float] = field(default_factory=dict)
    accuracy_trace: Mapping[str, Sequence[float]] | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    target: Mapping[str, float] | None = None
    cpu_baselines: tuple[_baseline.BaselineEstimate, ...] = ()

    def __repr__(self) -> str:
        return (
            f"Comparison({self.name!r}, estimates={sorted(self.estimates)}, refused={sorted(self.refused)}, "
            f"baselines={[b.label for b in self.baselines + self.cpu_baselines]})"
        )

    def summary(self) -> str:
        """A short plain-text table: one line per estimate and baseline (energy and time, with ranges)."""

        def g(x: Any) -> str:
            return "-" if x is None else f"{x:.3g}"

        def rng(lo: Any, hi: Any) -> str:
            return "" if lo is None and hi is None else f"[{g(lo)}, {g(hi)}]"

        lines = [f"{self.name}", f"  {'device / profile':<40} {'kind':<9} {'energy J':>10} {'range':<22} {'time s':>10} {'range':<22}"]
        for name, e in self.estimates.items():
            lines.append(
                f"  {name:<40} {e.label:<9} {g(e.energy_j):>10} {rng(e.energy_low_j, e.energy_high_j):<22} {g(e.time_s):>10} {rng(e.time_low_s, e.time_high_s):<22}"
            )
        for b in self.baselines + self.cpu_baselines:
            lines.append(
                f"  {b.label[:40]:<40} {b.kind:<9} {g(b.energy_j):>10} {rng(b.energy_low_j, b.energy_high_j):<22} {g(b.time_s):>10} {rng(b.time_low_s, b.time_high_s):<22}"
                + (f" ({b.kernel_launches} launches, {b.host_syncs} syncs)" if b.kernel_launches is not None else "")
            )
        for name in self.refused:
            lines.append(f"  {name:<40} refused (an operation it has no price for)")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict (what :func:`energy.report` writes to report.json)."""
        return {
            "name": self.name,
            "counts": dict(self.counts),
            "estimates": {k: v.to_dict() for k, v in self.estimates.items()},
            "refused": dict(self.refused),
            "baselines": [b.to_dict() for b in self.baselines],
            "mapping": None if self.mapping is None else dict(self.mapping),
            "accuracy": dict(self.accuracy),
            "accuracy_trace": None if self.accuracy_trace is None else {k: list(v) for k, v in self.accuracy_trace.items()},
            "extra": dict(self.extra),
            "target": None if self.target is None else dict(self.target),
            "cpu_baselines": [b.to_dict() for b in self.cpu_baselines],
            "equal_accuracy": self.equal_accuracy(),
        }

    def equal_accuracy(self) -> dict[str, Any]:
        """Time- and energy-to-solution of each baseline at the spiking solver's accuracy, as plain data.

        ``{"target": {metric: value} or None, "accuracy": the spiking solver's
        {metric: value}, "baselines": [{"group", "label", "kind", "device",
        "algorithm", "accuracy", "target", "reached", "time_s", "time_low_s",
        "time_high_s", "energy_j", "energy_low_j", "energy_high_j"}]}``, one
        entry per baseline, ``group`` ``"torch"`` (``baselines``: the torch
        algorithm, measured on its device or modelled) or ``"cpu"``
        (``cpu_baselines``); ``reached`` is None for a baseline run by its own
        stopping rule.
        """
        rows = []
        for group, b in [("torch", b) for b in self.baselines] + [("cpu", b) for b in self.cpu_baselines]:
            rows.append(
                {
                    "group": group,
                    "label": b.label,
                    "kind": b.kind,
                    "device": b.device,
                    "algorithm": b.algorithm,
                    "accuracy": dict(b.accuracy),
                    "target": None if b.target is None else dict(b.target),
                    "reached": b.reached,
                    "time_s": b.time_s,
                    "time_low_s": b.time_low_s,
                    "time_high_s": b.time_high_s,
                    "energy_j": b.energy_j,
                    "energy_low_j": b.energy_low_j,
                    "energy_high_j": b.energy_high_j,
                }
            )
        return {"target": None if self.target is None else dict(self.target), "accuracy": dict(self.accuracy), "baselines": rows}


def _finite_dict(value: Any, name: str) -> dict[str, float]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise SNNTypeError(f"{name}={value!r}: must be a dict {{metric name: number}}")
    out = {}
    for k, v in value.items():
        if isinstance(v, bool) or not isinstance(v, numbers.Real):
            raise EnergyError(f"{name}[{k!r}]={v!r}: must be a number")
        out[str(k)] = float(v)
    return out


def _trace(value: Any) -> dict[str, list[float]] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping) or "steps" not in value:
        raise EnergyError(f"accuracy_trace={value!r}: must be a dict {{'steps': [...], metric: [...]}} with lists of equal length")
    steps = [float(s) for s in value["steps"]]
    out = {"steps": steps}
    for k, v in value.items():
        if k == "steps":
            continue
        vals = [float(x) for x in v]
        if len(vals) != len(steps):
            raise EnergyError(f"accuracy_trace[{k!r}]: has {len(vals)} values for {len(steps)} steps")
        out[str(k)] = vals
    return out


def compare(
    name: str,
    counts: Any,
    *,
    profiles: Iterable[str] | None = None,
    mapping: Mapping[str, Any] | None = None,
    assumptions: Mapping[str, Mapping[str, Any]] | None = None,
    baseline: Any = None,
    gpu_profile: str | None = "h100",
    measured: _baseline.BaselineEstimate | Sequence[_baseline.BaselineEstimate] | None = None,
    baselines: Sequence[_baseline.BaselineEstimate] = (),
    accuracy: Mapping[str, float] | None = None,
    accuracy_trace: Mapping[str, Sequence[float]] | None = None,
    extra: Mapping[str, Any] | None = None,
    cpu_baseline: Any = None,
    cpu_profile: str = "cpu_xeon8480",
    target: Mapping[str, float] | None = None,
) -> Comparison:
    """Price one run on several profiles and gather its dense baselines.

    Parameters
    ----------
    name : str
        The job's name in the report.
    counts : snn.OpCounts or dict
        The run's op counts.
    profiles : iterable of str, optional
        Profiles to price on (default: :func:`default_profiles`).  A profile
        that cannot price the counts is listed in ``refused`` with its reason.
    mapping : dict, optional
        The mapping's traffic dict, passed to :func:`energy.estimate`.
    assumptions : dict, optional
        ``{profile: {operation kind: price}}`` passed to :func:`energy.estimate`.
    baseline : BaselineResult-like, optional
        The task's dense baseline (duck-typed: ``wall_time_s``, ``flops``,
        ``bytes_moved``, ``n_iter``, ``device``, ``algorithm``, ``dtype``): its
        measured wall time and, with ``gpu_profile``, its roofline model.
    gpu_profile : str or None
        GPU profile for the modelled baseline.
    measured : BaselineEstimate or list, optional
        Results of :func:`energy.baseline.measure` (NVML energy on a GPU).
    baselines : sequence of BaselineEstimate
        Further baselines (e.g. the dense SNN simulation modelled with
        :func:`energy.baseline.model`).
    accuracy, accuracy_trace, extra, target : dict, optional
        See :class:`Comparison`.
    cpu_baseline : BaselineResult-like, optional
        A task's ``cpu_baseline`` result (``device == "cpu"``): its measured
        wall time with energy from ``cpu_profile``'s core power range
        (:func:`energy.baseline.from_cpu`), in ``cpu_baselines``.
    cpu_profile : str
        The CPU profile pricing ``cpu_baseline``.
    """
    if not isinstance(name, str) or not name:
        raise EnergyError(f"name={name!r}: must be a non-empty str")
    _as_counts(counts)  # validates
    counts_dict = counts.to_dict() if hasattr(counts, "to_dict") and not isinstance(counts, Mapping) else dict(counts)
    names = default_profiles() if profiles is None else list(profiles)
    assumptions = dict(assumptions or {})
    estimates: dict[str, EnergyEstimate] = {}
    refused: dict[str, str] = {}
    for prof in names:
        try:
            estimates[prof] = estimate(counts, prof, mapping, assumptions=assumptions.get(prof))
        except UnpricedOperationError as exc:
            refused[prof] = str(exc)
    found: list[_baseline.BaselineEstimate] = []
    if baseline is not None:
        found.extend(_baseline.from_result(baseline, gpu_profile=gpu_profile))
    if measured is not None:
        found.extend([measured] if isinstance(measured, _baseline.BaselineEstimate) else list(measured))
    for b in baselines:
        if not isinstance(b, _baseline.BaselineEstimate):
            raise SNNTypeError(f"baselines: {b!r} is not an energy.baseline.BaselineEstimate")
        found.append(b)
    return Comparison(
        name=name,
        counts=counts_dict,
        estimates=estimates,
        refused=refused,
        baselines=tuple(found),
        mapping=None if mapping is None else dict(mapping),
        accuracy=_finite_dict(accuracy, "accuracy"),
        accuracy_trace=_trace(accuracy_trace),
        extra=dict(extra or {}),
        target=None if target is None else _finite_dict(target, "target"),
        cpu_baselines=() if cpu_baseline is None else (_baseline.from_cpu(cpu_baseline, cpu_profile),),
    )


def compare_placements(
    counts: Any,
    placements: Mapping[str, Mapping[str, Any]],
    *,
    profile: str = "loihi1_davies2018",
    assumptions: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The same run under several placements (e.g. 2D mesh vs 3D-stacked), as plain data.

    Parameters
    ----------
    counts : snn.OpCounts or dict
    placements : dict
        ``{label: mapping traffic dict}``, e.g. ``{"2d": ..., "3d": ...}``.
    profile : str
        The profile pricing each placement.
    assumptions : dict, optional
        Passed to :func:`energy.estimate`; a 3D placement's vertical hops need one
        on the Loihi profiles (e.g. ``{"hop_vertical": "e_hop_ns"}``), which the
        result states.

    Returns
    -------
    dict
        ``{"profile", "assumptions", "placements": {label: {"topology", "n_cores",
        "n_chips", "hops", "messages_local", "max_hops_per_step", "energy_j",
        "time_s", "breakdown", "refused"}}}``; ``refused`` is the reason when the
        profile cannot price that placement (then energy and time are ``None``).
    """
    if not isinstance(placements, Mapping) or not placements:
        raise EnergyError(f"placements={placements!r}: must be a non-empty dict {{label: mapping traffic dict}}")
    out: dict[str, Any] = {"profile": _profiles.get(profile).name, "assumptions": dict(assumptions or {}), "placements": {}}
    for label, mapping in placements.items():
        if not isinstance(mapping, Mapping):
            raise SNNTypeError(f"placements[{label!r}]: must be a mapping traffic dict")
        entry: dict[str, Any] = {
            "topology": mapping.get("topology"),
            "n_cores": mapping.get("n_cores"),
            "n_chips": mapping.get("n_chips"),
            "hops": dict(mapping.get("hops", {})),
            "messages_local": mapping.get("messages_local"),
            "messages_remote": mapping.get("messages_remote"),
            "max_hops_per_step": max(mapping.get("per_step_max_hops") or [0]),
        }
        try:
            est = estimate(counts, profile, mapping, assumptions=assumptions)
        except UnpricedOperationError as exc:
            entry.update(energy_j=None, time_s=None, breakdown={}, refused=str(exc), notes=[])
        else:
            entry.update(energy_j=est.energy_j, time_s=est.time_s, breakdown=dict(est.breakdown), refused=None, notes=list(est.notes))
        out["placements"][str(label)] = entry
    return out
