"""``snn.simulate``: run a network on an engine."""

from __future__ import annotations

import importlib
import numbers
from collections.abc import Mapping
from typing import Any

import numpy as np

from snn.engines.plan import build_plan
from snn.errors import SimulationError, bad_value, check_seed
from snn.network import Network
from snn.results import RunResult

__all__ = ["simulate", "engine_names"]

#: engine name -> module implementing ``run(plan, n_steps, **options)``; imported lazily
_ENGINES = {
    "reference": "snn.engines.reference",
    "event": "snn.engines.event",
    "torch": "snn.engines.torch_engine",
}


def engine_names() -> list[str]:
    """Names of the engines whose module can be imported here."""
    found = []
    for name, module in _ENGINES.items():
        try:
            importlib.import_module(module)
        except ImportError:
            continue
        found.append(name)
    return found


def simulate(
    network: Network,
    n_steps: int,
    *,
    engine: str = "reference",
    seed: int | None = 0,
    record: Any = ("spikes",),
    inputs: Mapping[str, Any] | None = None,
    progress: bool = False,
    **options: Any,
) -> RunResult:
    """Simulate ``network`` for ``n_steps`` steps of ``network.dt_ms``.

    Parameters
    ----------
    network : Network
        The description; it is not changed.
    n_steps : int
        Number of steps (>= 1).
    engine : {"reference", "event", "torch"}
        ``reference`` is plain numpy (the oracle); the others must agree with it.
    seed : int or None
        Seed of every random draw (Poisson sources, stochastic neurons), an int in
        ``[0, 2**64)`` (others are refused, not reduced).  ``None`` draws a fresh
        seed, reported in ``RunResult.seed``.
    record : tuple or dict
        What to record: ``"spikes"``, ``"outputs"`` (graded values) and state
        variable names (``"v"``, ``"i"``, ...), for every population that has them,
        or ``{population: names}``.
    inputs : dict
        ``{population: array (n_steps, n)}`` for :class:`snn.ExternalInput` populations.
    progress : bool
        Show a progress bar.
    **options
        Engine options (e.g. ``device="cuda"`` for the torch engine).

    Notes
    -----
    Step order, the same on every engine: in step ``t`` each population (1)
    receives the sum of what its incoming projections deliver at ``t``, (2)
    updates its state with its kernel (integrate, threshold, reset), (3) sends its
    spikes or graded values through its outgoing projections, which deliver them
    at ``t + delay_steps``.  A spike emitted in step ``t`` therefore first affects
    its target's state in step ``t + delay_steps``.
    """
    if engine not in _ENGINES:
        raise bad_value(SimulationError, "engine", engine, f"allowed: {sorted(_ENGINES)}")
    if isinstance(n_steps, bool) or not isinstance(n_steps, numbers.Integral) or n_steps < 1:
        raise bad_value(SimulationError, "n_steps", n_steps, "must be a positive int")
    if seed is None:
        seed = int(np.random.SeedSequence().generate_state(1, dtype=np.uint32)[0])
    else:
        seed = check_seed(seed, "seed", cls=SimulationError)
    try:
        module = importlib.import_module(_ENGINES[engine])
    except ImportError as exc:
        raise bad_value(SimulationError, "engine", engine, f"is not available here ({exc})") from exc
    plan = build_plan(network, seed=int(seed), record=record, inputs=inputs, n_steps=int(n_steps))
    return module.run(plan, int(n_steps), progress=progress, **options)
