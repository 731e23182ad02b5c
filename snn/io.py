"""Save and load networks as ``.npz`` (``allow_pickle=False``), exactly.

Layout of the file: a JSON header in the entry ``header`` (a unicode array, no
pickle) describing populations, models and projections, and one numeric entry
per array (``pop<i>.positions``, ``pop<i>.model.<field>``, ``pop<i>.init.<var>``,
``proj<j>.data|indices|indptr|delays``).  Writes are atomic: a temporary file
in the same folder is renamed over the target; temporary files that a killed
writer left behind are removed by the next write to the same target.  The
atomic writers (:func:`atomic_path`, :func:`atomic_write_bytes`,
:func:`atomic_folder`, used for every file the toolkit leaves behind) create
their files and folders with the modes of an ordinary ``open()`` /
``os.mkdir`` (``0o666`` / ``0o777`` less the user's umask), not the private
``0o600`` / ``0o700`` of :mod:`tempfile`.

Loading trusts nothing in the file.  The zip members are read by this module
(not by :func:`numpy.load`): each ``.npy`` header is parsed first and its
declared size checked against the member's size in the zip and against the
compression limit of deflate before anything is allocated; the JSON header is
bounded in size and nesting depth and checked field by field; and the network
is rebuilt through the public API (:meth:`Network.add_population`,
:meth:`Network.add_projection`, ``Network.outputs``), so a loaded file passes
exactly the validation of a network built in Python.  Every failure is a
:class:`snn.errors.FileFormatError` naming the file, the member and what is wrong.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import secrets
import shutil
import tempfile
import time
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from snn.errors import FileFormatError, SNNError, SNNTypeError
from snn.models import model_class
from snn.network import Network
from snn.synapses import synapse_class

__all__ = [
    "save",
    "load",
    "atomic_write_bytes",
    "atomic_path",
    "atomic_folder",
    "remove_stale_temps",
    "umask",
    "MAX_HEADER_CHARS",
    "MAX_HEADER_DEPTH",
]

FORMAT = "snn-toolkit.network"
VERSION = 1

#: the longest JSON header :func:`load` reads (characters; 4 bytes each in the file)
MAX_HEADER_CHARS = 1 << 24
#: the deepest nesting of lists/objects in the JSON header :func:`load` reads
MAX_HEADER_DEPTH = 16
#: deflate cannot expand data by more than about 1032:1; a member declaring more is refused
_MAX_DEFLATE_RATIO = 1100
_NPY_HEADER_MAX = 10_000
_MAX_MEMBERS = 1 << 20


# ----------------------------------------------------------------------------- atomic writes
#: how long a temporary file of a writer that cannot be checked (another machine) is left alone
_STALE_AGE_S = 24 * 3600.0


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists (or cannot tell): leave its file alone
    return True


def remove_stale_temps(folder: str | os.PathLike, prefix: str, suffix: str = "") -> list[str]:
    """Remove temporary files or folders ``<prefix><pid><sep><random><suffix>`` in ``folder`` whose writer is gone.

    Only names of this pattern (``sep`` is ``.`` or ``-``; the writers of this
    toolkit put their process id there) are touched, and only those of a
    process that no longer runs, or older than a day (a writer on another
    machine sharing the folder).  Returns the names removed.
    """
    pattern = re.compile(re.escape(prefix) + r"(\d+)[.-][A-Za-z0-9_]+" + re.escape(suffix) + r"\Z")
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return []
    now, removed = time.time(), []
    for entry in entries:
        m = pattern.match(entry.name)
        if not m:
            continue
        try:
            old = now - entry.stat(follow_symlinks=False).st_mtime > _STALE_AGE_S
            if not (old or not _pid_alive(int(m.group(1)))):
                continue
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
            removed.append(entry.name)
        except OSError:
            continue
    return removed


def umask() -> int:
    """The process's file-mode creation mask (``umask``), for code that must compute a mode itself.

    The writers of this module never need it: they create their files and
    folders with the modes an ordinary ``open()`` / ``mkdir()`` asks for
    (``0o666`` / ``0o777``, ``0o777`` for scripts) and the kernel applies the
    umask and the folder's default ACLs, so nothing is chmod-ed afterwards.

    On Linux the mask is read from ``/proc/self/status`` (no change to the
    process).  Elsewhere the only way to read it is to set it and set it back
    (:func:`os.umask`); the umask is process-global, so a file another thread
    creates in that window gets the temporary mask, ``0o077`` (private: too
    strict at worst, never too open).
    """
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


_TEMP_TRIES = 1000


def _create_temp(folder: Path, prefix: str, suffix: str, *, mode: int, directory: bool) -> Path:
    """Create a new file or folder ``<prefix><random><suffix>`` in ``folder`` with ``mode`` (less the umask).

    As :func:`tempfile.mkstemp` / :func:`tempfile.mkdtemp` (``O_EXCL``, never
    follows a link), but with the mode that ``open()`` / ``os.mkdir`` would
    give instead of mkstemp's private ``0o600`` / ``0o700``: the file is the
    one renamed into place, and keeps this mode.
    """
    flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    for _ in range(_TEMP_TRIES):
        name = folder / f"{prefix}{secrets.token_hex(5)}{suffix}"
        try:
            if directory:
                os.mkdir(name, mode)
            else:
                os.close(os.open(name, flags, mode))
        except FileExistsError:
            continue
        return name
    raise FileExistsError(f"no free temporary name {prefix}*{suffix} in {str(folder)!r} after {_TEMP_TRIES} tries")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, mode: int = 0o666) -> Iterator[Path]:
    """A temporary path next to ``path``; renamed onto ``path`` when the block succeeds.

    The temporary name is ``.<name>.<pid>.<random>.tmp``; one left behind by a
    writer that was killed is removed by the next write to ``path``.  On an
    exception the temporary file is removed and ``path`` is untouched.

    The temporary file is created with ``mode`` less the umask, so ``path``
    ends up as an ordinary ``open()`` would create it (``0o644`` under umask
    ``0o022``); ``mode=0o777`` for an executable script.  An existing
    ``path`` is replaced, so its own mode is not kept.
    """
    path = Path(path)
    prefix = f".{path.name}."
    remove_stale_temps(path.parent, prefix, ".tmp")
    tmp = _create_temp(path.parent, f"{prefix}{os.getpid()}.", ".tmp", mode=mode, directory=False)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_bytes(path: str | os.PathLike, write: Any, *, mode: int = 0o666) -> None:
    """Call ``write(fileobj)`` on a temporary file next to ``path``, then rename it onto ``path``.

    ``path`` gets ``mode`` less the umask (see :func:`atomic_path`).
    """
    with atomic_path(path, mode=mode) as tmp:
        with open(tmp, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())


@contextlib.contextmanager
def atomic_folder(path: str | os.PathLike) -> Iterator[Path]:
    """A new folder next to ``path`` to fill; renamed onto ``path`` when the block succeeds.

    The folder is ``.<name>.tmp-<pid>-<random>``, created ``0o777`` less the
    umask (as ``os.mkdir`` would; :func:`tempfile.mkdtemp` would make it
    ``0o700``), so files written into it with ``open()`` and the folder itself
    end up with the user's usual modes.  An existing ``path`` (the caller
    decides whether it may be replaced) is moved aside first and removed after
    the rename; on an exception the new folder is removed and ``path`` is
    untouched.  Folders of killed writers are removed by the next write to
    ``path``.
    """
    path = Path(path)
    tmp_prefix, old_prefix = f".{path.name}.tmp-", f".{path.name}.old-"
    remove_stale_temps(path.parent, tmp_prefix)
    remove_stale_temps(path.parent, old_prefix)
    tmp = _create_temp(path.parent, f"{tmp_prefix}{os.getpid()}-", "", mode=0o777, directory=True)
    try:
        yield tmp
        if os.path.lexists(path):
            # private and removed at once: only holds the replaced folder for the swap
            old = Path(tempfile.mkdtemp(prefix=f"{old_prefix}{os.getpid()}-", dir=path.parent))
            os.replace(path, old / "x")
            try:
                os.replace(tmp, path)
            except BaseException:
                os.replace(old / "x", path)
                os.rmdir(old)
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


# ----------------------------------------------------------------------------- save
def _jsonable(value: Any) -> Any:
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.bool_,)):
        return bool(value)
    return value


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


# ----------------------------------------------------------------------------- load: the zip members
class _Members:
    """The ``.npy`` members of an ``.npz``, read one at a time with their sizes checked first."""

    def __init__(self, zf: zipfile.ZipFile, path: str) -> None:
        self.zf, self.path = zf, path
        infos = zf.infolist()
        if len(infos) > _MAX_MEMBERS:
            raise self.error(None, f"{len(infos)} members; at most {_MAX_MEMBERS}")
        self.infos: dict[str, zipfile.ZipInfo] = {}
        for info in infos:
            if not info.filename.endswith(".npy"):
                raise self.error(info.filename, "not a .npy member; a network file holds only .npy arrays")
            key = info.filename[: -len(".npy")]
            if key in self.infos:
                raise self.error(key, "stored twice")
            self.infos[key] = info

    def error(self, member: str | None, what: str) -> FileFormatError:
        where = f"path={self.path!r}" + ("" if member is None else f", member {member!r}")
        return FileFormatError(f"{where}: {what}")

    def read(self, key: str, kinds: str, what: str, max_bytes: int | None = None) -> np.ndarray:
        """The array of member ``key``; its dtype kind must be one of ``kinds`` (numpy kind letters)."""
        info = self.infos.get(key)
        if info is None:
            raise self.error(key, f"missing ({what})")
        try:
            return self._read(key, info, kinds, what, max_bytes)
        except FileFormatError:
            raise
        except (
            zipfile.BadZipFile,
            zlib.error,
            EOFError,
            OSError,
            ValueError,
            TypeError,
            NotImplementedError,
            RuntimeError,
            OverflowError,
            SyntaxError,
            UnicodeError,
        ) as exc:
            # BadZipFile: CRC or structure; RuntimeError: encrypted; NotImplementedError: compression method
            raise self.error(key, f"unreadable ({type(exc).__name__}: {exc})") from exc

    def _read(self, key: str, info: zipfile.ZipInfo, kinds: str, what: str, max_bytes: int | None) -> np.ndarray:
        fmt = np.lib.format
        if info.compress_type == zipfile.ZIP_STORED:
            limit = info.compress_size
        else:
            limit = max(info.compress_size, 1) * _MAX_DEFLATE_RATIO + 1024
        if info.file_size > limit:
            raise self.error(key, f"declares {info.file_size} bytes from {info.compress_size} stored bytes, more than compression can give")
        with self.zf.open(info) as fh:
            version = fmt.read_magic(fh)
            if version == (1, 0):
                shape, fortran, dtype = fmt.read_array_header_1_0(fh, max_header_size=_NPY_HEADER_MAX)
            elif version in ((2, 0), (3, 0)):
                shape, fortran, dtype = fmt.read_array_header_2_0(fh, max_header_size=_NPY_HEADER_MAX)
            else:
                raise self.error(key, f"unsupported .npy version {version}")
            if dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None or dtype.kind not in kinds:
                raise self.error(key, f"dtype {dtype} is not allowed for {what} (allowed kinds: {_kind_names(kinds)})")
            if not isinstance(shape, tuple) or not all(isinstance(d, int) and d >= 0 for d in shape):
                raise self.error(key, f"shape {shape!r} is not a shape")
            count = 1
            for d in shape:
                count *= d
            nbytes = count * dtype.itemsize
            if max_bytes is not None and nbytes > max_bytes:
                raise self.error(key, f"{nbytes} bytes of {what}; at most {max_bytes}")
            offset = fh.tell()
            if offset + nbytes != info.file_size:
                raise self.error(
                    key,
                    f"its .npy header declares shape {shape} of {dtype} ({nbytes} bytes) but the member holds {info.file_size - offset} data bytes",
                )
            buf = fh.read(nbytes)
            if len(buf) != nbytes or fh.read(1):
                raise self.error(key, f"holds {len(buf)} data bytes, its header declares {nbytes}")
        arr = np.frombuffer(buf, dtype=dtype, count=count).reshape(shape, order="F" if fortran else "C")
        return np.array(arr, dtype=dtype.newbyteorder("="), order="C")


_KIND_NAMES = {"b": "bool", "i": "signed int", "u": "unsigned int", "f": "float", "U": "unicode"}


def _kind_names(kinds: str) -> str:
    return ", ".join(_KIND_NAMES[k] for k in kinds)


# ----------------------------------------------------------------------------- load: the JSON header
def _json_depth(obj: Any) -> int:
    """Deepest nesting of lists/objects in a parsed JSON value (iterative)."""
    deepest, stack = 0, [(obj, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            items = value.values()
        elif isinstance(value, list):
            items = value
        else:
            continue
        deepest = max(deepest, depth)
        if depth > MAX_HEADER_DEPTH:
            break
        stack.extend((v, depth + 1) for v in items)
    return deepest


class _Header:
    """Typed access to the parsed header; every failure names the field."""

    def __init__(self, path: str) -> None:
        self.path = path

    def error(self, where: str, what: str) -> FileFormatError:
        return FileFormatError(f"path={self.path!r}, member 'header', {where}: {what}")

    def get(self, obj: dict, key: str, types: tuple, where: str) -> Any:
        if key not in obj:
            raise self.error(where, f"the field {key!r} is missing")
        value = obj[key]
        if isinstance(value, bool) and bool not in types:
            ok = False
        else:
            ok = isinstance(value, types)
        if not ok:
            allowed = " or ".join("null" if t is type(None) else t.__name__ for t in types)
            raise self.error(f"{where}.{key}", f"{_short(value)} must be {allowed}")
        return value

    def keys(self, obj: dict, allowed: set[str], where: str) -> None:
        extra = sorted(set(obj) - allowed)
        if extra:
            raise self.error(where, f"unknown fields {extra}; allowed: {sorted(allowed)}")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _parse_header(members: _Members) -> Any:
    arr = members.read("header", "U", "the JSON header", max_bytes=4 * MAX_HEADER_CHARS)
    if arr.shape != ():
        raise members.error("header", f"must be a 0-d unicode array, has shape {arr.shape}")
    text = str(arr[()])
    try:
        header = json.loads(text)
    except RecursionError:
        raise members.error("header", f"JSON nested too deep; at most {MAX_HEADER_DEPTH} levels") from None
    except ValueError as exc:
        raise members.error("header", f"not valid JSON ({type(exc).__name__}: {exc})") from exc
    depth = _json_depth(header)
    if depth > MAX_HEADER_DEPTH:
        raise members.error("header", f"JSON nested {depth}+ levels deep; at most {MAX_HEADER_DEPTH}")
    return header


def _field_kind(f: dataclasses.Field) -> tuple:
    """The JSON types a dataclass field accepts in a file: from its annotation, else from its default."""
    ann = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
    default = f.default if f.default is not dataclasses.MISSING else None
    kinds: list[type] = []
    if "str" in ann:
        kinds.append(str)
    if "bool" in ann:
        kinds.append(bool)
    if "int" in ann or "float" in ann:
        kinds += [int, float]
    if kinds:
        if "None" in ann:
            kinds.append(type(None))
        return tuple(kinds)
    if isinstance(default, bool):
        return (bool,)
    if isinstance(default, str):
        return (str,)
    return (int, float, type(None))


def _check_record(h: _Header, cls: type, record: dict, where: str) -> None:
    """Scalars of a model/synapse record must have the JSON type of the field (its annotation or default)."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for k in record:
        f = fields.get(k)
        if f is None:
            raise h.error(where, f"unknown parameter {k!r} of {cls.__name__}; allowed: {sorted(fields)}")
        h.get(record, k, _field_kind(f), where)


