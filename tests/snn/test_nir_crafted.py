"""snn.nir.read on crafted graphs and files: one NIRError naming the node (and the file), or a valid network."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import snn

nir = pytest.importorskip("nir")
h5py = pytest.importorskip("h5py")
from snn import nir as snir  # noqa: E402
from snn.errors import SNNError  # noqa: E402


def _lif(n, tau=5e-3):
    return nir.LIF(tau=np.full(n, tau), r=np.ones(n), v_leak=np.zeros(n), v_threshold=np.ones(n), v_reset=np.zeros(n))


def _graph(nodes, edges):
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


def _good():
    rng = np.random.default_rng(0)
    nodes = {
        "input": nir.Input(input_type={"input": np.array([4])}),
        "fc": nir.Affine(weight=rng.normal(0.8, 0.3, (6, 4)), bias=np.full(6, 0.05)),
        "lif": _lif(6),
        "rec": nir.Linear(weight=rng.normal(0, 0.2, (6, 6))),
        "conv": nir.Conv1d(
            input_shape=3, weight=rng.normal(0.5, 0.2, (2, 2, 2)), stride=1, padding=0, dilation=1, groups=1, bias=np.zeros(2)
        ),
        "out": _lif(4),
        "output": nir.Output(output_type={"output": np.array([4])}),
    }
    edges = [("input", "fc"), ("fc", "lif"), ("lif", "rec"), ("rec", "lif"), ("lif", "conv"), ("conv", "out"), ("out", "output")]
    return nodes, edges


def _read(nodes, edges):
    return snir.read(_graph(nodes, edges), dt_ms=1.0)


def _refused(nodes, edges, *needles):
    with pytest.raises(snir.NIRError) as err:
        snir.read(nodes if isinstance(nodes, nir.NIRGraph) else _graph(nodes, edges), dt_ms=1.0)
    for needle in needles:
        assert needle in str(err.value), str(err.value)


def test_the_good_graph_reads():
    net = _read(*_good())
    assert [p.name for p in net.populations][:2] == ["input", "lif"] and net.outputs == ("out",)


def _replace(nodes, name, **changes):
    node = nodes[name]
    # NIR's nodes check their fields in __post_init__; a crafted file skips that, so do we
    fields = {f.name: getattr(node, f.name) for f in dataclasses.fields(node)}
    fields.update(changes)
    new = object.__new__(type(node))
    for k, v in fields.items():
        object.__setattr__(new, k, v)
    nodes[name] = new
    return nodes


@pytest.mark.parametrize(
    "node, changes, needles",
    [
        ("conv", {"stride": 0}, ["'conv'", "stride=0", "[1,"]),  # was ZeroDivisionError
        ("conv", {"dilation": 0}, ["'conv'", "dilation=0"]),  # was accepted
        ("conv", {"padding": -1}, ["'conv'", "padding=-1"]),
        ("conv", {"groups": 0}, ["'conv'", "groups"]),
        ("conv", {"groups": 3}, ["'conv'", "groups"]),
        ("conv", {"weight": np.ones((2, 2))}, ["'conv'", "weight of shape (2, 2)"]),
        ("conv", {"input_shape": 10**9}, ["'conv'", "input_shape"]),
        ("conv", {"stride": "two"}, ["'conv'", "stride", "not a string"]),
        ("input", {"input_type": {"input": np.array([10**9])}}, ["'input'", "16777216"]),  # was MemoryError
        ("input", {"input_type": {"input": np.array([2**40, 2**40])}}, ["'input'"]),
        ("input", {"input_type": {"input": np.array([-4])}}, ["'input'", "input_type"]),
        ("input", {"input_type": {"input": "four"}}, ["'input'", "not a string"]),
        ("lif", {"tau": "abc"}, ["'lif'", "tau", "not a string"]),  # string parameters
        ("lif", {"tau": np.array(["5e-3"] * 6)}, ["'lif'", "tau", "<U4"]),
        ("lif", {"v_threshold": np.full(6, np.nan)}, ["'lif'", "v_threshold", "NaN"]),  # NaN parameters
        ("lif", {"tau": np.full(6, -1.0)}, ["'lif'", "tau"]),
        ("lif", {"r": np.ones(5)}, ["'lif'", "r has 5 values for 6 neurons"]),  # wrong shapes
        ("lif", {"tau": np.full(6, 5e-3 + 0j)}, ["'lif'", "complex"]),
        ("fc", {"weight": np.full((6, 4), np.inf)}, ["'fc'", "weight", "NaN or inf"]),
        ("fc", {"weight": np.ones((6, 4, 1))}, ["'fc'", "2-D"]),
        ("fc", {"weight": np.ones((6, 5))}, ["'fc'", "size 4"]),
        ("fc", {"bias": np.ones(3)}, ["'fc'", "bias"]),
        ("fc", {"bias": np.array([np.nan] * 6)}, ["'fc'", "bias", "NaN"]),
        ("lif", {"metadata": {"snn_toolkit.integration": "bogus"}}, ["'lif'", "integration"]),
    ],
)
def test_crafted_nodes_are_refused_with_the_node_named(node, changes, needles):
    graph = _graph(*_good())
    _replace(graph.nodes, node, **changes)
    _refused(graph, None, *needles)


def test_missing_nodes_cycles_and_unknown_types():
    nodes, edges = _good()
    _refused(nodes, edges + [("lif", "ghost")], "'ghost'")
    nodes, edges = _good()
    nodes["s1"], nodes["s2"] = nir.Scale(scale=np.ones(6)), nir.Scale(scale=np.ones(6))
    _refused(nodes, edges + [("fc", "s1"), ("s1", "s2"), ("s2", "s1"), ("s2", "lif")], "algebraic loop")
    nodes, edges = _good()
    nodes["pool"] = nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([1, 1]), padding=np.array([0, 0]))
    _refused(nodes, edges + [("lif", "pool")], "'pool' (SumPool2d)")
    nodes, edges = _good()
    _refused(nodes, edges + [("lif", "input")], "Input", "incoming")
    nodes, edges = _good()
    _refused(nodes, edges + [("lif",)], "pair")


def test_nested_graphs_too_deep_are_refused():
    inner = _graph(
        {
            "input": nir.Input(input_type={"input": np.array([2])}),
            "l": _lif(2),
            "output": nir.Output(output_type={"output": np.array([2])}),
        },
        [("input", "l"), ("l", "output")],
    )
    for k in range(40):
        inner = _graph(
            {
                "input": nir.Input(input_type={"input": np.array([2])}),
                f"g{k}": inner,
                "output": nir.Output(output_type={"output": np.array([2])}),
            },
            [("input", f"g{k}"), (f"g{k}", "output")],
        )
    with pytest.raises(snir.NIRError, match="nested graphs more than"):
        snir.read(inner, dt_ms=1.0)


# ------------------------------------------------------------------ files
@pytest.fixture(scope="module")
def written(tmp_path_factory):
    net = _read(*_good())
    path = tmp_path_factory.mktemp("nir") / "model.nir"
    snir.write(net, path)
    return path, snir.read(path, dt_ms=1.0)


def test_malformed_hdf5_files_name_the_file(tmp_path, written):
    for name, data in (("junk.nir", b"\x89HDF\r\n\x1a\n" + b"\0" * 100), ("empty.nir", b"")):
        p = tmp_path / name
        p.write_bytes(data)
        with pytest.raises(snir.NIRError, match=name):
            snir.read(p, dt_ms=1.0)
    trunc = tmp_path / "trunc.nir"
    trunc.write_bytes(written[0].read_bytes()[:1500])
    with pytest.raises(snir.NIRError, match="trunc.nir"):
        snir.read(trunc, dt_ms=1.0)
    nonode = tmp_path / "nonode.nir"
    with h5py.File(nonode, "w") as f:
        f.create_dataset("version", data="1.0")
    with pytest.raises(snir.NIRError, match="nonode.nir"):
        snir.read(nonode, dt_ms=1.0)


def test_a_dataset_declaring_more_than_the_file_holds_is_refused(tmp_path):
    bomb = tmp_path / "bomb.nir"
    with h5py.File(bomb, "w") as f:  # 80 GB declared; unwritten chunks take no space in the file
        f.create_dataset("node/nodes/fc/weight", shape=(10**5, 10**5), dtype="f8", chunks=(100, 100), compression="gzip")
    assert bomb.stat().st_size < 10**6
    with pytest.raises(snir.NIRError, match="more than this file can hold"):
        snir.read(bomb, dt_ms=1.0)


def test_errors_from_a_file_name_the_file_and_the_node(tmp_path):
    nodes = {"input": nir.Input(input_type={"input": np.array([4])}), "fc": nir.Linear(weight=np.ones((6, 4))), "lif": _lif(6, tau=1e-5)}
    edges = [("input", "fc"), ("fc", "lif")]  # tau 0.01 ms with snnTorch's forward Euler at dt 1 ms diverges
    path = tmp_path / "unstable.nir"
    nir.write(str(path), _graph(nodes, edges))
    with pytest.raises(snir.NIRError, match=r"unstable.nir.*'lif'.*forward Euler"):
        snir.read(path, dt_ms=1.0, convention="snntorch")


def _same(a, b):
    assert [(p.name, p.n, type(p.model)) for p in a.populations] == [(p.name, p.n, type(p.model)) for p in b.populations]
    for p, q in zip(a.populations, b.populations):
        (ps, pa), (qs, qa) = p.model.to_record(), q.model.to_record()
        assert ps == qs and all(np.array_equal(pa[k], qa[k]) for k in pa)
    assert [(p.name, p.pre, p.post) for p in a.projections] == [(p.name, p.pre, p.post) for p in b.projections]
    for p, q in zip(a.projections, b.projections):
        assert (p.weights != q.weights).nnz == 0 and np.array_equal(p.delays, q.delays)
    assert a.outputs == b.outputs


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_nir_files_give_a_nir_error_or_the_same_network(tmp_path, written, data):
    path, original = written
    raw = bytearray(path.read_bytes())
    for _ in range(data.draw(st.integers(1, 4))):
        k = data.draw(st.integers(0, len(raw) - 1))
        raw[k] ^= data.draw(st.integers(1, 255))
    bad = tmp_path / "mutated.nir"
    bad.write_bytes(bytes(raw))
    try:
        net = snir.read(bad, dt_ms=1.0)
    except snir.NIRError as exc:
        assert str(bad) in str(exc)
        return
    _same(original, net)


_values = st.one_of(
    st.none(),
    st.text(max_size=4),
    st.sampled_from([0, -1, 1, 2, 10**9, np.nan, np.inf, -np.inf, 1e-300, 1e300]),
    st.builds(lambda v, n: np.full(n, v), st.sampled_from([0.0, -1.0, 1.0, 0.5, np.nan, 1e30]), st.integers(0, 8)),
    st.builds(lambda n, m: np.ones((n, m)), st.integers(0, 7), st.integers(0, 7)),
)


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_mutated_node_fields_give_a_nir_error_or_a_valid_network(data):
    graph = _graph(*_good())
    name = data.draw(st.sampled_from(sorted(graph.nodes)))
    field = data.draw(st.sampled_from([f.name for f in dataclasses.fields(graph.nodes[name]) if f.name != "metadata"]))
    _replace(graph.nodes, name, **{field: data.draw(_values)})  # after the graph's own checks, as a crafted file would
    try:
        net = snir.read(graph, dt_ms=1.0)
    except snir.NIRError:
        return
    assert isinstance(net, snn.Network)
    try:
        snn.simulate(net, 3, inputs={"input": np.ones((3, net.population("input").n))})
    except SNNError:
        pass


def test_readme_what_a_default_snntorch_leaky_needs_for_loihi(tmp_path):
    # each numbered claim of the README's "from snnTorch" section, checked
    torch = pytest.importorskip("torch")
    snntorch = pytest.importorskip("snntorch")
    from snntorch.export_nir import export_to_nir

    from hardware import lava_backend, loihi
    from hardware.errors import QuantizationError

    def export(**kw):
        net = torch.nn.Sequential(torch.nn.Linear(4, 3), snntorch.Leaky(init_hidden=True, **kw))
        return export_to_nir(net, torch.zeros(1, 4), ignore_dims=[0])

    with pytest.raises(Exception, match="type mismatch"):  # 1. a scalar beta does not export
        export(beta=0.9)
    per_neuron = {"beta": torch.full((3,), 0.9), "threshold": torch.ones(3)}
    net = snir.read(export(**per_neuron), dt_ms=0.1, convention="snntorch")
    with pytest.raises(QuantizationError, match="reset='subtract'"):  # 2. the default reset has no Loihi form
        loihi.quantize(lava_backend.with_unit_delays(net))
    differing = dict(per_neuron, beta=torch.tensor([0.9, 0.8, 0.9]))
    net = snir.read(export(**differing, reset_mechanism="zero"), dt_ms=0.1, convention="snntorch", reset="zero")
    with pytest.raises(QuantizationError, match="one per population"):  # 3. one decay per layer
        loihi.quantize(lava_backend.with_unit_delays(net))
    net = snir.read(export(**per_neuron, reset_mechanism="zero"), dt_ms=0.1, convention="snntorch", reset="zero")
    assert net.zero_delay_edges()  # 4. same-step layers: --unit-delays
    with pytest.raises(Exception, match="with_unit_delays"):
        lava_backend.export(loihi.quantize(net)[0], tmp_path / "x", 5)
    qnet, _ = loihi.quantize(lava_backend.with_unit_delays(net))
    assert {type(p.model).__name__ for p in qnet.populations} >= {"LoihiLIF"}
