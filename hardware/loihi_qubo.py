"""Fixed-point QUBO neuron: an integer stochastic annealing (Boltzmann-style) neuron.

:class:`LoihiBoltzmann` is the integer form of :class:`snn.Boltzmann` (the
annealer of :mod:`tasks.qubo`).  Every operation is an integer one, so our
engines and the Lava model (``hardware/_lava_procs.py``, shipped in every
export as ``lava_procs.py``) draw the same numbers and make the same decisions.

The random numbers: the counter-based hash of :mod:`snn._rng` (murmur3's
32-bit finaliser on ``(key, counter, neuron index)``), taken as the integer
``h`` in ``[0, 2**32)`` *before* :func:`snn._rng.uniform` turns it into a
float.  A neuron uses counter ``2 t`` for its update draw and ``2 t + 1`` for
its firing draw in step ``t`` (the absolute step), as :class:`snn.Boltzmann`;
``key`` is the run's stream key of the population (:func:`snn._rng.stream_key`).

One step (``a``: the summed input, int32; ``temp``: the state's temperature)::

    u      = wrap32(a) + bias                         # the local field, integer
    update = (h(2t) >> 20) < p_update                 # 12-bit probability: p_update / 4096
    h      = h(2t + 1);  eta = (h & 0xFFFF) + (h >> 16) - 65535      # triangular on [-65535, 65535]
    on     = u * 65536 + temp * eta > 0               # 64-bit compare
    s      = on if update else s;  spike = s
    temp   = max(temp_min, ((temp * cool) >> 16) - dec)              # geometric (cool/65536) and/or linear (dec) cooling

So a redrawn neuron turns on with probability ``F(u / temp)``, ``F`` the CDF of
the triangular noise ``eta / 65536`` on ``(-1, 1)``: a sigmoid with compact
support (Loihi 2's stochastic neurons likewise add integer noise to the state).
:func:`quantize_boltzmann` matches its variance to the logistic's:
``temp = round(pi * sqrt(2) * T * field_scale)`` (``pi/sqrt(3)`` standard
deviation of the logistic, ``1/sqrt(6)`` of the triangle).  The temperature is
a state variable, so a continued run continues the schedule.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

import snn
from hardware.errors import QuantizationError
from snn import _rng
from snn.errors import bad_value

xp = np

__all__ = ["LoihiBoltzmann", "boltzmann_kernel", "quantize_boltzmann", "hash32", "temperature_schedule", "TEMP_MAX", "FIELD_MAX"]

_P31 = 2147483648
_M32 = 4294967295
#: largest temperature register value (the compare ``u * 65536 + temp * eta`` stays below 2**62)
TEMP_MAX = 2**30
#: the quantizer keeps every local field within 16 bits
FIELD_MAX = 2**16 - 1
_TEMP_FACTOR = math.pi * math.sqrt(2.0)


def hash32(key: int, counter: Any, idx: Any) -> np.ndarray:
    """The integer draw ``h`` in ``[0, 2**32)`` of :func:`snn._rng.uniform` (``uniform = h / 2**32``), int64."""
    return _rng.hash32(int(key), np.asarray(counter, dtype=np.int64), np.asarray(idx, dtype=np.int64))


def boltzmann_kernel(params, state, x, step, key):
    """One step of :class:`LoihiBoltzmann` (see the module notes) on int64 arrays.

    ``params = (idx, bias, temp_min, cool, dec, p_update)``; ``state = (s, temp)``.
    The draws are :func:`snn._rng.hash32` (integer bits; the engines pass their
    compiled ``hash32`` in place of this module's global).
    """
    idx, bias, temp_min, cool, dec, p_update = params
    s, temp = state
    u = ((x + _P31) & _M32) - _P31 + bias
    h_update = hash32(key, 2 * step, idx)  # update draw, counter 2 * step
    h_fire = hash32(key, 2 * step + 1, idx)  # firing draw, counter 2 * step + 1
    eta = (h_fire & 65535) + (h_fire >> 16) - 65535
    on = u * 65536 + temp * eta > 0
    update = (h_update >> 20) < p_update
    s_new = xp.where(update, xp.where(on, s * 0 + 1, s * 0), s)
    cooled = ((temp * cool) >> 16) - dec
    temp_new = xp.where(cooled < temp_min, temp_min, cooled)
    return s_new > 0, (s_new, temp_new)


@snn.register_model
@dataclass(frozen=True, eq=False)
class LoihiBoltzmann(snn.NeuronModel):
    """Integer stochastic annealing neuron (see the module notes for the exact step).

    Parameters
    ----------
    bias : int or int array (n,)
        int32 bias of the local field.
    temp0 : int or int array (n,)
        Initial temperature register (the default initial state of ``temp``), ``[0, 2**30]``.
    temp_min : int
        Floor of the schedule, ``[0, 2**30]``.
    cool : int
        Geometric cooling factor in units of ``1/65536``, ``[0, 65536]`` (65536: none).
    dec : int
        Linear cooling per step, ``[0, 2**30]``.
    p_update : int or int array (n,)
        Redraw probability in units of ``1/4096``, ``[0, 4096]``.

    State ``s`` (0/1) and ``temp`` (int64).  Spikes in every step it is on.
    """

    bias: Any = 0
    temp0: Any = 0
    temp_min: int = 0
    cool: int = 65536
    dec: int = 0
    p_update: Any = 4096

    state_vars: ClassVar[tuple[str, ...]] = ("s", "temp")
    dtype: ClassVar[str] = "int64"
    kernel: ClassVar[Callable] = staticmethod(boltzmann_kernel)

    def __post_init__(self) -> None:
        from hardware.loihi import _int_scalar, _int_scalar_or_array

        object.__setattr__(self, "bias", _int_scalar_or_array("bias", self.bias, -_P31, _P31 - 1, " (int32 bias)"))
        object.__setattr__(self, "temp0", _int_scalar_or_array("temp0", self.temp0, 0, TEMP_MAX, " (temperature register)"))
        object.__setattr__(self, "temp_min", _int_scalar("temp_min", self.temp_min, 0, TEMP_MAX, " (temperature floor)"))
        object.__setattr__(self, "cool", _int_scalar("cool", self.cool, 0, 65536, " (geometric cooling, units of 1/65536)"))
        object.__setattr__(self, "dec", _int_scalar("dec", self.dec, 0, TEMP_MAX, " (linear cooling per step)"))
        object.__setattr__(
            self, "p_update", _int_scalar_or_array("p_update", self.p_update, 0, 4096, " (redraw probability, units of 1/4096)")
        )

    def initial_state(self, n: int) -> dict[str, np.ndarray]:
        from hardware.loihi import _full

        return {"s": np.zeros(n, dtype=np.int64), "temp": _full(self.temp0, n)}

    def params(self, n: int, dt_ms: float) -> tuple[np.ndarray, ...]:
        from hardware.loihi import _full

        self.check_size(n)
        return (
            np.arange(n, dtype=np.int64),
            _full(self.bias, n),
            np.full(n, self.temp_min, dtype=np.int64),
            np.full(n, self.cool, dtype=np.int64),
            np.full(n, self.dec, dtype=np.int64),
            _full(self.p_update, n),
        )

    def temperature_at(self, temp0: Any, t: int) -> np.ndarray:
        """The ``temp`` register after ``t`` steps of the schedule from ``temp0`` (int64 ``(n,)``)."""
        return temperature_schedule(np.asarray(temp0, dtype=np.int64), self.temp_min, self.cool, self.dec, t)


def temperature_schedule(temp0: np.ndarray, temp_min: int, cool: int, dec: int, t: int) -> np.ndarray:
    """Iterate ``temp = max(temp_min, ((temp * cool) >> 16) - dec)`` ``t`` times (stops early at the fixed point)."""
    temp = np.array(temp0, dtype=np.int64, copy=True)
    for _ in range(int(t)):
        nxt = np.maximum(((temp * cool) >> 16) - dec, temp_min)
        if np.array_equal(nxt, temp):
            break
        temp = nxt
    return temp


def quantize_boltzmann(p: snn.Population, incoming: list, msg_scale: dict, graded: dict):
    """``(model, initial_state, PopulationQuantization, {projection: (synapse, weights, report)})`` for a float :class:`snn.Boltzmann`.

    The field scale ``c`` is the largest for which every local field
    (``sum |w| + |bias|``) fits :data:`FIELD_MAX` and every weight an 8-bit
    mantissa with ``weight_exp <= 7``; weights and bias are ``round(value * c)``
    (weights through :func:`hardware.loihi.quantize`'s projection rule), the
    temperatures ``round(pi sqrt(2) T c)``, ``cool = round(65536 cooling)``,
    ``p_update = round(4096 update_prob)``.
    """
    from hardware.loihi import _MANTISSA_MAX, PopulationQuantization, _quantize_projection

    m, n, name = p.model, p.n, p.name
    bias_f = np.broadcast_to(np.asarray(m.bias, dtype=np.float64), (n,))
    temp_f = np.broadcast_to(np.asarray(m.temperature, dtype=np.float64), (n,))
    prob_f = np.broadcast_to(np.asarray(m.update_prob, dtype=np.float64), (n,))
    in_abs = np.zeros(n)
    big_w = 0.0
    for pr in incoming:
        if pr.synapse is not None:
            raise bad_value(
                QuantizationError,
                f"projection {pr.name!r}: synapse",
                pr.synapse,
                "a projection into a float Boltzmann population must have no synapse type to be quantized",
            )
        if graded.get(pr.pre, False):
            raise bad_value(
                QuantizationError,
                f"projection {pr.name!r}: pre",
                pr.pre,
                "a Boltzmann population's inputs must be spiking (binary) populations",
            )
        rows = np.repeat(np.arange(n), np.diff(pr.weights.indptr))
        w = np.abs(pr.weights.data) / msg_scale[pr.pre]
        np.add.at(in_abs, rows, w)
        if w.size:
            big_w = max(big_w, float(w.max()))
    field = float(np.max(in_abs + np.abs(bias_f))) if n else 0.0
    caps = [FIELD_MAX / field if field > 0 else 2.0**16]
    if big_w > 0:
        caps.append(_MANTISSA_MAX / big_w)
    c = min(caps)
    t_big = float(np.max(temp_f)) * _TEMP_FACTOR * c
    if t_big > TEMP_MAX:
        c = TEMP_MAX / (float(np.max(temp_f)) * _TEMP_FACTOR)
    bias = np.rint(bias_f * c).astype(np.int64)
    temp0 = np.rint(temp_f * _TEMP_FACTOR * c).astype(np.int64)
    temp_min = int(round(float(m.min_temperature) * _TEMP_FACTOR * c))
    if temp_min > TEMP_MAX:
        raise QuantizationError(f"population {name!r}: min_temperature={m.min_temperature} is too large compared with the fields")
    cool = int(round(float(m.cooling) * 65536))
    p_update = np.rint(prob_f * 4096).astype(np.int64)

    def one(a: np.ndarray) -> Any:
        return a if np.any(a != a[0]) else int(a[0])

    model = LoihiBoltzmann(bias=one(bias), temp0=one(temp0), temp_min=min(temp_min, TEMP_MAX), cool=cool, dec=0, p_update=one(p_update))
    s0 = p.state0()
    init = {"s": (np.asarray(s0["s"]) > 0.5).astype(np.int64), "temp": temp0.copy()}
    syns = {}
    for pr in incoming:
        syn, w, prq, _wq = _quantize_projection(pr, pr.weights.data * c / msg_scale[pr.pre])
        syns[pr.name] = (syn, w, prq)
    big_b = float(np.max(np.abs(bias_f * c))) if n else 0.0
    rep = PopulationQuantization(
        name,
        "boltzmann",
        scale=np.full(n, c),
        v_offset=np.zeros(n),
        threshold_rel_error=abs(cool / 65536 - float(m.cooling)) / float(m.cooling),
        bias_max_rel_error=float(np.max(np.abs(bias - bias_f * c)) / big_b) if big_b > 0 else 0.0,
        u_bound=field * c,
    )
    return model, init, rep, syns
