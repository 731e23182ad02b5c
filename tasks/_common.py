"""Shared records and checks of the task modules.

Every task module (``tasks/<name>.py``) has a ``Problem`` record,
``random_problem(..., seed)``, ``solve(problem, *, n_steps, rtol, engine, simulate,
seed, callback) -> SolveResult``, ``reference(problem)`` and
``dense_baseline(problem, device) -> BaselineResult``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from snn.errors import SNNError

__all__ = ["SolveResult", "BaselineResult", "TaskError", "finite_array", "CONVERGED", "MAXITER", "STATUS_MESSAGES"]

#: status codes of :class:`SolveResult` (scipy habit: 0 is success)
CONVERGED = 0
MAXITER = 1
STATUS_MESSAGES = {CONVERGED: "converged: the stopping rule was met", MAXITER: "n_steps exhausted before the stopping rule was met"}


class TaskError(SNNError, ValueError):
    """A task problem or solver argument is invalid."""


@dataclass(frozen=True, eq=False)
class SolveResult:
    """What a spiking solver returns (``scipy.optimize.OptimizeResult`` habits).

    Attributes
    ----------
    x : ndarray
        The decoded solution.
    success : bool
    status : int
        ``CONVERGED`` (0) or ``MAXITER`` (1).
    message : str
    n_steps : int
        Simulation steps taken (to convergence, or all of them).
    errors : dict
        Named error metrics against :func:`reference` (e.g. ``rel_residual``, ``rel_error``).
    run : snn.RunResult
        The simulation, with its op counts.
    network : snn.Network
        The network that was built.
    reference : ndarray or None
        The conventional solution the errors were measured against.
    info : dict
        Task-specific extras (e.g. per-step residuals).
    """

    x: np.ndarray
    success: bool
    status: int
    message: str
    n_steps: int
    errors: Mapping[str, float]
    run: Any
    network: Any
    reference: Any = None
    info: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class BaselineResult:
    """The conventional iterative algorithm run densely in torch.

    ``flops`` and ``bytes_moved`` are counted from the algorithm (not measured);
    ``wall_time_s`` is measured on ``device`` (with CUDA synchronisation).
    """

    x: np.ndarray
    wall_time_s: float
    flops: int
    bytes_moved: int
    n_iter: int
    device: str
    algorithm: str
    dtype: str = "float32"
    info: Mapping[str, Any] = field(default_factory=dict)


def finite_array(name: str, value: Any, *, ndim: int | None = None, shape: tuple | None = None) -> np.ndarray:
    """``value`` as a float64 array, or a :class:`TaskError` naming ``name``."""
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TaskError(f"{name}: must be a numeric array, got {type(value).__name__}") from None
    if ndim is not None and arr.ndim != ndim:
        raise TaskError(f"{name}: must be {ndim}-D, got shape {arr.shape}")
    if shape is not None and arr.shape != shape:
        raise TaskError(f"{name}: must have shape {shape}, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise TaskError(f"{name}: contains NaN or inf; all values must be finite")
    return arr
