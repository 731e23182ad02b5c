"""energy.estimate: every term against a hand calculation, refusals, all-in profiles, KerasSpiking's formula."""

from __future__ import annotations

import math

import numpy as np
import pytest
from _energy_inputs import NS, PJ, US, make_counts, make_mapping

import energy
import snn
from snn.errors import SNNError

# --- hand calculations (numbers typed from the sources, not read from the profiles) ---------------
# make_counts(): 4 steps; spikes per step 10, 20, 0, 30 (60, of which 5 from the source population);
# synaptic events per step 100, 250, 0, 400 (750); 200 non-source neurons -> 800 updates; 3000 synapses.
# make_mapping(): 9 cores; 30 local + 20 remote messages; hops ew 10, ns 5; per-step maxima below.
SYN, UPD, SPIKES, NONSOURCE_SPIKES, MSG, EW, NS_HOPS = 750, 800, 60, 55, 50, 10, 5
MAX_SYN, MAX_NU, MAX_HOPS = [40, 90, 0, 120], [25, 25, 25, 25], [2, 3, 0, 4]
SPIKES_PER_CORE = [math.ceil(s / 9) for s in (10, 20, 0, 30)]  # spread over the mapping's 9 cores


def test_davies2018_every_term_by_hand():
    est = energy.estimate(make_counts(), "loihi1_davies2018", make_mapping())
    assert est.breakdown == pytest.approx(
        {
            "synaptic_event": SYN * 23.6 * PJ,
            "neuron_update": UPD * 81 * PJ,
            "spike_message": MSG * 1.7 * PJ,
            "hop_ew": EW * 3.0 * PJ,
            "hop_ns": NS_HOPS * 4.0 * PJ,
        },
        rel=1e-12,
    )
    assert est.energy_j == pytest.approx(82635 * PJ, rel=1e-12)
    # range: neuron update 52 pJ inactive .. 81 pJ active; the synop's 23.6 pJ minimum reaches SANA-FE's calibrated 35.5 pJ
    assert est.energy_low_j == pytest.approx((SYN * 23.6 + UPD * 52 + MSG * 1.7 + EW * 3 + NS_HOPS * 4) * PJ, rel=1e-12)
    assert est.energy_high_j == pytest.approx((SYN * 35.5 + UPD * 81 + MSG * 1.7 + EW * 3 + NS_HOPS * 4) * PJ, rel=1e-12)
    # per step: busiest core's neuron updates, synaptic ops, messages in series + longest route at 6.5 ns
    # + the time-step barrier, 113 ns (low end, the best value) .. 465 ns
    t = sum(nu * 8.4 + se * 3.5 + sp * 2.1 + h * 6.5 + 113 for nu, se, sp, h in zip(MAX_NU, MAX_SYN, SPIKES_PER_CORE, MAX_HOPS)) * NS
    assert est.time_s == pytest.approx((1792.4 + 4 * 113) * NS, rel=1e-12) and est.time_s == pytest.approx(t, rel=1e-12)
    assert est.time_low_s == pytest.approx((1792.4 - 4 * 25 * (8.4 - 5.3) + 4 * 113) * NS, rel=1e-12)
    assert est.time_high_s == pytest.approx((1792.4 + 4 * 465) * NS, rel=1e-12)
    # static power: no source, so none is charged and the estimate says so
    assert est.static_j is None and est.static_power.startswith("not known")
    assert any("static power: not known" in n for n in est.notes)
    assert est.edp == pytest.approx(est.energy_j * est.time_s, rel=1e-12)
    assert est.label == "estimate" and est.profile == "loihi1_davies2018"


def test_davies2018_without_mapping_uses_the_documented_fallback():
    est = energy.estimate(make_counts(), "loihi1_davies2018")
    # one message per spike (sources included), no hops
    assert est.operations["message"] == SPIKES and est.operations["hop_ew"] == 0
    assert est.energy_j == pytest.approx((SYN * 23.6 + UPD * 81 + SPIKES * 1.7) * PJ, rel=1e-12)
    # 200 neurons fit one core (1024 per core): every step's work on that core
    t = (200 * 8.4 * 4 + SYN * 3.5 + SPIKES * 2.1 + 4 * 113) * NS
    assert est.time_s == pytest.approx(t, rel=1e-12)
    assert "fallback" in est.time_model


