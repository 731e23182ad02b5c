"""3D layouts: where the neurons of a population sit, in micrometres.

Every function here returns an ``(n, 3)`` ``float64`` array of ``(x, y, z)``
positions in µm, the form a population stores and the connection rules of
:mod:`snn.connect` consume.  Random layouts take ``seed`` (``None``, an ``int``
or a :class:`numpy.random.Generator`); the same seed gives the same positions.

Examples
--------
>>> import numpy as np
>>> from snn.layout import grid, random_sphere
>>> grid((2, 1, 3), spacing_um=10.0)[:4]
array([[ 0.,  0.,  0.],
       [ 0.,  0., 10.],
       [ 0.,  0., 20.],
       [10.,  0.,  0.]])
>>> random_sphere(1000, 50.0, seed=1).shape
(1000, 3)
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np

from snn.errors import LayoutError, SNNTypeError, bad_value

__all__ = [
    "Seed",
    "grid",
    "random_box",
    "random_sphere",
    "columns",
    "as_positions",
]

#: What a ``seed`` argument accepts.
Seed = int | np.random.Generator | None

Vector3 = float | Sequence[float] | np.ndarray


# --------------------------------------------------------------------------- helpers


def _as_rng(seed: Seed, name: str = "seed") -> np.random.Generator:
    """Return a Generator for ``seed`` (``None``, an int >= 0, or a Generator, used as is)."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None:
        return np.random.default_rng()
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise SNNTypeError(f"{name}={seed!r}: expected None, a non-negative int or a numpy.random.Generator, got {type(seed).__name__}")
    if seed < 0:
        raise bad_value(LayoutError, name, seed, "must be a non-negative integer")
    return np.random.default_rng(int(seed))


def _count(value: object, name: str, *, minimum: int = 1) -> int:
    """Validate an integer count (``bool`` and floats are rejected)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise SNNTypeError(f"{name}={value!r}: expected an int, got {type(value).__name__}")
    if value < minimum:
        what = "positive" if minimum == 1 else f">= {minimum}"
        raise bad_value(LayoutError, name, value, f"must be an integer {what}")
    return int(value)


def _float_array(value: object, name: str) -> np.ndarray:
    """Convert to a float64 array, rejecting non-numeric (and boolean) input."""
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError) as exc:  # ragged sequences
        raise SNNTypeError(f"{name}={value!r}: expected numbers ({exc})") from None
    if arr.dtype.kind not in "iuf":
        raise SNNTypeError(f"{name}={value!r}: expected real numbers, got an array of dtype {arr.dtype}")
    return arr.astype(np.float64)


def _vec3(value: Vector3, name: str, *, positive: bool) -> np.ndarray:
    """A scalar or 3-vector as a finite float64 ``(3,)`` array (optionally all > 0)."""
    arr = _float_array(value, name)
    if arr.ndim == 0:
        arr = np.full(3, float(arr))
    if arr.shape != (3,):
        raise bad_value(LayoutError, name, value, f"must be a scalar or a 3-vector (x, y, z), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise bad_value(LayoutError, name, value, "must be finite")
    if positive and not np.all(arr > 0):
        raise bad_value(LayoutError, name, value, "must be > 0 in every dimension")
    return arr


def _scalar(value: object, name: str, *, positive: bool, allow_zero: bool = False) -> float:
    """A finite float (optionally > 0, or >= 0 with ``allow_zero``)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise SNNTypeError(f"{name}={value!r}: expected a real number, got {type(value).__name__}")
    x = float(value)
    if not np.isfinite(x):
        raise bad_value(LayoutError, name, value, "must be finite")
    if positive and allow_zero and x < 0:
        raise bad_value(LayoutError, name, value, "must be >= 0")
    if positive and not allow_zero and x <= 0:
        raise bad_value(LayoutError, name, value, "must be > 0")
    return x


