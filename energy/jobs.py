"""One task job priced for a report: solve, baselines at equal accuracy, mapping, :func:`energy.compare`.

This is the body of ``snn demo``'s loop, made reusable so that the demo and a
size sweep (:mod:`energy.sizesweep`) run exactly the same job.  ``energy``
imports no sibling package (DESIGN.md, "Layering"): the task comes in as its
module (``tasks.linear``, or anything with the same functions) and the
mapping as a callable, both handed in by the caller (the CLI wires them).

>>> import tasks.linear                                              # doctest: +SKIP
>>> comp, summary, notes = run_task_job(tasks.linear, {"n": 64, "cond": 10.0}, {"rtol": 1e-3}, seed=0)  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import time
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any

import numpy as np

from energy import baseline as _baseline
from energy.compare import Comparison, compare
from energy.errors import EnergyError, SNNTypeError

__all__ = ["TASK_FUNCTIONS", "fmt_accuracy", "run_task_job", "task_name"]

#: what a task module must provide to be run as a job
TASK_FUNCTIONS = ("random_problem", "solve", "dense_baseline", "cpu_baseline")

#: ``traffic(run, network) -> (mapping traffic dict or None, why there is none or None)``
TrafficFn = Callable[[Any, Any], "tuple[Mapping[str, Any] | None, str | None]"]


def task_name(task: Any) -> str:
    """The short name of a task module (``tasks.linear`` -> ``"linear"``), checking that it can be run as a job."""
    if isinstance(task, str):
        raise SNNTypeError(f"task={task!r}: pass the task module itself (e.g. tasks.{task}); energy does not import the tasks package")
    missing = [f for f in TASK_FUNCTIONS if not callable(getattr(task, f, None))]
    if missing or not hasattr(task, "TARGET_METRICS"):
        raise SNNTypeError(
            f"task={task!r}: lacks {missing + ([] if hasattr(task, 'TARGET_METRICS') else ['TARGET_METRICS'])}; "
            f"expected a tasks module with {list(TASK_FUNCTIONS)} and TARGET_METRICS"
        )
    return str(getattr(task, "__name__", type(task).__name__)).rsplit(".", 1)[-1]


def fmt_accuracy(accuracy: Mapping[str, float], target: Mapping[str, float]) -> str:
    """``metric achieved vs target`` for each targeted metric, for notes."""
    return ", ".join(f"{k} {accuracy.get(k, float('nan')):.2g} vs {v:.2g}" for k, v in target.items())


def _kwargs(value: Any, name: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise SNNTypeError(f"{name}={value!r}: must be a dict of keyword arguments {{name: value}}")
    return dict(value)


def _cache_key(name: str, *parts: Any) -> str:
    try:
        return json.dumps([name, *parts], sort_keys=True, default=lambda v: list(v) if isinstance(v, tuple) else repr(v))
    except TypeError as exc:  # pragma: no cover - sort_keys on mixed keys
        raise EnergyError(f"job arguments are not plain data, so the job cannot be cached: {exc}") from None


def run_task_job(
    task: Any,
    problem_kwargs: Mapping[str, Any] | None = None,
    solve_kwargs: Mapping[str, Any] | None = None,
    baseline_kwargs: Mapping[str, Any] | None = None,
    *,
    seed: int = 0,
    engine: str | None = None,
    device: str = "cpu",
    label: str | None = None,
    traffic: TrafficFn | None = None,
    trace: Callable[[Any], Mapping[str, Any] | None] | None = None,
    cache: MutableMapping[str, Any] | None = None,
) -> tuple[Comparison, dict[str, Any], list[str]]:
    """Solve one random instance of a task on the spiking engine and price it against its baselines at equal accuracy.

    Steps: ``problem = task.random_problem(**problem_kwargs, seed=seed)``;
    ``res = task.solve(problem, engine=engine, seed=seed, **solve_kwargs)``;
    the target is the solver's achieved value of each of ``task.TARGET_METRICS``;
    a probe run of ``task.dense_baseline(problem, device=device, target=target)``
    finds the iterations that reach it (retried in float64 when float32 stops
    short); the counted run repeats exactly that many iterations (where the
    baseline takes ``iterations``) under :func:`energy.baseline.with_launch_counts`;
    ``task.cpu_baseline(problem, target=target)`` times the compiled CPU solver;
    with ``device="cuda"`` the dense baseline is also measured through NVML
    (:func:`energy.baseline.measure`); then :func:`energy.compare` with the
    ``h100`` modelled GPU.

    Parameters
    ----------
    task : module
        A ``tasks`` module (``random_problem``, ``solve``, ``dense_baseline``,
        ``cpu_baseline``, ``TARGET_METRICS``).
    problem_kwargs, solve_kwargs, baseline_kwargs : dict, optional
        Keyword arguments of ``random_problem``, ``solve`` and ``dense_baseline``.
    seed : int
        Seed of the problem and of the run.
    engine : str, optional
        The spiking engine (default: the task's own default).
    device : {"cpu", "cuda"}
        Where the dense baseline runs; ``"cuda"`` also measures it through NVML.
    label : str, optional
        The job's name in the report (default: the task's name).
    traffic : callable, optional
        ``traffic(run, network) -> (traffic dict or None, why or None)``: the
        run's traffic on a chip mapping (the CLI maps onto Loihi with
        ``hardware.mapping``).  Without it the job is priced without routing
        terms, and a note says so.
    trace : callable, optional
        ``trace(solve_result) -> {"steps": [...], metric: [...]} or None``: the
        solver's error against steps for the report's convergence figure (the
        CLI passes ``tasks._common.convergence_trace``).
    cache : dict, optional
        Jobs already run, keyed by their arguments: a job found there is not
        run again (a sweep point that is also a demo job).

    Returns
    -------
    (Comparison, dict, list of str)
        The comparison; a plain-data summary (``success``, ``n_steps``,
        ``synaptic_events``, ``baseline_flops``, ``errors``, ``target``,
        ``gpu_baseline``, ``cpu_baseline``: what ``snn demo`` writes to
        summary.json per job); and notes for the report (a float64 retry, a
        job priced without routing).
    """
    name = task_name(task)
    prob_kw = _kwargs(problem_kwargs, "problem_kwargs")
    solve_kw = _kwargs(solve_kwargs, "solve_kwargs")
    base_kw = _kwargs(baseline_kwargs, "baseline_kwargs")
    if device not in ("cpu", "cuda"):
        raise EnergyError(f"device={device!r}: must be 'cpu' or 'cuda' (where the dense baseline runs)")
    if engine is not None and not isinstance(engine, str):
        raise SNNTypeError(f"engine={engine!r}: must be an engine name or None")
    if "seed" in prob_kw or "seed" in solve_kw:
        raise EnergyError("problem_kwargs/solve_kwargs: must not contain 'seed'; give seed= instead")
    label = name if label is None else label
    if not isinstance(label, str) or not label:
        raise EnergyError(f"label={label!r}: must be a non-empty str")
    key = _cache_key(name, prob_kw, solve_kw, base_kw, seed, engine, device, traffic is not None)
    if cache is not None and key in cache:
        comp, summary, notes = cache[key]
        return comp, dict(summary), list(notes)

    notes: list[str] = []
    problem = task.random_problem(**prob_kw, seed=seed)
    run_kw = dict(solve_kw) if engine is None else {"engine": engine, **solve_kw}
    t0 = time.perf_counter()
    res = task.solve(problem, seed=seed, **run_kw)
    wall = time.perf_counter() - t0
    # equal accuracy: every baseline runs to the accuracy the spiking solver reached on its own metric(s)
    target = {m: float(res.errors[m]) for m in task.TARGET_METRICS}
    kw = dict(base_kw)
    # find k* (the first iterate meeting the target) once; the counted and measured runs repeat exactly k* iterations
    probe = task.dense_baseline(problem, device=device, target=target, **kw)
    if probe.reached is False and probe.dtype == "float32":
        kw["dtype"] = "float64"
        notes.append(
            f"{label}: the float32 torch baseline stops short of the spiking solver's accuracy ({fmt_accuracy(probe.accuracy, target)}); it runs in float64 instead."
        )
        probe = task.dense_baseline(problem, device=device, target=target, **kw)
    if "iterations" in inspect.signature(task.dense_baseline).parameters:
        kw["iterations"] = probe.n_iter
    # run under a dispatch counter too: its kernel launches and host syncs price the launch-bound GPU time
    base = _baseline.with_launch_counts(lambda: task.dense_baseline(problem, device=device, target=target, **kw))
    cpu_base = task.cpu_baseline(problem, target=target)
    measured = None
    if device == "cuda":
        measured = _baseline.measure(lambda: task.dense_baseline(problem, device="cuda", target=target, **kw), device="cuda")
        measured = dataclasses.replace(measured, accuracy=dict(base.accuracy), target=dict(target), reached=base.reached)
    mapping, why = (None, "no traffic function given") if traffic is None else traffic(res.run, res.network)
    if why:
        notes.append(f"{label}: priced without routing terms (no mapping: {why}).")
    accuracy = {k: float(v) for k, v in res.errors.items() if np.isscalar(v) and np.isfinite(v)}
    comp = compare(
        label,
        res.run.counts,
        mapping=mapping,
        baseline=base,
        gpu_profile="h100",
        measured=measured,
        accuracy=accuracy,
        accuracy_trace=None if trace is None else trace(res),
        cpu_baseline=cpu_base,
        target=target,
        extra={
            "success": bool(res.success),
            "message": res.message,
            "n_steps": int(res.n_steps),
            "spiking_wall_time_s": wall,
            "engine": engine,
        },
    )
    summary = {
        "success": bool(res.success),
        "n_steps": int(res.n_steps),
        "synaptic_events": int(res.run.counts.synaptic_events),
        "baseline_flops": int(base.flops),
        "errors": accuracy,
        "target": target,
        "gpu_baseline": {
            "algorithm": base.algorithm,
            "n_iter": int(base.n_iter),
            "accuracy": dict(base.accuracy),
            "reached": base.reached,
        },
        "cpu_baseline": {
            "algorithm": cpu_base.algorithm,
            "n_iter": int(cpu_base.n_iter),
            "wall_time_s": float(cpu_base.wall_time_s),
            "repeats": int(cpu_base.info.get("repeats", 1)),
            "accuracy": dict(cpu_base.accuracy),
            "reached": cpu_base.reached,
        },
    }
    if cache is not None:
        cache[key] = (comp, dict(summary), list(notes))
    return comp, summary, notes
