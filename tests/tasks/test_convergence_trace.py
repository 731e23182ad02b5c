"""tasks._common.convergence_trace: each solver's recorded error against steps, ending at the accuracy its result reports."""

from __future__ import annotations

import numpy as np
import pytest

from tasks import heat, lasso, linear, poisson, qubo, shortest_path
from tasks._common import convergence_trace


@pytest.mark.parametrize(
    ("mod", "kwargs", "solve_kw", "metric", "final"),
    [
        (linear, {"n": 16, "cond": 5.0}, {}, "rel_residual", "rel_residual"),
        (lasso, {"n_atoms": 16}, {"rtol": 1e-3}, "rel_gap", "rel_gap"),
        (poisson, {"shape": (4, 4, 4)}, {}, "rel_residual", "rel_residual"),
        (qubo, {"n": 10}, {}, "gap", "gap"),
    ],
)
def test_trace_ends_at_the_reported_accuracy(mod, kwargs, solve_kw, metric, final):
    problem = mod.random_problem(**kwargs, seed=0)
    res = mod.solve(problem, seed=0, **solve_kw)
    trace = convergence_trace(res)
    assert trace is not None and set(trace) == {"steps", metric}
    steps = np.asarray(trace["steps"])
    assert len(steps) == len(trace[metric]) >= 2 and np.all(np.diff(steps) > 0) and steps[-1] <= res.n_steps
    # the last check is the solution the result reports, whose error accuracy() recomputed independently
    assert trace[metric][-1] == pytest.approx(res.errors[final], rel=1e-6, abs=1e-12)
    if mod is qubo:  # the running best: never worse, and at least as bad as the final best at the start
        assert np.all(np.diff(trace[metric]) <= 0)


def test_qp_traces_the_largest_kkt_residual():
    from tasks import qp

    problem = qp.random_problem(n=6, m=3, seed=0)
    res = qp.solve(problem, seed=0)
    trace = convergence_trace(res)
    hist = res.info["history"]
    assert trace["steps"] == [float(h[0]) for h in hist]
    assert trace["max KKT residual"] == [max(h[1].values()) for h in hist]
    assert np.all(np.asarray(trace["max KKT residual"]) >= 0)


def test_exact_and_time_stepping_tasks_have_no_trace():
    for mod, kwargs in ((heat, {"shape": (4, 4, 4), "n_time": 5}), (shortest_path, {"n": 20})):
        res = mod.solve(mod.random_problem(**kwargs, seed=0), seed=0)
        assert convergence_trace(res) is None
