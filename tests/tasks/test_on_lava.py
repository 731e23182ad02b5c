"""Every task end to end on Intel Lava itself (its CPU simulator, through a Lava session), bit for bit.

``tasks.<name>.solve(p, simulate=hardware.loihi.fixed_point_simulator(), engine="lava")``
must return the same ``x``, ``n_steps``, status and op counts (per-step arrays
included) as the same call with ``engine="event"`` (our fixed-point event
engine): the chunked solvers continue the run on one Lava session with
``state=``, so this also checks the session's continuation, its Var writes and
the initial state it starts from (heat's ``u0``).
"""

import dataclasses

import numpy as np
import pytest
import scipy.sparse.csgraph as csgraph

from hardware import lava_backend, loihi
from tasks import heat, lasso, linear, poisson, qp, qubo, shortest_path


def _lava_available() -> bool:
    try:
        lava_backend.lava_python()
    except Exception:
        return False
    return True


pytestmark = [pytest.mark.lava, pytest.mark.skipif(not _lava_available(), reason="no .venv-lava (make lava-env builds it)")]

#: small instances with several chunks each (so the Lava session is continued, not one export)
CASES = {
    "linear": (linear, lambda: linear.random_problem(n=6, seed=0), {"n_steps": 200}),
    "lasso": (lasso, lambda: lasso.random_problem(n_atoms=8, seed=0), {"n_steps": 400, "reset": "zero"}),
    "qp": (qp, lambda: qp.random_problem(n=5, m=3, seed=0), {"n_steps": 200}),
    "poisson": (poisson, lambda: poisson.random_problem(shape=(3, 3, 2), seed=0), {"n_steps": 200}),
    "heat": (heat, lambda: heat.random_problem(shape=(3, 3, 2), n_time=20, seed=0), {}),
    "qubo": (qubo, lambda: qubo.random_problem(n=6, seed=0), {"n_steps": 200, "seed": 3, "check_every": 50}),
    "shortest_path": (shortest_path, lambda: shortest_path.random_problem(n=20, max_length=4, seed=0), {}),
}


def _solve_both(name):
    mod, make, kw = CASES[name]
    p = make()
    ours = mod.solve(p, simulate=loihi.fixed_point_simulator(), engine="event", **kw)
    sim = loihi.fixed_point_simulator()
    try:
        on_lava = mod.solve(p, simulate=sim, engine="lava", **kw)
    finally:
        sim.close()
    return p, ours, on_lava


def assert_same_solve(ours, on_lava):
    assert on_lava.run.engine.startswith("lava")
    np.testing.assert_array_equal(on_lava.x, ours.x)
    assert on_lava.n_steps == ours.n_steps
    assert (on_lava.status, on_lava.success) == (ours.status, ours.success)
    for f in dataclasses.fields(ours.run.counts):
        a, b = getattr(ours.run.counts, f.name), getattr(on_lava.run.counts, f.name)
        if isinstance(a, dict):
            assert dict(a) == dict(b), f.name
        else:
            np.testing.assert_array_equal(np.asarray(b), np.asarray(a), err_msg=f.name)
    assert ours.run.counts.spikes > 0


@pytest.mark.parametrize("name", sorted(CASES))
def test_task_on_lava_equals_our_event_engine_bit_for_bit(name):
    _, ours, on_lava = _solve_both(name)
    assert_same_solve(ours, on_lava)
    assert ours.n_steps > 1


def test_shortest_path_on_lava_equals_dijkstra():
    p, ours, on_lava = _solve_both("shortest_path")
    expected = csgraph.dijkstra(p.graph, indices=p.source)
    assert on_lava.success
    np.testing.assert_array_equal(on_lava.x, expected)
    assert np.isfinite(expected).sum() > 10
    for name, spikes in ours.run.spikes.items():
        np.testing.assert_array_equal(on_lava.run.spikes[name], spikes)


def test_snn_deploy_lava_task_folder_solves_the_instance_as_solve_does(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    from snn.cli import main
    from tasks import _common

    p = CASES["shortest_path"][1]()
    _common.save_problem(p, tmp_path / "sp.npz")
    out = tmp_path / "deploy"
    assert main(["deploy", "lava", "--task", "shortest_path", "--problem", str(tmp_path / "sp.npz"), str(out)]) == 0
    assert {f.name for f in out.iterdir()} == {"problem.npz", "run.py", "README.md"}
    root = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "run.py"], cwd=out, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "shortest_path on lava" in proc.stdout
    ours = shortest_path.solve(p, simulate=loihi.fixed_point_simulator(), engine="event", seed=0)
    with np.load(out / "result.npz", allow_pickle=False) as got:
        np.testing.assert_array_equal(got["x"], ours.x)
        np.testing.assert_array_equal(got["x"], csgraph.dijkstra(p.graph, indices=p.source))
        assert (int(got["n_steps"]), int(got["status"])) == (ours.n_steps, ours.status)
        np.testing.assert_array_equal(got["counts.spikes_per_step"], ours.run.counts.spikes_per_step)
        np.testing.assert_array_equal(got["counts.synaptic_events_per_step"], ours.run.counts.synaptic_events_per_step)
        assert int(got["counts.synaptic_events"]) == ours.run.counts.synaptic_events
    hw = subprocess.run([sys.executable, "run.py", "--hw"], cwd=out, env=env, capture_output=True, text=True, timeout=300)
    assert hw.returncode == 2 and hw.stderr.count("\n") == 1 and "no Loihi 2 support" in hw.stderr, hw.stderr
