"""The Lava backend: export a fixed-point network as a self-contained Lava folder, and run it on Lava.

Lava 0.10 needs Python 3.10 and numpy<2, so it lives in its own environment
(``.venv-lava``, made by ``make lava-env``) and the toolkit talks to it only
through files and a subprocess:

:func:`export`
    writes a folder with ``run.py`` (a static script that needs only lava-nc
    and numpy; it reads everything about the network from the data files),
    ``arrays.npz`` (weights, parameters, initial state, source rasters,
    the expected spikes; ``allow_pickle=False``), ``manifest.json`` (sizes,
    scalar parameters, population names, expected spike counts) and a
    ``README.md`` on running it on Intel's Loihi systems.
:func:`run` / :func:`run_many`
    export to a temporary folder, run ``run.py`` with the Lava interpreter
    and return :class:`snn.RunResult` objects.

The Lava interpreter is ``$SNN_LAVA_PYTHON`` if set, else
``<repo>/.venv-lava/bin/python`` next to the installed package, else
``./.venv-lava/bin/python`` in the current directory (:func:`lava_python`).

What can be exported: :class:`~hardware.loihi.LoihiLIF` and
:class:`~hardware.loihi.LoihiSigmaDelta` populations (Lava ``LIF`` and
``SigmaDelta``), sources (:class:`snn.SpikeSource`, :class:`snn.PoissonSource`,
:class:`snn.ExternalInput`, :class:`snn.CurrentSource`: their output in our
simulation becomes a Lava ``RingBuffer``), and projections with a
:class:`~hardware.loihi.LoihiSynapse` and ``delay_steps=1`` (Lava ``Dense`` or
``Sparse``; delays of 2..64 steps become ``DelayDense``/``DelaySparse`` with
Lava delays 1..63).  Use :func:`hardware.loihi.quantize` first for a float network.
"""

from __future__ import annotations

import json
import math
import numbers
import os
import shutil
import signal
import subprocess
import tempfile
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

import snn
from hardware.errors import ExportError, LavaError, LavaNotFoundError, LavaTimeoutError, LoihiClipWarning
from hardware.loihi import LoihiLIF, LoihiSigmaDelta, LoihiSynapse
from hardware.loihi_qp import LoihiBoxSigmaDelta
from hardware.loihi_qubo import LoihiBoltzmann
from snn.engines.plan import build_plan, make_counts, parse_record
from snn.errors import SNNTypeError, bad_value

__all__ = ["export", "run", "run_many", "lava_python", "with_unit_delays", "ExportInfo", "RUNNER_PATH", "LAVA_PYTHON_ENV"]

#: the static script copied into every export as run.py
RUNNER_PATH = Path(__file__).with_name("_lava_runner.py")
#: snn-toolkit's own Lava processes (QP and QUBO neurons), copied into every export as lava_procs.py
PROCS_PATH = Path(__file__).with_name("_lava_procs.py")
#: the long-lived session server (hardware.lava_session), copied into every export as lava_session.py
SESSION_PATH = Path(__file__).with_name("_lava_session.py")
#: environment variable naming the Lava interpreter
LAVA_PYTHON_ENV = "SNN_LAVA_PYTHON"
FORMAT = "snn-toolkit.lava-export"
VERSION = 1
_BINARY_SOURCES = (snn.SpikeSource, snn.PoissonSource)
_GRADED_SOURCES = (snn.ExternalInput, snn.CurrentSource)
_STATE_VARS = {
    "source": (),
    "lif": ("u", "v"),
    "sigma_delta": ("sigma", "act", "residue", "error"),
    "box_sigma_delta": ("sigma", "act", "residue"),
    "boltzmann": ("s", "temp"),
}
#: kinds whose initial state may be non-zero in an export (their Lava process takes it)
_ANY_INITIAL = ("lif", "box_sigma_delta", "boltzmann")
_GRADED_MESSAGE_BITS = 24
_MAX_DELAY = 64  # Loihi 2's 6-bit synaptic delay (0..63) plus Dense's one step
_I32 = 2**31 - 1
#: the default of ``record``: spikes, and u and v where there are LIF populations
DEFAULT_RECORD = ("spikes", "u", "v")


def _default_record(network: snn.Network, record: Any) -> Any:
    if record is DEFAULT_RECORD:
        present = {v for p in network.populations for v in p.model.state_vars}
        return ("spikes",) + tuple(v for v in ("u", "v") if v in present)
    return record


