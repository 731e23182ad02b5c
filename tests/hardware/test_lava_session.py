"""hardware.lava_session: one long-lived Lava process, chunks bit-exact with one run of our engine; failures are clear errors.

Every test that starts Lava is marked ``lava``; one session per module is
shared where a test only reads it (Lava takes seconds to start).
"""

from __future__ import annotations

import os
import signal
import sys
import time
import warnings

import numpy as np
import pytest

import snn
from hardware import lava_backend, lava_session, loihi, loihi_qubo
from hardware.errors import LavaError, LavaNotFoundError, LavaTimeoutError

pytestmark = pytest.mark.filterwarnings("ignore::hardware.errors.LoihiClipWarning")


def _need_lava() -> str:
    try:
        return lava_backend.lava_python()
    except LavaNotFoundError as exc:
        pytest.skip(f"Lava environment not available ({exc})")


def _network() -> snn.Network:
    """LIF (Lava's own LIF) and our QP and QUBO processes in one connected network."""
    rng = np.random.default_rng(11)
    net = snn.Network(dt_ms=1.0)
    net.add_population("src", 10, snn.SpikeSource(rng.random((300, 10)) < 0.3))
    net.add_population(
        "lif", 12, loihi.LoihiLIF(du=400, dv=300, vth=50, bias_mant=3, bias_exp=2), initial_state={"v": rng.integers(-999, 999, 12)}
    )
    from hardware import loihi_qp

    net.add_population("box", 9, loihi_qp.LoihiBoxSigmaDelta(vth=20, bias=rng.integers(-900, 900, 9), lo=-3000, hi=4000, out_exp=2))
    net.add_population("x", 8, loihi_qubo.LoihiBoltzmann(bias=rng.integers(-300, 300, 8), temp0=900, temp_min=20, cool=64000, p_update=700))
    syn = loihi.LoihiSynapse
    net.add_projection("src", "lif", weights=rng.integers(-200, 255, (12, 10)), delay_steps=1, synapse=syn(weight_exp=3))
    net.add_projection("lif", "box", weights=rng.integers(-250, 255, (9, 12)), delay_steps=1, synapse=syn(weight_exp=4))
    net.add_projection("box", "box", weights=rng.integers(-100, 100, (9, 9)), delay_steps=1, synapse=syn(weight_exp=-2))
    net.add_projection("box", "x", weights=rng.integers(-60, 60, (8, 9)), delay_steps=1, synapse=syn(weight_exp=0))
    net.add_projection(
        "x", "x", weights=rng.integers(-200, 200, (8, 8)) * (1 - np.eye(8, dtype=int)), delay_steps=1, synapse=syn(weight_exp=1)
    )
    net.add_projection("x", "lif", weights=rng.integers(-200, 200, (12, 8)), delay_steps=1, synapse=syn(weight_exp=2))
    return net


@pytest.fixture(scope="module")
def session():
    py = _need_lava()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = lava_session.LavaSession(_network(), max_steps=300, seed=4, python=py)
    yield s
    s.close()


