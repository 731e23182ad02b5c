"""CPU baselines priced from a sourced power range (issue 13 item 5): the interval by hand, the profile's
derivation, accuracy carried through BaselineEstimate and Comparison, bad input."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

import energy
from energy import baseline, profiles
from tasks._common import BaselineResult


def _cpu_result(wall=2.0e-3, **kw):
    fields = dict(
        x=np.zeros(3),
        wall_time_s=wall,
        flops=1000,
        bytes_moved=8000,
        n_iter=7,
        device="cpu",
        algorithm="conjugate gradients (scipy)",
        dtype="float64",
        info={"repeats": 25, "min_s": 1.9e-3, "max_s": 2.6e-3},
        accuracy={"rel_residual": 3.0e-4, "rel_error": 5.0e-4},
        target={"rel_residual": 3.4e-4},
        reached=True,
    )
    fields.update(kw)
    return BaselineResult(**fields)


def test_core_power_is_derived_from_the_datasheet_constants():
    p = profiles.get("cpu_xeon8480")
    c = p.constant("core_power")
    # value: the 8480+'s TDP share; low: EPYC 9654's (360 W / 96 cores); high: one core at max turbo
    assert c.value == pytest.approx(p.si("board_power") / p.constant("cores").value) == pytest.approx(350.0 / 56)
    assert c.low == pytest.approx(360.0 / 96)
    assert c.high == pytest.approx(c.value * p.constant("max_turbo_clock").value / p.constant("base_clock").value)
    assert c.grade == "derived" and c.formula


def test_cpu_energy_interval_is_power_range_times_wall_time_by_hand():
    est = baseline.from_cpu(_cpu_result(wall=2.0e-3))
    assert est.kind == "measured" and est.time_s == 2.0e-3 and est.time_kind == "measured CPU wall time"
    assert est.energy_low_j == pytest.approx(3.75 * 2.0e-3)
    assert est.energy_j == pytest.approx(6.25 * 2.0e-3)
    assert est.energy_high_j == pytest.approx(11.875 * 2.0e-3)
    assert est.extra["package_energy_j"]["best"] == pytest.approx(350.0 * 2.0e-3)
    assert est.extra["cores_charged"] == 1 and est.n_calls == 25
    two = baseline.from_cpu(_cpu_result(wall=2.0e-3), cores=2)
    assert two.energy_low_j == pytest.approx(2 * 3.75 * 2.0e-3) and two.energy_high_j == pytest.approx(2 * 11.875 * 2.0e-3)
    assert "power not measured" in est.energy_source


def test_accuracy_travels_into_the_estimate_and_the_comparison(small_run):
    est = baseline.from_cpu(_cpu_result())
    assert est.accuracy == {"rel_residual": 3.0e-4, "rel_error": 5.0e-4} and est.target == {"rel_residual": 3.4e-4} and est.reached is True
    d = est.to_dict()
    assert d["accuracy"]["rel_residual"] == 3.0e-4 and d["target"] == {"rel_residual": 3.4e-4} and d["reached"] is True
    gpu = dataclasses.replace(
        _cpu_result(), device="cuda:0", algorithm="CG (dense torch)", kernel_launches=100, host_syncs=10, dtype="float32"
    )
    recs = baseline.from_result(gpu, gpu_profile="h100")
    assert all(r.accuracy == {"rel_residual": 3.0e-4, "rel_error": 5.0e-4} and r.reached is True for r in recs)
    counts = small_run[1].counts
    comp = energy.compare(
        "job", counts, baseline=gpu, cpu_baseline=_cpu_result(), target={"rel_residual": 3.4e-4}, accuracy={"rel_residual": 3.4e-4}
    )
    out = json.loads(json.dumps(comp.to_dict()))
    assert out["target"] == {"rel_residual": 3.4e-4}
    rows = out["equal_accuracy"]["baselines"]
    cpu = [r for r in rows if r["group"] == "cpu"]
    assert len(cpu) == 1 and cpu[0]["reached"] is True and cpu[0]["energy_low_j"] == pytest.approx(3.75 * 2.0e-3)
    assert [r["kind"] for r in rows if r["group"] == "torch"] == ["measured", "modelled"]
    # kept apart from the GPU baselines: nothing reading 'baselines' takes it for an NVML measurement
    assert all(b["device"] != "cpu" for b in out["baselines"]) and out["cpu_baselines"][0]["energy_j"] == pytest.approx(6.25 * 2.0e-3)


def test_compare_with_a_real_run(small_run):
    run = small_run[1]
    comp = energy.compare("run", run.counts, cpu_baseline=_cpu_result(), target={"rel_residual": 3.4e-4})
    [cpu] = comp.cpu_baselines
    assert cpu.energy_j == pytest.approx(6.25 * 2.0e-3) and cpu.accuracy["rel_residual"] == 3.0e-4
    assert comp.to_dict()["equal_accuracy"]["target"] == {"rel_residual": 3.4e-4}


def test_from_cpu_refuses_bad_input_naming_it():
    with pytest.raises(energy.BaselineError, match="result.device"):
        baseline.from_cpu(_cpu_result(device="cuda:0"))
    with pytest.raises(energy.BaselineError, match="cores"):
        baseline.from_cpu(_cpu_result(), cores=0)
    with pytest.raises(energy.ProfileError, match="cpu_profile.*core_power"):
        baseline.from_cpu(_cpu_result(), cpu_profile="h100")
    with pytest.raises(energy.BaselineError, match="wall_time_s"):
        baseline.from_cpu(_cpu_result(wall=0.0))
    with pytest.raises(energy.BaselineError, match=r"result.accuracy\['m'\]"):
        baseline.from_cpu(_cpu_result(accuracy={"m": "high"}))
    with pytest.raises(TypeError, match="result"):
        baseline.from_cpu(object())
