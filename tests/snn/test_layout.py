"""Tests of snn.layout: exact grids, uniform random volumes, columns, validation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from snn.errors import LayoutError, SNNTypeError
from snn.layout import as_positions, columns, grid, random_box, random_sphere

# --------------------------------------------------------------------------- grid


def test_grid_count_order_and_exact_spacing():
    pos = grid((3, 4, 5), spacing_um=2.5, origin_um=(1.0, -2.0, 10.0))
    assert pos.shape == (60, 3)
    assert pos.dtype == np.float64
    # index i = (ix * ny + iy) * nz + iz
    for i, (ix, iy, iz) in enumerate(np.ndindex(3, 4, 5)):
        assert i == (ix * 4 + iy) * 5 + iz
        np.testing.assert_array_equal(pos[i], [1.0 + 2.5 * ix, -2.0 + 2.5 * iy, 10.0 + 2.5 * iz])
    # Neighbours along z (fastest) are exactly one spacing apart.
    cube = pos.reshape(3, 4, 5, 3)
    np.testing.assert_array_equal(np.diff(cube[..., 2], axis=2), 2.5)
    np.testing.assert_array_equal(np.diff(cube[..., 0], axis=0), 2.5)


def test_grid_anisotropic_spacing_and_padding():
    pos = grid((2, 3), spacing_um=(1.0, 10.0, 100.0))
    assert pos.shape == (6, 3)
    np.testing.assert_array_equal(pos[:, 2], 0.0)
    np.testing.assert_array_equal(np.unique(pos[:, 1]), [0.0, 10.0, 20.0])
    line = grid((4,), spacing_um=3.0)
    np.testing.assert_array_equal(line, [[0, 0, 0], [3, 0, 0], [6, 0, 0], [9, 0, 0]])
    np.testing.assert_array_equal(grid(4, 3.0), line)


def test_grid_large_is_exact():
    pos = grid((47, 47, 47), 20.0)
    assert pos.shape == (47**3, 3)
    assert pos.min() == 0.0 and pos.max() == 46 * 20.0
    # Every coordinate is an exact multiple of the spacing.
    np.testing.assert_array_equal(np.round(pos / 20.0) * 20.0, pos)


# --------------------------------------------------------------------------- random volumes


def test_random_box_bounds_and_uniformity():
    pos = random_box(5000, (10.0, 20.0, 30.0), seed=3, origin_um=(-5.0, 0.0, 100.0))
    assert pos.shape == (5000, 3)
    lo, hi = np.array([-5.0, 0.0, 100.0]), np.array([5.0, 20.0, 130.0])
    assert np.all(pos >= lo) and np.all(pos < hi)
    for axis in range(3):
        u = (pos[:, axis] - lo[axis]) / (hi[axis] - lo[axis])
        assert stats.kstest(u, "uniform").pvalue > 1e-3


def test_random_box_seeding():
    a = random_box(100, 7.0, seed=11)
    np.testing.assert_array_equal(a, random_box(100, 7.0, seed=11))
    np.testing.assert_array_equal(a, random_box(100, 7.0, seed=np.random.default_rng(11)))
    assert not np.array_equal(a, random_box(100, 7.0, seed=12))


def test_random_sphere_radial_distribution_matches_volume_cdf():
    radius = 40.0
    center = np.array([1.0, 2.0, -3.0])
    pos = random_sphere(20000, radius, seed=5, center_um=center)
    assert pos.shape == (20000, 3)
    r = np.linalg.norm(pos - center, axis=1)
    assert r.max() <= radius
    # P(r <= x) = (x / R)^3, so (r / R)^3 is uniform on [0, 1].
    assert stats.kstest((r / radius) ** 3, "uniform").pvalue > 1e-3
    # A wrong radial law (r = R u, uniform in radius) must fail the same test.
    wrong = radius * np.random.default_rng(5).random(20000)
    assert stats.kstest((wrong / radius) ** 3, "uniform").pvalue < 1e-6
    # Isotropy: z / r is uniform on [-1, 1] for a uniform direction (Archimedes).
    cos_theta = (pos[:, 2] - center[2]) / r
    assert stats.kstest(cos_theta, "uniform", args=(-1.0, 2.0)).pvalue > 1e-3


def test_random_sphere_seeding():
    np.testing.assert_array_equal(random_sphere(50, 3.0, seed=1), random_sphere(50, 3.0, seed=1))
    assert not np.array_equal(random_sphere(50, 3.0, seed=1), random_sphere(50, 3.0, seed=2))


# --------------------------------------------------------------------------- columns


def test_columns_on_axis_order_and_depths():
    pos = columns((2, 3), 4, 5, column_spacing_um=100.0, layer_depth_um=50.0)
    assert pos.shape == (2 * 3 * 4 * 5, 3)
    for cx, cy, layer, j in np.ndindex(2, 3, 4, 5):
        i = ((cx * 3 + cy) * 4 + layer) * 5 + j
        np.testing.assert_array_equal(pos[i], [100.0 * cx, 100.0 * cy, 50.0 * layer])


def test_columns_disc_radius_and_per_layer_counts():
    counts = [3, 1, 4]
    pos = columns((2, 2), 3, counts, column_spacing_um=(100.0, 200.0), layer_depth_um=30.0, column_radius_um=10.0, seed=2)
    assert pos.shape == (4 * 8, 3)
    per_column = pos.reshape(4, 8, 3)
    centres = np.array([[0.0, 0.0], [0.0, 200.0], [100.0, 0.0], [100.0, 200.0]])
    np.testing.assert_array_equal(per_column[:, :, 2], np.tile(np.repeat([0.0, 30.0, 60.0], counts), (4, 1)))
    r = np.linalg.norm(per_column[:, :, :2] - centres[:, None, :], axis=2)
    assert r.max() <= 10.0


def test_columns_disc_is_uniform_in_area():
    pos = columns((1, 1), 1, 20000, column_spacing_um=1.0, layer_depth_um=1.0, column_radius_um=5.0, seed=9)
    r = np.linalg.norm(pos[:, :2], axis=1)
    # Uniform in a disc: P(r <= x) = (x / R)^2.
    assert stats.kstest((r / 5.0) ** 2, "uniform").pvalue > 1e-3
    angle = np.arctan2(pos[:, 1], pos[:, 0])
    assert stats.kstest(angle, "uniform", args=(-np.pi, 2 * np.pi)).pvalue > 1e-3
    np.testing.assert_array_equal(
        pos,
        columns((1, 1), 1, 20000, column_spacing_um=1.0, layer_depth_um=1.0, column_radius_um=5.0, seed=9),
    )


# --------------------------------------------------------------------------- as_positions


def test_as_positions_returns_readonly_float_copy():
    src = np.arange(12).reshape(4, 3)
    out = as_positions(src, 4)
    assert out.dtype == np.float64 and out.shape == (4, 3)
    assert not out.flags.writeable
    np.testing.assert_array_equal(out, src)
    src[0, 0] = 99
    assert out[0, 0] == 0.0
    assert as_positions([[1, 2, 3]], None).shape == (1, 3)
    assert as_positions(np.empty((0, 3)), None).shape == (0, 3)


@pytest.mark.parametrize(
    ("positions", "n", "exc", "match"),
    [
        (np.zeros((4, 2)), 4, LayoutError, r"pos has shape \(4, 2\).*\(4, 3\)"),
        (np.zeros((5, 3)), 4, LayoutError, r"pos has shape \(5, 3\).*\(4, 3\)"),
        (np.zeros(3), None, LayoutError, r"pos has shape \(3,\)"),
        (np.array([[0.0, np.nan, 0.0]]), 1, LayoutError, r"pos\[0, 1\]=.*nan.*finite"),
        (np.array([[0.0, 0.0, np.inf]]), 1, LayoutError, r"pos\[0, 2\]=.*inf.*finite"),
        ([["a", "b", "c"]], 1, SNNTypeError, r"pos=.*real numbers"),
        (np.ones((1, 3), dtype=bool), 1, SNNTypeError, r"pos=.*real numbers"),
    ],
)
def test_as_positions_errors(positions, n, exc, match):
    with pytest.raises(exc, match=match):
        as_positions(positions, n, name="pos")


# --------------------------------------------------------------------------- bad arguments


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (lambda: grid((3, 0, 2)), LayoutError, r"shape\[1\]=0"),
        (lambda: grid((3, -1)), LayoutError, r"shape\[1\]=-1"),
        (lambda: grid((2, 2, 2, 2)), LayoutError, r"shape=.*1 to 3"),
        (lambda: grid((2.0, 3)), SNNTypeError, r"shape\[0\]=2\.0.*int"),
        (lambda: grid((2, 2), spacing_um=0.0), LayoutError, r"spacing_um=0\.0.*> 0"),
        (lambda: grid((2, 2), spacing_um=(1.0, 2.0)), LayoutError, r"spacing_um=.*3-vector"),
        (lambda: grid((2, 2), origin_um=(0.0, np.nan, 0.0)), LayoutError, r"origin_um=.*finite"),
        (lambda: random_box(0, 1.0, seed=0), LayoutError, r"n=0.*positive"),
        (lambda: random_box(10.0, 1.0, seed=0), SNNTypeError, r"n=10\.0.*int"),
        (lambda: random_box(True, 1.0, seed=0), SNNTypeError, r"n=True.*int"),
        (lambda: random_box(10, (1.0, -1.0, 1.0), seed=0), LayoutError, r"size_um=.*> 0"),
        (lambda: random_box(10, 1.0, seed=-1), LayoutError, r"seed=-1.*non-negative"),
        (lambda: random_box(10, 1.0, seed="x"), SNNTypeError, r"seed='x'"),
        (lambda: random_sphere(10, 0.0, seed=0), LayoutError, r"radius_um=0\.0.*> 0"),
        (lambda: random_sphere(10, float("inf"), seed=0), LayoutError, r"radius_um=inf.*finite"),
        (lambda: random_sphere(10, 1.0, center_um="abc"), SNNTypeError, r"center_um='abc'"),
        (lambda: columns((2, 2, 2), 1, 1, column_spacing_um=1.0, layer_depth_um=1.0), LayoutError, r"grid_shape=.*1 to 2"),
        (lambda: columns((2, 2), 0, 1, column_spacing_um=1.0, layer_depth_um=1.0), LayoutError, r"n_layers=0"),
        (lambda: columns((2, 2), 2, [1, 2, 3], column_spacing_um=1.0, layer_depth_um=1.0), LayoutError, r"neurons_per_layer=.*n_layers=2"),
        (lambda: columns((2, 2), 2, [1, 0], column_spacing_um=1.0, layer_depth_um=1.0), LayoutError, r"neurons_per_layer\[1\]=0"),
        (lambda: columns((2, 2), 1, 1, column_spacing_um=-1.0, layer_depth_um=1.0), LayoutError, r"column_spacing_um=-1\.0"),
        (lambda: columns((2, 2), 1, 1, column_spacing_um=1.0, layer_depth_um=0.0), LayoutError, r"layer_depth_um=0\.0"),
        (
            lambda: columns((2, 2), 1, 1, column_spacing_um=1.0, layer_depth_um=1.0, column_radius_um=-2.0),
            LayoutError,
            r"column_radius_um=-2\.0.*>= 0",
        ),
    ],
)
def test_bad_arguments_name_the_argument(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_errors_are_value_and_type_errors():
    with pytest.raises(ValueError):
        grid((0,))
    with pytest.raises(TypeError):
        grid((1.5,))


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: grid((3, 1, 1), spacing_um=1e308), "grid.*spacing_um=1e"),
        (lambda: random_box(50, 1e308, origin_um=1e308), "random_box.*size_um"),
        (lambda: random_sphere(50, 1e308, center_um=1e308, seed=0), "random_sphere.*radius_um"),
    ],
)
def test_layouts_refuse_positions_that_overflow_to_inf(call, match):
    with pytest.warns(RuntimeWarning), pytest.raises(LayoutError, match=match):
        call()
