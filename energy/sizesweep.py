"""Size sweeps: energy- and time-to-solution against problem size for the chip, the GPU and the CPU, with crossovers.

One task is run at several sizes through :func:`energy.jobs.run_task_job` (the
same job as ``snn demo``'s), and each size's :class:`energy.Comparison` is
reduced to the numbers the report's headline uses
(:func:`series_from_comparison`): the chip's energy and time on one profile,
the GPU baseline's (measured through NVML where there is a GPU, else the
modelled launch-bound H100) and the compiled CPU baseline's, each as
``{"low", "best", "high"}``.  :func:`crossovers` finds the sizes where the
chip and a baseline swap places; :func:`figure` draws it all.

>>> import tasks.linear                                                          # doctest: +SKIP
>>> sw = run(tasks.linear, {"n": [16, 32, 64]}, problem={"cond": 10.0}, solve={"rtol": 1e-3})  # doctest: +SKIP
>>> sw["crossovers"], caption(sw)                                                # doctest: +SKIP
>>> png = figure(sw)                                                             # doctest: +SKIP

Scopes are matched as in the headline: a per-operation (dynamic) chip figure
against the GPU's energy above idle, an all-in chip figure against the GPU
board.  The CPU figure is a core's share of package power (static included)
times its measured wall time: matched against the chip's all-in energy where
the profile prices static power, else against the dynamic figure, which
overstates the chip's advantage (the notes say so).
"""

from __future__ import annotations

import io
import math
import numbers
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from typing import Any

from energy import profiles as _profiles
from energy._scopes import CHIP_NAMES as _CHIP_NAMES
from energy._scopes import HEADLINE_CHIPS, gpu_baseline, interval, scopes
from energy.errors import EnergyError, SNNTypeError
from energy.jobs import run_task_job, task_name

__all__ = ["HEADLINE_CHIPS", "caption", "crossovers", "figure", "run", "series_from_comparison"]

_VERSUS = ("gpu", "cpu")
_WHAT = ("energy", "time")
#: |log(ratio)| at or below this counts as a tie (exact touch)
_TIE = 1e-12


# ------------------------------------------------------------------------------ intervals
def _as_dict(comp: Any) -> Mapping[str, Any]:
    d = comp.to_dict() if hasattr(comp, "to_dict") else comp
    if not isinstance(d, Mapping) or "estimates" not in d:
        raise SNNTypeError(f"comp={comp!r}: must be an energy.Comparison or its to_dict()")
    return d


