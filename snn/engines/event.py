"""The event engine: event-driven sparse propagation, the whole run loop compiled with numba.

Cost per step is the neuron updates plus, for every message (a spike or a
non-zero graded value), the out-synapses of its sender: the weights are held
column-wise (CSC, the transpose of the network's ``(n_post, n_pre)`` CSR), so a
spiking pre neuron touches only its own synapses.  Delays go through one ring
buffer per projection of ``max_delay + 1`` slots, as in the reference engine.

Semantics are those of :mod:`snn.engines.reference`, step for step:

* the same kernels (:mod:`snn.kernels`, or any registered model's kernel and
  synapse kernel), compiled by numba through :func:`snn.kernels.specialize`
  (see :mod:`snn.engines._numba_support`: a per-neuron scalar form, and the
  whole-array form as a fallback);
* the same floating-point order of accumulation: a post neuron's input from
  one projection and one emission step is summed over the spiking pre neurons
  in ascending index (as scipy's CSR product does), and a projection with
  several distinct delays sums each emission step apart before adding it to
  the ring slot (as the reference's ``ring[slot] += W_d @ values``); so float
  models give the same spikes and integer (fixed-point) models the same bits;
* exactly the same op counts.

How it is compiled.  All data of a run live in one record of flat arrays
("arenas" with per-population and per-projection offsets: parameters, state,
inputs, outputs, the CSC arrays, rings, recordings, counters), whose type does
not depend on the network.  The run loop, the propagation and the recording
are therefore compiled once per process.  What differs per model is the
update of a population (its kernel over its neurons) and the synapse kernel of
a projection: each is compiled once per kernel and parameter layout into a
C-callable entry point with a fixed signature ``(t, index, arenas)``, and the
run loop calls them through a list of function pointers.  A new network of
known models thus compiles nothing; a new model compiles its kernel (about a
second, see :func:`compile_stats`).  The generic parts are also cached on disk
by numba (``cache=True``: ``__pycache__`` next to this file, or
``NUMBA_CACHE_DIR``), so only the first process after an install or an edit
pays their compilation (about 10 s on 2 cores).

The update of a population is one pass per block of neurons: read the input
(straight from the ring slot when the population has a single incoming
projection), run the kernel over the block (vectorized by LLVM), list the
senders.  The scatter prefetches the synapse columns of upcoming senders.

Parallelism (deterministic): the update of a large population is split into
contiguous chunks of neurons, one per thread (each neuron is independent; the
chunks' sender lists are joined in order), and a large
projection's synapses are split by ranges of post neurons, one part per
thread, so every thread owns its rows and every sum is accumulated in the
same order as on one thread.  Results do not depend on the number of threads.

Messages travel as float64 between a population's update and its
projections (spikes as 1.0, graded values as they are), which is exact for
bool, float64 and integers up to 2**53; the recorded ``outputs`` are float64,
as in the reference engine.
"""

from __future__ import annotations

import logging
import threading
import time
import types
import warnings
import weakref
from collections import namedtuple
from collections.abc import Callable
from typing import Any

import numba
import numpy as np
from numba import cfunc, njit, prange
from numba.core import types as nbtypes
from numba.core.errors import NumbaError, NumbaExperimentalFeatureWarning
from numba.typed import List

from snn.engines import _numba_support as ns
from snn.engines.plan import Plan, PopulationPlan, ProjectionPlan, make_counts
from snn.errors import MAX_DELAY_STEPS, SimulationError, bad_value
from snn.results import RunResult

__all__ = ["run", "compile_stats", "last_run_stats"]

# ---- the record of a run: four named tuples of arrays whose types do not depend on the network
#: tables and index lists
_Meta = namedtuple("_Meta", "P J PT order in_start in_proj out_start out_proj rv rv_start ent t0")
#: per-neuron arenas: parameters and state by dtype, inputs, messages, external input
_Neurons = namedtuple("_Neurons", "pf pi pb sf si sb x_f x_i out fired nfired ext")
#: synapse arenas: CSC parts, delays, weights, out-degrees, rings, staging buffers
_Synapses = namedtuple("_Synapses", "indptr post delay w_f w_i deg ring_f ring_i stage_f stage_i")
#: recordings and counters
_Records = namedtuple("_Records", "rec_spikes rec_out rec_sf rec_si rec_sb per_step per_item")

# columns of the population table P (one row per population k)
P_N, P_KEY, P_X_INT, P_X_OFF, P_OUT_OFF, P_PARAM_ENT, P_STATE_ENT, P_EXT_COL, P_SPK_COL, P_OUTREC_COL, P_FUSED = range(11)
_P_WIDTH = 11
# P_FUSED: how a population's update entry works
#   FUSED_NO    whole-array form: _deliver fills x, the update, then _collect lists the senders
#   FUSED_X     scalar form: _deliver fills x; one pass updates every neuron and lists the senders
#   FUSED_RING  scalar form, one incoming projection read straight from its ring slot (no x pass)
FUSED_NO, FUSED_X, FUSED_RING = 0, 1, 2
# columns of the projection table J (one row per projection j)
(
    J_SINGLE_DELAY,
    J_N_SLOTS,
    J_N_POST,
    J_INT,
    J_RING_OFF,
    J_STAGE_OFF,
    J_DEG_OFF,
    J_DELAY_OFF,
    J_PART_START,
    J_PART_STOP,
    J_SYN,
    J_SYN_ENT,
) = range(12)
_J_WIDTH = 12
# columns of the part table PT (the synapses of a projection onto one range of post neurons, CSC)
# part p, column pre: synapses s in [indptr[PT_BEGIN + pre], indptr[PT_END + pre]), at post[PT_SYN + s], w[PT_W + s]
# (PT_COLW = 1: every synapse of a column has the same weight, stored once per column at w[PT_W + pre])
PT_BEGIN, PT_END, PT_SYN, PT_W, PT_COLW = range(5)
# rv: recorded state variables (kind 0 float64 / 1 int64 / 2 bool, offset in the state arena, column in the recording)
RV_KIND, RV_SRC, RV_COL = range(3)
# per_step[t, 0] spikes, per_step[t, 1] synaptic events; per_item[j] events of projection j,
# per_item[n_proj + k] messages of population k (n_proj is per_item's size minus P's rows, never J's rows)

#: seconds spent compiling with numba in this process, by what was compiled
_COMPILE_S: dict[str, float] = {}
#: compiled entry points, by (role, kernel, variant)
_ENTRIES: dict[tuple, Any] = {}


#: timing of the last run in this process
_LAST_RUN: dict[str, float] = {}


def compile_stats() -> dict[str, float]:
    """Seconds numba spent compiling in this process: ``{"kernels": s, "loop": s}``."""
    return dict(_COMPILE_S)


def last_run_stats() -> dict[str, float]:
    """Phases of the last run in this process and how its populations were updated.

    ``setup_s``, ``loop_s``, ``results_s``: seconds (setup includes compilation);
    ``fused_ring``: populations whose update read their one incoming ring slot
    directly; ``fused_x``: populations updated per neuron from the summed input;
    ``whole_array``: populations run by the whole-array form of their kernel.
    """
    return dict(_LAST_RUN)


_LOG = logging.getLogger("snn.engines.event")


def _timed(what: str, fn: Callable, *args: Any) -> Any:
    t0 = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NumbaExperimentalFeatureWarning)
            return fn(*args)
    finally:
        spent = time.perf_counter() - t0
        _COMPILE_S[what] = _COMPILE_S.get(what, 0.0) + spent
        _LOG.debug("event engine: compiled the %s in %.2f s", what, spent)


def _i64(*shape: int) -> np.ndarray:
    return np.zeros(shape, np.int64)


