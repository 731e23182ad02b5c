"""hardware.loihi: the fixed-point kernels against Lava's own process models, quantization against the float model.

The oracle is Lava 0.10 itself: ``_lava_oracle.py`` runs in ``.venv-lava`` and
steps ``PyLifModelBitAcc``, ``PyDenseModelBitAcc``, ``PySparseModelBitAcc`` and
``PySigmaDeltaModelFixed`` (their real ``run_spk``) on thousands of random and
extreme values in one subprocess.  Whole networks through Lava's runtime are
in test_lava.py.
"""

from __future__ import annotations

import json
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

import snn
from hardware import loihi
from hardware.errors import LavaNotFoundError, LoihiClipWarning, QuantizationError
from snn.kernels import specialize

ORACLE = Path(__file__).with_name("_lava_oracle.py")
I32_MIN, I32_MAX = -(2**31), 2**31 - 1
P23 = 2**23


def _lava_python() -> str:
    from hardware.lava_backend import lava_python

    try:
        return lava_python()
    except LavaNotFoundError as exc:
        pytest.skip(f"Lava environment not available ({exc})")


def _mix(rng, shape, base, pool, p_pool=0.25):
    """``base`` values with a fraction replaced by values drawn from the extreme ``pool``."""
    out = np.asarray(base, dtype=np.int64).copy()
    mask = rng.random(shape) < p_pool
    out[mask] = rng.choice(np.asarray(pool, dtype=np.int64), size=int(mask.sum()))
    return out


STATE_POOL = [0, 1, -1, P23, -P23, P23 - 1, -(P23 - 1), P23 + 1, -P23 - 1, 2**24, -(2**24), I32_MAX, I32_MIN, 123456, -654321]
INPUT_POOL = [0, 1, -1, 255, -256, 2**17, -(2**17), 2**25, -(2**25), 2**25 - 1, -(2**25) - 1, 2**26 + 3, I32_MAX, I32_MIN, 2**30, -(2**30)]
LIF_CONFIGS = [  # (du, dv, vth): the decay extremes 0/4095 and the threshold extremes
    (0, 0, 0),
    (4095, 4095, 131071),
    (0, 4095, 1),
    (4095, 0, 80),
    (410, 205, 80),
    (1, 1, 1000),
    (2047, 4094, 131071),
    (4094, 2048, 5),
    (12, 3000, 64),
    (3000, 12, 20000),
]


def _lif_cases(rng):
    cases, arrays = [], {}
    n, steps = 40, 48
    for k, (du, dv, vth) in enumerate(LIF_CONFIGS * 2):
        heavy = k >= len(LIF_CONFIGS)  # second round: saturating inputs and states
        bias_mant = _mix(rng, n, rng.integers(-4096, 4096, n), [-4096, 4095, 0])
        bias_exp = rng.integers(0, 8, n)
        u0 = _mix(rng, n, rng.integers(-(2**22), 2**22, n), STATE_POOL, 0.5 if heavy else 0.1)
        v0 = _mix(rng, n, rng.integers(-(2**22), 2**22, n), STATE_POOL, 0.5 if heavy else 0.1)
        base = rng.integers(-3000, 3000, (steps, n)) * (rng.random((steps, n)) < 0.5)
        a = _mix(rng, (steps, n), base, INPUT_POOL, 0.3 if heavy else 0.02)
        cases.append({"du": du, "dv": dv, "vth": vth})
        for name, value in (("bias_mant", bias_mant), ("bias_exp", bias_exp), ("u0", u0), ("v0", v0), ("a", a)):
            arrays[f"lif{k}.{name}"] = value
    return cases, arrays


def _conn_cases(rng):
    cases, arrays = [], {}
    n_out, n_in, steps = 12, 16, 24
    kinds = {
        "wide": lambda: rng.integers(-700, 700, (n_out, n_in)),
        "positive": lambda: rng.integers(0, 500, (n_out, n_in)),
        "negative": lambda: rng.integers(-500, 1, (n_out, n_in)),
        "limits": lambda: rng.choice([-257, -256, -255, -254, -1, 0, 1, 253, 254, 255, 256], (n_out, n_in)),
    }
    k = 0
    for sparse in (False, True):
        for sign_mode in (None, "mixed", "excitatory", "inhibitory", "null"):
            for wkind, make in kinds.items():
                w = make() * (rng.random((n_out, n_in)) < (0.4 if sparse else 0.9))
                graded = (k % 3) == 2
                if graded:
                    s = rng.integers(-(2**12), 2**12, (steps, n_in)) * (rng.random((steps, n_in)) < 0.5)
                    s = _mix(rng, (steps, n_in), s, [2**20, -(2**20), 2**23 - 1, -(2**23)], 0.05)
                else:
                    s = (rng.random((steps, n_in)) < 0.4).astype(np.int64)
                cases.append(
                    {
                        "sparse": sparse,
                        "sign_mode": sign_mode,
                        "weight_exp": int(rng.integers(-8, 8)),
                        "num_weight_bits": int(rng.integers(1, 9)),
                        "num_message_bits": 24 if graded else 0,
                        "kind": wkind,
                    }
                )
                arrays[f"conn{k}.w"] = w
                arrays[f"conn{k}.s"] = s
                k += 1
    return cases, arrays


