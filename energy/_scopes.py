"""Matched scopes and ratio intervals: the arithmetic the headline, the per-chip tables and the size sweeps share.

A per-operation (dynamic) chip figure is set against the GPU's energy above
idle, an all-in one against the GPU board all-in; a ratio interval divides the
other's low end by the chip's high end, and its high end by the chip's low end.
Plain data in and out (``Comparison.to_dict()`` records).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: short names of the chips in sentences and tables
CHIP_NAMES = {
    "loihi1_sanafe": "Loihi 1 (SANA-FE-calibrated)",
    "loihi1_davies2018": "Loihi 1 (Davies 2018)",
    "loihi2_bound": "Loihi 2 (bound)",
}


#: chips the headline prefers, in order (estimates resting on silicon-calibrated or measured constants first;
#: the Loihi 2 bound only where no Loihi 1 profile can price the job, e.g. graded spikes)
HEADLINE_CHIPS = ("loihi1_sanafe", "loihi1_davies2018", "loihi2_bound")


def interval(best: Any, low: Any = None, high: Any = None) -> dict[str, float] | None:
    """``{"low", "best", "high"}`` (a missing end is the best value), or None without a best value."""
    if best is None:
        return None
    return {"low": float(best if low is None else low), "best": float(best), "high": float(best if high is None else high)}


def gpu_baseline(comp: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, float], dict[str, float], str] | None:
    """The GPU baseline of the headline: (record, energy above idle, board energy, note) -- measured first, else modelled."""
    note = ""
    for b in comp.get("baselines", []):
        if b["kind"] == "measured" and b.get("energy_j") is not None:
            above = b.get("energy_above_idle_j")
            if above is None or above <= 0:
                note = f"{b['label']}: measured energy above idle {above} J is <= 0 (the run is too short for the counter to resolve), so the headline uses the modelled GPU"
                continue
            return b, interval(above), interval(b["energy_j"]), ""
    for b in comp.get("baselines", []):
        if b["kind"] == "modelled" and b.get("energy_j"):
            above = interval(b.get("energy_above_idle_j"), b.get("energy_above_idle_low_j"), b.get("energy_above_idle_high_j"))
            board = interval(b["energy_j"], b.get("energy_low_j"), b.get("energy_high_j"))
            return b, above or board, board, note
    return None


def ratio(num: Mapping[str, float], den: Mapping[str, float]) -> dict[str, float] | None:
    """``num / den`` as an interval: low = num.low / den.high, high = num.high / den.low."""
    if not num or not den or min(den.values()) <= 0:
        return None
    return {"low": num["low"] / den["high"], "best": num["best"] / den["best"], "high": num["high"] / den["low"]}


def scopes(
    e: Mapping[str, Any], profile_scope: str, gpu_above: Mapping[str, float] | None, gpu_board: Mapping[str, float] | None
) -> dict[str, dict[str, Any]]:
    """Both matched scopes of one estimate: chip dynamic vs GPU above idle, chip all-in vs GPU board all-in.

    A per-op estimate's dynamic energy is its energy less the static term; its
    all-in energy exists only where the profile prices static power (else
    ``not_known`` says why).  An all-in figure has no separable dynamic part.
    """
    static = e.get("static_j")
    total = interval(e["energy_j"], e.get("energy_low_j"), e.get("energy_high_j"))
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
            "energy_ratio": ratio(gpu_above, dyn),
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
                "energy_ratio": ratio(gpu_board, total),
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
            "energy_ratio": ratio(gpu_board, total),
        }
    return out


def cpu_part(
    comp: Mapping[str, Any], e: Mapping[str, Any], chip_t: Mapping[str, float] | None, chip_scopes: Mapping[str, Any]
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
    cpu_e = interval(b["energy_j"], b.get("energy_low_j"), b.get("energy_high_j"))
    cpu_t = interval(b["time_s"], b.get("time_low_s"), b.get("time_high_s"))
    all_in = chip_scopes.get("all_in", {}).get("chip_energy_j")
    if all_in is not None:
        chip_e, scope, word = all_in, "chip all-in vs CPU core share all-in", ""
    else:
        chip_e = chip_scopes.get("dynamic", {}).get("chip_energy_j")
        scope, word = (
            "chip dynamic vs CPU core share all-in (static in the CPU figure only: an upper bound on the chip's advantage)",
            "at most ",
        )
    return {
        "label": b["label"],
        "algorithm": b.get("algorithm", ""),
        "energy_j": cpu_e,
        "time_s": cpu_t,
        "energy_ratio": ratio(cpu_e, chip_e) if chip_e else None,
        "time_ratio": ratio(cpu_t, chip_t) if chip_t else None,
        "scope": scope,
        "at_most": bool(word) or e.get("label") == "bound",
        "accuracy": dict(b.get("accuracy") or {}),
        "reached": b.get("reached"),
    }