_META_T = numba.typeof(
    _Meta(_i64(1, 1), _i64(1, 1), _i64(1, 1), _i64(1), _i64(1), _i64(1), _i64(1), _i64(1), _i64(1, 1), _i64(1), _i64(1), _i64(1))
)
_NEURONS_T = numba.typeof(
    _Neurons(
        np.zeros(1),
        _i64(1),
        np.zeros(1, np.bool_),
        np.zeros(1),
        _i64(1),
        np.zeros(1, np.bool_),
        np.zeros(1),
        _i64(1),
        np.zeros(1),
        _i64(1),
        _i64(1),
        np.zeros((1, 1)),
    )
)
_SYNAPSES_T = numba.typeof(
    _Synapses(
        _i64(1), np.zeros(1, np.uint32), np.zeros(1, np.int32), np.zeros(1), _i64(1), _i64(1), np.zeros(1), _i64(1), np.zeros(1), _i64(1)
    )
)
_RECORDS_T = numba.typeof(
    _Records(np.zeros((1, 1), np.bool_), np.zeros((1, 1)), np.zeros((1, 1)), _i64(1, 1), np.zeros((1, 1), np.bool_), _i64(1, 2), _i64(1))
)
# The entry points return an error flag (0: done, 1: the kernel raised): a C-callable cannot
# propagate an exception (numba would print "Exception ignored" and carry on with garbage), so
# each catches what its kernel raises and the run loop stops and reports it (see _failure).
_UPDATE_SIG = nbtypes.int64(nbtypes.int64, nbtypes.int64, _META_T, _NEURONS_T, _SYNAPSES_T)
_SYN_SIG = nbtypes.int64(nbtypes.int64, nbtypes.int64, nbtypes.int64, _META_T, _NEURONS_T, _SYNAPSES_T)


# ---------------------------------------------------------------------------------------------
# per-model entry points: a population's update, a projection's synapse kernel


@njit(cache=True)
def _ring_slot_or_x(t, k, meta, ring, x):
    """What a fused update reads as the input of population ``k``: its one ring slot, or its x arena."""
    row = meta.P[k]
    n = row[P_N]
    if row[P_FUSED] == FUSED_RING:
        jr = meta.J[meta.in_proj[meta.in_start[k]]]
        base = jr[J_RING_OFF] + (t % jr[J_N_SLOTS]) * n
        return ring[base : base + n]
    return x[row[P_X_OFF] : row[P_X_OFF] + n]


@njit(cache=True)
def _input_f(t, k, meta, nr, sy):
    return _ring_slot_or_x(t, k, meta, sy.ring_f, nr.x_f)


@njit(cache=True)
def _input_i(t, k, meta, nr, sy):
    return _ring_slot_or_x(t, k, meta, sy.ring_i, nr.x_i)


#: neurons per block of the fused update (its messages stay in L1 between the kernel and the sender scan)
_BLOCK = 512


def _make_update(kern: Callable, form: str, x_int: bool, parallel: bool, param_views: Callable, state_views: Callable) -> Callable:
    if form == "scalar":
        # One pass per block of neurons: read their input (and clear it: a ring slot is consumed), run the
        # kernel, then list the senders.  Threads take contiguous chunks of neurons; each lists its
        # senders at the start of its own chunk of `fired`, and the lists are then moved together in
        # ascending order, so the result does not depend on the number of threads.
        input_of = _input_i if x_int else _input_f  # x is int64 or float64 by a closure constant

        @njit
        def chunk(t, key, params, state, src, out, fired, all_out, lo, hi):
            # neurons lo .. hi - 1; returns how many sent a message, or -1 when the kernel raised
            # (caught here, inside the prange body: an exception does not leave a parallel region)
            msg = np.empty(_BLOCK, np.float64)
            m = lo
            try:
                for b0 in range(lo, hi, _BLOCK):
                    nb = min(hi - b0, _BLOCK)
                    # the kernel over a block without branches on the spikes, so LLVM vectorizes it
                    # (2x here); a ring slot never holds -0.0 (it starts at +0.0 and only sums), so
                    # reading it directly equals the reference's 0 + slot
                    sv = src[b0 : b0 + nb]
                    for i in range(nb):
                        xi = sv[i]
                        sv[i] = 0
                        o, new = kern(ns.take(params, b0 + i), ns.take(state, b0 + i), xi, t, key)
                        ns.put(state, b0 + i, new)
                        msg[i] = ns.cast_like(out, o)
                    # then list the senders; a silent neuron's message is stored only when the outputs
                    # are recorded (the propagation reads the senders' only)
                    for i in range(nb):
                        if msg[i] != 0:
                            out[b0 + i] = msg[i]
                            fired[m] = b0 + i
                            m += 1
                        elif all_out:
                            out[b0 + i] = msg[i]
            except Exception:  # noqa: BLE001 (numba catches no narrower class)
                return -1
            return m - lo

        def update(t, k, meta, nr, sy):
            row = meta.P[k]
            n = row[P_N]
            params = param_views(nr.pf, nr.pi, nr.pb, meta.ent, row[P_PARAM_ENT], n)
            state = state_views(nr.sf, nr.si, nr.sb, meta.ent, row[P_STATE_ENT], n)
            src = input_of(t, k, meta, nr, sy)
            oo = row[P_OUT_OFF]
            out = nr.out[oo : oo + n]
            fired = nr.fired[oo : oo + n]
            key = row[P_KEY]
            all_out = row[P_OUTREC_COL] >= 0
            n_chunks = min(numba.get_num_threads(), n) if parallel and n > 0 else 1
            count = np.zeros(n_chunks, np.int64)
            for c in prange(n_chunks):
                lo, hi = c * n // n_chunks, (c + 1) * n // n_chunks
                count[c] = chunk(t, key, params, state, src, out, fired, all_out, lo, hi)
            if count.min() < 0:
                return 1
            nf = count[0]
            for c in range(1, n_chunks):
                lo = c * n // n_chunks
                for q in range(count[c]):
                    fired[nf + q] = fired[lo + q]
                nf += count[c]
            nr.nfired[k] = nf
            return 0

    else:

        def update(t, k, meta, nr, sy):
            row = meta.P[k]
            n = row[P_N]
            params = param_views(nr.pf, nr.pi, nr.pb, meta.ent, row[P_PARAM_ENT], n)
            state = state_views(nr.sf, nr.si, nr.sb, meta.ent, row[P_STATE_ENT], n)
            if x_int:
                x = nr.x_i[row[P_X_OFF] : row[P_X_OFF] + n].copy()
            else:
                x = nr.x_f[row[P_X_OFF] : row[P_X_OFF] + n].copy()
            try:
                o, new = kern(params, state, x, t, row[P_KEY])
            except Exception:  # noqa: BLE001 (numba catches no narrower class)
                return 1
            ns.assign(state, new)
            oo = row[P_OUT_OFF]
            nr.out[oo : oo + n] = o
            return 0

    return update


def _update_entry(kernel: Callable, form: str, x_int: bool, parallel: bool, p_layout: tuple, s_layout: tuple) -> Any:
    key = ("update", kernel, form, x_int, parallel, p_layout, s_layout)
    entry = _ENTRIES.get(key)
    if entry is None:
        py = _make_update(ns.compiled_kernel(kernel, form), form, x_int, parallel, ns.make_views(p_layout), ns.make_views(s_layout))
        entry = _timed("kernels", cfunc(_UPDATE_SIG, parallel=parallel), py)
        _ENTRIES[key] = entry
    return entry