def _sd_cases(rng):
    cases, arrays = [], {}
    n, steps = 32, 40
    k = 0
    for act_mode in ("relu", "unit"):
        for cum_error in (False, True):
            for vth, spike_exp, state_exp in ((0, 0, 0), (1, 0, 0), (50, 1, 2), (2**20, 3, 3), (7, 0, 6)):
                bias = rng.integers(-(2**12), 2**12, n)
                a = rng.integers(-1000, 1000, (steps, n)) * (rng.random((steps, n)) < 0.4)
                a = _mix(rng, (steps, n), a, [2**30, -(2**30), I32_MAX, I32_MIN, 2**24], 0.03)
                cases.append({"vth": vth, "act_mode": act_mode, "cum_error": cum_error, "spike_exp": spike_exp, "state_exp": state_exp})
                arrays[f"sd{k}.bias"] = bias
                arrays[f"sd{k}.a"] = a
                k += 1
    return cases, arrays


@pytest.fixture(scope="module")
def oracle(tmp_path_factory):
    """All cases stepped by Lava's process models, in one subprocess."""
    py = _lava_python()
    rng = np.random.default_rng(20240611)
    lif_cases, lif_arrays = _lif_cases(rng)
    conn_cases, conn_arrays = _conn_cases(rng)
    sd_cases, sd_arrays = _sd_cases(rng)
    folder = tmp_path_factory.mktemp("oracle")
    header = {"lif": lif_cases, "conn": conn_cases, "sd": sd_cases}
    arrays = {**lif_arrays, **conn_arrays, **sd_arrays, "header": np.array(json.dumps(header))}
    np.savez(folder / "spec.npz", **arrays)
    proc = subprocess.run([py, str(ORACLE), str(folder / "spec.npz"), str(folder / "out.npz")], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-4000:]
    with np.load(folder / "out.npz", allow_pickle=False) as z:
        out = {k: z[k] for k in z.files}
    return header, arrays, out


def _namespaces():
    """(name, run) pairs: the kernels under numpy, torch and numba (those installed)."""
    spaces = [("numpy", lambda fn: fn, np.asarray, np.asarray)]
    try:
        import torch

        spaces.append(("torch", lambda fn: specialize(fn, torch), lambda a: torch.as_tensor(np.asarray(a)), lambda t: t.numpy()))
    except ImportError:
        pass
    try:
        import numba

        spaces.append(("numba", lambda fn: numba.njit(specialize(fn, np)), np.asarray, np.asarray))
    except ImportError:
        pass
    return spaces


@pytest.mark.lava
@pytest.mark.parametrize("space", _namespaces(), ids=lambda s: s[0])
def test_lif_kernel_matches_lava_bit_for_bit(oracle, space):
    header, arrays, out = oracle
    _, wrap, to, back = space
    kernel = wrap(loihi.loihi_lif_kernel)
    n_spikes = 0
    for k, case in enumerate(header["lif"]):
        a = arrays[f"lif{k}.a"]
        n = a.shape[1]
        model = loihi.LoihiLIF(
            du=case["du"], dv=case["dv"], vth=case["vth"], bias_mant=arrays[f"lif{k}.bias_mant"], bias_exp=arrays[f"lif{k}.bias_exp"]
        )
        params = tuple(to(p) for p in model.params(n, 1.0))
        state = (to(arrays[f"lif{k}.u0"]), to(arrays[f"lif{k}.v0"]))
        us, vs, ss = [], [], []
        for t in range(a.shape[0]):
            s, state = kernel(params, state, to(a[t]), t, 0)
            us.append(back(state[0]))
            vs.append(back(state[1]))
            ss.append(back(s))
        np.testing.assert_array_equal(np.array(us), out[f"lif{k}.u"], err_msg=f"u, case {k} {case}")
        np.testing.assert_array_equal(np.array(vs), out[f"lif{k}.v"], err_msg=f"v, case {k} {case}")
        np.testing.assert_array_equal(np.array(ss).astype(np.int64), out[f"lif{k}.s"], err_msg=f"spikes, case {k} {case}")
        n_spikes += int(out[f"lif{k}.s"].sum())
    # the cases reach the quirks they are meant to: saturated v (+max always spikes: vth << 6 < 2**23 - 1),
    # u left past 2**23 by the single wrap, u == +2**23 kept, spikes
    all_v = np.concatenate([out[f"lif{k}.v"].ravel() for k in range(len(header["lif"]))])
    all_u = np.concatenate([out[f"lif{k}.u"].ravel() for k in range(len(header["lif"]))])
    assert np.any(all_v == -(P23 - 1))
    assert np.any(np.abs(all_u) > P23) and np.any(all_u == P23)
    assert n_spikes > 1000


