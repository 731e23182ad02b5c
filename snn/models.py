"""Neuron models: frozen parameter records, one step kernel each.

Every model is a frozen dataclass of parameters with units in the names.  A
parameter may be a scalar or a per-neuron array of shape ``(n,)``.  A model
knows its state variables, how to turn its parameters into the per-neuron
arrays its kernel needs (:meth:`NeuronModel.params`) and its initial state.
The maths of each step lives in :mod:`snn.kernels`, written once for every
engine.  Other packages add models by subclassing :class:`NeuronModel` and
decorating the class with :func:`register_model` (so saved networks can name it).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from snn import kernels
from snn.errors import ModelError, SNNTypeError, bad_value, check_array, check_real

__all__ = [
    "NeuronModel",
    "LIF",
    "IF",
    "LI",
    "SigmaDelta",
    "Boltzmann",
    "PoissonSource",
    "SpikeSource",
    "CurrentSource",
    "ExternalInput",
    "register_model",
    "model_class",
    "model_names",
]

_REGISTRY: dict[str, type[NeuronModel]] = {}


def register_model(cls: type[NeuronModel]) -> type[NeuronModel]:
    """Class decorator: make a model known to :func:`snn.load` by its class name."""
    name = cls.__name__
    if name in _REGISTRY and _REGISTRY[name] is not cls:
        raise ModelError(f"a different neuron model named {name!r} is already registered")
    _REGISTRY[name] = cls
    return cls


def model_class(name: str) -> type[NeuronModel]:
    """The registered model class called ``name``."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ModelError(
            f"model={name!r}: unknown neuron model; known: {sorted(_REGISTRY)} "
            "(import the package that defines it first, e.g. hardware.loihi)"
        ) from None


def model_names() -> list[str]:
    """Names of every registered neuron model."""
    return sorted(_REGISTRY)


def _scalar_or_array(name: str, value: Any, *, allow_none: bool = False) -> Any:
    """Validate a parameter that is a real scalar or a 1-D array; arrays become read-only float64."""
    if value is None:
        if allow_none:
            return None
        raise bad_value(ModelError, name, value, "must be a number or a per-neuron array, not None")
    if isinstance(value, (bool, np.bool_)):
        raise SNNTypeError(f"{name}={value!r}: must be a number or a per-neuron array, not a bool")
    if isinstance(value, (int, float, np.integer, np.floating)):
        # NaN and numbers too large for a float are refused here; finiteness is each parameter's own rule
        return check_real(value, name, finite=False, cls=ModelError)
    # the dtype is judged before any conversion: strings, bytes, complex numbers and bools are refused
    # (as a plain bool is), never parsed or truncated
    arr = check_array(value, name, finite=False, cls=ModelError)
    if arr.ndim == 0:
        return _scalar_or_array(name, float(arr))
    if arr.ndim != 1:
        raise bad_value(ModelError, name, f"array of shape {arr.shape}", "must be a scalar or a 1-D per-neuron array (n,)")
    if np.isnan(arr).any():
        raise bad_value(ModelError, name, "array containing NaN", "must not contain NaN")
    arr.setflags(write=False)
    return arr


def _check(name: str, value: Any, ok: Callable[[np.ndarray], np.ndarray], allowed: str) -> None:
    if value is None:
        return
    arr = np.asarray(value, dtype=np.float64)
    if not np.all(ok(arr)):
        shown = value if np.ndim(value) == 0 else f"array with offending value {arr[~ok(arr)].ravel()[0]!r}"
        raise bad_value(ModelError, name, shown, allowed)


def _broadcast(name: str, value: Any, n: int) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim == 0:
        return np.full(n, float(arr))
    if arr.shape != (n,):
        raise bad_value(ModelError, name, f"array of shape {arr.shape}", f"must be a scalar or have shape ({n},) for this population")
    return arr.copy()


