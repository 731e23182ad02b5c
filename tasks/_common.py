"""Shared records and checks of the task modules.

Every task module (``tasks/<name>.py``) has a ``Problem`` record,
``random_problem(..., seed)``, ``solve(problem, *, n_steps, rtol, engine, simulate,
seed, callback) -> SolveResult``, ``reference(problem)`` and
``dense_baseline(problem, device) -> BaselineResult``.
"""

from __future__ import annotations

import dataclasses
import importlib
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

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
    "TASKS",
    "save_problem",
    "load_problem",
    "convergence_trace",
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
    """A conventional algorithm's run: dense torch (``dense_baseline``) or a compiled CPU library (``cpu_baseline``).

    ``flops`` and ``bytes_moved`` are counted from the algorithm (not measured);
    ``wall_time_s`` is measured on ``device`` (with CUDA synchronisation; a
    ``cpu_baseline`` gives the median of repeated runs, ``info["repeats"]``).
    ``accuracy`` is ``{metric: value}`` on the spiking solver's own metrics
    (the task's ``accuracy`` function, the one ``solve`` fills ``errors`` with);
    ``target`` is the accuracy the run was asked to reach (``None``: the
    algorithm's own stopping rule) and ``reached`` whether every targeted
    metric is ``<=`` its target (``None`` without a target).
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
    accuracy: Mapping[str, float] = field(default_factory=dict)
    target: Mapping[str, float] | None = None
    reached: bool | None = None


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


#: the task modules (``tasks.<name>``) whose ``Problem`` :func:`save_problem` / :func:`load_problem` handle
TASKS = ("linear", "lasso", "qp", "poisson", "heat", "shortest_path", "qubo")


def _task_of(problem: Any) -> str:
    module = type(problem).__module__
    name = module.rsplit(".", 1)[-1]
    if not module.startswith("tasks.") or name not in TASKS or not dataclasses.is_dataclass(problem):
        raise TaskError(f"problem={type(problem).__name__} ({module}): must be the Problem of one of the tasks {list(TASKS)}")
    return name


def save_problem(problem: Any, path: str | os.PathLike) -> None:
    """Write a task's ``Problem`` to a ``.npz`` file (no pickle), atomically.

    Keys: ``__task__`` (the task name, e.g. ``"qp"``); a field holding an
    array or a number is stored under its name (a number as a 0-d array); a
    SciPy sparse field ``F`` as ``F.data``, ``F.indices``, ``F.indptr`` and
    ``F.shape`` (CSR); a field that is ``None`` is left out (its default).
    :func:`load_problem` reads it back, validated by the task's ``Problem``.
    """
    task = _task_of(problem)
    arrays: dict[str, np.ndarray] = {"__task__": np.array(task)}
    for f in dataclasses.fields(problem):
        value = getattr(problem, f.name)
        if value is None:
            continue
        if sp.issparse(value):
            m = sp.csr_matrix(value)
            arrays[f"{f.name}.data"] = np.asarray(m.data, dtype=np.float64)
            arrays[f"{f.name}.indices"] = np.asarray(m.indices, dtype=np.int64)
            arrays[f"{f.name}.indptr"] = np.asarray(m.indptr, dtype=np.int64)
            arrays[f"{f.name}.shape"] = np.asarray(m.shape, dtype=np.int64)
        else:
            arr = np.asarray(value)
            if arr.dtype == object:
                raise TaskError(f"problem.{f.name}={value!r}: cannot be stored without pickle")
            arrays[f.name] = arr
    import snn.io

    snn.io.atomic_write_bytes(path, lambda fh: np.savez(fh, **arrays))


def load_problem(path: str | os.PathLike, task: str | None = None) -> Any:
    """Read a ``Problem`` written by :func:`save_problem` (``allow_pickle=False``).

    ``task``, if given, must match the file's ``__task__``.  Raises
    :class:`TaskError` for a file that is not such a problem.
    """
    try:
        with np.load(os.fspath(path), allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError) as exc:
        raise TaskError(f"problem file {os.fspath(path)!r}: not a readable .npz without pickle ({exc})") from None
    name = str(arrays.pop("__task__", ""))
    if name not in TASKS:
        raise TaskError(f"problem file {os.fspath(path)!r}: __task__={name!r}; allowed: {list(TASKS)} (write it with save_problem)")
    if task is not None and task != name:
        raise TaskError(f"task={task!r}: the problem file {os.fspath(path)!r} holds a {name!r} problem")
    cls = importlib.import_module(f"tasks.{name}").Problem
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        if f"{f.name}.data" in arrays:
            shape = tuple(int(s) for s in arrays[f"{f.name}.shape"])
            kwargs[f.name] = sp.csr_matrix((arrays[f"{f.name}.data"], arrays[f"{f.name}.indices"], arrays[f"{f.name}.indptr"]), shape=shape)
        elif f.name in arrays:
            arr = arrays[f.name]
            kwargs[f.name] = arr.item() if arr.ndim == 0 else arr
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise TaskError(f"problem file {os.fspath(path)!r}: does not hold a {name} Problem ({exc})") from None


def convergence_trace(result: Any) -> dict[str, list[float]] | None:
    """The solver's error against simulation steps, from what its ``solve`` recorded, or None when it records none.

    ``{"steps": [...], metric: [...]}`` (the form ``energy.compare(accuracy_trace=)``
    takes), one metric per task: linear ``rel_residual`` and lasso ``rel_gap``
    (their stopping metrics, at every check), QP the largest KKT residual,
    Poisson ``rel_residual``, QUBO the running best energy's ``gap`` to the
    reference (exactly 0 once the reference energy is found; a log axis leaves
    those points out).  Heat (time stepping) and shortest paths (exact once the
    wave has passed) have no iterative error to trace.
    """
    info = getattr(result, "info", None) or {}
    hist = info.get("history")
    if hist and isinstance(hist[0][1], Mapping):  # qp: (step, {residual: value}, messages)
        return {"steps": [float(h[0]) for h in hist], "max KKT residual": [float(max(h[1].values())) for h in hist]}
    if hist and len(hist[0]) == 4:  # linear: (step, relative residual, threshold, messages)
        return {"steps": [float(h[0]) for h in hist], "rel_residual": [float(h[1]) for h in hist]}
    if hist and len(hist[0]) == 3:  # lasso: (step, relative gap, spikes)
        return {"steps": [float(h[0]) for h in hist], "rel_gap": [float(h[1]) for h in hist]}
    if "steps" in info and "rel_residual" in info:  # poisson
        return {"steps": [float(s) for s in info["steps"]], "rel_residual": [float(r) for r in info["rel_residual"]]}
    if "energy_per_step" in info and getattr(result, "errors", None) and "reference_energy" in result.errors:
        e = np.minimum.accumulate(np.asarray(info["energy_per_step"], dtype=np.float64))
        ref = float(result.errors["reference_energy"])
        gap = (e - ref) / abs(ref) if ref != 0 else np.abs(e)
        k = np.unique(np.round(np.geomspace(1, e.size, min(e.size, 60))).astype(int)) - 1  # a readable number of points
        return {"steps": [float(i + 1) for i in k], "gap": [float(g) for g in gap[k]]}
    return None