@pytest.mark.lava
@pytest.mark.parametrize("space", _namespaces(), ids=lambda s: s[0])
def test_synapse_weights_and_kernel_match_lava_dense_and_sparse(oracle, space):
    header, arrays, out = oracle
    _, wrap, to, back = space
    kernel = wrap(loihi.loihi_synapse_kernel)
    clipped_cases = 0
    for k, case in enumerate(header["conn"]):
        w, s = arrays[f"conn{k}.w"], arrays[f"conn{k}.s"]
        syn = loihi.LoihiSynapse(weight_exp=case["weight_exp"], num_weight_bits=case["num_weight_bits"], sign_mode=case["sign_mode"])
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", LoihiClipWarning)
            wq = syn.prepare(sp.csr_matrix(w.astype(np.float64)))
        clipped_cases += bool(caught)
        np.testing.assert_array_equal(wq.toarray(), out[f"conn{k}.weights"], err_msg=f"weights, case {k} {case}")
        params = tuple(to(p) for p in syn.params())
        sent = [np.zeros(w.shape[0], dtype=np.int64)]  # Lava sends its (empty) buffer first: the one-step delay
        for t in range(s.shape[0] - 1):
            values = s[t] if case["num_message_bits"] else (s[t] != 0).astype(np.int64)
            acc = wq @ values
            sent.append(back(kernel(params, to(np.asarray(acc, dtype=np.int64)))))
        np.testing.assert_array_equal(np.array(sent), out[f"conn{k}.sent"], err_msg=f"sent, case {k} {case}")
    assert clipped_cases > 10


@pytest.mark.lava
@pytest.mark.parametrize("space", _namespaces(), ids=lambda s: s[0])
def test_sigma_delta_kernel_matches_lava(oracle, space):
    header, arrays, out = oracle
    _, wrap, to, back = space
    kernel = wrap(loihi.loihi_sigma_delta_kernel)
    for k, case in enumerate(header["sd"]):
        a, bias = arrays[f"sd{k}.a"], arrays[f"sd{k}.bias"]
        model = loihi.LoihiSigmaDelta(bias=bias, **case)
        params = tuple(to(p) for p in model.params(a.shape[1], 1.0))
        state = tuple(to(np.zeros(a.shape[1], dtype=np.int64)) for _ in range(4))
        rec = {name: [] for name in ("s_out", "sigma", "act", "residue", "error")}
        for t in range(a.shape[0]):
            s, state = kernel(params, state, to(a[t]), t, 0)
            rec["s_out"].append(back(s))
            for name, value in zip(("sigma", "act", "residue", "error"), state):
                rec[name].append(back(value))
        for name, values in rec.items():
            np.testing.assert_array_equal(np.array(values), out[f"sd{k}.{name}"], err_msg=f"{name}, case {k} {case}")


# ------------------------------------------------------------------------------------------
# the API of the issue, on every engine
def _issue_network(seed=0, T=60):
    rng = np.random.default_rng(seed)
    raster = rng.random((T, 10)) < 0.3
    b = rng.integers(-200, 400, 20)
    u0, v0 = rng.integers(-5000, 5000, 20), rng.integers(-5000, 5000, 20)
    W_int = rng.integers(-256, 256, (20, 10))
    net = snn.Network(dt_ms=1.0)
    net.add_population("in", 10, snn.SpikeSource(raster))
    net.add_population("lif", 20, loihi.LoihiLIF(du=410, dv=205, vth=80, bias_mant=b, bias_exp=0), initial_state={"u": u0, "v": v0})
    net.add_projection("in", "lif", weights=W_int, delay_steps=1, synapse=loihi.LoihiSynapse(weight_exp=0, num_weight_bits=8))
    return net, raster, W_int, b, u0, v0


