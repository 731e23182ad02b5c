"""snn: spiking networks in 3D, simulated by sparse, event-driven engines.

``import snn`` imports neither torch nor lava; engines that need them are
imported when asked for.
"""

from snn import connect, errors, layout, metrics, nir
from snn.io import load, save
from snn.models import (
    IF,
    LI,
    LIF,
    Boltzmann,
    CurrentSource,
    ExternalInput,
    NeuronModel,
    PoissonSource,
    SigmaDelta,
    SpikeSource,
    register_model,
)
from snn.network import Network, Population, Projection
from snn.results import OpCounts, RunResult
from snn.simulate import engine_names, simulate
from snn.state import SimState, init_state, load_state, save_state
from snn.synapses import Synapse, register_synapse

__version__ = "0.1.0"

__all__ = [
    "IF",
    "LI",
    "LIF",
    "Boltzmann",
    "CurrentSource",
    "ExternalInput",
    "Network",
    "NeuronModel",
    "OpCounts",
    "PoissonSource",
    "Population",
    "Projection",
    "RunResult",
    "SigmaDelta",
    "SimState",
    "SpikeSource",
    "Synapse",
    "__version__",
    "connect",
    "engine_names",
    "errors",
    "layout",
    "init_state",
    "load",
    "load_state",
    "metrics",
    "nir",
    "register_model",
    "register_synapse",
    "save",
    "save_state",
    "simulate",
]
