"""tasks.linear: the sigma-delta Richardson/Jacobi solver against numpy/scipy."""

from __future__ import annotations

import dataclasses
import inspect
import math

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla

import snn
from tasks import linear
from tasks._common import CONVERGED, MAXITER, NONFINITE, TaskError, final_status

# most tests run on the reference engine (no compile time); one test holds the default
# "event" engine to it, step for step
ENGINE = "reference"


class QuantizingSimulator:
    """A stand-in for ``hardware.loihi.fixed_point_simulator()``: :func:`snn.simulate`'s signature.

    Rounds every projection's weights to a signed ``bits``-bit mantissa times
    one power-of-two step per projection (Loihi's weight format) and runs the
    quantized copy; keeps the networks it ran.
    """

    def __init__(self, bits: int = 8) -> None:
        self.bits = bits
        self.calls = 0
        self.networks: list[snn.Network] = []

    def __call__(
        self, network, n_steps, *, engine="reference", seed=0, state=None, record=("spikes",), inputs=None, progress=False, **options
    ):
        self.calls += 1
        q = snn.Network(dt_ms=network.dt_ms)
        for pop in network.populations:
            q.add_population(pop.name, pop.n, pop.model, positions=pop.positions_um, initial_state=dict(pop.initial_state))
        for pr in network.projections:
            w = pr.weights.copy()
            step = 2.0 ** math.ceil(math.log2(float(np.abs(w.data).max()) / (2 ** (self.bits - 1) - 1)))
            w.data = np.round(w.data / step) * step
            q.add_projection(pr.pre, pr.post, weights=w, delay_steps=int(pr.delays[0]), name=pr.name)
        self.networks.append(q)
        if state is None:
            options["seed"] = seed
        return snn.simulate(q, n_steps, engine=engine, state=state, record=record, inputs=inputs, progress=progress, **options)


@pytest.fixture(scope="module")
def problem100():
    return linear.random_problem(100, cond=10.0, seed=0)


@pytest.fixture(scope="module")
def solved100(problem100):
    return linear.solve(problem100, engine=ENGINE)


def test_reaches_1e_3_relative_residual_at_n100(problem100, solved100):
    res = solved100
    A, b = problem100.A, problem100.b
    x_np = np.linalg.solve(A, b)
    rel_res = np.linalg.norm(b - A @ res.x) / np.linalg.norm(b)
    assert res.success and res.status == 0
    assert rel_res <= 1e-3
    assert res.errors["rel_residual"] == pytest.approx(rel_res)
    # cond(A) = 10 bounds the error by 10x the residual
    assert np.linalg.norm(res.x - x_np) / np.linalg.norm(x_np) <= 1e-2
    assert res.n_steps < 200
    assert res.run.counts.n_steps == res.n_steps


def test_counts_are_messages_times_fan_out(problem100, solved100):
    counts = solved100.run.counts
    # dense W = I - omega A: every sender reaches all 100 neurons
    assert counts.synaptic_events == 100 * counts.spikes
    assert counts.graded_spikes == counts.spikes
    assert counts.synaptic_events_per_step.sum() == counts.synaptic_events
    # the decoded x is the sum of the graded messages
    assert np.allclose(solved100.run.outputs["x"].sum(axis=0), solved100.x, atol=1e-12)


def test_activity_falls_to_zero_as_it_converges(problem100):
    """With a fixed threshold the network goes quiet at its fixed point."""
    res = linear.solve(problem100, engine=ENGINE, rtol=1e-9, n_steps=150, vth=1e-4, check_every=50)
    per_step = res.run.counts.spikes_per_step
    assert per_step[:5].min() == 100  # everything changes at first
    assert per_step[-30:].sum() == 0  # quiescent at the end
    # the quiescent state satisfies |omega r_i| < vth for every i
    r = problem100.b - problem100.A @ res.x
    assert np.abs(res.info["omega"] * r).max() < 1e-4


