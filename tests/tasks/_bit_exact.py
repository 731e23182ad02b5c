"""Bit-for-bit comparison of two task results (the chunking tests of issue 11)."""

from __future__ import annotations

import numpy as np


def same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def assert_same_result(a, b) -> None:
    """``a`` and ``b`` (SolveResults) agree bit for bit: x, n_steps, status, op counts (per-step arrays too), spikes, end state."""
    assert same_bits(a.x, b.x), f"x differs by up to {np.max(np.abs(np.asarray(a.x, float) - np.asarray(b.x, float)))}"
    assert (a.n_steps, a.status, a.success, a.message) == (b.n_steps, b.status, b.success, b.message)
    ca, cb = a.run.counts, b.run.counts
    assert ca.to_dict() == cb.to_dict(), (ca, cb)
    assert same_bits(ca.spikes_per_step, cb.spikes_per_step) and same_bits(ca.synaptic_events_per_step, cb.synaptic_events_per_step)
    assert a.run.spikes.keys() == b.run.spikes.keys()
    for name in a.run.spikes:
        assert same_bits(a.run.spikes[name], b.run.spikes[name]), name
    assert (a.run.t_start, a.run.t_stop) == (b.run.t_start, b.run.t_stop)
    assert a.run.state.equals(b.run.state)
    assert a.errors.keys() == b.errors.keys()
    for k in a.errors:
        assert same_bits(a.errors[k], b.errors[k]), k
