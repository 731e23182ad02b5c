"""tasks._common.save_problem / load_problem: every task's Problem round-trips through .npz, without pickle."""

import dataclasses

import numpy as np
import pytest
import scipy.sparse as sp

from tasks import _common, heat, lasso, linear, poisson, qp, qubo, shortest_path

PROBLEMS = {
    "linear": lambda: linear.random_problem(n=5, seed=1),
    "lasso": lambda: lasso.random_problem(n_atoms=6, seed=1),
    "qp": lambda: qp.random_problem(n=4, m=2, seed=1),
    "qp_no_box": lambda: qp.random_problem(n=4, m=2, box=None, seed=1),
    "poisson": lambda: poisson.random_problem(shape=(3, 2, 2), h=0.5, seed=1),
    "heat": lambda: heat.random_problem(shape=(3, 2, 2), n_time=7, seed=1),
    "qubo": lambda: qubo.random_problem(n=5, seed=1),
    "shortest_path": lambda: shortest_path.random_problem(n=12, max_length=3, seed=1),
}


def _same(a, b):
    if sp.issparse(a) or sp.issparse(b):
        return sp.issparse(a) and sp.issparse(b) and a.shape == b.shape and (abs(a - b)).nnz == 0
    if a is None or b is None:
        return a is None and b is None
    return np.array_equal(np.asarray(a), np.asarray(b)) and np.asarray(a).dtype.kind == np.asarray(b).dtype.kind


@pytest.mark.parametrize("name", sorted(PROBLEMS))
def test_problem_round_trips_field_by_field(name, tmp_path):
    p = PROBLEMS[name]()
    path = tmp_path / "p.npz"
    _common.save_problem(p, path)
    with np.load(path, allow_pickle=False) as data:  # readable with pickle off
        assert str(data["__task__"]) == type(p).__module__.rsplit(".", 1)[-1]
    back = _common.load_problem(path)
    assert type(back) is type(p)
    for f in dataclasses.fields(p):
        assert _same(getattr(p, f.name), getattr(back, f.name)), f.name


def test_bad_files_give_clear_errors(tmp_path):
    p = qp.random_problem(n=3, m=1, seed=0)
    _common.save_problem(p, tmp_path / "qp.npz")
    with pytest.raises(_common.TaskError, match="holds a 'qp' problem"):
        _common.load_problem(tmp_path / "qp.npz", task="linear")
    np.savez(tmp_path / "other.npz", a=np.zeros(2))
    with pytest.raises(_common.TaskError, match="__task__"):
        _common.load_problem(tmp_path / "other.npz")
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(_common.TaskError, match="not a readable"):
        _common.load_problem(tmp_path / "junk.npz")
    with pytest.raises(_common.TaskError, match="must be the Problem"):
        _common.save_problem({"A": 1}, tmp_path / "x.npz")


@pytest.mark.parametrize(("mask", "file_mode", "dir_mode"), [(0o027, 0o640, 0o750), (0o002, 0o664, 0o775)], ids=["umask027", "umask002"])
def test_problem_files_and_deploy_folders_follow_the_umask(tmp_path, mask, file_mode, dir_mode):
    import os
    import stat

    from tasks import _deploy

    def mode(path):
        return stat.S_IMODE(os.stat(path).st_mode)

    p = qp.random_problem(n=4, m=2, seed=0)
    old = os.umask(mask)
    try:
        _common.save_problem(p, tmp_path / "qp.npz")
        _deploy.write_lava_folder("qp", tmp_path / "qp.npz", tmp_path / "dep")
        _deploy.write_lava_folder("qp", p, tmp_path / "dep", overwrite=True)
    finally:
        os.umask(old)
    assert mode(tmp_path / "qp.npz") == file_mode
    assert mode(tmp_path / "dep") == dir_mode
    assert {f.name: mode(f) for f in (tmp_path / "dep").iterdir()} == {"problem.npz": file_mode, "README.md": file_mode, "run.py": dir_mode}
    assert _same(_common.load_problem(tmp_path / "dep" / "problem.npz", "qp").Q, p.Q)
    assert sorted(f.name for f in tmp_path.iterdir()) == ["dep", "qp.npz"]