def test_vth_zero_is_exactly_richardson(problem100):
    """vth=0 sends every change: the network is the Richardson iteration, step for step."""
    it = linear.iteration(problem100)
    res = linear.solve(problem100, engine=ENGINE, vth=0.0, rtol=1e-12, n_steps=40, check_every=13)
    x = np.zeros(problem100.n)
    for _ in range(40):
        x = it.W @ x + it.c
    assert np.allclose(res.x, x, rtol=0, atol=1e-10)
    assert res.status == 1 and not res.success


def assert_same_solve(a, b):
    """Two solves are the same run, bit for bit: x, steps, status, every op count, every message."""
    assert np.array_equal(a.x, b.x)
    assert (a.n_steps, a.status, a.success) == (b.n_steps, b.status, b.success)
    assert a.run.counts.equals(b.run.counts)
    assert np.array_equal(a.run.outputs["x"], b.run.outputs["x"])
    assert a.info["refinements"] == b.info["refinements"]


EVENT = pytest.param("event", marks=pytest.mark.skipif("event" not in snn.engine_names(), reason="no event engine"))


@pytest.mark.parametrize("engine", ["reference", EVENT])
def test_small_check_interval_equals_one_big_chunk(problem100, engine):
    """check_every decides only where the run may stop: the falling-threshold run is the same either way."""
    one = linear.solve(problem100, engine=engine, rtol=1e-12, n_steps=60, check_every=60)
    many = linear.solve(problem100, engine=engine, rtol=1e-12, n_steps=60, check_every=7)
    assert one.info["n_chunks"] == 6 and many.info["n_chunks"] == 14  # pieces: threshold updates (every 10) and checks
    ths = [h[2] for h in one.info["history"]]
    assert len(set(ths)) == 6 and ths == sorted(ths, reverse=True)  # the threshold fell at every update
    assert_same_solve(one, many)
    # and the same as the plain loop on snn.simulate, written out here with the solver's thresholds
    it = linear.iteration(problem100)
    state = None
    runs = []
    for th in ths:
        net = snn.Network(dt_ms=1.0)
        net.add_population("x", 100, snn.SigmaDelta(vth=th, bias=it.c))
        net.add_projection("x", "x", weights=it.W, delay_steps=1, name="recurrent")
        state = snn.init_state(net, seed=0) if state is None else state
        runs.append(snn.simulate(net, 10, engine=engine, state=state, record={"x": ("outputs",)}))
        state = runs[-1].state
    whole = snn.RunResult.concat(runs)
    assert whole.counts.equals(one.run.counts)
    assert np.array_equal(whole.state.populations["x"]["ref"], one.x)


def test_small_check_interval_equals_one_big_chunk_with_refinement_passes(problem100):
    """With 8-bit weights the run stalls and refinement passes start: still independent of check_every."""
    one = linear.solve(problem100, engine=ENGINE, simulate=QuantizingSimulator(bits=8), rtol=1e-12, n_steps=150, check_every=150)
    many = linear.solve(problem100, engine=ENGINE, simulate=QuantizingSimulator(bits=8), rtol=1e-12, n_steps=150, check_every=7)
    assert len(one.info["refinements"]) >= 2
    assert_same_solve(one, many)


def _fixed_point_simulator():
    loihi = pytest.importorskip("hardware.loihi")
    if "state" not in inspect.signature(loihi.FixedPointSimulator.__call__).parameters:
        pytest.skip("hardware.loihi.fixed_point_simulator() does not continue runs (state=) yet")
    return loihi.fixed_point_simulator()


def test_small_check_interval_equals_one_big_chunk_in_fixed_point(problem100):
    one = linear.solve(problem100, engine=ENGINE, simulate=_fixed_point_simulator(), rtol=1e-12, n_steps=120, check_every=120)
    sim = _fixed_point_simulator()
    many = linear.solve(problem100, engine=ENGINE, simulate=sim, rtol=1e-12, n_steps=120, check_every=7)
    assert many.run.engine.endswith("+loihi")
    assert_same_solve(one, many)


