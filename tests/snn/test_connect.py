"""Tests of snn.connect: exact pair sets, statistics against analytic laws, brute-force references."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from scipy.spatial.distance import cdist

from snn.connect import (
    ConnectionRule,
    all_to_all,
    conduction_delay,
    distance_exponential,
    distance_gaussian,
    explicit,
    fixed_indegree,
    fixed_outdegree,
    fixed_probability,
    k_nearest,
    one_to_one,
    random_normal,
    random_uniform,
    resolve_delays,
    resolve_values,
)
from snn.errors import ConnectError, LayoutError, NetworkError, SNNTypeError
from snn.layout import grid, random_box

# A probability so close to 1 that exp(-d^2 / 2 sigma^2) == 1.0 in float64 for every
# distance used here: the rule then connects every candidate within the cutoff.
HUGE_SIGMA_UM = 1e12


def build(rule, pre, post=None, seed=0):
    """Build ``rule``; ``post=None`` means one population (pre -> pre)."""
    same = post is None
    return rule.build(pre, pre if same else post, np.random.default_rng(seed), same_population=same)


def pair_set(post_idx, pre_idx):
    return set(zip(post_idx.tolist(), pre_idx.tolist()))


def check_canonical(post_idx, pre_idx, dist, pre, post, *, autapses_allowed=False, same=True, box=None):
    """Dtypes, shapes, strict (post, pre) order (so unique), no autapses, distances by brute force."""
    assert post_idx.dtype == np.int64 and pre_idx.dtype == np.int64 and dist.dtype == np.float64
    assert post_idx.shape == pre_idx.shape == dist.shape and post_idx.ndim == 1
    key = post_idx * pre.shape[0] + pre_idx
    assert np.all(np.diff(key) > 0), "pairs must be unique and sorted by (post, pre)"
    if post_idx.size:
        assert 0 <= pre_idx.min() and pre_idx.max() < pre.shape[0]
        assert 0 <= post_idx.min() and post_idx.max() < post.shape[0]
    if same and not autapses_allowed:
        assert not np.any(post_idx == pre_idx)
    delta = np.abs(post[post_idx] - pre[pre_idx])
    if box is not None:
        delta = np.mod(delta, box)
        delta = np.minimum(delta, box - delta)
    np.testing.assert_allclose(dist, np.sqrt((delta**2).sum(axis=1)), rtol=1e-12, atol=1e-9)


def min_image_distances(a, b, box):
    box = np.asarray(box, dtype=np.float64)
    delta = np.abs(a[:, None, :] - b[None, :, :]) % box
    delta = np.minimum(delta, box - delta)
    return np.sqrt((delta**2).sum(axis=2))


POS = random_box(120, 50.0, seed=1)
ALL_RULES = [
    all_to_all(),
    fixed_probability(0.1),
    fixed_indegree(7),
    fixed_outdegree(7),
    distance_gaussian(10.0, 0.7),
    distance_exponential(8.0, 0.9),
    k_nearest(5),
    distance_gaussian(8.0, 0.7, periodic_box_um=50.0),
    distance_exponential(4.0, 0.9, periodic_box_um=(50.0, 60.0, 70.0)),
    k_nearest(5, periodic_box_um=50.0),
]


# --------------------------------------------------------------------------- generic properties


@pytest.mark.parametrize("rule", ALL_RULES, ids=repr)
def test_every_rule_is_canonical_without_autapses(rule):
    assert isinstance(rule, ConnectionRule)
    post_idx, pre_idx, dist = build(rule, POS)
    assert post_idx.size > 0
    check_canonical(post_idx, pre_idx, dist, POS, POS, box=getattr(rule, "periodic_box_um", None))


@pytest.mark.parametrize("rule", ALL_RULES, ids=repr)
def test_every_rule_between_two_populations(rule):
    post = random_box(80, 50.0, seed=2)
    post_idx, pre_idx, dist = build(rule, POS, post)
    check_canonical(post_idx, pre_idx, dist, POS, post, same=False, box=getattr(rule, "periodic_box_um", None))


@pytest.mark.parametrize(
    "rule",
    [fixed_probability(0.1), fixed_indegree(7), fixed_outdegree(7), distance_gaussian(10.0, 0.5), distance_exponential(8.0, 0.5)],
    ids=repr,
)
def test_seed_determinism(rule):
    a = build(rule, POS, seed=42)
    b = build(rule, POS, seed=42)
    c = build(rule, POS, seed=43)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert pair_set(*a[:2]) != pair_set(*c[:2])


def test_rules_are_frozen_and_comparable():
    rule = distance_gaussian(5.0)
    assert rule.cutoff_um == 15.0
    assert rule == distance_gaussian(5.0, 1.0, cutoff_um=15.0)
    with pytest.raises(AttributeError):
        rule.sigma_um = 1.0  # type: ignore[misc]
    assert distance_exponential(2.0).cutoff_um == 10.0
    assert distance_gaussian(1.0, periodic_box_um=10.0).periodic_box_um == (10.0, 10.0, 10.0)


# --------------------------------------------------------------------------- simple rules


def test_all_to_all_exact():
    pre, post = random_box(3, 1.0, seed=0), random_box(2, 1.0, seed=1)
    post_idx, pre_idx, _ = build(all_to_all(), pre, post)
    assert list(zip(post_idx, pre_idx)) == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)]
    post_idx, pre_idx, _ = build(all_to_all(), pre)
    assert list(zip(post_idx, pre_idx)) == [(0, 1), (0, 2), (1, 0), (1, 2), (2, 0), (2, 1)]
    post_idx, pre_idx, _ = build(all_to_all(allow_autapses=True), pre)
    assert pair_set(post_idx, pre_idx) == {(i, j) for i in range(3) for j in range(3)}


def test_one_to_one_exact():
    pre, post = grid((4,), 1.0), grid((4,), 1.0, origin_um=(0.0, 3.0, 4.0))
    post_idx, pre_idx, dist = build(one_to_one(), pre, post)
    np.testing.assert_array_equal(post_idx, np.arange(4))
    np.testing.assert_array_equal(pre_idx, np.arange(4))
    np.testing.assert_array_equal(dist, 5.0)
    with pytest.raises(ConnectError, match=r"n_pre=4, n_post=3"):
        build(one_to_one(), pre, post[:3])


def test_fixed_probability_rate_within_three_sigma():
    pre, post = random_box(300, 1.0, seed=0), random_box(400, 1.0, seed=1)
    p = 0.05
    post_idx, pre_idx, _ = build(fixed_probability(p), pre, post, seed=7)
    n = 300 * 400
    assert abs(post_idx.size - n * p) <= 3 * np.sqrt(n * p * (1 - p))
    # Rows get Binomial(300, p) synapses each: compare the spread with the binomial variance.
    per_row = np.bincount(post_idx, minlength=400)
    assert abs(per_row.var() / (300 * p * (1 - p)) - 1) < 0.25


def test_fixed_probability_without_autapses_is_uniform_over_the_other_pres():
    n, p = 600, 0.03
    pos = random_box(n, 1.0, seed=0)
    post_idx, pre_idx, _ = build(fixed_probability(p), pos, seed=3)
    total = n * (n - 1)
    assert abs(post_idx.size - total * p) <= 3 * np.sqrt(total * p * (1 - p))
    assert not np.any(post_idx == pre_idx)
    # Every pre has n - 1 possible targets: the remapping around the diagonal must not bias any.
    assert stats.chisquare(np.bincount(pre_idx, minlength=n)).pvalue > 1e-3
    assert stats.chisquare(np.bincount(post_idx, minlength=n)).pvalue > 1e-3


def test_fixed_probability_extremes():
    pos = random_box(30, 1.0, seed=0)
    assert build(fixed_probability(0.0), pos)[0].size == 0
    post_idx, pre_idx, _ = build(fixed_probability(1.0), pos)
    assert pair_set(post_idx, pre_idx) == {(i, j) for i in range(30) for j in range(30) if i != j}
    post_idx, _, _ = build(fixed_probability(1.0, allow_autapses=True), pos)
    assert post_idx.size == 900


@pytest.mark.parametrize("k", [10, 400, 499])
def test_fixed_indegree_exact_and_uniform(k):
    n = 500
    pos = random_box(n, 1.0, seed=0)
    post_idx, pre_idx, dist = build(fixed_indegree(k), pos, seed=1)
    check_canonical(post_idx, pre_idx, dist, pos, pos)
    np.testing.assert_array_equal(np.bincount(post_idx, minlength=n), k)
    if k < n - 1:
        assert stats.chisquare(np.bincount(pre_idx, minlength=n)).pvalue > 1e-3


def test_fixed_indegree_with_autapses_and_between_populations():
    pre, post = random_box(50, 1.0, seed=0), random_box(70, 1.0, seed=1)
    post_idx, pre_idx, _ = build(fixed_indegree(50), pre, post)
    assert pair_set(post_idx, pre_idx) == {(i, j) for i in range(70) for j in range(50)}
    post_idx, pre_idx, _ = build(fixed_indegree(50, allow_autapses=True), pre)
    assert pair_set(post_idx, pre_idx) == {(i, j) for i in range(50) for j in range(50)}


@pytest.mark.parametrize("k", [3, 60])
def test_fixed_outdegree_exact(k):
    pre, post = random_box(90, 1.0, seed=0), random_box(100, 1.0, seed=1)
    post_idx, pre_idx, dist = build(fixed_outdegree(k), pre, post, seed=2)
    check_canonical(post_idx, pre_idx, dist, pre, post, same=False)
    np.testing.assert_array_equal(np.bincount(pre_idx, minlength=90), k)
    post_idx, pre_idx, _ = build(fixed_outdegree(k), pre, seed=2)
    np.testing.assert_array_equal(np.bincount(pre_idx, minlength=90), k)
    assert not np.any(post_idx == pre_idx)


# --------------------------------------------------------------------------- k nearest


@pytest.mark.parametrize("same", [False, True])
def test_k_nearest_matches_brute_force(same):
    k = 6
    pre = random_box(300, (40.0, 50.0, 60.0), seed=3)
    post = pre if same else random_box(200, (40.0, 50.0, 60.0), seed=4)
    post_idx, pre_idx, dist = build(k_nearest(k), pre, None if same else post)
    check_canonical(post_idx, pre_idx, dist, pre, post, same=same)
    d = cdist(post, pre)
    if same:
        np.fill_diagonal(d, np.inf)
    expected = {(i, int(j)) for i in range(post.shape[0]) for j in np.argsort(d[i])[:k]}
    assert pair_set(post_idx, pre_idx) == expected


def test_k_nearest_periodic_matches_brute_force():
    box = np.array([20.0, 25.0, 30.0])
    pos = random_box(250, box, seed=8)
    post_idx, pre_idx, dist = build(k_nearest(4, periodic_box_um=box), pos)
    d = min_image_distances(pos, pos, box)
    np.fill_diagonal(d, np.inf)
    expected = {(i, int(j)) for i in range(250) for j in np.argsort(d[i])[:4]}
    assert pair_set(post_idx, pre_idx) == expected
    np.testing.assert_allclose(dist, d[post_idx, pre_idx], rtol=1e-12)


# --------------------------------------------------------------------------- distance rules


def _binned_reference(pos, cutoff_um, law, edges):
    """Brute force over all pairs (cdist, chunked): candidates, expected count and variance per bin."""
    n = pos.shape[0]
    n_bins = len(edges) - 1
    n_candidates = np.zeros(n_bins)
    expected = np.zeros(n_bins)
    variance = np.zeros(n_bins)
    for s in range(0, n, 500):
        d = cdist(pos[s : s + 500], pos)
        d[np.arange(d.shape[0]), np.arange(s, s + d.shape[0])] = np.inf  # no autapses
        d = d[d <= cutoff_um]
        p = law(d)
        b = np.clip(np.digitize(d, edges) - 1, 0, n_bins - 1)
        n_candidates += np.bincount(b, minlength=n_bins)
        expected += np.bincount(b, weights=p, minlength=n_bins)
        variance += np.bincount(b, weights=p * (1 - p), minlength=n_bins)
    return n_candidates, expected, variance


@pytest.mark.parametrize(
    ("rule", "law"),
    [
        (distance_gaussian(1.5, 0.8), lambda d: 0.8 * np.exp(-(d**2) / (2 * 1.5**2))),
        (distance_exponential(1.0, 0.9), lambda d: 0.9 * np.exp(-d / 1.0)),
    ],
    ids=["gaussian", "exponential"],
)
def test_distance_rule_probability_per_distance_bin(rule, law):
    pos = grid((20, 20, 20), spacing_um=1.0)  # 8000 neurons
    # The rule's own law agrees with the formula of the docs.
    d_test = np.linspace(0.0, rule.cutoff_um, 50)
    np.testing.assert_allclose(rule.probability(d_test), law(d_test), rtol=1e-14)
    assert rule.probability(np.array([rule.cutoff_um * 1.001]))[0] == 0.0

    post_idx, pre_idx, dist = build(rule, pos, seed=123)
    check_canonical(post_idx, pre_idx, dist, pos, pos)
    assert dist.max() <= rule.cutoff_um

    edges = np.linspace(0.0, rule.cutoff_um, 9)
    n_candidates, expected, variance = _binned_reference(pos, rule.cutoff_um, law, edges)
    observed = np.bincount(np.clip(np.digitize(dist, edges) - 1, 0, 7), minlength=8)
    tested = 0
    for b in range(8):
        if n_candidates[b] == 0:
            assert observed[b] == 0
            continue
        tested += 1
        sigma = np.sqrt(variance[b])
        assert abs(observed[b] - expected[b]) <= 3 * sigma, (
            f"bin {edges[b]:.2f}-{edges[b + 1]:.2f} um: {observed[b]} synapses of {n_candidates[b]:.0f} "
            f"candidate pairs, expected {expected[b]:.1f} +- {sigma:.1f}"
        )
    assert tested >= 6


def test_distance_rule_connects_exactly_the_pairs_within_cutoff_inclusive():
    pos = grid((6, 6, 6), spacing_um=1.0)
    rule = distance_gaussian(HUGE_SIGMA_UM, 1.0, cutoff_um=2.0)
    post_idx, pre_idx, dist = build(rule, pos)
    d = cdist(pos, pos)
    np.fill_diagonal(d, np.inf)
    expected = {(int(i), int(j)) for i, j in zip(*np.nonzero(d <= 2.0))}
    assert pair_set(post_idx, pre_idx) == expected
    assert np.any(dist == 2.0)  # pairs at exactly the cutoff are included
    assert dist.max() == 2.0


def test_distance_rule_autapses_only_when_allowed():
    pos = grid((5, 5, 5), spacing_um=1.0)
    rule = distance_gaussian(1.0, 1.0, allow_autapses=True)  # p(0) = 1
    post_idx, pre_idx, dist = build(rule, pos)
    self_pairs = post_idx == pre_idx
    assert self_pairs.sum() == 125
    np.testing.assert_array_equal(dist[self_pairs], 0.0)
    check_canonical(post_idx, pre_idx, dist, pos, pos, autapses_allowed=True)


def test_distance_rule_keeps_coincident_neurons():
    # Distance-0 pairs between distinct neurons (e.g. columns of radius 0) are candidates too.
    pos = np.zeros((4, 3))
    post_idx, pre_idx, dist = build(distance_exponential(1.0, 1.0), pos)
    assert pair_set(post_idx, pre_idx) == {(i, j) for i in range(4) for j in range(4) if i != j}
    np.testing.assert_array_equal(dist, 0.0)


def test_periodic_distances_are_minimum_image_and_wrap_positions():
    box = np.array([10.0, 12.0, 14.0])
    pos = random_box(400, box, seed=5)
    rule = distance_gaussian(HUGE_SIGMA_UM, 1.0, cutoff_um=3.0, periodic_box_um=box)
    post_idx, pre_idx, dist = build(rule, pos)
    d = min_image_distances(pos, pos, box)
    np.fill_diagonal(d, np.inf)
    assert pair_set(post_idx, pre_idx) == {(int(i), int(j)) for i, j in zip(*np.nonzero(d <= 3.0))}
    np.testing.assert_allclose(dist, d[post_idx, pre_idx], rtol=1e-12)
    # Without periodic boundaries fewer pairs qualify (none across the faces).
    n_open = build(distance_gaussian(HUGE_SIGMA_UM, 1.0, cutoff_um=3.0), pos)[0].size
    assert n_open < post_idx.size
    # Positions shifted by whole boxes give the same synapses.
    shifted = pos + box * np.random.default_rng(0).integers(-2, 3, pos.shape)
    post2, pre2, dist2 = build(rule, shifted)
    assert pair_set(post2, pre2) == pair_set(post_idx, pre_idx)
    np.testing.assert_allclose(dist2, dist, rtol=1e-9, atol=1e-9)


def test_periodic_neurons_on_opposite_faces_connect():
    pos = np.array([[0.1, 5.0, 5.0], [9.9, 5.0, 5.0], [5.0, 5.0, 5.0]])
    rule = distance_exponential(HUGE_SIGMA_UM, 1.0, cutoff_um=1.0, periodic_box_um=10.0)
    post_idx, pre_idx, dist = build(rule, pos)
    assert list(zip(post_idx, pre_idx)) == [(0, 1), (1, 0)]
    np.testing.assert_allclose(dist, 0.2, rtol=1e-12)
    assert build(distance_exponential(HUGE_SIGMA_UM, 1.0, cutoff_um=1.0), pos)[0].size == 0
    # np.mod(-1e-17, 10.0) rounds to 10.0, outside [0, box): the rule must still wrap it to 0.
    pos[0, 0] = -1e-17
    for wrapped_rule in (rule, k_nearest(1, periodic_box_um=10.0)):
        post_idx, pre_idx, dist = build(wrapped_rule, pos)
        assert list(zip(post_idx[:2], pre_idx[:2])) == [(0, 1), (1, 0)]
        np.testing.assert_allclose(dist[:2], 0.1, rtol=1e-12)


def test_periodic_cutoff_must_fit_half_the_box():
    with pytest.raises(ConnectError, match=r"cutoff_um=6\.0.*half"):
        distance_gaussian(2.0, periodic_box_um=10.0)
    with pytest.raises(ConnectError, match=r"cutoff_um=5\.0.*half"):
        distance_exponential(1.0, periodic_box_um=(20.0, 9.0, 20.0))
    assert distance_gaussian(2.0, cutoff_um=5.0, periodic_box_um=10.0).cutoff_um == 5.0


# --------------------------------------------------------------------------- explicit


def test_explicit_dense_matrix():
    m = np.array([[0.0, 2.0, 0.0], [1.5, 0.0, -1.0]])
    pre, post = random_box(3, 1.0, seed=0), random_box(2, 1.0, seed=1)
    rule = explicit(m)
    post_idx, pre_idx, dist = build(rule, pre, post)
    assert list(zip(post_idx, pre_idx)) == [(0, 1), (1, 0), (1, 2)]
    check_canonical(post_idx, pre_idx, dist, pre, post, same=False)
    np.testing.assert_array_equal(rule.weights_for(post_idx, pre_idx), [2.0, 1.5, -1.0])
    with pytest.raises(ConnectError, match=r"pair \(post=0, pre=0\)"):
        rule.weights_for(np.array([0]), np.array([0]))


def test_explicit_sparse_keeps_stored_zeros_and_sums_duplicates():
    coo = scipy.sparse.coo_array(([1.0, 2.0, 0.0, 4.0], ([0, 0, 1, 2], [1, 1, 2, 0])), shape=(3, 3))
    rule = explicit(coo)
    pos = random_box(3, 1.0, seed=0)
    post_idx, pre_idx, _ = build(rule, pos)
    assert list(zip(post_idx, pre_idx)) == [(0, 1), (1, 2), (2, 0)]
    np.testing.assert_array_equal(rule.weights_for(post_idx, pre_idx), [3.0, 0.0, 4.0])
    # A CSR built from raw arrays may hold duplicates and unsorted indices too.
    csr = scipy.sparse.csr_matrix((np.array([1.0, 2.0, 5.0]), np.array([2, 2, 0]), np.array([0, 3, 3, 3])), shape=(3, 3))
    rule = explicit(csr)
    post_idx, pre_idx, _ = build(rule, pos)
    assert list(zip(post_idx, pre_idx)) == [(0, 0), (0, 2)]
    np.testing.assert_array_equal(rule.weights_for(post_idx, pre_idx), [5.0, 3.0])


def test_explicit_diagonal_kept_unless_autapses_disallowed():
    m = np.eye(3) + np.eye(3, k=1)
    pos = random_box(3, 1.0, seed=0)
    post_idx, pre_idx, _ = build(explicit(m), pos)
    assert pair_set(post_idx, pre_idx) == {(0, 0), (1, 1), (2, 2), (0, 1), (1, 2)}
    post_idx, pre_idx, _ = build(explicit(m, allow_autapses=False), pos)
    assert pair_set(post_idx, pre_idx) == {(0, 1), (1, 2)}


def test_explicit_shape_must_match_populations():
    with pytest.raises(ConnectError, match=r"matrix has shape \(2, 3\).*\(3, 2\)"):
        build(explicit(np.ones((2, 3))), random_box(2, 1.0, seed=0), random_box(3, 1.0, seed=0))


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (lambda: fixed_probability(1.5), ConnectError, r"p=1\.5.*\[0, 1\]"),
        (lambda: fixed_probability(-0.1), ConnectError, r"p=-0\.1"),
        (lambda: fixed_probability(float("nan")), ConnectError, r"p=nan.*finite"),
        (lambda: fixed_probability("0.1"), SNNTypeError, r"p='0\.1'"),
        (lambda: fixed_indegree(-1), ConnectError, r"k=-1.*>= 0"),
        (lambda: fixed_indegree(2.5), SNNTypeError, r"k=2\.5.*int"),
        (lambda: fixed_outdegree(True), SNNTypeError, r"k=True"),
        (lambda: k_nearest(-2), ConnectError, r"k=-2"),
        (lambda: all_to_all(allow_autapses=1), SNNTypeError, r"allow_autapses=1"),
        (lambda: distance_gaussian(0.0), ConnectError, r"sigma_um=0\.0.*> 0"),
        (lambda: distance_gaussian(1.0, p_max=2.0), ConnectError, r"p_max=2\.0"),
        (lambda: distance_gaussian(1.0, cutoff_um=-1.0), ConnectError, r"cutoff_um=-1\.0"),
        (lambda: distance_exponential(-3.0), ConnectError, r"lambda_um=-3\.0"),
        (lambda: distance_exponential(1.0, periodic_box_um=(1.0, 2.0)), ConnectError, r"periodic_box_um="),
        (lambda: distance_exponential(1.0, periodic_box_um=0.0), ConnectError, r"periodic_box_um=0\.0"),
        (lambda: explicit(np.zeros(3)), ConnectError, r"matrix has shape \(3,\)"),
        (lambda: explicit([[np.nan, 1.0]]), ConnectError, r"matrix.*finite"),
        (lambda: explicit([["a"]]), SNNTypeError, r"matrix"),
    ],
)
def test_bad_rule_arguments_name_the_argument(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


@pytest.mark.parametrize(
    ("rule", "n_pre", "n_post", "match"),
    [
        (fixed_indegree(5), 5, None, r"k=5.*k <= 4 distinct presynaptic"),
        (fixed_indegree(6), 5, 3, r"k=6.*k <= 5 distinct presynaptic"),
        (fixed_outdegree(5), 6, 4, r"k=5.*k <= 4 distinct postsynaptic"),
        (fixed_outdegree(6), 6, None, r"k=6.*k <= 5 distinct postsynaptic"),
        (k_nearest(5), 5, None, r"k=5.*k <= 4 presynaptic"),
        (k_nearest(6), 5, 2, r"k=6.*k <= 5 presynaptic"),
    ],
)
def test_degree_too_large_for_population(rule, n_pre, n_post, match):
    pre = random_box(n_pre, 1.0, seed=0)
    post = None if n_post is None else random_box(n_post, 1.0, seed=1)
    with pytest.raises(ConnectError, match=match):
        build(rule, pre, post)
    # One less is allowed: then every allowed partner is taken.
    post_idx, pre_idx, _ = build(type(rule)(rule.k - 1), pre, post)
    post = pre if post is None else post
    expected = {(i, j) for i in range(post.shape[0]) for j in range(pre.shape[0]) if n_post is not None or i != j}
    assert pair_set(post_idx, pre_idx) == expected


def test_build_validates_its_inputs():
    pos = random_box(5, 1.0, seed=0)
    with pytest.raises(SNNTypeError, match=r"rng=0"):
        all_to_all().build(pos, pos, 0, same_population=True)
    with pytest.raises(ConnectError, match=r"same_population=True.*5 rows.*4"):
        all_to_all().build(pos, pos[:4], np.random.default_rng(0), same_population=True)
    with pytest.raises(LayoutError, match=r"pre_pos_um has shape \(5, 2\)"):
        all_to_all().build(pos[:, :2], pos, np.random.default_rng(0), same_population=False)
    with pytest.raises(LayoutError, match=r"post_pos_um\[0, 0\]=.*nan"):
        bad = pos.copy()
        bad[0, 0] = np.nan
        all_to_all().build(pos, bad, np.random.default_rng(0), same_population=False)


# --------------------------------------------------------------------------- weights and delays

POST = np.array([0, 0, 1, 2])
PRE = np.array([1, 2, 0, 1])
DIST = np.array([1.0, 2.0, 3.0, 4.0])


def test_resolve_values_forms():
    rng = np.random.default_rng(0)
    np.testing.assert_array_equal(resolve_values(0.5, POST, PRE, DIST, rng, name="weight"), [0.5] * 4)
    np.testing.assert_array_equal(resolve_values(lambda d: 2.0 * d, POST, PRE, DIST, rng, name="weight"), [2.0, 4.0, 6.0, 8.0])
    per = np.array([1, 2, 3, 4])
    out = resolve_values(per, POST, PRE, DIST, rng, name="weight")
    assert out.dtype == np.float64 and not np.shares_memory(out, per)
    np.testing.assert_array_equal(out, per)
    mat = np.arange(9.0).reshape(3, 3)
    np.testing.assert_array_equal(resolve_values(mat, POST, PRE, DIST, rng, name="weight", shape=(3, 3)), [1.0, 2.0, 3.0, 7.0])
    sparse = scipy.sparse.csr_array(([5.0, 6.0], ([0, 2], [2, 1])), shape=(3, 3))
    np.testing.assert_array_equal(resolve_values(sparse, POST, PRE, DIST, rng, name="weight"), [0.0, 5.0, 0.0, 6.0])


def test_resolve_values_random_draws_from_the_generator():
    out = resolve_values(random_normal(1.0, 0.5), POST, PRE, DIST, np.random.default_rng(3), name="weight")
    np.testing.assert_array_equal(out, np.random.default_rng(3).normal(1.0, 0.5, 4))
    out = resolve_values(random_uniform(-1.0, 2.0), POST, PRE, DIST, np.random.default_rng(4), name="weight")
    np.testing.assert_array_equal(out, np.random.default_rng(4).uniform(-1.0, 2.0, 4))
    big = resolve_values(
        random_normal(0.0, 2.0), np.zeros(20000, int), np.zeros(20000, int), np.zeros(20000), np.random.default_rng(1), name="w"
    )
    assert stats.kstest(big, "norm", args=(0.0, 2.0)).pvalue > 1e-3


@pytest.mark.parametrize(
    ("value", "exc", "match"),
    [
        (np.ones(3), ConnectError, r"weight has shape \(3,\).*\(4,\)"),
        (np.array([1.0, np.nan, 0.0, 0.0]), ConnectError, r"weight: value nan for synapse 1.*finite"),
        (lambda d: np.ones(2), ConnectError, r"weight\(distance_um\) has shape \(2,\)"),
        (lambda d: d * np.inf, ConnectError, r"weight: value inf"),
        (np.ones((2, 2)), ConnectError, r"weight has shape \(2, 2\).*\(3, 3\)"),
        (np.ones((3, 4)), ConnectError, r"weight has shape \(3, 4\).*\(3, 3\)"),
        (np.ones((2, 2, 2)), ConnectError, r"weight has shape \(2, 2, 2\)"),
        ("heavy", SNNTypeError, r"weight"),
        (np.array([True, False, True, True]), SNNTypeError, r"weight.*booleans"),
        (random_normal(0.0, 1.0), None, None),
    ],
)
def test_resolve_values_errors_name_the_argument(value, exc, match):
    if exc is None:  # random values need a generator
        with pytest.raises(SNNTypeError, match=r"weight=.*generator"):
            resolve_values(value, POST, PRE, DIST, None, name="weight")
        return
    with pytest.raises(exc, match=match):
        resolve_values(value, POST, PRE, DIST, np.random.default_rng(0), name="weight", shape=(3, 3))


def test_resolve_values_matrix_too_small_without_shape():
    with pytest.raises(ConnectError, match=r"weight has shape \(2, 2\): too small for post index 2"):
        resolve_values(np.ones((2, 2)), POST, PRE, DIST, None, name="weight")


def test_resolve_delays_forms_and_errors():
    np.testing.assert_array_equal(resolve_delays(3, POST, PRE, DIST), [3, 3, 3, 3])
    out = resolve_delays([1, 2.0, 3, 4], POST, PRE, DIST)
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out, [1, 2, 3, 4])
    np.testing.assert_array_equal(resolve_delays(lambda d: d + 1, POST, PRE, DIST), [2, 3, 4, 5])
    np.testing.assert_array_equal(resolve_delays(0, POST, PRE, DIST, min_steps=0), [0] * 4)
    with pytest.raises(ConnectError, match=r"delay_steps: value 2\.5 .*whole"):
        resolve_delays(2.5, POST, PRE, DIST)
    with pytest.raises(ConnectError, match=r"delay_steps: value 0 for synapse 0 .*>= 1"):
        resolve_delays(0, POST, PRE, DIST)
    with pytest.raises(ConnectError, match=r"d: value -1 for synapse 2 \(post=1, pre=0\).*>= 1"):
        resolve_delays(np.array([1, 1, -1, 1]), POST, PRE, DIST, name="d")
    with pytest.raises(ConnectError, match=r"delay_steps: value nan"):
        resolve_delays(lambda d: d * np.nan, POST, PRE, DIST)
    with pytest.raises(SNNTypeError, match=r"delay_steps.*booleans"):
        resolve_delays(True, POST, PRE, DIST)
    with pytest.raises(ConnectError, match=r"delay_steps has shape \(5,\)"):
        resolve_delays(np.ones(5, int), POST, PRE, DIST)


def test_conduction_delay_rounding():
    f = conduction_delay(1.0, 0.1)
    d = np.array([0.0, 0.05, 0.1, 0.1000001, 0.25, 20.0, 20.05])
    np.testing.assert_array_equal(f(d), [1, 1, 1, 2, 3, 200, 201])
    # 0.33 / (0.3 * 0.1) = 11.000000000000002 in float64: a whole number of steps, not 12.
    assert 0.33 / (0.3 * 0.1) > 11
    np.testing.assert_array_equal(conduction_delay(0.3, 0.1)(np.array([0.33, 0.3301])), [11, 12])
    np.testing.assert_array_equal(conduction_delay(1.0, 0.1, min_steps=5)(np.array([0.2, 0.9])), [5, 9])
    # Against exact rational arithmetic on random distances.
    rng = np.random.default_rng(0)
    dists = rng.uniform(0.0, 500.0, 1000)
    speed, dt = 250.0, 0.25
    ref = np.maximum(1, np.ceil(dists / 62.5))
    np.testing.assert_array_equal(conduction_delay(speed, dt)(dists), ref)
    out = resolve_delays(conduction_delay(speed, dt), np.zeros(1000, int), np.zeros(1000, int), dists)
    np.testing.assert_array_equal(out, ref)
    with pytest.raises(ConnectError, match=r"speed_um_per_ms=0\.0"):
        conduction_delay(0.0, 0.1)
    with pytest.raises(ConnectError, match=r"dt_ms=-0\.1"):
        conduction_delay(1.0, -0.1)


# --------------------------------------------------------------------------- properties

_RULES = st.sampled_from(
    [
        fixed_probability(0.2),
        fixed_probability(0.9, allow_autapses=True),
        fixed_indegree(3),
        fixed_outdegree(2, allow_autapses=True),
        distance_gaussian(3.0, 0.8),
        distance_exponential(1.0, 0.8, periodic_box_um=12.0),
        k_nearest(3),
        all_to_all(),
    ]
)


@settings(max_examples=40, deadline=None)
@given(rule=_RULES, n_pre=st.integers(5, 40), n_post=st.integers(5, 40), same=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_property_canonical_output(rule, n_pre, n_post, same, seed):
    rng = np.random.default_rng(seed)
    pre = rng.uniform(0.0, 12.0, (n_pre, 3))
    post = pre if same else rng.uniform(0.0, 12.0, (n_post, 3))
    post_idx, pre_idx, dist = rule.build(pre, post, np.random.default_rng(seed), same_population=same)
    check_canonical(
        post_idx,
        pre_idx,
        dist,
        pre,
        post,
        autapses_allowed=getattr(rule, "allow_autapses", False),
        same=same,
        box=getattr(rule, "periodic_box_um", None),
    )
    if hasattr(rule, "cutoff_um"):
        assert np.all(dist <= rule.cutoff_um)


# --------------------------------------------------------------------------- scale


@pytest.mark.slow
def test_distance_gaussian_100k_grid_is_feasible():
    pos = grid((47, 47, 47), 20.0)  # 103823 neurons
    rule = distance_gaussian(20.0)
    post_idx, pre_idx, dist = build(rule, pos, seed=0)
    assert dist.max() <= 60.0
    assert np.all(np.diff(post_idx * pos.shape[0] + pre_idx) > 0)
    assert not np.any(post_idx == pre_idx)
    # Interior neurons expect sum over lattice offsets 0 < |o| <= 3 of exp(-|o|^2 / 2), about 14.7.
    per_neuron = post_idx.size / pos.shape[0]
    assert 12.0 < per_neuron < 14.8


@pytest.mark.slow
def test_fixed_probability_100k_squared_is_feasible():
    pos = grid((47, 47, 47), 20.0)
    n = pos.shape[0]
    post_idx, pre_idx, _ = build(fixed_probability(1e-3), pos, seed=0)
    total = n * (n - 1)
    assert abs(post_idx.size - total * 1e-3) <= 3 * np.sqrt(total * 1e-3)
    assert not np.any(post_idx == pre_idx)


# --------------------------------------------------------------------------- compiled CSR builds (issue 14, 16, 17)

FAST_RULES = [
    fixed_probability(0.05),
    fixed_indegree(9),
    fixed_outdegree(9),
    fixed_indegree(350),  # the Fisher-Yates branch (2k >= n)
    distance_gaussian(15.0, 0.8),
    distance_exponential(9.0, 0.9, cutoff_um=30.0),
    distance_gaussian(10.0, 0.9, periodic_box_um=100.0),
    distance_gaussian(HUGE_SIGMA_UM, 1.0, cutoff_um=40.0),  # > 64 synapses per row: the overflow/redo path
]
POS_400 = random_box(400, 100.0, seed=7)


def csr_of(rule, pos, seed=0):
    return rule.build_csr(pos, pos, np.random.default_rng(seed), same_population=True)


@pytest.mark.parametrize("rule", FAST_RULES, ids=repr)
def test_same_seed_same_network_whatever_the_thread_count_and_block_size(rule, monkeypatch):
    import numba

    import snn.connect as connect

    threads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = csr_of(rule, POS_400)
    finally:
        numba.set_num_threads(threads)
    many = csr_of(rule, POS_400)
    monkeypatch.setattr(connect, "_ROW_BLOCK", 7)  # blocks of 7 rows instead of 65536
    blocked = csr_of(rule, POS_400)
    for a, b, c in zip(one, many, blocked):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)
    assert one[1].size > 0


@pytest.mark.parametrize("rule", FAST_RULES, ids=repr)
def test_build_csr_agrees_with_build_and_is_canonical(rule):
    indptr, indices = csr_of(rule, POS_400, seed=3)
    post_idx, pre_idx, dist = build(rule, POS_400, seed=3)
    np.testing.assert_array_equal(np.repeat(np.arange(400), np.diff(indptr)), post_idx)
    np.testing.assert_array_equal(indices, pre_idx)
    check_canonical(post_idx, pre_idx, dist, POS_400, POS_400, box=getattr(rule, "periodic_box_um", None))
    if hasattr(rule, "cutoff_um") and rule.p_max == 1.0:  # p = 1 inside the cutoff: exactly the brute-force set
        d = cdist(POS_400, POS_400)
        np.fill_diagonal(d, np.inf)
        assert pair_set(post_idx, pre_idx) == {(int(i), int(j)) for i, j in zip(*np.nonzero(d <= rule.cutoff_um))}


def test_network_connect_in_blocks_equals_the_pairs_form(monkeypatch):
    import snn
    import snn.connect as connect

    monkeypatch.setattr(connect, "_SYN_BLOCK", 100)  # many weight/delay blocks
    rule = distance_gaussian(15.0, 0.8)
    net = snn.Network()
    net.add_population("a", 400, snn.LIF(), positions=POS_400)
    proj = net.connect("a", "a", rule, weight=random_normal(0.5, 0.1), delay_steps=conduction_delay(2.0, 1.0), seed=5)
    rng = np.random.default_rng(5)
    post_idx, pre_idx, dist = rule.build(POS_400, POS_400, rng, same_population=True)
    w = rng.normal(0.5, 0.1, post_idx.size)  # the same generator, after the rule's draw
    expected = scipy.sparse.csr_matrix((w, (post_idx, pre_idx)), shape=(400, 400))
    np.testing.assert_array_equal(proj.weights.indptr, expected.indptr)
    np.testing.assert_array_equal(proj.weights.indices, expected.indices)
    np.testing.assert_allclose(proj.weights.data, expected.data, rtol=0, atol=0)
    np.testing.assert_array_equal(proj.delays, np.maximum(np.ceil(np.round(dist / 2.0, 9)), 1).astype(np.int64))


def test_progress_shows_a_tqdm_bar(capsys):
    csr = distance_gaussian(15.0).build_csr(POS_400, POS_400, np.random.default_rng(0), same_population=True, progress=True)
    err = capsys.readouterr().err
    assert "DistanceGaussian" in err and "400/400" in err
    assert csr[1].size > 0
    fixed_indegree(3).build_csr(POS_400, POS_400, np.random.default_rng(0), same_population=True, progress=False)
    assert capsys.readouterr().err == ""


def test_fixed_probability_tiny_p_is_exact_and_takes_constant_memory():
    import tracemalloc

    pos = np.zeros((100_000, 3))
    tracemalloc.start()
    try:
        for p in (1e-300, 5e-324, 1e-20):
            indptr, indices = fixed_probability(p).build_csr(pos, pos, np.random.default_rng(0), same_population=True)
            assert indices.size == 0 and indptr.shape == (100_001,)  # expected count 1e10 * p: at most 1e-10
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20_000_000  # position copies, indptr and counts (~8 MB): nothing per pair (1e10 pairs)
    # p small but not negligible: the count is Binomial(n (n - 1), p)
    pos = np.zeros((3000, 3))
    total = 3000 * 2999
    counts = [build(fixed_probability(2e-5), pos, seed=s)[0].size for s in range(20)]
    assert abs(np.mean(counts) - total * 2e-5) <= 3 * np.sqrt(total * 2e-5 / 20)


def test_distance_gaussian_extreme_sigma():
    pos = np.zeros((6, 3))  # co-located: d = 0, so p = p_max = 1 whatever sigma
    for sigma in (1e-170, 1e-300, 1e160, 1e300):
        rule = distance_gaussian(sigma)
        np.testing.assert_array_equal(rule.probability(np.array([0.0])), [1.0])
        post_idx, pre_idx, _ = build(rule, pos)
        assert pair_set(post_idx, pre_idx) == {(i, j) for i in range(6) for j in range(6) if i != j}, sigma
    # a huge sigma connects every pair of a spread-out population (exp(-tiny) == 1)
    post_idx, _, _ = build(distance_gaussian(1e200), POS)
    assert post_idx.size == 120 * 119
    # a tiny sigma connects none of the pairs at distance > 0
    assert build(distance_gaussian(1e-170), POS)[0].size == 0


def test_custom_rule_with_duplicate_pairs_is_refused():
    import snn

    class Twice:
        def build(self, pre_pos_um, post_pos_um, rng, *, same_population):
            return np.array([0, 1, 1]), np.array([1, 0, 0]), np.array([1.0, 1.0, 1.0])

    class Unsorted:
        def build(self, pre_pos_um, post_pos_um, rng, *, same_population):
            return np.array([1, 0]), np.array([0, 1]), np.array([1.0, 2.0])

    net = snn.Network()
    net.add_population("a", 3, snn.LIF())
    with pytest.raises(ConnectError, match=r"pair \(post=1, pre=0\) returned 2 times"):
        net.connect("a", "a", Twice(), delay_steps=2)
    proj = net.connect("a", "a", Unsorted(), weight=np.array([5.0, 7.0]), delay_steps=2)  # sorted, aligned values kept
    assert proj.weights.toarray()[0, 1] == 5.0 and proj.weights.toarray()[1, 0] == 7.0


def test_connect_refuses_an_oversized_weight_or_delay_matrix():
    import snn

    net = snn.Network()
    net.add_population("a", 4, snn.LIF())
    with pytest.raises(ConnectError, match=r"weight has shape \(5, 4\).*\(4, 4\)"):
        net.connect("a", "a", all_to_all(), weight=np.ones((5, 4)))
    with pytest.raises(ConnectError, match=r"delay_steps has shape \(4, 6\)"):
        net.connect("a", "a", all_to_all(), delay_steps=np.ones((4, 6), dtype=int))
    assert net.connect("a", "a", all_to_all(), weight=np.full((4, 4), 2.0)).n_synapses == 12


@pytest.mark.parametrize(
    "seed, exc, match", [(-1, (ConnectError, NetworkError), "seed=-1"), ("x", SNNTypeError, "seed='x'"), (1.5, SNNTypeError, "seed=1.5")]
)
def test_connect_seed_errors_name_the_argument(seed, exc, match):
    import snn

    net = snn.Network()
    net.add_population("a", 4, snn.LIF())
    with pytest.raises(exc, match=match):
        net.connect("a", "a", fixed_probability(0.5), seed=seed)