def _shape(value: object, name: str, *, max_len: int = 3) -> tuple[int, ...]:
    """A tuple of 1..max_len positive ints, padded with 1 to length ``max_len``."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = (value,)
    if not isinstance(value, (tuple, list)) or not 1 <= len(value) <= max_len:
        raise bad_value(LayoutError, name, value, f"must be a tuple of 1 to {max_len} positive ints")
    dims = tuple(_count(v, f"{name}[{i}]") for i, v in enumerate(value))
    return dims + (1,) * (max_len - len(dims))


def _finite(pos: np.ndarray, layout: str, **args: object) -> np.ndarray:
    """``pos`` if every coordinate is finite; else a LayoutError naming the arguments (float overflow)."""
    with np.errstate(over="ignore", invalid="ignore"):
        ok = bool(np.all(np.isfinite(pos)))
    if not ok:
        given = ", ".join(f"{k}={v!r}" for k, v in args.items())
        raise LayoutError(
            f"{layout}({given}): positions overflow the float64 range (|x| > {np.finfo(np.float64).max:.3g} um); "
            "allowed are values whose positions stay finite"
        )
    return pos


# --------------------------------------------------------------------------- layouts


def grid(
    shape: int | Sequence[int],
    spacing_um: Vector3 = 1.0,
    origin_um: Vector3 = (0.0, 0.0, 0.0),
) -> np.ndarray:
    """Positions on a regular 3D grid.

    Parameters
    ----------
    shape : int or tuple of int
        ``(nx, ny, nz)``, positive.  A 1- or 2-tuple (or an int) is padded with
        1, so ``(nx, ny)`` is a sheet in the ``z = origin`` plane.
    spacing_um : float or (3,) array_like
        Distance between neighbours along each axis, > 0.
    origin_um : (3,) array_like
        Position of the neuron at index ``(0, 0, 0)``.

    Returns
    -------
    positions_um : (nx * ny * nz, 3) float64
        Neuron ``i = (ix * ny + iy) * nz + iz`` (C order: ``x`` slowest, ``z``
        fastest) sits at ``origin_um + (ix, iy, iz) * spacing_um``.

    Raises
    ------
    LayoutError, SNNTypeError
        On a non-positive or non-integer shape, or a bad spacing or origin.
    """
    dims = _shape(shape, "shape")
    spacing = _vec3(spacing_um, "spacing_um", positive=True)
    origin = _vec3(origin_um, "origin_um", positive=False)
    index = np.indices(dims, dtype=np.float64).reshape(3, -1).T
    return _finite(origin + index * spacing, "grid", spacing_um=spacing_um, origin_um=origin_um)


def random_box(
    n: int,
    size_um: Vector3,
    *,
    seed: Seed = None,
    origin_um: Vector3 = (0.0, 0.0, 0.0),
) -> np.ndarray:
    """Positions drawn uniformly in an axis-aligned box.

    Parameters
    ----------
    n : int
        Number of neurons, positive.
    size_um : float or (3,) array_like
        Edge lengths of the box, > 0 (a scalar gives a cube).
    seed : None, int or numpy.random.Generator
        Source of randomness.
    origin_um : (3,) array_like
        Lower corner of the box.

    Returns
    -------
    positions_um : (n, 3) float64
        Each coordinate lies in ``[origin, origin + size)``.
    """
    n = _count(n, "n")
    size = _vec3(size_um, "size_um", positive=True)
    origin = _vec3(origin_um, "origin_um", positive=False)
    rng = _as_rng(seed)
    return _finite(origin + rng.random((n, 3)) * size, "random_box", size_um=size_um, origin_um=origin_um)


def random_sphere(
    n: int,
    radius_um: float,
    *,
    seed: Seed = None,
    center_um: Vector3 = (0.0, 0.0, 0.0),
) -> np.ndarray:
    """Positions drawn uniformly in a solid ball.

    Directions are uniform on the sphere (normalised Gaussian vectors) and the
    radius is ``r = radius_um * u ** (1/3)`` with ``u ~ U[0, 1)``, so the density
    is uniform in volume: ``P(r <= x) = (x / radius_um) ** 3``.

    Parameters
    ----------
    n : int
        Number of neurons, positive.
    radius_um : float
        Radius of the ball, > 0.
    seed : None, int or numpy.random.Generator
        Source of randomness.
    center_um : (3,) array_like
        Centre of the ball.

    Returns
    -------
    positions_um : (n, 3) float64
        Every row is within ``radius_um`` of ``center_um``.
    """
    n = _count(n, "n")
    radius = _scalar(radius_um, "radius_um", positive=True)
    center = _vec3(center_um, "center_um", positive=False)
    rng = _as_rng(seed)
    direction = rng.standard_normal((n, 3))
    norm = np.linalg.norm(direction, axis=1, keepdims=True)
    # A zero Gaussian vector has probability 0; guard anyway so it maps to the centre.
    direction = np.divide(direction, norm, out=np.zeros_like(direction), where=norm > 0)
    r = radius * np.cbrt(rng.random((n, 1)))
    return _finite(center + direction * r, "random_sphere", radius_um=radius_um, center_um=center_um)


def columns(
    grid_shape: int | Sequence[int],
    n_layers: int,
    neurons_per_layer: int | Sequence[int],
    *,
    column_spacing_um: Vector3,
    layer_depth_um: float,
    column_radius_um: float = 0.0,
    seed: Seed = None,
    origin_um: Vector3 = (0.0, 0.0, 0.0),
) -> np.ndarray:
    """A 2D sheet of cortical-style columns, each a stack of layers along ``z``.

    Column ``(cx, cy)`` has its axis at ``x = origin_x + cx * column_spacing_x``,
    ``y = origin_y + cy * column_spacing_y``; layer ``l`` of every column lies in
    the plane ``z = origin_z + l * layer_depth_um``.  The neurons of one layer
    of one column all sit on the column axis when ``column_radius_um == 0``,
    otherwise uniformly in a disc of that radius around it
    (``r = column_radius_um * sqrt(u)``, uniform angle).

    Parameters
    ----------
    grid_shape : int or tuple of int
        ``(nx, ny)`` columns (an int or 1-tuple means ``ny = 1``), positive.
    n_layers : int
        Layers per column, positive.
    neurons_per_layer : int or sequence of int
        Neurons in each layer of each column: one positive int for all layers,
        or ``n_layers`` positive ints.
    column_spacing_um : float or (2,) array_like
        Distance between neighbouring column axes along ``x`` and ``y``, > 0.
    layer_depth_um : float
        Distance along ``z`` between consecutive layers, > 0.
    column_radius_um : float
        Radius of the disc the neurons of a layer are spread over, >= 0.
    seed : None, int or numpy.random.Generator
        Source of randomness (used only when ``column_radius_um > 0``).
    origin_um : (3,) array_like
        Position of the axis of column ``(0, 0)`` at layer 0.

    Returns
    -------
    positions_um : (nx * ny * sum(neurons_per_layer), 3) float64
        Ordered column first, then layer, then neuron: columns in C order
        (``c = cx * ny + cy``), and within a column layer 0's neurons, then
        layer 1's, ...  With a constant ``neurons_per_layer = k`` the index of
        neuron ``j`` of layer ``l`` of column ``c`` is ``(c * n_layers + l) * k + j``.
    """
    nx, ny = _shape(grid_shape, "grid_shape", max_len=2)
    n_layers = _count(n_layers, "n_layers")
    if isinstance(neurons_per_layer, (list, tuple, np.ndarray)):
        counts = [_count(v, f"neurons_per_layer[{i}]") for i, v in enumerate(neurons_per_layer)]
        if len(counts) != n_layers:
            raise bad_value(
                LayoutError,
                "neurons_per_layer",
                neurons_per_layer,
                f"must be one int or n_layers={n_layers} ints, got {len(counts)}",
            )
    else:
        counts = [_count(neurons_per_layer, "neurons_per_layer")] * n_layers
    spacing = _float_array(column_spacing_um, "column_spacing_um")
    if spacing.ndim == 0:
        spacing = np.full(2, float(spacing))
    if spacing.shape != (2,) or not np.all(np.isfinite(spacing)) or not np.all(spacing > 0):
        raise bad_value(
            LayoutError,
            "column_spacing_um",
            column_spacing_um,
            "must be a finite scalar or (x, y) pair, > 0",
        )
    depth = _scalar(layer_depth_um, "layer_depth_um", positive=True)
    radius = _scalar(column_radius_um, "column_radius_um", positive=True, allow_zero=True)
    origin = _vec3(origin_um, "origin_um", positive=False)

    per_column = int(sum(counts))
    column_xy = np.indices((nx, ny), dtype=np.float64).reshape(2, -1).T * spacing  # (nc, 2)
    layer_of = np.repeat(np.arange(n_layers), counts)  # (per_column,)
    n_columns = nx * ny
    pos = np.empty((n_columns, per_column, 3))
    pos[:, :, :2] = column_xy[:, None, :]
    pos[:, :, 2] = layer_of[None, :] * depth
    pos = pos.reshape(-1, 3)
    if radius > 0:
        rng = _as_rng(seed)
        n = pos.shape[0]
        r = radius * np.sqrt(rng.random(n))
        theta = rng.uniform(0.0, 2.0 * np.pi, n)
        pos[:, 0] += r * np.cos(theta)
        pos[:, 1] += r * np.sin(theta)
    return _finite(pos + origin, "columns", origin_um=origin_um)


# --------------------------------------------------------------------------- validation


def as_positions(positions: object, n: int | None, *, name: str = "positions") -> np.ndarray:
    """Validate positions and return a read-only ``float64`` copy.

    Parameters
    ----------
    positions : array_like, shape (n, 3)
        Positions in µm; real numbers, all finite.
    n : int or None
        Required number of rows; ``None`` accepts any number (including 0).
    name : str
        Argument name used in error messages.

    Returns
    -------
    positions_um : (n, 3) float64
        A C-contiguous copy with ``writeable=False``.

    Raises
    ------
    SNNTypeError
        If ``positions`` is not an array of real numbers.
    LayoutError
        If the shape is not ``(n, 3)`` or a value is NaN or infinite.
    """
    arr = _float_array(positions, name)
    if n is not None:
        n = _count(n, "n", minimum=0)
    if arr.ndim != 2 or arr.shape[1] != 3 or (n is not None and arr.shape[0] != n):
        want = f"({n}, 3)" if n is not None else "(n, 3)"
        raise LayoutError(f"{name} has shape {arr.shape}: must be {want} (x, y, z) positions in um")
    if not np.all(np.isfinite(arr)):
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise LayoutError(f"{name}[{bad[0]}, {bad[1]}]={arr[bad[0], bad[1]]!r}: positions must be finite")
    out = np.array(arr, dtype=np.float64, order="C", copy=True)
    out.flags.writeable = False
    return out