_README = """# Lava export of an snn-toolkit network

This folder runs one spiking network, in Loihi fixed point, on Intel Lava.
It was written by `hardware.lava_backend.export` of snn-toolkit and needs
nothing from snn-toolkit: only `lava-nc` (tested with 0.10.0, Python 3.10) and
`numpy` (< 2 for Lava 0.10).

| file | what |
|---|---|
| `run.py` | a static script: builds the network in Lava from the two data files and runs it |
| `arrays.npz` | weights (CSR), neuron parameters and initial state, source spike rasters, the spikes snn-toolkit computed (bit-packed); load with `allow_pickle=False` |
| `manifest.json` | population names, sizes and scalar parameters, the connections (Dense or Sparse, weight exponent, sign mode), what to record, and the expected spike counts |
| `lava_procs.py` | snn-toolkit's own Lava processes and their bit-accurate CPU models (`BoxSigmaDelta`, `Boltzmann`); imports only lava and numpy |
| `lava_session.py` | a long-lived Lava session for this network (see below) |

## Run it on Lava's CPU simulator (bit-accurate fixed point)

```sh
python -m venv venv-lava && venv-lava/bin/pip install "lava-nc==0.10.0" "numpy<2"
venv-lava/bin/python run.py              # Loihi2SimCfg(select_tag="fixed_pt"), {n_steps} steps
venv-lava/bin/python run.py --steps 1000
```

The recording goes to `lava_results.npz` (`pop<i>.spikes`, `pop<i>.u`, `pop<i>.v`, ...,
`i` = the population's `index` in `manifest.json`).  After a run of the exported
{n_steps} steps, `run.py` compares every population's spikes with the ones
snn-toolkit computed and exits with status 3 if any differ.  Sources replay the
exported rasters and are silent after them.  Spikes are recorded by a small
recorder process defined in `run.py` (it saves them from Lava's worker in one
file); `--monitor` uses Lava's `Monitor` instead, whose readback moves one value
per message (minutes for 10,000 neurons x 1,000 steps).  State variables (`u`,
`v`, ...) are always recorded by `Monitor`, as Lava's Monitor records them (`u`
after the update, `v` after the reset).

## Run it on a Loihi 2 system
```sh
python run.py --hw                       # Loihi2HwCfg()
```
`--hw` first checks that Loihi 2 support is importable (Intel's `lava-loihi`:
Lava's Loihi 2 compiler, the module `lava.utils.system.Loihi2.is_loihi2_available`
looks for) and otherwise exits with status 2 and one line saying so.  With it,
`--hw` only swaps the run configuration for Lava's `Loihi2HwCfg`.

**Nothing here was tested on Loihi 2 hardware**: we had no Loihi 2 system and no
`lava-loihi`.  What real hardware needs that this folder does not provide:

* **Our own neuron processes have CPU models only.**  `lava_procs.py` defines
  `BoxSigmaDelta` (the QP's gradient and constraint neurons) and `Boltzmann`
  (the QUBO annealer) with bit-accurate `PyProcessModel`s, tested bit for bit
  against snn-toolkit in Lava's CPU runtime.  On Loihi 2 each needs a
  microcoded neuron model (an `NcProcessModel` for `lava-loihi`) written to
  the same integer arithmetic, including the counter-based hash PRNG of
  `Boltzmann` and the 64-bit compare of its firing rule (Loihi 2's neuron
  microcode works on 24/32-bit registers: the rule must be rewritten for them).
  None of that exists yet.  Lava's own `LIF`, `SigmaDelta`, `Dense`, `Sparse`
  and `DelayDense`/`DelaySparse` are the processes Intel maps to the chip.
* **Spike sources and recording.**  Sources are Lava `RingBuffer` processes and
  spikes are recorded by Lava `Monitor`s (with `--hw`); on a Loihi 2 system
  these normally have to be replaced by the I/O processes `lava-loihi` provides
  (spike injection/readout through the embedded CPUs or the host).
* **Resources.**  Whether the network fits the chip's cores (neurons, synapse
  memory, fan-in, 16-bit weights stored as two 8-bit connections `P` and
  `P~lo`) is estimated by `hardware.mapping` of snn-toolkit, not checked by Intel's
  compiler here.
* **Timing.**  Lava's CPU models deliver every `Dense`/`Sparse` connection one
  step later; the equivalence of that timing with the chip is Intel's claim
  (their fixed-point CPU models are documented as bit-accurate with Loihi),
  not something measured here.  The comparison `run.py` prints after a run of
  the exported number of steps is the check that the hardware agrees.

## A persistent Lava session

`lava_session.py FOLDER MAX_STEPS` keeps this network compiled in one Lava
process and answers requests on stdin (run `k` steps, get/set state Vars and
connection buffers `a_buff`, stop): length-prefixed JSON and `.npz`, never
pickle.  snn-toolkit's `hardware.lava_session.LavaSession` drives it.
"""


