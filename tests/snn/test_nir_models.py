"""The neuron-model orders that NIR import needs, checked against snnTorch and Norse themselves.

Each test drives one population of our model through a zero-delay projection
from an ExternalInput and runs the peer's own cell on the same input (float64
on both sides, so spikes and membranes must agree to rounding).
"""

from __future__ import annotations

import numpy as np
import pytest

import snn

torch = pytest.importorskip("torch")


def _drive(model, x, dt_ms=1.0, record=("spikes", "v", "i")):
    n = x.shape[1]
    net = snn.Network(dt_ms=dt_ms)
    net.add_population("in", n, snn.ExternalInput())
    net.add_population("n", n, model)
    net.add_projection("in", "n", weights=np.eye(n), delay_steps=0)
    return snn.simulate(net, x.shape[0], inputs={"in": x}, record={"n": record})


def _inputs(seed, n_steps=80, n=7, scale=0.7):
    return np.random.default_rng(seed).random((n_steps, n)) * scale


def test_euler_input_first_is_norse_lif_cell():
    norse = pytest.importorskip("norse.torch")
    x = _inputs(0)
    p = norse.LIFParameters(
        tau_syn_inv=torch.tensor(1 / 5e-3, dtype=torch.float64),
        tau_mem_inv=torch.tensor(1 / 8e-3, dtype=torch.float64),
        v_th=torch.tensor(0.4, dtype=torch.float64),
        v_leak=torch.tensor(0.05, dtype=torch.float64),
        v_reset=torch.tensor(-0.1, dtype=torch.float64),
    )
    cell = norse.LIFCell(p, dt=1e-3)
    state, zs, vs, is_ = None, [], [], []
    for t in range(len(x)):
        z, state = cell(torch.from_numpy(x[t]), state)
        zs.append(z.detach().numpy().copy())
        vs.append(state.v.detach().numpy().copy())
        is_.append(state.i.detach().numpy().copy())
    model = snn.LIF(tau_mem_ms=8.0, tau_syn_ms=5.0, v_th=0.4, v_leak=0.05, v_reset=-0.1, integration="euler_input_first")
    res = _drive(model, x)
    assert np.sum(zs) > 20
    np.testing.assert_array_equal(res.spikes["n"], np.array(zs) > 0)
    np.testing.assert_allclose(res.traces["n"]["v"], np.array(vs), atol=1e-12)
    np.testing.assert_allclose(res.traces["n"]["i"], np.array(is_), atol=1e-12)


@pytest.mark.parametrize("tau_syn_ms", [None, 4.0])
def test_li_is_norse_li_cells(tau_syn_ms):
    norse = pytest.importorskip("norse.torch")
    x = _inputs(1) - 0.3
    f64 = torch.float64
    if tau_syn_ms is None:
        cell = norse.LIBoxCell(norse.LIBoxParameters(tau_mem_inv=torch.tensor(1 / 6e-3, dtype=f64), v_leak=torch.tensor(0.1, dtype=f64)), dt=1e-3)
    else:
        cell = norse.LICell(
            norse.LIParameters(tau_syn_inv=torch.tensor(1 / 4e-3, dtype=f64), tau_mem_inv=torch.tensor(1 / 6e-3, dtype=f64), v_leak=torch.tensor(0.1, dtype=f64)),
            dt=1e-3,
        )
    state, outs = None, []
    for t in range(len(x)):
        v, state = cell(torch.from_numpy(x[t]), state)
        outs.append(v.detach().numpy().copy())
    model = snn.LI(tau_mem_ms=6.0, tau_syn_ms=tau_syn_ms, v_leak=0.1, integration="euler_input_first")
    res = _drive(model, x, record=("outputs", "v"))
    np.testing.assert_allclose(res.outputs["n"], np.array(outs), atol=1e-12)
    np.testing.assert_array_equal(res.outputs["n"], res.traces["n"]["v"])