def test_fallback_spreads_work_over_the_fewest_cores():
    counts = make_counts(n_nonsource=2500, spikes_per_step=(30, 30, 30, 30), synaptic_events_per_step=(301, 0, 0, 0))
    est = energy.estimate(counts, "loihi1_davies2018")
    cores = 3  # ceil(2500 / 1024)
    t = (4 * math.ceil(2500 / cores) * 8.4 + math.ceil(301 / cores) * 3.5 + 4 * math.ceil(30 / cores) * 2.1 + 4 * 113) * NS
    assert est.time_s == pytest.approx(t, rel=1e-12)


def test_sanafe_profile_every_term_by_hand():
    est = energy.estimate(make_counts(), "loihi1_sanafe", make_mapping())
    assert est.breakdown == pytest.approx(
        {
            "soma_access": UPD * 51.2 * PJ,
            "soma_update": UPD * 21.6 * PJ,
            "soma_spike_out": NONSOURCE_SPIKES * 69.3 * PJ,
            "synapse": SYN * 35.5 * PJ,
            "axon_out": MSG * 111.0 * PJ,
            "axon_in": 0.0,
            "hop_ew": EW * 3.0 * PJ,
            "hop_ns": NS_HOPS * 4.2 * PJ,
        },
        rel=1e-12,
        abs=1e-30,
    )
    assert est.energy_j == pytest.approx(94277.5 * PJ, rel=1e-12)
    # idle somas, convolutional synapse unit; then SANA-FE's stated error against silicon (<= 11.7% energy) widens it
    assert est.energy_low_j == pytest.approx(68372.5 * (1 - 0.117) * PJ, rel=1e-12)
    assert est.energy_high_j == pytest.approx(94277.5 * (1 + 0.117) * PJ, rel=1e-12)
    # SANA-FE's simple timing model: per core max(send, receive), the busiest core, + sync for the tiles in use.
    # make_mapping() is an old-contract dict (no per-core rows, no n_tiles): the busiest core's counts term by term,
    # spikes and messages spread over its 9 cores, and 9 cores = 3 tiles of 4 -> the 2-tile sync entry (1.0 us)
    msgs_per_core = [math.ceil(s * MSG / SPIKES / 9) for s in (10, 20, 0, 30)]  # 1, 2, 0, 3
    send = [nu * (6.0 + 3.7) + sp * 30.0 + m * 5.1 for nu, sp, m in zip(MAX_NU, SPIKES_PER_CORE, msgs_per_core)]
    receive = [sp * 16.0 + se * 3.8 for sp, se in zip(SPIKES_PER_CORE, MAX_SYN)]
    assert send == pytest.approx([307.6, 342.7, 242.5, 377.8]) and receive == pytest.approx([184.0, 390.0, 0.0, 520.0])
    assert est.time_s == pytest.approx((307.6 + 390.0 + 242.5 + 520.0 + 4 * 1000.0) * NS, rel=1e-12)
    # SANA-FE's stated latency error (<= 24.3%) is the time range
    assert est.time_low_s == pytest.approx(5460.1 * (1 - 0.243) * NS, rel=1e-12)
    assert est.time_high_s == pytest.approx(5460.1 * (1 + 0.243) * NS, rel=1e-12)
    assert any("no per-core rows" in n for n in est.notes) and any("'n_tiles'" in n for n in est.notes)


def _tiny_traffic():
    """Two steps on 3 cores in 2 tiles; per core [neuron_updates, spikes, messages_sent] / [messages_received, synaptic_events].

    step 0: core A sends most (10 neurons, 2 fired, 4 messages), core B receives most (3 messages, 40 events)
    step 1: core C sends most (6 neurons, 3 fired, 9 messages), core A receives most (5 messages, 10 events)
    """
    send = [[[10, 2, 4], [4, 0, 0], [6, 1, 3]], [[10, 0, 0], [4, 1, 1], [6, 3, 9]]]
    receive = [[[1, 8], [3, 40], [2, 5]], [[5, 10], [0, 0], [2, 12]]]
    return {
        "n_cores": 3,
        "n_chips": 1,
        "topology": "2d",
        "messages_local": 4,
        "messages_remote": 13,
        "hops": {"ew": 6, "ns": 2, "vertical": 0},
        "per_step_max_core_synaptic_events": [40, 12],
        "per_step_max_core_neuron_updates": [10, 10],
        "per_step_max_hops": [1, 2],
        "n_tiles": 2,
        "per_step_max_core_spikes": [2, 3],
        "per_step_max_core_messages_sent": [4, 9],
        "per_step_max_core_messages_received": [3, 5],
        "per_step_core_send": send,
        "per_step_core_receive": receive,
    }


