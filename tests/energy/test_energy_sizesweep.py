"""Size sweeps: crossovers against hand-computed points, a sweep's numbers against the headline's, the figure and the report."""

from __future__ import annotations

import functools
import json
import struct

import pytest
from _energy_inputs import make_counts

import energy
from energy import sizesweep
from energy.errors import SNNTypeError
from energy.report import headline


def iv(*best):
    """Point intervals (low = best = high) from best values; None stays None."""
    return [None if b is None else {"low": b, "best": b, "high": b} for b in best]


# ------------------------------------------------------------------------------ crossovers, by hand
def test_a_single_crossing_is_interpolated_in_log_log():
    # ratio other/chip: 0.5 at 1, 8 at 16; log2 ratio -1 -> 3 over log2 size 0 -> 4: zero a quarter of the way, at size 2
    assert sizesweep.crossovers([1, 16], iv(1, 1), iv(0.5, 8)) == [{"size": pytest.approx(2.0), "chip_better": "above"}]
    # power laws: chip x^2, other 100 x -> ratio 100 / x, exactly 1 at x = 100; the chip is cheaper below it
    (c,) = sizesweep.crossovers([10, 1000], iv(100, 1e6), iv(1000, 1e5))
    assert c["size"] == pytest.approx(100.0) and c["chip_better"] == "below"


def test_several_crossings_in_order():
    # ratio 0.1, 10, 10, 0.01 at 1, 10, 100, 1000: up through 1 at sqrt(10); down through 1 a third of the way from 100 to 1000
    out = sizesweep.crossovers([1, 10, 100, 1000], iv(1, 1, 1, 1), iv(0.1, 10, 10, 0.01))
    assert [c["chip_better"] for c in out] == ["above", "below"]
    assert out[0]["size"] == pytest.approx(10**0.5) and out[1]["size"] == pytest.approx(10 ** (7 / 3))


def test_no_crossing_and_touches():
    assert sizesweep.crossovers([1, 2, 4], iv(1, 1, 1), iv(3, 5, 9)) == []  # the other always dearer
    assert sizesweep.crossovers([1, 2, 4], iv(1, 1, 1), iv(0.3, 0.5, 0.9)) == []  # always cheaper
    # an exact touch that goes back to the same side is no crossover
    assert sizesweep.crossovers([1, 2, 4], iv(1, 1, 1), iv(2, 1, 2)) == []
    assert sizesweep.crossovers([1, 2, 4], iv(1, 1, 1), iv(1, 2, 3)) == []  # tied at the first size only
    # a tie on the way through is the crossing point itself; several tied sizes: their geometric mean (2 and 8 -> 4)
    assert sizesweep.crossovers([1, 2, 4], iv(1, 1, 1), iv(2, 1, 0.5)) == [{"size": pytest.approx(2.0), "chip_better": "below"}]
    assert sizesweep.crossovers([1, 2, 8, 16], iv(1, 1, 1, 1), iv(2, 1, 1, 0.5)) == [{"size": pytest.approx(4.0), "chip_better": "below"}]


def test_missing_points_are_skipped():
    # the middle size has no chip figure: interpolated between 1 (ratio 0.1) and 100 (ratio 10) -> 10
    out = sizesweep.crossovers([1, 10, 100], iv(1, None, 1), iv(0.1, 5, 10))
    assert out == [{"size": pytest.approx(10.0), "chip_better": "above"}]
    assert sizesweep.crossovers([1, 10], iv(None, None), iv(1, 2)) == []


def test_crossovers_reject_bad_input():
    with pytest.raises(energy.EnergyError, match="strictly increasing"):
        sizesweep.crossovers([1, 1], iv(1, 1), iv(1, 2))
    with pytest.raises(energy.EnergyError, match="> 0"):
        sizesweep.crossovers([0, 1], iv(1, 1), iv(1, 2))
    with pytest.raises(energy.EnergyError, match="list of 2 intervals"):
        sizesweep.crossovers([1, 2], iv(1), iv(1, 2))
    with pytest.raises(energy.EnergyError, match=r"chip\[1\]"):
        sizesweep.crossovers([1, 2], [{"best": 1.0}, 3.0], iv(1, 2))


