"""The synapse slot of a projection.

By default a projection delivers, in each step, the plain sum of the weights of
the spikes that arrive (``weights @ out``).  A :class:`Synapse` changes that in
two places, which is all that fixed-point hardware needs and all the core knows:

* :meth:`Synapse.prepare` maps the projection's weights once, before a run
  (e.g. clipping to a register range);
* its ``kernel(params, acc) -> delivered`` maps the accumulated input of one
  step of this projection (e.g. an exponent shift applied to the sum).

Synapse kernels follow the same rules as neuron kernels (:mod:`snn.kernels`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from snn.errors import NetworkError

__all__ = ["Synapse", "register_synapse", "synapse_class"]

_REGISTRY: dict[str, type[Synapse]] = {}


def register_synapse(cls: type[Synapse]) -> type[Synapse]:
    """Class decorator: make a synapse type known to :func:`snn.load`."""
    _REGISTRY[cls.__name__] = cls
    return cls


def synapse_class(name: str) -> type[Synapse]:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise NetworkError(
            f"synapse={name!r}: unknown synapse type; known: {sorted(_REGISTRY)} "
            "(import the package that defines it first, e.g. hardware.loihi)"
        ) from None


class Synapse:
    """Base class of synapse types (frozen dataclasses)."""

    #: dtype of the accumulated input and of what is delivered ("float64" or "int64")
    dtype: ClassVar[str] = "float64"
    #: ``kernel(params, acc) -> delivered``
    kernel: ClassVar[Callable]

    def prepare(self, weights: sp.csr_matrix) -> sp.csr_matrix:
        """The weights used in a run; must return a new matrix with the same sparsity pattern."""
        return weights

    def params(self) -> tuple[np.ndarray, ...]:
        return ()

    def to_record(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Synapse:
        return cls(**record)
