"""The report's figures: matplotlib (Agg) drawings returned as PNG bytes, or None where there is nothing to draw.

Kept apart from :mod:`energy.report` (which decides what is compared and writes the
files) so that each figure is a function of plain data: the rows the report's
tables show, never a second computation of them.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

#: one colour per chip profile, the same in every figure
CHIP_COLOURS = {
    "loihi1_sanafe": "#1f77b4",
    "loihi1_davies2018": "#2ca02c",
    "loihi2_bound": "#9467bd",
    "truenorth": "#d62728",
}
_OTHER = "#7f7f7f"


def figure(width: float = 9.0, height: float = 4.2):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100)


def png(fig) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    return buf.getvalue()


def _positive(iv: Mapping[str, float] | None) -> bool:
    return bool(iv) and all(v is not None and v > 0 and math.isfinite(v) for v in (iv["low"], iv["best"], iv["high"]))


def ratio_intervals(job: str, items: Sequence[Mapping[str, Any]]) -> bytes | None:
    """One job's ratios as intervals on a log axis: energy (left) and time (right), one row per chip and comparison.

    ``items``: ``{"chip", "chip_label" (row text), "bound" (bool), "versus" (row text),
    "energy" (interval or None), "time" (interval or None)}``; a ratio is other / chip,
    so right of 1 means the chip uses less energy (or is faster).  Bounds are hollow.
    """
    rows = [it for it in items if _positive(it.get("energy")) or _positive(it.get("time"))]
    if not rows:
        return None
    fig = figure(11.0, 0.9 + 0.34 * len(rows))
    axes = [fig.add_subplot(1, 2, k + 1) for k in range(2)]
    y = np.arange(len(rows))[::-1]
    for ax, key, title in zip(
        axes, ("energy", "time"), ("energy: other / chip (>1: chip uses less)", "time: other / chip (>1: chip faster)")
    ):
        for yi, it in zip(y, rows):
            iv = it.get(key)
            if not _positive(iv):
                ax.text(1.0, yi, "not given", fontsize=7, va="center", ha="center", color="#777")
                continue
            c = CHIP_COLOURS.get(it["chip"], _OTHER)
            ax.plot([iv["low"], iv["high"]], [yi, yi], color=c, linewidth=2.2, solid_capstyle="butt")
            face = "white" if it.get(f"bound_{key}", it.get("bound")) else c
            ax.plot([iv["best"]], [yi], marker="o", markersize=6, markerfacecolor=face, markeredgecolor=c, markeredgewidth=1.5)
        ax.set_xscale("log")
        ax.axvline(1.0, color="black", linewidth=0.8, linestyle="--")
        ax.set_title(f"{job}: {title}" if ax is axes[0] else title, fontsize=9)
        ax.grid(axis="x", which="major", alpha=0.3)
        ax.set_ylim(-0.7, len(rows) - 0.3)
        ax.set_yticks(y)
        ax.set_yticklabels([f"{it['chip_label']} vs {it['versus']}" for it in rows] if ax is axes[0] else [""] * len(rows), fontsize=7.5)
        ax.tick_params(axis="x", labelsize=8)
    return png(fig)


def breakdown(job: str, bars: Sequence[Mapping[str, Any]]) -> bytes | None:
    """Each chip estimate's energy split by term, as shares of its total (the total printed at the bar's end).

    ``bars``: ``{"label", "total_j", "terms": {term: joules}}``.  Shares are drawn,
    not joules on a log axis, where stacked segments would mislead.
    """
    bars = [b for b in bars if b.get("total_j") and b["total_j"] > 0 and b.get("terms")]
    if not bars:
        return None
    import matplotlib

    terms: list[str] = []
    for b in bars:
        for t in b["terms"]:
            if t not in terms:
                terms.append(t)
    cmap = matplotlib.colormaps["tab10"]
    fig = figure(10.0, 0.9 + 0.45 * len(bars))
    ax = fig.add_subplot(1, 1, 1)
    y = np.arange(len(bars))[::-1]
    for k, t in enumerate(terms):
        left = np.array([sum(v for tt, v in b["terms"].items() if terms.index(tt) < k) / b["total_j"] for b in bars])
        width = np.array([b["terms"].get(t, 0.0) / b["total_j"] for b in bars])
        colour = "#bbbbbb" if t.startswith("static") else cmap(k % 10)
        hatch = "//" if t.startswith("static") else None
        ax.barh(y, width, left=left, color=colour, hatch=hatch, edgecolor="white", linewidth=0.5, label=t)
    for yi, b in zip(y, bars):
        ax.text(1.01, yi, f"{b['total_j']:.3g} J", va="center", fontsize=8)
    ax.set_yticks(y)
    ax.set_yticklabels([b["label"] for b in bars], fontsize=8)
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of the estimate's energy (best values)")
    ax.set_title(f"{job}: energy by term", fontsize=10)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.12, 1.0))
    return png(fig)


def convergence(panels: Sequence[Mapping[str, Any]]) -> bytes | None:
    """Small multiples: one panel per job, its error metric against simulation steps on a log axis.

    ``panels``: ``{"job", "metric", "steps": [...], "values": [...], "target" (float or None),
    "target_label"}``; the target (the accuracy the baselines were run to) is a dashed line.
    """
    panels = [p for p in panels if p.get("steps") and any(v is not None and v > 0 for v in p["values"])]
    if not panels:
        return None
    ncol = min(3, len(panels))
    nrow = math.ceil(len(panels) / ncol)
    fig = figure(4.0 * ncol, 2.9 * nrow)
    for k, p in enumerate(panels):
        ax = fig.add_subplot(nrow, ncol, k + 1)
        steps = np.asarray(p["steps"], dtype=float)
        vals = np.asarray([np.nan if v is None or v <= 0 else v for v in p["values"]], dtype=float)
        ax.plot(steps, vals, marker=".", markersize=3, linewidth=1.0, color="#1f77b4")
        if p.get("target"):
            ax.axhline(p["target"], color="#d62728", linestyle="--", linewidth=0.9, label=p.get("target_label", "target"))
            ax.legend(fontsize=6.5, loc="upper right")
        ax.set_yscale("log")
        ax.set_title(p["job"], fontsize=9)
        ax.set_xlabel("simulation steps", fontsize=8)
        ax.set_ylabel(p["metric"], fontsize=8)
        ax.tick_params(which="both", labelsize=7)
        ax.grid(alpha=0.3, which="both")
    fig.tight_layout()
    return png(fig)


def activity(lines: Sequence[tuple[str, np.ndarray, np.ndarray]]) -> bytes | None:
    """Messages per step against simulated time: small multiples, one panel per series (their scales differ by 100x)."""
    if not lines:
        return None
    ncol = min(4, len(lines))
    nrow = math.ceil(len(lines) / ncol)
    fig = figure(3.3 * ncol, 2.3 * nrow)
    for k, (label, t, y) in enumerate(lines):
        ax = fig.add_subplot(nrow, ncol, k + 1)
        ax.plot(t, y, linewidth=0.8, color="#1f77b4")
        ax.set_title(label.replace(": spikes/step", ""), fontsize=8)
        top = float(np.nanmax(y)) if np.isfinite(y).any() else 1.0
        ax.set_ylim(0, max(1.0, top) * 1.1)
        ax.tick_params(which="both", labelsize=7)
        ax.grid(alpha=0.3)
        if k % ncol == 0:
            ax.set_ylabel("messages per step", fontsize=7)
        if k >= len(lines) - ncol:
            ax.set_xlabel("simulated time (ms)", fontsize=7)
    fig.tight_layout()
    return png(fig)


def placement(placement: Mapping[str, Any] | None) -> bytes | None:
    """2D mesh vs 3D stack: link traversals by direction, the energy and the latency bound of each placement."""
    if not placement or not placement.get("placements"):
        return None
    labels = list(placement["placements"])
    entries = [placement["placements"][k] for k in labels]
    fig = figure(11.0, 3.8)
    ax1 = fig.add_subplot(1, 3, 1)
    x = np.arange(len(labels))
    bottom = np.zeros(len(labels))
    for direction, colour in (("ew", "tab:blue"), ("ns", "tab:orange"), ("vertical", "tab:green")):
        vals = np.asarray([float((e.get("hops") or {}).get(direction, 0) or 0) for e in entries])
        ax1.bar(x, vals, 0.6, bottom=bottom, label=direction, color=colour)
        bottom += vals
    for xi, total in zip(x, bottom):
        ax1.text(xi, total, f"{total:.0f}", ha="center", va="bottom", fontsize=7)
    ax1.set_ylim(0, max(1.0, float(bottom.max())) * 1.15)
    ax1.set_xticks(x)
    ax1.set_xticklabels(labels, fontsize=8)
    ax1.set_title("link traversals (hops) by direction", fontsize=9)
    ax1.legend(fontsize=6, loc="lower right")
    for k, (key, title, unit) in enumerate((("energy_j", "energy", "J"), ("time_s", "latency bound", "s"))):
        ax = fig.add_subplot(1, 3, k + 2)
        vals = [e.get(key) for e in entries]
        ys = [v if v is not None and v > 0 else np.nan for v in vals]
        ax.bar(x, ys, 0.6, color=["tab:purple", "tab:cyan", "tab:olive", "tab:gray"][: len(labels)])
        for xi, v in zip(x, vals):
            if v is None:
                ax.text(xi, 0.5, "not priced", rotation=90, ha="center", va="center", transform=ax.get_xaxis_transform(), fontsize=7)
            else:
                ax.text(xi, v, f"{v:.4g}", ha="center", va="bottom", fontsize=7)
        finite = [v for v in ys if np.isfinite(v)]
        ax.set_ylim(0, max(finite) * 1.15 if finite else 1.0)
        ax.ticklabel_format(axis="y", style="sci", scilimits=(-2, 2))
        ax.set_xticks(x)
        ax.set_xticklabels(labels, fontsize=8)
        ax.set_title(f"{title} ({unit}, {placement.get('profile', '')})", fontsize=8)
    fig.suptitle("The same run under a 2D mesh and a 3D-stacked placement", y=1.04, fontsize=10)
    return png(fig)
