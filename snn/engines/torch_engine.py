"""The torch engine: the reference step loop on torch tensors, on CPU or CUDA.

Same step order and the same kernels as :mod:`snn.engines.reference` (each
model's kernel specialised to ``torch`` with :func:`snn.kernels.specialize`);
the random draws come from :mod:`snn._rng` on int64 tensors, so stochastic
models draw the same numbers as on every other engine.

Options of :func:`run` (``snn.simulate(..., engine="torch", **options)``):

``device``
    ``"cpu"`` (default), ``"cuda"``, ``"cuda:1"``, or a ``torch.device``.
``dtype``
    Floating-point type of float models: ``torch.float64`` (default on CPU) or
    ``torch.float32`` (default on CUDA); also accepted as ``"float64"`` /
    ``"float32"``.  Integer (fixed-point) models always run in int64, exactly.
``mode``
    How a projection propagates: ``"event"`` gathers the synapses of the
    neurons that sent a message (CSC columns, ``index_add_``: cost follows the
    spikes), ``"dense"`` multiplies a dense ``(n_post, n_pre)`` matrix per
    delay with the output vector (cost ``n_post * n_pre`` per step, but one
    BLAS call), ``"auto"`` (default) picks per projection by the rule below.
``dense_max_entries``, ``dense_min_density``
    The ``"auto"`` rule: a projection runs dense when its dense matrices
    (``n_post * n_pre`` entries per distinct delay) have at most
    ``dense_max_entries`` entries (default ``2**22``, 32 MiB in float64) and
    its density ``nnz / (n_post * n_pre)`` is at least ``dense_min_density``
    (default 0.05 on CPU, 0.01 on CUDA).  Rationale: a dense product costs
    ``n_post * n_pre`` multiply-adds whatever the activity, the event path
    costs about ``activity * nnz`` scattered adds plus a fixed overhead per
    step; dense wins only for small, dense projections (on CUDA sooner, where
    the fixed overhead of the gather is larger).  Integer projections on CUDA
    always use events (CUDA has no int64 matrix product).

Float results agree with the reference within floating-point tolerance (on
CPU in float64 the event path accumulates in the reference's order and agrees
bit for bit in practice; CUDA's ``index_add_`` order is not fixed).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from snn import _rng
from snn.engines.plan import Plan, make_counts, split_by_delay
from snn.errors import SimulationError, bad_value
from snn.kernels import specialize
from snn.results import RunResult

__all__ = ["run", "choose_mode"]

_MODES = ("auto", "event", "dense")


def _torch():
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - torch is an optional dependency
        raise bad_value(SimulationError, "engine", "torch", f"needs PyTorch ({exc}); install the 'torch' extra") from exc
    return torch


def choose_mode(n_post: int, n_pre: int, nnz: int, n_delays: int, *, is_int: bool, cuda: bool, max_entries: int, min_density: float) -> str:
    """The ``"auto"`` rule for one projection: ``"dense"`` or ``"event"`` (see the module notes)."""
    if is_int and cuda:
        return "event"
    entries = n_post * n_pre
    if entries == 0 or entries * max(1, n_delays) > max_entries:
        return "event"
    return "dense" if nnz / entries >= min_density else "event"


def _check_options(torch, device, dtype, mode, dense_max_entries, dense_min_density):
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise bad_value(SimulationError, "device", device, "must be 'cpu', 'cuda', 'cuda:N' or a torch.device") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise bad_value(SimulationError, "device", device, "CUDA is not available here (torch.cuda.is_available() is False)")
    if dev.type not in ("cpu", "cuda"):
        raise bad_value(SimulationError, "device", device, "allowed device types: 'cpu', 'cuda'")
    names = {"float64": torch.float64, "float32": torch.float32, "double": torch.float64, "float": torch.float32}
    if dtype is None:
        fdtype = torch.float32 if dev.type == "cuda" else torch.float64
    elif isinstance(dtype, str) and dtype in names:
        fdtype = names[dtype]
    elif dtype in (torch.float64, torch.float32):
        fdtype = dtype
    else:
        raise bad_value(SimulationError, "dtype", dtype, "allowed: torch.float64, torch.float32, 'float64', 'float32' or None")
    if mode not in _MODES:
        raise bad_value(SimulationError, "mode", mode, f"allowed: {list(_MODES)}")
    if isinstance(dense_max_entries, bool) or not isinstance(dense_max_entries, (int, np.integer)) or dense_max_entries < 0:
        raise bad_value(SimulationError, "dense_max_entries", dense_max_entries, "must be an int >= 0")
    if isinstance(dense_min_density, bool) or not isinstance(dense_min_density, (int, float)) or not 0 <= dense_min_density <= 1:
        raise bad_value(SimulationError, "dense_min_density", dense_min_density, "must be a number in [0, 1]")
    return dev, fdtype


class _Projection:
    """A projection's device arrays for one run."""

    def __init__(self, torch, pr, dev, fdtype, mode, max_entries, min_density, uniform, hash32):
        self.pr = pr
        self.is_int = pr.dtype == np.int64
        if not self.is_int and pr.dtype != np.float64:
            raise bad_value(
                SimulationError, f"projection {pr.name!r} dtype", str(pr.dtype), "the torch engine runs float64 or int64 synapses"
            )
        self.dtype = torch.int64 if self.is_int else fdtype
        n_post, n_pre = pr.weights.shape
        self.n_post = n_post
        self.n_slots = pr.max_delay + 1
        dmin, dmax = (pr.min_delay, pr.max_delay) if pr.delays.size else (0, 0)
        # distinct delays (for the dense rule): cheap when there is one, exact otherwise
        n_delays = 1 if dmin == dmax else int(np.unique(pr.delays).size)
        if mode == "auto":
            mode = choose_mode(
                n_post,
                n_pre,
                pr.weights.nnz,
                n_delays,
                is_int=self.is_int,
                cuda=dev.type == "cuda",
                max_entries=max_entries,
                min_density=min_density,
            )
        if mode == "dense" and self.is_int and dev.type == "cuda":
            raise bad_value(
                SimulationError,
                "mode",
                "dense",
                f"projection {pr.name!r} is int64 and CUDA has no int64 matrix product; use 'event' or 'auto'",
            )
        self.mode = mode
        self.ring = torch.zeros((self.n_slots, n_post), dtype=self.dtype, device=dev)
        self.out_degree = torch.as_tensor(pr.out_degree, dtype=torch.int64, device=dev)
        self.syn = specialize(pr.syn_kernel, torch, uniform=uniform, hash32=hash32) if pr.syn_kernel is not None else None
        self.syn_params = tuple(_to_tensor(torch, a, dev, fdtype) for a in pr.syn_params)
        if mode == "dense":
            self.parts = [(d, torch.as_tensor(w_d.toarray(), dtype=self.dtype, device=dev)) for d, w_d in split_by_delay(pr)]
        else:
            csc = pr.weights.tocsc()
            self.indptr = torch.as_tensor(csc.indptr.astype(np.int64), device=dev)
            self.post = torch.as_tensor(csc.indices.astype(np.int64), device=dev)
            self.w = torch.as_tensor(csc.data, dtype=self.dtype, device=dev)
            self.single_delay = dmin if dmin == dmax else -1
            if self.single_delay < 0:
                dcsc = type(pr.weights)((pr.delays.astype(np.int64), pr.weights.indices, pr.weights.indptr), shape=pr.weights.shape).tocsc()
                self.delay = torch.as_tensor(dcsc.data.astype(np.int64), device=dev)
                self.stage = torch.zeros(self.n_slots * n_post, dtype=self.dtype, device=dev)

    def send(self, torch, t, values, sent_idx):
        """Add the messages ``values`` (n_pre,) of the neurons ``sent_idx`` into the ring slots ahead."""
        if self.mode == "dense":
            for d, w_d in self.parts:
                self.ring[(t + d) % self.n_slots] += w_d @ values
            return
        starts = self.indptr[sent_idx]
        counts = self.indptr[sent_idx + 1] - starts
        # flat positions of the synapses of the sending neurons, ascending pre index (the reference's order)
        rep = torch.repeat_interleave(torch.arange(sent_idx.shape[0], device=values.device), counts)
        if rep.shape[0] == 0:
            return
        first = torch.cumsum(counts, 0) - counts
        syn = starts[rep] + (torch.arange(rep.shape[0], device=values.device) - first[rep])
        contrib = self.w[syn] * values[sent_idx][rep]
        if self.single_delay >= 0:
            self.ring[(t + self.single_delay) % self.n_slots].index_add_(0, self.post[syn], contrib)
            return
        slot = (t + self.delay[syn]) % self.n_slots
        self.stage.index_add_(0, slot * self.n_post + self.post[syn], contrib)
        self.ring.view(-1).add_(self.stage)
        self.stage.zero_()