def test_issue_snippet_follows_the_lava_equations_by_hand():
    """The reference engine against a direct transcription of Lava's run_spk (python ints, per neuron)."""
    T = 60
    net, raster, W_int, b, u0, v0 = _issue_network(T=T)
    res = snn.simulate(net, n_steps=T, engine="reference", record=("spikes", "u", "v"))
    w = W_int.copy()
    w = (w >> 1) << 1  # mixed signs, 8 bits: Lava clears the lowest bit
    u, v = [int(x) for x in u0], [int(x) for x in v0]
    buff = [0] * 20
    for t in range(T):
        a = buff
        buff = [int(w[i] @ raster[t].astype(np.int64)) for i in range(20)]
        for i in range(20):
            du_ = (abs(u[i] * (4096 - 411)) >> 12) * (1 if u[i] >= 0 else -1)
            u[i] = du_ + (a[i] << 6)
            dv_ = (abs(v[i] * (4096 - 205)) >> 12) * (1 if v[i] >= 0 else -1)
            v[i] = max(min(dv_ + u[i] + int(b[i]), P23 - 1), -(P23 - 1))
            spike = v[i] > 80 * 64
            if spike:
                v[i] = 0
            assert res.spikes["lif"][t, i] == spike
        assert res.traces["lif"]["u"][t].tolist() == u
        assert res.traces["lif"]["v"][t].tolist() == v
    assert res.spikes["lif"].sum() > 50


@pytest.mark.parametrize("engine", snn.engine_names())
def test_issue_snippet_runs_identically_on_every_engine(engine):
    net, *_ = _issue_network(seed=3)
    ref = snn.simulate(net, n_steps=60, engine="reference", record=("spikes", "u", "v"))
    res = snn.simulate(net, n_steps=60, engine=engine, record=("spikes", "u", "v"))
    np.testing.assert_array_equal(res.spikes["lif"], ref.spikes["lif"])
    for var in ("u", "v"):
        np.testing.assert_array_equal(np.asarray(res.traces["lif"][var]), ref.traces["lif"][var])
    assert res.counts.to_dict() == ref.counts.to_dict()


def test_loihi_network_save_load_round_trip(tmp_path):
    net, *_ = _issue_network(seed=5)
    snn.save(net, tmp_path / "net.npz")
    back = snn.load(tmp_path / "net.npz")
    a = snn.simulate(net, 40, record=("spikes", "u", "v"))
    b = snn.simulate(back, 40, record=("spikes", "u", "v"))
    np.testing.assert_array_equal(a.traces["lif"]["v"], b.traces["lif"]["v"])
    assert back.projections[0].synapse == net.projections[0].synapse


# ------------------------------------------------------------------------------------------
# validation
@pytest.mark.parametrize(
    "kwargs, exc, words",
    [
        ({"du": 4096, "dv": 0, "vth": 1}, QuantizationError, "du=4096"),
        ({"du": 0, "dv": -1, "vth": 1}, QuantizationError, "dv=-1"),
        ({"du": 0, "dv": 0, "vth": 131072}, QuantizationError, "vth=131072"),
        ({"du": 410.0, "dv": 0, "vth": 1}, snn.errors.SNNTypeError, "must be an int"),
        ({"du": 0, "dv": 0, "vth": 1, "bias_mant": 4096}, QuantizationError, "bias_mant=4096"),
        ({"du": 0, "dv": 0, "vth": 1, "bias_mant": [1, -4097]}, QuantizationError, "-4097"),
        ({"du": 0, "dv": 0, "vth": 1, "bias_exp": 8}, QuantizationError, "bias_exp=8"),
        ({"du": 0, "dv": 0, "vth": 1, "bias_mant": [0.5, 1.0]}, QuantizationError, "non-integer"),
    ],
)
def test_loihi_lif_rejects_values_outside_its_registers(kwargs, exc, words):
    with pytest.raises(exc, match=words) as info:
        loihi.LoihiLIF(**kwargs)
    assert isinstance(info.value, snn.errors.SNNError)


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"weight_exp": 8}, "weight_exp=8"),
        ({"weight_exp": -9}, "weight_exp=-9"),
        ({"num_weight_bits": 0}, "num_weight_bits=0"),
        ({"sign_mode": "positive"}, "sign_mode"),
    ],
)
def test_loihi_synapse_rejects_bad_arguments(kwargs, words):
    with pytest.raises(QuantizationError, match=words):
        loihi.LoihiSynapse(**kwargs)


def test_synapse_warns_with_the_number_of_clipped_weights_and_accepts_lava_sign_mode_names():
    syn = loihi.LoihiSynapse(sign_mode="MIXED")
    assert syn.sign_mode == "mixed"
    w = sp.csr_matrix(np.array([[300.0, -3.0, 3.0], [-400.0, 0.0, 7.5]]))
    with pytest.warns(LoihiClipWarning, match="2 of 5 weights outside \\[-256, 255\\]"):
        with pytest.warns(LoihiClipWarning, match="1 of 5 weights are not integers"):
            wq = syn.prepare(w)
    # clip to [-256, 255], then clear the lowest bit (mixed, 8 bits): toward -inf
    np.testing.assert_array_equal(wq.toarray(), [[254, -4, 2], [-256, 0, 6]])