@dataclass(frozen=True)
class ExportInfo:
    """What :func:`export` wrote.

    Attributes
    ----------
    directory : Path
        The export folder.
    n_steps : int
    expected_spike_counts : dict
        ``{population: spikes}`` in snn-toolkit's simulation.
    engine : str
        The engine that computed them.
    """

    directory: Path
    n_steps: int
    expected_spike_counts: Mapping[str, int]
    engine: str


# ---------------------------------------------------------------------------------------------
def lava_python() -> str:
    """The Python interpreter of the Lava environment.

    ``$SNN_LAVA_PYTHON`` if set (it must exist); otherwise ``.venv-lava/bin/python``
    in the repository that holds this package, then in the current directory.

    Raises
    ------
    LavaNotFoundError
        When none exists.
    """
    env = os.environ.get(LAVA_PYTHON_ENV)
    if env:
        if not (os.path.isfile(env) and os.access(env, os.X_OK)):
            raise LavaNotFoundError(f"{LAVA_PYTHON_ENV}={env!r}: no executable Python interpreter there")
        return env
    candidates = [Path(__file__).resolve().parent.parent / ".venv-lava" / "bin" / "python", Path.cwd() / ".venv-lava" / "bin" / "python"]
    for c in candidates:
        if c.is_file() and os.access(c, os.X_OK):
            return str(c)
    raise LavaNotFoundError(
        "no Lava environment found: looked for "
        + ", ".join(str(c) for c in candidates)
        + f"; run `make lava-env` in the repository or set {LAVA_PYTHON_ENV}=/path/to/python (Python 3.10 with lava-nc==0.10.0)"
    )


# ---------------------------------------------------------------------------------------------
def _kind(pop: snn.Population) -> str:
    m = pop.model
    if isinstance(m, LoihiLIF):
        return "lif"
    if isinstance(m, LoihiSigmaDelta):
        return "sigma_delta"
    if isinstance(m, LoihiBoxSigmaDelta):
        return "box_sigma_delta"
    if isinstance(m, LoihiBoltzmann):
        return "boltzmann"
    if isinstance(m, _BINARY_SOURCES + _GRADED_SOURCES):
        return "source"
    raise bad_value(
        ExportError,
        f"population {pop.name!r}",
        type(m).__name__,
        "cannot be exported to Lava; allowed: LoihiLIF, LoihiSigmaDelta, LoihiBoxSigmaDelta, LoihiBoltzmann, SpikeSource, PoissonSource, ExternalInput, CurrentSource (use hardware.loihi.quantize for float LIF networks)",
    )


def _zero_start_refused(network: snn.Network) -> list[str]:
    """The populations whose non-zero initial state an export cannot take (Lava's SigmaDelta starts from zero)."""
    return [
        p.name
        for p in network.populations
        if _kind(p) not in _ANY_INITIAL + ("source",) and any(np.any(v != 0) for v in p.initial_state.values())
    ]


def _check_exportable(network: snn.Network) -> dict[str, str]:
    if not isinstance(network, snn.Network):
        raise SNNTypeError(f"network={network!r}: must be a snn.Network")
    kinds = {p.name: _kind(p) for p in network.populations}
    for p in network.populations:
        if kinds[p.name] not in _ANY_INITIAL + ("source",) and any(np.any(v != 0) for v in p.initial_state.values()):
            raise bad_value(
                ExportError,
                f"population {p.name!r}: initial_state",
                sorted(p.initial_state),
                "Lava's SigmaDelta starts from zero state; a non-zero initial state cannot be exported",
            )
    for pr in network.projections:
        if not isinstance(pr.synapse, LoihiSynapse):
            raise bad_value(
                ExportError, f"projection {pr.name!r}: synapse", pr.synapse, "must be a hardware.loihi.LoihiSynapse (Lava Dense/Sparse)"
            )
        if pr.n_synapses and (pr.delays.min() < 1 or pr.delays.max() > _MAX_DELAY):
            bad = int(pr.delays[(pr.delays < 1) | (pr.delays > _MAX_DELAY)][0])
            raise bad_value(
                ExportError,
                f"projection {pr.name!r}: delay_steps",
                bad,
                f"must be in [1, {_MAX_DELAY}] (Lava's Dense/Sparse deliver in the next step; DelayDense/DelaySparse add 0..63 steps)"
                + (
                    "; retime zero-delay (same-step) projections with hardware.lava_backend.with_unit_delays(net) "
                    "(snn deploy lava --unit-delays), which makes each layer's output one step later"
                    if bad == 0
                    else ""
                ),
            )
        if pr.n_synapses and pr.delays.min() != pr.delays.max() and pr.synapse.weight_exp < 0:
            raise bad_value(
                ExportError,
                f"projection {pr.name!r}: weight_exp",
                pr.synapse.weight_exp,
                "must be >= 0 when a projection has different delays: Lava's DelayDense/DelaySparse shift each emission step's sum "
                "before adding the sums that arrive together, the core's synapse slot shifts their total (split the projection by delay)",
            )
        if kinds[pr.post] == "source":
            raise bad_value(
                ExportError,
                f"projection {pr.name!r}: post",
                pr.post,
                "must be a neuron population (LoihiLIF, LoihiSigmaDelta, LoihiBoxSigmaDelta, LoihiBoltzmann), not a source",
            )
    return kinds


