"""snn.save / snn.load on crafted files: one FileFormatError naming file and member, or the same network."""

from __future__ import annotations

import io
import json
import os
import zipfile

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import snn
import snn.io
from snn.errors import FileFormatError, SNNError


def _network() -> snn.Network:
    net = snn.Network(dt_ms=0.5)
    rng = np.random.default_rng(0)
    net.add_population("in", 3, snn.ExternalInput())
    net.add_population("src", 4, snn.PoissonSource(rate_hz=np.array([10.0, 20.0, 30.0, 40.0])), positions=rng.random((4, 3)) * 50)
    net.add_population("ss", 2, snn.SpikeSource(np.eye(2, dtype=bool)))
    net.add_population(
        "exc",
        5,
        snn.LIF(tau_mem_ms=np.linspace(5, 9, 5), tau_syn_ms=2.0, v_th=0.7, reset="subtract"),
        initial_state={"v": np.arange(5) * 0.1},
    )
    net.add_population("eul", 2, snn.LIF(tau_mem_ms=4.0, integration="euler"))
    net.add_population("sd", 3, snn.SigmaDelta(vth=0.1, activation="relu"))
    w = sp.random(5, 3, density=0.7, random_state=1, format="csr")
    w.data[0] = 0.0  # an explicit zero weight is a stored synapse
    net.add_projection("in", "exc", weights=w, delay_steps=0)
    dense = rng.random((5, 4)) * (rng.random((5, 4)) < 0.6)
    net.add_projection("src", "exc", weights=dense, delay_steps=rng.integers(1, 6, (5, 4)), name="poisson drive")
    net.add_projection("exc", "exc", weights=np.eye(5) * 0.2, delay_steps=3)
    net.add_projection("exc", "sd", weights=np.ones((3, 5)), delay_steps=1)
    net.add_projection("ss", "eul", weights=np.eye(2), delay_steps=2)
    net.outputs = ("sd", "exc")
    return net


def _same(a: snn.Network, b: snn.Network) -> None:
    assert a.dt_ms == b.dt_ms and a.outputs == b.outputs
    assert [p.name for p in a.populations] == [p.name for p in b.populations]
    for p, q in zip(a.populations, b.populations):
        assert type(p.model) is type(q.model) and p.n == q.n
        np.testing.assert_array_equal(p.positions_um, q.positions_um)
        (ps, pa), (qs, qa) = p.model.to_record(), q.model.to_record()
        assert ps == qs and sorted(pa) == sorted(qa)
        for k in pa:
            np.testing.assert_array_equal(pa[k], qa[k])
        assert sorted(p.initial_state) == sorted(q.initial_state)
        for k in p.initial_state:
            np.testing.assert_array_equal(p.initial_state[k], q.initial_state[k])
    assert [p.name for p in a.projections] == [p.name for p in b.projections]
    for p, q in zip(a.projections, b.projections):
        assert (p.pre, p.post, p.synapse) == (q.pre, q.post, q.synapse)
        for k in ("data", "indices", "indptr"):
            np.testing.assert_array_equal(getattr(p.weights, k), getattr(q.weights, k))
        np.testing.assert_array_equal(p.delays, q.delays)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    path = tmp_path_factory.mktemp("io") / "net.npz"
    snn.save(_network(), path)
    return path