def test_sparse_jacobi_matches_spsolve():
    n = 200
    main = 4.0 + np.linspace(0, 1, n)
    A = sp.diags([-np.ones(n - 1), main, -np.ones(n - 1)], [-1, 0, 1], format="csr")
    b = np.random.default_rng(3).standard_normal(n)
    p = linear.Problem(A, b)
    res = linear.solve(p, engine=ENGINE, method="jacobi", omega=1.0)
    x = spla.spsolve(A.tocsc(), b)
    assert res.success
    assert np.linalg.norm(b - A @ res.x) / np.linalg.norm(b) <= 1e-3
    assert np.linalg.norm(res.x - x) / np.linalg.norm(x) <= 1e-3
    # plain Jacobi: W = -D^-1 (A - D), the off-diagonal pattern of A
    assert res.network.n_synapses == 2 * (n - 1)  # omega = 1: no self-connections


def test_runs_with_a_quantizing_simulate_callable(problem100):
    sim = QuantizingSimulator(bits=8)
    res = linear.solve(problem100, engine=ENGINE, simulate=sim, n_steps=400)
    assert sim.calls == res.info["n_chunks"] >= 2
    # 8-bit weights alone stall near 3e-2; host-side iterative refinement reaches the target
    assert res.success and res.errors["rel_residual"] <= 1e-3
    assert len(res.info["refinements"]) >= 1
    # without refinement the answer is the fixed point of the quantized network (I - W_q) x = c
    sim2 = QuantizingSimulator(bits=8)
    plain = linear.solve(problem100, engine=ENGINE, simulate=sim2, n_steps=300, max_refinements=0, vth=0.0)
    Wq = sim2.networks[-1].projection("recurrent").weights.toarray()
    it = linear.iteration(problem100)
    x_q = np.linalg.solve(np.eye(100) - Wq, it.c)
    assert np.linalg.norm(plain.x - x_q) / np.linalg.norm(x_q) <= 1e-9
    assert not plain.success and plain.errors["rel_residual"] > 1e-3


def test_callback_sees_every_check(problem100):
    seen = []
    res = linear.solve(problem100, engine=ENGINE, callback=lambda t, x: seen.append((t, x.copy())), check_every=5)
    assert [t for t, _ in seen] == list(range(5, res.n_steps + 1, 5))
    assert np.array_equal(seen[-1][1], res.x)


def test_non_callable_callback_is_refused_before_the_run(problem100):
    sim = QuantizingSimulator()
    with pytest.raises(TaskError, match="callback=3: must be None or a callable"):
        linear.solve(problem100, simulate=sim, callback=3)
    assert sim.calls == 0


@pytest.mark.parametrize(
    ("A", "b", "match"),
    [
        (np.eye(2) + 1e-3j * np.eye(2), np.ones(2), "A: complex values are not allowed"),
        (sp.identity(2, dtype=complex, format="csr"), np.ones(2), "A: complex values are not allowed"),
        (np.eye(2), np.array([1.0, 1.0 + 2j]), "b: complex values are not allowed"),
        (np.eye(2), [1.0, 1j], "b: complex values are not allowed"),
    ],
)
def test_complex_data_is_refused(A, b, match):
    with pytest.raises(TaskError, match=match):
        linear.Problem(A, b)


def test_complex_x0_is_refused(problem100):
    with pytest.raises(TaskError, match="x0: complex"):
        linear.solve(problem100, x0=np.zeros(100, dtype=complex))


