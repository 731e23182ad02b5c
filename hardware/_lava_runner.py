#!/usr/bin/env python3
"""Run a network exported by snn-toolkit on Intel Lava (lava-nc 0.10).

This file is copied unchanged into every export folder as ``run.py``.  It is a
static script: everything about the network (population sizes and
parameters, weights, spike rasters, what to record) is *data*, read from
``manifest.json`` and ``arrays.npz`` (loaded with ``allow_pickle=False``).
Nothing from the network ever becomes code.  It needs only ``lava-nc`` and
``numpy``.

Usage::

    python run.py                      # Loihi2SimCfg(select_tag="fixed_pt"), the exported number of steps
    python run.py --steps 500          # another number of steps (sources are silent after the exported ones)
    python run.py --hw                 # Loihi2HwCfg: a real Loihi 2 system (needs Intel's lava-loihi; untested)
    python run.py --out results.npz    # where to write the recording (default: lava_results.npz here)
    python run.py --monitor            # record spikes with Lava Monitors (default: a recorder process, much faster readback)
    python run.py --batch DIR [DIR ...]  # run several export folders in this one process

The exit status is 3 when the spikes differ from the ones snn-toolkit
computed for the exported number of steps (``--no-check``: 0 anyway).

The recording is an ``.npz`` (no pickles) with, for population ``i`` of the
manifest, ``pop{i}.spikes`` (steps, n) uint8, ``pop{i}.outputs`` (graded
values), ``pop{i}.<var>`` (steps, n) int64 for each recorded state variable
(as Lava's Monitor records it) and ``pop{i}.final.<var>`` (n,), plus
``timing.build_s`` (creating the processes), ``timing.compile_s`` (Lava's
compiler and runtime start), ``timing.run_s`` (the time steps) and
``timing.readback_s`` (Monitor data and final state).  After a run
with the exported number of steps the spike counts and rasters are compared
with the ones snn-toolkit computed (``manifest.json`` ``expected``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

FORMAT = "snn-toolkit.lava-export"
VERSION = 1
_KINDS = ("source", "lif", "sigma_delta", "box_sigma_delta", "boltzmann")
_STATE_VARS = {
    "source": (),
    "lif": ("u", "v"),
    "sigma_delta": ("sigma", "act", "residue", "error"),
    "box_sigma_delta": ("sigma", "act", "residue"),
    "boltzmann": ("s", "temp"),
}
_GRADED = ("sigma_delta", "box_sigma_delta")


def _own_processes():
    """snn-toolkit's own Lava processes, from ``lava_procs.py`` next to this script."""
    here = os.path.dirname(os.path.abspath(__file__))
    if here not in sys.path:
        sys.path.insert(0, here)
    import lava_procs

    return lava_procs


class ExportFormatError(Exception):
    """The folder is not a valid export."""


