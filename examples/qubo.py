"""MaxCut on a random graph by a stochastic spiking annealer (Boltzmann neurons).

Run: .venv/bin/python examples/qubo.py
"""

import snn
from tasks import qubo

engine = "event" if "event" in snn.engine_names() else "reference"
for n in (20, 200):
    problem = qubo.random_problem(n, kind="maxcut", density=0.5, seed=0)
    result = qubo.solve(problem, n_steps=2000, seed=0, engine=engine)
    ref = "brute force" if n <= qubo.BRUTE_FORCE_MAX_N else "classical SA"
    counts = result.run.counts
    print(
        f"n={n}: cut {-result.errors['energy']:.0f} vs {ref} {-result.errors['reference_energy']:.0f} (ratio {result.errors['ratio']:.3f})"
    )
    print(f"   {result.n_steps} steps, {counts.spikes} spikes, {counts.synaptic_events} synaptic events")
    try:
        base = qubo.dense_baseline(problem, n_steps=2000)
        print(f"   dense {base.algorithm}: cut {-qubo.energy(problem, base.x):.0f}, {base.flops} FLOPs, {base.wall_time_s * 1e3:.0f} ms")
    except ImportError:
        print("   (install torch for the dense baseline)")
