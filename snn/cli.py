"""The ``snn`` console script.

This module is the one place in ``snn`` that may import the sibling packages
(``hardware``, ``tasks``, ``energy``), lazily, inside its commands.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import numpy as np

import snn

__all__ = ["main"]


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
    print(f"{'engine':<10} {'spikes':>10} {'syn. events':>12} {'wall s':>8}")
    for engine in snn.engine_names():
        t0 = time.perf_counter()
        res = snn.simulate(net, args.steps, engine=engine, seed=0, record=())
        wall = time.perf_counter() - t0
        print(f"{engine:<10} {res.counts.spikes:>10} {res.counts.synaptic_events:>12} {wall:>8.3f}")
    return 0


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


def _traffic_for(run: Any, network: Any, mapping_mod: Any, *, topology: str = "2d", layers: int = 1) -> tuple[dict | None, str | None]:
    """The task run's traffic on a Loihi mapping, or why there is none."""
    try:
        placed = mapping_mod.map_network(network, "loihi", topology=topology, layers=layers)
        return mapping_mod.traffic(run, placed).to_dict(), None
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

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    engine = args.engine if args.engine in snn.engine_names() else "reference"
    cuda = gpu_baseline.cuda_available()
    device = "cuda" if cuda else "cpu"
    notes = [
        f"Spiking runs on the '{engine}' engine of snn-toolkit {snn.__version__}; every task at a small size, seed {args.seed}.",
        "GPU baselines: " + ("measured on this machine's CUDA GPU through NVML." if cuda else "no CUDA GPU here, so the dense GPU figures are MODELLED on the h100 profile: max(roofline from counted FLOPs and bytes, launch-bound from the kernel launches and host syncs counted by running each dense baseline under a dispatch counter); the dense algorithm's CPU wall time is shown as measured CPU time."),
    ]
    comparisons = []
    summary: dict[str, Any] = {"engine": engine, "device": device, "jobs": {}}
    jobs = [j for j in _DEMO_JOBS if not args.only or j[1] in args.only]
    steps = tqdm(jobs, desc="snn demo", unit="task", disable=args.quiet)
    for label, name, prob_kw, solve_kw, base_kw in steps:
        steps.set_postfix_str(name)
        mod = importlib.import_module(f"tasks.{name}")
        problem = mod.random_problem(**prob_kw, seed=args.seed)
        t0 = time.perf_counter()
        res = mod.solve(problem, engine=engine, seed=args.seed, **solve_kw)
        wall = time.perf_counter() - t0
        # run under a dispatch counter too: its kernel launches and host syncs price the launch-bound GPU time
        base = gpu_baseline.with_launch_counts(lambda m=mod, p=problem, kw=base_kw: m.dense_baseline(p, device=device, **kw))
        measured = None
        if cuda:
            measured = gpu_baseline.measure(lambda m=mod, p=problem, kw=base_kw: m.dense_baseline(p, device="cuda", **kw), device="cuda")
        traffic, why = _traffic_for(res.run, res.network, mapping_mod)
        if why:
            notes.append(f"{label}: priced without routing terms (no mapping: {why}).")
        accuracy = {k: float(v) for k, v in res.errors.items() if np.isscalar(v) and np.isfinite(v)}
        comp = energy.compare(
            label,
            res.run.counts,
            mapping=traffic,
            baseline=base,
            gpu_profile="h100",
            measured=measured,
            accuracy=accuracy,
            extra={"success": bool(res.success), "message": res.message, "n_steps": int(res.n_steps), "spiking_wall_time_s": wall, "engine": engine},
        )
        comparisons.append(comp)
        summary["jobs"][name] = {
            "success": bool(res.success),
            "n_steps": int(res.n_steps),
            "synaptic_events": int(res.run.counts.synaptic_events),
            "baseline_flops": int(base.flops),
            "errors": accuracy,
        }

    # fixed point: the linear task quantised to Loihi's registers and run bit-exactly
    fp_problem = importlib.import_module("tasks.linear").random_problem(n=64, cond=10.0, seed=args.seed)
    fp = importlib.import_module("tasks.linear").solve(fp_problem, engine=engine, simulate=loihi.fixed_point_simulator(), seed=args.seed, rtol=1e-3)
    summary["fixed_point_linear"] = {"success": bool(fp.success), "n_steps": int(fp.n_steps), "errors": {k: float(v) for k, v in fp.errors.items() if np.isscalar(v)}}
    notes.append(f"Loihi fixed point (hardware.loihi): linear n=64 reached relative residual {fp.errors.get('rel_residual', float('nan')):.2e} in {fp.n_steps} steps ({fp.message}).")

    # the 3D network of the core: 2D mesh vs 3D stack, and Lava bit-exactness
    net = _demo_network(8, input_delay_steps=1)  # Lava's Dense/Sparse deliver in the next step
    qnet, _ = loihi.quantize(net)
    run = snn.simulate(qnet, args.steps, engine=engine, seed=args.seed, record=("spikes",))
    placements = {}
    for label, topo, layers in (("2d", "2d", 1), ("3d (2 layers)", "3d", 2)):
        traffic, why = _traffic_for(run, qnet, mapping_mod, topology=topo, layers=layers)
        if traffic is not None:
            placements[label] = traffic
    placement = energy.compare_placements(run.counts, placements, profile="loihi1_davies2018", assumptions={"hop_vertical": "e_hop_ns"}) if placements else None
    activity = {"3D LIF network (fixed point)": run.counts.spikes_per_step.tolist()}
    if args.no_lava:
        notes.append("Lava: skipped (--no-lava).")
    else:
        try:
            lava = lava_backend.run(qnet, args.lava_steps, record=("spikes",), seed=args.seed)
            ours = snn.simulate(qnet, args.lava_steps, engine=engine, seed=args.seed, record=("spikes",))
            exact = all(np.array_equal(lava.spikes[p.name], ours.spikes[p.name]) for p in qnet.populations)
            summary["lava_bit_exact"] = exact
            notes.append(f"Lava (lava-nc 0.10, Loihi2SimCfg fixed_pt): the quantised 3D network ({qnet.n_neurons} neurons, {args.lava_steps} steps) gave spikes {'bit-identical to' if exact else 'DIFFERENT from'} our engine.")
        except Exception as exc:  # no .venv-lava on this machine: the report says so
            notes.append(f"Lava: not run ({type(exc).__name__}: {str(exc)[:300]}).")
    paths = energy.report(comparisons, out, title="snn demo: spiking solvers vs the dense GPU way", placement=placement, activity=activity, notes=notes)
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
            raise SystemExit(f"--input {spec!r}: must be NAME=PATH.npy")
        given[name] = np.load(path, allow_pickle=False)
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
    net = snn.nir.read(args.model, dt_ms=args.dt_ms, convention=args.convention, reset=args.reset)
    snn.save(net, args.out)
    print(f"{net}\noutputs: {list(net.outputs)}\nsaved: {args.out}")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    import energy
    from hardware import loihi
    from hardware import mapping as mapping_mod

    net = snn.load(args.network)
    inputs, notes = _inputs_for(net, args.steps, args.input, args.input_rate, args.seed)
    engine = args.engine if args.engine in snn.engine_names() else "reference"
    res = snn.simulate(net, args.steps, engine=engine, seed=args.seed, inputs=inputs, record=("spikes",), progress=not args.quiet)
    traffic, why = _traffic_for(res, net, mapping_mod)
    if why:
        notes.append(f"priced without routing terms: {why}")
    work = energy.baseline.dense_snn_workload(net, args.steps)
    gpu = energy.baseline.model(work.flops, work.bytes_moved, "h100", label="dense SNN simulation (snnTorch-style), H100 roofline", algorithm=work.description)
    comps = [energy.compare(f"{args.network} ({engine})", res.counts, mapping=traffic, baselines=[gpu], extra={"engine": engine})]
    try:
        qnet, rep = loihi.quantize(net)
        qres = snn.simulate(qnet, args.steps, engine=engine, seed=args.seed, inputs=_scaled(inputs, rep), record=("spikes",))
        qtraffic, _ = _traffic_for(qres, qnet, mapping_mod)
        comps.append(energy.compare(f"{args.network} (Loihi fixed point)", qres.counts, mapping=qtraffic, baselines=[gpu], extra={"engine": engine}))
    except Exception as exc:  # not expressible in Loihi fixed point: priced in float only
        notes.append(f"Loihi fixed point not priced: {type(exc).__name__}: {exc}")
    paths = energy.report(comps, args.out, title=f"energy report: {args.network}", activity={args.network: res.counts.spikes_per_step.tolist()}, notes=notes)
    print(f"report: {paths['html']}")
    return 0


