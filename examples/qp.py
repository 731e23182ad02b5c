"""A quadratic program (50 variables, 20 inequalities, box bounds) by a spiking PIPG network.

Run: .venv/bin/python examples/qp.py
"""

import snn
from tasks import qp

engine = "event" if "event" in snn.engine_names() else "reference"
problem = qp.random_problem(50, 20, seed=0)
result = qp.solve(problem, rtol=1e-3, engine=engine)
counts = result.run.counts
print(
    f"{result.message}: {result.n_steps} steps; objective {result.info['objective']:.6f} vs OSQP {result.info['objective_reference']:.6f}"
)
print(f"relative objective error {result.errors['rel_objective']:.1e}, constraint violation {result.errors['violation']:.1e}")
print(f"{counts.spikes} graded messages, {counts.synaptic_events} synaptic events; per projection: {dict(counts.per_projection)}")
try:
    base = qp.dense_baseline(problem)
    print(
        f"dense {base.algorithm}: {base.n_iter} iterations, {base.flops} FLOPs, {base.bytes_moved} bytes, {base.wall_time_s * 1e3:.2f} ms"
    )
except ImportError:
    print("(install torch for the dense baseline)")
