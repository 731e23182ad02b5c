"""NIR (Neuromorphic Intermediate Representation) import and export.

``read`` turns a NIR graph (a ``.nir`` file or a ``nir.NIRGraph``) into a
:class:`snn.Network`; ``write``/``to_nir`` go the other way.  The optional
extra ``nir`` (PyPI ``nir``, which needs ``h5py``) is imported only when these
functions are called.

What a NIR file cannot say
--------------------------
A NIR graph holds continuous-time equations: no time step, no discretisation,
no reset timing.  Each library that writes one has its own answers, and
running the file elsewhere with other answers gives other spikes.  ``read``
therefore asks for the step (``dt_ms``) and for the ``convention`` of the
library that wrote the file; the reset can be overridden with ``reset``.

=============  ==================================================================
convention     how the file's nodes run (time constants in the file are seconds)
=============  ==================================================================
``"nir"``      exact integration of the equations, the input of a step jumping
               ``I`` (by ``w_in*x``) or ``v`` (by ``r*x``); reset to ``v_reset``
               in the spiking step.  Files written by :func:`write` carry their
               discretisation in node metadata (``snn_toolkit.integration``),
               which this convention honours, so ``read(write(net))`` is ``net``.
``"snntorch"`` snnTorch 1.0 (its exporter implies ``dt = 1e-4 s``: pass
               ``dt_ms=0.1``).  ``LIF`` is ``Leaky``/``RLeaky``: forward Euler,
               ``v' = beta*v + x`` (``r*dt/tau = 1``); ``CubaLIF`` is
               ``Synaptic``/``RSynaptic``: ``i' = alpha*i + x`` then
               ``v' = beta*v + i'`` (``integration="euler_current_first"``).
               Default reset ``"subtract"``, one step late (``reset_delay``,
               snnTorch's default).  ``reset="zero"``: ``Leaky`` zeroes the stored
               ``v`` and keeps the step's input, which spikes exactly as an
               immediate reset to 0 (its recorded ``mem`` of a spiking step is the
               pre-reset value); ``RLeaky`` (a ``LIF`` on a recurrent cycle) and
               ``Synaptic`` discard that step's update (late reset to 0).
``"norse"``    Norse 1.1 (its exporter uses ``dt = 1e-3 s``: pass ``dt_ms=1.0``).
               ``CubaLIF`` is ``LIFCell``: the input jumps ``i``, ``v`` integrates
               (Euler) with that ``i``, then ``i`` decays
               (``integration="euler_input_first"``); ``LIF`` is ``LIFBoxCell``,
               ``LI`` ``LIBoxCell``, ``CubaLI`` ``LICell``, ``IF`` ``IAFCell``;
               reset to ``v_reset`` in the spiking step.
=============  ==================================================================

Every convention applies ``r`` and ``w_in`` (folded into the incoming weights
where the model has no such factor).  What the peers' exporters lose cannot be
recovered: Norse's drops ``v_reset`` (0 is read); snnTorch's writes the same
file for both reset modes (hence ``reset``).  Norse 1.1's exporter writes
``dt / tau_inv`` (that is ``dt * tau``) where NIR wants ``tau``; the ``"norse"``
convention undoes this with ``dt_ms``.

The graph
---------
Nodes are read by type through a ``{type name: handler}`` table; node and edge
order are never relied on (populations are added in breadth-first order from
the inputs, ties broken by name).  ``Input`` nodes become
:class:`snn.ExternalInput` populations named after the node; neuron nodes
(``LIF``, ``CubaLIF``, ``IF``, ``LI``, ``CubaLI``, ``Threshold``) become
populations; the linear nodes between them (``Affine``, ``Linear``, ``Scale``,
``Flatten``, ``Delay``, ``Conv1d``, ``Conv2d`` and nested graphs) are composed
into one sparse projection per (source, target, delay).  Biases become the
target's ``bias`` where the model adds it exactly as an input (forward-Euler
delta synapses, ``IF``), otherwise a one-neuron :class:`snn.CurrentSource`
population ``"<target>.bias"``.  ``net.outputs`` names the populations that feed
NIR ``Output`` nodes.

Delays: a connection acts in the same step (delay 0), as a feed-forward layer
does in snnTorch and Norse, unless it closes a cycle; connections inside a
strongly connected component that do not lead farther from the inputs
(breadth-first distance) are recurrent and act one step later, as in
``RLeaky``.  A ``Delay`` node adds ``round(delay_s / dt)`` steps (a recurrent
connection keeps at least one).
"""

from __future__ import annotations

import contextlib
import math
import os
import re
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from snn.errors import SNNError, SNNTypeError, bad_value
from snn.models import IF, LI, LIF, CurrentSource, ExternalInput, NeuronModel
from snn.network import Network

__all__ = ["NIRError", "CONVENTIONS", "read", "from_nir", "write", "to_nir"]

#: the conventions :func:`read` knows
CONVENTIONS = ("nir", "snntorch", "norse")
#: NIR node types :func:`read` turns into populations or projections
NEURON_TYPES = ("Input", "LIF", "CubaLIF", "IF", "LI", "CubaLI", "Threshold")
OPERATOR_TYPES = ("Affine", "Linear", "Scale", "Flatten", "Delay", "Conv1d", "Conv2d", "Output", "NIRGraph")

_META = "snn_toolkit."
_S_PER_MS = 1e-3


class NIRError(SNNError, ValueError):
    """A NIR graph cannot be read, or a network cannot be written as NIR."""


def _nir():
    try:
        import nir
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("snn.nir needs the optional dependency 'nir': pip install 'snn-toolkit[nir]'") from exc
    return nir


# ---------------------------------------------------------------------------------------------
# reading: flatten nested graphs, size nodes, compose linear maps between neuron nodes
# ---------------------------------------------------------------------------------------------


def _load(source: Any):
    nir = _nir()
    if isinstance(source, nir.NIRGraph):
        return source
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"path={str(source)!r}: no such NIR file")
        _check_hdf5(path)
        try:
            return nir.read(str(path))
        except Exception as exc:  # h5py and nir raise many kinds
            raise NIRError(f"path={str(source)!r}: not a readable NIR file ({type(exc).__name__}: {exc})") from exc
    raise SNNTypeError(f"source={source!r}: must be a path to a .nir file or a nir.NIRGraph")


#: bounds on what a file may declare (a declared size is not backed by data in the file)
MAX_DECLARED_SIZE = 1 << 24
MAX_CONV_SYNAPSES = 1 << 27
_MAX_NESTING = 32
_MAX_INFLATION = 1100  # gzip/deflate expand at most ~1032:1


