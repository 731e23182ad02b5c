"""tasks.lasso: spiking LCA against scikit-learn's coordinate descent and torch FISTA."""

from __future__ import annotations

import dataclasses
import inspect
import math

import numpy as np
import pytest
from scipy.optimize import minimize

import snn
from tasks import lasso
from tasks._common import NONFINITE, TaskError

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


def _objective(A, b, lam, x):
    r = b - A @ x
    return 0.5 * r @ r + lam * np.abs(x).sum()


@pytest.fixture(scope="module")
def problems():
    return {n: lasso.random_problem(n, seed=1) for n in (64, 128, 256)}


@pytest.fixture(scope="module")
def solved(problems):
    return {n: lasso.solve(p, engine=ENGINE) for n, p in problems.items()}


@pytest.mark.parametrize("n_atoms", [64, 128, 256])
def test_objective_within_1_percent_of_sklearn(problems, solved, n_atoms):
    p, res = problems[n_atoms], solved[n_atoms]
    x_ref = lasso.reference(p)
    f_snn = _objective(p.A, p.b, p.lam, res.x)
    f_ref = _objective(p.A, p.b, p.lam, x_ref)
    assert res.success
    assert np.all(res.x >= 0)
    assert (f_snn - f_ref) / f_ref <= 1e-2
    assert res.errors["rel_objective"] == pytest.approx((f_snn - f_ref) / f_ref)
    # the support is found: the atoms the reference uses carry the weight
    big = x_ref > 0.1 * x_ref.max()
    assert np.all(res.x[big] > 0)
    assert np.linalg.norm(res.x - x_ref) / np.linalg.norm(x_ref) <= 0.05
    # the stopping certificate held: relative duality gap <= rtol bounds the sub-optimality
    assert res.errors["rel_gap"] <= 1e-2
    assert (f_snn - f_ref) / f_snn <= res.errors["rel_gap"] + 1e-12


def test_reference_matches_scipy_bounded_minimisation(problems):
    """sklearn's scaling (alpha = lam / n_samples) checked against L-BFGS-B on the same objective."""
    p = problems[64]
    A, b, lam = p.A, p.b, p.lam

    def f(x):
        r = b - A @ x
        return 0.5 * r @ r + lam * x.sum(), -A.T @ r + lam

    out = minimize(
        f,
        np.zeros(p.n_atoms),
        jac=True,
        bounds=[(0, None)] * p.n_atoms,
        method="L-BFGS-B",
        options={"ftol": 1e-15, "gtol": 1e-12, "maxiter": 10000},
    )
    x_ref = lasso.reference(p)
    assert _objective(A, b, lam, x_ref) == pytest.approx(out.fun, rel=1e-7)


def test_counts_spikes_times_fan_out(problems, solved):
    res = solved[64]
    counts = res.run.counts
    assert counts.synaptic_events == 63 * counts.spikes  # dense lateral inhibition, no self-synapse
    assert counts.n_steps == res.n_steps == res.run.spikes["x"].shape[0]
    assert counts.graded_spikes == 0


def assert_same_solve(a, b):
    """Two solves are the same run, bit for bit: x, steps, status, every op count, the raster."""
    assert np.array_equal(a.x, b.x)
    assert (a.n_steps, a.status, a.success) == (b.n_steps, b.status, b.success)
    assert a.run.counts.equals(b.run.counts)
    assert np.array_equal(a.run.spikes["x"], b.run.spikes["x"])


EVENT = pytest.param("event", marks=pytest.mark.skipif("event" not in snn.engine_names(), reason="no event engine"))


@pytest.mark.parametrize("engine", ["reference", EVENT])
def test_small_check_interval_equals_one_big_chunk(problems, engine):
    """The run is one continuous run whatever check_every is: the same raster, counts and decoded x."""
    p = problems[64]
    one = lasso.solve(p, engine=engine, rtol=1e-9, n_steps=600, check_every=600)
    many = lasso.solve(p, engine=engine, rtol=1e-9, n_steps=600, check_every=70)
    assert one.info["n_chunks"] == 1 and many.info["n_chunks"] == 9
    assert_same_solve(one, many)
    assert one.run.counts.neuron_updates == 64 * 600
    # and equal to one plain snn.simulate run of the solver's network
    whole = snn.simulate(one.network, 600, engine=engine, seed=0, record={"x": ("spikes",)})
    assert np.array_equal(whole.spikes["x"], many.run.spikes["x"])
    assert whole.counts.equals(many.run.counts)


def test_small_check_interval_equals_one_big_chunk_signed(problems):
    p = lasso.random_problem(32, positive=False, seed=2)
    one = lasso.solve(p, engine=ENGINE, rtol=1e-9, n_steps=300, check_every=300)
    many = lasso.solve(p, engine=ENGINE, rtol=1e-9, n_steps=300, check_every=13)
    assert_same_solve(one, many)


