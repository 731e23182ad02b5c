"""Comparisons and reports: records, the three files, and the HTML rendered by headless Chromium."""

from __future__ import annotations

import base64
import json
import os
import re
import struct
import subprocess

import numpy as np
import pytest
from _energy_inputs import make_counts, make_mapping

import energy
from energy import baseline

CHROMIUM = os.environ.get("SNN_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(scope="module")
def comparisons(small_run):
    net, res = small_run
    synthetic = energy.compare(
        "synthetic (graded)",
        make_counts(graded_spikes=4),
        profiles=["loihi1_davies2018", "loihi2_bound", "truenorth", "horowitz2014"],
        mapping=make_mapping(),
        accuracy={"rel_error": 0.02},
    )
    dense = baseline.dense_snn_workload(net, res.counts.n_steps)
    task_like = type(
        "BaselineResult",
        (),
        dict(x=None, wall_time_s=0.0123, flops=2_000_000, bytes_moved=3_000_000, n_iter=50, device="cpu", algorithm="cg", dtype="float64"),
    )()
    real = energy.compare(
        "small LIF run",
        res.counts,
        baseline=task_like,
        gpu_profile="a100",
        baselines=[baseline.model(dense.flops, dense.bytes_moved, "h100", label="dense SNN on h100 (modelled)")],
        accuracy_trace={"steps": [10, 20, 50, 100], "rel_residual": [0.5, 0.2, 0.05, 0.01]},
        extra={"network": repr(net)},
    )
    return synthetic, real


def test_compare_records_estimates_refusals_and_baselines(comparisons):
    synthetic, real = comparisons
    assert set(synthetic.estimates) == {"loihi2_bound", "horowitz2014"}  # both price graded spikes
    assert set(synthetic.refused) == {"loihi1_davies2018", "truenorth"} and "graded_message" in synthetic.refused["truenorth"]
    assert set(real.estimates) == set(energy.default_profiles())
    kinds = [(b.kind, b.time_kind) for b in real.baselines]
    assert kinds == [("measured", "measured CPU wall time"), ("modelled", "modelled roofline time"), ("modelled", "modelled roofline time")]
    d = json.loads(json.dumps(real.to_dict(), allow_nan=False))
    # TrueNorth: max(26 pJ x events, 65 mW x 1 ms per tick)
    tn = max(real.counts["synaptic_events"] * 26e-12, 65e-3 * 1e-3 * real.counts["n_steps"])
    assert d["estimates"]["truenorth"]["energy_j"] == pytest.approx(tn)
    with pytest.raises(energy.EnergyError, match="accuracy_trace"):
        energy.compare("x", make_counts(), profiles=[], accuracy_trace={"steps": [1, 2], "err": [1.0]})


def test_compare_placements_2d_against_3d():
    counts = make_counts()
    flat, stacked = make_mapping(ew=40, ns=30), make_mapping(topology="3d", ew=10, ns=5, vertical=12)
    out = energy.compare_placements(counts, {"2d": flat, "3d": stacked}, profile="loihi1_davies2018")
    assert out["placements"]["2d"]["energy_j"] > 0 and out["placements"]["3d"]["energy_j"] is None
    assert "hop_vertical" in out["placements"]["3d"]["refused"]
    priced = energy.compare_placements(counts, {"2d": flat, "3d": stacked}, assumptions={"hop_vertical": "e_hop_ns"})
    e2, e3 = priced["placements"]["2d"]["energy_j"], priced["placements"]["3d"]["energy_j"]
    assert e2 - e3 == pytest.approx((30 * 3.0 + 25 * 4.0 - 12 * 4.0) * 1e-12, rel=1e-9)


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


@pytest.fixture(scope="module")
def written(comparisons, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    counts = make_counts()
    placement = energy.compare_placements(
        counts,
        {"2d": make_mapping(ew=40, ns=30), "3d": make_mapping(topology="3d", ew=10, ns=5, vertical=12)},
        assumptions={"hop_vertical": "e_hop_ns"},
    )
    paths = energy.report(
        list(comparisons),
        out,
        title="Energy report test",
        placement=placement,
        activity={"extra series": [1, 3, 2, 5]},
        notes=["Lava was skipped."],
    )
    return out, paths


def test_report_writes_three_files_atomically(written):
    out, paths = written
    assert {os.path.basename(paths[k]) for k in ("html", "md", "json")} == {"report.html", "report.md", "report.json"}
    assert not [f for f in os.listdir(out) if f.endswith(".tmp") or f.startswith(".")]
    doc = json.loads(open(paths["json"], encoding="utf-8").read())
    assert doc["format"] == "snn-toolkit.energy-report" and len(doc["comparisons"]) == 2
    assert doc["placement"]["placements"]["3d"]["hops"]["vertical"] == 12
    assert "loihi1_davies2018" in doc["profiles"] and doc["profiles"]["truenorth"]["constants"]["e_synevent_all_in"]["grade"] in (
        "primary",
        "secondary",
    )
    md = open(paths["md"], encoding="utf-8").read()
    for text in (
        "How to read",
        "measured CPU wall time",
        "modelled",
        "Refused (the profile",
        "| truenorth |",
        "Sources",
        "Lava was skipped.",
        "bound",
    ):
        assert text in md, text
    assert len(paths["figures"]) == 5
    assert doc["sections"][:2] == ["Job: synthetic (graded)", "Job: small LIF run"]
    assert doc["sections"][2:] == ["Convergence", "Placement: 2D mesh vs 3D-stacked", "Activity", "Notes"]


def test_report_html_embeds_every_plot_as_a_png(written):
    _, paths = written
    html = open(paths["html"], encoding="utf-8").read()
    uris = re.findall(r'<img id="fig-([\w-]+)" src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    # the graded synthetic job has no baseline (no ratios) and no per-op chip that prices it (no breakdown)
    assert [k for k, _ in uris] == ["ratios-small-lif-run", "breakdown-small-lif-run", "convergence", "placement", "activity"]
    for _, b64 in uris:
        w, h = _png_size(base64.b64decode(b64))
        assert w > 300 and h > 200


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="headless Chromium not installed (make test installs Debian's chromium)")
def test_report_renders_in_headless_chromium(written, tmp_path):
    _, paths = written
    html = open(paths["html"], encoding="utf-8").read()
    probe = (
        "<script>window.addEventListener('load', function () {"
        " var imgs = Array.prototype.slice.call(document.images);"
        " var ok = imgs.filter(function (i) { var r = i.getBoundingClientRect();"
        "   return i.complete && i.naturalWidth > 0 && i.naturalHeight > 0 && r.width > 100 && r.height > 50"
        "   && getComputedStyle(i).visibility !== 'hidden' && getComputedStyle(i).display !== 'none'; });"
        " document.body.setAttribute('data-images', imgs.length);"
        " document.body.setAttribute('data-visible', ok.length); });</script>"
    )
    page = tmp_path / "probe.html"
    page.write_text(html.replace("</body>", probe + "</body>"), encoding="utf-8")
    flags = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--virtual-time-budget=5000",
    ]
    dom = subprocess.run(flags + ["--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120)
    assert dom.returncode == 0, dom.stderr[-2000:]
    images = re.search(r'data-images="(\d+)"', dom.stdout)
    visible = re.search(r'data-visible="(\d+)"', dom.stdout)
    assert images and visible, "the probe script did not run"
    assert int(images.group(1)) == 5 and int(visible.group(1)) == 5

    shot = tmp_path / "shot.png"
    run = subprocess.run(
        flags + [f"--screenshot={shot}", "--window-size=1280,3000", page.as_uri()], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0 and shot.exists(), run.stderr[-2000:]
    import matplotlib.image

    pixels = matplotlib.image.imread(str(shot))[..., :3]
    assert pixels.shape[0] >= 2000 and pixels.shape[1] >= 1000
    non_white = np.mean(np.any(pixels < 0.95, axis=-1))
    colourful = np.sum(pixels.max(axis=-1) - pixels.min(axis=-1) > 0.3)  # the plots' coloured bars and lines; text is grey
    assert non_white > 0.05, f"screenshot is almost blank ({non_white:.3f} non-white)"
    assert colourful > 20_000, f"too few coloured pixels ({colourful}): the plots are not visible"


def test_report_rejects_bad_input(tmp_path):
    with pytest.raises(TypeError):
        energy.report(["not a comparison"], tmp_path)
    with pytest.raises(TypeError):
        energy.report(42, tmp_path)


def _tables_after(html: str) -> dict[str, str]:
    """{h3 caption: the table's HTML} for every captioned table."""
    return dict(re.findall(r"<h3>([^<]+)</h3><table>(.*?)</table>", html, flags=re.S))


def test_report_keeps_estimates_bounds_baselines_and_device_tables_apart(written):
    _, paths = written
    html = open(paths["html"], encoding="utf-8").read()
    job = html.split("<h2>Job: small LIF run</h2>")[1].split("<h2>")[0]
    tables = _tables_after(job)
    est = next(v for k, v in tables.items() if k.startswith("Neuromorphic chips: estimates"))
    bnd = next(v for k, v in tables.items() if k.startswith("Neuromorphic chips: bounds"))
    base = next(v for k, v in tables.items() if k.startswith("Baselines"))
    conv = next(v for k, v in tables.items() if k.startswith("Conventional device tables"))
    assert "loihi1_davies2018" in est and "loihi1_sanafe" in est and "truenorth" in est and "loihi2_bound" not in est
    assert "loihi2_bound (bound)" in bnd and "loihi1" not in bnd and "≤" in bnd  # a bound's ratios are 'at most'
    assert "keras_spiking_cpu" in conv and "horowitz2014" in conv and "keras" not in est + bnd
    assert "GPU a100 (modelled" in base and "dense SNN on h100" in base and "measured CPU wall time" in base


def test_report_ratio_intervals_by_hand(comparisons, written):
    """The per-chip ratios in report.json: GPU above idle over the chip's dynamic energy, low end over high end and back."""
    _, real = comparisons
    _, paths = written
    doc = json.loads(open(paths["json"], encoding="utf-8").read())
    chips = {c["profile"]: c for c in doc["comparisons"][1]["chips"]}
    gpu = next(b for b in real.baselines if b.kind == "modelled" and b.label.startswith("GPU a100"))
    e = real.estimates["loihi1_davies2018"]
    r = chips["loihi1_davies2018"]["scopes"]["dynamic"]["energy_ratio"]
    assert e.static_j is None  # Loihi 1: no static power, so its dynamic energy is its estimate
    assert r["best"] == pytest.approx(gpu.energy_above_idle_j / e.energy_j, rel=1e-12)
    assert r["low"] == pytest.approx(gpu.energy_above_idle_low_j / e.energy_high_j, rel=1e-12)
    assert r["high"] == pytest.approx(gpu.energy_above_idle_high_j / e.energy_low_j, rel=1e-12)
    assert chips["loihi1_davies2018"]["scopes"]["all_in"]["energy_ratio"] is None  # static not known: not guessed
    t = chips["loihi1_davies2018"]["gpu_time_ratio"]
    assert t["low"] == pytest.approx(gpu.time_low_s / e.time_high_s, rel=1e-12)
    assert t["high"] == pytest.approx(gpu.time_high_s / e.time_low_s, rel=1e-12)
    # TrueNorth is all-in: compared with the GPU board energy only
    tn = real.estimates["truenorth"]
    r = chips["truenorth"]["scopes"]["all_in"]["energy_ratio"]
    assert r["low"] == pytest.approx(gpu.energy_low_j / tn.energy_high_j, rel=1e-12)
    assert chips["truenorth"]["scopes"]["dynamic"]["energy_ratio"] is None


def test_report_breakdown_shares_add_up(comparisons, written):
    _, real = comparisons
    _, paths = written
    doc = json.loads(open(paths["json"], encoding="utf-8").read())
    bars = {b["profile"]: b for b in doc["comparisons"][1]["breakdown"]}
    assert set(bars) == {"loihi1_davies2018", "loihi1_sanafe"}  # per-op chip profiles; all-in ones have one term
    for name, b in bars.items():
        assert sum(b["terms"].values()) == pytest.approx(real.estimates[name].energy_j, rel=1e-9)


def test_placement_caption_explains_the_numbers():
    counts = make_counts()
    placement = energy.compare_placements(
        counts,
        {"2d": make_mapping(ew=40, ns=30), "3d": make_mapping(topology="3d", ew=10, ns=5, vertical=12)},
        assumptions={"hop_vertical": "e_hop_ns"},
    )
    e2, e3 = (placement["placements"][k]["energy_j"] for k in ("2d", "3d"))
    from energy.report import placement_caption

    text = placement_caption(placement)
    assert "spans 9 cores" in text and "2d: 70 link traversals" in text
    assert "3d: 27 traversals (-61 %: 10 ew, 5 ns, 12 vertical)" in text  # (27 - 70) / 70
    assert f"energy {100 * (e3 - e2) / e2:+.2g} %" in text
    one_core = {k: {**v, "n_cores": 1} for k, v in placement["placements"].items()}
    assert "no message leaves it" in placement_caption({**placement, "placements": one_core})