def _members(path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as z:  # our own, trusted file
        return {k: z[k] for k in z.files}


def _header(path) -> dict:
    return json.loads(str(_members(path)["header"][()]))


def _rewrite(path, tmp_path, *, header=None, **arrays) -> os.PathLike:
    members = _members(path)
    if header is not None:
        members["header"] = np.array(json.dumps(header))
    members.update(arrays)
    out = tmp_path / "crafted.npz"
    np.savez_compressed(out, **members)
    return out


def _refused(path, *needles) -> FileFormatError:
    with pytest.raises(FileFormatError) as err:
        snn.load(path)
    text = str(err.value)
    assert str(path) in text, text
    for needle in needles:
        assert needle in text, text
    return err.value


def test_round_trip_is_exact_and_runs_the_same(saved):
    net, back = _network(), snn.load(saved)
    _same(net, back)
    x = {"in": np.random.default_rng(2).random((40, 3))}
    r1 = snn.simulate(net, 40, seed=3, inputs=x, record=("spikes", "v"))
    r2 = snn.simulate(back, 40, seed=3, inputs=x, record=("spikes", "v"))
    for k in r1.spikes:
        np.testing.assert_array_equal(r1.spikes[k], r2.spikes[k])


# ------------------------------------------------------------------ the zip and .npy level
def _member_data_offset(path, name) -> int:
    with zipfile.ZipFile(path) as z:
        info = z.getinfo(name)
    raw = path.read_bytes()
    n_name, n_extra = (
        int.from_bytes(raw[info.header_offset + 26 : info.header_offset + 28], "little"),
        int.from_bytes(raw[info.header_offset + 28 : info.header_offset + 30], "little"),
    )
    return info.header_offset + 30 + n_name + n_extra, info.compress_size


def test_flipped_bytes_in_compressed_data_are_a_file_error(saved, tmp_path):
    start, size = _member_data_offset(saved, "proj1.data.npy")
    raw = bytearray(saved.read_bytes())
    for k in range(start + size // 3, start + size // 3 + 4):
        raw[k] ^= 0xFF
    bad = tmp_path / "flipped.npz"
    bad.write_bytes(bytes(raw))
    _refused(bad, "proj1.data")  # was a raw zlib.error / BadZipFile


def _npy_member(shape, descr="<f8", data=b"") -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False, "shape": shape})
    return buf.getvalue() + data


def _zip_with(path, tmp_path, replace: dict[str, bytes]) -> os.PathLike:
    out = tmp_path / "raw.npz"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, replace.get(info.filename, src.read(info.filename)))
    return out


def test_huge_declared_shape_is_refused_before_allocating(saved, tmp_path):
    # shape (1e12, 3) float64 declares 24 TB: refused from the .npy header (was a MemoryError)
    bad = _zip_with(saved, tmp_path, {"pop3.positions.npy": _npy_member((10**12, 3), data=b"\0" * 64)})
    _refused(bad, "pop3.positions", "declares shape (1000000000000, 3)")


def test_member_declaring_more_than_deflate_can_give_is_refused(saved, tmp_path):
    raw = bytearray(saved.read_bytes())
    name = b"pop3.positions.npy"
    k = raw.find(b"PK\x01\x02")  # the central directory entry of that member
    while raw[k + 46 : k + 46 + len(name)] != name:
        k = raw.find(b"PK\x01\x02", k + 4)
    raw[k + 24 : k + 28] = (2**31).to_bytes(4, "little")  # its uncompressed size: 2 GiB
    out = tmp_path / "lying.npz"
    out.write_bytes(bytes(raw))
    _refused(out, "pop3.positions", "more than compression can give")


@pytest.mark.parametrize(
    "descr, needle",
    [("|O", "not allowed"), ("<c16", "not allowed"), ("<U3", "not allowed")],
)
def test_forbidden_member_dtypes(saved, tmp_path, descr, needle):
    item = np.dtype(descr).itemsize if descr != "|O" else 8
    bad = _zip_with(saved, tmp_path, {"proj0.data.npy": _npy_member((4,), descr, b"\0" * (4 * item))})
    _refused(bad, "proj0.data", needle)


def test_not_a_zip_and_foreign_and_pickled_files(tmp_path):
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"PK\x03\x04 definitely not a zip")
    _refused(junk)
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, x=np.arange(3))
    _refused(foreign, "header", "missing")
    pick = tmp_path / "pickled.npz"
    np.savez(pick, header=np.array([{"format": "snn-toolkit.network"}], dtype=object), allow_pickle=True)
    _refused(pick, "header", "not allowed")
    with pytest.raises(FileNotFoundError):
        snn.load(tmp_path / "nothing.npz")


def test_extra_and_missing_members(saved, tmp_path):
    _refused(_rewrite(saved, tmp_path, smuggled=np.arange(3)), "smuggled", "not part of the network")
    members = _members(saved)
    del members["proj2.delays"]
    out = tmp_path / "missing.npz"
    np.savez(out, **members)
    _refused(out, "proj2.delays", "missing")


