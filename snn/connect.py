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
``periodic_box_um``; the distance-dependent rules search neighbours with
:class:`scipy.spatial.cKDTree` in chunks of postsynaptic neurons, so their cost
grows with the number of candidate pairs within the cutoff, not with
``n_pre * n_post``.

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
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
import scipy.sparse
from scipy.spatial import cKDTree

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
]

#: ``(post_idx int64 (m,), pre_idx int64 (m,), distance_um float64 (m,))``.
Pairs = tuple[np.ndarray, np.ndarray, np.ndarray]

# Work is cut into pieces of about this many candidate pairs (memory ~ 24 B each).
_CHUNK_PAIRS = 1 << 21


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


def _sort(post_idx: np.ndarray, pre_idx: np.ndarray, n_pre: int) -> np.ndarray:
    """Order that sorts the pairs by (post, pre)."""
    return np.argsort(post_idx * np.int64(n_pre) + pre_idx, kind="stable")


def _choose_k(rng: np.random.Generator, n_rows: int, n_cols: int, k: int, skip_self: bool) -> np.ndarray:
    """For each row, ``k`` distinct columns drawn uniformly without replacement.

    With ``skip_self`` row ``i`` never gets column ``i`` (requires ``n_rows ==
    n_cols``).  Returns ``(n_rows, k)`` int64, each row sorted ascending.

    Small ``k`` (``2k < population``): draw ``k`` with replacement, then redraw
    the duplicates of the few rows that have any until no row has one.  The
    procedure treats all column labels alike and always ends with ``k``
    distinct columns, so every ``k``-subset is equally likely.  Large ``k``:
    keep the ``k`` smallest of i.i.d. uniform keys, row chunk by row chunk.
    """
    n_pop = n_cols - int(skip_self)
    if k == 0 or n_rows == 0:
        return np.empty((n_rows, 0), dtype=np.int64)
    if 2 * k >= n_pop:
        cols = np.empty((n_rows, k), dtype=np.int64)
        step = max(1, _CHUNK_PAIRS // n_pop)
        for s in range(0, n_rows, step):
            keys = rng.random((min(step, n_rows - s), n_pop))
            part = np.argpartition(keys, k - 1, axis=1)[:, :k] if k < n_pop else np.argsort(keys, axis=1)
            cols[s : s + step] = np.sort(part, axis=1)
    else:
        cols = np.sort(rng.integers(0, n_pop, (n_rows, k)), axis=1)
        redo = np.flatnonzero((cols[:, 1:] == cols[:, :-1]).any(axis=1))
        sub = cols[redo]
        while sub.shape[0]:
            dup = np.zeros(sub.shape, dtype=bool)
            dup[:, 1:] = sub[:, 1:] == sub[:, :-1]
            sub[dup] = rng.integers(0, n_pop, int(dup.sum()))
            sub.sort(axis=1)
            again = (sub[:, 1:] == sub[:, :-1]).any(axis=1)
            cols[redo[~again]] = sub[~again]
            redo, sub = redo[again], sub[again]
    if skip_self:
        cols += cols >= np.arange(n_rows, dtype=np.int64)[:, None]
    return cols


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
        pre, post, same = _inputs(pre_pos_um, post_pos_um, rng, same_population)
        n_pre, n_post = pre.shape[0], post.shape[0]
        skip_self = same and not self.allow_autapses
        n_cols = n_pre - int(skip_self)
        total = n_post * n_cols
        if self.p == 0.0 or total <= 0:
            return _empty()
        if self.p == 1.0:
            flat = np.arange(total, dtype=np.int64)
        else:
            pieces = []
            last = np.int64(-1)  # flat index of the latest synapse
            while True:
                expected = (total - 1 - int(last)) * self.p
                size = int(min(_CHUNK_PAIRS, max(1024, expected + 5 * math.sqrt(expected) + 16)))
                flat = last + np.cumsum(rng.geometric(self.p, size), dtype=np.int64)
                done = flat[-1] >= total
                if done:
                    flat = flat[flat < total]
                pieces.append(flat)
                if done:
                    break
                last = flat[-1]
            flat = np.concatenate(pieces)
        post_idx, pre_idx = np.divmod(flat, np.int64(n_cols))
        if skip_self:
            pre_idx += pre_idx >= post_idx
        return _pairs(post_idx, pre_idx, _distances(post, pre, post_idx, pre_idx))


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
        pre, post, same = _inputs(pre_pos_um, post_pos_um, rng, same_population)
        n_pre, n_post = pre.shape[0], post.shape[0]
        skip_self = same and not self.allow_autapses
        n_avail = n_pre - int(skip_self)
        if self.k > n_avail and n_post > 0:
            raise ConnectError(
                f"k={self.k}: fixed_indegree needs k <= {n_avail} distinct presynaptic "
                f"neurons (n_pre={n_pre}{', no autapses' if skip_self else ''})"
            )
        cols = _choose_k(rng, n_post, n_pre, self.k, skip_self)
        post_idx = np.repeat(np.arange(n_post, dtype=np.int64), self.k)
        pre_idx = cols.reshape(-1)
        return _pairs(post_idx, pre_idx, _distances(post, pre, post_idx, pre_idx))


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
        pre, post, same = _inputs(pre_pos_um, post_pos_um, rng, same_population)
        n_pre, n_post = pre.shape[0], post.shape[0]
        skip_self = same and not self.allow_autapses
        n_avail = n_post - int(skip_self)
        if self.k > n_avail and n_pre > 0:
            raise ConnectError(
                f"k={self.k}: fixed_outdegree needs k <= {n_avail} distinct postsynaptic "
                f"neurons (n_post={n_post}{', no autapses' if skip_self else ''})"
            )
        targets = _choose_k(rng, n_pre, n_post, self.k, skip_self)
        pre_idx = np.repeat(np.arange(n_pre, dtype=np.int64), self.k)
        post_idx = targets.reshape(-1)
        order = _sort(post_idx, pre_idx, n_pre)
        post_idx, pre_idx = post_idx[order], pre_idx[order]
        return _pairs(post_idx, pre_idx, _distances(post, pre, post_idx, pre_idx))


# --------------------------------------------------------------------------- distance rules


def _neighbour_chunks(
    pre: np.ndarray,
    post: np.ndarray,
    cutoff: float,
    box: tuple[float, float, float] | None,
    skip_self: bool,
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """All pairs with distance ``<= cutoff``, chunk by chunk of post neurons.

    Yields ``(post_idx, pre_idx, distance_um)`` per chunk, sorted by (post, pre);
    chunks come in increasing post order.  Uses one cKDTree over ``pre`` and one
    over each chunk of ``post`` (``sparse_distance_matrix``), with ``boxsize``
    for periodic boxes.
    """
    n_pre, n_post = pre.shape[0], post.shape[0]
    if n_pre == 0 or n_post == 0:
        return
    if box is not None:
        pre, post = _wrap(pre, box), _wrap(post, box)
    tree = cKDTree(pre, boxsize=box)
    # Size the chunks from the mean neighbour count of a few post neurons.
    probe = post[:: max(1, n_post // 256)]
    mean = float(np.mean(tree.query_ball_point(probe, cutoff, return_length=True)))
    step = int(max(1, min(n_post, _CHUNK_PAIRS // max(mean, 1.0))))
    for s in range(0, n_post, step):
        sub = cKDTree(post[s : s + step], boxsize=box)
        found = sub.sparse_distance_matrix(tree, cutoff, output_type="ndarray")
        post_idx = found["i"].astype(np.int64) + s
        pre_idx = found["j"].astype(np.int64)
        dist = found["v"].astype(np.float64)
        keep = dist <= cutoff
        if skip_self:
            keep &= post_idx != pre_idx
        post_idx, pre_idx, dist = post_idx[keep], pre_idx[keep], dist[keep]
        order = _sort(post_idx, pre_idx, n_pre)
        yield post_idx[order], pre_idx[order], dist[order]


def _build_distance_rule(
    rule: DistanceGaussian | DistanceExponential,
    pre_pos_um: object,
    post_pos_um: object,
    rng: object,
    same_population: object,
) -> Pairs:
    pre, post, same = _inputs(pre_pos_um, post_pos_um, rng, same_population)
    skip_self = same and not rule.allow_autapses
    out: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for post_idx, pre_idx, dist in _neighbour_chunks(pre, post, rule.cutoff_um, rule.periodic_box_um, skip_self):
        keep = rng.random(dist.shape[0]) < rule.probability(dist)
        out.append((post_idx[keep], pre_idx[keep], dist[keep]))
    if not out:
        return _empty()
    return _pairs(*(np.concatenate(parts) for parts in zip(*out)))


@dataclass(frozen=True)
class DistanceGaussian:
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
        cutoff = 3.0 * sigma if self.cutoff_um is None else _positive(self.cutoff_um, "cutoff_um")
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
        p = self.p_max * np.exp(-(d * d) / (2.0 * self.sigma_um**2))
        return np.where(d <= self.cutoff_um, p, 0.0)

    def build(self, pre_pos_um: np.ndarray, post_pos_um: np.ndarray, rng: np.random.Generator, *, same_population: bool) -> Pairs:
        """See :meth:`ConnectionRule.build`."""
        return _build_distance_rule(self, pre_pos_um, post_pos_um, rng, same_population)


@dataclass(frozen=True)
class DistanceExponential:
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
        cutoff = 5.0 * lam if self.cutoff_um is None else _positive(self.cutoff_um, "cutoff_um")
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

    def build(self, pre_pos_um: np.ndarray, post_pos_um: np.ndarray, rng: np.random.Generator, *, same_population: bool) -> Pairs:
        """See :meth:`ConnectionRule.build`."""
        return _build_distance_rule(self, pre_pos_um, post_pos_um, rng, same_population)


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
