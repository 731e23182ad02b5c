"""The report's headline: matched scopes and ratio intervals against hand calculations."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from _energy_inputs import make_counts, make_mapping

import energy
from energy import baseline as B
from energy.report import headline


def _comparison():
    gpu = B.model(1000, 1000, "h100", "float32", kernel_launches=100, host_syncs=10)
    return energy.compare(
        "job", make_counts(), profiles=["loihi1_davies2018"], mapping=make_mapping(), baselines=[gpu], accuracy={"rel_error": 1e-4}
    ), gpu


def test_headline_intervals_by_hand():
    comp, gpu = _comparison()
    h = headline(comp.to_dict())
    e = comp.estimates["loihi1_davies2018"]
    # per-op chip energy is matched with the GPU's energy above idle
    assert h["scope"] == "chip dynamic energy vs GPU energy above idle"
    assert h["gpu_energy_j"] == pytest.approx(
        {"low": (100.0 - 90.0) * 3.08e-4, "best": (221.0 - 70.0) * 6e-4, "high": (700.0 - 50.0) * 1.2e-3}
    )
    lo, hi = e.energy_low_j or e.energy_j, e.energy_high_j or e.energy_j
    assert h["energy_ratio"]["low"] == pytest.approx(10.0 * 3.08e-4 / hi)
    assert h["energy_ratio"]["best"] == pytest.approx(151.0 * 6e-4 / e.energy_j)
    assert h["energy_ratio"]["high"] == pytest.approx(650.0 * 1.2e-3 / lo)
    assert h["gpu_time_s"]["kernel_launches"] == 100 and h["gpu_time_s"]["host_syncs"] == 10
    assert h["gpu_time_s"]["best"] == pytest.approx(6e-4)
    assert h["time_ratio"]["best"] == pytest.approx(6e-4 / e.time_s)
    assert "less energy" in h["sentence"] and "100 kernel launches" in h["sentence"] and "less energy" in h["sentence"]


def test_report_json_carries_headline(tmp_path):
    comp, _ = _comparison()
    paths = energy.report([comp], tmp_path)
    doc = json.loads((tmp_path / "report.json").read_text())
    h = doc["comparisons"][0]["headline"]
    assert set(h["energy_ratio"]) == {"low", "best", "high"}
    assert h["energy_ratio"]["low"] <= h["energy_ratio"]["best"] <= h["energy_ratio"]["high"]
    assert "kernel_launches" in h["gpu_time_s"]
    assert "Headline" in open(paths["html"], encoding="utf-8").read()
    assert "## Headline" in open(paths["md"], encoding="utf-8").read()


def test_no_headline_without_gpu():
    comp = energy.compare("job", make_counts(), profiles=["loihi1_davies2018"])
    assert headline(comp.to_dict()) is None


@pytest.mark.slow
def test_headline_present_for_every_demo_job(tmp_path):
    from snn.cli import main

    main(["demo", "--out", str(tmp_path), "--no-lava", "--quiet", "--engine", "event", "--steps", "50"])
    doc = json.loads((tmp_path / "report.json").read_text())
    assert len(doc["comparisons"]) == 7
    for c in doc["comparisons"]:
        h = c["headline"]
        assert h is not None, c["name"]
        assert h["energy_ratio"]["low"] <= h["energy_ratio"]["best"] <= h["energy_ratio"]["high"]
        assert h["gpu_time_s"]["kernel_launches"] > 0


def test_report_files_follow_the_umask(tmp_path):
    import os
    import stat

    comp, _ = _comparison()
    old = os.umask(0o027)
    try:
        paths = energy.report([comp], tmp_path / "r")
    finally:
        os.umask(old)
    for key in ("html", "md", "json"):
        assert stat.S_IMODE(os.stat(paths[key]).st_mode) == 0o640, key
    for fig in paths["figures"]:
        assert stat.S_IMODE(os.stat(fig).st_mode) == 0o640


def test_comparison_summary_and_short_repr():
    comp, gpu = _comparison()
    assert len(repr(comp)) < 300 and "loihi1_davies2018" in repr(comp)
    assert len(repr(gpu)) < 200
    text = comp.summary()
    lines = text.splitlines()
    assert len(lines) == 4  # name, header, one estimate, one baseline
    e = comp.estimates["loihi1_davies2018"]
    assert f"{e.energy_j:.3g}" in lines[2]
    assert "100 launches, 10 syncs" in lines[3] and f"{gpu.time_s:.3g}" in lines[3]


def test_headline_shows_both_scopes_and_says_static_is_not_known():
    comp, _ = _comparison()
    h = headline(comp.to_dict())
    s = h["scopes"]
    assert s["dynamic"]["energy_ratio"] == pytest.approx(h["energy_ratio"])
    # Davies 2018 gives no static power: the all-in scope is not known, and the sentence says so
    assert s["all_in"]["energy_ratio"] is None and "static power: not known" in s["all_in"]["not_known"]
    assert "static power: not known" in h["sentence"]


def test_all_in_scope_with_a_priced_static_term_by_hand(tmp_path):
    from energy import profiles

    d = profiles.get("loihi1_davies2018").to_dict()
    d["name"] = "davies_with_static"
    d["constants"]["p_static_chip"] = {
        "value": 50.0,
        "unit": "mW",
        "source": "test figure",
        "grade": "primary",
        "basis": "specified",
        "scope": "all-in",
    }
    d["static_power"] = {"constant": "p_static_chip", "per": "chip"}
    path = tmp_path / "p.json"
    path.write_text(json.dumps(d))
    prof = profiles.load(path)
    gpu = B.model(1000, 1000, "h100", "float32", kernel_launches=100, host_syncs=10)
    est = energy.estimate(make_counts(), prof, make_mapping())
    from energy.report import _scopes

    e = est.to_dict()
    above = {"low": 10.0 * 3.08e-4, "best": 151.0 * 6e-4, "high": 650.0 * 1.2e-3}
    board = {"low": gpu.energy_low_j, "best": gpu.energy_j, "high": gpu.energy_high_j}
    s = _scopes(e, "per-op", above, board)
    static = 50e-3 * est.time_s
    assert s["dynamic"]["chip_energy_j"]["best"] == pytest.approx(est.energy_j - static)
    assert s["dynamic"]["energy_ratio"]["best"] == pytest.approx(above["best"] / (est.energy_j - static))
    assert s["all_in"]["energy_ratio"]["best"] == pytest.approx(gpu.energy_j / est.energy_j)
    assert s["all_in"]["energy_ratio"]["low"] == pytest.approx(gpu.energy_low_j / est.energy_high_j)
    assert s["all_in"]["energy_ratio"]["high"] == pytest.approx(gpu.energy_high_j / est.energy_low_j)
    # an all-in chip figure has no separable dynamic part
    tn = _scopes(energy.estimate(make_counts(), "truenorth").to_dict(), "all-in", above, board)
    assert tn["dynamic"]["energy_ratio"] is None and "not separable" in tn["dynamic"]["not_known"]


def test_headline_cpu_ratio_and_equal_accuracy_by_hand():
    """The CPU part: core power range x wall time against the chip, labelled 'at most' against a dynamic-only chip."""
    from tasks._common import BaselineResult

    cpu = BaselineResult(
        x=np.zeros(3),
        wall_time_s=2e-4,
        flops=10,
        bytes_moved=10,
        n_iter=5,
        device="cpu",
        algorithm="scipy CG",
        dtype="float64",
        accuracy={"rel_error": 5e-5},
        target={"rel_error": 1e-4},
        reached=True,
    )
    gpu = B.model(1000, 1000, "h100", "float32", kernel_launches=100, host_syncs=10)
    comp = energy.compare(
        "job",
        make_counts(),
        profiles=["loihi1_davies2018"],
        mapping=make_mapping(),
        baselines=[gpu],
        accuracy={"rel_error": 1e-4},
        cpu_baseline=cpu,
        target={"rel_error": 1e-4},
    )
    h = headline(comp.to_dict())
    e = comp.estimates["loihi1_davies2018"]
    k = energy.profiles.get("cpu_xeon8480").constant("core_power")
    lo, hi = e.energy_low_j or e.energy_j, e.energy_high_j or e.energy_j
    # Loihi 1 has no sourced static power: the chip's dynamic energy against the CPU's all-in core share
    assert h["cpu"]["at_most"] and "upper bound" in h["cpu"]["scope"]
    assert h["cpu"]["energy_j"] == pytest.approx({"low": k.low_si * 2e-4, "best": k.si * 2e-4, "high": k.high_si * 2e-4})
    assert h["cpu"]["energy_ratio"] == pytest.approx(
        {"low": k.low_si * 2e-4 / hi, "best": k.si * 2e-4 / e.energy_j, "high": k.high_si * 2e-4 / lo}
    )
    assert h["cpu"]["time_ratio"]["best"] == pytest.approx(2e-4 / e.time_s)
    assert h["equal_accuracy"] is True and "accuracy matched" in h["sentence"] and "at most" in h["sentence"]
    # a baseline that did not reach the target says so
    bad = dataclasses.replace(cpu, accuracy={"rel_error": 3e-4}, reached=False)
    comp = energy.compare(
        "job",
        make_counts(),
        profiles=["loihi1_davies2018"],
        mapping=make_mapping(),
        baselines=[gpu],
        cpu_baseline=bad,
        target={"rel_error": 1e-4},
    )
    h = headline(comp.to_dict())
    assert h["equal_accuracy"] is False and "accuracy NOT matched" in h["sentence"] and "did NOT reach it" in h["sentence"]


def test_a_bound_headline_says_at_most_for_energy_and_speed():
    """Graded spikes: only the Loihi 2 bound prices them; its chip time is a floor, so 'at most' faster (or 'at least' slower)."""
    gpu = B.model(1000, 1000, "h100", "float32", kernel_launches=100, host_syncs=10)
    comp = energy.compare(
        "graded", make_counts(graded_spikes=4), profiles=["loihi1_davies2018", "loihi2_bound"], mapping=make_mapping(), baselines=[gpu]
    )
    h = headline(comp.to_dict())
    e = comp.estimates["loihi2_bound"]
    assert h["chip"] == "loihi2_bound" and h["chip_label"] == "bound"
    sp = gpu.time_s / e.time_s
    assert "at most" in h["sentence"].split("less energy")[0]
    import re

    m = re.search(r"at (most|least) ([0-9.e]+)× (faster|slower)", h["sentence"])
    assert m and (m.group(1), m.group(3)) == (("most", "faster") if sp >= 1 else ("least", "slower"))
    assert float(m.group(2)) == pytest.approx(sp if sp >= 1 else 1 / sp, rel=0.05)  # printed to 2 digits