# ------------------------------------------------------------------ the JSON header
def test_deeply_nested_header_is_refused_without_recursion_error(saved, tmp_path):
    deep = "[" * 200_000 + "]" * 200_000
    out = _rewrite(saved, tmp_path)
    members = _members(out)
    members["header"] = np.array(deep)
    np.savez(out, **members)
    _refused(out, "header", "nested")
    h = _header(saved)
    nest: object = 1
    for _ in range(snn.io.MAX_HEADER_DEPTH + 2):
        nest = [nest]
    h["junk"] = nest
    _refused(_rewrite(saved, tmp_path, header=h), "header", "nested")


def test_header_size_is_bounded(saved, tmp_path, monkeypatch):
    monkeypatch.setattr(snn.io, "MAX_HEADER_CHARS", 100)
    _refused(saved, "header", "at most 400")


def _with(h: dict, path: list, value):
    obj = h
    for k in path[:-1]:
        obj = obj[k]
    obj[path[-1]] = value
    return h


@pytest.mark.parametrize(
    "path, value, needles",
    [
        (["populations", 3, "scalars", "tau_syn_ms"], "2.0", ["populations[3].scalars.tau_syn_ms", "must be int or float or null"]),
        (["populations", 3, "scalars", "reset"], 1, ["reset", "must be str"]),
        (["populations", 3, "scalars", "v_th"], True, ["v_th", "must be int or float"]),
        (["populations", 3, "scalars", "tau_syn_ms"], -2.0, ["populations[3]", "tau_syn_ms"]),
        (["populations", 3, "scalars", "warp"], 1.0, ["unknown parameter 'warp'"]),
        (["populations", 3, "n"], 10**12, ["pop3.positions", "does not fit"]),
        (["populations", 3, "n"], 5.0, ["populations[3].n", "must be int"]),
        (["populations", 3, "model"], "Bogus", ["populations[3].model", "unknown neuron model"]),
        (["populations", 1, "name"], "exc", ["populations[3] ('exc')", "exists already"]),
        (["populations", 4, "scalars", "tau_mem_ms"], 0.1, ["populations[4] ('eul')", "forward Euler", ">= 0.25 ms"]),
        (["populations", 1, "arrays"], ["rate_hz", "rate_hz"], ["arrays", "twice"]),
        (["projections", 0, "post"], "ghost", ["projections[0]", "ghost"]),
        (["projections", 4, "post"], "ss", ["projections[4]", "a source"]),
        (["projections", 0, "synapse"], {"type": "Nope", "record": {}}, ["projections[0].synapse.type", "unknown synapse"]),
        (["outputs"], ["exc", "ghost"], ["outputs", "ghost"]),
        (["outputs"], ["exc", "exc"], ["outputs", "twice"]),
        (["dt_ms"], "1.0", ["dt_ms", "must be int or float"]),
        (["dt_ms"], 0.0, ["dt_ms"]),
        (["version"], 2, ["version"]),
        (["format"], "other", ["format"]),
    ],
)
def test_crafted_header_fields_are_refused_with_the_field_named(saved, tmp_path, path, value, needles):
    h = _with(_header(saved), path, value)
    member = [] if needles[0].startswith("pop3.") else ["member 'header'"]  # else the array that disagrees
    _refused(_rewrite(saved, tmp_path, header=h), *member, *needles)


def test_header_must_be_an_object_with_known_fields(saved, tmp_path):
    _refused(_rewrite(saved, tmp_path, header=[1, 2]), "header", "JSON object")
    h = _header(saved)
    h["extra"] = 1
    _refused(_rewrite(saved, tmp_path, header=h), "header", "unknown fields ['extra']")


