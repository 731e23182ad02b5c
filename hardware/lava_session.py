"""A persistent Lava session: one long-lived Lava process that keeps a network compiled between runs.

Starting Lava (compiling a network, spawning its workers) takes seconds; a
chunked solver that stops every few dozen steps to check its residual cannot
afford that per chunk.  :class:`LavaSession` exports the network once, starts
``lava_session.py`` (shipped in every export, see :mod:`hardware._lava_session`)
in the Lava interpreter, and then speaks to it over a pipe: length-prefixed
JSON headers and ``.npz`` arrays (``allow_pickle=False``; never pickle).

The contract (independent of the run-state API, which it feeds):

* ``LavaSession(network, max_steps=N, seed=..., inputs=...)``: build once (the
  sources' rasters cover ``N`` steps);
* ``run(k)``: ``k`` more steps, returns the spikes and graded outputs of those
  steps; ``t`` is the number of steps run so far;
* ``get(names)`` / ``set(values)``: read or write named state Vars,
  ``"pop<i>.<var>"`` (``u``, ``v``, ``sigma``, ``act``, ``residue``, ``s``,
  ``temp``, ...) and ``"proj<j>.a_buff"`` (what a connection delivers next);
* ``simulate(k)``: ``run(k)`` as a :class:`snn.RunResult` whose ``state`` is
  the :class:`snn.SimState` after it (Lava's Vars and ``a_buff`` read back),
  with ``t_start`` the session's step before the chunk;
* ``close()``; also when the object is collected and at interpreter exit
  (``weakref.finalize``): the Lava process group is stopped, then killed.

Failures are errors of :mod:`hardware.errors`: a missing Lava environment
(:class:`LavaNotFoundError`), a session that dies (:class:`LavaError` with
its exit status and stderr), one that does not answer within ``timeout_s``
(:class:`LavaTimeoutError`; the process group is killed).  A dead session
refuses every later request with the same clear error.
"""

from __future__ import annotations

import io
import json
import os
import select
import shutil
import signal
import struct
import subprocess
import tempfile
import time
import weakref
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

import snn
from hardware import lava_backend
from hardware.errors import LavaError, LavaNotFoundError, LavaTimeoutError
from snn.errors import SNNTypeError, bad_value

__all__ = ["LavaSession"]


def _encode(header: Mapping[str, Any], arrays: Mapping[str, np.ndarray] | None = None) -> bytes:
    body = json.dumps(dict(header)).encode("utf-8")
    buf = io.BytesIO()
    if arrays:
        np.savez(buf, **{k: np.asarray(v) for k, v in arrays.items()})
    data = buf.getvalue()
    return struct.pack("<Q", len(body)) + body + struct.pack("<Q", len(data)) + data


def _terminate(proc: subprocess.Popen, folder: str, err: Any) -> None:
    """Stop the session's process group: end of input, then SIGTERM, then SIGKILL; remove its folder."""
    try:
        if proc.poll() is None:
            try:
                proc.stdin.close()
            except OSError:
                pass
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(proc.pid, sig)  # Lava's worker processes share the session's process group
            except (ProcessLookupError, PermissionError):
                break
            try:
                proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                continue
        # the workers may outlive the leader: kill the group once more
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        proc.wait(timeout=5)
    except Exception:  # noqa: BLE001 - best effort at exit
        pass
    finally:
        for fh in (proc.stdout, err):
            try:
                fh.close()
            except Exception:  # noqa: BLE001
                pass
        shutil.rmtree(folder, ignore_errors=True)


def _without_initial_state(network: snn.Network) -> snn.Network:
    """``network`` with every population's ``initial_state`` left out (a session writes its Vars instead)."""
    if not any(p.initial_state for p in network.populations):
        return network
    out = snn.Network(dt_ms=network.dt_ms)
    for p in network.populations:
        out.add_population(p.name, p.n, p.model, positions=p.positions_um)
    for pr in network.projections:
        w = sp.csr_matrix(pr.weights, copy=True)
        w.sort_indices()
        d = sp.csr_matrix((np.asarray(pr.delays, dtype=np.float64), w.indices, w.indptr), shape=w.shape)
        out.add_projection(pr.pre, pr.post, weights=w, delay_steps=d, synapse=pr.synapse, name=pr.name)
    out.outputs = network.outputs
    return out