# ------------------------------------------------------------------------------------------
# quantization of float networks
def _float_network(seed=0, tau_syn=5.0, n=200):
    rng = np.random.default_rng(seed)
    net = snn.Network(dt_ms=1.0)
    net.add_population("in", 60, snn.PoissonSource(rate_hz=40.0))
    net.add_population("exc", n, snn.LIF(tau_mem_ms=20.0, tau_syn_ms=tau_syn, v_th=1.0, v_reset=-0.1, bias=rng.uniform(0.2, 0.8, n)))
    net.add_projection("in", "exc", weights=sp.random(n, 60, density=0.2, random_state=1, data_rvs=lambda k: rng.uniform(0.1, 0.6, k)))
    net.add_projection("exc", "exc", weights=sp.random(n, n, density=0.05, random_state=2, data_rvs=lambda k: rng.normal(0.0, 0.2, k)))
    return net


@pytest.mark.parametrize("tau_syn", [None, 5.0])
def test_quantize_report_matches_an_independent_computation(tau_syn):
    net = _float_network(tau_syn=tau_syn)
    qnet, rep = loihi.quantize(net)
    pop = qnet.population("exc").model
    assert isinstance(pop, loihi.LoihiLIF)
    alpha = np.exp(-1.0 / 20.0)
    assert pop.dv == 4096 - round(4096 * alpha)
    assert rep.populations["exc"].decay_v_rel_error == pytest.approx(abs((4096 - pop.dv) / 4096 - alpha) / alpha, rel=1e-12)
    if tau_syn is None:
        assert pop.du == 4095  # delta synapses: u holds only this step's input
    else:
        beta = np.exp(-1.0 / tau_syn)
        assert pop.du == 4095 - round(4096 * beta)
        assert rep.populations["exc"].decay_u_rel_error == pytest.approx(abs((4095 - pop.du) / 4096 - beta) / beta, rel=1e-12)
    assert pop.vth == 2**23 // (8 * 64)  # the headroom limit: |v| up to 8 threshold distances fits 24 bits
    assert rep.max_threshold_rel_error < 1e-12
    for name in ("in->exc", "exc->exc"):
        q = rep.projections[name]
        syn = qnet.projection(name).synapse
        assert (syn.weight_exp, syn.sign_mode) == (q.weight_exp, q.sign_mode)
        mant = qnet.projection(name).weights.data
        # the largest weight uses the 8-bit mantissa (its top bit is set) ...
        assert q.max_mantissa == np.abs(mant).max() and q.max_mantissa >= 128
        # ... and rounding to the mantissa grid (step 2 for mixed signs) errs by at most half a step
        step = 2 if q.sign_mode == "mixed" else 1
        assert 0 < q.max_rel_error <= step / 2 / (q.max_mantissa - step / 2)
    assert rep.projections["exc->exc"].sign_mode == "mixed" and rep.projections["in->exc"].sign_mode == "excitatory"
    assert rep.max_bias_rel_error < 2.0**-12
    assert json.loads(json.dumps(rep.to_dict()))["populations"]["exc"]["vth"] == pop.vth


def _dequantized(net, qnet, rep, name):
    """The float LIF that the quantized parameters of population ``name`` stand for (weights, decays, bias)."""
    q = qnet.population(name).model
    pq = rep.populations[name]
    orig = net.population(name).model
    alpha_q = (4096 - q.dv) / 4096
    tau_mem = -net.dt_ms / np.log(alpha_q)
    tau_syn = None if orig.tau_syn_ms is None else -net.dt_ms / np.log((4095 - q.du) / 4096)
    bias_int = np.asarray(q.bias_mant, dtype=np.float64) * 2.0 ** np.asarray(q.bias_exp)
    model = snn.LIF(
        tau_mem_ms=tau_mem, tau_syn_ms=tau_syn, v_th=orig.v_th, v_reset=orig.v_reset, bias=bias_int / (pq.scale * (1 - alpha_q))
    )
    a_vv, a_vi, a_vx, *_ = model.params(net.population(name).n, net.dt_ms)
    gain = a_vx if tau_syn is None else a_vi
    out = snn.Network(dt_ms=net.dt_ms)
    for p in net.populations:
        out.add_population(p.name, p.n, model if p.name == name else p.model, initial_state=dict(p.initial_state))
    for pr in net.projections:
        qp = qnet.projection(pr.name)
        w = qp.weights.copy()
        rows = np.repeat(np.arange(w.shape[0]), np.diff(w.indptr))
        w.data = w.data * 2.0**qp.synapse.weight_exp * 64.0 / (gain[rows] * pq.scale[rows])
        out.add_projection(pr.pre, pr.post, weights=w, name=pr.name)
    return out


