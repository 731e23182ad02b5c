"""Network description, op counts, seeding, immutability, save/load, and bad input."""

import json
import zipfile

import numpy as np
import pytest
import scipy.sparse as sp

import snn
from snn.errors import FileFormatError, NetworkError, SimulationError, SNNError


def issue_network():
    """The network of the core issue's API example."""
    net = snn.Network(dt_ms=1.0)
    net.add_population(
        "exc", 1000, snn.LIF(tau_mem_ms=20.0, tau_syn_ms=5.0, v_th=1.0, v_reset=0.0, bias=1.05), positions=snn.layout.grid((10, 10, 10), spacing_um=20.0)
    )
    net.add_population("in", 50, snn.PoissonSource(rate_hz=20.0))
    net.connect("exc", "exc", snn.connect.distance_gaussian(sigma_um=40.0, p_max=0.3), weight=0.05, delay_steps=1, seed=1)
    net.add_projection("in", "exc", weights=sp.random(1000, 50, density=0.1, random_state=2), delay_steps=2)
    return net


@pytest.fixture(scope="module")
def issue_run():
    net = issue_network()
    return net, snn.simulate(net, n_steps=500, engine="reference", seed=0, record=("spikes", "v"))


def test_issue_api_shapes(issue_run):
    net, res = issue_run
    assert res.spikes["exc"].shape == (500, 1000) and res.spikes["exc"].dtype == bool
    assert res.traces["exc"]["v"].shape == (500, 1000) and res.traces["exc"]["v"].dtype == np.float64
    assert res.counts.neuron_updates == 500 * 1000
    assert set(res.counts.per_projection) == {"exc->exc", "in->exc"}
    assert res.counts.spikes == res.spikes["exc"].sum() + res.spikes["in"].sum()
    assert 0 < res.counts.synaptic_events


def test_op_counts_equal_independent_count_from_spikes_and_csr(issue_run):
    net, res = issue_run
    total = 0
    for proj in net.projections:
        outdeg = np.diff(proj.weights.tocsc().indptr)  # stored synapses per pre neuron
        per_step = res.spikes[proj.pre].astype(np.int64) @ outdeg
        assert res.counts.per_projection[proj.name] == per_step.sum()
        total += per_step
    np.testing.assert_array_equal(res.counts.synaptic_events_per_step, total)
    assert res.counts.synaptic_events == total.sum()
    np.testing.assert_array_equal(res.counts.spikes_per_step, res.spikes["exc"].sum(1) + res.spikes["in"].sum(1))
    assert json.loads(json.dumps(res.counts.to_dict()))["synaptic_events"] == res.counts.synaptic_events


def test_delays_are_honoured_per_synapse():
    raster = np.zeros((20, 2), bool)
    raster[2, 0] = raster[5, 1] = True
    net = snn.Network()
    net.add_population("s", 2, snn.SpikeSource(raster))
    net.add_population("n", 1, snn.IF(v_th=100.0))
    net.add_projection("s", "n", weights=[[1.0, 10.0]], delay_steps=np.array([[3, 1]]))
    v = snn.simulate(net, 20, record=("v",)).traces["n"]["v"][:, 0]
    assert v[4] == 0 and v[5] == 1.0 and v[6] == 11.0


def test_same_seed_same_network_and_spikes_and_different_seed_differs():
    a, b = issue_network(), issue_network()
    pa, pb = a.projection("exc->exc").weights, b.projection("exc->exc").weights
    assert (pa != pb).nnz == 0 and np.array_equal(pa.indices, pb.indices)
    ra = snn.simulate(a, 100, seed=3)
    rb = snn.simulate(b, 100, seed=3)
    rc = snn.simulate(b, 100, seed=4)
    np.testing.assert_array_equal(ra.spikes["in"], rb.spikes["in"])
    np.testing.assert_array_equal(ra.spikes["exc"], rb.spikes["exc"])
    assert not np.array_equal(ra.spikes["in"], rc.spikes["in"])


def test_simulate_does_not_mutate_network(tmp_path):
    net = issue_network()
    snn.save(net, tmp_path / "before.npz")
    snn.simulate(net, 50, record=("spikes", "v", "i"))
    snn.save(net, tmp_path / "after.npz")
    with np.load(tmp_path / "before.npz") as a, np.load(tmp_path / "after.npz") as b:
        assert a.files == b.files
        for k in a.files:
            np.testing.assert_array_equal(a[k], b[k])
    with pytest.raises(ValueError):
        net.projections[0].weights.data[0] = 5.0


