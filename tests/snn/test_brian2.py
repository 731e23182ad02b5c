"""Cross-check of the reference engine against Brian2 (issue 2, section 4).

The same LIF networks are built in snn and in Brian2 (``method='exact'``, numpy
code generation, no compilation) and run side by side.  The Brian2 settings that
reproduce snn's step order are:

* schedule ``['start', 'synapses', 'groups', 'thresholds', 'resets', 'end']``:
  in step ``t`` the synaptic pathways deliver first (they see the spikes of the
  thresholds of earlier steps), then the state update, threshold and reset;
* Brian2 ``delay = (d - 1) * dt`` for our ``delay_steps = d`` (a spike emitted at
  step ``s`` is pushed in the synapses slot of step ``s + 1``, so Brian2 delay 0
  delivers at ``s + 1``, which is our ``d = 1``);
* ``on_pre='I_post += w'`` (current synapses, ``tau_syn_ms`` set) or
  ``on_pre='v_post += w'`` (delta synapses);
* ``refractory = (r + 1) * dt`` for our ``refractory_steps = r`` (Brian2 with
  ``refractory = r_b * dt`` holds ``v`` in steps ``s + k`` with ``k < r_b``
  after a spike in step ``s``, snn in steps ``s + 1 .. s + r``);
  with current synapses ``(unless refractory)`` on ``v`` is exact;
* with delta synapses and ``r > 0`` the ``(unless refractory)`` flag must *not*
  be used: it also makes every synaptic write to ``v`` conditional on
  ``not_refractory``, which in the synapses slot still holds the previous
  step's value, so Brian2 would discard the input of the first step after the
  refractory period that snn accepts.  Instead write
  ``dv/dt = int(not_refractory) * (...) / tau_mem`` (what the flag does to the
  equation, without the conditional write) and gate the input with the
  refractory test of the current step,
  ``v_post += w * int(timestep(t - lastspike_post, dt) >= timestep(ref_time_post, dt))``
  (``ref_time`` is the group's refractory period as a parameter);
* threshold ``v > v_th``; reset ``v = v_reset`` (``reset="zero"``) or
  ``v -= v_th`` (``reset="subtract"``); ``v`` starts at ``v_leak``, ``I`` at 0;
* ``SpikeGeneratorGroup`` spikes at ``k * dt`` for raster row ``k`` (both emit in
  step ``k``); ``StateMonitor(..., when='end')`` gives the value after step ``t``
  that ``record=("v",)`` gives.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

import snn

b2 = pytest.importorskip("brian2")

pytestmark = pytest.mark.filterwarnings("ignore:'parseAll' argument is deprecated")

SCHEDULE = ["start", "synapses", "groups", "thresholds", "resets", "end"]


# --------------------------------------------------------------------------- snn -> Brian2


def _lif_group(pop: snn.Population, dt, refractory_extra_steps: int, native_refractory: bool):
    """A Brian2 NeuronGroup equivalent to an snn.LIF population."""
    m = pop.model
    cuba = m.tau_syn_ms is not None
    drive = "(v_leak - v + r_in * I + bias)" if cuba else "(v_leak - v + bias)"
    if cuba or native_refractory:
        dv = f"dv/dt = {drive} / tau_mem : 1 (unless refractory)"
    else:
        # what '(unless refractory)' does, minus its conditional write, which would
        # also gate synaptic writes to v with the previous step's not_refractory
        dv = f"dv/dt = int(not_refractory) * {drive} / tau_mem : 1"
    eqs = f"""
    {dv}
    {"dI/dt = -I / tau_syn : 1" if cuba else ""}
    tau_mem : second (constant)
    {"tau_syn : second (constant)" if cuba else ""}
    v_leak : 1 (constant)
    {"r_in : 1 (constant)" if cuba else ""}
    bias : 1 (constant)
    v_th : 1 (constant)
    v_reset : 1 (constant)
    ref_time : second (constant)
    """
    reset = "v -= v_th" if m.reset == "subtract" else "v = v_reset"
    g = b2.NeuronGroup(
        pop.n,
        eqs,
        threshold="v > v_th",
        reset=reset,
        refractory="ref_time",
        method="exact",
        dt=dt,
        name=f"pop_{pop.name}",
    )
    g.tau_mem = np.broadcast_to(m.tau_mem_ms, (pop.n,)) * b2.ms
    if cuba:
        g.tau_syn = np.broadcast_to(m.tau_syn_ms, (pop.n,)) * b2.ms
        g.r_in = np.broadcast_to(m.r, (pop.n,))
    g.v_leak = np.broadcast_to(m.v_leak, (pop.n,))
    g.bias = np.broadcast_to(m.bias, (pop.n,))
    g.v_th = np.broadcast_to(m.v_th, (pop.n,))
    g.v_reset = np.broadcast_to(m.v_reset, (pop.n,))
    g.ref_time = (np.broadcast_to(m.refractory_steps, (pop.n,)) + refractory_extra_steps) * dt
    g.v = np.broadcast_to(m.v_leak, (pop.n,))
    return g


def run_brian2(
    net: snn.Network,
    n_steps: int,
    *,
    record_v: bool = True,
    delay_shift_steps: int = -1,
    refractory_extra_steps: int = 1,
    native_refractory: bool = False,
    schedule: list[str] | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Run ``net`` (LIF and SpikeSource populations) in Brian2 for ``n_steps`` steps.

    Returns ``(spikes {name: bool (n_steps, n)}, v {name: float (n_steps, n)})``.
    The keyword arguments are the correspondence (they exist so that a wrong
    mapping can be tried and seen to fail).
    """
    prev_target = b2.prefs.codegen.target
    b2.prefs.codegen.target = "numpy"
    try:
        dt = net.dt_ms * b2.ms
        groups, objects, spike_mons, v_mons = {}, [], {}, {}
        for pop in net.populations:
            if isinstance(pop.model, snn.SpikeSource):
                raster = pop.model.raster[:n_steps]
                steps, idx = np.nonzero(raster)
                g = b2.SpikeGeneratorGroup(pop.n, idx, steps * dt, dt=dt, name=f"pop_{pop.name}")
            elif isinstance(pop.model, snn.LIF):
                g = _lif_group(pop, dt, refractory_extra_steps, native_refractory)
                if record_v:
                    v_mons[pop.name] = b2.StateMonitor(g, "v", record=True, when="end", dt=dt)
            else:  # pragma: no cover - the helper only knows these two models
                raise TypeError(type(pop.model).__name__)
            groups[pop.name] = g
            spike_mons[pop.name] = b2.SpikeMonitor(g)
            objects.append(g)
        for k, pr in enumerate(net.projections):
            post_model = net.population(pr.post).model
            if post_model.tau_syn_ms is not None:
                on_pre = "I_post += w"
            elif native_refractory:
                on_pre = "v_post += w"  # Brian2 gates it with not_refractory_post itself
            else:
                on_pre = "v_post += w * int(timestep(t - lastspike_post, dt) >= timestep(ref_time_post, dt))"
            coo = pr.weights.tocoo()  # CSR (n_post, n_pre): row = post, col = pre, in CSR order
            syn = b2.Synapses(groups[pr.pre], groups[pr.post], "w : 1", on_pre=on_pre, dt=dt, name=f"proj_{k}")
            syn.connect(i=coo.col.astype(np.int64), j=coo.row.astype(np.int64))
            assert np.array_equal(syn.i[:], coo.col) and np.array_equal(syn.j[:], coo.row)
            syn.w = coo.data
            syn.delay = (pr.delays + delay_shift_steps) * dt
            objects.append(syn)
        b2net = b2.Network(*objects, *spike_mons.values(), *v_mons.values())
        b2net.schedule = list(schedule or SCHEDULE)
        b2net.run(n_steps * dt, namespace={})
    finally:
        b2.prefs.codegen.target = prev_target
    spikes = {}
    for name, mon in spike_mons.items():
        raster = np.zeros((n_steps, net.population(name).n), dtype=bool)
        raster[np.round(mon.t_ / float(dt / b2.second)).astype(np.int64), mon.i[:]] = True
        spikes[name] = raster
    vs = {name: np.asarray(mon.v).T.copy() for name, mon in v_mons.items()}
    return spikes, vs