class NeuronModel:
    """Base class of neuron models (frozen dataclasses).

    Subclasses set the class attributes below and implement :meth:`params`.
    """

    #: names of the state variables, in the order the kernel takes them
    state_vars: ClassVar[tuple[str, ...]] = ()
    #: True for populations that receive no synaptic input (inputs to the network)
    is_source: ClassVar[bool] = False
    #: True when the output is graded (a value) rather than a binary spike
    graded: ClassVar[bool] = False
    #: the array dtype of state and input ("float64", or "int64" for fixed point)
    dtype: ClassVar[str] = "float64"
    #: the step kernel, ``kernel(params, state, x, step, key) -> (out, new_state)``
    kernel: ClassVar[Callable]

    def params(self, n: int, dt_ms: float) -> tuple[np.ndarray, ...]:
        """The per-neuron parameter arrays of the kernel for ``n`` neurons and step ``dt_ms``."""
        raise NotImplementedError

    def initial_state(self, n: int) -> dict[str, np.ndarray]:
        """Initial state arrays ``{var: (n,)}``; zeros unless a model says otherwise."""
        return {v: np.zeros(n, dtype=self.dtype) for v in self.state_vars}

    def check_dt(self, dt_ms: float) -> None:
        """Raise if the model cannot run with the step ``dt_ms`` (called when a population is added).

        The default accepts every step; models whose parameters are only valid for
        some steps (a spike probability per step, an explicit integration scheme)
        override it.
        """

    def check_state(self, var: str, values: np.ndarray) -> None:
        """Raise if ``values`` (an ``(n,)`` array of the variable's dtype) is not a valid initial ``var``.

        Called by :meth:`snn.Network.add_population` for each ``initial_state``
        entry, after the dtype check; models with bounded state (fixed-point
        registers) override it.  The default accepts every value.
        """

    def check_size(self, n: int) -> None:
        """Raise if an array parameter does not fit a population of ``n`` neurons."""
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, np.ndarray) and value.ndim == 1 and value.shape != (n,):
                raise bad_value(
                    ModelError, f.name, f"array of shape {value.shape}", f"must be a scalar or have shape ({n},) for a population of {n}"
                )

    # --- serialisation: scalars to JSON, arrays to the .npz -----------------------------
    def to_record(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """``(json-able scalars, arrays)`` describing this model exactly."""
        scalars: dict[str, Any] = {}
        arrays: dict[str, np.ndarray] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, np.ndarray):
                arrays[f.name] = value
            else:
                scalars[f.name] = value
        return scalars, arrays

    @classmethod
    def from_record(cls, scalars: dict[str, Any], arrays: dict[str, np.ndarray]) -> NeuronModel:
        names = {f.name for f in dataclasses.fields(cls)}
        given = set(scalars) | set(arrays)
        if not given <= names:
            raise ModelError(f"model {cls.__name__}: unknown parameters {sorted(given - names)}; allowed: {sorted(names)}")
        return cls(**scalars, **arrays)


#: the discretisations of :class:`LIF` and :class:`LI` (see :class:`LIF`)
INTEGRATIONS = ("exact", "euler", "euler_input_first", "euler_current_first")


