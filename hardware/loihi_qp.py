"""Fixed-point QP neurons: the box-projected sigma-delta neuron of PIPG in Loihi integer arithmetic.

:class:`LoihiBoxSigmaDelta` is the integer form of the float ``BoxSigmaDelta``
neuron of :mod:`tasks.qp` (the gradient neurons of the spiking PIPG solver):
Lava's fixed-point sigma-delta neuron (``PySigmaDeltaModelFixed``, int32
arithmetic) whose activation is clipped to an integer box ``[lo, hi]``
instead of a ReLU.  With ``lo = 0`` and ``hi = 2**31 - 1`` it is exactly
Lava's ReLU sigma-delta neuron, the form of the QP's integer *constraint*
neurons (the dual variables of ``A x <= k``), so inequalities and box bounds
both survive quantization.

Lava has no such process: the export ships its own ``BoxSigmaDelta`` Process
and bit-accurate ``PyProcessModel`` (``hardware/_lava_procs.py``, copied into
the export folder as ``lava_procs.py``; it imports only lava and numpy), and
``tests/hardware/test_lava_qp_qubo.py`` runs it in Lava's runtime against
:func:`box_sigma_delta_kernel` bit for bit.

One step, every value an int32 (wraps emulated in int64)::

    sigma   = wrap32(sigma + a)                   # a: the summed graded input of the step
    act_new = clip(wrap32(sigma + bias), lo, hi)  # the box projection
    delta   = wrap32(act_new - act + residue)
    s       = delta if |delta| >= vth else 0      # |-2**31| stays -2**31, as numpy's int32 abs
    out     = s >> out_exp                        # the message, in units of 2**out_exp (floor)
    residue = wrap32(delta - (out << out_exp));  act = act_new;  send out

``out_exp`` (0..16) sends coarser messages while the neuron keeps the
dropped low bits in ``residue`` (unlike Lava's ``state_exp``, which loses
them): the weights into a population then get ``out_exp`` more bits of
precision (a weight ``w`` becomes ``w * 2**out_exp``), which Loihi's weight
exponent floor of ``-8`` would otherwise cut off.

The float neuron's ``ref`` (the sum of what it has sent, times ``2**out_exp``) is ``act - residue``.

:func:`quantize_box_sigma_delta` maps a float ``BoxSigmaDelta`` population
(recognised by its class name and fields: :mod:`hardware` does not import
:mod:`tasks`) onto this model: values in units of ``1/m`` with ``m`` the power
of two of :func:`hardware.loihi.quantize`'s sigma-delta rule, ``lo`` rounded
up and ``hi`` rounded down (the integer box lies inside the float one, so a
feasible box stays feasible), infinite bounds to the int32 limits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

import snn
from hardware.errors import QuantizationError
from snn.errors import bad_value

xp = np

__all__ = ["LoihiBoxSigmaDelta", "box_sigma_delta_kernel", "quantize_box_sigma_delta", "is_float_box_sigma_delta", "I32_MAX"]

_P31 = 2147483648
_M32 = 4294967295
#: the largest int32
I32_MAX = _P31 - 1


def box_sigma_delta_kernel(params, state, x, step, key):
    """One step of :class:`LoihiBoxSigmaDelta` on int64 arrays holding int32 values.

    ``params = (vth, bias, lo, hi, out_exp)``; ``state = (sigma, act, residue)``;
    ``x`` the summed graded input.  Returns the graded output and the new state.
    """
    vth, bias, lo, hi, out_exp = params
    sigma, act, residue = state
    a = ((x + _P31) & _M32) - _P31
    sigma = ((sigma + _P31) & _M32) - _P31
    act = ((act + _P31) & _M32) - _P31
    residue = ((residue + _P31) & _M32) - _P31
    sigma_new = ((sigma + a + _P31) & _M32) - _P31
    pre = ((sigma_new + bias + _P31) & _M32) - _P31
    act_new = xp.where(pre < lo, lo, pre)
    act_new = xp.where(act_new > hi, hi, act_new)
    delta = ((act_new - act + residue + _P31) & _M32) - _P31
    mag = xp.where(delta == -_P31, delta, xp.abs(delta))
    s = xp.where(mag >= vth, delta, delta * 0)
    out = s >> out_exp
    residue_new = ((delta - (out << out_exp) + _P31) & _M32) - _P31
    return out, (sigma_new, act_new, residue_new)


@snn.register_model
@dataclass(frozen=True, eq=False)
class LoihiBoxSigmaDelta(snn.NeuronModel):
    """Integer sigma-delta neuron with a box-clipped activation (see the module notes).

    Parameters
    ----------
    vth : int
        Send threshold on ``|delta|``, ``[0, 2**31 - 1]`` (one per population, as Lava's ``vth``).
    bias : int or int array (n,)
        int32.
    lo, hi : int or int array (n,)
        The box, int32, ``lo <= hi`` for every neuron.  ``lo=0, hi=2**31 - 1``
        is Lava's ReLU sigma-delta neuron.
    out_exp : int
        Message exponent ``[0, 16]``: the neuron sends ``s >> out_exp`` and keeps the rest.

    State ``sigma``, ``act``, ``residue`` (int64 holding int32 values).  Graded output.
    """

    vth: int = 0
    bias: Any = 0
    lo: Any = -I32_MAX
    hi: Any = I32_MAX
    out_exp: int = 0

    state_vars: ClassVar[tuple[str, ...]] = ("sigma", "act", "residue")
    dtype: ClassVar[str] = "int64"
    graded: ClassVar[bool] = True
    kernel: ClassVar[Callable] = staticmethod(box_sigma_delta_kernel)

    def __post_init__(self) -> None:
        from hardware.loihi import _int_scalar, _int_scalar_or_array

        object.__setattr__(self, "vth", _int_scalar("vth", self.vth, 0, I32_MAX, " (int32 send threshold)"))
        object.__setattr__(self, "out_exp", _int_scalar("out_exp", self.out_exp, 0, 16, " (message exponent)"))
        for name in ("bias", "lo", "hi"):
            object.__setattr__(self, name, _int_scalar_or_array(name, getattr(self, name), -_P31, I32_MAX, " (int32)"))
        lo, hi = np.asarray(self.lo), np.asarray(self.hi)
        if np.any(lo > hi):
            bad = np.broadcast_to(lo, np.broadcast(lo, hi).shape)[np.broadcast_to(lo > hi, np.broadcast(lo, hi).shape)][0]
            raise bad_value(QuantizationError, "lo", int(bad), "must be <= hi for every neuron (the box [lo, hi])")

    def params(self, n: int, dt_ms: float) -> tuple[np.ndarray, ...]:
        from hardware.loihi import _full

        self.check_size(n)
        return (
            np.full(n, self.vth, dtype=np.int64),
            _full(self.bias, n),
            _full(self.lo, n),
            _full(self.hi, n),
            np.full(n, self.out_exp, dtype=np.int64),
        )


def is_float_box_sigma_delta(model: Any) -> bool:
    """True for the float box sigma-delta neuron of :mod:`tasks.qp` (by class name and fields, without importing tasks)."""
    return (
        type(model).__name__ == "BoxSigmaDelta"
        and isinstance(model, snn.NeuronModel)
        and tuple(model.state_vars) == ("sigma", "ref")
        and all(hasattr(model, f) for f in ("vth", "bias", "lo", "hi"))
    )


def _int_box(values: np.ndarray, scale: float, *, up: bool) -> np.ndarray:
    """Float bounds times ``scale`` rounded inward (``up``: ceil for lo, else floor for hi), infinities to the int32 limits."""
    out = np.empty(values.shape, dtype=np.int64)
    finite = np.isfinite(values)
    scaled = values[finite] * scale
    if np.any(np.abs(scaled) > I32_MAX):
        raise QuantizationError(f"a box bound times the value scale {scale:g} does not fit int32; lower value_bits or value_max")
    # a tiny tolerance so that bounds exactly on the grid (0.5 * 2**k) are not moved by float round-off
    r = np.rint(scaled)
    near = np.abs(scaled - r) <= 1e-9 * np.maximum(1.0, np.abs(scaled))
    out[finite] = np.where(near, r, np.ceil(scaled) if up else np.floor(scaled)).astype(np.int64)
    out[~finite] = np.where(values[~finite] > 0, I32_MAX, -I32_MAX)
    return out


def quantize_box_sigma_delta(p: snn.Population, incoming: list, msg_scale: dict, msg_max: dict, value_scale: float, out_exp: int):
    """``(model, initial_state, PopulationQuantization, {projection: (synapse, weights, report)})`` for a float ``BoxSigmaDelta``.

    Also for a float :class:`snn.SigmaDelta` (``relu``: the box ``[0, 2**31 - 1]``;
    ``unit``: no box).  ``value_scale`` is the population's value scale ``m``,
    ``msg_scale[name] = m / 2**out_exp`` the scale of its messages.
    """
    from hardware.loihi import _P31 as P31
    from hardware.loihi import PopulationQuantization, _quantize_projection, _uniform

    m, n, name = p.model, p.n, p.name
    scale = value_scale
    vth_f = float(m.vth) if np.ndim(m.vth) == 0 else _uniform(name, "vth", np.asarray(m.vth, dtype=np.float64))
    vth = int(round(vth_f * scale))
    bias_f = np.broadcast_to(np.asarray(m.bias, dtype=np.float64), (n,)) * scale
    bias = np.rint(bias_f).astype(np.int64)
    if vth > P31 - 1 or np.any(np.abs(bias) > P31 - 1):
        raise QuantizationError(
            f"population {name!r}: vth or bias times the value scale {scale:g} does not fit int32; lower value_bits or value_max"
        )
    if isinstance(m, snn.SigmaDelta):
        lo_f, hi_f = (0.0 if m.activation == "relu" else -np.inf), np.inf
    else:
        lo_f, hi_f = m.lo, m.hi
    lo = _int_box(np.broadcast_to(np.asarray(lo_f, dtype=np.float64), (n,)).copy(), scale, up=True)
    hi = _int_box(np.broadcast_to(np.asarray(hi_f, dtype=np.float64), (n,)).copy(), scale, up=False)
    if np.any(lo > hi):
        i = int(np.flatnonzero(lo > hi)[0])
        raise QuantizationError(
            f"population {name!r}: the box of neuron {i} is narrower than one fixed-point unit 1/{scale:g}; raise value_bits"
        )
    s0 = p.state0()
    zeros = np.zeros(n, dtype=np.int64)
    init = {"sigma": np.rint(s0["sigma"] * scale).astype(np.int64), "act": zeros, "residue": -np.rint(s0["ref"] * scale).astype(np.int64)}

    def one(a: np.ndarray) -> Any:
        return a if np.any(a != a[0]) else int(a[0])

    model = LoihiBoxSigmaDelta(vth=vth, bias=one(bias), lo=one(lo), hi=one(hi), out_exp=out_exp)
    syns = {}
    in_sum = np.zeros(n)
    for pr in incoming:
        if pr.synapse is not None:
            raise bad_value(
                QuantizationError,
                f"projection {pr.name!r}: synapse",
                pr.synapse,
                "a projection into a float BoxSigmaDelta population must have no synapse type to be quantized",
            )
        syn, w, prq, _wq = _quantize_projection(pr, pr.weights.data * scale / msg_scale[pr.pre])
        syns[pr.name] = (syn, w, prq)
        rows = np.repeat(np.arange(n), np.diff(pr.weights.indptr))
        np.add.at(in_sum, rows, np.abs(w.data) * msg_max[pr.pre])
    big_b = float(np.max(np.abs(bias_f))) if n else 0.0
    rep = PopulationQuantization(
        name,
        "box_sigma_delta",
        vth=vth,
        scale=np.full(n, scale),
        v_offset=np.zeros(n),
        threshold_rel_error=abs(vth - vth_f * scale) / (vth_f * scale) if vth_f > 0 else 0.0,
        bias_max_rel_error=float(np.max(np.abs(bias - bias_f)) / big_b) if big_b > 0 else 0.0,
        u_bound=float(np.max(in_sum)) if n else 0.0,
        input_unit=np.full(n, 1.0 / scale),
        output_scale=scale / 2.0**out_exp,
    )
    return model, init, rep, syns


def box_value_range(p: snn.Population) -> float:
    """``max |value|`` of a float box population's description: bias, vth, finite bounds and initial state."""
    m = p.model
    s0 = p.state0()
    parts = [np.abs(np.asarray(v, dtype=np.float64)).ravel() for v in (m.bias, m.vth, s0["sigma"], s0["ref"])]
    for b in (m.lo, m.hi):
        arr = np.asarray(b, dtype=np.float64).ravel()
        parts.append(np.abs(arr[np.isfinite(arr)]))
    return max((float(a.max()) for a in parts if a.size), default=0.0) or 1.0
