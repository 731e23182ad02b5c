"""Numba support of the event engine: the shared kernels compiled two ways, and tuple helpers.

A model's kernel (:mod:`snn.kernels`) is written once against the array
namespace ``xp``.  The event engine compiles it with :func:`snn.kernels.specialize`
in one of two forms, cached per kernel function:

``"scalar"``
    ``xp`` is :data:`scalar_xp`, a namespace of scalar functions with numpy's
    elementwise semantics (``where``, ``logical_and``, ``abs``, ``exp``, ...),
    and the kernel is called once per neuron with that neuron's parameters and
    state (an element of each per-neuron array; the column ``a[:, i]`` of a 2-D
    parameter such as a spike raster).  Numba fuses the whole update of a
    neuron into one loop body: no temporary arrays, one pass over memory.  This
    form exists for every kernel that numba can type with scalars.
``"array"``
    ``xp`` is numpy and the kernel is called on the population's whole arrays,
    exactly as the reference engine does.  It is the fallback for kernels that
    use more than the elementwise subset (the scalar form fails to type).

Both forms run the same source code as the reference engine, so the maths of a
model exists once.  ``+ - * /``, comparisons and integer ``& | ^ >> <<`` are
exact IEEE / two's complement operations in numpy and numba alike; ``exp`` and
``tanh`` go through the C library in numba and may differ from numpy's own
SIMD implementations in the last bit (only the stochastic Boltzmann kernel uses
them, where a one-ulp difference flips a draw with probability ~1e-16).

The random numbers of :mod:`snn._rng` use only int64 ``+ * ^ & >>``, which wrap
identically in numba.
"""

from __future__ import annotations

import math
import types
from collections.abc import Callable

import numba
import numpy as np
from llvmlite import ir
from llvmlite.binding import llvm_version_info
from numba import njit
from numba.core import cgutils
from numba.core import types as nbtypes
from numba.extending import intrinsic, overload
from numba.np.arrayobj import load_item, make_array, store_item

from snn import _rng
from snn.kernels import specialize

__all__ = [
    "scalar_xp",
    "hash32_jit",
    "uniform_jit",
    "compiled_kernel",
    "compiled_synapse",
    "take",
    "put",
    "assign",
    "cast_like",
    "element_types",
    "prefetch",
]

# ---------------------------------------------------------------------------------------------
# the scalar namespace: numpy's elementwise functions on scalars (identical results)


@njit
def _where(cond, a, b):
    return a if cond else b


@njit
def _logical_and(a, b):
    return bool(a) and bool(b)


@njit
def _logical_or(a, b):
    return bool(a) or bool(b)


@njit
def _logical_xor(a, b):
    return bool(a) != bool(b)


@njit
def _logical_not(a):
    return not a


@njit
def _abs(a):
    return abs(a)


@njit
def _exp(a):
    return math.exp(a)


@njit
def _tanh(a):
    return math.tanh(a)


@njit
def _log(a):
    return math.log(a)


@njit
def _sqrt(a):
    return math.sqrt(a)


@njit
def _zeros_like(a):
    return a * 0


@njit
def _ones_like(a):
    return a * 0 + 1


@njit
def _minimum(a, b):
    # numpy propagates NaN
    if a != a:
        return a
    if b != b:
        return b
    return a if a < b else b


@njit
def _maximum(a, b):
    if a != a:
        return a
    if b != b:
        return b
    return a if a > b else b


#: numpy's elementwise subset on scalars: the ``xp`` of the scalar form of a kernel
scalar_xp = types.ModuleType("snn_scalar_xp", "numpy's elementwise functions on scalars, for numba-compiled kernels")
for _name, _fn in {
    "where": _where,
    "logical_and": _logical_and,
    "logical_or": _logical_or,
    "logical_xor": _logical_xor,
    "logical_not": _logical_not,
    "abs": _abs,
    "absolute": _abs,
    "exp": _exp,
    "tanh": _tanh,
    "log": _log,
    "sqrt": _sqrt,
    "zeros_like": _zeros_like,
    "ones_like": _ones_like,
    "minimum": _minimum,
    "maximum": _maximum,
}.items():
    setattr(scalar_xp, _name, _fn)

_fmix32_jit = njit(specialize(_rng.fmix32, np))
#: :func:`snn._rng.hash32` and :func:`snn._rng.uniform` compiled (work on scalars and on int64 arrays)
hash32_jit = njit(specialize(_rng.hash32, np, fmix32=_fmix32_jit))
uniform_jit = njit(specialize(_rng.uniform, np, hash32=hash32_jit))

# ---------------------------------------------------------------------------------------------
# tuple helpers: one neuron's parameters and state out of tuples of per-neuron arrays and back.
# Written as intrinsics (LLVM generated directly for each tuple type), which numba compiles
# far faster than a recursion over the tuple.