def test_sanafe_time_is_the_busiest_core_of_per_core_send_and_receive_work():
    counts = make_counts(spikes_per_step=(3, 4), synaptic_events_per_step=(53, 22), n_nonsource=20, source_spikes=0)
    est = energy.estimate(counts, "loihi1_sanafe", _tiny_traffic())
    # send per core: neurons x (6.0 + 3.7) + fired x 30.0 + messages x 5.1 ns; receive: messages x 16.0 + events x 3.8 ns
    # step 0: send A 97 + 60 + 20.4 = 177.4, B 38.8, C 58.2 + 30 + 15.3 = 103.5; receive A 46.4, B 48 + 152 = 200, C 51
    # step 1: send A 97, B 38.8 + 30 + 5.1 = 73.9, C 58.2 + 90 + 45.9 = 194.1; receive A 80 + 38 = 118, B 0, C 77.6
    # busiest: 200 (B receiving), 194.1 (C sending); 2 tiles -> sync 1.0 us per step
    assert est.time_s == pytest.approx((200.0 + 194.1 + 2 * 1000.0) * NS, rel=1e-12)
    assert not any("spread" in n or "per-core rows" in n or "n_tiles" in n for n in est.notes)
    # without the per-core rows the busiest core's counts are taken term by term: an upper bound
    old = {k: v for k, v in _tiny_traffic().items() if k not in ("per_step_core_send", "per_step_core_receive")}
    bound = energy.estimate(counts, "loihi1_sanafe", old)
    # step 0: send 97 + 60 + 20.4 = 177.4, receive 48 + 152 = 200; step 1: send 97 + 90 + 45.9 = 232.9, receive 80 + 45.6 = 125.6
    assert bound.time_s == pytest.approx((200.0 + 232.9 + 2 * 1000.0) * NS, rel=1e-12) and bound.time_s > est.time_s
    # the sync latency follows the tiles in use, not the cores: 3 cores on 3 tiles -> the 2-tile entry still; on 4 -> 1.4 us
    assert energy.estimate(counts, "loihi1_sanafe", {**_tiny_traffic(), "n_tiles": 1}).time_s == pytest.approx(
        (200.0 + 194.1 + 2 * 600.0) * NS, rel=1e-12
    )
    four = {**_tiny_traffic(), "n_cores": 4, "n_tiles": 4}
    assert energy.estimate(counts, "loihi1_sanafe", four).time_s == pytest.approx((200.0 + 194.1 + 2 * 1400.0) * NS, rel=1e-12)


def test_per_core_rows_are_validated():
    counts = make_counts(spikes_per_step=(3, 4), synaptic_events_per_step=(53, 22), n_nonsource=20, source_spikes=0)
    for key, bad in (
        ("per_step_core_send", [[[10, 2]], [[1, 1, 1]]]),  # a row of 2, not 3
        ("per_step_core_receive", [[[1, -8]], [[0, 0]]]),  # negative
        ("per_step_core_receive", [[[1, 8]]]),  # one step, not two
        ("n_tiles", 5),  # more tiles than cores
        ("per_step_max_core_messages_received", [1, 2, 3]),
    ):
        with pytest.raises(energy.EnergyError, match=key):
            energy.estimate(counts, "loihi1_sanafe", {**_tiny_traffic(), key: bad})


