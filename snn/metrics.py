"""NeuroBench's metrics of one run, computed from a :class:`snn.RunResult` and its network.

:func:`neurobench` returns the numbers NeuroBench 2.3 reports for the snnTorch
module that is the same network (e.g. the module a network was imported from
with :func:`snn.nir.read`) run on the same input, one sample, with these
definitions:

``Effective_ACs`` / ``Effective_MACs``
    Synaptic operations that happen: for each projection and each step, the
    number of stored (non-zero) synapses whose sender sent a message that
    arrives within the run (NeuroBench evaluates a layer on the input it gets
    in a step; a recurrent layer gets the previous step's spikes).  A step's
    operations are accumulations (ACs) when every value the sender population
    sent in that step is 0 or +-1, multiply-accumulates (MACs) otherwise.
``Dense``
    Every weight of every projection (dense ``n_post x n_pre``) at every step.
``ActivationSparsity``
    ``1 - messages / (neurons x steps)`` over the non-source populations.
``MembraneUpdates``
    Per neuron: its first step, then every step whose membrane differs from
    the previous one (needs ``record=("v", ...)``).  The membrane is the one
    snnTorch stores: the recorded ``v``, except for a delta-synapse ``LIF`` with
    an immediate zero reset (an imported feed-forward ``Leaky`` with
    ``reset_mechanism="zero"``), whose stored ``mem`` of a spiking step is the
    value *before* the reset (snnTorch zeroes it in the next step); that value
    is rebuilt from the recorded ``v`` and the step's input.
``ConnectionSparsity``
    Zero weights over all weights of the projections (dense), rounded to 4 decimals.
``Footprint``
    Bytes of the parameters NeuroBench counts for the snnTorch module:
    weights (dense) and biases in float32 (``param_bytes``), and per neuron
    population its decays (``beta``; ``alpha`` with a synaptic current) and
    threshold, one value per neuron or one when shared, plus snnTorch's two
    per-layer scalars (``graded_spikes_factor`` float32, ``reset_mechanism_val``
    int64).  NeuroBench also counts the module's hidden-state buffers as they
    are when it measures: empty on a module that has never run, ``(batch, n)``
    after a forward pass (``snntorch.utils.reset`` keeps that shape), one
    buffer per neuron for ``mem``, one more for ``syn`` (a synaptic current) and
    one more for ``spk`` (a recurrent layer, i.e. a population projecting to
    itself).  ``hidden_batch`` says which: 1 (default) for the module that
    was exported to NIR (snnTorch's exporter runs it on one sample) or
    evaluated sample by sample, 0 for a module that never ran, the training
    batch size right after training.

Constant inputs (biases: :class:`snn.CurrentSource` populations and model
``bias``) are not synaptic operations (as in NeuroBench) and count in the
footprint as one bias per target neuron.  Where several NIR biases feed one
population they were merged at import and count once.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from snn.errors import SimulationError, SNNTypeError, bad_value
from snn.models import LIF, CurrentSource
from snn.network import Network
from snn.results import RunResult

__all__ = ["neurobench"]

_LAYER_SCALARS_BYTES = 4 + 8  # graded_spikes_factor (float32) + reset_mechanism_val (int64)


def _values(result: RunResult, pop) -> np.ndarray:
    """What ``pop`` sent in each step ``(n_steps, n)``; binary populations from their spikes."""
    if pop.name in result.outputs:
        return np.asarray(result.outputs[pop.name], dtype=np.float64)
    if not pop.model.graded and pop.name in result.spikes:
        return np.asarray(result.spikes[pop.name], dtype=np.float64)
    what = "'outputs'" if pop.model.graded else "'spikes' or 'outputs'"
    raise SimulationError(
        f"population {pop.name!r} was not recorded: pass record=({what}, 'v', ...) to snn.simulate for snn.metrics.neurobench"
    )


def _n_values(value: Any, n: int) -> int:
    return n if np.ndim(value) else 1


def _input_of(result: RunResult, network: Network, name: str, n_steps: int, cache: dict) -> np.ndarray:
    """What the projections deliver to population ``name`` in each step, ``(n_steps, n)`` float64."""
    pops = {p.name: p for p in network.populations}
    x = np.zeros((n_steps, pops[name].n))
    for pr in network.projections:
        if pr.post != name:
            continue
        src = pops[pr.pre]
        if isinstance(src.model, CurrentSource):
            vals = np.broadcast_to(np.asarray(src.model.amplitude, dtype=np.float64), (n_steps, src.n))
        else:
            if pr.pre not in cache:
                cache[pr.pre] = _values(result, src)
            vals = cache[pr.pre]
        for d in np.unique(pr.delays):
            d = int(d)
            if d >= n_steps:
                continue
            w = sp.csr_matrix((pr.weights.data * (pr.delays == d), pr.weights.indices, pr.weights.indptr), shape=pr.weights.shape)
            x[d:] += (w @ vals[: n_steps - d].T).T
    return x


def _stored_membrane(result: RunResult, network: Network, pop, v: np.ndarray, cache: dict) -> np.ndarray:
    """The membrane snnTorch stores in each step (see the module documentation), ``(n_steps, n)``."""
    m = pop.model
    immediate_zero = (
        isinstance(m, LIF)
        and m.tau_syn_ms is None
        and m.reset == "zero"
        and m.reset_timing == "immediate"
        and not np.any(np.asarray(m.refractory_steps))
    )
    spikes = result.spikes.get(pop.name)
    if not immediate_zero or spikes is None or not np.any(spikes):
        return v
    a_vv, _, a_vx, drive = m.params(pop.n, network.dt_ms)[:4]
    x = _input_of(result, network, pop.name, v.shape[0], cache)
    prev = np.vstack([pop.state0()["v"][None, :], v[:-1]])
    before_reset = a_vv * prev + a_vx * x + drive
    return np.where(np.asarray(spikes, dtype=bool), before_reset, v)


def _hidden_buffers(network: Network, pop) -> int:
    """snnTorch's hidden-state buffers per neuron of the layer ``pop`` is: mem, syn (current synapses), spk (recurrent)."""
    m = pop.model
    count = 1 + (getattr(m, "tau_syn_ms", None) is not None)
    if any(pr.pre == pop.name and pr.post == pop.name for pr in network.projections):
        count += 1
    return count


