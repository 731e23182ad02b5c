"""hardware.lava_backend: whole networks in Lava's runtime (Loihi2SimCfg fixed_pt) against our engines, bit for bit.

Lava takes seconds to start, so every network of the bit-exactness tests is
exported and run in ONE Lava process (a module-scoped fixture,
``lava_backend.run_many``); the tests then compare each engine with it.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import warnings

import numpy as np
import pytest
import scipy.sparse as sp

import snn
from hardware import lava_backend, loihi
from hardware.errors import ExportError, LavaError, LavaNotFoundError, LavaTimeoutError, LoihiClipWarning

P23 = 2**23
T = 50
pytestmark = pytest.mark.filterwarnings("ignore::hardware.errors.LoihiClipWarning")


def _need_lava() -> str:
    try:
        return lava_backend.lava_python()
    except LavaNotFoundError as exc:
        pytest.skip(f"Lava environment not available ({exc})")


# ------------------------------------------------------------------------------------------
# the networks
DU = [0, 4095, 410, 1, 2048, 4094, 7, 3000]
DV = [4095, 0, 205, 4094, 1, 2048, 100, 12]
VTH = [80, 0, 131071, 1, 500, 20000, 3, 64]
SIGN = [None, "mixed", "excitatory", "inhibitory", "null"]
WEXP = [0, 7, -8, 3, -2, 1, -5, 6]
NWB = [8, 1, 5, 7, 8, 3, 6, 2]


def _weights(rng, shape, sign_mode, density):
    kind = sign_mode or ["mixed", "excitatory", "inhibitory"][int(rng.integers(3))]
    lo, hi = {"mixed": (-320, 320), "excitatory": (0, 320), "null": (0, 320), "inhibitory": (-320, 1)}[kind]
    w = rng.integers(lo, hi, shape)
    limits = {"mixed": [-257, -256, 255, 256, -255], "excitatory": [255, 256, 0], "null": [255, 256], "inhibitory": [-255, -256, 0]}[kind]
    w = np.where(rng.random(shape) < 0.1, rng.choice(limits, shape), w)
    if sign_mode is not None and kind != "mixed" and rng.random() < 0.5:  # a weight of the wrong sign: clipped to 0
        w.flat[0] = -w.flat[0] if w.flat[0] else 5
    return w * (rng.random(shape) < density)


def _lif(rng, n, k, heavy):
    bias_mant = np.where(rng.random(n) < 0.2, rng.choice([-4096, 4095], n), rng.integers(-600, 600, n))
    bias_exp = rng.integers(0, 8 if heavy else 3, n)
    model = loihi.LoihiLIF(du=DU[k % 8], dv=DV[(3 * k) % 8], vth=VTH[k % 8], bias_mant=bias_mant, bias_exp=bias_exp)
    pool = [P23, -P23, P23 - 1, -(P23 - 1), 2**24 + 5, -(2**24), 0]
    u0 = np.where(rng.random(n) < (0.3 if heavy else 0.05), rng.choice(pool, n), rng.integers(-20000, 20000, n))
    v0 = np.where(rng.random(n) < (0.3 if heavy else 0.05), rng.choice(pool, n), rng.integers(-20000, 20000, n))
    return model, {"u": u0, "v": v0}


def _lif_case(k):
    """Spike source -> two LIF populations, feed-forward, lateral and recurrent, Dense and Sparse."""
    rng = np.random.default_rng(100 + k)
    heavy = k % 2 == 1
    net = snn.Network(dt_ms=1.0)
    n_src, n_a, n_b = 16, 16, 10
    rate = 0.9 if k == 1 else 0.15 + 0.05 * (k % 4)
    net.add_population("src", n_src, snn.SpikeSource(rng.random((T, n_src)) < rate))
    names = ["A", 'B"); import os; os.system("echo pwned") #'] if k == 0 else ["A", "B"]
    for name, n, j in ((names[0], n_a, k), (names[1], n_b, k + 3)):
        model, init = _lif(rng, n, j, heavy)
        net.add_population(name, n, model, initial_state=init)
    a, b = names
    specs = [("src", a, 0.9), ("src", b, 0.3), (a, b, 0.5), (b, a, 0.2), (a, a, 0.25)]
    connection = {}
    for m, (pre, post, density) in enumerate(specs):
        i = k + m
        shape = (net.population(post).n, net.population(pre).n)
        syn = loihi.LoihiSynapse(weight_exp=WEXP[i % 8], num_weight_bits=NWB[(i + k) % 8], sign_mode=SIGN[i % 5])
        w = _weights(rng, shape, SIGN[i % 5], density)
        if k == 1 and m == 0:  # every source spike at +255 << 7: a << 6 overflows 3 * 2**23, u stays out of range after the one wrap
            syn, w = loihi.LoihiSynapse(weight_exp=7), np.full(shape, 255)
        proj = net.add_projection(pre, post, weights=w, synapse=syn)
        connection[proj.name] = "dense" if (i % 2 == 0) else "sparse"
    return net, connection, None


def _sigma_delta_case():
    """Sigma-delta neurons (graded messages, cum_error, exponents) into a LIF, and a lone LIF driven by its bias alone."""
    rng = np.random.default_rng(7)
    net = snn.Network(dt_ms=1.0)
    net.add_population("src", 10, snn.SpikeSource(rng.random((T, 10)) < 0.3))
    net.add_population("sd1", 8, loihi.LoihiSigmaDelta(vth=40, bias=rng.integers(-200, 200, 8), act_mode="relu"))
    net.add_population("sd2", 6, loihi.LoihiSigmaDelta(vth=5, bias=3, act_mode="unit", cum_error=True, spike_exp=1, state_exp=2))
    net.add_population("out", 5, loihi.LoihiLIF(du=1000, dv=300, vth=10, bias_mant=-5))
    net.add_projection("src", "sd1", weights=rng.integers(-100, 200, (8, 10)), synapse=loihi.LoihiSynapse(weight_exp=1))
    net.add_projection("sd1", "sd2", weights=rng.integers(-60, 60, (6, 8)), synapse=loihi.LoihiSynapse(weight_exp=-3, num_weight_bits=7))
    net.add_projection(
        "sd2", "sd2", weights=rng.integers(-30, 30, (6, 6)) * (rng.random((6, 6)) < 0.5), synapse=loihi.LoihiSynapse(weight_exp=-4)
    )
    net.add_projection(
        "sd2", "out", weights=rng.integers(0, 100, (5, 6)), synapse=loihi.LoihiSynapse(weight_exp=-2, sign_mode="excitatory")
    )
    # a second component of its own (run by Lava separately)
    net.add_population("lonely", 4, loihi.LoihiLIF(du=0, dv=10, vth=5, bias_mant=[30, 60, -4096, 4095], bias_exp=[1, 2, 7, 7]))
    return net, {"sd2->sd2": "sparse"}, None


def _sources_case():
    """Poisson, external (graded integers) and constant-current sources; a source connected to nothing."""
    rng = np.random.default_rng(8)
    net = snn.Network(dt_ms=1.0)
    net.add_population("poisson", 20, snn.PoissonSource(rate_hz=150.0))
    net.add_population("ext", 6, snn.ExternalInput())
    net.add_population("cur", 3, snn.CurrentSource(amplitude=np.array([3.0, -2.0, 7.0])))
    net.add_population("lif", 12, loihi.LoihiLIF(du=200, dv=50, vth=300, bias_mant=rng.integers(-50, 50, 12)))
    net.add_population("sd3", 4, loihi.LoihiSigmaDelta(vth=10, act_mode="unit"))
    net.add_population("idle_source", 3, snn.SpikeSource(np.ones((5, 3), bool)))
    net.add_projection("poisson", "lif", weights=rng.integers(-128, 256, (12, 20)), synapse=loihi.LoihiSynapse(weight_exp=2))
    net.add_projection("ext", "lif", weights=rng.integers(0, 256, (12, 6)), synapse=loihi.LoihiSynapse())
    net.add_projection("cur", "lif", weights=rng.integers(-20, 20, (12, 3)), synapse=loihi.LoihiSynapse(weight_exp=-1))
    net.add_projection("ext", "sd3", weights=rng.integers(-50, 50, (4, 6)), synapse=loihi.LoihiSynapse())
    inputs = {"ext": rng.integers(-3, 4, (T, 6)).astype(np.float64)}
    return net, {"poisson->lif": "sparse"}, inputs


def _delays_case():
    """Synaptic delays 2..10 (Lava DelayDense/DelaySparse): mixed per synapse, and uniform with a negative exponent."""
    rng = np.random.default_rng(11)
    net = snn.Network(dt_ms=1.0)
    net.add_population("src", 12, snn.SpikeSource(rng.random((T, 12)) < 0.3))
    net.add_population("a", 15, loihi.LoihiLIF(du=300, dv=100, vth=50, bias_mant=rng.integers(-20, 50, 15)))
    net.add_population("b", 9, loihi.LoihiLIF(du=1000, dv=10, vth=30))
    net.add_projection(
        "src",
        "a",
        weights=rng.integers(-200, 256, (15, 12)),
        delay_steps=rng.integers(1, 7, (15, 12)),
        synapse=loihi.LoihiSynapse(weight_exp=2),
    )
    w_ab = sp.random(9, 15, density=0.3, random_state=2, data_rvs=lambda k: rng.integers(-100, 200, k))
    net.add_projection("a", "b", weights=w_ab, delay_steps=4, synapse=loihi.LoihiSynapse(weight_exp=-3))
    w_aa = sp.random(15, 15, density=0.2, random_state=3, data_rvs=lambda k: rng.integers(-100, 100, k)).tocsr()
    net.add_projection("a", "a", weights=w_aa, delay_steps=rng.integers(1, 11, (15, 15)), synapse=loihi.LoihiSynapse(weight_exp=0))
    return net, {"src->a": "dense", "a->b": "sparse", "a->a": "sparse"}, None


def _quantized_case():
    """A float sigma-delta solver of x = W x + b and a float LIF layer, quantized by hardware.loihi.quantize."""
    rng = np.random.default_rng(12)
    n = 10
    w = rng.normal(0.0, 1.0, (n, n))
    w *= 0.6 / np.abs(np.linalg.eigvals(w)).max()
    net = snn.Network(dt_ms=1.0)
    net.add_population("x", n, snn.SigmaDelta(vth=1e-3, bias=rng.uniform(-2.0, 2.0, n)))
    net.add_population("lif", 8, snn.LIF(tau_mem_ms=10.0, tau_syn_ms=4.0, v_th=1.0, bias=0.9))
    net.add_projection("x", "x", weights=w)
    net.add_projection("x", "lif", weights=rng.uniform(-1.0, 3.0, (8, n)))
    qnet, _ = loihi.quantize(net, value_max={"x": 16.0})
    return qnet, {}, None


def _issue_case():
    rng = np.random.default_rng(0)
    raster = rng.random((T, 10)) < 0.3
    net = snn.Network(dt_ms=1.0)
    net.add_population("in", 10, snn.SpikeSource(raster))
    net.add_population(
        "lif",
        20,
        loihi.LoihiLIF(du=410, dv=205, vth=80, bias_mant=rng.integers(-200, 400, 20), bias_exp=0),
        initial_state={"u": rng.integers(-5000, 5000, 20), "v": rng.integers(-5000, 5000, 20)},
    )
    net.add_projection(
        "in", "lif", weights=rng.integers(-256, 256, (20, 10)), delay_steps=1, synapse=loihi.LoihiSynapse(weight_exp=0, num_weight_bits=8)
    )
    return net, {}, None


def _record_for(net):
    """spikes, every state variable, and the graded outputs where there are graded populations."""
    names = ["spikes"] + (["outputs"] if any(p.model.graded for p in net.populations) else [])
    for p in net.populations:
        names += [v for v in p.model.state_vars if v not in names]
    return tuple(names)


CASES = {f"lif{k}": (lambda k=k: _lif_case(k)) for k in range(8)}
CASES.update(issue=_issue_case, sigma_delta=_sigma_delta_case, sources=_sources_case, delays=_delays_case, quantized=_quantized_case)


@pytest.fixture(scope="module")
def lava_runs():
    """Every case, run by Lava in one subprocess (per case: network, inputs, Lava's RunResult)."""
    py = _need_lava()
    built = {name: make() for name, make in CASES.items()}
    out = {}
    nets = list(built.items())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LoihiClipWarning)
        results = lava_backend.run_many(
            [net for _, (net, _, _) in nets],
            T,
            record=[_record_for(net) for _, (net, _, _) in nets],
            inputs=[inp for _, (_, _, inp) in nets],
            connection=[conn for _, (_, conn, _) in nets],
            python=py,
        )
    for (name, (net, _, inp)), res in zip(nets, results):
        out[name] = (net, inp, res)
    return out


