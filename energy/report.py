"""``energy.report``: write report.html, report.md and report.json for a set of comparisons.

The HTML embeds its plots (matplotlib PNGs) as base64 data URIs, so the one file
is the whole report; the same PNGs are written beside it (``figures/``) for the
Markdown.  Every file is written atomically (a temporary file renamed over the
target).  Plots: energy and latency per job and device (log scales), activity
over time, accuracy against steps, and the 2D vs 3D-stacked placement comparison
when given.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import io
import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from energy import profiles as _profiles
from energy.errors import EnergyError, SNNTypeError

__all__ = ["headline", "report"]

FORMAT = "snn-toolkit.energy-report"
VERSION = 1

_HOW_TO_READ = [
    "Each job (a task at one size, or a network run) was simulated once; its operation counts (synaptic events, neuron updates, spikes, and the mapping's messages and hops) are priced on each device profile.",
    "Every constant of a profile carries its source (paper and table, or repository and path), a grade (primary, secondary, derived) and a basis (simulated, silicon-measured, silicon-calibrated, vendor-claim, derived, specified); see 'Sources'.",
    "'estimate' rows price operations; 'bound' rows come from best-case system figures and mean 'no better than'. All-in profiles (TrueNorth, the Loihi 2 bound) are never given extra terms.",
    "A profile that has no price for an operation in the counts (e.g. graded spikes on Loihi 1) refuses rather than printing a partial total; refusals are listed with their reason.",
    "Dense baselines say whether they are 'measured' (wall time; energy from the GPU's NVML counter, idle power stated) or 'modelled' on a datasheet profile: time = max(roofline from counted FLOPs and bytes, launch-bound from the kernel launches and host syncs counted by running the dense baseline under a dispatch counter, priced at a sourced per-launch and per-sync latency range), energy = board power (launch-bound: a launch-bound power range between idle and the board limit) x time. CPU wall time is shown as measured CPU time, never relabelled.",
    "Ratios are GPU / chip in matched scopes: a per-operation (dynamic) chip estimate against the GPU's energy above idle; an all-in chip figure against the GPU board all-in. The headline gives [low, best, high]: the GPU's low end over the chip's high end, and the GPU's high end over the chip's low end.",
    "Static (leakage) power is a term of its own: a profile whose sources give a static power charges it for the chip time (shown in the 'static' column and the breakdown); where no source gives one (Loihi 1: Davies et al. 2018 and SANA-FE's loihi.yaml have none) the table says 'not known' and the all-in ratio is not given rather than guessed; all-in figures (TrueNorth, the Loihi 2 bound) already contain it. Host I/O is never included.",
    "Two ratio columns, each in matched scopes: chip dynamic energy vs the GPU's energy above idle, and chip all-in vs the GPU board all-in, each as best [low – high].",
]


# ------------------------------------------------------------------------------ data helpers
def _clean(value: Any) -> Any:
    """JSON-able copy: numpy scalars/arrays to Python, NaN/inf to None."""
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_clean(v) for v in value.tolist()]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        v = float(value)
        return v if math.isfinite(v) else None
    if value is None or isinstance(value, str):
        return value
    if hasattr(value, "to_dict"):
        return _clean(value.to_dict())
    return str(value)


def _as_dicts(comparisons: Any) -> list[dict[str, Any]]:
    if hasattr(comparisons, "to_dict") or isinstance(comparisons, Mapping):
        comparisons = [comparisons]
    if not isinstance(comparisons, Sequence) or isinstance(comparisons, str):
        raise SNNTypeError(f"comparisons={comparisons!r}: must be a list of energy.Comparison (or their to_dict())")
    out = []
    for i, c in enumerate(comparisons):
        d = c.to_dict() if hasattr(c, "to_dict") else c
        if not isinstance(d, Mapping) or "name" not in d or "estimates" not in d:
            raise SNNTypeError(f"comparisons[{i}]: not an energy.Comparison or its to_dict()")
        out.append(_clean(d))
    return out


def _fmt(x: Any, unit: str = "") -> str:
    if x is None:
        return "–"
    if isinstance(x, str):
        return x
    x = float(x)
    if x == 0:
        return f"0 {unit}".strip()
    return f"{x:.3g} {unit}".strip()


_PREFIXES = ((1e3, "k"), (1.0, ""), (1e-3, "m"), (1e-6, "µ"), (1e-9, "n"), (1e-12, "p"), (1e-15, "f"))
_CHIP_NAMES = {
    "loihi1_sanafe": "Loihi 1 (SANA-FE-calibrated)",
    "loihi1_davies2018": "Loihi 1 (Davies 2018)",
    "loihi2_bound": "Loihi 2 (bound)",
}


def _si(x: float, unit: str, digits: int = 2) -> str:
    """``x`` with an SI prefix, e.g. ``5.9 µJ``."""
    if x == 0 or not math.isfinite(x):
        return f"{x:g} {unit}"
    for factor, prefix in _PREFIXES:
        if abs(x) >= factor:
            v = x / factor
            return f"{v:.{digits}g} {prefix}{unit}" if abs(v) < 100 else f"{v:.0f} {prefix}{unit}"
    return f"{x:.{digits}g} {unit}"


def _x(r: float) -> str:
    """A ratio, compact: 2.2, 76, 7.6e4."""
    if 100 <= r < 1000:
        return f"{r:.0f}"
    return f"{r:.2g}" if 0.01 <= r < 100 else f"{r:.1e}".replace("e+0", "e").replace("e+", "e").replace("e-0", "e-")


def _iv(d: Mapping[str, float], unit: str) -> str:
    return f"{_si(d['best'], unit)} [{_si(d['low'], unit)} – {_si(d['high'], unit)}]"


def _range(lo: Any, hi: Any, unit: str) -> str:
    if lo is None and hi is None:
        return ""
    return f"{_fmt(lo, unit)} – {_fmt(hi, unit)}"


def _reference_baseline(comp: Mapping[str, Any]) -> tuple[str, float] | None:
    """The baseline the ratios use: a measured GPU energy (above idle) first, else a modelled GPU energy."""
    for b in comp.get("baselines", []):
        if b["kind"] == "measured" and b.get("energy_above_idle_j") is not None and b["energy_above_idle_j"] > 0:
            return f"{b['label']} (above idle)", b["energy_above_idle_j"]
    for b in comp.get("baselines", []):
        if b.get("energy_j") is not None and b["energy_j"] > 0:
            return b["label"], b["energy_j"]
    return None


def _rows(comp: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Table rows: one per profile estimate, refusal and baseline."""
    ref = _reference_baseline(comp)
    gpu = _gpu_baseline(comp)
    rows = []
    for name, e in comp["estimates"].items():
        scopes = None
        if gpu is not None:
            # matched scopes: a per-op (dynamic) estimate against the GPU above idle, an all-in one against the board all-in
            per_op = _profiles.get(name).scope == "per-op"
            ref = (gpu[0]["label"], (gpu[1] if per_op else gpu[2])["best"])
            scopes = _scopes(e, _profiles.get(name).scope, gpu[1], gpu[2])
        rows.append(
            {
                "device": name,
                "kind": e["label"],
                "energy_j": e["energy_j"],
                "energy_range": _range(e.get("energy_low_j"), e.get("energy_high_j"), "J"),
                "time_s": e.get("time_s"),
                "time_kind": "modelled" if e.get("time_s") is not None else "",
                "edp": e.get("edp"),
                "ratio": (ref[1] / e["energy_j"]) if ref and e["energy_j"] > 0 else None,
                "static": _static_text(e),
                "ratio_dynamic": _scope_text(scopes, "dynamic"),
                "ratio_all_in": _scope_text(scopes, "all_in"),
            }
        )
    for b in comp.get("baselines", []):
        rows.append(
            {
                "device": b["label"],
                "kind": b["kind"],
                "energy_j": b.get("energy_j"),
                "energy_range": "" if b.get("energy_above_idle_j") is None else f"above idle: {_fmt(b['energy_above_idle_j'], 'J')}",
                "time_s": b.get("time_s"),
                "time_kind": b.get("time_kind", ""),
                "edp": None if b.get("energy_j") is None or b.get("time_s") is None else b["energy_j"] * b["time_s"],
                "ratio": None,
                "static": "in board power" if b["kind"] != "measured" or b.get("energy_above_idle_j") is not None else "",
                "ratio_dynamic": "",
                "ratio_all_in": "",
            }
        )
    return rows


