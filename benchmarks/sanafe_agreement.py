"""Agreement of ``energy.estimate(..., "loihi1_sanafe", loihi_traffic(...))`` with SANA-FE itself.

Six networks whose dynamics are identical in snn and in SANA-FE (IF neurons,
weights and biases on SANA-FE's 1/64 grid, every neuron with a non-zero bias so
SANA-FE updates it every step): a 3D grid with a Gaussian distance rule, a
feed-forward chain and a recurrent excitatory/inhibitory network, each with a
scattered and a packed placement on SANA-FE's 128-core Loihi (1 to 128 cores).
For each, :func:`energy.sanafe.crosscheck` runs snn and SANA-FE (its detailed
and simple timing models) and prices the snn run; the table gives the relative
differences.  ``tests/energy/test_energy_sanafe.py`` asserts them on the same
cases.

    python -m benchmarks.sanafe_agreement [--steps 60]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import numpy as np

import snn

__all__ = ["CASES", "grid3d", "grid3d_large", "feedforward", "excitatory_inhibitory", "measure"]

Placement = dict[str, np.ndarray]
#: the steps every case runs (its input rasters are this long)
N_STEPS = 60


def grid3d() -> tuple[snn.Network, Placement, Placement]:
    """288 neurons: spike trains into 256 IF neurons on an 8 x 8 x 4 grid (10 um), Gaussian distance rule (sigma 12 um)."""
    rng = np.random.default_rng(21)
    net = snn.Network(dt_ms=1.0)
    net.add_population("in", 32, snn.SpikeSource(raster=rng.random((N_STEPS, 32)) < 0.15))
    net.add_population("g", 256, snn.IF(v_th=1.0, bias=rng.integers(1, 5, 256) / 64), positions=snn.layout.grid((8, 8, 4), spacing_um=10.0))
    net.connect("in", "g", snn.connect.fixed_probability(0.1), weight=0.25, seed=1)
    net.connect("g", "g", snn.connect.distance_gaussian(sigma_um=12.0, p_max=0.4), weight=0.125, seed=2)
    # scattered: the grid round-robin over one core of each of the 32 tiles, the inputs over 8 other cores
    scattered = {"in": np.arange(32) % 8 * 16 + 1, "g": (np.arange(256) % 32) * 4}
    packed = {"in": np.zeros(32, dtype=np.int64), "g": 1 + np.arange(256) // 64}  # 5 cores on 2 tiles
    return net, scattered, packed


def feedforward() -> tuple[snn.Network, Placement, Placement]:
    """384 neurons: 64 spike trains -> 128 -> 128 -> 64 IF neurons, random 20% / 15% / 15% connectivity."""
    rng = np.random.default_rng(22)
    net = snn.Network(dt_ms=1.0)
    net.add_population("in", 64, snn.SpikeSource(raster=rng.random((N_STEPS, 64)) < 0.1))
    for name, n in (("l1", 128), ("l2", 128), ("l3", 64)):
        net.add_population(name, n, snn.IF(v_th=1.0, bias=rng.integers(1, 4, n) / 64))
    net.connect("in", "l1", snn.connect.fixed_probability(0.2), weight=0.25, seed=3)
    net.connect("l1", "l2", snn.connect.fixed_probability(0.15), weight=0.1875, seed=4)
    net.connect("l2", "l3", snn.connect.fixed_probability(0.15), weight=0.1875, seed=5)
    # scattered: every neuron on a random core, all 128 cores used; packed: the whole network on core 0
    cores = rng.permutation(np.arange(net.n_neurons) % 128)
    scattered, k = {}, 0
    for p in net.populations:
        scattered[p.name] = cores[k : k + p.n]
        k += p.n
    packed = {p.name: np.zeros(p.n, dtype=np.int64) for p in net.populations}
    return net, scattered, packed


def excitatory_inhibitory() -> tuple[snn.Network, Placement, Placement]:
    """290 neurons: spike trains into 200 excitatory (soft reset) and 50 inhibitory IF neurons, recurrent."""
    rng = np.random.default_rng(23)
    net = snn.Network(dt_ms=1.0)
    net.add_population("in", 40, snn.SpikeSource(raster=rng.random((N_STEPS, 40)) < 0.1))
    net.add_population("exc", 200, snn.IF(v_th=1.0, bias=rng.integers(3, 9, 200) / 64, reset="subtract"))
    net.add_population("inh", 50, snn.IF(v_th=1.0, bias=1 / 64))
    net.connect("in", "exc", snn.connect.fixed_probability(0.1), weight=0.5, seed=6)
    net.connect("exc", "exc", snn.connect.fixed_probability(0.05), weight=0.125, seed=7)
    net.connect("exc", "inh", snn.connect.fixed_probability(0.1), weight=0.25, seed=8)
    net.connect("inh", "exc", snn.connect.fixed_probability(0.2), weight=-0.25, seed=9)
    scattered = {p.name: rng.integers(0, 64, p.n) for p in net.populations}  # random cores of the first 16 tiles
    packed = {"in": np.zeros(40, dtype=np.int64), "exc": 1 + np.arange(200) // 128, "inh": np.full(50, 3)}  # 4 cores, 1 tile
    return net, scattered, packed


def grid3d_large(n_steps: int = 100) -> tuple[snn.Network, Placement, Placement]:
    """2,176 neurons: 128 spike trains into a 16 x 16 x 8 IF grid, the Gaussian rule of :func:`grid3d` (~21,700 synapses).

    Scattered: neuron ``i`` on core ``i % 128`` (all 128 cores, 32 tiles); blocks: runs of 17 neighbours per core (125 cores).
    """
    rng = np.random.default_rng(31)
    net = snn.Network(dt_ms=1.0)
    net.add_population("in", 128, snn.SpikeSource(raster=rng.random((n_steps, 128)) < 0.1))
    net.add_population(
        "g", 2048, snn.IF(v_th=1.0, bias=rng.integers(1, 5, 2048) / 64), positions=snn.layout.grid((16, 16, 8), spacing_um=10.0)
    )
    net.connect("in", "g", snn.connect.fixed_probability(0.02), weight=0.25, seed=1)
    net.connect("g", "g", snn.connect.distance_gaussian(sigma_um=12.0, p_max=0.4), weight=0.125, seed=2)
    scattered = {"in": np.arange(128), "g": np.arange(2048) % 128}
    blocks = {"in": np.arange(128) % 4 + 124, "g": np.arange(2048) // 17}
    return net, scattered, blocks


#: name -> builder returning (network, scattered placement, packed placement)
CASES: dict[str, Callable[[], tuple[snn.Network, Placement, Placement]]] = {
    "grid3d": grid3d,
    "feedforward": feedforward,
    "excitatory_inhibitory": excitatory_inhibitory,
}


def measure(n_steps: int = N_STEPS) -> list[dict]:
    """Cross-check every case and placement; one row each."""
    from energy import sanafe as esf

    rows = []
    for name, build in CASES.items():
        net, scattered, packed = build()
        for label, placement in (("scattered", scattered), ("packed", packed)):
            x = esf.crosscheck(net, n_steps, placement, name=f"{name}/{label}")
            rows.append(
                {
                    "network": name,
                    "placement": label,
                    "cores": x["n_cores"],
                    "tiles": x["n_tiles"],
                    "spikes_match": x["spikes_match"],
                    "energy_diff": x["energy_rel_diff"],
                    "time_diff_detailed": x["time_rel_diff_by_model"]["detailed"],
                    "time_diff_simple": x["time_rel_diff_by_model"]["simple"],
                    "sanafe_time_s": x["sanafe_time_s"],
                    "estimate_time_s": x["estimate_time_s"],
                }
            )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=N_STEPS)
    args = ap.parse_args()
    print("| network | placement | cores (tiles) | spikes match | energy diff | time diff vs detailed | time diff vs simple |")
    print("|---|---|---|---|---|---|---|")
    for r in measure(args.steps):
        print(
            f"| {r['network']} | {r['placement']} | {r['cores']} ({r['tiles']}) | {'yes' if r['spikes_match'] else 'NO'} | "
            f"{100 * r['energy_diff']:+.1g} % | {100 * r['time_diff_detailed']:+.1f} % | {100 * r['time_diff_simple']:+.2g} % |"
        )


if __name__ == "__main__":
    main()