def _column(a, i):
    return a[:, i]


def element_types(arrays: nbtypes.Type) -> nbtypes.Type | None:
    """The type of ``take(arrays, i)`` for a tuple type ``arrays`` (None if it is not per-neuron data)."""
    if not isinstance(arrays, nbtypes.BaseTuple):
        return None
    elems = []
    for t in arrays:
        if isinstance(t, nbtypes.Array):
            if t.ndim == 1:
                elems.append(t.dtype)
            elif t.ndim == 2:
                elems.append(nbtypes.Array(t.dtype, 1, "A", readonly=not t.mutable))
            else:
                return None
        elif isinstance(t, (nbtypes.Number, nbtypes.Boolean)):
            elems.append(t)
        else:
            return None
    return nbtypes.Tuple(elems)


@intrinsic
def take(typingctx, arrays, i):
    """``tuple(a[i] for a in arrays)``: ``a[:, i]`` for 2-D arrays; scalars pass through."""
    ret = element_types(arrays)
    if ret is None or not isinstance(i, nbtypes.Integer):
        return None
    elems = ret.types

    def codegen(context, builder, signature, args):
        tup, idx = args
        idx = context.cast(builder, idx, i, nbtypes.intp)
        values = []
        for k, t in enumerate(arrays):
            v = builder.extract_value(tup, k)
            if isinstance(t, nbtypes.Array) and t.ndim == 1:
                ary = make_array(t)(context, builder, v)
                ptr = cgutils.get_item_pointer(context, builder, t, ary, [idx])
                values.append(load_item(context, builder, t, ptr))
            elif isinstance(t, nbtypes.Array):
                sig = elems[k](t, nbtypes.intp)
                values.append(context.compile_internal(builder, _column, sig, [v, idx]))
            else:
                values.append(v)
        # loads and scalars carry no reference; compile_internal returned new references
        return context.make_tuple(builder, ret, values)

    return ret(arrays, i), codegen


@intrinsic
def put(typingctx, arrays, i, values):
    """``a[i] = v`` for each pair of ``arrays`` (1-D) and ``values`` (scalars), cast to ``a.dtype``."""
    if not (isinstance(arrays, nbtypes.BaseTuple) and isinstance(values, nbtypes.BaseTuple) and len(arrays) == len(values)):
        return None
    if not all(isinstance(t, nbtypes.Array) and t.ndim == 1 and t.mutable for t in arrays):
        return None
    if not all(isinstance(v, (nbtypes.Number, nbtypes.Boolean)) for v in values):
        return None

    def codegen(context, builder, signature, args):
        tup, idx, vals = args
        idx = context.cast(builder, idx, i, nbtypes.intp)
        for k, (t, vt) in enumerate(zip(arrays, values)):
            ary = make_array(t)(context, builder, builder.extract_value(tup, k))
            ptr = cgutils.get_item_pointer(context, builder, t, ary, [idx])
            val = context.cast(builder, builder.extract_value(vals, k), vt, t.dtype)
            store_item(context, builder, t, val, ptr)
        return context.get_dummy_value()

    return nbtypes.none(arrays, i, values), codegen


# LLVM 15 and later name the intrinsic by an opaque pointer type, earlier ones by ``i8*``
_PREFETCH_NAME = "llvm.prefetch.p0" if llvm_version_info[0] >= 15 else "llvm.prefetch.p0i8"


@intrinsic
def prefetch(typingctx, arr, i):
    """Ask the CPU to bring ``arr[i]`` into its caches (a hint: no effect on results, no bounds check).

    The event engine prefetches the out-synapses of the next spiking neurons
    while it adds those of the current one: the columns are random reads from
    an array much larger than the caches, and their latency, not bandwidth,
    bounds the scatter (2x fewer ns per synaptic event measured at N = 50k).
    """
    if not isinstance(arr, nbtypes.Array) or not isinstance(i, nbtypes.Integer):
        return None
    sig = nbtypes.void(arr, i)

    def codegen(context, builder, signature, args):
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [args[1]], wraparound=False, boundscheck=False)
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fn = cgutils.get_or_insert_function(builder.module, ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32]), _PREFETCH_NAME)
        # read, high temporal locality, data cache
        builder.call(fn, [builder.bitcast(ptr, i8p), ir.Constant(i32, 0), ir.Constant(i32, 3), ir.Constant(i32, 1)])
        return context.get_dummy_value()

    return sig, codegen


def assign(arrays, values):
    """``a[:] = v`` for each pair of ``arrays`` and ``values``."""
    raise NotImplementedError("numba only")