@pytest.mark.parametrize("tau_syn", [None, 4.0])
def test_quantized_subthreshold_voltage_tracks_the_float_model(tau_syn):
    """No spikes: the fixed-point v and i follow the float model.

    Against the float model with the *quantized* weights, decays and bias the
    difference is only the integer arithmetic (decays truncated toward zero:
    at most one unit of u and v per step); against the original float model
    it is the quantization error of the report.
    """
    rng = np.random.default_rng(7)
    T = 200
    raster = rng.random((T, 30)) < (0.1 if tau_syn is None else 0.02)
    net = snn.Network(dt_ms=1.0)
    net.add_population("in", 30, snn.SpikeSource(raster))
    net.add_population(
        "n",
        5,
        snn.LIF(tau_mem_ms=15.0, tau_syn_ms=tau_syn, v_th=1.0, bias=rng.uniform(-0.02, 0.02, 5)),
        initial_state={"v": rng.uniform(-0.5, 0.5, 5)},
    )
    net.add_projection("in", "n", weights=rng.normal(0, 0.03 if tau_syn is None else 0.2, (5, 30)))
    sim = loihi.fixed_point_simulator()
    fx = sim(net, T, record=("v", "i", "spikes"))
    rep = sim.report
    assert rep.projections["in->n"].weight_exp >= 0  # no flooring of the summed input in this regime
    qnet, _ = loihi.quantize(net)
    deq = snn.simulate(_dequantized(net, qnet, rep, "n"), T, record=("v", "i", "spikes"))
    ref = snn.simulate(net, T, record=("v", "i", "spikes"))
    assert ref.spikes["n"].sum() == fx.spikes["n"].sum() == deq.spikes["n"].sum() == 0
    scale = rep.populations["n"].scale[0]
    alpha_q = (4096 - qnet.population("n").model.dv) / 4096
    beta_q = (4095 - qnet.population("n").model.du) / 4096
    # truncation toward zero: <= 1 unit per step in u and in v, accumulated by the decays
    bound_units = (1.0 + 1.0 / (1.0 - beta_q)) / (1.0 - alpha_q)
    err = np.abs(fx.traces["n"]["v"] - deq.traces["n"]["v"]).max()
    assert err <= bound_units / scale, (err, bound_units / scale)
    err_f = np.abs(fx.traces["n"]["v"] - ref.traces["n"]["v"]).max()
    assert 0 < err_f < 2e-2, err_f  # v_th - v_reset = 1
    if tau_syn is not None:
        assert np.abs(fx.traces["n"]["i"] - ref.traces["n"]["i"]).max() < 2e-2 * np.abs(ref.traces["n"]["i"]).max()
    assert rep.populations["n"].kind == "lif"
    assert fx.engine == "reference+loihi"


def test_quantized_network_fires_like_the_float_one():
    net = _float_network(seed=3)
    ref = snn.simulate(net, 300, seed=1)
    fx = loihi.fixed_point_simulator()(net, 300, seed=1)
    a, b = ref.spikes["exc"].sum(), fx.spikes["exc"].sum()
    assert a > 1000 and abs(a - b) / a < 0.02, (a, b)
    np.testing.assert_array_equal(fx.spikes["in"], ref.spikes["in"])
    assert set(fx.counts.per_projection) == set(ref.counts.per_projection)


def test_fixed_point_simulator_scales_external_inputs_and_restores_outputs():
    rng = np.random.default_rng(2)
    T = 50
    net = snn.Network(dt_ms=1.0)
    net.add_population("x", 4, snn.ExternalInput())
    net.add_population("n", 3, snn.IF(v_th=20.0))
    net.add_projection("x", "n", weights=rng.uniform(0.5, 1.0, (3, 4)))
    inputs = {"x": rng.uniform(-0.3, 0.3, (T, 4))}
    ref = snn.simulate(net, T, record=("v", "outputs"), inputs=inputs)
    sim = loihi.fixed_point_simulator(message_bits=12)
    fx = sim(net, T, record=("v", "outputs"), inputs=inputs)
    rep = sim.report
    m = rep.input_scales["x"]
    assert m == 2.0 ** np.floor(np.log2(4095 / np.abs(inputs["x"]).max()))
    np.testing.assert_allclose(fx.outputs["x"], np.rint(inputs["x"] * m) / m)
    # the recorded v is the integer run converted back with the report's scale
    qnet, _ = loihi.quantize(net, message_bits=12, input_max={"x": float(np.abs(inputs["x"]).max())})
    raw = snn.simulate(qnet, T, record=("v",), inputs={"x": np.rint(inputs["x"] * m)})
    np.testing.assert_allclose(fx.traces["n"]["v"], raw.traces["n"]["v"] / rep.populations["n"].scale, rtol=1e-15)
    # against the float model: per step at most one LSB of the (floored) input, plus weight and input rounding
    scale = rep.populations["n"].scale[0]
    q = rep.projections["x->n"]
    w_big = np.abs(net.projection("x->n").weights.data).max()
    per_step = 64.0 / scale + 4 * (0.3 * q.max_rel_error * w_big + w_big * 0.5 / m)
    err = np.abs(fx.traces["n"]["v"] - ref.traces["n"]["v"]).max()
    assert err <= T * per_step, (err, T * per_step)


