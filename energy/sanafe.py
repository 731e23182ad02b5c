"""Optional high-fidelity estimator: run a network through SANA-FE's Loihi architecture.

SANA-FE (Boyle et al., IEEE TCAD 2025; PyPI ``sanafe``, GPL-3.0, installed with
``pip install 'snn-toolkit[sanafe]'``) simulates a mapped spiking network on a
described chip at time-step granularity and reports energy and latency.  This
module converts a :class:`snn.Network` to a SANA-FE network on the Loihi
architecture shipped with sanafe (``sanafe/examples/loihi.yaml``, the same file
as the repository's ``arch/loihi.yaml``), runs it, and compares the result with
:func:`energy.estimate` on the ``loihi1_sanafe`` profile.

Supported: :class:`snn.IF` and delta-synapse :class:`snn.LIF` neurons (immediate
reset, no refractory period), :class:`snn.SpikeSource` inputs, other sources
replayed from a recorded run, and delays of one step.  Anything else is refused.

Placement is plain data: ``{population: int array (n,)}`` of core indices in
SANA-FE's order (``arch.cores()``: core ``c`` sits on tile ``c // 4``; tile
``k`` at mesh position ``(x, y) = (k // 4, k % 4)``).

Time.  ``loihi1_sanafe`` computes SANA-FE's *simple* timing model
(SLAM-Lab/SANA-FE ``src/schedule.cpp``, ``schedule_messages_timestep_simple``):
per step, each core's neuron work (the sum of its neurons' soma latencies --
access, update if active, spike-out if fired -- plus axon-out per message sent;
``src/chip.cpp`` ``process_neuron`` / ``pipeline_process_axon_out``) and its
message work (axon-in per message received plus the synapse latency of every
synaptic event; ``process_message``) are compared, the larger counts, the
busiest core sets the step, and the step adds the ``latency_sync`` table entry
for the number of tiles holding at least one neuron (``sim_timestep_sync``,
``track_mapped_tiles_and_cores``; the largest key <= tiles).  No hop latency
enters it.  :func:`loihi_traffic` supplies the per-core counts that needs.
SANA-FE's *detailed* model (:func:`run`'s default) schedules the same messages
in time (each is sent after its core's preceding neuron work, crosses its hops
and is processed once its receiver is free, with a NoC-congestion heuristic),
so it is never shorter; :func:`crosscheck` runs both.  On the six networks of
``benchmarks/sanafe_agreement.py`` (identical dynamics, 1-128 cores) the
estimate equals the simple model to rounding and is within -0.1 to -4.1% of the
detailed one; energy agrees to rounding.
"""

from __future__ import annotations

import math
import numbers
import os
import tempfile
from collections.abc import Mapping
from typing import Any

import numpy as np

import snn
from energy.errors import EnergyError, SNNTypeError
from energy.estimate import estimate
from snn._frontier import frontier

__all__ = [
    "available",
    "architecture_path",
    "sequential_placement",
    "loihi_traffic",
    "run",
    "crosscheck",
    "LOIHI_CORES",
    "CORES_PER_TILE",
    "MESH_HEIGHT",
]

#: SANA-FE's Loihi description: 32 tiles of 4 cores in an 8 x 4 mesh
LOIHI_CORES = 128
CORES_PER_TILE = 4
MESH_HEIGHT = 4
NEURONS_PER_CORE = 1024


def available() -> bool:
    """True when the ``sanafe`` package can be imported."""
    try:
        import sanafe  # noqa: F401
    except ImportError:
        return False
    return True


def _sanafe():
    try:
        import sanafe
    except ImportError as exc:
        raise EnergyError("energy.sanafe needs SANA-FE: pip install 'snn-toolkit[sanafe]' (PyPI sanafe)") from exc
    return sanafe


def architecture_path() -> str:
    """Path of the Loihi architecture file shipped with sanafe."""
    from importlib.resources import files

    _sanafe()
    return str(files("sanafe.examples").joinpath("loihi.yaml"))


