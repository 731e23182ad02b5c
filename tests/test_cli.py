"""The `snn` console script: the commands run end to end and their outputs hold real numbers."""

import json

import numpy as np
import pytest

import snn
from snn import cli


def test_version_and_engine_table(capsys):
    with pytest.raises(SystemExit) as ex:
        cli.main(["--version"])
    assert ex.value.code == 0 and snn.__version__ in capsys.readouterr().out
    assert cli.main(["engines", "--steps", "50"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines() if line.split() and line.split()[0] in snn.engine_names()]
    assert {r[0] for r in rows} == set(snn.engine_names())
    # every engine reports the same spikes and synaptic events on the same seeded network
    assert len({(r[1], r[2]) for r in rows}) == 1 and int(rows[0][1]) > 0


def test_demo_writes_a_report_with_the_task_and_its_baseline(tmp_path, capsys):
    out = tmp_path / "demo"
    assert cli.main(["demo", "--out", str(out), "--only", "shortest_path", "--no-lava", "--quiet", "--steps", "50"]) == 0
    for name in ("report.html", "report.md", "report.json", "summary.json"):
        assert (out / name).stat().st_size > 0
    summary = json.loads((out / "summary.json").read_text())
    job = summary["jobs"]["shortest_path"]
    assert job["success"] and job["synaptic_events"] > 0 and job["baseline_flops"] > 0
    assert job["errors"]["max_abs_error"] == 0.0
    assert summary["fixed_point_linear"]["errors"]["rel_residual"] <= 1e-3
    report = json.loads((out / "report.json").read_text())
    assert "shortest path" in json.dumps(report)
    assert "MODELLED" in (out / "report.md").read_text() or summary["device"] == "cuda"
    # the task's size sweep: its point at the demo's size is the demo job itself (reused, so the same measured CPU time)
    (sweep,) = report["size_sweeps"]
    assert sweep["task"] == "shortest_path" and 200.0 in sweep["sizes"] and (out / "figures" / "sweep-shortest_path.png").exists()
    k = sweep["sizes"].index(200.0)
    assert sweep["series"]["cpu"]["time_s"][k]["best"] == pytest.approx(job["cpu_baseline"]["wall_time_s"], rel=1e-12)
    (comp,) = report["comparisons"]
    assert sweep["series"]["chip"]["energy_j"][k] == pytest.approx(comp["headline"]["chip_energy_j"], rel=1e-12)
    assert "## Size sweep: shortest path" in (out / "report.md").read_text()


def test_report_and_deploy_from_a_saved_network(tmp_path, capsys):
    net = snn.Network(dt_ms=1.0)
    net.add_population("input", 8, snn.ExternalInput())
    net.add_population("lif", 16, snn.LIF(tau_mem_ms=10.0, v_th=1.0))
    net.add_projection("input", "lif", weights=np.random.default_rng(0).uniform(0, 1.5, (16, 8)), delay_steps=1)
    snn.save(net, tmp_path / "net.npz")
    assert cli.main(["report", str(tmp_path / "net.npz"), "--steps", "40", "--out", str(tmp_path / "rep"), "--quiet"]) == 0
    assert (tmp_path / "rep" / "report.html").exists()
    assert cli.main(["deploy", "lava", str(tmp_path / "net.npz"), "--steps", "30", "--out", str(tmp_path / "dep")]) == 0
    manifest = json.loads((tmp_path / "dep" / "manifest.json").read_text())
    # the manifest's expected spike counts are those of our own fixed-point run of the same network
    from hardware import loihi

    qnet, rep = loihi.quantize(net)
    x = (np.random.default_rng(0).random((30, 8)) < 0.1).astype(float)  # what the CLI draws for an unspecified input
    ours = snn.simulate(qnet, 30, engine=manifest["expected"]["engine"], inputs={"input": np.rint(x * rep.input_scales["input"])})
    assert manifest["expected"]["spike_counts"] == [ours.counts.spikes_per_population[p.name] for p in qnet.populations]
    assert manifest["expected"]["spike_counts"][1] > 0
    assert (tmp_path / "dep" / "run.py").exists()
    # a network Loihi cannot express is refused with a clear message, not a traceback
    bad = snn.Network()
    bad.add_population("a", 2, snn.LIF(reset="subtract", bias=2.0))
    snn.save(bad, tmp_path / "bad.npz")
    assert cli.main(["deploy", "lava", str(tmp_path / "bad.npz"), "--out", str(tmp_path / "dep2")]) == 2
    assert "reset" in capsys.readouterr().err
    assert not (tmp_path / "dep2").exists()


# ------------------------------------------------------------------ issue 15: help, bench, deploy
def _actions(parser):
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                for path, act in _actions(sub):
                    yield (name, *path), act
        else:
            yield (), action


def test_every_option_of_every_subcommand_has_help_text():
    import argparse

    seen = []
    for path, action in _actions(cli.build_parser()):
        if isinstance(action, argparse._HelpAction):
            continue
        seen.append((path, action.dest))
        assert action.help and action.help is not argparse.SUPPRESS, f"snn {' '.join(path)} {action.option_strings or action.dest}: no help"
    # the walk reached the options the issue listed
    dests = {d for _, d in seen}
    assert {"steps", "engine", "seed", "out", "quiet", "convention", "reset", "input", "overwrite", "input_rate"} <= dests
    assert {p[0] for p, _ in seen if p} == {"engines", "demo", "import", "report", "deploy", "bench", "sweep"}


def test_bench_forwards_its_options_and_documents_them(monkeypatch):
    import subprocess
    import sys

    calls = []
    monkeypatch.setattr(subprocess, "call", lambda cmd, cwd=None: calls.append(cmd) or 0)
    assert cli.main(["bench", "--quick"]) == 0  # was: "unrecognized arguments: --quick"
    assert cli.main(["bench", "--", "--sizes", "100", "--repeats", "1"]) == 0  # was: a literal "--" passed on
    assert cli.main(["bench", "--help"]) == 0
    assert [c[3:] for c in calls] == [["--quick"], ["--sizes", "100", "--repeats", "1"], ["--help"]]
    assert all(c[:3] == [sys.executable, "-m", "benchmarks.peers"] for c in calls)
    monkeypatch.undo()
    # every option of benchmarks.peers is documented in `snn bench`'s help
    import re
    from pathlib import Path

    root = Path(cli.__file__).resolve().parents[1]
    text = subprocess.run([sys.executable, "-m", "benchmarks.peers", "--help"], cwd=root, capture_output=True, text=True, check=True).stdout
    options = set(re.findall(r"(--[a-z][a-z-]+)", text)) - {"--help"}
    assert {"--quick", "--sizes", "--steps", "--out"} <= options
    missing = sorted(o for o in options if o not in cli._BENCH_HELP)
    assert not missing, missing


def _zero_delay_net():
    net = snn.Network(dt_ms=1.0)
    net.add_population("input", 6, snn.ExternalInput())
    net.add_population("hidden", 10, snn.LIF(tau_mem_ms=10.0, v_th=1.0))
    net.add_population("out", 4, snn.LIF(tau_mem_ms=10.0, v_th=1.0))
    rng = np.random.default_rng(3)
    net.add_projection("input", "hidden", weights=rng.uniform(0, 1.6, (10, 6)), delay_steps=0)
    net.add_projection("hidden", "out", weights=rng.uniform(0, 1.2, (4, 10)), delay_steps=0)
    return net


def test_deploy_lava_zero_delays_report_names_and_padding(tmp_path, capsys):
    from hardware import lava_backend, loihi

    net = _zero_delay_net()
    snn.save(net, tmp_path / "ff.npz")
    # without --unit-delays: refused, and the message says what to do
    assert cli.main(["deploy", "lava", str(tmp_path / "ff.npz"), "--steps", "40", "--out", str(tmp_path / "d0")]) == 2
    err = capsys.readouterr().err
    assert "--unit-delays" in err and "input->hidden" in err and not (tmp_path / "d0").exists()
    with pytest.raises(Exception, match="with_unit_delays"):  # the API's error names the way out too
        lava_backend.export(loihi.quantize(net)[0], tmp_path / "d1", 10)
    # a folder that a killed export left behind (its writer's pid is gone) is cleaned by the next export
    import subprocess
    import sys

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".dep.tmp-{dead.pid}-abc_123"
    stale.mkdir()
    (stale / "run.py").write_text("partial")
    # with it: the two retimed layers delay `out` by 2 steps; the input is padded by 2 zero steps
    assert cli.main(["deploy", "lava", str(tmp_path / "ff.npz"), "--steps", "40", "--out", str(tmp_path / "dep"), "--unit-delays"]) == 0
    out = capsys.readouterr().out
    assert "Loihi quantization: max relative error of weights" in out  # the quantization report
    assert "clipped weights: 0 of 100" in out
    assert "40 + 2 = 42 steps" in out and "'hidden' +1" in out and "'out' +2" in out
    manifest = json.loads((tmp_path / "dep" / "manifest.json").read_text())
    assert manifest["n_steps"] == 42
    assert not stale.exists()
    # results by population name, with the expected counts of our own fixed-point run of the retimed network
    timed = lava_backend.with_unit_delays(net)
    qnet, rep = loihi.quantize(timed)
    x = (np.random.default_rng(0).random((40, 6)) < 0.1).astype(float)  # the CLI's default input, seed 0
    xp = np.vstack([x, np.zeros((2, 6))])
    ours = snn.simulate(qnet, 42, inputs={"input": np.rint(xp * rep.input_scales["input"])}, record=("spikes",))
    for i, p in enumerate(qnet.populations):
        line = next(line for line in out.splitlines() if line.split()[:1] == [p.name])
        assert line.split()[1:] == [f"pop{i}.spikes", str(int(ours.counts.spikes_per_population[p.name]))]
    # nothing lost: the padded run's rows 2..41 of `out` are the same-step network's 40 steps, shifted
    q0, rep0 = loihi.quantize(net)
    same_step = snn.simulate(q0, 40, inputs={"input": np.rint(x * rep0.input_scales["input"])}, record=("spikes",))
    assert same_step.spikes["out"].sum() > 0
    np.testing.assert_array_equal(ours.spikes["out"][2:], same_step.spikes["out"])


# ---------------------------------------------------------------------------------------------
# bad input: one line on stderr and a non-zero exit, never a traceback (issues 16 and 17)


def _one_error_line(capsys):
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.fixture
def saved_net(tmp_path):
    net = snn.Network(dt_ms=1.0)
    net.add_population("input", 4, snn.ExternalInput())
    net.add_population("lif", 3, snn.LIF())
    net.add_projection("input", "lif", weights=np.ones((3, 4)), delay_steps=1)
    snn.save(net, tmp_path / "net.npz")
    return str(tmp_path / "net.npz")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--engine", "evnt"], "argument --engine: invalid choice: 'evnt'"),
        (["--input-rate", "2"], "argument --input-rate: 2 is not a probability"),
        (["--input-rate", "nan"], "argument --input-rate: nan is not a probability"),
        (["--steps", "-5"], "argument --steps: -5 is out of range; allowed: an int >= 1"),
        (["--seed", "-1"], "argument --seed: -1 is out of range"),
        (["--seed", str(2**64)], "argument --seed: 18446744073709551616 is out of range"),
        (["--steps", "ten"], "argument --steps: 'ten' is not an int"),
    ],
)
def test_bad_option_values_are_one_line_and_exit_2(saved_net, tmp_path, capsys, args, needle):
    with pytest.raises(SystemExit) as ex:
        cli.main(["report", saved_net, "--out", str(tmp_path / "rep"), *args])
    assert ex.value.code == 2
    assert needle in _one_error_line(capsys)
    assert not (tmp_path / "rep").exists()


