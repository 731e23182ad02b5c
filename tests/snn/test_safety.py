"""Memory safety and silent wrong results of the engines (issue 16), and the public validators.

The defects here corrupted memory or returned wrong numbers without an error;
the ones that wrote out of bounds run in a subprocess, so a crash is a failed
test (a non-zero exit) rather than a dead test session, and their counts are
compared with the reference engine's.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import snn
from snn import _rng
from snn.errors import MAX_DELAY_STEPS, NetworkError, SimulationError, SNNTypeError, check_delays

#: the array namespace of the kernels defined here (engines rebind it with snn.kernels.specialize)
xp = np

#: the checkout whose ``snn`` this session imported (the subprocesses import the same one)
ROOT = Path(snn.__file__).resolve().parents[1]


def _python(code: str, timeout: int = 600) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter at the repository root; its output and exit status."""
    env = {**__import__("os").environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def _count_fields(counts: snn.OpCounts) -> dict[str, Any]:
    return {f.name: getattr(counts, f.name) for f in dataclasses.fields(counts)}


def _assert_counts_equal(a: snn.OpCounts, b: snn.OpCounts) -> None:
    fa, fb = _count_fields(a), _count_fields(b)
    for name, va in fa.items():
        vb = fb[name]
        if isinstance(va, np.ndarray):
            assert va.dtype == np.int64 and vb.dtype == np.int64, name
            assert np.array_equal(va, vb), name
        else:
            assert va == vb, (name, va, vb)


# ---------------------------------------------------------------------------------------------
# 1. a network without projections: the event engine's counters were written out of bounds


def _sources_network() -> snn.Network:
    net = snn.Network(1.0)
    for k in "abc":
        net.add_population(k, 2, snn.PoissonSource(rate_hz=500.0))
    return net


def test_event_without_projections_counts_each_population_and_stays_in_bounds():
    # before the fix: {'a': 0, 'b': 16, 'c': 22} (shifted by one) and, over 50 runs, "munmap_chunk(): invalid pointer"
    proc = _python(
        """
        import json
        import snn
        net = snn.Network(1.0)
        for k in "abc":
            net.add_population(k, 2, snn.PoissonSource(rate_hz=500.0))
        runs = [snn.simulate(net, 20, engine="event").counts.spikes_per_population for _ in range(50)]
        one = snn.Network(1.0)
        one.add_population("sd", 1, snn.SigmaDelta(bias=1.0))
        c = snn.simulate(one, 1, engine="event").counts
        print(json.dumps({"runs": runs, "graded": c.graded_spikes, "spikes": c.spikes, "per_pop": c.spikes_per_population}))
        """
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    ref = snn.simulate(_sources_network(), 20, engine="reference").counts.spikes_per_population
    assert all(r == ref for r in got["runs"])
    assert min(ref.values()) > 0  # every population spiked: a shift would show
    one = snn.Network(1.0)
    one.add_population("sd", 1, snn.SigmaDelta(bias=1.0))
    rc = snn.simulate(one, 1, engine="reference").counts
    assert (got["graded"], got["spikes"], got["per_pop"]) == (rc.graded_spikes, rc.spikes, rc.spikes_per_population) == (1, 1, {"sd": 1})


# ---------------------------------------------------------------------------------------------
# 2. and 3. delays: one bound, checked by the API, by the plan every engine runs, by the loader


HUGE_DELAYS = [10**30, 2**63, 1e30, np.inf, -1, 1.5, MAX_DELAY_STEPS + 1]


@pytest.mark.parametrize("bad", HUGE_DELAYS, ids=repr)
def test_add_projection_refuses_delays_beyond_the_bound(bad):
    net = snn.Network()
    net.add_population("a", 2, snn.PoissonSource(rate_hz=100.0))
    net.add_population("b", 3, snn.LIF())
    with pytest.raises(NetworkError, match=r"delay_steps.*\[0, 65536\]"):
        net.add_projection("a", "b", weights=np.ones((3, 2)), delay_steps=bad)
    arr = np.ones((3, 2))
    arr[1, 1] = bad
    with pytest.raises(NetworkError, match=r"delay_steps.*\[0, 65536\]"):
        net.add_projection("a", "b", weights=np.ones((3, 2)), delay_steps=arr)
    with pytest.raises(NetworkError, match=r"delay_steps"):
        net.connect("a", "b", snn.connect.all_to_all(), weight=1.0, delay_steps=bad)
    assert not net.projections


def test_delays_at_the_bound_are_kept_and_run():
    net = snn.Network()
    net.add_population("a", 2, snn.SpikeSource(np.ones((4, 2), bool)))
    net.add_population("b", 2, snn.IF(v_th=0.5))
    delays = np.array([[1, MAX_DELAY_STEPS], [MAX_DELAY_STEPS, 2]])
    pr = net.add_projection("a", "b", weights=np.ones((2, 2)), delay_steps=delays)
    assert pr.delays.dtype == np.int64 and pr.delay_range == (1, MAX_DELAY_STEPS)
    ref = snn.simulate(net, 6, engine="reference")
    ev = snn.simulate(net, 6, engine="event")
    _assert_counts_equal(ref.counts, ev.counts)
    assert np.array_equal(ref.spikes["b"], ev.spikes["b"]) and ref.counts.spikes_per_population["b"] > 0


@pytest.mark.parametrize("bad", [10**30, 2**63, 1e30, np.inf], ids=repr)
def test_check_delays_refuses_before_converting(bad):
    with pytest.raises(NetworkError, match=r"delays must be whole numbers of steps in \[0, 65536\]"):
        check_delays(np.array([1, bad], dtype=object), "delays", cls=NetworkError)
    with pytest.raises(ValueError, match="delays"):
        check_delays(bad, "delays")
    with pytest.raises(SNNTypeError):
        check_delays(np.array([True, False]), "delays")
    assert check_delays(np.array([0, 3.0, MAX_DELAY_STEPS]), "d").tolist() == [0, 3, MAX_DELAY_STEPS]
    assert check_delays(np.array([0, 3], np.uint64), "d").dtype == np.int64


@pytest.mark.parametrize("bad", [2**63 - 1, 2**40, MAX_DELAY_STEPS + 1])
def test_a_crafted_file_with_huge_delays_is_refused_by_the_same_bound(tmp_path, bad):
    net = snn.Network()
    net.add_population("a", 2, snn.PoissonSource(rate_hz=100.0))
    net.add_population("b", 2, snn.LIF())
    net.add_projection("a", "b", weights=np.ones((2, 2)), delay_steps=1)
    snn.save(net, tmp_path / "net.npz")
    with np.load(tmp_path / "net.npz", allow_pickle=False) as data:
        files = {k: data[k] for k in data.files}
    files["proj0.delays"] = np.array([1, bad, 1, 1], np.int64)
    np.savez(tmp_path / "bad.npz", **files)
    with pytest.raises(ValueError, match=r"\[0, 65536\]"):
        snn.load(tmp_path / "bad.npz")


def _crafted(delays: np.ndarray) -> snn.Network:
    """A network whose projection holds ``delays`` without passing the API's checks (as a crafted file could)."""
    net = snn.Network()
    net.add_population("a", 3, snn.SpikeSource(np.ones((5, 3), bool)))
    net.add_population("b", 3, snn.IF(v_th=0.5))
    w = sp.csr_matrix(np.ones((3, 3)))
    net._projections["x"] = snn.Projection("x", "a", "b", w, np.asarray(delays))
    return net


@pytest.mark.parametrize("engine", ["reference", "event"])
@pytest.mark.parametrize(
    "delays", [[-(2**63)] * 9, [1, 2, 3, 1, 2, 3, 1, 2, 2**31 + 1], [2**40] * 9], ids=["wrapped", "int32-wrap", "huge"]
)
def test_plan_refuses_crafted_delays_cleanly(engine, delays):
    # before: the event engine wrote outside its rings (SIGSEGV after corrupted counts), the
    # reference failed with an unclear error; int32 per-synapse delays wrapped negative
    proc = _python(
        f"""
        import numpy as np, scipy.sparse as sp, snn
        from snn.errors import SimulationError
        net = snn.Network()
        net.add_population("a", 3, snn.SpikeSource(np.ones((5, 3), bool)))
        net.add_population("b", 3, snn.IF(v_th=0.5))
        net._projections["x"] = snn.Projection("x", "a", "b", sp.csr_matrix(np.ones((3, 3))), np.array({delays!r}, np.int64))
        try:
            snn.simulate(net, 5, engine={engine!r})
        except SimulationError as exc:
            print("refused:", exc)
        """
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "refused: projection 'x' delays=" in proc.stdout and "65536" in proc.stdout


def test_plan_accepts_crafted_delays_of_another_int_dtype():
    net = _crafted(np.array([1, 2, 1, 2, 1, 2, 1, 2, 3], np.int32))
    ref = snn.simulate(net, 5, engine="reference")
    ev = snn.simulate(net, 5, engine="event")
    _assert_counts_equal(ref.counts, ev.counts)
    assert ref.counts.spikes_per_population["b"] > 0


# ---------------------------------------------------------------------------------------------
# 4. an exception inside a compiled kernel: a SimulationError naming the population and step


def _div_kernel(params, state, x, step, key):
    (d,) = params
    (v,) = state
    v = v + x + 30 // d
    return v > 1000, (v,)


@snn.register_model
@dataclasses.dataclass(frozen=True, eq=False)
class _SafetyDivNeuron(snn.NeuronModel):
    """int64 neuron whose kernel divides 30 by a per-neuron parameter (zero for neuron ``zero_at``)."""

    zero_at: int = 0
    start: int = 0

    state_vars: ClassVar[tuple[str, ...]] = ("v",)
    dtype: ClassVar[str] = "int64"
    kernel: ClassVar[Any] = staticmethod(_div_kernel)

    def params(self, n, dt_ms):
        d = np.full(n, 2, np.int64)
        if 0 <= self.zero_at < n:
            d[self.zero_at] = 0
        return (d,)


def _div_synapse_kernel(params, acc):
    (d,) = params
    if d == 0:  # numpy and numba both divide arrays by zero quietly: this kernel refuses it
        raise ZeroDivisionError("divisor 0")
    return acc // d


@snn.register_synapse
@dataclasses.dataclass(frozen=True)
class _SafetyDivSynapse(snn.Synapse):
    divisor: int = 0

    dtype: ClassVar[str] = "int64"
    kernel: ClassVar[Any] = staticmethod(_div_synapse_kernel)

    def prepare(self, weights):
        return sp.csr_matrix(weights, copy=True)

    def params(self):
        return (np.int64(self.divisor),)


@pytest.mark.parametrize("parallel", [False, True])
def test_kernel_exception_is_a_simulation_error_naming_population_and_step(parallel):
    net = snn.Network()
    net.add_population("ok", 3, _SafetyDivNeuron(zero_at=-1))
    net.add_population("div", 3, _SafetyDivNeuron(zero_at=0))
    with np.errstate(divide="ignore"):
        ref = snn.simulate(net, 1, engine="reference", record=("v",))
    assert ref.state.populations["div"]["v"].tolist() == [0, 15, 15]  # numpy's integer x // 0 is 0
    # before: "Exception ignored ... ZeroDivisionError" and v = [0, 0, 0]
    with pytest.raises(SimulationError, match=r"population 'div' \(_SafetyDivNeuron\).*step 0"):
        snn.simulate(net, 1, engine="event", parallel=parallel, n_threads=2 if parallel else None)
    # without the zero divisor the same model runs and agrees with the reference
    good = snn.Network()
    good.add_population("div", 3, _SafetyDivNeuron(zero_at=-1))
    ev = snn.simulate(good, 3, engine="event", parallel=parallel, record=("v",))
    assert ev.state.populations["div"]["v"].tolist() == [45, 45, 45]


def test_synapse_kernel_exception_names_the_projection():
    net = snn.Network()
    net.add_population("src", 2, snn.SpikeSource(np.array([[False, False], [True, True]])))
    net.add_population("dst", 2, _SafetyDivNeuron(zero_at=-1))
    net.add_projection("src", "dst", weights=np.ones((2, 2)), delay_steps=1, synapse=_SafetyDivSynapse(divisor=0), name="bad")
    # the synapse kernel runs from the first step (on an empty ring) and raises
    with pytest.raises(ZeroDivisionError):
        snn.simulate(net, 4, engine="reference")
    with pytest.raises(SimulationError, match=r"synapse kernel of projection 'bad'.*step 0"):
        snn.simulate(net, 4, engine="event")
    ok = snn.Network()
    ok.add_population("src", 2, snn.SpikeSource(np.array([[False, False], [True, True]])))
    ok.add_population("dst", 2, _SafetyDivNeuron(zero_at=-1))
    ok.add_projection("src", "dst", weights=np.full((2, 2), 4.0), delay_steps=1, synapse=_SafetyDivSynapse(divisor=2))
    ref = snn.simulate(ok, 4, engine="reference", record=("v",))
    ev = snn.simulate(ok, 4, engine="event", record=("v",))
    assert np.array_equal(ref.traces["dst"]["v"], ev.traces["dst"]["v"])
    assert ev.state.populations["dst"]["v"].tolist() == [60 + 4, 60 + 4]  # 4 steps of 30 // 2, and (4 + 4) // 2 once


# ---------------------------------------------------------------------------------------------
# 6. seeds outside [0, 2**64) are refused, never reduced


def test_seeds_outside_the_documented_range_are_refused():
    net = _sources_network()
    with pytest.raises(SimulationError, match=r"seed=18446744073709551616: must be an int in \[0, 18446744073709551615\]"):
        snn.simulate(net, 5, seed=2**64)
    with pytest.raises(SimulationError, match="seed"):
        snn.simulate(net, 5, seed=-1)
    with pytest.raises(SNNTypeError, match="seed"):
        snn.simulate(net, 5, seed=1.0)
    # the largest seed runs, and gives another stream than seed 0 (2**64 used to be reduced to 0)
    top = snn.simulate(net, 50, seed=2**64 - 1, record=("spikes",))
    zero = snn.simulate(net, 50, seed=0, record=("spikes",))
    assert not np.array_equal(top.spikes["a"], zero.spikes["a"])
    with pytest.raises(ValueError, match="seed"):
        _rng.stream_key(2**64, 0)
    assert _rng.stream_key(2**64 - 1, 0) != _rng.stream_key(0, 0)
    net2 = snn.Network()
    net2.add_population("x", 2, snn.LIF())
    with pytest.raises(NetworkError, match="seed=-1"):
        net2.connect("x", "x", snn.connect.fixed_probability(0.5), seed=-1)


# ---------------------------------------------------------------------------------------------
# the property: random valid networks, every count field equal between reference and event

_MODELS = [
    lambda r: snn.LIF(tau_mem_ms=float(r.uniform(2, 20)), bias=float(r.uniform(0, 1.2))),
    lambda r: snn.IF(v_th=float(r.uniform(0.5, 2)), bias=float(r.uniform(0, 0.5))),
    lambda r: snn.SigmaDelta(vth=float(r.uniform(0, 0.1)), bias=float(r.normal(0, 0.5))),
    lambda r: snn.PoissonSource(rate_hz=float(r.uniform(0, 400))),
    lambda r: snn.CurrentSource(amplitude=float(r.normal(0, 1))),
]


@st.composite
def _networks(draw):
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    n_pops = draw(st.integers(1, 4))
    sizes = [draw(st.sampled_from([1, 1, 2, 3, 7])) for _ in range(n_pops)]
    kinds = [draw(st.integers(0, len(_MODELS) - 1)) for _ in range(n_pops)]
    net = snn.Network(dt_ms=1.0)
    for i, (n, kind) in enumerate(zip(sizes, kinds)):
        net.add_population(f"p{i}", n, _MODELS[kind](rng))
    receivers = [i for i in range(n_pops) if not net.populations[i].model.is_source]
    n_proj = draw(st.integers(0, 4)) if receivers else 0
    for _ in range(n_proj):
        pre, post = draw(st.integers(0, n_pops - 1)), draw(st.sampled_from(receivers))
        shape = (sizes[post], sizes[pre])
        w = rng.normal(0.3, 0.5, shape) * (rng.random(shape) < draw(st.sampled_from([0.0, 0.5, 1.0])))
        delays = rng.integers(1, draw(st.integers(2, 5)), shape)  # >= 1: no zero-delay cycles
        net.add_projection(f"p{pre}", f"p{post}", weights=w, delay_steps=delays if draw(st.booleans()) else int(delays.flat[0]))
    return net, draw(st.integers(1, 30)), seed


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(_networks())
def test_property_event_counts_equal_reference_counts(case):
    net, n_steps, seed = case
    ref = snn.simulate(net, n_steps, engine="reference", seed=seed)
    ev = snn.simulate(net, n_steps, engine="event", seed=seed)
    _assert_counts_equal(ref.counts, ev.counts)
    for p in net.populations:
        for v, a in ref.state.populations[p.name].items():
            np.testing.assert_array_equal(a, ev.state.populations[p.name][v])