def test_save_load_round_trip_is_exact(tmp_path):
    net = issue_network()
    net.add_population("sd", 5, snn.SigmaDelta(vth=np.arange(5) * 0.1, activation="relu"), initial_state={"sigma": np.arange(5.0)})
    net.add_projection("exc", "sd", weights=np.random.default_rng(0).random((5, 1000)) * (np.random.default_rng(1).random((5, 1000)) < 0.01), delay_steps=4)
    path = tmp_path / "net.npz"
    snn.save(net, path)
    back = snn.load(path)
    assert [p.name for p in back.populations] == [p.name for p in net.populations]
    for p, q in zip(net.populations, back.populations):
        assert type(p.model) is type(q.model) and p.n == q.n
        np.testing.assert_array_equal(p.positions_um, q.positions_um)
        assert p.model.to_record()[0] == q.model.to_record()[0]
    for p, q in zip(net.projections, back.projections):
        assert p.name == q.name and (p.weights != q.weights).nnz == 0
        np.testing.assert_array_equal(p.delays, q.delays)
    r1 = snn.simulate(net, 60, seed=9, record=("spikes", "v"))
    r2 = snn.simulate(back, 60, seed=9, record=("spikes", "v"))
    for name in r1.spikes:
        np.testing.assert_array_equal(r1.spikes[name], r2.spikes[name])
    np.testing.assert_array_equal(r1.traces["exc"]["v"], r2.traces["exc"]["v"])


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "make, needle",
    [
        (lambda: snn.LIF(tau_mem_ms=-1.0), "tau_mem_ms"),
        (lambda: snn.LIF(tau_mem_ms=float("nan")), "tau_mem_ms"),
        (lambda: snn.LIF(tau_syn_ms=0.0), "tau_syn_ms"),
        (lambda: snn.LIF(reset="bounce"), "reset"),
        (lambda: snn.LIF(refractory_steps=1.5), "refractory_steps"),
        (lambda: snn.LIF(tau_mem_ms=np.array([[1.0]])), "tau_mem_ms"),
        (lambda: snn.PoissonSource(rate_hz=-5), "rate_hz"),
        (lambda: snn.SpikeSource(np.zeros(5)), "raster"),
        (lambda: snn.SigmaDelta(activation="tanh"), "activation"),
        (lambda: snn.Boltzmann(update_prob=1.5), "update_prob"),
        (lambda: snn.Network(dt_ms=0), "dt_ms"),
    ],
)
def test_bad_model_and_network_arguments_name_the_argument(make, needle):
    with pytest.raises(ValueError) as err:
        make()
    assert needle in str(err.value) and isinstance(err.value, SNNError)


def _small():
    net = snn.Network()
    net.add_population("a", 4, snn.LIF())
    net.add_population("src", 3, snn.PoissonSource(10.0))
    return net


@pytest.mark.parametrize(
    "action, needle, exc",
    [
        (lambda n: n.add_population("a", 2, snn.LIF()), "name", NetworkError),
        (lambda n: n.add_population("b", 0, snn.LIF()), "n=0", NetworkError),
        (lambda n: n.add_population("b", 3, snn.LIF(), positions=np.zeros((3, 2))), "positions", ValueError),
        (lambda n: n.add_population("b", 3, snn.LIF(), positions=np.full((3, 3), np.nan)), "positions", ValueError),
        (lambda n: n.add_population("b", 3, snn.LIF(tau_mem_ms=np.ones(4))), "tau_mem_ms", ValueError),
        (lambda n: n.add_population("b", 3, snn.LIF(), initial_state={"w": 0.0}), "initial_state", NetworkError),
        (lambda n: n.add_population("b", 3, "LIF"), "model", TypeError),
        (lambda n: n.add_projection("a", "zzz", weights=np.ones((4, 4))), "zzz", NetworkError),
        (lambda n: n.add_projection("a", "a", weights=np.ones((3, 4))), "weights", NetworkError),
        (lambda n: n.add_projection("a", "a", weights=np.ones((4, 4)), delay_steps=0), "delay_steps", NetworkError),
        (lambda n: n.add_projection("a", "a", weights=np.ones((4, 4)), delay_steps=1.5), "delay_steps", NetworkError),
        (lambda n: n.add_projection("a", "a", weights=np.full((4, 4), np.nan)), "weights", NetworkError),
        (lambda n: n.add_projection("a", "src", weights=np.ones((3, 4))), "post", NetworkError),
        (lambda n: n.connect("a", "a", snn.connect.fixed_probability(1.5)), "p", ValueError),
        (lambda n: n.connect("a", "a", snn.connect.all_to_all(), delay_steps=0), "delay_steps", ValueError),
        (lambda n: snn.simulate(n, 0), "n_steps", SimulationError),
        (lambda n: snn.simulate(n, 5, engine="warp"), "engine", SimulationError),
        (lambda n: snn.simulate(n, 5, record=("q",)), "record", SimulationError),
        (lambda n: snn.simulate(n, 5, seed=-1), "seed", SimulationError),
        (lambda n: snn.simulate(n, 5, inputs={"a": np.zeros((5, 4))}), "inputs", SimulationError),
    ],
)
def test_bad_input_errors(action, needle, exc):
    with pytest.raises(exc) as err:
        action(_small())
    assert needle in str(err.value)
    assert isinstance(err.value, SNNError)