def _hand_sweep():
    """A sweep dict built by hand: chip energy ~x, GPU energy flat (crosses at 100), chip time always below the CPU's."""
    xs = [10.0, 100.0, 1000.0]
    return {
        "task": "linear",
        "label": "linear (hand-made)",
        "size_name": "n",
        "sizes": xs,
        "profile": "loihi1_sanafe",
        "chip_label": "Loihi 1 (SANA-FE-calibrated)",
        "series": {
            "chip": {
                "energy_j": [{"low": 0.5e-3 * x, "best": 1e-3 * x, "high": 2e-3 * x} for x in xs],
                "time_s": iv(1e-6, 1e-5, 1e-4),
                "energy_all_in_j": [None] * 3,
            },
            "gpu": {"label": "GPU h100 (modelled)", "energy_j": iv(0.1, 0.1, 0.1), "time_s": iv(None, None, None)},
            "cpu": {"label": "CPU cg", "energy_j": iv(1.0, 1.0, 1.0), "time_s": iv(1e-3, 1e-3, 1e-3)},
        },
        "accuracy": [{"target": {"rel_residual": 1e-3}, "gpu_reached": True, "cpu_reached": True}] * 3,
        "crossovers": [{"what": "energy", "versus": "gpu", **c} for c in sizesweep.crossovers(xs, iv(1e-2, 1e-1, 1.0), iv(0.1, 0.1, 0.1))],
        "notes": [],
    }


def test_caption_names_crossovers_and_who_wins_throughout():
    sw = _hand_sweep()
    assert sw["crossovers"] == [{"what": "energy", "versus": "gpu", "size": pytest.approx(100.0), "chip_better": "below"}]
    text = sizesweep.caption(sw)
    assert "energy vs GPU: crossover at n ≈ 100 (chip better below)" in text
    assert "energy vs CPU: no crossover in range: chip wins throughout" in text  # 1e-2..1 J vs 1 J: ties at 1000
    assert "time vs GPU: not compared" in text
    assert "time vs CPU: no crossover in range: chip wins throughout" in text
    assert "upper bound on the chip's advantage" in text  # no all-in chip energy: dynamic vs the CPU's all-in
    bound = sizesweep.caption({**sw, "profile": "loihi2_bound", "chip_label": "Loihi 2 (bound)"})
    assert "a bound (best-case system figures)" in bound and "upper bound on the chip's" not in bound


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_figure_is_a_two_panel_png():
    w, h = _png_size(sizesweep.figure(_hand_sweep()))
    assert w > 1.8 * h > 500  # two panels side by side
    with pytest.raises(SNNTypeError, match="sizesweep.run"):
        sizesweep.figure({"task": "x"})


# ------------------------------------------------------------------------------ real jobs
@pytest.fixture(scope="module")
def traffic():
    from hardware import mapping as mapping_mod
    from snn.cli import _traffic_for

    return functools.partial(_traffic_for, mapping_mod=mapping_mod)


def _same(a, b):
    assert a is not None and b is not None
    assert {k: a[k] for k in ("low", "best", "high")} == pytest.approx({k: b[k] for k in ("low", "best", "high")}, rel=1e-12)


