"""Profiles are sourced data files: shipped, complete, validated, and their numbers are the sources' numbers."""

from __future__ import annotations

import copy
import json
import re

import pytest

import energy
from energy import profiles
from energy.profiles import REQUIRED_KINDS

REQUIRED = [
    "loihi1_davies2018",
    "loihi1_sanafe",
    "loihi2_bound",
    "truenorth",
    "keras_spiking_cpu",
    "keras_spiking_gpu",
    "keras_spiking_arm",
    "keras_spiking_loihi",
    "keras_spiking_spinnaker",
    "keras_spiking_spinnaker2",
    "h100",
    "a100",
    "horowitz2014",
    "cpu_xeon8480",
]


def test_every_required_profile_is_shipped_and_complete():
    assert set(REQUIRED) <= set(profiles.names())
    for name in profiles.names():
        prof = profiles.get(name)
        assert prof.name == name
        for c in prof.constants.values():
            assert c.source.strip() and c.grade in profiles.GRADES and c.basis in profiles.BASES and c.scope in profiles.SCOPES
            if c.grade == "secondary":
                assert c.via.strip(), f"{name}.{c.name}: a secondary constant must say where it was read"
            if c.grade == "derived":
                assert c.formula.strip(), f"{name}.{c.name}: a derived constant must say how"
        if prof.kind != "dense-processor":
            accounted = {t.count for t in prof.energy_terms} | set(prof.covers) | set(prof.unpriced)
            assert set(REQUIRED_KINDS) <= accounted
        # a profile round-trips through its dict form
        assert profiles._parse(json.loads(json.dumps(prof.to_dict())), where="round trip").to_dict() == prof.to_dict()


def test_davies2018_numbers_are_table_2():
    p = profiles.get("loihi1_davies2018")
    expected = {
        "e_synop": (23.6, "pJ"),
        "e_neuron_update": (81.0, "pJ"),
        "e_spike_tile": (1.7, "pJ"),
        "e_hop_ew": (3.0, "pJ"),
        "e_hop_ns": (4.0, "pJ"),
    }
    expected |= {
        "t_synop": (3.5, "ns"),
        "t_neuron_update": (8.4, "ns"),
        "t_spike_tile": (2.1, "ns"),
        "t_hop_ew": (4.1, "ns"),
        "t_hop_ns": (6.5, "ns"),
    }
    for key, (value, unit) in expected.items():
        assert (p.constants[key].value, p.constants[key].unit) == (value, unit)
    assert p.constants["e_neuron_update"].low == 52.0 and p.constants["t_neuron_update"].low == 5.3
    assert all(c.basis == "simulated" for k, c in p.constants.items() if k.startswith(("e_", "t_")))


def test_sanafe_numbers_are_its_loihi_yaml():
    # values as written in SLAM-Lab/SANA-FE arch/loihi.yaml (J and s)
    yaml_values = {
        "e_soma_access": 51.2e-12,
        "e_soma_update": 21.6e-12,
        "e_spike_out": 69.3e-12,
        "e_synapse": 35.5e-12,
        "e_axon_out": 111.0e-12,
        "e_axon_in": 0.0,
        "e_hop_ew": 3.0e-12,
        "e_hop_ns": 4.2e-12,
        "t_soma_access": 6.0e-9,
        "t_soma_update": 3.7e-9,
        "t_spike_out": 30.0e-9,
        "t_synapse": 3.8e-9,
        "t_axon_out": 5.1e-9,
        "t_axon_in": 16.0e-9,
        "t_hop_ew": 4.1e-9,
        "t_hop_ns": 6.5e-9,
        "t_sync_1": 0.6e-6,
        "t_sync_2": 1.0e-6,
        "t_sync_4": 1.4e-6,
        "t_sync_29": 1.8e-6,
    }
    p = profiles.get("loihi1_sanafe")
    for key, value in yaml_values.items():
        assert p.si(key) == pytest.approx(value, rel=1e-12, abs=1e-30), key
    assert p.constants["e_synapse"].low_si == pytest.approx(24.0e-12)  # loihi_conv_synapse


def test_sanafe_numbers_match_the_installed_sanafe_file():
    pytest.importorskip("sanafe")
    from energy import sanafe as esf

    with open(esf.architecture_path(), encoding="utf-8") as fh:
        text = fh.read()
    first = {}  # first 'key: number' of each key, in file order (the dense synapse unit comes first)
    for key, value in re.findall(r"^\s*(\w+):\s*([-+0-9.eE]+)\s*$", text, flags=re.M):
        first.setdefault(key, float(value))
    p = profiles.get("loihi1_sanafe")
    pairs = {
        "e_soma_access": "energy_access_neuron",
        "e_soma_update": "energy_update_neuron",
        "e_spike_out": "energy_spike_out",
        "e_synapse": "energy_process_spike",
        "e_axon_out": "energy_message_out",
        "e_axon_in": "energy_message_in",
        "e_hop_ns": "energy_north_hop",
        "e_hop_ew": "energy_east_hop",
        "t_soma_access": "latency_access_neuron",
        "t_synapse": "latency_process_spike",
        "t_axon_in": "latency_message_in",
        "neurons_per_core": "max_neurons_supported",
    }
    for ours, theirs in pairs.items():
        assert p.si(ours) == pytest.approx(first[theirs], rel=1e-12, abs=1e-30), ours
    assert first["energy_south_hop"] == first["energy_north_hop"] and first["energy_west_hop"] == first["energy_east_hop"]


