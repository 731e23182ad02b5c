"""The end-to-end example: snnTorch -> NIR -> here -> Loihi fixed point (-> Lava) -> energy report."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("snntorch")
pytest.importorskip("nir")

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "snntorch_to_loihi.py"


@pytest.mark.slow  # trains for a few seconds, compiles the event engine, runs Lava when its environment exists
def test_snntorch_to_loihi_example(tmp_path):
    spec = importlib.util.spec_from_file_location("snntorch_to_loihi", EXAMPLE)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    assert example.main(["--out", str(tmp_path), "--train-seconds", "3", "--test-samples", "8", "--lava-samples", "2"]) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert all(v for k, v in summary.items() if k.startswith("spikes_match_snntorch"))
    assert summary["unit_delay_shift_exact"] is True
    assert summary.get("lava_bit_exact", True) is True
    assert summary["neurobench"]["Dense"] > summary["neurobench"]["Effective_ACs"] > 0
    for name in ("report.html", "report.md", "report.json", "model.nir"):
        assert (tmp_path / name).stat().st_size > 0
