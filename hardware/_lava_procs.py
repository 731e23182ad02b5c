"""snn-toolkit's own Lava processes: the fixed-point QP and QUBO neurons (lava-nc 0.10).

This file is copied unchanged into every export folder as ``lava_procs.py``,
next to ``run.py``; it imports only ``lava`` and ``numpy``.  Each process has
one bit-accurate CPU model (tag ``fixed_pt``), which computes in int64 numpy
and stores int32 (``BoxSigmaDelta``) or int64 (``Boltzmann``) Vars, exactly as
snn-toolkit's kernels ``hardware.loihi_qp.box_sigma_delta_kernel`` and
``hardware.loihi_qubo.boltzmann_kernel`` (tested bit for bit against each
other in Lava's runtime by ``tests/hardware/test_lava_qp_qubo.py``).

``BoxSigmaDelta`` (graded spikes; with ``lo=0, hi=2**31-1`` it is Lava's
ReLU ``SigmaDelta``)::

    sigma   = wrap32(sigma + a)
    act_new = clip(wrap32(sigma + bias), lo, hi)
    delta   = wrap32(act_new - act + residue)
    s       = delta if |delta| >= vth else 0
    out     = s >> out_exp
    residue = wrap32(delta - (out << out_exp));  act = act_new;  send out

``Boltzmann`` (binary spikes; ``key`` the population's 32-bit stream key,
``t0`` the absolute step of Lava's ``time_step`` 1; ``h(c)`` the murmur3-style
hash of ``(key, c, neuron index)`` documented in ``hardware/loihi_qubo.py``)::

    u      = wrap32(a) + bias;  t = t0 + time_step - 1
    update = (h(2t) >> 20) < p_update
    eta    = (h(2t+1) & 0xFFFF) + (h(2t+1) >> 16) - 65535
    s      = (u * 65536 + temp * eta > 0) if update else s;  send s
    temp   = max(temp_min, ((temp * cool) >> 16) - dec)
"""

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort, PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.process.ports.ports import InPort, OutPort
from lava.magma.core.process.process import AbstractProcess
from lava.magma.core.process.variable import Var
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol

_P31 = 2147483648
_M32 = 4294967295

__all__ = ["BoxSigmaDelta", "PyBoxSigmaDeltaModelFixed", "Boltzmann", "PyBoltzmannModelFixed", "hash32"]


def _wrap32(x):
    return ((np.asarray(x, dtype=np.int64) + _P31) & _M32) - _P31


def _fmix32(h):
    h = h ^ (h >> 16)
    h = (h * 0x85EBCA6B) & _M32
    h = h ^ (h >> 13)
    h = (h * 0xC2B2AE35) & _M32
    return h ^ (h >> 16)


def hash32(key, counter, idx):
    """The integer draw in [0, 2**32) for (key, counter, neuron index), int64."""
    k = (int(key) ^ ((int(counter) * 0x9E3779B1) & _M32)) & _M32
    k = ((k ^ (k >> 16)) * 0x7FEB352D) & _M32
    h = _fmix32((np.asarray(idx, dtype=np.int64) * 0x27D4EB2F + k) & _M32)
    return _fmix32(h ^ k)


class BoxSigmaDelta(AbstractProcess):
    """Integer sigma-delta neuron with a box-clipped activation (graded output)."""

    def __init__(self, *, shape, vth, bias, lo, hi, out_exp=0, sigma=0, act=0, residue=0, name=None):
        super().__init__(shape=shape, out_exp=int(out_exp), name=name)
        self.a_in = InPort(shape=shape)
        self.s_out = OutPort(shape=shape)
        self.vth = Var(shape=(1,), init=int(vth))
        self.bias = Var(shape=shape, init=bias)
        self.lo = Var(shape=shape, init=lo)
        self.hi = Var(shape=shape, init=hi)
        self.sigma = Var(shape=shape, init=sigma)
        self.act = Var(shape=shape, init=act)
        self.residue = Var(shape=shape, init=residue)


@implements(proc=BoxSigmaDelta, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyBoxSigmaDeltaModelFixed(PyLoihiProcessModel):
    a_in = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=32)
    s_out = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=32)
    vth: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=31)
    bias: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=32)
    lo: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=32)
    hi: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=32)
    sigma: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=32)
    act: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=32)
    residue: np.ndarray = LavaPyType(np.ndarray, np.int32, precision=32)

    def run_spk(self):
        a = _wrap32(self.a_in.recv())
        sigma = _wrap32(self.sigma.astype(np.int64) + a)
        pre = _wrap32(sigma + self.bias.astype(np.int64))
        act_new = np.minimum(np.maximum(pre, self.lo.astype(np.int64)), self.hi.astype(np.int64))
        delta = _wrap32(act_new - self.act.astype(np.int64) + self.residue.astype(np.int64))
        mag = np.where(delta == -_P31, delta, np.abs(delta))
        s = np.where(mag >= int(self.vth[0]), delta, 0)
        out_exp = int(self.proc_params["out_exp"])
        out = s >> out_exp
        self.residue[:] = _wrap32(delta - (out << out_exp))
        self.act[:] = act_new
        self.sigma[:] = sigma
        self.s_out.send(out)


class Boltzmann(AbstractProcess):
    """Integer stochastic annealing neuron (binary output) with a counter-based hash PRNG."""

    def __init__(self, *, shape, bias, temp_min, cool, dec, p_update, s, temp, key, t0=0, name=None):
        super().__init__(shape=shape, key=int(key), t0=int(t0), name=name)
        self.a_in = InPort(shape=shape)
        self.s_out = OutPort(shape=shape)
        self.bias = Var(shape=shape, init=bias)
        self.temp_min = Var(shape=shape, init=temp_min)
        self.cool = Var(shape=shape, init=cool)
        self.dec = Var(shape=shape, init=dec)
        self.p_update = Var(shape=shape, init=p_update)
        self.s = Var(shape=shape, init=s)
        self.temp = Var(shape=shape, init=temp)


@implements(proc=Boltzmann, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyBoltzmannModelFixed(PyLoihiProcessModel):
    a_in = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=32)
    s_out = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=1)
    bias: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=32)
    temp_min: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=31)
    cool: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=17)
    dec: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=31)
    p_update: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=13)
    s: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=1)
    temp: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=31)

    def run_spk(self):
        a = _wrap32(self.a_in.recv())
        n = a.shape[0]
        idx = np.arange(n, dtype=np.int64)
        t = int(self.proc_params["t0"]) + int(self.time_step) - 1
        key = int(self.proc_params["key"])
        u = a + self.bias.astype(np.int64)
        h_update = hash32(key, 2 * t, idx)
        h_fire = hash32(key, 2 * t + 1, idx)
        eta = (h_fire & 65535) + (h_fire >> 16) - 65535
        temp = self.temp.astype(np.int64)
        on = (u * 65536 + temp * eta > 0).astype(np.int64)
        update = (h_update >> 20) < self.p_update.astype(np.int64)
        s = np.where(update, on, self.s.astype(np.int64))
        cooled = ((temp * self.cool.astype(np.int64)) >> 16) - self.dec.astype(np.int64)
        self.temp[:] = np.maximum(cooled, self.temp_min.astype(np.int64))
        self.s[:] = s
        self.s_out.send(s)