def test_tiny_matrix_is_solved_and_nan_is_never_success():
    """A = 1e-300 I: x = 1e300 b; the errors are finite and true (norms scaled), so success is honest."""
    b = np.array([1.0, -2.0, 3.0, 0.5])
    res = linear.solve(linear.Problem(1e-300 * np.eye(4), b), engine=ENGINE)
    assert np.all(np.isfinite(list(res.errors.values())))
    assert res.success and res.errors["rel_residual"] <= 1e-3
    assert np.allclose(res.x / 1e300, b, rtol=1e-12, atol=0)
    # the rule itself: a NaN or inf in x or in any error is never a success
    assert final_status(True, np.zeros(2), {"rel_error": float("nan")}) == NONFINITE
    assert final_status(True, np.array([np.inf, 0.0]), {"rel_error": 0.0}) == NONFINITE
    assert final_status(True, np.zeros(2), {"rel_error": 0.0}) == CONVERGED
    assert final_status(False, np.zeros(2), {"rel_error": 0.0}) == MAXITER


def test_nan_from_simulate_is_not_success(problem100):
    """A simulate callable whose state turns NaN: status NONFINITE, success False."""

    def broken(network, n_steps, **kw):
        run = snn.simulate(network, n_steps, **kw)
        bad = {"x": {"sigma": run.state.populations["x"]["sigma"], "ref": np.full(100, np.nan)}}
        return dataclasses.replace(run, state=run.state.replace(populations=bad))

    res = linear.solve(problem100, engine=ENGINE, simulate=broken, n_steps=10, check_every=10)
    assert res.status == NONFINITE and not res.success and "not finite" in res.message


def test_overflowing_scale_is_a_clear_error():
    with pytest.raises(TaskError, match="overflow"):
        linear.solve(linear.Problem(1e-300 * np.eye(2), np.array([1e10, 1.0])), engine=ENGINE)


def test_dense_baseline_cg(problem100):
    base = linear.dense_baseline(problem100, rtol=1e-3)
    n, k = 100, base.n_iter
    x_np = np.linalg.solve(problem100.A, problem100.b)
    assert np.linalg.norm(base.x - x_np) / np.linalg.norm(x_np) <= 1e-2
    assert base.info["rel_residual"] <= 1.1e-3
    assert 3 <= k <= 30  # CG at cond 10
    assert base.flops == 2 * n + k * (2 * n * n + 10 * n)
    assert base.bytes_moved == 4 * 2 * n + k * 4 * (n * n + 15 * n)
    assert base.device == "cpu" and base.dtype == "float32"


@pytest.mark.parametrize("device", ["bogus", 3, "cuda:99", "mps"])
def test_dense_baseline_bad_device(problem100, device):
    with pytest.raises(TaskError, match=r"device="):
        linear.dense_baseline(problem100, device=device)


def test_dense_baseline_cuda_without_cuda(problem100):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    with pytest.raises(TaskError, match="device='cuda': torch sees no CUDA device"):
        linear.dense_baseline(problem100, device="cuda")


@pytest.mark.gpu
def test_dense_baseline_cuda(problem100):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU")
    base = linear.dense_baseline(problem100, device="cuda")
    assert base.info["rel_residual"] <= 1.1e-3 and base.device.startswith("cuda")


def test_reference_is_numpy_solve(problem100):
    assert np.allclose(linear.reference(problem100), np.linalg.solve(problem100.A, problem100.b))


def test_random_problem_is_seeded():
    a, b = linear.random_problem(20, seed=5), linear.random_problem(20, seed=5)
    assert np.array_equal(a.A, b.A) and np.array_equal(a.b, b.b)
    ev = np.linalg.eigvalsh(a.A)
    assert ev[0] == pytest.approx(1.0) and ev[-1] == pytest.approx(10.0)