@pytest.mark.parametrize(
    "model, words",
    [
        (snn.LIF(refractory_steps=2), "refractory"),
        (snn.LIF(reset="subtract"), "reset"),
        (snn.LIF(tau_mem_ms=np.array([10.0, 20.0])), "one per population"),
        (snn.LIF(v_th=0.0), "v_th - v_reset"),
        (snn.LIF(tau_syn_ms=5.0, integration="euler"), "euler"),
        (snn.Boltzmann(), "Boltzmann"),
    ],
)
def test_quantize_refuses_what_loihi_cannot_do(model, words):
    net = snn.Network()
    net.add_population("p", 2, model)
    with pytest.raises(QuantizationError, match=words) as info:
        loihi.quantize(net)
    assert isinstance(info.value, ValueError)


def test_quantize_raises_when_a_bias_does_not_fit_the_registers():
    net = snn.Network()
    net.add_population("p", 1, snn.LIF(v_th=1e-3, bias=1e4))  # the bias is 5e5 thresholds per step
    with pytest.raises(QuantizationError, match="bias"):
        loihi.quantize(net)


def test_fixed_point_simulator_runs_networks_already_in_loihi_form_unchanged():
    net, *_ = _issue_network(seed=9)
    ref = snn.simulate(net, 50, record=("spikes", "u", "v"))
    fx = loihi.fixed_point_simulator()(net, 50, record=("spikes", "u", "v"))
    np.testing.assert_array_equal(fx.traces["lif"]["u"], ref.traces["lif"]["u"])
    np.testing.assert_array_equal(fx.spikes["lif"], ref.spikes["lif"])


def _sd_network(seed=0, n=12, initial_state=None):
    """x <- W x + b by sigma-delta neurons (a contraction: the values converge to (I - W)^-1 b)."""
    rng = np.random.default_rng(seed)
    w = rng.normal(0.0, 1.0, (n, n))
    w *= 0.6 / np.abs(np.linalg.eigvals(w)).max()
    b = rng.uniform(-2.0, 2.0, n)
    net = snn.Network(dt_ms=1.0)
    net.add_population("x", n, snn.SigmaDelta(vth=1e-3, bias=b), initial_state=initial_state)
    net.add_projection("x", "x", weights=w)
    return net, w, b


def test_quantized_sigma_delta_solves_like_the_float_one():
    net, w, b = _sd_network()
    exact = np.linalg.solve(np.eye(len(b)) - w, b)
    T = 120
    ref = snn.simulate(net, T, record=("outputs", "sigma", "ref"))
    sim = loihi.fixed_point_simulator()
    fx = sim(net, T, record=("outputs", "sigma", "ref"))
    rep = sim.report.populations["x"]
    assert rep.kind == "sigma_delta"
    m = rep.scale[0]
    # calibration: m is the largest power of two with 2 * max|value| * m < 2**16 (values of the float run)
    sig = ref.traces["x"]["sigma"]
    big = max(np.abs(sig).max(), np.abs(ref.traces["x"]["ref"]).max(), np.abs(sig + b).max(), 1e-3)
    assert m == 2.0 ** np.floor(np.log2((2**16 - 1) / (2 * big)))
    q = loihi.quantize(net, value_max={"x": 2 * big})[0].population("x").model
    assert q.vth == round(1e-3 * m) and q.act_mode == "unit"
    x_ref = ref.state.populations["x"]["ref"]
    x_fx = fx.state.populations["x"]["ref"]
    assert np.linalg.norm(x_ref - exact) / np.linalg.norm(exact) < 1e-3
    assert np.linalg.norm(x_fx - exact) / np.linalg.norm(exact) < 2e-2
    # ref is what was sent: the sum of the graded outputs, exactly (integers / 2**k)
    np.testing.assert_array_equal(fx.outputs["x"].sum(axis=0), x_fx)
    np.testing.assert_array_equal(fx.traces["x"]["ref"][-1], x_fx)
    np.testing.assert_array_equal(fx.traces["x"]["sigma"][-1], fx.state.populations["x"]["sigma"])


