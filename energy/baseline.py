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
- :func:`model` gives max(roofline, launch-bound) time (roofline ``max(flops / peak, bytes / bandwidth)``; launch-bound from counted kernel launches and host syncs)
  and energy (board power for that time) on a named GPU/CPU profile.
- :func:`from_result` turns a task's ``BaselineResult`` (duck-typed: ``x``,
  ``wall_time_s``, ``flops``, ``bytes_moved``, ``n_iter``, ``device``,
  ``algorithm``, ``dtype``) into a measured-time record plus a modelled GPU one.
- :func:`dense_snn_workload` counts the FLOPs and bytes of simulating a spiking
  network densely (snnTorch style: a dense matrix product per projection per step).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import numbers
import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from energy import profiles as _profiles
from energy.errors import BaselineError, ProfileError, SNNTypeError

__all__ = [
    "BaselineEstimate",
    "LaunchCount",
    "Workload",
    "count_launches",
    "cuda_available",
    "dense_snn_workload",
    "from_cpu",
    "from_result",
    "measure",
    "model",
    "with_launch_counts",
]

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
    time_low_s: float | None = None
    time_high_s: float | None = None
    energy_low_j: float | None = None
    energy_high_j: float | None = None
    energy_above_idle_low_j: float | None = None
    energy_above_idle_high_j: float | None = None
    kernel_launches: int | None = None
    host_syncs: int | None = None
    roofline_time_s: float | None = None
    launch_time_s: float | None = None
    bound: str = ""
    #: ``{metric: value}`` of the baseline's solution on the spiking solver's metrics (the task's ``accuracy``)
    accuracy: dict[str, float] = field(default_factory=dict)
    #: ``{metric: value}`` the baseline was run to (the spiking solver's achieved accuracy); None: its own stopping rule
    target: dict[str, float] | None = None
    #: whether every targeted metric is ``<=`` its target (None without a target)
    reached: bool | None = None

    def __repr__(self) -> str:
        e = "None" if self.energy_j is None else f"{self.energy_j:.3g} J"
        return f"BaselineEstimate({self.label!r}, time={self.time_s:.3g} s, energy={e}, bound={self.bound or self.kind!r})"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able dict."""
        return {
            "time_low_s": self.time_low_s,
            "time_high_s": self.time_high_s,
            "energy_low_j": self.energy_low_j,
            "energy_high_j": self.energy_high_j,
            "energy_above_idle_low_j": self.energy_above_idle_low_j,
            "energy_above_idle_high_j": self.energy_above_idle_high_j,
            "kernel_launches": self.kernel_launches,
            "host_syncs": self.host_syncs,
            "roofline_time_s": self.roofline_time_s,
            "launch_time_s": self.launch_time_s,
            "bound": self.bound,
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
            "accuracy": dict(self.accuracy),
            "target": None if self.target is None else dict(self.target),
            "reached": self.reached,
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


# ------------------------------------------------------------------------------ launches
#: ops that launch no device work: views, metadata, allocation without a fill
_NO_KERNEL = frozenset(
    {
        "alias",
        "as_strided",
        "numpy_T",
        "matrix_H",
        "mT",
        "mH",
        "adjoint",
        "view_as",
        "expand_as",
        "detach",
        "detach_",
        "empty",
        "empty_like",
        "empty_strided",
        "expand",
        "lift_fresh",
        "lift_fresh_copy",
        "permute",
        "reshape",
        "resolve_conj",
        "resolve_neg",
        "result_type",
        "select",
        "slice",
        "squeeze",
        "t",
        "transpose",
        "unsqueeze",
        "unsafe_view",
        "view",
        "_reshape_alias",
        "set_",
        "to",
        "size",
        "stride",
        "numel",
        "dim",
        "is_complex",
        "is_floating_point",
        "_has_compatible_shallow_copy_type",
    }
)
#: a ``.cpu()`` / ``.tolist()`` call, counted at the Python method (see _count_host_reads)
_HOST_READ = "host_read"
#: ops whose result the host must wait for: a device-to-host read or a data-dependent output shape
_SYNC = frozenset(
    {
        "_local_scalar_dense",
        "item",
        "is_nonzero",
        "equal",
        "nonzero",
        "masked_select",
        "unique",
        "_unique2",
        "unique_dim",
        "unique_consecutive",
        _HOST_READ,
    }
)


@contextlib.contextmanager
def _count_host_reads(counter: dict[str, int]):
    """Count ``Tensor.cpu()`` and ``Tensor.tolist()`` calls while the block runs.

    On a GPU each is a blocking device-to-host copy; on the CPU, where the
    counting runs, neither reaches the dispatcher (the tensor is already on the
    host), so they are counted at the Python method instead (as ``host_read``).
    """
    import torch

    originals = {name: getattr(torch.Tensor, name) for name in ("cpu", "tolist")}

    def wrap(original):
        def method(self, *args, **kwargs):
            counter[_HOST_READ] = counter.get(_HOST_READ, 0) + 1
            return original(self, *args, **kwargs)

        return method

    for name, original in originals.items():
        setattr(torch.Tensor, name, wrap(original))
    try:
        yield
    finally:
        for name, original in originals.items():
            setattr(torch.Tensor, name, original)


@dataclass(frozen=True)
class LaunchCount:
    """Kernel launches and blocking device-to-host reads of one run of a torch computation.

    Attributes
    ----------
    kernel_launches : int
        Operations that launch device work (one kernel, or one copy, each).
    host_syncs : int
        Blocking reads of a device result by the host (``.item()``, ``bool(t)``,
        data-dependent shapes): on a GPU each one drains the launch queue.
    by_op : dict
        ``{op name: count}`` of every op seen (launching or not).
    method : {"dispatch", "profiler"}
        How they were counted.
    """

    kernel_launches: int
    host_syncs: int
    by_op: Mapping[str, int]
    method: str

    def __repr__(self) -> str:
        return f"LaunchCount(kernel_launches={self.kernel_launches}, host_syncs={self.host_syncs}, method={self.method!r})"


def _classify(counter: Mapping[str, int], method: str) -> LaunchCount:
    launches = sum(n for op, n in counter.items() if op not in _NO_KERNEL and op not in _SYNC)
    syncs = sum(n for op, n in counter.items() if op in _SYNC)
    return LaunchCount(int(launches), int(syncs), dict(sorted(counter.items())), method)


def count_launches(fn: Callable[[], Any], *, method: str = "dispatch") -> tuple[Any, LaunchCount]:
    """Run ``fn()`` once and count its kernel launches and host syncs.

    ``method="dispatch"`` counts the ATen operations that reach torch's Python
    dispatcher (a ``TorchDispatchMode``: composite operations arrive already
    decomposed, nested calls are not seen twice); ``method="profiler"`` counts
    the outermost ATen operations ``torch.profiler`` records (a ``to`` counts only
    when it copies).  Both run on the CPU; each operation that launches device
    work on a GPU is one launch, views and bare allocations are none, and a host
    read of a device value (``item``, ``is_nonzero``, ``nonzero``...) is a sync.

    Returns
    -------
    (value, LaunchCount)
        ``fn()``'s return value and the counts.
    """
    if not callable(fn):
        raise SNNTypeError(f"fn={fn!r}: must be a callable taking no arguments (one run of the baseline)")
    if method not in ("dispatch", "profiler"):
        raise BaselineError(f"method={method!r}: allowed: 'dispatch', 'profiler'")
    try:
        import torch  # noqa: F401
    except ImportError as exc:
        raise BaselineError("counting kernel launches needs torch, which is not installed") from exc
    counter: dict[str, int] = {}
    if method == "dispatch":
        from torch.utils._python_dispatch import TorchDispatchMode

        class _Counter(TorchDispatchMode):
            def __torch_dispatch__(self, func, types, args=(), kwargs=None):
                op = func.overloadpacket.__name__
                counter[op] = counter.get(op, 0) + 1
                return func(*args, **(kwargs or {}))

        with _count_host_reads(counter), _Counter():
            value = fn()
        return value, _classify(counter, method)
    from torch.profiler import ProfilerActivity, profile

    reads: dict[str, int] = {}
    with _count_host_reads(reads), profile(activities=[ProfilerActivity.CPU]) as prof:
        value = fn()
    events = [e for e in prof.events() if e.name.startswith("aten::")]
    copying = {id(e.cpu_parent) for e in events if e.name == "aten::_to_copy" and e.cpu_parent is not None}
    for e in events:
        parent = e.cpu_parent
        while parent is not None and not parent.name.startswith("aten::"):
            parent = parent.cpu_parent
        if parent is not None:
            continue  # nested inside another aten op: not a launch of its own
        op = e.name[len("aten::") :]
        if op == "to" and id(e) in copying:
            op = "_to_copy"
        counter[op] = counter.get(op, 0) + 1
    counter.update(reads)
    return value, _classify(counter, method)


def with_launch_counts(fn: Callable[[], Any]) -> Any:
    """Run a task's dense baseline and record its kernel launches and host syncs in it.

    ``fn()`` must return a ``tasks`` ``BaselineResult`` (a dataclass with
    ``kernel_launches`` and ``host_syncs`` fields).  It is run twice: once as is
    (its own wall time stands) and once under :func:`count_launches` (the
    counter slows the run, so that run's time is discarded).

    Returns
    -------
    BaselineResult
        The first run's result with ``kernel_launches`` and ``host_syncs`` set.
    """
    result = fn()
    if not dataclasses.is_dataclass(result) or not {"kernel_launches", "host_syncs"} <= {f.name for f in dataclasses.fields(result)}:
        raise SNNTypeError(
            f"fn() returned {type(result).__name__}: expected a tasks BaselineResult with kernel_launches and host_syncs fields"
        )
    _, counts = count_launches(fn)
    return dataclasses.replace(result, kernel_launches=counts.kernel_launches, host_syncs=counts.host_syncs)


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
    kernel_launches: int | None = None,
    host_syncs: int | None = None,
    label: str | None = None,
    algorithm: str = "",
) -> BaselineEstimate:
    """Time and energy of a dense computation on a GPU (or CPU) profile: max(roofline, launch-bound).

    ``roofline = max(flops / peak[dtype], bytes_moved / mem_bandwidth)``;
    ``launch-bound = kernel_launches * kernel_launch_latency + host_syncs *
    host_sync_latency`` (when the profile has those constants and the counts are
    given, e.g. from :func:`with_launch_counts`); ``time = max`` of the two.
    Energy is ``board_power x time`` when the roofline bounds the run and
    ``launch_bound_power x time`` when launches do; the energy above idle
    subtracts ``idle_power``.  Every figure comes as [low, best, high] from the
    constants' ranges (low time with the low latencies, low energy with low
    power and short time; above idle: low power minus high idle).

    Assumptions (stated in the result): peak throughput and bandwidth are
    reached and overlap perfectly; launches do not overlap host syncs; host
    work other than launching is ignored.
    """
    prof = _profiles.get(gpu_profile)
    if prof.kind != "dense-processor":
        raise ProfileError(
            f"gpu_profile={prof.name!r}: not a dense-processor profile; allowed: {[n for n in _profiles.names() if _profiles.get(n).kind == 'dense-processor']}"
        )
    f = _count(flops, "flops")
    b = _count(bytes_moved, "bytes_moved")
    n_launch = None if kernel_launches is None else int(_count(kernel_launches, "kernel_launches"))
    n_sync = None if host_syncs is None else int(_count(host_syncs, "host_syncs"))
    if dtype not in prof.dtype_peaks:
        raise BaselineError(f"dtype={dtype!r}: profile {prof.name!r} has peaks for {sorted(prof.dtype_peaks)}")
    peak = prof.constant(prof.dtype_peaks[dtype])
    bw = prof.constant("mem_bandwidth")
    power = prof.constant("board_power")
    t_compute = f / peak.si
    t_memory = b / bw.si
    t_roof = max(t_compute, t_memory)
    roof_bound = "compute" if t_compute >= t_memory else "memory"
    has_launch = n_launch is not None and "kernel_launch_latency" in prof.constants
    assumptions = [
        f"{dtype} peak {peak.value} {peak.unit} ({peak.source}) and memory bandwidth {bw.value} {bw.unit} ({bw.source}) reached and perfectly overlapped: the roofline time is a lower bound ({roof_bound}-bound)",
    ]
    idle = prof.constants.get("idle_power")
    ends = ("low", "value", "high")

    def at(c, end):
        return {"low": c.low_si, "value": c.si, "high": c.high_si}[end]

    times, energies, above, bounds = {}, {}, {}, {}
    t_launch = {}
    for end in ends:
        tl = 0.0
        if has_launch:
            tl = n_launch * at(prof.constant("kernel_launch_latency"), end) + (n_sync or 0) * at(prof.constant("host_sync_latency"), end)
        t_launch[end] = tl
        launch_bound = has_launch and tl > t_roof
        t = tl if launch_bound else t_roof
        p = prof.constant("launch_bound_power") if launch_bound and "launch_bound_power" in prof.constants else power
        p_end = at(p, end) if p is not power else power.si
        times[end] = t
        energies[end] = p_end * t
        bounds[end] = "launch" if launch_bound else roof_bound
        if idle is not None:
            other = {"low": "high", "value": "value", "high": "low"}[end]
            above[end] = max(p_end - at(idle, other), 0.0) * t
    if has_launch:
        kl, hs = prof.constant("kernel_launch_latency"), prof.constant("host_sync_latency")
        assumptions.append(
            f"{n_launch} kernel launches x {kl.value} {kl.unit} [{kl.low}-{kl.high}] and {n_sync or 0} host syncs x {hs.value} {hs.unit} [{hs.low}-{hs.high}] ({kl.source}); launches and syncs do not overlap"
        )
        if bounds["value"] == "launch":
            lp = prof.constant("launch_bound_power")
            assumptions.append(f"launch-bound: the board draws {lp.value} {lp.unit} [{lp.low}-{lp.high}] ({lp.formula})")
        else:
            assumptions.append(f"the board draws its maximum power {power.value} {power.unit} during that time")
    else:
        assumptions.append(f"the board draws its maximum power {power.value} {power.unit} during that time")
        assumptions.append(
            "kernel-launch latency and host syncs are not counted (no launch counts given): the time is a roofline lower bound"
        )
    if idle is not None:
        assumptions.append(
            f"idle power {idle.value} {idle.unit} [{idle.low}-{idle.high}] ({idle.source}) subtracted for the energy above idle"
        )
    bound = bounds["value"]
    kind_label = "launch-bound" if bound == "launch" else "roofline"
    return BaselineEstimate(
        kind="modelled",
        label=label or f"{'CPU' if prof.name.startswith('cpu') else 'GPU'} {prof.name} (modelled, {kind_label})",
        device=prof.name,
        time_s=times["value"],
        time_kind="modelled time: max(roofline, launch-bound)" if has_launch else "modelled roofline time",
        energy_j=energies["value"],
        energy_above_idle_j=above.get("value"),
        idle_power_w=None if idle is None else idle.si,
        power_w=energies["value"] / times["value"] if times["value"] > 0 else power.si,
        flops=int(f),
        bytes_moved=int(b),
        dtype=dtype,
        algorithm=algorithm,
        energy_source=(f"{'launch_bound_power' if bound == 'launch' else 'board power'} x modelled time ({prof.name} profile)"),
        assumptions=tuple(assumptions),
        time_low_s=times["low"],
        time_high_s=times["high"],
        energy_low_j=energies["low"],
        energy_high_j=energies["high"],
        energy_above_idle_low_j=above.get("low"),
        energy_above_idle_high_j=above.get("high"),
        kernel_launches=n_launch,
        host_syncs=n_sync,
        roofline_time_s=t_roof,
        launch_time_s=t_launch["value"] if has_launch else None,
        bound=bound,
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
            **_accuracy_of(result),
        )
    ]
    if gpu_profile is not None:
        est = model(
            result.flops,
            result.bytes_moved,
            gpu_profile,
            str(result.dtype),
            kernel_launches=getattr(result, "kernel_launches", None),
            host_syncs=getattr(result, "host_syncs", None),
            algorithm=str(result.algorithm),
        )
        out.append(dataclasses.replace(est, **_accuracy_of(result)))
    return out


def _accuracy_of(result: Any) -> dict[str, Any]:
    """``accuracy``, ``target`` and ``reached`` of a BaselineResult-like record, checked, as BaselineEstimate fields."""
    acc = getattr(result, "accuracy", None) or {}
    target = getattr(result, "target", None)
    reached = getattr(result, "reached", None)
    for name, d in (("result.accuracy", acc), ("result.target", target or {})):
        if not isinstance(d, Mapping):
            raise SNNTypeError(f"{name}={d!r}: must be a dict {{metric: number}}")
        for k, v in d.items():
            if isinstance(v, bool) or not isinstance(v, numbers.Real):
                raise BaselineError(f"{name}[{k!r}]={v!r}: must be a number")
    if reached is not None and not isinstance(reached, bool):
        raise SNNTypeError(f"result.reached={reached!r}: must be None or a bool")
    return {
        "accuracy": {str(k): float(v) for k, v in acc.items()},
        "target": None if target is None else {str(k): float(v) for k, v in target.items()},
        "reached": reached,
    }


def from_cpu(result: Any, cpu_profile: str = "cpu_xeon8480", *, cores: int = 1) -> BaselineEstimate:
    """A task's ``cpu_baseline`` result as a measured-time record with energy from a CPU power range.

    ``energy = cores x core_power x wall_time_s`` as [low, best, high] from the
    profile's ``core_power`` range (one core's share of the package TDP; see
    the profile), the wall time measured (median of repeated runs).  The
    all-in package figure ``board_power x wall_time_s`` (the whole package
    charged for the job, as a GPU's board power is) is in
    ``extra["package_energy_j"]``.  Nothing is measured about power: the
    energy is an estimate on a measured time (``energy_source`` says so).

    Parameters
    ----------
    result : BaselineResult-like
        ``device == "cpu"``, with ``wall_time_s`` (and ``accuracy``,
        ``target``, ``reached``, ``info["repeats"]`` when there).
    cpu_profile : str
        A dense-processor profile with ``core_power`` and ``board_power``.
    cores : int
        Cores the run is charged for (1: the cpu baselines are single-threaded).
    """
    needed = ("wall_time_s", "flops", "bytes_moved", "n_iter", "device", "algorithm", "dtype")
    missing = [k for k in needed if not hasattr(result, k)]
    if missing:
        raise SNNTypeError(
            f"result={type(result).__name__}: lacks attributes {missing}; expected a tasks BaselineResult-like record with {list(needed)}"
        )
    if str(result.device) != "cpu":
        raise BaselineError(
            f"result.device={result.device!r}: from_cpu prices CPU runs only (device 'cpu'); use from_result for a torch baseline"
        )
    if isinstance(cores, bool) or not isinstance(cores, numbers.Integral) or cores < 1:
        raise BaselineError(f"cores={cores!r}: must be a positive int (cores the run is charged for)")
    prof = _profiles.get(cpu_profile)
    if prof.kind != "dense-processor" or "core_power" not in prof.constants:
        allowed = [
            n for n in _profiles.names() if _profiles.get(n).kind == "dense-processor" and "core_power" in _profiles.get(n).constants
        ]
        raise ProfileError(f"cpu_profile={prof.name!r}: not a CPU profile with a 'core_power' constant; allowed: {allowed}")
    wall = _check_positive(result.wall_time_s, "result.wall_time_s")
    pc = prof.constant("core_power")
    package = prof.constant("board_power")
    n_cores = int(cores)
    energy = {end: n_cores * p * wall for end, p in (("low", pc.low_si), ("best", pc.si), ("high", pc.high_si))}
    info = getattr(result, "info", {}) or {}
    repeats = info.get("repeats")
    notes = [f"{result.n_iter} iterations of {result.algorithm} on this machine's CPU"]
    if repeats:
        notes.append(f"wall time: median of {repeats} runs ({info.get('min_s', float('nan')):.3g}-{info.get('max_s', float('nan')):.3g} s)")
    return BaselineEstimate(
        kind="measured",
        label=f"CPU {result.algorithm} (measured time)",
        device="cpu",
        time_s=wall,
        time_kind="measured CPU wall time",
        energy_j=energy["best"],
        energy_low_j=energy["low"],
        energy_high_j=energy["high"],
        power_w=n_cores * pc.si,
        n_calls=int(repeats or 1),
        flops=int(result.flops),
        bytes_moved=int(result.bytes_moved),
        dtype=str(result.dtype),
        algorithm=str(result.algorithm),
        energy_source=f"{n_cores} x core_power x measured wall time ({prof.name} profile; power not measured)",
        assumptions=(
            f"charged for {n_cores} core(s) at {pc.value} {pc.unit} [{pc.low}-{pc.high}] each ({pc.formula})",
            "the CPU the time was measured on is not the profile's part: the power range stands for a current server core",
        ),
        notes=tuple(notes),
        extra={
            "cores_charged": n_cores,
            "core_power_w": {"low": pc.low_si, "best": pc.si, "high": pc.high_si},
            "package_energy_j": {"low": package.low_si * wall, "best": package.si * wall, "high": package.high_si * wall},
            "package_power_w": package.si,
            "cpu_profile": prof.name,
            "wall_time_min_s": info.get("min_s"),
            "wall_time_max_s": info.get("max_s"),
        },
        **_accuracy_of(result),
    )


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
