"""One error hierarchy for the toolkit.

Every error subclasses :class:`SNNError` *and* the builtin a caller would expect
(``ValueError`` for bad values, ``TypeError`` for wrong types), so code written
against plain Python exceptions keeps working.  Messages name the argument, the
value received and what is allowed.
"""

from __future__ import annotations

__all__ = [
    "SNNError",
    "SNNTypeError",
    "ModelError",
    "LayoutError",
    "ConnectError",
    "NetworkError",
    "SimulationError",
    "FileFormatError",
    "bad_value",
]


class SNNError(Exception):
    """Base class of every error raised by the toolkit."""


class SNNTypeError(SNNError, TypeError):
    """An argument has the wrong type."""


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