def _static_text(e: Mapping[str, Any]) -> str:
    status = str(e.get("static_power", "not known"))
    if e.get("static_j") is not None:
        return _fmt(e["static_j"], "J")
    return "included (all-in)" if status.startswith("included") else "not known"


def _scope_text(scopes: Mapping[str, Any] | None, which: str) -> str:
    if not scopes:
        return ""
    s = scopes[which]
    r = s.get("energy_ratio")
    if r:
        return f"{_x(r['best'])}× [{_x(r['low'])} – {_x(r['high'])}]"
    return "not separable" if "separable" in s.get("not_known", "") else "static power not known"


#: chips the headline prefers, in order (estimates resting on silicon-calibrated or measured constants first;
#: the Loihi 2 bound only where no Loihi 1 profile can price the job, e.g. graded spikes)
_HEADLINE_CHIPS = ("loihi1_sanafe", "loihi1_davies2018", "loihi2_bound")


def _interval(best: Any, low: Any = None, high: Any = None) -> dict[str, float] | None:
    if best is None:
        return None
    return {"low": float(best if low is None else low), "best": float(best), "high": float(best if high is None else high)}


def _gpu_baseline(comp: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, float], dict[str, float], str] | None:
    """The GPU baseline of the headline: (record, energy above idle, board energy, note) -- measured first, else modelled."""
    note = ""
    for b in comp.get("baselines", []):
        if b["kind"] == "measured" and b.get("energy_j") is not None:
            above = b.get("energy_above_idle_j")
            if above is None or above <= 0:
                note = f"{b['label']}: measured energy above idle {above} J is <= 0 (the run is too short for the counter to resolve), so the headline uses the modelled GPU"
                continue
            return b, _interval(above), _interval(b["energy_j"]), ""
    for b in comp.get("baselines", []):
        if b["kind"] == "modelled" and b.get("energy_j"):
            above = _interval(b.get("energy_above_idle_j"), b.get("energy_above_idle_low_j"), b.get("energy_above_idle_high_j"))
            board = _interval(b["energy_j"], b.get("energy_low_j"), b.get("energy_high_j"))
            return b, above or board, board, note
    return None


def _ratio(num: Mapping[str, float], den: Mapping[str, float]) -> dict[str, float] | None:
    """``num / den`` as an interval: low = num.low / den.high, high = num.high / den.low."""
    if not num or not den or min(den.values()) <= 0:
        return None
    return {"low": num["low"] / den["high"], "best": num["best"] / den["best"], "high": num["high"] / den["low"]}