def _wrap(h: _Header, where: str, exc: Exception) -> FileFormatError:
    kind = type(exc).__name__
    return h.error(where, f"refused by the API ({kind}: {exc})")


def load(path: str | os.PathLike) -> Network:
    """Read a network written by :func:`save`.

    The file goes through the validation of the public API (see the module
    documentation); nothing in it is trusted.

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    snn.errors.FileFormatError
        For a corrupted, crafted or foreign file; the message names the file,
        the member (``header`` with the field, or an array) and what is wrong.
    """
    spath = str(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"path={spath!r}: no such network file")
    try:
        zf = zipfile.ZipFile(path)
    except (
        zipfile.BadZipFile,
        OSError,
        ValueError,
        EOFError,
        NotImplementedError,
        RuntimeError,
        OverflowError,
        UnicodeError,
        zlib.error,
    ) as exc:
        raise FileFormatError(f"path={spath!r}: not a readable .npz file ({type(exc).__name__}: {exc})") from exc
    with zf:
        members = _Members(zf, spath)
        return _build(members, _parse_header(members), _Header(spath))


_POP_FIELDS = {"name", "n", "model", "scalars", "arrays", "initial_state"}
_PROJ_FIELDS = {"name", "pre", "post", "synapse"}
_REAL = "biuf"