@pytest.mark.lava
@pytest.mark.parametrize("engine", snn.engine_names())
@pytest.mark.parametrize("case", list(CASES))
def test_engines_match_lava_bit_for_bit(lava_runs, case, engine):
    net, inputs, lava = lava_runs[case]
    ours = snn.simulate(net, T, engine=engine, record=_record_for(net), inputs=inputs, seed=0)
    for p in net.populations:
        np.testing.assert_array_equal(np.asarray(ours.spikes[p.name]), lava.spikes[p.name], err_msg=f"{case}: spikes of {p.name!r}")
        for var in p.model.state_vars:
            np.testing.assert_array_equal(
                np.asarray(ours.traces[p.name][var]), lava.traces[p.name][var], err_msg=f"{case}: {var} of {p.name!r}"
            )
            np.testing.assert_array_equal(
                np.asarray(ours.state.populations[p.name][var]),
                lava.state.populations[p.name][var],
                err_msg=f"{case}: final {var} of {p.name!r}",
            )
        if p.name in lava.outputs:
            np.testing.assert_array_equal(np.asarray(ours.outputs[p.name]), lava.outputs[p.name], err_msg=f"{case}: outputs of {p.name!r}")
    assert ours.counts.to_dict() == lava.counts.to_dict()
    assert lava.engine == "lava"
    # Lava's a_buff (already shifted by the weight exponent) read back as the state's in-flight sums: same deliveries
    assert lava.state.t == ours.state.t == T and lava.state.structure == ours.state.structure
    for pr in net.projections:
        params = pr.synapse.params()
        np.testing.assert_array_equal(
            loihi.loihi_synapse_kernel(params, np.asarray(ours.state.in_flight[pr.name])),
            loihi.loihi_synapse_kernel(params, np.asarray(lava.state.in_flight[pr.name])),
            err_msg=f"{case}: in flight on {pr.name!r}",
        )