@pytest.mark.parametrize(
    ("task", "sizes", "profile"),
    [("shortest_path", [20, 40], "loihi1_sanafe"), ("linear", [8, 16], "loihi2_bound")],
)
def test_a_sweep_point_has_the_numbers_of_the_headline(task, sizes, profile, traffic):
    import importlib

    mod = importlib.import_module(f"tasks.{task}")
    cache: dict = {}
    sw = sizesweep.run(mod, {"n": sizes}, seed=0, engine="event", profile=sizesweep.HEADLINE_CHIPS, traffic=traffic, cache=cache)
    assert sw["profile"] == profile and sw["sizes"] == [float(n) for n in sizes] and sw["size_name"] == "n"
    assert json.loads(json.dumps(sw, allow_nan=False)) == sw  # plain JSON data
    # the job at each size, taken from the cache (the sweep ran it), priced by the headline's own code
    comps = [c for c, _, _ in cache.values()]  # in the order run: the sizes'
    assert len(comps) == len(sizes) and comps[0].counts["n_neurons"] < comps[1].counts["n_neurons"]
    s = sw["series"]
    for k, comp in enumerate(comps):
        d = comp.to_dict()
        h = headline(d)
        assert h["chip"] == profile
        _same(s["chip"]["energy_j"][k], h["chip_energy_j"])
        _same(s["chip"]["time_s"][k], h["chip_time_s"])
        _same(s["gpu"]["energy_j"][k], h["gpu_energy_j"])
        _same(s["gpu"]["time_s"][k], h["gpu_time_s"])
        _same(s["cpu"]["energy_j"][k], h["cpu"]["energy_j"])
        _same(s["cpu"]["time_s"][k], h["cpu"]["time_s"])
        # and by hand: the chip's figure is its estimate (a per-op profile without static power: the whole energy is dynamic)
        e = comp.estimates[profile]
        assert s["chip"]["energy_j"][k]["best"] == pytest.approx(e.energy_j - (e.static_j or 0.0))
        t = s["chip"]["time_s"][k]
        assert (t["low"], t["best"], t["high"]) == (e.time_low_s or e.time_s, e.time_s, e.time_high_s or e.time_s)
        gpu = next(b for b in comp.baselines if b.kind == "modelled")  # no CUDA here: the modelled H100
        per_op = energy.profiles.get(profile).scope == "per-op"
        want = (
            (gpu.energy_above_idle_low_j, gpu.energy_above_idle_j, gpu.energy_above_idle_high_j)
            if per_op
            else (gpu.energy_low_j, gpu.energy_j, gpu.energy_high_j)
        )
        assert tuple(s["gpu"]["energy_j"][k][x] for x in ("low", "best", "high")) == pytest.approx(want, rel=1e-12)
        cpu = comp.cpu_baselines[0]
        assert s["cpu"]["time_s"][k]["best"] == cpu.time_s and s["cpu"]["energy_j"][k]["best"] == cpu.energy_j
        assert sw["accuracy"][k] == {"target": comp.target, "gpu_reached": True, "cpu_reached": True}
    if profile == "loihi2_bound":  # linear sends graded spikes: the Loihi 1 profiles refuse and the notes say so
        assert any("loihi1_sanafe passed over" in n and "graded" in n for n in sw["notes"])
        assert any("is a bound" in n for n in sw["notes"])
    # a crossover list consistent with the series: recomputed from them
    expected = [
        {"what": w, "versus": v, **c}
        for w, v, a, b in (
            ("energy", "gpu", s["chip"]["energy_j"], s["gpu"]["energy_j"]),
            ("time", "gpu", s["chip"]["time_s"], s["gpu"]["time_s"]),
            ("energy", "cpu", s["chip"]["energy_j"], s["cpu"]["energy_j"]),
            ("time", "cpu", s["chip"]["time_s"], s["cpu"]["time_s"]),
        )
        for c in sizesweep.crossovers(sw["sizes"], a, b)
    ]
    assert sw["crossovers"] == expected


