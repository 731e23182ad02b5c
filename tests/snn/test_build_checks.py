"""Checks made when a population is added, where the step dt_ms is known (issue 15, silent acceptance)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

import snn
from snn.errors import ModelError, NetworkError


def test_poisson_rate_above_one_spike_per_step_is_refused_at_build_naming_the_limit():
    net = snn.Network(dt_ms=1.0)
    with pytest.raises(ModelError, match=r"rate_hz=2000.0: .*1000/dt_ms = 1000.0 Hz with dt_ms=1.0"):
        net.add_population("p", 3, snn.PoissonSource(rate_hz=2000.0))
    with pytest.raises(ModelError, match=r"offending value 4100.0.*1000/dt_ms = 4000.0 Hz"):
        snn.Network(dt_ms=0.25).add_population("p", 2, snn.PoissonSource(rate_hz=np.array([10.0, 4100.0])))
    assert not net.populations  # nothing was added
    # the limit itself is allowed: p = 1 spikes every step, on every engine
    net.add_population("p", 3, snn.PoissonSource(rate_hz=1000.0))
    res = snn.simulate(net, 20, record=("spikes",))
    assert res.spikes["p"].all()


@pytest.mark.parametrize("integration", ["euler", "euler_input_first", "euler_current_first"])
def test_unstable_forward_euler_is_refused(integration):
    dt = 1.0
    net = snn.Network(dt_ms=dt)
    with pytest.raises(ModelError, match=r"tau_mem_ms=0.4: forward Euler .* must be >= 0.5 ms"):
        net.add_population("a", 2, snn.LIF(tau_mem_ms=0.4, tau_syn_ms=5.0, integration=integration))
    with pytest.raises(ModelError, match=r"tau_syn_ms=.*offending value 0.3"):
        net.add_population("b", 2, snn.LIF(tau_mem_ms=5.0, tau_syn_ms=np.array([3.0, 0.3]), integration=integration))
    with pytest.raises(ModelError, match="tau_mem_ms"):
        net.add_population("c", 2, snn.LI(tau_mem_ms=0.2, integration=integration))
    # exact integration is stable for every tau; tau = dt/2 is the (bounded) edge of forward Euler
    net.add_population("exact", 2, snn.LIF(tau_mem_ms=0.1, integration="exact"))
    net.add_population("edge", 1, snn.LIF(tau_mem_ms=0.5, v_th=1e9, integration=integration), initial_state={"v": 1.0})
    res = snn.simulate(net, 50, record=("v",))
    # v' = (1 - dt/tau) v = -v: it oscillates at |v| = 1, it does not grow
    np.testing.assert_allclose(np.abs(res.traces["edge"]["v"][:, 0]), 1.0)


def test_what_unstable_euler_would_do():
    # the reason for the rule: just below dt/2 the membrane grows geometrically (|1 - dt/tau| > 1)
    tau, dt = 0.45, 1.0
    v = 1.0
    for _ in range(100):
        v *= 1.0 - dt / tau
    assert abs(v) > 1e4


def test_outputs_are_validated_like_the_api():
    net = snn.Network()
    net.add_population("a", 2, snn.LIF())
    net.outputs = ["a"]
    assert net.outputs == ("a",)
    with pytest.raises(NetworkError, match="outputs='ghost'"):
        net.outputs = ("a", "ghost")
    with pytest.raises(NetworkError, match="twice"):
        net.outputs = ("a", "a")
    with pytest.raises(TypeError, match="outputs"):
        net.outputs = "a"
    assert net.outputs == ("a",)


def test_sparse_delay_matrix_with_the_weights_pattern():
    net = snn.Network()
    net.add_population("a", 3, snn.LIF())
    net.add_population("b", 2, snn.LIF())
    w = sp.csr_matrix(np.array([[0.5, 0.0, 0.2], [0.0, 0.3, 0.0]]))
    d = w.copy()
    d.data = np.array([0, 4, 2], dtype=np.int64)
    pr = net.add_projection("a", "b", weights=w, delay_steps=d)
    np.testing.assert_array_equal(pr.delays, [0, 4, 2])
    other = sp.csr_matrix(np.array([[1, 0, 0], [0, 1, 0]]))
    with pytest.raises(NetworkError, match="pattern"):
        net.add_projection("a", "b", weights=w, delay_steps=other)
    for bad in (
        np.array([np.inf, 1, 1]),
        np.array([1e30, 1, 1]),
        np.array([1.5, 1, 1]),
        np.array([np.iinfo(np.uint64).max, 1, 1], dtype=np.uint64),
    ):
        d.data = bad
        with pytest.raises(NetworkError, match="delay_steps"):
            net.add_projection("a", "b", weights=w, delay_steps=d)


def test_readme_delay_statement_is_true():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert "arrive `delay_steps` (>= 0) later" in readme and "(>= 1) later" not in readme
    # zero delay: the target sees the spike in the step it was sent; a zero-delay cycle is refused
    net = snn.Network()
    net.add_population("src", 1, snn.SpikeSource(np.array([[0], [1], [0]], dtype=bool)))
    net.add_population("a", 1, snn.IF(v_th=0.5))
    net.add_projection("src", "a", weights=np.ones((1, 1)), delay_steps=0)
    res = snn.simulate(net, 3, record=("spikes",))
    np.testing.assert_array_equal(res.spikes["a"][:, 0], [False, True, False])
    net.add_population("b", 1, snn.IF())
    net.add_projection("a", "b", weights=np.ones((1, 1)), delay_steps=0)
    with pytest.raises(NetworkError, match="cycle"):
        net.add_projection("b", "a", weights=np.ones((1, 1)), delay_steps=0)
