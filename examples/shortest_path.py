"""Shortest paths on a random graph: first-spike times of a wave front with synaptic delays.

Run: .venv/bin/python examples/shortest_path.py
"""

import numpy as np

import snn
from tasks import shortest_path

engine = "event" if "event" in snn.engine_names() else "reference"
problem = shortest_path.random_problem(1000, out_degree=4, max_length=10, seed=0)
result = shortest_path.solve(problem, engine=engine)
counts = result.run.counts
reached = np.isfinite(result.x)
print(f"{result.message}; {result.errors['n_wrong']} distances differ from Dijkstra; {reached.sum()} of {problem.n} nodes reached")
print(
    f"{result.n_steps} steps (last first spike at step {result.info['last_spike_step']}), {counts.spikes} spikes, {counts.synaptic_events} synaptic events"
)
far = int(np.argmax(np.where(reached, result.x, -1)))
route = shortest_path.path(result.info["predecessors"], far)
print(f"farthest node {far}: distance {result.x[far]:.0f}, path {' -> '.join(map(str, route))}")
try:
    base = shortest_path.dense_baseline(problem)
    print(
        f"dense {base.algorithm}: {base.n_iter} iterations, {base.flops} FLOPs, {base.bytes_moved} bytes, {base.wall_time_s * 1e3:.1f} ms"
    )
except ImportError:
    print("(install torch for the dense baseline)")