def _no_process(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.mark.lava
def test_chunks_equal_one_run_of_our_engine(session):
    net = session.network
    rec = ("spikes", "outputs")
    chunks = [session.simulate(k, record=rec) for k in (1, 37, 50, 12)]
    assert [c.t_start for c in chunks] == [0, 1, 38, 88] and session.t == 100
    lava = snn.RunResult.concat(chunks)
    ours = snn.simulate(net, 100, engine="event", seed=4, record=rec)
    for p in net.populations:
        np.testing.assert_array_equal(lava.spikes[p.name], ours.spikes[p.name], err_msg=p.name)
        if p.name in ours.outputs:
            np.testing.assert_array_equal(lava.outputs[p.name], ours.outputs[p.name], err_msg=p.name)
    assert lava.counts.to_dict() == ours.counts.to_dict()
    end = chunks[-1].state
    for p in net.populations:
        for v in p.model.state_vars:
            np.testing.assert_array_equal(end.populations[p.name][v], ours.state.populations[p.name][v], err_msg=f"{p.name}.{v}")
    for pr in net.projections:
        k = loihi.loihi_synapse_kernel
        np.testing.assert_array_equal(k(pr.synapse.params(), end.in_flight[pr.name]), k(pr.synapse.params(), ours.state.in_flight[pr.name]))
    # and each chunk continues from the state the previous one ended in, as our engine does from it
    again = snn.simulate(net, 12, engine="event", state=chunks[2].state, record=rec)
    for p in net.populations:
        np.testing.assert_array_equal(again.spikes[p.name], chunks[3].spikes[p.name])
    assert sum(np.count_nonzero(lava.spikes[p]) for p in ("lif", "box", "x")) > 200


@pytest.mark.lava
def test_set_state_then_continue_as_our_engine(session):
    """Write new neuron state and a_buff into the running session; Lava goes on exactly as our engine from that state."""
    net = session.network
    before = session.simulate(5)
    rng = np.random.default_rng(2)
    pops = {p: dict(v) for p, v in before.state.populations.items()}
    pops["lif"]["v"] = rng.integers(-5000, 5000, 12)
    pops["box"]["sigma"] = rng.integers(-20000, 20000, 9)
    flight = dict(before.state.in_flight)
    flight["box->box"] = (rng.integers(-50, 50, (1, 9)) << 2).astype(np.int64)  # weight_exp=-2: a_buff * 4 is the sum
    state = before.state.replace(populations=pops, in_flight=flight)
    session.set({"pop1.v": pops["lif"]["v"], "pop2.sigma": pops["box"]["sigma"], "proj2.a_buff": flight["box->box"][0] >> 2})
    got = session.get(["pop1.v", "pop2.sigma", "proj2.a_buff"])
    np.testing.assert_array_equal(got["pop1.v"], pops["lif"]["v"])
    lava = session.simulate(30, record=("spikes", "outputs"))
    ours = snn.simulate(net, 30, engine="event", state=state, record=("spikes", "outputs"))
    for p in net.populations:
        np.testing.assert_array_equal(lava.spikes[p.name], ours.spikes[p.name], err_msg=p.name)
    np.testing.assert_array_equal(lava.outputs["box"], ours.outputs["box"])


@pytest.mark.lava
def test_bad_requests_are_clear_errors_and_the_session_goes_on(session):
    with pytest.raises(LavaError, match="no Var 'nope'"):
        session.get(["pop1.nope"])
    with pytest.raises(LavaError, match="max_steps=300"):
        session.run(10_000)
    assert session.alive
    assert session.run(1)["pop1.spikes"].shape == (1, 12)


@pytest.mark.lava
def test_a_killed_session_gives_a_clear_error_and_leaves_no_process():
    py = _need_lava()
    s = lava_session.LavaSession(_network(), max_steps=50, python=py)
    s.run(3)
    pgid = s._proc.pid
    os.killpg(pgid, signal.SIGKILL)  # Lava and its workers die
    time.sleep(0.5)
    with pytest.raises(LavaError, match=r"died.*exit status"):
        s.run(3)
    with pytest.raises(LavaError, match="closed"):
        s.get(["pop1.v"])
    assert not s.alive
    deadline = time.time() + 10
    while not _no_process(pgid) and time.time() < deadline:
        time.sleep(0.2)
    assert _no_process(pgid)
    assert not s.folder.exists()


@pytest.mark.lava
def test_a_hung_session_times_out_and_is_killed():
    py = _need_lava()
    s = lava_session.LavaSession(_network(), max_steps=50, python=py, timeout_s=60)
    pgid = s._proc.pid
    os.killpg(pgid, signal.SIGSTOP)  # it stops answering
    s.timeout_s = 1.0
    t0 = time.time()
    with pytest.raises(LavaTimeoutError, match="timeout_s=1.0"):
        s.run(2)
    assert time.time() - t0 < 20
    deadline = time.time() + 10
    while not _no_process(pgid) and time.time() < deadline:
        time.sleep(0.2)
    assert _no_process(pgid)


@pytest.mark.lava
def test_dropping_the_object_stops_lava():
    py = _need_lava()
    s = lava_session.LavaSession(_network(), max_steps=20, python=py)
    pgid = s._proc.pid
    del s
    import gc

    gc.collect()
    deadline = time.time() + 15
    while not _no_process(pgid) and time.time() < deadline:
        time.sleep(0.2)
    assert _no_process(pgid)


@pytest.mark.lava
def test_interpreter_exit_stops_lava(tmp_path):
    """A script that opens a session and exits without closing it leaves no Lava process behind."""
    py = _need_lava()
    script = tmp_path / "leave.py"
    script.write_text(
        "import sys, warnings\n"
        "warnings.simplefilter('ignore')\n"
        f"sys.path.insert(0, {os.getcwd()!r}); sys.path.insert(0, {os.path.dirname(__file__)!r})\n"
        "from test_lava_session import _network\n"
        "from hardware import lava_session\n"
        f"s = lava_session.LavaSession(_network(), max_steps=20, python={py!r})\n"
        "s.run(2)\n"
        "print(s._proc.pid, flush=True)\n"
    )
    import subprocess

    out = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=300, env=dict(os.environ, PYTHONPATH=os.getcwd())
    )
    assert out.returncode == 0, out.stderr
    pgid = int(out.stdout.strip().splitlines()[-1])
    deadline = time.time() + 15
    while not _no_process(pgid) and time.time() < deadline:
        time.sleep(0.2)
    assert _no_process(pgid)


