"""Dense baselines: measured (wall time, NVML energy) or modelled (roofline).

Every result says which it is (``kind`` is ``"measured"`` or ``"modelled"``),
and a CPU wall time is always shown as measured CPU time, never relabelled as a
GPU figure.

- :func:`measure` runs a callable repeatedly in windows of at least
  ``min_window_s`` (100 ms by default; short kernels are repeated), with CUDA
  synchronisation, and reads the board energy counter
  (``nvmlDeviceGetTotalEnergyConsumption`` through nvidia-ml-py) around each
  window.  The idle power is measured first, stated, and subtracted for the
  ``energy_above_idle_j`` figure.
- :func:`model` gives a roofline time (``max(flops / peak, bytes / bandwidth)``)
  and energy (board power for that time) on a named GPU/CPU profile.
- :func:`from_result` turns a task's ``BaselineResult`` (duck-typed: ``x``,
  ``wall_time_s``, ``flops``, ``bytes_moved``, ``n_iter``, ``device``,
  ``algorithm``, ``dtype``) into a measured-time record plus a modelled GPU one.
- :func:`dense_snn_workload` counts the FLOPs and bytes of simulating a spiking
  network densely (snnTorch style: a dense matrix product per projection per step).
"""

from __future__ import annotations

import math
import numbers
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from energy import profiles as _profiles
from energy.errors import BaselineError, ProfileError, SNNTypeError

__all__ = ["BaselineEstimate", "Workload", "measure", "model", "from_result", "dense_snn_workload", "cuda_available"]

_NVML_SOURCE = "NVML nvmlDeviceGetTotalEnergyConsumption (board energy counter, mJ)"


@dataclass(frozen=True)
class BaselineEstimate:
    """Time and energy of one run of a dense baseline.

    Attributes
    ----------
    kind : {"measured", "modelled"}
    label : str
        Short name for tables and plots, e.g. ``"GPU h100 (modelled)"``.
    device : str
        ``"cpu"``, ``"cuda:0 (NVIDIA H100 ...)"`` or the profile name when modelled.
    time_s : float
        Seconds per run (measured wall time, or the roofline time).
    time_kind : str
        ``"measured CPU wall time"``, ``"measured GPU wall time (synchronised)"`` or
        ``"modelled roofline time"``.
    energy_j : float or None
        Joules per run: the board's total (measured) or board power x time
        (modelled); ``None`` when nothing measured or modelled it.
    energy_above_idle_j : float or None
        Measured energy minus idle power x time.
    idle_power_w, power_w : float or None
        Measured idle power, and mean power during the runs.
    n_calls, n_windows : int
        Runs per measurement window, and windows.
    window_s : float or None
        Median window length.
    flops, bytes_moved : int or None
    dtype, algorithm : str
    energy_source : str
    assumptions, notes : tuple of str
    """

    kind: str
    label: str
    device: str
    time_s: float
    time_kind: str
    energy_j: float | None = None
    energy_above_idle_j: float | None = None
    idle_power_w: float | None = None
    power_w: float | None = None
    n_calls: int = 1
    n_windows: int = 0
    window_s: float | None = None
    flops: int | None = None
    bytes_moved: int | None = None
    dtype: str = ""
    algorithm: str = ""
    energy_source: str = ""
    assumptions: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {
            "kind": self.kind,
            "label": self.label,
            "device": self.device,
            "time_s": self.time_s,
            "time_kind": self.time_kind,
            "energy_j": self.energy_j,
            "energy_above_idle_j": self.energy_above_idle_j,
            "idle_power_w": self.idle_power_w,
            "power_w": self.power_w,
            "n_calls": self.n_calls,
            "n_windows": self.n_windows,
            "window_s": self.window_s,
            "flops": self.flops,
            "bytes_moved": self.bytes_moved,
            "dtype": self.dtype,
            "algorithm": self.algorithm,
            "energy_source": self.energy_source,
            "assumptions": list(self.assumptions),
            "notes": list(self.notes),
            "extra": dict(self.extra),
        }


@dataclass(frozen=True)
class Workload:
    """FLOPs and bytes of a dense computation, with how they were counted."""

    flops: int
    bytes_moved: int
    description: str


# ------------------------------------------------------------------------------ measured
def cuda_available() -> bool:
    """True when torch is importable and sees a CUDA device (torch is imported only here)."""
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def _cuda_index(device: str) -> int:
    if device == "cuda":
        return 0
    head, _, idx = device.partition(":")
    if head == "cuda" and idx.isdigit():
        return int(idx)
    raise BaselineError(f"device={device!r}: allowed: 'cpu', 'cuda' or 'cuda:<index>'")


def _default_nvml() -> Any:
    try:
        import pynvml
    except ImportError as exc:
        raise BaselineError("measuring GPU energy needs nvidia-ml-py (pip install 'snn-toolkit[nvml]'), which is not installed") from exc
    return pynvml