def test_missing_files_and_unwritable_out_are_one_line(saved_net, tmp_path, capsys):
    missing = str(tmp_path / "nope.npz")
    assert cli.main(["report", missing, "--out", str(tmp_path / "r")]) == 2
    assert f"network {missing!r}: no such file" in _one_error_line(capsys)
    assert cli.main(["report", saved_net, "--input", f"input={tmp_path / 'x.npy'}", "--out", str(tmp_path / "r")]) == 2
    line = _one_error_line(capsys)
    assert "--input" in line and "x.npy" in line and "no such file" in line
    assert cli.main(["report", saved_net, "--input", "no-equals-sign", "--out", str(tmp_path / "r")]) == 2
    assert "must be NAME=PATH.npy" in _one_error_line(capsys)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    # --out below a regular file: refused before the run, in one line
    assert cli.main(["report", saved_net, "--out", str(blocker / "rep")]) == 2
    assert "cannot write there" in _one_error_line(capsys)
    assert cli.main(["deploy", "lava", saved_net, "--out", str(blocker)]) == 2
    assert "exists and is not a folder" in _one_error_line(capsys)
    assert cli.main(["import", str(tmp_path / "missing.nir"), "--dt-ms", "1"]) == 2
    assert "no such file" in _one_error_line(capsys)


