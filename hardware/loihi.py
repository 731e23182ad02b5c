"""Loihi fixed point, bit-exact with Lava's CPU models (lava-nc 0.10, ``fixed_pt``).

Models that run in every engine of :mod:`snn` through the ordinary simulate
loop, and reproduce, bit for bit, what Lava's ``Loihi2SimCfg(select_tag="fixed_pt")``
computes (``PyLifModelBitAcc``, ``PyDenseModelBitAcc``/``PySparseModelBitAcc``,
``PySigmaDeltaModelFixed``):

:class:`LoihiLIF`
    the current-based LIF neuron: 12-bit decays ``du``/``dv``, 24-bit current
    ``u`` (wraps) and voltage ``v`` (saturates), bias mantissa/exponent,
    threshold ``vth << 6``, reset to 0.
:class:`LoihiSynapse`
    the synapse slot of a projection: Lava's weight clipping to 8 bits and
    truncation to ``num_weight_bits`` (per sign mode), and the weight exponent
    applied to the accumulated sum of a step (not to each weight).
:class:`LoihiSigmaDelta`
    the fixed-point sigma-delta neuron of ``lava.proc.sdn`` (graded spikes).

Lava's ``Dense``/``Sparse`` deliver what arrived in step ``t`` in step ``t + 1``:
that is ``delay_steps=1`` here.

:func:`quantize` turns a float network (:class:`snn.LIF`/:class:`snn.IF`
populations with delta or current synapses) into this form and reports the
quantization error; :func:`fixed_point_simulator` returns a ``simulate``
callable that quantizes and runs, for ``solve(..., simulate=...)``.

Arithmetic notes (see ``lava/proc/lif/models.py``): Lava keeps ``u`` and ``v``
in int32; the decays multiply in int64 and divide by 4096 rounding toward
zero; the input ``a`` is shifted left by 6 in int32; ``u`` is wrapped once
into ``(-2**23, 2**23]`` with the asymmetric bounds of the source; ``v`` is
clipped to ``[-(2**23 - 1), 2**23 - 1]``; the bias is ``bias_mant << bias_exp``
in int32.  The kernels below compute in int64 and emulate each int32 wrap with
``((x + 2**31) & (2**32 - 1)) - 2**31``.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

import snn
import snn.state
from hardware import loihi_qp, loihi_qubo
from hardware.errors import LavaError, LoihiClipWarning, QuantizationError
from snn.errors import SNNTypeError, bad_value
from snn.simulate import _SEED_DEFAULT

xp = np

__all__ = [
    "LoihiLIF",
    "LoihiSynapse",
    "LoihiSigmaDelta",
    "loihi_lif_kernel",
    "loihi_synapse_kernel",
    "loihi_sigma_delta_kernel",
    "lava_weights",
    "SIGN_MODES",
    "quantize",
    "QuantizationReport",
    "PopulationQuantization",
    "ProjectionQuantization",
    "FixedPointSimulator",
    "fixed_point_simulator",
    "determine_sign_mode",
]

# ---------------------------------------------------------------------------------------------
# constants of the fixed-point arithmetic (Lava's AbstractPyLifModelFixed.__init__)
_P23 = 8388608  # 2**23: max_uv_val
_P24 = 16777216  # 2**24
_P31 = 2147483648  # 2**31
_M32 = 4294967295  # 2**32 - 1
_VMAX = 8388607  # 2**23 - 1: voltage saturation
_VTH_SHIFT = 6
_ACT_SHIFT = 6
_DECAY_SHIFT = 12

#: register ranges (Lava's documented precisions, ``PyLifModelBitAcc``; Loihi's 4-bit signed weight exponent)
DU_RANGE = (0, 4095)
DV_RANGE = (0, 4095)
VTH_RANGE = (0, 131071)
BIAS_MANT_RANGE = (-4096, 4095)
BIAS_EXP_RANGE = (0, 7)
WEIGHT_EXP_RANGE = (-8, 7)
NUM_WEIGHT_BITS_RANGE = (1, 8)

#: the sign modes of ``lava.utils.weightutils.SignMode`` (lower-case names)
SIGN_MODES = ("null", "mixed", "excitatory", "inhibitory")


# ---------------------------------------------------------------------------------------------
# kernels: one pure function each, written against ``xp`` (numpy, numba or torch)
def loihi_lif_kernel(params, state, x, step, key):
    """One step of Lava's ``PyLifModelBitAcc`` (``run_spk``) on int64 arrays.

    ``params = (decay_u, decay_v, vth_scaled, bias)`` with ``decay_u = 4095 - du``
    (Lava's ``ds_offset = 1``), ``decay_v = 4096 - dv`` (``dm_offset = 0``),
    ``vth_scaled = vth << 6`` and ``bias = wrap32(bias_mant << bias_exp)``;
    ``state = (u, v)``; ``x`` is the summed synaptic input of the step.
    Returns the spikes and ``(u, v)`` as Lava's Monitor records them (``u``
    after the update, ``v`` after the reset).
    """
    decay_u, decay_v, vth_scaled, bias = params
    u, v = state
    # Lava holds u and v in int32 Vars and receives the input as an int32 sum
    u = ((u + _P31) & _M32) - _P31
    v = ((v + _P31) & _M32) - _P31
    a = ((x + _P31) & _M32) - _P31
    # current: decay rounds toward zero, then + (a << 6) in int32 (one wrap of the sum
    # equals the two int32 wraps of Lava: addition is exact modulo 2**32)
    pu = u * decay_u
    ud = xp.where(pu < 0, -((-pu) >> _DECAY_SHIFT), pu >> _DECAY_SHIFT)
    xu = ((ud + (a << _ACT_SHIFT) + _P31) & _M32) - _P31
    # the 24-bit wrap, once, with Lava's asymmetric bounds
    u_new = xp.where(xu > _P23, xu - _P24, xp.where(xu <= -_P23, xu + _P24, xu))
    # voltage: decay toward zero, + u + bias in int32, then saturate
    pv = v * decay_v
    vd = xp.where(pv < 0, -((-pv) >> _DECAY_SHIFT), pv >> _DECAY_SHIFT)
    y = ((vd + u_new + bias + _P31) & _M32) - _P31
    y = xp.where(y > _VMAX, y * 0 + _VMAX, xp.where(y < -_VMAX, y * 0 - _VMAX, y))
    spikes = y > vth_scaled
    v_new = xp.where(spikes, y * 0, y)
    return spikes, (u_new, v_new)


def loihi_synapse_kernel(params, acc):
    """What a Lava ``Dense``/``Sparse`` sends for the accumulated input ``acc`` of one step.

    ``params = (left, right)``: ``left = max(weight_exp, 0)``, ``right =
    max(-weight_exp, 0)``.  The sum is taken in int32 (graded messages: Lava's
    int32 dot product; binary spikes: the int64 sum, equal whenever it fits
    int32), shifted by the weight exponent (arithmetic: a negative exponent
    floors the *sum*), and written into Lava's int32 channel (wrap).
    """
    left, right = params
    a = ((acc + _P31) & _M32) - _P31
    a = (a << left) >> right
    return ((a + _P31) & _M32) - _P31


def loihi_sigma_delta_kernel(params, state, x, step, key):
    """One step of Lava's ``PySigmaDeltaModelFixed`` on int64 arrays (int32 emulated).

    ``params = (vth, bias, relu, cum_error, state_exp)`` with ``vth`` and
    ``bias`` already scaled by ``2**(spike_exp + state_exp)`` as Lava's process
    does; ``state = (sigma, act, residue, error)``.  Returns the graded output
    ``s_out >> state_exp`` and the new state.
    """
    vth, bias, relu, cum_error, state_exp = params
    sigma, act, residue, error = state
    sigma = ((sigma + _P31) & _M32) - _P31
    act = ((act + _P31) & _M32) - _P31
    residue = ((residue + _P31) & _M32) - _P31
    error = ((error + _P31) & _M32) - _P31
    sigma_new = ((x + sigma + _P31) & _M32) - _P31
    pre = ((sigma_new + bias + _P31) & _M32) - _P31
    act_new = xp.where((relu > 0) & (pre < 0), pre * 0, pre)
    delta = ((act_new - act + residue + _P31) & _M32) - _P31
    err = xp.where(cum_error > 0, ((error + delta + _P31) & _M32) - _P31, error)
    test = xp.where(cum_error > 0, err, delta)
    # int32 abs: abs(-2**31) stays -2**31 in numpy's int32
    mag = xp.where(test == -_P31, test, xp.abs(test))
    s = xp.where(mag >= vth, delta, delta * 0)
    s_mag = xp.where(s == -_P31, s, xp.abs(s))
    err = xp.where((cum_error > 0) & (s_mag > 0), err * 0, err)
    residue_new = ((delta - s + _P31) & _M32) - _P31
    out = s >> state_exp
    return out, (sigma_new, act_new, residue_new, err)


# ---------------------------------------------------------------------------------------------
# validation helpers
def _int_scalar(name: str, value: Any, lo: int, hi: int, what: str = "") -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        if isinstance(value, numbers.Real) and not isinstance(value, bool) and float(value).is_integer():
            raise SNNTypeError(f"{name}={value!r}: must be an int (Lava's fixed-point registers hold integers), e.g. {int(value)}")
        raise SNNTypeError(f"{name}={value!r}: must be an int in [{lo}, {hi}]{what}")
    value = int(value)
    if not lo <= value <= hi:
        raise bad_value(QuantizationError, name, value, f"must be an int in [{lo}, {hi}]{what}")
    return value


def _int_scalar_or_array(name: str, value: Any, lo: int, hi: int, what: str = "") -> Any:
    if isinstance(value, np.ndarray) or isinstance(value, (list, tuple)):
        arr = np.asarray(value)
        if arr.ndim == 0:
            return _int_scalar(name, arr.item(), lo, hi, what)
        if arr.ndim != 1:
            raise bad_value(QuantizationError, name, f"array of shape {arr.shape}", "must be an int or a 1-D per-neuron int array (n,)")
        if arr.dtype == np.bool_ or not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
            raise SNNTypeError(f"{name}: must be an int or an int array, got dtype {arr.dtype}")
        if np.issubdtype(arr.dtype, np.floating) and not np.all(np.isfinite(arr) & (arr == np.round(arr))):
            raise bad_value(QuantizationError, name, "array with non-integer values", f"must hold integers in [{lo}, {hi}]{what}")
        out = arr.astype(np.int64)
        bad = (out < lo) | (out > hi)
        if np.any(bad):
            raise bad_value(QuantizationError, name, f"array with value {out[bad][0]}", f"must hold integers in [{lo}, {hi}]{what}")
        out.setflags(write=False)
        return out
    return _int_scalar(name, value, lo, hi, what)


def _full(value: Any, n: int) -> np.ndarray:
    arr = np.asarray(value, dtype=np.int64)
    if arr.ndim == 0:
        return np.full(n, int(arr), dtype=np.int64)
    return arr.astype(np.int64, copy=True)


def _wrap32(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=np.int64)
    return ((a + _P31) & _M32) - _P31


# ---------------------------------------------------------------------------------------------
# models
@snn.register_model
@dataclass(frozen=True, eq=False)
class LoihiLIF(snn.NeuronModel):
    """Loihi's current-based LIF neuron, bit-exact with Lava's ``PyLifModelBitAcc``.

    Each step (``a`` = the input of the step, summed in int32)::

        u = wrap24(trunc0(u * (4095 - du) / 4096) + (a << 6))
        v = clip(trunc0(v * (4096 - dv) / 4096) + u + (bias_mant << bias_exp), -(2**23 - 1), 2**23 - 1)
        spike = v > (vth << 6);  v[spike] = 0       # u is not reset

    ``trunc0`` rounds toward zero; ``wrap24`` maps ``x > 2**23`` to ``x - 2**24``
    and ``x <= -2**23`` to ``x + 2**24`` once (Lava's asymmetric bounds; ``+2**23``
    is kept).  ``du = 0`` still decays ``u`` by 1/4096 per step and ``du = 4095``
    makes ``u`` forget completely; ``dv = 0`` means no leak.

    Parameters
    ----------
    du, dv : int
        Current and voltage decays, 12 bit: ``[0, 4095]``, one per population (as in Lava).
    vth : int
        Threshold mantissa, 17 bit ``[0, 131071]``; the neuron spikes when ``v > vth << 6``.
    bias_mant : int or int array (n,)
        Bias mantissa, 13 bit ``[-4096, 4095]``.
    bias_exp : int or int array (n,)
        Bias exponent, 3 bit ``[0, 7]``.

    State ``u``, ``v`` (int64 holding Lava's int32 values; start at 0 unless
    ``add_population(..., initial_state={"u": ..., "v": ...})``).
    """

    du: int = 0
    dv: int = 0
    vth: int = 10
    bias_mant: Any = 0
    bias_exp: Any = 0

    state_vars: ClassVar[tuple[str, ...]] = ("u", "v")
    dtype: ClassVar[str] = "int64"
    kernel: ClassVar[Callable] = staticmethod(loihi_lif_kernel)

    def __post_init__(self) -> None:
        object.__setattr__(self, "du", _int_scalar("du", self.du, *DU_RANGE, " (12-bit current decay, one per population)"))
        object.__setattr__(self, "dv", _int_scalar("dv", self.dv, *DV_RANGE, " (12-bit voltage decay, one per population)"))
        object.__setattr__(self, "vth", _int_scalar("vth", self.vth, *VTH_RANGE, " (17-bit threshold mantissa, one per population)"))
        object.__setattr__(
            self, "bias_mant", _int_scalar_or_array("bias_mant", self.bias_mant, *BIAS_MANT_RANGE, " (13-bit bias mantissa)")
        )
        object.__setattr__(self, "bias_exp", _int_scalar_or_array("bias_exp", self.bias_exp, *BIAS_EXP_RANGE, " (3-bit bias exponent)"))

    def check_state(self, var: str, values: np.ndarray) -> None:
        """An initial ``u``/``v`` must fit Lava's int32 Vars.

        Values beyond the 24-bit registers are allowed (Lava wraps them on the
        first step, and the kernel reproduces that); beyond int32 Lava could not
        hold them at all.
        """
        lo, hi = -(2**31), 2**31 - 1
        bad = (values < lo) | (values > hi)
        if bad.any():
            raise bad_value(
                QuantizationError,
                f"initial_state[{var!r}]",
                int(values[bad][0]),
                f"LoihiLIF.{var} is an int32 Var in Lava: allowed [{lo}, {hi}]",
            )

    def effective_bias(self, n: int) -> np.ndarray:
        """``bias_mant << bias_exp`` in int32, as Lava's ``scale_bias``, int64 ``(n,)``."""
        return _wrap32(_full(self.bias_mant, n) << _full(self.bias_exp, n))

    def params(self, n: int, dt_ms: float) -> tuple[np.ndarray, ...]:
        self.check_size(n)
        return (
            np.full(n, 4095 - self.du, dtype=np.int64),
            np.full(n, 4096 - self.dv, dtype=np.int64),
            np.full(n, self.vth << _VTH_SHIFT, dtype=np.int64),
            self.effective_bias(n),
        )


