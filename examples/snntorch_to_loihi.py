"""Train in snnTorch, run here, deploy to Loihi/Lava, price it: the end-to-end path.

1. train a small snnTorch classifier for a few seconds on synthetic spike data;
2. export it with snnTorch's own NIR exporter and read it here
   (``snn.nir.read(..., convention="snntorch")``);
3. check that the spikes match snnTorch's on the test samples, on the reference
   and event engines;
4. give every connection Loihi's one-step delay (Lava's Dense delivers in the
   next step; a feed-forward network's spikes then shift by one step per
   layer, checked), quantize to Loihi fixed point, run bit-exactly here and
   on Lava (when the Lava environment exists: ``make lava-env``);
5. map it onto Loihi cores, price it on the energy profiles against the dense
   GPU simulation of the same network, add NeuroBench's metrics, and write the
   report (HTML, Markdown, JSON).

Run: ``.venv/bin/python examples/snntorch_to_loihi.py --out reports/snntorch_to_loihi``
(needs the extras ``nir`` and the interop peers that ``make test`` installs).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

import snn
import snn.metrics
import snn.nir

N_IN, N_HID, N_CLASSES, N_STEPS = 24, 32, 3, 50
DT_MS = 0.1  # snnTorch's exporter writes tau = 1e-4 s / (1 - beta)


def make_data(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Spike trains ``(n, N_STEPS, N_IN)``: class ``c`` fires its block of inputs at 40 %, the rest at 5 %."""
    labels = rng.integers(0, N_CLASSES, n)
    rates = np.full((n, N_IN), 0.05)
    block = N_IN // N_CLASSES
    for k, c in enumerate(labels):
        rates[k, c * block : (c + 1) * block] = 0.4
    x = (rng.random((n, N_STEPS, N_IN)) < rates[:, None, :]).astype(np.float32)
    return x, labels


def build_snntorch(torch, snntorch):
    # uniform decays per layer (Loihi shares one decay per core), reset to zero (as Loihi), no biases
    return torch.nn.Sequential(
        torch.nn.Linear(N_IN, N_HID, bias=False),
        snntorch.Leaky(beta=torch.full((N_HID,), 0.9), threshold=torch.ones(N_HID), init_hidden=True, reset_mechanism="zero"),
        torch.nn.Linear(N_HID, N_CLASSES, bias=False),
        snntorch.Leaky(beta=torch.full((N_CLASSES,), 0.9), threshold=torch.ones(N_CLASSES), init_hidden=True, reset_mechanism="zero", output=True),
    )


def run_snntorch(torch, snntorch, net, x: np.ndarray) -> np.ndarray:
    """Output spikes ``(N_STEPS, N_CLASSES)`` of one sample."""
    snntorch.utils.reset(net)
    out = []
    with torch.no_grad():
        for t in range(x.shape[0]):
            spk, _ = net(torch.from_numpy(x[t : t + 1]))
            out.append(spk[0].numpy() > 0)
    return np.array(out)


def train(torch, snntorch, net, x: np.ndarray, y: np.ndarray, seconds: float) -> int:
    """Adam on the cross-entropy of the output spike counts, mini-batches of 32, for ``seconds``; returns the steps taken."""
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    gen = torch.Generator().manual_seed(0)
    t0, epochs = time.perf_counter(), 0
    while time.perf_counter() - t0 < seconds:
        batch = torch.randint(0, len(x), (32,), generator=gen)
        xt, yt = torch.from_numpy(x)[batch], torch.from_numpy(y)[batch]
        snntorch.utils.reset(net)
        counts = 0
        for t in range(N_STEPS):
            spk, _ = net(xt[:, t])
            counts = counts + spk
        loss = torch.nn.functional.cross_entropy(counts, yt)
        opt.zero_grad()
        loss.backward()
        opt.step()
        epochs += 1
    return epochs


