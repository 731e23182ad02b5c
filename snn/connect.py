"""Connection rules, and the weight and delay helpers of ``Network.connect``.

A *rule* is a small frozen dataclass that says which neurons of a presynaptic
population connect to which neurons of a postsynaptic one.  Every rule has one
method, :meth:`ConnectionRule.build`, which takes the two populations'
positions and a :class:`numpy.random.Generator` and returns three ``(m,)``
arrays ``(post_idx, pre_idx, distance_um)``: one entry per synapse, unique
``(post, pre)`` pairs sorted by ``post`` then ``pre``.  Rules are descriptions:
building one never changes it, and the same generator state gives the same
synapses.

Rules (each made by a lower-case factory that validates its arguments):

=========================  ===============================================
``all_to_all``             every pre to every post
``one_to_one``             pre ``i`` to post ``i``
``fixed_probability``      each pair independently with probability ``p``
``fixed_indegree``         each post from exactly ``k`` distinct pres
``fixed_outdegree``        each pre to exactly ``k`` distinct posts
``distance_gaussian``      ``p(d) = p_max exp(-d^2 / (2 sigma^2))``, ``d <= cutoff``
``distance_exponential``   ``p(d) = p_max exp(-d / lambda)``, ``d <= cutoff``
``k_nearest``              each post from its ``k`` nearest pres
``explicit``               the nonzero entries of a given ``(n_post, n_pre)`` matrix
=========================  ===============================================

Within one population (``same_population=True``) autapses ``i -> i`` are left
out unless the rule's ``allow_autapses`` is true (``one_to_one`` and
``explicit`` connect exactly what they are asked to).  Distances are Euclidean,
or minimum-image distances in a periodic box for the rules that take
``periodic_box_um``; the distance-dependent rules search neighbours with a
cell list, so their cost grows with the number of candidate pairs near the
cutoff, not with ``n_pre * n_post``.

The distance rules, ``fixed_probability`` and the fixed-degree rules also have
``build_csr``: compiled (numba), parallel over rows, writing the CSR arrays
directly (no per-synapse Python objects, int32 indices), with a tqdm bar when
``progress=True``.  Their random choices are counter-based functions of
``(seed, row)`` or ``(seed, post, pre)``, so the same seed gives the same
network whatever the number of threads.

Examples
--------
>>> import numpy as np
>>> from snn.layout import grid
>>> from snn.connect import distance_gaussian
>>> pos = grid((10, 10, 10), spacing_um=20.0)
>>> rule = distance_gaussian(sigma_um=20.0, p_max=0.5)
>>> post, pre, d = rule.build(pos, pos, np.random.default_rng(0), same_population=True)
>>> bool(np.all(d <= rule.cutoff_um))
True
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numba
import numpy as np
import scipy.sparse
from scipy.spatial import cKDTree

from snn import _connect_kernels as _k
from snn.errors import ConnectError, SNNTypeError, bad_value
from snn.layout import as_positions

__all__ = [
    "Pairs",
    "ConnectionRule",
    "AllToAll",
    "OneToOne",
    "FixedProbability",
    "FixedIndegree",
    "FixedOutdegree",
    "DistanceGaussian",
    "DistanceExponential",
    "KNearest",
    "Explicit",
    "all_to_all",
    "one_to_one",
    "fixed_probability",
    "fixed_indegree",
    "fixed_outdegree",
    "distance_gaussian",
    "distance_exponential",
    "k_nearest",
    "explicit",
    "RandomNormal",
    "RandomUniform",
    "random_normal",
    "random_uniform",
    "ConductionDelay",
    "conduction_delay",
    "resolve_values",
    "resolve_delays",
    "as_generator",
    "check_pairs",
    "make_projection",
]

#: ``(post_idx int64 (m,), pre_idx int64 (m,), distance_um float64 (m,))``.
Pairs = tuple[np.ndarray, np.ndarray, np.ndarray]

# Work is cut into pieces of about this many candidate pairs (memory ~ 24 B each).
_CHUNK_PAIRS = 1 << 21
# Rows handed to one compiled call (one tick of the progress bar); the result does not depend on it.
_ROW_BLOCK = 1 << 16
# Synapses per block when weights and delays are resolved in Network.connect.
_SYN_BLOCK = 1 << 22
_MAX_FLOAT = float(np.finfo(np.float64).max)


@runtime_checkable
class ConnectionRule(Protocol):
    """What :class:`~snn.network.Network` needs from a connection rule."""

    def build(
        self,
        pre_pos_um: np.ndarray,
        post_pos_um: np.ndarray,
        rng: np.random.Generator,
        *,
        same_population: bool,
    ) -> Pairs:
        """Return ``(post_idx, pre_idx, distance_um)``, each ``(m,)``, sorted by (post, pre)."""
        ...


# --------------------------------------------------------------------------- validation


def _bool(value: object, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise SNNTypeError(f"{name}={value!r}: expected True or False, got {type(value).__name__}")
    return bool(value)


def _real(value: object, name: str) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise SNNTypeError(f"{name}={value!r}: expected a real number, got {type(value).__name__}")
    x = float(value)
    if not math.isfinite(x):
        raise bad_value(ConnectError, name, value, "must be finite")
    return x


def _positive(value: object, name: str) -> float:
    x = _real(value, name)
    if x <= 0:
        raise bad_value(ConnectError, name, value, "must be > 0")
    return x


def _probability(value: object, name: str) -> float:
    x = _real(value, name)
    if not 0.0 <= x <= 1.0:
        raise bad_value(ConnectError, name, value, "must be a probability in [0, 1]")
    return x


def _int(value: object, name: str, *, minimum: int = 0) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise SNNTypeError(f"{name}={value!r}: expected an int, got {type(value).__name__}")
    if value < minimum:
        raise bad_value(ConnectError, name, value, f"must be an integer >= {minimum}")
    return int(value)


def _box(value: object, name: str) -> tuple[float, float, float] | None:
    if value is None:
        return None
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise SNNTypeError(f"{name}={value!r}: expected None, a scalar or a 3-vector of box edge lengths") from None
    if arr.ndim == 0:
        arr = np.full(3, float(arr))
    if arr.shape != (3,) or not np.all(np.isfinite(arr)) or not np.all(arr > 0):
        raise bad_value(ConnectError, name, value, "must be None, or a finite scalar or 3-vector, > 0")
    return (float(arr[0]), float(arr[1]), float(arr[2]))


def _check_cutoff_in_box(cutoff: float, box: tuple[float, float, float] | None) -> None:
    if box is not None and cutoff > 0.5 * min(box):
        raise ConnectError(
            f"cutoff_um={cutoff!r}: must be <= half the smallest edge of "
            f"periodic_box_um={box!r} (<= {0.5 * min(box)!r}) so the minimum image is unique"
        )


def _inputs(pre_pos_um: object, post_pos_um: object, rng: object, same_population: object) -> tuple[np.ndarray, np.ndarray, bool]:
    """Validate the arguments of ``build``."""
    pre = as_positions(pre_pos_um, None, name="pre_pos_um")
    post = as_positions(post_pos_um, None, name="post_pos_um")
    if not isinstance(rng, np.random.Generator):
        raise SNNTypeError(f"rng={rng!r}: expected a numpy.random.Generator (e.g. numpy.random.default_rng(seed))")
    same = _bool(same_population, "same_population")
    if same and pre.shape[0] != post.shape[0]:
        raise ConnectError(
            f"same_population=True but pre_pos_um has {pre.shape[0]} rows and post_pos_um {post.shape[0]}: one population has one size"
        )
    return pre, post, same


def _wrap(pos: np.ndarray, box: tuple[float, float, float]) -> np.ndarray:
    """Positions wrapped into ``[0, box)`` (``np.mod`` can round up to ``box`` itself)."""
    b = np.asarray(box)
    w = np.mod(pos, b)
    return np.where(w >= b, 0.0, w)


def _distances(post_pos: np.ndarray, pre_pos: np.ndarray, post_idx: np.ndarray, pre_idx: np.ndarray) -> np.ndarray:
    """Euclidean distance of each pair, ``(m,)`` float64, computed in chunks."""
    out = np.empty(post_idx.shape[0], dtype=np.float64)
    for s in range(0, out.shape[0], _CHUNK_PAIRS):
        delta = post_pos[post_idx[s : s + _CHUNK_PAIRS]] - pre_pos[pre_idx[s : s + _CHUNK_PAIRS]]
        out[s : s + _CHUNK_PAIRS] = np.sqrt(np.einsum("ij,ij->i", delta, delta))
    return out


def _pairs(post_idx: np.ndarray, pre_idx: np.ndarray, distance_um: np.ndarray) -> Pairs:
    return (
        np.ascontiguousarray(post_idx, dtype=np.int64),
        np.ascontiguousarray(pre_idx, dtype=np.int64),
        np.ascontiguousarray(distance_um, dtype=np.float64),
    )


def _empty() -> Pairs:
    return _pairs(np.empty(0), np.empty(0), np.empty(0))


# --------------------------------------------------------------------------- CSR machinery


def as_generator(seed: object, name: str = "seed") -> np.random.Generator:
    """A Generator from ``None``, a non-negative int, a ``SeedSequence`` or a Generator (used as is)."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None or isinstance(seed, np.random.SeedSequence):
        return np.random.default_rng(seed)
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, numbers.Integral):
        raise SNNTypeError(f"{name}={seed!r}: expected None, a non-negative int or a numpy.random.Generator, got {type(seed).__name__}")
    if seed < 0:
        raise bad_value(ConnectError, name, seed, "must be a non-negative integer (or None, or a numpy.random.Generator)")
    return np.random.default_rng(int(seed))


