"""Cost of continuing a run: ``k`` short runs chained through ``state=`` against one long run.

The workload is the reference network of :mod:`benchmarks.peers` (one LIF
population, ~100 random synapses per neuron, delay 1).  Both sides run on the
event engine in this process, alternating, after a warm-up that compiles
everything; the split runs are checked to give the long run's op counts and
final state bit for bit.  The issue's target: 100 short runs of a 50k-neuron
network cost at most 1.5x one long run of the same total length.

    python -m benchmarks.continuation --n 50000 --steps 1000 --chunks 100 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np

from benchmarks.peers import reference_arrays, reference_network


def measure(n: int, steps: int, chunks: int, rounds: int, engine: str = "event") -> dict:
    import snn

    net = reference_network(reference_arrays(n, seed=0))
    k = steps // chunks
    snn.simulate(net, 2, engine=engine, record=())  # compile and cache the plan
    long_s, split_s, setup = [], [], []
    whole = split = None
    for _ in range(rounds):
        t0 = time.perf_counter()
        whole = snn.simulate(net, steps, engine=engine, seed=1, record=())
        long_s.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        state, runs = snn.init_state(net, seed=1), []
        for _ in range(chunks):
            runs.append(snn.simulate(net, k, engine=engine, state=state, record=()))
            state = runs[-1].state
        split = snn.RunResult.concat(runs)
        split_s.append(time.perf_counter() - t0)
        if engine == "event":
            from snn.engines import event

            setup.append(event.last_run_stats()["setup_s"])
    exact = split.counts.equals(whole.counts) and split.state.equals(whole.state)
    ratios = [s / w for s, w in zip(split_s, long_s)]
    return {
        "engine": engine,
        "n": n,
        "steps": steps,
        "chunks": chunks,
        "long_s": long_s,
        "split_s": split_s,
        "ratio_median": statistics.median(ratios),
        "ratios": ratios,
        "per_chunk_setup_s_median": statistics.median(setup) if setup else None,
        "spikes": whole.counts.spikes,
        "bit_exact": bool(exact),
        "activity_per_step": whole.counts.spikes / steps / n,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=50_000, help="neurons (default 50000)")
    ap.add_argument("--steps", type=int, default=1000, help="total steps (default 1000)")
    ap.add_argument("--chunks", type=int, default=100, help="number of short runs (default 100)")
    ap.add_argument("--rounds", type=int, default=3, help="alternating repetitions (default 3)")
    ap.add_argument("--engine", default="event", help="engine (default event)")
    ap.add_argument("--json", default=None, help="also write the figures to this JSON file")
    args = ap.parse_args(argv)
    res = measure(args.n, args.steps, args.chunks, args.rounds, args.engine)
    print(json.dumps(res, indent=1, default=float))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(res, fh, indent=1, default=float)
    return 0 if res["bit_exact"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
