"""Jobs for the sweep tests, importable on Dask workers started by the tests (PYTHONPATH holds this folder)."""

from __future__ import annotations

import os
import signal
from pathlib import Path


def square(point: dict) -> dict:
    """A plain-data job: a marker file per run (to count runs), then a row; size {"x": -1} raises."""
    marker_dir = Path(os.environ["SNN_SWEEP_TEST_DIR"])
    x = point["size"]["x"]
    with open(marker_dir / f"run-{x}-{point['seed']}-{point['profile']}-{os.getpid()}-{os.urandom(4).hex()}", "w"):
        pass
    if x < 0:
        raise ValueError(f"x={x}: negative sizes are refused by this job")
    return {"task": point["task"], "x": x, "seed": point["seed"], "profile": point["profile"], "y": x * x + point["seed"]}


def kill_once(point: dict) -> dict:
    """Kills its own worker process the first time it sees x == 3 (the point must be retried elsewhere)."""
    marker = Path(os.environ["SNN_SWEEP_TEST_DIR"]) / "killed-once"
    if point["size"]["x"] == 3 and not marker.exists():
        marker.write_text(str(os.getpid()))
        os.kill(os.getpid(), signal.SIGKILL)
    return square(point)
