"""Shared records and checks of the task modules.

Every task module (``tasks/<name>.py``) has a ``Problem`` record,
``random_problem(..., seed)``, ``solve(problem, *, n_steps, rtol, engine, simulate,
seed, callback) -> SolveResult``, ``reference(problem)`` and
``dense_baseline(problem, device) -> BaselineResult``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from snn.errors import SNNError

__all__ = [
    "SolveResult",
    "BaselineResult",
    "TaskError",
    "finite_array",
    "CONVERGED",
    "MAXITER",
    "STATUS_MESSAGES",
    "NONFINITE",
    "check_callback",
    "check_device",
    "real_array",
    "final_status",
]

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
    #: kernel launches and blocking device-to-host reads of one run, counted by
    #: running it under a dispatch counter (``energy.baseline.with_launch_counts``); None: not counted
    kernel_launches: int | None = None
    host_syncs: int | None = None


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


# ---------------------------------------------------------------------------------------------
# shared checks of the solvers (issue 17)

#: status code of a run whose solution or error metrics are not finite: never a success
NONFINITE = 2
STATUS_MESSAGES[NONFINITE] = "the solution or its error metrics are not finite (NaN or inf): not a success"

#: devices :func:`check_device` accepts
DEVICE_KINDS = ("cpu", "cuda")


def check_callback(callback: Any) -> Callable[..., Any] | None:
    """``callback`` if it is ``None`` or callable (``callback(t, x)``), else a :class:`TaskError` before any run."""
    if callback is not None and not callable(callback):
        raise TaskError(f"callback={callback!r}: must be None or a callable callback(t, x) (t: steps so far, x: the decoded solution)")
    return callback


def check_device(device: Any) -> str:
    """``device`` as a torch device string (``"cpu"``, ``"cuda"``, ``"cuda:N"``), or a :class:`TaskError` naming it.

    ``"cuda"`` is refused when torch sees no CUDA device (and ``"cuda:N"`` when
    there are not ``N + 1`` of them), rather than failing inside torch.
    """
    import torch

    if isinstance(device, torch.device):
        device = str(device)
    if not isinstance(device, str):
        raise TaskError(f"device={device!r}: must be a string, one of 'cpu', 'cuda' or 'cuda:N'")
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError):
        raise TaskError(f"device={device!r}: not a device; allowed: 'cpu', 'cuda' or 'cuda:N'") from None
    if dev.type not in DEVICE_KINDS:
        raise TaskError(f"device={device!r}: allowed: 'cpu', 'cuda' or 'cuda:N'")
    if dev.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise TaskError(f"device={device!r}: torch sees no CUDA device here; use device='cpu'")
        if dev.index is not None and dev.index >= count:
            raise TaskError(f"device={device!r}: there are only {count} CUDA device(s) (cuda:0..cuda:{count - 1})")
    return str(dev)


def real_array(name: str, value: Any, *, ndim: int | None = None, shape: tuple | None = None) -> np.ndarray:
    """:func:`finite_array` that refuses complex data (rather than dropping the imaginary part)."""
    if _is_complex(value):
        raise TaskError(f"{name}: complex values are not allowed (the imaginary part would be dropped); pass real numbers")
    return finite_array(name, value, ndim=ndim, shape=shape)


def _is_complex(value: Any) -> bool:
    dtype = getattr(value, "dtype", None)
    if dtype is None:
        try:
            dtype = np.asarray(value).dtype
        except (TypeError, ValueError):
            return False
    return np.dtype(dtype).kind == "c"


def final_status(stopped: bool, x: Any, errors: Mapping[str, float]) -> int:
    """``CONVERGED`` when the stopping rule held and ``x`` and every error metric are finite, ``NONFINITE`` when
    any of them is NaN or inf, else ``MAXITER``."""
    finite = bool(np.all(np.isfinite(np.asarray(x, dtype=np.float64)))) and all(math.isfinite(float(v)) for v in errors.values())
    if not finite:
        return NONFINITE
    return CONVERGED if stopped else MAXITER
