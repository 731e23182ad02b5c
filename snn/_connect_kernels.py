"""Compiled (numba) kernels of the connection rules: CSR rows built in parallel, counter-based randomness.

Every random choice is a pure function of ``(seed, row)`` or ``(seed, post, pre)``
through SplitMix64, so the synapses a rule makes do not depend on how rows are
split among threads or blocks: the same seed gives the same network for any
``numba`` thread count.

- Distance rules: a cell list over the presynaptic positions (cell edge at
  least ``cutoff / 2``, wrapped in a periodic box), each postsynaptic row scans
  the ``5 x 5 x 5`` neighbouring cells; pair ``(i, j)`` within the cutoff is
  kept when ``u(seed, i * n_pre + j) < p(d)``.  Two passes (count, fill) write
  the CSR arrays in place.
- Fixed probability: per row, geometric gaps ``floor(log(1 - u) / log1p(-p))``
  from the row's own stream (exact for any ``p > 0``, O(1) memory per row).
- Fixed in/out-degree: per row, ``k`` distinct columns (draw, sort, redraw
  duplicates; or a partial Fisher-Yates shuffle when ``2k >= n``).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_INV53 = 1.0 / 9007199254740992.0


@njit(inline="always", cache=True)
def _mix(z):
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@njit(inline="always", cache=True)
def _uniform(seed, key):
    """u in [0, 1) for a uint64 key."""
    return np.float64(_mix(seed + (key + np.uint64(1)) * _GAMMA) >> _S11) * _INV53


@njit(inline="always", cache=True)
def _row_state(seed, row):
    return _mix(seed ^ _mix((np.uint64(row) + np.uint64(1)) * _GAMMA))


@njit(inline="always", cache=True)
def _next(state):
    """(new state, u in [0, 1)): one SplitMix64 step."""
    state = state + _GAMMA
    return state, np.float64(_mix(state) >> _S11) * _INV53


# --------------------------------------------------------------------------- distance rules


@njit(inline="always", cache=True)
def _axis_range(c, n, r, periodic):
    """(lo, hi, prune): cells lo..hi (inclusive; taken modulo n when periodic) to visit along one axis.

    ``prune`` is false when every cell of a small periodic axis is visited (no
    unique image to measure a gap to)."""
    if periodic:
        if n <= 2 * r:
            return 0, n - 1, False
        return c - r, c + r, True
    lo = c - r
    hi = c + r
    if lo < 0:
        lo = 0
    if hi > n - 1:
        hi = n - 1
    return lo, hi, True


@njit(inline="always", cache=True)
def _wrap_cell(a, n):
    """``a mod n`` for ``-n <= a < 2n`` without an integer division."""
    if a < 0:
        return a + n
    if a >= n:
        return a - n
    return a


@njit(inline="always", cache=True)
def _gap(x, lo, width, prune):
    """Distance from ``x`` to the interval ``[lo, lo + width]`` (0 without ``prune``), with a little slack."""
    if not prune:
        return 0.0
    g = lo - x
    if x - lo - width > g:
        g = x - lo - width
    if g <= 0.0:
        return 0.0
    return g * 0.999999


@njit(inline="always", cache=True)
def _cell_of(x, origin, cell, n):
    c = np.int64(np.floor((x - origin) / cell))
    if c < 0:
        c = 0
    if c > n - 1:
        c = n - 1
    return c


@njit(inline="always", cache=True)
def _distance_row(
    i,
    post,
    pre_sorted,
    order,
    cell_start,
    ncell,
    origin,
    cell,
    reach,
    box,
    periodic,
    cutoff,
    kind,
    p_max,
    scale,
    seed,
    n_pre,
    skip_self,
    p_hi,
    p_lo,
    buf,
    start,
    stop,
):
    """Synapses of row ``i``: writes their pres into ``buf[start:stop]`` (as many as fit), returns how many there are."""
    nx, ny, nz = ncell[0], ncell[1], ncell[2]
    px, py, pz = post[i, 0], post[i, 1], post[i, 2]
    cx = _cell_of(px, origin[0], cell[0], nx)
    cy = _cell_of(py, origin[1], cell[1], ny)
    cz = _cell_of(pz, origin[2], cell[2], nz)
    xlo, xhi, wx = _axis_range(cx, nx, reach, periodic)
    ylo, yhi, wy = _axis_range(cy, ny, reach, periodic)
    zlo, zhi, wz = _axis_range(cz, nz, reach, periodic)
    base = np.uint64(i) * np.uint64(n_pre)
    out = start
    cut2 = cutoff * cutoff
    cut2_hi = cut2 * (1.0 + 1e-9)
    cut2_lo = cut2 * (1.0 - 1e-9)
    n_bins = p_hi.shape[0]
    inv_bin = n_bins / cut2_hi if cut2_hi > 0.0 else 0.0
    for ax in range(xlo, xhi + 1):
        gx = _wrap_cell(ax, nx)
        ex = _gap(px, origin[0] + ax * cell[0], cell[0], wx)
        for ay in range(ylo, yhi + 1):
            gy = _wrap_cell(ay, ny)
            ey = _gap(py, origin[1] + ay * cell[1], cell[1], wy)
            if ex * ex + ey * ey > cut2:
                continue
            for az in range(zlo, zhi + 1):
                gz = _wrap_cell(az, nz)
                ez = _gap(pz, origin[2] + az * cell[2], cell[2], wz)
                if ex * ex + ey * ey + ez * ez > cut2:
                    continue
                c = (gx * ny + gy) * nz + gz
                for s in range(cell_start[c], cell_start[c + 1]):
                    j = order[s]
                    if skip_self and j == i:
                        continue
                    dx = abs(px - pre_sorted[s, 0])
                    dy = abs(py - pre_sorted[s, 1])
                    dz = abs(pz - pre_sorted[s, 2])
                    if periodic:
                        if dx > 0.5 * box[0]:
                            dx = box[0] - dx
                        if dy > 0.5 * box[1]:
                            dy = box[1] - dy
                        if dz > 0.5 * box[2]:
                            dz = box[2] - dz
                    d2 = dx * dx + dy * dy + dz * dz
                    if d2 > cut2_hi:
                        continue
                    if d2 >= cut2_lo and not np.sqrt(d2) <= cutoff:
                        continue
                    u = _uniform(seed, base + np.uint64(j))
                    b = np.int64(d2 * inv_bin)
                    if b >= n_bins:
                        b = n_bins - 1
                    if u >= p_hi[b]:
                        continue
                    if u >= p_lo[b]:  # the bounds of the bin do not decide: the exact probability
                        d = np.sqrt(d2)
                        if kind == 0:
                            x = d / scale
                            p = p_max * np.exp(-0.5 * x * x)
                        else:
                            p = p_max * np.exp(-d / scale)
                    else:
                        p = 1.0
                    if u < p:
                        if out < stop:
                            buf[out] = j
                        out += 1
    return out - start


@njit(cache=True, parallel=True)
def distance_block(
    r0,
    r1,
    sub,
    cap,
    post,
    pre_sorted,
    order,
    cell_start,
    ncell,
    origin,
    cell,
    reach,
    box,
    periodic,
    cutoff,
    kind,
    p_max,
    scale,
    seed,
    n_pre,
    skip_self,
    p_hi,
    p_lo,
    counts,
    buf,
):
    """Rows ``r0..r1`` in sub-blocks of ``sub`` rows; sub-block ``b`` writes into ``buf[b cap : (b + 1) cap]``.

    ``counts[row - r0]`` gets every row's synapse count; a sub-block whose rows
    need more than ``cap`` entries is left incomplete (the caller redoes it with
    the exact size).  Rows are sorted by pre within their slice.

    ``kind`` 0: ``p_max exp(-(d / scale)^2 / 2)``; 1: ``p_max exp(-d / scale)``.  ``p_hi[b]``,
    ``p_lo[b]`` bound the probability over bin ``b`` of squared distance (equal bins up to the
    cutoff): a draw outside the bounds is decided without ``exp``, one between them exactly.
    """
    n_sub = (r1 - r0 + sub - 1) // sub
    for b in prange(n_sub):
        pos = b * cap
        stop = pos + cap
        for i in range(r0 + b * sub, min(r1, r0 + (b + 1) * sub)):
            c = _distance_row(
                i,
                post,
                pre_sorted,
                order,
                cell_start,
                ncell,
                origin,
                cell,
                reach,
                box,
                periodic,
                cutoff,
                kind,
                p_max,
                scale,
                seed,
                n_pre,
                skip_self,
                p_hi,
                p_lo,
                buf,
                pos,
                stop,
            )
            counts[i - r0] = c
            if pos + c <= stop and c > 1:
                buf[pos : pos + c].sort()
            pos += c


@njit(cache=True, parallel=True)
def compact(buf, cap, used, offsets, out):
    """``out[offsets[b] : offsets[b] + used[b]] = buf[b cap : b cap + used[b]]`` for every sub-block ``b``."""
    for b in prange(used.shape[0]):
        for t in range(used[b]):
            out[offsets[b] + t] = buf[b * cap + t]


@njit(cache=True, parallel=True)
def row_distances(indptr, indices, r0, r1, post, pre, box, periodic, out):
    """Distances of the synapses of rows ``r0..r1`` into ``out`` (``indptr[r0]`` is ``out[0]``)."""
    off = indptr[r0]
    for t in prange(r1 - r0):
        i = r0 + t
        for s in range(indptr[i], indptr[i + 1]):
            j = indices[s]
            dx = abs(post[i, 0] - pre[j, 0])
            dy = abs(post[i, 1] - pre[j, 1])
            dz = abs(post[i, 2] - pre[j, 2])
            if periodic:
                dx = min(dx, box[0] - dx)
                dy = min(dy, box[1] - dy)
                dz = min(dz, box[2] - dz)
            out[s - off] = np.sqrt(dx * dx + dy * dy + dz * dz)


# --------------------------------------------------------------------------- fixed probability


@njit(cache=True, parallel=True)
def probability_rows(r0, r1, n_cols, log1m_p, seed, skip_self, fill, counts, indptr, indices):
    """Bernoulli(p) over the ``n_cols`` columns of each row, by geometric gaps; count or fill."""
    for t in prange(r1 - r0):
        i = r0 + t
        state = _row_state(seed, i)
        col = -1
        out = indptr[i] if fill else 0
        while True:
            state, u = _next(state)
            g = np.log1p(-u) / log1m_p  # >= 0; +inf or huge for tiny p
            if not g < n_cols - 1 - col:
                break
            col += 1 + np.int64(g)
            if fill:
                j = col
                if skip_self and j >= i:
                    j += 1
                indices[out] = j
            out += 1
        if not fill:
            counts[t] = out


# --------------------------------------------------------------------------- fixed degree


@njit(cache=True, parallel=True)
def choose_k_rows(r0, r1, n_pop, k, seed, skip_self, out):
    """For rows ``r0..r1``: ``k`` distinct columns of ``0..n_pop-1`` (shifted past the row's own index
    with ``skip_self``), sorted, into ``out[(row - r0) * k : ...]``."""
    for t in prange(r1 - r0):
        i = r0 + t
        state = _row_state(seed, i)
        row = out[t * k : (t + 1) * k]
        if 2 * k < n_pop:
            for a in range(k):
                state, u = _next(state)
                row[a] = np.int64(u * n_pop)
            row.sort()
            while True:
                dup = False
                for a in range(1, k):
                    if row[a] == row[a - 1]:
                        state, u = _next(state)
                        row[a] = np.int64(u * n_pop)
                        dup = True
                if not dup:
                    break
                row.sort()
        else:
            perm = np.arange(n_pop)
            for a in range(k):
                state, u = _next(state)
                b = a + np.int64(u * (n_pop - a))
                tmp = perm[a]
                perm[a] = perm[b]
                perm[b] = tmp
            sel = np.sort(perm[:k])
            for a in range(k):
                row[a] = sel[a]
        if skip_self:
            for a in range(k):
                if row[a] >= i:
                    row[a] += 1


@njit(cache=True)
def transpose_degree(targets, n_pre, k, n_post, indptr, indices):
    """CSR by post of the synapses ``pre -> targets[pre * k + a]``: pres ascend within every row."""
    counts = np.zeros(n_post, np.int64)
    for s in range(targets.shape[0]):
        counts[targets[s]] += 1
    indptr[0] = 0
    for r in range(n_post):
        indptr[r + 1] = indptr[r] + counts[r]
    nxt = indptr[:-1].copy()
    for j in range(n_pre):
        for a in range(k):
            r = targets[j * k + a]
            indices[nxt[r]] = j
            nxt[r] += 1
