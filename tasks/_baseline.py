"""Shared machinery of the conventional baselines (``dense_baseline``, ``cpu_baseline``).

- :func:`check_target` validates an equal-accuracy target ``{metric: value}``
  against the metrics a task's ``accuracy`` function reports.
- :func:`iterations_to_target` runs an iteration with its own stopping rule
  off, measuring the task's metrics after every iterate, and returns the first
  iterate ``k*`` whose metrics are all ``<=`` the target.  The timed run then
  does exactly ``k*`` iterations (so it pays for no metric evaluations: the
  reference solution the metrics need is not available to a real solver; this
  is the baseline's best case at that accuracy).
- :func:`timed` runs a callable repeatedly and gives the median wall time.
"""

from __future__ import annotations

import math
import numbers
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from tasks._common import TaskError

__all__ = ["check_target", "check_iterations", "meets", "iterations_to_target", "timed"]


class _Reached(Exception):
    """Raised from a per-iterate callback to stop the search at the first iterate that meets the target."""


def check_target(target: Any, metrics: Sequence[str]) -> dict[str, float] | None:
    """``target`` as ``{metric: float}`` (``None`` passes), or a :class:`TaskError` naming it.

    Every key must be one of ``metrics`` (the task's accuracy metrics) and every
    value a finite real number.
    """
    if target is None:
        return None
    if not isinstance(target, Mapping) or not target:
        raise TaskError(f"target={target!r}: must be None or a non-empty dict {{metric: value}} with metrics from {list(metrics)}")
    out: dict[str, float] = {}
    for key, value in target.items():
        if key not in metrics:
            raise TaskError(f"target={dict(target)!r}: unknown metric {key!r}; allowed: {list(metrics)}")
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(float(value)):
            raise TaskError(f"target[{key!r}]={value!r}: must be a finite number (the accuracy to reach)")
        out[str(key)] = float(value)
    return out


def check_iterations(iterations: Any) -> int | None:
    """``iterations`` (a fixed iteration count, e.g. a ``k*`` found before) as an int >= 1, ``None`` passes; else a :class:`TaskError`."""
    if iterations is None:
        return None
    if isinstance(iterations, bool) or not isinstance(iterations, numbers.Integral) or iterations < 1:
        raise TaskError(f"iterations={iterations!r}: must be None or a positive int (run exactly that many iterations)")
    return int(iterations)


def meets(accuracy: Mapping[str, float], target: Mapping[str, float] | None) -> bool | None:
    """Whether every targeted metric of ``accuracy`` is ``<=`` its target (``None`` without a target)."""
    if target is None:
        return None
    return all(float(accuracy[k]) <= v for k, v in target.items())


def iterations_to_target(
    run: Callable[[Callable[[int, Any], None]], int],
    measure: Callable[[Any], Mapping[str, float]],
    target: Mapping[str, float],
) -> tuple[int, list[dict[str, float]], bool]:
    """The first iterate of an iteration that meets ``target``.

    Parameters
    ----------
    run : callable
        ``run(callback) -> iterations done``: the iteration with its own
        stopping rule off and an iteration cap, calling ``callback(k, x)`` after
        iterate ``k = 1, 2, ...``.
    measure : callable
        ``measure(x) -> {metric: value}``, the task's accuracy function.
    target : dict
        ``{metric: value}`` (from :func:`check_target`).

    Returns
    -------
    (k, trace, reached)
        ``k``: the first iterate meeting the target (or every iterate done when
        none did); ``trace``: the accuracy of iterates ``1..k``; ``reached``.
    """
    trace: list[dict[str, float]] = []
    hit: list[int] = []

    def callback(k: int, x: Any) -> None:
        acc = {key: float(v) for key, v in measure(x).items()}
        trace.append(acc)
        if meets(acc, target):
            hit.append(int(k))
            raise _Reached

    try:
        done = run(callback)
    except _Reached:
        return hit[0], trace, True
    return int(done), trace, False


def timed(
    fn: Callable[[], Any], *, min_total_s: float = 0.05, min_repeats: int = 3, max_repeats: int = 10_000
) -> tuple[Any, float, dict[str, Any]]:
    """Run ``fn()`` at least ``min_repeats`` times and until ``min_total_s`` seconds have passed.

    Returns
    -------
    (value, median_s, stats)
        The last run's return value, the median wall time of one run
        (``time.perf_counter``), and ``{"repeats", "min_s", "max_s", "total_s"}``.
    """
    times: list[float] = []
    value = None
    while len(times) < max_repeats and (len(times) < min_repeats or sum(times) < min_total_s):
        t0 = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - t0)
    return value, float(statistics.median(times)), {"repeats": len(times), "min_s": min(times), "max_s": max(times), "total_s": sum(times)}