def _make_syn(skern: Callable, ring_int: bool, x_int: bool, views: Callable) -> Callable:
    # the synapse kernel on the projection's whole ring slot (numpy form), added into the target's x

    def rows(t, j, k, meta, sy):
        jr = meta.J[j]
        n = jr[J_N_POST]
        base = jr[J_RING_OFF] + (t % jr[J_N_SLOTS]) * n
        return n, base, meta.P[k, P_X_OFF], jr[J_SYN_ENT]

    rows = njit(rows)

    if ring_int and x_int:

        def syn(t, j, k, meta, nr, sy):
            n, base, xo, e = rows(t, j, k, meta, sy)
            acc = sy.ring_i[base : base + n]
            try:
                delivered = skern(views(nr.pf, nr.pi, nr.pb, meta.ent, e, n), acc)
            except Exception:  # noqa: BLE001 (numba catches no narrower class)
                return 1
            x = nr.x_i[xo : xo + n]
            for i in range(n):
                x[i] += ns.cast_like(x, delivered[i])
            acc[:] = 0
            return 0

    elif ring_int:

        def syn(t, j, k, meta, nr, sy):
            n, base, xo, e = rows(t, j, k, meta, sy)
            acc = sy.ring_i[base : base + n]
            try:
                delivered = skern(views(nr.pf, nr.pi, nr.pb, meta.ent, e, n), acc)
            except Exception:  # noqa: BLE001 (numba catches no narrower class)
                return 1
            x = nr.x_f[xo : xo + n]
            for i in range(n):
                x[i] += ns.cast_like(x, delivered[i])
            acc[:] = 0
            return 0

    elif x_int:

        def syn(t, j, k, meta, nr, sy):
            n, base, xo, e = rows(t, j, k, meta, sy)
            acc = sy.ring_f[base : base + n]
            try:
                delivered = skern(views(nr.pf, nr.pi, nr.pb, meta.ent, e, n), acc)
            except Exception:  # noqa: BLE001 (numba catches no narrower class)
                return 1
            x = nr.x_i[xo : xo + n]
            for i in range(n):
                x[i] += ns.cast_like(x, delivered[i])
            acc[:] = 0
            return 0

    else:

        def syn(t, j, k, meta, nr, sy):
            n, base, xo, e = rows(t, j, k, meta, sy)
            acc = sy.ring_f[base : base + n]
            try:
                delivered = skern(views(nr.pf, nr.pi, nr.pb, meta.ent, e, n), acc)
            except Exception:  # noqa: BLE001 (numba catches no narrower class)
                return 1
            x = nr.x_f[xo : xo + n]
            for i in range(n):
                x[i] += ns.cast_like(x, delivered[i])
            acc[:] = 0
            return 0

    return syn


def _syn_entry(kernel: Callable, ring_int: bool, x_int: bool, layout: tuple) -> Any:
    key = ("synapse", kernel, ring_int, x_int, layout)
    entry = _ENTRIES.get(key)
    if entry is None:
        py = _make_syn(ns.compiled_synapse(kernel), ring_int, x_int, ns.make_views(layout))
        entry = _timed("kernels", cfunc(_SYN_SIG), py)
        _ENTRIES[key] = entry
    return entry


# ---------------------------------------------------------------------------------------------
# the run loop (compiled once per process, in a serial and a threaded variant)


# The hot loops index views from 0 (``a[off:off + n][i]`` rather than ``a[off + i]``): numba
# then knows the index is not negative and LLVM keeps the loops tight (3x faster here).


@njit(cache=True)
def _fill_zero(a, off, n):
    v = a[off : off + n]
    for i in range(n):
        v[i] = 0


@njit(cache=True)
def _copy_row(dst, t, col, src, off, n):
    # explicit loops: numba compiles slice assignment with broadcasting much more slowly
    d = dst[t, col : col + n]
    v = src[off : off + n]
    for i in range(n):
        d[i] = v[i]


@njit(cache=True)
def _add_ring(x, xo, ring, base, n):
    xv = x[xo : xo + n]
    rv = ring[base : base + n]
    for i in range(n):
        xv[i] += ns.cast_like(x, rv[i])  # delivered.astype(x.dtype) of the reference
        rv[i] = 0


@njit(cache=True)
def _deliver(t, k, meta, nr, sy, syns):
    """``x`` of population ``k`` = the sum of what its incoming projections deliver at ``t``, in projection order.

    Returns -1, or the projection whose synapse kernel raised.
    """
    row = meta.P[k]
    n, xo = row[P_N], row[P_X_OFF]
    x_int = row[P_X_INT] == 1
    if x_int:
        _fill_zero(nr.x_i, xo, n)
    else:
        _fill_zero(nr.x_f, xo, n)
    for q in range(meta.in_start[k], meta.in_start[k + 1]):
        j = meta.in_proj[q]
        jr = meta.J[j]
        if jr[J_SYN] >= 0:
            if syns[jr[J_SYN]](t, j, k, meta, nr, sy) != 0:
                return j
            continue
        base = jr[J_RING_OFF] + (t % jr[J_N_SLOTS]) * n
        if jr[J_INT] == 1:
            if x_int:
                _add_ring(nr.x_i, xo, sy.ring_i, base, n)
            else:
                _add_ring(nr.x_f, xo, sy.ring_i, base, n)
        elif x_int:
            _add_ring(nr.x_i, xo, sy.ring_f, base, n)
        else:
            _add_ring(nr.x_f, xo, sy.ring_f, base, n)
    col = row[P_EXT_COL]
    if col >= 0:
        e = nr.ext[t - meta.t0[0], col : col + n]
        if x_int:
            xi = nr.x_i[xo : xo + n]
            for i in range(n):
                xi[i] = ns.cast_like(xi, e[i])
        else:
            xf = nr.x_f[xo : xo + n]
            for i in range(n):
                xf[i] = e[i]
    return -1


@njit(cache=True)
def _record_state(t, k, meta, nr, rec):
    n = meta.P[k, P_N]
    t = t - meta.t0[0]  # recordings are indexed by the run's own step
    for r in range(meta.rv_start[k], meta.rv_start[k + 1]):
        kind, src, col = meta.rv[r, RV_KIND], meta.rv[r, RV_SRC], meta.rv[r, RV_COL]
        if kind == 0:
            _copy_row(rec.rec_sf, t, col, nr.sf, src, n)
        elif kind == 1:
            _copy_row(rec.rec_si, t, col, nr.si, src, n)
        else:
            _copy_row(rec.rec_sb, t, col, nr.sb, src, n)


#: how many spiking columns ahead the scatter prefetches, and the stride of its prefetches in index elements
_PF_AHEAD = 4
_PF_LINE = 64  # bytes