# ------------------------------------------------------------------ the arrays
@pytest.mark.parametrize(
    "member, value, needles",
    [
        # delays that used to load as -2**63 and crash the event engine
        ("proj2.delays", np.full(5, np.inf), ["proj2.delays", "dtype float64 is not allowed"]),
        ("proj2.delays", np.full(5, 1e30), ["proj2.delays", "dtype float64 is not allowed"]),
        ("proj2.delays", np.full(5, np.iinfo(np.uint64).max, dtype=np.uint64), ["projections[2]", "delay_steps"]),
        ("proj2.delays", np.full(5, np.iinfo(np.int64).max, dtype=np.int64), ["projections[2]", "delay_steps"]),
        ("proj2.delays", np.full(5, -1, dtype=np.int64), ["projections[2]", "delay_steps"]),
        ("proj2.delays", np.full(5, 1.5), ["proj2.delays", "float64"]),  # fractional delays
        ("proj2.delays", np.zeros(5, dtype=np.int64), ["projections[2]", "cycle"]),  # zero-delay self loop
        ("proj2.indices", np.arange(5, dtype=np.float64), ["proj2.indices", "float64"]),  # float indices
        ("proj2.indices", np.array([0, 1, 2, 3, 7]), ["proj2.indices", "[0, 5)"]),
        ("proj2.indices", np.array([0, 1, 2, 3]), ["proj2.data", "one entry per synapse"]),
        ("proj2.indptr", np.array([0, 2, 1, 3, 4, 5]), ["proj2.indptr", "rise"]),
        ("proj2.data", np.ones(5, dtype=np.complex128), ["proj2.data", "complex128"]),  # complex weights
        ("proj2.data", np.array(["a"] * 5), ["proj2.data", "<U1"]),  # string weights
        ("proj2.data", np.full(5, np.nan), ["projections[2]", "NaN"]),
        ("pop3.positions", np.full((5, 3), np.inf), ["populations[3]", "positions"]),
        ("pop3.positions", np.zeros((5, 2)), ["pop3.positions", "(n, 3)"]),
        ("pop3.model.tau_mem_ms", np.ones(4), ["populations[3]", "tau_mem_ms"]),
        ("pop3.model.tau_mem_ms", np.array([1, 2, 3, 4, 5], dtype=np.complex64), ["pop3.model.tau_mem_ms", "complex64"]),
        ("pop3.init.v", np.array([0.0, 1, 2, 3, np.nan]), ["populations[3]", "initial_state"]),
        ("pop1.model.rate_hz", np.full(4, 3000.0), ["populations[1]", "1000/dt_ms"]),
    ],
)
def test_crafted_arrays_are_refused_with_the_member_named(saved, tmp_path, member, value, needles):
    _refused(_rewrite(saved, tmp_path, **{member: value}), *needles)


def test_duplicate_synapses_in_a_file_are_refused(saved, tmp_path):
    indices = _members(saved)["proj2.indices"].copy()
    indptr = np.array([0, 2, 2, 3, 4, 5])
    indices[:2] = 1
    _refused(_rewrite(saved, tmp_path, **{"proj2.indices": indices, "proj2.indptr": indptr}), "proj2.indices", "strictly increasing")


def test_crafted_delays_never_reach_an_engine(saved, tmp_path):
    for value in (
        np.full(5, np.inf),
        np.full(5, 1e30),
        np.full(5, np.iinfo(np.uint64).max, dtype=np.uint64),
        np.full(5, 2**62, dtype=np.int64),
    ):
        with pytest.raises(SNNError):
            net = snn.load(_rewrite(saved, tmp_path, **{"proj2.delays": value}))
            snn.simulate(net, 3, engine="event", inputs={"in": np.zeros((3, 3))})


# ------------------------------------------------------------------ properties
def _outcome(path, original):
    try:
        back = snn.load(path)
    except FileFormatError as exc:
        assert str(path) in str(exc)
        return "error"
    _same(original, back)
    return "same"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_bytes_give_a_file_error_or_the_same_network(saved, tmp_path, data):
    raw = bytearray(saved.read_bytes())
    kind = data.draw(st.sampled_from(["flip", "truncate", "insert", "overwrite"]))
    if kind == "flip":
        for _ in range(data.draw(st.integers(1, 6))):
            k = data.draw(st.integers(0, len(raw) - 1))
            raw[k] ^= data.draw(st.integers(1, 255))
    elif kind == "truncate":
        raw = raw[: data.draw(st.integers(0, len(raw) - 1))]
    elif kind == "insert":
        k = data.draw(st.integers(0, len(raw)))
        raw[k:k] = data.draw(st.binary(min_size=1, max_size=16))
    else:
        k = data.draw(st.integers(0, len(raw) - 1))
        chunk = data.draw(st.binary(min_size=1, max_size=32))
        raw[k : k + len(chunk)] = chunk
    path = tmp_path / "mutated.npz"
    path.write_bytes(bytes(raw))
    _outcome(path, _network())


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=8,
)