@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_euler_current_first_next_step_is_snntorch_synaptic(reset):
    snntorch = pytest.importorskip("snntorch")
    x = _inputs(2, scale=0.5)
    alpha, beta, thr = 0.75, 0.875, 1.0
    cell = snntorch.Synaptic(alpha=torch.tensor(alpha, dtype=torch.float64), beta=torch.tensor(beta, dtype=torch.float64), threshold=thr, reset_mechanism=reset)
    syn, mem = cell.reset_mem()
    zs, ms, ss = [], [], []
    for t in range(len(x)):
        z, syn, mem = cell(torch.from_numpy(x[t]), syn, mem)
        zs.append(z.detach().numpy().copy())
        ms.append(mem.detach().numpy().copy())
        ss.append(syn.detach().numpy().copy())
    dt = 0.5
    tau_m, tau_s = dt / (1 - beta), dt / (1 - alpha)
    # snnTorch adds its input to syn unscaled: the weight carries 1/ks = tau_s/dt (NIR's w_in)
    model = snn.LIF(tau_mem_ms=tau_m, tau_syn_ms=tau_s, r=tau_m / dt, v_th=thr, reset=reset, reset_timing="next_step", integration="euler_current_first")
    res = _drive(model, x * tau_s / dt, dt_ms=dt)
    assert np.sum(zs) > 10
    np.testing.assert_array_equal(res.spikes["n"], np.array(zs) > 0)
    np.testing.assert_allclose(res.traces["n"]["v"], np.array(ms), atol=1e-12)
    np.testing.assert_allclose(res.traces["n"]["i"], np.array(ss), atol=1e-12)


@pytest.mark.parametrize("reset", ["subtract", "zero"])
def test_snntorch_leaky_resets(reset):
    # Leaky subtract = one-step-late subtraction; Leaky zero (reset_delay) gives the
    # spikes of an immediate zero reset (it zeroes the stored v before adding the
    # step's input); its recorded membrane is then the pre-reset value.
    snntorch = pytest.importorskip("snntorch")
    x = _inputs(3, scale=0.6)
    beta, thr, dt = 0.8125, 1.0, 1.0
    cell = snntorch.Leaky(beta=torch.tensor(beta, dtype=torch.float64), threshold=thr, reset_mechanism=reset)
    mem = cell.reset_mem()
    zs, ms = [], []
    for t in range(len(x)):
        z, mem = cell(torch.from_numpy(x[t]), mem)
        zs.append(z.detach().numpy().copy())
        ms.append(mem.detach().numpy().copy())
    zs, ms = np.array(zs) > 0, np.array(ms)
    tau = dt / (1 - beta)
    timing = "next_step" if reset == "subtract" else "immediate"
    res = _drive(snn.LIF(tau_mem_ms=tau, r=tau / dt, v_th=thr, reset=reset, reset_timing=timing, integration="euler"), x, dt_ms=dt)
    assert zs.sum() > 10
    np.testing.assert_array_equal(res.spikes["n"], zs)
    expected_v = ms if reset == "subtract" else np.where(zs, 0.0, ms)
    np.testing.assert_allclose(res.traces["n"]["v"], expected_v, atol=1e-12)


def test_snntorch_rleaky_zero_reset_discards_the_step_input():
    # RLeaky's zero reset (reset_delay) replaces the whole next update by 0: the
    # core's next_step zero reset
    snntorch = pytest.importorskip("snntorch")
    x = _inputs(4, scale=0.9)
    n = x.shape[1]
    beta = 0.75
    cell = snntorch.RLeaky(beta=torch.tensor(beta, dtype=torch.float64), V=torch.zeros(n, dtype=torch.float64), all_to_all=False, reset_mechanism="zero")
    spk, mem = cell.reset_mem()
    zs, ms = [], []
    for t in range(len(x)):
        spk, mem = cell(torch.from_numpy(x[t]), spk, mem)
        zs.append(spk.detach().numpy().copy())
        ms.append(mem.detach().numpy().copy())
    res = _drive(snn.LIF(tau_mem_ms=4.0, r=4.0, reset="zero", reset_timing="next_step", integration="euler"), x)
    assert np.sum(zs) > 10
    np.testing.assert_array_equal(res.spikes["n"], np.array(zs) > 0)
    np.testing.assert_allclose(res.traces["n"]["v"], np.array(ms), atol=1e-12)


def test_li_validates_and_round_trips(tmp_path):
    with pytest.raises(ValueError, match="integration"):
        snn.LI(integration="rk4")
    with pytest.raises(ValueError, match="tau_mem_ms"):
        snn.LI(tau_mem_ms=0.0)
    net = snn.Network(dt_ms=0.5)
    net.add_population("li", 3, snn.LI(tau_mem_ms=np.array([1.0, 2.0, 3.0]), tau_syn_ms=2.0, integration="euler_current_first"))
    snn.save(net, tmp_path / "n.npz")
    back = snn.load(tmp_path / "n.npz").population("li").model
    assert back.integration == "euler_current_first"
    np.testing.assert_array_equal(back.tau_mem_ms, [1.0, 2.0, 3.0])