def _build(members: _Members, header: Any, h: _Header) -> Network:
    if not isinstance(header, dict):
        raise h.error("top level", f"{_short(header)} must be a JSON object")
    if header.get("format") != FORMAT:
        raise h.error("format", f"{_short(header.get('format'))}: not an snn-toolkit network file (expected {FORMAT!r})")
    if header.get("version") != VERSION or isinstance(header.get("version"), bool):
        raise h.error("version", f"{_short(header.get('version'))} is not supported; allowed: {VERSION}")
    h.keys(header, {"format", "version", "dt_ms", "outputs", "populations", "projections"}, "top level")
    dt_ms = h.get(header, "dt_ms", (int, float), "top level")
    pops = h.get(header, "populations", (list,), "top level")
    projs = h.get(header, "projections", (list,), "top level")
    outputs = h.get(header, "outputs", (list,), "top level")
    expected = {"header"}
    try:
        net = Network(dt_ms=dt_ms)
    except (SNNError, ValueError, TypeError) as exc:
        raise _wrap(h, "dt_ms", exc) from exc

    for i, p in enumerate(pops):
        where = f"populations[{i}]"
        if not isinstance(p, dict):
            raise h.error(where, f"{_short(p)} must be a JSON object")
        h.keys(p, _POP_FIELDS, where)
        name = h.get(p, "name", (str,), where)
        n = h.get(p, "n", (int,), where)
        model_name = h.get(p, "model", (str,), where)
        scalars = h.get(p, "scalars", (dict,), where)
        array_names = h.get(p, "arrays", (list,), where)
        init_names = h.get(p, "initial_state", (list,), where)
        try:
            cls = model_class(model_name)
        except SNNError as exc:
            raise _wrap(h, f"{where}.model", exc) from exc
        _check_record(h, cls, scalars, f"{where}.scalars")
        field_names = {f.name for f in dataclasses.fields(cls)}
        for k in array_names:
            if not isinstance(k, str) or k not in field_names or k in scalars:
                raise h.error(
                    f"{where}.arrays",
                    f"{_short(k)} is not an array parameter of {cls.__name__} (parameters {sorted(field_names)}, not also a scalar)",
                )
        if len(set(array_names)) != len(array_names):
            raise h.error(f"{where}.arrays", "names a parameter twice")
        for k in init_names:
            if not isinstance(k, str) or not k or len(k) > 64:
                raise h.error(f"{where}.initial_state", f"{_short(k)} is not a state variable name")
        if len(set(init_names)) != len(init_names):
            raise h.error(f"{where}.initial_state", "names a variable twice")
        positions = members.read(f"pop{i}.positions", "if", f"the positions of population {name!r}")
        if not (isinstance(n, int) and n >= 1 and positions.shape == (n, 3)):
            raise members.error(
                f"pop{i}.positions", f"shape {positions.shape} does not fit populations[{i}].n = {n!r} (must be (n, 3) with n >= 1)"
            )
        model_arrays = {k: members.read(f"pop{i}.model.{k}", _REAL, f"parameter {k} of population {name!r}") for k in array_names}
        init = {k: members.read(f"pop{i}.init.{k}", _REAL, f"initial {k} of population {name!r}") for k in init_names}
        expected |= {f"pop{i}.positions"} | {f"pop{i}.model.{k}" for k in array_names} | {f"pop{i}.init.{k}" for k in init_names}
        try:
            model = cls(**scalars, **model_arrays)
            net.add_population(name, n, model, positions=positions, initial_state=init)
        except (SNNError, ValueError, TypeError, OverflowError, ZeroDivisionError) as exc:
            raise _wrap(h, f"{where} ({name!r})", exc) from exc

    for j, pr in enumerate(projs):
        where = f"projections[{j}]"
        if not isinstance(pr, dict):
            raise h.error(where, f"{_short(pr)} must be a JSON object")
        h.keys(pr, _PROJ_FIELDS, where)
        name = h.get(pr, "name", (str,), where)
        pre = h.get(pr, "pre", (str,), where)
        post = h.get(pr, "post", (str,), where)
        syn_rec = h.get(pr, "synapse", (dict, type(None)), where)
        try:
            n_post, n_pre = net.population(post).n, net.population(pre).n
        except SNNError as exc:
            raise _wrap(h, where, exc) from exc
        syn = None
        if syn_rec is not None:
            h.keys(syn_rec, {"type", "record"}, f"{where}.synapse")
            syn_type = h.get(syn_rec, "type", (str,), f"{where}.synapse")
            record = h.get(syn_rec, "record", (dict,), f"{where}.synapse")
            try:
                syn_cls = synapse_class(syn_type)
            except SNNError as exc:
                raise _wrap(h, f"{where}.synapse.type", exc) from exc
            _check_record(h, syn_cls, record, f"{where}.synapse.record")
            try:
                syn = syn_cls.from_record(dict(record))
            except (SNNError, ValueError, TypeError, OverflowError) as exc:
                raise _wrap(h, f"{where}.synapse", exc) from exc
        key = f"proj{j}"
        indptr = members.read(f"{key}.indptr", "iu", f"the row pointers of projection {name!r}")
        if indptr.shape != (n_post + 1,):
            raise members.error(f"{key}.indptr", f"shape {indptr.shape}; must be ({n_post + 1},) for {n_post} post neurons")
        indices = members.read(f"{key}.indices", "iu", f"the pre indices of projection {name!r}")
        data = members.read(f"{key}.data", "if", f"the weights of projection {name!r}")
        delays = members.read(f"{key}.delays", "iu", f"the delays of projection {name!r}")
        expected |= {f"{key}.{k}" for k in ("indptr", "indices", "data", "delays")}
        nnz = indices.shape[0] if indices.ndim == 1 else -1
        for k, a in (("indices", indices), ("data", data), ("delays", delays)):
            if a.shape != (nnz,):
                raise members.error(f"{key}.{k}", f"shape {a.shape}; must be 1-D with one entry per synapse, as {key}.indices")
        if indptr[0] != 0 or indptr[-1] != nnz or np.any(np.diff(indptr.astype(np.int64)) < 0) or np.any(indptr > nnz):
            raise members.error(f"{key}.indptr", f"not the row pointers of {nnz} synapses (must rise from 0 to {nnz})")
        if nnz and (indices.min() < 0 or indices.max() >= n_pre):
            raise members.error(f"{key}.indices", f"pre indices must lie in [0, {n_pre})")
        indptr64, indices64 = indptr.astype(np.int64), indices.astype(np.int64)
        w = sp.csr_matrix((data.astype(np.float64), indices64, indptr64), shape=(n_post, n_pre))
        if not w.has_canonical_format:
            raise members.error(f"{key}.indices", "the pre indices of each row must be strictly increasing (sorted, no duplicate synapses)")
        dmat = sp.csr_matrix((delays, indices64.copy(), indptr64.copy()), shape=(n_post, n_pre))
        try:
            net.add_projection(pre, post, weights=w, delay_steps=dmat, synapse=syn, name=name)
        except (SNNError, ValueError, TypeError, OverflowError) as exc:
            raise _wrap(h, f"{where} ({name!r})", exc) from exc

    extra = sorted(set(members.infos) - expected)
    if extra:
        raise members.error(extra[0], "not part of the network the header describes")
    try:
        net.outputs = tuple(outputs)
    except (SNNError, ValueError, TypeError) as exc:
        raise _wrap(h, "outputs", exc) from exc
    return net