def test_sanafe_sync_latency_follows_the_tiles_in_use():
    # old-contract dicts: the fewest tiles holding the cores; 1 core -> 1 tile, 128 cores -> 32 tiles (the 29-tile entry)
    one_core = energy.estimate(make_counts(), "loihi1_sanafe", make_mapping(n_cores=1))
    many = energy.estimate(make_counts(), "loihi1_sanafe", make_mapping(n_cores=128))
    no_sync_1 = one_core.time_s - 4 * 0.6 * US
    no_sync_128 = many.time_s - 4 * 1.8 * US
    # on one core every spike and message lands on it; on 128 they are spread (ceil(s / 128) = 1 for s > 0)
    send_1 = [nu * 9.7 + s * 30.0 + math.ceil(s * MSG / SPIKES) * 5.1 for nu, s in zip(MAX_NU, (10, 20, 0, 30))]
    recv_1 = [s * 16.0 + se * 3.8 for s, se in zip((10, 20, 0, 30), MAX_SYN)]
    assert no_sync_1 == pytest.approx(sum(max(a, b) for a, b in zip(send_1, recv_1)) * NS, rel=1e-9)
    send_128 = [nu * 9.7 + (s > 0) * (30.0 + 5.1) for nu, s in zip(MAX_NU, (10, 20, 0, 30))]
    recv_128 = [(s > 0) * 16.0 + se * 3.8 for s, se in zip((10, 20, 0, 30), MAX_SYN)]
    assert no_sync_128 == pytest.approx(sum(max(a, b) for a, b in zip(send_128, recv_128)) * NS, rel=1e-9)


def test_truenorth_is_all_in_and_never_gets_extra_terms():
    est = energy.estimate(make_counts(), "truenorth", make_mapping())
    assert est.time_s == pytest.approx(4 * 1e-3, rel=1e-12)  # one 1 ms tick per step
    # energy = max(26 pJ x 750 events = 19.5 nJ, 65 mW x 4 ms = 260 uJ): the chip power wins for this sparse job
    assert est.energy_j == pytest.approx(65e-3 * 4e-3, rel=1e-12)
    assert est.breakdown["synaptic_event_all_in"] == pytest.approx(SYN * 26 * PJ, rel=1e-12)
    assert est.breakdown["chip power x time (floor excess)"] == pytest.approx(65e-3 * 4e-3 - SYN * 26 * PJ, rel=1e-12)
    assert est.energy_low_j == pytest.approx(65e-3 * 4e-3, rel=1e-12) and est.energy_high_j == pytest.approx(70e-3 * 4e-3, rel=1e-12)
    assert est.static_power.startswith("included")
    # the same with or without routing: nothing is added to an all-in figure
    assert energy.estimate(make_counts(), "truenorth").energy_j == est.energy_j
    with pytest.raises(energy.EnergyError, match="all-in"):
        energy.estimate(make_counts(), "truenorth", make_mapping(vertical=3), assumptions={"hop_vertical": 1e-12})


def test_loihi2_bound_is_labelled_a_bound_and_all_in():
    est = energy.estimate(make_counts(graded_spikes=7), "loihi2_bound", make_mapping(n_chips=2))
    assert est.label == "bound" and "bound" in est.notes[0]
    assert list(est.breakdown) == ["synaptic_event_all_in_bound"]
    assert est.energy_j == pytest.approx(SYN / 15e12, rel=1e-5)  # 15 TOPS/W, one op per synaptic event
    assert est.energy_high_j == pytest.approx(SYN * 2600 / 380e12, rel=1e-6)  # max power / peak synop rate
    # time bound per step: the busiest core's neuron updates or synaptic events (the slower), at one core's share of
    # the peak rates (380e12 synops/s and 240e12 neuron ops/s over 140,544 cores)
    t = sum(max(nu * 140544 / 240e12, se * 140544 / 380e12) for nu, se in zip(MAX_NU, MAX_SYN))
    assert est.time_s == pytest.approx(t, rel=1e-6)
    # without a mapping: 200 neurons fit one core -> all the work on it, every step
    alone = energy.estimate(make_counts(graded_spikes=7), "loihi2_bound")
    assert alone.time_s == pytest.approx(sum(max(200 * 140544 / 240e12, se * 140544 / 380e12) for se in (100, 250, 0, 400)), rel=1e-6)
    # a one-core job is not priced at a whole chip's throughput (the old bound): ~122x slower than that
    assert alone.time_s > 100 * max(SYN / (380e12 / 1152), UPD / (240e12 / 1152))