def _check_hdf5(path: Path) -> None:
    """Refuse an HDF5 file whose datasets declare more data than the file can hold, or that nests too deep."""
    try:
        import h5py
    except ImportError:  # pragma: no cover - nir needs h5py
        return
    limit = _MAX_INFLATION * path.stat().st_size + (1 << 20)
    total = 0
    try:
        with h5py.File(str(path), "r") as f:
            stack = [(f, 0)]
            while stack:
                group, depth = stack.pop()
                if depth > _MAX_NESTING:
                    raise NIRError(f"path={str(path)!r}: groups nested more than {_MAX_NESTING} deep")
                for key in group:
                    item = group.get(key, getlink=False)
                    if isinstance(item, h5py.Group):
                        stack.append((item, depth + 1))
                    elif isinstance(item, h5py.Dataset):
                        itemsize = item.dtype.itemsize
                        if item.dtype.kind == "O" or item.dtype.fields is not None:
                            if item.dtype.kind != "O" or h5py.check_string_dtype(item.dtype) is None:
                                raise NIRError(f"path={str(path)!r}, dataset {item.name!r}: dtype {item.dtype} is not a NIR array")
                            itemsize = 16  # strings (node types, edges, metadata): at least a pointer and a few bytes each
                        total += int(item.size) * itemsize
                        if total > limit:
                            raise NIRError(
                                f"path={str(path)!r}, dataset {item.name!r}: the datasets declare more than {limit} bytes, more than this file can hold"
                            )
    except NIRError:
        raise
    except Exception as exc:  # h5py raises OSError, KeyError, ValueError, RuntimeError ... on damaged files
        raise NIRError(f"path={str(path)!r}: not a readable NIR file ({type(exc).__name__}: {exc})") from exc


def _flatten_graph(graph, prefix: str = "", depth: int = 0) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Inline nested ``NIRGraph`` nodes; their ``Input``/``Output`` nodes become pass-throughs."""
    nir = _nir()
    if depth > _MAX_NESTING:
        raise NIRError(f"graph {prefix[:-1]!r}: nested graphs more than {_MAX_NESTING} deep")
    if not isinstance(getattr(graph, "nodes", None), dict) or not isinstance(getattr(graph, "edges", None), (list, tuple)):
        raise NIRError(f"graph {prefix[:-1] or 'top'!r}: a NIRGraph needs a dict of nodes and a list of edges")
    nodes: dict[str, Any] = {}
    edges: list[tuple[str, str]] = []
    inner_io: dict[str, tuple[list[str], list[str]]] = {}
    for name, node in graph.nodes.items():
        full = prefix + str(name)
        if isinstance(node, nir.NIRGraph):
            sub_nodes, sub_edges = _flatten_graph(node, full + ".", depth + 1)
            ins = sorted(k for k, v in node.nodes.items() if isinstance(v, nir.Input))
            outs = sorted(k for k, v in node.nodes.items() if isinstance(v, nir.Output))
            for k in ins + outs:
                sub_nodes[f"{full}.{k}"] = _PassThrough(sub_nodes[f"{full}.{k}"])
            nodes.update(sub_nodes)
            edges.extend(sub_edges)
            inner_io[full] = ([f"{full}.{k}" for k in ins], [f"{full}.{k}" for k in outs])
        else:
            nodes[full] = node

    def resolve(end: str, side: int) -> str:
        if end in inner_io:
            choices = inner_io[end][side]
            if len(choices) != 1:
                kind = "Input" if side == 0 else "Output"
                raise NIRError(f"edge end {end!r}: the nested graph has {len(choices)} {kind} nodes; name one of them ({choices})")
            return choices[0]
        return end

    for edge in graph.edges:
        if not (isinstance(edge, (list, tuple)) and len(edge) == 2):
            raise NIRError(f"edge {edge!r}: an edge is a pair (source, target) of node names")
        a, b = prefix + str(edge[0]), prefix + str(edge[1])
        edges.append((resolve(a, 1), resolve(b, 0)))
    for a, b in edges:
        for end in (a, b):
            if end not in nodes:
                raise NIRError(f"edge ({a!r}, {b!r}) names a node {end!r} that the graph does not have")
    return nodes, sorted(set(edges))


@dataclass
class _PassThrough:
    """An inlined subgraph's Input/Output node: passes its input on unchanged."""

    inner: Any


def _numbers(value: Any, where: str, attr: str) -> np.ndarray:
    """``value`` as a float64 array of finite real numbers, or a :class:`NIRError` naming the node and field."""
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    if isinstance(value, (str, bytes, np.str_, np.bytes_)):
        raise NIRError(f"node {where!r}: {attr}={_short(value)} must be numbers, not a string")
    try:
        raw = np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise NIRError(f"node {where!r}: {attr} is not an array of numbers ({exc})") from None
    if raw.dtype.kind not in "biuf":
        raise NIRError(f"node {where!r}: {attr} holds {raw.dtype} values; must be real numbers")
    arr = raw.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        raise NIRError(f"node {where!r}: {attr} holds NaN or inf")
    return arr


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _arr(value: Any, where: str = "?", attr: str = "value") -> np.ndarray:
    if value is None:
        return None
    return _numbers(value, where, attr).reshape(-1)


def _whole(value: Any, where: str, attr: str, lo: int) -> tuple[int, ...]:
    """Whole numbers ``>= lo`` (a tuple), e.g. a shape, a stride or a padding."""
    arr = _numbers(value, where, attr).reshape(-1)
    if not np.all(arr == np.round(arr)) or np.any(arr < lo) or np.any(arr > MAX_DECLARED_SIZE):
        raise NIRError(f"node {where!r}: {attr}={_short(value)} must be whole numbers in [{lo}, {MAX_DECLARED_SIZE}]")
    return tuple(int(x) for x in arr)


def _shape_size(t: Any, where: str = "?") -> int | None:
    if t is None:
        return None
    if isinstance(t, dict):
        t = next(iter(t.values()), None)
        if t is None:
            return None
    if isinstance(t, np.ndarray) and t.dtype == object:
        return None
    dims = _whole(t, where, "input_type", 1)
    if not dims:
        return None
    size = math.prod(dims)
    if size > MAX_DECLARED_SIZE:
        raise NIRError(
            f"node {where!r}: input_type {list(dims)} declares {size} neurons; at most {MAX_DECLARED_SIZE} (snn.nir.MAX_DECLARED_SIZE)"
        )
    return size