def with_spike_source(net: snn.Network, name: str, raster: np.ndarray) -> snn.Network:
    """The same network with the ExternalInput ``name`` replaced by a SpikeSource replaying ``raster`` (0/1)."""
    out = snn.Network(dt_ms=net.dt_ms)
    for p in net.populations:
        model = snn.SpikeSource(raster=raster > 0) if p.name == name else p.model
        out.add_population(p.name, p.n, model, positions=p.positions_um, initial_state=dict(p.initial_state))
    for pr in net.projections:
        out.add_projection(pr.pre, pr.post, weights=pr.weights, delay_steps=int(pr.delays[0]) if pr.n_synapses else 1, name=pr.name)
    out.outputs = net.outputs
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="reports/snntorch_to_loihi")
    parser.add_argument("--train-seconds", type=float, default=5.0)
    parser.add_argument("--test-samples", type=int, default=20)
    parser.add_argument("--lava-samples", type=int, default=3)
    parser.add_argument("--no-lava", action="store_true", help="skip the Lava run")
    args = parser.parse_args(argv)

    import nir
    import snntorch
    import snntorch.utils
    import torch
    from snntorch.export_nir import export_to_nir

    import energy
    from hardware import lava_backend, loihi, mapping

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    x_train, y_train = make_data(rng, 256)
    x_test, y_test = make_data(rng, args.test_samples)
    notes: list[str] = []
    summary: dict[str, object] = {}

    # 1. train in snnTorch
    net = build_snntorch(torch, snntorch)
    epochs = train(torch, snntorch, net, x_train, y_train, args.train_seconds)
    ref = [run_snntorch(torch, snntorch, net, x) for x in x_test]
    acc_torch = float(np.mean([r.sum(0).argmax() == y for r, y in zip(ref, y_test)]))
    print(f"snnTorch: {epochs} training steps, test accuracy {acc_torch:.2f}")

    # 2. export with snnTorch, import here
    graph = export_to_nir(net, torch.zeros(1, N_IN), ignore_dims=[0])
    nir.write(str(out / "model.nir"), graph)
    ours = snn.nir.read(out / "model.nir", dt_ms=DT_MS, convention="snntorch", reset="zero")
    out_pop = ours.outputs[0]
    print(ours, "outputs:", ours.outputs)

    # 3. the same spikes, on every engine
    engines = [e for e in ("reference", "event") if e in snn.engine_names()]
    runs = {}
    for engine in engines:
        runs[engine] = [snn.simulate(ours, N_STEPS, engine=engine, inputs={"input": x.astype(np.float64)}, record=("spikes", "v", "outputs")) for x in x_test]
        same = all(np.array_equal(r.spikes[out_pop], s) for r, s in zip(runs[engine], ref))
        print(f"{engine}: spikes identical to snnTorch on {len(ref)} samples: {same}")
        summary[f"spikes_match_snntorch_{engine}"] = same
    base = runs[engines[-1]]
    acc_float = float(np.mean([r.spikes[out_pop].sum(0).argmax() == y for r, y in zip(base, y_test)]))

    # 4. Loihi timing, fixed point, Lava
    timed = lava_backend.with_unit_delays(ours)
    n_layers = 2
    long_x = [np.vstack([x, np.zeros((n_layers, N_IN), np.float32)]).astype(np.float64) for x in x_test]
    timed_runs = [snn.simulate(timed, N_STEPS + n_layers, inputs={"input": x}) for x in long_x]
    shifted = all(np.array_equal(r.spikes[out_pop][n_layers:], b.spikes[out_pop]) for r, b in zip(timed_runs, base))
    print(f"unit delays: output spikes are the same, {n_layers} steps later: {shifted}")
    summary["unit_delay_shift_exact"] = shifted
    qnet, qrep = loihi.quantize(timed, input_max={"input": 1.0})
    scale = qrep.input_scales.get("input", 1.0)
    fixed = [snn.simulate(qnet, N_STEPS + n_layers, inputs={"input": np.rint(x * scale)}) for x in long_x]
    acc_fixed = float(np.mean([r.spikes[out_pop].sum(0).argmax() == y for r, y in zip(fixed, y_test)]))
    agree = float(np.mean([np.mean(f.spikes[out_pop] == t.spikes[out_pop]) for f, t in zip(fixed, timed_runs)]))
    print(f"Loihi fixed point: accuracy {acc_fixed:.2f}, output spikes agree with float in {100 * agree:.1f} % of (step, neuron)")
    summary.update(accuracy_snntorch=acc_torch, accuracy_float=acc_float, accuracy_fixed_point=acc_fixed, fixed_vs_float_agreement=agree)
    if args.no_lava:
        notes.append("Lava run skipped (--no-lava).")
    else:
        try:
            k = min(args.lava_samples, len(long_x))
            lava = lava_backend.run_many([qnet] * k, N_STEPS + n_layers, record=("spikes",), inputs=[{"input": np.rint(x * scale)} for x in long_x[:k]])
            exact = all(np.array_equal(lv.spikes[p.name], fx.spikes[p.name]) for lv, fx in zip(lava, fixed) for p in qnet.populations if p.name in fx.spikes)
            print(f"Lava: {k} samples, spikes bit-identical to the fixed-point engine: {exact}")
            summary["lava_bit_exact"] = exact
        except Exception as exc:  # no Lava environment here: say so in the report
            notes.append(f"Lava run skipped: {type(exc).__name__}: {exc}")
            print(notes[-1])

    # 5. map, price, report
    sample = base[0]
    metrics = snn.metrics.neurobench(sample, ours)
    print("NeuroBench metrics (one sample):", json.dumps(metrics))
    # the input as binary spikes (a SpikeSource): the profiles price spike messages, not graded values
    priced_net = with_spike_source(timed, "input", long_x[0])
    priced = snn.simulate(priced_net, N_STEPS + n_layers, engine=engines[-1])
    assert np.array_equal(priced.spikes[out_pop], timed_runs[0].spikes[out_pop])
    placed = mapping.map_network(priced_net, "loihi")
    traffic = mapping.traffic(priced, placed).to_dict()
    work = energy.baseline.dense_snn_workload(ours, N_STEPS)
    gpu = energy.baseline.model(work.flops, work.bytes_moved, "h100", label="dense SNN simulation (snnTorch-style), H100 roofline", algorithm=work.description)
    comparison = energy.compare(
        "snnTorch classifier, one sample",
        priced.counts,
        mapping=traffic,
        baselines=[gpu],
        accuracy={"snntorch": acc_torch, "float (here)": acc_float, "loihi fixed point": acc_fixed},
        extra={"neurobench": metrics, **summary},
    )
    paths = energy.report([comparison], out, title="snnTorch -> NIR -> snn-toolkit -> Loihi", notes=notes)
    (out / "summary.json").write_text(json.dumps({**summary, "neurobench": metrics}, indent=2))
    print("report:", paths["html"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
