"""Errors of the energy package (each also subclasses the builtin a caller expects)."""

from __future__ import annotations

from snn.errors import SNNError, SNNTypeError

__all__ = ["EnergyError", "ProfileError", "UnpricedOperationError", "BaselineError", "SNNTypeError"]


class EnergyError(SNNError, ValueError):
    """An energy estimate, report or baseline got invalid arguments."""


class ProfileError(EnergyError):
    """A device profile is unknown, malformed, or used for what it cannot price."""


class UnpricedOperationError(EnergyError):
    """The counts contain an operation the profile has no price for.

    Raised instead of returning a partial total.  ``kind`` names the operation,
    ``count`` how many there were, ``profile`` the profile's name.
    """

    def __init__(self, message: str, *, kind: str = "", count: int = 0, profile: str = "") -> None:
        super().__init__(message)
        self.kind = kind
        self.count = count
        self.profile = profile


class BaselineError(EnergyError):
    """A dense baseline could not be measured or modelled as asked."""