def test_truenorth_dense_job_is_priced_per_event():
    counts = make_counts(synaptic_events_per_step=(10**10, 0, 0, 0))
    est = energy.estimate(counts, "truenorth")
    assert est.energy_j == pytest.approx(10**10 * 26 * PJ, rel=1e-12)  # 0.26 J > 70 mW x 4 ms
    assert list(est.breakdown) == ["synaptic_event_all_in"]


def test_static_power_is_a_term_of_its_own(tmp_path):
    import json

    from energy import profiles

    d = profiles.get("loihi1_davies2018").to_dict()
    d["name"] = "davies_with_static"
    d["constants"]["p_static_core"] = {
        "value": 1.0,
        "unit": "mW",
        "low": 0.5,
        "high": 2.0,
        "source": "test figure",
        "grade": "primary",
        "basis": "specified",
        "scope": "all-in",
    }
    d["static_power"] = {"constant": "p_static_core", "per": "core"}
    path = tmp_path / "p.json"
    path.write_text(json.dumps(d))
    prof = profiles.load(path)
    base = energy.estimate(make_counts(), "loihi1_davies2018", make_mapping())
    est = energy.estimate(make_counts(), prof, make_mapping())
    # 9 cores x 1 mW x chip time, low/high with the time's low/high
    assert est.breakdown["static (P x chip time)"] == pytest.approx(9 * 1e-3 * base.time_s, rel=1e-12)
    assert est.static_j == pytest.approx(9 * 1e-3 * base.time_s, rel=1e-12)
    assert est.energy_j == pytest.approx(base.energy_j + est.static_j, rel=1e-12)
    assert est.dynamic_j == pytest.approx(base.energy_j, rel=1e-12)
    assert est.energy_low_j == pytest.approx(base.energy_low_j + 9 * 0.5e-3 * base.time_low_s, rel=1e-12)
    assert est.energy_high_j == pytest.approx(base.energy_high_j + 9 * 2e-3 * base.time_high_s, rel=1e-12)
    assert est.static_power.startswith("priced")
    d["static_power"] = {"constant": "p_static_core"}  # per chip by default: 1 chip
    path.write_text(json.dumps(d))
    chip = energy.estimate(make_counts(), profiles.load(path), make_mapping())
    assert chip.static_j == pytest.approx(1e-3 * base.time_s, rel=1e-12)


@pytest.mark.parametrize(
    "bad, match",
    [
        ({"constant": "e_synop"}, "power"),
        ({"constant": "nope"}, "nope"),
        ({"status": "guessed", "reason": "x"}, "status"),
        ({"status": "not known"}, "reason"),
    ],
)
def test_static_power_spec_is_validated(tmp_path, bad, match):
    import json

    from energy import profiles

    d = profiles.get("loihi1_davies2018").to_dict()
    d["static_power"] = bad
    path = tmp_path / "p.json"
    path.write_text(json.dumps(d))
    with pytest.raises(energy.ProfileError, match=match):
        profiles.load(path)


def test_op_level_and_keras_terms_by_hand():
    h = energy.estimate(make_counts(), "horowitz2014")
    assert h.energy_j == pytest.approx((SYN * (3.7 + 0.9 + 5.0) + UPD * (2 * 3.7 + 3 * 0.9 + 2 * 5.0)) * PJ, rel=1e-12)
    assert h.energy_low_j == pytest.approx((SYN * (0.9 + 5.0) + UPD * 20.1) * PJ, rel=1e-12)
    assert h.time_s is None and h.edp is None
    k = energy.estimate(make_counts(), "keras_spiking_loihi", make_mapping())
    assert k.breakdown == pytest.approx({"synop": SYN * (23.6 + 3.5) * 1e-12, "neuron_update": UPD * 81e-12}, rel=1e-12)
    assert any("routing" in n for n in k.notes)  # routing is outside KerasSpiking's scope, said so
    cpu = energy.estimate(make_counts(), "keras_spiking_cpu")
    assert cpu.energy_j == pytest.approx(3000 * 4 * 8.6e-9 + UPD * 8.6e-9, rel=1e-12)  # every synapse every step