def _rule_seed(rng: np.random.Generator) -> np.uint64:
    """The 64-bit key of a rule's counter-based draws (one draw from ``rng``)."""
    return np.uint64(int(rng.integers(0, 2**63, dtype=np.int64)))


def _index_dtype(n_cols: int, nnz: int) -> type:
    return np.int32 if max(n_cols, nnz) < 2**31 else np.int64


def _progress(progress: bool, total: int, desc: str):
    from tqdm.auto import tqdm  # a dependency; imported only when a rule runs

    return tqdm(total=total, disable=not progress, unit="row", desc=desc, leave=True)


def _two_pass(n_post: int, n_cols: int, count, fill, progress: bool, desc: str) -> tuple[np.ndarray, np.ndarray]:
    """CSR ``(indptr int64 (n_post + 1,), indices int32/int64 (m,))`` from a count and a fill kernel over row blocks."""
    counts = np.zeros(n_post, dtype=np.int64)
    with _progress(progress, 2 * n_post, desc) as bar:
        for r0 in range(0, n_post, _ROW_BLOCK):
            r1 = min(n_post, r0 + _ROW_BLOCK)
            with numba.parallel_chunksize(256):
                count(r0, r1, counts[r0:r1])
            bar.update(r1 - r0)
        indptr = np.zeros(n_post + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        del counts
        indices = np.empty(int(indptr[-1]), dtype=_index_dtype(n_cols, int(indptr[-1])))
        for r0 in range(0, n_post, _ROW_BLOCK):
            r1 = min(n_post, r0 + _ROW_BLOCK)
            with numba.parallel_chunksize(256):
                fill(r0, r1, indptr, indices)
            bar.update(r1 - r0)
    return indptr, indices


def _csr_pairs(indptr: np.ndarray, indices: np.ndarray, post: np.ndarray, pre: np.ndarray, box: tuple[float, float, float] | None) -> Pairs:
    """``(post_idx, pre_idx, distance_um)`` of a CSR pattern (the :meth:`ConnectionRule.build` form)."""
    n_post = indptr.shape[0] - 1
    post_idx = np.repeat(np.arange(n_post, dtype=np.int64), np.diff(indptr))
    pre_idx = indices.astype(np.int64)
    return _pairs(post_idx, pre_idx, _csr_distances(indptr, indices, 0, n_post, post, pre, box))


def _csr_distances(
    indptr: np.ndarray, indices: np.ndarray, r0: int, r1: int, post: np.ndarray, pre: np.ndarray, box: tuple[float, float, float] | None
) -> np.ndarray:
    """Distances ``(indptr[r1] - indptr[r0],)`` float64 of the synapses of rows ``r0..r1`` (minimum image in ``box``)."""
    out = np.empty(int(indptr[r1] - indptr[r0]), dtype=np.float64)
    if out.size:
        if box is not None:
            post, pre = _wrap(post, box), _wrap(pre, box)
        b = np.asarray(box if box is not None else (1.0, 1.0, 1.0), dtype=np.float64)
        _k.row_distances(indptr, indices, r0, r1, np.ascontiguousarray(post), np.ascontiguousarray(pre), b, box is not None, out)
    return out


def _choose_k_csr(seed: np.uint64, n_rows: int, n_pop: int, k: int, skip_self: bool, dtype: type, progress: bool, desc: str) -> np.ndarray:
    """For each row, ``k`` distinct columns of ``0..n_pop-1`` drawn uniformly without replacement, sorted.

    With ``skip_self`` row ``i`` never gets column ``i`` (columns ``>= i`` are
    shifted by one, so ``n_pop`` is the population less one).  Returns
    ``(n_rows * k,)`` of ``dtype``, row after row.  Small ``k`` (``2k <
    n_pop``): draw ``k`` with replacement, sort, redraw the duplicates until
    none is left (every label is treated alike, so every ``k``-subset is
    equally likely); large ``k``: a partial Fisher-Yates shuffle.  Each row has
    its own counter-based stream.
    """
    out = np.empty(n_rows * k, dtype=dtype)
    if k == 0 or n_rows == 0:
        return out
    with _progress(progress, n_rows, desc) as bar:
        for r0 in range(0, n_rows, _ROW_BLOCK):
            r1 = min(n_rows, r0 + _ROW_BLOCK)
            with numba.parallel_chunksize(256):
                _k.choose_k_rows(r0, r1, n_pop, k, seed, skip_self, out[r0 * k : r1 * k])
            bar.update(r1 - r0)
    return out


# --------------------------------------------------------------------------- simple rules


@dataclass(frozen=True)
class AllToAll:
    """Every presynaptic neuron to every postsynaptic neuron (``n_pre * n_post`` synapses).

    Attributes
    ----------
    allow_autapses : bool
        Keep ``i -> i`` within one population.
    """

    allow_autapses: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "allow_autapses", _bool(self.allow_autapses, "allow_autapses"))

    def build(self, pre_pos_um: np.ndarray, post_pos_um: np.ndarray, rng: np.random.Generator, *, same_population: bool) -> Pairs:
        """See :meth:`ConnectionRule.build`."""
        pre, post, same = _inputs(pre_pos_um, post_pos_um, rng, same_population)
        n_pre, n_post = pre.shape[0], post.shape[0]
        post_idx = np.repeat(np.arange(n_post, dtype=np.int64), n_pre)
        pre_idx = np.tile(np.arange(n_pre, dtype=np.int64), n_post)
        if same and not self.allow_autapses:
            keep = post_idx != pre_idx
            post_idx, pre_idx = post_idx[keep], pre_idx[keep]
        return _pairs(post_idx, pre_idx, _distances(post, pre, post_idx, pre_idx))


@dataclass(frozen=True)
class OneToOne:
    """Presynaptic neuron ``i`` to postsynaptic neuron ``i``; needs ``n_pre == n_post``.

    Within one population this is exactly the set of autapses, made on purpose
    (e.g. self-excitation), so no ``allow_autapses`` switch applies.
    """

    def build(self, pre_pos_um: np.ndarray, post_pos_um: np.ndarray, rng: np.random.Generator, *, same_population: bool) -> Pairs:
        """See :meth:`ConnectionRule.build`."""
        pre, post, _ = _inputs(pre_pos_um, post_pos_um, rng, same_population)
        if pre.shape[0] != post.shape[0]:
            raise ConnectError(f"one_to_one needs populations of equal size: n_pre={pre.shape[0]}, n_post={post.shape[0]}")
        idx = np.arange(pre.shape[0], dtype=np.int64)
        return _pairs(idx, idx.copy(), _distances(post, pre, idx, idx))