# --------------------------------------------------------------------------- networks


def feedforward_network(n_steps: int = 300, seed: int = 7) -> snn.Network:
    """SpikeSource (20) -> CubaLIF (30) -> delta LIF with subtract reset (25), delays 1..5."""
    rng = np.random.default_rng(seed)
    net = snn.Network(dt_ms=1.0)
    raster = rng.random((n_steps, 20)) < 0.08
    net.add_population("src", 20, snn.SpikeSource(raster))
    net.add_population(
        "cuba",
        30,
        snn.LIF(
            tau_mem_ms=rng.uniform(10.0, 30.0, 30),
            tau_syn_ms=5.0,
            v_th=1.0,
            v_reset=0.0,
            v_leak=0.0,
            r=1.2,
            bias=rng.uniform(0.0, 0.6, 30),
            reset="zero",
            refractory_steps=2,
        ),
    )
    net.add_population(
        "delta",
        25,
        snn.LIF(
            tau_mem_ms=15.0,
            tau_syn_ms=None,
            v_th=1.0,
            v_leak=0.1,
            bias=rng.uniform(0.2, 0.8, 25),
            reset="subtract",
            refractory_steps=1,
        ),
    )
    w1 = sp.random(30, 20, density=0.5, random_state=seed, data_rvs=lambda k: rng.uniform(-0.1, 0.5, k))
    net.add_projection("src", "cuba", weights=w1, delay_steps=1)
    w2 = (rng.random((25, 30)) < 0.4) * rng.uniform(-0.2, 0.45, (25, 30))
    d2 = rng.integers(1, 6, (25, 30))
    net.add_projection("cuba", "delta", weights=w2, delay_steps=d2)
    w3 = (rng.random((25, 20)) < 0.3) * rng.uniform(0.0, 0.3, (25, 20))
    net.add_projection("src", "delta", weights=w3, delay_steps=rng.integers(1, 6, (25, 20)))
    return net