def _scopes(
    e: Mapping[str, Any], profile_scope: str, gpu_above: Mapping[str, float] | None, gpu_board: Mapping[str, float] | None
) -> dict[str, dict[str, Any]]:
    """Both matched scopes of one estimate: chip dynamic vs GPU above idle, chip all-in vs GPU board all-in.

    A per-op estimate's dynamic energy is its energy less the static term; its
    all-in energy exists only where the profile prices static power (else
    ``not_known`` says why).  An all-in figure has no separable dynamic part.
    """
    static = e.get("static_j")
    total = _interval(e["energy_j"], e.get("energy_low_j"), e.get("energy_high_j"))
    out: dict[str, dict[str, Any]] = {}
    if profile_scope == "per-op":
        if static is None:
            dyn = total
        else:
            sl = e.get("static_low_j", static)
            sh = e.get("static_high_j", static)
            dyn = {"low": total["low"] - sl, "best": total["best"] - static, "high": total["high"] - sh}
        out["dynamic"] = {
            "label": "chip dynamic vs GPU above idle",
            "chip_energy_j": dyn,
            "gpu_energy_j": gpu_above,
            "energy_ratio": _ratio(gpu_above, dyn),
        }
        if static is None:
            reason = str(e.get("static_power", "not known")).split(": ", 1)[-1]
            out["all_in"] = {
                "label": "chip all-in vs GPU board all-in",
                "chip_energy_j": None,
                "gpu_energy_j": gpu_board,
                "energy_ratio": None,
                "not_known": f"static power: not known ({reason})",
            }
        else:
            out["all_in"] = {
                "label": "chip all-in vs GPU board all-in",
                "chip_energy_j": total,
                "gpu_energy_j": gpu_board,
                "energy_ratio": _ratio(gpu_board, total),
            }
    else:
        out["dynamic"] = {
            "label": "chip dynamic vs GPU above idle",
            "chip_energy_j": None,
            "gpu_energy_j": gpu_above,
            "energy_ratio": None,
            "not_known": "not separable (an all-in figure: its dynamic part is not given)",
        }
        out["all_in"] = {
            "label": "chip all-in vs GPU board all-in",
            "chip_energy_j": total,
            "gpu_energy_j": gpu_board,
            "energy_ratio": _ratio(gpu_board, total),
        }
    return out


def _cpu_part(
    comp: Mapping[str, Any], e: Mapping[str, Any], chip_t: Mapping[str, float] | None, scopes: Mapping[str, Any]
) -> dict[str, Any] | None:
    """The compiled CPU baseline against the chip: energy and time ratios with ranges, and which scopes they compare.

    The CPU's energy is a core's share of package power (static included) times
    its measured wall time: matched with the chip's all-in energy where the
    profile prices static power; against a dynamic-only chip figure the ratio
    overstates the chip's advantage and is labelled "at most".
    """
    cpus = [b for b in comp.get("cpu_baselines", []) if b.get("energy_j")]
    if not cpus:
        return None
    b = cpus[0]
    cpu_e = _interval(b["energy_j"], b.get("energy_low_j"), b.get("energy_high_j"))
    cpu_t = _interval(b["time_s"], b.get("time_low_s"), b.get("time_high_s"))
    all_in = scopes.get("all_in", {}).get("chip_energy_j")
    if all_in is not None:
        chip_e, scope, word = all_in, "chip all-in vs CPU core share all-in", ""
    else:
        chip_e = scopes.get("dynamic", {}).get("chip_energy_j")
        scope, word = (
            "chip dynamic vs CPU core share all-in (static in the CPU figure only: an upper bound on the chip's advantage)",
            "at most ",
        )
    return {
        "label": b["label"],
        "algorithm": b.get("algorithm", ""),
        "energy_j": cpu_e,
        "time_s": cpu_t,
        "energy_ratio": _ratio(cpu_e, chip_e) if chip_e else None,
        "time_ratio": _ratio(cpu_t, chip_t) if chip_t else None,
        "scope": scope,
        "at_most": bool(word) or e.get("label") == "bound",
        "accuracy": dict(b.get("accuracy") or {}),
        "reached": b.get("reached"),
    }


def _accuracy_text(comp: Mapping[str, Any]) -> tuple[str, bool | None]:
    """ "accuracy equal: ..." from the equal-accuracy record, and whether every baseline reached the spiking solver's accuracy."""
    eq = comp.get("equal_accuracy") or {}
    target = eq.get("target") or {}
    if not target:
        return "", None
    metric = next(iter(target))
    rows = [r for r in eq.get("baselines", []) if r.get("kind") != "modelled"]
    reached = all(r.get("reached") for r in rows) if rows else None
    parts = [f"spiking {metric} {target[metric]:.2g}"]
    for r in rows:
        v = (r.get("accuracy") or {}).get(metric)
        name = r.get("algorithm") or r.get("label")
        if v is not None:
            parts.append(f"{name} {v:.2g}{'' if r.get('reached') else ' (did NOT reach it)'}")
    word = "accuracy matched (each baseline run until it reaches the spiking solver's, or exact)" if reached else "accuracy NOT matched"
    return f"{word}: " + ", ".join(parts), reached


