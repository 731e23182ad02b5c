#!/usr/bin/env python3
"""A long-lived Lava session for an exported network (copied into every export as ``lava_session.py``).

Run with the Lava interpreter: ``python lava_session.py FOLDER MAX_STEPS``.  It
builds the network of the export folder once (``run.py``'s ``build_network``),
compiles it (``Loihi2SimCfg(select_tag="fixed_pt")``) and then answers
requests on stdin until ``stop`` or end of input.  Needs only lava-nc and numpy.

Messages, both ways: an 8-byte little-endian length and a UTF-8 JSON header,
then an 8-byte length and an ``.npz`` archive (``np.savez``; read with
``allow_pickle=False``; length 0: no arrays).  Nothing is unpickled or evaluated.

Requests (``{"cmd": ...}``) and replies (``{"ok": true, ...}`` or
``{"ok": false, "error": "..."}``):

``run`` ``{"steps": k}``
    run ``k`` more steps; arrays ``pop<i>.spikes`` ``(k, n)`` uint8 and
    ``pop<i>.outputs`` ``(k, n)`` int64 (graded senders); header ``t`` (steps run so far).
``get`` ``{"names": ["pop0.v", "proj1.a_buff", ...]}``
    the Vars' values (int64 arrays).
``set`` with arrays ``{"pop0.v": ..., "proj1.a_buff": ...}``
    write the Vars (in the model's dtype).
``stop``
    stop Lava's runtime and exit.

The session's own messages go to the file descriptor that was stdout; anything
Lava prints goes to stderr.  The first message is ``{"ok": true, "event": "ready"}``.
"""

import io
import json
import os
import struct
import sys
import time
import traceback

import numpy as np


def read_message(fh):
    """``(header, arrays)`` or ``None`` at end of input."""
    head = _read_exact(fh, 8)
    if head is None:
        return None
    header = json.loads(_read_exact(fh, struct.unpack("<Q", head)[0]).decode("utf-8"))
    size = struct.unpack("<Q", _read_exact(fh, 8))[0]
    arrays = {}
    if size:
        with np.load(io.BytesIO(_read_exact(fh, size)), allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    return header, arrays


def _read_exact(fh, n):
    parts, got = [], 0
    while got < n:
        chunk = fh.read(n - got)
        if not chunk:
            if got == 0:
                return None
            raise EOFError("truncated message")
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)


def write_message(fh, header, arrays=None):
    body = json.dumps(header).encode("utf-8")
    buf = io.BytesIO()
    if arrays:
        np.savez(buf, **arrays)
    data = buf.getvalue()
    fh.write(struct.pack("<Q", len(body)) + body + struct.pack("<Q", len(data)) + data)
    fh.flush()


def _var(net, name):
    kind, _, var = name.partition(".")
    if kind.startswith("pop") and kind[3:].isdigit() and int(kind[3:]) in net["procs"]:
        obj = net["procs"][int(kind[3:])]
    elif kind.startswith("proj") and kind[4:].isdigit() and int(kind[4:]) in net["conns"]:
        obj = net["conns"][int(kind[4:])]
    else:
        raise KeyError(f"{name!r}: no such process (pop<i> or proj<j> of the manifest)")
    if not var.isidentifier() or not hasattr(obj, var):
        raise KeyError(f"{name!r}: the process has no Var {var!r}")
    return getattr(obj, var)


def serve(folder, max_steps, inp, out):
    here = os.path.dirname(os.path.abspath(__file__))
    if here not in sys.path:
        sys.path.insert(0, here)
    import run as runner
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg

    net = runner.build_network(folder, max_steps, monitor=False, scratch=folder, session=True)
    pops, projs = net["pops"], net["projs"]
    comps = [c for c in runner._components(len(pops), projs) if any(i in net["procs"] and pops[i]["kind"] != "source" for i in c)]
    if len(comps) != 1:
        raise ValueError(f"a session needs a network that is one connected Lava component, this one has {len(comps)}")
    head = net["procs"][next(i for i in comps[0] if i in net["procs"] and pops[i]["kind"] != "source")]
    init_path = os.path.join(folder, "session_init.npz")
    if os.path.exists(init_path):  # initial Var values (a continued run): before compiling, as Var.init
        with np.load(init_path, allow_pickle=False) as z:
            for name in z.files:
                var = _var(net, name)
                value = z[name]
                shape = tuple(var.shape)
                if value.size != int(np.prod(shape)):
                    raise ValueError(f"session_init {name!r}: {value.size} values for a Var of shape {shape}")
                var.init = value.reshape(shape)
    head.create_runtime(run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
    t = 0
    write_message(out, {"ok": True, "event": "ready", "t": 0, "pid": os.getpid()})
    try:
        while True:
            msg = read_message(inp)
            if msg is None:
                return
            header, arrays = msg
            cmd = header.get("cmd")
            try:
                if cmd == "stop":
                    write_message(out, {"ok": True, "t": t})
                    return
                if cmd == "run":
                    k = header.get("steps")
                    if not isinstance(k, int) or k < 1 or t + k > max_steps:
                        raise ValueError(f"steps={k!r}: must be an int >= 1 with t + steps <= {max_steps} (t = {t})")
                    t0 = time.perf_counter()
                    head.run(condition=RunSteps(num_steps=k))
                    run_s = time.perf_counter() - t0
                    reply = {}
                    for pop in pops:
                        i, key = pop["index"], f"pop{pop['index']}"
                        if pop["kind"] == "source":
                            data = runner._padded(net["arrays"][key + ".data"], t + k)[:, t : t + k].T.astype(np.int64)
                        else:
                            data = np.load(net["recorders"][i][1], mmap_mode="r", allow_pickle=False)[t : t + k].astype(np.int64)
                        reply[key + ".spikes"] = (data != 0).astype(np.uint8)
                        if pop["kind"] in runner._GRADED or pop["kind"] == "source":
                            reply[key + ".outputs"] = data
                    t += k
                    write_message(out, {"ok": True, "t": t, "run_s": run_s}, reply)
                elif cmd == "get":
                    names = header.get("names") or []
                    values = {n: np.rint(np.asarray(_var(net, n).get(), dtype=np.float64)).astype(np.int64) for n in names}
                    write_message(out, {"ok": True, "t": t}, values)
                elif cmd == "set":
                    for name, value in arrays.items():
                        var = _var(net, name)
                        old = np.asarray(var.get())
                        value = np.asarray(value)
                        if value.size != old.size:
                            raise ValueError(f"{name!r}: {value.size} values for a Var of {old.size}")
                        var.set(value.reshape(old.shape).astype(np.int64))
                    write_message(out, {"ok": True, "t": t})
                else:
                    raise ValueError(f"cmd={cmd!r}: allowed 'run', 'get', 'set', 'stop'")
            except Exception as exc:  # a bad request: answer and go on
                write_message(out, {"ok": False, "error": f"{type(exc).__name__}: {exc}", "t": t})
    finally:
        head.stop()


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print("usage: lava_session.py FOLDER MAX_STEPS", file=sys.stderr)
        return 2
    out = os.fdopen(os.dup(1), "wb")  # the protocol's channel
    os.dup2(2, 1)  # whatever Lava prints goes to stderr
    inp = sys.stdin.buffer
    try:
        serve(argv[0], int(argv[1]), inp, out)
    except Exception as exc:
        traceback.print_exc()
        try:
            write_message(out, {"ok": False, "error": f"{type(exc).__name__}: {exc}", "fatal": True})
        except OSError:
            pass
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
