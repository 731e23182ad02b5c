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
import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from energy import _report_figures as _figs
from energy import profiles as _profiles
from energy._scopes import CHIP_NAMES as _CHIP_NAMES
from energy._scopes import HEADLINE_CHIPS as _HEADLINE_CHIPS
from energy._scopes import cpu_part as _cpu_part
from energy._scopes import gpu_baseline as _gpu_baseline
from energy._scopes import interval as _interval
from energy._scopes import ratio as _ratio
from energy._scopes import scopes as _scopes
from energy.errors import EnergyError, SNNTypeError

__all__ = ["headline", "placement_caption", "report"]

FORMAT = "snn-toolkit.energy-report"
VERSION = 1

_HOW_TO_READ = [
    "The headline gives, per job, the preferred chip estimate (SANA-FE-calibrated Loihi 1 where it prices the job, else Davies 2018, else the Loihi 2 bound) against the GPU baseline and the compiled CPU baseline, with [low – high] ranges, and whether every baseline reached the spiking solver's accuracy.",
    "Each job (a task at one size) was simulated once; its operation counts (synaptic events, neuron updates, spikes, and the mapping's messages and hops) are priced on each device profile. Every constant carries its source, a grade (primary, secondary, derived) and a basis (simulated, silicon-measured, silicon-calibrated, vendor-claim, derived, specified); see 'Sources'.",
    "Per job: a figure of ratio intervals (other / chip on a log axis: right of the dashed line the chip wins; dot = best, bar = [low, high], hollow = an upper bound on the chip's advantage); then separate tables for neuromorphic estimates (operations priced), bounds (best-case system figures: 'no better than'), the baselines, the energy by term, and conventional device tables (KerasSpiking, a 45 nm op model), which are neither chips nor baselines.",
    "Ratios compare matched scopes: a per-operation (dynamic) chip estimate against the GPU's energy above idle, and a chip all-in figure (dynamic + static power x chip time, or an all-in profile) against the GPU board all-in. The interval divides the other's low end by the chip's high end, and its high end by the chip's low end.",
    "Static (leakage) power is a term of its own where a source gives one; where none does (Loihi 1: Davies et al. 2018 and SANA-FE's loihi.yaml give none) the all-in ratio says 'static power not known' rather than guessing. The CPU's energy is a core's share of package power (static included): against a dynamic-only chip figure its ratio is marked ≤ (at most).",
    "GPU baselines are 'measured' (wall time; energy from NVML, idle power stated) or 'modelled' on a datasheet profile: time = max(roofline from counted FLOPs and bytes, launch-bound from the kernel launches and host syncs counted by running the dense baseline, priced at a sourced per-launch and per-sync latency range); energy = board power (launch-bound: a range between idle and the board limit) x time. CPU baselines are the conventional compiled solver, single-threaded, wall time measured on the machine that wrote the report.",
    "Equal accuracy: every baseline is run until it reaches the accuracy the spiking solver reached on the task's stopping metric (or is exact); each baseline's achieved accuracy is in its table row. The convergence figure shows each spiking solver's error against steps; the size sweeps show how the ratios move with problem size.",
    "A profile that has no price for an operation in the counts (e.g. graded spikes on Loihi 1) refuses rather than printing a partial total; refusals are listed with their reason. Host I/O is never included.",
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


def _speed_words(other_over_chip: float, bound: bool) -> str:
    """', 3× faster' / ', 2× slower' from a time ratio other / chip; a bound's chip time is a floor: 'at most' faster, 'at least' slower."""
    if other_over_chip >= 1:
        return f", {'at most ' if bound else ''}{_x(other_over_chip)}× faster"
    return f", {'at least ' if bound else ''}{_x(1 / other_over_chip)}× slower"


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
        sentence += _speed_words(speed["best"], is_bound)
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
            sentence += _speed_words(cpu["time_ratio"]["best"], is_bound)
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


# ------------------------------------------------------------------------------ per-job rows
def _basis(prof: Any) -> str:
    """The bases of a profile's constants, most common first (e.g. 'silicon-calibrated')."""
    counts: dict[str, int] = {}
    for c in prof.constants.values():
        counts[c.basis] = counts.get(c.basis, 0) + 1
    return ", ".join(sorted(counts, key=lambda b: -counts[b]))


def _chip_items(comp: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every neuromorphic chip estimate of a job against the GPU and the CPU baseline, in matched scopes, with ranges.

    The same arithmetic as the headline (:func:`_scopes`, :func:`_cpu_part`,
    :func:`_ratio`), for every chip profile rather than the preferred one.
    """
    gpu = _gpu_baseline(comp)
    out = []
    for name, e in comp["estimates"].items():
        prof = _profiles.get(name)
        if prof.kind != "neuromorphic":
            continue
        chip_t = _interval(e.get("time_s"), e.get("time_low_s"), e.get("time_high_s"))
        scopes = _scopes(e, prof.scope, gpu[1] if gpu else None, gpu[2] if gpu else None)
        gpu_t = _interval(gpu[0]["time_s"], gpu[0].get("time_low_s"), gpu[0].get("time_high_s")) if gpu else None
        cpu = _cpu_part(comp, e, chip_t, scopes)
        out.append(
            {
                "profile": name,
                "chip": _CHIP_NAMES.get(name, prof.title),
                "label": e["label"],
                "basis": _basis(prof),
                "energy_j": _interval(e["energy_j"], e.get("energy_low_j"), e.get("energy_high_j")),
                "time_s": chip_t,
                "static": _static_text(e),
                "scopes": scopes,
                "gpu_time_ratio": _ratio(gpu_t, chip_t) if gpu_t and chip_t else None,
                "cpu": cpu,
            }
        )
    return out


def _ratio_cell(r: Mapping[str, float] | None, *, at_most: bool = False, why: str = "") -> str:
    if not r:
        return why or "–"
    if math.isclose(r["low"], r["high"], rel_tol=1e-9):
        return f"{'≤ ' if at_most else ''}{_x(r['best'])}× (no range)"
    return f"{'≤ ' if at_most else ''}{_x(r['best'])}× [{_x(r['low'])} – {_x(r['high'])}]"


def _iv_cell(iv: Mapping[str, float] | None, unit: str) -> str:
    if not iv:
        return "–"
    if iv["low"] == iv["best"] == iv["high"]:
        return f"{_si(iv['best'], unit)} (no range)"
    return _iv(iv, unit)


_CHIP_HEADER = [
    "chip profile",
    "basis of its constants",
    "energy [low – high]",
    "time [low – high]",
    "static",
    "vs GPU: chip dynamic / GPU above idle",
    "vs GPU: chip all-in / GPU board",
    "vs CPU (energy)",
    "time: GPU / chip",
    "time: CPU / chip",
]


def _chip_rows(items: list[dict[str, Any]]) -> list[list[str]]:
    rows = []
    for it in items:
        bound = it["label"] == "bound"
        dyn, all_in = it["scopes"]["dynamic"], it["scopes"]["all_in"]
        cpu = it["cpu"] or {}
        short = {"not separable": "not separable (all-in figure)", "static power: not known": "static power not known"}
        rows.append(
            [
                it["profile"] + (" (bound)" if bound else ""),
                it["basis"],
                _iv_cell(it["energy_j"], "J"),
                _iv_cell(it["time_s"], "s"),
                it["static"],
                _ratio_cell(
                    dyn.get("energy_ratio"),
                    at_most=bound,
                    why=next((v for k, v in short.items() if dyn.get("not_known", "").startswith(k)), ""),
                ),
                _ratio_cell(
                    all_in.get("energy_ratio"),
                    at_most=bound,
                    why=next((v for k, v in short.items() if all_in.get("not_known", "").startswith(k)), ""),
                ),
                _ratio_cell(cpu.get("energy_ratio"), at_most=bool(cpu.get("at_most"))),
                _ratio_cell(it["gpu_time_ratio"], at_most=bound),
                _ratio_cell(cpu.get("time_ratio"), at_most=bound),
            ]
        )
    return rows


_BASELINE_HEADER = [
    "baseline",
    "kind",
    "accuracy (spiking solver's target)",
    "energy [low – high]",
    "energy above idle",
    "time [low – high]",
    "time kind",
    "launches / host syncs",
]


def _baseline_rows(comp: Mapping[str, Any]) -> list[list[str]]:
    target = comp.get("target") or {}
    rows = []
    for b in list(comp.get("baselines", [])) + list(comp.get("cpu_baselines", [])):
        acc = b.get("accuracy") or {}
        parts = [f"{k} {acc[k]:.2g}" for k in target if acc.get(k) is not None]
        reached = b.get("reached")
        acc_txt = ", ".join(parts) + ("" if reached is None else (" (reached)" if reached else " (did NOT reach it)")) if parts else "–"
        energy = _interval(b.get("energy_j"), b.get("energy_low_j"), b.get("energy_high_j"))
        above = _interval(b.get("energy_above_idle_j"), b.get("energy_above_idle_low_j"), b.get("energy_above_idle_high_j"))
        time_iv = _interval(b.get("time_s"), b.get("time_low_s"), b.get("time_high_s"))
        kind = b["kind"] + (f", {b['bound']}" if b.get("bound") else "")
        launches = "–" if b.get("kernel_launches") is None else f"{b['kernel_launches']} / {b.get('host_syncs')}"
        rows.append(
            [
                b["label"],
                kind,
                acc_txt,
                _iv_cell(energy, "J") if energy else "not measured",
                _iv_cell(above, "J"),
                _iv_cell(time_iv, "s"),
                b.get("time_kind", ""),
                launches,
            ]
        )
    return rows


def _conventional_rows(comp: Mapping[str, Any]) -> list[list[str]]:
    rows = []
    for name, e in comp["estimates"].items():
        prof = _profiles.get(name)
        if prof.kind == "neuromorphic":
            continue
        rows.append(
            [
                name,
                prof.title,
                _fmt(e["energy_j"], "J"),
                _range(e.get("energy_low_j"), e.get("energy_high_j"), "J") or "no range in its source",
            ]
        )
    return rows


def _breakdown_bars(comp: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The chip estimates' energy by term (best values): per-op profiles only; an all-in figure has one term."""
    bars = []
    for name, e in comp["estimates"].items():
        prof = _profiles.get(name)
        if prof.kind != "neuromorphic" or prof.scope != "per-op":
            continue
        terms = {k: float(v) for k, v in (e.get("breakdown") or {}).items() if v}
        if terms:
            bars.append({"profile": name, "label": _CHIP_NAMES.get(name, name), "total_j": float(e["energy_j"]), "terms": terms})
    return bars


def _convergence_panels(comps: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    panels, untraced = [], []
    for c in comps:
        trace = c.get("accuracy_trace")
        if not trace:
            untraced.append(c["name"])
            continue
        target = c.get("target") or {}
        for metric, vals in trace.items():
            if metric == "steps":
                continue
            panels.append(
                {
                    "job": c["name"],
                    "metric": metric,
                    "steps": trace["steps"],
                    "values": vals,
                    "target": target.get(metric),
                    "target_label": "the baselines' target (reached)" if metric in target else "",
                }
            )
    return panels, untraced


# ------------------------------------------------------------------------------ sections
def _job_section(c: Mapping[str, Any]) -> tuple[str, list[tuple], dict[str, Any]]:
    """One job's section as blocks: ('p', text) | ('table', caption, header, rows) | ('fig', key, caption, png)."""
    blocks: list[tuple] = []
    counts = c.get("counts", {})
    h = headline(c)
    if h:
        blocks.append(("p", h["sentence"]))
    blocks.append(
        (
            "p",
            f"{counts.get('n_steps')} steps of {counts.get('dt_ms')} ms; {counts.get('n_neurons')} neurons, {counts.get('n_synapses')} synapses; "
            f"{counts.get('spikes')} spikes ({counts.get('graded_spikes', 0)} graded), {counts.get('synaptic_events')} synaptic events, {counts.get('neuron_updates')} neuron updates.",
        )
    )
    if c.get("mapping"):
        m = c["mapping"]
        blocks.append(
            (
                "p",
                f"Mapping: {m.get('n_cores')} core{'' if m.get('n_cores') == 1 else 's'} on {m.get('n_chips')} chip(s), {m.get('topology')} mesh; "
                f"link traversals {', '.join(f'{v} {k}' for k, v in (m.get('hops') or {}).items())}; {m.get('messages_local')} messages stay on their core"
                + (f", {m['messages_remote']} leave it." if m.get("messages_remote") is not None else "."),
            )
        )
    else:
        blocks.append(
            (
                "p",
                "No mapping: one message per spike, no hops, and the fallback time model (work spread over the fewest cores; optimistic).",
            )
        )
    if c.get("accuracy"):
        blocks.append(("p", "Spiking solver's accuracy: " + ", ".join(f"{k} = {_fmt(v)}" for k, v in c["accuracy"].items()) + "."))
    items = _chip_items(c)
    rows_json = {"chips": items}
    fig_items = []
    for it in items:
        bound = it["label"] == "bound"
        dyn, all_in, cpu = it["scopes"]["dynamic"], it["scopes"]["all_in"], it["cpu"] or {}
        base = {"chip": it["profile"], "chip_label": it["profile"], "bound": bound}
        if dyn.get("energy_ratio"):
            fig_items.append({**base, "versus": "GPU above idle (dynamic)", "energy": dyn["energy_ratio"], "time": it["gpu_time_ratio"]})
        if all_in.get("energy_ratio"):
            fig_items.append({**base, "versus": "GPU board (all-in)", "energy": all_in["energy_ratio"], "time": it["gpu_time_ratio"]})
        if cpu.get("energy_ratio"):
            fig_items.append(
                {
                    **base,
                    "bound_energy": bound or bool(cpu.get("at_most")),
                    "versus": "CPU core",
                    "energy": cpu["energy_ratio"],
                    "time": cpu.get("time_ratio"),
                }
            )
    png = _figs.ratio_intervals(c["name"], fig_items)
    if png:
        blocks.append(
            (
                "fig",
                f"ratios-{_slug(c['name'])}",
                "Ratio intervals, other / chip, log axis: right of the dashed line the chip wins. Dot: best; bar: [low, high] "
                "(the other's low end over the chip's high end, and the reverse). Hollow: an upper bound on the chip's advantage "
                "(a bound profile, or a dynamic-only chip figure against the CPU's all-in one).",
                png,
            )
        )
    estimates = [it for it in items if it["label"] != "bound"]
    bounds = [it for it in items if it["label"] == "bound"]
    if estimates:
        blocks.append(
            (
                "table",
                "Neuromorphic chips: estimates (operations priced on the profile's sourced constants)",
                _CHIP_HEADER,
                _chip_rows(estimates),
            )
        )
    if bounds:
        blocks.append(
            (
                "table",
                "Neuromorphic chips: bounds (best-case system figures; the chip can do no better, ratios are 'at most')",
                _CHIP_HEADER,
                _chip_rows(bounds),
            )
        )
    if c.get("refused"):
        blocks.append(
            (
                "table",
                "Refused (the profile has no price for an operation in the counts; no partial total is given)",
                ["profile", "reason"],
                [[name, reason.split("; refusing")[0]] for name, reason in c["refused"].items()],
            )
        )
    brows = _baseline_rows(c)
    if brows:
        blocks.append(
            ("table", "Baselines: the same job by the conventional way, run to the spiking solver's accuracy", _BASELINE_HEADER, brows)
        )
    how = [
        f"{b['label']}: " + "; ".join(list(b.get("assumptions", [])) + list(b.get("notes", []))) + "."
        for b in list(c.get("baselines", [])) + list(c.get("cpu_baselines", []))
        if b.get("assumptions") or b.get("notes")
    ]
    if how:
        blocks.append(("details", "How each baseline was run and priced (assumptions and sources)", how))
    bars = _breakdown_bars(c)
    rows_json["breakdown"] = bars
    png = _figs.breakdown(c["name"], bars)
    if png:
        blocks.append(
            (
                "fig",
                f"breakdown-{_slug(c['name'])}",
                "Energy by term of each per-operation chip estimate (shares of its best total; static hatched grey). "
                "All-in profiles (TrueNorth, the Loihi 2 bound) have one term and are not drawn.",
                png,
            )
        )
        blocks.append(
            (
                "table",
                "Energy by term (best values)",
                ["chip profile", "term", "energy", "share"],
                [[b["profile"], t, _fmt(v, "J"), f"{100 * v / b['total_j']:.1f} %"] for b in bars for t, v in b["terms"].items()],
            )
        )
    elif items:
        blocks.append(("p", "Energy by term: only all-in figures price this job (one term each), so there is no breakdown to draw."))
    conv = _conventional_rows(c)
    if conv:
        blocks.append(
            (
                "table",
                "Conventional device tables and op-level models (a tool's per-operation table or a 45 nm op model priced on the same counts; "
                "neither a chip model nor the baseline, shown for comparison with papers that quote them)",
                ["profile", "what it is", "energy", "range"],
                conv,
            )
        )
    if c.get("extra"):
        blocks.append(
            (
                "table",
                "Run details",
                ["item", "value"],
                [[k, json.dumps(v) if not isinstance(v, str) else v] for k, v in c["extra"].items()],
            )
        )
    return f"Job: {c['name']}", blocks, rows_json


def _slug(name: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in name.lower()).strip("-").replace("--", "-")


def placement_caption(placement: Mapping[str, Any]) -> str:
    """What the 2D-vs-3D numbers say, in words: hops, the energy the hops cost, and what sets the latency bound.

    Computed from :func:`energy.compare_placements`' output: the first placement
    is the reference; each other one is described by its change in link
    traversals, in energy (and the hop terms' share of the total, which bounds
    how much any placement can change it) and in the latency bound.
    """
    entries = {k: v for k, v in (placement.get("placements") or {}).items() if v.get("energy_j")}
    if len(entries) < 2:
        return ""
    (ref_label, ref), *others = entries.items()
    if (ref.get("n_cores") or 0) < 2:
        return f"The network occupies {ref.get('n_cores')} core: no message leaves it, so every placement gives the same numbers."

    def hops(e: Mapping[str, Any]) -> float:
        return float(sum((e.get("hops") or {}).values()))

    def hop_j(e: Mapping[str, Any]) -> float:
        return float(sum(v for k, v in (e.get("breakdown") or {}).items() if k.startswith("hop")))

    text = [
        f"The network spans {ref.get('n_cores')} cores; {ref.get('messages_remote')} messages leave their core. "
        f"{ref_label}: {hops(ref):.0f} link traversals costing {_si(hop_j(ref), 'J')}, {100 * hop_j(ref) / ref['energy_j']:.2g} % of its {_si(ref['energy_j'], 'J')}."
    ]
    for label, e in others:
        dh = (hops(e) - hops(ref)) / hops(ref) if hops(ref) else 0.0
        de = (e["energy_j"] - ref["energy_j"]) / ref["energy_j"]
        dt = (e["time_s"] - ref["time_s"]) / ref["time_s"] if e.get("time_s") and ref.get("time_s") else None
        text.append(
            f"{label}: {hops(e):.0f} traversals ({100 * dh:+.0f} %: "
            + ", ".join(f"{v} {k}" for k, v in (e.get("hops") or {}).items())
            + f"); energy {100 * de:+.2g} %"
            + ("" if dt is None else f", latency bound {100 * dt:+.2g} %")
            + f" (longest route per step {e.get('max_hops_per_step')} vs {ref.get('max_hops_per_step')} hops)."
        )
    share = hop_j(ref) / ref["energy_j"]
    if share < 0.05:
        text.append(
            f"Hops are {100 * share:.2g} % of the energy on this profile (synaptic events and neuron updates dominate), "
            "so no placement of these cores can change the energy by more than that."
        )
    times = [e.get("time_s") for e in entries.values()]
    if all(t for t in times) and (max(times) - min(times)) / min(times) < 0.01:
        text.append("The latency bound barely moves: it follows the busiest core's work per step, which is the same in every placement.")
    return " ".join(text)
    return " ".join(text)


def _placement_blocks(placement: Mapping[str, Any]) -> list[tuple]:
    rows = []
    for label, e in placement["placements"].items():
        rows.append(
            [
                label,
                e.get("topology"),
                e.get("n_cores"),
                ", ".join(f"{v} {k}" for k, v in (e.get("hops") or {}).items()),
                e.get("max_hops_per_step"),
                _fmt(e.get("energy_j"), "J"),
                _fmt(e.get("time_s"), "s"),
                e.get("refused") or "",
            ]
        )
    blocks: list[tuple] = [("p", f"The same run under each placement, priced on {placement.get('profile')}.")]
    caption = placement.get("caption") or placement_caption(placement)
    if caption:
        blocks.append(("p", caption))
    if placement.get("assumptions"):
        blocks.append(("p", f"Assumptions (not from the profile's sources): {json.dumps(placement['assumptions'])}."))
    png = _figs.placement(placement)
    if png:
        blocks.append(("fig", "placement", "2D mesh vs 3D-stacked placement: hops by direction, energy and latency bound", png))
    blocks.append(
        (
            "table",
            "Placements",
            ["placement", "topology", "cores", "hops", "longest route/step", "energy", "latency bound", "refused"],
            rows,
        )
    )
    return blocks


def _sections(comps, placement, activity, crosschecks, extra_notes, sweep_sections=()):
    """The report's sections, built once for both writers: [(title, blocks)], plus the per-job rows for report.json."""
    sections = []
    sweep_sections = list(sweep_sections)
    job_rows = {}
    for c in comps:
        title, blocks, rows = _job_section(c)
        sections.append((title, blocks))
        job_rows[c["name"]] = rows
    panels, untraced = _convergence_panels(comps)
    png = _figs.convergence(panels)
    if png:
        blocks = [
            (
                "fig",
                "convergence",
                "Convergence: each job's error against simulation steps (log axis), one panel per job; dashed: the accuracy the baselines were run to.",
                png,
            )
        ]
        if untraced:
            blocks.append(
                (
                    "p",
                    "No convergence history: "
                    + ", ".join(untraced)
                    + " (time stepping or exact algorithms record no iterative error, or none was given).",
                )
            )
        sections.append(("Convergence", blocks))
    sections += sweep_sections
    if placement and placement.get("placements"):
        sections.append(("Placement: 2D mesh vs 3D-stacked", _placement_blocks(placement)))
    lines = []
    for c in comps:
        sps = c.get("counts", {}).get("spikes_per_step")
        if sps:
            dt = c.get("counts", {}).get("dt_ms", 1.0) or 1.0
            lines.append((f"{c['name']}: spikes/step", np.arange(len(sps)) * dt, np.asarray(sps, dtype=float)))
    for label, series in (activity or {}).items():
        arr = np.asarray(series, dtype=float)
        if arr.ndim == 1 and arr.size:
            lines.append((str(label), np.arange(arr.size, dtype=float), arr))
    png = _figs.activity(lines)
    if png:
        sections.append(
            (
                "Activity",
                [
                    (
                        "fig",
                        "activity",
                        "Activity: spike messages per step against simulated time, one panel per run (each on its own scale)",
                        png,
                    )
                ],
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
                    (
                        "p",
                        "The same networks run through SANA-FE's Loihi architecture and priced by energy.estimate on loihi1_sanafe with the same placement; differences are (estimate - SANA-FE) / SANA-FE.",
                    ),
                    (
                        "table",
                        "",
                        ["network", "SANA-FE energy", "estimate energy", "energy diff", "SANA-FE time", "estimate time", "time diff"],
                        rows,
                    ),
                ],
            )
        )
    if extra_notes:
        sections.append(("Notes", [("p", n) for n in extra_notes]))
    return sections, job_rows


def _sources(comps: list[dict[str, Any]], placement: Mapping[str, Any] | None) -> list[tuple[str, str, list[list[str]]]]:
    used: list[str] = []
    for c in comps:
        for name in list(c["estimates"]) + list(c.get("refused", {})):
            if name not in used:
                used.append(name)
        for b in list(c.get("baselines", [])) + list(c.get("cpu_baselines", [])):
            dev = b.get("device")
            if dev in _profiles.names() and dev not in used:
                used.append(dev)
    if any(c.get("cpu_baselines") for c in comps) and "cpu_xeon8480" not in used:
        used.append("cpu_xeon8480")
    if placement and placement.get("profile") and placement["profile"] not in used:
        used.append(placement["profile"])
    rank = {"neuromorphic": 0, "dense-processor": 1}
    known = [n for n in used if n in _profiles.names()]
    used = sorted(known, key=lambda n: (rank.get(_profiles.get(n).kind, 2), known.index(n)))  # chips, then baselines, then tables
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


def _size_sweep_sections(size_sweeps: Sequence[Mapping[str, Any]] | None) -> tuple[list[dict[str, Any]], list[tuple[str, list[tuple]]]]:
    """The size sweeps as JSON data and as one section per sweep, its figure and caption (energy.sizesweep draws and captions them)."""
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
        sections.append((f"Size sweep: {sw['label']}", [("fig", key, sizesweep.caption(sw), sizesweep.figure(sw))]))
    return data, sections


_GLANCE_HEADER = [
    "job",
    "chip (kind)",
    "chip energy",
    "GPU energy (matched scope)",
    "energy: GPU / chip",
    "time: GPU / chip",
    "energy: CPU / chip",
    "time: CPU / chip",
    "accuracy matched",
]


def _glance_rows(heads: list[tuple[str, dict[str, Any] | None]]) -> list[list[str]]:
    """The headlines as one table: a row per job, the sentences' numbers, ranges in brackets."""
    rows = []
    for name, h in heads:
        if not h:
            continue
        bound = h["chip_label"] == "bound"
        cpu = h.get("cpu") or {}
        rows.append(
            [
                name,
                _CHIP_NAMES.get(h["chip"], h["chip"])
                + ("" if h["chip_label"] in _CHIP_NAMES.get(h["chip"], "") else f" ({h['chip_label']})"),
                _iv_cell(h["chip_energy_j"], "J"),
                _iv_cell(h["gpu_energy_j"], "J"),
                _ratio_cell(h["energy_ratio"], at_most=bound),
                _ratio_cell(h["time_ratio"], at_most=bound),
                _ratio_cell(cpu.get("energy_ratio"), at_most=bool(cpu.get("at_most"))),
                _ratio_cell(cpu.get("time_ratio"), at_most=bound),
                {True: "yes", False: "NO", None: "–"}[h.get("equal_accuracy")],
            ]
        )
    return rows


# ------------------------------------------------------------------------------ writers
def _atomic_write(path: Path, data: bytes) -> None:
    """Write atomically, with the mode an ordinary ``open()`` gives (0666 less the umask: see :func:`snn.io.atomic_path`)."""
    from snn.io import atomic_write_bytes

    atomic_write_bytes(path, lambda fh: fh.write(data))


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


_CSS = """
body { font-family: -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; margin: 2em; color: #222; max-width: 1250px; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 1.8em; border-bottom: 1px solid #ccc; }
h3 { font-size: 1.0em; margin: 1.0em 0 0.2em; }
table { border-collapse: collapse; margin: 0.3em 0 0.9em; font-size: 0.82em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
img { max-width: 100%; display: block; margin: 0.6em 0 0.2em; border: 1px solid #eee; }
figcaption, .small { font-size: 0.8em; color: #555; }
ul.headline li { margin-bottom: 0.5em; }
p.lead { background: #f6f8fa; border-left: 4px solid #1f77b4; padding: 0.5em 0.8em; }
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

    The report opens with one headline sentence per job; then per job its
    ratio intervals (figure), the neuromorphic estimates and bounds (separate
    tables), the baselines at equal accuracy, the energy by term, and the
    conventional device tables; then convergence (small multiples), the
    placement comparison, activity, cross-checks, notes and every constant's
    source.

    Parameters
    ----------
    comparisons : list of energy.Comparison (or their ``to_dict()``)
        One per job.
    out_dir : path
        Created if missing.
    title : str
    placement : dict, optional
        The result of :func:`energy.compare_placements` (2D vs 3D-stacked); a
        ``"caption"`` key, when present, is printed above its figure.
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

    created = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    sweeps, sweep_sections = _size_sweep_sections(size_sweeps)
    sections, job_rows = _sections(comps, placement, activity, crosschecks, notes, sweep_sections)
    sources = _sources(comps, placement)
    figures = [(b[1], b[2], b[3]) for _, blocks in sections for b in blocks if b[0] == "fig"]
    fig_paths = []
    for key, _, png in figures:
        p = out / "figures" / f"{key}.png"
        _atomic_write(p, png)
        fig_paths.append(str(p))
    heads = [(c["name"], headline(c)) for c in comps]

    # --- JSON
    doc = {
        "format": FORMAT,
        "version": VERSION,
        "title": title,
        "created_utc": created,
        "how_to_read": _HOW_TO_READ,
        "headlines": {name: h for name, h in heads},
        "sections": [t for t, _ in sections],
        "comparisons": [
            {**c, "headline": h, "chips": job_rows[c["name"]]["chips"], "breakdown": job_rows[c["name"]]["breakdown"]}
            for c, (_, h) in zip(comps, heads)
        ],
        "placement": placement,
        "crosschecks": crosschecks,
        "notes": list(notes),
        "figures": [f"figures/{k}.png" for k, _, _ in figures],
        "size_sweeps": sweeps,
        "profiles": {name: _profiles.get(name).to_dict() for name, _, _ in sources},
    }
    json_path = out / "report.json"
    _atomic_write(json_path, (json.dumps(_clean(doc), indent=2, allow_nan=False) + "\n").encode())

    no_head = "no chip estimate or no GPU baseline to compare"
    # --- Markdown
    glance = _glance_rows(heads)
    md = [f"# {title}", "", f"Generated {created} by snn-toolkit.", "", "## Headline", ""]
    md += [_table_md(_GLANCE_HEADER, glance), ""] if glance else []
    md += [f"- **{name}**: {h['sentence'] if h else no_head}" for name, h in heads] + [""]
    md += ["## How to read this report", ""] + [f"- {line}" for line in _HOW_TO_READ] + [""]
    for head, blocks in sections:
        md += [f"## {head}", ""]
        for b in blocks:
            if b[0] == "p":
                md += [b[1], ""]
            elif b[0] == "details":
                md += [f"*{b[1]}:*", ""] + [f"- {x}" for x in b[2]] + [""]
            elif b[0] == "table":
                md += ([f"**{b[1]}**", ""] if b[1] else []) + [_table_md(b[2], [[str(x) for x in r] for r in b[3]]), ""]
            else:
                md += [f"![{b[2]}](figures/{b[1]}.png)", "", f"*{b[2]}*", ""]
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
        "<h2>Headline</h2>",
        _table_html(_GLANCE_HEADER, glance) if glance else "",
        '<ul class="headline">',
    ]
    parts += [f"<li><b>{html.escape(name)}</b>: {html.escape(h['sentence'] if h else no_head)}</li>" for name, h in heads]
    parts += ["</ul>", "<h2>How to read this report</h2><ul>"]
    parts += [f"<li>{html.escape(line)}</li>" for line in _HOW_TO_READ]
    parts.append("</ul>")
    for head, blocks in sections:
        parts.append(f"<h2>{html.escape(head)}</h2>")
        for k, b in enumerate(blocks):
            if b[0] == "p":
                cls = ' class="lead"' if head.startswith("Job: ") and k == 0 else ""
                parts.append(f"<p{cls}>{html.escape(b[1])}</p>")
            elif b[0] == "details":
                items = "".join(f"<li>{html.escape(x)}</li>" for x in b[2])
                parts.append(f'<details><summary class="small">{html.escape(b[1])}</summary><ul class="small">{items}</ul></details>')
            elif b[0] == "table":
                parts.append((f"<h3>{html.escape(b[1])}</h3>" if b[1] else "") + _table_html(b[2], [[str(x) for x in r] for r in b[3]]))
            else:
                uri = "data:image/png;base64," + base64.b64encode(b[3]).decode("ascii")
                parts.append(
                    f'<figure><img id="fig-{b[1]}" src="{uri}" alt="{html.escape(b[2])}"><figcaption>{html.escape(b[2])}</figcaption></figure>'
                )
    parts.append("<h2>Sources</h2>")
    for name, desc, rows in sources:
        parts.append(f"<h3>{html.escape(name)}</h3><p>{html.escape(desc)}</p>")
        parts.append(_table_html(["constant", "value", "grade", "basis", "scope", "source"], rows))
    parts.append("</body></html>")
    html_path = out / "report.html"
    _atomic_write(html_path, "\n".join(parts).encode())
    return {"html": str(html_path), "md": str(md_path), "json": str(json_path), "figures": fig_paths}