@snn.register_model
@dataclass(frozen=True, eq=False)
class LoihiSigmaDelta(snn.NeuronModel):
    """Lava's fixed-point sigma-delta neuron (``lava.proc.sdn.SigmaDelta``, ``PySigmaDeltaModelFixed``).

    Each step, in int32 arithmetic::

        sigma  += a                               # a: the input of the step
        act_new = relu(sigma + bias)  (or sigma + bias with act_mode="unit")
        delta   = act_new - act + residue
        s       = delta if |delta| >= vth else 0  (|error + delta| with cum_error)
        residue = delta - s;  act = act_new;  out = s >> state_exp

    ``vth`` and ``bias`` are given as to Lava's process, which scales both by
    ``2**(spike_exp + state_exp)``.  The output is graded: connect it with
    :class:`LoihiSynapse` projections (Lava: ``Dense(..., num_message_bits > 0)``).
    State ``sigma``, ``act``, ``residue``, ``error``.
    """

    vth: int = 0
    bias: Any = 0
    act_mode: str = "relu"
    cum_error: bool = False
    spike_exp: int = 0
    state_exp: int = 0

    state_vars: ClassVar[tuple[str, ...]] = ("sigma", "act", "residue", "error")
    dtype: ClassVar[str] = "int64"
    graded: ClassVar[bool] = True
    kernel: ClassVar[Callable] = staticmethod(loihi_sigma_delta_kernel)

    def __post_init__(self) -> None:
        object.__setattr__(self, "spike_exp", _int_scalar("spike_exp", self.spike_exp, 0, 7, " (3-bit message exponent)"))
        object.__setattr__(self, "state_exp", _int_scalar("state_exp", self.state_exp, 0, 7, " (3-bit state exponent)"))
        shift = self.spike_exp + self.state_exp
        limit = (_P31 - 1) >> shift
        object.__setattr__(self, "vth", _int_scalar("vth", self.vth, 0, limit, f" (vth << {shift} must fit int32)"))
        object.__setattr__(self, "bias", _int_scalar_or_array("bias", self.bias, -limit, limit, f" (bias << {shift} must fit int32)"))
        if self.act_mode not in ("relu", "unit"):
            raise bad_value(QuantizationError, "act_mode", self.act_mode, "must be 'relu' or 'unit' (Lava's ActivationMode)")
        if not isinstance(self.cum_error, (bool, np.bool_)):
            raise SNNTypeError(f"cum_error={self.cum_error!r}: must be a bool")
        object.__setattr__(self, "cum_error", bool(self.cum_error))

    def params(self, n: int, dt_ms: float) -> tuple[np.ndarray, ...]:
        self.check_size(n)
        shift = self.spike_exp + self.state_exp
        return (
            np.full(n, self.vth << shift, dtype=np.int64),
            _full(self.bias, n) << shift,
            np.full(n, int(self.act_mode == "relu"), dtype=np.int64),
            np.full(n, int(self.cum_error), dtype=np.int64),
            np.full(n, self.state_exp, dtype=np.int64),
        )


# ---------------------------------------------------------------------------------------------
# synapse
def _sign_mode_name(value: Any) -> str | None:
    if value is None:
        return None
    name = getattr(value, "name", value)  # accepts lava.utils.weightutils.SignMode members too
    if isinstance(name, str) and name.lower() in SIGN_MODES:
        return name.lower()
    raise bad_value(
        QuantizationError, "sign_mode", value, f"must be None (decided from the weights, as Lava does) or one of {list(SIGN_MODES)}"
    )


def determine_sign_mode(weights: sp.spmatrix | np.ndarray) -> str:
    """Lava's ``determine_sign_mode`` on integer weights (implicit zeros of a sparse matrix count)."""
    if sp.issparse(weights):
        w = sp.csr_matrix(weights)
        data = w.data
        has_zero = w.nnz < w.shape[0] * w.shape[1]
    else:
        data = np.asarray(weights).ravel()
        has_zero = False
    lo = min(data.min() if data.size else 0, 0 if has_zero else np.inf)
    hi = max(data.max() if data.size else 0, 0 if has_zero else -np.inf)
    if lo >= 0:
        return "excitatory"
    if hi <= 0:
        return "inhibitory"
    return "mixed"


def lava_weights(data: np.ndarray, sign_mode: str, num_weight_bits: int) -> tuple[np.ndarray, int]:
    """Lava's ``clip_weights(W, sign_mode, 8)`` then ``truncate_weights(W, sign_mode, num_weight_bits)``.

    ``data`` are integer weights (int64); returns the weights Lava computes with
    and how many were clipped.
    """
    w = np.asarray(data, dtype=np.int64)
    mixed = int(sign_mode == "mixed")
    inhibitory = sign_mode == "inhibitory"
    if inhibitory:
        w = -w
    lo, hi = -256 * mixed, 255
    clipped = int(np.count_nonzero((w < lo) | (w > hi)))
    w = np.clip(w, lo, hi)
    nt = 8 - num_weight_bits + mixed
    w = (w >> nt) << nt
    if inhibitory:
        w = -w
    return w, clipped