def _cmd_deploy(args: argparse.Namespace) -> int:
    from hardware import lava_backend, loihi

    net = snn.load(args.network)
    if args.unit_delays:
        net = lava_backend.with_unit_delays(net)
    qnet, rep = loihi.quantize(net)
    inputs, notes = _inputs_for(net, args.steps, args.input, args.input_rate, args.seed)
    inputs = _scaled(inputs, rep)
    info = lava_backend.export(qnet, args.out, args.steps, seed=args.seed, inputs=inputs or None, overwrite=args.overwrite)
    print(f"Lava deployment folder: {args.out}\n{info}")
    for note in notes:
        print("-", note)
    if args.run:
        res = lava_backend.run(qnet, args.steps, record=("spikes",), seed=args.seed, inputs=inputs or None)
        print("Lava spike counts:", res.counts.spikes_per_population)
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    import subprocess
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    if not (root / "benchmarks" / "peers.py").exists():
        raise SystemExit("snn bench needs a source checkout (benchmarks/peers.py); run it from the repository")
    return subprocess.call([sys.executable, "-m", "benchmarks.peers", *args.rest], cwd=root)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="snn", description="spiking networks in 3D, event-driven engines, energy comparisons")
    parser.add_argument("--version", action="version", version=f"snn-toolkit {snn.__version__}")
    sub = parser.add_subparsers(dest="command")
    p = sub.add_parser("engines", help="simulate a 10x10x10 3D network on every available engine and print a table")
    p.add_argument("--steps", type=int, default=500)
    p.set_defaults(func=_cmd_engines)
    p = sub.add_parser("demo", help="the main job: every task on the spiking engine, fixed point, Lava, energy report")
    p.add_argument("--out", default="reports/demo", help="report folder (default reports/demo)")
    p.add_argument("--engine", default="event", help="spiking engine (default event; reference when event is unavailable)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, default=300, help="steps of the 3D network used for placement and Lava")
    p.add_argument("--lava-steps", type=int, default=100)
    p.add_argument("--no-lava", action="store_true", help="skip the Lava run")
    p.add_argument("--only", nargs="*", help="run only these tasks (linear lasso qp poisson heat shortest_path qubo)")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_cmd_demo)
    p = sub.add_parser("import", help="read a NIR file (snnTorch, Norse, ...) into a network .npz")
    p.add_argument("model")
    p.add_argument("--dt-ms", type=float, required=True, help="the time step the file was made for (NIR stores none)")
    p.add_argument("--convention", default="nir", choices=["nir", "snntorch", "norse"])
    p.add_argument("--reset", default=None, choices=[None, "zero", "subtract"])
    p.add_argument("--out", default="network.npz")
    p.set_defaults(func=_cmd_import)
    for name, func, help_ in (("report", _cmd_report, "simulate a saved network, map it, price it, write an energy report"),):
        p = sub.add_parser(name, help=help_)
        p.add_argument("network", help="a network .npz (snn.save / snn import)")
        p.add_argument("--steps", type=int, default=100)
        p.add_argument("--engine", default="event")
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--input", action="append", help="NAME=PATH.npy: (steps, n) array for an ExternalInput population")
        p.add_argument("--input-rate", type=float, default=0.1, help="Bernoulli spike rate for inputs not given")
        p.add_argument("--out", default="reports/network")
        p.add_argument("--quiet", action="store_true")
        p.set_defaults(func=func)
    p = sub.add_parser("deploy", help="export a Loihi/Lava deployment folder")
    p.add_argument("target", choices=["lava"])
    p.add_argument("network")
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--input", action="append")
    p.add_argument("--input-rate", type=float, default=0.1)
    p.add_argument("--out", default="lava_deploy")
    p.add_argument("--overwrite", action="store_true")
    p.add_argument("--run", action="store_true", help="also run it on Lava's CPU simulator here")
    p.add_argument("--unit-delays", action="store_true", help="retime zero-delay (same-step) projections to Lava's one step; outputs come depth steps later")
    p.set_defaults(func=_cmd_deploy)
    p = sub.add_parser("bench", help="python -m benchmarks.peers (from a source checkout)")
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=_cmd_bench)
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    try:
        return int(args.func(args))
    except snn.errors.SNNError as exc:
        print(f"snn {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
