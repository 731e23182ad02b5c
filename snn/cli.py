"""The ``snn`` console script.

This module is the one place in ``snn`` that may import the sibling packages
(``hardware``, ``tasks``, ``energy``), lazily, inside its commands.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

import snn

__all__ = ["main"]
#: the engines a command may name (``--engine``); one not importable here falls back to the reference
_ENGINE_CHOICES = ("reference", "event", "torch")
#: the tasks ``snn deploy lava --task`` takes (tasks._common.TASKS; not imported here, ``snn`` must not import ``tasks``)
_TASKS = ("linear", "lasso", "qp", "poisson", "heat", "shortest_path", "qubo")


class _UsageError(Exception):
    """A bad command-line value found inside a command: one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (``snn report: error: ...``) and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {_one_line(message)} (see {self.prog} --help)\n")


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


def _int_arg(low: int, high: int | None = None) -> Any:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an int") from None
        if value < low or (high is not None and value > high):
            allowed = f"an int >= {low}" if high is None else f"an int in [{low}, {high}]"
            raise argparse.ArgumentTypeError(f"{value} is out of range; allowed: {allowed}")
        return value

    parse.__name__ = "int"
    return parse


def _rate_arg(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise argparse.ArgumentTypeError(f"{text} is not a probability; allowed: a spike probability per step in [0, 1]")
    return value


_steps_arg = _int_arg(1)
_seed_arg = _int_arg(0, 2**64 - 1)


def _engine(args: argparse.Namespace) -> str:
    """``--engine`` if it can run here, else the reference engine (the choice itself was checked by the parser)."""
    return args.engine if args.engine in snn.engine_names() else "reference"


def _existing_file(path: str, option: str) -> Path:
    p = Path(path)
    if not p.is_file():
        raise _UsageError(f"{option} {path!r}: no such file" + (" (it is a folder)" if p.is_dir() else ""))
    return p


def _writable(path: str, option: str, *, folder: bool) -> None:
    """Refuse an ``--out`` that cannot be written, before any long work."""
    p = Path(path)
    if folder and p.exists() and not p.is_dir():
        raise _UsageError(f"{option} {path!r}: exists and is not a folder")
    if not folder and p.is_dir():
        raise _UsageError(f"{option} {path!r}: is a folder; give a file name")
    probe = p if folder else p.parent
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK):
        raise _UsageError(f"{option} {path!r}: cannot write there ({probe} is not a writable folder)")


def _demo_network(n_side: int = 10, *, input_delay_steps: int = 2) -> snn.Network:
    net = snn.Network(dt_ms=1.0)
    n = n_side**3
    rng = np.random.default_rng(0)
    net.add_population(
        "exc",
        n,
        snn.LIF(tau_mem_ms=20.0, tau_syn_ms=5.0, v_th=1.0, bias=rng.uniform(0.8, 1.1, n)),
        positions=snn.layout.grid((n_side, n_side, n_side), spacing_um=20.0),
    )
    net.add_population("in", 50, snn.PoissonSource(rate_hz=20.0), positions=snn.layout.random_box(50, 200.0, seed=1))
    net.connect("exc", "exc", snn.connect.distance_gaussian(sigma_um=30.0, p_max=0.3), weight=0.05, delay_steps=1, seed=1)
    net.connect("in", "exc", snn.connect.fixed_probability(0.1), weight=0.2, delay_steps=input_delay_steps, seed=2)
    return net


def _cmd_engines(args: argparse.Namespace) -> int:
    net = _demo_network()
    print(net)
    print(f"{'engine':<10} {'spikes':>10} {'syn. events':>12} {'first call s':>13} {'compile s':>10} {'run s':>8}")
    for engine in snn.engine_names():
        compiled0 = _compile_seconds(engine)
        t0 = time.perf_counter()
        snn.simulate(net, args.steps, engine=engine, seed=0, record=())
        first = time.perf_counter() - t0
        compiled = _compile_seconds(engine) - compiled0
        t0 = time.perf_counter()
        res = snn.simulate(net, args.steps, engine=engine, seed=0, record=())  # plan and compiled code reused
        wall = time.perf_counter() - t0
        print(f"{engine:<10} {res.counts.spikes:>10} {res.counts.synaptic_events:>12} {first:>13.3f} {compiled:>10.3f} {wall:>8.3f}")
    print("first call: plan, compilation (numba; cached on disk after the first process) and the run; run s: the same run again")
    return 0


