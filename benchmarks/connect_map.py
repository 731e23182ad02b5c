"""Build, plan and map a large 3D network; time and peak memory of each phase.

One phase per process, so the peak RSS of the process (``ru_maxrss``) is that
phase's peak, including the network it needs (built first, not timed, for
``plan`` and ``map``).  The compile time of the numba kernels is paid in a
warm-up call on a tiny network, reported apart.

    .venv/bin/python -m benchmarks.connect_map --n 1000000 --rule gaussian --phase connect
    .venv/bin/python -m benchmarks.connect_map --n 1000000 --rule gaussian --phase map --chip loihi2

Prints one JSON line: rule, n, synapses, seconds, peak RSS (GiB), numba threads.
"""

from __future__ import annotations

import argparse
import json
import resource
import time

import numpy as np

import snn

# grid spacing 20 um; sigma / lambda chosen for about 100 synapses per neuron in the interior
RULES = {
    "gaussian": lambda: snn.connect.distance_gaussian(sigma_um=37.0, p_max=1.0),
    "exponential": lambda: snn.connect.distance_exponential(lambda_um=14.0, p_max=1.0, cutoff_um=70.0),
    "periodic": lambda: snn.connect.distance_gaussian(sigma_um=37.0, p_max=1.0),  # box set from the grid below
    "probability": lambda: None,  # p = 100 / n
    "indegree": lambda: snn.connect.fixed_indegree(100),
    "outdegree": lambda: snn.connect.fixed_outdegree(100),
}


def _rule(name: str, n: int, side: int):
    if name == "probability":
        return snn.connect.fixed_probability(100.0 / n)
    if name == "periodic":
        return snn.connect.distance_gaussian(sigma_um=37.0, p_max=1.0, periodic_box_um=side * 20.0)
    return RULES[name]()


def _rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def _network(n: int, rule_name: str, *, progress: bool = False) -> tuple[snn.Network, float]:
    side = round(n ** (1 / 3))
    net = snn.Network(dt_ms=1.0)
    net.add_population("exc", side**3, snn.LIF(), positions=snn.layout.grid((side, side, side), spacing_um=20.0))
    t0 = time.perf_counter()
    net.connect("exc", "exc", _rule(rule_name, side**3, side), weight=0.01, delay_steps=1, seed=0, progress=progress)
    return net, time.perf_counter() - t0


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000, help="neurons (rounded to a cube)")
    ap.add_argument("--rule", choices=sorted(RULES), default="gaussian")
    ap.add_argument("--phase", choices=("connect", "plan", "map"), default="connect")
    ap.add_argument("--chip", default="loihi2", help="chip for --phase map")
    ap.add_argument("--placement", default="locality", choices=("locality", "sequential"))
    ap.add_argument("--progress", action="store_true")
    args = ap.parse_args(argv)
    import numba

    t0 = time.perf_counter()
    _network(1000, args.rule)  # compile (or load the cached) kernels
    compile_s = time.perf_counter() - t0
    base = _rss_gib()
    net, connect_s = _network(args.n, args.rule, progress=args.progress and args.phase == "connect")
    out = {
        "rule": args.rule,
        "phase": args.phase,
        "n": net.n_neurons,
        "synapses": net.n_synapses,
        "synapses_per_neuron": round(net.n_synapses / net.n_neurons, 1),
        "connect_s": round(connect_s, 2),
        "warmup_s": round(compile_s, 2),
        "threads": numba.get_num_threads(),
        "rss_before_gib": round(base, 3),
    }
    if args.phase == "plan":
        from snn.engines.plan import build_plan

        t0 = time.perf_counter()
        build_plan(net, seed=0, n_steps=100)
        out["plan_s"] = round(time.perf_counter() - t0, 2)
    elif args.phase == "map":
        import hardware.mapping

        t0 = time.perf_counter()
        m = hardware.mapping.map_network(net, args.chip, placement=args.placement)
        out["map_s"] = round(time.perf_counter() - t0, 2)
        out["cores"] = m.n_cores
        out["chip"] = args.chip
        out["placement"] = args.placement
    out["peak_rss_gib"] = round(_rss_gib(), 3)
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
    np.seterr()
