"""Dense baselines: NVML measurement logic (with a fake NVML injected), roofline model, task records."""

from __future__ import annotations

import types

import pytest

import energy
import snn
from energy import baseline


class FakeClock:
    def __init__(self):
        self.t = 100.0

    def __call__(self):
        return self.t

    def sleep(self, seconds):
        self.t += seconds


class FakeNotSupported(Exception):
    pass


class FakeNVML:
    """pynvml's functions over a simulated board: idle power always, plus the energy the work adds."""

    def __init__(self, clock, idle_w, *, supported=True):
        self.clock, self.idle_w, self.supported = clock, idle_w, supported
        self.work_j = 0.0
        self.calls = []

    def nvmlInit(self):
        self.calls.append("init")

    def nvmlShutdown(self):
        self.calls.append("shutdown")

    def nvmlDeviceGetHandleByIndex(self, index):
        self.calls.append(("handle", index))
        return object()

    def nvmlDeviceGetName(self, handle):
        return b"Fake GPU 80GB"

    def nvmlDeviceGetTotalEnergyConsumption(self, handle):
        if not self.supported:
            raise FakeNotSupported("Not Supported")
        return int(round(1000.0 * (self.idle_w * self.clock.t + self.work_j)))  # millijoules, as NVML


def _kernel(clock, nvml, seconds, dynamic_w):
    def fn():
        clock.t += seconds
        nvml.work_j += dynamic_w * seconds

    return fn


def test_measure_cuda_with_a_fake_nvml():
    clock = FakeClock()
    nv = FakeNVML(clock, idle_w=50.0)
    syncs = []
    est = baseline.measure(
        _kernel(clock, nv, 0.002, 150.0),
        device="cuda:1",
        nvml=nv,
        synchronize=lambda: syncs.append(clock.t),
        clock=clock,
        sleep=clock.sleep,
        flops=10,
        bytes_moved=20,
    )
    assert est.kind == "measured" and est.time_kind.startswith("measured GPU")
    assert est.device == "cuda:1 (Fake GPU 80GB)" and ("handle", 1) in nv.calls and nv.calls[-1] == "shutdown"
    assert est.idle_power_w == pytest.approx(50.0, rel=1e-9)
    assert est.time_s == pytest.approx(0.002, rel=1e-9)
    assert est.window_s >= 0.1 and est.n_calls * 0.002 >= 0.1 - 1e-9  # short kernels are repeated
    assert est.n_windows == 3 and len(syncs) >= 2 * 3
    assert est.energy_j == pytest.approx((50.0 + 150.0) * 0.002, rel=1e-3)  # the board's total per run
    assert est.energy_above_idle_j == pytest.approx(150.0 * 0.002, rel=1e-3)
    assert est.power_w == pytest.approx(200.0, rel=1e-3)
    assert "NVML" in est.energy_source and any("idle power 50.0 W" in n for n in est.notes)
    assert est.flops == 10 and est.bytes_moved == 20


def test_measure_lengthens_windows_when_the_calibration_run_was_slow():
    clock = FakeClock()
    nv = FakeNVML(clock, idle_w=40.0)
    durations = iter([0.05, 0.05] + [0.001] * 10_000)  # warm-up and calibration slow, then fast

    def fn():
        dt = next(durations)
        clock.t += dt
        nv.work_j += 100.0 * dt

    est = baseline.measure(fn, device="cuda", nvml=nv, synchronize=lambda: None, clock=clock, sleep=clock.sleep)
    assert est.window_s >= 0.1
    assert est.time_s == pytest.approx(0.001, rel=1e-9)
    assert est.energy_above_idle_j == pytest.approx(100.0 * 0.001, rel=1e-2)


def test_measure_without_an_energy_counter_still_times_and_says_so():
    clock = FakeClock()
    nv = FakeNVML(clock, idle_w=40.0, supported=False)
    est = baseline.measure(
        _kernel(clock, nv, 0.01, 100.0), device="cuda", nvml=nv, synchronize=lambda: None, clock=clock, sleep=clock.sleep
    )
    assert est.energy_j is None and est.idle_power_w is None
    assert est.time_s == pytest.approx(0.01, rel=1e-9)
    assert any("not available" in n for n in est.notes) and nv.calls[-1] == "shutdown"


def test_measure_cpu_reports_measured_cpu_time_only():
    clock = FakeClock()

    def fn():
        clock.t += 0.03

    est = baseline.measure(fn, device="cpu", clock=clock, n_windows=2)
    assert est.kind == "measured" and est.time_kind == "measured CPU wall time" and est.device == "cpu"
    assert est.time_s == pytest.approx(0.03, rel=1e-9) and est.energy_j is None
    assert est.n_calls == 4  # ceil(0.1 / 0.03)


