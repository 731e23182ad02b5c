"""Fuzzing findings of issue 17: profile names and files, malformed profiles, out-of-range counts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from _energy_inputs import make_counts, make_mapping

import energy
from energy import profiles
from energy.errors import EnergyError, ProfileError


def _shipped(name="loihi1_davies2018"):
    return json.loads(Path(profiles.get(name).path).read_text(encoding="utf-8"))


@pytest.mark.parametrize("name", ["../data/h100", "../../../../etc/passwd", "data/h100", "h100.json", "/tmp/x", "..\\h100"])
def test_get_refuses_paths_and_never_caches_a_refusal(name):
    for _ in range(2):  # a refused name must stay refused on the second call
        with pytest.raises(ProfileError, match="unknown profile"):
            profiles.get(name)
    assert name not in profiles._CACHE


def test_get_reads_an_explicit_path(tmp_path):
    d = _shipped()
    d["name"] = "mine"
    p = tmp_path / "mine.json"
    p.write_text(json.dumps(d), encoding="utf-8")
    assert profiles.get(p).name == "mine"
    assert profiles.load(str(p)).name == "mine"
    assert "mine" not in profiles._CACHE


def _broken(tmp_path, data=None, raw=None):
    p = tmp_path / "bad.json"
    if raw is not None:
        p.write_bytes(raw)
    else:
        p.write_text(json.dumps(data), encoding="utf-8")
    return p


def _mutations():
    out = {}
    d = _shipped()
    d["constants"]["e_synop"]["value"] = "23.6"
    out["string value"] = d
    d = _shipped()
    d["constants"]["e_synop"]["unit"] = 5
    out["unit not a str"] = d
    d = _shipped()
    del d["energy_terms"]
    out["missing energy_terms"] = d
    d = _shipped()
    d["energy_terms"] = {"a": 1}
    out["energy_terms not a list"] = d
    d = _shipped()
    d["time"]["terms"] = [5]
    out["time term not an object"] = d
    d = _shipped()
    d["time"] = "fast"
    out["time not an object"] = d
    d = _shipped()
    d["covers"] = [1, 2]
    out["covers a list"] = d
    d = _shipped()
    d["constants"] = []
    out["constants a list"] = d
    out["not an object"] = [1, 2, 3]
    return out


@pytest.mark.parametrize("what", list(_mutations()))
def test_malformed_profiles_are_one_profile_error(tmp_path, what):
    with pytest.raises(ProfileError):
        profiles.load(_broken(tmp_path, _mutations()[what]))


def test_non_utf8_deep_nesting_and_missing_file(tmp_path):
    with pytest.raises(ProfileError, match="UTF-8"):
        profiles.load(_broken(tmp_path, raw=b'{"format": "\xff\xfe"}'))
    with pytest.raises(ProfileError, match="nested"):
        profiles.load(_broken(tmp_path, raw=b"[" * 100000 + b"]" * 100000))
    with pytest.raises(ProfileError, match="cannot be read"):
        profiles.load(tmp_path / "absent.json")
    with pytest.raises(ProfileError, match="not valid JSON"):
        profiles.load(_broken(tmp_path, raw=b"{nope"))
    # brackets inside strings do not count as nesting
    assert profiles._json_depth('{"a": "[[[[[[[[[[[[[[[[[[[[[[[[", "b": [1]}') == 2


@pytest.mark.parametrize(
    ("const", "key", "value"),
    [("e_synop", "value", -23.6), ("e_synop", "low", -1.0), ("neurons_per_core", "value", 0), ("t_synop", "value", -1.0)],
)
def test_non_positive_constants_refused(tmp_path, const, key, value):
    d = _shipped()
    if const not in d["constants"]:
        pytest.skip(f"{const} not in the shipped profile")
    d["constants"][const][key] = value
    with pytest.raises(ProfileError, match="must be"):
        profiles.load(_broken(tmp_path, d))


def test_zero_rate_refused_instead_of_zero_division(tmp_path):
    d = _shipped("loihi2_bound")
    rate = next(k for k, c in d["constants"].items() if c["unit"] in ("op/s", "GFLOP/s", "TFLOP/s"))
    d["constants"][rate]["value"] = 0.0
    d["constants"][rate].pop("low", None)
    with pytest.raises(ProfileError, match="> 0"):
        profiles.load(_broken(tmp_path, d))


@pytest.mark.parametrize("big", [10**30, 10**400, 2**63, -1])
def test_estimate_refuses_counts_outside_int64(big):
    c = make_counts()
    c["synaptic_events"] = big
    with pytest.raises(EnergyError, match="2\\*\\*63 - 1"):
        energy.estimate(c, "loihi1_davies2018")


@pytest.mark.parametrize("big", [10**30, 10**400, 2.0**60, float("nan")])
def test_estimate_refuses_per_step_counts_outside_int64(big):
    c = make_counts()
    c["spikes_per_step"] = [10, big, 0, 30]
    with pytest.raises(EnergyError, match="spikes_per_step"):
        energy.estimate(c, "loihi1_davies2018")
    m = make_mapping()
    m["per_step_max_core_synaptic_events"] = [40, big, 0, 120]
    with pytest.raises(EnergyError, match="per_step_max_core_synaptic_events"):
        energy.estimate(make_counts(), "loihi1_davies2018", m)


def test_largest_int64_counts_still_price_positive():
    c = make_counts()
    c["spikes_per_step"] = np.array([10, 20, 0, 30], dtype=np.uint64)
    c["synaptic_events"] = 2**62
    est = energy.estimate(c, "loihi1_davies2018")
    assert est.energy_j > 0 and est.time_s > 0
