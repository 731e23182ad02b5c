"""Design-space sweeps on Dask: tasks x sizes x seeds x profiles x placements x engines, one job per point.

A *spec* (a dict, or the JSON file ``snn sweep`` reads) lists what to vary::

    {
      "tasks": [{"task": "linear", "sizes": {"n": [16, 32]}, "problem": {"cond": 10.0}, "solve": {"rtol": 1e-3}}],
      "seeds": [0, 1],
      "profiles": ["loihi1_davies2018", "loihi2_bound"],
      "placements": ["locality", "sequential"],
      "engines": ["event"],
      "chip": "loihi"
    }

Each point of the product is one job: it returns plain data (a JSON-able
dict), so any Dask worker can run it.  The default job, ``snn.cli:sweep_point``
(the one module allowed to wire ``tasks``, ``hardware`` and ``energy``
together), solves ``tasks.<task>.random_problem(**problem, **size, seed)``
with ``solve(engine=..., seed=...)``, maps the network with
``hardware.mapping.map_network(placement=...)`` and prices the run with
:func:`energy.estimate`.  Instead of ``tasks`` a spec may name a saved network
(``{"network": "net.npz", "steps": 100, "input_rate": 0.1}``), simulated as is.

Results: every finished point is written at once, atomically, to
``OUT/points/<id>.json`` (``id`` a hash of the point); a re-run with the same
``OUT`` skips the points already there.  A point whose job raises is recorded
with its error (``status: "error"``) and the sweep goes on; a worker that dies
mid-job has its point retried by Dask on another worker.  At the end
``OUT/results.json`` and ``OUT/results.csv`` hold one tidy row per point (in
the spec's order) with the energy and time as [low, best, high], and
``OUT/energy_vs_size.png`` plots energy against size per profile.
"""

from __future__ import annotations

import csv
import hashlib
import importlib
import io
import itertools
import json
import math
import numbers
import os
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from energy.errors import EnergyError

__all__ = ["DEFAULT_JOB", "SweepError", "expand", "facts", "load_spec", "point_id", "row_from_estimate", "run_point", "sweep"]

#: The job run for every point unless the caller gives another (``"module:function"``).
DEFAULT_JOB = "snn.cli:sweep_point"
_SPEC_KEYS = {"tasks", "network", "seeds", "profiles", "placements", "engines", "chip", "job", "retries"}


class SweepError(EnergyError):
    """A sweep spec or its arguments are invalid."""


# ----------------------------------------------------------------------------- the spec


def _list(spec: Mapping[str, Any], key: str, default: list[Any], kind: type | tuple[type, ...]) -> list[Any]:
    value = spec.get(key, default)
    if not isinstance(value, list) or not value:
        raise SweepError(f"spec[{key!r}]={value!r}: must be a non-empty list")
    for v in value:
        if isinstance(v, bool) or not isinstance(v, kind):
            raise SweepError(f"spec[{key!r}] entry {v!r}: expected {getattr(kind, '__name__', kind)}")
    return value


def _json_safe(value: Any, where: str) -> None:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise SweepError(f"{where}={value!r}: must be plain JSON data ({exc})") from None