def test_corrupted_and_foreign_files(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"this is not a zip file")
    with pytest.raises(FileFormatError, match="bad.npz"):
        snn.load(bad)
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, x=np.arange(3))
    with pytest.raises(FileFormatError, match="header|corrupted"):
        snn.load(foreign)
    other = tmp_path / "other.npz"
    np.savez(other, header=np.array(json.dumps({"format": "someone-else", "version": 1})))
    with pytest.raises(FileFormatError, match="format"):
        snn.load(other)
    # truncated archive
    good = tmp_path / "good.npz"
    snn.save(_small(), good)
    data = good.read_bytes()
    trunc = tmp_path / "trunc.npz"
    trunc.write_bytes(data[: len(data) // 2])
    with pytest.raises(FileFormatError):
        snn.load(trunc)
    # a pickled object array must never be loaded
    pick = tmp_path / "pickled.npz"
    np.savez(pick, header=np.array([{"format": "snn-toolkit.network"}], dtype=object))
    with pytest.raises(FileFormatError):
        snn.load(pick)
    # tampered content: inconsistent projection arrays
    net = _small()
    net.add_projection("a", "a", weights=np.eye(4), delay_steps=1)
    snn.save(net, good)
    with zipfile.ZipFile(good) as z:
        arrays = {n[:-4]: np.load(z.open(n)) for n in z.namelist()}
    arrays["proj0.indices"] = arrays["proj0.indices"][:-1]
    np.savez(tmp_path / "tampered.npz", **arrays)
    with pytest.raises(FileFormatError, match="proj|shape|inconsistent"):
        snn.load(tmp_path / "tampered.npz")


def test_save_is_atomic_and_leaves_no_temp_files(tmp_path):
    net = _small()
    snn.save(net, tmp_path / "x.npz")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.npz"]


def test_zero_delay_chain_propagates_within_the_step_in_topological_order():
    raster = np.zeros((10, 1), bool)
    raster[3, 0] = True
    net = snn.Network()
    # added in reverse order: the update order must still follow the zero-delay edges
    net.add_population("b", 1, snn.IF(v_th=0.5))
    net.add_population("a", 1, snn.IF(v_th=0.5))
    net.add_population("s", 1, snn.SpikeSource(raster))
    net.add_projection("a", "b", weights=[[1.0]], delay_steps=0)
    net.add_projection("s", "a", weights=[[1.0]], delay_steps=0)
    assert net.update_order() == ["s", "a", "b"]
    res = snn.simulate(net, 10)
    assert np.flatnonzero(res.spikes["a"][:, 0]).tolist() == [3]
    assert np.flatnonzero(res.spikes["b"][:, 0]).tolist() == [3]
    # with one step of delay on the second hop the spike arrives one step later
    net2 = snn.Network()
    net2.add_population("s", 1, snn.SpikeSource(raster))
    net2.add_population("a", 1, snn.IF(v_th=0.5))
    net2.add_population("b", 1, snn.IF(v_th=0.5))
    net2.add_projection("s", "a", weights=[[1.0]], delay_steps=0)
    net2.add_projection("a", "b", weights=[[1.0]], delay_steps=1)
    assert np.flatnonzero(snn.simulate(net2, 10).spikes["b"][:, 0]).tolist() == [4]


def test_zero_delay_cycle_is_refused_with_the_cycle_named():
    net = snn.Network()
    for name in "abc":
        net.add_population(name, 2, snn.LIF())
    net.add_projection("a", "b", weights=np.eye(2), delay_steps=0)
    net.add_projection("b", "c", weights=np.eye(2), delay_steps=0)
    net.add_projection("c", "a", weights=np.eye(2), delay_steps=1)  # recurrent with a delay: fine
    with pytest.raises(NetworkError, match="delay_steps.*cycle a -> b -> c -> a|delay_steps.*cycle"):
        net.add_projection("c", "a", weights=np.eye(2), delay_steps=0)
    with pytest.raises(NetworkError, match="delay_steps"):
        net.add_projection("a", "b", weights=np.eye(2), delay_steps=-1)


def test_projection_out_degree_and_delay_range_against_numpy():
    # computed once per projection (the arrays are read-only); out_degree hands out a copy
    rng = np.random.default_rng(3)
    w = sp.random(40, 30, density=0.2, random_state=4, format="csr")
    d = rng.integers(1, 7, (40, 30))
    net = snn.Network()
    net.add_population("a", 30, snn.LIF())
    net.add_population("b", 40, snn.LIF())
    net.add_projection("a", "b", weights=w, delay_steps=d)
    pr = net.projections[0]
    expected = np.asarray((w != 0).sum(axis=0)).ravel()
    np.testing.assert_array_equal(pr.out_degree(), expected)
    first = pr.out_degree()
    first[:] = -1
    np.testing.assert_array_equal(pr.out_degree(), expected)
    assert pr.delay_range == (int(pr.delays.min()), int(pr.delays.max()))
    assert pr.delay_range[0] >= 1 and pr.delay_range[1] <= 6
    net.add_projection("b", "a", weights=sp.csr_matrix((30, 40)), name="empty")
    assert net.projections[1].delay_range == (0, 0)


# ---------------------------------------------------------------------------------------------
# numeric coercion (issue 17): clear errors naming the argument, before any conversion


def test_network_arguments_of_the_wrong_kind_are_named():
    with pytest.raises(SNNError, match=r"dt_ms=1000000.*too large for a float"):
        snn.Network(dt_ms=10**400)
    assert snn.Network(dt_ms=10**30).dt_ms == 1e30  # a representable float is a float
    with pytest.raises(TypeError, match="dt_ms='1'"):
        snn.Network(dt_ms="1")
    net = snn.Network()
    with pytest.raises(TypeError, match="initial_state=5: must be None or a dict"):
        net.add_population("a", 2, snn.LIF(), initial_state=5)
    for pos in (np.zeros((2, 3), complex), [["a"] * 3] * 2, np.zeros((2, 3), bool)):
        with pytest.raises(TypeError, match="positions="):
            net.add_population("a", 2, snn.LIF(), positions=pos)
    with pytest.raises(TypeError, match=r"initial_state\['v'\]"):
        net.add_population("a", 2, snn.LIF(), initial_state={"v": "0.5"})
    with pytest.raises(TypeError, match=r"initial_state\['v'\]"):
        net.add_population("a", 2, snn.LIF(), initial_state={"v": [1 + 1j, 0]})
    with pytest.raises(TypeError, match="n=2.0"):
        net.add_population("a", 2.0, snn.LIF())
    assert not net.populations
    net.add_population("a", 2, snn.LIF(), initial_state={"v": np.array([0.25, 0.5], np.float32)})
    assert net.population("a").initial_state["v"].tolist() == [0.25, 0.5]
    with pytest.raises(NetworkError, match="seed=-1"):
        net.connect("a", "a", snn.connect.fixed_probability(0.5), seed=-1)
    with pytest.raises(NetworkError, match=f"seed={2**64}"):
        net.connect("a", "a", snn.connect.fixed_probability(0.5), seed=2**64)


def test_integer_state_out_of_int64_range_is_refused_not_wrapped():
    import dataclasses
    from typing import Any, ClassVar

    @dataclasses.dataclass(frozen=True, eq=False)
    class _IntState(snn.NeuronModel):
        state_vars: ClassVar[tuple[str, ...]] = ("v",)
        dtype: ClassVar[str] = "int64"
        kernel: ClassVar[Any] = staticmethod(lambda params, state, x, step, key: (x > 0, state))

        def params(self, n, dt_ms):
            return ()

    net = snn.Network()
    for bad in (1e30, 2**63, [0, 2.0**63], 0.5):
        with pytest.raises(NetworkError, match=r"initial_state\['v'\].*int64"):
            net.add_population("a", 2, _IntState(), initial_state={"v": bad})
    net.add_population("a", 2, _IntState(), initial_state={"v": [2**62, -(2**63)]})
    assert net.population("a").initial_state["v"].tolist() == [2**62, -(2**63)]


def test_record_and_inputs_of_the_wrong_kind_are_named():
    net = snn.Network()
    net.add_population("a", 2, snn.ExternalInput())
    net.add_population("b", 2, snn.LIF())
    net.add_projection("a", "b", weights=np.ones((2, 2)))
    x = np.ones((3, 2))
    with pytest.raises(TypeError, match=r"record\['b'\]=5"):
        snn.simulate(net, 3, record={"b": 5}, inputs={"a": x})
    with pytest.raises(TypeError, match="inputs=5: must be None or a dict"):
        snn.simulate(net, 3, inputs=5)
    with pytest.raises(TypeError, match=r"inputs\['a'\]"):
        snn.simulate(net, 3, inputs={"a": np.array([["1", "0"]] * 3)})
    with pytest.raises(TypeError, match=r"inputs\['a'\]"):
        snn.simulate(net, 3, inputs={"a": x + 1j})
    res = snn.simulate(net, 3, record={"b": "v"}, inputs={"a": x.astype(bool)})
    assert res.traces["b"]["v"].shape == (3, 2)