def recurrent_network(seed: int = 3, w_exc: float = 0.08, w_inh: float = -0.3, bias=(1.05, 1.6), p: float = 0.1) -> snn.Network:
    """400 bias-driven CubaLIF neurons (320 exc, 80 inh), fixed-probability connectivity, delays 1..4."""
    rng = np.random.default_rng(seed)
    net = snn.Network(dt_ms=1.0)
    sizes = {"exc": 320, "inh": 80}
    for name, n in sizes.items():
        net.add_population(
            name,
            n,
            snn.LIF(
                tau_mem_ms=20.0,
                tau_syn_ms=5.0 if name == "exc" else 3.0,
                v_th=1.0,
                v_reset=0.0,
                bias=rng.uniform(*bias, n),
                refractory_steps=2,
            ),
        )
    weight = {"exc": snn.connect.random_uniform(0.0, w_exc), "inh": snn.connect.random_uniform(w_inh, 0.0)}
    for pre, n_pre in sizes.items():
        for post, n_post in sizes.items():
            net.connect(
                pre,
                post,
                snn.connect.fixed_probability(p),
                weight=weight[pre],
                delay_steps=rng.integers(1, 5, (n_post, n_pre)),
                seed=rng,
            )
    return net


# --------------------------------------------------------------------------- tests


def test_feedforward_rasters_and_traces_match_brian2():
    n_steps = 300
    net = feedforward_network(n_steps)
    res = snn.simulate(net, n_steps, engine="reference", seed=0, record=("spikes", "v"))
    spikes, vs = run_brian2(net, n_steps)
    for name in ("src", "cuba", "delta"):
        np.testing.assert_array_equal(res.spikes[name], spikes[name], err_msg=name)
    for name in ("cuba", "delta"):
        np.testing.assert_allclose(res.traces[name]["v"], vs[name], rtol=0, atol=1e-9, err_msg=name)
    # the comparison has something to compare: both layers fire, the delta layer
    # gets input while refractory and right after it
    assert res.spikes["cuba"].sum() > 200 and res.spikes["delta"].sum() > 500


def test_recurrent_rates_match_brian2():
    n_steps = 2000
    net = recurrent_network(w_exc=0.2, w_inh=-0.8, bias=(0.9, 1.4))
    res = snn.simulate(net, n_steps, engine="reference", seed=0, record=("spikes",))
    spikes, _ = run_brian2(net, n_steps, record_v=False)
    for name in ("exc", "inh"):
        ours, theirs = res.spikes[name].mean(), spikes[name].mean()
        assert theirs * 1000.0 > 5.0, f"{name}: Brian2 rate {theirs * 1000.0} Hz, expected an active network"
        assert abs(ours / theirs - 1.0) < 0.01, f"{name}: snn {ours * 1000.0} Hz vs Brian2 {theirs * 1000.0} Hz"
        # before any chaotic divergence could set in, the rasters are identical
        # (they stay identical for all 2000 steps here; 200 steps leave a margin)
        np.testing.assert_array_equal(res.spikes[name][:200], spikes[name][:200], err_msg=name)
    assert res.counts.spikes_per_population["exc"] == spikes["exc"].sum()


def _first_crossing(bias: float, tau_mem_ms: float, dt_ms: float, v_th: float) -> int:
    """Smallest m with bias * (1 - exp(-m dt / tau)) > v_th (v from 0, no leak offset)."""
    alpha = np.exp(-dt_ms / tau_mem_ms)
    m = 1
    while not bias * (1.0 - alpha**m) > v_th:
        m += 1
    return m