def test_derived_constants_by_hand():
    b = profiles.get("loihi2_bound")
    assert b.si("e_synop_bound") == pytest.approx(1 / (15 * 1e12), rel=1e-5)
    assert b.constants["e_synop_bound"].high_si == pytest.approx(2600 / 380e12, rel=1e-6)
    assert b.si("r_synop_chip") == pytest.approx(380e12 / 1152, rel=1e-6)
    assert b.si("r_neuron_chip") == pytest.approx(240e12 / 1152, rel=1e-6)
    h = profiles.get("horowitz2014")
    assert h.constants["e_synop_mac"].value == pytest.approx(3.7 + 0.9 + 5.0)
    assert h.constants["e_synop_mac"].low == pytest.approx(0.9 + 5.0)
    assert h.constants["e_lif_update"].value == pytest.approx(2 * 3.7 + 3 * 0.9 + 2 * 5.0)
    assert h.constants["sram_read_32b"].value == 10.0 / 2
    assert h.constants["dram_32b"].high == 2600.0 / 2
    cpu = profiles.get("cpu_xeon8480")
    assert cpu.si("peak_float64") == pytest.approx(56 * 2.0e9 * 32)
    assert cpu.si("peak_float32") == pytest.approx(56 * 2.0e9 * 64)
    assert cpu.si("mem_bandwidth") == pytest.approx(8 * 4800e6 * 8)
    h100 = profiles.get("h100")
    assert h100.constants["peak_float16_tensor"].value == pytest.approx(1979 / 2, rel=1e-3)  # datasheet sparse / 2


def test_gpu_datasheet_figures():
    h100, a100 = profiles.get("h100"), profiles.get("a100")
    assert (h100.si("board_power"), h100.si("peak_float32"), h100.si("mem_bandwidth")) == (700.0, 67e12, 3.35e12)
    assert (a100.si("board_power"), a100.si("peak_float32"), a100.si("mem_bandwidth")) == (400.0, 19.5e12, 2039e9)
    assert a100.si("peak_float64_tensor") == 19.5e12 and h100.si("peak_float64_tensor") == 67e12


def test_truenorth_and_bound_are_labelled():
    assert profiles.get("truenorth").scope == "all-in" and profiles.get("truenorth").si("e_synevent_all_in") == pytest.approx(26e-12)
    assert profiles.get("loihi2_bound").label == "bound"


# --- validation of user profile files ----------------------------------------------------------------
def _good():
    return copy.deepcopy(profiles.get("loihi1_davies2018").to_dict())


@pytest.mark.parametrize(
    "mutate, match",
    [
        (lambda d: d["constants"]["e_synop"].pop("source"), "source"),
        (lambda d: d["constants"]["e_synop"].update(grade="hearsay"), "grade"),
        (lambda d: d["constants"]["e_synop"].update(basis="guessed"), "basis"),
        (lambda d: d["constants"]["e_synop"].update(scope="some"), "scope"),
        (lambda d: d["constants"]["e_synop"].update(unit="furlong"), "unit"),
        (lambda d: d["constants"]["e_synop"].update(low=30.0), "low"),
        (lambda d: d["constants"]["e_synop"].pop("via"), "via"),
        (lambda d: d["constants"]["e_synop"].update(grade="derived"), "formula"),
        (lambda d: d["constants"]["e_synop"].update(value=float("nan")), "finite"),
        (lambda d: d["unpriced"].pop("graded_message"), "graded_message"),
        (lambda d: d["energy_terms"].append({"name": "x", "count": "spike", "constants": ["t_synop"]}), "energy"),
        (lambda d: d["energy_terms"].append({"name": "x", "count": "teleport", "constants": ["e_synop"]}), "count"),
        (lambda d: d.update(scope="all-in"), "exactly one"),
        (lambda d: d.update(format="something"), "format"),
        (lambda d: d.update(version=99), "version"),
    ],
)
def test_malformed_profiles_are_rejected(tmp_path, mutate, match):
    d = _good()
    mutate(d)
    path = tmp_path / "p.json"
    path.write_text(json.dumps(d))
    with pytest.raises(energy.ProfileError, match=match):
        profiles.load(path)


def test_a_user_profile_file_loads_and_prices(tmp_path):
    d = _good()
    d["name"] = "my_chip"
    d["constants"]["e_synop"]["value"] = 10.0
    d["constants"]["e_synop"]["low"] = 10.0
    path = tmp_path / "my_chip.json"
    path.write_text(json.dumps(d))
    prof = profiles.load(path)
    counts = {"n_steps": 1, "dt_ms": 1.0, "spikes": 0, "synaptic_events": 5, "neuron_updates": 0, "n_neurons": 1, "n_synapses": 5}
    assert energy.estimate(counts, prof).energy_j == pytest.approx(5 * 10e-12)