def _default_engine() -> str:
    return "event" if "event" in snn.engine_names() else "reference"


def _choose_connection(connection: str | Mapping[str, str], pr: snn.Projection) -> str:
    choice = connection.get(pr.name, "auto") if isinstance(connection, Mapping) else connection
    if choice not in ("auto", "dense", "sparse"):
        raise bad_value(ExportError, "connection", choice, "must be 'auto', 'dense' or 'sparse' (or a dict {projection: choice})")
    if choice == "auto":
        n_post, n_pre = pr.weights.shape
        return "dense" if pr.n_synapses >= 0.25 * n_post * n_pre else "sparse"
    return choice


def _write_export(
    network: snn.Network,
    folder: Path,
    n_steps: int,
    *,
    seed: int,
    inputs: Mapping[str, Any] | None,
    record: Any,
    connection: Any,
    engine: str,
    t0: int = 0,
    expected: bool = True,
) -> tuple[dict[str, Any], snn.RunResult | None]:
    """Write run.py, arrays.npz, manifest.json and README.md into the (new, empty) ``folder``.

    ``t0``: the absolute step of Lava's first step (Boltzmann draws).  With
    ``expected=False`` (a session) our engine is run only when there are
    sources (their rasters), and no expected spikes are written.
    """
    kinds = _check_exportable(network)
    record = _default_record(network, record)
    spikes_rec, state_rec, _outputs = parse_record(network, record)
    what = {p.name: (("spikes", "outputs") if kinds[p.name] == "source" else ("spikes",)) for p in network.populations}
    has_sources = any(k == "source" for k in kinds.values())
    ours = snn.simulate(network, n_steps, engine=engine, seed=seed, record=what, inputs=inputs) if (expected or has_sources) else None
    arrays: dict[str, np.ndarray] = {}
    pops = []
    for i, p in enumerate(network.populations):
        key, kind = f"pop{i}", kinds[p.name]
        entry: dict[str, Any] = {"index": i, "name": p.name, "n": p.n, "kind": kind, "model": type(p.model).__name__}
        m = p.model
        if kind == "source":
            values = np.trunc(np.asarray(ours.outputs[p.name], dtype=np.float64))
            if np.any(np.abs(values) > _I32):
                raise bad_value(
                    ExportError,
                    f"population {p.name!r}: output",
                    float(np.abs(values).max()),
                    "source values must fit int32 (Lava RingBuffer data)",
                )
            arrays[key + ".data"] = values.T.astype(np.int32)
            entry["graded"] = bool(m.graded)
        elif kind == "lif":
            s0 = p.state0()
            for var in ("u", "v"):
                if np.any(np.abs(s0[var]) > _I32):
                    raise bad_value(
                        ExportError,
                        f"population {p.name!r}: initial_state[{var!r}]",
                        int(np.abs(s0[var]).max()),
                        "must fit int32 (Lava's u/v Vars)",
                    )
                arrays[f"{key}.{var}"] = s0[var].astype(np.int32)
            arrays[key + ".bias_mant"] = np.broadcast_to(np.asarray(m.bias_mant, dtype=np.int16), (p.n,)).copy()
            arrays[key + ".bias_exp"] = np.broadcast_to(np.asarray(m.bias_exp, dtype=np.int16), (p.n,)).copy()
            entry["params"] = {"du": m.du, "dv": m.dv, "vth": m.vth}
        elif kind in ("box_sigma_delta", "boltzmann"):
            s0 = p.state0()
            names = ("bias", "lo", "hi") if kind == "box_sigma_delta" else ("bias", "temp_min", "cool", "dec", "p_update")
            dt = np.int32 if kind == "box_sigma_delta" else np.int64
            for name in names:
                arrays[f"{key}.{name}"] = np.broadcast_to(np.asarray(getattr(m, name), dtype=np.int64), (p.n,)).astype(dt)
            for var in _STATE_VARS[kind]:
                arrays[f"{key}.{var}"] = np.asarray(s0[var], dtype=np.int64).astype(dt)
            if kind == "box_sigma_delta":
                entry["params"] = {"vth": m.vth, "out_exp": m.out_exp}
            else:
                from snn import _rng

                entry["params"] = {"key": _rng.stream_key(seed, i), "t0": int(t0)}
        else:
            arrays[key + ".bias"] = np.broadcast_to(np.asarray(m.bias, dtype=np.int32), (p.n,)).copy()
            entry["params"] = {
                "vth": m.vth,
                "act_mode": m.act_mode,
                "cum_error": m.cum_error,
                "spike_exp": m.spike_exp,
                "state_exp": m.state_exp,
            }
        entry["record"] = [v for v in state_rec.get(p.name, ()) if v in _STATE_VARS[kind]]
        entry["record_spikes"] = p.name in spikes_rec
        if expected:
            arrays[f"expected.{key}.spikes"] = np.packbits(ours.spikes[p.name].astype(bool).ravel())
        pops.append(entry)
    index = {p.name: i for i, p in enumerate(network.populations)}
    projs = []
    for j, pr in enumerate(network.projections):
        key = f"proj{j}"
        ints = pr.synapse.integer_weights(pr.weights)
        arrays[key + ".data"] = ints.data.astype(np.int32)
        arrays[key + ".indices"] = ints.indices.astype(np.int32)
        arrays[key + ".indptr"] = ints.indptr.astype(np.int64)
        delayed = bool(pr.n_synapses and pr.delays.max() > 1)
        if delayed:
            arrays[key + ".delays"] = (pr.delays - 1).astype(np.int32)  # Lava's delay 0 is our delay_steps=1
        graded_pre = bool(network.population(pr.pre).model.graded)
        projs.append(
            {
                "index": j,
                "name": pr.name,
                "pre": index[pr.pre],
                "post": index[pr.post],
                "shape": [int(s) for s in pr.weights.shape],
                "connection": _choose_connection(connection, pr),
                "weight_exp": pr.synapse.weight_exp,
                "num_weight_bits": pr.synapse.num_weight_bits,
                "sign_mode": pr.synapse.sign_mode,
                "num_message_bits": _GRADED_MESSAGE_BITS if graded_pre else 0,
                "delayed": delayed,
            }
        )
    counts = ours.counts.spikes_per_population if expected else {}
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "n_steps": int(n_steps),
        "dt_ms": network.dt_ms,
        "populations": pops,
        "projections": projs,
        "expected": (
            {
                "engine": ours.engine,
                "seed": int(ours.seed),
                "spike_counts": [int(counts[p.name]) for p in network.populations],
                "synaptic_events": int(ours.counts.synaptic_events),
            }
            if expected
            else {}
        ),
        "written_by": f"snn-toolkit {snn.__version__} hardware.lava_backend.export",
    }
    # the two scripts (they have a shebang line) are executable: 0o777 less the umask
    snn.io.atomic_write_bytes(folder / "run.py", lambda fh: fh.write(RUNNER_PATH.read_bytes()), mode=0o777)
    snn.io.atomic_write_bytes(folder / "lava_session.py", lambda fh: fh.write(SESSION_PATH.read_bytes()), mode=0o777)
    shutil.copyfile(PROCS_PATH, folder / "lava_procs.py")
    with open(folder / "arrays.npz", "wb") as fh:
        np.savez_compressed(fh, **arrays)
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    (folder / "README.md").write_text(_README.format(n_steps=int(n_steps)), encoding="utf-8")
    return manifest, ours


