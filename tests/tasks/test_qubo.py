"""QUBO/MaxCut by a Boltzmann-neuron annealer: against exhaustive search and classical SA; seeding; bad input."""

import itertools

import numpy as np
import pytest
import scipy.sparse as sp
from _bit_exact import assert_same_result
from _fixed_point import QuantizingSimulator

import snn
from tasks import qubo
from tasks._common import TaskError

# The default run uses the numpy reference engine: the event engine compiles each network shape with
# numba (seconds to tens of seconds per shape), which would exceed these tests' time budget.  The
# slow-marked tests at the end run the default engine="event" on the issue's targets.
ENGINE = "reference"
needs_event = pytest.mark.skipif("event" not in snn.engine_names(), reason="the event engine is not available")


def exhaustive_min(q: np.ndarray) -> float:
    """The minimum of x^T Q x by plain enumeration (independent of qubo.brute_force)."""
    xs = np.array(list(itertools.product((0.0, 1.0), repeat=q.shape[0])))
    return float(np.min(np.einsum("ki,ij,kj->k", xs, q, xs)))


def cut(w: np.ndarray, x: np.ndarray) -> float:
    return float(sum(w[i, j] for i in range(len(x)) for j in range(i + 1, len(x)) if x[i] != x[j]))


def test_brute_force_is_exact():
    for seed in range(3):
        p = qubo.random_problem(10, kind="qubo", seed=seed)
        assert qubo.energy(p, qubo.brute_force(p)) == pytest.approx(exhaustive_min(p.Q), abs=1e-9)
    w = np.triu(np.random.default_rng(0).random((9, 9)) < 0.5, 1).astype(float)
    w = w + w.T
    x = qubo.brute_force(qubo.maxcut(w))
    best_cut = max(cut(w, np.array(b)) for b in itertools.product((0, 1), repeat=9))
    assert cut(w, x) == best_cut


def test_maxcut_energy_is_minus_the_cut():
    rng = np.random.default_rng(1)
    w = rng.integers(0, 4, (12, 12)).astype(float)
    w = np.triu(w, 1) + np.triu(w, 1).T
    p = qubo.maxcut(sp.csr_matrix(w))
    for _ in range(5):
        x = (rng.random(12) < 0.5).astype(float)
        assert qubo.energy(p, x) == pytest.approx(-cut(w, x))
        assert qubo.cut_value(w, x) == pytest.approx(cut(w, x))


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("kind", ["maxcut", "qubo"])
def test_issue_target_98_percent_of_the_optimum_at_n20(kind, seed):
    p = qubo.random_problem(20, kind=kind, seed=seed)
    res = qubo.solve(p, engine=ENGINE, n_steps=1000, seed=seed)
    opt = qubo.energy(p, qubo.brute_force(p))
    assert opt < 0
    assert qubo.energy(p, res.x) / opt >= 0.98
    assert res.errors["reference_energy"] == pytest.approx(opt)
    assert set(np.unique(res.x)) <= {0.0, 1.0}


def test_issue_target_within_2_percent_of_classical_sa_at_n200():
    p = qubo.random_problem(200, kind="maxcut", density=0.5, seed=0)
    res = qubo.solve(p, engine=ENGINE, n_steps=2000, seed=0)
    sa = qubo.simulated_annealing(p, n_sweeps=1000, seed=0)
    e_sa = qubo.energy(p, sa)
    assert e_sa < 0
    assert qubo.energy(p, res.x) <= 0.98 * e_sa  # energies are negative: at most 2% above (worse than) SA
    assert res.success  # the best state is a single-flip local minimum


def test_energy_track_and_best_state_come_from_the_raster():
    p = qubo.random_problem(15, kind="qubo", seed=4)
    res = qubo.solve(p, engine=ENGINE, n_steps=300, seed=7)
    raster = res.run.spikes["x"].astype(float)
    e = np.array([r @ p.Q @ r for r in raster])
    np.testing.assert_allclose(res.info["energy_per_step"], e, atol=1e-9)
    assert res.info["best_step"] == int(np.argmin(e))
    np.testing.assert_array_equal(res.x, raster[np.argmin(e)])
    # annealing: the late energies are lower than the early ones
    assert e[-50:].mean() < e[:50].mean()


def test_seeded_and_reproducible():
    p = qubo.random_problem(30, kind="maxcut", seed=3)
    a = qubo.solve(p, engine=ENGINE, n_steps=200, seed=11)
    b = qubo.solve(p, engine=ENGINE, n_steps=200, seed=11)
    c = qubo.solve(p, engine=ENGINE, n_steps=200, seed=12)
    np.testing.assert_array_equal(a.run.spikes["x"], b.run.spikes["x"])
    assert not np.array_equal(a.run.spikes["x"], c.run.spikes["x"])
    # partial updates: on average update_prob of the neurons redraw per step, so states change slowly
    flips = np.mean(a.run.spikes["x"][1:] != a.run.spikes["x"][:-1])
    assert flips < 0.1


def test_network_weights_are_the_energy_changes():
    p = qubo.random_problem(6, kind="qubo", seed=5)
    net = qubo.build_network(p, n_steps=100, seed=0)
    s = 0.5 * (p.Q + p.Q.T)
    w = net.projection("x->x").weights.toarray()
    np.testing.assert_allclose(w, -2 * (s - np.diag(np.diag(s))))
    np.testing.assert_allclose(net.population("x").model.bias, -np.diag(s))
    t0, t1, cooling = qubo.temperatures(p, 100)
    assert t0 * cooling**99 == pytest.approx(t1)