@dataclass(frozen=True)
class FixedProbability:
    """Each (post, pre) pair connects independently with probability ``p``.

    Sampled without an ``n_post * n_pre`` matrix: the gaps between successive
    synapses along the flattened (post, pre) order are geometric with
    parameter ``p``, drawn in chunks, so the cost is proportional to the
    number of synapses.

    Attributes
    ----------
    p : float
        Connection probability in ``[0, 1]``.
    allow_autapses : bool
        Allow ``i -> i`` within one population.
    """

    p: float
    allow_autapses: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "p", _probability(self.p, "p"))
        object.__setattr__(self, "allow_autapses", _bool(self.allow_autapses, "allow_autapses"))

    def build(self, pre_pos_um: np.ndarray, post_pos_um: np.ndarray, rng: np.random.Generator, *, same_population: bool) -> Pairs:
        """See :meth:`ConnectionRule.build`."""
        pre, post, _ = _inputs(pre_pos_um, post_pos_um, rng, same_population)
        return _csr_pairs(*self.build_csr(pre, post, rng, same_population=same_population), post, pre, None)

    def build_csr(
        self, pre_pos_um: np.ndarray, post_pos_um: np.ndarray, rng: np.random.Generator, *, same_population: bool, progress: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """The synapses as CSR rows: ``(indptr int64 (n_post + 1,), indices (m,))``, pres ascending per row.

        Row ``i`` is sampled by geometric gaps from its own counter-based
        stream, so the result does not depend on the thread count; any ``p > 0``
        (down to the smallest float) is exact and takes O(1) memory per row.
        """
        pre, post, same = _inputs(pre_pos_um, post_pos_um, rng, same_population)
        seed = _rule_seed(rng)
        n_pre, n_post = pre.shape[0], post.shape[0]
        skip_self = same and not self.allow_autapses
        n_cols = n_pre - int(skip_self)
        if self.p == 0.0 or n_cols <= 0 or n_post == 0:
            return np.zeros(n_post + 1, dtype=np.int64), np.empty(0, dtype=np.int32)
        if self.p == 1.0:
            indptr = np.arange(n_post + 1, dtype=np.int64) * n_cols
            cols = np.arange(n_cols, dtype=_index_dtype(n_pre, n_post * n_cols))
            indices = np.tile(cols, n_post)
            if skip_self:
                indices += (indices >= np.repeat(np.arange(n_post, dtype=indices.dtype), n_cols)).astype(indices.dtype)
            return indptr, indices
        log1m_p = math.log1p(-self.p)

        def count(r0, r1, out):
            _k.probability_rows(r0, r1, n_cols, log1m_p, seed, skip_self, False, out, out, out)

        def fill(r0, r1, indptr, indices):
            _k.probability_rows(r0, r1, n_cols, log1m_p, seed, skip_self, True, indptr, indptr, indices)

        return _two_pass(n_post, n_pre, count, fill, progress, f"fixed_probability({self.p:g})")


@dataclass(frozen=True)
class FixedIndegree:
    """Each postsynaptic neuron receives from exactly ``k`` distinct presynaptic ones.

    The ``k`` sources are a uniform random subset of the allowed ones.

    Attributes
    ----------
    k : int
        In-degree, ``>= 0`` and at most ``n_pre`` (``n_pre - 1`` without autapses).
    allow_autapses : bool
        Allow ``i -> i`` within one population.
    """

    k: int
    allow_autapses: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "k", _int(self.k, "k"))
        object.__setattr__(self, "allow_autapses", _bool(self.allow_autapses, "allow_autapses"))

    def build(self, pre_pos_um: np.ndarray, post_pos_um: np.ndarray, rng: np.random.Generator, *, same_population: bool) -> Pairs:
        """See :meth:`ConnectionRule.build`."""
        pre, post, _ = _inputs(pre_pos_um, post_pos_um, rng, same_population)
        return _csr_pairs(*self.build_csr(pre, post, rng, same_population=same_population), post, pre, None)

    def build_csr(
        self, pre_pos_um: np.ndarray, post_pos_um: np.ndarray, rng: np.random.Generator, *, same_population: bool, progress: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """The synapses as CSR rows ``(indptr int64 (n_post + 1,), indices (n_post * k,))``, pres ascending per row."""
        pre, post, same = _inputs(pre_pos_um, post_pos_um, rng, same_population)
        seed = _rule_seed(rng)
        n_pre, n_post = pre.shape[0], post.shape[0]
        skip_self = same and not self.allow_autapses
        n_avail = n_pre - int(skip_self)
        if self.k > n_avail and n_post > 0:
            raise ConnectError(
                f"k={self.k}: fixed_indegree needs k <= {n_avail} distinct presynaptic "
                f"neurons (n_pre={n_pre}{', no autapses' if skip_self else ''})"
            )
        indices = _choose_k_csr(
            seed, n_post, n_avail, self.k, skip_self, _index_dtype(n_pre, n_post * self.k), progress, f"fixed_indegree({self.k})"
        )
        return np.arange(n_post + 1, dtype=np.int64) * self.k, indices


@dataclass(frozen=True)
class FixedOutdegree:
    """Each presynaptic neuron projects to exactly ``k`` distinct postsynaptic ones.

    Attributes
    ----------
    k : int
        Out-degree, ``>= 0`` and at most ``n_post`` (``n_post - 1`` without autapses).
    allow_autapses : bool
        Allow ``i -> i`` within one population.
    """

    k: int
    allow_autapses: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "k", _int(self.k, "k"))
        object.__setattr__(self, "allow_autapses", _bool(self.allow_autapses, "allow_autapses"))

    def build(self, pre_pos_um: np.ndarray, post_pos_um: np.ndarray, rng: np.random.Generator, *, same_population: bool) -> Pairs:
        """See :meth:`ConnectionRule.build`."""
        pre, post, _ = _inputs(pre_pos_um, post_pos_um, rng, same_population)
        return _csr_pairs(*self.build_csr(pre, post, rng, same_population=same_population), post, pre, None)

    def build_csr(
        self, pre_pos_um: np.ndarray, post_pos_um: np.ndarray, rng: np.random.Generator, *, same_population: bool, progress: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """The synapses as CSR rows by post ``(indptr int64 (n_post + 1,), indices (n_pre * k,))``, pres ascending per row."""
        pre, post, same = _inputs(pre_pos_um, post_pos_um, rng, same_population)
        seed = _rule_seed(rng)
        n_pre, n_post = pre.shape[0], post.shape[0]
        skip_self = same and not self.allow_autapses
        n_avail = n_post - int(skip_self)
        if self.k > n_avail and n_pre > 0:
            raise ConnectError(
                f"k={self.k}: fixed_outdegree needs k <= {n_avail} distinct postsynaptic "
                f"neurons (n_post={n_post}{', no autapses' if skip_self else ''})"
            )
        dtype = _index_dtype(max(n_pre, n_post), n_pre * self.k)
        targets = _choose_k_csr(seed, n_pre, n_avail, self.k, skip_self, dtype, progress, f"fixed_outdegree({self.k})")
        indptr = np.empty(n_post + 1, dtype=np.int64)
        indices = np.empty(targets.shape[0], dtype=dtype)
        _k.transpose_degree(targets, n_pre, self.k, n_post, indptr, indices)
        return indptr, indices


# --------------------------------------------------------------------------- distance rules


def _cell_list(
    pre: np.ndarray, post: np.ndarray, cutoff: float, box: tuple[float, float, float] | None, reach: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Bin the pre positions into cells of edge ``>= cutoff / reach``.

    Returns ``(pre_sorted (n_pre, 3), order (n_pre,) int64, cell_start (n_cells + 1,) int64,
    ncell (3,) int64, origin (3,), cell (3,))``.  The number of cells stays below about
    ``8 n_pre`` (cells grow when the cutoff is tiny compared with the extent).
    """
    n_pre = pre.shape[0]
    limit = 8.0 * n_pre + 64.0
    h = max(cutoff / reach, 1e-300)
    if box is not None:
        b = np.asarray(box, dtype=np.float64)
        origin = np.zeros(3)
        while True:
            nf = np.maximum(1.0, np.floor(np.minimum(b / h, 1e6)))
            if float(np.prod(nf)) <= limit:
                break
            h *= 1.25 * (float(np.prod(nf)) / limit) ** (1.0 / 3.0)
        ncell = nf.astype(np.int64)
        cell = b / nf
    else:
        origin = np.minimum(pre.min(axis=0), post.min(axis=0))
        ext = np.maximum(pre.max(axis=0), post.max(axis=0)) - origin
        while True:
            nf = np.floor(np.minimum(ext / h, 1e6)) + 1.0
            if float(np.prod(nf)) <= limit:
                break
            h *= 1.25 * (float(np.prod(nf)) / limit) ** (1.0 / 3.0)
        ncell = nf.astype(np.int64)
        cell = np.full(3, h)
    c = np.clip(np.floor((pre - origin) / cell), 0, ncell - 1).astype(np.int64)
    ids = (c[:, 0] * ncell[1] + c[:, 1]) * ncell[2] + c[:, 2]
    order = np.argsort(ids, kind="stable")
    cell_start = np.zeros(int(np.prod(ncell)) + 1, dtype=np.int64)
    np.cumsum(np.bincount(ids, minlength=int(np.prod(ncell))), out=cell_start[1:])
    return np.ascontiguousarray(pre[order]), order.astype(np.int64), cell_start, ncell, origin, cell


def _probability_bounds(rule: DistanceGaussian | DistanceExponential, n_bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Upper and lower bounds of the (decreasing) connection probability over ``n_bins`` equal bins of d^2.

    Bin ``b`` covers ``d^2`` in ``[b w, (b + 1) w)``, ``w = cutoff^2 (1 + 1e-9) / n_bins``; the
    bounds are widened by a relative 1e-9 so rounding can never make a bound wrong.
    """
    cut2 = rule.cutoff_um * rule.cutoff_um * (1.0 + 1e-9)
    edges = np.sqrt(np.arange(n_bins + 1, dtype=np.float64) * (cut2 / n_bins)) if math.isfinite(cut2) else np.zeros(n_bins + 1)
    with np.errstate(over="ignore", invalid="ignore"):
        p = rule.probability(np.minimum(edges, rule.cutoff_um))
    p_hi = np.minimum(p[:-1] * (1.0 + 1e-9) + 1e-300, 1.0 if rule.p_max == 1.0 else rule.p_max * (1.0 + 1e-9))
    p_lo = p[1:] * (1.0 - 1e-9)
    if not math.isfinite(cut2):  # a cutoff near the largest float: decide every pair exactly
        p_hi[:] = 1.0
        p_lo[:] = 0.0
    return np.ascontiguousarray(p_hi), np.ascontiguousarray(p_lo)


def _distance_csr(
    rule: DistanceGaussian | DistanceExponential,
    pre: np.ndarray,
    post: np.ndarray,
    rng: np.random.Generator,
    same: bool,
    progress: bool,
    desc: str,
) -> tuple[np.ndarray, np.ndarray]:
    seed = _rule_seed(rng)
    skip_self = same and not rule.allow_autapses
    n_pre, n_post = pre.shape[0], post.shape[0]
    if n_pre == 0 or n_post == 0 or rule.p_max == 0.0:
        return np.zeros(n_post + 1, dtype=np.int64), np.empty(0, dtype=np.int32)
    box = rule.periodic_box_um
    if box is not None:
        pre, post = _wrap(pre, box), _wrap(post, box)
    reach = 3
    pre_sorted, order, cell_start, ncell, origin, cell = _cell_list(pre, post, rule.cutoff_um, box, reach)
    b = np.asarray(box if box is not None else (1.0, 1.0, 1.0), dtype=np.float64)
    kind, scale = (0, rule.sigma_um) if isinstance(rule, DistanceGaussian) else (1, rule.lambda_um)
    post = np.ascontiguousarray(post)
    p_hi, p_lo = _probability_bounds(rule, 4096)
    args = (
        post,
        pre_sorted,
        order,
        cell_start,
        ncell,
        origin,
        cell,
        reach,
        b,
        box is not None,
        rule.cutoff_um,
        kind,
        rule.p_max,
        scale,
        seed,
        n_pre,
        skip_self,
        p_hi,
        p_lo,
    )

    return _buffered_rows(
        n_post, n_pre, lambda r0, r1, sub, cap, counts, buf: _k.distance_block(r0, r1, sub, cap, *args, counts, buf), progress, desc
    )


def _buffered_rows(n_post: int, n_cols: int, kernel, progress: bool, desc: str) -> tuple[np.ndarray, np.ndarray]:
    """CSR of rows computed once each: sub-blocks of rows write into slices of a block buffer sized from
    the counts seen so far; a sub-block that overflows its slice is redone alone at its exact size."""
    sub = 64
    blocks: list[np.ndarray] = []
    counts = np.zeros(n_post, dtype=np.int64)
    cap = 64 * sub  # entries per sub-block; grows with the mean row length seen so far
    dtype = np.int32 if n_cols < 2**31 else np.int64
    total = 0
    with _progress(progress, n_post, desc) as bar:
        for r0 in range(0, n_post, _ROW_BLOCK):
            r1 = min(n_post, r0 + _ROW_BLOCK)
            n_sub = -(-(r1 - r0) // sub)
            buf = np.empty(n_sub * cap, dtype=dtype)
            with numba.parallel_chunksize(4):  # dynamic chunks: a busy core does not hold the others up
                kernel(r0, r1, sub, cap, counts[r0:r1], buf)
            pad = np.zeros(n_sub * sub, dtype=np.int64)
            pad[: r1 - r0] = counts[r0:r1]
            used = pad.reshape(n_sub, sub).sum(axis=1)
            offsets = np.zeros(n_sub, dtype=np.int64)
            np.cumsum(used[:-1], out=offsets[1:])
            out = np.empty(int(used.sum()), dtype=dtype)
            fits = used <= cap
            _k.compact(buf, cap, np.where(fits, used, 0), offsets, out)
            for b in np.flatnonzero(~fits):  # rare: redo the sub-block with room for exactly its rows
                s0, s1 = r0 + int(b) * sub, min(r1, r0 + (int(b) + 1) * sub)
                exact = np.empty(int(used[b]), dtype=dtype)
                kernel(s0, s1, s1 - s0, exact.shape[0], counts[s0:s1], exact)
                out[offsets[b] : offsets[b] + used[b]] = exact
            blocks.append(out)
            total += out.shape[0]
            mean = total / r1
            cap = int(sub * mean * 1.2 + 6 * math.sqrt(sub * mean + 1) + 64)
            bar.update(r1 - r0)
    indptr = np.zeros(n_post + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    indices = np.concatenate(blocks) if blocks else np.empty(0, dtype=dtype)
    if indices.shape[0] >= 2**31 and indices.dtype != np.int64:
        indices = indices.astype(np.int64)
    return indptr, indices


class _DistanceRule:
    """What the two distance rules share: the CSR build and the pairs form."""

    def build(self, pre_pos_um: np.ndarray, post_pos_um: np.ndarray, rng: np.random.Generator, *, same_population: bool) -> Pairs:
        """See :meth:`ConnectionRule.build`."""
        pre, post, _ = _inputs(pre_pos_um, post_pos_um, rng, same_population)
        return _csr_pairs(*self.build_csr(pre, post, rng, same_population=same_population), post, pre, self.periodic_box_um)

    def build_csr(
        self, pre_pos_um: np.ndarray, post_pos_um: np.ndarray, rng: np.random.Generator, *, same_population: bool, progress: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """The synapses as CSR rows: ``(indptr int64 (n_post + 1,), indices (m,))``, pres ascending per row.

        Pairs within the cutoff are found with a cell list and each is kept
        with its probability by a counter-based draw keyed by ``(post, pre)``:
        the result does not depend on the thread count.
        """
        pre, post, same = _inputs(pre_pos_um, post_pos_um, rng, same_population)
        return _distance_csr(self, pre, post, rng, same, progress, type(self).__name__)  # type: ignore[arg-type]


@dataclass(frozen=True)
class DistanceGaussian(_DistanceRule):
    """Connect with probability ``p_max * exp(-d^2 / (2 sigma_um^2))`` for ``d <= cutoff_um``.

    Attributes
    ----------
    sigma_um : float
        Width of the Gaussian, > 0.
    p_max : float
        Probability at distance 0, in ``[0, 1]``.
    cutoff_um : float
        No synapse beyond this distance; ``None`` at construction means ``3 * sigma_um``.
    periodic_box_um : tuple of 3 float or None
        Edges of a periodic box (a scalar at construction means a cube):
        positions are wrapped into ``[0, box)`` and distances are minimum-image
        distances.  ``cutoff_um`` must not exceed half the smallest edge.
    allow_autapses : bool
        Allow ``i -> i`` within one population.
    """

    sigma_um: float
    p_max: float = 1.0
    cutoff_um: float | None = None
    periodic_box_um: tuple[float, float, float] | None = None
    allow_autapses: bool = False

    def __post_init__(self) -> None:
        sigma = _positive(self.sigma_um, "sigma_um")
        cutoff = min(3.0 * sigma, _MAX_FLOAT) if self.cutoff_um is None else _positive(self.cutoff_um, "cutoff_um")
        box = _box(self.periodic_box_um, "periodic_box_um")
        _check_cutoff_in_box(cutoff, box)
        object.__setattr__(self, "sigma_um", sigma)
        object.__setattr__(self, "p_max", _probability(self.p_max, "p_max"))
        object.__setattr__(self, "cutoff_um", cutoff)
        object.__setattr__(self, "periodic_box_um", box)
        object.__setattr__(self, "allow_autapses", _bool(self.allow_autapses, "allow_autapses"))

    def probability(self, distance_um: np.ndarray) -> np.ndarray:
        """Connection probability at each distance, ``(m,)`` float64 (0 beyond the cutoff)."""
        d = np.asarray(distance_um, dtype=np.float64)
        x = d / self.sigma_um  # never sigma**2: it under/overflows for sigma < 1e-154 or > 1e154
        p = self.p_max * np.exp(-0.5 * x * x)
        return np.where(d <= self.cutoff_um, p, 0.0)


@dataclass(frozen=True)
class DistanceExponential(_DistanceRule):
    """Connect with probability ``p_max * exp(-d / lambda_um)`` for ``d <= cutoff_um``.

    Attributes
    ----------
    lambda_um : float
        Length constant, > 0.
    p_max : float
        Probability at distance 0, in ``[0, 1]``.
    cutoff_um : float
        No synapse beyond this distance; ``None`` at construction means ``5 * lambda_um``.
    periodic_box_um : tuple of 3 float or None
        As for :class:`DistanceGaussian`.
    allow_autapses : bool
        Allow ``i -> i`` within one population.
    """

    lambda_um: float
    p_max: float = 1.0
    cutoff_um: float | None = None
    periodic_box_um: tuple[float, float, float] | None = None
    allow_autapses: bool = False

    def __post_init__(self) -> None:
        lam = _positive(self.lambda_um, "lambda_um")
        cutoff = min(5.0 * lam, _MAX_FLOAT) if self.cutoff_um is None else _positive(self.cutoff_um, "cutoff_um")
        box = _box(self.periodic_box_um, "periodic_box_um")
        _check_cutoff_in_box(cutoff, box)
        object.__setattr__(self, "lambda_um", lam)
        object.__setattr__(self, "p_max", _probability(self.p_max, "p_max"))
        object.__setattr__(self, "cutoff_um", cutoff)
        object.__setattr__(self, "periodic_box_um", box)
        object.__setattr__(self, "allow_autapses", _bool(self.allow_autapses, "allow_autapses"))

    def probability(self, distance_um: np.ndarray) -> np.ndarray:
        """Connection probability at each distance, ``(m,)`` float64 (0 beyond the cutoff)."""
        d = np.asarray(distance_um, dtype=np.float64)
        p = self.p_max * np.exp(-d / self.lambda_um)
        return np.where(d <= self.cutoff_um, p, 0.0)


@dataclass(frozen=True)
class KNearest:
    """Each postsynaptic neuron receives from its ``k`` nearest presynaptic neurons.

    Found with :meth:`scipy.spatial.cKDTree.query`; the rule uses no randomness.
    Among presynaptic neurons at exactly the same distance the tree's order
    decides which are taken.  Without autapses a neuron is not its own neighbour.

    Attributes
    ----------
    k : int
        Neighbours per postsynaptic neuron, ``>= 0`` and at most ``n_pre``
        (``n_pre - 1`` without autapses).
    allow_autapses : bool
        Allow ``i -> i`` within one population.
    periodic_box_um : tuple of 3 float or None
        Measure minimum-image distances in this periodic box (positions wrapped).
    """

    k: int
    allow_autapses: bool = False
    periodic_box_um: tuple[float, float, float] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "k", _int(self.k, "k"))
        object.__setattr__(self, "allow_autapses", _bool(self.allow_autapses, "allow_autapses"))
        object.__setattr__(self, "periodic_box_um", _box(self.periodic_box_um, "periodic_box_um"))

    def build(self, pre_pos_um: np.ndarray, post_pos_um: np.ndarray, rng: np.random.Generator, *, same_population: bool) -> Pairs:
        """See :meth:`ConnectionRule.build`."""
        pre, post, same = _inputs(pre_pos_um, post_pos_um, rng, same_population)
        n_pre, n_post = pre.shape[0], post.shape[0]
        skip_self = same and not self.allow_autapses
        n_avail = n_pre - int(skip_self)
        if self.k > n_avail and n_post > 0:
            raise ConnectError(
                f"k={self.k}: k_nearest needs k <= {n_avail} presynaptic neurons (n_pre={n_pre}{', no autapses' if skip_self else ''})"
            )
        if self.k == 0 or n_post == 0:
            return _empty()
        box = self.periodic_box_um
        if box is not None:
            pre, post = _wrap(pre, box), _wrap(post, box)
        tree = cKDTree(pre, boxsize=box)
        k_query = self.k + int(skip_self)
        step = max(1, _CHUNK_PAIRS // k_query)
        posts, pres, dists = [], [], []
        for s in range(0, n_post, step):
            chunk = post[s : s + step]
            dist, idx = tree.query(chunk, k=list(range(1, k_query + 1)))
            rows = np.arange(s, s + chunk.shape[0], dtype=np.int64)
            if skip_self:
                drop = idx == rows[:, None]
                # Rows whose own index was not returned (ties at distance 0) drop the farthest.
                drop[~drop.any(axis=1), -1] = True
                idx = idx[~drop].reshape(-1, self.k)
                dist = dist[~drop].reshape(-1, self.k)
            order = np.argsort(idx, axis=1)
            posts.append(np.repeat(rows, self.k))
            pres.append(np.take_along_axis(idx, order, axis=1).reshape(-1))
            dists.append(np.take_along_axis(dist, order, axis=1).reshape(-1))
        return _pairs(np.concatenate(posts), np.concatenate(pres), np.concatenate(dists))


# --------------------------------------------------------------------------- explicit


def _as_csr(matrix: object, name: str) -> scipy.sparse.csr_array:
    """A canonical float64 CSR copy (duplicates summed, indices sorted); entries kept as given."""
    if scipy.sparse.issparse(matrix):
        csr = scipy.sparse.csr_array(matrix, copy=True)
        if csr.dtype.kind not in "biuf":
            raise SNNTypeError(f"{name}: expected real numbers, got a sparse matrix of dtype {csr.dtype}")
        csr = csr.astype(np.float64)
        csr.sum_duplicates()
        csr.sort_indices()
    else:
        try:
            dense = np.asarray(matrix)
        except (TypeError, ValueError):
            raise SNNTypeError(f"{name}={matrix!r}: expected a 2D array or a scipy.sparse matrix") from None
        if dense.dtype.kind not in "biuf":
            raise SNNTypeError(f"{name}: expected real numbers, got an array of dtype {dense.dtype}")
        if dense.ndim != 2:
            raise ConnectError(f"{name} has shape {dense.shape}: must be 2D (n_post, n_pre)")
        rows, cols = np.nonzero(dense)
        csr = scipy.sparse.csr_array((dense[rows, cols].astype(np.float64), (rows, cols)), shape=dense.shape)
        csr.sort_indices()
    if csr.ndim != 2:
        raise ConnectError(f"{name} has shape {csr.shape}: must be 2D (n_post, n_pre)")
    if not np.all(np.isfinite(csr.data)):
        raise ConnectError(f"{name}: all entries must be finite")
    csr.indices = csr.indices.astype(np.int64)
    csr.indptr = csr.indptr.astype(np.int64)
    return csr


def _lookup(csr: scipy.sparse.csr_array, post_idx: np.ndarray, pre_idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Values of ``csr`` at the pairs, and a mask of pairs that are stored entries."""
    n_pre = np.int64(csr.shape[1])
    rows = np.repeat(np.arange(csr.shape[0], dtype=np.int64), np.diff(csr.indptr))
    keys = rows * n_pre + csr.indices
    want = np.asarray(post_idx, dtype=np.int64) * n_pre + np.asarray(pre_idx, dtype=np.int64)
    pos = np.searchsorted(keys, want)
    found = pos < keys.shape[0]
    found[found] = keys[pos[found]] == want[found]
    values = np.zeros(want.shape[0], dtype=np.float64)
    values[found] = csr.data[pos[found]]
    return values, found


@dataclass(frozen=True, eq=False)
class Explicit:
    """The synapses are the entries of a given ``(n_post, n_pre)`` matrix.

    For a dense array the nonzero entries are the synapses; for a
    ``scipy.sparse`` matrix the stored entries are (explicit zeros included,
    duplicates summed).  :meth:`weights_for` reads the values back, so the
    matrix can carry the weights.  Compared by identity (it holds an array).

    Attributes
    ----------
    matrix : scipy.sparse.csr_array, shape (n_post, n_pre)
        Canonical float64 copy of the given matrix.
    allow_autapses : bool
        Keep diagonal entries within one population (default ``True``: the
        matrix says exactly what to connect).
    """

    matrix: Any
    allow_autapses: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "matrix", _as_csr(self.matrix, "matrix"))
        object.__setattr__(self, "allow_autapses", _bool(self.allow_autapses, "allow_autapses"))

    @property
    def shape(self) -> tuple[int, int]:
        """``(n_post, n_pre)``."""
        return (int(self.matrix.shape[0]), int(self.matrix.shape[1]))

    def build(self, pre_pos_um: np.ndarray, post_pos_um: np.ndarray, rng: np.random.Generator, *, same_population: bool) -> Pairs:
        """See :meth:`ConnectionRule.build`."""
        pre, post, same = _inputs(pre_pos_um, post_pos_um, rng, same_population)
        if self.shape != (post.shape[0], pre.shape[0]):
            raise ConnectError(f"matrix has shape {self.shape}: must be (n_post, n_pre) = ({post.shape[0]}, {pre.shape[0]})")
        csr = self.matrix
        post_idx = np.repeat(np.arange(csr.shape[0], dtype=np.int64), np.diff(csr.indptr))
        pre_idx = csr.indices.astype(np.int64, copy=True)
        if same and not self.allow_autapses:
            keep = post_idx != pre_idx
            post_idx, pre_idx = post_idx[keep], pre_idx[keep]
        return _pairs(post_idx, pre_idx, _distances(post, pre, post_idx, pre_idx))

    def weights_for(self, post_idx: np.ndarray, pre_idx: np.ndarray) -> np.ndarray:
        """The matrix entries at the given pairs, ``(m,)`` float64.

        Raises
        ------
        ConnectError
            If a pair is not an entry of the matrix (so not a synapse of this rule).
        """
        post_idx = np.asarray(post_idx)
        pre_idx = np.asarray(pre_idx)
        if post_idx.shape != pre_idx.shape or post_idx.ndim != 1:
            raise ConnectError(f"post_idx and pre_idx must be 1D of equal length, got shapes {post_idx.shape} and {pre_idx.shape}")
        n_post, n_pre = self.shape
        if post_idx.size and (post_idx.min() < 0 or post_idx.max() >= n_post or pre_idx.min() < 0 or pre_idx.max() >= n_pre):
            raise ConnectError(f"indices out of range for a matrix of shape {self.shape}")
        values, found = _lookup(self.matrix, post_idx, pre_idx)
        if not found.all():
            i = int(np.flatnonzero(~found)[0])
            raise ConnectError(f"pair (post={int(post_idx[i])}, pre={int(pre_idx[i])}) is not an entry of the matrix")
        return values


# --------------------------------------------------------------------------- factories


def all_to_all(allow_autapses: bool = False) -> AllToAll:
    """Every pre to every post; see :class:`AllToAll`."""
    return AllToAll(allow_autapses)


def one_to_one() -> OneToOne:
    """Pre ``i`` to post ``i``; see :class:`OneToOne`."""
    return OneToOne()


def fixed_probability(p: float, allow_autapses: bool = False) -> FixedProbability:
    """Each pair independently with probability ``p`` in ``[0, 1]``; see :class:`FixedProbability`."""
    return FixedProbability(p, allow_autapses)


def fixed_indegree(k: int, allow_autapses: bool = False) -> FixedIndegree:
    """Each post from exactly ``k`` distinct pres; see :class:`FixedIndegree`."""
    return FixedIndegree(k, allow_autapses)


def fixed_outdegree(k: int, allow_autapses: bool = False) -> FixedOutdegree:
    """Each pre to exactly ``k`` distinct posts; see :class:`FixedOutdegree`."""
    return FixedOutdegree(k, allow_autapses)


def distance_gaussian(
    sigma_um: float,
    p_max: float = 1.0,
    *,
    cutoff_um: float | None = None,
    periodic_box_um: float | tuple[float, float, float] | None = None,
    allow_autapses: bool = False,
) -> DistanceGaussian:
    """``p(d) = p_max exp(-d^2 / (2 sigma^2))`` up to ``cutoff_um`` (default ``3 sigma``).

    See :class:`DistanceGaussian`.
    """
    return DistanceGaussian(sigma_um, p_max, cutoff_um, periodic_box_um, allow_autapses)  # type: ignore[arg-type]


def distance_exponential(
    lambda_um: float,
    p_max: float = 1.0,
    *,
    cutoff_um: float | None = None,
    periodic_box_um: float | tuple[float, float, float] | None = None,
    allow_autapses: bool = False,
) -> DistanceExponential:
    """``p(d) = p_max exp(-d / lambda)`` up to ``cutoff_um`` (default ``5 lambda``).

    See :class:`DistanceExponential`.
    """
    return DistanceExponential(lambda_um, p_max, cutoff_um, periodic_box_um, allow_autapses)  # type: ignore[arg-type]


def k_nearest(
    k: int,
    allow_autapses: bool = False,
    *,
    periodic_box_um: float | tuple[float, float, float] | None = None,
) -> KNearest:
    """Each post from its ``k`` nearest pres; see :class:`KNearest`."""
    return KNearest(k, allow_autapses, periodic_box_um)  # type: ignore[arg-type]


def explicit(matrix: Any, *, allow_autapses: bool = True) -> Explicit:
    """The entries of a dense or ``scipy.sparse`` ``(n_post, n_pre)`` matrix; see :class:`Explicit`."""
    return Explicit(matrix, allow_autapses)


# --------------------------------------------------------------------------- weights and delays


@dataclass(frozen=True)
class RandomNormal:
    """Values drawn from ``Normal(mean, std)``, one per synapse, from the network's generator."""

    mean: float
    std: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "mean", _real(self.mean, "mean"))
        std = _real(self.std, "std")
        if std < 0:
            raise bad_value(ConnectError, "std", self.std, "must be >= 0")
        object.__setattr__(self, "std", std)

    def draw(self, distance_um: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """``(m,)`` float64 values for ``m = len(distance_um)`` synapses."""
        return rng.normal(self.mean, self.std, np.shape(distance_um)[0])


@dataclass(frozen=True)
class RandomUniform:
    """Values drawn from ``Uniform[low, high)``, one per synapse, from the network's generator."""

    low: float
    high: float

    def __post_init__(self) -> None:
        low, high = _real(self.low, "low"), _real(self.high, "high")
        if high < low:
            raise ConnectError(f"high={self.high!r}: must be >= low={self.low!r}")
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)

    def draw(self, distance_um: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """``(m,)`` float64 values for ``m = len(distance_um)`` synapses."""
        return rng.uniform(self.low, self.high, np.shape(distance_um)[0])


def random_normal(mean: float, std: float) -> RandomNormal:
    """Per-synapse values ``~ Normal(mean, std)`` for :func:`resolve_values`."""
    return RandomNormal(mean, std)


def random_uniform(low: float, high: float) -> RandomUniform:
    """Per-synapse values ``~ Uniform[low, high)`` for :func:`resolve_values`."""
    return RandomUniform(low, high)


@dataclass(frozen=True)
class ConductionDelay:
    """Delay in steps from distance: ``max(min_steps, ceil(d / speed_um_per_ms / dt_ms))``.

    The quotient ``d / (speed * dt)`` is rounded to 9 decimals before the
    ceiling, so a distance that is a whole number of steps up to float error
    gives that number: ``0.33 um / (0.3 um/ms * 0.1 ms)`` evaluates to
    11.000000000000002 and gives 11 steps, not 12.  Any larger remainder rounds
    up, so a spike never arrives earlier than the conduction time.
    """

    speed_um_per_ms: float
    dt_ms: float
    min_steps: int = 1

    def __post_init__(self) -> None:
        object.__setattr__(self, "speed_um_per_ms", _positive(self.speed_um_per_ms, "speed_um_per_ms"))
        object.__setattr__(self, "dt_ms", _positive(self.dt_ms, "dt_ms"))
        object.__setattr__(self, "min_steps", _int(self.min_steps, "min_steps"))

    def __call__(self, distance_um: np.ndarray) -> np.ndarray:
        """Delays ``(m,)`` int64 for distances ``(m,)`` in µm."""
        d = np.asarray(distance_um, dtype=np.float64)
        steps = np.ceil(np.round(d / (self.speed_um_per_ms * self.dt_ms), 9))
        return np.maximum(steps, self.min_steps).astype(np.int64)


def conduction_delay(speed_um_per_ms: float, dt_ms: float, *, min_steps: int = 1) -> ConductionDelay:
    """A distance -> delay-steps callable for :func:`resolve_delays`; see :class:`ConductionDelay`.

    Parameters
    ----------
    speed_um_per_ms : float
        Conduction speed, > 0 (1 m/s = 1000 µm/ms).
    dt_ms : float
        Simulation time step, > 0.
    min_steps : int
        Smallest delay returned, ``>= 0``.

    Returns
    -------
    ConductionDelay
        ``f(distance_um (m,)) -> (m,) int64``, ``max(min_steps, ceil(d / speed / dt))``.
    """
    return ConductionDelay(speed_um_per_ms, dt_ms, min_steps)


def _per_synapse(
    value: object,
    post_idx: np.ndarray,
    pre_idx: np.ndarray,
    distance_um: np.ndarray,
    rng: np.random.Generator | None,
    name: str,
    shape: tuple[int, int] | None,
) -> np.ndarray:
    """Expand ``value`` to one raw (unvalidated dtype) entry per synapse, ``(m,)``."""
    m = post_idx.shape[0]
    if callable(getattr(value, "draw", None)):
        if rng is None:
            raise SNNTypeError(f"{name}={value!r}: a random value needs a generator")
        out = value.draw(distance_um.copy(), rng)
        origin = f"{name}.draw(distance_um, rng)"
    elif callable(value):
        out = value(distance_um.copy())
        origin = f"{name}(distance_um)"
    elif scipy.sparse.issparse(value):
        csr = _as_csr(value, name)
        _check_matrix_shape(csr.shape, post_idx, pre_idx, name, shape)
        return _lookup(csr, post_idx, pre_idx)[0]
    else:
        out = value
        origin = name
    try:
        arr = np.asarray(out)
    except (TypeError, ValueError):
        raise SNNTypeError(f"{origin} gave {out!r}: expected numbers") from None
    if arr.dtype.kind not in "biuf":
        raise SNNTypeError(f"{origin}: expected real numbers, got dtype {arr.dtype}")
    if arr.ndim == 0:
        return np.full(m, arr[()])
    if arr.ndim == 1:
        if arr.shape[0] != m:
            raise ConnectError(
                f"{origin} has shape {arr.shape}: a per-synapse array must have shape ({m},), "
                f"one value per synapse in the rule's (post, pre) order"
            )
        return arr.copy()
    if arr.ndim == 2 and origin == name:
        _check_matrix_shape(arr.shape, post_idx, pre_idx, name, shape)
        return arr[post_idx, pre_idx]
    raise ConnectError(
        f"{origin} has shape {arr.shape}: allowed are a scalar, ({m},) per synapse"
        + (", or an (n_post, n_pre) matrix" if origin == name else "")
    )


def _check_matrix_shape(
    got: tuple[int, ...],
    post_idx: np.ndarray,
    pre_idx: np.ndarray,
    name: str,
    shape: tuple[int, int] | None,
) -> None:
    if shape is not None and tuple(got) != tuple(shape):
        raise ConnectError(f"{name} has shape {tuple(got)}: a matrix must be (n_post, n_pre) = {tuple(shape)}")
    if post_idx.size and (post_idx.max() >= got[0] or pre_idx.max() >= got[1]):
        raise ConnectError(
            f"{name} has shape {tuple(got)}: too small for post index {int(post_idx.max())} "
            f"and pre index {int(pre_idx.max())}; a matrix must be (n_post, n_pre)"
        )


def _index_arrays(post_idx: object, pre_idx: object, distance_um: object) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    post = np.asarray(post_idx)
    pre = np.asarray(pre_idx)
    dist = np.asarray(distance_um, dtype=np.float64)
    if post.ndim != 1 or post.shape != pre.shape or dist.shape != post.shape:
        raise ConnectError(
            f"post_idx, pre_idx and distance_um must be 1D of one length, got shapes {post.shape}, {pre.shape}, {dist.shape}"
        )
    if (post.dtype.kind not in "iu" and post.size) or (pre.dtype.kind not in "iu" and pre.size):
        raise SNNTypeError(f"post_idx and pre_idx must be integer arrays, got {post.dtype} and {pre.dtype}")
    return post.astype(np.int64), pre.astype(np.int64), dist


def resolve_values(
    value: object,
    post_idx: np.ndarray,
    pre_idx: np.ndarray,
    distance_um: np.ndarray,
    rng: np.random.Generator | None,
    *,
    name: str,
    shape: tuple[int, int] | None = None,
) -> np.ndarray:
    """One float value (weight, ...) per synapse.

    Parameters
    ----------
    value : scalar, callable, array_like, scipy.sparse matrix or random value
        - a real scalar: the same for every synapse;
        - an object with ``draw(distance_um, rng) -> (m,)`` (e.g.
          :func:`random_normal`, :func:`random_uniform`): drawn from ``rng``;
        - a callable ``f(distance_um (m,)) -> (m,)`` (or a scalar);
        - an ``(m,)`` array: one value per synapse, in the rule's (post, pre) order;
        - an ``(n_post, n_pre)`` array, sampled at the pairs, or a scipy.sparse
          matrix, sampled at the pairs with missing entries read as 0.
    post_idx, pre_idx : (m,) int
        The synapses, as returned by a rule's ``build``.
    distance_um : (m,) float
        Their lengths.
    rng : numpy.random.Generator or None
        Generator for random values (needed only for those).
    name : str
        Argument name used in error messages (e.g. ``"weight"``).
    shape : (int, int), optional
        ``(n_post, n_pre)``; when given, a matrix value must have exactly this shape.

    Returns
    -------
    values : (m,) float64
        A new array; every entry finite.

    Raises
    ------
    ConnectError
        On a wrong shape or a non-finite value.
    SNNTypeError
        On a non-numeric value.
    """
    post, pre, dist = _index_arrays(post_idx, pre_idx, distance_um)
    raw = _per_synapse(value, post, pre, dist, rng, name, shape)
    if raw.dtype.kind == "b":
        raise SNNTypeError(f"{name}: expected real numbers, got booleans")
    out = np.asarray(raw, dtype=np.float64)
    if not np.all(np.isfinite(out)):
        i = int(np.flatnonzero(~np.isfinite(out))[0])
        raise ConnectError(f"{name}: value {float(out[i])!r} for synapse {i} (post={int(post[i])}, pre={int(pre[i])}) must be finite")
    return out


def resolve_delays(
    delay: object,
    post_idx: np.ndarray,
    pre_idx: np.ndarray,
    distance_um: np.ndarray,
    *,
    name: str = "delay_steps",
    min_steps: int = 1,
    shape: tuple[int, int] | None = None,
) -> np.ndarray:
    """One integer delay, in time steps, per synapse.

    Parameters
    ----------
    delay : int, callable or array_like
        - an int: the same for every synapse;
        - a callable ``f(distance_um (m,)) -> (m,)`` steps (e.g. :func:`conduction_delay`);
        - an ``(m,)`` integer array, one per synapse in the rule's order, or an
          ``(n_post, n_pre)`` integer array sampled at the pairs.
        Floats are accepted only when they are whole numbers.
    post_idx, pre_idx : (m,) int
        The synapses.
    distance_um : (m,) float
        Their lengths.
    name : str
        Argument name used in error messages.
    min_steps : int
        Smallest allowed delay (``>= 0``).
    shape : (int, int), optional
        ``(n_post, n_pre)``; when given, a matrix value must have exactly this shape.

    Returns
    -------
    delay_steps : (m,) int64

    Raises
    ------
    ConnectError
        On a delay that is not a whole number, or is below ``min_steps``, or a wrong shape.
    SNNTypeError
        On a non-numeric or boolean delay.
    """
    min_steps = _int(min_steps, "min_steps")
    post, pre, dist = _index_arrays(post_idx, pre_idx, distance_um)
    if scipy.sparse.issparse(delay):
        raise SNNTypeError(f"{name}: a sparse matrix of delays is ambiguous (missing = 0); pass a dense array")
    raw = _per_synapse(delay, post, pre, dist, None, name, shape)
    if raw.dtype.kind == "b":
        raise SNNTypeError(f"{name}: expected integers (time steps), got booleans")
    if raw.dtype.kind == "f":
        bad = ~np.isfinite(raw) | (raw != np.round(raw)) | (np.abs(raw) > 2.0**62)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ConnectError(f"{name}: value {float(raw[i])!r} for synapse {i}: delays are whole numbers of time steps")
    steps = raw.astype(np.int64)
    if steps.size and steps.min() < min_steps:
        i = int(np.argmin(steps))
        raise ConnectError(
            f"{name}: value {int(steps[i])} for synapse {i} (post={int(post[i])}, pre={int(pre[i])}): delays must be >= {min_steps} steps"
        )
    return steps


# --------------------------------------------------------------------------- projections (Network.connect)


def _streamable(value: object) -> bool:
    """A weight/delay that can be resolved block by block: a scalar, a callable or a random value."""
    if callable(value) or callable(getattr(value, "draw", None)):
        return True
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


def check_pairs(pairs: object, n_pre: int, n_post: int, rule: object) -> Pairs:
    """Validate the ``(post_idx, pre_idx, distance_um)`` a rule's ``build`` returned; sort them by (post, pre).

    Raises
    ------
    ConnectError
        On wrong shapes, indices out of range or a pair given twice (a synapse
        is one (post, pre) pair: duplicates are refused, never merged).
    """
    if not isinstance(pairs, tuple) or len(pairs) != 3:
        raise ConnectError(f"rule={rule!r}: build must return (post_idx, pre_idx, distance_um), got {type(pairs).__name__}")
    post, pre, dist = _index_arrays(*pairs)
    if post.size and (post.min() < 0 or post.max() >= n_post or pre.min() < 0 or pre.max() >= n_pre):
        raise ConnectError(f"rule={rule!r}: indices out of range for n_post={n_post}, n_pre={n_pre}")
    key = post * np.int64(n_pre) + pre
    if key.size > 1 and not np.all(key[1:] > key[:-1]):
        order = np.argsort(key, kind="stable")
        post, pre, dist, key = post[order], pre[order], dist[order], key[order]
        dup = np.flatnonzero(key[1:] == key[:-1])
        if dup.size:
            i = int(dup[0])
            raise ConnectError(
                f"rule={rule!r}: pair (post={int(post[i])}, pre={int(pre[i])}) returned {int(np.sum(key == key[i]))} times; "
                "each (post, pre) pair may be a synapse once (one weight, one delay)"
            )
    return post, pre, dist


def make_projection(
    rule: Any,
    pre_pos_um: np.ndarray,
    post_pos_um: np.ndarray,
    rng: np.random.Generator,
    *,
    same_population: bool,
    weight: object,
    delay_steps: object,
    progress: bool = False,
) -> tuple[scipy.sparse.csr_matrix, np.ndarray]:
    """The CSR weights ``(n_post, n_pre)`` and the aligned int64 delays of one ``Network.connect`` call.

    Rules with ``build_csr`` and scalar, callable or random weights and delays
    are built in blocks of rows: no ``(m,)`` index or distance arrays beyond the
    CSR itself.  Other rules go through ``build``, whose pairs are checked
    (:func:`check_pairs`); array weights and delays must then match the
    populations' ``(n_post, n_pre)`` shape.
    """
    n_pre, n_post = int(np.shape(pre_pos_um)[0]), int(np.shape(post_pos_um)[0])
    shape = (n_post, n_pre)
    use_matrix = hasattr(rule, "weights_for") and isinstance(weight, numbers.Real) and weight == 1.0
    if hasattr(rule, "build_csr") and not use_matrix and _streamable(weight) and _streamable(delay_steps):
        indptr, indices = rule.build_csr(pre_pos_um, post_pos_um, rng, same_population=same_population, progress=progress)
        m = int(indptr[-1])
        w = np.empty(m, dtype=np.float64)
        d = np.empty(m, dtype=np.int64)
        need_dist = not (isinstance(weight, numbers.Real) and isinstance(delay_steps, numbers.Real))
        box = getattr(rule, "periodic_box_um", None)
        post = np.ascontiguousarray(_wrap(post_pos_um, box) if box is not None else post_pos_um, dtype=np.float64)
        pre = np.ascontiguousarray(_wrap(pre_pos_um, box) if box is not None else pre_pos_um, dtype=np.float64)
        lengths = np.diff(indptr)
        r0 = 0
        while r0 < n_post:
            r1 = int(np.searchsorted(indptr, indptr[r0] + _SYN_BLOCK, side="right")) - 1
            r1 = min(n_post, max(r1, r0 + 1))
            lo, hi = int(indptr[r0]), int(indptr[r1])
            if hi > lo:
                post_idx = np.repeat(np.arange(r0, r1, dtype=np.int64), lengths[r0:r1])
                pre_idx = indices[lo:hi]
                dist = _csr_distances(indptr, indices, r0, r1, post, pre, None) if need_dist else np.zeros(hi - lo)
                w[lo:hi] = resolve_values(weight, post_idx, pre_idx, dist, rng, name="weight", shape=shape)
                d[lo:hi] = resolve_delays(delay_steps, post_idx, pre_idx, dist, name="delay_steps", min_steps=0, shape=shape)
            r0 = r1
        mat = scipy.sparse.csr_matrix((w, indices, indptr), shape=shape, copy=False)
        mat.has_sorted_indices = True
        return mat, d
    post_idx, pre_idx, dist = check_pairs(rule.build(pre_pos_um, post_pos_um, rng, same_population=same_population), n_pre, n_post, rule)
    if use_matrix:
        w = np.asarray(rule.weights_for(post_idx, pre_idx), dtype=np.float64)
    else:
        w = resolve_values(weight, post_idx, pre_idx, dist, rng, name="weight", shape=shape)
    d = resolve_delays(delay_steps, post_idx, pre_idx, dist, name="delay_steps", min_steps=0, shape=shape)
    indptr = np.zeros(n_post + 1, dtype=np.int64)
    np.cumsum(np.bincount(post_idx, minlength=n_post), out=indptr[1:])
    indices = pre_idx.astype(_index_dtype(n_pre, post_idx.shape[0]))
    mat = scipy.sparse.csr_matrix((w, indices, indptr), shape=shape, copy=False)
    mat.has_sorted_indices = True
    return mat, d