def load_export(folder):
    """``(manifest, arrays)`` of an export folder, validated."""
    with open(os.path.join(folder, "manifest.json"), encoding="utf-8") as fh:
        manifest = json.load(fh)
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
        raise ExportFormatError(f"{folder}: manifest.json is not a {FORMAT} version {VERSION} manifest")
    with np.load(os.path.join(folder, "arrays.npz"), allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    n_pops = len(manifest["populations"])
    for i, pop in enumerate(manifest["populations"]):
        if pop.get("index") != i or pop.get("kind") not in _KINDS or not isinstance(pop.get("n"), int) or pop["n"] < 1:
            raise ExportFormatError(f"{folder}: population entry {i} is invalid")
    for j, proj in enumerate(manifest["projections"]):
        ok = proj.get("index") == j and proj.get("connection") in ("dense", "sparse")
        ok = ok and all(isinstance(proj.get(k), int) and 0 <= proj[k] < n_pops for k in ("pre", "post"))
        if not ok:
            raise ExportFormatError(f"{folder}: projection entry {j} is invalid")
    return manifest, arrays


def _components(n_pops, projections):
    parent = list(range(n_pops))

    def find(a):
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for proj in projections:
        a, b = find(proj["pre"]), find(proj["post"])
        if a != b:
            parent[a] = b
    groups = {}
    for i in range(n_pops):
        groups.setdefault(find(i), []).append(i)
    return list(groups.values())


_RECORDER = {}


def _spike_recorder():
    """A Lava process (and its CPU model) that keeps what an OutPort sends each step and saves it after the last one.

    Lava's Monitor returns its data one value per message (tens of microseconds
    each: minutes for 10,000 neurons x 1,000 steps); this recorder writes one
    .npy file from its worker process instead.  Created on first use so that
    importing this file does not import Lava.
    """
    if _RECORDER:
        return _RECORDER["proc"]
    from lava.magma.core.decorator import implements, requires
    from lava.magma.core.model.py.model import PyLoihiProcessModel
    from lava.magma.core.model.py.ports import PyInPort
    from lava.magma.core.model.py.type import LavaPyType
    from lava.magma.core.process.ports.ports import InPort
    from lava.magma.core.process.process import AbstractProcess
    from lava.magma.core.resources import CPU
    from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol

    class SpikeRecorder(AbstractProcess):
        def __init__(self, *, shape, num_steps, path, memmap=False):
            super().__init__(shape=shape, num_steps=num_steps, path=path, memmap=bool(memmap))
            self.a_in = InPort(shape=shape)

    @implements(proc=SpikeRecorder, protocol=LoihiProtocol)
    @requires(CPU)
    class PySpikeRecorderModel(PyLoihiProcessModel):
        a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32)

        def __init__(self, proc_params):
            super().__init__(proc_params)
            self.memmap = proc_params["memmap"]
            if self.memmap:  # a session: every step goes into the file at once (the session reads it between chunks)
                self.buf = np.load(proc_params["path"], mmap_mode="r+", allow_pickle=False)
            else:
                self.buf = np.zeros((proc_params["num_steps"],) + tuple(proc_params["shape"]), dtype=np.int32)

        def run_spk(self):
            self.buf[self.time_step - 1] = self.a_in.recv()
            if self.time_step == self.proc_params["num_steps"] and not self.memmap:
                np.save(self.proc_params["path"], self.buf)

    # Lava looks for a process's models in the module that defines the process
    SpikeRecorder.__module__ = PySpikeRecorderModel.__module__ = __name__
    globals()["SpikeRecorder"], globals()["PySpikeRecorderModel"] = SpikeRecorder, PySpikeRecorderModel
    _RECORDER["proc"] = SpikeRecorder
    return SpikeRecorder


def loihi2_missing():
    """``None`` when Loihi 2 support (Intel's lava-loihi: its Loihi 2 compiler) is importable, else why not (one line).

    The same test as Lava's ``lava.utils.system.Loihi2.is_loihi2_available``
    (the ``ncproc_compiler`` module), without its side effects on the environment.
    """
    import importlib.util

    name = "lava.magma.compiler.subcompilers.nc.ncproc_compiler"
    try:
        found = importlib.util.find_spec(name) is not None
    except (ImportError, ValueError) as exc:
        return f"{name} cannot be imported ({type(exc).__name__}: {exc})"
    if not found:
        return f"{name} is not installed"
    return None


def _padded(data, steps):
    """Source data (n, T) as int32 with at least ``steps`` columns (zeros after the exported ones)."""
    data = np.asarray(data, dtype=np.int32)
    if data.shape[1] < steps:
        data = np.concatenate([data, np.zeros((data.shape[0], steps - data.shape[1]), dtype=np.int32)], axis=1)
    return data