def _lif_coefficients(n, dt_ms, m, *, integration, tau_syn_ms):
    """Coefficients ``(a_vv, a_vi, a_vx, drive, b_ii, b_ix)`` of ``v' = a_vv*v + a_vi*i + a_vx*x + drive``, ``i' = b_ii*i + b_ix*x``."""
    tau_m = _broadcast("tau_mem_ms", m.tau_mem_ms, n)
    rest = _broadcast("v_leak", m.v_leak, n) + _broadcast("bias", m.bias, n)
    rr = _broadcast("r", m.r, n)
    zeros = np.zeros(n)
    if integration == "exact":
        alpha = np.exp(-dt_ms / tau_m)
        drive = (1.0 - alpha) * rest
        if tau_syn_ms is None:
            return (alpha, zeros, alpha, drive, zeros.copy(), zeros.copy())
        tau_s = _broadcast("tau_syn_ms", tau_syn_ms, n)
        beta = np.exp(-dt_ms / tau_s)
        same = np.isclose(tau_s, tau_m, rtol=1e-12, atol=0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            c = np.where(same, rr * (dt_ms / tau_m) * alpha, rr * tau_s / (tau_s - tau_m) * (beta - alpha))
        # input jumps i first, then exact integration over dt
        return (alpha, c, c, drive, beta, beta)
    # forward Euler; the three orders differ only with a synaptic current
    k = dt_ms / tau_m
    drive = k * rest
    if tau_syn_ms is None:
        return (1.0 - k, zeros, k * rr, drive, zeros.copy(), zeros.copy())
    ks = dt_ms / _broadcast("tau_syn_ms", tau_syn_ms, n)
    if integration == "euler":  # v uses the old i; input enters i after (Norse < 1.0)
        return (1.0 - k, k * rr, zeros, drive, 1.0 - ks, np.ones(n))
    if integration == "euler_input_first":  # input jumps i; v uses the jumped i; then i decays (Norse >= 1.0)
        return (1.0 - k, k * rr, k * rr, drive, 1.0 - ks, 1.0 - ks)
    # euler_current_first: i' = i + ks*(-i + x) first, then v uses i' (snnTorch Synaptic)
    return (1.0 - k, k * rr * (1.0 - ks), k * rr * ks, drive, 1.0 - ks, ks)


def _lif_params(n, dt_ms, m, *, integration, tau_syn_ms, late):
    """Coefficients ``(a_vv, a_vi, a_vx, drive, b_ii, b_ix, v_th, v_reset, subtract, late, refractory)``."""
    coeffs = _lif_coefficients(n, dt_ms, m, integration=integration, tau_syn_ms=tau_syn_ms)
    return coeffs + (
        _broadcast("v_th", m.v_th, n),
        _broadcast("v_reset", m.v_reset, n),
        np.full(n, m.reset == "subtract"),
        np.full(n, late),
        _broadcast("refractory_steps", m.refractory_steps, n),
    )


def _check_euler_stable(model: Any, dt_ms: float) -> None:
    """Refuse forward-Euler time constants below ``dt_ms / 2``, where ``x' = (1 - dt/tau) x`` grows without bound."""
    if model.integration == "exact":
        return
    for name in ("tau_mem_ms", "tau_syn_ms"):
        tau = getattr(model, name)
        if tau is None:
            continue
        arr = np.asarray(tau, dtype=np.float64)
        bad = arr < dt_ms / 2.0
        if np.any(bad):
            shown = tau if np.ndim(tau) == 0 else f"array with offending value {float(arr[bad].ravel()[0])!r}"
            raise bad_value(
                ModelError,
                name,
                shown,
                f"forward Euler (integration={model.integration!r}) diverges when tau < dt/2; with dt_ms={dt_ms} it must be >= {dt_ms / 2.0} ms "
                "(or use integration='exact', or a smaller dt_ms)",
            )


def _check_integration(integration: str) -> None:
    if integration not in INTEGRATIONS:
        raise bad_value(ModelError, "integration", integration, f"must be one of {list(INTEGRATIONS)}")


def _check_reset(reset: str, refractory_steps: Any, reset_timing: str = "immediate") -> None:
    if reset not in ("zero", "subtract"):
        raise bad_value(ModelError, "reset", reset, "must be 'zero' (reset to v_reset) or 'subtract' (v -= v_th)")
    _check("refractory_steps", refractory_steps, lambda a: (a >= 0) & (a == np.round(a)), "must be a non-negative whole number of steps")
    if reset_timing not in ("immediate", "next_step"):
        raise bad_value(
            ModelError,
            "reset_timing",
            reset_timing,
            "must be 'immediate' or 'next_step' (snnTorch's default: the reset is applied one step late)",
        )
    if reset_timing == "next_step" and np.any(np.asarray(refractory_steps) > 0):
        raise bad_value(ModelError, "refractory_steps", refractory_steps, "must be 0 when reset_timing='next_step'")


@register_model
@dataclass(frozen=True, eq=False)
class LIF(NeuronModel):
    """Leaky integrate-and-fire neuron, current- or delta-synapse (the NIR CubaLIF form).

    ``tau_syn_ms * dI/dt = -I + input`` and
    ``tau_mem_ms * dv/dt = (v_leak - v) + r * I + bias``, integrated exactly over
    each step.  With ``tau_syn_ms=None`` synapses are delta: the input of a step
    jumps ``v`` directly.  A neuron spikes when ``v > v_th`` and then resets to
    ``v_reset`` (``reset="zero"``) or subtracts ``v_th`` (``reset="subtract"``);
    for ``refractory_steps`` steps after a spike ``v`` is held and delta input is
    discarded.  State: ``v`` (starts at ``v_leak``), ``i``, ``refractory``.

    ``integration="exact"`` (default) integrates the linear system exactly over
    the step, the input of a step jumping ``i`` (or ``v`` for delta synapses,
    without ``r``) at its start.  ``integration="euler"`` is forward Euler in
    Norse's order: ``v += dt/tau_mem*(v_leak - v + r*i + bias)`` with the old
    ``i``, then ``i += -dt/tau_syn*i + input``; for delta synapses
    ``v += dt/tau_mem*(v_leak - v + bias + r*input)``.
    ``reset_timing="next_step"`` applies the reset one step late, decided from
    the stored ``v > v_th`` (snnTorch's default ``reset_delay``); the recorded
    ``v`` of a spiking step is then not reset.
    """

    tau_mem_ms: Any = 20.0
    tau_syn_ms: Any = None
    v_th: Any = 1.0
    v_reset: Any = 0.0
    v_leak: Any = 0.0
    r: Any = 1.0
    bias: Any = 0.0
    reset: str = "zero"
    refractory_steps: Any = 0
    integration: str = "exact"
    reset_timing: str = "immediate"

    state_vars: ClassVar[tuple[str, ...]] = ("v", "i", "refractory")
    kernel: ClassVar[Callable] = staticmethod(kernels.lif_kernel)

    def __post_init__(self) -> None:
        _check_integration(self.integration)
        for name in ("tau_mem_ms", "v_th", "v_reset", "v_leak", "r", "bias", "refractory_steps"):
            object.__setattr__(self, name, _scalar_or_array(name, getattr(self, name)))
        object.__setattr__(self, "tau_syn_ms", _scalar_or_array("tau_syn_ms", self.tau_syn_ms, allow_none=True))
        positive = "must be a positive, finite time constant in ms"
        _check("tau_mem_ms", self.tau_mem_ms, lambda a: np.isfinite(a) & (a > 0), positive)
        _check("tau_syn_ms", self.tau_syn_ms, lambda a: np.isfinite(a) & (a > 0), positive + " (or None for delta synapses)")
        for name in ("v_th", "v_reset", "v_leak", "r", "bias"):
            _check(name, getattr(self, name), np.isfinite, "must be finite")
        _check_reset(self.reset, self.refractory_steps, self.reset_timing)

    def check_dt(self, dt_ms: float) -> None:
        _check_euler_stable(self, dt_ms)

    def params(self, n: int, dt_ms: float) -> tuple[np.ndarray, ...]:
        return _lif_params(n, dt_ms, self, integration=self.integration, tau_syn_ms=self.tau_syn_ms, late=self.reset_timing == "next_step")

    def initial_state(self, n: int) -> dict[str, np.ndarray]:
        state = super().initial_state(n)
        state["v"] = _broadcast("v_leak", self.v_leak, n)
        return state


@register_model
@dataclass(frozen=True, eq=False)
class IF(NeuronModel):
    """Integrate-and-fire without leak: ``v += input + bias`` each step, spike when ``v > v_th``."""

    v_th: Any = 1.0
    v_reset: Any = 0.0
    bias: Any = 0.0
    reset: str = "zero"
    refractory_steps: Any = 0

    state_vars: ClassVar[tuple[str, ...]] = ("v", "i", "refractory")
    kernel: ClassVar[Callable] = staticmethod(kernels.lif_kernel)

    def __post_init__(self) -> None:
        for name in ("v_th", "v_reset", "bias", "refractory_steps"):
            object.__setattr__(self, name, _scalar_or_array(name, getattr(self, name)))
            _check(name, getattr(self, name), np.isfinite, "must be finite")
        _check_reset(self.reset, self.refractory_steps)

    def params(self, n: int, dt_ms: float) -> tuple[np.ndarray, ...]:
        zeros = np.zeros(n)
        return (
            np.ones(n),
            zeros,
            np.ones(n),
            _broadcast("bias", self.bias, n),
            zeros.copy(),
            zeros.copy(),
            _broadcast("v_th", self.v_th, n),
            _broadcast("v_reset", self.v_reset, n),
            np.full(n, self.reset == "subtract"),
            np.zeros(n, dtype=bool),
            _broadcast("refractory_steps", self.refractory_steps, n),
        )


@register_model
@dataclass(frozen=True, eq=False)
class LI(NeuronModel):
    """Leaky integrator without spikes (NIR's LI and CubaLI): its graded output is ``v``.

    The equations, parameters and ``integration`` orders are those of
    :class:`LIF` without threshold and reset.  Each step it sends its new ``v``
    (a graded value; ``v == 0`` sends nothing), e.g. the read-out layer of a
    network trained in Norse or snnTorch.  State: ``v`` (starts at ``v_leak``), ``i``.
    """

    tau_mem_ms: Any = 20.0
    tau_syn_ms: Any = None
    v_leak: Any = 0.0
    r: Any = 1.0
    bias: Any = 0.0
    integration: str = "exact"

    state_vars: ClassVar[tuple[str, ...]] = ("v", "i")
    graded: ClassVar[bool] = True
    kernel: ClassVar[Callable] = staticmethod(kernels.li_kernel)

    def __post_init__(self) -> None:
        _check_integration(self.integration)
        for name in ("tau_mem_ms", "v_leak", "r", "bias"):
            object.__setattr__(self, name, _scalar_or_array(name, getattr(self, name)))
        object.__setattr__(self, "tau_syn_ms", _scalar_or_array("tau_syn_ms", self.tau_syn_ms, allow_none=True))
        positive = "must be a positive, finite time constant in ms"
        _check("tau_mem_ms", self.tau_mem_ms, lambda a: np.isfinite(a) & (a > 0), positive)
        _check("tau_syn_ms", self.tau_syn_ms, lambda a: np.isfinite(a) & (a > 0), positive + " (or None for delta synapses)")
        for name in ("v_leak", "r", "bias"):
            _check(name, getattr(self, name), np.isfinite, "must be finite")

    def check_dt(self, dt_ms: float) -> None:
        _check_euler_stable(self, dt_ms)

    def params(self, n: int, dt_ms: float) -> tuple[np.ndarray, ...]:
        return _lif_coefficients(n, dt_ms, self, integration=self.integration, tau_syn_ms=self.tau_syn_ms)

    def initial_state(self, n: int) -> dict[str, np.ndarray]:
        state = super().initial_state(n)
        state["v"] = _broadcast("v_leak", self.v_leak, n)
        return state


@register_model
@dataclass(frozen=True, eq=False)
class SigmaDelta(NeuronModel):
    """Sigma-delta neuron with graded spikes, as Lava's sigma-delta neurons.

    ``sigma += input`` (the sum of the deltas received: it reconstructs the
    weighted sum of the senders' values); ``act = f(sigma + bias)`` with ``f``
    the identity or ReLU; the neuron sends the graded message
    ``delta = act - ref`` when ``|delta| >= vth`` and then ``ref += delta``, so
    ``ref`` is the value its targets see.  Activity falls to zero when the
    values stop changing.  State: ``sigma``, ``ref``.
    """

    vth: Any = 0.0
    bias: Any = 0.0
    activation: str = "identity"

    state_vars: ClassVar[tuple[str, ...]] = ("sigma", "ref")
    graded: ClassVar[bool] = True
    kernel: ClassVar[Callable] = staticmethod(kernels.sigma_delta_kernel)

    def __post_init__(self) -> None:
        object.__setattr__(self, "vth", _scalar_or_array("vth", self.vth))
        object.__setattr__(self, "bias", _scalar_or_array("bias", self.bias))
        _check("vth", self.vth, lambda a: np.isfinite(a) & (a >= 0), "must be a finite threshold >= 0")
        _check("bias", self.bias, np.isfinite, "must be finite")
        if self.activation not in ("identity", "relu"):
            raise bad_value(ModelError, "activation", self.activation, "must be 'identity' or 'relu'")

    def params(self, n: int, dt_ms: float) -> tuple[np.ndarray, ...]:
        return (_broadcast("vth", self.vth, n), _broadcast("bias", self.bias, n), np.full(n, self.activation == "relu"))


@register_model
@dataclass(frozen=True, eq=False)
class Boltzmann(NeuronModel):
    """Stochastic binary neuron (Boltzmann machine unit) with an annealing schedule.

    Each step, with probability ``update_prob`` the neuron redraws its binary
    state: on with probability ``sigmoid((input + bias) / T)``, where
    ``T = max(temperature * cooling**step, min_temperature)``; otherwise it keeps
    its state.  It spikes in every step it is on.  The draws come from the
    run's seed (:mod:`snn._rng`), so every engine gives the same spikes.
    """

    bias: Any = 0.0
    temperature: Any = 1.0
    cooling: float = 1.0
    min_temperature: float = 1e-3
    update_prob: Any = 1.0

    state_vars: ClassVar[tuple[str, ...]] = ("s",)
    kernel: ClassVar[Callable] = staticmethod(kernels.boltzmann_kernel)

    def __post_init__(self) -> None:
        for name in ("bias", "temperature", "update_prob"):
            object.__setattr__(self, name, _scalar_or_array(name, getattr(self, name)))
        _check("bias", self.bias, np.isfinite, "must be finite")
        _check("temperature", self.temperature, lambda a: np.isfinite(a) & (a > 0), "must be a positive, finite temperature")
        _check("update_prob", self.update_prob, lambda a: (a >= 0) & (a <= 1), "must be a probability in [0, 1]")
        object.__setattr__(
            self, "cooling", check_real(self.cooling, "cooling", min_value=0.0, min_open=True, max_value=1.0, cls=ModelError)
        )
        object.__setattr__(
            self, "min_temperature", check_real(self.min_temperature, "min_temperature", min_value=0.0, min_open=True, cls=ModelError)
        )

    def params(self, n: int, dt_ms: float) -> tuple[np.ndarray, ...]:
        return (
            np.arange(n, dtype=np.int64),
            _broadcast("bias", self.bias, n),
            _broadcast("temperature", self.temperature, n),
            np.full(n, float(self.cooling)),
            np.full(n, float(self.min_temperature)),
            _broadcast("update_prob", self.update_prob, n),
        )


@register_model
@dataclass(frozen=True, eq=False)
class PoissonSource(NeuronModel):
    """Independent Poisson spike trains: a spike with probability ``rate_hz * dt`` per step."""

    rate_hz: Any = 10.0

    is_source: ClassVar[bool] = True
    kernel: ClassVar[Callable] = staticmethod(kernels.poisson_kernel)

    def __post_init__(self) -> None:
        object.__setattr__(self, "rate_hz", _scalar_or_array("rate_hz", self.rate_hz))
        _check("rate_hz", self.rate_hz, lambda a: np.isfinite(a) & (a >= 0), "must be a finite rate >= 0 Hz")

    def check_dt(self, dt_ms: float) -> None:
        rate = np.asarray(self.rate_hz, dtype=np.float64)
        bad = rate * dt_ms / 1000.0 > 1.0
        if np.any(bad):
            shown = self.rate_hz if np.ndim(self.rate_hz) == 0 else f"array with offending value {float(rate[bad].ravel()[0])!r}"
            raise bad_value(
                ModelError,
                "rate_hz",
                shown,
                f"a spike probability rate_hz * dt_ms / 1000 above 1 per step; the limit is 1000/dt_ms = {1000.0 / dt_ms} Hz with dt_ms={dt_ms}",
            )

    def params(self, n: int, dt_ms: float) -> tuple[np.ndarray, ...]:
        self.check_dt(dt_ms)
        prob = _broadcast("rate_hz", self.rate_hz, n) * dt_ms / 1000.0
        return (np.arange(n, dtype=np.int64), prob)


@register_model
@dataclass(frozen=True, eq=False)
class SpikeSource(NeuronModel):
    """Replays an explicit bool raster of shape ``(n_steps, n)``; silent after its last row."""

    raster: Any = None

    is_source: ClassVar[bool] = True
    kernel: ClassVar[Callable] = staticmethod(kernels.spike_source_kernel)

    def __post_init__(self) -> None:
        arr = check_array(self.raster, "raster", dtype=None, kinds="biuf", finite=False, cls=ModelError)
        if arr.ndim != 2 or arr.shape[0] < 1:
            raise bad_value(ModelError, "raster", f"array of shape {arr.shape}", "must be a 2-D array (n_steps, n) of spikes (bool or 0/1)")
        if arr.dtype != np.bool_:
            if not np.isin(arr, (0, 1)).all():
                raise bad_value(ModelError, "raster", "array with values other than 0/1", "must hold bools or 0/1")
            arr = arr.astype(bool)
        arr = arr.copy()
        arr.setflags(write=False)
        object.__setattr__(self, "raster", arr)

    def check_size(self, n: int) -> None:
        if self.raster.shape[1] != n:
            raise bad_value(
                ModelError, "raster", f"array of shape {self.raster.shape}", f"must have {n} columns, one per neuron of the population"
            )

    def params(self, n: int, dt_ms: float) -> tuple[np.ndarray, ...]:
        self.check_size(n)
        return (self.raster.astype(np.float64),)


@register_model
@dataclass(frozen=True, eq=False)
class CurrentSource(NeuronModel):
    """A constant graded output ``amplitude`` every step (a constant current through the weights)."""

    amplitude: Any = 1.0

    is_source: ClassVar[bool] = True
    graded: ClassVar[bool] = True
    kernel: ClassVar[Callable] = staticmethod(kernels.current_source_kernel)

    def __post_init__(self) -> None:
        object.__setattr__(self, "amplitude", _scalar_or_array("amplitude", self.amplitude))
        _check("amplitude", self.amplitude, np.isfinite, "must be finite")

    def params(self, n: int, dt_ms: float) -> tuple[np.ndarray, ...]:
        return (_broadcast("amplitude", self.amplitude, n),)


@register_model
@dataclass(frozen=True, eq=False)
class ExternalInput(NeuronModel):
    """A population driven from outside: ``simulate(..., inputs={name: array (n_steps, n)})``.

    Its output in a step is that step's row (spikes as 0/1 or graded values);
    steps without a row send nothing.
    """

    is_source: ClassVar[bool] = True
    graded: ClassVar[bool] = True
    kernel: ClassVar[Callable] = staticmethod(kernels.input_kernel)

    def params(self, n: int, dt_ms: float) -> tuple[np.ndarray, ...]:
        return ()