def _check_steps(n_steps: Any) -> int:
    if isinstance(n_steps, bool) or not isinstance(n_steps, numbers.Integral) or n_steps < 1:
        raise bad_value(ExportError, "n_steps", n_steps, "must be a positive int")
    return int(n_steps)


def _check_seed(seed: Any) -> int:
    if seed is None:
        return int(np.random.SeedSequence().generate_state(1, dtype=np.uint32)[0])
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise bad_value(ExportError, "seed", seed, "must be a non-negative int or None")
    return int(seed)


def export(
    network: snn.Network,
    directory: str | os.PathLike,
    n_steps: int,
    *,
    seed: int | None = 0,
    inputs: Mapping[str, Any] | None = None,
    record: Any = DEFAULT_RECORD,
    connection: str | Mapping[str, str] = "auto",
    engine: str | None = None,
    overwrite: bool = False,
) -> ExportInfo:
    """Write a self-contained Lava folder that runs ``network`` for ``n_steps`` steps.

    The folder is written next to ``directory`` under a temporary name and
    renamed into place when complete: on any error nothing is left behind.
    It gets the modes of an ordinary ``mkdir``/``open()`` under the user's
    umask (``0o777``/``0o666`` less it; ``run.py`` and ``lava_session.py``
    executable), see :func:`snn.io.atomic_folder`.

    Parameters
    ----------
    network : snn.Network
        In Loihi form (see the module docstring); :func:`hardware.loihi.quantize` converts float networks.
    directory : path
        The folder to create (its parent must exist).
    n_steps : int
        Steps of the exported run; the sources' rasters cover them.
    seed, inputs
        As for :func:`snn.simulate`: they fix the sources' spikes (Poisson
        draws, external inputs), which are exported as rasters.
    record : tuple or dict
        What ``run.py`` records besides spikes (state variables ``u``, ``v`` /
        ``sigma``, ``act``, ``residue``, ``error``), as for :func:`snn.simulate`.
    connection : {"auto", "dense", "sparse"} or dict
        Lava process for each projection; ``auto`` uses ``Dense`` when at least
        a quarter of the matrix is stored.  A dict maps projection names to a choice.
    engine : str, optional
        Engine that computes the expected spikes (default ``"event"`` if available, else ``"reference"``).
    overwrite : bool
        Replace an existing ``directory`` (otherwise an :class:`ExportError`).

    Returns
    -------
    ExportInfo
    """
    n_steps = _check_steps(n_steps)
    seed = _check_seed(seed)
    target = Path(directory)
    if target.exists() and not overwrite:
        raise bad_value(ExportError, "directory", str(target), "exists already; pass overwrite=True to replace it")
    if not target.parent.is_dir():
        raise bad_value(ExportError, "directory", str(target), "its parent folder does not exist")
    with snn.io.atomic_folder(target) as tmp:  # 0o777 less the umask; replaces an existing target
        manifest, ours = _write_export(
            network, tmp, n_steps, seed=seed, inputs=inputs, record=record, connection=connection, engine=engine or _default_engine()
        )
    return ExportInfo(target, n_steps, dict(ours.counts.spikes_per_population), ours.engine)


