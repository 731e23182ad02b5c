"""One error hierarchy for the toolkit.

Every error subclasses :class:`SNNError` *and* the builtin a caller would expect
(``ValueError`` for bad values, ``TypeError`` for wrong types), so code written
against plain Python exceptions keeps working.  Messages name the argument, the
value received and what is allowed.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

__all__ = [
    "SNNError",
    "SNNTypeError",
    "SNNValueError",
    "ModelError",
    "LayoutError",
    "ConnectError",
    "NetworkError",
    "SimulationError",
    "FileFormatError",
    "bad_value",
    "check_int",
    "check_real",
    "check_array",
    "check_delays",
    "check_seed",
    "MAX_DELAY_STEPS",
    "SEED_LIMIT",
]


class SNNError(Exception):
    """Base class of every error raised by the toolkit."""


class SNNTypeError(SNNError, TypeError):
    """An argument has the wrong type."""


class SNNValueError(SNNError, ValueError):
    """An argument has an invalid value (the default of the ``check_*`` validators)."""


class ModelError(SNNError, ValueError):
    """A neuron model got a parameter outside its allowed range."""


class LayoutError(SNNError, ValueError):
    """A 3D layout got invalid arguments or positions."""


class ConnectError(SNNError, ValueError):
    """A connection rule, weight or delay is invalid."""


class NetworkError(SNNError, ValueError):
    """A network description is invalid (names, sizes, projections)."""


class SimulationError(SNNError, ValueError):
    """``simulate`` got invalid arguments."""


class FileFormatError(SNNError, ValueError):
    """A file is corrupted, foreign, or of an unsupported version."""


def bad_value(cls: type[SNNError], name: str, value: object, allowed: str) -> SNNError:
    """Build an error whose message names the argument, the value and what is allowed."""
    text = repr(value)
    if len(text) > 120:
        text = text[:117] + "..."
    return cls(f"{name}={text}: {allowed}")


# ---------------------------------------------------------------------------------------------
# public validators: one home for the numeric checks of every module

#: The largest synaptic delay, in steps, that a network may hold.  Every engine keeps a
#: ring of ``max_delay + 1`` slots per projection (``(max_delay + 1) * n_post`` values), so
#: the bound is what they can allocate for a modest ``n_post`` (65,537 slots x 1,000 post
#: neurons of float64 are 0.5 GB), and every slot index stays far inside int32 (the event
#: engine's per-synapse delays) and int64 (``t + delay``).
MAX_DELAY_STEPS = 2**16

#: Seeds are ints in ``[0, SEED_LIMIT)``: one unsigned 64-bit word.
SEED_LIMIT = 2**64


def _is_real_scalar(value: object) -> bool:
    """A real number that is not a bool: int, float, numpy integer or floating."""
    return isinstance(value, (numbers.Real, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def check_int(
    value: Any,
    name: str,
    *,
    min_value: int | None = None,
    max_value: int | None = None,
    whole_floats: bool = False,
    cls: type[SNNError] | None = None,
) -> int:
    """``value`` as a Python int, or an error naming ``name``, the value and what is allowed.

    Parameters
    ----------
    value : object
        An int or numpy integer; with ``whole_floats``, also a finite float with no
        fractional part (``2.0``).  Bools, strings, bytes, complex numbers and
        arrays raise :class:`SNNTypeError`.
    name : str
        The argument's name, for the message.
    min_value, max_value : int, optional
        Inclusive bounds.
    cls : SNNError subclass
        The error for a value out of bounds (default :class:`SNNValueError`).
    """
    cls = cls or SNNValueError
    bounds = _bounds_text(min_value, max_value)
    kind = "an int" + (" (or a whole float)" if whole_floats else "")
    if isinstance(value, (numbers.Integral, np.integer)) and not isinstance(value, (bool, np.bool_)):
        out = int(value)
    elif whole_floats and _is_real_scalar(value):
        f = float(value)
        if not math.isfinite(f) or f != math.floor(f):
            raise bad_value(cls, name, value, f"must be a whole number{bounds}")
        out = int(f)
    else:
        raise bad_value(SNNTypeError, name, value, f"must be {kind}{bounds}, not {type(value).__name__}")
    if (min_value is not None and out < min_value) or (max_value is not None and out > max_value):
        raise bad_value(cls, name, value, f"must be {kind}{bounds}")
    return out


def check_real(
    value: Any,
    name: str,
    *,
    min_value: float | None = None,
    max_value: float | None = None,
    min_open: bool = False,
    finite: bool = True,
    cls: type[SNNError] | None = None,
) -> float:
    """``value`` as a Python float, or an error naming ``name``, the value and what is allowed.

    Ints, floats and numpy integer/floating scalars are accepted (an int too
    large for a float is refused, not an ``OverflowError``); bools, strings,
    bytes, complex numbers and arrays raise :class:`SNNTypeError`.  NaN is always
    refused, infinities unless ``finite=False``; ``min_value`` is exclusive with
    ``min_open``, ``max_value`` inclusive.
    """
    cls = cls or SNNValueError
    lo = "" if min_value is None else (f" > {min_value}" if min_open else f" >= {min_value}")
    hi = "" if max_value is None else f" <= {max_value}"
    allowed = ("a finite number" if finite else "a number") + (lo + (" and" if lo and hi else "") + hi)
    if not _is_real_scalar(value):
        raise bad_value(SNNTypeError, name, value, f"must be {allowed}, not {type(value).__name__}")
    try:
        out = float(value)
    except OverflowError:
        raise bad_value(cls, name, value, f"must be {allowed} (too large for a float)") from None
    bad = math.isnan(out) or (finite and math.isinf(out))
    bad = bad or (min_value is not None and (out <= min_value if min_open else out < min_value))
    bad = bad or (max_value is not None and out > max_value)
    if bad:
        raise bad_value(cls, name, value, f"must be {allowed}")
    return out


def check_array(
    value: Any,
    name: str,
    *,
    dtype: Any = np.float64,
    kinds: str = "iuf",
    ndim: int | tuple[int, ...] | None = None,
    shape: tuple[int, ...] | None = None,
    finite: bool = True,
    cls: type[SNNError] | None = None,
) -> np.ndarray:
    """``value`` as a new array of ``dtype``, its dtype checked *before* any conversion.

    Parameters
    ----------
    value : array_like
        Numbers.  Its own dtype kind (numpy's ``dtype.kind``) must be in
        ``kinds`` (default integers and floats: bools, complex numbers, strings,
        bytes and objects raise :class:`SNNTypeError`, a ``str`` or ``bytes``
        scalar too).  An object array holding only real numbers (e.g. Python ints
        beyond int64) is judged by its values.
    dtype : numpy dtype or None
        The dtype of the result (``None``: the input's own).
    ndim, shape : optional
        Required number of dimensions (an int or a tuple of allowed ones), or shape.
    finite : bool
        Refuse NaN and infinities (NaN is refused by an int ``dtype`` anyway).
    cls : SNNError subclass
        The error for a wrong shape or value.
    """
    cls = cls or SNNValueError
    if isinstance(value, (str, bytes, bytearray, memoryview)):
        raise bad_value(SNNTypeError, name, value, "must be an array of numbers, not a string or bytes")
    try:
        raw = np.asarray(value)
    except (TypeError, ValueError, OverflowError) as exc:
        raise bad_value(SNNTypeError, name, value, f"must be an array of numbers ({exc})") from None
    if raw.dtype.kind == "O" and "O" not in kinds:
        flat = raw.ravel()
        if not all(_is_real_scalar(v) for v in flat):
            shown = next(v for v in flat if not _is_real_scalar(v))
            raise bad_value(SNNTypeError, name, value, f"must hold real numbers only (found {type(shown).__name__} {shown!r})")
        try:
            raw = raw.astype(np.float64)
        except OverflowError:
            raise bad_value(cls, name, value, "holds a number too large for a float") from None
    if raw.dtype.kind not in kinds:
        names = {
            "b": "bools",
            "i": "ints",
            "u": "unsigned ints",
            "f": "floats",
            "c": "complex numbers",
            "U": "strings",
            "S": "bytes",
            "O": "objects",
        }
        allowed = ", ".join(names.get(k, k) for k in kinds)
        raise bad_value(
            SNNTypeError, name, value, f"has dtype {raw.dtype} ({names.get(raw.dtype.kind, raw.dtype.kind)}); allowed: {allowed}"
        )
    if ndim is not None and raw.ndim not in ((ndim,) if isinstance(ndim, int) else tuple(ndim)):
        raise bad_value(cls, name, f"array of shape {raw.shape}", f"must have {ndim} dimension(s)")
    if shape is not None and raw.shape != tuple(shape):
        raise bad_value(cls, name, f"array of shape {raw.shape}", f"must have shape {tuple(shape)}")
    if finite and raw.dtype.kind in "fc" and not np.all(np.isfinite(raw)):
        raise bad_value(cls, name, _first(raw, ~np.isfinite(raw)), "must be finite (no NaN or inf)")
    target = raw.dtype if dtype is None else np.dtype(dtype)
    if target.kind in "iu" and raw.size:
        info = np.iinfo(target)
        if raw.dtype.kind == "f":
            bad = ~np.isfinite(raw) | (raw != np.floor(raw)) | (raw < float(info.min)) | (raw >= float(info.max) + 1.0)
            if bad.any():
                raise bad_value(cls, name, _first(raw, bad), f"must hold whole numbers that fit {target} ([{info.min}, {info.max}])")
        elif raw.dtype.kind in "iu" and (int(raw.min()) < info.min or int(raw.max()) > info.max):
            shown = int(raw.min()) if int(raw.min()) < info.min else int(raw.max())
            raise bad_value(cls, name, shown, f"must fit {target} ([{info.min}, {info.max}])")
    return np.array(raw, dtype=target)


def check_delays(values: Any, name: str = "delay_steps", *, min_steps: int = 0, cls: type[SNNError] | None = None) -> np.ndarray:
    """Synaptic delays in steps as an int64 array of the same shape, within ``[min_steps, MAX_DELAY_STEPS]``.

    The one check every delay passes before any engine sees it: the network API
    (:meth:`snn.Network.add_projection`, :meth:`snn.Network.connect`), the plan every
    engine runs from, and the file loader.  Accepts ints, unsigned ints and whole
    floats (a scalar or any array); refuses bools, complex numbers, strings,
    NaN, infinities, fractions and values outside the range, *before* converting
    (so ``10**30``, ``2**63``, ``1e30`` are refused, never wrapped to a negative int64).

    Raises
    ------
    SNNTypeError
        Not numbers.
    cls (default :class:`ConnectError`)
        A value outside ``[min_steps, MAX_DELAY_STEPS]`` or not whole.
    """
    cls = cls or ConnectError
    allowed = f"delays must be whole numbers of steps in [{min_steps}, {MAX_DELAY_STEPS}] (snn.errors.MAX_DELAY_STEPS)"
    if isinstance(values, (str, bytes, bytearray, memoryview, bool, np.bool_)):
        raise bad_value(SNNTypeError, name, values, allowed)
    raw = np.asarray(values) if not isinstance(values, np.ndarray) else values
    if raw.dtype.kind in "iu":
        # integers are compared as they are: no float copy of every delay of a large network
        if raw.size and (int(raw.min()) < min_steps or int(raw.max()) > MAX_DELAY_STEPS):
            shown = int(raw.min()) if int(raw.min()) < min_steps else int(raw.max())
            raise bad_value(cls, name, shown, allowed)
        return raw.astype(np.int64, copy=False)
    arr = check_array(raw, name, dtype=np.float64, finite=False, cls=cls)
    bad = ~np.isfinite(arr) | (arr != np.floor(arr)) | (arr < min_steps) | (arr > MAX_DELAY_STEPS)
    if np.any(bad):
        raise bad_value(cls, name, _first(arr, bad), allowed)
    return arr.astype(np.int64)


def check_seed(seed: Any, name: str = "seed", *, cls: type[SNNError] | None = None) -> int:
    """A seed as a Python int in ``[0, SEED_LIMIT)`` (= ``[0, 2**64)``); anything else is refused, never reduced."""
    return check_int(seed, name, min_value=0, max_value=SEED_LIMIT - 1, cls=cls)


def _bounds_text(lo: int | None, hi: int | None) -> str:
    if lo is not None and hi is not None:
        return f" in [{lo}, {hi}]"
    if lo is not None:
        return f" >= {lo}"
    if hi is not None:
        return f" <= {hi}"
    return ""


def _first(arr: np.ndarray, mask: np.ndarray) -> Any:
    """The first offending element, as a Python scalar."""
    return arr[mask].ravel()[0].item()