@snn.register_synapse
@dataclass(frozen=True)
class LoihiSynapse(snn.Synapse):
    """The synapse of a Lava ``Dense``/``Sparse`` connection, bit-exact with its ``fixed_pt`` model.

    Before a run the weights are made what Lava computes with: truncated toward
    zero to integers (a warning if any were not integers), clipped to 8 bits
    for the sign mode (``mixed`` ``[-256, 255]``, ``excitatory`` ``[0, 255]``,
    ``inhibitory`` ``[-255, 0]``; a :class:`~hardware.errors.LoihiClipWarning`
    says how many), then their lowest ``8 - num_weight_bits (+1 if mixed)``
    bits cleared (``w >> k << k``, i.e. toward -inf; toward zero for
    inhibitory).  With the defaults and mixed signs the lowest bit is cleared:
    ``3 -> 2``, ``-3 -> -4``, exactly as Lava.  In each step the weights of the
    arriving spikes are summed and the sum is shifted by ``weight_exp`` (a
    negative exponent floors the sum, not each weight), then wrapped to int32.

    Parameters
    ----------
    weight_exp : int
        Shared weight exponent ``[-8, 7]``.
    num_weight_bits : int
        Weight precision ``[1, 8]``.
    sign_mode : {None, "mixed", "excitatory", "inhibitory", "null"}
        ``None`` decides from the weights as Lava does (``excitatory`` if all
        ``>= 0``, ``inhibitory`` if all ``<= 0``, else ``mixed``).
    """

    weight_exp: int = 0
    num_weight_bits: int = 8
    sign_mode: str | None = None

    dtype: ClassVar[str] = "int64"
    kernel: ClassVar[Callable] = staticmethod(loihi_synapse_kernel)

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "weight_exp", _int_scalar("weight_exp", self.weight_exp, *WEIGHT_EXP_RANGE, " (Loihi's 4-bit signed weight exponent)")
        )
        object.__setattr__(self, "num_weight_bits", _int_scalar("num_weight_bits", self.num_weight_bits, *NUM_WEIGHT_BITS_RANGE))
        object.__setattr__(self, "sign_mode", _sign_mode_name(self.sign_mode))

    def integer_weights(self, weights: sp.spmatrix) -> sp.csr_matrix:
        """The weights as Lava's int32 ``weights`` Var holds them (truncated toward zero), int64 CSR."""
        w = sp.csr_matrix(weights, copy=True)
        data = np.asarray(w.data, dtype=np.float64)
        ints = np.trunc(data)
        if np.any(np.abs(ints) > _P31 - 1):
            raise bad_value(
                QuantizationError,
                "weights",
                f"matrix with value {data[np.abs(ints) > _P31 - 1][0]}",
                "LoihiSynapse weights must fit int32 (Lava's weight Var)",
            )
        if np.any(ints != data):
            k = int(np.count_nonzero(ints != data))
            warnings.warn(
                f"LoihiSynapse: {k} of {data.size} weights are not integers; truncated toward zero as Lava does",
                LoihiClipWarning,
                stacklevel=3,
            )
        return sp.csr_matrix((ints.astype(np.int64), w.indices.copy(), w.indptr.copy()), shape=w.shape)

    def effective_sign_mode(self, weights: sp.spmatrix) -> str:
        """The sign mode Lava uses for these weights (given, or decided from the integer weights)."""
        return self.sign_mode or determine_sign_mode(self.integer_weights(weights))

    def prepare(self, weights: sp.csr_matrix) -> sp.csr_matrix:
        ints = self.integer_weights(weights)
        mode = self.sign_mode or determine_sign_mode(ints)
        data, clipped = lava_weights(ints.data, mode, self.num_weight_bits)
        if clipped:
            lo, hi = {"mixed": (-256, 255), "inhibitory": (-255, 0)}.get(mode, (0, 255))
            warnings.warn(
                f"LoihiSynapse: {clipped} of {data.size} weights outside [{lo}, {hi}] (sign_mode={mode!r}) were clipped, as Lava clips them",
                LoihiClipWarning,
                stacklevel=3,
            )
        return sp.csr_matrix((data, ints.indices, ints.indptr), shape=ints.shape)

    def params(self) -> tuple[np.ndarray, ...]:
        return (np.int64(max(self.weight_exp, 0)), np.int64(max(-self.weight_exp, 0)))


# ---------------------------------------------------------------------------------------------
# quantization of float networks
@dataclass(frozen=True, eq=False)
class PopulationQuantization:
    """How one population was quantized.

    ``scale`` (per neuron, float) is the number of fixed-point units of ``v``
    per unit of the float model's voltage, measured from ``v_reset`` (Loihi
    resets to 0): ``v_float = v_int / scale + v_offset``.  The float model's
    synaptic current is ``i_float = u_int * i_per_u``.  The relative errors
    compare the represented value with the float one.
    """

    name: str
    kind: str
    du: int | None = None
    dv: int | None = None
    vth: int | None = None
    scale: np.ndarray | None = None
    v_offset: np.ndarray | None = None
    i_per_u: np.ndarray | None = None
    decay_u_rel_error: float = 0.0
    decay_v_rel_error: float = 0.0
    threshold_rel_error: float = 0.0
    bias_max_rel_error: float = 0.0
    u_bound: float = 0.0
    #: float input of the float model per integer input unit (after the weight exponent), ``(n,)``
    input_unit: np.ndarray | None = None
    #: fixed-point units of the graded output per unit of the float output (None: ``scale``)
    output_scale: float | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind}
        if self.kind in ("sigma_delta", "box_sigma_delta"):
            out.update(
                vth=self.vth,
                scale=float(np.max(self.scale)),
                threshold_rel_error=self.threshold_rel_error,
                bias_max_rel_error=self.bias_max_rel_error,
                max_input_sum=self.u_bound,
            )
        if self.kind == "lif":
            out.update(
                du=self.du,
                dv=self.dv,
                vth=self.vth,
                scale_min=float(np.min(self.scale)),
                scale_max=float(np.max(self.scale)),
                decay_u_rel_error=self.decay_u_rel_error,
                decay_v_rel_error=self.decay_v_rel_error,
                threshold_rel_error=self.threshold_rel_error,
                bias_max_rel_error=self.bias_max_rel_error,
                u_bound=self.u_bound,
            )
        return out


@dataclass(frozen=True, eq=False)
class ProjectionQuantization:
    """How one projection's weights were quantized.

    ``max_rel_error`` is ``max |w_q - w| / max |w|`` over the projection and
    ``rms_rel_error`` the root mean square of ``|w_q - w| / max |w|``, with
    ``w`` the exact weight in fixed-point units and ``w_q = mantissa * 2**weight_exp``.
    """

    name: str
    weight_exp: int
    num_weight_bits: int
    sign_mode: str
    max_rel_error: float
    rms_rel_error: float
    max_mantissa: int
    #: with ``weight_bits=16``: the name of the companion projection that carries the low byte (None: not split)
    low_projection: str | None = None
    #: the errors of the 8-bit form when the projection is split
    max_rel_error_8bit: float | None = None
    #: internal: the low-byte synapse and weights, and the errors with them ``(syn, weights, max_rel, rms_rel)``
    _low: Any = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        out = {
            k: getattr(self, k) for k in ("weight_exp", "num_weight_bits", "sign_mode", "max_rel_error", "rms_rel_error", "max_mantissa")
        }
        if self.low_projection is not None:
            out.update(low_projection=self.low_projection, max_rel_error_8bit=self.max_rel_error_8bit)
        return out