@overload(assign)
def _ov_assign(arrays, values):
    if len(arrays) == 0:
        return lambda arrays, values: None

    def impl(arrays, values):
        arrays[0][:] = values[0]
        assign(arrays[1:], values[1:])

    return impl


def cast_like(arr, value):
    """``value`` converted to ``arr.dtype`` as numpy's ``astype`` does (float to int truncates)."""
    raise NotImplementedError("numba only")


@overload(cast_like)
def _ov_cast_like(arr, value):
    dtype = arr.dtype
    return lambda arr, value: dtype(value)


# ---------------------------------------------------------------------------------------------
# compiled kernels, cached per kernel function

_KERNELS: dict[tuple[Callable, str], Callable] = {}
_SYNAPSES: dict[Callable, Callable] = {}


def compiled_kernel(kernel: Callable, form: str) -> Callable:
    """The neuron ``kernel`` specialised to the scalar or array namespace and jitted (cached).

    Compilation itself is lazy (numba compiles on the first call with given types).
    """
    key = (kernel, form)
    fn = _KERNELS.get(key)
    if fn is None:
        namespace = scalar_xp if form == "scalar" else np
        fn = njit(specialize(kernel, namespace, uniform=uniform_jit, hash32=hash32_jit))
        _KERNELS[key] = fn
    return fn


def compiled_synapse(kernel: Callable | None) -> Callable:
    """The synapse ``kernel(params, acc) -> delivered`` on numpy arrays, jitted (cached)."""
    fn = _SYNAPSES.get(kernel)
    if fn is None:
        fn = _identity_synapse if kernel is None else njit(specialize(kernel, np, uniform=uniform_jit, hash32=hash32_jit))
        _SYNAPSES[kernel] = fn
    return fn


@njit
def _identity_synapse(params, acc):
    return acc


def numba_type_of(value) -> nbtypes.Type:
    """numba's type of ``value`` (for explicit compilation)."""
    return numba.typeof(value)


# ---------------------------------------------------------------------------------------------
# views of a population's parameters and state inside the engine's flat arenas

#: arena kinds (float64, int64, bool) and the forms of an entry
KINDS = (np.dtype(np.float64), np.dtype(np.int64), np.dtype(np.bool_))
FORM_1D, FORM_SCALAR, FORM_2D = 0, 1, 2


def _view_1d(a, ent, pos, n):
    return a[ent[pos] : ent[pos] + n]


def _view_scalar(a, ent, pos, n):
    return a[ent[pos]]


def _view_2d(a, ent, pos, n):
    return a[ent[pos] : ent[pos] + ent[pos + 1] * n].reshape((ent[pos + 1], n))


_VIEWS: dict[tuple, Callable] = {}


def make_views(layout: tuple[tuple[int, int], ...]) -> Callable:
    """An intrinsic ``views(a_f, a_i, a_b, ent, base, n) -> tuple`` for one layout (cached).

    ``layout[e] = (kind, form)``: entry ``e`` lives in arena ``kind`` (0 float64,
    1 int64, 2 bool) at offset ``ent[base + 2*e]``; ``FORM_1D`` is an ``(n,)``
    view, ``FORM_SCALAR`` one value, ``FORM_2D`` a ``(rows, n)`` view with
    ``rows = ent[base + 2*e + 1]``.  The offsets are run-time values, so one
    compiled layout serves every population of the same model and shape kind.
    """
    layout = tuple((int(k), int(f)) for k, f in layout)
    fn = _VIEWS.get(layout)
    if fn is not None:
        return fn

    @intrinsic
    def views(typingctx, a_f, a_i, a_b, ent, base, n):
        arenas = (a_f, a_i, a_b)
        elems = []
        for kind, form in layout:
            dt = arenas[kind].dtype
            elems.append(nbtypes.Array(dt, 1, "C") if form == FORM_1D else dt if form == FORM_SCALAR else nbtypes.Array(dt, 2, "C"))
        ret = nbtypes.Tuple(elems)

        def codegen(context, builder, signature, args):
            values = []
            ent_v, base_v, n_v = args[3], args[4], args[5]
            base_v = context.cast(builder, base_v, base, nbtypes.int64)
            n_v = context.cast(builder, n_v, n, nbtypes.int64)
            for e, (kind, form) in enumerate(layout):
                pos = builder.add(base_v, context.get_constant(nbtypes.int64, 2 * e))
                helper = (_view_1d, _view_scalar, _view_2d)[form]
                sig = elems[e](arenas[kind], ent, nbtypes.int64, nbtypes.int64)
                values.append(context.compile_internal(builder, helper, sig, [args[kind], ent_v, pos, n_v]))
            return context.make_tuple(builder, ret, values)

        return ret(a_f, a_i, a_b, ent, base, n), codegen

    _VIEWS[layout] = views
    return views
