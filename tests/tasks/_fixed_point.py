"""A small stand-in for a fixed-point simulator: any callable with snn.simulate's signature.

It rebuilds the network with every projection's weights rounded to an 8-bit
signed mantissa with one power-of-two exponent per projection (the Loihi
weight format), biases and sigma-delta thresholds rounded to ``2**-bias_bits``
of their largest magnitude, and runs the result with :func:`snn.simulate`.
The tasks must work with such a callable without knowing what it does.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import scipy.sparse as sp

import snn


def _round_mantissa(values: np.ndarray, bits: int) -> np.ndarray:
    top = float(np.max(np.abs(values))) if values.size else 0.0
    if top == 0.0:
        return values.copy()
    exp = math.ceil(math.log2(top)) - (bits - 1)
    return np.round(values / 2.0**exp) * 2.0**exp


def quantize(network: snn.Network, *, weight_bits: int = 8, bias_bits: int = 16) -> snn.Network:
    out = snn.Network(dt_ms=network.dt_ms)
    for pop in network.populations:
        model = pop.model
        changes = {}
        for name in ("bias", "vth"):
            if hasattr(model, name) and not isinstance(model, snn.Boltzmann):
                v = np.atleast_1d(np.asarray(getattr(model, name), dtype=np.float64))
                q = _round_mantissa(v, bias_bits)
                changes[name] = q if np.ndim(getattr(model, name)) else float(q[0])
        model = dataclasses.replace(model, **changes) if changes else model
        out.add_population(pop.name, pop.n, model, positions=pop.positions_um, initial_state=dict(pop.initial_state))
    for proj in network.projections:
        w = sp.csr_matrix(proj.weights, copy=True)
        w.data = _round_mantissa(w.data, weight_bits)
        out.connect(proj.pre, proj.post, snn.connect.explicit(w), weight=1.0, delay_steps=np.asarray(proj.delays), name=proj.name)
    out.outputs = network.outputs
    return out


class QuantizingSimulator:
    """``simulate(network, n_steps, **kw)`` on the quantized network (``state=`` continues a run); remembers how often it was called."""

    def __init__(self, **opts):
        self.opts = opts
        self.calls = 0

    def __call__(
        self, network, n_steps, *, engine="reference", seed=0, state=None, record=("spikes",), inputs=None, progress=False, **options
    ):
        self.calls += 1
        start = {"seed": seed} if state is None else {"state": state}  # a continued run keeps the state's seed
        return snn.simulate(
            quantize(network, **self.opts), n_steps, engine="reference", record=record, inputs=inputs, progress=progress, **start
        )
