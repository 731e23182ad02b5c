"""Simulation engines.

Each engine module exposes ``run(plan, n_steps, *, record, inputs, **options) -> RunResult``.
They all consume the same :class:`snn.engines.plan.Plan` (built from a network)
and the same kernels, so they differ only in how they move data.
"""