def _fixed_point_simulator():
    loihi = pytest.importorskip("hardware.loihi")
    if "state" not in inspect.signature(loihi.FixedPointSimulator.__call__).parameters:
        pytest.skip("hardware.loihi.fixed_point_simulator() does not continue runs (state=) yet")
    return loihi.fixed_point_simulator()


def test_small_check_interval_equals_one_big_chunk_in_fixed_point(problems):
    p = problems[64]
    one = lasso.solve(p, engine=ENGINE, simulate=_fixed_point_simulator(), reset="zero", rtol=1e-9, n_steps=400, check_every=400)
    sim = _fixed_point_simulator()
    many = lasso.solve(p, engine=ENGINE, simulate=sim, reset="zero", rtol=1e-9, n_steps=400, check_every=70)
    assert many.run.engine.endswith("+loihi")
    assert sim.n_quantizations == 1  # the network never changes: quantized once
    assert_same_solve(one, many)


def test_rates_decode_the_window(problems):
    """x is the spike count over the window after burn-in, divided by its length, dt and the atom norm."""
    p = problems[64]
    res = lasso.solve(p, engine=ENGINE, rtol=1e-9, n_steps=410, check_every=100, burn_in=0.25)
    counts = res.run.spikes["x"][102:410].sum(axis=0)  # t_w = floor(0.25 * 410) = 102
    d = np.linalg.norm(p.A, axis=0)
    assert np.allclose(res.x, counts / 308 / res.info["dt"] / d, rtol=1e-13, atol=0)


def test_duality_gap_bounds_suboptimality(problems):
    p = problems[64]
    f_star = _objective(p.A, p.b, p.lam, lasso.reference(p))
    rng = np.random.default_rng(0)
    for _ in range(20):
        x = np.abs(rng.standard_normal(p.n_atoms)) * rng.random() * 0.3
        gap = lasso.duality_gap(p, x)
        assert gap >= _objective(p.A, p.b, p.lam, x) - f_star - 1e-12
    assert lasso.duality_gap(p, lasso.reference(p)) <= 1e-8


def test_zero_solution_when_lam_is_large():
    p0 = lasso.random_problem(32, seed=4)
    p = lasso.Problem(p0.A, p0.b, 1.01 * float(np.max(p0.A.T @ p0.b)))
    res = lasso.solve(p, engine=ENGINE, check_every=10)
    assert res.success and res.n_steps == 10
    assert np.all(res.x == 0) and res.run.counts.spikes == 0


def test_runs_with_a_quantizing_simulate_callable(problems):
    p = problems[128]
    sim = QuantizingSimulator(bits=8)
    res = lasso.solve(p, engine=ENGINE, simulate=sim, rtol=5e-2, n_steps=3000)
    assert sim.calls == res.info["n_chunks"]
    # 8-bit lateral weights: the objective stays within 1% of the float optimum
    assert res.success and res.errors["rel_objective"] <= 1e-2
    # and the raster is that of the quantized network, run in one piece
    q = sim.networks[0]
    one = snn.simulate(q, res.n_steps, engine=ENGINE, seed=0, record={"x": ("spikes",)})
    assert np.array_equal(one.spikes["x"], res.run.spikes["x"])


def test_dense_baseline_fista(problems):
    p = problems[128]
    base = lasso.dense_baseline(p, rtol=1e-2)
    f_ref = _objective(p.A, p.b, p.lam, lasso.reference(p))
    assert (_objective(p.A, p.b, p.lam, base.x) - f_ref) / f_ref <= 1e-2
    assert base.info["rel_gap"] <= 1.1e-2
    m, n, k, c = 64, 128, base.n_iter, base.info["n_gap_checks"]
    assert c == 1 + k // 10
    assert base.flops == k * (4 * m * n + m + 7 * n) + c * (4 * m * n + 8 * m + 3 * n) + 50 * (4 * m * n + 3 * n)


def test_signed_lasso_against_sklearn():
    """positive=False: the [A, -A] split is done inside; the answer is scikit-learn's Lasso (signed)."""
    from sklearn.linear_model import Lasso

    for n_atoms in (64, 128):
        p = lasso.random_problem(n_atoms, positive=False, seed=1)
        assert not p.positive
        sk = Lasso(alpha=p.lam / p.n_samples, fit_intercept=False, tol=1e-12, max_iter=200_000).fit(p.A, p.b).coef_
        assert np.sum(sk < -0.1) >= 3 and (np.sum(sk > 0.1) >= 2 or n_atoms == 64)  # negative weights in play (both signs at 128)
        res = lasso.solve(p, engine=ENGINE)
        f_sk = _objective(p.A, p.b, p.lam, sk)
        assert res.success and res.info["positive"] is False
        assert res.network.population("x").n == 2 * n_atoms
        assert 0 <= (_objective(p.A, p.b, p.lam, res.x) - f_sk) / f_sk <= 1e-2
        assert np.linalg.norm(res.x - sk) / np.linalg.norm(sk) <= 0.05
        big = np.abs(sk) > 0.1 * np.abs(sk).max()
        assert np.array_equal(np.sign(res.x[big]), np.sign(sk[big]))  # the signs of the support are found
        assert np.any(res.x < 0)


