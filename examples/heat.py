"""Step the heat equation 100 times on a 16^3 grid; one network step per time step.

Run: .venv/bin/python examples/heat.py
"""

import snn
from tasks import heat

engine = "event" if "event" in snn.engine_names() else "reference"
problem = heat.random_problem((16, 16, 16), n_time=100, seed=0)
result = heat.solve(problem, rtol=1e-3, engine=engine)
counts = result.run.counts
dense_events = result.n_steps * counts.n_synapses
print(
    f"r = alpha*dt/h^2 = {problem.r:.3f}; after {result.n_steps} steps: relative error {result.errors['rel_error']:.2e} vs finite differences"
)
print(
    f"{counts.synaptic_events} synaptic events ({counts.synaptic_events / dense_events:.0%} of a dense update), {counts.spikes} graded spikes"
)
try:
    base = heat.dense_baseline(problem)
    print(f"dense {base.algorithm}: {base.flops} FLOPs, {base.bytes_moved} bytes, {base.wall_time_s * 1e3:.1f} ms")
except ImportError:
    print("(install torch for the dense baseline)")