def series_from_comparison(comp: Any, profile: str = "loihi1_sanafe") -> dict[str, Any]:
    """One job's point of a size sweep: chip, GPU and CPU energy- and time-to-solution as intervals.

    Parameters
    ----------
    comp : energy.Comparison or its ``to_dict()``
    profile : str
        The chip profile.

    Returns
    -------
    dict
        ``{"chip": {"energy_j", "time_s", "energy_all_in_j", "scope", "kind", "refused"},
        "gpu": {"label", "kind", "energy_j", "time_s", "reached"} or None,
        "cpu": {"label", "energy_j", "time_s", "reached"} or None,
        "target": {metric: value} or None, "notes": [str]}``; each ``energy_j``
        and ``time_s`` an interval ``{"low", "best", "high"}`` or None.  The
        chip's ``energy_j`` is in the headline's scope (per-op profile: its
        dynamic energy, the static term taken out; all-in profile: the total),
        the GPU's ``energy_j`` the matching one (above idle; board), and
        ``energy_all_in_j`` the chip's all-in energy (None where the profile
        has no static power: not known); ``kind`` is the estimate's label
        (``"estimate"`` or ``"bound"``), ``refused`` why the profile gave no
        figure (else None).
    """
    d = _as_dict(comp)
    prof = _profiles.get(profile)
    per_op = prof.scope == "per-op"
    notes: list[str] = []
    gpu_rec = gpu_baseline(d)
    if gpu_rec is not None and gpu_rec[3]:
        notes.append(gpu_rec[3])
    above, board = (gpu_rec[1], gpu_rec[2]) if gpu_rec is not None else (None, None)
    e = d["estimates"].get(prof.name)
    chip: dict[str, Any] = {"energy_j": None, "time_s": None, "energy_all_in_j": None, "scope": "", "kind": "", "refused": None}
    if e is None:
        chip["refused"] = d.get("refused", {}).get(prof.name, f"profile {prof.name!r} was not priced for this job")
    else:
        # the headline's scopes (energy._scopes): per-op chip dynamic vs GPU above idle, all-in vs board
        sc = scopes(e, prof.scope, above, board)
        chip["energy_j"] = sc["dynamic" if per_op else "all_in"]["chip_energy_j"]
        chip["energy_all_in_j"] = sc["all_in"]["chip_energy_j"]
        chip["time_s"] = interval(e.get("time_s"), e.get("time_low_s"), e.get("time_high_s"))
        chip["scope"] = "dynamic (per-op, static excluded)" if per_op else "all-in"
        chip["kind"] = str(e.get("label", "estimate"))
    gpu = None
    if gpu_rec is not None:
        b = gpu_rec[0]
        gpu = {
            "label": b["label"],
            "kind": b["kind"],
            "energy_j": above if per_op else board,
            "time_s": interval(b.get("time_s"), b.get("time_low_s"), b.get("time_high_s")),
            "reached": b.get("reached"),
        }
    cpus = [b for b in d.get("cpu_baselines", []) if b.get("energy_j")]
    cpu = None
    if cpus:
        b = cpus[0]
        cpu = {
            "label": b["label"],
            "energy_j": interval(b["energy_j"], b.get("energy_low_j"), b.get("energy_high_j")),
            "time_s": interval(b.get("time_s"), b.get("time_low_s"), b.get("time_high_s")),
            "reached": b.get("reached"),
        }
    target = d.get("target")
    return {"chip": chip, "gpu": gpu, "cpu": cpu, "target": None if target is None else dict(target), "notes": notes}


# ------------------------------------------------------------------------------ crossovers
def _check_sizes(sizes: Any, name: str = "sizes") -> list[float]:
    if isinstance(sizes, (str, bytes, Mapping)) or not isinstance(sizes, Sequence):
        raise SNNTypeError(f"{name}={sizes!r}: must be a list of numbers")
    out = []
    for v in sizes:
        if isinstance(v, bool) or not isinstance(v, numbers.Real) or not (math.isfinite(v) and v > 0):
            raise EnergyError(f"{name}: {v!r} is not allowed; sizes must be finite numbers > 0 (a log axis)")
        out.append(float(v))
    if any(b <= a for a, b in zip(out, out[1:])):
        raise EnergyError(f"{name}={out}: must be strictly increasing")
    return out


def _best(series: Any, n: int, name: str) -> list[float | None]:
    if isinstance(series, (str, bytes, Mapping)) or not isinstance(series, Sequence) or len(series) != n:
        raise EnergyError(f"{name}: must be a list of {n} intervals {{'low', 'best', 'high'}} or None (one per size)")
    out = []
    for i, v in enumerate(series):
        if v is None:
            out.append(None)
            continue
        if not isinstance(v, Mapping) or "best" not in v:
            raise EnergyError(f"{name}[{i}]={v!r}: must be an interval {{'low', 'best', 'high'}} or None")
        b = v["best"]
        if b is not None and (isinstance(b, bool) or not isinstance(b, numbers.Real)):
            raise EnergyError(f"{name}[{i}]['best']={b!r}: must be a number")
        out.append(float(b) if b is not None and math.isfinite(b) and b > 0 else None)
    return out


def _log_ratios(sizes: Any, chip: Any, other: Any) -> list[tuple[float, float]]:
    """``(log size, log(best(other) / best(chip)))`` at every size where both are positive numbers."""
    xs = _check_sizes(sizes)
    c = _best(chip, len(xs), "chip")
    o = _best(other, len(xs), "other")
    return [(math.log(x), math.log(ov / cv)) for x, cv, ov in zip(xs, c, o) if cv is not None and ov is not None]


