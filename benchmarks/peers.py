"""Side-by-side benchmark of the toolkit's engines against peers on the reference workload.

Workload (the same arrays for every peer): ``N`` delta-synapse LIF neurons
(tau 20 ms, dt 1 ms, threshold 1, reset to 0, no refractory period), each with
``K = 100`` random out-synapses (distinct targets, no self-connection); the
first 20 % of the neurons are inhibitory (weight -0.08), the others excitatory
(0.02); a constant drive (``bias``) drawn uniformly in ``[0.6, 1.15]`` so that
about 1 % of the neurons fire per step; 1000 steps; delay 1 step.

Peers, each run in its own subprocess (so that peak memory is its own):

``event``         this toolkit, ``snn.simulate(engine="event")`` (numba, 2 threads)
``torch``         this toolkit, ``snn.simulate(engine="torch")`` on CPU, float64, event gather
``brian2-cython`` Brian2 runtime mode, Cython code generation
``brian2-cpp``    Brian2 ``cpp_standalone`` (OpenMP threads = ``--threads``); build (code
                  generation + compilation) timed apart; the wall time is the
                  binary's own simulation time (``device._last_run_time``)
``dense-torch``   the snnTorch way: ``snntorch.Leaky`` neurons fed by a dense float32
                  ``(N, N)`` weight matrix, ``W @ spikes`` each step on the CPU
                  (an equivalent hand-written dense loop if snntorch is missing)
``scipy``         a plain Python loop over steps with ``scipy.sparse`` CSR ``W @ spikes``

Reported per peer and size: the median wall time of ``--repeats`` runs (after a
warm-up that compiles), synaptic events (messages x out-degree), events/s,
firing fraction per step, compile time, and memory: ``peak_rss_mb`` is the
subprocess's ``ru_maxrss`` (imports + network construction + runs),
``run_rss_mb`` the peak resident size during the timed runs only (Linux
``VmHWM`` after resetting it through ``/proc/self/clear_refs``; it includes
the network held in memory), ``build_rss_mb`` the resident size after
construction.

Usage::

    python -m benchmarks.peers --quick
    python -m benchmarks.peers --sizes 10000 50000 --repeats 3 --out benchmarks/results/peers.json
    python -m benchmarks.peers --sweep --sweep-n 200000

"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

import numpy as np

__all__ = ["reference_arrays", "reference_network", "PEERS", "run_peer", "main"]

K = 100
TAU_MS = 20.0
W_EXC, W_INH, FRAC_INH = 0.02, -0.08, 0.2
PEERS = ("event", "torch", "brian2-cython", "brian2-cpp", "dense-torch", "scipy")
#: drive ranges of the activity sweep (bias uniform in [0.6, hi]); chosen to span ~0.5 % .. ~5 % per step
SWEEP_HI = (1.05, 1.1, 1.2, 1.4, 1.8, 2.2, 2.7)
#: the sweep's silent point: a drive below threshold everywhere (no spike, no synaptic event), which
#: measures the per-step cost that does not follow the events (the neuron updates)
SWEEP_FLOOR_DRIVE = (0.3, 0.5)


# ---------------------------------------------------------------------------------------------
# the workload


def reference_arrays(n: int, *, seed: int = 0, drive: tuple[float, float] = (0.6, 1.15)) -> dict[str, np.ndarray]:
    """The reference workload as plain arrays.

    Returns ``indptr`` (n+1,), ``post`` (n*K,) int32: the targets of each pre
    neuron in CSC order (sorted, distinct, never itself); ``w_pre`` (n,): the
    weight of every out-synapse of a neuron; ``bias`` (n,): the drive.
    """
    if n <= K + 1:
        raise ValueError(f"n={n}: must be larger than K + 1 = {K + 1}")
    rng = np.random.default_rng(seed)
    post = np.empty((n, K), np.int32)
    step = max(1, (1 << 24) // K)
    for lo in range(0, n, step):  # in blocks, to keep the int64 temporaries small at N = 1M
        hi = min(n, lo + step)
        r = np.sort(rng.integers(0, n - 1 - K + 1, (hi - lo, K)), axis=1) + np.arange(K)  # distinct, in [0, n-1)
        r += r >= np.arange(lo, hi)[:, None]  # skip self
        post[lo:hi] = r
    w_pre = np.where(np.arange(n) < int(FRAC_INH * n), W_INH, W_EXC)
    bias = np.random.default_rng(seed + 1).uniform(drive[0], drive[1], n)
    return {"indptr": np.arange(0, n * K + 1, K, dtype=np.int64), "post": post.ravel(), "w_pre": w_pre, "bias": bias}


def _csr(arrays: dict[str, np.ndarray], dtype: Any = np.float64):
    import scipy.sparse as sp

    n = arrays["bias"].shape[0]
    data = np.repeat(arrays["w_pre"].astype(dtype), K)
    return sp.csc_matrix((data, arrays["post"], arrays["indptr"]), shape=(n, n)).tocsr()


def reference_network(arrays: dict[str, np.ndarray]):
    """The workload as an :class:`snn.Network` (one LIF population, one projection, delay 1)."""
    import snn

    n = arrays["bias"].shape[0]
    net = snn.Network(dt_ms=1.0)
    net.add_population("lif", n, snn.LIF(tau_mem_ms=TAU_MS, v_th=1.0, v_reset=0.0, bias=arrays["bias"]))
    net.add_projection("lif", "lif", weights=_csr(arrays), delay_steps=1)
    return net


# ---------------------------------------------------------------------------------------------
# memory


def _status_kb(field: str) -> int | None:
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


# ---------------------------------------------------------------------------------------------
# peers (each runs in a worker subprocess)


def _time_runs(run_once, repeats: int) -> list[float]:
    walls = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        run_once()
        walls.append(time.perf_counter() - t0)
    return walls


def _peer_event(arrays, steps, repeats, threads):
    import snn
    from snn.engines import event

    net = reference_network(arrays)
    info = {"build_rss_mb": (_status_kb("VmRSS") or 0) / 1024}
    t0 = time.perf_counter()
    snn.simulate(net, 2, engine="event", record=(), n_threads=threads)
    info["compile_s"] = sum(event.compile_stats().values())
    info["warmup_s"] = time.perf_counter() - t0
    reset = _reset_peak()
    out = {}
    phases = []

    def once():
        out["res"] = snn.simulate(net, steps, engine="event", record=(), n_threads=threads)
        phases.append(event.last_run_stats())

    info["walls"] = _time_runs(once, repeats)
    info["run_rss_mb"] = (_status_kb("VmHWM") or 0) / 1024 if reset else None
    info["spikes"] = out["res"].counts.spikes
    info["setup_s"] = statistics.median(p["setup_s"] for p in phases)
    info["loop_s"] = statistics.median(p["loop_s"] for p in phases)
    info["notes"] = "snn.simulate wall (plan, CSC build and the compiled loop); loop_s is the compiled loop alone"
    return info


def _peer_torch(arrays, steps, repeats, threads):
    import torch

    import snn

    torch.set_num_threads(threads)
    net = reference_network(arrays)
    info = {"build_rss_mb": (_status_kb("VmRSS") or 0) / 1024}
    snn.simulate(net, 2, engine="torch", record=())
    reset = _reset_peak()
    out = {}

    def once():
        out["res"] = snn.simulate(net, steps, engine="torch", record=(), mode="auto")

    info["walls"] = _time_runs(once, repeats)
    info["run_rss_mb"] = (_status_kb("VmHWM") or 0) / 1024 if reset else None
    info["spikes"] = out["res"].counts.spikes
    info["notes"] = f"CPU, float64, mode auto (event gather), torch {torch.__version__}, {threads} threads"
    return info


def _brian2_common(arrays, b2):
    n = arrays["bias"].shape[0]
    ms = b2.ms
    eqs = "dv/dt = (bias - v) / tau : 1\nbias : 1"
    g = b2.NeuronGroup(n, eqs, threshold="v > 1", reset="v = 0", method="exact", namespace={"tau": TAU_MS * ms})
    g.bias = arrays["bias"]
    syn = b2.Synapses(g, g, "w : 1", on_pre="v += w", delay=1 * ms)
    pre = np.repeat(np.arange(n, dtype=np.int32), K)
    syn.connect(i=pre, j=arrays["post"])
    syn.w = np.repeat(arrays["w_pre"], K)
    del pre
    mon = b2.SpikeMonitor(g, record=False)
    return g, syn, mon


def _peer_brian2_cython(arrays, steps, repeats, threads):
    import brian2 as b2

    b2.prefs.codegen.target = "cython"
    b2.defaultclock.dt = 1 * b2.ms
    g, syn, mon = _brian2_common(arrays, b2)
    net = b2.Network(g, syn, mon)
    info = {"build_rss_mb": (_status_kb("VmRSS") or 0) / 1024}
    net.store("init")
    t0 = time.perf_counter()
    net.run(2 * b2.ms)
    info["compile_s"] = time.perf_counter() - t0  # code generation + Cython compilation (cached across processes)
    reset = _reset_peak()
    counts = []

    def once():
        net.restore("init")
        net.run(steps * b2.ms)
        counts.append(int(mon.num_spikes))

    info["walls"] = _time_runs(once, repeats)
    info["run_rss_mb"] = (_status_kb("VmHWM") or 0) / 1024 if reset else None
    info["spikes"] = counts[-1]
    info["notes"] = f"brian2 {b2.__version__} runtime, cython target, 1 thread; net.restore + net.run wall"
    return info


def _peer_brian2_cpp(arrays, steps, repeats, threads):
    import brian2 as b2

    build_dir = tempfile.mkdtemp(prefix="snn-bench-brian2-")
    b2.set_device("cpp_standalone", directory=build_dir, build_on_run=False)
    b2.prefs.devices.cpp_standalone.openmp_threads = threads
    b2.defaultclock.dt = 1 * b2.ms
    g, syn, mon = _brian2_common(arrays, b2)
    b2.run(steps * b2.ms)
    info = {"build_rss_mb": (_status_kb("VmRSS") or 0) / 1024}
    t0 = time.perf_counter()
    b2.device.build(directory=build_dir, compile=True, run=False)
    info["compile_s"] = time.perf_counter() - t0  # code generation + C++ compilation
    walls, process_walls = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        b2.device.run(directory=build_dir, with_output=False, run_args=[])
        process_walls.append(time.perf_counter() - t0)
        walls.append(float(b2.device._last_run_time))
    info["walls"] = walls
    info["process_walls"] = process_walls
    info["run_rss_mb"] = None  # the simulation runs in the compiled binary, a child of this worker
    info["child_peak_rss_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    info["spikes"] = int(mon.num_spikes)
    info["notes"] = (
        f"brian2 {b2.__version__} cpp_standalone, OpenMP {threads} threads; wall = the binary's own simulation time "
        "(process_walls: whole binary incl. loading); build dir under /tmp"
    )
    return info


def _peer_dense_torch(arrays, steps, repeats, threads):
    import torch

    torch.set_num_threads(threads)
    n = arrays["bias"].shape[0]
    w = torch.from_numpy(_csr(arrays, np.float32).toarray())  # (post, pre) dense float32
    beta = float(np.exp(-1.0 / TAU_MS))
    drive = torch.from_numpy(((1.0 - beta) * arrays["bias"]).astype(np.float32))
    try:
        import snntorch

        lif = snntorch.Leaky(beta=beta, threshold=1.0, reset_mechanism="zero", reset_delay=False)
        how = f"snntorch {snntorch.__version__} Leaky(reset_mechanism='zero', reset_delay=False)"
    except ImportError:
        lif = None
        how = "hand-written dense loop (snntorch not installed)"
    info = {"build_rss_mb": (_status_kb("VmRSS") or 0) / 1024}
    counts = []

    def once():
        with torch.no_grad():
            mem = torch.zeros(n)
            spk = torch.zeros(n)
            total = 0
            for _ in range(steps):
                cur = w @ spk + drive
                if lif is not None:
                    spk, mem = lif(cur, mem)
                else:
                    mem = beta * mem + cur
                    spk = (mem > 1.0).float()
                    mem = mem * (1.0 - spk)
                total += int(spk.sum())
            counts.append(total)

    once_small = steps
    steps = 2
    once()
    steps = once_small
    counts.clear()
    reset = _reset_peak()
    info["walls"] = _time_runs(once, repeats)
    info["run_rss_mb"] = (_status_kb("VmHWM") or 0) / 1024 if reset else None
    info["spikes"] = counts[-1]
    info["notes"] = f"{how}, dense float32 W ({n}x{n}), W @ spikes on CPU, torch {torch.__version__}, {threads} threads"
    return info


def _peer_scipy(arrays, steps, repeats, threads):
    n = arrays["bias"].shape[0]
    w = _csr(arrays)
    alpha = np.exp(-1.0 / TAU_MS)
    drive = (1.0 - alpha) * arrays["bias"]
    info = {"build_rss_mb": (_status_kb("VmRSS") or 0) / 1024}
    counts = []

    def once():
        v = np.zeros(n)
        spk = np.zeros(n)
        total = 0
        for _ in range(steps):
            v = alpha * v + drive + w @ spk
            fired = v > 1.0
            v[fired] = 0.0
            spk = fired.astype(np.float64)
            total += int(fired.sum())
        counts.append(total)

    reset = _reset_peak()
    info["walls"] = _time_runs(once, repeats)
    info["run_rss_mb"] = (_status_kb("VmHWM") or 0) / 1024 if reset else None
    info["spikes"] = counts[-1]
    info["notes"] = "Python loop, scipy.sparse CSR float64 W @ spikes (cost ~ nnz per step), 1 thread"
    return info


_RUNNERS = {
    "event": _peer_event,
    "torch": _peer_torch,
    "brian2-cython": _peer_brian2_cython,
    "brian2-cpp": _peer_brian2_cpp,
    "dense-torch": _peer_dense_torch,
    "scipy": _peer_scipy,
}


def run_peer(
    peer: str, n: int, steps: int, repeats: int, *, threads: int = 2, seed: int = 0, drive: tuple[float, float] = (0.6, 1.15)
) -> dict[str, Any]:
    """Run one peer in this process and return its measurements (``walls`` in s, ``spikes``, memory...)."""
    t0 = time.perf_counter()
    arrays = reference_arrays(n, seed=seed, drive=drive)
    info = _RUNNERS[peer](arrays, steps, repeats, threads)
    info.update(
        peer=peer,
        n=n,
        steps=steps,
        repeats=repeats,
        drive=list(drive),
        wall_s=statistics.median(info["walls"]),
        synaptic_events=int(info["spikes"]) * K,
        firing_fraction=int(info["spikes"]) / (n * steps),
        peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        total_s=time.perf_counter() - t0,
    )
    info["events_per_s"] = info["synaptic_events"] / info["wall_s"] if info["wall_s"] > 0 else None
    return info


# ---------------------------------------------------------------------------------------------
# driver


def _spawn(peer: str, n: int, steps: int, repeats: int, threads: int, timeout: float, drive: tuple[float, float]) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "benchmarks.peers", "--worker", peer, "--n", str(n), "--steps", str(steps), "--repeats", str(repeats)]
    cmd += ["--threads", str(threads), "--drive", str(drive[0]), str(drive[1])]
    env = dict(os.environ)
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        )
    except subprocess.TimeoutExpired:
        return {"peer": peer, "n": n, "error": f"timeout after {timeout:.0f} s"}
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
    return {"peer": peer, "n": n, "error": f"exit {proc.returncode} after {time.perf_counter() - t0:.0f} s: {' | '.join(tail)}"}


def _dense_fits(n: int, limit_gb: float) -> bool:
    return n * n * 4 / 1e9 <= limit_gb


def machine() -> dict[str, Any]:
    """A short description of this machine."""
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = None
    try:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        pass
    try:
        load = os.getloadavg()
    except OSError:
        load = None
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": mem, "python": platform.python_version(), "load_avg_at_start": load}


def _table(rows: list[dict[str, Any]]) -> str:
    lines = [f"{'N':>8} {'peer':<14} {'wall s':>9} {'events/s':>10} {'fire %':>7} {'compile s':>9} {'peak MB':>8} {'run MB':>8}  vs event"]
    by_n: dict[int, dict[str, dict]] = {}
    for r in rows:
        by_n.setdefault(r["n"], {})[r["peer"]] = r
    for n, peers in by_n.items():
        ev = peers.get("event", {}).get("wall_s")
        for peer, r in peers.items():
            if "error" in r:
                lines.append(f"{n:>8} {peer:<14} {r['error']}")
                continue
            ratio = f"{r['wall_s'] / ev:8.1f}x" if ev else ""
            comp = r.get("compile_s")
            run_mb = r.get("run_rss_mb")
            lines.append(
                f"{n:>8} {peer:<14} {r['wall_s']:9.3f} {r['events_per_s']:10.3e} {100 * r['firing_fraction']:7.2f} "
                f"{(f'{comp:9.2f}' if comp is not None else '        -')} {r['peak_rss_mb']:8.0f} {(f'{run_mb:8.0f}' if run_mb else '       -')}  {ratio}"
            )
    return "\n".join(lines)


def _rounds_summary(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per size and peer: the median wall time over rounds and the ratio to the event engine of each round."""
    out = []
    sizes = sorted({r["n"] for r in rows})
    for n in sizes:
        ok = [r for r in rows if r["n"] == n and "error" not in r]
        event = {r["round"]: r["wall_s"] for r in ok if r["peer"] == "event"}
        for peer in dict.fromkeys(r["peer"] for r in ok):
            mine = [r for r in ok if r["peer"] == peer]
            ratios = [r["wall_s"] / event[r["round"]] for r in mine if r["round"] in event]
            out.append(
                {
                    "n": n,
                    "peer": peer,
                    "rounds": len(mine),
                    "median_wall_s": statistics.median(r["wall_s"] for r in mine),
                    "ratio_to_event_per_round": ratios,
                    "median_ratio_to_event": statistics.median(ratios) if ratios else None,
                }
            )
    return out