# ---------------------------------------------------------------------------------------------
def _tail(text: str, limit: int = 6000) -> str:
    text = text.strip()
    return text if len(text) <= limit else "...\n" + text[-limit:]


def _run_lava(folders: Sequence[Path], timeout_s: float, python: str | None) -> float:
    py = python or lava_python()
    cmd = [py, str(folders[0] / "run.py"), "--quiet", "--no-check", "--batch", *[str(f) for f in folders]]
    t0 = time.perf_counter()
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True, cwd=str(folders[0]))
    except OSError as exc:
        raise LavaNotFoundError(f"could not start the Lava interpreter {py!r}: {exc}") from exc
    try:
        out, err = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # Lava's worker processes share the new session
        except ProcessLookupError:
            pass
        out, err = proc.communicate()
        raise LavaTimeoutError(f"Lava did not finish within timeout_s={timeout_s} s (killed). Lava's stderr:\n{_tail(err or '')}") from None
    if proc.returncode != 0:
        if "No module named 'lava'" in (err or ""):
            raise LavaNotFoundError(
                f"the interpreter {py!r} has no Lava installed (set {LAVA_PYTHON_ENV} or run `make lava-env`). stderr:\n{_tail(err)}"
            )
        raise LavaError(f"Lava exited with status {proc.returncode}. Lava's stderr:\n{_tail(err or '')}\nstdout:\n{_tail(out or '', 2000)}")
    return time.perf_counter() - t0


def _result_from_lava(
    network: snn.Network, manifest: dict, folder: Path, n_steps: int, seed: int, record: Any, inputs: Any, wall_s: float
) -> snn.RunResult:
    path = folder / "lava_results.npz"
    try:
        with np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except (OSError, ValueError) as exc:
        raise LavaError(f"Lava finished but its recording {str(path)!r} cannot be read: {exc}") from exc
    return _result_from_data(network, manifest, data, n_steps, seed, record, inputs, wall_s)


