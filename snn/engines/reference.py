"""The reference engine: plain numpy, one step at a time, obviously correct.

It is the oracle every other engine is held to.  Step order (see
:mod:`snn.engines.plan`): input from the delay buffers, kernel (update,
threshold, reset), record, propagate through every outgoing projection into
the buffer slot ``delay`` steps ahead.  Each projection keeps its own ring
buffer of ``max_delay + 1`` slots so that its synapse kernel sees exactly the
sum of what this projection delivers in a step.
"""

from __future__ import annotations

import time

import numpy as np

from snn.engines.plan import Plan, make_counts, split_by_delay
from snn.results import RunResult

__all__ = ["run"]


def run(plan: Plan, n_steps: int, *, progress: bool = False) -> RunResult:
    t0 = time.perf_counter()
    pops, projs = plan.populations, plan.projections
    state = [tuple(np.array(s) for s in p.state0) for p in pops]
    rings = [np.zeros((pr.max_delay + 1, pops[pr.post].n), dtype=pr.dtype) for pr in projs]
    for j, pr in enumerate(projs):
        for slot, row in plan.ring_in(j, pr.max_delay + 1):
            rings[j][slot] = row
    t0 = plan.t0
    cache = plan.static.cache if plan.static is not None else {}
    parts = cache.get("split_by_delay")
    if parts is None:
        parts = cache["split_by_delay"] = [split_by_delay(pr) for pr in projs]

    spikes_rec = {p.name: np.zeros((n_steps, p.n), dtype=bool) for p in pops if p.name in plan.record_spikes}
    out_rec = {p.name: np.zeros((n_steps, p.n), dtype=np.float64) for p in pops if p.name in plan.record_outputs}
    state_rec = {
        p.name: {v: np.zeros((n_steps, p.n), dtype=p.dtype) for v in plan.record_state[p.name]} for p in pops if p.name in plan.record_state
    }
    spikes_per_step = np.zeros(n_steps, dtype=np.int64)
    events_per_step = np.zeros(n_steps, dtype=np.int64)
    per_proj = np.zeros(len(projs), dtype=np.int64)
    per_pop = np.zeros(len(pops), dtype=np.int64)

    steps = range(n_steps)
    if progress:
        from tqdm import tqdm

        steps = tqdm(steps, desc="reference", unit="step")
    for s in steps:
        t = t0 + s  # the absolute step: ring slots, random draws and schedules follow it
        for pi in plan.order:
            p = pops[pi]
            x = np.zeros(p.n, dtype=p.dtype)
            for j in p.incoming:
                pr = projs[j]
                slot = rings[j][t % (pr.max_delay + 1)]
                delivered = slot if pr.syn_kernel is None else pr.syn_kernel(pr.syn_params, slot)
                x += delivered.astype(p.dtype)
                slot[:] = 0
            if p.external is not None:
                x = p.external[s].copy()
            out, new_state = p.kernel(p.params, state[pi], x, t, p.key)
            state[pi] = tuple(new_state)
            sent = out != 0
            n_sent = int(np.count_nonzero(sent))
            per_pop[pi] += n_sent
            spikes_per_step[s] += n_sent
            if p.name in spikes_rec:
                spikes_rec[p.name][s] = sent
            if p.name in out_rec:
                out_rec[p.name][s] = out
            if p.name in state_rec:
                for v, arr in state_rec[p.name].items():
                    arr[s] = state[pi][p.state_vars.index(v)]
            if n_sent == 0:
                continue
            for j in p.outgoing:
                pr = projs[j]
                values = out.astype(pr.dtype)
                for d, w_d in parts[j]:
                    rings[j][(t + d) % (pr.max_delay + 1)] += w_d @ values
                ev = int(pr.out_degree[sent].sum())
                per_proj[j] += ev
                events_per_step[s] += ev

    counts = make_counts(plan, n_steps, spikes_per_step, events_per_step, per_proj, per_pop)
    in_flight = [plan.ring_out(n_steps, j, lambda slot, j=j: rings[j][slot]) for j in range(len(projs))]
    return RunResult(
        spikes=spikes_rec,
        traces=state_rec,
        counts=counts,
        state=plan.end_state(n_steps, state, in_flight),
        t_start=t0,
        outputs=out_rec,
        engine="reference",
        seed=plan.seed,
        wall_time_s=time.perf_counter() - t0,
    )