def _sweep(n: int, steps: int, repeats: int, threads: int, timeout: float, peers: list[str]) -> dict[str, Any]:
    """Time against synaptic events over ``SWEEP_HI``, plus the silent point ``SWEEP_FLOOR_DRIVE``.

    Fits per peer: ``wall_s`` (and ``loop_s``) the exponent of time against
    events (the issue's definition); ``above_floor`` the exponent of
    ``time - silent time`` against events (is the event-driven part linear?);
    ``affine`` the least-squares ``time = floor + ns_per_event * events``.
    """
    out: dict[str, Any] = {"n": n, "steps": steps, "runs": {}, "floor": {}, "fits": {}}
    for peer in peers:
        floor = _spawn(peer, n, steps, repeats, threads, timeout, SWEEP_FLOOR_DRIVE)
        out["floor"][peer] = floor
        if "error" not in floor:
            print(f"sweep {peer} N={n} silent drive={list(SWEEP_FLOOR_DRIVE)} fire={100 * floor['firing_fraction']:.2f}% wall={floor['wall_s']:.3f}s", flush=True)
        runs = []
        for hi in SWEEP_HI:
            r = _spawn(peer, n, steps, repeats, threads, timeout, (0.6, hi))
            runs.append(r)
            if "error" not in r:
                print(
                    f"sweep {peer} N={n} drive=[0.6, {hi}] fire={100 * r['firing_fraction']:.2f}% wall={r['wall_s']:.3f}s events={r['synaptic_events']}",
                    flush=True,
                )
        out["runs"][peer] = runs
        ok = [r for r in runs if "error" not in r and r["synaptic_events"] > 0]
        if len(ok) >= 2:
            events = np.array([r["synaptic_events"] for r in ok], float)
            walls = np.array([r["wall_s"] for r in ok])
            ev = np.log(events)
            fits: dict[str, Any] = {"wall_s": float(np.polyfit(ev, np.log(walls), 1)[0])}
            if all("loop_s" in r for r in ok):
                fits["loop_s"] = float(np.polyfit(ev, np.log([r["loop_s"] for r in ok]), 1)[0])
            slope, intercept = np.polyfit(events, walls, 1)
            fits["affine"] = {"floor_s": float(intercept), "ns_per_event": float(slope * 1e9)}
            if "error" not in floor and floor["synaptic_events"] == 0:
                above = walls - floor["wall_s"]
                if np.all(above > 0):
                    fits["above_floor"] = float(np.polyfit(ev, np.log(above), 1)[0])
            out["fits"][peer] = fits
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.peers", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 50_000], help="network sizes N")
    parser.add_argument("--steps", type=int, default=1000, help="simulated steps per run")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per peer (median reported)")
    parser.add_argument("--peers", nargs="+", default=list(PEERS), choices=PEERS, help="which peers to time (default: all)")
    parser.add_argument("--threads", type=int, default=2, help="threads for the peers that use them")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds per peer and size")
    parser.add_argument("--dense-limit-gb", type=float, default=4.0, help="skip dense-torch where the float32 matrix is larger")
    parser.add_argument(
        "--rounds", type=int, default=1, help="run the whole set of peers this many times, alternating (ratios per round; for noisy machines)"
    )
    parser.add_argument("--quick", action="store_true", help="N=10k, 200 steps, 3 repeats, every peer: a smoke run of a few minutes")
    parser.add_argument("--sweep", action="store_true", help="the activity sweep (0.5%% .. 5%%) with the fitted exponent")
    parser.add_argument("--sweep-n", type=int, default=50_000, help="network size of the activity sweep")
    parser.add_argument("--sweep-peers", nargs="+", default=["event"], choices=PEERS, help="peers timed in the sweep (default: event)")
    parser.add_argument("--no-peers", action="store_true", help="only the sweep")
    parser.add_argument("--out", default=None, help="write the results as JSON here")
    # worker mode (internal)
    parser.add_argument("--worker", choices=PEERS, help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--drive", type=float, nargs=2, default=(0.6, 1.15), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        info = run_peer(args.worker, args.n, args.steps, args.repeats, threads=args.threads, drive=tuple(args.drive))
        print(json.dumps(info))
        return 0

    if args.quick:
        args.sizes, args.steps, args.repeats = [10_000], 200, 3
    results: dict[str, Any] = {
        "machine": machine(),
        "args": {k: v for k, v in vars(args).items() if k not in ("worker", "n", "drive")},
        "rows": [],
    }
    print(json.dumps(results["machine"]), flush=True)
    if not args.no_peers:
        if args.rounds < 1:
            parser.error(f"--rounds={args.rounds}: must be >= 1")
        for n in args.sizes:
            for rnd in range(args.rounds):
                for peer in args.peers:
                    if peer == "dense-torch" and not _dense_fits(n, args.dense_limit_gb):
                        if rnd == 0:
                            results["rows"].append(
                                {"peer": peer, "n": n, "error": f"skipped: dense float32 matrix {n * n * 4 / 1e9:.0f} GB > --dense-limit-gb"}
                            )
                        continue
                    r = _spawn(peer, n, args.steps, args.repeats, args.threads, args.timeout, (0.6, 1.15))
                    r["round"] = rnd
                    results["rows"].append(r)
                    msg = r.get("error") or (
                        f"wall {r['wall_s']:.3f} s, {r['events_per_s']:.3e} events/s, fire {100 * r['firing_fraction']:.2f} %"
                    )
                    print(f"N={n} round {rnd} {peer}: {msg}", flush=True)
        if args.rounds > 1:
            results["rounds"] = _rounds_summary(results["rows"])
            for line in results["rounds"]:
                print(json.dumps(line))
        print(_table(results["rows"]))
    if args.sweep:
        results["sweep"] = _sweep(args.sweep_n, args.steps, args.repeats, args.threads, args.timeout, args.sweep_peers)
        for peer, fit in results["sweep"]["fits"].items():
            print(f"sweep {peer}: fitted exponent of time against synaptic events: {fit}")
    if args.out:
        from snn.io import atomic_write_bytes

        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        payload = json.dumps(results, indent=1).encode()
        atomic_write_bytes(args.out, lambda fh: fh.write(payload))
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