def sequential_placement(network: snn.Network, *, neurons_per_core: int = 64, first_core: int = 0) -> dict[str, np.ndarray]:
    """Fill cores in order, ``neurons_per_core`` at a time, each population starting on a fresh core."""
    if not isinstance(network, snn.Network):
        raise SNNTypeError(f"network={network!r}: must be a snn.Network")
    if (
        isinstance(neurons_per_core, bool)
        or not isinstance(neurons_per_core, numbers.Integral)
        or not 1 <= neurons_per_core <= NEURONS_PER_CORE
    ):
        raise EnergyError(f"neurons_per_core={neurons_per_core!r}: must be an int in [1, {NEURONS_PER_CORE}]")
    out = {}
    core = first_core
    for p in network.populations:
        idx = core + np.arange(p.n) // neurons_per_core
        out[p.name] = idx.astype(np.int64)
        core = int(idx[-1]) + 1
    if core > LOIHI_CORES:
        raise EnergyError(f"the placement needs {core} cores; SANA-FE's Loihi has {LOIHI_CORES}: raise neurons_per_core")
    return out


def _check_placement(network: snn.Network, placement: Mapping[str, Any]) -> dict[str, np.ndarray]:
    if not isinstance(placement, Mapping):
        raise SNNTypeError(f"placement={placement!r}: must be a dict {{population: int array (n,) of core indices}}")
    out = {}
    for p in network.populations:
        if p.name not in placement:
            raise EnergyError(f"placement: population {p.name!r} has no cores; give every population an int array ({p.n},)")
        arr = np.asarray(placement[p.name])
        if arr.shape != (p.n,) or not np.issubdtype(arr.dtype, np.integer) or arr.min() < 0 or arr.max() >= LOIHI_CORES:
            raise EnergyError(f"placement[{p.name!r}]: must be an int array ({p.n},) of core indices in [0, {LOIHI_CORES})")
        out[p.name] = arr.astype(np.int64)
    counts = np.bincount(np.concatenate(list(out.values())), minlength=LOIHI_CORES)
    if counts.max() > NEURONS_PER_CORE:
        raise EnergyError(f"placement: core {int(counts.argmax())} holds {int(counts.max())} neurons; at most {NEURONS_PER_CORE}")
    return out