def _default_sync(index: int) -> Callable[[], None]:
    try:
        import torch
    except ImportError as exc:
        raise BaselineError("device='cuda' needs torch with CUDA to synchronise the device; torch is not installed") from exc
    if not torch.cuda.is_available():
        raise BaselineError("device='cuda': torch sees no CUDA device on this machine; use device='cpu' or energy.baseline.model(...)")
    return lambda: torch.cuda.synchronize(index)


def _check_positive(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value <= 0:
        raise BaselineError(f"{name}={value!r}: must be a positive number of seconds")
    return float(value)


def measure(
    fn: Callable[[], Any],
    *,
    device: str = "cuda",
    min_window_s: float = 0.1,
    n_windows: int = 3,
    idle_s: float = 0.5,
    label: str | None = None,
    flops: int | None = None,
    bytes_moved: int | None = None,
    dtype: str = "",
    algorithm: str = "",
    nvml: Any = None,
    synchronize: Callable[[], None] | None = None,
    clock: Callable[[], float] = time.perf_counter,
    sleep: Callable[[float], None] = time.sleep,
) -> BaselineEstimate:
    """Measure ``fn()``'s wall time (and, on CUDA, its energy through NVML).

    Parameters
    ----------
    fn : callable
        One run of the baseline (no arguments).  It is called once to warm up,
        once to calibrate, then repeatedly so that each of the ``n_windows``
        measurement windows lasts at least ``min_window_s``.
    device : {"cuda", "cuda:<i>", "cpu"}
        On ``"cpu"`` only the wall time is measured (no energy counter is read).
    min_window_s : float
        Shortest measurement window (the NVML counter needs >= 100 ms to be
        meaningful; shorter runs are repeated).
    n_windows : int
        Windows measured; the medians are reported.
    idle_s : float
        Length of the idle-power measurement before the windows (CUDA only).
    nvml, synchronize, clock, sleep
        Injected dependencies: an object with pynvml's functions (default: the
        ``pynvml`` module of nvidia-ml-py), the device synchronisation (default:
        ``torch.cuda.synchronize``), the clock and the sleep used.  Tests pass fakes.

    Returns
    -------
    BaselineEstimate
        ``kind="measured"``; ``energy_j`` is the board's energy per run with the
        idle power included, ``energy_above_idle_j`` without it.
    """
    if not callable(fn):
        raise SNNTypeError(f"fn={fn!r}: must be a callable taking no arguments (one run of the baseline)")
    min_window_s = _check_positive(min_window_s, "min_window_s")
    idle_s = _check_positive(idle_s, "idle_s")
    if isinstance(n_windows, bool) or not isinstance(n_windows, numbers.Integral) or n_windows < 1:
        raise BaselineError(f"n_windows={n_windows!r}: must be a positive int")
    if not isinstance(device, str):
        raise SNNTypeError(f"device={device!r}: must be 'cpu', 'cuda' or 'cuda:<index>'")
    notes: list[str] = []
    if device == "cpu":
        sync = synchronize or (lambda: None)
        reps, windows = _windows(fn, sync, clock, min_window_s, n_windows, None)
        t = statistics.median(w[0] / reps_i for w, reps_i in windows)
        return BaselineEstimate(
            kind="measured",
            label=label or "CPU (measured time)",
            device="cpu",
            time_s=t,
            time_kind="measured CPU wall time",
            n_calls=reps,
            n_windows=n_windows,
            window_s=statistics.median(w[0] for w, _ in windows),
            flops=flops,
            bytes_moved=bytes_moved,
            dtype=dtype,
            algorithm=algorithm,
            energy_source="none: no CPU energy counter is read",
            notes=("CPU wall time as measured; no energy was measured on the CPU",),
        )
    index = _cuda_index(device)
    nv = _default_nvml() if nvml is None else nvml
    sync = _default_sync(index) if synchronize is None else synchronize
    try:
        nv.nvmlInit()
    except Exception as exc:  # pynvml.NVMLError_LibraryNotFound, _DriverNotLoaded, ...
        raise BaselineError(f"NVML could not start ({type(exc).__name__}: {exc}); is an NVIDIA driver installed?") from exc
    try:
        handle = nv.nvmlDeviceGetHandleByIndex(index)
        name = nv.nvmlDeviceGetName(handle)
        name = name.decode() if isinstance(name, bytes) else str(name)
        try:
            nv.nvmlDeviceGetTotalEnergyConsumption(handle)
            read = lambda: float(nv.nvmlDeviceGetTotalEnergyConsumption(handle)) / 1000.0  # noqa: E731  (mJ -> J)
        except Exception as exc:  # NVMLError_NotSupported and friends: the counter is missing on this GPU
            read = None
            notes.append(f"the NVML energy counter is not available on this GPU ({type(exc).__name__}: {exc}); only time was measured")
        fn()  # warm-up (compilation, allocation)
        sync()
        idle_w = None
        if read is not None:
            e0, t0 = read(), clock()
            sleep(idle_s)
            e1, t1 = read(), clock()
            if t1 <= t0:
                raise BaselineError("the clock did not advance during the idle measurement")
            idle_w = (e1 - e0) / (t1 - t0)
        reps, windows = _windows(fn, sync, clock, min_window_s, n_windows, read)
    finally:
        nv.nvmlShutdown()
    t_run = statistics.median(w[0] / r for w, r in windows)
    energy = above = power = None
    if read is not None:
        energy = statistics.median(w[1] / r for w, r in windows)
        above = statistics.median((w[1] - idle_w * w[0]) / r for w, r in windows)
        power = statistics.median(w[1] / w[0] for w, _ in windows)
        if above < 0:
            notes.append(
                "the energy above idle came out negative: the run is too small for the counter to resolve; read energy_j with care"
            )
    return BaselineEstimate(
        kind="measured",
        label=label or f"GPU {name} (measured)",
        device=f"{device} ({name})",
        time_s=t_run,
        time_kind="measured GPU wall time (synchronised)",
        energy_j=energy,
        energy_above_idle_j=above,
        idle_power_w=idle_w,
        power_w=power,
        n_calls=reps,
        n_windows=n_windows,
        window_s=statistics.median(w[0] for w, _ in windows),
        flops=flops,
        bytes_moved=bytes_moved,
        dtype=dtype,
        algorithm=algorithm,
        energy_source=_NVML_SOURCE if read is not None else "none: NVML energy counter not supported",
        notes=tuple(notes)
        + (
            (f"idle power {idle_w:.1f} W measured over {idle_s} s before the runs; energy_above_idle_j subtracts it",)
            if idle_w is not None
            else ()
        ),
    )


def _windows(fn, sync, clock, min_window_s, n_windows, read):
    """Calibrate repetitions so a window lasts >= min_window_s; return (reps, [((dt, dE), reps), ...])."""
    sync()
    t0 = clock()
    fn()
    sync()
    single = max(clock() - t0, 1e-9)
    reps = max(1, math.ceil(min_window_s / single))
    windows = []
    while len(windows) < n_windows:
        sync()
        e0 = read() if read else 0.0
        t0 = clock()
        for _ in range(reps):
            fn()
        sync()
        t1 = clock()
        e1 = read() if read else 0.0
        dt = t1 - t0
        if dt < min_window_s:
            # the calibration run was slow (e.g. first-call overhead): lengthen and retry this window
            reps = max(reps + 1, math.ceil(reps * min_window_s / max(dt, 1e-9) * 1.1))
            windows.clear()
            continue
        windows.append(((dt, e1 - e0), reps))
    return reps, windows


# ------------------------------------------------------------------------------ modelled
def _count(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value < 0:
        raise BaselineError(f"{name}={value!r}: must be a finite number >= 0")
    return float(value)


def model(
    flops: int | float,
    bytes_moved: int | float,
    gpu_profile: str = "h100",
    dtype: str = "float32",
    *,
    label: str | None = None,
    algorithm: str = "",
) -> BaselineEstimate:
    """Roofline time and energy of a dense computation on a GPU (or CPU) profile.

    ``time = max(flops / peak[dtype], bytes_moved / mem_bandwidth)`` and
    ``energy = board_power * time``.

    Assumptions (stated in the result): peak throughput and bandwidth are
    reached and overlap perfectly (so the time is a lower bound); the board
    draws its maximum power for that time (so the energy is the power-limit
    figure); kernel-launch latency, host work and transfers are ignored (they
    dominate small iterative problems on a real GPU: read the measured baseline
    where one exists).
    """
    prof = _profiles.get(gpu_profile)
    if prof.kind != "dense-processor":
        raise ProfileError(
            f"gpu_profile={prof.name!r}: not a dense-processor profile; allowed: {[n for n in _profiles.names() if _profiles.get(n).kind == 'dense-processor']}"
        )
    f = _count(flops, "flops")
    b = _count(bytes_moved, "bytes_moved")
    if dtype not in prof.dtype_peaks:
        raise BaselineError(f"dtype={dtype!r}: profile {prof.name!r} has peaks for {sorted(prof.dtype_peaks)}")
    peak = prof.constant(prof.dtype_peaks[dtype])
    bw = prof.constant("mem_bandwidth")
    power = prof.constant("board_power")
    t_compute = f / peak.si
    t_memory = b / bw.si
    t = max(t_compute, t_memory)
    bound = "compute" if t_compute >= t_memory else "memory"
    return BaselineEstimate(
        kind="modelled",
        label=label or f"{'CPU' if prof.name.startswith('cpu') else 'GPU'} {prof.name} (modelled)",
        device=prof.name,
        time_s=t,
        time_kind="modelled roofline time",
        energy_j=power.si * t,
        power_w=power.si,
        flops=int(f),
        bytes_moved=int(b),
        dtype=dtype,
        algorithm=algorithm,
        energy_source=f"board power {power.value} {power.unit} ({power.source}) x roofline time",
        assumptions=(
            f"{dtype} peak {peak.value} {peak.unit} ({peak.source}) and memory bandwidth {bw.value} {bw.unit} ({bw.source}) reached and perfectly overlapped: the time is a lower bound ({bound}-bound)",
            f"the board draws its maximum power {power.value} {power.unit} during that time",
            "kernel-launch latency, host work and transfers are ignored",
        ),
    )


def from_result(result: Any, *, gpu_profile: str | None = "h100") -> list[BaselineEstimate]:
    """A task's ``BaselineResult`` as baseline records.

    Returns the measured wall time on the device it ran on (``kind="measured"``,
    no energy: the task's timer measures no energy; use :func:`measure` for NVML
    energy) and, when ``gpu_profile`` is given, the roofline model of its counted
    FLOPs and bytes on that GPU (``kind="modelled"``).
    """
    needed = ("wall_time_s", "flops", "bytes_moved", "n_iter", "device", "algorithm", "dtype")
    missing = [k for k in needed if not hasattr(result, k)]
    if missing:
        raise SNNTypeError(
            f"result={type(result).__name__}: lacks attributes {missing}; expected a tasks BaselineResult-like record with {list(needed)}"
        )
    device = str(result.device)
    wall = _check_positive(result.wall_time_s, "result.wall_time_s")
    is_cpu = not device.startswith("cuda")
    out = [
        BaselineEstimate(
            kind="measured",
            label=f"{'CPU' if is_cpu else 'GPU'} {result.algorithm} (measured time)",
            device=device,
            time_s=wall,
            time_kind="measured CPU wall time" if is_cpu else "measured GPU wall time (synchronised)",
            flops=int(result.flops),
            bytes_moved=int(result.bytes_moved),
            dtype=str(result.dtype),
            algorithm=str(result.algorithm),
            energy_source="none: the task's timer measures no energy",
            notes=(f"{result.n_iter} iterations of {result.algorithm} on {device}",),
        )
    ]
    if gpu_profile is not None:
        est = model(result.flops, result.bytes_moved, gpu_profile, str(result.dtype), algorithm=str(result.algorithm))
        out.append(est)
    return out


# ------------------------------------------------------------------------------ dense SNN
_NEURON_FLOPS = 5
"""FLOPs per neuron update assumed by :func:`dense_snn_workload` (decay, input, threshold, reset)."""


def dense_snn_workload(network: Any, n_steps: int, *, dtype: str = "float32") -> Workload:
    """FLOPs and bytes of simulating ``network`` densely for ``n_steps`` steps.

    snnTorch-style dense simulation: each step, each projection is a dense
    ``(n_post, n_pre)`` matrix-vector product (``2 * n_post * n_pre`` FLOPs, the
    weight matrix read from memory) and each non-source neuron is updated
    (5 FLOPs, its state variables read and written).  Assumption: no cache reuse
    across steps (weights are streamed every step).
    """
    import snn

    if not isinstance(network, snn.Network):
        raise SNNTypeError(f"network={network!r}: must be a snn.Network")
    if isinstance(n_steps, bool) or not isinstance(n_steps, numbers.Integral) or n_steps < 1:
        raise BaselineError(f"n_steps={n_steps!r}: must be a positive int")
    itemsize = {"float64": 8, "float32": 4, "tf32": 4, "bfloat16": 2, "float16": 2, "int8": 1}.get(dtype)
    if itemsize is None:
        raise BaselineError(f"dtype={dtype!r}: allowed: float64, float32, tf32, bfloat16, float16, int8")
    flops = 0
    nbytes = 0
    for pr in network.projections:
        n_post, n_pre = pr.weights.shape
        flops += 2 * n_post * n_pre
        nbytes += n_post * n_pre * itemsize + (n_pre + n_post) * itemsize
    for pop in network.populations:
        if not pop.model.is_source:
            flops += _NEURON_FLOPS * pop.n
            nbytes += 2 * len(pop.model.state_vars) * pop.n * itemsize
    return Workload(
        flops=int(flops * n_steps),
        bytes_moved=int(nbytes * n_steps),
        description=(
            f"dense simulation of {network.n_neurons} neurons and {len(network.projections)} projections for {n_steps} steps in {dtype}: "
            f"a dense matrix-vector product per projection per step (weights streamed every step), {_NEURON_FLOPS} FLOPs and a state read+write per neuron update"
        ),
    )