def test_signed_duality_gap_and_reference():
    """The signed gap bounds the sub-optimality; the reference matches L-BFGS-B on the split problem."""
    p = lasso.random_problem(48, positive=False, seed=3)
    A, b, lam = p.A, p.b, p.lam
    A2 = np.hstack([A, -A])

    def f(z):
        r = b - A2 @ z
        return 0.5 * r @ r + lam * z.sum(), -A2.T @ r + lam

    out = minimize(
        f, np.zeros(96), jac=True, bounds=[(0, None)] * 96, method="L-BFGS-B", options={"ftol": 1e-15, "gtol": 1e-12, "maxiter": 10000}
    )
    x_ref = lasso.reference(p)
    f_star = _objective(A, b, lam, x_ref)
    assert f_star == pytest.approx(out.fun, rel=1e-7)
    rng = np.random.default_rng(0)
    for _ in range(20):
        x = rng.standard_normal(48) * rng.random() * 0.3
        assert lasso.duality_gap(p, x) >= _objective(A, b, lam, x) - f_star - 1e-12
    assert lasso.duality_gap(p, x_ref) <= 1e-8
    # a non-negative problem on the same data is a different problem
    assert _objective(A, b, lam, lasso.reference(lasso.Problem(A, b, lam))) > f_star + 1e-6


def test_dense_baseline_fista_signed():
    p = lasso.random_problem(128, positive=False, seed=1)
    base = lasso.dense_baseline(p, rtol=1e-2)
    f_ref = _objective(p.A, p.b, p.lam, lasso.reference(p))
    assert (_objective(p.A, p.b, p.lam, base.x) - f_ref) / f_ref <= 1e-2
    assert np.any(base.x < 0) and base.info["rel_gap"] <= 1.1e-2
    m, n, k, c = 64, 128, base.n_iter, base.info["n_gap_checks"]
    assert base.flops == k * (4 * m * n + m + 10 * n) + c * (4 * m * n + 8 * m + 5 * n) + 50 * (4 * m * n + 3 * n)


@pytest.mark.parametrize("device", ["bogus", 3, "cuda:99", "mps"])
def test_dense_baseline_bad_device(problems, device):
    with pytest.raises(TaskError, match=r"device="):
        lasso.dense_baseline(problems[64], device=device)


def test_dense_baseline_cuda_without_cuda(problems):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    with pytest.raises(TaskError, match="device='cuda': torch sees no CUDA device"):
        lasso.dense_baseline(problems[64], device="cuda")


def test_callback_sees_every_check(problems):
    seen = []
    res = lasso.solve(problems[64], engine=ENGINE, check_every=50, rtol=1e-9, n_steps=200, callback=lambda t, x: seen.append((t, x.copy())))
    assert [t for t, _ in seen] == [50, 100, 150, 200]
    assert np.array_equal(seen[-1][1], res.x)


def test_non_callable_callback_is_refused_before_the_run(problems):
    sim = QuantizingSimulator()
    with pytest.raises(TaskError, match="callback='x': must be None or a callable"):
        lasso.solve(problems[64], simulate=sim, callback="x")
    assert sim.calls == 0


@pytest.mark.parametrize(
    ("A", "b", "match"),
    [
        (np.eye(2) * (1 + 1j), np.ones(2), "A: complex values are not allowed"),
        (np.eye(2), np.array([1.0, 1j]), "b: complex values are not allowed"),
    ],
)
def test_complex_data_is_refused(A, b, match):
    with pytest.raises(TaskError, match=match):
        lasso.Problem(A, b, 0.1)
    with pytest.raises(TaskError, match="lam"):
        lasso.Problem(np.eye(2), np.ones(2), 0.1 + 0j)
    with pytest.raises(TaskError, match="positive"):
        lasso.Problem(np.eye(2), np.ones(2), 0.1, positive="no")


