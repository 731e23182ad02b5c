"""Solve a 100 x 100 SPD system A x = b with sigma-delta graded neurons (Richardson iteration).

Run: .venv/bin/python examples/linear.py
"""

import numpy as np

import snn
from tasks import linear

engine = "event" if "event" in snn.engine_names() else "reference"
problem = linear.random_problem(100, cond=10.0, seed=0)
result = linear.solve(problem, rtol=1e-3, engine=engine)
counts = result.run.counts
print(f"{result.message}: {result.n_steps} steps, relative residual {result.errors['rel_residual']:.2e} (target 1e-3)")
print(
    f"{counts.spikes} graded messages, {counts.synaptic_events} synaptic events (a dense update would be {result.n_steps * counts.n_synapses})"
)
print("messages per 10 steps:", [int(counts.spikes_per_step[i : i + 10].sum()) for i in range(0, result.n_steps, 10)])
x_np = np.linalg.solve(problem.A, problem.b)
print(f"relative error against numpy.linalg.solve: {np.linalg.norm(result.x - x_np) / np.linalg.norm(x_np):.2e}")
try:
    base = linear.dense_baseline(problem, rtol=1e-3)
    print(
        f"dense {base.algorithm}: {base.n_iter} iterations, {base.flops} FLOPs, {base.bytes_moved} bytes, {base.wall_time_s * 1e3:.2f} ms"
    )
except ImportError:
    print("(install torch for the dense baseline)")