def _tile_xy(core: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    tile = core // CORES_PER_TILE
    return tile // MESH_HEIGHT, tile % MESH_HEIGHT


def loihi_traffic(network: snn.Network, run: Any, placement: Mapping[str, Any]) -> dict[str, Any]:
    """The mapping traffic dict of a run under a placement on SANA-FE's Loihi.

    The team contract's keys (see :mod:`energy.estimate`), plus the optional
    keys the per-core time model of ``loihi1_sanafe`` reads:

    ``messages_remote``
        Messages delivered to another core.
    ``n_tiles``
        Tiles holding at least one neuron (sources included): SANA-FE looks its
        time-step synchronisation latency up by this number.
    ``per_step_max_core_spikes``, ``per_step_max_core_messages_sent``, ``per_step_max_core_messages_received``
        Per step, the largest number over cores of non-source neurons fired,
        messages sent and messages received.
    ``per_step_core_send``, ``per_step_core_receive``
        Per step, the per-core rows ``[neuron_updates, spikes, messages_sent]``
        and ``[messages_received, synaptic_events]`` that no other core's row
        dominates (the busiest core for any non-negative latencies is among
        them; usually one to a few rows, so the dict stays small).

    A firing neuron sends one message per destination core of its synapses (its
    own core included); a message between tiles travels ``|dx|`` east-west and
    ``|dy|`` north-south hops (SANA-FE's Loihi geometry, cores of one tile share
    a router).  Every mapped non-source neuron counts as updated every step (as
    in :func:`energy.estimate`; SANA-FE skips the update of a neuron with zero
    potential, no input and no bias).  ``run`` must have recorded spikes of
    every population.
    """
    if not isinstance(network, snn.Network):
        raise SNNTypeError(f"network={network!r}: must be a snn.Network")
    place = _check_placement(network, placement)
    spikes = getattr(run, "spikes", None)
    n_steps = run.counts.n_steps
    missing = [p.name for p in network.populations if spikes is None or p.name not in spikes]
    if missing:
        raise EnergyError(f"run: spikes of {missing} were not recorded; simulate with record=('spikes',)")
    import scipy.sparse as sp

    pops = {p.name: p for p in network.populations}
    # synapses of each pre neuron per destination core: (n_pre, LOIHI_CORES), summed over projections
    per_core = {name: sp.csr_matrix((p.n, LOIHI_CORES), dtype=np.int64) for name, p in pops.items()}
    for pr in network.projections:
        coo = pr.weights.tocoo()  # (n_post, n_pre)
        m = sp.csr_matrix((np.ones(coo.nnz, dtype=np.int64), (coo.col, place[pr.post][coo.row])), shape=(pops[pr.pre].n, LOIHI_CORES))
        per_core[pr.pre] = per_core[pr.pre] + m
    core_x, core_y = _tile_xy(np.arange(LOIHI_CORES))
    local = remote = 0
    hops = {"ew": 0, "ns": 0, "vertical": 0}
    syn_core = np.zeros((n_steps, LOIHI_CORES), dtype=np.int64)
    recv_core = np.zeros((n_steps, LOIHI_CORES), dtype=np.int64)
    sent_core = np.zeros((n_steps, LOIHI_CORES), dtype=np.int64)
    fired_core = np.zeros((n_steps, LOIHI_CORES), dtype=np.int64)
    max_hops = np.zeros(n_steps, dtype=np.int64)
    for name, p in pops.items():
        fired = np.asarray(spikes[name], dtype=bool)[:n_steps]
        if fired.shape != (n_steps, p.n):
            raise EnergyError(f"run.spikes[{name!r}]: shape {fired.shape}, expected ({n_steps}, {p.n})")
        dest = (per_core[name] > 0).astype(np.int64).tocsr()  # destination cores of each neuron
        src = place[name]
        own = np.asarray(dest[np.arange(p.n), src]).ravel()
        n_dest = np.asarray(dest.sum(axis=1)).ravel()
        sx, sy = _tile_xy(src)
        d = dest.tocoo()
        ew = np.bincount(d.row, weights=np.abs(core_x[d.col] - sx[d.row]), minlength=p.n)
        ns = np.bincount(d.row, weights=np.abs(core_y[d.col] - sy[d.row]), minlength=p.n)
        route = np.zeros(p.n)
        np.maximum.at(route, d.row, np.abs(core_x[d.col] - sx[d.row]) + np.abs(core_y[d.col] - sy[d.row]))
        n_fired = fired.sum(axis=0)
        local += int(n_fired @ own)
        remote += int(n_fired @ (n_dest - own))
        hops["ew"] += int(round(float(n_fired @ ew)))
        hops["ns"] += int(round(float(n_fired @ ns)))
        f = sp.csr_matrix(fired.astype(np.int64))
        syn_core += np.asarray((f @ per_core[name]).todense())
        recv_core += np.asarray((f @ dest).todense())
        on_src = sp.csr_matrix((np.ones(p.n, dtype=np.int64), (np.arange(p.n), src)), shape=(p.n, LOIHI_CORES))
        sent_core += np.asarray((f @ on_src.multiply(n_dest[:, None]).tocsr()).todense())
        if not p.model.is_source:
            fired_core += np.asarray((f @ on_src).todense())
        max_hops = np.maximum(max_hops, (fired * route[None, :]).max(axis=1).astype(np.int64))
    used = np.unique(np.concatenate(list(place.values())))
    nu_core = np.zeros(LOIHI_CORES, dtype=np.int64)
    for name, p in pops.items():
        if not p.model.is_source:
            np.add.at(nu_core, place[name], 1)
    send_rows, recv_rows = [], []
    for k in range(n_steps):
        send = np.stack([nu_core[used], fired_core[k, used], sent_core[k, used]], axis=1)
        recv = np.stack([recv_core[k, used], syn_core[k, used]], axis=1)
        send_rows.append(frontier(send).tolist())
        recv_rows.append(frontier(recv).tolist())
    return {
        "n_cores": int(used.size),
        "n_chips": 1,
        "topology": "2d",
        "messages_local": int(local),
        "messages_remote": int(remote),
        "hops": hops,
        "per_step_max_core_synaptic_events": syn_core.max(axis=1).tolist(),
        "per_step_max_core_neuron_updates": np.full(n_steps, nu_core.max(), dtype=np.int64).tolist(),
        "per_step_max_hops": max_hops.tolist(),
        "n_tiles": int(np.unique(used // CORES_PER_TILE).size),
        "per_step_max_core_spikes": fired_core.max(axis=1).tolist(),
        "per_step_max_core_messages_sent": sent_core.max(axis=1).tolist(),
        "per_step_max_core_messages_received": recv_core.max(axis=1).tolist(),
        "per_step_core_send": send_rows,
        "per_step_core_receive": recv_rows,
    }


def _lif_like(p: snn.Population, dt_ms: float) -> dict[str, np.ndarray]:
    """Per-neuron SANA-FE Loihi LIF parameters of an IF / delta LIF population."""
    model = p.model
    if not isinstance(model, (snn.IF, snn.LIF)):
        raise EnergyError(
            f"population {p.name!r}: {type(model).__name__} is not supported by energy.sanafe; supported: IF, LIF (delta synapses), SpikeSource"
        )
    params = model.params(p.n, dt_ms)
    if len(params) != 11:
        raise EnergyError(f"population {p.name!r}: unexpected LIF parameter layout ({len(params)} arrays); energy.sanafe needs updating")
    a_vv, a_vi, a_vx, drive, _b_ii, _b_ix, v_th, v_reset, subtract, late, refractory = (np.asarray(a, dtype=np.float64) for a in params)
    if np.any(a_vi != 0) or getattr(model, "tau_syn_ms", None) is not None:
        raise EnergyError(
            f"population {p.name!r}: current-based synapses (tau_syn_ms) are not supported by energy.sanafe; use delta synapses"
        )
    if np.any(late != 0):
        raise EnergyError(f"population {p.name!r}: reset_timing='next_step' is not supported by energy.sanafe")
    if np.any(refractory != 0):
        raise EnergyError(
            f"population {p.name!r}: refractory periods are not supported by energy.sanafe (SANA-FE's refractory rule differs)"
        )
    v0 = np.asarray(p.state0()["v"], dtype=np.float64)
    return {
        "leak_decay": a_vv,
        "input_scale": a_vx,
        "bias": drive,
        "threshold": v_th,
        "reset": v_reset,
        "soft": subtract.astype(bool),
        "potential": v0,
    }


_INPUT_UNITS = "loihi_inputs[0..1023]"


def _load_arch(sanafe: Any, arch_path: str | None, n_inputs: int) -> tuple[Any, str]:
    """Load the architecture; SANA-FE's own Loihi file with its unused input units trimmed.

    The shipped loihi.yaml gives every one of its 128 cores 1,024 input soma
    units, which makes building a chip take seconds; units nobody maps to cost
    nothing, so the file is loaded with only as many as the placement needs
    (every energy and latency figure unchanged).
    """
    if arch_path is not None:
        return sanafe.load_arch(arch_path), arch_path
    path = architecture_path()
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    if _INPUT_UNITS not in text:
        return sanafe.load_arch(path), path
    k = max(16, 1 << max(0, n_inputs - 1).bit_length())
    fd, tmp = tempfile.mkstemp(prefix="snn-sanafe-loihi.", suffix=".yaml")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text.replace(_INPUT_UNITS, f"loihi_inputs[0..{k - 1}]"))
        arch = sanafe.load_arch(tmp)
    finally:
        os.unlink(tmp)
    return arch, f"{path} (input soma units per core trimmed from 1024 to {k}; nothing else changed)"


def run(
    network: snn.Network,
    n_steps: int,
    placement: Mapping[str, Any],
    *,
    source_spikes: Mapping[str, Any] | None = None,
    timing_model: str = "detailed",
    force_update: bool = False,
    arch_path: str | None = None,
) -> dict[str, Any]:
    """Simulate ``network`` on SANA-FE's Loihi for ``n_steps`` steps.

    Parameters
    ----------
    network : snn.Network
    n_steps : int
    placement : dict
        ``{population: int array (n,)}`` of core indices (see the module docstring).
    source_spikes : dict, optional
        ``{source population: bool array (n_steps, n)}`` replayed by SANA-FE input
        neurons (e.g. the recorded spikes of a Poisson source); SpikeSource
        populations replay their raster by default.
    timing_model : {"simple", "detailed", "cycle"}
        SANA-FE's timing model (``src/schedule.cpp``).  ``"simple"``: per step,
        the busiest core's neuron work or message work, whichever is larger,
        plus the synchronisation latency of the tiles in use -- what
        :func:`energy.estimate` computes on ``loihi1_sanafe``.  ``"detailed"``
        (the default, SANA-FE's own): the same work scheduled message by
        message in time (a message is processed after it was sent, crossed its
        hops and its receiver finished the one before) with a NoC-congestion
        heuristic; never shorter than the simple one.  ``"cycle"``: Booksim 2.
    force_update : bool
        Make SANA-FE update every neuron every step (otherwise, SANA-FE's
        default, a neuron with zero potential, no input and no bias only pays the
        soma access).
    arch_path : str, optional
        Another SANA-FE architecture file (default: :func:`architecture_path`).

    Returns
    -------
    dict
        ``energy_j``, ``time_s``, ``breakdown`` (SANA-FE's synapse / dendrite /
        soma / network energies in J), ``neurons_fired``, ``synaptic_events``,
        ``messages``, ``hops``, ``neurons_updated``, ``spikes``
        (``{population: bool (n_steps, n)}``, SANA-FE's spike trace, sources
        included) and ``step_time_s`` (SANA-FE's time of every step).
    """
    sanafe = _sanafe()
    if not isinstance(network, snn.Network):
        raise SNNTypeError(f"network={network!r}: must be a snn.Network")
    if isinstance(n_steps, bool) or not isinstance(n_steps, numbers.Integral) or n_steps < 1:
        raise EnergyError(f"n_steps={n_steps!r}: must be a positive int")
    place = _check_placement(network, placement)
    source_spikes = dict(source_spikes or {})
    n_inputs = max([int(np.bincount(place[p.name]).max()) for p in network.populations if p.model.is_source] or [1])
    arch, arch_label = _load_arch(sanafe, arch_path, n_inputs)
    cores = arch.cores()
    net = sanafe.Network()
    groups = {}
    input_slot = np.zeros(len(cores), dtype=np.int64)
    scale: dict[str, np.ndarray] = {}
    for p in network.populations:
        if p.model.is_source:
            if p.name in source_spikes:
                raster = np.asarray(source_spikes[p.name]).astype(bool)
            elif isinstance(p.model, snn.SpikeSource):
                raster = np.asarray(p.model.raster).astype(bool)
            else:
                raise EnergyError(
                    f"population {p.name!r}: {type(p.model).__name__} sources are replayed from recorded spikes: pass source_spikes={{{p.name!r}: bool array (n_steps, {p.n})}}"
                )
            if raster.ndim != 2 or raster.shape[1] != p.n:
                raise EnergyError(f"source_spikes[{p.name!r}]: must have shape (n_steps, {p.n}), got {raster.shape}")
            raster = np.vstack([raster[:n_steps], np.zeros((max(0, n_steps - raster.shape[0]), p.n), dtype=bool)])
            g = net.create_neuron_group(p.name, p.n)
            for i, nr in enumerate(g.neurons):
                core = int(place[p.name][i])
                nr.set_attributes(
                    soma_hw_name=f"loihi_inputs[{int(input_slot[core])}]",
                    model_attributes={"spikes": [bool(x) for x in raster[:, i]]},
                    log_spikes=True,
                )
                input_slot[core] += 1
                nr.map_to_core(cores[core])
        else:
            if p.model.graded:
                raise EnergyError(
                    f"population {p.name!r}: {type(p.model).__name__} sends graded spikes, which SANA-FE's Loihi does not model"
                )
            q = _lif_like(p, network.dt_ms)
            scale[p.name] = q["input_scale"]
            g = net.create_neuron_group(p.name, p.n, {"input_decay": 0.0})
            for i, nr in enumerate(g.neurons):
                nr.set_attributes(
                    model_attributes={
                        "threshold": float(q["threshold"][i]),
                        "reset": float(q["reset"][i]),
                        "reset_mode": "soft" if q["soft"][i] else "hard",
                        "leak_decay": float(q["leak_decay"][i]),
                        "bias": float(q["bias"][i]),
                        "potential": float(q["potential"][i]),
                        "force_update": bool(force_update),
                    },
                    log_spikes=True,
                )
                nr.map_to_core(cores[int(place[p.name][i])])
        groups[p.name] = g
    for pr in network.projections:
        if np.any(pr.delays != 1):
            raise EnergyError(f"projection {pr.name!r}: delays other than 1 step are not supported by energy.sanafe")
        if pr.synapse is not None:
            raise EnergyError(f"projection {pr.name!r}: synapse models are not supported by energy.sanafe")
        coo = pr.weights.tocoo()
        pre_n, post_n = groups[pr.pre].neurons, groups[pr.post].neurons
        s = scale[pr.post]
        for post, pre, w in zip(coo.row, coo.col, coo.data):
            pre_n[int(pre)].connect_to_neuron(post_n[int(post)], {"weight": float(w * s[post])})
    chip = sanafe.SpikingChip(arch)
    chip.load(net)
    res = chip.sim(int(n_steps), timing_model=timing_model, perf_trace=True, spike_trace=True, processing_threads=1)
    perf = res.get("perf_trace") or {}
    fired = {p.name: np.zeros((int(n_steps), p.n), dtype=bool) for p in network.populations}
    for step, addresses in enumerate(res.get("spike_trace") or []):
        for a in addresses:
            fired[a.group_name][step, a.neuron_offset] = True
    energy_parts = {k: float(v) for k, v in res["energy"].items() if k != "total"}
    return {
        "energy_j": float(res["energy"]["total"]),
        "time_s": float(res["sim_time"]),
        "breakdown": energy_parts,
        "neurons_fired": int(res["neurons_fired"]),
        "synaptic_events": int(res["spikes"]),
        "messages": int(res["packets_sent"]),
        "hops": int(sum(perf.get("hops", []))),
        "neurons_updated": int(res["neurons_updated"]),
        "spikes": fired,
        "step_time_s": [float(v) for v in perf.get("sim_time", [])],
        "timing_model": timing_model,
        "force_update": bool(force_update),
        "architecture": arch_label,
    }


def crosscheck(
    network: snn.Network,
    n_steps: int,
    placement: Mapping[str, Any] | None = None,
    *,
    name: str = "",
    seed: int = 0,
    engine: str = "reference",
    timing_models: tuple[str, ...] = ("detailed", "simple"),
) -> dict[str, Any]:
    """Run ``network`` in snn and in SANA-FE, price the snn run on ``loihi1_sanafe``, and compare.

    Parameters
    ----------
    network, n_steps, placement
        As for :func:`run` (default placement: :func:`sequential_placement`).
    name : str
    seed : int
        Seed of the snn run.
    engine : str
        The snn engine.
    timing_models : tuple of str
        SANA-FE timing models to run (one SANA-FE run each); the first is the
        headline ``sanafe_time_s``.  The default runs SANA-FE's own
        ``"detailed"`` model and the ``"simple"`` one the estimate reproduces.

    Returns
    -------
    dict
        ``name``, ``sanafe_energy_j``, ``estimate_energy_j``, ``energy_rel_diff``
        ((estimate - SANA-FE) / SANA-FE), the same for time (first timing
        model) and ``sanafe_time_s_by_model`` / ``time_rel_diff_by_model`` for
        each; ``spikes_match`` (every neuron fired at the same steps in both
        simulators, sources included) and ``spike_mismatches`` (neuron-steps
        that differ); both sides' spike, synaptic-event, message and hop
        counts; the estimate's breakdown and the traffic dict it was priced
        with.  Sources are replayed in SANA-FE from the snn run, so both see the
        same input spikes.
    """
    if not timing_models or any(m not in ("simple", "detailed", "cycle") for m in timing_models):
        raise EnergyError(f"timing_models={timing_models!r}: must be a non-empty tuple of 'simple', 'detailed', 'cycle'")
    if placement is None:
        placement = sequential_placement(network)
    res = snn.simulate(network, n_steps, engine=engine, seed=seed, record=("spikes",))
    sources = {p.name: res.spikes[p.name] for p in network.populations if p.model.is_source}
    runs = {m: run(network, n_steps, placement, source_spikes=sources, timing_model=m) for m in timing_models}
    sf = runs[timing_models[0]]
    traffic = loihi_traffic(network, res, placement)
    est = estimate(res.counts, "loihi1_sanafe", traffic)
    fired = sum(int(res.spikes[p.name].sum()) for p in network.populations if not p.model.is_source)
    mismatches = sum(
        int(np.count_nonzero(np.asarray(res.spikes[p.name], dtype=bool)[:n_steps] != sf["spikes"][p.name])) for p in network.populations
    )

    def rel(a: float, b: float) -> float | None:
        return None if b == 0 or not math.isfinite(b) else (a - b) / b

    time_by_model = {m: r["time_s"] for m, r in runs.items()}
    return {
        "name": name or repr(network),
        "n_steps": int(n_steps),
        "n_neurons": network.n_neurons,
        "n_synapses": network.n_synapses,
        "n_cores": traffic["n_cores"],
        "n_tiles": traffic["n_tiles"],
        "sanafe_energy_j": sf["energy_j"],
        "estimate_energy_j": est.energy_j,
        "energy_rel_diff": rel(est.energy_j, sf["energy_j"]),
        "timing_model": timing_models[0],
        "sanafe_time_s": sf["time_s"],
        "estimate_time_s": est.time_s,
        "time_rel_diff": rel(est.time_s, sf["time_s"]) if est.time_s is not None else None,
        "sanafe_time_s_by_model": time_by_model,
        "time_rel_diff_by_model": {m: (rel(est.time_s, t) if est.time_s is not None else None) for m, t in time_by_model.items()},
        "spikes_match": mismatches == 0,
        "spike_mismatches": mismatches,
        "snn": {
            "neurons_fired": fired,
            "synaptic_events": res.counts.synaptic_events,
            "messages": traffic["messages_local"] + traffic["messages_remote"],
            "hops": traffic["hops"]["ew"] + traffic["hops"]["ns"],
        },
        "sanafe": {k: sf[k] for k in ("neurons_fired", "synaptic_events", "messages", "hops", "neurons_updated")},
        "sanafe_breakdown": sf["breakdown"],
        "estimate_breakdown": dict(est.breakdown),
        "traffic": traffic,
    }
