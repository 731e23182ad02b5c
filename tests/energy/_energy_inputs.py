"""Hand-made op counts and mapping traffic dicts for the energy tests."""

from __future__ import annotations


def make_counts(
    *,
    spikes_per_step=(10, 20, 0, 30),
    synaptic_events_per_step=(100, 250, 0, 400),
    n_nonsource=200,
    source_spikes=5,
    graded_spikes=0,
    n_synapses=3000,
    dt_ms=1.0,
):
    """An OpCounts.to_dict()-like dict: one source population 'in' and one neuron population 'exc'."""
    sps = list(spikes_per_step)
    n_steps = len(sps)
    total = int(sum(sps))
    return {
        "n_steps": n_steps,
        "dt_ms": dt_ms,
        "spikes": total,
        "synaptic_events": int(sum(synaptic_events_per_step)),
        "neuron_updates": n_nonsource * n_steps,
        "graded_spikes": graded_spikes,
        "per_projection": {"in->exc": 0, "exc->exc": int(sum(synaptic_events_per_step))},
        "spikes_per_population": {"in": source_spikes, "exc": total - source_spikes},
        "neuron_updates_per_population": {"in": 0, "exc": n_nonsource * n_steps},
        "spikes_per_step": sps,
        "synaptic_events_per_step": list(synaptic_events_per_step),
        "n_neurons": n_nonsource + 10,
        "n_synapses": n_synapses,
    }


def make_mapping(n_steps=4, *, n_cores=9, n_chips=1, topology="2d", local=30, remote=20, ew=10, ns=5, vertical=0):
    return {
        "n_cores": n_cores,
        "n_chips": n_chips,
        "topology": topology,
        "messages_local": local,
        "messages_remote": remote,
        "hops": {"ew": ew, "ns": ns, "vertical": vertical},
        "per_step_max_core_synaptic_events": [40, 90, 0, 120][:n_steps],
        "per_step_max_core_neuron_updates": [25, 25, 25, 25][:n_steps],
        "per_step_max_hops": [2, 3, 0, 4][:n_steps],
    }


PJ = 1e-12
NS = 1e-9
US = 1e-6
