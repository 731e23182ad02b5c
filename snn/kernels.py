"""Step kernels: one pure function per neuron model, shared by every engine.

A kernel has the signature ``kernel(params, state, x, step, key) -> (out, new_state)``:

``params``
    tuple of per-neuron arrays, shape ``(n,)`` (built by the model's ``params``).
``state``
    tuple of per-neuron arrays in the order of the model's ``state_vars``.
``x``
    synaptic input that arrives in this step, shape ``(n,)``.
``step``
    the step index (0-based int).
``key``
    the population's 32-bit random key (only stochastic models use it).
``out``
    bool spikes ``(n,)`` or graded values ``(n,)`` (non-zero = a message).

Kernels use the module-level name ``xp`` as their array namespace and only the
subset that numpy, numba and torch share (arithmetic, comparisons, ``where``,
``abs``, ``exp``, ``tanh``, ``logical_*``, ``zeros_like``).  An engine gets a
copy of a kernel bound to its namespace with :func:`specialize`; the maths is
written once.
"""

from __future__ import annotations

import types

import numpy as np

from snn._rng import uniform

xp = np

__all__ = [
    "lif_kernel",
    "li_kernel",
    "sigma_delta_kernel",
    "boltzmann_kernel",
    "poisson_kernel",
    "spike_source_kernel",
    "current_source_kernel",
    "input_kernel",
    "specialize",
]


def lif_kernel(params, state, x, step, key):
    """Leaky integrate-and-fire in coefficient form (see :class:`snn.LIF`, :class:`snn.IF`).

    ``v' = a_vv*v + a_vi*i + a_vx*x + drive`` and ``i' = b_ii*i + b_ix*x``; the
    model's ``params`` choose the coefficients (exact integration, forward Euler,
    no leak).  A neuron spikes when ``v' > v_th``.  With immediate reset the
    spiking neuron resets in the same step (to ``v_reset``, or ``v -= v_th`` when
    ``subtract``); with ``late`` reset (snnTorch's default) the reset is applied
    in the next step, decided from the stored ``v > v_th``.  Refractory neurons
    hold ``v`` (their input to ``v`` is discarded) and cannot spike.
    """
    a_vv, a_vi, a_vx, drive, b_ii, b_ix, v_th, v_reset, subtract, late, refractory_steps = params
    v, i, ref = state
    v_int = a_vv * v + a_vi * i + a_vx * x + drive
    pending = xp.logical_and(late, v > v_th)
    v_int = xp.where(pending, xp.where(subtract, v_int - v_th, v_reset), v_int)
    refractory = ref > 0.5
    v_new = xp.where(refractory, v, v_int)
    spikes = xp.logical_and(v_new > v_th, xp.logical_not(refractory))
    reset_now = xp.logical_and(spikes, xp.logical_not(late))
    v_out = xp.where(reset_now, xp.where(subtract, v_new - v_th, v_reset), v_new)
    ref_out = xp.where(spikes, refractory_steps, xp.where(refractory, ref - 1.0, ref * 0.0))
    return spikes, (v_out, b_ii * i + b_ix * x, ref_out)


def li_kernel(params, state, x, step, key):
    """Leaky integrator without spikes (see :class:`snn.LI`): the coefficient form of
    :func:`lif_kernel` without threshold and reset; the graded output is the new ``v``.
    """
    a_vv, a_vi, a_vx, drive, b_ii, b_ix = params
    v, i = state
    v_new = a_vv * v + a_vi * i + a_vx * x + drive
    return v_new * 1.0, (v_new, b_ii * i + b_ix * x)


def sigma_delta_kernel(params, state, x, step, key):
    """Sigma-delta neuron with graded output (see :class:`snn.SigmaDelta`).

    ``sigma`` accumulates the incoming deltas; the activation is
    ``act = f(sigma + bias)``; the neuron sends ``delta = act - ref`` when
    ``|delta| >= vth`` and then ``ref += delta``.
    """
    vth, bias, relu = params
    sigma, ref = state
    sigma = sigma + x
    act = sigma + bias
    act = xp.where(xp.logical_and(relu, act < 0.0), act * 0.0, act)
    delta = act - ref
    out = xp.where(xp.abs(delta) >= vth, delta, delta * 0.0)
    return out, (sigma, ref + out)


def boltzmann_kernel(params, state, x, step, key):
    """Stochastic binary neuron with an annealed temperature (see :class:`snn.Boltzmann`)."""
    idx, bias, temperature, cooling, min_temperature, update_prob = params
    (s,) = state
    temp = temperature * cooling**step
    temp = xp.where(temp < min_temperature, min_temperature, temp)
    u = x + bias
    p_on = 0.5 * (1.0 + xp.tanh(u / (2.0 * temp)))
    r_update = uniform(key, 2 * step, idx)
    r_fire = uniform(key, 2 * step + 1, idx)
    on = (r_fire < p_on) * 1.0
    s_new = xp.where(r_update < update_prob, on, s)
    return s_new > 0.5, (s_new,)


def poisson_kernel(params, state, x, step, key):
    """Poisson spike source: spike with probability ``rate * dt`` each step."""
    idx, prob = params
    return uniform(key, step, idx) < prob, state


def spike_source_kernel(params, state, x, step, key):
    """Replays an explicit raster; silent after the raster ends."""
    (raster,) = params
    if step < raster.shape[0]:
        return raster[step] > 0.5, state
    return raster[0] < -1.0, state


def current_source_kernel(params, state, x, step, key):
    """Constant graded output ``amplitude`` every step."""
    (amplitude,) = params
    return amplitude * 1.0, state


def input_kernel(params, state, x, step, key):
    """An input population: its output is what ``simulate(inputs=...)`` feeds in.

    The engine passes the external values of this step as ``x``.
    """
    return x * 1.0, state


def specialize(fn, namespace, **overrides):
    """Return a copy of ``fn`` whose global ``xp`` is ``namespace``.

    This is how one kernel serves numpy, numba and torch without being written
    twice: the function's code object is reused with a globals dict in which
    ``xp`` names the requested array module.  ``overrides`` replace further
    globals (the compiled engine passes a jitted ``uniform``).
    """
    glb = dict(fn.__globals__)
    glb["xp"] = namespace
    glb.update(overrides)
    return types.FunctionType(fn.__code__, glb, fn.__name__, fn.__defaults__, fn.__closure__)