def _paths(obj, prefix=()):
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _paths(v, prefix + (i,))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_header_or_arrays_give_a_file_error_or_a_valid_network(saved, tmp_path, data):
    members = _members(saved)
    header = json.loads(str(members["header"][()]))
    if data.draw(st.booleans()):
        paths = [p for p in _paths(header) if p]
        where = data.draw(st.sampled_from(paths))
        _with(header, list(where), data.draw(_json))
        members["header"] = np.array(json.dumps(header))
    else:
        key = data.draw(st.sampled_from(sorted(k for k in members if k != "header")))
        dtype = data.draw(st.sampled_from([np.bool_, np.int8, np.int64, np.uint64, np.float32, np.float64, np.complex128]))
        shape = data.draw(st.sampled_from([members[key].shape, (), (0,), (1,), (members[key].size + 1,), (2, 3)]))
        size = int(np.prod(shape))
        if np.dtype(dtype).kind in "fc":
            vals = data.draw(
                st.lists(st.sampled_from([0.0, 1.0, -1.0, 0.5, 1e30, -1e300, np.inf, np.nan, 2.0**63]), min_size=size, max_size=size)
            )
        else:
            info = np.iinfo(dtype) if np.dtype(dtype).kind in "iu" else None
            lo, hi = (0, 1) if info is None else (int(info.min), int(info.max))
            vals = data.draw(st.lists(st.integers(lo, hi), min_size=size, max_size=size))
        with np.errstate(over="ignore", invalid="ignore"):
            members[key] = np.array(vals, dtype=dtype).reshape(shape)
    path = tmp_path / "mutated.npz"
    np.savez_compressed(path, **members)
    try:
        net = snn.load(path)
    except FileFormatError as exc:
        assert str(path) in str(exc)
        return
    # what loads is a valid network: it saves and loads back unchanged
    again = tmp_path / "again.npz"
    snn.save(net, again)
    _same(net, snn.load(again))


