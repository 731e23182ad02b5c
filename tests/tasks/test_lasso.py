"""tasks.lasso: spiking LCA against scikit-learn's coordinate descent and torch FISTA."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.optimize import minimize

import snn
from tasks import lasso
from tasks._common import TaskError

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

    def __call__(self, network, n_steps, *, engine="reference", seed=0, record=("spikes",), inputs=None, progress=False, **options):
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
        return snn.simulate(q, n_steps, engine=engine, seed=seed, record=record, inputs=inputs, progress=progress, **options)


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


def test_chunked_run_equals_one_run(problems):
    """Continuing by re-executing the last step is exact: the same raster as one long run."""
    p = problems[64]
    one = lasso.solve(p, engine=ENGINE, rtol=1e-9, n_steps=600, check_every=600)
    many = lasso.solve(p, engine=ENGINE, rtol=1e-9, n_steps=600, check_every=70)
    assert one.info["n_chunks"] == 1 and many.info["n_chunks"] == 9
    assert np.array_equal(one.run.spikes["x"], many.run.spikes["x"])
    assert one.run.counts.synaptic_events == many.run.counts.synaptic_events
    assert one.run.counts.neuron_updates == many.run.counts.neuron_updates == 64 * 600


def test_rates_decode_the_window(problems):
    """x is the spike count over the window after burn-in, divided by its length, dt and the atom norm."""
    p = problems[64]
    res = lasso.solve(p, engine=ENGINE, rtol=1e-9, n_steps=400, check_every=100, burn_in=0.25)
    counts = res.run.spikes["x"][100:400].sum(axis=0)
    d = np.linalg.norm(p.A, axis=0)
    assert np.allclose(res.x, counts / 300 / res.info["dt"] / d)


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
    one = snn.simulate(q, res.n_steps, engine=ENGINE, record={"x": ("spikes",)})
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