def crossovers(sizes: Sequence[float], chip: Sequence[Any], other: Sequence[Any]) -> list[dict[str, Any]]:
    """Where the chip and another device swap places: ``best(other) / best(chip)`` crossing 1.

    Between consecutive sizes where both series have a positive ``best`` (a
    size where either is None is skipped), the ratio is interpolated linearly
    in log(size) and log(ratio).  A ratio exactly 1 at a size (a tie) is a
    crossover only when the ratio is on opposite sides before and after it;
    then it is placed at the tied size (several tied sizes in a row: their
    geometric mean).  A touch that returns to the same side is no crossover.

    Parameters
    ----------
    sizes : list of float
        Strictly increasing, > 0.
    chip, other : list of interval or None
        ``{"low", "best", "high"}`` per size (the best values are compared).

    Returns
    -------
    list of dict
        ``[{"size": float, "chip_better": "above" | "below"}]`` in increasing
        size: ``"above"`` when the chip is the cheaper (or faster) one at
        sizes above the crossover.
    """
    pts = _log_ratios(sizes, chip, other)
    out: list[dict[str, Any]] = []
    last: tuple[float, float] | None = None  # the last point off the tie line
    ties: list[float] = []  # log sizes of tied points since then
    for x, y in pts:
        if abs(y) <= _TIE:
            ties.append(x)
            continue
        if last is not None and (last[1] > 0) != (y > 0):
            if ties:
                at = (ties[0] + ties[-1]) / 2
            else:
                at = last[0] + (0.0 - last[1]) * (x - last[0]) / (y - last[1])
            out.append({"size": math.exp(at), "chip_better": "above" if y > 0 else "below"})
        last, ties = (x, y), []
    return out


def _winner(sizes: Sequence[float], chip: Sequence[Any], other: Sequence[Any], other_name: str) -> str:
    """Who wins over the whole range when there is no crossover: ``"chip"``, the other's name, ``"tie"`` or ``""`` (no data)."""
    ys = [y for _, y in _log_ratios(sizes, chip, other)]
    if not ys:
        return ""
    if all(abs(y) <= _TIE for y in ys):
        return "tie"
    off = [y for y in ys if abs(y) > _TIE]
    return "chip" if off[0] > 0 else other_name


# ------------------------------------------------------------------------------ the sweep
def _size_points(
    sizes: Any, problem: Mapping[str, Any], size_values: Any, size_name: str | None
) -> tuple[list[dict[str, Any]], list[float], str]:
    """``(random_problem kwargs per size, x value per size, size name)`` from the ``sizes`` argument."""
    if isinstance(sizes, Mapping):
        if len(sizes) != 1:
            raise EnergyError(f"sizes={sizes!r}: a dict must have exactly one key {{parameter: [values]}}; for several use a list of dicts")
        ((param, values),) = sizes.items()
        if not isinstance(param, str) or isinstance(values, (str, bytes, Mapping)) or not isinstance(values, Sequence) or not values:
            raise EnergyError(f"sizes={sizes!r}: must be {{parameter name: non-empty list of values}}")
        kws = [{param: v} for v in values]
        name = param if size_name is None else size_name
        numeric = all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in values)
        xs = list(values) if numeric else None
        why = f"sizes[{param!r}] holds values that are not numbers"
    elif isinstance(sizes, Sequence) and not isinstance(sizes, (str, bytes)) and sizes:
        for i, kw in enumerate(sizes):
            if not isinstance(kw, Mapping) or not kw or not all(isinstance(k, str) for k in kw):
                raise EnergyError(f"sizes[{i}]={kw!r}: must be a non-empty dict of random_problem keyword arguments")
        kws = [dict(kw) for kw in sizes]
        name = size_name
        if name is not None and all(name in kw for kw in kws):
            xs = [kw[name] for kw in kws]
            why = f"the sizes' {name!r} values are not numbers"
        else:
            xs, why = None, "a list of dicts needs size_name= naming a numeric key of every dict, or size_values="
    else:
        raise SNNTypeError(
            f"sizes={sizes!r}: must be {{parameter: [values]}} (e.g. {{'n': [16, 32, 64]}}) or a non-empty list of random_problem keyword dicts"
        )
    if size_values is not None:
        xs = list(size_values) if isinstance(size_values, Sequence) and not isinstance(size_values, (str, bytes)) else size_values
        if not isinstance(xs, list) or len(xs) != len(kws):
            raise EnergyError(f"size_values={size_values!r}: must be a list of {len(kws)} numbers, one per size")
        name = name or "size"
    if xs is None:
        raise EnergyError(f"{why}; give size_values=[...] (one number per size: the x axis) and size_name=")
    for v in xs:
        if isinstance(v, bool) or not isinstance(v, numbers.Real):
            raise EnergyError(f"{why}; give size_values=[...] (one number per size: the x axis) and size_name=")
    xs = _check_sizes([float(v) for v in xs], "size_values" if size_values is not None else "sizes")
    for i, kw in enumerate(kws):
        both = set(kw) & set(problem)
        if both:
            raise EnergyError(f"sizes[{i}] and problem both set {sorted(both)}; a size parameter belongs in sizes only")
    return [{**problem, **kw} for kw in kws], xs, str(name)


