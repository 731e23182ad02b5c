"""Our fixed-point event engine against Lava's Loihi2SimCfg(select_tag="fixed_pt"), side by side, bit-exact.

The same network, in Loihi fixed point (:class:`hardware.loihi.LoihiLIF`,
:class:`hardware.loihi.LoihiSynapse`), is run

* by ``snn.simulate(..., engine="event")`` (after one warm-up run that pays
  numba's compile time, reported apart), and
* by Lava 0.10 on its CPU simulator, through the folder that
  :func:`hardware.lava_backend.export` writes (``run.py`` in ``.venv-lava``),
  recording the spikes with run.py's recorder process (its worker saves one
  .npy), or with Lava ``Monitor`` processes (``--monitor``: Lava's standard
  probe, whose readback moves one value per message, ~21 us each).

Network: ``n`` LoihiLIF neurons (du=400, dv=200, vth=100, bias mantissas in
[0, 40) << 2), each receiving exactly ``fan_in`` random recurrent synapses
(Lava ``Sparse``, mixed-sign even 8-bit weights ``2 * [w_min, 8)``) plus 10
from 100 spike sources firing with probability 0.05 per step.  ``w_min`` sets
the activity (-15: about 5 % of the neurons spike per step; -40: about 1.5 %).
The spikes of every neuron are recorded.

Reported per case: our time (best of ``--repeats`` after a warm-up run; it
includes building the run plan), Lava's ``run()`` time (the time steps alone,
after ``create_runtime``), Lava's readback, the whole Lava process (start,
imports, build, compile, run, readback), the ratios ``x run`` = Lava run /
ours and ``x proc`` = Lava process / ours, and whether every spike agrees.

Usage::

    .venv/bin/python benchmarks/lava_vs_event.py                    # 1,000 and 10,000 neurons, 300 steps, two activity levels
    .venv/bin/python benchmarks/lava_vs_event.py --sizes 1000 --steps 200 --w-min -15 --json out.json
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

import snn
from hardware import lava_backend, loihi


def build(n: int, fan_in: int, n_steps: int, seed: int = 0, w_min: int = -15) -> snn.Network:
    """The benchmark network: n LoihiLIF neurons, fan_in recurrent synapses each, a Poisson-like input raster.

    ``w_min`` sets the activity through the balance of the recurrent weights,
    drawn from ``2 * [w_min, 8)``: -15 gives about 5 % of the neurons spiking
    per step, -30 about 1 %.
    """
    rng = np.random.default_rng(seed)
    n_in = 100
    net = snn.Network(dt_ms=1.0)
    net.add_population("input", n_in, snn.SpikeSource(rng.random((n_steps, n_in)) < 0.05))
    lif = loihi.LoihiLIF(du=400, dv=200, vth=100, bias_mant=rng.integers(0, 40, n), bias_exp=2)
    net.add_population("lif", n, lif, initial_state={"v": rng.integers(0, 100 << 6, n)})
    # exactly fan_in distinct random pres per neuron
    cols = (
        np.argsort(rng.random((n, n)), axis=1)[:, :fan_in]
        if n <= 2000
        else np.stack([rng.choice(n, fan_in, replace=False) for _ in range(n)])
    )
    rows = np.repeat(np.arange(n), fan_in)
    w = rng.integers(w_min, 8, n * fan_in) * 2  # mixed signs, even: Lava keeps them as they are
    rec = sp.csr_matrix((w.astype(np.float64), (rows, cols.ravel())), shape=(n, n))
    net.add_projection("lif", "lif", weights=rec, synapse=loihi.LoihiSynapse(weight_exp=0))
    cols_in = np.stack([rng.choice(n_in, 10, replace=False) for _ in range(n)])
    inp = sp.csr_matrix((rng.integers(10, 40, n * 10).astype(np.float64), (np.repeat(np.arange(n), 10), cols_in.ravel())), shape=(n, n_in))
    net.add_projection("input", "lif", weights=inp, synapse=loihi.LoihiSynapse(weight_exp=0))
    return net


def bench_session(net: snn.Network, n_steps: int, chunk: int, ours: snn.RunResult) -> dict:
    """A :class:`hardware.lava_session.LavaSession` on the same network: start-up, then chunks of ``chunk`` steps."""
    from hardware import lava_session

    t0 = time.perf_counter()
    sess = lava_session.LavaSession(net, max_steps=n_steps, seed=0, timeout_s=600)
    start_s = time.perf_counter() - t0
    parts, walls, lava_runs = [], [], []
    try:
        while sess.t < n_steps:
            k = min(chunk, n_steps - sess.t)
            t0 = time.perf_counter()
            data = sess.run(k)
            walls.append(time.perf_counter() - t0)
            lava_runs.append(float(data["timing.run_s"]))
            parts.append(data["pop1.spikes"].astype(bool))
    finally:
        sess.close()
    spikes = np.concatenate(parts)
    return {
        "session_chunk_steps": chunk,
        "session_start_s": start_s,
        "session_chunk_s": float(np.median(walls)),
        "session_s_per_step": float(np.sum(walls)) / n_steps,
        "session_lava_run_s_per_step": float(np.sum(lava_runs)) / n_steps,
        "session_bit_exact": bool(np.array_equal(spikes, ours.spikes["lif"])),
    }


def bench(n: int, fan_in: int, n_steps: int, repeats: int, w_min: int, monitor: bool = False, chunk: int = 0) -> dict:
    net = build(n, fan_in, n_steps, w_min=w_min)
    t0 = time.perf_counter()
    snn.simulate(net, n_steps, engine="event", record=("spikes",))
    first_s = time.perf_counter() - t0
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        ours = snn.simulate(net, n_steps, engine="event", record=("spikes",))
        times.append(time.perf_counter() - t0)
    ours_s = min(times)
    with tempfile.TemporaryDirectory(prefix="lava-bench-") as tmp:
        folder = Path(tmp) / "export"
        lava_backend.export(net, folder, n_steps, record=("spikes",), connection="sparse", engine="event")
        t0 = time.perf_counter()
        cmd = [lava_backend.lava_python(), str(folder / "run.py"), "--quiet"] + (["--monitor"] if monitor else [])
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=folder)
        lava_total_s = time.perf_counter() - t0
        if proc.returncode not in (0, 3):
            raise RuntimeError(f"Lava failed: {proc.stderr[-3000:]}")
        with np.load(folder / "lava_results.npz", allow_pickle=False) as z:
            lava_spikes = z["pop1.spikes"].astype(bool)
            run_s, readback_s = float(z["timing.run_s"]), float(z["timing.readback_s"])
            build_s = float(z["timing.build_s"]) + float(z["timing.compile_s"])
    same = bool(np.array_equal(lava_spikes, ours.spikes["lif"]))
    extra = bench_session(net, n_steps, chunk, ours) if chunk else {}
    if extra:
        extra["event_s_per_step"] = ours_s / n_steps
    return extra | {
        "n_neurons": n,
        "n_synapses": int(net.n_synapses),
        "n_steps": n_steps,
        "w_min": w_min,
        "lava_recording": "Monitor" if monitor else "run.py recorder",
        "spikes": int(ours.counts.spikes_per_population["lif"]),
        "spikes_per_neuron_step": ours.counts.spikes_per_population["lif"] / (n * n_steps),
        "synaptic_events": int(ours.counts.synaptic_events),
        "event_s": ours_s,
        "event_first_run_s": first_s,
        "lava_run_s": run_s,
        "lava_build_s": build_s,
        "lava_readback_s": readback_s,
        "lava_process_s": lava_total_s,
        "speedup_vs_lava_run": run_s / ours_s,
        "speedup_vs_lava_process": lava_total_s / ours_s,
        "bit_exact": same,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--fan-in", type=int, default=100)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument(
        "--w-min", type=int, nargs="+", default=[-15, -40], help="activity: -15 about 5 %% spikes per step, -40 about 1.5 %%"
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--monitor", action="store_true", help="record Lava's spikes with Lava Monitor processes")
    parser.add_argument("--json", default=None, help="write the results here")
    parser.add_argument("--session-chunk", type=int, default=0, help="also run a Lava session in chunks of this many steps (0: no)")
    args = parser.parse_args(argv)
    rows = [bench(n, args.fan_in, args.steps, args.repeats, w, args.monitor, args.session_chunk) for n in args.sizes for w in args.w_min]
    print(
        f"{'neurons':>8} {'synapses':>9} {'steps':>5} {'rate':>6} {'spikes':>7} {'event s':>8} {'Lava run s':>10} {'readback s':>10} "
        f"{'Lava proc s':>11} {'x run':>7} {'x proc':>7} bit-exact"
    )
    for r in rows:
        print(
            f"{r['n_neurons']:>8} {r['n_synapses']:>9} {r['n_steps']:>5} {r['spikes_per_neuron_step']:>6.3f} {r['spikes']:>7} {r['event_s']:>8.4f} {r['lava_run_s']:>10.2f} "
            f"{r['lava_readback_s']:>10.2f} {r['lava_process_s']:>11.2f} {r['speedup_vs_lava_run']:>7.0f} {r['speedup_vs_lava_process']:>7.0f} {r['bit_exact']}"
        )
    for r in rows:
        if "session_start_s" in r:
            print(
                f"session {r['n_neurons']:>6} neurons, rate {r['spikes_per_neuron_step']:.3f}: start {r['session_start_s']:.2f} s, "
                f"chunk of {r['session_chunk_steps']} steps {r['session_chunk_s'] * 1e3:.1f} ms, {r['session_s_per_step'] * 1e3:.3f} ms/step "
                f"(Lava run {r['session_lava_run_s_per_step'] * 1e3:.3f} ms/step; ours {r['event_s_per_step'] * 1e3:.4f} ms/step) bit-exact {r['session_bit_exact']}"
            )
    if args.json:
        meta = {"python": sys.version.split()[0], "machine": platform.machine(), "processor": platform.processor(), "numpy": np.__version__}
        Path(args.json).write_text(json.dumps({"meta": meta, "results": rows}, indent=1))
    return 0 if all(r["bit_exact"] and r.get("session_bit_exact", True) for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