@pytest.mark.lava
def test_the_cases_reach_the_extremes(lava_runs):
    """The bit-exact comparison covers what the issue lists: saturation, wraps, clip limits, decays 0/4095, ..."""
    u_all, v_all = [], []
    spiking = 0
    for net, _, lava in lava_runs.values():
        for p in net.populations:
            if isinstance(p.model, loihi.LoihiLIF):
                u_all.append(lava.traces[p.name]["u"].ravel())
                v_all.append(lava.traces[p.name]["v"].ravel())
                spiking += int(lava.spikes[p.name].any())
    u, v = np.concatenate(u_all), np.concatenate(v_all)
    assert np.any(v == -(P23 - 1)), "v saturated at the negative limit"
    assert np.any(u > P23) or np.any(u < -P23), "u left the 24-bit range through Lava's single wrap"
    assert np.any(np.abs(u) > P23 // 2) and np.any(v == 0)
    assert spiking >= 15
    syns = [pr.synapse for net, _, _ in lava_runs.values() for pr in net.projections]
    assert {s.sign_mode for s in syns} >= {None, "mixed", "excitatory", "inhibitory", "null"}
    assert min(s.weight_exp for s in syns) <= -5 and max(s.weight_exp for s in syns) >= 6
    assert min(s.num_weight_bits for s in syns) <= 2
    models = [p.model for net, _, _ in lava_runs.values() for p in net.populations if isinstance(p.model, loihi.LoihiLIF)]
    assert {0, 4095} <= {m.du for m in models} and {0, 4095} <= {m.dv for m in models}
    bias = np.concatenate([np.atleast_1d(m.bias_mant) for m in models])
    assert bias.min() == -4096 and bias.max() == 4095
    clipped = [
        int(np.count_nonzero(pr.synapse.prepare(pr.weights).data != pr.weights.data))
        for net, _, _ in lava_runs.values()
        for pr in net.projections
    ]
    assert sum(clipped) > 50


# ------------------------------------------------------------------------------------------
# the export folder
def _issue_net():
    return _issue_case()[0]


def test_export_writes_a_self_contained_folder_with_names_only_as_data(tmp_path):
    net = _lif_case(0)[0]  # has a population named 'B"); import os; os.system("echo pwned") #'
    info = lava_backend.export(net, tmp_path / "deploy", n_steps=T, engine="reference")
    folder = tmp_path / "deploy"
    assert sorted(p.name for p in folder.iterdir()) == [
        "README.md",
        "arrays.npz",
        "lava_procs.py",
        "lava_session.py",
        "manifest.json",
        "run.py",
    ]
    assert (folder / "run.py").read_bytes() == lava_backend.RUNNER_PATH.read_bytes()  # static: nothing templated
    assert (folder / "lava_procs.py").read_bytes() == lava_backend.PROCS_PATH.read_bytes()
    manifest = json.loads((folder / "manifest.json").read_text())
    names = [p["name"] for p in manifest["populations"]]
    assert names == [p.name for p in net.populations]
    assert all("pwned" not in (folder / f).read_text() for f in ("README.md", "run.py", "lava_procs.py"))
    with np.load(folder / "arrays.npz", allow_pickle=False) as z:
        assert all(not k.startswith(("B", "A")) for k in z.files)
        assert z["proj0.data"].dtype == np.int32
    ref = snn.simulate(net, T, engine="reference")
    assert manifest["expected"]["spike_counts"] == [ref.counts.spikes_per_population[p.name] for p in net.populations]
    assert info.expected_spike_counts == dict(ref.counts.spikes_per_population)
    # connection="auto": Dense when at least a quarter of the matrix is stored
    expected = ["dense" if pr.n_synapses >= 0.25 * np.prod(pr.weights.shape) else "sparse" for pr in net.projections]
    assert [p["connection"] for p in manifest["projections"]] == expected and set(expected) == {"dense", "sparse"}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary folder left


@pytest.mark.lava
def test_run_py_runs_on_its_own_checks_itself_and_takes_steps(tmp_path):
    """The exported folder alone: `python run.py` exits 0 and says ok; `--steps` runs longer, sources silent after the raster."""
    py = _need_lava()
    net = _issue_net()
    lava_backend.export(net, tmp_path / "d", n_steps=T, engine="reference")
    proc = subprocess.run([py, "run.py", "--monitor"], cwd=tmp_path / "d", capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "ok   population 'lif'" in proc.stdout and "DIFF" not in proc.stdout
    # tamper with the expected counts: run.py notices and exits 3
    manifest = json.loads((tmp_path / "d" / "manifest.json").read_text())
    manifest["expected"]["spike_counts"][1] += 1
    (tmp_path / "d" / "manifest.json").write_text(json.dumps(manifest))
    proc = subprocess.run(
        [py, "run.py", "--steps", str(T + 20), "--out", str(tmp_path / "long.npz")],
        cwd=tmp_path / "d",
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]  # a different number of steps: no comparison
    with np.load(tmp_path / "long.npz", allow_pickle=False) as z:
        ours = snn.simulate(net, T + 20, record=("spikes", "u", "v"))
        np.testing.assert_array_equal(z["pop1.v"], ours.traces["lif"]["v"])
        np.testing.assert_array_equal(z["pop1.spikes"].astype(bool), ours.spikes["lif"])
        assert float(z["timing.run_s"]) > 0
    proc = subprocess.run([py, "run.py", "--quiet"], cwd=tmp_path / "d", capture_output=True, text=True, timeout=300)
    assert proc.returncode == 3


def test_export_is_atomic_and_refuses_what_lava_cannot_run(tmp_path):
    target = tmp_path / "out"
    net = snn.Network()
    net.add_population("in", 3, snn.SpikeSource(np.ones((4, 3), bool)))
    net.add_population("f", 2, snn.LIF())
    net.add_projection("in", "f", weights=np.ones((2, 3)))
    with pytest.raises(ExportError, match="LIF"):
        lava_backend.export(net, target, n_steps=4)
    assert list(tmp_path.iterdir()) == []
    good = _issue_net()
    lava_backend.export(good, target, n_steps=5)
    with pytest.raises(ExportError, match="exists already"):
        lava_backend.export(good, target, n_steps=5)
    lava_backend.export(good, target, n_steps=7, overwrite=True)
    assert json.loads((target / "manifest.json").read_text())["n_steps"] == 7
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    mixed = _delays_case()[0]
    negative = _with(mixed, synapse=loihi.LoihiSynapse(weight_exp=-1))
    for bad, words in ((_with(good, delay=65), "delay_steps"), (_with(good, synapse=None), "LoihiSynapse"), (negative, "different delays")):
        with pytest.raises(ExportError, match=words):
            lava_backend.export(bad, tmp_path / "x", n_steps=5)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


@pytest.mark.parametrize(("mask", "file_mode", "dir_mode"), [(0o027, 0o640, 0o750), (0o002, 0o664, 0o775)], ids=["umask027", "umask002"])
def test_export_folder_and_lava_results_follow_the_umask(tmp_path, mask, file_mode, dir_mode):
    """The folder and its files get what mkdir/open give under the umask; the two scripts are executable."""
    from hardware import _lava_runner

    def mode(path):
        return stat.S_IMODE(os.stat(path).st_mode)

    old = os.umask(mask)
    try:
        lava_backend.export(_issue_net(), tmp_path / "out", n_steps=5)
        lava_backend.export(_issue_net(), tmp_path / "out", n_steps=6, overwrite=True)
        _lava_runner._write_npz(str(tmp_path / "out" / "results.npz"), {"a": np.arange(3)})  # what run.py writes
    finally:
        os.umask(old)
    folder = tmp_path / "out"
    assert mode(folder) == dir_mode
    scripts = {"run.py", "lava_session.py"}
    files = {p.name: mode(p) for p in folder.iterdir()}
    assert files == {name: (dir_mode if name in scripts else file_mode) for name in files} and scripts < set(files)
    assert (folder / "run.py").read_bytes() == lava_backend.RUNNER_PATH.read_bytes()
    assert (folder / "lava_session.py").read_bytes() == lava_backend.SESSION_PATH.read_bytes()
    with np.load(folder / "results.npz", allow_pickle=False) as z:
        np.testing.assert_array_equal(z["a"], [0, 1, 2])
    assert json.loads((folder / "manifest.json").read_text())["n_steps"] == 6
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def _with(net, *, delay=None, synapse="keep"):
    out = snn.Network(dt_ms=net.dt_ms)
    for p in net.populations:
        out.add_population(p.name, p.n, p.model, initial_state=dict(p.initial_state))
    for pr in net.projections:
        delays = sp.csr_matrix((pr.delays.astype(float), pr.weights.indices, pr.weights.indptr), shape=pr.weights.shape).toarray()
        out.add_projection(
            pr.pre,
            pr.post,
            weights=pr.weights,
            delay_steps=delays if delay is None else delay,
            synapse=pr.synapse if synapse == "keep" else synapse,
        )
    return out


# ------------------------------------------------------------------------------------------
# errors of the subprocess: missing, crashing, hanging Lava
def _fake_python(tmp_path, body):
    path = tmp_path / "fake-python"
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return str(path)


def test_missing_lava_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv(lava_backend.LAVA_PYTHON_ENV, str(tmp_path / "nope" / "python"))
    with pytest.raises(LavaNotFoundError, match="SNN_LAVA_PYTHON"):
        lava_backend.lava_python()
    with pytest.raises(LavaNotFoundError):
        lava_backend.run(_issue_net(), 3)
    # an interpreter without Lava (this one): Lava's import error comes back
    with pytest.raises(LavaNotFoundError, match="No module named 'lava'"):
        lava_backend.run(_issue_net(), 3, python=sys.executable)


def test_lava_crash_reports_its_stderr(tmp_path):
    py = _fake_python(tmp_path, 'echo "Traceback: the Lava runtime exploded" >&2; exit 7')
    with pytest.raises(LavaError, match="status 7") as info:
        lava_backend.run(_issue_net(), 3, python=py)
    assert "Traceback: the Lava runtime exploded" in str(info.value)
    assert isinstance(info.value, snn.errors.SNNError)


def test_lava_timeout_kills_it(tmp_path):
    marker = tmp_path / "child.pid"
    # the fake Lava starts a worker child (as Lava does) and hangs
    py = _fake_python(tmp_path, f'sleep 300 & echo $! > {marker}; echo "compiling..." >&2; wait')
    with pytest.raises(LavaTimeoutError, match="compiling"):
        lava_backend.run(_issue_net(), 3, python=py, timeout_s=1.0)
    pid = int(marker.read_text())
    for _ in range(50):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        import time

        time.sleep(0.1)
    else:
        pytest.fail("the worker of the timed-out Lava run is still alive")


def test_lava_python_default_and_override(monkeypatch, tmp_path):
    monkeypatch.delenv(lava_backend.LAVA_PYTHON_ENV, raising=False)
    try:
        found = lava_backend.lava_python()
    except LavaNotFoundError:
        pytest.skip("no .venv-lava here")
    assert found.endswith(os.path.join(".venv-lava", "bin", "python"))
    fake = _fake_python(tmp_path, "exit 0")
    monkeypatch.setenv(lava_backend.LAVA_PYTHON_ENV, fake)
    assert lava_backend.lava_python() == fake


@pytest.mark.lava
def test_fixed_point_simulator_on_lava_matches_the_engines():
    """solve(..., simulate=fixed_point_simulator()) with engine="lava": a float network quantized and run by Lava itself."""
    _need_lava()
    rng = np.random.default_rng(3)
    net = snn.Network(dt_ms=1.0)
    net.add_population("in", 20, snn.SpikeSource(rng.random((40, 20)) < 0.2))
    net.add_population("exc", 30, snn.LIF(tau_mem_ms=10.0, tau_syn_ms=3.0, v_th=1.0, bias=rng.uniform(0, 0.1, 30)))
    net.add_projection("in", "exc", weights=sp.random(30, 20, density=0.3, random_state=1) * 2.0)
    net.add_projection("exc", "exc", weights=rng.normal(0, 0.2, (30, 30)))
    sim = loihi.fixed_point_simulator()
    on_lava = sim(net, 40, engine="lava", record=("spikes", "v"))
    ours = sim(net, 40, engine="reference", record=("spikes", "v"))
    assert on_lava.spikes["exc"].sum() > 20
    np.testing.assert_array_equal(on_lava.spikes["exc"], ours.spikes["exc"])
    np.testing.assert_array_equal(on_lava.traces["exc"]["v"], ours.traces["exc"]["v"])
    assert on_lava.engine == "lava+loihi"