def test_refractory_spike_times_match_brian2_and_analytic():
    n_steps = 120
    net = snn.Network(dt_ms=1.0)
    # input spikes at every third step until 60, then every step: they hit
    # refractory windows, their last step and the first step after them
    raster = np.zeros((n_steps, 1), dtype=bool)
    raster[0:60:3, 0] = True
    raster[60:90, 0] = True
    net.add_population("src", 1, snn.SpikeSource(raster))
    cases = {
        "delta_r0": dict(refractory_steps=0),
        "delta_r1": dict(refractory_steps=1),
        "delta_r3": dict(refractory_steps=3),
        "delta_r3_subtract": dict(refractory_steps=3, reset="subtract"),
        "cuba_r3": dict(refractory_steps=3, tau_syn_ms=4.0),
    }
    for name, kw in cases.items():
        net.add_population(name, 1, snn.LIF(tau_mem_ms=10.0, v_th=1.0, bias=1.1, **kw))
        net.add_projection("src", name, weights=[[0.35]], delay_steps=2)
    net.add_population("free_r4", 1, snn.LIF(tau_mem_ms=10.0, v_th=1.0, bias=1.3, refractory_steps=4))
    res = snn.simulate(net, n_steps, engine="reference", seed=0, record=("spikes",))
    spikes, _ = run_brian2(net, n_steps, record_v=False)
    for name in [*cases, "free_r4"]:
        ours = np.flatnonzero(res.spikes[name][:, 0])
        theirs = np.flatnonzero(spikes[name][:, 0])
        np.testing.assert_array_equal(ours, theirs, err_msg=name)
        assert ours.size >= 5, name
    # analytic: without input, reset to 0, held for r steps, then m integrations to cross
    m = _first_crossing(1.3, 10.0, 1.0, 1.0)
    expected = (m - 1) + np.arange(n_steps) * (4 + m)
    np.testing.assert_array_equal(np.flatnonzero(res.spikes["free_r4"][:, 0]), expected[expected < n_steps])


def test_equal_time_constants_match_brian2_resonant_solution():
    # tau_syn == tau_mem: the generic exact solution divides by (tau_syn - tau_mem);
    # Brian2 (sympy) solves the resonant case from literal constants
    n_steps, w, tau = 60, 0.8, 10.0
    raster = np.zeros((n_steps, 1), dtype=bool)
    raster[[0, 5, 30], 0] = True
    net = snn.Network(dt_ms=1.0)
    net.add_population("src", 1, snn.SpikeSource(raster))
    net.add_population("n", 1, snn.LIF(tau_mem_ms=tau, tau_syn_ms=tau, v_th=1e9, bias=0.3))
    net.add_projection("src", "n", weights=[[w]], delay_steps=1)
    res = snn.simulate(net, n_steps, engine="reference", seed=0, record=("v", "i"))
    v = res.traces["n"]["v"][:, 0]

    prev = b2.prefs.codegen.target
    b2.prefs.codegen.target = "numpy"
    try:
        dt = 1.0 * b2.ms
        g = b2.NeuronGroup(1, "dv/dt = (0.3 - v + I) / (10*ms) : 1\ndI/dt = -I / (10*ms) : 1", method="exact", dt=dt)
        src = b2.SpikeGeneratorGroup(1, [0, 0, 0], [0, 5, 30] * dt, dt=dt)
        syn = b2.Synapses(src, g, on_pre="I_post += 0.8", delay=0 * b2.ms, dt=dt)
        syn.connect(i=0, j=0)
        mon = b2.StateMonitor(g, "v", record=True, when="end", dt=dt)
        b2net = b2.Network(g, src, syn, mon)
        b2net.schedule = list(SCHEDULE)
        b2net.run(n_steps * dt, namespace={})
    finally:
        b2.prefs.codegen.target = prev
    np.testing.assert_allclose(v, np.asarray(mon.v)[0], rtol=0, atol=1e-12)
    # closed form until the second input arrives (step 6): the bias acts from step 0,
    # the first input (sent at 0, delay 1) from step 1, so after step k
    # v = 0.3 (1 - e^{-(k+1) dt/tau}) + w (k dt/tau) e^{-k dt/tau}
    k = np.arange(6, dtype=float)
    closed = 0.3 * (1 - np.exp(-(k + 1) / tau)) + w * (k / tau) * np.exp(-k / tau)
    np.testing.assert_allclose(v[:6], closed, rtol=1e-12)
