"""Solve -laplacian(u) = f on a 16^3 grid with a sigma-delta spiking network.

Run: .venv/bin/python examples/poisson.py
"""

import snn
from tasks import poisson

engine = "event" if "event" in snn.engine_names() else "reference"
problem = poisson.random_problem((16, 16, 16), seed=0)
result = poisson.solve(problem, rtol=1e-3, engine=engine)
counts = result.run.counts
print(f"{result.message}: {result.n_steps} steps, relative error {result.errors['rel_error']:.2e} (target 1e-3)")
print(
    f"network: {counts.n_neurons} neurons, {counts.n_synapses} synapses; {counts.spikes} graded spikes, {counts.synaptic_events} synaptic events"
)
try:
    for algorithm in ("cg", "jacobi"):
        base = poisson.dense_baseline(problem, algorithm=algorithm, rtol=1e-3)
        print(
            f"dense {base.algorithm}: {base.n_iter} iterations, {base.flops} FLOPs, {base.bytes_moved} bytes, {base.wall_time_s * 1e3:.1f} ms"
        )
except ImportError:
    print("(install torch for the dense baseline)")