@pytest.mark.parametrize("profile", ["loihi1_davies2018", "loihi1_sanafe", "truenorth", "keras_spiking_loihi", "keras_spiking_spinnaker2"])
def test_graded_spikes_are_refused_where_unpriced(profile):
    with pytest.raises(energy.UnpricedOperationError) as info:
        energy.estimate(make_counts(graded_spikes=3), profile)
    err = info.value
    assert isinstance(err, SNNError) and isinstance(err, ValueError)
    assert err.kind == "graded_message" and err.count == 3 and err.profile == profile
    assert "graded_message" in str(err) and profile in str(err) and "partial" in str(err)


@pytest.mark.parametrize("profile", ["loihi2_bound", "horowitz2014", "keras_spiking_gpu"])
def test_graded_spikes_are_priced_where_the_profile_covers_them(profile):
    assert energy.estimate(make_counts(graded_spikes=3), profile).energy_j > 0


def test_vertical_hops_refused_unless_assumed_explicitly():
    counts, mapping = make_counts(), make_mapping(topology="3d", vertical=7)
    with pytest.raises(energy.UnpricedOperationError, match="hop_vertical"):
        energy.estimate(counts, "loihi1_davies2018", mapping)
    base = energy.estimate(counts, "loihi1_davies2018", make_mapping())
    by_name = energy.estimate(counts, "loihi1_davies2018", mapping, assumptions={"hop_vertical": "e_hop_ns"})
    assert by_name.breakdown["hop_vertical (assumed)"] == pytest.approx(7 * 4.0 * PJ, rel=1e-12)
    assert by_name.energy_j == pytest.approx(base.energy_j + 7 * 4.0 * PJ, rel=1e-12)
    assert by_name.assumptions == {"hop_vertical": pytest.approx(4.0 * PJ)}
    assert any("assumption" in n for n in by_name.notes)
    numeric = energy.estimate(counts, "loihi1_davies2018", mapping, assumptions={"hop_vertical": 1e-12})
    assert numeric.breakdown["hop_vertical (assumed)"] == pytest.approx(7e-12)
    with pytest.raises(energy.EnergyError, match="unpriced"):
        energy.estimate(counts, "loihi1_davies2018", mapping, assumptions={"synaptic_event": 1e-12})
    with pytest.raises(energy.EnergyError, match="joules"):
        energy.estimate(counts, "loihi1_davies2018", mapping, assumptions={"hop_vertical": -1.0})


def test_mapping_without_remote_messages_prices_one_message_per_spike():
    mapping = make_mapping()
    del mapping["messages_remote"]
    est = energy.estimate(make_counts(), "loihi1_davies2018", mapping)
    assert est.operations["message"] == SPIKES
    assert any("messages_remote" in n for n in est.notes)


def test_dense_processor_profiles_are_not_for_spike_counts():
    with pytest.raises(energy.ProfileError, match="baseline.model"):
        energy.estimate(make_counts(), "h100")


@pytest.mark.parametrize(
    "change, match",
    [
        ({"n_steps": 0}, "n_steps"),
        ({"spikes": -1}, "spikes"),
        ({"spikes_per_step": [1, 2]}, "spikes_per_step"),
        ({"dt_ms": 0.0}, "dt_ms"),
    ],
)
def test_bad_counts_are_refused_with_the_argument_named(change, match):
    counts = make_counts()
    counts.update(change)
    with pytest.raises(energy.EnergyError, match=match):
        energy.estimate(counts, "loihi1_davies2018")


def test_bad_mappings_are_refused_with_the_key_named():
    m = make_mapping()
    m["per_step_max_hops"] = [1, 2, 3]
    with pytest.raises(energy.EnergyError, match="per_step_max_hops"):
        energy.estimate(make_counts(), "loihi1_davies2018", m)
    m = make_mapping()
    del m["hops"]
    with pytest.raises(energy.EnergyError, match="hops"):
        energy.estimate(make_counts(), "loihi1_davies2018", m)
    with pytest.raises(energy.EnergyError, match="topology"):
        energy.estimate(make_counts(), "loihi1_davies2018", make_mapping(topology="ring"))
    with pytest.raises(TypeError):
        energy.estimate(make_counts(), "loihi1_davies2018", [1, 2])
    with pytest.raises(energy.ProfileError, match="unknown profile"):
        energy.estimate(make_counts(), "loihi9")