def headline(comp: Mapping[str, Any]) -> dict[str, Any] | None:
    """One job's headline: the preferred chip estimate against the GPU baseline, in matched scopes, with ranges.

    A per-op (dynamic-energy) chip estimate is compared with the GPU's energy
    above idle; the ratio interval divides the GPU's low end by the chip's high
    end and the GPU's high end by the chip's low end.  ``None`` when the job has
    no chip estimate or no GPU baseline.
    """
    chip = next((n for n in _HEADLINE_CHIPS if n in comp.get("estimates", {})), None)
    gpu = _gpu_baseline(comp)
    if chip is None or gpu is None:
        return None
    e = comp["estimates"][chip]
    b, gpu_above, gpu_board, gpu_note = gpu
    prof = _profiles.get(chip)
    chip_t = _interval(e.get("time_s"), e.get("time_low_s"), e.get("time_high_s"))
    scopes = _scopes(e, prof.scope, gpu_above, gpu_board)
    primary = scopes["dynamic"] if prof.scope == "per-op" else scopes["all_in"]
    chip_e, matched, ratio = primary["chip_energy_j"], primary["gpu_energy_j"], primary["energy_ratio"]
    scope = "chip dynamic energy vs GPU energy above idle" if prof.scope == "per-op" else "chip all-in vs GPU board all-in"
    gpu_t = _interval(b["time_s"], b.get("time_low_s"), b.get("time_high_s"))
    ratio = _ratio(matched, chip_e)
    speed = _ratio(gpu_t, chip_t) if chip_t else None
    acc = comp.get("accuracy", {})
    acc_txt = ""
    for k in ("rel_error", "rel_residual", "rel_objective_gap", "gap"):
        if k in acc:
            acc_txt = f"; spiking solver {k} {acc[k]:.2g}"
            break
    gpu_name = b["label"]
    launches, syncs = b.get("kernel_launches"), b.get("host_syncs")
    is_bound = e.get("label") == "bound"
    gpu_short = gpu_name.replace("GPU h100", "H100").replace("GPU a100", "A100")
    counted = f"; {launches} kernel launches, {syncs} host syncs" if launches is not None else ""
    chip_name = _CHIP_NAMES.get(chip, prof.title)
    sentence = f"{chip_name}: {_iv(chip_e, 'J')} vs {gpu_short[:-1] if gpu_short.endswith(')') else gpu_short}{counted}{')' if gpu_short.endswith(')') else ''}: {_iv(matched, 'J')}"
    if ratio:
        word = "at most " if is_bound else ""
        sentence += f" → {word}{_x(ratio['best'])}× less energy [{_x(ratio['low'])} – {_x(ratio['high'])}]"
    if speed:
        sp = speed["best"]
        sentence += f", {_x(sp)}× faster" if sp >= 1 else f", {_x(1 / sp)}× slower"
        sentence += f" [GPU/chip time {_x(speed['low'])} – {_x(speed['high'])}]"
    sentence += f"; {scope}"
    other = scopes["all_in"] if prof.scope == "per-op" else scopes["dynamic"]
    if other.get("energy_ratio"):
        sentence += (
            f"; all-in (static {_si(e['static_j'], 'J')} added) vs GPU board {_iv(other['gpu_energy_j'], 'J')}: "
            f"{_x(other['energy_ratio']['best'])}× [{_x(other['energy_ratio']['low'])} – {_x(other['energy_ratio']['high'])}]"
        )
    else:
        short = "static power: not known" if other["not_known"].startswith("static power: not known") else "not separable (all-in figure)"
        sentence += f"; {other['label']}: {short}"
    cpu = _cpu_part(comp, e, chip_t, scopes)
    if cpu and cpu["energy_ratio"]:
        r = cpu["energy_ratio"]
        sentence += (
            f"; vs CPU ({cpu['algorithm'] or cpu['label']}, 1 core, measured time): {_iv(cpu['energy_j'], 'J')} → "
            f"{'at most ' if cpu['at_most'] else ''}{_x(r['best'])}× less energy [{_x(r['low'])} – {_x(r['high'])}]"
        )
        if cpu["time_ratio"]:
            sp = cpu["time_ratio"]["best"]
            sentence += f", {_x(sp)}× faster" if sp >= 1 else f", {_x(1 / sp)}× slower"
    eq_txt, reached = _accuracy_text(comp)
    sentence += f"; {eq_txt}." if eq_txt else f"{acc_txt}."
    if is_bound:
        sentence += (
            " A bound from best-case system figures (no Loihi 1 profile prices this job's graded spikes): the chip can do no better."
        )
    if gpu_note:
        sentence += f" Note: {gpu_note}."
    return {
        "sentence": sentence,
        "chip": chip,
        "chip_label": e.get("label", "estimate"),
        "chip_energy_j": chip_e,
        "chip_time_s": chip_t,
        "gpu": gpu_name,
        "gpu_kind": b["kind"],
        "gpu_energy_j": matched,
        "gpu_board_energy_j": gpu_board,
        "gpu_time_s": {**(gpu_t or {}), "kernel_launches": launches, "host_syncs": b.get("host_syncs"), "bound": b.get("bound", "")},
        "energy_ratio": ratio,
        "time_ratio": speed,
        "scope": scope,
        "scopes": scopes,
        "static_power": e.get("static_power", "not known"),
        "accuracy": dict(acc),
        "cpu": cpu,
        "equal_accuracy": reached,
        "note": gpu_note,
    }


# ------------------------------------------------------------------------------ figures
def _figure(width: float = 9.0, height: float = 4.2):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    return fig


def _png(fig) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    return buf.getvalue()