@dataclass(frozen=True, eq=False)
class QuantizationReport:
    """The quantization errors of :func:`quantize`.

    Attributes
    ----------
    populations : dict
        ``{name: PopulationQuantization}``.
    projections : dict
        ``{name: ProjectionQuantization}``.
    input_scales : dict
        ``{name: m}`` for graded sources (:class:`snn.CurrentSource`,
        :class:`snn.ExternalInput`): their values are sent as ``round(value * m)``.
    notes : tuple of str
        Warnings that are not errors (e.g. a current that could wrap if many inputs fire at once).
    """

    populations: Mapping[str, PopulationQuantization]
    projections: Mapping[str, ProjectionQuantization]
    input_scales: Mapping[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    @property
    def max_weight_rel_error(self) -> float:
        return max((p.max_rel_error for p in self.projections.values()), default=0.0)

    @property
    def max_decay_rel_error(self) -> float:
        return max((max(p.decay_u_rel_error, p.decay_v_rel_error) for p in self.populations.values()), default=0.0)

    @property
    def max_threshold_rel_error(self) -> float:
        return max((p.threshold_rel_error for p in self.populations.values()), default=0.0)

    @property
    def max_bias_rel_error(self) -> float:
        return max((p.bias_max_rel_error for p in self.populations.values()), default=0.0)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able summary."""
        return {
            "max_weight_rel_error": self.max_weight_rel_error,
            "max_decay_rel_error": self.max_decay_rel_error,
            "max_threshold_rel_error": self.max_threshold_rel_error,
            "max_bias_rel_error": self.max_bias_rel_error,
            "populations": {k: v.to_dict() for k, v in self.populations.items()},
            "projections": {k: v.to_dict() for k, v in self.projections.items()},
            "input_scales": dict(self.input_scales),
            "notes": list(self.notes),
        }

    def __str__(self) -> str:
        lines = [
            f"Loihi quantization: max relative error of weights {self.max_weight_rel_error:.3g}, decays {self.max_decay_rel_error:.3g}, thresholds {self.max_threshold_rel_error:.3g}, biases {self.max_bias_rel_error:.3g}"
        ]
        for name, p in self.populations.items():
            if p.kind == "lif":
                lines.append(
                    f"  population {name!r}: du={p.du} dv={p.dv} vth={p.vth} scale={float(np.min(p.scale)):.4g}..{float(np.max(p.scale)):.4g}"
                )
        for name, q in self.projections.items():
            lines.append(f"  projection {name!r}: weight_exp={q.weight_exp} sign_mode={q.sign_mode} max rel error {q.max_rel_error:.3g}")
        lines.extend(f"  note: {n}" for n in self.notes)
        return "\n".join(lines)


_FLOAT_LIF = (snn.LIF, snn.IF)
_BINARY_SOURCES = (snn.SpikeSource, snn.PoissonSource)
_MANTISSA_MAX = 254 * 128  # the largest |weight| * 2**weight_exp representable with every sign mode


def _uniform(name: str, what: str, values: np.ndarray) -> float:
    if not np.allclose(values, values[0], rtol=1e-12, atol=0.0):
        raise QuantizationError(f"population {name!r}: {what} differs between neurons; Loihi has one per population (split the population)")
    return float(values[0])


def _quantize_weights(w_eff: np.ndarray, mode: str) -> tuple[np.ndarray, int]:
    """Mantissas and exponent so that the largest |weight| uses the 8-bit mantissa."""
    big = float(np.max(np.abs(w_eff))) if w_eff.size else 0.0
    if big == 0.0:
        return np.zeros(w_eff.shape, dtype=np.int64), 0
    if mode == "mixed":
        pos, neg = float(max(w_eff.max(), 0.0)), float(-min(w_eff.min(), 0.0))
        need = max(pos / 254.0, neg / 256.0)
    else:
        need = big / 255.0
    if not need > 0.0:  # the largest |weight| / 255 underflows (denormal weights): nothing to scale
        raise QuantizationError(
            f"weights of magnitude {big:g} are too small to quantize (they would all be 0; the smallest Loihi weight is 2**{WEIGHT_EXP_RANGE[0]})"
        )
    we = max(WEIGHT_EXP_RANGE[0], math.ceil(math.log2(need)))
    while True:
        if we > WEIGHT_EXP_RANGE[1]:
            raise QuantizationError(f"weights need weight_exp={we}, beyond Loihi's range {list(WEIGHT_EXP_RANGE)}")
        x = w_eff / 2.0**we
        mant = (2 * np.rint(x / 2.0) if mode == "mixed" else np.rint(x)).astype(np.int64)
        lo, hi = {"mixed": (-256, 254), "excitatory": (0, 255), "inhibitory": (-255, 0)}[mode]
        if mant.min() >= lo and mant.max() <= hi:
            if not mant.any():
                raise QuantizationError(
                    f"weights of magnitude {big:g} are too small to quantize (they would all be 0; the smallest Loihi weight is 2**{WEIGHT_EXP_RANGE[0]})"
                )
            return mant, we
        we += 1


def _message_scale(value_max: float, message_bits: int, what: str = "value_max") -> float:
    """The largest power of two ``m`` with ``value_max * m <= 2**message_bits - 1`` (1 for ``value_max == 0``)."""
    if value_max <= 0:
        return 1.0
    top = 2**message_bits - 1
    smallest = top * 2.0**-1023  # below it the scale 2**k is no longer a finite float
    if not value_max >= smallest:
        raise bad_value(
            QuantizationError, what, value_max, f"is too small to scale to {message_bits}-bit messages; allowed: 0 or >= {smallest:.3g}"
        )
    return 2.0 ** math.floor(math.log2(top / value_max))


def quantize(
    network: snn.Network,
    *,
    headroom: float = 8.0,
    message_bits: int = 8,
    input_max: Mapping[str, float] | None = None,
    value_max: Mapping[str, float] | None = None,
    value_bits: int | None = None,
    weight_bits: int | None = None,
    message_exp: int | None = None,
) -> tuple[snn.Network, QuantizationReport]:
    """Turn a float network into Loihi fixed point (:class:`LoihiLIF`, :class:`LoihiSynapse`).

    :class:`snn.LIF` and :class:`snn.IF` populations (delta or current
    synapses, ``reset="zero"``, no refractory period) become :class:`LoihiLIF`;
    every projection into them gets a :class:`LoihiSynapse` with integer
    weights.  Spike sources are kept; graded sources send integers (see below);
    populations and projections already in Loihi form are kept as they are.

    The mapping, per population (``alpha = exp(-dt/tau_mem)``, ``beta =
    exp(-dt/tau_syn)``, ``c`` the current-to-voltage coefficient of
    :class:`snn.LIF`): ``dv = 4096 - round(4096 alpha)``, ``du = 4095 -
    round(4096 beta)`` (``du = 4095`` for delta synapses, whose input then goes
    straight into ``v``).  The voltage, measured from ``v_reset``, is scaled
    per neuron by ``scale = vth * 64 / (v_th - v_reset)`` so the threshold is
    represented exactly; ``vth`` is the largest value for which the voltage
    range ``±headroom * (v_th - v_reset)`` fits the 24-bit ``v``, every bias
    fits ``bias_mant << bias_exp`` (13-bit mantissa, exponent 0..7) and every
    weight fits an 8-bit mantissa with ``weight_exp <= 7``.  Each projection's
    ``weight_exp`` is the smallest for which its largest weight fits the 8-bit
    mantissa (sign mode from the weights' signs; mixed signs use even
    mantissas, as Lava clears their lowest bit).

    Graded sources: a :class:`snn.CurrentSource` or :class:`snn.ExternalInput`
    sends ``round(value * m)`` with ``m = 2**k`` the largest power of two for
    which ``input_max * m`` fits ``message_bits`` bits (``input_max`` per
    population, default ``max |amplitude|`` and 1.0 for external inputs); its
    weights are divided by ``m``.  :func:`fixed_point_simulator` applies this
    scaling to ``inputs`` for you.

    :class:`snn.SigmaDelta` populations become :class:`LoihiSigmaDelta` (with
    ``act_mode`` ``"unit"``/``"relu"``): their values (``sigma``, ``ref``, the
    graded messages) are integers in units of ``1/m`` with ``m = 2**k`` the
    largest power of two for which ``value_max`` fits ``value_bits`` bits;
    ``vth`` and ``bias`` are rounded to that grid and the weights into the
    population scaled by ``m_post / m_pre``.  ``value_max`` defaults to
    ``8 * max(|bias|, |sigma|, |ref|, vth)`` of the description (initial state
    included), which cannot foresee how far the values will grow: pass it, or
    let :func:`fixed_point_simulator` measure it (``calibrate=True``).

    Parameters
    ----------
    network : snn.Network
    headroom : float
        The float voltage range kept without saturation, in units of the
        threshold distance ``v_th - v_reset`` (default 8).
    message_bits : int
        Bits of a graded source's messages (1..24).
    input_max : dict, optional
        ``{population: max |value|}`` of graded sources.
    value_max : dict, optional
        ``{population: max |value|}`` of sigma-delta populations.
    value_bits : int
        Bits of a sigma-delta population's values (1..24); the graded messages
        times 8-bit weight mantissas must fit Lava's int32 sums (a note in the
        report warns when a fan-in could overflow them).
    message_exp : int, optional
        ``0..16``.  When positive, every sigma-delta population (float
        ``SigmaDelta`` and ``BoxSigmaDelta``) becomes a
        :class:`~hardware.loihi_qp.LoihiBoxSigmaDelta` (ReLU: the box
        ``[0, 2**31 - 1]``) that sends its changes in units of
        ``2**message_exp`` and keeps the rest: its weights get ``message_exp``
        more bits below Loihi's weight-exponent floor of ``-8``.  Default
        (``None``): 8 for networks with a ``BoxSigmaDelta`` population (the QP
        solver, whose ``I - alpha Q`` weights need them), else 0 (Lava's own
        ``SigmaDelta``).  ``value_bits`` defaults to 24 with a positive
        ``message_exp``, else 16.
    weight_bits : {8, 16}, optional
        Default (``None``): 16 for networks with a ``BoxSigmaDelta``
        population (the QP solver), else 8.  ``16`` splits every quantized projection ``P`` into two Lava
        connections from the same neurons to the same neurons: ``P`` with the
        8-bit mantissas and ``P + "~lo"`` with the 8-bit mantissas of what is
        left (its own weight exponent), the usual way to get 16-bit weights on
        Loihi (each synapse then costs two synaptic operations, counted).

    Returns
    -------
    (snn.Network, QuantizationReport)

    Raises
    ------
    QuantizationError
        For a model without a Loihi form (refractory
        periods, subtractive reset, per-neuron time constants) or values that do
        not fit the registers.
    """
    if not isinstance(network, snn.Network):
        raise SNNTypeError(f"network={network!r}: must be a snn.Network")
    if isinstance(headroom, bool) or not isinstance(headroom, numbers.Real) or not (1.0 <= headroom <= 2.0**23 / 64):
        raise bad_value(QuantizationError, "headroom", headroom, "must be a number in [1, 131072] (units of the threshold distance)")
    message_bits = _int_scalar("message_bits", message_bits, 1, 24)
    input_max = dict(input_max or {})
    for k, v in input_max.items():
        network.population(k)
        if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v) or v < 0:
            raise bad_value(QuantizationError, f"input_max[{k!r}]", v, "must be a finite number >= 0")

    has_box = any(loihi_qp.is_float_box_sigma_delta(p.model) for p in network.populations)
    message_exp = (8 if has_box else 0) if message_exp is None else _int_scalar("message_exp", message_exp, 0, 16)
    value_bits = (24 if message_exp > 0 else 16) if value_bits is None else value_bits
    value_bits = _int_scalar("value_bits", value_bits, 1, 24)
    weight_bits = (16 if has_box else 8) if weight_bits is None else weight_bits
    if isinstance(weight_bits, bool) or weight_bits not in (8, 16):
        raise bad_value(
            QuantizationError, "weight_bits", weight_bits, "must be 8 or 16 (16: each projection split into two 8-bit connections)"
        )
    value_max = dict(value_max or {})
    for k, v in value_max.items():
        network.population(k)
        if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v) or v < 0:
            raise bad_value(QuantizationError, f"value_max[{k!r}]", v, "must be a finite number >= 0")

    dt = network.dt_ms
    pops = {p.name: p for p in network.populations}
    incoming: dict[str, list[snn.Projection]] = {name: [] for name in pops}
    for pr in network.projections:
        incoming[pr.post].append(pr)

    # message scale of each sender (1 for spikes, m for graded sources) and the largest message it sends
    msg_scale: dict[str, float] = {}
    msg_max: dict[str, float] = {}
    value_scale: dict[str, float] = {}
    input_scales: dict[str, float] = {}
    for p in network.populations:
        m = p.model
        if isinstance(m, (snn.CurrentSource, snn.ExternalInput)):
            if isinstance(m, snn.CurrentSource):
                vmax = input_max.get(p.name, float(np.max(np.abs(np.asarray(m.amplitude, dtype=np.float64)))))
            else:
                vmax = input_max.get(p.name, 1.0)
            what = f"input_max[{p.name!r}]" if p.name in input_max else f"population {p.name!r}: largest |amplitude|"
            msg_scale[p.name] = input_scales[p.name] = _message_scale(vmax, message_bits, what)
            msg_max[p.name] = max(vmax * msg_scale[p.name], 1.0)
        elif isinstance(m, snn.SigmaDelta) or loihi_qp.is_float_box_sigma_delta(m):
            vmax = value_max.get(p.name)
            if vmax is None:
                if isinstance(m, snn.SigmaDelta):
                    s0 = p.state0()
                    vmax = 8.0 * max(
                        float(np.max(np.abs(np.asarray(v, dtype=np.float64)))) for v in (m.bias, m.vth, s0["sigma"], s0["ref"])
                    )
                else:
                    vmax = 8.0 * loihi_qp.box_value_range(p)
            what = f"value_max[{p.name!r}]" if p.name in value_max else f"population {p.name!r}: 8 x its largest |bias|, |vth| or state"
            value_scale[p.name] = _message_scale(vmax, value_bits, what)
            shift = 2.0**message_exp if (message_exp > 0 or loihi_qp.is_float_box_sigma_delta(m)) else 1.0
            msg_scale[p.name] = value_scale[p.name] / shift
            msg_max[p.name] = max(vmax * msg_scale[p.name], 1.0)
        else:
            msg_scale[p.name] = msg_max[p.name] = 1.0

    qnet = snn.Network(dt_ms=dt)
    pop_reports: dict[str, PopulationQuantization] = {}
    proj_reports: dict[str, ProjectionQuantization] = {}
    new_syn: dict[str, tuple[LoihiSynapse, sp.csr_matrix]] = {}
    notes: list[str] = []

    for p in network.populations:
        m = p.model
        if isinstance(m, _FLOAT_LIF):
            model, init, rep, syns = _quantize_lif(p, incoming[p.name], msg_scale, msg_max, dt, headroom)
            qnet.add_population(p.name, p.n, model, positions=p.positions_um, initial_state=init)
            pop_reports[p.name] = rep
            for pr_name, (syn, w, prq) in syns.items():
                new_syn[pr_name] = (syn, w)
                proj_reports[pr_name] = prq
            if rep.u_bound > _P23:
                notes.append(
                    f"population {p.name!r}: if every input fired in every step |u| could reach {rep.u_bound:.3g} > 2**23 and wrap (Loihi's 24-bit current); typical activity stays far below"
                )
        elif isinstance(m, snn.SigmaDelta) and message_exp == 0:
            model, init, rep, syns = _quantize_sigma_delta(p, incoming[p.name], msg_scale, msg_max)
            qnet.add_population(p.name, p.n, model, positions=p.positions_um, initial_state=init)
            pop_reports[p.name] = rep
            for pr_name, (syn, w, prq) in syns.items():
                new_syn[pr_name] = (syn, w)
                proj_reports[pr_name] = prq
            if rep.u_bound >= _P31:
                notes.append(
                    f"population {p.name!r}: if every sender sent its largest message at once the int32 input sum could reach {rep.u_bound:.3g} and wrap; "
                    "typical activity stays far below (lower value_bits to make it impossible)"
                )
        elif loihi_qp.is_float_box_sigma_delta(m) or isinstance(m, (snn.Boltzmann, snn.SigmaDelta)):
            if isinstance(m, snn.Boltzmann):
                graded = {q.name: bool(q.model.graded) for q in network.populations}
                model, init, rep, syns = loihi_qubo.quantize_boltzmann(p, incoming[p.name], msg_scale, graded)
            else:
                model, init, rep, syns = loihi_qp.quantize_box_sigma_delta(
                    p, incoming[p.name], msg_scale, msg_max, value_scale[p.name], message_exp
                )
            qnet.add_population(p.name, p.n, model, positions=p.positions_um, initial_state=init)
            pop_reports[p.name] = rep
            for pr_name, (syn, w, prq) in syns.items():
                new_syn[pr_name] = (syn, w)
                proj_reports[pr_name] = prq
            if rep.kind == "box_sigma_delta" and rep.u_bound >= _P31:
                notes.append(
                    f"population {p.name!r}: if every sender sent its largest message at once the int32 input sum could reach {rep.u_bound:.3g} and wrap; "
                    "typical activity stays far below (lower value_bits to make it impossible)"
                )
        elif isinstance(m, snn.CurrentSource):
            amp = np.rint(np.asarray(m.amplitude, dtype=np.float64) * msg_scale[p.name])
            qnet.add_population(p.name, p.n, snn.CurrentSource(amplitude=amp if amp.ndim else float(amp)), positions=p.positions_um)
            pop_reports[p.name] = PopulationQuantization(p.name, "graded source")
        elif isinstance(
            m, _BINARY_SOURCES + (snn.ExternalInput, LoihiLIF, LoihiSigmaDelta, loihi_qp.LoihiBoxSigmaDelta, loihi_qubo.LoihiBoltzmann)
        ):
            qnet.add_population(p.name, p.n, m, positions=p.positions_um, initial_state=dict(p.initial_state))
            pop_reports[p.name] = PopulationQuantization(p.name, "unchanged")
        else:
            raise bad_value(
                QuantizationError,
                f"population {p.name!r}",
                type(m).__name__,
                "has no Loihi fixed-point form here; allowed: LIF, IF (reset='zero', no refractory period), SigmaDelta, BoxSigmaDelta (tasks.qp), Boltzmann, SpikeSource, PoissonSource, CurrentSource, ExternalInput, LoihiLIF, LoihiSigmaDelta, LoihiBoxSigmaDelta, LoihiBoltzmann",
            )
    for pr in network.projections:
        if pr.name in new_syn:
            syn, w = new_syn[pr.name]
            qnet._store(pr.pre, pr.post, w, _delay_matrix(pr, w), syn, pr.name)
            low = proj_reports[pr.name]._low
            if weight_bits == 16 and low is not None:
                syn_lo, w_lo, err, rms = low
                lo_name = pr.name + "~lo"
                if lo_name in network._projections:
                    raise bad_value(
                        QuantizationError, f"projection {lo_name!r}", lo_name, "the name of the low-byte companion is taken; rename it"
                    )
                qnet._store(pr.pre, pr.post, w_lo, _delay_matrix(pr, w_lo), syn_lo, lo_name)
                old = proj_reports[pr.name]
                proj_reports[pr.name] = dataclasses.replace(
                    old, max_rel_error=err, rms_rel_error=rms, low_projection=lo_name, max_rel_error_8bit=old.max_rel_error, _low=None
                )
        else:
            qnet._store(pr.pre, pr.post, pr.weights, _delay_matrix(pr, pr.weights), pr.synapse, pr.name)
    qnet.outputs = tuple(network.outputs)
    return qnet, QuantizationReport(pop_reports, proj_reports, input_scales, tuple(notes))


def _delay_matrix(pr: snn.Projection, w: sp.csr_matrix) -> sp.csr_matrix:
    return sp.csr_matrix((pr.delays.astype(np.float64), pr.weights.indices, pr.weights.indptr), shape=w.shape)


def _quantize_projection(pr, w_eff):
    """LoihiSynapse, integer weights, report and the represented weights for exact weights ``w_eff`` (aligned with ``pr.weights.data``)."""
    mode = determine_sign_mode(np.sign(pr.weights.data)) if pr.weights.nnz else "excitatory"
    try:
        mant_w, we = _quantize_weights(w_eff, mode)
    except QuantizationError as exc:
        raise QuantizationError(f"projection {pr.name!r}: {exc}") from None
    wq = mant_w.astype(np.float64) * 2.0**we
    big_w = float(np.max(np.abs(w_eff))) if w_eff.size else 0.0
    err = np.abs(wq - w_eff) / big_w if big_w > 0 else np.zeros(w_eff.shape)
    prq = ProjectionQuantization(
        pr.name,
        we,
        8,
        mode,
        float(err.max()) if err.size else 0.0,
        float(np.sqrt(np.mean(err**2))) if err.size else 0.0,
        int(np.max(np.abs(mant_w))) if mant_w.size else 0,
    )
    w = sp.csr_matrix((mant_w.astype(np.float64), pr.weights.indices.copy(), pr.weights.indptr.copy()), shape=pr.weights.shape)
    resid = w_eff - wq
    if big_w > 0 and np.any(resid != 0):
        mode_lo = determine_sign_mode(np.sign(resid))
        try:
            mant_lo, we_lo = _quantize_weights(resid, mode_lo)
        except QuantizationError:
            mant_lo = None
        if mant_lo is not None:
            w2 = wq + mant_lo.astype(np.float64) * 2.0**we_lo
            err2 = np.abs(w2 - w_eff) / big_w
            w_lo = sp.csr_matrix((mant_lo.astype(np.float64), pr.weights.indices.copy(), pr.weights.indptr.copy()), shape=pr.weights.shape)
            low = (
                LoihiSynapse(weight_exp=we_lo, num_weight_bits=8, sign_mode=mode_lo),
                w_lo,
                float(err2.max()),
                float(np.sqrt(np.mean(err2**2))),
            )
            object.__setattr__(prq, "_low", low)
    return LoihiSynapse(weight_exp=we, num_weight_bits=8, sign_mode=mode), w, prq, wq


def _quantize_sigma_delta(p, incoming, msg_scale, msg_max):
    m, n, name = p.model, p.n, p.name
    scale = msg_scale[name]
    vth_f = float(m.vth) if np.ndim(m.vth) == 0 else _uniform(name, "vth", np.asarray(m.vth, dtype=np.float64))
    vth = int(round(vth_f * scale))
    bias_f = np.broadcast_to(np.asarray(m.bias, dtype=np.float64), (n,)) * scale
    bias = np.rint(bias_f).astype(np.int64)
    limit = _P31 - 1
    if vth > limit or np.any(np.abs(bias) > limit):
        raise QuantizationError(
            f"population {name!r}: vth or bias times the value scale {scale:g} does not fit int32; lower value_bits or value_max"
        )
    relu = m.activation == "relu"
    s0 = p.state0()
    sigma0 = np.rint(s0["sigma"] * scale).astype(np.int64)
    ref0 = np.rint(s0["ref"] * scale).astype(np.int64)
    # Lava's neuron sends act_new - act + residue: only residue - act = -ref matters.  act = 0 keeps a
    # fresh population's state all zero, as Lava's SigmaDelta starts (and as an export requires).
    zeros = np.zeros(n, dtype=np.int64)
    init = {"sigma": sigma0, "act": zeros, "residue": -ref0, "error": zeros.copy()}
    model = LoihiSigmaDelta(vth=vth, bias=bias if np.any(bias != bias[0]) else int(bias[0]), act_mode="relu" if relu else "unit")
    syns = {}
    in_sum = np.zeros(n)
    for pr in incoming:
        if pr.synapse is not None:
            raise bad_value(
                QuantizationError,
                f"projection {pr.name!r}: synapse",
                pr.synapse,
                "a projection into a float SigmaDelta population must have no synapse type to be quantized",
            )
        syn, w, prq, wq = _quantize_projection(pr, pr.weights.data * scale / msg_scale[pr.pre])
        syns[pr.name] = (syn, w, prq)
        rows = np.repeat(np.arange(n), np.diff(pr.weights.indptr))
        mant = np.abs(w.data)
        np.add.at(in_sum, rows, mant * msg_max[pr.pre])
    big_b = float(np.max(np.abs(bias_f))) if n else 0.0
    rep = PopulationQuantization(
        name,
        "sigma_delta",
        vth=vth,
        scale=np.full(n, scale),
        v_offset=np.zeros(n),
        threshold_rel_error=abs(vth - vth_f * scale) / (vth_f * scale) if vth_f > 0 else 0.0,
        bias_max_rel_error=float(np.max(np.abs(bias - bias_f)) / big_b) if big_b > 0 else 0.0,
        u_bound=float(np.max(in_sum)) if n else 0.0,
        input_unit=np.full(n, 1.0 / scale),
    )
    return model, init, rep, syns


def _quantize_lif(p, incoming, msg_scale, msg_max, dt, headroom):
    m, n, name = p.model, p.n, p.name
    if m.reset != "zero":
        raise bad_value(
            QuantizationError, f"population {name!r}: reset", m.reset, "Loihi resets v to 0; only reset='zero' can be quantized"
        )
    if np.any(np.asarray(m.refractory_steps) != 0):
        raise bad_value(
            QuantizationError,
            f"population {name!r}: refractory_steps",
            m.refractory_steps,
            "Lava's fixed-point LIF has no refractory period; must be 0",
        )
    a_vv, a_vi, a_vx, drive, b_ii, b_ix, v_th, v_reset, _subtract, late, _ref = m.params(n, dt)
    if np.any(late):
        raise bad_value(
            QuantizationError,
            f"population {name!r}: reset_timing",
            getattr(m, "reset_timing", None),
            "Loihi resets in the spiking step; must be 'immediate'",
        )
    delta_syn = not (np.any(a_vi != 0) or np.any(b_ii != 0) or np.any(b_ix != 0))
    current_syn = np.allclose(a_vi, a_vx, rtol=1e-12, atol=0.0) and np.allclose(b_ii, b_ix, rtol=1e-12, atol=0.0) and np.all(a_vi != 0)
    if not (delta_syn or current_syn):
        raise QuantizationError(
            f"population {name!r}: the input must enter the current before the voltage is updated (exact integration) or jump the voltage "
            "(delta synapses), as on Loihi; integration='euler' with current synapses (the voltage sees the current one step late) cannot be quantized"
        )
    a = _uniform(name, "the voltage decay (tau_mem_ms)", a_vv)
    if not 0.0 < a <= 1.0:
        raise bad_value(
            QuantizationError, f"population {name!r}: voltage decay factor", a, "must be in (0, 1] (dt_ms/tau_mem_ms too large for a decay)"
        )
    vth_dist = v_th - v_reset
    if np.any(vth_dist <= 0):
        raise bad_value(
            QuantizationError,
            f"population {name!r}: v_th - v_reset",
            float(vth_dist.min()),
            "must be > 0 (Loihi spikes when v > vth >= 0 after resetting to 0)",
        )
    drive_r = drive - (1.0 - a) * v_reset
    state0 = p.state0()
    v0 = state0["v"] - v_reset
    i0 = state0["i"]
    current = not delta_syn
    if current:
        b = _uniform(name, "the current decay (tau_syn_ms)", b_ii)
        if not 0.0 < b < 1.0:
            raise bad_value(QuantizationError, f"population {name!r}: current decay factor", b, "must be in (0, 1)")
        gain = a_vi
        u0_f = gain * i0 / b
        du = int(min(max(4095 - round(4096 * b), DU_RANGE[0]), DU_RANGE[1]))
        decay_u_err = abs((4095 - du) / 4096 - b) / b
    else:
        b = 0.0
        gain = a_vx
        u0_f = np.zeros(n)
        du, decay_u_err = 4095, 0.0
    dv = int(min(max(4096 - round(4096 * a), DV_RANGE[0]), DV_RANGE[1]))
    decay_v_err = abs((4096 - dv) / 4096 - a) / a

    # vth: as large as every register allows
    caps = {"headroom": math.floor(_P23 / (headroom * 64)), "17-bit vth": VTH_RANGE[1]}
    per = vth_dist / 64.0  # vth_int * 64 / vth_dist = scale  =>  value * scale = value * vth_int / per
    big_bias = np.max(np.abs(drive_r) / per)
    if big_bias > 0:
        caps["bias (13-bit mantissa << 7)"] = 4095 * 128 / big_bias
    big_v0 = np.max(np.abs(v0) / per)
    if big_v0 > 0:
        caps["initial v (24 bit)"] = _VMAX / big_v0
    big_u0 = np.max(np.abs(u0_f) / per)
    if big_u0 > 0:
        caps["initial current (24 bit)"] = _VMAX / big_u0
    k_in: dict[str, np.ndarray] = {}
    for pr in incoming:
        if pr.synapse is not None:
            raise bad_value(
                QuantizationError,
                f"projection {pr.name!r}: synapse",
                pr.synapse,
                "a projection into a float LIF population must have no synapse type to be quantized",
            )
        rows = np.repeat(np.arange(n), np.diff(pr.weights.indptr))
        # weight in fixed-point input units per unit of vth_int (a is shifted << 6 on the way into u)
        k = pr.weights.data * gain[rows] / (per[rows] * 64.0 * msg_scale[pr.pre])
        k_in[pr.name] = k
        if k.size and np.max(np.abs(k)) > 0:
            caps[f"weights of {pr.name!r} (8-bit mantissa << 7)"] = _MANTISSA_MAX / np.max(np.abs(k))
    limit_name = min(caps, key=caps.get)
    vth = int(math.floor(min(caps.values())))
    if vth < 1:
        raise QuantizationError(
            f"population {name!r}: no threshold fits Loihi's registers: the {limit_name} limit allows vth={caps[limit_name]:.3g} < 1 "
            "(a bias, initial value or weight is too large compared with v_th - v_reset)"
        )
    scale = vth / per
    # bias: mantissa and exponent per neuron
    bias_f = drive_r * scale
    exp = np.full(n, -1, dtype=np.int64)
    mant = np.zeros(n, dtype=np.int64)
    for e in range(BIAS_EXP_RANGE[0], BIAS_EXP_RANGE[1] + 1):
        mt = np.rint(bias_f / 2.0**e).astype(np.int64)
        take = (exp < 0) & (mt >= BIAS_MANT_RANGE[0]) & (mt <= BIAS_MANT_RANGE[1])
        exp[take] = e
        mant[take] = mt[take]
    if np.any(exp < 0):  # excluded by the bias cap on vth; kept as a guard
        raise QuantizationError(f"population {name!r}: a bias does not fit a 13-bit mantissa with exponent <= 7")
    bias_q = mant.astype(np.float64) * 2.0**exp
    big = np.max(np.abs(bias_f))
    bias_err = float(np.max(np.abs(bias_q - bias_f)) / big) if big > 0 else 0.0
    thr_err = float(np.max(np.abs(vth * 64.0 / scale - vth_dist) / vth_dist))

    syns = {}
    in_sum = np.zeros(n)
    for pr in incoming:
        syn, w, prq, wq = _quantize_projection(pr, k_in[pr.name] * vth)
        syns[pr.name] = (syn, w, prq)
        rows = np.repeat(np.arange(n), np.diff(pr.weights.indptr))
        np.add.at(in_sum, rows, np.abs(wq) * 64.0 * msg_max[pr.pre])
    decay_q = (4095 - du) / 4096
    u_bound = float(np.max(in_sum) / (1.0 - decay_q)) if n else 0.0
    u0 = np.rint(u0_f * scale).astype(np.int64)
    model = LoihiLIF(
        du=du,
        dv=dv,
        vth=vth,
        bias_mant=mant if np.any(mant != mant[0]) else int(mant[0]),
        bias_exp=exp if np.any(exp != exp[0]) else int(exp[0]),
    )
    init = {"u": u0, "v": np.rint(v0 * scale).astype(np.int64)}
    with np.errstate(divide="ignore", invalid="ignore"):
        i_per_u = np.where(gain > 0, b / (gain * scale), 0.0) if current else np.zeros(n)
    rep = PopulationQuantization(
        name,
        "lif",
        du=du,
        dv=dv,
        vth=vth,
        scale=scale,
        v_offset=np.asarray(v_reset, dtype=np.float64),
        i_per_u=i_per_u,
        decay_u_rel_error=float(decay_u_err),
        decay_v_rel_error=float(decay_v_err),
        threshold_rel_error=thr_err,
        bias_max_rel_error=bias_err,
        u_bound=u_bound,
        input_unit=64.0 / (gain * scale),
    )
    return model, init, rep, syns


# ---------------------------------------------------------------------------------------------
# a simulate callable that runs in fixed point
_QUANTIZE_OPTS = ("headroom", "message_bits", "input_max", "value_max", "value_bits", "weight_bits", "message_exp")


class FixedPointSimulator:
    """A callable with :func:`snn.simulate`'s signature that runs a network in Loihi fixed point.

    Made by :func:`fixed_point_simulator`.  Each call quantizes the network
    (:func:`quantize`; networks already in Loihi form run unchanged), runs it on
    ``engine`` (``"reference"``, ``"event"``, ``"torch"``, or ``"lava"`` for
    Lava itself through :func:`hardware.lava_backend.run`) and returns a
    :class:`snn.RunResult` in the float network's terms:

    * spikes and op counts are those of the fixed-point run (same populations
      and projection names);
    * recorded ``v`` of a quantized LIF is ``v_int / scale + v_reset`` and ``i``
      is ``u_int * i_per_u`` (see :class:`PopulationQuantization`);
      ``refractory`` is all zeros (Loihi has no refractory period);
    * a quantized sigma-delta population's ``sigma``, ``ref`` (recorded and
      final) and graded outputs are divided by its value scale;
    * ``inputs`` of :class:`snn.ExternalInput` populations are multiplied by
      their ``input_scales`` factor and rounded to integers before the run (their
      ``input_max`` defaults to the largest ``|value|`` passed), and recorded
      ``outputs`` of graded sources are divided by it again;
    * ``RunResult.state`` is a :class:`snn.SimState` of the *float* network
      (:func:`to_float_state`); passed back as ``state=`` it continues the run:
      exactly from the integer state it was made from (kept by the simulator)
      when the quantization is unchanged, else converted back
      (:func:`to_fixed_state`, exact except for the in-flight sums of a
      16-bit split projection).  A :class:`snn.Boltzmann` population's
      temperature register is recomputed from ``state.t``.

    The last quantization report is kept in :attr:`report`.
    """

    def __init__(
        self,
        *,
        calibrate: bool = True,
        calibration_margin: float = 2.0,
        session: bool = False,
        session_steps: int = 10_000,
        **quantize_opts: Any,
    ) -> None:
        unknown = set(quantize_opts) - set(_QUANTIZE_OPTS)
        if unknown:
            raise bad_value(
                QuantizationError,
                "fixed_point_simulator options",
                sorted(unknown),
                f"allowed: calibrate, calibration_margin, {list(_QUANTIZE_OPTS)}",
            )
        if not isinstance(calibrate, bool):
            raise SNNTypeError(f"calibrate={calibrate!r}: must be a bool")
        if (
            isinstance(calibration_margin, bool)
            or not isinstance(calibration_margin, numbers.Real)
            or not 1.0 <= calibration_margin < 2.0**20
        ):
            raise bad_value(QuantizationError, "calibration_margin", calibration_margin, "must be a number >= 1")
        self.calibrate = calibrate
        self.calibration_margin = float(calibration_margin)
        if not isinstance(session, bool):
            raise SNNTypeError(f"session={session!r}: must be a bool")
        self.session = session
        self.session_steps = _int_scalar("session_steps", session_steps, 1, 10**9)
        self._session: Any = None
        self.quantize_opts = dict(quantize_opts)
        self.report: QuantizationReport | None = None
        #: float steps of the one calibration run of a stage (at least the first call's n_steps)
        self.calibration_steps = 256
        #: how many stages (quantized networks with their scales) are kept for continuation
        self.max_stages = 8
        #: how many times this simulator quantized a network (a stage quantizes once)
        self.n_quantizations = 0
        self._stages: dict[int, _Stage] = {}
        self._next_stage = 0

    def __repr__(self) -> str:
        return f"fixed_point_simulator({', '.join(f'{k}={v!r}' for k, v in self.quantize_opts.items())})"

    def __call__(
        self,
        network: snn.Network,
        n_steps: int,
        *,
        engine: str = "reference",
        seed: Any = _SEED_DEFAULT,
        record: Any = ("spikes",),
        inputs: Mapping[str, Any] | None = None,
        progress: bool = False,
        state: snn.SimState | None = None,
        **options: Any,
    ) -> snn.RunResult:
        """Run ``network`` in fixed point for ``n_steps`` (see the class notes).

        A run without ``state``, or from a float state of ``network``, starts a
        new *stage*: the network is calibrated (once) and quantized, and the
        float state converted (:func:`to_fixed_state`; a state at rest at step 0
        is the quantized network's own initial state).  A run from the ``state``
        of a run of this simulator (a :class:`FixedPointState`) continues that
        stage exactly, in integers: the quantized network is reused
        (re-quantized with the stage's scales when only parameters changed) and
        the integer state is carried on, never converted to float and back.
        """
        from snn.engines.plan import parse_record

        if not isinstance(network, snn.Network):
            raise SNNTypeError(f"network={network!r}: must be a snn.Network")
        structure = snn.state.structure_of(network)
        inputs = dict(inputs or {})
        if state is not None and not isinstance(state, snn.SimState):
            raise SNNTypeError(
                f"state={type(state).__name__}: must be the state of a run of this simulator, or a snn.SimState of the network"
            )
        if isinstance(state, FixedPointState):
            stage = self._stages.get(state.stage)
            if stage is None or state.fixed is None or stage.owner is not self:
                raise bad_value(
                    QuantizationError,
                    "state",
                    state,
                    "comes from another fixed_point_simulator (or an expired stage of this one); continue it with the simulator that made it",
                )
            if stage.float_structure != structure:
                diff = snn.state.structure_difference(stage.float_structure, network)
                raise bad_value(QuantizationError, "network", network, f"does not fit the state's network: {diff}")
            if seed is not _SEED_DEFAULT and seed != state.seed:
                raise bad_value(
                    QuantizationError, "seed", seed, f"the run continues state (seed {state.seed}); leave seed out or pass the same one"
                )
            seed = state.seed
            qnet, report = self._stage_network(stage, network)
            qstate = state.fixed
        else:
            if state is not None:
                state = check_float_state(state, network)
                if seed is not _SEED_DEFAULT and seed != state.seed:
                    raise bad_value(
                        QuantizationError,
                        "seed",
                        seed,
                        f"the run starts from state (seed {state.seed}); leave seed out or pass the same one",
                    )
                seed = state.seed
            seed = 0 if seed is _SEED_DEFAULT else seed
            if seed is None:
                seed = int(np.random.SeedSequence().generate_state(1, dtype=np.uint32)[0])
            stage = self._new_stage(network, structure, n_steps, engine=engine, seed=seed, inputs=inputs, state=state)
            qnet, report = stage.qnet, stage.report
            if state is None or (state.t == 0 and state.equals(snn.init_state(network, seed=seed))):
                qstate = snn.init_state(qnet, seed=seed)
            else:
                qstate = to_fixed_state(state, network, qnet, report)
        self.report = report
        scaled = {name: np.rint(np.asarray(v, dtype=np.float64) * report.input_scales.get(name, 1.0)) for name, v in inputs.items()}
        spikes, traces, outputs = parse_record(network, record)
        qrecord: dict[str, tuple[str, ...]] = {}
        for p in network.populations:
            rep = report.populations.get(p.name)
            names: list[str] = []
            if p.name in spikes:
                names.append("spikes")
            if p.name in outputs:
                names.append("outputs")
            for var in traces.get(p.name, ()):
                if rep is not None and rep.kind in _FLOAT_STATE:
                    names.extend(_FLOAT_STATE[rep.kind].get(var, ()))
                else:
                    names.append(var)
            qrecord[p.name] = tuple(dict.fromkeys(names))
        if engine == "lava":
            from hardware import lava_backend

            # a one-shot export cannot start Lava's SigmaDelta from an initial state (e.g. heat's u0):
            # such a network goes through the session, which writes it as Var values before the first step
            if (
                not lava_backend._zero_start_refused(qnet)
                and qstate.t == 0
                and qstate.equals(snn.init_state(qnet, seed=qstate.seed))
                and not self.session
            ):
                res = lava_backend.run(qnet, n_steps, record=qrecord, seed=seed, inputs=scaled, **options)
            else:
                res = self._run_session(qnet, n_steps, qstate, qrecord, seed, scaled, options)
        else:
            res = snn.simulate(qnet, n_steps, engine=engine, record=qrecord, inputs=scaled, progress=progress, state=qstate, **options)
        return _to_float_result(res, network, qnet, report, traces, stage)

    def _new_stage(
        self, network: snn.Network, structure: str, n_steps: int, *, engine: str, seed: int, inputs: Mapping[str, Any], state: Any
    ) -> _Stage:
        """Calibrate and quantize ``network``: a new stage, kept for the runs that continue it."""
        opts = dict(self.quantize_opts)
        input_max = dict(opts.pop("input_max", None) or {})
        for name, values in inputs.items():
            if name not in input_max:
                arr = np.asarray(values, dtype=np.float64)
                big = float(np.max(np.abs(arr))) if arr.size else 0.0
                input_max[name] = big if big > 0 and math.isfinite(big) else 1.0
        value_max = dict(opts.pop("value_max", None) or {})
        sd = [
            p.name
            for p in network.populations
            if (isinstance(p.model, snn.SigmaDelta) or loihi_qp.is_float_box_sigma_delta(p.model)) and p.name not in value_max
        ]
        if sd and self.calibrate:
            steps = max(int(n_steps), self.calibration_steps)
            value_max.update(self._calibrate(network, steps, sd, engine=engine, seed=seed, inputs=_padded(inputs, steps), state=state))
        qnet, report = quantize(network, input_max=input_max, value_max=value_max, **opts)
        self.n_quantizations += 1
        self._next_stage += 1
        stage = _Stage(self._next_stage, structure, dict(opts, input_max=input_max, value_max=value_max), network, qnet, report, self)
        self._stages[stage.index] = stage
        while len(self._stages) > self.max_stages:
            del self._stages[next(iter(self._stages))]
        return stage

    def _stage_network(self, stage: _Stage, network: snn.Network) -> tuple[snn.Network, QuantizationReport]:
        """The quantized network of ``stage`` for ``network`` (the same one, or one whose parameters changed)."""
        if network is stage.network:
            return stage.qnet, stage.report
        qnet, report = quantize(network, **stage.options)
        self.n_quantizations += 1
        if _quantization_signature(qnet, report) != stage.signature:
            raise bad_value(
                QuantizationError,
                "network",
                network,
                "its new parameters change the fixed-point scales or the structure of the quantized network, so the integer state "
                "cannot be carried on; start a new stage (pass state.populations as a float state, or state=None)",
            )
        stage.network, stage.qnet, stage.report = network, qnet, report
        return qnet, report

    def _run_session(self, qnet, n_steps, qstate, qrecord, seed, scaled, options) -> snn.RunResult:
        """Run on the simulator's persistent Lava session (started, or restarted at ``qstate.t``, when needed)."""
        from hardware.lava_session import LavaSession
        from snn.state import structure_of

        unknown = set(options) - {"python", "timeout_s"}
        if unknown:
            raise bad_value(QuantizationError, "options", sorted(unknown), "engine='lava' with a session takes python= and timeout_s=")
        if scaled:
            raise bad_value(
                QuantizationError,
                "inputs",
                sorted(scaled),
                "a Lava session replays the inputs it was started with; it cannot take new ones per call",
            )
        bad = {p: [v for v in names if v not in ("spikes", "outputs")] for p, names in qrecord.items()}
        bad = {p: v for p, v in bad.items() if v}
        if bad:
            raise bad_value(
                QuantizationError, "record", bad, "a Lava session records spikes and outputs (the end state is in RunResult.state)"
            )
        if qstate is None:
            qstate = snn.init_state(qnet, seed=0 if seed is None else seed)
        sess = self._session
        usable = (
            sess is not None
            and sess.alive
            and sess.structure == structure_of(qnet)
            and sess.seed == qstate.seed
            and sess.t0 + sess.t == qstate.t
            and sess.t + n_steps <= sess.max_steps
        )
        if not usable:
            if sess is not None:
                sess.close()
            sess = LavaSession(
                qnet,
                max_steps=max(int(n_steps), self.session_steps),
                seed=qstate.seed,
                t0=qstate.t,
                python=options.get("python"),
                timeout_s=options.get("timeout_s", 120.0),
                initial=LavaSession.state_values(qnet, qstate),
            )
            self._session = sess
        else:
            try:
                sess.load(qnet, qstate)
            except LavaError:
                if not sess.alive:
                    raise
                # a change Lava cannot take in a running network (weights, LIF decays): start again from this state
                self._session = None
                sess.close()
                return self._run_session(qnet, n_steps, qstate, qrecord, seed, scaled, options)
        return sess.simulate(int(n_steps), record=qrecord)

    def close(self) -> None:
        """Stop the Lava session, if one runs (it also stops when the simulator is collected or at exit)."""
        if self._session is not None:
            self._session.close()
            self._session = None

    def _calibrate(self, network, n_steps, names, *, engine, seed, inputs, state=None) -> dict[str, float]:
        """``max |value|`` of the sigma-delta populations ``names`` in a float run, times the margin."""
        eng = engine if engine in snn.engine_names() else "reference"
        kwargs = {"state": state} if state is not None else {"seed": seed}
        run = snn.simulate(network, n_steps, engine=eng, record={n: ("sigma", "ref") for n in names}, inputs=inputs, **kwargs)
        out = {}
        for name in names:
            p = network.population(name)
            m = p.model
            s0 = p.state0() if state is None else state.populations[name]
            sig = np.asarray(run.traces[name]["sigma"], dtype=np.float64)
            parts = [
                np.abs(sig),
                np.abs(np.asarray(run.traces[name]["ref"], dtype=np.float64)),
                np.abs(sig + np.asarray(m.bias, dtype=np.float64)),
                np.abs(np.asarray(s0["sigma"], dtype=np.float64)),
                np.abs(np.asarray(s0["ref"], dtype=np.float64)),
                np.abs(np.asarray(m.vth, dtype=np.float64)),
            ]
            if loihi_qp.is_float_box_sigma_delta(m):
                for bound in (m.lo, m.hi):
                    arr = np.asarray(bound, dtype=np.float64).ravel()
                    parts.append(np.abs(arr[np.isfinite(arr)]))
            big = max((float(np.max(a)) for a in parts if np.size(a)), default=0.0)
            out[name] = self.calibration_margin * big
        return out


#: the state variables of the float models in terms of the quantized ones
_FLOAT_STATE = {
    "lif": {"v": ("v",), "i": ("u",)},
    "sigma_delta": {"sigma": ("sigma",), "ref": ("act", "residue")},
    "box_sigma_delta": {"sigma": ("sigma",), "ref": ("act", "residue")},
    "boltzmann": {"s": ("s",)},
}


def _lif_to_float(rep: PopulationQuantization, values: Mapping[str, np.ndarray], wanted: tuple[str, ...]) -> dict[str, np.ndarray]:
    out = {}
    if rep.kind in ("sigma_delta", "box_sigma_delta"):
        for var in wanted:
            if var == "sigma":
                out["sigma"] = np.asarray(values["sigma"], dtype=np.float64) / rep.scale
            elif var == "ref":
                out["ref"] = (np.asarray(values["act"], dtype=np.float64) - np.asarray(values["residue"], dtype=np.float64)) / rep.scale
        return out
    if rep.kind == "boltzmann":
        return {var: np.asarray(values["s"], dtype=np.float64) for var in wanted if var == "s"}
    for var in wanted:
        if var == "v":
            out["v"] = values["v"] / rep.scale + rep.v_offset
        elif var == "i":
            out["i"] = values["u"] * rep.i_per_u
        elif var == "refractory":
            shape = next(iter(values.values())).shape if values else (0,)
            out["refractory"] = np.zeros(shape)
    return out


def _in_flight_unit(pr: snn.Projection, qpr: snn.Projection, rep: PopulationQuantization | None) -> np.ndarray | None:
    """Float value of one integer unit of ``qpr``'s in-flight sums (before its weight exponent), ``(n_post,)``; None: unchanged."""
    if rep is None or rep.input_unit is None:
        return None
    return np.asarray(rep.input_unit, dtype=np.float64) * 2.0**qpr.synapse.weight_exp


def _float_populations(qvalues: Mapping[str, Mapping[str, np.ndarray]], network: snn.Network, report: QuantizationReport) -> dict:
    pops = {}
    for p in network.populations:
        rep = report.populations.get(p.name)
        vals = qvalues[p.name]
        if rep is not None and rep.kind in _FLOAT_STATE:
            conv = _lif_to_float(rep, vals, tuple(p.model.state_vars))
            dtypes = snn.state.state_dtypes(p)
            pops[p.name] = {v: np.asarray(conv[v], dtype=dtypes[v]) for v in p.model.state_vars}
        else:
            pops[p.name] = {v: np.asarray(vals[v]) for v in p.model.state_vars}
    return pops


def _quantization_signature(qnet: snn.Network, report: QuantizationReport) -> str:
    """A digest of everything that fixes how integer states map to float ones (structure, scales, exponents)."""
    import hashlib

    from snn.state import structure_of

    h = hashlib.blake2b(structure_of(qnet).encode(), digest_size=16)
    for name, rep in sorted(report.populations.items()):
        h.update(name.encode())
        for a in (rep.scale, rep.v_offset, rep.i_per_u, rep.input_unit):
            if a is not None:
                h.update(np.ascontiguousarray(np.asarray(a, dtype=np.float64)).tobytes())
    for pr in qnet.projections:
        h.update(f"{pr.name}:{getattr(pr.synapse, 'weight_exp', None)}".encode())
    return h.hexdigest()


def to_float_state(qstate: snn.SimState, network: snn.Network, qnet: snn.Network, report: QuantizationReport) -> snn.SimState:
    """The state of the float ``network`` that a fixed-point state of its quantization ``qnet`` stands for.

    Populations: as the recorded values (``v = v_int / scale + v_reset``, ...).
    In-flight sums: the integer sums times the float input per integer unit
    (:attr:`PopulationQuantization.input_unit` times ``2**weight_exp``).  The
    round trip :func:`to_fixed_state` gives the integers back exactly.
    """
    from snn.state import ring_dtype, structure_of

    pops = _float_populations(qstate.populations, network, report)
    flight = {}
    for pr in network.projections:
        qpr = qnet.projection(pr.name)
        ring = np.asarray(qstate.in_flight[pr.name])
        rep = report.populations.get(pr.post)
        unit = _in_flight_unit(pr, qpr, rep)
        if unit is None:
            flight[pr.name] = ring.astype(ring_dtype(pr))
            continue
        value = ring.astype(np.float64) * unit[None, :]
        low = report.projections[pr.name].low_projection if pr.name in report.projections else None
        if low is not None:
            value = value + np.asarray(qstate.in_flight[low], dtype=np.float64) * _in_flight_unit(pr, qnet.projection(low), rep)[None, :]
        flight[pr.name] = value.astype(ring_dtype(pr))
    return snn.SimState(
        t=qstate.t, seed=qstate.seed, dt_ms=qstate.dt_ms, populations=pops, in_flight=flight, structure=structure_of(network)
    )


def to_fixed_state(state: snn.SimState, network: snn.Network, qnet: snn.Network, report: QuantizationReport) -> snn.SimState:
    """The fixed-point state of ``qnet`` (the quantization of ``network``) for a float state ``state`` of ``network``.

    The inverse of :func:`to_float_state` (values rounded to the nearest
    integer): ``v_int = round((v - v_reset) * scale)``, ``u = round(i / i_per_u)``;
    sigma-delta ``sigma = round(sigma * m)``, ``act = 0``, ``residue = -round(ref * m)``
    (only ``residue - act`` enters the dynamics); Boltzmann ``s`` as is and
    ``temp`` the schedule's register after ``state.t`` steps; in-flight sums
    divided by their unit.
    """
    from snn.state import structure_of

    pops = {}
    for p in qnet.populations:
        rep = report.populations.get(p.name)
        f = state.populations[p.name]
        n = p.n
        if rep is None or rep.kind not in _FLOAT_STATE:
            pops[p.name] = {v: np.asarray(f[v]) for v in p.model.state_vars}
            continue
        zeros = np.zeros(n, dtype=np.int64)
        if rep.kind == "lif":
            with np.errstate(divide="ignore", invalid="ignore"):
                u = np.where(rep.i_per_u != 0, np.asarray(f["i"]) / np.where(rep.i_per_u != 0, rep.i_per_u, 1.0), 0.0)
            pops[p.name] = {
                "u": np.rint(u).astype(np.int64),
                "v": np.rint((np.asarray(f["v"]) - rep.v_offset) * rep.scale).astype(np.int64),
            }
        elif rep.kind in ("sigma_delta", "box_sigma_delta"):
            d = {
                "sigma": np.rint(np.asarray(f["sigma"]) * rep.scale).astype(np.int64),
                "act": zeros,
                "residue": -np.rint(np.asarray(f["ref"]) * rep.scale).astype(np.int64),
            }
            if rep.kind == "sigma_delta":
                d["error"] = zeros.copy()
            pops[p.name] = d
        else:  # boltzmann
            m = p.model
            temp0 = p.state0()["temp"]
            pops[p.name] = {"s": (np.asarray(f["s"]) > 0.5).astype(np.int64), "temp": m.temperature_at(temp0, state.t)}
    flight = {}
    for pr in network.projections:
        qpr = qnet.projection(pr.name)
        ring = np.asarray(state.in_flight[pr.name])
        unit = _in_flight_unit(pr, qpr, report.populations.get(pr.post))
        if unit is None:
            flight[pr.name] = ring.copy()
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                q = np.where(unit[None, :] != 0, ring / np.where(unit[None, :] != 0, unit[None, :], 1.0), 0.0)
            flight[pr.name] = np.rint(q).astype(np.int64)
        low = report.projections[pr.name].low_projection if pr.name in report.projections else None
        if low is not None:  # the whole value goes into the high-byte connection
            flight[low] = np.zeros_like(flight[pr.name])
    return snn.SimState(t=state.t, seed=state.seed, dt_ms=state.dt_ms, populations=pops, in_flight=flight, structure=structure_of(qnet))


def check_float_state(state: Any, network: snn.Network) -> snn.SimState:
    """``state`` if it is a state of the float ``network`` (as :func:`snn.simulate` checks it)."""
    from snn.state import check_state

    return check_state(state, network)


def _to_float_result(
    res: snn.RunResult,
    network: snn.Network,
    qnet: snn.Network,
    report: QuantizationReport,
    traces: Mapping[str, tuple[str, ...]],
    stage: _Stage,
) -> snn.RunResult:
    new_traces = {}
    for name, vars_ in res.traces.items():
        rep = report.populations.get(name)
        new_traces[name] = _lif_to_float(rep, vars_, traces.get(name, ())) if rep is not None and rep.kind in _FLOAT_STATE else dict(vars_)
    for name, wanted in traces.items():  # a quantized LIF whose only recorded variable was 'refractory'
        if name not in new_traces:
            new_traces[name] = {var: np.zeros((res.n_steps, network.population(name).n)) for var in wanted}
    outputs = {}
    for name, arr in res.outputs.items():
        rep = report.populations.get(name)
        if name in report.input_scales:
            arr = np.asarray(arr, dtype=np.float64) / report.input_scales[name]
        elif rep is not None and rep.kind in ("sigma_delta", "box_sigma_delta"):
            arr = np.asarray(arr, dtype=np.float64) / (rep.output_scale if rep.output_scale is not None else rep.scale)
        outputs[name] = arr
    state = None
    if isinstance(res.state, snn.SimState):
        view = to_float_state(res.state, network, qnet, report)
        state = FixedPointState(
            t=view.t,
            seed=view.seed,
            dt_ms=view.dt_ms,
            populations=view.populations,
            in_flight=view.in_flight,
            structure=view.structure,
            owner="hardware.loihi.fixed_point_simulator",
            fixed=res.state,
            stage=stage.index,
        )
    return snn.RunResult(
        spikes=res.spikes,
        traces=new_traces,
        counts=res.counts,
        state=state,
        outputs=outputs,
        engine=f"{res.engine}+loihi",
        seed=res.seed,
        wall_time_s=res.wall_time_s,
        t_start=res.t_start,
    )


@dataclass(frozen=True, eq=False, repr=False)
class FixedPointState(snn.SimState):
    """The state a :class:`FixedPointSimulator` run ends in.

    ``populations`` and ``in_flight`` show it in the float network's terms
    (:func:`to_float_state`, for reading, e.g. decoding a solution); ``fixed``
    is the integer state of the quantized network that the simulator continues
    from exactly (``snn.save_state(state.fixed, path)`` checkpoints it).  Only
    the simulator that made it continues it; to start another stage from it,
    pass ``state.as_float()`` (converted with :func:`to_fixed_state`).
    """

    fixed: snn.SimState | None = None
    stage: int = 0

    def as_float(self) -> snn.SimState:
        """This state as a plain float :class:`snn.SimState` of the network (any simulator may start from it)."""
        return snn.SimState(
            t=self.t, seed=self.seed, dt_ms=self.dt_ms, populations=self.populations, in_flight=self.in_flight, structure=self.structure
        )


@dataclass(eq=False)
class _Stage:
    """A calibrated, quantized network and the options that reproduce its scales."""

    index: int
    float_structure: str
    options: dict
    network: snn.Network
    qnet: snn.Network
    report: QuantizationReport
    owner: Any = None
    signature: str = ""

    def __post_init__(self) -> None:
        self.signature = _quantization_signature(self.qnet, self.report)


def _padded(inputs: Mapping[str, Any], n_steps: int) -> dict[str, np.ndarray]:
    """The calibration run's inputs: the given rows, then zeros up to ``n_steps`` (or cut to it)."""
    out = {}
    for name, v in inputs.items():
        a = np.asarray(v, dtype=np.float64)
        if a.ndim == 2 and a.shape[0] != n_steps:
            a = np.concatenate([a, np.zeros((max(0, n_steps - a.shape[0]), a.shape[1]))])[:n_steps]
        out[name] = a
    return out


def fixed_point_simulator(
    *, calibrate: bool = True, calibration_margin: float = 2.0, session: bool = False, session_steps: int = 10_000, **quantize_opts: Any
) -> FixedPointSimulator:
    """A ``simulate`` callable that quantizes a network to Loihi fixed point and runs it bit-exactly.

    ``quantize_opts`` are passed to :func:`quantize` (``headroom``,
    ``message_bits``, ``input_max``, ``value_max``, ``value_bits``).  With
    ``calibrate=True`` the value range of each float sigma-delta population
    (not given in ``value_max``) is measured by a float run of the same network
    first (one extra run), times ``calibration_margin``.  Use it wherever a ``simulate=`` callable
    is taken, e.g. ``tasks.<task>.solve(problem, simulate=loihi.fixed_point_simulator())``.
    See :class:`FixedPointSimulator` for how inputs and recorded values are scaled.

    ``engine="lava"``: a call without ``state`` runs Lava once (a fresh Lava
    process; ``session=True`` uses the session instead); a call with
    ``state=`` (e.g. ``state=previous_run.state``) runs on a persistent
    :class:`hardware.lava_session.LavaSession` kept by the simulator: started
    once (for ``session_steps`` steps), loaded with the state (neuron Vars and
    ``a_buff``) and the network's parameters, and continued; it is restarted
    when the network's structure changes or the state is not at the session's
    step.  :meth:`FixedPointSimulator.close` stops it.
    """
    return FixedPointSimulator(
        calibrate=calibrate, calibration_margin=calibration_margin, session=session, session_steps=session_steps, **quantize_opts
    )