def _result_from_data(
    network: snn.Network,
    manifest: dict,
    data: Mapping[str, np.ndarray],
    n_steps: int,
    seed: int,
    record: Any,
    inputs: Any,
    wall_s: float,
    t_start: int = 0,
) -> snn.RunResult:
    """A :class:`snn.RunResult` from Lava's recording ``data`` (``pop<i>.spikes``, ``pop<i>.final.<var>``, ``proj<j>.final.a_buff``, ...)."""
    with warnings.catch_warnings():  # the clipping warnings were given when the network was exported
        warnings.simplefilter("ignore", LoihiClipWarning)
        plan = build_plan(network, seed=seed, record=_default_record(network, record), inputs=inputs, n_steps=n_steps)
    spikes_set, state_set, outputs_set = plan.record_spikes, plan.record_state, plan.record_outputs
    sent = {}
    for i, p in enumerate(network.populations):
        s = data[f"pop{i}.spikes"].astype(bool)
        if s.shape != (n_steps, p.n):
            raise LavaError(f"Lava's recording of population {p.name!r} has shape {s.shape}, expected {(n_steps, p.n)}")
        sent[i] = s
    spikes_per_step = np.zeros(n_steps, dtype=np.int64)
    events_per_step = np.zeros(n_steps, dtype=np.int64)
    per_pop = np.zeros(len(plan.populations), dtype=np.int64)
    per_proj = np.zeros(len(plan.projections), dtype=np.int64)
    for pp in plan.populations:
        counts = sent[pp.index].sum(axis=1).astype(np.int64)
        spikes_per_step += counts
        per_pop[pp.index] = counts.sum()
    for pj in plan.projections:
        ev = sent[pj.pre].astype(np.int64) @ pj.out_degree
        events_per_step += ev
        per_proj[pj.index] = ev.sum()
    counts = make_counts(plan, n_steps, spikes_per_step, events_per_step, per_proj, per_pop)
    spikes, state, outputs, final = {}, {}, {}, {}
    for i, p in enumerate(network.populations):
        kind = manifest["populations"][i]["kind"]
        if p.name in spikes_set:
            spikes[p.name] = sent[i]
        if p.name in state_set:
            state[p.name] = {v: data[f"pop{i}.{v}"].astype(np.int64) for v in state_set[p.name]}
        if p.name in outputs_set:
            outputs[p.name] = data[f"pop{i}.outputs"].astype(np.float64) if f"pop{i}.outputs" in data else sent[i].astype(np.float64)
        if kind == "source":
            s0 = p.state0()
            final[p.name] = {v: np.asarray(s0[v]) for v in p.model.state_vars}
        else:
            final[p.name] = {v: data[f"pop{i}.final.{v}"].astype(np.int64) for v in _STATE_VARS[kind]}
    return snn.RunResult(
        spikes=spikes,
        traces=state,
        counts=counts,
        state=_lava_end_state(network, data, final, t_start + n_steps, seed),
        outputs=outputs,
        engine="lava",
        seed=seed,
        wall_time_s=wall_s,
        t_start=t_start,
    )


def _lava_end_state(network: snn.Network, data: Mapping[str, np.ndarray], final: Mapping[str, Any], n_steps: int, seed: int) -> Any:
    """The :class:`snn.SimState` after a Lava run from step 0, or None when Lava's buffers cannot say it.

    A one-step ``Dense``/``Sparse`` holds in ``a_buff`` what it delivers in
    the next step, already shifted by its weight exponent; the state's
    in-flight row is the sum *before* the shift, so it is written as a sum
    the synapse kernel turns into exactly that ``a_buff`` (``a_buff << -weight_exp``
    for negative exponents, ``a_buff >> weight_exp`` for positive ones): the
    continued dynamics are the same bit for bit.  ``DelayDense``/``DelaySparse``
    hold one column per future step (column ``c`` arrives ``c + 1`` steps
    later; they are exported only with ``weight_exp >= 0``, where shifting each
    step's sum and shifting their total agree).
    """
    from snn.state import ring_dtype, structure_of

    flight = {}
    for j, pr in enumerate(network.projections):
        buf = data.get(f"proj{j}.final.a_buff")
        rows = pr.delay_range[1]
        n_post = pr.weights.shape[0]
        if buf is None:
            return None
        buf = buf.astype(np.int64).reshape(n_post, -1).T  # DelayDense/DelaySparse: column c arrives c + 1 steps later
        if buf.shape[0] < rows:
            return None
        we = pr.synapse.weight_exp
        raw = (buf[:rows] << max(-we, 0)) >> max(we, 0)
        flight[pr.name] = raw.astype(ring_dtype(pr))
    return snn.SimState(
        t=int(n_steps), seed=int(seed), dt_ms=network.dt_ms, populations=final, in_flight=flight, structure=structure_of(network)
    )


def _per_network(name: str, value: Any, n: int, is_list: Any) -> list[Any]:
    """``value`` for every network, or ``value`` itself when it is a list of one entry per network."""
    if isinstance(value, list) and value and all(is_list(v) for v in value):
        if len(value) != n:
            raise bad_value(
                ExportError, name, f"list of {len(value)} entries", f"must be one entry for all networks or one per network ({n})"
            )
        return list(value)
    return [value] * n