def test_a_failure_that_is_not_ours_is_one_line_exit_1(monkeypatch, capsys):
    # an error from inside a command that is not an SNNError (a bug, a full disk, ...): one line, exit 1
    def boom(*args, **kwargs):
        raise RuntimeError("disk\nfull")

    monkeypatch.setattr(snn, "simulate", boom)
    assert cli.main(["engines", "--steps", "3"]) == 1
    assert _one_error_line(capsys) == "snn engines: error: RuntimeError: disk full (run with --traceback for details)"
    with pytest.raises(RuntimeError, match="disk"):
        cli.main(["--traceback", "engines", "--steps", "3"])


def test_deploy_lava_task_writes_the_folder_and_refuses_bad_arguments(tmp_path, capsys):
    from tasks import _common, qp, shortest_path

    _common.save_problem(qp.random_problem(n=4, m=2, seed=0), tmp_path / "qp.npz")
    out = tmp_path / "dep"
    assert cli.main(["deploy", "lava", "--task", "qp", "--problem", str(tmp_path / "qp.npz"), str(out)]) == 0
    assert {f.name for f in out.iterdir()} == {"problem.npz", "run.py", "README.md"}
    back = _common.load_problem(out / "problem.npz", "qp")
    np.testing.assert_array_equal(back.Q, qp.random_problem(n=4, m=2, seed=0).Q)
    assert "TASK = 'qp'" in (out / "run.py").read_text() and "*not* tested" in (out / "README.md").read_text()
    capsys.readouterr()
    assert cli.main(["deploy", "lava", "--task", "qp", "--problem", str(tmp_path / "qp.npz"), str(out)]) == 2
    assert "exists already" in capsys.readouterr().err
    assert cli.main(["deploy", "lava", "--task", "linear", "--problem", str(tmp_path / "qp.npz"), str(tmp_path / "d2")]) == 2
    assert "holds a 'qp' problem" in capsys.readouterr().err and not (tmp_path / "d2").exists()
    assert cli.main(["deploy", "lava", "--task", "qp", str(tmp_path / "d3")]) == 2
    assert "--problem" in capsys.readouterr().err
    assert cli.main(["deploy", "lava", "--problem", str(tmp_path / "qp.npz"), str(tmp_path / "qp.npz")]) == 2
    assert "--task" in capsys.readouterr().err
    _common.save_problem(shortest_path.random_problem(n=5, seed=0), tmp_path / "sp.npz")
    assert cli.main(["deploy", "lava", "--task", "shortest_path", "--problem", str(tmp_path / "sp.npz"), str(out), "--overwrite"]) == 0
    assert "TASK = 'shortest_path'" in (out / "run.py").read_text()


def test_deploy_lava_task_lasso_uses_loihi_zero_reset(tmp_path):
    from tasks import _common, lasso

    _common.save_problem(lasso.random_problem(n_atoms=6, seed=0), tmp_path / "l.npz")
    assert cli.main(["deploy", "lava", "--task", "lasso", "--problem", str(tmp_path / "l.npz"), str(tmp_path / "d")]) == 0
    assert "SOLVE_OPTIONS = {'reset': 'zero'}" in (tmp_path / "d" / "run.py").read_text()
