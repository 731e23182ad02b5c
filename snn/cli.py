"""The ``snn`` console script.

This module is the one place in ``snn`` that may import the sibling packages
(``hardware``, ``tasks``, ``energy``), lazily, inside its commands.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

import snn

__all__ = ["main"]


def _demo_network(n_side: int = 10) -> snn.Network:
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
    net.connect("in", "exc", snn.connect.fixed_probability(0.1), weight=0.2, delay_steps=2, seed=2)
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="snn", description="spiking networks in 3D, event-driven engines, energy comparisons")
    parser.add_argument("--version", action="version", version=f"snn-toolkit {snn.__version__}")
    sub = parser.add_subparsers(dest="command")
    p = sub.add_parser("engines", help="simulate a 10x10x10 3D network on every available engine and print a table")
    p.add_argument("--steps", type=int, default=500)
    p.set_defaults(func=_cmd_engines)
    p = sub.add_parser("demo", help="the main job (for now: the engine table)")
    p.add_argument("--steps", type=int, default=500)
    p.add_argument("--out", default="reports/demo")
    p.set_defaults(func=_cmd_engines)
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