# --- operators ---------------------------------------------------------------------------------
@dataclass
class _Signal:
    """What reaches a point of the graph: ``{source: {delay_steps: matrix (n_here, n_source)}}`` plus a constant."""

    n: int
    parts: dict[str, dict[int, sp.csr_matrix]] = field(default_factory=dict)
    bias: np.ndarray | None = None
    bias_delayed: bool = False

    def add(self, other: _Signal, where: str) -> None:
        if other.n != self.n:
            raise NIRError(f"node {where!r}: inputs of sizes {self.n} and {other.n} cannot be summed")
        for src, by_delay in other.parts.items():
            mine = self.parts.setdefault(src, {})
            for d, m in by_delay.items():
                mine[d] = (mine[d] + m).tocsr() if d in mine else m
        if other.bias is not None:
            self.bias = other.bias.copy() if self.bias is None else self.bias + other.bias
        self.bias_delayed = self.bias_delayed or other.bias_delayed

    def map(self, matrix: sp.spmatrix, bias: np.ndarray | None = None) -> _Signal:
        matrix = sp.csr_matrix(matrix)
        out = _Signal(matrix.shape[0])
        out.parts = {s: {d: (matrix @ m).tocsr() for d, m in bd.items()} for s, bd in self.parts.items()}
        out.bias = None if self.bias is None else matrix @ self.bias
        if bias is not None:
            out.bias = bias.copy() if out.bias is None else out.bias + bias
        out.bias_delayed = self.bias_delayed
        return out