def test_the_cache_reuses_a_job_and_run_task_job_checks_its_input(traffic):
    import tasks.shortest_path as sp

    cache: dict = {}
    a = energy.jobs.run_task_job(sp, {"n": 20}, seed=0, engine="event", label="sp", traffic=traffic, cache=cache)
    b = energy.jobs.run_task_job(sp, {"n": 20}, seed=0, engine="event", label="sp", traffic=traffic, cache=cache)
    assert b[0] is a[0] and len(cache) == 1
    assert set(a[1]) == {"success", "n_steps", "synaptic_events", "baseline_flops", "errors", "target", "gpu_baseline", "cpu_baseline"}
    assert a[1]["errors"]["max_abs_error"] == 0.0 and a[1]["cpu_baseline"]["reached"] is True
    _, _, notes = energy.jobs.run_task_job(sp, {"n": 20}, seed=0, engine="event")  # no traffic function: said so
    assert any("priced without routing terms" in n for n in notes)
    with pytest.raises(SNNTypeError, match="pass the task module"):
        energy.jobs.run_task_job("shortest_path", {"n": 20})
    with pytest.raises(energy.EnergyError, match="device='tpu'"):
        energy.jobs.run_task_job(sp, {"n": 20}, device="tpu")
    with pytest.raises(energy.EnergyError, match="seed"):
        energy.jobs.run_task_job(sp, {"n": 20, "seed": 1})


def test_run_rejects_bad_sizes_before_running_anything():
    import tasks.poisson as poisson
    import tasks.qp as qp

    with pytest.raises(energy.EnergyError, match="exactly one key"):
        sizesweep.run(qp, {"n": [10, 20], "m": [4, 8]})
    with pytest.raises(energy.EnergyError, match="size_values"):
        sizesweep.run(poisson, {"shape": [(4, 4, 4), (6, 6, 6)]})
    with pytest.raises(energy.EnergyError, match="size_name="):
        sizesweep.run(qp, [{"n": 10, "m": 4}, {"n": 20, "m": 8}])
    with pytest.raises(energy.EnergyError, match="strictly increasing"):
        sizesweep.run(qp, [{"n": 20, "m": 8}, {"n": 10, "m": 4}], size_name="n")
    with pytest.raises(energy.EnergyError, match="list of 2 numbers"):
        sizesweep.run(poisson, {"shape": [(4, 4, 4), (6, 6, 6)]}, size_values=[4])
    with pytest.raises(energy.EnergyError, match=r"problem both set \['n'\]"):
        sizesweep.run(qp, {"n": [10, 20]}, problem={"n": 5})
    with pytest.raises(energy.EnergyError, match="dense processor"):
        sizesweep.run(qp, {"n": [10, 20]}, profile="h100")
    with pytest.raises(energy.ProfileError):
        sizesweep.run(qp, {"n": [10, 20]}, profile="loihi9")
    with pytest.raises(SNNTypeError, match="sizes="):
        sizesweep.run(qp, 10)


def test_report_writes_the_sweep_figure_and_json(tmp_path):
    comp = energy.compare("job", make_counts(), profiles=["loihi1_davies2018"])
    sw = _hand_sweep()
    paths = energy.report([comp], tmp_path, size_sweeps=[sw])
    fig = tmp_path / "figures" / "sweep-linear.png"
    assert str(fig) in paths["figures"] and _png_size(fig.read_bytes())[0] > 500
    doc = json.loads((tmp_path / "report.json").read_text())
    assert doc["size_sweeps"][0]["crossovers"][0]["size"] == pytest.approx(100.0)
    assert doc["size_sweeps"][0]["series"]["chip"]["energy_j"][2]["high"] == pytest.approx(2.0)
    assert "figures/sweep-linear.png" in doc["figures"]
    md = (tmp_path / "report.md").read_text()
    assert "## Size sweep: linear (hand-made)" in md and "energy vs GPU: crossover at n ≈ 100 (chip better below)" in md
    html = (tmp_path / "report.html").read_text()
    assert "<h2>Size sweep: linear (hand-made)</h2>" in html and 'id="fig-sweep-linear"' in html
    # without sweeps: an empty list, no sweep figure
    energy.report([comp], tmp_path / "none")
    assert json.loads((tmp_path / "none" / "report.json").read_text())["size_sweeps"] == []
    assert not list((tmp_path / "none" / "figures").glob("sweep-*"))
    with pytest.raises(SNNTypeError, match="size_sweeps"):
        energy.report([comp], tmp_path, size_sweeps=[{"no": "task"}])