def _device_series(comps: list[dict[str, Any]], what: str) -> tuple[list[str], dict[str, list[float | None]]]:
    """``(job names, {device label: [value per job]})`` of energies ('energy') or times ('time')."""
    jobs = [c["name"] for c in comps]
    series: dict[str, list[float | None]] = {}

    def put(label: str, i: int, v: Any) -> None:
        series.setdefault(label, [None] * len(jobs))[i] = v

    for i, c in enumerate(comps):
        for name, e in c["estimates"].items():
            label = name + (" (bound)" if e["label"] == "bound" else "")
            put(label, i, e["energy_j"] if what == "energy" else e.get("time_s"))
        for b in c.get("baselines", []):
            v = b.get("energy_j") if what == "energy" else b.get("time_s")
            if v is not None:
                put(b["label"], i, v)
    series = {k: v for k, v in series.items() if any(x is not None and x > 0 for x in v)}
    return jobs, series


def _colours(comps: list[dict[str, Any]]) -> dict[str, Any]:
    """One colour per device label, the same in every plot."""
    import matplotlib

    labels: list[str] = []
    for what in ("energy", "time"):
        for label in _device_series(comps, what)[1]:
            if label not in labels:
                labels.append(label)
    cmap = matplotlib.colormaps["tab20"]
    return {label: cmap(k % 20) for k, label in enumerate(labels)}


def _bars(comps: list[dict[str, Any]], what: str, colours: Mapping[str, Any]) -> bytes | None:
    jobs, series = _device_series(comps, what)
    if not series:
        return None
    fig = _figure(10.0, 4.8)
    ax = fig.add_subplot(1, 1, 1)
    n = len(series)
    width = 0.8 / n
    x = np.arange(len(jobs))
    for k, (label, vals) in enumerate(series.items()):
        ys = [v if (v is not None and v > 0) else np.nan for v in vals]
        hatch = "//" if "(bound)" in label else ("xx" if "(modelled)" in label else None)
        ax.bar(x - 0.4 + width * (k + 0.5), ys, width, label=label, color=colours[label], hatch=hatch, edgecolor="black", linewidth=0.3)
    ax.set_yscale("log")
    ax.set_xticks(x)
    ax.set_xticklabels(jobs, rotation=15, ha="right")
    ax.set_ylabel("energy per run (J, log scale)" if what == "energy" else "time per run (s, log scale)")
    ax.set_title(("Energy" if what == "energy" else "Latency") + " per job and device (hatched: bound // or modelled xx)")
    ax.grid(axis="y", which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return _png(fig)


def _activity(comps: list[dict[str, Any]], activity: Mapping[str, Any] | None) -> bytes | None:
    lines = []
    for c in comps:
        counts = c.get("counts", {})
        sps = counts.get("spikes_per_step")
        if sps:
            dt = counts.get("dt_ms", 1.0) or 1.0
            lines.append((f"{c['name']}: spikes/step", np.arange(len(sps)) * dt, np.asarray(sps, dtype=float)))
    for label, series in (activity or {}).items():
        arr = np.asarray(series, dtype=float)
        if arr.ndim == 1 and arr.size:
            lines.append((str(label), np.arange(arr.size, dtype=float), arr))
    if not lines:
        return None
    fig = _figure()
    ax = fig.add_subplot(1, 1, 1)
    for label, t, y in lines:
        ax.plot(t, y, label=label, linewidth=1.0)
    ax.set_xlabel("simulated time (ms; step index for extra series)")
    ax.set_ylabel("messages per step")
    ax.set_title("Activity over time")
    if all(np.all(y > 0) for _, _, y in lines):
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return _png(fig)


def _accuracy(comps: list[dict[str, Any]]) -> bytes | None:
    fig = _figure()
    ax = fig.add_subplot(1, 1, 1)
    drawn = False
    positive = True
    for c in comps:
        trace = c.get("accuracy_trace")
        if trace:
            steps = trace["steps"]
            for metric, vals in trace.items():
                if metric == "steps":
                    continue
                ys = np.asarray([np.nan if v is None else v for v in vals], dtype=float)
                positive &= bool(np.all(ys[np.isfinite(ys)] > 0))
                ax.plot(steps, ys, marker=".", label=f"{c['name']}: {metric}")
                drawn = True
        elif c.get("accuracy"):
            n = c.get("counts", {}).get("n_steps")
            for metric, v in c["accuracy"].items():
                if v is not None and n:
                    positive &= v > 0
                    ax.scatter([n], [v], label=f"{c['name']}: {metric}")
                    drawn = True
    if not drawn:
        return None
    if positive:
        ax.set_yscale("log")
    ax.set_xlabel("simulation steps")
    ax.set_ylabel("error metric")
    ax.set_title("Accuracy against steps")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7)
    return _png(fig)