def _conv_matrix(weight: np.ndarray, in_spatial: tuple[int, ...], stride, padding, dilation, groups: int, name: str):
    """The (C_out*prod(out), C_in*prod(in)) sparse matrix of an N-d convolution (C order, like torch)."""
    nd = weight.ndim - 2
    c_out, c_in_g = weight.shape[:2]
    ksize = weight.shape[2:]

    def tup(v, what, lo):
        t = _whole(v, name, what, lo)
        if len(t) == 1:
            t = t * nd
        if len(t) != nd:
            raise NIRError(f"node {name!r}: {what}={v!r} must have {nd} entries")
        return t

    stride, dilation = tup(stride, "stride", 1), tup(dilation, "dilation", 1)
    if isinstance(padding, (bytes, np.bytes_)):
        padding = padding.decode(errors="replace")
    if isinstance(padding, np.ndarray) and padding.dtype.kind in "SU" and padding.size == 1:
        padding = str(padding.reshape(-1)[0])
    if isinstance(padding, str):
        if padding == "valid":
            pads = [(0, 0)] * nd
        elif padding == "same":
            pads = [
                (dilation[k] * (ksize[k] - 1) // 2, dilation[k] * (ksize[k] - 1) - dilation[k] * (ksize[k] - 1) // 2) for k in range(nd)
            ]
        else:
            raise NIRError(f"node {name!r}: padding={padding!r} must be 'same', 'valid' or integers")
    else:
        pads = [(p, p) for p in tup(padding, "padding", 0)]
    out_spatial = tuple((in_spatial[k] + sum(pads[k]) - dilation[k] * (ksize[k] - 1) - 1) // stride[k] + 1 for k in range(nd))
    if any(o < 1 for o in out_spatial):
        raise NIRError(f"node {name!r}: the convolution of an input of shape {in_spatial} has no output")
    c_in = c_in_g * groups
    per_group = c_out // groups
    work = c_out * math.prod(out_spatial) * c_in_g * math.prod(ksize)
    if work > MAX_CONV_SYNAPSES:
        raise NIRError(
            f"node {name!r}: the convolution would make {work} synapses; at most {MAX_CONV_SYNAPSES} (snn.nir.MAX_CONV_SYNAPSES)"
        )
    rows, cols, vals = [], [], []
    out_pos = np.indices(out_spatial).reshape(nd, -1)  # (nd, P)
    out_flat = np.ravel_multi_index(tuple(out_pos), out_spatial)
    for kidx in np.ndindex(*ksize):
        in_pos = np.stack([out_pos[k] * stride[k] - pads[k][0] + kidx[k] * dilation[k] for k in range(nd)])
        ok = np.all((in_pos >= 0) & (in_pos < np.array(in_spatial)[:, None]), axis=0)
        if not ok.any():
            continue
        in_flat = np.ravel_multi_index(tuple(in_pos[:, ok]), in_spatial)
        o_flat = out_flat[ok]
        for co in range(c_out):
            g = co // per_group
            for cig in range(c_in_g):
                w = weight[(co, cig) + kidx]
                if w == 0:
                    continue
                ci = g * c_in_g + cig
                rows.append(co * len(out_flat) + o_flat)
                cols.append(ci * int(np.prod(in_spatial)) + in_flat)
                vals.append(np.full(o_flat.size, w))
    shape = (c_out * int(np.prod(out_spatial)), c_in * int(np.prod(in_spatial)))
    if not rows:
        return sp.csr_matrix(shape), out_spatial
    m = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=shape)
    m.sum_duplicates()
    return m, out_spatial


def _op_affine(node, name, sig: _Signal, ctx) -> _Signal:
    w = _numbers(node.weight, name, "weight")
    if w.ndim != 2:
        raise NIRError(f"node {name!r} ({type(node).__name__}): weight of shape {w.shape}: only 2-D weights (n_out, n_in) are supported")
    if w.shape[1] != sig.n:
        raise NIRError(f"node {name!r}: weight of shape {w.shape} does not take an input of size {sig.n}")
    bias = _arr(getattr(node, "bias", None), name, "bias")
    if bias is not None and not np.any(bias):
        bias = None
    if bias is not None and bias.shape != (w.shape[0],):
        raise NIRError(f"node {name!r}: bias of shape {bias.shape} does not fit weight {w.shape}")
    return sig.map(sp.csr_matrix(w), bias)


def _op_scale(node, name, sig, ctx):
    s = _arr(node.scale, name, "scale")
    if s.size == 1:
        s = np.full(sig.n, s[0])
    if s.size != sig.n:
        raise NIRError(f"node {name!r} (Scale): {s.size} factors for an input of size {sig.n}")
    return sig.map(sp.diags(s))


def _op_identity(node, name, sig, ctx):
    return sig


def _op_delay(node, name, sig, ctx):
    d_s = _arr(node.delay, name, "delay")
    if d_s.size == 1:
        d_s = np.full(sig.n, d_s[0])
    if d_s.size != sig.n:
        raise NIRError(f"node {name!r} (Delay): {d_s.size} delays for an input of size {sig.n}")
    steps = d_s / _S_PER_MS / ctx.dt_ms
    whole = np.round(steps)
    if np.any(np.abs(steps - whole) > 1e-6 * np.maximum(1.0, np.abs(steps))) or np.any(whole < 0):
        raise NIRError(f"node {name!r} (Delay): delays {d_s.tolist()} s are not whole non-negative multiples of dt_ms={ctx.dt_ms} ms")
    whole = whole.astype(np.int64)
    out = _Signal(sig.n, bias=sig.bias, bias_delayed=sig.bias_delayed or (sig.bias is not None and whole.any()))
    for src, bd in sig.parts.items():
        for d, m in bd.items():
            for extra in np.unique(whole):
                rows = sp.diags((whole == extra).astype(np.float64))
                part = (rows @ m).tocsr()
                part.eliminate_zeros()
                if part.nnz:
                    slot = out.parts.setdefault(src, {})
                    key = d + int(extra)
                    slot[key] = (slot[key] + part).tocsr() if key in slot else part
    return out


def _op_conv(node, name, sig, ctx):
    w = _numbers(node.weight, name, "weight")
    nd = {"Conv1d": 1, "Conv2d": 2}[_type_name(node)]
    if w.ndim != nd + 2 or 0 in w.shape:
        raise NIRError(
            f"node {name!r} ({_type_name(node)}): weight of shape {w.shape} must be (C_out, C_in/groups, {', '.join(['K'] * nd)})"
        )
    (groups,) = _whole(node.groups, name, "groups", 1) if np.size(node.groups) == 1 else (0,)
    if groups < 1 or w.shape[0] % groups:
        raise NIRError(f"node {name!r}: groups={node.groups!r} must be a whole number >= 1 that divides the {w.shape[0]} output channels")
    c_in = w.shape[1] * groups
    in_shape = getattr(node, "input_shape", None)
    if in_shape is None:
        if nd == 1 and sig.n % c_in == 0:
            in_shape = (sig.n // c_in,)
        else:
            raise NIRError(
                f"node {name!r} ({type(node).__name__}): input_shape is not given and cannot be inferred from an input of size {sig.n}"
            )
    in_spatial = _whole(in_shape, name, "input_shape", 1)
    if len(in_spatial) != nd:
        raise NIRError(f"node {name!r}: input_shape={in_shape!r} must have {nd} entries")
    if c_in * int(np.prod(in_spatial)) != sig.n:
        raise NIRError(f"node {name!r}: input of size {sig.n} does not match {c_in} channels of shape {in_spatial}")
    m, out_spatial = _conv_matrix(w, in_spatial, node.stride, node.padding, node.dilation, groups, name)
    bias = _arr(node.bias, name, "bias")
    if bias is not None and bias.size not in (1, w.shape[0]):
        raise NIRError(f"node {name!r}: bias of {bias.size} values for {w.shape[0]} output channels")
    if bias is not None and np.any(bias):
        bias = np.repeat(bias, int(np.prod(out_spatial)))
    else:
        bias = None
    return sig.map(m, bias)


def _to_np(value):
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


_OPERATORS: dict[str, Callable] = {
    "Affine": _op_affine,
    "Linear": _op_affine,
    "Scale": _op_scale,
    "Flatten": _op_identity,
    "Delay": _op_delay,
    "Conv1d": _op_conv,
    "Conv2d": _op_conv,
    "_PassThrough": _op_identity,
    "Output": _op_identity,
}


# --- neurons -------------------------------------------------------------------------------------
@dataclass
class _Neuron:
    """How a NIR neuron node runs here: the model, a per-neuron factor folded into incoming weights,
    and how a constant input (bias) enters (``"model"``: as the model's bias times ``bias_factor``)."""

    model: NeuronModel
    in_scale: np.ndarray
    bias_mode: str = "source"
    bias_factor: np.ndarray | None = None


@dataclass
class _Ctx:
    dt_ms: float
    convention: str
    reset: str | None
    recurrent: bool = False  # the node sits on a recurrent cycle


def _param(node, attr: str, n: int, name: str) -> np.ndarray:
    a = _arr(getattr(node, attr, None), name, attr)
    if a is None:
        raise NIRError(f"node {name!r}: parameter {attr} is missing")
    if a.size == 1 and n > 1:
        a = np.full(n, a[0])
    if a.size != n:
        raise NIRError(f"node {name!r}: parameter {attr} has {a.size} values for {n} neurons")
    if not np.all(np.isfinite(a)):
        raise NIRError(f"node {name!r}: parameter {attr} holds NaN or inf")
    return a


def _compact(a: np.ndarray, node=None, attr: str | None = None):
    """A scalar where the file stores one value for the layer, else the per-neuron array."""
    if np.ndim(a) == 0:
        return float(a)
    raw = _arr(getattr(node, attr)) if node is not None and attr is not None else a
    return float(a[0]) if raw.size == 1 or a.size == 1 else a


def _tau_ms(node, attr, n, name, ctx: _Ctx):
    tau_s = _param(node, attr, n, name)
    if np.any(tau_s <= 0):
        raise NIRError(f"node {name!r}: {attr} must be positive (seconds), got {tau_s[tau_s <= 0][0]!r}")
    if ctx.convention == "norse":
        # Norse 1.1's exporter writes dt / tau_inv = dt * tau (s^2), not tau
        return tau_s / (ctx.dt_ms * _S_PER_MS) / _S_PER_MS
    return tau_s / _S_PER_MS


def _integration(node, ctx: _Ctx, cuba: bool) -> str:
    if ctx.convention == "nir":
        meta = getattr(node, "metadata", None) or {}
        value = meta.get(_META + "integration", "exact")
        if isinstance(value, (bytes, np.bytes_)):
            value = value.decode()
        return str(value)
    if ctx.convention == "snntorch":
        return "euler_current_first" if cuba else "euler"
    return "euler_input_first" if cuba else "euler"


def _reset(ctx: _Ctx, *, cuba: bool) -> tuple[str, str]:
    """(reset, reset_timing) for a spiking node under the convention."""
    if ctx.convention != "snntorch":
        return (ctx.reset or "zero"), "immediate"
    reset = ctx.reset or "subtract"
    if reset == "subtract":
        return "subtract", "next_step"
    # Leaky (feed-forward LIF) zero reset spikes as an immediate reset; RLeaky and Synaptic discard the step
    return "zero", ("next_step" if (cuba or ctx.recurrent) else "immediate")


def _delta_bias(model_r: np.ndarray, integration: str) -> tuple[str, np.ndarray | None]:
    # forward-Euler delta synapses add input and bias in the same way: x*k*r vs bias*k
    if integration == "exact":
        return "source", None
    return "model", model_r


def _h_lif(node, name, n, ctx: _Ctx) -> _Neuron:
    tau = _tau_ms(node, "tau", n, name, ctx)
    r = _param(node, "r", n, name)
    integ = _integration(node, ctx, cuba=False)
    reset, timing = _reset(ctx, cuba=False)
    model_r = np.ones(n) if integ == "exact" else r
    model = LIF(
        tau_mem_ms=_compact(tau, node, "tau"),
        v_th=_compact(_param(node, "v_threshold", n, name), node, "v_threshold"),
        v_reset=_compact(_param(node, "v_reset", n, name), node, "v_reset"),
        v_leak=_compact(_param(node, "v_leak", n, name), node, "v_leak"),
        r=_compact(model_r, node, "r"),
        reset=reset,
        reset_timing=timing,
        integration=integ,
    )
    mode, factor = _delta_bias(model_r, integ)
    return _Neuron(model, in_scale=r / model_r, bias_mode=mode, bias_factor=factor)


def _h_cubalif(node, name, n, ctx: _Ctx) -> _Neuron:
    reset, timing = _reset(ctx, cuba=True)
    model = LIF(
        tau_mem_ms=_compact(_tau_ms(node, "tau_mem", n, name, ctx), node, "tau_mem"),
        tau_syn_ms=_compact(_tau_ms(node, "tau_syn", n, name, ctx), node, "tau_syn"),
        v_th=_compact(_param(node, "v_threshold", n, name), node, "v_threshold"),
        v_reset=_compact(_param(node, "v_reset", n, name), node, "v_reset"),
        v_leak=_compact(_param(node, "v_leak", n, name), node, "v_leak"),
        r=_compact(_param(node, "r", n, name), node, "r"),
        reset=reset,
        reset_timing=timing,
        integration=_integration(node, ctx, cuba=True),
    )
    return _Neuron(model, in_scale=_param(node, "w_in", n, name))


def _h_if(node, name, n, ctx: _Ctx) -> _Neuron:
    reset = ctx.reset or ("subtract" if ctx.convention == "snntorch" else "zero")
    model = IF(
        v_th=_compact(_param(node, "v_threshold", n, name), node, "v_threshold"),
        v_reset=_compact(_param(node, "v_reset", n, name), node, "v_reset"),
        reset=reset,
    )
    return _Neuron(model, in_scale=_param(node, "r", n, name), bias_mode="model", bias_factor=np.ones(n))


def _h_li(node, name, n, ctx: _Ctx) -> _Neuron:
    r = _param(node, "r", n, name)
    integ = _integration(node, ctx, cuba=False)
    model_r = np.ones(n) if integ == "exact" else r
    model = LI(
        tau_mem_ms=_compact(_tau_ms(node, "tau", n, name, ctx), node, "tau"),
        v_leak=_compact(_param(node, "v_leak", n, name), node, "v_leak"),
        r=_compact(model_r, node, "r"),
        integration=integ,
    )
    mode, factor = _delta_bias(model_r, integ)
    return _Neuron(model, in_scale=r / model_r, bias_mode=mode, bias_factor=factor)


def _h_cubali(node, name, n, ctx: _Ctx) -> _Neuron:
    model = LI(
        tau_mem_ms=_compact(_tau_ms(node, "tau_mem", n, name, ctx), node, "tau_mem"),
        tau_syn_ms=_compact(_tau_ms(node, "tau_syn", n, name, ctx), node, "tau_syn"),
        v_leak=_compact(_param(node, "v_leak", n, name), node, "v_leak"),
        r=_compact(_param(node, "r", n, name), node, "r"),
        integration=_integration(node, ctx, cuba=True),
    )
    return _Neuron(model, in_scale=_param(node, "w_in", n, name))


def _h_threshold(node, name, n, ctx: _Ctx) -> _Neuron:
    # z = x > threshold without memory: forward Euler with tau = dt gives v' = 0*v + x exactly
    model = LIF(tau_mem_ms=ctx.dt_ms, v_th=_compact(_param(node, "threshold", n, name), node, "threshold"), integration="euler")
    return _Neuron(model, in_scale=np.ones(n), bias_mode="model", bias_factor=np.ones(n))


_NEURONS: dict[str, Callable] = {
    "LIF": _h_lif,
    "CubaLIF": _h_cubalif,
    "IF": _h_if,
    "LI": _h_li,
    "CubaLI": _h_cubali,
    "Threshold": _h_threshold,
}
_SIZE_ATTR = {"LIF": "tau", "CubaLIF": "tau_mem", "IF": "r", "LI": "tau", "CubaLI": "tau_mem", "Threshold": "threshold"}


def _type_name(node) -> str:
    return type(node).__name__


def _node_name(name: str, node) -> str:
    meta = getattr(node, "metadata", None) or {}
    orig = meta.get(_META + "name")
    if isinstance(orig, (bytes, np.bytes_)):
        orig = orig.decode()
    return str(orig) if orig else name


def from_nir(graph: Any, *, dt_ms: float, convention: str = "nir", reset: str | None = None) -> Network:
    """Build a :class:`snn.Network` from a ``nir.NIRGraph`` (see :func:`read`)."""
    if convention not in CONVENTIONS:
        raise bad_value(NIRError, "convention", convention, f"allowed: {list(CONVENTIONS)}")
    if reset not in (None, "zero", "subtract"):
        raise bad_value(NIRError, "reset", reset, "allowed: None (the convention's default), 'zero' or 'subtract'")
    net = Network(dt_ms=dt_ms)  # validates dt_ms
    nodes, edges = _flatten_graph(graph)
    unsupported = sorted(
        f"{k!r} ({_type_name(v)})" for k, v in nodes.items() if _type_name(v) not in NEURON_TYPES and _type_name(v) not in _OPERATORS
    )
    if unsupported:
        raise NIRError(
            f"the graph has nodes this reader does not support: {', '.join(unsupported)}; supported: {sorted(set(NEURON_TYPES) | set(OPERATOR_TYPES) - {'NIRGraph'})} and nested graphs"
        )
    preds: dict[str, list[str]] = {k: [] for k in nodes}
    succs: dict[str, list[str]] = {k: [] for k in nodes}
    for a, b in edges:
        preds[b].append(a)
        succs[a].append(b)
    for k, v in nodes.items():
        if _type_name(v) == "Input" and preds[k]:
            raise NIRError(f"node {k!r} (Input) has incoming edges from {sorted(preds[k])}")
    neurons = sorted(k for k, v in nodes.items() if _type_name(v) in NEURON_TYPES)
    if not any(_type_name(nodes[k]) == "Input" for k in neurons):
        raise NIRError("the graph has no Input node")

    # sizes: Input from its type; neurons from their parameters (or the size that reaches them)
    sizes: dict[str, int] = {}
    for k in neurons:
        node = nodes[k]
        t = _type_name(node)
        if t == "Input":
            size = _shape_size(getattr(node, "input_type", None), k)
            if size is None:
                raise NIRError(f"node {k!r} (Input): its input_type gives no size")
            sizes[k] = size
        else:
            values = _arr(getattr(node, _SIZE_ATTR[t], None), k, _SIZE_ATTR[t])
            if values is None or values.size == 0:
                raise NIRError(f"node {k!r} ({t}): parameter {_SIZE_ATTR[t]} is missing or empty")
            sizes[k] = values.size

    # neuron nodes with scalar parameters take their size from what feeds them
    def static_size(k: str, seen: frozenset = frozenset()) -> int | None:
        node, t = nodes[k], _type_name(nodes[k])
        if k in sizes and sizes[k] > 1:
            return sizes[k]
        if t in ("Affine", "Linear"):
            shape = np.shape(_numbers(node.weight, k, "weight"))
            if len(shape) != 2:
                raise NIRError(f"node {k!r} ({t}): weight of shape {shape}: only 2-D weights (n_out, n_in) are supported")
            return int(shape[0])
        if t in ("Scale", "Delay") and _arr(getattr(node, t.lower()), k, t.lower()).size > 1:
            return _arr(getattr(node, t.lower()), k, t.lower()).size
        if k in seen or t in NEURON_TYPES:
            return None
        for p in sorted(preds[k]):
            found = static_size(p, seen | {k})
            if found:
                return found
        return None

    for k in neurons:
        if sizes[k] == 1:
            sizes[k] = max([static_size(p) or 1 for p in preds[k]] + [1])

    # what each node delivers, as a function of the neuron/input nodes (memoised; operator cycles refused)
    ctx0 = _Ctx(dt_ms=float(dt_ms), convention=convention, reset=reset)
    memo: dict[str, _Signal] = {}
    visiting: set[str] = set()

    def incoming(k: str) -> _Signal | None:
        total = None
        for p in sorted(preds[k]):
            s = delivered(p)
            if total is None:
                total = _Signal(s.n)
            total.add(s, k)
        return total

    def delivered(k: str) -> _Signal:
        if k in memo:
            return memo[k]
        node = nodes[k]
        if k in sizes:  # a population: its own output
            n = sizes[k]
            sig = _Signal(n, parts={k: {0: sp.identity(n, format="csr")}})
        else:
            if k in visiting:
                raise NIRError(f"node {k!r}: a cycle of linear nodes without a neuron (an algebraic loop)")
            visiting.add(k)
            inp = incoming(k)
            if inp is None:
                raise NIRError(f"node {k!r} ({_type_name(node)}) has no input")
            sig = _OPERATORS[_type_name(node)](node, k, inp, ctx0)
            visiting.discard(k)
        memo[k] = sig
        return sig

    inputs_of: dict[str, _Signal] = {}
    for k in neurons:
        if _type_name(nodes[k]) == "Input":
            continue
        sig = incoming(k)
        if sig is None:
            raise NIRError(f"node {k!r} ({_type_name(nodes[k])}) has no input")
        if sig.n != sizes[k]:
            raise NIRError(f"node {k!r} ({_type_name(nodes[k])}): receives {sig.n} values for {sizes[k]} neurons")
        inputs_of[k] = sig

    # breadth-first distance from the inputs (and from nodes nobody feeds), and strongly connected components
    src_edges = {(s, k) for k, sig in inputs_of.items() for s in sig.parts}
    adj: dict[str, list[str]] = {k: [] for k in neurons}
    for s, k in sorted(src_edges):
        adj[s].append(k)
    roots = [k for k in neurons if _type_name(nodes[k]) == "Input" or not any(b == k for _, b in src_edges)]
    dist = {k: math.inf for k in neurons}
    queue = deque(sorted(roots))
    for k in roots:
        dist[k] = 0
    while queue:
        u = queue.popleft()
        for v in adj[u]:
            if dist[v] == math.inf:
                dist[v] = dist[u] + 1
                queue.append(v)
    comp = _scc(neurons, adj)

    def recurrent(s: str, k: str) -> bool:
        return comp[s] == comp[k] and not dist[k] > dist[s]

    on_cycle = {k for s, k in src_edges if recurrent(s, k)}

    # populations in breadth-first order, ties by name
    order = sorted(neurons, key=lambda k: (dist[k], k))
    pop_name: dict[str, str] = {}
    specs: dict[str, _Neuron] = {}
    for k in order:
        node = nodes[k]
        name = _node_name(k, node)
        if name in pop_name.values():
            name = k
        pop_name[k] = name
        if _type_name(node) == "Input":
            with _as_nir_error(k, node):
                net.add_population(name, sizes[k], ExternalInput())
            continue
        ctx = _Ctx(dt_ms=float(dt_ms), convention=convention, reset=reset, recurrent=k in on_cycle)
        with _as_nir_error(k, node):
            spec = _NEURONS[_type_name(node)](node, k, sizes[k], ctx)
        specs[k] = spec
        bias = inputs_of[k].bias
        model = spec.model
        if bias is not None and inputs_of[k].bias_delayed:
            raise NIRError(f"node {k!r}: a bias passes through a Delay node; a delayed constant is not supported")
        if bias is not None and spec.bias_mode == "model":
            model = _with_bias(model, spec.bias_factor * spec.in_scale * bias)
            bias = None
        with _as_nir_error(k, node):
            net.add_population(name, sizes[k], model)
            if bias is not None:
                bname = f"{name}.bias"
                net.add_population(bname, 1, CurrentSource(amplitude=1.0))
                net.add_projection(
                    bname, name, weights=sp.csr_matrix((spec.in_scale * bias)[:, None]), delay_steps=0, name=f"{bname}->{name}"
                )

    for k in order:
        if k not in inputs_of:
            continue
        scale = sp.diags(specs[k].in_scale)
        for s in sorted(inputs_of[k].parts):
            for d, m in sorted(inputs_of[k].parts[s].items()):
                w = (scale @ m).tocsr()
                w.eliminate_zeros()
                if w.nnz == 0:
                    continue
                delay = max(d, 1) if recurrent(s, k) else d
                base = f"{pop_name[s]}->{pop_name[k]}"
                pname = base if delay == (1 if recurrent(s, k) else 0) else f"{base}@{delay}"
                while pname in {p.name for p in net.projections}:
                    pname += "'"
                with _as_nir_error(k, nodes[k]):
                    net.add_projection(pop_name[s], pop_name[k], weights=w, delay_steps=delay, name=pname)

    def out_key(item):
        meta = getattr(item[1], "metadata", None) or {}
        return (float(meta.get(_META + "index", math.inf)), item[0])

    outs = []
    for k, node in sorted(nodes.items(), key=out_key):
        if _type_name(node) != "Output":
            continue
        sig = delivered(k)
        for s, bd in sorted(sig.parts.items()):
            if s not in pop_name:
                continue
            ident = len(bd) == 1 and 0 in bd and bd[0].shape[0] == bd[0].shape[1] and (bd[0] != sp.identity(bd[0].shape[0])).nnz == 0
            if not ident or sig.bias is not None:
                raise NIRError(f"node {k!r} (Output) is fed through linear nodes; outputs must be fed directly by neuron or Input nodes")
            if pop_name[s] not in outs:
                outs.append(pop_name[s])
    net.outputs = tuple(outs)
    return net


@contextlib.contextmanager
def _as_nir_error(name: str, node: Any) -> Iterator[None]:
    """Errors of the API (a model's or the network's validation) as a NIRError naming the node."""
    try:
        yield
    except NIRError:
        raise
    except (SNNError, ValueError, TypeError, OverflowError, ZeroDivisionError) as exc:
        raise NIRError(f"node {name!r} ({_type_name(node)}): {type(exc).__name__}: {exc}") from exc


def _with_bias(model: NeuronModel, bias: np.ndarray) -> NeuronModel:
    import dataclasses

    return dataclasses.replace(model, bias=_compact(np.asarray(model.bias, dtype=np.float64) + bias))


def _scc(nodes: list[str], adj: dict[str, list[str]]) -> dict[str, int]:
    """Tarjan's strongly connected components: ``{node: component id}`` (iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on: set[str] = set()
    stack: list[str] = []
    comp: dict[str, int] = {}
    counter = 0
    for start in nodes:
        if start in index:
            continue
        work = [(start, 0)]
        while work:
            v, i = work.pop()
            if i == 0:
                index[v] = low[v] = counter
                counter += 1
                stack.append(v)
                on.add(v)
            recurse = False
            for j in range(i, len(adj[v])):
                w = adj[v][j]
                if w not in index:
                    work.append((v, j + 1))
                    work.append((w, 0))
                    recurse = True
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            if recurse:
                continue
            if low[v] == index[v]:
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp[w] = index[v]
                    if w == v:
                        break
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[v])
    return comp


def read(source: Any, *, dt_ms: float, convention: str = "nir", reset: str | None = None) -> Network:
    """Read a NIR graph into a :class:`snn.Network`.

    Parameters
    ----------
    source : str, os.PathLike or nir.NIRGraph
        A ``.nir`` file or a graph in memory.
    dt_ms : float
        The time step; NIR files store none (snnTorch's exporter implies 0.1 ms,
        Norse's 1 ms).
    convention : {"nir", "snntorch", "norse"}
        The discretisation and reset semantics of the library that wrote the
        file (see the module documentation), so that the network reproduces
        that library's outputs.
    reset : {None, "zero", "subtract"}
        Overrides the convention's reset; snnTorch's default is ``"subtract"``,
        which NIR cannot express.

    Returns
    -------
    Network
        ``Input`` nodes are :class:`snn.ExternalInput` populations named after
        the node (drive them with ``simulate(..., inputs={name: (n_steps, n)})``);
        ``network.outputs`` names the populations that feed ``Output`` nodes.

    Raises
    ------
    NIRError
        For unsupported nodes (all named), inconsistent shapes, algebraic loops.
    """
    graph = _load(source)
    if not isinstance(source, (str, os.PathLike)):
        return from_nir(graph, dt_ms=dt_ms, convention=convention, reset=reset)
    try:
        return from_nir(graph, dt_ms=dt_ms, convention=convention, reset=reset)
    except NIRError as exc:
        raise NIRError(f"path={str(source)!r}: {exc}") from exc


# ---------------------------------------------------------------------------------------------
# writing
# ---------------------------------------------------------------------------------------------
_SAFE = re.compile(r"[^A-Za-z0-9_]")


def _safe_names(names: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    used: set[str] = {"input", "output"}
    for name in names:
        base = _SAFE.sub("_", name) or "node"
        if base[0].isdigit():
            base = "n_" + base
        cand, k = base, 2
        while cand in used:
            cand, k = f"{base}_{k}", k + 1
        used.add(cand)
        out[name] = cand
    return out


def _same(value, n) -> np.ndarray:
    return np.broadcast_to(np.asarray(value, dtype=np.float64), (n,)).astype(np.float64)


def _refuse(pop, what: str) -> NIRError:
    return NIRError(
        f"population {pop.name!r} ({type(pop.model).__name__}): {what}; NIR cannot express it, and write() does not approximate"
    )


def _neuron_node(pop, dt_ms: float):
    nir = _nir()
    m, n = pop.model, pop.n
    meta = {_META + "name": pop.name}
    if pop.initial_state:
        raise _refuse(pop, f"a non-default initial state {sorted(pop.initial_state)}")
    if isinstance(m, ExternalInput):
        return nir.Input(input_type={"input": np.array([n])}, metadata=meta), None
    if isinstance(m, (LIF, IF)):
        if m.reset != "zero":
            raise _refuse(pop, f"reset={m.reset!r} (NIR neurons reset to v_reset)")
        if np.any(np.asarray(m.refractory_steps) > 0):
            raise _refuse(pop, "refractory_steps > 0")
    if isinstance(m, LIF) and m.reset_timing != "immediate":
        raise _refuse(pop, f"reset_timing={m.reset_timing!r}")
    bias = np.asarray(getattr(m, "bias", 0.0), dtype=np.float64)
    if isinstance(m, IF):
        node = nir.IF(r=np.ones(n), v_threshold=_same(m.v_th, n), v_reset=_same(m.v_reset, n), metadata=meta)
        return node, _same(bias, n)
    if isinstance(m, (LIF, LI)):
        meta[_META + "integration"] = m.integration
        meta[_META + "dt_ms"] = float(dt_ms)
        tau_m = _same(m.tau_mem_ms, n) * _S_PER_MS
        # exact integration with delta synapses ignores r (the input jumps v); NIR's LIF then has r = 1
        delta_exact = m.tau_syn_ms is None and m.integration == "exact"
        r = np.ones(n) if delta_exact else _same(m.r, n)
        bias_x = None
        if np.any(bias != 0):
            if m.tau_syn_ms is not None or m.integration == "exact":
                raise _refuse(pop, "a bias with a synaptic current or exact integration (NIR has no neuron bias)")
            bias_x = _same(bias, n) / r  # enters like an input: as an Affine bias of an incoming connection
        common = {"r": r, "v_leak": _same(m.v_leak, n), "metadata": meta}
        if isinstance(m, LIF):
            common.update(v_threshold=_same(m.v_th, n), v_reset=_same(m.v_reset, n))
            if m.tau_syn_ms is None:
                return nir.LIF(tau=tau_m, **common), bias_x
            return nir.CubaLIF(tau_mem=tau_m, tau_syn=_same(m.tau_syn_ms, n) * _S_PER_MS, w_in=np.ones(n), **common), bias_x
        if m.tau_syn_ms is None:
            return nir.LI(tau=tau_m, **common), bias_x
        return nir.CubaLI(tau_mem=tau_m, tau_syn=_same(m.tau_syn_ms, n) * _S_PER_MS, w_in=np.ones(n), **common), bias_x
    raise NIRError(
        f"population {pop.name!r}: {type(m).__name__} has no NIR node; NIR can hold ExternalInput (Input), LIF (LIF/CubaLIF), IF, LI (LI/CubaLI) "
        "and CurrentSource (as the bias of an Affine node)"
    )


def to_nir(network: Network):
    """The ``nir.NIRGraph`` of ``network``.

    Populations become nodes named after them (names made identifier-safe; the
    original is kept in ``metadata["snn_toolkit.name"]``), each group of
    synapses with one delay a ``Linear`` or ``Affine`` node.  Each neuron node's
    metadata records our discretisation (``snn_toolkit.integration``,
    ``snn_toolkit.dt_ms``), which ``read(..., convention="nir")`` honours.  A
    ``Delay`` node (seconds) is added where a delay differs from the one
    :func:`read` implies (0 feed-forward, 1 recurrent).  ``network.outputs``
    become ``Output`` nodes.

    Raises
    ------
    NIRError
        For what NIR cannot express: subtractive or late reset, refractory
        periods, initial states, models without a NIR node, a bias that does not
        enter as an input, delays that NIR's reading cannot reproduce.
    """
    nir = _nir()
    if not isinstance(network, Network):
        raise SNNTypeError(f"network={network!r}: must be a snn.Network")
    pops = {p.name: p for p in network.populations}
    sources = {name for name, p in pops.items() if isinstance(p.model, CurrentSource)}
    names = _safe_names([p for p in pops if p not in sources] + [pr.name for pr in network.projections])
    nodes: dict[str, Any] = {}
    edges: list[tuple[str, str]] = []
    pending_bias: dict[str, np.ndarray] = {}
    for name, pop in pops.items():
        if name in sources:
            continue
        node, bias_x = _neuron_node(pop, network.dt_ms)
        nodes[names[name]] = node
        if bias_x is not None and np.any(bias_x):
            pending_bias[name] = bias_x
    for pr in network.projections:
        if pr.pre not in sources:
            continue
        src = pops[pr.pre]
        if np.any(pr.delays != 0):
            raise NIRError(
                f"projection {pr.name!r}: a CurrentSource becomes an Affine bias, which acts without delay; its delays must be 0"
            )
        dense = pr.weights.toarray() @ _same(src.model.amplitude, src.n)
        pending_bias[pr.post] = pending_bias.get(pr.post, 0.0) + dense

    # implied delays, computed as read() does
    neuron_names = [n for n in pops if n not in sources]
    adj: dict[str, list[str]] = {n: [] for n in neuron_names}
    has_in: set[str] = set()
    for pr in network.projections:
        if pr.pre in sources:
            continue
        adj[pr.pre].append(pr.post)
        has_in.add(pr.post)
    roots = [n for n in neuron_names if isinstance(pops[n].model, ExternalInput) or n not in has_in]
    dist = {n: math.inf for n in neuron_names}
    queue = deque(sorted(roots))
    for n in roots:
        dist[n] = 0
    while queue:
        u = queue.popleft()
        for v in sorted(set(adj[u])):
            if dist[v] == math.inf:
                dist[v] = dist[u] + 1
                queue.append(v)
    comp = _scc(sorted(neuron_names), {k: sorted(set(v)) for k, v in adj.items()})

    biased_done: set[str] = set()
    for pr in network.projections:
        if pr.pre in sources:
            continue
        rec = comp[pr.pre] == comp[pr.post] and not dist[pr.post] > dist[pr.pre]
        implied = 1 if rec else 0
        w = pr.weights.tocoo()
        groups = np.unique(pr.delays) if pr.n_synapses else np.array([implied])
        for d in groups:
            d = int(d)
            mask = pr.delays == d
            dense = np.zeros(pr.weights.shape)
            dense[w.row[mask], w.col[mask]] = w.data[mask]
            key = names[pr.name] if len(groups) == 1 else f"{names[pr.name]}_d{d}"
            meta = {_META + "name": pr.name}
            if pr.post in pending_bias and pr.post not in biased_done and d == implied:
                nodes[key] = nir.Affine(weight=dense, bias=np.asarray(pending_bias[pr.post], dtype=np.float64), metadata=meta)
                biased_done.add(pr.post)
            else:
                nodes[key] = nir.Linear(weight=dense, metadata=meta)
            edges.append((names[pr.pre], key))
            if d == implied:
                edges.append((key, names[pr.post]))
            elif rec and d == 0:
                raise NIRError(
                    f"projection {pr.name!r}: a zero delay on a recurrent cycle cannot be written (NIR readers add one step there)"
                )
            else:
                dkey = f"{key}_delay"
                nodes[dkey] = nir.Delay(delay=np.full(pops[pr.post].n, d * network.dt_ms * _S_PER_MS))
                edges += [(key, dkey), (dkey, names[pr.post])]
    missing = sorted(set(pending_bias) - biased_done)
    feeds = sorted(n for n, p in pops.items() if isinstance(p.model, ExternalInput))
    if missing and feeds:
        # a constant from nowhere: an Affine node with zero weights from an input carries it
        src = pops[feeds[0]]
        for post in missing:
            key = _safe_names([n for n in names] + [f"{post}.bias"])[f"{post}.bias"]
            key = f"{key}_{len(nodes)}" if key in nodes else key
            nodes[key] = nir.Affine(weight=np.zeros((pops[post].n, src.n)), bias=np.asarray(pending_bias[post], dtype=np.float64))
            edges += [(names[src.name], key), (key, names[post])]
        missing = []
    if missing:
        raise NIRError(
            f"populations {missing}: a bias (or CurrentSource) needs an incoming projection without an explicit Delay to become an Affine bias"
        )
    outs = list(network.outputs)
    for i, name in enumerate(outs):
        if name not in pops or name in sources:
            raise NIRError(f"network.outputs names {name!r}, which is not a population NIR can hold")
        key = "output" if len(outs) == 1 else f"output_{names[name]}"
        nodes[key] = nir.Output(output_type={"output": np.array([pops[name].n])}, metadata={_META + "index": i})
        edges.append((names[name], key))
    inputs = [names[n] for n, p in pops.items() if isinstance(p.model, ExternalInput)]
    if len(inputs) == 1 and inputs[0] != "input":
        # the peers' importers look for a node called "input"
        old = inputs[0]
        nodes["input"] = nodes.pop(old)
        edges = [("input" if a == old else a, "input" if b == old else b) for a, b in edges]
    return nir.NIRGraph(nodes=nodes, edges=edges)


def write(network: Network, path: str | os.PathLike) -> None:
    """Write ``network`` to ``path`` as a NIR (HDF5) file, atomically (see :func:`to_nir`)."""
    nir = _nir()
    graph = to_nir(network)
    from snn.io import atomic_path

    with atomic_path(path) as tmp:
        nir.write(str(tmp), graph)