def neurobench(result: RunResult, network: Network, *, param_bytes: int = 4, hidden_batch: int = 1) -> dict[str, Any]:
    """NeuroBench's metrics of ``result`` (a run of ``network``), one sample.

    Parameters
    ----------
    result : RunResult
        A run recording ``"spikes"`` (or ``"outputs"`` for graded populations,
        ExternalInput included) and ``"v"`` of the neuron populations.
    network : Network
        The network that was run.
    param_bytes : int
        Bytes per stored parameter for ``Footprint`` (4: float32, as snnTorch).
    hidden_batch : int
        The batch shape of the snnTorch module's hidden-state buffers when
        NeuroBench measures its ``Footprint`` (see the module documentation).
        1 (default): the module as ``snntorch.export_nir.export_to_nir(net,
        torch.zeros(1, n_in))`` leaves it, or after evaluating single samples;
        0: a module that never ran; the batch size right after training in batches.

    Returns
    -------
    dict
        ``Effective_ACs``, ``Effective_MACs``, ``Dense`` (ints), ``ActivationSparsity``,
        ``MembraneUpdates``, ``ConnectionSparsity`` (floats), ``Footprint`` (int bytes).
    """
    if not isinstance(result, RunResult):
        raise SNNTypeError(f"result={result!r}: must be a snn.RunResult")
    if not isinstance(network, Network):
        raise SNNTypeError(f"network={network!r}: must be a snn.Network")
    if isinstance(hidden_batch, bool) or not isinstance(hidden_batch, (int, np.integer)) or hidden_batch < 0:
        raise bad_value(
            SimulationError, "hidden_batch", hidden_batch, "must be an int >= 0 (the batch of the module's last forward pass; 0: never ran)"
        )
    hidden_batch = int(hidden_batch)
    n_steps = result.n_steps
    pops = {p.name: p for p in network.populations}
    if set(result.counts.spikes_per_population) != set(pops):
        raise SimulationError("result: was not produced by this network (its populations differ)")
    constant = {name for name, p in pops.items() if isinstance(p.model, CurrentSource)}

    acs = macs = dense = 0
    zeros = total = 0
    footprint = 0
    biased: set[str] = set()
    cache: dict[str, np.ndarray] = {}
    for pr in network.projections:
        n_post, n_pre = pr.weights.shape
        if pr.pre in constant:
            biased.add(pr.post)
            continue
        nonzero = pr.weights.data != 0
        nnz = int(np.count_nonzero(nonzero))
        total += n_post * n_pre
        zeros += n_post * n_pre - nnz
        footprint += n_post * n_pre * param_bytes
        dense += n_steps * n_post * n_pre
        if pr.pre not in cache:
            cache[pr.pre] = _values(result, pops[pr.pre])
        vals = cache[pr.pre]
        binary = np.all((vals == 0) | (vals == 1) | (vals == -1), axis=1)  # per step
        for d in np.unique(pr.delays):
            mask = nonzero & (pr.delays == d)
            outdeg = np.bincount(pr.weights.indices[mask], minlength=n_pre)
            arrive = n_steps - int(d)
            if arrive <= 0:
                continue
            ops = (vals[:arrive] != 0).astype(np.int64) @ outdeg  # (arrive,)
            acs += int(ops[binary[:arrive]].sum())
            macs += int(ops[~binary[:arrive]].sum())

    sent = neurons = 0
    updates = 0
    for name, p in pops.items():
        if p.model.is_source:
            continue
        sent += int(result.counts.spikes_per_population[name])
        neurons += p.n
        m = p.model
        has_bias = name in biased or bool(np.any(np.asarray(getattr(m, "bias", 0.0)) != 0))
        if has_bias:
            footprint += p.n * param_bytes
        decays = [getattr(m, "tau_mem_ms", None), getattr(m, "tau_syn_ms", None)]
        per = sum(_n_values(v, p.n) for v in decays if v is not None)
        if hasattr(m, "v_th"):
            per += _n_values(m.v_th, p.n)
        footprint += per * param_bytes + _LAYER_SCALARS_BYTES
        footprint += hidden_batch * p.n * _hidden_buffers(network, p) * param_bytes
        if "v" in p.model.state_vars:
            v = result.traces.get(name, {}).get("v")
            if v is None:
                raise SimulationError(f"population {name!r}: its 'v' was not recorded; pass record=('spikes', 'v') for MembraneUpdates")
            mem = _stored_membrane(result, network, p, np.asarray(v, dtype=np.float64), cache)
            updates += p.n + int(np.count_nonzero(mem[1:] != mem[:-1]))
    activation_sparsity = 0.0 if neurons == 0 else (neurons * n_steps - sent) / (neurons * n_steps)
    return {
        "Effective_ACs": acs,
        "Effective_MACs": macs,
        "Dense": dense,
        "ActivationSparsity": activation_sparsity,
        "MembraneUpdates": float(updates),
        "ConnectionSparsity": round(zeros / total, 4) if total else 0.0,
        "Footprint": int(footprint),
    }