def _placement(placement: Mapping[str, Any] | None) -> bytes | None:
    if not placement or not placement.get("placements"):
        return None
    labels = list(placement["placements"])
    entries = [placement["placements"][k] for k in labels]
    fig = _figure(10.0, 4.0)
    ax1 = fig.add_subplot(1, 3, 1)
    x = np.arange(len(labels))
    bottom = np.zeros(len(labels))
    for direction, color in (("ew", "tab:blue"), ("ns", "tab:orange"), ("vertical", "tab:green")):
        vals = np.asarray([float(e["hops"].get(direction, 0) or 0) for e in entries])
        ax1.bar(x, vals, 0.6, bottom=bottom, label=direction, color=color)
        bottom += vals
    ax1.set_xticks(x)
    ax1.set_xticklabels(labels)
    ax1.set_title("link traversals", fontsize=9)
    ax1.legend(fontsize=6, loc="upper right")
    for k, (key, title, unit) in enumerate((("energy_j", "energy", "J"), ("time_s", "latency bound", "s"))):
        ax = fig.add_subplot(1, 3, k + 2)
        vals = [e.get(key) for e in entries]
        ys = [v if v is not None and v > 0 else np.nan for v in vals]
        ax.bar(x, ys, 0.6, color=["tab:purple", "tab:cyan", "tab:olive", "tab:gray"][: len(labels)])
        for xi, v in zip(x, vals):
            if v is None:
                ax.text(xi, 0.5, "not priced", rotation=90, ha="center", va="center", transform=ax.get_xaxis_transform(), fontsize=7)
            else:
                ax.text(xi, v, f"{v:.3g}", ha="center", va="bottom", fontsize=7)
        ax.set_ylim(bottom=0)
        ax.ticklabel_format(axis="y", style="sci", scilimits=(-2, 2))
        ax.set_xticks(x)
        ax.set_xticklabels(labels)
        ax.set_title(f"{title} ({unit}, {placement.get('profile', '')})", fontsize=8)
    fig.suptitle("2D mesh vs 3D-stacked placement", y=1.05)
    return _png(fig)


def _size_sweep_sections(size_sweeps: Sequence[Mapping[str, Any]] | None) -> tuple[list[dict[str, Any]], list[tuple[str, str, str, bytes]]]:
    """The size sweeps as JSON data and as ``(heading, figure key, caption, png)`` per sweep (energy.sizesweep draws and captions them)."""
    from energy import sizesweep

    if size_sweeps is None:
        return [], []
    if isinstance(size_sweeps, Mapping) or not isinstance(size_sweeps, Sequence):
        raise SNNTypeError(f"size_sweeps={size_sweeps!r}: must be a list of energy.sizesweep.run results")
    data, sections, keys = [], [], set()
    for i, sw in enumerate(size_sweeps):
        if not isinstance(sw, Mapping) or "task" not in sw:
            raise SNNTypeError(f"size_sweeps[{i}]: must be a dict returned by energy.sizesweep.run")
        sw = _clean(sw)
        safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in str(sw["task"])) or "task"
        key, k = f"sweep-{safe}", 2
        while key in keys:
            key, k = f"sweep-{safe}-{k}", k + 1
        keys.add(key)
        data.append(sw)
        sections.append((f"Size sweep: {sw['label']}", key, sizesweep.caption(sw), sizesweep.figure(sw)))
    return data, sections


# ------------------------------------------------------------------------------ writers
def _umask() -> int:
    """The process's umask (read by setting and restoring it)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _atomic_write(path: Path, data: bytes) -> None:
    """Write atomically, then give the file the mode an ordinary ``open()`` would (0666 less the umask).

    The atomic writer's temporary file is created 0600; a report is meant to be read by others where the user's umask allows.
    """
    from snn.io import atomic_write_bytes

    atomic_write_bytes(path, lambda fh: fh.write(data))
    os.chmod(path, 0o666 & ~_umask())


def _table_html(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _table_md(header: list[str], rows: list[list[str]]) -> str:
    def esc(s: Any) -> str:
        return str(s).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(esc(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(esc(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


_JOB_HEADER = [
    "device / profile",
    "kind",
    "energy per run",
    "range",
    "time per run",
    "time kind",
    "EDP (J·s)",
    "static",
    "ratio: chip dynamic vs GPU above idle",
    "ratio: chip all-in vs GPU board all-in",
]


def _job_rows(comp: Mapping[str, Any]) -> list[list[str]]:
    return [
        [
            r["device"],
            r["kind"],
            _fmt(r["energy_j"], "J"),
            r["energy_range"],
            _fmt(r["time_s"], "s"),
            r["time_kind"],
            _fmt(r["edp"]),
            r["static"],
            r["ratio_dynamic"],
            r["ratio_all_in"],
        ]
        for r in _rows(comp)
    ]


def _sections(comps, placement, crosschecks, extra_notes):
    """Build the report's sections once as (title, paragraphs, (header, rows), figure key) for both writers."""
    sections = []
    for c in comps:
        paras = []
        counts = c.get("counts", {})
        paras.append(
            f"{counts.get('n_steps')} steps of {counts.get('dt_ms')} ms; {counts.get('n_neurons')} neurons, {counts.get('n_synapses')} synapses; "
            f"{counts.get('spikes')} spikes ({counts.get('graded_spikes', 0)} graded), {counts.get('synaptic_events')} synaptic events, {counts.get('neuron_updates')} neuron updates."
        )
        ref = _reference_baseline(c)
        paras.append(f"Ratios against: {ref[0]}." if ref else "No baseline energy: no ratios.")
        if c.get("mapping"):
            m = c["mapping"]
            paras.append(
                f"Mapping: {m.get('n_cores')} cores on {m.get('n_chips')} chip(s), {m.get('topology')}; hops {m.get('hops')}, {m.get('messages_local')} local messages."
            )
        else:
            paras.append(
                "No mapping: one message per spike, no hops, and the fallback time model (work spread over the fewest cores; optimistic)."
            )
        if c.get("accuracy"):
            paras.append("Accuracy: " + ", ".join(f"{k} = {_fmt(v)}" for k, v in c["accuracy"].items()) + ".")
        for name, reason in c.get("refused", {}).items():
            paras.append(f"Refused by {name}: {reason}")
        for b in c.get("baselines", []):
            if b.get("assumptions") or b.get("notes"):
                paras.append(f"{b['label']}: " + "; ".join(list(b.get("assumptions", [])) + list(b.get("notes", []))) + ".")
        tables = [(_JOB_HEADER, _job_rows(c))]
        if c.get("extra"):
            tables.append((["item", "value"], [[k, json.dumps(v) if not isinstance(v, str) else v] for k, v in c["extra"].items()]))
        sections.append((f"Job: {c['name']}", paras, tables))
    if placement and placement.get("placements"):
        rows = []
        for label, e in placement["placements"].items():
            rows.append(
                [
                    label,
                    e.get("topology"),
                    e.get("n_cores"),
                    json.dumps(e.get("hops")),
                    e.get("max_hops_per_step"),
                    _fmt(e.get("energy_j"), "J"),
                    _fmt(e.get("time_s"), "s"),
                    e.get("refused") or "",
                ]
            )
        paras = [f"The same run under each placement, priced on {placement.get('profile')}."]
        if placement.get("assumptions"):
            paras.append(f"Assumptions (not from the profile's sources): {json.dumps(placement['assumptions'])}.")
        sections.append(
            (
                "Placement: 2D mesh vs 3D-stacked",
                paras,
                [(["placement", "topology", "cores", "hops", "longest route/step", "energy", "latency bound", "refused"], rows)],
            )
        )
    if crosschecks:
        rows = []
        for x in crosschecks:
            rows.append(
                [
                    x.get("name", ""),
                    _fmt(x.get("sanafe_energy_j"), "J"),
                    _fmt(x.get("estimate_energy_j"), "J"),
                    "" if x.get("energy_rel_diff") is None else f"{100 * x['energy_rel_diff']:+.1f} %",
                    _fmt(x.get("sanafe_time_s"), "s"),
                    _fmt(x.get("estimate_time_s"), "s"),
                    "" if x.get("time_rel_diff") is None else f"{100 * x['time_rel_diff']:+.1f} %",
                ]
            )
        sections.append(
            (
                "Cross-check: SANA-FE against energy.estimate(loihi1_sanafe)",
                [
                    "The same networks run through SANA-FE's Loihi architecture and priced by energy.estimate on loihi1_sanafe with the same placement; differences are (estimate - SANA-FE) / SANA-FE."
                ],
                [(["network", "SANA-FE energy", "estimate energy", "energy diff", "SANA-FE time", "estimate time", "time diff"], rows)],
            )
        )
    if extra_notes:
        sections.append(("Notes", list(extra_notes), []))
    return sections


