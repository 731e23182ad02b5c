"""The fixed-point QP and QUBO neurons: our kernels against our own Lava processes run by Lava, bit for bit.

``hardware.loihi_qp.LoihiBoxSigmaDelta`` and ``hardware.loihi_qubo.LoihiBoltzmann``
have no Lava counterpart; the export ships ``lava_procs.py`` (our Process and
bit-accurate PyProcessModel).  Here every case network is exported and run by
Lava's runtime (``Loihi2SimCfg(select_tag="fixed_pt")``, one Lava process for
all cases) and compared with every engine of ours: spikes, graded outputs,
every state variable after every step, the final state and the op counts.
The cases push the arithmetic to its edges: int32 wrap of sigma and of the
input sums, saturating box bounds at the int32 limits, negative values,
thresholds 0, 1, large and 2**31 - 1, temperatures 0 and 2**30, no cooling and
full cooling, update probabilities 0, 1/4096 and 1.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import snn
from hardware import lava_backend, loihi, loihi_qp, loihi_qubo
from hardware.errors import LavaNotFoundError, LoihiClipWarning, QuantizationError
from snn import _rng

T = 40
I32 = 2**31 - 1
pytestmark = pytest.mark.filterwarnings("ignore::hardware.errors.LoihiClipWarning")


def _need_lava() -> str:
    try:
        return lava_backend.lava_python()
    except LavaNotFoundError as exc:
        pytest.skip(f"Lava environment not available ({exc})")


# ------------------------------------------------------------------------------------------
# the networks
VTH = [0, 1, 37, 2**20, 300, I32]


def _box_case(k: int) -> tuple[snn.Network, dict]:
    """Graded source -> box population A (recurrent) -> ReLU-box population B (lo=0); extreme values when k is odd."""
    rng = np.random.default_rng(300 + k)
    heavy = k % 2 == 1
    n_in, n_a, n_b = 6, 12, 8
    net = snn.Network(dt_ms=1.0)
    net.add_population("in", n_in, snn.ExternalInput())
    big = 2**30 if heavy else 3000
    lo = rng.integers(-big, 0, n_a)
    hi = rng.integers(0, big, n_a)
    lo[:2] = [-I32, -(2**31)]  # the int32 limits: no clipping at all
    hi[:2] = [I32, I32]
    lo[2], hi[2] = 5, 5  # a box of one point
    lo[3], hi[3] = -7, -3  # an all-negative box
    bias = rng.integers(-big, big, n_a)
    bias[4:6] = [I32, -(2**31)]
    sigma0 = rng.integers(-big, big, n_a)
    sigma0[6:8] = [I32, -(2**31)]  # wraps on the first non-zero input
    model_a = loihi_qp.LoihiBoxSigmaDelta(vth=VTH[k % len(VTH)], bias=bias, lo=lo, hi=hi, out_exp=[0, 3, 16, 1, 8, 0][k % 6])
    net.add_population(
        "A", n_a, model_a, initial_state={"sigma": sigma0, "act": rng.integers(-big, big, n_a), "residue": rng.integers(-big, big, n_a)}
    )
    model_b = loihi_qp.LoihiBoxSigmaDelta(vth=VTH[(k + 2) % len(VTH)], bias=rng.integers(-500, 500, n_b), lo=0, hi=loihi_qp.I32_MAX)
    net.add_population("B", n_b, model_b)
    wexp = [0, 3, -4, 7, -8, 1][k % 6]
    w_in = rng.integers(-256, 256, (n_a, n_in)) * (rng.random((n_a, n_in)) < 0.7)
    w_aa = rng.integers(-256, 256, (n_a, n_a)) * (rng.random((n_a, n_a)) < 0.4)
    w_ab = rng.integers(0, 256, (n_b, n_a)) * (rng.random((n_b, n_a)) < 0.5)
    net.add_projection("in", "A", weights=w_in, delay_steps=1, synapse=loihi.LoihiSynapse(weight_exp=wexp), name="in->A")
    net.add_projection("A", "A", weights=w_aa, delay_steps=1, synapse=loihi.LoihiSynapse(weight_exp=min(wexp, 0)), name="A->A")
    net.add_projection(
        "A", "B", weights=w_ab, delay_steps=1, synapse=loihi.LoihiSynapse(weight_exp=-3, sign_mode="excitatory"), name="A->B"
    )
    amp = 2**24 if heavy else 200
    x = rng.integers(-amp, amp, (T, n_in)) * (rng.random((T, n_in)) < 0.6)
    x[:, 0] = I32 if heavy else 1  # a saturating input every step
    return net, {"in": x.astype(np.float64)}


def _boltzmann_case(k: int) -> tuple[snn.Network, dict]:
    """Spike source -> Boltzmann population with recurrent couplings; every schedule register at its edges."""
    rng = np.random.default_rng(400 + k)
    n_src, n = 8, 16
    net = snn.Network(dt_ms=1.0)
    net.add_population("src", n_src, snn.SpikeSource(rng.random((T, n_src)) < 0.4))
    temp0 = rng.integers(0, 5000, n)
    temp0[:3] = [0, 1, loihi_qubo.TEMP_MAX]
    bias = rng.integers(-3000, 3000, n)
    bias[3:5] = [I32, -(2**31)]
    p_update = [4096, 1, 0, 2048, 410][k % 5]
    pu = np.full(n, p_update)
    pu[5:8] = [0, 1, 4096]
    model = loihi_qubo.LoihiBoltzmann(
        bias=bias, temp0=temp0, temp_min=[0, 3, 100][k % 3], cool=[65536, 0, 60000, 65535][k % 4], dec=[0, 0, 7][k % 3], p_update=pu
    )
    s0 = (rng.random(n) < 0.5).astype(np.int64)
    net.add_population("x", n, model, initial_state={"s": s0, "temp": temp0})
    w_in = rng.integers(-256, 256, (n, n_src)) * (rng.random((n, n_src)) < 0.6)
    w_xx = rng.integers(-256, 256, (n, n)) * (rng.random((n, n)) < 0.5)
    np.fill_diagonal(w_xx, 0)
    net.add_projection("src", "x", weights=w_in, delay_steps=1, synapse=loihi.LoihiSynapse(weight_exp=[0, 4, -2][k % 3]), name="src->x")
    net.add_projection("x", "x", weights=w_xx, delay_steps=1, synapse=loihi.LoihiSynapse(weight_exp=[2, 0, -1][k % 3]), name="x->x")
    return net, {}


CASES = {f"box{k}": (lambda k=k: _box_case(k)) for k in range(6)}
CASES.update({f"boltzmann{k}": (lambda k=k: _boltzmann_case(k)) for k in range(5)})


def _record(net: snn.Network) -> dict:
    return {p.name: ("spikes", "outputs") + tuple(p.model.state_vars) for p in net.populations}


@pytest.fixture(scope="module")
def lava_runs():
    py = _need_lava()
    built = {name: make() for name, make in CASES.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LoihiClipWarning)
        results = lava_backend.run_many(
            [net for net, _ in built.values()],
            T,
            record=[_record(net) for net, _ in built.values()],
            inputs=[inp for _, inp in built.values()],
            python=py,
            seed=7,
        )
    return {name: (net, inp, res) for (name, (net, inp)), res in zip(built.items(), results)}


@pytest.mark.lava
@pytest.mark.parametrize("engine", ["reference", "event"])
@pytest.mark.parametrize("case", list(CASES))
def test_our_kernels_match_our_lava_processes_bit_for_bit(lava_runs, case, engine):
    net, inputs, lava = lava_runs[case]
    ours = snn.simulate(net, T, engine=engine, record=_record(net), inputs=inputs, seed=7)
    for p in net.populations:
        np.testing.assert_array_equal(np.asarray(ours.spikes[p.name]), lava.spikes[p.name], err_msg=f"{case}: spikes of {p.name!r}")
        if p.model.graded:
            np.testing.assert_array_equal(np.asarray(ours.outputs[p.name]), lava.outputs[p.name], err_msg=f"{case}: outputs of {p.name!r}")
        if p.model.is_source:
            continue
        for var in p.model.state_vars:
            np.testing.assert_array_equal(
                np.asarray(ours.traces[p.name][var]), lava.traces[p.name][var], err_msg=f"{case}: {var} of {p.name!r}"
            )
    _assert_same_end_state(net, ours.state, lava.state, case)
    assert ours.counts.to_dict() == lava.counts.to_dict()


def _assert_same_end_state(net: snn.Network, ours: snn.SimState, lava: snn.SimState, case: str) -> None:
    """Same neuron state, and in-flight sums that deliver the same input (Lava's ``a_buff`` is already shifted)."""
    assert lava is not None and lava.t == ours.t and lava.seed == ours.seed and lava.structure == ours.structure
    for p in net.populations:
        for var in p.model.state_vars:
            np.testing.assert_array_equal(ours.populations[p.name][var], lava.populations[p.name][var], err_msg=f"{case}: end {var}")
    for pr in net.projections:
        params = pr.synapse.params()
        deliver = lambda raw, params=params: loihi.loihi_synapse_kernel(params, np.asarray(raw, dtype=np.int64))  # noqa: E731
        np.testing.assert_array_equal(
            deliver(ours.in_flight[pr.name]), deliver(lava.in_flight[pr.name]), err_msg=f"{case}: a_buff of {pr.name!r}"
        )


@pytest.mark.lava
def test_cases_reach_the_edges(lava_runs):
    """The cases really exercise what they claim (else the bit-exactness above proves little)."""
    wrapped = clipped_lo = clipped_hi = 0
    for name, (net, _inputs, lava) in lava_runs.items():
        if not name.startswith("box"):
            continue
        m = net.population("A").model
        sig = lava.traces["A"]["sigma"]
        act = lava.traces["A"]["act"]
        wrapped += int(np.count_nonzero(np.abs(np.diff(sig.astype(np.float64), axis=0)) > 2**31))
        clipped_lo += int(np.count_nonzero(act == np.asarray(m.lo)[None, :]))
        clipped_hi += int(np.count_nonzero(act == np.asarray(m.hi)[None, :]))
        assert np.any(lava.outputs["A"] != 0) and np.any(lava.outputs["A"] == 0) or m.vth in (0, I32)
    assert wrapped > 0 and clipped_lo > 0 and clipped_hi > 0
    flips = 0
    for name, (_net, _inputs, lava) in lava_runs.items():
        if name.startswith("boltzmann"):
            flips += int(np.count_nonzero(np.diff(lava.traces["x"]["s"], axis=0)))
            assert np.all(np.diff(lava.traces["x"]["temp"], axis=0) <= 0)
    assert flips > 50


# ------------------------------------------------------------------------------------------
# no Lava needed
def test_box_kernel_by_hand():
    """One neuron, the formula of the module docstring step by step (wraps, clip, threshold)."""
    net = snn.Network(dt_ms=1.0)
    net.add_population("in", 1, snn.ExternalInput())
    net.add_population("b", 1, loihi_qp.LoihiBoxSigmaDelta(vth=10, bias=3, lo=-20, hi=50), initial_state={"sigma": [I32 - 5]})
    net.add_projection(
        "in", "b", weights=[[1]], delay_steps=1, synapse=loihi.LoihiSynapse(weight_exp=0, num_weight_bits=8, sign_mode="excitatory")
    )
    x = np.array([[0], [10], [0], [-(2**31) + 40], [5], [12], [0]], dtype=np.float64)
    res = snn.simulate(net, len(x), engine="reference", inputs={"in": x}, record={"b": ("outputs", "sigma", "act", "residue")})
    sigma, act, residue, a = I32 - 5, 0, 0, 0
    wrap = lambda v: ((v + 2**31) % 2**32) - 2**31  # noqa: E731
    for t in range(len(x)):
        sigma = wrap(sigma + a)
        new = min(max(wrap(sigma + 3), -20), 50)
        delta = wrap(new - act + residue)
        s = delta if abs(delta) >= 10 else 0
        residue, act = wrap(delta - s), new
        assert res.outputs["b"][t, 0] == s and res.traces["b"]["sigma"][t, 0] == sigma and res.traces["b"]["act"][t, 0] == act
        a = int(x[t, 0])  # delivered in the next step
    assert np.any(res.outputs["b"] != 0)


def test_boltzmann_hash_is_snn_rng():
    idx = np.arange(257)
    for key, step in ((0, 0), (2**32 - 1, 12345), (987654321, 2**31)):
        assert np.array_equal(loihi_qubo.hash32(key, step, idx) * 2.0**-32, _rng.uniform(key, step, idx))


def test_boltzmann_probability_and_schedule():
    """Redraw and firing frequencies follow the documented integer rule; the temperature follows the schedule."""
    n, steps = 4000, 60
    u = 300
    model = loihi_qubo.LoihiBoltzmann(bias=u, temp0=1000, temp_min=400, cool=60000, p_update=1024)
    net = snn.Network(dt_ms=1.0)
    net.add_population("x", n, model)
    res = snn.simulate(net, steps, engine="event", seed=3, record={"x": ("spikes", "temp")})
    temp = res.traces["x"]["temp"][:, 0]
    want = [1000]
    for _ in range(steps):
        want.append(max(400, (want[-1] * 60000) >> 16))
    assert temp.tolist() == want[1 : steps + 1]
    s = res.spikes["x"].astype(np.int64)
    changed = np.mean(s[21:] != s[20:-1])  # at the floor temperature (reached by step 11)
    # P(on) for u/temp = r: the triangular CDF 1 - (1 - r)^2 / 2 for 0 <= r <= 1
    r = u / 400
    p_on = 1 - (1 - r) ** 2 / 2
    # at the floor temperature a redraw changes the state with probability 2 p (1 - p) in steady state
    late = s[-40:].mean()
    assert abs(late - p_on) < 0.03, (late, p_on)
    assert 0.25 * 2 * p_on * (1 - p_on) * 0.7 < changed < 0.25 * 2 * p_on * (1 - p_on) * 1.3


def test_boltzmann_model_rejects_bad_registers():
    with pytest.raises(QuantizationError, match="cool"):
        loihi_qubo.LoihiBoltzmann(cool=65537)
    with pytest.raises(QuantizationError, match="p_update"):
        loihi_qubo.LoihiBoltzmann(p_update=[0, 5000])
    with pytest.raises(QuantizationError, match="lo"):
        loihi_qp.LoihiBoxSigmaDelta(lo=5, hi=4)


@pytest.mark.lava
def test_run_py_hw_without_loihi2_support_exits_with_one_clear_line(tmp_path):
    import subprocess

    py = _need_lava()
    net, inputs = _box_case(0)
    lava_backend.export(net, tmp_path / "deploy", n_steps=5, inputs={"in": inputs["in"][:5]})
    out = subprocess.run([py, str(tmp_path / "deploy" / "run.py"), "--hw"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 2
    lines = [ln for ln in out.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and "no Loihi 2 support" in lines[0] and "lava-loihi" in lines[0], out.stderr
    assert "NameError" not in out.stderr and out.stdout == ""
    readme = (tmp_path / "deploy" / "README.md").read_text()
    assert "Nothing here was tested on Loihi 2 hardware" in readme and "NcProcessModel" in readme