def build_network(folder, steps=None, monitor=False, scratch=None, session=False):
    """Create the Lava processes of an export (not yet compiled); a dict of what was made.

    With ``session`` the spike recorders write every step into ``.npy`` files
    (memory-mapped, ``steps`` rows) that the session reads between chunks, and
    no state Monitors are made (the session reads Vars).
    """
    from lava.proc.dense.process import DelayDense, Dense
    from lava.proc.io.source import RingBuffer
    from lava.proc.lif.process import LIF
    from lava.proc.monitor.process import Monitor
    from lava.proc.sdn.process import ActivationMode, SigmaDelta
    from lava.proc.sparse.process import DelaySparse, Sparse
    from lava.utils.weightutils import SignMode
    from scipy.sparse import csr_matrix

    manifest, arrays = load_export(folder)
    steps = int(manifest["n_steps"] if steps is None else steps)
    if steps < 1:
        raise ValueError(f"--steps={steps}: must be >= 1")
    pops, projs = manifest["populations"], manifest["projections"]
    t0 = time.perf_counter()
    procs = {}
    needed = {p["post"] for p in projs} | {p["pre"] for p in projs}
    for pop in pops:
        i, n, kind, par = pop["index"], pop["n"], pop["kind"], pop.get("params", {})
        key = f"pop{i}"
        if kind == "source":
            if i in needed:
                procs[i] = RingBuffer(data=_padded(arrays[key + ".data"], steps))
        elif kind == "lif":
            procs[i] = LIF(
                shape=(n,),
                u=arrays[key + ".u"].astype(np.int32),
                v=arrays[key + ".v"].astype(np.int32),
                du=int(par["du"]),
                dv=int(par["dv"]),
                vth=int(par["vth"]),
                bias_mant=arrays[key + ".bias_mant"].astype(np.int16),
                bias_exp=arrays[key + ".bias_exp"].astype(np.int16),
                name=key,
            )
        elif kind == "box_sigma_delta":
            procs[i] = _own_processes().BoxSigmaDelta(
                shape=(n,),
                vth=int(par["vth"]),
                out_exp=int(par.get("out_exp", 0)),
                **{v: arrays[f"{key}.{v}"].astype(np.int32) for v in ("bias", "lo", "hi", "sigma", "act", "residue")},
                name=key,
            )
        elif kind == "boltzmann":
            procs[i] = _own_processes().Boltzmann(
                shape=(n,),
                key=int(par["key"]),
                t0=int(par.get("t0", 0)),
                **{v: arrays[f"{key}.{v}"].astype(np.int64) for v in ("bias", "temp_min", "cool", "dec", "p_update", "s", "temp")},
                name=key,
            )
        else:
            procs[i] = SigmaDelta(
                shape=(n,),
                vth=int(par["vth"]),
                bias=arrays[key + ".bias"].astype(np.int32),
                act_mode=ActivationMode.RELU if par["act_mode"] == "relu" else ActivationMode.UNIT,
                cum_error=bool(par["cum_error"]),
                spike_exp=int(par["spike_exp"]),
                state_exp=int(par["state_exp"]),
                name=key,
            )
    conns = {}
    for proj in projs:
        key = f"proj{proj['index']}"
        w = csr_matrix(
            (arrays[key + ".data"].astype(np.int32), arrays[key + ".indices"].astype(np.int64), arrays[key + ".indptr"].astype(np.int64)),
            shape=tuple(int(s) for s in proj["shape"]),
        )
        kwargs = {
            "weight_exp": int(proj["weight_exp"]),
            "num_weight_bits": int(proj["num_weight_bits"]),
            "num_message_bits": int(proj["num_message_bits"]),
        }
        if proj.get("sign_mode") is not None:
            kwargs["sign_mode"] = SignMode[str(proj["sign_mode"]).upper()]
        if proj.get("delayed"):  # DelayDense/DelaySparse: Lava delay d arrives d + 1 steps later
            d = csr_matrix((arrays[key + ".delays"].astype(np.int64), w.indices, w.indptr), shape=w.shape)
            if proj["connection"] == "dense":
                conn = DelayDense(weights=w.toarray(), delays=d.toarray().astype(int), name=key, **kwargs)
            else:
                conn = DelaySparse(weights=w, delays=d.astype(int), name=key, **kwargs)
        elif proj["connection"] == "dense":
            conn = Dense(weights=w.toarray(), name=key, **kwargs)
        else:
            conn = Sparse(weights=w, name=key, **kwargs)
        conns[proj["index"]] = conn
        procs[proj["pre"]].s_out.connect(conn.s_in)
        conn.a_out.connect(procs[proj["post"]].a_in)
    scratch = os.path.abspath(scratch or folder)
    monitors = {}  # one Monitor per probe: Lava 0.10's PyMonitorModel has ports for a single probe
    recorders = {}
    for pop in pops:
        i, kind = pop["index"], pop["kind"]
        if kind == "source":
            continue
        monitors[i] = {}
        if monitor:
            monitors[i]["s_out"] = Monitor()
            monitors[i]["s_out"].probe(procs[i].s_out, steps)
        else:
            path = os.path.join(scratch, f".spikes-pop{i}.npy")
            if session:  # a file every step writes into, read between chunks
                np.lib.format.open_memmap(path, mode="w+", dtype=np.int32, shape=(steps, pop["n"])).flush()
            recorders[i] = (_spike_recorder()(shape=(pop["n"],), num_steps=steps, path=path, memmap=session), path)
            procs[i].s_out.connect(recorders[i][0].a_in)
        for var in [] if session else pop.get("record", []):
            if var in _STATE_VARS[kind]:
                monitors[i][var] = Monitor()
                monitors[i][var].probe(getattr(procs[i], var), steps)
    build_s = time.perf_counter() - t0
    return {
        "manifest": manifest,
        "arrays": arrays,
        "pops": pops,
        "projs": projs,
        "procs": procs,
        "conns": conns,
        "monitors": monitors,
        "recorders": recorders,
        "steps": steps,
        "build_s": build_s,
    }