def _to_tensor(torch, a, dev, fdtype):
    arr = np.asarray(a)
    if arr.dtype == np.bool_:
        return torch.as_tensor(arr, device=dev)
    if np.issubdtype(arr.dtype, np.integer):
        return torch.as_tensor(arr.astype(np.int64), device=dev)
    return torch.as_tensor(arr.astype(np.float64), device=dev).to(fdtype)


def run(
    plan: Plan,
    n_steps: int,
    *,
    progress: bool = False,
    device: Any = "cpu",
    dtype: Any = None,
    mode: str = "auto",
    dense_max_entries: int = 2**22,
    dense_min_density: float | None = None,
) -> RunResult:
    """Run ``plan`` for ``n_steps`` steps with torch tensors (see the module notes for the options).

    Returns
    -------
    RunResult
        ``engine="torch"``; recorded arrays are numpy on the host, state in the
        model's dtype (float32 runs are reported as float64 arrays).
    """
    torch = _torch()
    if dense_min_density is None:
        dense_min_density = 0.01 if str(device).startswith("cuda") else 0.05
    dev, fdtype = _check_options(torch, device, dtype, mode, dense_max_entries, dense_min_density)
    t_start = time.perf_counter()
    pops, projs = plan.populations, plan.projections
    inv = torch.tensor(2.0**-32, dtype=torch.float64, device=dev)
    hash32 = specialize(_rng.hash32, torch)
    uniform = specialize(_rng.uniform, torch, _INV_2_32=inv, hash32=hash32)

    def pdtype(p):
        return torch.int64 if p.dtype == np.int64 else fdtype

    for p in pops:
        if p.dtype not in (np.float64, np.int64):
            raise bad_value(SimulationError, f"population {p.name!r} dtype", str(p.dtype), "the torch engine runs float64 or int64 models")
    kernels = [specialize(p.kernel, torch, uniform=uniform, hash32=hash32) for p in pops]
    params = [tuple(_to_tensor(torch, a, dev, fdtype) for a in p.params) for p in pops]
    state = [tuple(_to_tensor(torch, s, dev, fdtype) for s in p.state0) for p in pops]
    ext = [None if p.external is None else torch.as_tensor(np.asarray(p.external), device=dev).to(pdtype(p)) for p in pops]
    tp = [_Projection(torch, pr, dev, fdtype, mode, dense_max_entries, dense_min_density, uniform, hash32) for pr in projs]
    for j, proj in enumerate(tp):
        for slot, row in plan.ring_in(j, proj.n_slots):
            proj.ring[slot] = torch.as_tensor(np.array(row), device=dev).to(proj.dtype)
    t0 = plan.t0

    spikes_rec = {p.name: torch.zeros((n_steps, p.n), dtype=torch.bool, device=dev) for p in pops if p.name in plan.record_spikes}
    out_rec = {p.name: torch.zeros((n_steps, p.n), dtype=torch.float64, device=dev) for p in pops if p.name in plan.record_outputs}
    state_rec = {
        p.name: {v: torch.zeros((n_steps, p.n), dtype=pdtype(p), device=dev) for v in plan.record_state[p.name]}
        for p in pops
        if p.name in plan.record_state
    }
    spikes_per_step = torch.zeros(n_steps, dtype=torch.int64, device=dev)
    events_per_step = torch.zeros(n_steps, dtype=torch.int64, device=dev)
    per_proj = torch.zeros(max(1, len(projs)), dtype=torch.int64, device=dev)
    per_pop = torch.zeros(len(pops), dtype=torch.int64, device=dev)
    keys = [int(p.key) for p in pops]

    steps = range(n_steps)
    if progress:
        from tqdm import tqdm

        steps = tqdm(steps, desc=f"torch ({dev})", unit="step")
    with torch.no_grad():
        for s in steps:
            t = t0 + s  # the absolute step: ring slots, random draws and schedules follow it
            for pi in plan.order:
                p = pops[pi]
                x = torch.zeros(p.n, dtype=pdtype(p), device=dev)
                for j in p.incoming:
                    proj = tp[j]
                    slot = proj.ring[t % proj.n_slots]
                    delivered = slot if proj.syn is None else proj.syn(proj.syn_params, slot)
                    x += delivered.to(x.dtype)
                    slot.zero_()
                if ext[pi] is not None:
                    x = ext[pi][s].clone()
                out, new_state = kernels[pi](params[pi], state[pi], x, t, keys[pi])
                state[pi] = tuple(new_state)
                if not isinstance(out, torch.Tensor):
                    out = torch.full((p.n,), out, device=dev)
                sent = out != 0
                sent_idx = torch.nonzero(sent).squeeze(1)
                n_sent = sent_idx.shape[0]
                per_pop[pi] += n_sent
                spikes_per_step[s] += n_sent
                if p.name in spikes_rec:
                    spikes_rec[p.name][s] = sent
                if p.name in out_rec:
                    out_rec[p.name][s] = out.to(torch.float64)
                if p.name in state_rec:
                    for v, arr in state_rec[p.name].items():
                        arr[s] = state[pi][p.state_vars.index(v)]
                if n_sent == 0:
                    continue
                for j in p.outgoing:
                    proj = tp[j]
                    values = out.to(proj.dtype)
                    proj.send(torch, t, values, sent_idx)
                    ev = proj.out_degree[sent_idx].sum()
                    per_proj[j] += ev
                    events_per_step[s] += ev

    def host(a):
        return a.detach().cpu().numpy()

    counts = make_counts(plan, n_steps, host(spikes_per_step), host(events_per_step), host(per_proj)[: len(projs)], host(per_pop))
    final = [tuple(host(a).astype(np.asarray(p.state0[k]).dtype, copy=False) for k, a in enumerate(state[i])) for i, p in enumerate(pops)]
    in_flight = [plan.ring_out(n_steps, j, lambda slot, j=j: host(tp[j].ring[slot]).astype(tp[j].pr.dtype)) for j in range(len(projs))]
    return RunResult(
        spikes={k: host(v) for k, v in spikes_rec.items()},
        traces={k: {v: host(a).astype(plan.by_name(k).dtype, copy=False) for v, a in d.items()} for k, d in state_rec.items()},
        counts=counts,
        state=plan.end_state(n_steps, final, in_flight),
        t_start=t0,
        outputs={k: host(v) for k, v in out_rec.items()},
        engine="torch",
        seed=plan.seed,
        wall_time_s=time.perf_counter() - t_start,
    )