def test_missing_lava_environment_is_a_clear_error(tmp_path):
    with pytest.raises(LavaNotFoundError, match="no executable Lava interpreter"):
        lava_session.LavaSession(_network(), max_steps=5, python=str(tmp_path / "no-python"))


def test_an_interpreter_without_lava_is_a_clear_error():
    with pytest.raises(LavaNotFoundError, match="no Lava installed"):
        lava_session.LavaSession(_network(), max_steps=5, python=sys.executable, timeout_s=60)


@pytest.mark.lava
def test_a_network_with_its_own_initial_state_starts_from_it():
    """Lava's SigmaDelta starts from zero; the session writes the network's initial state (heat's u0) as Vars first."""
    from tasks import heat

    py = _need_lava()
    qnet, _ = loihi.quantize(heat.build_network(heat.random_problem(shape=(3, 2, 2), n_time=12, seed=2)))
    assert any(np.any(v != 0) for p in qnet.populations for v in p.initial_state.values())
    ours = snn.simulate(qnet, 12, engine="event", seed=0, record=("spikes", "outputs"))
    with lava_session.LavaSession(qnet, max_steps=12, seed=0, python=py) as s:
        a = s.simulate(5, record=("spikes", "outputs"))
        b = s.simulate(7, record=("spikes", "outputs"))
    both = snn.RunResult.concat([a, b])
    assert ours.counts.spikes > 0
    for name in ours.spikes:
        np.testing.assert_array_equal(both.spikes[name], ours.spikes[name])
    np.testing.assert_array_equal(both.counts.synaptic_events_per_step, ours.counts.synaptic_events_per_step)
    np.testing.assert_array_equal(both.outputs["u"], ours.outputs["u"])
    assert both.counts.to_dict() == ours.counts.to_dict()
    for p in qnet.populations:
        for v in p.model.state_vars:
            np.testing.assert_array_equal(both.state.populations[p.name][v], ours.state.populations[p.name][v], err_msg=f"{p.name}.{v}")
    k = loihi.loihi_synapse_kernel
    for pr in qnet.projections:  # Lava holds the delivered sums (a_buff), not the raw in-flight messages
        np.testing.assert_array_equal(
            k(pr.synapse.params(), both.state.in_flight[pr.name]), k(pr.synapse.params(), ours.state.in_flight[pr.name])
        )