def expand(spec: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every point of ``spec``, in order: a list of plain dicts (one job each).

    A point has ``task`` (or ``network``), ``size`` (a dict of the sizing
    arguments), ``problem`` and ``solve`` (fixed keyword arguments), ``seed``,
    ``profile``, ``placement``, ``engine`` and ``chip``.

    Raises
    ------
    SweepError
        On unknown keys, empty or mistyped lists, non-JSON values.
    """
    if not isinstance(spec, Mapping):
        raise SweepError(f"spec={spec!r}: must be a dict (the JSON object of a sweep spec)")
    unknown = set(spec) - _SPEC_KEYS
    if unknown:
        raise SweepError(f"spec has unknown keys {sorted(unknown)}; allowed: {sorted(_SPEC_KEYS)}")
    _json_safe(dict(spec), "spec")
    if ("tasks" in spec) == ("network" in spec):
        raise SweepError("spec: give exactly one of 'tasks' (a list of task entries) or 'network' (a saved network)")
    seeds = _list(spec, "seeds", [0], numbers.Integral)
    if any(s < 0 for s in seeds):
        raise SweepError(f"spec['seeds']={seeds!r}: seeds must be >= 0")
    profiles = _list(spec, "profiles", ["loihi1_davies2018"], str)
    placements = _list(spec, "placements", ["locality"], str)
    engines = _list(spec, "engines", ["event"], str)
    chip = spec.get("chip", "loihi")
    if not isinstance(chip, str):
        raise SweepError(f"spec['chip']={chip!r}: must be a chip name")
    jobs: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []  # (fixed part, sizes)
    if "network" in spec:
        net = spec["network"]
        if isinstance(net, str):
            net = {"network": net}
        if not isinstance(net, Mapping) or not isinstance(net.get("network"), str):
            raise SweepError(f"spec['network']={spec['network']!r}: a path, or {{'network': PATH, 'steps': N, 'input_rate': r}}")
        steps = net.get("steps", 100)
        if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 1:
            raise SweepError(f"spec['network']['steps']={steps!r}: must be an int >= 1")
        jobs.append(({"network": net["network"], "steps": int(steps), "input_rate": float(net.get("input_rate", 0.1))}, [{}]))
    else:
        for k, entry in enumerate(_list(spec, "tasks", [], dict)):
            name = entry.get("task")
            if not isinstance(name, str) or not name.isidentifier():
                raise SweepError(f"spec['tasks'][{k}]['task']={name!r}: must be a task module name (e.g. 'linear')")
            extra = set(entry) - {"task", "sizes", "problem", "solve"}
            if extra:
                raise SweepError(f"spec['tasks'][{k}] has unknown keys {sorted(extra)}; allowed: task, sizes, problem, solve")
            sizes = entry.get("sizes", {})
            if not isinstance(sizes, Mapping) or any(not isinstance(v, list) or not v for v in sizes.values()):
                raise SweepError(f"spec['tasks'][{k}]['sizes']={sizes!r}: must map argument names to non-empty lists of values")
            size_points = [dict(zip(sizes, combo)) for combo in itertools.product(*sizes.values())] or [{}]
            for key in ("problem", "solve"):
                if not isinstance(entry.get(key, {}), Mapping):
                    raise SweepError(f"spec['tasks'][{k}][{key!r}]: must be a dict of keyword arguments")
            jobs.append(({"task": name, "problem": dict(entry.get("problem", {})), "solve": dict(entry.get("solve", {}))}, size_points))
    points = []
    for fixed, sizes in jobs:
        for size, seed, placement, engine, profile in itertools.product(sizes, seeds, placements, engines, profiles):
            points.append(
                {**fixed, "size": size, "seed": int(seed), "placement": placement, "engine": engine, "profile": profile, "chip": chip}
            )
    return points


def point_id(point: Mapping[str, Any]) -> str:
    """A stable 16-hex-digit id of a point (a hash of its canonical JSON)."""
    return hashlib.sha256(json.dumps(point, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:16]


# ----------------------------------------------------------------------------- rows


def row_from_estimate(point: Mapping[str, Any], estimate: Mapping[str, Any], facts: Mapping[str, Any]) -> dict[str, Any]:
    """One tidy row: the point's coordinates, the run's facts and the estimate's [low, best, high] figures.

    ``estimate`` is ``energy.estimate(...).to_dict()``; only its documented
    keys are read (with ``get``), so a reworked estimator that keeps them needs
    no change here.
    """
    size = point.get("size", {})
    row: dict[str, Any] = {
        "task": point.get("task", point.get("network")),
        "size": json.dumps(size, sort_keys=True),
        **{f"size_{k}": v for k, v in sorted(size.items())},
        "seed": point["seed"],
        "engine": point["engine"],
        "placement": point["placement"],
        "chip": point["chip"],
        "profile": point["profile"],
    }
    row.update(facts)
    for what, unit in (("energy", "j"), ("time", "s")):
        best = estimate.get(f"{what}_{unit}")
        low, high = estimate.get(f"{what}_low_{unit}"), estimate.get(f"{what}_high_{unit}")
        row[f"{what}_low_{unit}"] = best if low is None else low
        row[f"{what}_{unit}"] = best
        row[f"{what}_high_{unit}"] = best if high is None else high
    row["edp_js"] = estimate.get("edp")
    row["label"] = estimate.get("label")
    return row


# ----------------------------------------------------------------------------- files


def _write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically, with the mode an ordinary ``open()`` gives (:func:`snn.io.atomic_write_bytes`)."""
    from snn.io import atomic_write_bytes

    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, lambda fh: fh.write(text.encode("utf-8")))


