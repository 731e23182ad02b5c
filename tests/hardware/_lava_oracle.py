"""Lava's own fixed-point process models, stepped directly: the oracle of tests/hardware/test_loihi.py.

Run with the Lava interpreter (``.venv-lava``): ``python _lava_oracle.py SPEC.npz OUT.npz``.
It instantiates Lava 0.10's ``PyLifModelBitAcc``, ``PyDenseModelBitAcc``,
``PySparseModelBitAcc`` and ``PySigmaDeltaModelFixed`` and calls their real
``run_spk`` with stand-in ports (a port that hands over an int32 array, one
that records what is sent), so thousands of steps with extreme values take a
second instead of a Lava runtime per case.  Vars are initialised as Lava's
builder does (``var = zeros(shape, model dtype); var[:] = init``).  The spec is
an .npz of arrays plus a JSON header; nothing is unpickled or evaluated.
"""

import json
import sys

import numpy as np
from lava.proc.dense.models import PyDenseModelBitAcc
from lava.proc.lif.models import PyLifModelBitAcc
from lava.proc.sdn.models import PySigmaDeltaModelFixed
from lava.proc.sdn.process import ActivationMode, SigmaDelta
from lava.proc.sparse.models import PySparseModelBitAcc
from lava.utils.weightutils import SignMode
from scipy.sparse import csr_matrix


class _In:
    value = None

    def recv(self):
        return self.value


class _Out:
    def __init__(self):
        self.sent = []

    def send(self, data):
        self.sent.append(np.array(data))


def _var(shape, dtype, init):
    var = np.zeros(shape, dtype)
    var[:] = init
    return var


def lif(case, a):
    m = PyLifModelBitAcc({})
    m.a_in, m.s_out = _In(), _Out()
    n = a.shape[1]
    m.u = _var((n,), np.int32, case["u0"])
    m.v = _var((n,), np.int32, case["v0"])
    m.du, m.dv, m.vth = case["du"], case["dv"], case["vth"]
    m.bias_mant = _var((n,), np.int16, case["bias_mant"])
    m.bias_exp = _var((n,), np.int16, case["bias_exp"])
    us, vs = [], []
    for t in range(a.shape[0]):
        m.a_in.value = a[t].astype(np.int32)
        m.run_spk()
        us.append(m.u.copy())
        vs.append(m.v.copy())
    return np.array(us, np.int64), np.array(vs, np.int64), np.array(m.s_out.sent).astype(np.int64)


def conn(case, w, s):
    params = {"weight_exp": case["weight_exp"], "num_weight_bits": case["num_weight_bits"]}
    if case["sign_mode"] is not None:
        params["sign_mode"] = SignMode[case["sign_mode"].upper()]
    if case["sparse"]:
        m = PySparseModelBitAcc(params)
        m.weights = csr_matrix(w.astype(np.int32))
    else:
        m = PyDenseModelBitAcc(params)
        m.weights = _var(w.shape, np.int32, w)
    m.s_in, m.a_out = _In(), _Out()
    m.a_buff = _var((w.shape[0],), np.int32, 0)
    m.num_message_bits = _var((1,), int, case["num_message_bits"])
    for t in range(s.shape[0]):
        m.s_in.value = s[t].astype(np.int32)
        m.run_spk()
    # the channel is int32: what the next process receives is the int32 cast of what was sent
    sent = np.array([np.asarray(x).astype(np.int32) for x in m.a_out.sent]).astype(np.int64)
    weights = m.weights.toarray() if case["sparse"] else m.weights
    return sent, np.asarray(weights, np.int64)


def sigma_delta(case, bias, a):
    n = a.shape[1]
    proc = SigmaDelta(
        shape=(n,),
        vth=case["vth"],
        bias=bias,
        act_mode=ActivationMode.RELU if case["act_mode"] == "relu" else ActivationMode.UNIT,
        cum_error=case["cum_error"],
        spike_exp=case["spike_exp"],
        state_exp=case["state_exp"],
    )
    m = PySigmaDeltaModelFixed(proc.proc_params)
    m.a_in, m.s_out = _In(), _Out()
    m.vth = _var((1,), np.int32, proc.vth.init)
    m.bias = _var((n,), np.int32, proc.bias.init)
    for name in ("sigma", "act", "residue", "error"):
        setattr(m, name, _var((n,), np.int32, 0))
    m.spike_exp = _var((1,), np.int32, proc.spike_exp.init)
    m.state_exp = _var((1,), np.int32, proc.state_exp.init)
    m.cum_error = _var((1,), bool, proc.cum_error.init)
    rec = {k: [] for k in ("sigma", "act", "residue", "error")}
    for t in range(a.shape[0]):
        m.a_in.value = a[t].astype(np.int32)
        m.run_spk()
        for k in rec:
            rec[k].append(np.array(getattr(m, k), np.int64).copy())
    out = {k: np.array(v) for k, v in rec.items()}
    out["s_out"] = np.array(m.s_out.sent).astype(np.int64)
    return out


def main(spec_path, out_path):
    with np.load(spec_path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    header = json.loads(str(arrays["header"][()]))
    out = {}
    for k, case in enumerate(header["lif"]):
        out[f"lif{k}.u"], out[f"lif{k}.v"], out[f"lif{k}.s"] = lif(
            {**case, **{x: arrays[f"lif{k}.{x}"] for x in ("u0", "v0", "bias_mant", "bias_exp")}}, arrays[f"lif{k}.a"]
        )
    for k, case in enumerate(header["conn"]):
        out[f"conn{k}.sent"], out[f"conn{k}.weights"] = conn(case, arrays[f"conn{k}.w"], arrays[f"conn{k}.s"])
    for k, case in enumerate(header["sd"]):
        for name, value in sigma_delta(case, arrays[f"sd{k}.bias"], arrays[f"sd{k}.a"]).items():
            out[f"sd{k}.{name}"] = value
    np.savez(out_path, **out)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
