"""What the grid tasks (:mod:`tasks.poisson`, :mod:`tasks.heat`) share.

The 3D box of grid points and its 7-point-stencil neighbours (found
geometrically from :func:`snn.layout.grid` positions), the checks of grid
problems and solver arguments, and the torch pieces of their dense baselines
(the 7-point stencil as a ``conv3d`` kernel).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.spatial import cKDTree

import snn
from tasks._common import MAXITER, STATUS_MESSAGES, TaskError, check_device, finite_array

__all__ = [
    "GRID_SPACING_UM",
    "CONV3D_FLOPS_PER_POINT",
    "shape3",
    "check_grid",
    "check_h",
    "positive_int",
    "positive_float",
    "simulator",
    "norm2",
    "finite_status",
    "neighbours",
    "grid_geometry",
    "torch_device",
    "sync",
    "stencil_kernel",
]

#: distance between neighbouring neurons of the grid layout, in µm (layout only: it does not enter the maths)
GRID_SPACING_UM = 10.0
#: FLOPs of one 3x3x3 ``conv3d`` output point (27 multiply-adds), as executed by a direct convolution
CONV3D_FLOPS_PER_POINT = 2 * 27


# --------------------------------------------------------------------------- checks


def shape3(shape: Any) -> tuple[int, int, int]:
    """``shape`` as ``(nx, ny, nz)`` (an int means a cube), or a :class:`TaskError` naming it."""
    if isinstance(shape, numbers.Integral) and not isinstance(shape, bool):
        shape = (shape, shape, shape)
    if not isinstance(shape, (tuple, list)) or len(shape) != 3:
        raise TaskError(f"shape={shape!r}: must be an int or a tuple (nx, ny, nz) of positive ints")
    for s in shape:
        if isinstance(s, bool) or not isinstance(s, numbers.Integral) or s < 1:
            raise TaskError(f"shape={shape!r}: must be an int or a tuple (nx, ny, nz) of positive ints")
    return (int(shape[0]), int(shape[1]), int(shape[2]))


def check_grid(name: str, value: Any) -> np.ndarray:
    """``value`` as a read-only float64 ``(nx, ny, nz)`` array of finite real numbers (complex data is refused)."""
    if np.iscomplexobj(value):
        raise TaskError(f"{name}: must be real; got complex values (pass the real part explicitly if that is what you mean)")
    arr = finite_array(name, value, ndim=3)
    if min(arr.shape) < 1:
        raise TaskError(f"{name}: must have at least one grid point along every axis, got shape {arr.shape}")
    arr.setflags(write=False)
    return arr


def check_h(h: Any) -> float:
    """The grid spacing as a positive finite float."""
    if isinstance(h, bool) or not isinstance(h, numbers.Real) or not math.isfinite(float(h)) or float(h) <= 0:
        raise TaskError(f"h={h!r}: must be a positive, finite grid spacing")
    return float(h)


def positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise TaskError(f"{name}={value!r}: must be a positive int")
    return int(value)


def positive_float(name: str, value: Any, *, allow_zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(float(value)):
        raise TaskError(f"{name}={value!r}: must be a finite number")
    if float(value) < 0 or (float(value) == 0 and not allow_zero):
        raise TaskError(f"{name}={value!r}: must be {'>= 0' if allow_zero else '> 0'}")
    return float(value)


def simulator(simulate: Callable | None) -> Callable:
    """``simulate`` (default :func:`snn.simulate`) if callable, else a :class:`TaskError`."""
    if simulate is None:
        return snn.simulate
    if not callable(simulate):
        raise TaskError(f"simulate={simulate!r}: must be None or a callable with snn.simulate's signature")
    return simulate


def norm2(v: np.ndarray) -> float:
    """The 2-norm of ``v`` without overflow for large finite entries (scaled by ``max|v|``); NaN/inf propagate."""
    v = np.asarray(v, dtype=np.float64).ravel()
    if v.size == 0:
        return 0.0
    top = float(np.max(np.abs(v)))
    if top == 0.0 or not math.isfinite(top):
        return top
    return top * float(np.linalg.norm(v / top))


def finite_status(status: int, x: np.ndarray, errors: dict[str, float]) -> tuple[int, str]:
    """``(status, message)`` of a result: never a success when ``x`` or an error metric is NaN or inf.

    Then the status is ``MAXITER`` (the stopping rule was not met in finite
    numbers) and the message says what is not finite.
    """
    if not np.all(np.isfinite(x)):
        return MAXITER, "the decoded solution is not finite (NaN or inf), so it is not a success"
    bad = sorted(k for k, v in errors.items() if not math.isfinite(v))
    if bad:
        return MAXITER, f"error metrics {bad} are not finite (the solution or the reference overflowed), so it is not a success"
    return status, STATUS_MESSAGES[status]


# --------------------------------------------------------------------------- geometry


def neighbours(positions_um: np.ndarray, spacing_um: float) -> sp.csr_matrix:
    """0/1 matrix of grid neighbours: pairs at distance ``spacing_um`` (found with a k-d tree)."""
    tree = cKDTree(positions_um)
    dist = tree.sparse_distance_matrix(tree, max_distance=1.01 * spacing_um, output_type="coo_matrix")
    keep = (dist.row != dist.col) & (dist.data > 0.5 * spacing_um)
    n = positions_um.shape[0]
    return sp.csr_matrix((np.ones(int(keep.sum())), (dist.row[keep], dist.col[keep])), shape=(n, n))


def grid_geometry(shape: tuple[int, int, int]) -> tuple[np.ndarray, sp.csr_matrix]:
    """Positions ``(n, 3)`` of the grid points (C order) and their neighbour matrix ``(n, n)``."""
    pos = snn.layout.grid(shape, spacing_um=GRID_SPACING_UM)
    return pos, neighbours(pos, GRID_SPACING_UM)


# --------------------------------------------------------------------------- torch (dense baselines)


def torch_device(device: Any):
    """``(torch, torch.device)`` for a device checked by :func:`tasks._common.check_device`."""
    text = check_device(device)
    import torch

    return torch, torch.device(text)


def sync(torch, dev) -> None:
    """Wait for the device (CUDA timings)."""
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def stencil_kernel(torch, dev, dtype, centre: float, neighbour: float):
    """The 7-point stencil as a ``(1, 1, 3, 3, 3)`` ``conv3d`` kernel."""
    k = torch.zeros((1, 1, 3, 3, 3), dtype=dtype, device=dev)
    k[0, 0, 1, 1, 1] = centre
    for d in ((0, 1, 1), (2, 1, 1), (1, 0, 1), (1, 2, 1), (1, 1, 0), (1, 1, 2)):
        k[(0, 0) + d] = neighbour
    return k