def _read_point(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # missing or torn (never written atomically by us): run the point again
    return data if isinstance(data, dict) and data.get("status") in ("ok", "error") else None


def _table(records: list[dict[str, Any]]) -> tuple[str, str]:
    rows = []
    for rec in records:
        if rec["status"] == "ok":
            rows.append({**rec["row"], "status": "ok", "error": ""})
        else:
            p = rec["point"]
            rows.append(
                {
                    "task": p.get("task", p.get("network")),
                    "size": json.dumps(p.get("size", {}), sort_keys=True),
                    **{f"size_{k}": v for k, v in sorted(p.get("size", {}).items())},
                    "seed": p["seed"],
                    "engine": p["engine"],
                    "placement": p["placement"],
                    "chip": p["chip"],
                    "profile": p["profile"],
                    "status": "error",
                    "error": rec["error"],
                }
            )
    columns: list[str] = []
    for r in rows:
        columns += [c for c in r if c not in columns]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=["point_id", *columns], lineterminator="\n")
    w.writeheader()
    for rec, r in zip(records, rows):
        w.writerow({"point_id": rec["id"], **{c: ("" if r.get(c) is None else r.get(c)) for c in columns}})
    table = [{"point_id": rec["id"], **r} for rec, r in zip(records, rows)]
    return buf.getvalue(), json.dumps(table, indent=1, allow_nan=False)