def _compile_seconds(engine: str) -> float:
    if engine != "event":
        return 0.0
    from snn.engines import event

    return float(sum(event.compile_stats().values()))


# ----------------------------------------------------------------------------- the main job
#: the demo's jobs: (label, task module, random_problem kwargs, solve kwargs, dense_baseline kwargs)
_DEMO_JOBS = (
    ("linear (n=64)", "linear", {"n": 64, "cond": 10.0}, {"rtol": 1e-3}, {}),
    ("lasso (64 atoms)", "lasso", {"n_atoms": 64}, {"rtol": 1e-2}, {}),
    ("qp (n=20, m=8)", "qp", {"n": 20, "m": 8}, {"rtol": 1e-3}, {}),
    ("poisson (8^3)", "poisson", {"shape": (8, 8, 8)}, {"rtol": 1e-3}, {}),
    ("heat (8^3, 50 steps)", "heat", {"shape": (8, 8, 8), "n_time": 50}, {}, {}),
    ("shortest path (n=200)", "shortest_path", {"n": 200}, {}, {}),
    ("maxcut (n=20)", "qubo", {"n": 20}, {}, {}),
)
#: the demo's size sweeps (energy.sizesweep.run keyword arguments), one per task, each through its demo job's size
#: (that point is the demo job itself, not run again); small enough to add about 20 s to the demo on 2 cores
_DEMO_SWEEPS = (
    {"task": "linear", "label": "linear (cond 10)", "sizes": {"n": [16, 32, 64, 256]}, "problem": {"cond": 10.0}, "solve": {"rtol": 1e-3}},
    {"task": "lasso", "label": "lasso", "sizes": {"n_atoms": [16, 32, 64, 256]}, "solve": {"rtol": 1e-2}},
    {
        "task": "qp",
        "label": "qp (m = 0.4 n)",
        "sizes": [{"n": 10, "m": 4}, {"n": 20, "m": 8}, {"n": 40, "m": 16}, {"n": 80, "m": 32}],
        "size_name": "n",
        "solve": {"rtol": 1e-3},
    },
    {
        "task": "poisson",
        "label": "poisson (3D grid)",
        "sizes": {"shape": [(4, 4, 4), (6, 6, 6), (8, 8, 8), (12, 12, 12)]},
        "size_values": [4, 6, 8, 12],
        "size_name": "grid side",
        "solve": {"rtol": 1e-3},
    },
    {
        "task": "heat",
        "label": "heat (3D grid, 50 steps)",
        "sizes": {"shape": [(4, 4, 4), (8, 8, 8), (12, 12, 12), (16, 16, 16)]},
        "size_values": [4, 8, 12, 16],
        "size_name": "grid side",
        "problem": {"n_time": 50},
    },
    {"task": "shortest_path", "label": "shortest path", "sizes": {"n": [50, 100, 200, 800]}},
    {"task": "qubo", "label": "maxcut", "sizes": {"n": [10, 15, 20, 30]}},
)


def _traffic_for(run: Any, network: Any, mapping_mod: Any, *, topology: str = "2d", layers: int = 1) -> tuple[dict | None, str | None]:
    """The task run's traffic on a Loihi mapping, or why there is none."""
    try:
        placed = mapping_mod.map_network(network, "loihi", topology=topology, layers=layers)
        return mapping_mod.traffic(run, placed).to_dict(include_remote=True, include_cores=True), None
    except Exception as exc:  # a task whose run is chunked or not fully recorded: priced without routing
        return None, f"{type(exc).__name__}: {exc}"