class LavaSession:
    """One long-lived Lava process running ``network`` (see the module notes).

    ``t0`` is the absolute step of the session's first step (what
    :class:`snn.SimState` calls ``t``): ``simulate`` results start at ``t0 + t``.

    Parameters
    ----------
    network : snn.Network
        In Loihi form (as :func:`hardware.lava_backend.export` takes it), one connected component.
    max_steps : int
        Steps the session can run in all (the sources' rasters are exported for them).
    seed, inputs, connection
        As :func:`hardware.lava_backend.export`.
    python : str, optional
        The Lava interpreter (default :func:`hardware.lava_backend.lava_python`).
    timeout_s : float
        Longest wait for one answer (the first one includes Lava's compile).
    t0 : int
        Absolute step of the first step.
    initial : dict, optional
        ``{"pop<i>.<var>" or "proj<j>.a_buff": values}`` the Vars hold before the
        first step (:meth:`state_values` makes it from a :class:`snn.SimState`).
        Without it, a network with its own ``initial_state`` (which Lava's
        SigmaDelta cannot start from) starts from ``snn.init_state(network)``.
    """

    def __init__(
        self,
        network: snn.Network,
        *,
        max_steps: int,
        seed: int = 0,
        inputs: Mapping[str, Any] | None = None,
        connection: Any = "auto",
        python: str | None = None,
        timeout_s: float = 120.0,
        t0: int = 0,
        initial: Mapping[str, Any] | None = None,
    ) -> None:
        if not isinstance(network, snn.Network):
            raise SNNTypeError(f"network={network!r}: must be a snn.Network")
        self.max_steps = lava_backend._check_steps(max_steps)
        self.seed = lava_backend._check_seed(seed)
        if isinstance(timeout_s, bool) or not isinstance(timeout_s, (int, float)) or not timeout_s > 0:
            raise bad_value(LavaError, "timeout_s", timeout_s, "must be a positive number of seconds")
        self.timeout_s = float(timeout_s)
        self.network = network
        self._inputs = dict(inputs or {})
        self._error: str | None = None
        self.t = 0
        if isinstance(t0, bool) or not isinstance(t0, int) or t0 < 0:
            raise bad_value(LavaError, "t0", t0, "must be an int >= 0 (the absolute step of the session's first step)")
        if t0 and any(p.model.is_source for p in network.populations):
            raise bad_value(LavaError, "t0", t0, "a network with sources (their rasters start at step 0) can only start a session at t0=0")
        self.t0 = t0
        from snn.state import structure_of

        self.structure = structure_of(network)
        if initial is None and lava_backend._zero_start_refused(network):
            # the network's own initial state (Lava's SigmaDelta cannot start from one): written as Var values
            initial = self.state_values(network, snn.init_state(network, seed=self.seed))
        py = python or lava_backend.lava_python()
        if not (os.path.isfile(py) and os.access(py, os.X_OK)):
            raise LavaNotFoundError(f"python={py!r}: no executable Lava interpreter there")
        # private (0o700) on purpose: the session's own scratch folder, removed when the session closes
        folder = Path(tempfile.mkdtemp(prefix="snn-lava-session-"))
        try:
            self.manifest, _ = lava_backend._write_export(
                # the Vars start from ``initial`` (written before the first step), so the exported
                # processes may start from zero: Lava's SigmaDelta cannot take an initial state itself
                _without_initial_state(network) if initial else network,
                folder,
                self.max_steps,
                seed=self.seed,
                inputs=inputs,
                record=("spikes",),
                connection=connection,
                engine="event",
                t0=t0,
                expected=False,
            )
            if initial:  # Var values before Lava's first step (Var.set needs a started runtime)
                with open(folder / "session_init.npz", "wb") as fh:
                    np.savez(fh, **{str(k): np.asarray(v, dtype=np.int64) for k, v in initial.items()})
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        self.folder = folder
        err = tempfile.TemporaryFile(mode="w+b")
        try:
            proc = subprocess.Popen(
                [py, str(folder / "lava_session.py"), str(folder), str(self.max_steps)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
                start_new_session=True,
                cwd=str(folder),
            )
        except OSError as exc:
            err.close()
            shutil.rmtree(folder, ignore_errors=True)
            raise LavaNotFoundError(f"could not start the Lava interpreter {py!r}: {exc}") from exc
        self._proc = proc
        self._err = err
        self._finalizer = weakref.finalize(self, _terminate, proc, str(folder), err)
        ready = self._receive(self.timeout_s)
        if not ready[0].get("ok"):
            self._fail(f"the Lava session could not build the network: {ready[0].get('error')}")
        self.pid = int(ready[0].get("pid", proc.pid))

    # ------------------------------------------------------------------ process management
    @property
    def alive(self) -> bool:
        """True while the session can take requests."""
        return self._error is None and self._proc.poll() is None

    def _stderr(self, limit: int = 4000) -> str:
        try:
            self._err.flush()
            self._err.seek(0)
            text = self._err.read().decode("utf-8", "replace")
        except (OSError, ValueError):
            return ""
        return lava_backend._tail(text, limit)

    def _fail(self, message: str, kind: type[LavaError] = LavaError) -> None:
        status = self._proc.poll()
        detail = f"{message} (Lava session pid {self._proc.pid}, exit status {status}). Lava's stderr:\n{self._stderr()}"
        self._error = detail
        self._finalizer()  # no process left behind
        if kind is LavaNotFoundError or "No module named 'lava'" in detail:
            raise LavaNotFoundError(f"the interpreter has no Lava installed (set {lava_backend.LAVA_PYTHON_ENV}): {detail}")
        raise kind(detail)

    def _read_exact(self, n: int, deadline: float) -> bytes:
        fd = self._proc.stdout.fileno()
        parts, got = [], 0
        while got < n:
            left = deadline - time.monotonic()
            if left <= 0:
                self._fail(f"the Lava session did not answer within timeout_s={self.timeout_s} s (killed)", LavaTimeoutError)
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                continue
            chunk = os.read(fd, min(n - got, 1 << 20))
            if not chunk:
                self._proc.wait(timeout=5) if self._proc.poll() is None else None
                self._fail("the Lava session died")
            parts.append(chunk)
            got += len(chunk)
        return b"".join(parts)

    def _receive(self, timeout_s: float) -> tuple[dict, dict[str, np.ndarray]]:
        deadline = time.monotonic() + timeout_s
        size = struct.unpack("<Q", self._read_exact(8, deadline))[0]
        header = json.loads(self._read_exact(size, deadline).decode("utf-8"))
        size = struct.unpack("<Q", self._read_exact(8, deadline))[0]
        arrays: dict[str, np.ndarray] = {}
        if size:
            with np.load(io.BytesIO(self._read_exact(size, deadline)), allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
        return header, arrays

    def _request(self, header: Mapping[str, Any], arrays: Mapping[str, np.ndarray] | None = None) -> tuple[dict, dict]:
        if self._error is not None:
            raise LavaError(f"the Lava session is closed: {self._error}")
        if self._proc.poll() is not None:
            self._fail("the Lava session died")
        try:
            self._proc.stdin.write(_encode(header, arrays))
            self._proc.stdin.flush()
        except (BrokenPipeError, OSError):
            self._fail("the Lava session died (its input pipe is closed)")
        reply, data = self._receive(self.timeout_s)
        if not reply.get("ok"):
            raise LavaError(f"the Lava session refused {header.get('cmd')!r}: {reply.get('error')}")
        self.t = int(reply.get("t", self.t))
        return reply, data

    def close(self) -> None:
        """Stop Lava and remove the session's folder (idempotent)."""
        if self._error is None and self._proc.poll() is None:
            try:
                self._proc.stdin.write(_encode({"cmd": "stop"}))
                self._proc.stdin.flush()
                self._receive(min(self.timeout_s, 30.0))
            except (LavaError, OSError):
                pass
        if self._error is None:
            self._error = "closed by close()"
        self._finalizer()

    def __enter__(self) -> LavaSession:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"LavaSession(t={self.t}, max_steps={self.max_steps}, alive={self.alive})"

    # ------------------------------------------------------------------ the contract
    def run(self, steps: int) -> dict[str, np.ndarray]:
        """Run ``steps`` more steps; ``{"pop<i>.spikes": (steps, n) uint8, "pop<i>.outputs": (steps, n) int64}``."""
        k = lava_backend._check_steps(steps)
        if self.t + k > self.max_steps:
            raise bad_value(LavaError, "steps", k, f"the session was built for max_steps={self.max_steps} and has run {self.t}")
        reply, data = self._request({"cmd": "run", "steps": k})
        data["timing.run_s"] = np.array(reply.get("run_s", 0.0))
        return data

    def get(self, names: Iterable[str]) -> dict[str, np.ndarray]:
        """The values of the named Vars (``"pop<i>.<var>"``, ``"proj<j>.a_buff"``), int64."""
        names = [str(n) for n in names]
        return self._request({"cmd": "get", "names": names})[1]

    def set(self, values: Mapping[str, Any]) -> None:
        """Write the named Vars (integers; Lava converts them to the model's dtype)."""
        arrays = {str(k): np.asarray(v, dtype=np.int64) for k, v in values.items()}
        self._request({"cmd": "set"}, arrays)

    def state_names(self) -> list[str]:
        """Every state Var and connection buffer of the session, as ``get`` names."""
        names = []
        for pop in self.manifest["populations"]:
            names += [f"pop{pop['index']}.{v}" for v in lava_backend._STATE_VARS[pop["kind"]]]
        names += [f"proj{p['index']}.a_buff" for p in self.manifest["projections"]]
        return names

    def simulate(self, steps: int, *, record: Any = ("spikes",)) -> snn.RunResult:
        """``run(steps)`` as a :class:`snn.RunResult` (spikes, graded outputs, op counts, the end state)."""
        for _name, what in record.items() if isinstance(record, Mapping) else [(None, record)]:
            extra = set((what,) if isinstance(what, str) else what) - {"spikes", "outputs"}
            if extra:
                raise bad_value(LavaError, "record", record, "a session records spikes and outputs; read state Vars with get()")
        t0 = time.perf_counter()
        t_start = self.t
        data = dict(self.run(steps))
        values = self.get(self.state_names())
        for name, value in values.items():
            kind, _, var = name.partition(".")
            data[f"{kind}.final.{var}"] = value
        inputs = {p.name: np.zeros((int(steps), p.n)) for p in self.network.populations if isinstance(p.model, snn.ExternalInput)}
        return lava_backend._result_from_data(
            self.network, self.manifest, data, int(steps), self.seed, record, inputs, time.perf_counter() - t0, t_start=self.t0 + t_start
        )

    # ------------------------------------------------------------------ a SimState into the session
    def load(self, network: snn.Network, state: snn.SimState) -> None:
        """Make the session continue from ``state`` with ``network``'s parameters.

        ``network`` must have the session network's structure and ``state.t``
        must be the session's step (``t0 + t``): Lava's step counter cannot be
        rewound.  Writes every population's state Vars, every connection's
        ``a_buff`` (the in-flight sums through the synapse kernel) and the
        parameters that Lava re-reads each step where they changed (biases,
        thresholds and boxes of our processes, ``bias_mant``/``bias_exp`` of a
        LIF); a changed LIF ``du``/``dv``/``vth`` or a changed weight matrix is an
        error (Lava fixes them on the first step).
        """
        from hardware import loihi
        from snn.state import check_state, structure_of

        if structure_of(network) != self.structure:
            raise bad_value(LavaError, "network", network, "must have the structure the session was built with")
        check_state(state, network)
        if state.t != self.t0 + self.t:
            raise bad_value(LavaError, "state.t", state.t, f"the session is at step {self.t0 + self.t}; Lava cannot jump to another step")
        values: dict[str, np.ndarray] = {}
        for i, (p, old) in enumerate(zip(network.populations, self.network.populations)):
            m, mo = p.model, old.model
            if p.model.is_source:
                continue
            if type(m) is not type(mo):
                raise bad_value(LavaError, f"population {p.name!r}: model", type(m).__name__, f"the session runs a {type(mo).__name__}")
            if isinstance(m, loihi.LoihiLIF):
                if (m.du, m.dv, m.vth) != (mo.du, mo.dv, mo.vth):
                    raise bad_value(
                        LavaError, f"population {p.name!r}: du, dv, vth", (m.du, m.dv, m.vth), "Lava's LIF fixes them on its first step"
                    )
                params = {"bias_mant": m.bias_mant, "bias_exp": m.bias_exp}
            elif isinstance(m, loihi.LoihiSigmaDelta):
                if m != mo and (m.vth, m.act_mode, m.cum_error, m.spike_exp, m.state_exp) != (
                    mo.vth,
                    mo.act_mode,
                    mo.cum_error,
                    mo.spike_exp,
                    mo.state_exp,
                ):
                    raise bad_value(
                        LavaError, f"population {p.name!r}: vth", m.vth, "a session keeps Lava's SigmaDelta parameters other than bias"
                    )
                params = {"bias": np.asarray(m.bias) << (m.spike_exp + m.state_exp)}
            else:
                names = (
                    ("vth", "bias", "lo", "hi")
                    if m.state_vars == ("sigma", "act", "residue")
                    else ("bias", "temp_min", "cool", "dec", "p_update")
                )
                if getattr(m, "out_exp", 0) != getattr(mo, "out_exp", 0):
                    raise bad_value(LavaError, f"population {p.name!r}: out_exp", m.out_exp, "is fixed when the session starts")
                params = {k: getattr(m, k) for k in names}
            for k, v in params.items():
                values[f"pop{i}.{k}"] = np.broadcast_to(np.asarray(v, dtype=np.int64), (1,) if k == "vth" else (p.n,))
        for pr, old in zip(network.projections, self.network.projections):
            if pr.synapse != old.synapse or not np.array_equal(pr.weights.data, old.weights.data):
                raise bad_value(
                    LavaError,
                    f"projection {pr.name!r}: weights",
                    "changed",
                    "Lava prepares the weights on its first step; start a new session",
                )
        values.update(self.state_values(network, state))
        self.set(values)
        self.network = network

    @staticmethod
    def state_values(network: snn.Network, state: snn.SimState) -> dict[str, np.ndarray]:
        """``{"pop<i>.<var>": ..., "proj<j>.a_buff": ...}`` holding ``state`` (in-flight sums through the synapse kernel, as Lava's a_buff)."""
        from hardware import loihi

        values: dict[str, np.ndarray] = {}
        for i, p in enumerate(network.populations):
            for v in p.model.state_vars:
                values[f"pop{i}.{v}"] = np.asarray(state.populations[p.name][v], dtype=np.int64)
        for j, pr in enumerate(network.projections):
            delivered = loihi.loihi_synapse_kernel(pr.synapse.params(), np.asarray(state.in_flight[pr.name], dtype=np.int64))
            values[f"proj{j}.a_buff"] = delivered[0] if delivered.shape[0] == 1 else delivered.T
        return values