def test_measure_rejects_bad_arguments():
    with pytest.raises(energy.BaselineError, match="min_window_s"):
        baseline.measure(lambda: None, device="cpu", min_window_s=0)
    with pytest.raises(energy.BaselineError, match="device"):
        baseline.measure(lambda: None, device="tpu", nvml=FakeNVML(FakeClock(), 1.0), synchronize=lambda: None)
    with pytest.raises(TypeError):
        baseline.measure(42, device="cpu")

    class Broken(FakeNVML):
        def nvmlInit(self):
            raise RuntimeError("NVML Shared Library Not Found")

    with pytest.raises(energy.BaselineError, match="NVML could not start"):
        baseline.measure(lambda: None, device="cuda", nvml=Broken(FakeClock(), 1.0), synchronize=lambda: None)


def test_model_roofline_by_hand():
    compute = baseline.model(1e12, 1e9, "h100", "float32")
    t = max(1e12 / 67e12, 1e9 / 3.35e12)
    assert compute.kind == "modelled" and compute.time_kind == "modelled roofline time"
    assert compute.time_s == pytest.approx(t) and compute.energy_j == pytest.approx(700.0 * t)
    assert "compute-bound" in compute.assumptions[0]
    memory = baseline.model(1e9, 1e12, "a100", "float64")
    t = max(1e9 / 19.5e12, 1e12 / 2039e9)
    assert memory.time_s == pytest.approx(t) and memory.energy_j == pytest.approx(400.0 * t)
    assert "memory-bound" in memory.assumptions[0]
    cpu = baseline.model(7168e9, 0, "cpu_xeon8480", "float32")
    assert cpu.time_s == pytest.approx(1.0) and cpu.label.startswith("CPU")
    with pytest.raises(energy.BaselineError, match="dtype"):
        baseline.model(1, 1, "h100", "float128")
    with pytest.raises(energy.ProfileError, match="dense-processor"):
        baseline.model(1, 1, "truenorth")
    with pytest.raises(energy.BaselineError, match="flops"):
        baseline.model(-1, 1)


def test_from_result_keeps_cpu_time_measured_and_models_the_gpu():
    result = types.SimpleNamespace(
        x=None, wall_time_s=0.25, flops=4_000_000, bytes_moved=8_000_000, n_iter=40, device="cpu", algorithm="cg", dtype="float64"
    )
    measured, modelled = baseline.from_result(result, gpu_profile="h100")
    assert measured.kind == "measured" and measured.time_kind == "measured CPU wall time" and measured.time_s == 0.25
    assert measured.energy_j is None and "CPU" in measured.label
    assert modelled.kind == "modelled" and modelled.device == "h100"
    assert modelled.time_s == pytest.approx(max(4e6 / 67e12, 8e6 / 3.35e12))
    with pytest.raises(TypeError, match="wall_time_s"):
        baseline.from_result(types.SimpleNamespace(flops=1))


def test_dense_snn_workload_by_hand():
    net = snn.Network(dt_ms=1.0)
    net.add_population("in", 10, snn.PoissonSource(rate_hz=10.0))
    net.add_population("a", 20, snn.LIF())
    net.connect("in", "a", snn.connect.fixed_probability(0.5), weight=0.1, seed=0)
    net.connect("a", "a", snn.connect.fixed_probability(0.1), weight=0.1, seed=1)
    w = baseline.dense_snn_workload(net, 7, dtype="float32")
    flops_step = 2 * 20 * 10 + 2 * 20 * 20 + 5 * 20
    bytes_step = (20 * 10 + 30) * 4 + (20 * 20 + 40) * 4 + 2 * 3 * 20 * 4
    assert w.flops == 7 * flops_step and w.bytes_moved == 7 * bytes_step
    assert "dense" in w.description


@pytest.mark.gpu
def test_measure_on_a_real_gpu():
    if not baseline.cuda_available():
        pytest.skip("no CUDA GPU on this machine")
    pytest.importorskip("pynvml")
    import torch

    a = torch.randn(4096, 4096, device="cuda")
    est = baseline.measure(lambda: a @ a, device="cuda", flops=2 * 4096**3)
    assert est.kind == "measured" and est.window_s >= 0.1 and est.time_s > 0
    if est.energy_j is not None:
        assert est.idle_power_w > 0 and est.energy_j > est.energy_above_idle_j
