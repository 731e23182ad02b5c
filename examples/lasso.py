"""Sparse coding (non-negative and signed LASSO) with a spiking locally competitive algorithm.

Run: .venv/bin/python examples/lasso.py
"""

import snn
from tasks import lasso

engine = "event" if "event" in snn.engine_names() else "reference"
problem = lasso.random_problem(128, seed=1)  # 128 atoms, 64 samples
result = lasso.solve(problem, rtol=1e-2, engine=engine)
counts = result.run.counts
print(f"{result.message}: {result.n_steps} steps (dt = {result.info['dt']:.3f}), relative duality gap {result.errors['rel_gap']:.2e}")
print(
    f"objective {result.info['objective']:.6f} vs scikit-learn {result.info['objective_reference']:.6f} (relative {result.errors['rel_objective']:.1e})"
)
print(
    f"active atoms: {int((result.x > 0).sum())} (reference {int((result.reference > 0).sum())}); {counts.spikes} spikes, {counts.synaptic_events} synaptic events"
)
try:
    base = lasso.dense_baseline(problem, rtol=1e-2)
    print(
        f"dense {base.algorithm}: {base.n_iter} iterations, {base.flops} FLOPs, {base.bytes_moved} bytes, {base.wall_time_s * 1e3:.2f} ms"
    )
except ImportError:
    print("(install torch for the dense baseline)")

# the signed LASSO: positive=False; the [A, -A] split (two neurons per atom) is done inside solve
signed = lasso.random_problem(128, positive=False, seed=1)
res = lasso.solve(signed, rtol=1e-2, engine=engine)
print(
    f"signed: {res.message}: {res.n_steps} steps, objective {res.info['objective']:.6f} vs scikit-learn "
    f"{res.info['objective_reference']:.6f}; atoms > 0: {int((res.x > 0).sum())}, < 0: {int((res.x < 0).sum())} "
    f"(reference {int((res.reference > 0).sum())}, {int((res.reference < 0).sum())})"
)