def test_quantized_sigma_delta_initial_state_round_trips():
    """A float state on the value grid becomes the integer state Lava's neuron holds, and comes back unchanged."""
    n = 12
    rng = np.random.default_rng(4)
    m = 2.0**10
    sigma0 = np.rint(rng.uniform(-3, 3, n) * m) / m
    ref0 = np.rint(rng.uniform(-3, 3, n) * m) / m
    net, _, b = _sd_network(initial_state={"sigma": sigma0, "ref": ref0})
    qnet, rep = loihi.quantize(net, value_max={"x": 60.0})
    assert rep.populations["x"].scale[0] == m  # 2**floor(log2(65535 / 60)) = 2**10
    init = qnet.population("x").initial_state
    np.testing.assert_array_equal(init["sigma"], sigma0 * m)
    np.testing.assert_array_equal(init["act"] - init["residue"], ref0 * m)  # what was sent so far
    # one step from there: float and fixed point send the same first message (values on the grid, no input yet)
    ref = snn.simulate(net, 1, record=("outputs", "sigma", "ref"))
    one = loihi.fixed_point_simulator(value_max={"x": 60.0})(net, 1, record=("outputs", "sigma", "ref"))
    np.testing.assert_allclose(one.outputs["x"], ref.outputs["x"], atol=0.5 / m)
    np.testing.assert_array_equal(one.traces["x"]["ref"], ref0 + one.outputs["x"])
    np.testing.assert_array_equal(one.state.populations["x"]["sigma"], sigma0)
    # a fresh population starts from Lava's all-zero state, so its quantized form exports
    fresh, _, _ = _sd_network()
    q_fresh, _ = loihi.quantize(fresh, value_max={"x": 60.0})
    assert all(np.all(v == 0) for v in q_fresh.population("x").initial_state.values())


# ---------------------------------------------------------------------------------------------
# degenerate magnitudes (issue 17): clear QuantizationErrors, never OverflowError / math domain error


def _graded_net(source, post_model=None, weight=1.0):
    net = snn.Network()
    net.add_population("src", 2, source)
    net.add_population("post", 2, post_model or snn.LIF())
    net.add_projection("src", "post", weights=np.full((2, 2), weight))
    return net


def test_quantize_tiny_scales_are_quantization_errors():
    with pytest.raises(QuantizationError, match=r"input_max\['src'\]=1e-320: is too small to scale to 8-bit messages"):
        loihi.quantize(_graded_net(snn.ExternalInput()), input_max={"src": 1e-320})
    with pytest.raises(QuantizationError, match=r"population 'src': largest \|amplitude\|=1e-320"):
        loihi.quantize(_graded_net(snn.CurrentSource(amplitude=1e-320)))
    with pytest.raises(QuantizationError, match=r"value_max\['post'\]=1e-320"):
        loihi.quantize(_graded_net(snn.CurrentSource(amplitude=1.0), snn.SigmaDelta(vth=0.01)), value_max={"post": 1e-320})
    # at the bound the scale is still the largest power of two that fits (finite); just below, refused
    assert loihi._message_scale(255 * 2.0**-1023, 8) == 2.0**1023
    assert loihi._message_scale(255 * 2.0**-1000, 8, "x") == 2.0**1000
    with pytest.raises(QuantizationError, match="x=.*too small"):
        loihi._message_scale(254 * 2.0**-1023, 8, "x")


@pytest.mark.parametrize("weight", [5e-324, 1e-310, 1e-300])
def test_quantize_weights_that_would_all_vanish_are_refused(weight):
    # denormal weights used to raise "math domain error"; tiny normal ones silently became all zeros
    with pytest.raises(QuantizationError, match=r"projection 'src->post': weights of magnitude .* too small to quantize"):
        loihi.quantize(_graded_net(snn.CurrentSource(amplitude=1.0), snn.SigmaDelta(vth=0.01), weight=weight))


def test_loihi_lif_initial_state_out_of_its_registers_is_refused():
    net = snn.Network()
    with pytest.raises(snn.errors.NetworkError, match=r"initial_state\['v'\]=1e\+30.*int64"):
        net.add_population("a", 2, loihi.LoihiLIF(), initial_state={"v": 1e30})  # used to wrap to -2**63
    with pytest.raises(QuantizationError, match=r"initial_state\['v'\]=8388608: LoihiLIF.v is a 24-bit register"):
        net.add_population("a", 2, loihi.LoihiLIF(), initial_state={"v": 2**23})
    with pytest.raises(QuantizationError, match=r"initial_state\['u'\]=-8388609"):
        net.add_population("a", 2, loihi.LoihiLIF(), initial_state={"u": [0, -(2**23) - 1]})
    net.add_population("a", 2, loihi.LoihiLIF(vth=1000), initial_state={"u": [2**23, -(2**23)], "v": [2**23 - 1, -(2**23 - 1)]})
    assert net.population("a").initial_state["u"].tolist() == [2**23, -(2**23)]
