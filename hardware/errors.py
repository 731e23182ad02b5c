"""Errors and warnings of the ``hardware`` package.

Every error subclasses :class:`snn.errors.SNNError` and the builtin a caller
would expect, like the core's errors.
"""

from __future__ import annotations

from snn.errors import SNNError

__all__ = [
    "HardwareError",
    "QuantizationError",
    "LavaError",
    "LavaNotFoundError",
    "LavaTimeoutError",
    "ExportError",
    "LoihiClipWarning",
]


class HardwareError(SNNError):
    """Base class of the errors raised by :mod:`hardware`."""


class QuantizationError(HardwareError, ValueError):
    """A network (or a value in it) does not fit Loihi's fixed-point registers."""


class ExportError(HardwareError, ValueError):
    """A network cannot be exported to Lava (unsupported model, synapse, delay...)."""


class LavaError(HardwareError, RuntimeError):
    """Running Lava failed; the message carries Lava's stderr."""


class LavaNotFoundError(LavaError):
    """No Python interpreter with Lava could be found."""


class LavaTimeoutError(LavaError, TimeoutError):
    """Lava did not finish within the time limit."""


class LoihiClipWarning(UserWarning):
    """Weights outside the synapse's register range were clipped (as Lava clips them)."""