def _fmt(x: float) -> str:
    return f"{x:.3g}"


def run(
    task: Any,
    sizes: Mapping[str, Sequence[Any]] | Sequence[Mapping[str, Any]],
    *,
    problem: Mapping[str, Any] | None = None,
    solve: Mapping[str, Any] | None = None,
    baseline: Mapping[str, Any] | None = None,
    size_values: Sequence[float] | None = None,
    size_name: str | None = None,
    label: str | None = None,
    seed: int = 0,
    engine: str | None = None,
    device: str = "cpu",
    profile: str | Sequence[str] = "loihi1_sanafe",
    traffic: Callable[[Any, Any], Any] | None = None,
    cache: MutableMapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Run one task at several sizes and gather chip, GPU and CPU energy- and time-to-solution, with crossovers.

    Parameters
    ----------
    task : module
        A ``tasks`` module (see :func:`energy.jobs.run_task_job`).
    sizes : dict or list of dict
        ``{parameter: [values]}`` (one ``random_problem`` parameter, e.g.
        ``{"n": [16, 32, 64]}``), or a list of ``random_problem`` keyword dicts
        (e.g. ``[{"n": 10, "m": 4}, {"n": 20, "m": 8}]``, with ``size_name``
        naming the numeric key that is the x axis).
    problem, solve, baseline : dict, optional
        Fixed keyword arguments of ``random_problem``, ``solve`` and
        ``dense_baseline`` at every size.
    size_values : list of float, optional
        The x axis, one number per size (needed when the size values are not
        numbers, e.g. grid shapes: ``size_values=[4, 6, 8], size_name="grid side"``).
    size_name : str, optional
        The x axis's name (default: the parameter).
    label : str, optional
        The sweep's name (default: the task's name).
    seed, engine, device, traffic, cache
        Passed to :func:`energy.jobs.run_task_job` at every size.
    profile : str or list of str
        The chip profile the chip series is priced on; a list names profiles
        in order of preference, and the first that prices the job at every size
        is used (e.g. :data:`HEADLINE_CHIPS`, the headline's order: graded
        spikes are priced by the Loihi 2 bound only); the notes say why the
        ones before it were passed over.

    Returns
    -------
    dict
        JSON-able: ``{"task", "label", "size_name", "sizes", "profile",
        "chip_label", "series": {"chip": {"energy_j", "time_s",
        "energy_all_in_j"}, "gpu": {"label", "energy_j", "time_s"}, "cpu":
        {"label", "energy_j", "time_s"}}, "accuracy": [{"target",
        "gpu_reached", "cpu_reached"}], "crossovers": [{"what", "versus",
        "size", "chip_better"}], "notes": [str]}``, each series entry an
        interval ``{"low", "best", "high"}`` or None per size.
    """
    name = task_name(task)
    candidates = _candidates(profile)
    for arg, value in (("problem", problem), ("solve", solve), ("baseline", baseline)):
        if value is not None and not isinstance(value, Mapping):
            raise SNNTypeError(f"{arg}={value!r}: must be a dict of keyword arguments")
    kws, xs, size_label = _size_points(sizes, dict(problem or {}), size_values, size_name)
    label = name if label is None else label
    if not isinstance(label, str) or not label:
        raise EnergyError(f"label={label!r}: must be a non-empty str")
    comps, notes = [], []
    for x, kw in zip(xs, kws):
        comp, _, job_notes = run_task_job(
            task,
            kw,
            solve,
            baseline,
            seed=seed,
            engine=engine,
            device=device,
            label=f"{label} ({size_label}={_fmt(x)})",
            traffic=traffic,
            cache=cache,
        )
        comps.append(comp)
        notes += job_notes  # each names its job, and so its size
    prof = _choose(candidates, comps, notes)
    points = []
    for x, comp in zip(xs, comps):
        p = series_from_comparison(comp, prof.name)
        points.append(p)
        notes += [f"{size_label}={_fmt(x)}: {n}" for n in p["notes"]]
        if p["chip"]["refused"]:
            notes.append(f"{size_label}={_fmt(x)}: {prof.name} gives no figure ({p['chip']['refused']})")
    if any(p["chip"]["kind"] == "bound" for p in points):
        notes.append(
            f"the chip series is a bound ({prof.name}: best-case system figures, the chip can do no better): "
            "where the chip wins, it wins at most by that much, and a crossover is the best case for the chip."
        )

    def col(who: str, key: str) -> list[Any]:
        return [None if (p[who] is None) else p[who][key] for p in points]

    gpu_labels = sorted({p["gpu"]["label"] for p in points if p["gpu"]})
    cpu_labels = sorted({p["cpu"]["label"] for p in points if p["cpu"]})
    if len(gpu_labels) > 1:
        notes.append(f"the GPU baseline is not the same at every size: {gpu_labels}")
    series = {
        "chip": {"energy_j": col("chip", "energy_j"), "time_s": col("chip", "time_s"), "energy_all_in_j": col("chip", "energy_all_in_j")},
        "gpu": {"label": " / ".join(gpu_labels), "energy_j": col("gpu", "energy_j"), "time_s": col("gpu", "time_s")},
        "cpu": {"label": " / ".join(cpu_labels), "energy_j": col("cpu", "energy_j"), "time_s": col("cpu", "time_s")},
    }
    per_op = prof.scope == "per-op"
    all_in = series["chip"]["energy_all_in_j"]
    cpu_chip = all_in if all(v is not None for v in all_in) else series["chip"]["energy_j"]
    if per_op:
        notes.append("energy vs GPU in matched scopes: chip dynamic energy (static excluded) vs the GPU's energy above idle.")
        if cpu_chip is all_in:
            notes.append("energy vs CPU: chip all-in (static included) vs the CPU core's share of package power (static included).")
        else:
            notes.append(
                f"energy vs CPU: {prof.name} gives no static power, so its dynamic energy is set against the CPU's all-in core share: "
                "the chip's advantage is an upper bound ('at most')."
            )
    else:
        notes.append("energy: the chip's all-in figure vs the GPU board and the CPU core share (static included in all).")
    found = []
    pairs = (
        ("energy", "gpu", series["chip"]["energy_j"], series["gpu"]["energy_j"]),
        ("time", "gpu", series["chip"]["time_s"], series["gpu"]["time_s"]),
        ("energy", "cpu", cpu_chip, series["cpu"]["energy_j"]),
        ("time", "cpu", series["chip"]["time_s"], series["cpu"]["time_s"]),
    )
    for what, versus, chip_s, other_s in pairs:
        cross = crossovers(xs, chip_s, other_s)
        found += [{"what": what, "versus": versus, **c} for c in cross]
        if not cross:
            who = _winner(xs, chip_s, other_s, versus.upper())
            lo, hi = _fmt(xs[0]), _fmt(xs[-1])
            if who == "":
                notes.append(f"{what} vs {versus.upper()}: not compared (no size with both figures).")
            elif who == "tie":
                notes.append(f"{what} vs {versus.upper()}: a tie at every size of {size_label} {lo}–{hi}.")
            else:
                notes.append(f"{what} vs {versus.upper()}: no crossover in {size_label} {lo}–{hi}: {who} wins throughout.")
    accuracy = [
        {
            "target": p["target"],
            "gpu_reached": None if p["gpu"] is None else p["gpu"]["reached"],
            "cpu_reached": None if p["cpu"] is None else p["cpu"]["reached"],
        }
        for p in points
    ]
    missed = [_fmt(x) for x, a in zip(xs, accuracy) if a["gpu_reached"] is False or a["cpu_reached"] is False]
    if missed:
        notes.append(f"at {size_label} {', '.join(missed)} a baseline did NOT reach the spiking solver's accuracy (see accuracy).")
    return {
        "task": name,
        "label": label,
        "size_name": size_label,
        "sizes": xs,
        "profile": prof.name,
        "chip_label": _CHIP_NAMES.get(prof.name, prof.title),
        "series": series,
        "accuracy": accuracy,
        "crossovers": found,
        "notes": notes,
    }


def _chip_profiles() -> list[str]:
    return [n for n in _profiles.names() if _profiles.get(n).kind != "dense-processor"]


def _candidates(profile: Any) -> list[Any]:
    """The chip profiles ``profile`` names (one name, or names in order of preference), checked."""
    names = [profile] if isinstance(profile, str) else profile
    if isinstance(names, Mapping) or not isinstance(names, Sequence) or not names:
        raise SNNTypeError(f"profile={profile!r}: must be a chip profile name or a non-empty list of them (in order of preference)")
    out = []
    for n in names:
        if not isinstance(n, str):
            raise SNNTypeError(f"profile={profile!r}: {n!r} is not a profile name")
        prof = _profiles.get(n)
        if prof.kind == "dense-processor":
            raise EnergyError(f"profile={n!r}: is a dense processor; allowed: a chip profile, one of {_chip_profiles()}")
        out.append(prof)
    return out


def _choose(candidates: list[Any], comps: list[Any], notes: list[str]) -> Any:
    """The first candidate that prices the job at every size (else the one pricing most sizes); why the ones before it were passed over."""
    dicts = [_as_dict(c) for c in comps]
    priced = [sum(p.name in d["estimates"] for d in dicts) for p in candidates]
    k = next((i for i, n in enumerate(priced) if n == len(dicts)), max(range(len(candidates)), key=lambda i: (priced[i], -i)))
    for p in candidates[:k]:
        why = next((d.get("refused", {}).get(p.name) for d in dicts if p.name not in d["estimates"]), None)
        why = (why or "not priced").split("; refusing")[0]
        notes.append(f"chip profile {p.name} passed over: it does not price every size ({why}).")
    return candidates[k]


# ------------------------------------------------------------------------------ caption and figure
def caption(sweep: Mapping[str, Any]) -> str:
    """One line: the crossovers found, or who wins throughout for each comparison without one."""
    _check_sweep(sweep)
    xs, s, name = sweep["sizes"], sweep["series"], sweep["size_name"]
    all_in = s["chip"].get("energy_all_in_j") or [None] * len(xs)
    cpu_chip = all_in if all(v is not None for v in all_in) else s["chip"]["energy_j"]
    chips = {
        ("energy", "gpu"): s["chip"]["energy_j"],
        ("time", "gpu"): s["chip"]["time_s"],
        ("energy", "cpu"): cpu_chip,
        ("time", "cpu"): s["chip"]["time_s"],
    }
    parts = []
    for what in _WHAT:
        for versus in _VERSUS:
            cross = [c for c in sweep["crossovers"] if c["what"] == what and c["versus"] == versus]
            head = f"{what} vs {versus.upper()}: "
            if cross:
                parts.append(head + ", ".join(f"crossover at {name} ≈ {_fmt(c['size'])} (chip better {c['chip_better']})" for c in cross))
                continue
            who = _winner(xs, chips[(what, versus)], s[versus][f"{what}_j" if what == "energy" else "time_s"], versus.upper())
            parts.append(head + {"": "not compared", "tie": "a tie throughout"}.get(who, f"no crossover in range: {who} wins throughout"))
    text = "; ".join(parts) + "."
    try:
        bound = _profiles.get(sweep["profile"]).label == "bound"
    except EnergyError:  # a profile this installation does not ship: say nothing about it
        bound = False
    if bound:
        text += " The chip figures are a bound (best-case system figures): where the chip wins, it wins at most by this much."
    elif cpu_chip is s["chip"]["energy_j"]:
        text += " Energy vs CPU sets the chip's dynamic energy against the CPU's all-in: an upper bound on the chip's advantage."
    return text


def _check_sweep(sweep: Any) -> None:
    keys = ("task", "label", "size_name", "sizes", "profile", "chip_label", "series", "crossovers")
    if not isinstance(sweep, Mapping) or any(k not in sweep for k in keys):
        raise SNNTypeError(f"sweep: must be the dict energy.sizesweep.run returns (with keys {list(keys)})")
    for who in ("chip", *_VERSUS):
        if who not in sweep["series"]:
            raise EnergyError(f"sweep['series'] lacks {who!r}")


def figure(sweep: Mapping[str, Any]) -> bytes:
    """A PNG: energy- and time-to-solution against size (log-log), chip, GPU and CPU with [low, high] bands, crossovers marked."""
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import NullFormatter

    _check_sweep(sweep)
    xs = np.asarray(sweep["sizes"], dtype=float)
    s = sweep["series"]
    fig = Figure(figsize=(10.0, 4.0), dpi=100)
    colours = {"chip": "tab:purple", "gpu": "tab:green", "cpu": "tab:blue"}
    names = {"chip": sweep["chip_label"], "gpu": s["gpu"].get("label") or "GPU", "cpu": s["cpu"].get("label") or "CPU"}
    styles = {"gpu": "--", "cpu": ":"}
    for k, (what, key, unit, title) in enumerate(
        (("energy", "energy_j", "J", "energy to solution"), ("time", "time_s", "s", "time to solution"))
    ):
        ax = fig.add_subplot(1, 2, k + 1)
        drawn = False
        for who in ("chip", "gpu", "cpu"):
            vals = s[who][key]

            def get(part: str, vals: Sequence[Any] = vals) -> np.ndarray:
                return np.asarray([np.nan if v is None or not v[part] or v[part] <= 0 else v[part] for v in vals], dtype=float)

            best, low, high = get("best"), get("low"), get("high")
            if not np.isfinite(best).any():
                continue
            drawn = True
            ax.plot(xs, best, marker="o", markersize=4, linewidth=1.3, color=colours[who], label=names[who])
            ax.fill_between(xs, low, high, color=colours[who], alpha=0.18, linewidth=0)
            if who == "chip" and what == "energy":
                all_in = s["chip"].get("energy_all_in_j") or []
                ai = np.asarray([np.nan if v is None else v["best"] for v in all_in], dtype=float)
                if ai.size and np.isfinite(ai).any() and not np.allclose(ai, best, equal_nan=True):
                    ax.plot(xs, ai, linestyle=styles["gpu"], color=colours["chip"], linewidth=1.0, label=f"{names['chip']} all-in")
        for c in sweep["crossovers"]:
            if c["what"] != what:
                continue
            ax.axvline(c["size"], linestyle=":", color=colours[c["versus"]], linewidth=1.2)
            ax.text(
                c["size"],
                0.97,
                f" × {c['versus'].upper()}\n {_fmt(c['size'])}",
                transform=ax.get_xaxis_transform(),
                fontsize=7,
                va="top",
                ha="left",
                color=colours[c["versus"]],
            )
        ax.set_xscale("log")
        if drawn:
            ax.set_yscale("log")
        else:
            ax.text(0.5, 0.5, "no figures", transform=ax.transAxes, ha="center")
        ax.set_xticks(xs)
        ax.set_xticklabels([_fmt(x) for x in xs])
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel(sweep["size_name"])
        ax.set_ylabel(f"{title} ({unit}, log scale)")
        ax.set_title(title, fontsize=9)
        ax.grid(alpha=0.3, which="major")
    handles: dict[str, Any] = {}
    for ax in fig.axes:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(lab, h)
    if handles:
        fig.legend(list(handles.values()), list(handles), loc="upper center", bbox_to_anchor=(0.5, 0.02), ncol=2, fontsize=8, frameon=False)
    fig.suptitle(f"Size sweep: {sweep['label']} — chip {sweep['chip_label']} ({sweep['profile']})", fontsize=10)
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    return buf.getvalue()