@njit(cache=True)
def _prefetch_column(a, b, e):
    step = max(1, _PF_LINE // a.itemsize)
    for s in range(b, e, step):
        ns.prefetch(a, s)


@njit(cache=True)
def _scatter_part(indptr, post, w, ring, part, out, oo, fired, row_off):
    # the spiking columns of one part, ascending pre index: each post row sums in CSR order.  The
    # columns are random reads from an array larger than the caches: prefetch those of the spiking
    # neuron _PF_AHEAD places ahead while adding the current one (latency, not bandwidth, is the limit)
    begin, end = indptr[part[PT_BEGIN] :], indptr[part[PT_END] :]
    pv, wv, row = post[part[PT_SYN] :], w[part[PT_W] :], ring[row_off:]
    msg = out[oo:]
    nf = fired.shape[0]
    for q in range(min(nf, _PF_AHEAD)):
        _prefetch_column(pv, begin[fired[q]], end[fired[q]])
        if part[PT_COLW] != 1:
            _prefetch_column(wv, begin[fired[q]], end[fired[q]])
    if part[PT_COLW] == 1:
        # one weight per pre neuron: the same products w * v, read once per column (half the memory traffic)
        for q in range(nf):
            if q + _PF_AHEAD < nf:
                nxt = fired[q + _PF_AHEAD]
                _prefetch_column(pv, begin[nxt], end[nxt])
            pre = fired[q]
            c = wv[pre] * ns.cast_like(ring, msg[pre])
            for s in range(begin[pre], end[pre]):
                row[pv[s]] += c
        return
    for q in range(nf):
        if q + _PF_AHEAD < nf:
            nxt = fired[q + _PF_AHEAD]
            _prefetch_column(pv, begin[nxt], end[nxt])
            _prefetch_column(wv, begin[nxt], end[nxt])
        pre = fired[q]
        v = ns.cast_like(ring, msg[pre])  # out.astype(dtype) of the reference
        for s in range(begin[pre], end[pre]):
            row[pv[s]] += wv[s] * v


@njit(cache=True)
def _scatter_serial(PT, p0, p1, indptr, post, w, ring, out, oo, fired, row_off):
    for p in range(p0, p1):
        _scatter_part(indptr, post, w, ring, PT[p], out, oo, fired, row_off)


@njit(parallel=True, cache=True)
def _scatter_threads(PT, p0, p1, indptr, post, w, ring, out, oo, fired, row_off):
    # each part owns a range of post rows: no two threads write the same element
    if p1 - p0 == 1:
        _scatter_part(indptr, post, w, ring, PT[p0], out, oo, fired, row_off)
        return
    for q in prange(p1 - p0):
        p = p0 + q
        _scatter_part(indptr, post, w, ring, PT[p], out, oo, fired, row_off)


@njit(cache=True)
def _scatter_staged(jr, PT, indptr, post, delay, w, ring, stage, out, oo, fired, t):
    # several delays: sum this emission step apart per target slot, then add it to the ring
    p = jr[J_PART_START]
    ib, ie, so, wo, do = PT[p, PT_BEGIN], PT[p, PT_END], PT[p, PT_SYN], PT[p, PT_W], jr[J_DELAY_OFF]
    n_slots, n_post = jr[J_N_SLOTS], jr[J_N_POST]
    ring_off, stage_off = jr[J_RING_OFF], jr[J_STAGE_OFF]
    base = t % n_slots
    for q in range(fired.shape[0]):
        pre = fired[q]
        v = ns.cast_like(ring, out[oo + pre])
        for s in range(indptr[ib + pre], indptr[ie + pre]):
            sl = base + delay[do + s]
            if sl >= n_slots:
                sl -= n_slots
            stage[stage_off + sl * n_post + post[so + s]] += w[wo + s] * v
    for q in range(fired.shape[0]):
        pre = fired[q]
        for s in range(indptr[ib + pre], indptr[ie + pre]):
            sl = base + delay[do + s]
            if sl >= n_slots:
                sl -= n_slots
            idx = sl * n_post + post[so + s]
            val = stage[stage_off + idx]
            if val != 0:
                ring[ring_off + idx] += val
                stage[stage_off + idx] = 0


@njit(cache=True)
def _collect(t, k, meta, nr, rec, n_proj):
    """The neurons of population ``k`` that send a message at ``t``; counts and recordings."""
    row = meta.P[k]
    n, oo = row[P_N], row[P_OUT_OFF]
    out, fired = nr.out[oo : oo + n], nr.fired[oo : oo + n]
    if row[P_FUSED] == FUSED_NO:
        nfired = 0
        for i in range(n):
            if out[i] != 0:
                fired[nfired] = i
                nfired += 1
    else:
        nfired = nr.nfired[k]  # listed by the update
    s = t - meta.t0[0]  # recordings and per-step counts are indexed by the run's own step
    rec.per_item[n_proj + k] += nfired
    rec.per_step[s, 0] += nfired
    col = row[P_SPK_COL]
    if col >= 0:
        for q in range(nfired):
            rec.rec_spikes[s, col + fired[q]] = True
    col = row[P_OUTREC_COL]
    if col >= 0:
        _copy_row(rec.rec_out, s, col, nr.out, oo, n)
    return fired[:nfired]


@njit(cache=True)
def _emit(t, k, meta, nr, sy, rec, threads):
    """Count, record and send the messages of population ``k`` at step ``t``."""
    # per_item holds n_proj + n_pops counters; J may have a padding row (it has max(1, n_proj) rows)
    n_proj = rec.per_item.shape[0] - meta.P.shape[0]
    fired = _collect(t, k, meta, nr, rec, n_proj)
    if fired.shape[0] == 0:
        return
    oo = meta.P[k, P_OUT_OFF]
    for q in range(meta.out_start[k], meta.out_start[k + 1]):
        j = meta.out_proj[q]
        jr = meta.J[j]
        deg0 = jr[J_DEG_OFF]
        ev = 0
        for m in range(fired.shape[0]):
            ev += sy.deg[deg0 + fired[m]]
        rec.per_step[t - meta.t0[0], 1] += ev
        rec.per_item[j] += ev
        d = jr[J_SINGLE_DELAY]
        if d >= 0:
            row_off = jr[J_RING_OFF] + ((t + d) % jr[J_N_SLOTS]) * jr[J_N_POST]
            p0, p1 = jr[J_PART_START], jr[J_PART_STOP]
            if jr[J_INT] == 1:
                if threads and p1 - p0 > 1:
                    _scatter_threads(meta.PT, p0, p1, sy.indptr, sy.post, sy.w_i, sy.ring_i, nr.out, oo, fired, row_off)
                else:
                    _scatter_serial(meta.PT, p0, p1, sy.indptr, sy.post, sy.w_i, sy.ring_i, nr.out, oo, fired, row_off)
            elif threads and p1 - p0 > 1:
                _scatter_threads(meta.PT, p0, p1, sy.indptr, sy.post, sy.w_f, sy.ring_f, nr.out, oo, fired, row_off)
            else:
                _scatter_serial(meta.PT, p0, p1, sy.indptr, sy.post, sy.w_f, sy.ring_f, nr.out, oo, fired, row_off)
        elif jr[J_INT] == 1:
            _scatter_staged(jr, meta.PT, sy.indptr, sy.post, sy.delay, sy.w_i, sy.ring_i, sy.stage_i, nr.out, oo, fired, t)
        else:
            _scatter_staged(jr, meta.PT, sy.indptr, sy.post, sy.delay, sy.w_f, sy.ring_f, sy.stage_f, nr.out, oo, fired, t)


@njit(cache=True)
def _run_loop(t_start, t_stop, meta, nr, sy, rec, updates, syns, threads):
    """Absolute steps ``t_start .. t_stop - 1``; populations in update order (compiled once, cached on disk).

    Returns ``(-1, -1, -1)``, or ``(step, population, projection)`` where a kernel raised
    (``projection`` -1: the population's own kernel; else that projection's synapse kernel).
    """
    for t in range(t_start, t_stop):
        for q in range(meta.order.shape[0]):
            k = meta.order[q]
            if meta.P[k, P_FUSED] != FUSED_RING:
                j = _deliver(t, k, meta, nr, sy, syns)
                if j >= 0:
                    return t, k, j
            if updates[k](t, k, meta, nr, sy) != 0:
                return t, k, -1
            _record_state(t, k, meta, nr, rec)
            _emit(t, k, meta, nr, sy, rec, threads)
    return -1, -1, -1


_FN_LIST_T = {"update": nbtypes.FunctionType(_UPDATE_SIG), "syn": nbtypes.FunctionType(_SYN_SIG)}
#: the run loop's one signature: every argument's type is fixed by construction (the arena records)
_LOOP_SIG = (
    nbtypes.int64,
    nbtypes.int64,
    _META_T,
    _NEURONS_T,
    _SYNAPSES_T,
    _RECORDS_T,
    nbtypes.ListType(_FN_LIST_T["update"]),
    nbtypes.ListType(_FN_LIST_T["syn"]),
    nbtypes.boolean,
)
#: population update entry points by (kernel, parameter layout, state layout, threads, dtype)
_UPDATES: dict[tuple, tuple] = {}


def _compiled_loop() -> Callable:
    """The run loop's compiled entry point, called without the dispatcher's per-call type inference.

    Typing the arena records at every call costs ~5 ms, which a loop of short
    runs (a chunked solver) would pay at every chunk.
    """
    entry = _LOOP_ENTRY.get("loop")
    if entry is None:
        if _LOOP_SIG not in _run_loop.overloads:
            _timed("loop", _run_loop.compile, _LOOP_SIG)
        entry = _LOOP_ENTRY["loop"] = _run_loop.overloads[_LOOP_SIG].entry_point
    return entry


#: the compiled run loop's entry point, once looked up (hashing its signature costs 0.3 ms)
_LOOP_ENTRY: dict[str, Callable] = {}


def _failure(where: tuple[int, int, int], pops: list, projs: list) -> None:
    """Raise the error of a kernel that raised inside the compiled loop (``where`` from :func:`_run_loop`)."""
    t, k, j = (int(v) for v in where)
    if t < 0:
        return
    p = pops[k]
    what = f"the kernel of population {p.name!r} ({type(p.model).__name__})"
    if j >= 0:
        what = f"the synapse kernel of projection {projs[j].name!r} (into population {p.name!r})"
    raise SimulationError(
        f"{what} raised an exception in step {t} on the event engine (in compiled code numba does not say which: "
        "e.g. an integer division by zero or an index out of range); the run is abandoned"
    )


# ---------------------------------------------------------------------------------------------
# building the arenas


class _Arena:
    """Collects arrays of one dtype and hands out their offsets; ``build()`` concatenates."""

    def __init__(self, dtype: Any) -> None:
        self.dtype = np.dtype(dtype)
        self.parts: list[np.ndarray] = []
        self.size = 0

    def add(self, a: Any) -> int:
        a = np.asarray(a, dtype=self.dtype).ravel()
        off = self.size
        self.parts.append(a)
        self.size += a.size
        return off

    def build(self) -> np.ndarray:
        if not self.parts:
            return np.zeros(1, self.dtype)
        if len(self.parts) == 1:
            return np.array(self.parts[0], dtype=self.dtype, copy=True)
        return np.concatenate(self.parts)


def _kind_of(dtype: np.dtype, what: str) -> int:
    for kind, dt in enumerate(ns.KINDS):
        if dtype == dt:
            return kind
    raise bad_value(SimulationError, what, str(dtype), "the event engine handles float64, int64 and bool arrays (use engine='reference')")


def _uniform_as_scalar(a: np.ndarray) -> bool:
    """True when all entries of the 1-D array are equal (bitwise for floats): pass it as one value."""
    if a.size == 0:
        return False
    first = a[0]
    same = a == first
    if a.dtype.kind == "f":
        same &= np.signbit(a) == np.signbit(first)
    return bool(same.all())


def _add_entries(values: tuple, n: int, arenas: list[_Arena], ent: list[int], what: str, scalarize: bool) -> tuple:
    """Store a tuple of per-neuron arrays or scalars; return its layout ``((kind, form), ...)``."""
    layout = []
    for e, v in enumerate(values):
        a = np.asarray(v)
        kind = _kind_of(a.dtype, f"{what}[{e}] dtype")
        if a.ndim == 0:
            form, rows, data = ns.FORM_SCALAR, 0, a.reshape(1)
        elif a.ndim == 1 and a.shape[0] == n:
            if scalarize and _uniform_as_scalar(a):
                form, rows, data = ns.FORM_SCALAR, 0, a[:1]
            else:
                form, rows, data = ns.FORM_1D, 0, a
        elif a.ndim == 2 and a.shape[1] == n:
            form, rows, data = ns.FORM_2D, a.shape[0], a
        else:
            raise bad_value(
                SimulationError,
                f"{what}[{e}]",
                f"array of shape {a.shape}",
                f"the event engine needs a scalar, ({n},) or (rows, {n}) per population",
            )
        ent.extend((arenas[kind].add(data), rows))
        layout.append((kind, form))
    return tuple(layout)


def _compile_update(p: PopulationPlan, p_layout: tuple, s_layout: tuple, parallel: bool, probe: tuple) -> tuple[Any, str]:
    """The population's update entry point, scalar form first, else the whole-array form."""
    params, state, x = probe
    errors = []
    for form in ("scalar", "array"):
        kern = ns.compiled_kernel(p.kernel, form)
        try:
            if form == "scalar":
                ptype = ns.element_types(_layout_type(p_layout))
                stype = ns.element_types(_layout_type(s_layout))
                sig = (ptype, stype, numba.typeof(x).dtype, nbtypes.int64, nbtypes.int64)
            else:
                sig = (_layout_type(p_layout), _layout_type(s_layout), numba.typeof(x), nbtypes.int64, nbtypes.int64)
            _timed("kernels", kern.compile, sig)
            ret = kern.overloads[tuple(sig)].signature.return_type
            if not (isinstance(ret, nbtypes.BaseTuple) and len(ret) == 2):
                raise NumbaError(f"the kernel must return (out, new_state), got {ret}")
            out_t = ret.types[0].dtype if isinstance(ret.types[0], nbtypes.Array) else ret.types[0]
            if not isinstance(out_t, (nbtypes.Number, nbtypes.Boolean)):
                raise NumbaError(f"its output has type {out_t}, not numbers or bools")
            entry = _update_entry(p.kernel, form, p.dtype == np.int64, parallel and form == "scalar", p_layout, s_layout)
        except (NumbaError, TypeError, ValueError, KeyError, AttributeError, NotImplementedError) as exc:
            first = str(exc).strip().splitlines()
            errors.append(f"{form} form: {first[0] if first else type(exc).__name__}")
            continue
        return entry, form
    raise bad_value(
        SimulationError,
        "engine",
        "event",
        f"cannot compile the kernel of population {p.name!r} ({type(p.model).__name__}) with numba ({'; '.join(errors)}); use engine='reference'",
    )


def _layout_type(layout: tuple) -> nbtypes.Type:
    elems = []
    for kind, form in layout:
        dt = numba.from_dtype(ns.KINDS[kind])
        elems.append(nbtypes.Array(dt, 1, "C") if form == ns.FORM_1D else dt if form == ns.FORM_SCALAR else nbtypes.Array(dt, 2, "C"))
    return nbtypes.Tuple(elems)


def _projection_int(pr: ProjectionPlan) -> bool:
    if pr.dtype == np.int64:
        return True
    if pr.dtype != np.float64:
        raise bad_value(SimulationError, f"projection {pr.name!r} dtype", str(pr.dtype), "the event engine runs float64 or int64 synapses")
    return False


def _check_options(parallel: Any, parallel_min_neurons: Any, n_threads: Any) -> None:
    if not (parallel is True or parallel is False or parallel == "auto"):
        raise bad_value(SimulationError, "parallel", parallel, "allowed: 'auto', True or False")
    if isinstance(parallel_min_neurons, bool) or not isinstance(parallel_min_neurons, (int, np.integer)) or parallel_min_neurons < 1:
        raise bad_value(SimulationError, "parallel_min_neurons", parallel_min_neurons, "must be a positive int")
    top = numba.config.NUMBA_NUM_THREADS
    if n_threads is not None and (isinstance(n_threads, bool) or not isinstance(n_threads, (int, np.integer)) or not 1 <= n_threads <= top):
        raise bad_value(SimulationError, "n_threads", n_threads, f"must be None or an int in [1, {top}]")


@njit(cache=True)
def _column_cuts(indptr, indices, row):
    """Per column of a CSC matrix with sorted rows: the position of its first entry with index >= ``row``."""
    n = indptr.shape[0] - 1
    cut = np.empty(n, np.int64)
    for c in range(n):
        lo, hi = indptr[c], indptr[c + 1]
        while lo < hi:
            mid = (lo + hi) // 2
            if indices[mid] < row:
                lo = mid + 1
            else:
                hi = mid
        cut[c] = lo
    return cut


#: CSC arenas of recent runs, keyed by the identity of the network's (read-only) weight arrays
_CSC_CACHE: dict[tuple, tuple] = {}
_CSC_CACHE_SIZE = 2


def _cached_synapse_arenas(projs: list, J: np.ndarray, PT: np.ndarray, n_parts_of: list[int], n_delay: int, n_deg: int) -> tuple:
    """:func:`_synapse_arenas`, reused across runs of the same network.

    A network's weights are read-only and never change, so the transposed
    arrays built for one run serve the next (they are only read during a
    run).  Weights that a synapse type prepares afresh for each run (writable
    arrays) are not cached.  The cache holds weak references to the weight
    arrays and at most two networks.
    """
    views = [a for pr in projs for a in (pr.weights.data, pr.weights.indices, pr.weights.indptr, pr.delays)]
    if not views or any(a.flags.writeable for a in views):
        return _synapse_arenas(projs, J, PT, n_parts_of, n_delay, n_deg)
    arrays = [_root(a) for a in views]  # the plan holds views of the network's arrays
    where = tuple((a.__array_interface__["data"][0], a.shape, a.strides, a.dtype.str) for a in views)
    key = tuple(id(a) for a in arrays) + where + (tuple(n_parts_of), tuple(str(pr.dtype) for pr in projs))
    for k in [k for k, v in _CSC_CACHE.items() if any(r() is None for r in v[0])]:
        del _CSC_CACHE[k]
    hit = _CSC_CACHE.get(key)
    if hit is not None and all(r() is a for r, a in zip(hit[0], arrays)):
        PT[:] = hit[1]
        return hit[2]
    result = _synapse_arenas(projs, J, PT, n_parts_of, n_delay, n_deg)
    while len(_CSC_CACHE) >= _CSC_CACHE_SIZE:
        del _CSC_CACHE[next(iter(_CSC_CACHE))]
    _CSC_CACHE[key] = ([weakref.ref(a) for a in arrays], PT.copy(), result)
    return result


@njit(cache=True)
def _column_weights_csr(indices, bits, n_cols):
    """Whether, in a CSR matrix, every column's stored values are bitwise equal (one weight per pre neuron)."""
    first = np.zeros(n_cols, bits.dtype)
    seen = np.zeros(n_cols, np.bool_)
    for s in range(indices.shape[0]):
        c = indices[s]
        if not seen[c]:
            first[c] = bits[s]
            seen[c] = True
        elif bits[s] != first[c]:
            return False
    return True


@njit(cache=True)
def _transpose(indptr, indices, n_cols, data, with_data):
    """CSR -> CSC as scipy's ``csr_tocsc`` does it (rows ascending within a column, stable): indptr, uint32 rows, data."""
    n_rows = indptr.shape[0] - 1
    nnz = indices.shape[0]
    cindptr = np.zeros(n_cols + 1, np.int64)
    for s in range(nnz):
        cindptr[indices[s] + 1] += 1
    for c in range(n_cols):
        cindptr[c + 1] += cindptr[c]
    pos = cindptr[:-1].copy()
    rows = np.empty(nnz, np.uint32)
    cdata = np.empty(nnz if with_data else 0, data.dtype)
    for r in range(n_rows):
        for s in range(indptr[r], indptr[r + 1]):
            c = indices[s]
            p = pos[c]
            rows[p] = r
            if with_data:
                cdata[p] = data[s]
            pos[c] = p + 1
    return cindptr, rows, cdata


def _root(a: np.ndarray) -> np.ndarray:
    while isinstance(a.base, np.ndarray):
        a = a.base
    return a


def _synapse_arenas(projs: list, J: np.ndarray, PT: np.ndarray, n_parts_of: list[int], n_delay: int, n_deg: int) -> tuple:
    """CSC arrays of every projection (``W.T``), split into parts by ranges of post neurons.

    A part does not copy synapses: it is a pair of per-column bounds into the
    projection's CSC arrays (rows are sorted within a column, so the synapses
    onto a range of post neurons are contiguous).  With one projection the CSC
    arrays themselves are the arenas (no copy).
    """
    i64 = np.int64
    cscs, w_data, colws = [], [], []
    for j, pr in enumerate(projs):
        w = pr.weights
        data = w.data
        bits = data.view(np.int64) if data.dtype == np.float64 else data
        colw = bool(J[j, J_SINGLE_DELAY] >= 0 and w.nnz and _column_weights_csr(w.indices, bits, w.shape[1]))
        # the transpose, without the scipy temporaries (and without the per-synapse weights when one
        # weight per column suffices: at N = 1M that saves 800 MB)
        cindptr, cpost, cdata = _transpose(w.indptr.astype(i64), w.indices, w.shape[1], data, not colw)
        if colw:
            first = np.zeros(w.shape[1], data.dtype)
            first[w.indices] = data  # all entries of a column are equal
            w_data.append(first)
        else:
            w_data.append(cdata)
        cscs.append(types.SimpleNamespace(shape=w.shape, indptr=cindptr, indices=cpost, nnz=w.nnz))
        colws.append(colw)
    bounds_arrays, w_off = [], {0: 0, 1: 0}
    n_bound = 0
    syn = 0
    for j, csc in enumerate(cscs):
        colw = colws[j]
        npost, npre = csc.shape
        is_int = int(J[j, J_INT])
        parts = n_parts_of[j]
        rows = np.linspace(0, npost, parts + 1).astype(i64)
        ip = csc.indptr.astype(i64)
        cuts = [ip[:-1]] + [_column_cuts(ip, csc.indices, int(r)) for r in rows[1:-1]] + [ip[1:]]
        if parts == 1:
            cuts_arr, begin_rows = ip, (0, 1)  # begin = indptr[pre], end = indptr[pre + 1]
        else:
            cuts_arr, begin_rows = np.concatenate(cuts), None
        base = n_bound
        for q in range(parts):
            p = int(J[j, J_PART_START]) + q
            if begin_rows is not None:
                PT[p, PT_BEGIN], PT[p, PT_END] = base + begin_rows[0], base + begin_rows[1]
            else:
                PT[p, PT_BEGIN], PT[p, PT_END] = base + q * npre, base + (q + 1) * npre
            PT[p, PT_SYN], PT[p, PT_W], PT[p, PT_COLW] = syn, w_off[is_int], int(colw)
        bounds_arrays.append(cuts_arr)
        n_bound += cuts_arr.size
        syn += csc.indices.size
        w_off[is_int] += w_data[j].size
    if len(projs) == 1:
        csc = cscs[0]
        indptr = bounds_arrays[0]
        # uint32: numba needs no negative-index check (the indices are >= 0; a view, no copy)
        post = csc.indices
        w_arena = [w_data[0], np.zeros(1, i64)] if J[0, J_INT] == 0 else [np.zeros(1), w_data[0]]
    else:
        indptr = np.concatenate(bounds_arrays) if bounds_arrays else np.zeros(1, i64)
        post = np.concatenate([c.indices for c in cscs]) if cscs else np.zeros(1, np.uint32)
        w_arena = [
            np.concatenate([d for j, d in enumerate(w_data) if J[j, J_INT] == 0] or [np.zeros(1)]),
            np.concatenate([d for j, d in enumerate(w_data) if J[j, J_INT] == 1] or [np.zeros(1, i64)]),
        ]
    w_arena = [np.ascontiguousarray(w_arena[0], np.float64), np.ascontiguousarray(w_arena[1], i64)]
    post = np.ascontiguousarray(post) if post.size else np.zeros(1, np.uint32)
    delay = np.zeros(max(1, n_delay), np.int32)
    deg = np.zeros(max(1, n_deg), i64)
    for j, pr in enumerate(projs):
        npre = pr.weights.shape[1]
        deg[J[j, J_DEG_OFF] : J[j, J_DEG_OFF] + npre] = pr.out_degree
        if J[j, J_SINGLE_DELAY] < 0:
            # the delays in CSC order: the same conversion applied to the same pattern.  int32 holds
            # them because the plan bounds every delay by MAX_DELAY_STEPS; never let one wrap
            if pr.max_delay > np.iinfo(np.int32).max or pr.min_delay < 0:
                raise bad_value(SimulationError, f"projection {pr.name!r} delays", pr.max_delay, f"must be in [0, {MAX_DELAY_STEPS}]")
            w = pr.weights
            _, _, cdelay = _transpose(w.indptr.astype(i64), w.indices, w.shape[1], np.asarray(pr.delays, np.int32), True)
            delay[J[j, J_DELAY_OFF] : J[j, J_DELAY_OFF] + w.nnz] = cdelay
    return indptr, post, w_arena, delay, deg


def _build_program(plan: Plan, threads: int, use_threads: Callable[[int], bool]) -> types.SimpleNamespace:
    """Everything of a run that depends on the network, the recording and the options, not on the state.

    Built once and reused by later runs of the same plan (see :func:`run`): a
    loop of short runs (a chunked solver) then pays per run only for filling
    the state, the rings and the recordings.
    """
    pops, projs = plan.populations, plan.projections
    n_pops, n_proj = len(pops), len(projs)
    i64 = np.int64
    P = np.full((n_pops, _P_WIDTH), -1, i64)
    J = np.zeros((max(1, n_proj), _J_WIDTH), i64)
    # ---- populations: parameters and state into the arenas, one update entry point each
    par_arenas = [_Arena(dt) for dt in ns.KINDS]
    st_arenas = [_Arena(dt) for dt in ns.KINDS]
    ent: list[int] = []
    width = {"x_f": 0, "x_i": 0, "out": 0, "ext": 0, "spk": 0, "outrec": 0}
    rec_width = [0, 0, 0]
    rv, rv_start = [], [0]
    recorded_of = []
    updates = List.empty_list(_FN_LIST_T["update"])
    for p in pops:
        k = p.index
        if p.dtype not in (np.float64, np.int64):
            raise bad_value(SimulationError, f"population {p.name!r} dtype", str(p.dtype), "the event engine runs float64 or int64 models")
        x_int = p.dtype == np.int64
        xname = "x_i" if x_int else "x_f"
        P[k, P_N], P[k, P_KEY], P[k, P_X_INT] = p.n, p.key, int(x_int)
        P[k, P_X_OFF] = width[xname]
        width[xname] += p.n
        P[k, P_OUT_OFF] = width["out"]
        width["out"] += p.n
        P[k, P_PARAM_ENT] = len(ent)
        p_layout = _add_entries(tuple(p.params), p.n, par_arenas, ent, f"population {p.name!r} params", scalarize=p.n >= 1024)
        P[k, P_STATE_ENT] = len(ent)
        state0 = tuple(np.asarray(s) for s in p.state0)
        s_layout = _add_entries(state0, p.n, st_arenas, ent, f"population {p.name!r} state", scalarize=False)
        if any(form != ns.FORM_1D for _, form in s_layout) or len(s_layout) != len(p.state_vars):
            raise bad_value(
                SimulationError, f"population {p.name!r} state", "not (n,) arrays", "every state variable must be an (n,) array"
            )
        ukey = (p.kernel, p_layout, s_layout, use_threads(p.n), str(p.dtype))
        hit = _UPDATES.get(ukey)
        if hit is None:
            hit = _UPDATES[ukey] = _compile_update(p, p_layout, s_layout, use_threads(p.n), (p.params, state0, np.zeros(1, p.dtype)))
        entry, form = hit
        updates.append(entry)
        P[k, P_FUSED] = FUSED_X if form == "scalar" else FUSED_NO
        if p.external is not None:
            P[k, P_EXT_COL] = width["ext"]
            width["ext"] += p.n
        if p.name in plan.record_spikes:
            P[k, P_SPK_COL] = width["spk"]
            width["spk"] += p.n
        if p.name in plan.record_outputs:
            P[k, P_OUTREC_COL] = width["outrec"]
            width["outrec"] += p.n
        recorded = []
        for v in plan.record_state.get(p.name, ()):
            e = p.state_vars.index(v)
            kind = s_layout[e][0]
            rv.append((kind, ent[P[k, P_STATE_ENT] + 2 * e], rec_width[kind]))
            recorded.append((v, kind, rec_width[kind], e))
            rec_width[kind] += p.n
        rv_start.append(len(rv))
        recorded_of.append(recorded)

    # ---- projections: tables, synapse entry points, CSC parts
    syns = List.empty_list(_FN_LIST_T["syn"])
    ring_size, stage_size = [0, 0], [0, 0]
    n_parts_of = []
    n_delay = n_deg = 0
    for j, pr in enumerate(projs):
        is_int = _projection_int(pr)
        npost, npre = pr.weights.shape
        # min == max, not np.unique: that would sort a copy of every delay (800 MB at N = 1M)
        dmin, dmax = (pr.min_delay, pr.max_delay) if pr.delays.size else (0, 0)
        single = dmin if dmin == dmax else -1
        slots = pr.max_delay + 1
        J[j, J_SINGLE_DELAY], J[j, J_N_SLOTS], J[j, J_N_POST], J[j, J_INT] = single, slots, npost, int(is_int)
        J[j, J_RING_OFF] = ring_size[is_int]
        ring_size[is_int] += slots * npost
        if single < 0:
            J[j, J_STAGE_OFF] = stage_size[is_int]
            stage_size[is_int] += slots * npost
            J[j, J_DELAY_OFF] = n_delay
            n_delay += pr.weights.nnz
        J[j, J_DEG_OFF] = n_deg
        n_deg += npre
        parts = max(1, min(threads if (single >= 0 and use_threads(npost)) else 1, npost))
        n_parts_of.append(parts)
        J[j, J_PART_START] = sum(n_parts_of[:-1])
        J[j, J_PART_STOP] = J[j, J_PART_START] + parts
        J[j, J_SYN] = -1
        if pr.syn_kernel is not None:
            J[j, J_SYN_ENT] = len(ent)
            layout = _add_entries(tuple(pr.syn_params), npost, par_arenas, ent, f"projection {pr.name!r} synapse params", scalarize=False)
            try:
                entry = _syn_entry(pr.syn_kernel, is_int, bool(P[pr.post, P_X_INT]), layout)
            except (NumbaError, TypeError, ValueError) as exc:
                first = str(exc).strip().splitlines()
                raise bad_value(
                    SimulationError,
                    "engine",
                    "event",
                    f"cannot compile the synapse kernel of projection {pr.name!r} with numba ({first[0] if first else exc}); use engine='reference'",
                ) from exc
            J[j, J_SYN] = len(syns)
            syns.append(entry)
    total_parts = sum(n_parts_of)
    for p in pops:
        # one incoming projection, no synapse kernel, no external input, same number kind: the fused
        # update reads the ring slot itself (x would be exactly that slot)
        k = p.index
        inc = list(p.incoming)
        if P[k, P_FUSED] == FUSED_X and len(inc) == 1 and P[k, P_EXT_COL] < 0:
            j = inc[0]
            if J[j, J_SYN] < 0 and J[j, J_INT] == P[k, P_X_INT]:
                P[k, P_FUSED] = FUSED_RING
    PT = np.zeros((max(1, total_parts), 5), i64)
    indptr, post, w_arena, delay, deg = _cached_synapse_arenas(projs, J, PT, n_parts_of, n_delay, n_deg)

    def flat(lists: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
        start = np.zeros(len(lists) + 1, i64)
        start[1:] = np.cumsum([len(x) for x in lists])
        return start, np.asarray([j for x in lists for j in x] or [0], dtype=i64)

    in_start, in_proj = flat([list(p.incoming) for p in pops])
    out_start, out_proj = flat([list(p.outgoing) for p in pops])

    meta = _Meta(
        P=P,
        J=J,
        PT=PT,
        order=np.asarray(plan.order, i64),
        in_start=in_start,
        in_proj=in_proj,
        out_start=out_start,
        out_proj=out_proj,
        rv=np.asarray(rv, i64).reshape(-1, 3) if rv else _i64(1, 3),
        rv_start=np.asarray(rv_start, i64),
        ent=np.asarray(ent or [0], i64),
        t0=_i64(1),
    )
    nr = _Neurons(
        pf=par_arenas[0].build(),
        pi=par_arenas[1].build(),
        pb=par_arenas[2].build(),
        sf=st_arenas[0].build(),
        si=st_arenas[1].build(),
        sb=st_arenas[2].build(),
        x_f=np.zeros(max(1, width["x_f"])),
        x_i=_i64(max(1, width["x_i"])),
        out=np.zeros(max(1, width["out"])),
        fired=_i64(max(1, width["out"])),
        nfired=_i64(max(1, n_pops)),
        ext=np.zeros((1, 1)),
    )
    del par_arenas, st_arenas
    sy = _Synapses(
        indptr=indptr,
        post=post,
        delay=delay,
        w_f=w_arena[0],
        w_i=w_arena[1],
        deg=deg,
        ring_f=np.zeros(max(1, ring_size[0])),
        ring_i=_i64(max(1, ring_size[1])),
        stage_f=np.zeros(max(1, stage_size[0])),
        stage_i=_i64(max(1, stage_size[1])),
    )
    state_slots = []
    for p in pops:
        for e in range(len(p.state_vars)):
            off = int(meta.ent[P[p.index, P_STATE_ENT] + 2 * e])
            state_slots.append((p.index, e, _kind_of(np.asarray(p.state0[e]).dtype, "state"), off, p.n))
    return types.SimpleNamespace(
        P=P,
        J=J,
        meta=meta,
        nr=nr,
        sy=sy,
        updates=updates,
        syns=syns,
        threaded_parts=bool(total_parts > n_proj),
        width=width,
        rec_width=rec_width,
        recorded_of=recorded_of,
        state_slots=state_slots,
        n_pops=n_pops,
        n_proj=n_proj,
        lock=threading.Lock(),
        clean=True,
    )


#: built programs by static plan (weak) and by (recording, options)
_PROGRAMS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _program(plan: Plan, threads: int, use_threads: Callable[[int], bool], key: tuple) -> types.SimpleNamespace:
    """The cached program of ``plan`` for ``key``, locked for this run (a fresh one if it is in use)."""
    per_plan = _PROGRAMS.setdefault(plan.static, {}) if plan.static is not None else {}
    prog = per_plan.get(key)
    if prog is None or not prog.lock.acquire(blocking=False):
        prog = _build_program(plan, threads, use_threads)
        prog.lock.acquire()
        if key not in per_plan:
            per_plan[key] = prog
    return prog


def run(
    plan: Plan,
    n_steps: int,
    *,
    progress: bool = False,
    parallel: Any = "auto",
    parallel_min_neurons: int = 16384,
    n_threads: int | None = None,
) -> RunResult:
    """Run ``plan`` for ``n_steps`` steps with the compiled event-driven loop.

    Parameters
    ----------
    plan : snn.engines.plan.Plan
    n_steps : int
    progress : bool
        Show a progress bar (the loop then runs in compiled blocks of steps).
    parallel : {"auto", True, False}
        Use threads for the update of large populations and the propagation
        into large ones; results are identical either way.  ``"auto"`` uses
        them for populations of at least ``parallel_min_neurons`` neurons.
    parallel_min_neurons : int
        Size from which ``"auto"`` uses threads (default 16384).
    n_threads : int or None
        Number of threads (default: numba's default, all cores).

    Returns
    -------
    RunResult
        ``engine="event"``.  ``wall_time_s`` includes compilation on a first
        run; :func:`compile_stats` says how much time compiling took.
    """
    _check_options(parallel, parallel_min_neurons, n_threads)
    t_start = time.perf_counter()
    pops = plan.populations
    threads = numba.get_num_threads() if n_threads is None else int(n_threads)

    def use_threads(n: int) -> bool:
        return threads > 1 and (parallel is True or (parallel == "auto" and n >= parallel_min_neurons))

    key = (
        threads,
        parallel,
        int(parallel_min_neurons),
        frozenset(plan.record_spikes),
        frozenset(plan.record_outputs),
        tuple(sorted(plan.record_state.items())),
        tuple(p.external is not None for p in pops),
    )
    compiled0 = sum(_COMPILE_S.values())
    prog = _program(plan, threads, use_threads, key)
    try:
        return _run_program(prog, plan, n_steps, progress, threads, t_start)
    finally:
        prog.lock.release()
        spent = sum(_COMPILE_S.values()) - compiled0
        if spent > 0.5:  # said once: later runs of these models reuse the compiled code
            _LOG.info(
                "event engine: %.1f s of this run was compilation (kernels and loop; reused by later runs, the generic parts cached on disk)",
                spent,
            )


def _run_program(prog: types.SimpleNamespace, plan: Plan, n_steps: int, progress: bool, threads: int, t_start: float) -> RunResult:
    """One run of a built program from ``plan``'s state."""
    pops = plan.populations
    P, J, meta, sy, width, rec_width = prog.P, prog.J, prog.meta, prog.sy, prog.width, prog.rec_width
    n_pops, n_proj, i64 = prog.n_pops, prog.n_proj, np.int64
    # ---- this run's state: random keys, step, neurons, messages in flight
    for p in pops:
        P[p.index, P_KEY] = p.key
    meta.t0[0] = plan.t0
    s_arenas = (prog.nr.sf, prog.nr.si, prog.nr.sb)
    for k, e, kind, off, n in prog.state_slots:
        s_arenas[kind][off : off + n] = pops[k].state0[e]

    def rec2d(w: int, dtype: Any) -> np.ndarray:
        return np.zeros((n_steps, w) if w else (1, 1), dtype)

    ext = rec2d(width["ext"], np.float64)
    for p in pops:
        col = int(P[p.index, P_EXT_COL])
        if col >= 0:
            ext[:, col : col + p.n] = p.external[:n_steps]
    nr = prog.nr._replace(ext=ext)
    # a completed run leaves x, out, nfired and the staging buffers in a state the next run never reads
    # before writing (x is refilled per step, out read only at the senders listed this step, the
    # staging buffers cleared after each emission); after a failed run everything is cleared
    clear = (sy.ring_f, sy.ring_i) if prog.clean else (nr.x_f, nr.x_i, nr.out, nr.nfired, sy.stage_f, sy.stage_i, sy.ring_f, sy.ring_i)
    for a in clear:
        a.fill(0)
    prog.clean = False
    # the messages in flight at t0 into their ring slots
    for j in range(n_proj):
        ring = sy.ring_i if J[j, J_INT] == 1 else sy.ring_f
        n_post, off = int(J[j, J_N_POST]), int(J[j, J_RING_OFF])
        for slot, row in plan.ring_in(j, int(J[j, J_N_SLOTS])):
            ring[off + slot * n_post : off + (slot + 1) * n_post] = row
    rec = _Records(
        rec_spikes=rec2d(width["spk"], np.bool_),
        rec_out=rec2d(width["outrec"], np.float64),
        rec_sf=rec2d(rec_width[0], np.float64),
        rec_si=rec2d(rec_width[1], i64),
        rec_sb=rec2d(rec_width[2], np.bool_),
        per_step=_i64(n_steps, 2),
        per_item=_i64(n_proj + n_pops),
    )

    args = (meta, nr, sy, rec, prog.updates, prog.syns, prog.threaded_parts)
    loop = _compiled_loop()

    previous_threads = numba.get_num_threads()
    if threads != previous_threads:
        numba.set_num_threads(threads)
    t_loop = time.perf_counter()
    try:
        if progress:
            from tqdm import tqdm

            block = max(1, n_steps // 100)
            with tqdm(total=n_steps, desc="event", unit="step") as bar:
                for t in range(0, n_steps, block):
                    stop = min(n_steps, t + block)
                    _failure(loop(plan.t0 + t, plan.t0 + stop, *args), pops, plan.projections)
                    bar.update(stop - t)
        else:
            _failure(loop(plan.t0, plan.t0 + n_steps, *args), pops, plan.projections)
    finally:
        if threads != previous_threads:
            numba.set_num_threads(previous_threads)
    t_results = time.perf_counter()

    # ---- results
    s_arenas = (nr.sf, nr.si, nr.sb)
    rec_arenas = (rec.rec_sf, rec.rec_si, rec.rec_sb)
    spikes_rec, out_rec, state_rec, final = {}, {}, {}, []
    for p in pops:
        k = p.index
        values = []
        for e in range(len(p.state_vars)):
            off = int(meta.ent[P[k, P_STATE_ENT] + 2 * e])
            kind = _kind_of(np.asarray(p.state0[e]).dtype, "state")
            values.append(s_arenas[kind][off : off + p.n].copy())
        final.append(tuple(values))
        col = int(P[k, P_SPK_COL])
        if col >= 0:
            spikes_rec[p.name] = np.ascontiguousarray(rec.rec_spikes[:, col : col + p.n])
        col = int(P[k, P_OUTREC_COL])
        if col >= 0:
            out_rec[p.name] = np.ascontiguousarray(rec.rec_out[:, col : col + p.n])
        for v, kind, col, _ in prog.recorded_of[k]:
            arr = rec_arenas[kind][:, col : col + p.n]
            state_rec.setdefault(p.name, {})[v] = np.ascontiguousarray(arr) if arr.dtype == p.dtype else arr.astype(p.dtype)
    counts = make_counts(plan, n_steps, rec.per_step[:, 0], rec.per_step[:, 1], rec.per_item[:n_proj], rec.per_item[n_proj:])
    _LAST_RUN.update(
        setup_s=t_loop - t_start,
        loop_s=t_results - t_loop,
        results_s=time.perf_counter() - t_results,
        fused_ring=float(np.count_nonzero(P[:, P_FUSED] == FUSED_RING)),
        fused_x=float(np.count_nonzero(P[:, P_FUSED] == FUSED_X)),
        whole_array=float(np.count_nonzero(P[:, P_FUSED] == FUSED_NO)),
    )
    in_flight = []
    for j in range(n_proj):
        ring = sy.ring_i if J[j, J_INT] == 1 else sy.ring_f
        n_post, off = int(J[j, J_N_POST]), int(J[j, J_RING_OFF])
        in_flight.append(
            plan.ring_out(n_steps, j, lambda slot, ring=ring, n_post=n_post, off=off: ring[off + slot * n_post : off + (slot + 1) * n_post])
        )
    prog.clean = True
    return RunResult(
        spikes=spikes_rec,
        traces=state_rec,
        counts=counts,
        state=plan.end_state(n_steps, final, in_flight),
        t_start=plan.t0,
        outputs=out_rec,
        engine="event",
        seed=plan.seed,
        wall_time_s=time.perf_counter() - t_start,
    )
