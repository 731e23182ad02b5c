"""snn.nir without the peers: graph handling, shapes, delays, conventions, write/read.

References are independent: hand-written update loops, scipy.signal.correlate
for convolutions, and the equations of the NIR nodes.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal

import snn

nir = pytest.importorskip("nir")
from snn import nir as snir  # noqa: E402

T = 60


def _lif(n, tau_s=5e-3, thr=1.0, r=1.0, v_leak=0.0, v_reset=0.0):
    return nir.LIF(
        tau=np.full(n, tau_s), r=np.full(n, r), v_leak=np.full(n, v_leak), v_threshold=np.full(n, thr), v_reset=np.full(n, v_reset)
    )


def _graph(nodes, edges):
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


def _spikes(seed, n, p=0.3, n_steps=T):
    return (np.random.default_rng(seed).random((n_steps, n)) < p).astype(np.float64)


def _recurrent_graph(rng, n_in=4, n_h=6, n_out=3):
    # time constants as Norse 1.1 writes them: dt * tau (s^2) with dt = 1 ms, i.e. 5, 4 and 2 ms
    nodes = {
        "input": nir.Input(input_type={"input": np.array([n_in])}),
        "fc": nir.Affine(weight=rng.normal(0.8, 0.5, (n_h, n_in)), bias=rng.normal(0.05, 0.02, n_h)),
        "lif": _lif(n_h, tau_s=5e-6, thr=0.8),
        "rec": nir.Linear(weight=rng.normal(0.0, 0.4, (n_h, n_h))),
        "fc2": nir.Linear(weight=rng.normal(0.6, 0.4, (n_out, n_h))),
        "out": nir.CubaLIF(
            tau_mem=np.full(n_out, 4e-6),
            tau_syn=np.full(n_out, 2e-6),
            r=np.full(n_out, 2.0),
            v_leak=np.zeros(n_out),
            v_threshold=np.full(n_out, 0.3),
            w_in=np.full(n_out, 1.5),
        ),
        "output": nir.Output(output_type={"output": np.array([n_out])}),
    }
    edges = [("input", "fc"), ("fc", "lif"), ("lif", "rec"), ("rec", "lif"), ("lif", "fc2"), ("fc2", "out"), ("out", "output")]
    return nodes, edges


def test_recurrent_graph_structure_and_hand_written_loop():
    rng = np.random.default_rng(0)
    nodes, edges = _recurrent_graph(rng)
    net = snir.read(_graph(nodes, edges), dt_ms=1.0, convention="norse")
    assert net.outputs == ("out",)
    assert [p.name for p in net.populations] == ["input", "lif", "out"]
    delays = {p.name: set(p.delays.tolist()) for p in net.projections}
    assert delays["input->lif"] == {0} and delays["lif->lif"] == {1} and delays["lif->out"] == {0}
    x = _spikes(1, 4)
    res = snn.simulate(net, T, inputs={"input": x}, record=("spikes", "v"))
    # Norse-convention reference: LIFBox (Euler delta, r applied), LIFCell order for CubaLIF (w_in applied)
    W, b, Wr, W2 = nodes["fc"].weight, nodes["fc"].bias, nodes["rec"].weight, nodes["fc2"].weight
    k, km, ks = 1.0 / 5.0, 1.0 / 4.0, 1.0 / 2.0
    v = np.zeros(6)
    z = np.zeros(6)
    vo, io = np.zeros(3), np.zeros(3)
    for t in range(T):
        v = v + k * (-v + (W @ x[t] + b + Wr @ z))
        z = (v > 0.8).astype(float)
        v = np.where(z > 0, 0.0, v)
        io = io + 1.5 * (W2 @ z)
        vo = vo + km * (-vo + 2.0 * io)
        io = io - ks * io
        zo = vo > 0.3
        vo = np.where(zo, 0.0, vo)
        np.testing.assert_array_equal(res.spikes["lif"][t], z > 0)
        np.testing.assert_allclose(res.traces["lif"]["v"][t], v, atol=1e-12)
        np.testing.assert_array_equal(res.spikes["out"][t], zo)
    assert res.spikes["lif"].sum() > 20


def test_node_and_edge_order_are_not_relied_on():
    rng = np.random.default_rng(2)
    nodes, edges = _recurrent_graph(rng)
    a = snir.read(_graph(nodes, edges), dt_ms=1.0, convention="norse")
    shuffled = dict(reversed(list(nodes.items())))
    b = snir.read(_graph(shuffled, list(reversed(edges))), dt_ms=1.0, convention="norse")
    assert [p.name for p in a.populations] == [p.name for p in b.populations]
    assert [p.name for p in a.projections] == [p.name for p in b.projections]
    x = _spikes(3, 4)
    ra = snn.simulate(a, T, inputs={"input": x}, record=("spikes", "v"))
    rb = snn.simulate(b, T, inputs={"input": x}, record=("spikes", "v"))
    for name in ("lif", "out"):
        np.testing.assert_array_equal(ra.spikes[name], rb.spikes[name])
        np.testing.assert_array_equal(ra.traces[name]["v"], rb.traces[name]["v"])


def test_two_population_cycle_gets_one_delayed_edge():
    n = 3
    nodes = {
        "input": nir.Input(input_type={"input": np.array([n])}),
        "w0": nir.Linear(weight=np.eye(n)),
        "a": _lif(n),
        "wab": nir.Linear(weight=np.eye(n)),
        "b": _lif(n),
        "wba": nir.Linear(weight=np.eye(n)),
        "wskip": nir.Linear(weight=np.eye(n)),
        "output": nir.Output(output_type={"output": np.array([n])}),
    }
    edges = [("input", "w0"), ("w0", "a"), ("a", "wab"), ("wab", "b"), ("b", "wba"), ("wba", "a"), ("input", "wskip"), ("wskip", "b"), ("b", "output")]
    net = snir.read(_graph(nodes, edges), dt_ms=1.0)
    delays = {p.name: int(p.delays[0]) for p in net.projections}
    # a and b are both one hop from the input: a -> b and b -> a are both recurrent
    assert delays == {"input->a": 0, "input->b": 0, "a->b": 1, "b->a": 1}


def test_unsupported_nodes_are_all_named():
    nodes = {
        "input": nir.Input(input_type={"input": np.array([4])}),
        "pool": nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]), padding=np.array([0, 0])),
        "integ": nir.I(r=np.ones(4)),
        "output": nir.Output(output_type={"output": np.array([4])}),
    }
    with pytest.raises(snir.NIRError, match=r"'integ' \(I\).*'pool' \(SumPool2d\)"):
        snir.read(_graph(nodes, [("input", "pool"), ("pool", "integ"), ("integ", "output")]), dt_ms=1.0)


def test_bad_arguments():
    g = _graph({"input": nir.Input(input_type={"input": np.array([2])}), "l": _lif(2)}, [("input", "l")])
    with pytest.raises(ValueError, match="convention"):
        snir.read(g, dt_ms=1.0, convention="brian")
    with pytest.raises(ValueError, match="reset"):
        snir.read(g, dt_ms=1.0, reset="half")
    with pytest.raises(ValueError, match="dt_ms"):
        snir.read(g, dt_ms=0.0)
    with pytest.raises(FileNotFoundError):
        snir.read("/nonexistent/model.nir", dt_ms=1.0)
    with pytest.raises(TypeError):
        snir.read(42, dt_ms=1.0)
    loop = _graph(
        {"input": nir.Input(input_type={"input": np.array([2])}), "a": nir.Linear(weight=np.eye(2)), "b": nir.Linear(weight=np.eye(2)), "l": _lif(2)},
        [("input", "a"), ("a", "b"), ("b", "a"), ("b", "l")],
    )
    with pytest.raises(snir.NIRError, match="algebraic loop"):
        snir.read(loop, dt_ms=1.0)
    bad = _graph({"input": nir.Input(input_type={"input": np.array([2])}), "w": nir.Linear(weight=np.ones((3, 2))), "l": _lif(2)}, [("input", "w"), ("w", "l")])
    with pytest.raises(snir.NIRError, match="receives 3 values for 2 neurons"):
        snir.read(bad, dt_ms=1.0)


def test_corrupted_file(tmp_path):
    p = tmp_path / "bad.nir"
    p.write_bytes(b"not hdf5 at all")
    with pytest.raises(snir.NIRError, match="not a readable NIR file"):
        snir.read(p, dt_ms=1.0)


def _conv_reference(x, w, stride, pad, groups):
    """Cross-correlation per output channel with scipy (x: (C_in, *S), w: (C_out, C_in/groups, *K))."""
    nd = x.ndim - 1
    xp = np.pad(x, [(0, 0)] + [(p, p) for p in pad])
    c_out, cig = w.shape[:2]
    per = c_out // groups
    outs = []
    for co in range(c_out):
        g = co // per
        acc = sum(scipy.signal.correlate(xp[g * cig + ci], w[co, ci], mode="valid") for ci in range(cig))
        sl = tuple(slice(None, None, stride[k]) for k in range(nd))
        outs.append(acc[sl])
    return np.stack(outs)


@pytest.mark.parametrize(
    ("nd", "stride", "pad", "groups"),
    [(2, (1, 1), (0, 0), 1), (2, (2, 1), (1, 2), 2), (1, (2,), (1,), 1), (1, (1,), (2,), 3)],
)
def test_conv_nodes_are_sparse_projections(nd, stride, pad, groups):
    rng = np.random.default_rng(5)
    c_in, c_out = 3 if groups != 2 else 4, 6
    spatial = (5, 6) if nd == 2 else (9,)
    k = (3, 2) if nd == 2 else (3,)
    w = rng.normal(size=(c_out, c_in // groups) + k)
    bias = rng.normal(size=c_out)
    cls = nir.Conv2d if nd == 2 else nir.Conv1d
    conv = cls(
        input_shape=spatial if nd == 2 else spatial[0],
        weight=w,
        stride=stride if nd == 2 else stride[0],
        padding=pad if nd == 2 else pad[0],
        dilation=1,
        groups=groups,
        bias=bias,
    )
    n_in = c_in * int(np.prod(spatial))
    ref = _conv_reference(rng.normal(size=(c_in,) + spatial), w, stride, pad, groups)
    n_out = ref.size
    # an IF population with threshold above everything: v after step 0 is the input
    g = _graph(
        {
            "input": nir.Input(input_type={"input": np.array([n_in])}),
            "conv": conv,
            "flat": nir.Flatten(input_type=None),
            "if": nir.IF(r=np.ones(n_out), v_threshold=np.full(n_out, 1e9)),
        },
        [("input", "conv"), ("conv", "flat"), ("flat", "if")],
    )
    net = snir.read(g, dt_ms=1.0)
    x = np.random.default_rng(5).normal(size=(1, n_in))
    x_img = x[0].reshape((c_in,) + spatial)
    ref = _conv_reference(x_img, w, stride, pad, groups) + bias.reshape((c_out,) + (1,) * nd)
    res = snn.simulate(net, 1, inputs={"input": x}, record=("v",))
    np.testing.assert_allclose(res.traces["if"]["v"][0], ref.reshape(-1), atol=1e-12)
    proj = net.projection("input->if")
    assert proj.n_synapses < n_out * n_in  # sparse


def test_scale_delay_threshold_and_nested_graph():
    n = 3
    inner = nir.NIRGraph(
        nodes={
            "in": nir.Input(input_type={"input": np.array([n])}),
            "sc": nir.Scale(scale=np.array([1.0, 2.0, -1.0])),
            "dl": nir.Delay(delay=np.array([0.0, 2e-3, 1e-3])),
            "th": nir.Threshold(threshold=np.full(n, 0.5)),
            "out": nir.Output(output_type={"output": np.array([n])}),
        },
        edges=[("in", "sc"), ("sc", "dl"), ("dl", "th"), ("th", "out")],
        type_check=False,
    )
    g = _graph(
        {"input": nir.Input(input_type={"input": np.array([n])}), "block": inner, "output": nir.Output(output_type={"output": np.array([n])})},
        [("input", "block"), ("block", "output")],
    )
    net = snir.read(g, dt_ms=1.0)
    assert net.outputs == ("block.th",)
    x = np.random.default_rng(7).random((20, n)) * 2 - 0.5
    res = snn.simulate(net, 20, inputs={"input": x})
    scaled = x * np.array([1.0, 2.0, -1.0])
    expected = np.zeros_like(scaled)
    for j, d in enumerate([0, 2, 1]):
        expected[d:, j] = scaled[: 20 - d, j]
    np.testing.assert_array_equal(res.spikes["block.th"], expected > 0.5)
    bad = _graph(
        {"input": nir.Input(input_type={"input": np.array([1])}), "dl": nir.Delay(delay=np.array([1.5e-3])), "th": nir.Threshold(threshold=np.ones(1))},
        [("input", "dl"), ("dl", "th")],
    )
    with pytest.raises(snir.NIRError, match="whole"):
        snir.read(bad, dt_ms=1.0)


def _mixed_network():
    rng = np.random.default_rng(11)
    net = snn.Network(dt_ms=0.5)
    net.add_population("input", 5, snn.ExternalInput())
    net.add_population("exact", 6, snn.LIF(tau_mem_ms=rng.uniform(2, 6, 6), v_th=0.6, v_leak=0.05))
    net.add_population("cuba", 4, snn.LIF(tau_mem_ms=3.0, tau_syn_ms=1.5, r=1.3, v_th=0.3, v_reset=-0.1, integration="euler_input_first"))
    net.add_population("iaf", 3, snn.IF(v_th=1.2, bias=0.05))
    net.add_population("readout", 2, snn.LI(tau_mem_ms=4.0, tau_syn_ms=2.0, integration="exact"))
    net.add_projection("input", "exact", weights=rng.normal(0.5, 0.3, (6, 5)), delay_steps=0)
    net.add_projection("exact", "exact", weights=rng.normal(0.0, 0.3, (6, 6)) * (rng.random((6, 6)) < 0.5), delay_steps=1)
    net.add_projection("exact", "cuba", weights=rng.normal(0.4, 0.3, (4, 6)), delay_steps=3)
    net.add_projection("cuba", "iaf", weights=rng.normal(0.6, 0.2, (3, 4)), delay_steps=0)
    net.add_projection("iaf", "readout", weights=rng.normal(0.0, 1.0, (2, 3)), delay_steps=0)
    net.add_population("drive", 1, snn.CurrentSource(amplitude=0.5))
    net.add_projection("drive", "cuba", weights=np.full((4, 1), 0.1), delay_steps=0)
    net.outputs = ("readout", "iaf")
    return net


def test_write_read_round_trip(tmp_path):
    net = _mixed_network()
    path = tmp_path / "mixed.nir"
    snir.write(net, path)
    back = snir.read(path, dt_ms=0.5)
    assert back.outputs == ("readout", "iaf")
    assert back.population("cuba").model.integration == "euler_input_first"
    assert {int(d) for d in back.projection("exact->cuba@3").delays} == {3}
    x = _spikes(12, 5, p=0.5)
    rec = ("spikes", "v", "outputs")
    ra = snn.simulate(net, T, inputs={"input": x}, record=rec)
    rb = snn.simulate(back, T, inputs={"input": x}, record=rec)
    for name in ("exact", "cuba", "iaf"):
        np.testing.assert_array_equal(ra.spikes[name], rb.spikes[name])
        np.testing.assert_allclose(ra.traces[name]["v"], rb.traces[name]["v"], atol=1e-12)
    np.testing.assert_allclose(ra.outputs["readout"], rb.outputs["readout"], atol=1e-12)
    assert ra.spikes["exact"].sum() > 20 and ra.spikes["iaf"].sum() > 5
    # save/load keeps the outputs
    snn.save(back, tmp_path / "net.npz")
    assert snn.load(tmp_path / "net.npz").outputs == ("readout", "iaf")


@pytest.mark.parametrize(
    ("model", "match"),
    [
        (snn.LIF(reset="subtract"), "reset='subtract'"),
        (snn.LIF(reset_timing="next_step"), "reset_timing"),
        (snn.LIF(refractory_steps=2), "refractory"),
        (snn.LIF(tau_syn_ms=2.0, bias=0.1), "bias"),
        (snn.SigmaDelta(), "SigmaDelta has no NIR node"),
    ],
)
def test_write_refuses_what_nir_cannot_say(tmp_path, model, match):
    net = snn.Network(dt_ms=1.0)
    net.add_population("input", 2, snn.ExternalInput())
    net.add_population("x", 2, model)
    net.add_projection("input", "x", weights=np.eye(2), delay_steps=0)
    with pytest.raises(snir.NIRError, match=match):
        snir.write(net, tmp_path / "x.nir")
    assert not (tmp_path / "x.nir").exists()


def test_biases_enter_exactly():
    # Affine bias into an Euler delta LIF becomes its bias (r*b); into a CubaLIF a CurrentSource
    n = 2
    g = _graph(
        {
            "input": nir.Input(input_type={"input": np.array([n])}),
            "a": nir.Affine(weight=np.eye(n), bias=np.array([0.1, 0.2])),
            "lif": _lif(n, tau_s=4e-3, r=4.0, thr=100.0),
            "b": nir.Affine(weight=np.eye(n), bias=np.array([0.3, -0.1])),
            "cuba": nir.CubaLIF(
                tau_mem=np.full(n, 4e-3), tau_syn=np.full(n, 2e-3), r=np.ones(n), v_leak=np.zeros(n), v_threshold=np.full(n, 100.0), w_in=np.full(n, 2.0)
            ),
        },
        [("input", "a"), ("a", "lif"), ("input", "b"), ("b", "cuba")],
    )
    net = snir.read(g, dt_ms=1.0, convention="snntorch")
    np.testing.assert_allclose(net.population("lif").model.bias, [0.4, 0.8])
    assert isinstance(net.population("cuba.bias").model, snn.CurrentSource)
    x = np.random.default_rng(1).random((30, n))
    res = snn.simulate(net, 30, inputs={"input": x}, record=("v",))
    # snnTorch forms: Leaky v' = beta v + (x + b)*r*dt/tau ; Synaptic i' = alpha i + ks*w_in*(x + b), v' = beta v + km*r*i'
    v, vc, ic = np.zeros(n), np.zeros(n), np.zeros(n)
    for t in range(30):
        v = 0.75 * v + (x[t] + [0.1, 0.2])
        ic = 0.5 * ic + 0.5 * 2.0 * (x[t] + [0.3, -0.1])
        vc = 0.75 * vc + 0.25 * ic
        np.testing.assert_allclose(res.traces["lif"]["v"][t], v, rtol=1e-12)
        np.testing.assert_allclose(res.traces["cuba"]["v"][t], vc, rtol=1e-12, atol=1e-15)


@pytest.mark.slow  # compiling the event engine's kernels takes about a minute on 2 cores
def test_imported_and_li_networks_run_on_the_event_engine():
    if "event" not in snn.engine_names():
        pytest.skip("the event engine is not available here")
    net = _mixed_network()  # LIF exact/euler_input_first, IF, LI, zero delays, a recurrent and a delayed projection
    x = _spikes(13, 5, p=0.5)
    rec = ("spikes", "v", "outputs")
    ref = snn.simulate(net, T, inputs={"input": x}, record=rec)
    ev = snn.simulate(net, T, inputs={"input": x}, record=rec, engine="event")
    for name in ("exact", "cuba", "iaf"):
        np.testing.assert_array_equal(ev.spikes[name], ref.spikes[name])
    np.testing.assert_allclose(ev.outputs["readout"], ref.outputs["readout"], rtol=1e-12, atol=1e-12)
    assert ev.counts.synaptic_events == ref.counts.synaptic_events
