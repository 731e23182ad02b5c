"""Save and load networks as ``.npz`` (``allow_pickle=False``), exactly.

Layout of the file: a JSON header in the entry ``header`` (a unicode array, no
pickle) describing populations, models and projections, and one numeric entry
per array (``pop<i>.positions``, ``pop<i>.model.<field>``, ``pop<i>.init.<var>``,
``proj<j>.data|indices|indptr|delays``).  Writes are atomic: a temporary file
in the same folder is renamed over the target.
"""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from snn.errors import FileFormatError, SNNError, SNNTypeError
from snn.models import model_class
from snn.network import Network
from snn.synapses import synapse_class

__all__ = ["save", "load", "atomic_write_bytes"]

FORMAT = "snn-toolkit.network"
VERSION = 1


def _jsonable(value: Any) -> Any:
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.bool_,)):
        return bool(value)
    return value


def atomic_write_bytes(path: str | os.PathLike, write: Any) -> None:
    """Call ``write(fileobj)`` on a temporary file next to ``path``, then rename it onto ``path``."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def save(network: Network, path: str | os.PathLike) -> None:
    """Write ``network`` to ``path`` (.npz); ``load(path)`` gives it back exactly."""
    if not isinstance(network, Network):
        raise SNNTypeError(f"network={network!r}: must be a snn.Network")
    arrays: dict[str, np.ndarray] = {}
    pops = []
    for i, p in enumerate(network.populations):
        scalars, model_arrays = p.model.to_record()
        arrays[f"pop{i}.positions"] = p.positions_um
        for k, v in model_arrays.items():
            arrays[f"pop{i}.model.{k}"] = v
        for k, v in p.initial_state.items():
            arrays[f"pop{i}.init.{k}"] = v
        pops.append(
            {
                "name": p.name,
                "n": p.n,
                "model": type(p.model).__name__,
                "scalars": {k: _jsonable(v) for k, v in scalars.items()},
                "arrays": sorted(model_arrays),
                "initial_state": sorted(p.initial_state),
            }
        )
    projs = []
    for j, pr in enumerate(network.projections):
        arrays[f"proj{j}.data"] = pr.weights.data
        arrays[f"proj{j}.indices"] = pr.weights.indices.astype(np.int64)
        arrays[f"proj{j}.indptr"] = pr.weights.indptr.astype(np.int64)
        arrays[f"proj{j}.delays"] = pr.delays
        syn = None
        if pr.synapse is not None:
            syn = {"type": type(pr.synapse).__name__, "record": {k: _jsonable(v) for k, v in pr.synapse.to_record().items()}}
        projs.append({"name": pr.name, "pre": pr.pre, "post": pr.post, "synapse": syn})
    header = {
        "format": FORMAT,
        "version": VERSION,
        "dt_ms": network.dt_ms,
        "outputs": list(network.outputs),
        "populations": pops,
        "projections": projs,
    }
    arrays["header"] = np.array(json.dumps(header))
    atomic_write_bytes(path, lambda fh: np.savez_compressed(fh, **arrays))


def load(path: str | os.PathLike) -> Network:
    """Read a network written by :func:`save`.

    Raises :class:`snn.errors.FileFormatError` for a corrupted or foreign file.
    """
    try:
        with np.load(path, allow_pickle=False) as data:
            files = {k: data[k] for k in data.files}
    except FileNotFoundError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise FileFormatError(f"path={str(path)!r}: not a readable .npz file ({exc})") from exc
    try:
        header = json.loads(str(files["header"][()]))
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise FileFormatError(f"path={str(path)!r}: not an snn-toolkit network file (format {header.get('format') if isinstance(header, dict) else None!r})")
        if header.get("version") != VERSION:
            raise FileFormatError(f"path={str(path)!r}: version {header.get('version')!r} is not supported; allowed: {VERSION}")
        net = Network(dt_ms=header["dt_ms"])
        for i, p in enumerate(header["populations"]):
            cls = model_class(p["model"])
            model_arrays = {k: files[f"pop{i}.model.{k}"] for k in p["arrays"]}
            model = cls.from_record(p["scalars"], model_arrays)
            init = {k: files[f"pop{i}.init.{k}"] for k in p["initial_state"]}
            net.add_population(p["name"], p["n"], model, positions=files[f"pop{i}.positions"], initial_state=init)
        for j, pr in enumerate(header["projections"]):
            shape = (net.population(pr["post"]).n, net.population(pr["pre"]).n)
            indices, indptr = files[f"proj{j}.indices"], files[f"proj{j}.indptr"]
            data, delays = files[f"proj{j}.data"], files[f"proj{j}.delays"]
            if not (data.shape == delays.shape == indices.shape and indptr.shape == (shape[0] + 1,)):
                raise FileFormatError(f"path={str(path)!r}: projection {pr['name']!r} has inconsistent array shapes")
            w = sp.csr_matrix((data.astype(np.float64), indices, indptr), shape=shape)
            w.check_format(full_check=True)
            if not np.all(np.isfinite(w.data)) or not np.all(delays >= 0):
                raise FileFormatError(f"path={str(path)!r}: projection {pr['name']!r} has non-finite weights or negative delays")
            dmat = sp.csr_matrix((delays.astype(np.float64), indices, indptr), shape=shape)
            syn = None
            if pr["synapse"] is not None:
                syn = synapse_class(pr["synapse"]["type"]).from_record(pr["synapse"]["record"])
            net._store(pr["pre"], pr["post"], w, dmat, syn, pr["name"])
        net.outputs = tuple(header.get("outputs", ()))
        return net
    except FileFormatError:
        raise
    except (KeyError, TypeError, ValueError, IndexError, json.JSONDecodeError, AttributeError) as exc:
        if isinstance(exc, SNNError):
            raise FileFormatError(f"path={str(path)!r}: invalid content: {exc}") from exc
        raise FileFormatError(f"path={str(path)!r}: corrupted or foreign network file ({type(exc).__name__}: {exc})") from exc
