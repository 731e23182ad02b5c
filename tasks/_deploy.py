"""``snn deploy lava --task NAME --problem FILE.npz OUT/``: a folder that solves one task instance on Lava.

The folder holds ``problem.npz`` (:func:`tasks._common.save_problem`),
``run.py`` and a ``README.md``.  ``python run.py`` (with the toolkit's Python)
runs ``tasks.<name>.solve(problem, simulate=hardware.loihi.fixed_point_simulator(),
engine="lava")``: the task's chunked solver drives one persistent Lava session
(Lava's CPU simulator, ``Loihi2SimCfg(select_tag="fixed_pt")``, in
``.venv-lava``) and writes ``result.npz``.  This module imports only ``snn``
and the tasks' own records; ``run.py`` imports ``hardware`` when it runs.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import snn.io
from tasks._common import TASKS, TaskError, load_problem, save_problem

__all__ = ["write_lava_folder", "RESULT_KEYS"]

#: the arrays of ``result.npz`` (the op counts are ``counts.<field>``; dict counts as ``counts.<field>.<key>``)
RESULT_KEYS = ("x", "n_steps", "status", "success")
#: solve options a task needs on Loihi fixed point (lasso: Loihi's LIF resets to zero, not by subtraction)
SOLVE_OPTIONS: dict[str, dict[str, Any]] = {"lasso": {"reset": "zero"}}

_RUN = '''#!/usr/bin/env python
"""Solve the {task!r} instance in problem.npz on Intel Lava (written by `snn deploy lava --task {task}`).

    python run.py            # Lava's CPU simulator (Loihi2SimCfg fixed_pt) through a Lava session; writes result.npz
    python run.py --hw       # checks for Loihi 2 support first (see README.md)

Run it with the snn-toolkit's Python; SNN_LAVA_PYTHON names the Lava interpreter (.venv-lava).
"""

import argparse
import dataclasses
import importlib
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
TASK = {task!r}
SEED = {seed!r}
SOLVE_OPTIONS = {options!r}  # what Loihi fixed point needs beyond solve's defaults
TOOLKIT = {toolkit!r}  # the toolkit checkout that wrote this folder (used when snn-toolkit is not importable)
LOIHI2_MODULE = "lava.magma.compiler.subcompilers.nc.ncproc_compiler"  # what lava.utils.system.Loihi2.is_loihi2_available tests


def _import_toolkit():
    try:
        import hardware.loihi  # noqa: F401
        import tasks._common  # noqa: F401
    except ImportError:
        sys.path.insert(0, TOOLKIT)
    from hardware import lava_backend, loihi
    from tasks import _common

    return lava_backend, loihi, _common, importlib.import_module("tasks." + TASK)


def _loihi2_missing(python):
    code = (
        "import importlib.util, sys\\n"
        "try:\\n    ok = importlib.util.find_spec(" + repr(LOIHI2_MODULE) + ") is not None\\n"
        "except (ImportError, ValueError):\\n    ok = False\\n"
        "sys.exit(0 if ok else 3)"
    )
    rc = subprocess.run([python, "-c", code], capture_output=True).returncode
    return None if rc == 0 else f"{{LOIHI2_MODULE}} is not importable in {{python}}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hw", action="store_true", help="run on a Loihi 2 system (checks for Intel's lava-loihi first)")
    parser.add_argument("--out", default=os.path.join(HERE, "result.npz"), help="where to write the result (default result.npz here)")
    args = parser.parse_args(argv)
    lava_backend, loihi, _common, task = _import_toolkit()
    if args.hw:
        missing = _loihi2_missing(lava_backend.lava_python())
        if missing:
            print(f"run.py --hw: no Loihi 2 support ({{missing}}); install Intel's lava-loihi on a Loihi 2 system, or run without --hw", file=sys.stderr)
            return 2
        print("run.py --hw: Loihi 2 support is importable, but the task solver drives a Lava session on Lava's CPU simulator only; "
              "running its chunks on Loihi2HwCfg is not implemented (see README.md)", file=sys.stderr)
        return 2
    problem = _common.load_problem(os.path.join(HERE, "problem.npz"), TASK)
    sim = loihi.fixed_point_simulator()
    try:
        res = task.solve(problem, simulate=sim, engine="lava", seed=SEED, **SOLVE_OPTIONS)
    finally:
        sim.close()
    out = {{"x": np.asarray(res.x), "n_steps": np.asarray(res.n_steps), "status": np.asarray(res.status), "success": np.asarray(res.success)}}
    for f in dataclasses.fields(res.run.counts):
        value = getattr(res.run.counts, f.name)
        if isinstance(value, dict):
            for k, v in value.items():
                out[f"counts.{{f.name}}.{{k}}"] = np.asarray(v)
        else:
            out[f"counts.{{f.name}}"] = np.asarray(value)
    tmp = args.out + ".tmp.npz"
    np.savez(tmp, **out)
    os.replace(tmp, args.out)
    print(f"{{TASK}} on {{res.run.engine}}: status {{res.status}} ({{res.message}}), {{res.n_steps}} steps, "
          f"{{res.run.counts.spikes}} spikes, {{res.run.counts.synaptic_events}} synaptic events; wrote {{args.out}}")
    return 0 if res.success else 1


if __name__ == "__main__":
    sys.exit(main())
'''

_README = """# {task} on Intel Lava

