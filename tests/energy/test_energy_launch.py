"""Launch-bound GPU baseline: kernel launches and host syncs counted by running the dense baselines."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")

from energy import baseline as B  # noqa: E402
from energy import profiles  # noqa: E402
from energy.errors import BaselineError, SNNTypeError  # noqa: E402


def _jobs():
    import tasks.heat
    import tasks.linear
    import tasks.poisson
    import tasks.qubo

    return {
        "linear": (tasks.linear, tasks.linear.random_problem(64, cond=10.0, seed=0)),
        "heat": (tasks.heat, tasks.heat.random_problem(shape=(6, 6, 6), n_time=20, seed=0)),
        "poisson": (tasks.poisson, tasks.poisson.random_problem(shape=(6, 6, 6), seed=0)),
        "qubo": (tasks.qubo, tasks.qubo.random_problem(n=12, seed=0)),
    }


@pytest.mark.parametrize("name", ["linear", "heat", "poisson", "qubo"])
def test_dispatch_counts_equal_torch_profiler(name):
    mod, problem = _jobs()[name]
    _, ours = B.count_launches(lambda: mod.dense_baseline(problem))
    _, prof = B.count_launches(lambda: mod.dense_baseline(problem), method="profiler")
    assert ours.kernel_launches == prof.kernel_launches > 0
    assert ours.host_syncs == prof.host_syncs


def test_cg_syncs_equal_iterations_plus_one():
    """CG's stopping rule reads ``bool(rr > tol2)`` once per iteration and once to stop; the result is copied back once."""
    mod, problem = _jobs()["linear"]
    r = B.with_launch_counts(lambda: mod.dense_baseline(problem))
    assert r.host_syncs == r.n_iter + 1 + 1
    # per iteration: mv, 2 dots, 2 divs, 3 muls + 3 add/sub (axpys), gt: at least 10 launches
    assert r.kernel_launches >= 10 * r.n_iter


def test_host_reads_counted_at_the_python_method():
    """``.cpu()`` / ``.tolist()`` never reach the dispatcher on a CPU tensor; on a GPU each is a blocking copy."""
    import torch

    def fn():
        t = torch.arange(4.0)
        for _ in range(3):
            t.cpu()
        return t.tolist()

    for method in ("dispatch", "profiler"):
        _, c = B.count_launches(fn, method=method)
        assert c.by_op["host_read"] == 4 and c.host_syncs == 4
    assert torch.Tensor.cpu.__name__ == "cpu"  # restored after counting


def test_modelled_cg_n64_is_launch_bound():
    mod, problem = _jobs()["linear"]
    r = B.with_launch_counts(lambda: mod.dense_baseline(problem))
    est = B.from_result(r, gpu_profile="h100")[-1]
    low_launch = profiles.get("h100").constant("kernel_launch_latency").low_si
    assert est.kernel_launches == r.kernel_launches and est.host_syncs == r.host_syncs
    assert est.bound == "launch"
    assert est.time_low_s >= r.kernel_launches * low_launch
    assert est.time_s >= r.kernel_launches * low_launch
    assert est.time_s > 1000 * est.roofline_time_s  # the roofline alone is wildly optimistic here
    assert est.time_low_s <= est.time_s <= est.time_high_s
    assert est.energy_low_j <= est.energy_j <= est.energy_high_j
    assert est.energy_above_idle_low_j <= est.energy_above_idle_j <= est.energy_above_idle_high_j


def test_interval_arithmetic_by_hand():
    """time = launches x latency + syncs x sync latency at each end; energy = power x time; above idle: P_end - idle_other_end."""
    est = B.model(1000, 1000, "h100", "float32", kernel_launches=100, host_syncs=10)
    assert est.time_low_s == pytest.approx(100 * 2.5e-6 + 10 * 5.8e-6)
    assert est.time_s == pytest.approx(100 * 5e-6 + 10 * 10e-6)
    assert est.time_high_s == pytest.approx(100 * 10e-6 + 10 * 20e-6)
    assert est.energy_low_j == pytest.approx(100.0 * (100 * 2.5e-6 + 10 * 5.8e-6))
    assert est.energy_j == pytest.approx(221.0 * 6e-4)
    assert est.energy_high_j == pytest.approx(700.0 * 1.2e-3)
    assert est.energy_above_idle_low_j == pytest.approx((100.0 - 90.0) * 3.08e-4)
    assert est.energy_above_idle_j == pytest.approx((221.0 - 70.0) * 6e-4)
    assert est.energy_above_idle_high_j == pytest.approx((700.0 - 50.0) * 1.2e-3)


def test_roofline_bound_when_arithmetic_dominates():
    flops = 67e12  # one second at the FP32 peak
    est = B.model(flops, 0, "h100", "float32", kernel_launches=10, host_syncs=1)
    assert est.bound == "compute"
    assert est.time_s == pytest.approx(1.0) and est.time_low_s == pytest.approx(1.0)
    assert est.energy_j == pytest.approx(700.0)
    assert est.energy_above_idle_low_j == pytest.approx(700.0 - 90.0)


def test_without_counts_the_roofline_is_stated():
    est = B.model(1000, 1000, "h100", "float32")
    assert est.kernel_launches is None and est.bound == "memory"
    assert any("not counted" in a for a in est.assumptions)


def test_bad_arguments():
    with pytest.raises(BaselineError, match="method"):
        B.count_launches(lambda: None, method="nvtx")
    with pytest.raises(SNNTypeError, match="fn="):
        B.count_launches(5)
    with pytest.raises(SNNTypeError, match="BaselineResult"):
        B.with_launch_counts(lambda: 3)
    with pytest.raises(BaselineError, match="kernel_launches"):
        B.model(1, 1, "h100", kernel_launches=-1)