def run_many(
    networks: Sequence[snn.Network],
    n_steps: int | Sequence[int],
    *,
    record: Any = DEFAULT_RECORD,
    seed: int | None = 0,
    inputs: Sequence[Mapping[str, Any] | None] | None = None,
    timeout_s: float = 600.0,
    connection: Any = "auto",
    python: str | None = None,
) -> list[snn.RunResult]:
    """Run several networks on Lava in one Lava process (Lava takes seconds to start).

    Same arguments as :func:`run`; ``n_steps`` and ``inputs`` may be one per
    network, and so may ``record`` and ``connection`` (a list with one entry
    per network).  ``wall_time_s`` of each result is the Lava subprocess's wall
    time divided by the number of networks.
    """
    networks = list(networks)
    if not networks:
        return []
    steps = [_check_steps(s) for s in (n_steps if isinstance(n_steps, Sequence) else [n_steps] * len(networks))]
    if len(steps) != len(networks):
        raise bad_value(ExportError, "n_steps", n_steps, f"must be an int or one int per network ({len(networks)})")
    ins = list(inputs) if inputs is not None else [None] * len(networks)
    if len(ins) != len(networks):
        raise bad_value(ExportError, "inputs", f"{len(ins)} entries", f"must be one per network ({len(networks)})")
    records = _per_network("record", record, len(networks), lambda r: not isinstance(r, str))
    connections = _per_network("connection", connection, len(networks), lambda c: True)
    if isinstance(timeout_s, bool) or not isinstance(timeout_s, numbers.Real) or not (timeout_s > 0 and math.isfinite(timeout_s)):
        raise bad_value(LavaError, "timeout_s", timeout_s, "must be a positive number of seconds")
    seed = _check_seed(seed)
    py = python or lava_python()
    with tempfile.TemporaryDirectory(prefix="snn-lava-") as tmp:
        folders, manifests = [], []
        for k, net in enumerate(networks):
            folder = Path(tmp) / f"case{k}"
            folder.mkdir()
            manifest, _ = _write_export(
                net, folder, steps[k], seed=seed, inputs=ins[k], record=records[k], connection=connections[k], engine="reference"
            )
            folders.append(folder)
            manifests.append(manifest)
        wall = _run_lava(folders, float(timeout_s), py)
        return [
            _result_from_lava(net, manifests[k], folders[k], steps[k], seed, records[k], ins[k], wall / len(networks))
            for k, net in enumerate(networks)
        ]


def run(
    network: snn.Network,
    n_steps: int,
    *,
    record: Any = DEFAULT_RECORD,
    seed: int | None = 0,
    inputs: Mapping[str, Any] | None = None,
    timeout_s: float = 600.0,
    connection: str | Mapping[str, str] = "auto",
    python: str | None = None,
) -> snn.RunResult:
    """Run ``network`` on Lava (``Loihi2SimCfg(select_tag="fixed_pt")``) and return a :class:`snn.RunResult`.

    The network is exported to a temporary folder (deleted afterwards) and
    run there by ``run.py`` in the Lava interpreter (:func:`lava_python`, or
    ``python``).  Spikes, recorded state (``u``, ``v``, ... as Lava's Monitor
    records them) and final state come from Lava; the op counts are computed
    from Lava's spikes exactly as the engines count them.  Sources replay the
    output they have in snn's simulation with ``seed`` and ``inputs``.
    ``wall_time_s`` is the wall time of the Lava subprocess.

    Raises
    ------
    LavaNotFoundError
        No Lava interpreter.
    LavaTimeoutError
        Lava ran longer than ``timeout_s`` (it is killed, with its workers).
    LavaError
        Lava failed; the message includes its stderr.
    ExportError
        The network cannot be expressed in Lava.
    """
    return run_many(
        [network], n_steps, record=record, seed=seed, inputs=[inputs], timeout_s=timeout_s, connection=connection, python=python
    )[0]


def with_unit_delays(network: snn.Network) -> snn.Network:
    """The same network with every synapse delayed by exactly one step (Lava's Dense/Sparse timing).

    Zero-delay (same-step) projections, as NIR imports of snnTorch/Norse models
    have, become one-step projections: a feed-forward network's output is then
    the same spikes, ``depth`` steps later.  Delays above one cannot be retimed
    this way and raise :class:`hardware.errors.ExportError`.
    """
    out = snn.Network(dt_ms=network.dt_ms)
    for p in network.populations:
        out.add_population(p.name, p.n, p.model, positions=p.positions_um, initial_state=dict(p.initial_state))
    for pr in network.projections:
        if pr.n_synapses and pr.delays.max() > 1:
            raise ExportError(
                f"projection {pr.name!r}: delay_steps up to {int(pr.delays.max())}: only delays of 0 or 1 can be retimed to Lava's one step"
            )
        out.add_projection(pr.pre, pr.post, weights=pr.weights, delay_steps=1, synapse=pr.synapse, name=pr.name)
    out.outputs = network.outputs
    return out