# ------------------------------------------------------------------ atomic writes
def _dead_pid() -> int:
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_killed_write_leaves_a_temp_file_that_the_next_write_removes(tmp_path):
    import subprocess
    import sys
    import textwrap

    target = tmp_path / "net.npz"
    # a writer killed in the middle of its write (SIGKILL: no cleanup handler runs)
    script = textwrap.dedent(
        f"""
        import os, signal, snn.io
        def write(fh):
            fh.write(b"half a file")
            fh.flush()
            os.kill(os.getpid(), signal.SIGKILL)
        snn.io.atomic_write_bytes({str(target)!r}, write)
        """
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    proc = subprocess.run([sys.executable, "-c", script], env=env)
    assert proc.returncode == -9
    left = [p.name for p in tmp_path.iterdir()]
    assert len(left) == 1 and left[0].startswith(".net.npz.") and left[0].endswith(".tmp"), left
    # someone else's file of a similar name, and a live writer's temp file, are not ours to remove
    (tmp_path / ".net.npz.backup").write_bytes(b"x")
    live = tmp_path / f".net.npz.{os.getpid()}.abc123.tmp"
    live.write_bytes(b"in progress")
    snn.save(_network(), target)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([".net.npz.backup", live.name, "net.npz"])
    _same(_network(), snn.load(target))


def test_stale_temps_of_dead_writers_are_removed_for_nir_and_lava_exports(tmp_path):
    pytest.importorskip("nir")
    dead = _dead_pid()
    stale = tmp_path / f".model.nir.{dead}.q1w2e3r4.tmp"
    stale.write_bytes(b"partial hdf5")
    net = snn.Network(dt_ms=1.0)
    net.add_population("input", 2, snn.ExternalInput())
    net.add_population("out", 2, snn.LIF())
    net.add_projection("input", "out", weights=np.eye(2), delay_steps=0)
    snn.nir.write(net, tmp_path / "model.nir")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.nir"]
    # the export folder's temporary directories follow the same rule
    stale_dir = tmp_path / f".deploy.tmp-{dead}-abcd_123"
    stale_dir.mkdir()
    (stale_dir / "run.py").write_text("partial")
    assert snn.io.remove_stale_temps(tmp_path, ".deploy.tmp-") == [stale_dir.name]
    assert not stale_dir.exists()


def test_fixed_point_models_and_synapses_round_trip_and_their_fields_are_typed(tmp_path):
    loihi = pytest.importorskip("hardware.loihi")
    net = snn.Network()
    net.add_population("a", 3, loihi.LoihiLIF(du=100, dv=200, vth=50, bias_mant=np.array([1, 2, 3])))
    net.add_population("s", 2, loihi.LoihiSigmaDelta(vth=2, act_mode="relu", cum_error=True))
    syn = loihi.LoihiSynapse(weight_exp=-2, num_weight_bits=7, sign_mode="mixed")
    net.add_projection("a", "s", weights=np.array([[10.0, -20.0, 0.0], [0.0, 30.0, 40.0]]), delay_steps=2, synapse=syn)
    path = tmp_path / "fixed.npz"
    snn.save(net, path)
    _same(net, snn.load(path))
    h = _header(path)
    for where, value, needle in (
        (["projections", 0, "synapse", "record", "sign_mode"], 5, "sign_mode"),
        (["projections", 0, "synapse", "record", "weight_exp"], "-2", "weight_exp"),
        (["populations", 1, "scalars", "cum_error"], 1, "cum_error"),
        (["populations", 0, "scalars", "du"], 1e30, "populations[0]"),
    ):
        crafted = _with(json.loads(json.dumps(h)), where, value)
        _refused(_rewrite(path, tmp_path, header=crafted), "member 'header'", needle)


# ------------------------------------------------------------------ file modes (issue 13 item 8)
def _mode(path) -> int:
    import stat

    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize(("mask", "file_mode", "dir_mode"), [(0o027, 0o640, 0o750), (0o002, 0o664, 0o775)], ids=["umask027", "umask002"])
def test_saved_files_and_folders_get_the_modes_open_and_mkdir_would_under_the_umask(tmp_path, mask, file_mode, dir_mode):
    old = os.umask(mask)
    try:
        assert snn.io.umask() == mask
        snn.save(_network(), tmp_path / "net.npz")
        # replacing a file of another mode: the new file gets the umask's mode, as a new open() would
        (tmp_path / "old.npz").write_bytes(b"x")
        os.chmod(tmp_path / "old.npz", 0o600)
        snn.save(_network(), tmp_path / "old.npz")
        snn.io.atomic_write_bytes(tmp_path / "script", lambda fh: fh.write(b"#!/bin/sh\n"), mode=0o777)
        with snn.io.atomic_folder(tmp_path / "folder") as tmp:
            assert _mode(tmp) == dir_mode  # already while it is filled: no chmod after the fact
            (tmp / "a.txt").write_text("a")
        (tmp_path / "folder2").mkdir(mode=0o700)
        with snn.io.atomic_folder(tmp_path / "folder2") as tmp:  # replaces an existing folder
            (tmp / "b.txt").write_text("b")
    finally:
        os.umask(old)
    assert _mode(tmp_path / "net.npz") == file_mode and _mode(tmp_path / "old.npz") == file_mode
    _same(_network(), snn.load(tmp_path / "net.npz"))
    assert _mode(tmp_path / "script") == dir_mode  # 0o777 less the umask
    assert _mode(tmp_path / "folder") == dir_mode and _mode(tmp_path / "folder" / "a.txt") == file_mode
    assert _mode(tmp_path / "folder2") == dir_mode and [p.name for p in (tmp_path / "folder2").iterdir()] == ["b.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder", "folder2", "net.npz", "old.npz", "script"]


def test_umask_without_proc_is_read_by_setting_it_back(monkeypatch):
    def no_proc(*args, **kwargs):
        raise OSError("no /proc here")

    monkeypatch.setattr(snn.io, "open", no_proc, raising=False)
    old = os.umask(0o037)
    try:
        assert snn.io.umask() == 0o037
        assert os.umask(0o037) == 0o037  # left as it was
    finally:
        os.umask(old)


def test_a_failed_folder_write_leaves_nothing_and_keeps_the_old_folder(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("old")
    with pytest.raises(RuntimeError, match="half"):
        with snn.io.atomic_folder(tmp_path / "out") as tmp:
            (tmp / "new.txt").write_text("new")
            raise RuntimeError("half written")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["keep.txt"]