def run_export(folder, steps=None, hw=False, monitor=None, scratch=None):
    """Build the exported network in Lava, run it and return the recording as a dict of arrays.

    Spikes (and graded outputs) are recorded by Lava ``Monitor`` processes when
    ``monitor`` is true (the default with ``hw``), else by this script's
    recorder process, which saves them into the folder ``scratch`` (default
    ``folder``); state variables always by ``Monitor``.
    """
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2HwCfg, Loihi2SimCfg

    net = build_network(folder, steps, monitor=hw if monitor is None else monitor, scratch=scratch)
    arrays, pops, projs = net["arrays"], net["pops"], net["projs"]
    procs, conns, monitors, recorders, steps, build_s = (net[k] for k in ("procs", "conns", "monitors", "recorders", "steps", "build_s"))
    cfg = Loihi2HwCfg() if hw else Loihi2SimCfg(select_tag="fixed_pt")
    out = {}
    compile_s = run_s = readback_s = 0.0
    for comp in _components(len(pops), projs):
        lava_members = [i for i in comp if i in procs and pops[i]["kind"] != "source"]
        if not lava_members:
            continue
        head = procs[lava_members[0]]
        t0 = time.perf_counter()
        try:
            head.create_runtime(run_cfg=cfg)  # compile, spawn Lava's worker processes
            t1 = time.perf_counter()
            compile_s += t1 - t0
            head.run(condition=RunSteps(num_steps=steps))
            t2 = time.perf_counter()
            run_s += t2 - t1
            for i in lava_members:
                key, kind = f"pop{i}", pops[i]["kind"]
                data = {name: mon.get_data()[key][name] for name, mon in monitors[i].items()}
                if i in recorders:
                    s_out = np.load(recorders[i][1], allow_pickle=False).astype(np.int64)
                    os.unlink(recorders[i][1])
                else:
                    s_out = np.rint(np.asarray(data["s_out"], dtype=np.float64)).astype(np.int64)
                out[key + ".spikes"] = (s_out != 0).astype(np.uint8)
                if kind in _GRADED:
                    out[key + ".outputs"] = s_out
                for var in pops[i].get("record", []):
                    if var in _STATE_VARS[kind]:
                        out[f"{key}.{var}"] = np.rint(np.asarray(data[var], dtype=np.float64)).astype(np.int64)
                for var in _STATE_VARS[kind]:
                    value = getattr(procs[i], var).get()
                    out[f"{key}.final.{var}"] = np.rint(np.asarray(value, dtype=np.float64)).astype(np.int64).reshape(-1)
            for proj in projs:  # what each connection delivers in the next steps (Lava's a_buff: (n_post,) or (n_post, max_delay + 1))
                if proj["post"] in comp:
                    value = conns[proj["index"]].a_buff.get()
                    out[f"proj{proj['index']}.final.a_buff"] = np.rint(np.asarray(value, dtype=np.float64)).astype(np.int64)
            readback_s += time.perf_counter() - t2
        finally:
            head.stop()
    for pop in pops:  # sources: their spikes are the exported data
        if pop["kind"] == "source":
            key = f"pop{pop['index']}"
            data = _padded(arrays[key + ".data"], steps)[:, :steps].T.astype(np.int64)
            out[key + ".spikes"] = (data != 0).astype(np.uint8)
            out[key + ".outputs"] = data
    out["timing.build_s"] = np.array(build_s)
    out["timing.compile_s"] = np.array(compile_s)
    out["timing.run_s"] = np.array(run_s)
    out["timing.readback_s"] = np.array(readback_s)
    out["steps"] = np.array(steps)
    return out