def _sources(comps: list[dict[str, Any]], placement: Mapping[str, Any] | None) -> list[tuple[str, str, list[list[str]]]]:
    used: list[str] = []
    for c in comps:
        for name in list(c["estimates"]) + list(c.get("refused", {})):
            if name not in used:
                used.append(name)
        for b in c.get("baselines", []):
            if b["kind"] == "modelled" and b["device"] in _profiles.names() and b["device"] not in used:
                used.append(b["device"])
    if placement and placement.get("profile") and placement["profile"] not in used:
        used.append(placement["profile"])
    out = []
    for name in used:
        try:
            prof = _profiles.get(name)
        except EnergyError:
            continue
        rows = [
            [
                k,
                f"{c.value:g} {c.unit}"
                + (f" [{c.low if c.low is not None else c.value:g}–{c.high if c.high is not None else c.value:g}]" if c.has_range else ""),
                c.grade,
                c.basis,
                c.scope,
                c.source + (f" (via {c.via})" if c.via else "") + (f"; {c.formula}" if c.formula else ""),
            ]
            for k, c in prof.constants.items()
        ]
        out.append((name, f"{prof.title}. {prof.description}", rows))
    return out


_CSS = """
body { font-family: -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; margin: 2em; color: #222; max-width: 1200px; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 1.6em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.85em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
img { max-width: 100%; display: block; margin: 0.8em 0; border: 1px solid #eee; }
.small { font-size: 0.8em; color: #555; }
"""