def test_overflow_is_never_success(problems):
    """A simulate callable whose raster fires everywhere, with a tiny dt: x and F overflow, never a success."""

    def broken(network, n_steps, **kw):
        run = snn.simulate(network, n_steps, **kw)
        return dataclasses.replace(run, spikes={"x": np.ones_like(run.spikes["x"])})

    with np.errstate(over="ignore", invalid="ignore"):
        res = lasso.solve(problems[64], engine=ENGINE, simulate=broken, n_steps=100, check_every=100, dt=1e-300)
    assert not np.all(np.isfinite(list(res.errors.values())))
    assert res.status == NONFINITE and not res.success


@pytest.mark.gpu
def test_dense_baseline_cuda(problems):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU")
    base = lasso.dense_baseline(problems[128], device="cuda")
    assert base.info["rel_gap"] <= 1.1e-2 and base.device.startswith("cuda")


def test_random_problem_is_seeded():
    a, b = lasso.random_problem(40, seed=9), lasso.random_problem(40, seed=9)
    assert np.array_equal(a.A, b.A) and np.array_equal(a.b, b.b) and a.lam == b.lam
    assert a.A.shape == (20, 40)
    assert np.allclose(np.linalg.norm(a.A, axis=0), 1.0)


@pytest.mark.parametrize(
    ("A", "b", "lam", "match"),
    [
        (np.eye(3), np.ones(3), -0.1, "lam=-0.1: must be >= 0"),
        (np.eye(3), np.ones(3), float("nan"), "lam=nan: must be finite"),
        (np.eye(3), np.ones(3), "x", "lam='x'"),
        (np.array([[1.0, np.nan], [0.0, 1.0]]), np.ones(2), 0.1, "A: contains NaN"),
        (np.eye(2), np.array([np.inf, 1.0]), 0.1, "b: contains NaN or inf"),
        (np.eye(2), np.ones(3), 0.1, "b: must have shape"),
        (np.array([[1.0, 0.0], [0.0, 0.0]]), np.ones(2), 0.1, "A: column 1 is zero"),
    ],
)
def test_bad_problems_name_the_argument(A, b, lam, match):
    with pytest.raises(TaskError, match=match):
        lasso.Problem(A, b, lam)


def test_bad_solver_arguments(problems):
    p = problems[64]
    with pytest.raises(TaskError, match="rtol"):
        lasso.solve(p, rtol=2.0)
    with pytest.raises(TaskError, match="dt"):
        lasso.solve(p, dt=-1.0)
    with pytest.raises(TaskError, match="burn_in"):
        lasso.solve(p, burn_in=1.0)


def test_zero_reset_runs_on_the_loihi_fixed_point_simulator(problems):
    """reset='zero' is Loihi's LIF reset, so hardware.loihi can quantize the network and run it bit-exactly."""
    loihi = pytest.importorskip("hardware.loihi")
    p = problems[64]
    sim = loihi.fixed_point_simulator()
    res = lasso.solve(p, engine=ENGINE, simulate=sim, reset="zero", rtol=0.1, n_steps=4000)
    assert res.run.engine.endswith("+loihi")
    assert res.success and res.errors["rel_gap"] <= 0.1
    # the discarded overshoot costs accuracy, but the objective stays within 1% of scikit-learn's
    assert 0 <= res.errors["rel_objective"] <= 1e-2
    assert res.info["reset"] == "zero"


def test_zero_reset_float_accuracy(problems):
    p = problems[256]
    res = lasso.solve(p, engine=ENGINE, reset="zero", rtol=0.1, n_steps=4000)
    assert res.success and 0 <= res.errors["rel_objective"] <= 1e-2


@pytest.mark.skipif("event" not in snn.engine_names(), reason="the event engine is not available")
def test_event_engine_matches_reference(problems, solved):
    """The default engine: the same raster, answer and counts as the reference engine."""
    ev = lasso.solve(problems[64], engine="event")
    assert ev.run.engine == "event"
    assert ev.success and ev.errors["rel_objective"] <= 1e-2
    assert np.array_equal(ev.run.spikes["x"], solved[64].run.spikes["x"])
    assert np.array_equal(ev.x, solved[64].x)
    assert ev.run.counts.synaptic_events == solved[64].run.counts.synaptic_events


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
    """reset='zero' in one piece runs on Lava itself: the same raster and x as our fixed-point engine."""
    loihi = pytest.importorskip("hardware.loihi")
    p = lasso.random_problem(24, seed=1)
    kw = dict(reset="zero", rate_max=0.2, rtol=1e-9, n_steps=400, check_every=400)
    on_lava = lasso.solve(p, engine="lava", simulate=loihi.fixed_point_simulator(), **kw)
    ours = lasso.solve(p, engine="event", simulate=loihi.fixed_point_simulator(), **kw)
    assert on_lava.run.engine.startswith("lava")
    assert on_lava.run.counts.spikes > 50
    assert_same_solve(on_lava, ours)