def compare_expected(folder, manifest, arrays, out):
    """Lines comparing the recorded spikes with the ones snn-toolkit computed (same number of steps only)."""
    expected = manifest.get("expected") or {}
    if int(out["steps"]) != manifest["n_steps"] or "spike_counts" not in expected:
        return ["(no comparison: run for a different number of steps than exported)"], True
    lines, ok = [], True
    for pop in manifest["populations"]:
        key = f"pop{pop['index']}"
        spikes = out[key + ".spikes"]
        got = int(spikes.sum())
        want = int(expected["spike_counts"][pop["index"]])
        same = got == want
        packed = arrays.get(f"expected.{key}.spikes")
        if packed is not None:
            bits = np.unpackbits(packed, count=spikes.size).reshape(spikes.shape)
            same = same and bool(np.array_equal(bits, spikes != 0))
        ok = ok and same
        lines.append(f"{'ok  ' if same else 'DIFF'} population {pop['name']!r}: {got} spikes (snn-toolkit: {want})")
    return lines, ok


def _remove_stale_results(folder):
    """Remove ``.lava_results.<pid>.<random>.tmp`` files of runs that were killed (their process is gone)."""
    for name in os.listdir(folder):
        parts = name.split(".")
        if not (name.startswith(".lava_results.") and name.endswith(".tmp") and len(parts) == 5 and parts[2].isdigit()):
            continue
        try:
            os.kill(int(parts[2]), 0)
            continue  # still running
        except ProcessLookupError:
            pass
        except OSError:
            continue
        try:
            os.unlink(os.path.join(folder, name))
        except OSError:
            pass


def _write_npz(path, arrays):
    folder = os.path.dirname(os.path.abspath(path))
    _remove_stale_results(folder)
    # as tempfile.mkstemp, but with the mode of an ordinary open() (0o666 less the umask), which the
    # renamed result keeps; this script runs in Lava's Python on its own (no snn.io.atomic_write_bytes)
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    for _ in range(1000):
        tmp = os.path.join(folder, f".lava_results.{os.getpid()}.{os.urandom(5).hex()}.tmp")
        try:
            fd = os.open(tmp, flags, 0o666)
            break
        except FileExistsError:
            continue
    else:
        raise FileExistsError(f"no free temporary name for the results in {folder!r}")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **arrays)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def main(argv=None):
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description="Run a network exported by snn-toolkit on Lava.")
    parser.add_argument("--steps", type=int, default=None, help="number of time steps (default: as exported)")
    parser.add_argument("--hw", action="store_true", help="run on Loihi 2 hardware (Loihi2HwCfg) instead of Loihi2SimCfg fixed_pt")
    parser.add_argument("--out", default=None, help="recording .npz (default: lava_results.npz in the export folder)")
    parser.add_argument(
        "--batch", nargs="+", default=None, metavar="DIR", help="run these export folders, one after another, in this process"
    )
    parser.add_argument("--quiet", action="store_true", help="print nothing but errors")
    parser.add_argument("--no-check", action="store_true", help="exit 0 even if the spikes differ from snn-toolkit's")
    parser.add_argument(
        "--monitor", action="store_true", help="record spikes with Lava Monitor processes (slow readback; always so with --hw)"
    )
    args = parser.parse_args(argv)
    folders = args.batch or [here]
    if args.out is not None and len(folders) > 1:
        parser.error("--out cannot be combined with several --batch folders")
    if args.hw:
        missing = loihi2_missing()
        if missing:
            print(
                f"run.py --hw: no Loihi 2 support in this Python environment ({missing}); install Intel's lava-loihi on a Loihi 2 system, or run without --hw",
                file=sys.stderr,
            )
            return 2
    all_ok = True
    for folder in folders:
        try:
            manifest, arrays = load_export(folder)
            out = run_export(folder, steps=args.steps, hw=args.hw, monitor=True if (args.monitor or args.hw) else None)
            _write_npz(args.out or os.path.join(folder, "lava_results.npz"), out)
        except Exception as exc:
            print(f"run.py: export folder {folder!r} failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            raise
        lines, ok = compare_expected(folder, manifest, arrays, out)
        all_ok = all_ok and ok
        if not args.quiet:
            print(f"{folder}: {int(out['steps'])} steps, Lava run {float(out['timing.run_s']):.3f} s")
            print("\n".join(lines))
    return 0 if all_ok or args.no_check else 3


if __name__ == "__main__":
    sys.exit(main())