def _plot(records: list[dict[str, Any]], path: Path) -> None:
    """Energy [low, best, high] against the number of synapses, one line per (task, profile, placement)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for rec in records:
        if rec["status"] == "ok" and rec["row"].get("energy_j") is not None:
            r = rec["row"]
            groups.setdefault((str(r["task"]), r["profile"], r["placement"]), []).append(r)
    if not groups:
        return
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for (task, prof, placement), rows in sorted(groups.items()):
        by_size: dict[int, list[dict[str, Any]]] = {}
        for r in rows:
            by_size.setdefault(int(r.get("n_synapses", 0)), []).append(r)
        xs = sorted(by_size)
        best = [sum(r["energy_j"] for r in by_size[x]) / len(by_size[x]) for x in xs]
        low = [min(r["energy_low_j"] for r in by_size[x]) for x in xs]
        high = [max(r["energy_high_j"] for r in by_size[x]) for x in xs]
        (line,) = ax.plot(xs, best, marker="o", label=f"{task} / {prof} / {placement}")
        ax.fill_between(xs, low, high, color=line.get_color(), alpha=0.15)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("synapses")
    ax.set_ylabel("energy per run (J), band: [low, high]")
    ax.set_title("size sweep: where the profiles cross")
    ax.legend(fontsize=7)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    from snn.io import atomic_write_bytes

    atomic_write_bytes(path, lambda fh: fh.write(buf.getvalue()))


# ----------------------------------------------------------------------------- running


def _resolve_job(job: str | Callable[[dict[str, Any]], dict[str, Any]]) -> Callable[[dict[str, Any]], dict[str, Any]]:
    if callable(job):
        return job
    if not isinstance(job, str) or ":" not in job:
        raise SweepError(f"job={job!r}: must be a callable or 'module:function'")
    mod, _, fn = job.partition(":")
    try:
        return getattr(importlib.import_module(mod), fn)
    except (ImportError, AttributeError) as exc:
        raise SweepError(f"job={job!r}: cannot be imported ({exc})") from None


def run_point(job: str | Callable[[dict[str, Any]], dict[str, Any]], point: dict[str, Any]) -> dict[str, Any]:
    """Run one point where Dask puts it: ``{"status", "row" | "error", "seconds"}``; a raising job is recorded."""
    t0 = time.perf_counter()
    try:
        row = _resolve_job(job)(point)
        json.dumps(row, allow_nan=False)
        return {"status": "ok", "row": row, "seconds": time.perf_counter() - t0}
    except Exception as exc:  # recorded, not fatal: the sweep goes on
        return {
            "status": "error",
            "error": f"{type(exc).__name__}: {exc}",
            "traceback": traceback.format_exc(limit=8),
            "seconds": time.perf_counter() - t0,
        }


def _client(client: Any):
    """``(client, owned)``: the given client, one connected to an address, or a local in-process cluster."""
    try:
        import distributed
    except ImportError:  # pragma: no cover - the extra is installed by make test
        raise SweepError("energy.sweep needs dask[distributed]: pip install 'snn-toolkit[dask]'") from None
    if client is None:
        n = os.cpu_count() or 1
        cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=n, processes=False, dashboard_address=None)
        return distributed.Client(cluster), True
    if isinstance(client, str):
        if not client.startswith(("tcp://", "tls://", "inproc://", "ws://", "wss://")):
            raise SweepError(f"scheduler={client!r}: expected an address such as tcp://HOST:PORT")
        return distributed.Client(client, timeout="30s"), True
    if isinstance(client, distributed.Client):
        return client, False
    raise SweepError(f"client={client!r}: must be None, a distributed.Client or a scheduler address 'tcp://HOST:PORT'")


def sweep(
    spec: Mapping[str, Any],
    client: Any = None,
    *,
    out: str | os.PathLike,
    job: str | Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    retries: int = 2,
    retry_failed: bool = False,
    progress: bool = False,
    on_point: Callable[[dict[str, Any]], Any] | None = None,
    plot: bool = True,
) -> list[dict[str, Any]]:
    """Run every point of ``spec`` on Dask, write per-point results and the tidy table.

    Parameters
    ----------
    spec : dict
        See the module docstring and :func:`expand`.
    client : None, distributed.Client or str
        ``None``: a local in-process ``distributed.LocalCluster`` with one thread
        per core, closed at the end; a ``Client``: used as is; a string: the
        address of a running scheduler (``tcp://HOST:PORT``).
    out : path
        Results folder (created).  Points already in ``out/points/`` are skipped.
    job : str or callable, optional
        ``point dict -> row dict`` (plain data), or ``"module:function"``
        importable on the workers; default ``spec.get("job", DEFAULT_JOB)``.
    retries : int
        Dask retries of a point whose worker died (a raising job is not retried:
        it is recorded as an error).
    retry_failed : bool
        Also re-run points recorded with an error.
    progress : bool
        A tqdm bar over the points.
    on_point : callable, optional
        Called with each newly written point record (after its file is written).
    plot : bool
        Write ``energy_vs_size.png``.

    Returns
    -------
    list of dict
        The rows of ``results.json`` (one per point, in the spec's order).
    """
    points = expand(spec)
    if isinstance(retries, bool) or not isinstance(retries, numbers.Integral) or retries < 0:
        raise SweepError(f"retries={retries!r}: must be an int >= 0")
    job = job if job is not None else spec.get("job", DEFAULT_JOB)
    if isinstance(job, str):
        _resolve_job(job)  # fail early, here, on a bad name
    out_dir = Path(out)
    pdir = out_dir / "points"
    pdir.mkdir(parents=True, exist_ok=True)
    ids = [point_id(p) for p in points]
    records: dict[str, dict[str, Any]] = {}
    todo = []
    for pid, p in zip(ids, points):
        rec = _read_point(pdir / f"{pid}.json")
        if rec is not None and rec.get("point") == p and (rec["status"] == "ok" or not retry_failed):
            records[pid] = rec
        else:
            todo.append((pid, p))
    if todo:
        from tqdm.auto import tqdm

        cl, owned = _client(client)
        bar = tqdm(total=len(points), initial=len(points) - len(todo), desc="sweep", unit="point", disable=not progress)
        try:
            import distributed

            futures = {
                cl.submit(run_point, job, p, key=f"snn-sweep-{pid}-{os.getpid()}", retries=int(retries), pure=False): (pid, p)
                for pid, p in todo
            }
            for fut in distributed.as_completed(futures):
                pid, p = futures[fut]
                try:
                    res = fut.result()
                except Exception as exc:  # the worker died more often than the retries allow, or the cluster failed
                    res = {"status": "error", "error": f"{type(exc).__name__}: {exc}", "seconds": None}
                rec = {"id": pid, "point": p, **res}
                _write_atomic(pdir / f"{pid}.json", json.dumps(rec, indent=1, allow_nan=False))
                records[pid] = rec
                bar.update(1)
                if on_point is not None:
                    on_point(rec)
        finally:
            bar.close()
            if owned:
                cluster = getattr(cl, "cluster", None)
                cl.close()
                if cluster is not None:
                    cluster.close()
    ordered = [records[pid] for pid in ids]
    for rec, pid in zip(ordered, ids):
        rec["id"] = pid
    csv_text, json_text = _table(ordered)
    _write_atomic(out_dir / "results.csv", csv_text)
    _write_atomic(out_dir / "results.json", json_text)
    if plot:
        _plot(ordered, out_dir / "energy_vs_size.png")
    return json.loads(json_text)


def load_spec(path: str | os.PathLike) -> dict[str, Any]:
    """Read a sweep spec from a JSON file (validated by :func:`expand`)."""
    try:
        spec = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise SweepError(f"spec={str(path)!r}: cannot be read ({exc.strerror})") from None
    except ValueError as exc:
        raise SweepError(f"spec={str(path)!r}: not valid JSON ({exc})") from None
    expand(spec)
    return spec


def _finite_or_none(x: Any) -> Any:
    return None if isinstance(x, float) and not math.isfinite(x) else x


def facts(values: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """Plain, JSON-safe facts of a run (non-finite floats become ``None``)."""
    return {k: _finite_or_none(v) for k, v in values}