def test_real_run_counts_object_and_dict_agree_and_breakdowns_sum(small_run):
    _, res = small_run
    for name in energy.default_profiles():
        a = energy.estimate(res.counts, name)
        b = energy.estimate(res.counts.to_dict(), name)
        assert a.energy_j == b.energy_j and a.time_s == b.time_s
        assert a.energy_j == pytest.approx(sum(a.breakdown.values()), rel=1e-12)
        assert a.energy_j > 0
        if a.energy_low_j is not None:
            assert a.energy_low_j <= a.energy_j <= a.energy_high_j
    ops = energy.operation_counts(res.counts)
    assert ops["synaptic_event"] == res.counts.synaptic_events
    assert ops["spike"] == res.counts.spikes_per_population["exc"]  # the Poisson source is not a neuron


# --- KerasSpiking: its ModelEnergy formula, computed independently --------------------------------
# Device table transcribed from keras_spiking/model_energy.py (KerasSpiking 0.3.0), in joules.
KERAS_SPIKING_DEVICES = {
    "cpu": dict(spiking=False, energy_per_synop=8.6e-9, energy_per_neuron=8.6e-9),
    "gpu": dict(spiking=False, energy_per_synop=0.3e-9, energy_per_neuron=0.3e-9),
    "arm": dict(spiking=False, energy_per_synop=0.9e-9, energy_per_neuron=0.9e-9),
    "loihi": dict(spiking=True, energy_per_synop=(23.6 + 3.5) * 1e-12, energy_per_neuron=81e-12),
    "spinnaker": dict(spiking=True, energy_per_synop=13.3e-9, energy_per_neuron=26e-9),
    "spinnaker2": dict(spiking=True, energy_per_synop=450e-12, energy_per_neuron=2.19e-9),
}


def _keras_spiking_layer_energy(device, connections, neurons, input_rate_hz, dt_s, timesteps):
    """KerasSpiking's ModelEnergy.layer_energy for one Dense layer (its formula, re-typed)."""
    d = KERAS_SPIKING_DEVICES[device]
    rate = (1 / dt_s) if not d["spiking"] else input_rate_hz
    steps = 1 if not d["spiking"] else timesteps
    synop = d["energy_per_synop"] * connections * rate * dt_s * steps
    neuron = d["energy_per_neuron"] * neurons * steps
    return synop + neuron


@pytest.fixture(scope="module")
def dense_layer_run():
    """One dense layer: 30 input spike trains, all-to-all onto 12 IF neurons, 50 steps of 1 ms."""
    rng = np.random.default_rng(7)
    n_in, n_out, steps = 30, 12, 50
    raster = rng.random((steps, n_in)) < 0.2
    net = snn.Network(dt_ms=1.0)
    net.add_population("in", n_in, snn.SpikeSource(raster=raster))
    net.add_population("out", n_out, snn.IF(v_th=1.0))
    net.connect("in", "out", snn.connect.all_to_all(), weight=0.1)
    res = snn.simulate(net, steps, seed=0)
    return raster, n_in, n_out, steps, res


@pytest.mark.parametrize("device", sorted(KERAS_SPIKING_DEVICES))
def test_keras_spiking_profiles_reproduce_model_energy(device, dense_layer_run):
    raster, n_in, n_out, steps, res = dense_layer_run
    dt_s = 1e-3
    rate_hz = raster.mean() / dt_s  # KerasSpiking: mean input activity over batch/time/units, per second
    per_inference = _keras_spiking_layer_energy(device, n_in * n_out, n_out, rate_hz, dt_s, steps)
    # a spiking device runs the whole presentation as one inference; a non-spiking device is one ANN
    # inference per step in KerasSpiking's model, so a run of `steps` steps is `steps` inferences
    expected = per_inference if KERAS_SPIKING_DEVICES[device]["spiking"] else per_inference * steps
    assert res.counts.graded_spikes == 0
    est = energy.estimate(res.counts, f"keras_spiking_{device}")
    assert est.energy_j == pytest.approx(expected, rel=1e-12)