def _cmd_demo(args: argparse.Namespace) -> int:
    import importlib
    import json
    from pathlib import Path

    from tqdm import tqdm

    import energy
    from energy import baseline as gpu_baseline
    from hardware import lava_backend, loihi
    from hardware import mapping as mapping_mod
    from tasks._common import convergence_trace

    _writable(args.out, "--out", folder=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    engine = _engine(args)
    cuda = gpu_baseline.cuda_available()
    device = "cuda" if cuda else "cpu"
    notes = [
        f"Spiking runs on the '{engine}' engine of snn-toolkit {snn.__version__}; every task at a small size, seed {args.seed}.",
        "GPU baselines: "
        + (
            "measured on this machine's CUDA GPU through NVML."
            if cuda
            else "no CUDA GPU here, so the dense GPU figures are MODELLED on the h100 profile: max(roofline from counted FLOPs and bytes, launch-bound from the kernel launches and host syncs counted by running each dense baseline under a dispatch counter); the dense algorithm's CPU wall time is shown as measured CPU time."
        ),
        "CPU baselines: the conventional compiled library solver per task (scipy CG, scikit-learn coordinate descent, OSQP, "
        "scipy.sparse stepping, scipy Dijkstra, numba simulated annealing), single-threaded, wall time measured here (median of repeated runs); "
        "energy = one server core's power [3.75-11.9 W, best 6.25 W] (cpu_xeon8480 core_power) x that time.",
        "Equal accuracy: every baseline runs to the accuracy the spiking solver reached on its stopping metric (the task's TARGET_METRICS): "
        "the iterative ones stop at the first iterate at least as accurate (found by an untimed search, then timed for exactly that many iterations), "
        "OSQP at the loosest tolerance that reaches it, the exact ones (Dijkstra, time stepping) are checked; each baseline's achieved accuracy is in its record.",
    ]
    comparisons = []
    summary: dict[str, Any] = {"engine": engine, "device": device, "jobs": {}}
    jobs = [j for j in _DEMO_JOBS if not args.only or j[1] in args.only]
    steps = tqdm(jobs, desc="snn demo", unit="task", disable=args.quiet)
    traffic_fn = functools.partial(_traffic_for, mapping_mod=mapping_mod)
    done: dict = {}  # jobs already run: a sweep point that is also a demo job is not run again
    for label, name, prob_kw, solve_kw, base_kw in steps:
        steps.set_postfix_str(name)
        comp, job_summary, job_notes = energy.jobs.run_task_job(
            importlib.import_module(f"tasks.{name}"),
            prob_kw,
            solve_kw,
            base_kw,
            seed=args.seed,
            engine=engine,
            device=device,
            label=label,
            traffic=traffic_fn,
            trace=convergence_trace,
            cache=done,
        )
        notes.extend(job_notes)
        comparisons.append(comp)
        summary["jobs"][name] = job_summary

    # size sweeps: energy- and time-to-solution against size, the demo job's size among them (reused, not run again)
    sweeps = []
    todo = [sw for sw in _DEMO_SWEEPS if not args.only or sw["task"] in args.only]
    for sw in tqdm(todo, desc="size sweeps", unit="task", disable=args.quiet):
        kw = {k: v for k, v in sw.items() if k != "task"}
        sweeps.append(
            energy.sizesweep.run(
                importlib.import_module(f"tasks.{sw['task']}"),
                **kw,
                seed=args.seed,
                engine=engine,
                device=device,
                profile=energy.sizesweep.HEADLINE_CHIPS,
                traffic=traffic_fn,
                cache=done,
            )
        )

    # fixed point: the linear task quantised to Loihi's registers and run bit-exactly
    fp_problem = importlib.import_module("tasks.linear").random_problem(n=64, cond=10.0, seed=args.seed)
    fp = importlib.import_module("tasks.linear").solve(
        fp_problem, engine=engine, simulate=loihi.fixed_point_simulator(), seed=args.seed, rtol=1e-3
    )
    summary["fixed_point_linear"] = {
        "success": bool(fp.success),
        "n_steps": int(fp.n_steps),
        "errors": {k: float(v) for k, v in fp.errors.items() if np.isscalar(v)},
    }
    notes.append(
        f"Loihi fixed point (hardware.loihi): linear n=64 reached relative residual {fp.errors.get('rel_residual', float('nan')):.2e} in {fp.n_steps} steps ({fp.message})."
    )

    # the 3D network of the core: 2D mesh vs 3D stack on a 12^3 grid (1,778 neurons: 3 Loihi cores, so messages cross
    # cores and the placements can differ), and Lava bit-exactness on an 8^3 one (one core; Lava's CPU run stays short)
    big, _ = loihi.quantize(_demo_network(12, input_delay_steps=1))
    run = snn.simulate(big, args.steps, engine=engine, seed=args.seed, record=("spikes",))
    placements = {}
    for label, topo, layers in (("2d", "2d", 1), ("3d (2 layers)", "3d", 2)):
        traffic, why = _traffic_for(run, big, mapping_mod, topology=topo, layers=layers)
        if traffic is not None:
            placements[label] = traffic
        else:
            notes.append(f"Placement {label}: not mapped ({why}).")
    placement = (
        energy.compare_placements(run.counts, placements, profile="loihi1_davies2018", assumptions={"hop_vertical": "e_hop_ns"})
        if placements
        else None
    )
    activity = {f"3D LIF network, 12^3 (fixed point, {big.n_neurons} neurons)": run.counts.spikes_per_step.tolist()}
    net = _demo_network(8, input_delay_steps=1)  # Lava's Dense/Sparse deliver in the next step
    qnet, _ = loihi.quantize(net)
    if args.no_lava:
        notes.append("Lava: skipped (--no-lava).")
    else:
        try:
            lava = lava_backend.run(qnet, args.lava_steps, record=("spikes",), seed=args.seed)
            ours = snn.simulate(qnet, args.lava_steps, engine=engine, seed=args.seed, record=("spikes",))
            exact = all(np.array_equal(lava.spikes[p.name], ours.spikes[p.name]) for p in qnet.populations)
            summary["lava_bit_exact"] = exact
            notes.append(
                f"Lava (lava-nc 0.10, Loihi2SimCfg fixed_pt): the quantised 3D network ({qnet.n_neurons} neurons, {args.lava_steps} steps) gave spikes {'bit-identical to' if exact else 'DIFFERENT from'} our engine."
            )
        except Exception as exc:  # no .venv-lava on this machine: the report says so
            notes.append(f"Lava: not run ({type(exc).__name__}: {str(exc)[:300]}).")
    paths = energy.report(
        comparisons,
        out,
        title="snn demo: spiking solvers vs the dense GPU way",
        placement=placement,
        activity=activity,
        notes=notes,
        size_sweeps=sweeps,
    )
    snn.io.atomic_write_bytes(out / "summary.json", lambda fh: fh.write(json.dumps(summary, indent=2, default=str).encode()))
    print(f"report: {paths['html']}\n        {paths['md']}\n        {paths['json']}")
    for note in notes:
        print("-", note)
    return 0


# ----------------------------------------------------------------------------- import / report / deploy / bench
def _inputs_for(net: snn.Network, n_steps: int, specs: list[str] | None, rate: float, seed: int) -> tuple[dict, list[str]]:
    """``{ExternalInput population: (n_steps, n) array}`` from ``name=path.npy`` specs, else seeded Bernoulli spikes."""
    given: dict[str, np.ndarray] = {}
    for spec in specs or []:
        name, sep, path = spec.partition("=")
        if not sep:
            raise _UsageError(f"--input {spec!r}: must be NAME=PATH.npy")
        given[name] = np.load(_existing_file(path, "--input"), allow_pickle=False)
    notes = []
    rng = np.random.default_rng(seed)
    for p in net.populations:
        if isinstance(p.model, snn.ExternalInput) and p.name not in given:
            given[p.name] = (rng.random((n_steps, p.n)) < rate).astype(np.float64)
            notes.append(f"input {p.name!r}: seeded Bernoulli spikes at {rate} per step (no --input given)")
    return given, notes


def _scaled(inputs: dict, rep: Any) -> dict:
    """External inputs in the integer units of a quantised network (``round(x * scale)``)."""
    return {k: np.rint(np.asarray(v, dtype=np.float64) * rep.input_scales.get(k, 1.0)) for k, v in inputs.items()}


def _cmd_import(args: argparse.Namespace) -> int:
    _existing_file(args.model, "model")
    _writable(args.out, "--out", folder=False)
    net = snn.nir.read(args.model, dt_ms=args.dt_ms, convention=args.convention, reset=args.reset)
    snn.save(net, args.out)
    print(f"{net}\noutputs: {list(net.outputs)}\nsaved: {args.out}")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    import energy
    from hardware import loihi
    from hardware import mapping as mapping_mod

    _existing_file(args.network, "network")
    _writable(args.out, "--out", folder=True)
    net = snn.load(args.network)
    inputs, notes = _inputs_for(net, args.steps, args.input, args.input_rate, args.seed)
    engine = _engine(args)
    res = snn.simulate(net, args.steps, engine=engine, seed=args.seed, inputs=inputs, record=("spikes",), progress=not args.quiet)
    traffic, why = _traffic_for(res, net, mapping_mod)
    if why:
        notes.append(f"priced without routing terms: {why}")
    work = energy.baseline.dense_snn_workload(net, args.steps)
    gpu = energy.baseline.model(
        work.flops, work.bytes_moved, "h100", label="dense SNN simulation (snnTorch-style), H100 roofline", algorithm=work.description
    )
    comps = [energy.compare(f"{args.network} ({engine})", res.counts, mapping=traffic, baselines=[gpu], extra={"engine": engine})]
    try:
        qnet, rep = loihi.quantize(net)
        qres = snn.simulate(qnet, args.steps, engine=engine, seed=args.seed, inputs=_scaled(inputs, rep), record=("spikes",))
        qtraffic, _ = _traffic_for(qres, qnet, mapping_mod)
        comps.append(
            energy.compare(f"{args.network} (Loihi fixed point)", qres.counts, mapping=qtraffic, baselines=[gpu], extra={"engine": engine})
        )
    except Exception as exc:  # not expressible in Loihi fixed point: priced in float only
        notes.append(f"Loihi fixed point not priced: {type(exc).__name__}: {exc}")
    paths = energy.report(
        comps, args.out, title=f"energy report: {args.network}", activity={args.network: res.counts.spikes_per_step.tolist()}, notes=notes
    )
    print(f"report: {paths['html']}")
    return 0


def _zero_delay_shift(net: snn.Network) -> dict[str, int]:
    """Steps each population is delayed when its zero-delay (same-step) inputs take one step: the longest such chain into it."""
    shift = {p.name: 0 for p in net.populations}
    edges = net.zero_delay_edges()
    for name in net.update_order():  # sources of zero-delay edges come first
        for a, b in edges:
            if b == name:
                shift[name] = max(shift[name], shift[a] + 1)
    return shift


def _clipped_weights(qnet: snn.Network) -> dict[str, tuple[int, int]]:
    """``{projection: (clipped, stored)}``: integer weights Lava will clip to its 8-bit range."""
    from hardware import loihi

    out = {}
    for pr in qnet.projections:
        syn = pr.synapse
        if isinstance(syn, loihi.LoihiSynapse) and pr.n_synapses:
            ints = syn.integer_weights(pr.weights)
            _, clipped = loihi.lava_weights(ints.data, syn.effective_sign_mode(pr.weights), syn.num_weight_bits)
            out[pr.name] = (clipped, pr.n_synapses)
    return out


def _cmd_deploy_task(args: argparse.Namespace) -> int:
    from tasks import _deploy
    from tasks._common import TaskError

    if not args.problem:
        raise _UsageError("--task needs --problem FILE.npz (tasks._common.save_problem writes one)")
    _existing_file(args.problem, "problem")
    _writable(args.network, "OUT", folder=True)
    try:
        out = _deploy.write_lava_folder(args.task, args.problem, args.network, seed=args.seed, overwrite=args.overwrite)
    except TaskError as exc:
        raise _UsageError(str(exc)) from None
    print(f"Lava deployment folder for task {args.task!r}: {out} (python {out / 'run.py'}; see its README.md)")
    if args.run:
        import subprocess

        return subprocess.run([sys.executable, str(out / "run.py")], check=False).returncode
    return 0


def _cmd_deploy(args: argparse.Namespace) -> int:
    import warnings

    from hardware import lava_backend, loihi

    if args.task is not None:
        return _cmd_deploy_task(args)
    if args.problem:
        raise _UsageError("--problem needs --task NAME")
    _existing_file(args.network, "network")
    _writable(args.out, "--out", folder=True)
    net = snn.load(args.network)
    zero = sorted({pr.name for pr in net.projections if pr.n_synapses and pr.delay_range[0] == 0})
    pad = 0
    shift: dict[str, int] = {}
    if zero and not args.unit_delays:
        print(
            f"snn deploy: error: projections {zero} have zero-delay (same-step) synapses, which Lava cannot run "
            "(its Dense/Sparse deliver in the next step); pass --unit-delays to retime them to one step "
            "(each layer's output then comes one step later; the input is padded so that no output is lost)",
            file=sys.stderr,
        )
        return 2
    if args.unit_delays:
        shift = _zero_delay_shift(net)
        pad = max(shift.values(), default=0)
        net = lava_backend.with_unit_delays(net)
    qnet, rep = loihi.quantize(net)
    n_run = args.steps + pad
    inputs, notes = _inputs_for(net, args.steps, args.input, args.input_rate, args.seed)
    if pad:
        inputs = {k: np.vstack([np.asarray(v, dtype=np.float64), np.zeros((pad, np.shape(v)[1]))]) for k, v in inputs.items()}
        late = ", ".join(f"{k!r} +{d}" for k, d in shift.items() if d)
        notes.append(
            f"--unit-delays: outputs come later by the number of retimed layers ({late} steps); the run is {args.steps} + {pad} = {n_run} steps, "
            f"the inputs padded with {pad} zero steps, so row t + shift of a population is its output for input step t"
        )
        if any(isinstance(p.model, (snn.PoissonSource, snn.SpikeSource, snn.CurrentSource)) for p in net.populations):
            notes.append("--unit-delays: the network's own sources (Poisson, spike, current) keep running in the padded steps")
    inputs = _scaled(inputs, rep)
    print(rep)
    clipped = _clipped_weights(qnet)
    for name, (k, total) in clipped.items():
        if k:
            print(f"  projection {name!r}: {k} of {total} weights outside Lava's 8-bit range are clipped")
    print(f"  clipped weights: {sum(k for k, _ in clipped.values())} of {sum(t for _, t in clipped.values())}")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", loihi.LoihiClipWarning)
        info = lava_backend.export(qnet, args.out, n_run, seed=args.seed, inputs=inputs or None, overwrite=args.overwrite)
    notes.extend(str(w.message) for w in caught if issubclass(w.category, loihi.LoihiClipWarning))
    print(f"Lava deployment folder: {info.directory} ({info.n_steps} steps; expected spikes from the {info.engine!r} engine)")
    width = max([len(p.name) for p in qnet.populations] + [len("population")])
    print(f"  {'population':<{width}} {'results key':>12} {'expected spikes':>16}")
    for i, p in enumerate(qnet.populations):
        print(f"  {p.name:<{width}} {f'pop{i}.spikes':>12} {info.expected_spike_counts[p.name]:>16}")
    for note in notes:
        print("-", note)
    if args.run:
        res = lava_backend.run(qnet, n_run, record=("spikes",), seed=args.seed, inputs=inputs or None)
        print("Lava spikes per population:")
        for name, count in res.counts.spikes_per_population.items():
            same = (
                "same as expected"
                if count == info.expected_spike_counts[name]
                else f"DIFFERENT from the expected {info.expected_spike_counts[name]}"
            )
            print(f"  {name:<{width}} {count:>10}  ({same})")
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    if not (root / "benchmarks" / "peers.py").exists():
        raise _UsageError("snn bench needs a source checkout (benchmarks/peers.py); run it from the repository")
    rest = list(args.rest)
    if rest[:1] == ["--"]:
        rest = rest[1:]
    return subprocess.call([sys.executable, "-m", "benchmarks.peers", *rest], cwd=root)


# ----------------------------------------------------------------------------- sweeps (energy.sweep on Dask)
def sweep_point(point: dict) -> dict:
    """The default job of :func:`energy.sweep`: solve (or simulate), map, price one point; plain data out.

    Here because this module is the one allowed to wire ``tasks``, ``hardware``
    and ``energy`` together.  The solve and the mapping do not depend on the
    profile, so a worker keeps the last few (a point per profile reuses them).
    """
    import energy
    from energy.sweep import row_from_estimate

    run, _, facts = _sweep_run(json.dumps({k: v for k, v in point.items() if k != "profile"}, sort_keys=True))
    est = energy.estimate(run["counts"], energy.profiles.get(point["profile"]), mapping=run["traffic"])
    return row_from_estimate(point, est.to_dict(), facts)


@functools.lru_cache(maxsize=4)
def _sweep_run(key: str) -> tuple[dict, Any, dict]:
    import importlib

    from energy.sweep import facts as plain
    from hardware import mapping as mapping_mod

    point = json.loads(key)
    engine = point["engine"]
    t0 = time.perf_counter()
    if "network" in point:
        net = snn.load(point["network"])
        inputs, _ = _inputs_for(net, point["steps"], None, point["input_rate"], point["seed"])
        run = snn.simulate(net, point["steps"], engine=engine, seed=point["seed"], inputs=inputs, record=("spikes",))
        extra: dict = {"n_steps": point["steps"]}
    else:
        mod = importlib.import_module(f"tasks.{point['task']}")
        problem = mod.random_problem(**point["problem"], **point["size"], seed=point["seed"])
        res = mod.solve(problem, engine=engine, seed=point["seed"], **point["solve"])
        net, run = res.network, res.run
        extra = {"n_steps": int(res.n_steps), "success": bool(res.success)}
        extra.update({f"err_{k}": float(v) for k, v in sorted(res.errors.items()) if np.isscalar(v)})
    solve_s = time.perf_counter() - t0
    placed = mapping_mod.map_network(net, point["chip"], placement=point["placement"])
    traffic = mapping_mod.traffic(run, placed).to_dict(include_remote=True, include_cores=True)
    counts = run.counts.to_dict()
    facts = plain(
        [
            ("n_neurons", int(net.n_neurons)),
            ("n_synapses", int(net.n_synapses)),
            *extra.items(),
            ("spikes", int(run.counts.spikes)),
            ("synaptic_events", int(run.counts.synaptic_events)),
            ("n_cores", int(placed.n_cores)),
            ("n_chips", int(placed.n_chips)),
            ("solve_s", round(solve_s, 4)),
        ]
    )
    return {"counts": counts, "traffic": traffic}, net, facts


def _cmd_sweep(args: argparse.Namespace) -> int:
    import energy
    from energy.sweep import load_spec

    spec = load_spec(args.spec)
    rows = energy.sweep(spec, client=args.scheduler, out=args.out, retry_failed=args.retry_failed, progress=not args.quiet)
    bad = [r for r in rows if r["status"] != "ok"]
    print(f"snn sweep: {len(rows)} points, {len(bad)} failed; results in {args.out}/results.csv and results.json")
    for r in bad[:10]:
        print(f"  failed: {r['task']} size={r['size']} seed={r['seed']} {r['placement']} {r['profile']}: {r['error']}", file=sys.stderr)
    return 1 if bad else 0


_BENCH_HELP = """runs `python -m benchmarks.peers` with every option after `bench` passed on as given
(`snn bench --quick`, `snn bench --sizes 10000 50000 --repeats 5`); `snn bench --help`
prints that script's own help.  Its options:
  --quick               N=10k, 200 steps, 3 repeats, every peer: a smoke run of a few minutes
  --sizes N [N ...]     network sizes (default 10000 50000)
  --steps STEPS         simulated steps per run (default 1000)
  --repeats K           timed runs per peer, the median reported (default 3)
  --peers P [P ...]     which peers to time (default: all)
  --threads T           threads for the peers that use them (default 2)
  --timeout S           seconds per peer and size (default 1800)
  --dense-limit-gb G    skip dense torch where its float32 matrix is larger (default 4)
  --sweep               the activity sweep (0.5% .. 5%) with the fitted exponent
  --rounds R            run the whole set of peers R times, alternating (for noisy machines)
  --sweep-n N, --sweep-peers P [P ...], --no-peers
  --out PATH            write the results as JSON
Figures and the machine they were measured on: benchmarks/README.md."""


def build_parser() -> argparse.ArgumentParser:
    """The ``snn`` argument parser (every option carries its help text)."""
    parser = _Parser(prog="snn", description="spiking networks in 3D, event-driven engines, energy comparisons")
    parser.add_argument("--version", action="version", version=f"snn-toolkit {snn.__version__}", help="print the version and exit")
    parser.add_argument("--traceback", action="store_true", help="on an error, show Python's traceback instead of one line")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    engines = ", ".join(snn.engine_names())
    p = sub.add_parser("engines", help="simulate a 10x10x10 3D network on every available engine and print a table")
    p.add_argument("--steps", type=_steps_arg, default=500, help="simulated steps (default 500)")
    p.set_defaults(func=_cmd_engines)
    p = sub.add_parser("demo", help="the main job: every task on the spiking engine, fixed point, Lava, energy report")
    p.add_argument("--out", default="reports/demo", help="report folder (default reports/demo)")
    p.add_argument(
        "--engine",
        default="event",
        choices=_ENGINE_CHOICES,
        help=f"spiking engine, one of {engines} (default event; reference when event is unavailable)",
    )
    p.add_argument("--seed", type=_seed_arg, default=0, help="seed of the random problems and of the runs (default 0)")
    p.add_argument("--steps", type=_steps_arg, default=300, help="steps of the 3D network used for placement and Lava")
    p.add_argument("--lava-steps", type=_steps_arg, default=100, help="steps of the Lava bit-exactness run (default 100)")
    p.add_argument("--no-lava", action="store_true", help="skip the Lava run")
    p.add_argument("--only", nargs="*", help="run only these tasks (linear lasso qp poisson heat shortest_path qubo)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_demo)
    p = sub.add_parser("import", help="read a NIR file (snnTorch, Norse, ...) into a network .npz")
    p.add_argument("model", help="the .nir file")
    p.add_argument("--dt-ms", type=float, required=True, help="the time step the file was made for (NIR stores none)")
    p.add_argument(
        "--convention",
        default="nir",
        choices=["nir", "snntorch", "norse"],
        help="the library that wrote the file, whose discretisation and reset are rebuilt (default nir; see snn.nir)",
    )
    p.add_argument(
        "--reset",
        default=None,
        choices=[None, "zero", "subtract"],
        help="override the convention's reset (snnTorch writes the same file for both)",
    )
    p.add_argument("--out", default="network.npz", help="where to save the network (default network.npz)")
    p.set_defaults(func=_cmd_import)
    input_help = "NAME=PATH.npy: a (steps, n) array for the ExternalInput population NAME (repeatable)"
    rate_help = "Bernoulli spike probability per step for ExternalInput populations without --input (default 0.1)"
    p = sub.add_parser("report", help="simulate a saved network, map it, price it, write an energy report")
    p.add_argument("network", help="a network .npz (snn.save / snn import)")
    p.add_argument("--steps", type=_steps_arg, default=100, help="simulated steps (default 100)")
    p.add_argument("--engine", default="event", choices=_ENGINE_CHOICES, help=f"engine, one of {engines} (default event)")
    p.add_argument("--seed", type=_seed_arg, default=0, help="seed of the run and of the generated inputs (default 0)")
    p.add_argument("--input", action="append", help=input_help)
    p.add_argument("--input-rate", type=_rate_arg, default=0.1, help=rate_help)
    p.add_argument("--out", default="reports/network", help="report folder (default reports/network)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_report)
    p = sub.add_parser("deploy", help="export a Loihi/Lava deployment folder")
    p.add_argument("target", choices=["lava"], help="the deployment target (lava)")
    p.add_argument("network", help="a network .npz (snn.save / snn import); with --task: the folder to write (OUT/)")
    p.add_argument("--task", choices=_TASKS, help="deploy a task instance instead of a network: the folder solves it on Lava")
    p.add_argument("--problem", help="with --task: the Problem's .npz (tasks._common.save_problem)")
    p.add_argument("--steps", type=_steps_arg, default=100, help="input steps to run (default 100)")
    p.add_argument("--seed", type=_seed_arg, default=0, help="seed of the run and of the generated inputs (default 0)")
    p.add_argument("--input", action="append", help=input_help)
    p.add_argument("--input-rate", type=_rate_arg, default=0.1, help=rate_help)
    p.add_argument("--out", default="lava_deploy", help="the deployment folder to write (default lava_deploy)")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    p.add_argument("--run", action="store_true", help="also run it on Lava's CPU simulator here")
    p.add_argument(
        "--unit-delays",
        action="store_true",
        help="retime zero-delay (same-step) projections to Lava's one step; each population's output then comes as many steps "
        "later as retimed layers feed it, and the input is padded with that many zero steps so no output is lost",
    )
    p.set_defaults(func=_cmd_deploy)
    p = sub.add_parser("sweep", help="a design-space sweep on Dask (energy.sweep): tasks x sizes x seeds x profiles x placements")
    p.add_argument("spec", help="the sweep spec, a JSON file (see energy.sweep)")
    p.add_argument("--out", required=True, help="results folder; a re-run with the same folder skips finished points")
    p.add_argument("--scheduler", default=None, help="tcp://HOST:PORT of a running Dask scheduler (default: a local in-process cluster)")
    p.add_argument("--retry-failed", action="store_true", help="re-run points recorded with an error")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_sweep)
    p = sub.add_parser(
        "bench",
        help="speed against peers: python -m benchmarks.peers, options passed on (snn bench --quick; snn bench --help)",
        description=_BENCH_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        add_help=False,
    )
    p.add_argument("rest", nargs=argparse.REMAINDER, help="options for benchmarks.peers, e.g. --quick")
    p.set_defaults(func=_cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["bench"]:  # everything after `bench` belongs to benchmarks.peers, --help included
        try:
            return _cmd_bench(argparse.Namespace(rest=argv[1:]))
        except _UsageError as exc:
            print(f"snn bench: error: {_one_line(exc)}", file=sys.stderr)
            return 2
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    if not getattr(args, "quiet", False):  # the event engine says once what its first-call compilation cost
        logging.getLogger("snn.engines.event").setLevel(logging.INFO)
        if not logging.getLogger().handlers:
            logging.basicConfig(format="%(message)s", stream=sys.stderr)
    if args.traceback:
        return int(args.func(args))
    # every failure is one line and a non-zero status: 2 for bad input (ours or the command
    # line's), 1 for anything else (a missing file, a full disk, a bug: --traceback shows it)
    try:
        return int(args.func(args))
    except (snn.errors.SNNError, _UsageError) as exc:
        print(f"snn {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"snn {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 (the console script's last line of defence)
        print(f"snn {args.command}: error: {type(exc).__name__}: {_one_line(exc)} (run with --traceback for details)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