@pytest.mark.parametrize(
    ("make", "word"),
    [
        (lambda: qubo.Problem(np.ones((2, 3))), "Q"),
        (lambda: qubo.Problem(np.array([[1.0, np.nan], [0.0, 1.0]])), "Q"),
        (lambda: qubo.Problem(np.ones(3)), "Q"),
        (lambda: qubo.maxcut(np.array([[0.0, 1.0], [2.0, 0.0]])), "symmetric"),
        (lambda: qubo.maxcut(np.array([[1.0, 1.0], [1.0, 0.0]])), "diagonal"),
        (lambda: qubo.solve(qubo.random_problem(4, seed=0), update_prob=0.0), "update_prob"),
        (lambda: qubo.solve(qubo.random_problem(4, seed=0), update_prob=1.5), "update_prob"),
        (lambda: qubo.solve(qubo.random_problem(4, seed=0), n_steps=0), "n_steps"),
        (lambda: qubo.solve(qubo.random_problem(4, seed=0), T0=-1.0), "T0"),
        (lambda: qubo.random_problem(4, kind="ising"), "kind"),
        (lambda: qubo.brute_force(qubo.random_problem(21, seed=0)), "n <= 20"),
    ],
)
def test_bad_input(make, word):
    with pytest.raises(TaskError, match=word):
        make()


def test_dense_torch_sa_baseline():
    pytest.importorskip("torch")
    p = qubo.random_problem(20, kind="maxcut", seed=8)
    b = qubo.dense_baseline(p, n_steps=300, n_replicas=4, seed=0)
    opt = qubo.energy(p, qubo.brute_force(p))
    assert qubo.energy(p, b.x) / opt >= 0.98
    n, r = 20, 4
    assert b.flops == 300 * (4 * r * n * n + 12 * r * n)
    assert b.bytes_moved == 300 * (2 * n * n + 8 * r * n) * 4


def test_compare_false_skips_the_reference():
    p = qubo.random_problem(30, kind="maxcut", seed=2)
    res = qubo.solve(p, engine=ENGINE, n_steps=100, seed=1, compare=False)
    assert res.reference is None and set(res.errors) == {"energy"}
    assert res.errors["energy"] == pytest.approx(qubo.energy(p, res.x))


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_n200_more_seeds_and_a_random_qubo(seed):
    for kind in ("maxcut", "qubo"):
        p = qubo.random_problem(200, kind=kind, seed=seed)
        res = qubo.solve(p, engine=ENGINE, n_steps=2000, seed=seed, compare=False)
        e_sa = qubo.energy(p, qubo.simulated_annealing(p, n_sweeps=1000, seed=seed))
        assert qubo.energy(p, res.x) <= 0.98 * e_sa


@pytest.mark.slow
@needs_event
def test_event_engine_gives_the_same_spikes_and_meets_the_targets():
    p = qubo.random_problem(200, kind="maxcut", seed=0)
    res = qubo.solve(p, n_steps=2000, seed=0)  # default engine="event"
    ref = qubo.solve(p, engine="reference", n_steps=2000, seed=0, compare=False)
    np.testing.assert_array_equal(res.run.spikes["x"], ref.run.spikes["x"])  # counter-based random draws
    assert res.errors["energy"] <= 0.98 * res.errors["reference_energy"]
    small = qubo.random_problem(20, kind="maxcut", seed=1)
    assert qubo.solve(small, n_steps=1000, seed=1).errors["ratio"] >= 0.98


@pytest.mark.parametrize("engine", ["reference", pytest.param("event", marks=needs_event)])
def test_check_interval_does_not_change_the_result(engine):
    """Chunks of 7 steps or one of 300: the same spikes, best state and counts (the schedule and draws follow the absolute step)."""
    p = qubo.random_problem(20, kind="maxcut", seed=1)
    seen = []
    small = qubo.solve(p, engine=engine, n_steps=300, seed=3, check_every=7, callback=lambda t, x: seen.append((t, qubo.energy(p, x))))
    big = qubo.solve(p, engine=engine, n_steps=300, seed=3)
    assert_same_result(small, big)
    np.testing.assert_array_equal(small.info["energy_per_step"], big.info["energy_per_step"])
    assert small.info["best_step"] == big.info["best_step"]
    # the callback sees the best state so far after every chunk: non-increasing energies, ending at the answer
    assert [t for t, _ in seen] == list(range(7, 300, 7)) + [300]
    energies = [e for _, e in seen]
    assert all(b <= a for a, b in zip(energies, energies[1:])) and energies[-1] == small.errors["energy"]


def test_check_interval_does_not_change_the_result_under_a_simulate_callable():
    p = qubo.random_problem(15, kind="qubo", seed=2)
    a = qubo.solve(p, simulate=QuantizingSimulator(weight_bits=6), n_steps=200, seed=1, check_every=9)
    b = qubo.solve(p, simulate=QuantizingSimulator(weight_bits=6), n_steps=200, seed=1)
    assert_same_result(a, b)


def test_callback_complex_and_device_are_checked():
    p = qubo.random_problem(6, seed=0)
    sim = QuantizingSimulator()
    with pytest.raises(TaskError, match="callback"):
        qubo.solve(p, simulate=sim, callback="x")
    assert sim.calls == 0
    with pytest.raises(TaskError, match="check_every"):
        qubo.solve(p, check_every=0)
    with pytest.raises(TaskError, match="Q: must be real"):
        qubo.Problem(np.eye(3) * (1 + 1j))
    with pytest.raises(TaskError, match="W: must hold real"):
        qubo.maxcut(np.array([[0, 1j], [1j, 0]]))
    pytest.importorskip("torch")
    for device in ("bogus", "cuda:", 1.0):
        with pytest.raises(TaskError, match="device="):
            qubo.dense_baseline(p, device=device, n_steps=2)