Written by `snn deploy lava --task {task} --problem ...`: one instance of the
snn-toolkit task `tasks.{task}` ({summary}), to be solved on Intel Lava.

    python run.py          # with the snn-toolkit's Python; SNN_LAVA_PYTHON=.venv-lava/bin/python
    python run.py --hw     # Loihi 2: checks for Intel's lava-loihi first, then stops (see below)

Files:

- `problem.npz`: the Problem's arrays (`tasks._common.save_problem`; read with
  `tasks._common.load_problem`, `allow_pickle=False`).
- `run.py`: runs `tasks.{task}.solve(problem, simulate=hardware.loihi.fixed_point_simulator(), engine="lava", seed={seed}{extra})`
  and writes `result.npz` (`x`, `n_steps`, `status`, `success` and the op
  counts as `counts.<field>`, per-step arrays included), exit status 0 when
  the solver converged, 1 when not.

How it runs: the network is quantized to Loihi fixed point once per stage
(8-bit weights with a shared exponent, 24-bit states) and built once in a
persistent Lava process (`hardware.lava_session`, Lava's CPU simulator
`Loihi2SimCfg(select_tag="fixed_pt")` in `.venv-lava`); the task's solver
loop (stopping rule, threshold schedule) runs in the toolkit's Python and
drives the session chunk by chunk, reading and writing Lava's Vars between
chunks. The toolkit's tests (`tests/tasks/test_on_lava.py`) check that this
gives the same `x`, step count, status and op counts, bit for bit, as our
fixed-point event engine (`engine="event"`).

What is *not* tested here: real Loihi 2 hardware. `--hw` only checks that
Loihi 2 support (`{loihi2}`, what `lava.utils.system.Loihi2.is_loihi2_available`
tests) is importable and otherwise exits with one line. Even where it is, this
folder does not run the chunks on `Loihi2HwCfg`: that needs Intel's lava-loihi
compiler for our own processes (the QP and QUBO neurons ship only a
bit-accurate PyProcessModel, no NcProcessModel/microcode), Var reads and
writes between chunks on the chip (slow host I/O, and `a_buff`/delay-buffer
access that we have not checked on hardware), and a host loop for the
stopping rule. None of that has been run on a chip.
"""


def write_lava_folder(task: str, problem: Any, out: str | os.PathLike, *, seed: int = 0, overwrite: bool = False) -> Path:
    """Write the deployment folder ``out`` for ``problem`` (a ``tasks.<task>.Problem`` or a path to its ``.npz``).

    The folder is written next to ``out`` and renamed into place, so a failed
    write leaves no half folder; it and its files get the user's usual modes
    (``0o777``/``0o666`` less the umask, ``run.py`` executable).  Raises :class:`TaskError` for an unknown
    ``task``, a problem of another task, or an existing ``out`` without
    ``overwrite``.
    """
    if task not in TASKS:
        raise TaskError(f"task={task!r}: allowed: {list(TASKS)}")
    if isinstance(problem, (str, os.PathLike)):
        problem = load_problem(problem, task)
    elif type(problem).__module__ != f"tasks.{task}":
        raise TaskError(f"problem={type(problem).__name__} ({type(problem).__module__}): must be a tasks.{task}.Problem")
    target = Path(out)
    if target.exists() and not overwrite:
        raise TaskError(f"out={str(target)!r}: exists already; pass overwrite=True (--overwrite) to replace it")
    target.parent.mkdir(parents=True, exist_ok=True)
    with snn.io.atomic_folder(target) as tmp:  # 0o777 less the umask; replaces an existing target
        save_problem(problem, tmp / "problem.npz")
        toolkit = str(Path(__file__).resolve().parents[1])
        options = SOLVE_OPTIONS.get(task, {})
        script = _RUN.format(task=task, seed=int(seed), toolkit=toolkit, options=options)
        snn.io.atomic_write_bytes(tmp / "run.py", lambda fh: fh.write(script.encode("utf-8")), mode=0o777)  # a script: executable
        doc = (__import__(f"tasks.{task}", fromlist=["_"]).__doc__ or task).strip().splitlines()[0].rstrip(".")
        (tmp / "README.md").write_text(
            _README.format(
                task=task,
                seed=int(seed),
                extra="".join(f", {k}={v!r}" for k, v in options.items()),
                summary=doc,
                loihi2="lava.magma.compiler.subcompilers.nc.ncproc_compiler",
            )
        )
    return target
