"""Counter-based random numbers shared by every engine.

Stochastic neurons and Poisson sources need random draws that are identical in
the numpy reference engine, the compiled event engine and the torch engine.  A
stateful generator cannot give that, so draws are a pure function of
``(key, step, neuron index)``: a 32-bit murmur3-style finaliser applied to the
counter.  Only integer ``+ * ^ & >>`` on int64 arrays are used (products wrap
modulo 2**64 in numpy, numba and torch alike, and only their low 32 bits are
kept), so the same bits come out of every backend.

The functions use the module-level name ``xp`` as their array namespace; the
engines rebind it (see :func:`snn.kernels.specialize`).
"""

from __future__ import annotations

import numpy as np

from snn.errors import check_seed

xp = np

_M32 = 0xFFFFFFFF
_INV_2_32 = 1.0 / 4294967296.0


def fmix32(h):
    """Murmur3's 32-bit finaliser on int64 arrays holding values in [0, 2**32)."""
    h = h ^ (h >> 16)
    h = (h * 0x85EBCA6B) & _M32
    h = h ^ (h >> 13)
    h = (h * 0xC2B2AE35) & _M32
    h = h ^ (h >> 16)
    return h


def hash32(key, step, idx):
    """The integer draw in [0, 2**32) (int64) for neuron indices ``idx`` at counter ``step``.

    ``key`` is an int in [0, 2**32) identifying the population and stream.
    Integer models (e.g. ``hardware.loihi_qubo``) use these bits directly;
    :func:`uniform` scales them to [0, 1).
    """
    k = (key ^ ((step * 0x9E3779B1) & _M32)) & _M32
    k = ((k ^ (k >> 16)) * 0x7FEB352D) & _M32
    h = fmix32((idx * 0x27D4EB2F + k) & _M32)
    return fmix32(h ^ k)


def uniform(key, step, idx):
    """Uniform floats in [0, 1) for neuron indices ``idx`` (int64 array) at ``step``: ``hash32 / 2**32``.

    ``key`` is an int in [0, 2**32) identifying the population and stream.
    """
    return hash32(key, step, idx) * _INV_2_32


def stream_key(seed: int, population_index: int, stream: int = 0) -> int:
    """A 32-bit key for one population's random stream, derived from the run seed."""
    # a seed outside [0, 2**64) is refused, never reduced: two different seeds must not give one stream
    ss = np.random.SeedSequence([check_seed(seed), int(population_index), int(stream)])
    return int(ss.generate_state(1, dtype=np.uint32)[0])