@pytest.mark.parametrize(
    ("A", "b", "match"),
    [
        (np.ones((3, 4)), np.ones(3), "A: must be a square"),
        (np.array([[2.0, 1.0], [0.0, 2.0]]), np.ones(2), "A: must be symmetric"),
        (np.array([[1.0, 2.0], [2.0, 1.0]]), np.ones(2), "A: must be positive definite"),
        (np.array([[1.0, np.nan], [np.nan, 1.0]]), np.ones(2), "A: contains NaN"),
        (np.eye(2), np.array([1.0, np.nan]), "b: contains NaN"),
        (np.eye(2), np.ones(3), "b: must have shape"),
        (np.ones(3), np.ones(3), "A: must be 2-D"),
    ],
)
def test_bad_problems_name_the_argument(A, b, match):
    with pytest.raises(TaskError, match=match):
        linear.Problem(A, b)


def test_bad_solver_arguments(problem100):
    with pytest.raises(TaskError, match="rtol"):
        linear.solve(problem100, rtol=0.0)
    with pytest.raises(TaskError, match="n_steps"):
        linear.solve(problem100, n_steps=0)
    with pytest.raises(TaskError, match="method"):
        linear.solve(problem100, method="gauss")
    with pytest.raises(TaskError, match="omega"):
        linear.solve(problem100, omega=-1.0)
    with pytest.raises(TaskError, match="x0"):
        linear.solve(problem100, x0=np.full(100, np.nan))
    with pytest.raises(ValueError, match="engine"):
        linear.solve(problem100, engine="nope")


@pytest.mark.skipif("event" not in snn.engine_names(), reason="the event engine is not available")
def test_event_engine_matches_reference(problem100, solved100):
    """The default engine: same messages, same answer, same counts as the reference engine."""
    ev = linear.solve(problem100, engine="event")
    assert ev.run.engine == "event"
    assert ev.success and ev.errors["rel_residual"] <= 1e-3
    assert np.array_equal(ev.x, solved100.x)
    assert np.array_equal(ev.run.counts.spikes_per_step, solved100.run.counts.spikes_per_step)
    assert ev.run.counts.synaptic_events == solved100.run.counts.synaptic_events


def test_on_the_loihi_fixed_point_simulator(problem100):
    """End to end through hardware.loihi once it maps SigmaDelta (skips while quantize() refuses it)."""
    sim = _fixed_point_simulator()
    try:
        res = linear.solve(problem100, engine=ENGINE, simulate=sim, n_steps=1000)
    except snn.errors.SNNError as exc:
        if "SigmaDelta" in str(exc) and "no Loihi fixed-point form" in str(exc):
            pytest.skip(f"hardware.loihi cannot quantize SigmaDelta yet: {exc}")
        raise
    assert res.run.engine.endswith("+loihi")
    # 8-bit weights alone stall near 3e-2; host-side iterative refinement reaches the target
    assert res.success and res.errors["rel_residual"] <= 1e-3


def _lava_available() -> bool:
    try:
        from hardware import lava_backend

        lava_backend.lava_python()
    except Exception:
        return False
    return True


@pytest.mark.lava
@pytest.mark.skipif(not _lava_available(), reason="no .venv-lava (make lava-env builds it)")
def test_one_piece_on_lava_equals_our_fixed_point_engine():
    """A solve in one piece (no check, no threshold update on the way) runs on Lava itself, bit for bit as ours."""
    from hardware import loihi

    p = linear.random_problem(16, cond=4.0, seed=0)
    kw = dict(rtol=1e-3, n_steps=60, check_every=60, vth_every=60, max_refinements=0, vth=1e-3)
    on_lava = linear.solve(p, engine="lava", simulate=loihi.fixed_point_simulator(), **kw)
    ours = linear.solve(p, engine="event", simulate=loihi.fixed_point_simulator(), **kw)
    assert on_lava.run.engine.startswith("lava") and on_lava.info["n_chunks"] == 1
    assert on_lava.run.counts.spikes > 100
    assert_same_solve(on_lava, ours)
    # 8-bit weights without refinement passes: near, not at, the float answer
    assert 1e-3 < on_lava.errors["rel_residual"] < 5e-2