def report(
    comparisons: Any,
    out_dir: str | os.PathLike,
    *,
    title: str = "snn-toolkit energy report",
    placement: Mapping[str, Any] | None = None,
    activity: Mapping[str, Any] | None = None,
    crosschecks: Sequence[Mapping[str, Any]] | None = None,
    notes: Sequence[str] = (),
    size_sweeps: Sequence[Mapping[str, Any]] | None = None,
) -> dict[str, str]:
    """Write ``report.html``, ``report.md`` and ``report.json`` (and ``figures/*.png``) into ``out_dir``.

    Parameters
    ----------
    comparisons : list of energy.Comparison (or their ``to_dict()``)
        One per job.
    out_dir : path
        Created if missing.
    title : str
    placement : dict, optional
        The result of :func:`energy.compare_placements` (2D vs 3D-stacked).
    activity : dict, optional
        Extra ``{label: per-step series}`` for the activity plot (the jobs'
        spikes per step are always drawn).
    crosschecks : list of dict, optional
        SANA-FE cross-checks (:func:`energy.sanafe.crosscheck`), shown with how far
        apart SANA-FE and the estimate are.
    notes : list of str
        Extra paragraphs (e.g. what was skipped and why).
    size_sweeps : list of dict, optional
        Results of :func:`energy.sizesweep.run`: each drawn as
        ``figures/sweep-<task>.png`` under "Size sweep: <label>" with its
        crossovers, and kept in report.json as ``"size_sweeps"``.

    Returns
    -------
    dict
        ``{"html": path, "md": path, "json": path, "figures": [paths]}``.
    """
    comps = _as_dicts(comparisons)
    if not isinstance(title, str):
        raise SNNTypeError(f"title={title!r}: must be a str")
    placement = _clean(placement) if placement is not None else None
    crosschecks = [_clean(x) for x in (crosschecks or [])]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "figures").mkdir(exist_ok=True)

    figures: list[tuple[str, str, bytes]] = []
    colours = _colours(comps)
    for key, caption, png in (
        ("energy", "Energy per job and device (log scale)", _bars(comps, "energy", colours)),
        ("latency", "Latency per job and device (log scale)", _bars(comps, "time", colours)),
        ("activity", "Activity over time (spike messages per step)", _activity(comps, activity)),
        ("accuracy", "Accuracy against steps", _accuracy(comps)),
        ("placement", "2D mesh vs 3D-stacked placement", _placement(placement)),
    ):
        if png is not None:
            figures.append((key, caption, png))
    fig_paths = []
    for key, _, png in figures:
        p = out / "figures" / f"{key}.png"
        _atomic_write(p, png)
        fig_paths.append(str(p))
    sweeps, sweep_sections = _size_sweep_sections(size_sweeps)
    for _, key, _, png in sweep_sections:
        p = out / "figures" / f"{key}.png"
        _atomic_write(p, png)
        fig_paths.append(str(p))

    created = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    sections = _sections(comps, placement, crosschecks, notes)
    sources = _sources(comps, placement)

    # --- JSON
    doc = {
        "format": FORMAT,
        "version": VERSION,
        "title": title,
        "created_utc": created,
        "how_to_read": _HOW_TO_READ,
        "headlines": {c["name"]: headline(c) for c in comps},
        "comparisons": [{**c, "headline": headline(c)} for c in comps],
        "placement": placement,
        "crosschecks": crosschecks,
        "notes": list(notes),
        "figures": [f"figures/{k}.png" for k, _, _ in figures] + [f"figures/{k}.png" for _, k, _, _ in sweep_sections],
        "size_sweeps": sweeps,
        "profiles": {name: _profiles.get(name).to_dict() for name, _, _ in sources},
    }
    json_path = out / "report.json"
    _atomic_write(json_path, (json.dumps(_clean(doc), indent=2, allow_nan=False) + "\n").encode())

    # --- Markdown
    md = [f"# {title}", "", f"Generated {created} by snn-toolkit.", "", "## How to read this report", ""]
    md += [f"- {line}" for line in _HOW_TO_READ] + [""]
    heads = [(c["name"], headline(c)) for c in comps]
    md += (
        ["## Headline", ""]
        + [f"- **{name}**: {h['sentence'] if h else 'no chip estimate or no GPU baseline to compare'}" for name, h in heads]
        + [""]
    )
    md += ["## Plots", ""] + [f"![{cap}](figures/{key}.png)" for key, cap, _ in figures] + [""]
    for head, key, cap, _ in sweep_sections:
        md += [f"## {head}", "", f"![{head}](figures/{key}.png)", "", cap, ""]
    for head, paras, tables in sections:
        md += [f"## {head}", ""]
        for p in paras:
            md += [p, ""]
        for header, rows in tables:
            md += [_table_md(header, [[str(c) for c in r] for r in rows]), ""]
    md += ["## Sources", ""]
    for name, desc, rows in sources:
        md += [f"### {name}", "", desc, "", _table_md(["constant", "value", "grade", "basis", "scope", "source"], rows), ""]
    md_path = out / "report.md"
    _atomic_write(md_path, "\n".join(md).encode())

    # --- HTML
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f'<p class="small">Generated {html.escape(created)} by snn-toolkit.</p>',
        '<h2>Headline</h2><ul class="headline">',
    ]
    parts += [
        f"<li><b>{html.escape(name)}</b>: {html.escape(h['sentence'] if h else 'no chip estimate or no GPU baseline to compare')}</li>"
        for name, h in heads
    ]
    parts += ["</ul>", "<h2>How to read this report</h2><ul>"]
    parts += [f"<li>{html.escape(line)}</li>" for line in _HOW_TO_READ]
    parts.append("</ul><h2>Plots</h2>")
    for key, cap, png in figures:
        uri = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
        parts.append(
            f'<figure><img id="fig-{key}" src="{uri}" alt="{html.escape(cap)}"><figcaption>{html.escape(cap)}</figcaption></figure>'
        )
    if not figures:
        parts.append("<p>No data to plot.</p>")
    for head, key, cap, png in sweep_sections:
        uri = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
        parts.append(f"<h2>{html.escape(head)}</h2>")
        parts.append(
            f'<figure><img id="fig-{key}" src="{uri}" alt="{html.escape(head)}"><figcaption>{html.escape(cap)}</figcaption></figure>'
        )
    for head, paras, tables in sections:
        parts.append(f"<h2>{html.escape(head)}</h2>")
        parts += [f"<p>{html.escape(p)}</p>" for p in paras]
        parts += [_table_html(header, [[str(c) for c in r] for r in rows]) for header, rows in tables]
    parts.append("<h2>Sources</h2>")
    for name, desc, rows in sources:
        parts.append(f"<h3>{html.escape(name)}</h3><p>{html.escape(desc)}</p>")
        parts.append(_table_html(["constant", "value", "grade", "basis", "scope", "source"], rows))
    parts.append("</body></html>")
    html_path = out / "report.html"
    _atomic_write(html_path, "\n".join(parts).encode())
    return {"html": str(html_path), "md": str(md_path), "json": str(json_path), "figures": fig_paths}
