"""``snn.simulate``: run a network on an engine."""

from __future__ import annotations

import dataclasses
import importlib
import numbers
from collections.abc import Mapping
from typing import Any

import numpy as np

from snn.engines.plan import build_plan
from snn.errors import SimulationError, SNNTypeError, bad_value, check_seed
from snn.network import Network
from snn.results import RunResult
from snn.state import SimState, init_state

__all__ = ["simulate", "engine_names", "select_neurons"]

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


class _Default:
    def __repr__(self) -> str:
        return "0"


#: the default seed (0); told apart from an explicit seed so that ``state=`` alone decides it
_SEED_DEFAULT: Any = _Default()


def simulate(
    network: Network,
    n_steps: int,
    *,
    engine: str = "reference",
    seed: int | None = _SEED_DEFAULT,
    state: SimState | None = None,
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
        ``[0, 2**64)`` (others are refused, not reduced; default 0).  ``None`` draws a fresh
        seed, reported in ``RunResult.seed``.  With ``state`` the seed is the state's (passing a
        different one is an error).
    state : snn.SimState, optional
        Where to start: :func:`snn.init_state` or the ``state`` of an earlier
        run (``RunResult.state``).  Default: step 0, the network's initial state.
        The run continues exactly: the step counter, random draws and messages
        in flight go on, so ``RunResult.concat`` of a split run equals the whole.
    record : tuple or dict
        What to record: ``"spikes"``, ``"outputs"`` (graded values) and state
        variable names (``"v"``, ``"i"``, ...), for every population that has them,
        or ``{population: names}``, or ``{population: {name: neuron indices}}``
        to record only those neurons (column ``k`` of the recording is neuron
        ``indices[k]``).
    inputs : dict
        ``{population: array (n_steps, n)}`` for :class:`snn.ExternalInput`
        populations: one row per step of this run.
    progress : bool
        Show a progress bar.
    **options
        Engine options (e.g. ``device="cuda"`` for the torch engine).

    Returns
    -------
    RunResult
        Recordings, op counts, and ``state``, the state after the last step.

    Notes
    -----
    Step order, the same on every engine: in step ``t`` each population (1)
    receives the sum of what its incoming projections deliver at ``t``, (2)
    updates its state with its kernel (integrate, threshold, reset), (3) sends its
    spikes or graded values through its outgoing projections, which deliver them
    at ``t + delay_steps``.  A spike emitted in step ``t`` therefore first affects
    its target's state in step ``t + delay_steps`` (in the same step for a
    zero-delay projection, whose target updates after its source).
    """
    if engine not in _ENGINES:
        raise bad_value(SimulationError, "engine", engine, f"allowed: {sorted(_ENGINES)}")
    if isinstance(n_steps, bool) or not isinstance(n_steps, numbers.Integral) or n_steps < 1:
        raise bad_value(SimulationError, "n_steps", n_steps, "must be a positive int")
    if state is None:
        state = init_state(network, seed=0 if seed is _SEED_DEFAULT else seed)
    else:
        if not isinstance(state, SimState):
            raise SNNTypeError(f"state={type(state).__name__}: must be a snn.SimState (snn.init_state(net) or a RunResult.state)")
        if seed is not _SEED_DEFAULT and (seed is None or check_seed(seed, "seed", cls=SimulationError) != state.seed):
            raise bad_value(
                SimulationError, "seed", seed, f"the run continues state (seed {state.seed}); leave seed out or pass the same one"
            )
    try:
        module = importlib.import_module(_ENGINES[engine])
    except ImportError as exc:
        raise bad_value(SimulationError, "engine", engine, f"is not available here ({exc})") from exc
    plan = build_plan(network, state=state, record=record, inputs=inputs, n_steps=int(n_steps))
    res = module.run(plan, int(n_steps), progress=progress, **options)
    return select_neurons(res, plan.record_index)


def select_neurons(res: RunResult, index: Mapping[str, Mapping[str, np.ndarray]]) -> RunResult:
    """``res`` with the recordings named in ``index`` ({pop: {name: indices}}) cut to those neurons."""
    if not index:
        return res

    def cut(pop: str, name: str, a: np.ndarray) -> np.ndarray:
        idx = index.get(pop, {}).get(name)
        return a if idx is None else np.ascontiguousarray(a[:, idx])

    return dataclasses.replace(
        res,
        spikes={p: cut(p, "spikes", a) for p, a in res.spikes.items()},
        outputs={p: cut(p, "outputs", a) for p, a in res.outputs.items()},
        traces={p: {v: cut(p, v, a) for v, a in d.items()} for p, d in res.traces.items()},
    )
