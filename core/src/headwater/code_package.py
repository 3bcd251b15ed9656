"""The code package: a deterministic archive of the flow's code, stored with every run.

It holds every ``.py`` file under the flow's directory (skipping hidden folders, virtualenvs, caches and
the datastore) plus the files plugins add through ``register_code_package_files``. Members are sorted and their
times and owners fixed, and the gzip header carries no time, so the same code gives the same bytes and
therefore the same content key: unchanged code is stored once. Building is skipped altogether when the
files' names, sizes and modification times match the previous run's (a cache, rebuildable at will).

Symbolic links are never followed out of the flow's folder: a file link whose target resolves outside
it (``passwd_link.py -> /etc/passwd``), or that is broken, is skipped with a one-line warning naming the
link, so a package never carries a file the flow's folder does not hold. A file link whose target stays
inside the folder is stored under the link's name with its target's content (the package then imports
the same way it does locally). Links to folders are not descended into, wherever they point.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import blake3

from headwater._version import __version__

if TYPE_CHECKING:
    from headwater.datastore.records import FlowDatastore

SUFFIXES = (".py",)
MAX_FILES = 5000
SKIP_DIRS = frozenset({"__pycache__", "node_modules", "site-packages", "htmlcov"})
#: 2000-01-01T00:00:00Z, the modification time of every member.
FIXED_MTIME = 946684800
_CACHE_ENTRIES = 20


def _warn(message: str) -> None:
    import sys

    sys.stderr.write(f"headwater: warning: {message}\n")


def _inside(path: str, root: str) -> bool:
    return os.path.commonpath([path, root]) == root


def _walk(root: str) -> Iterator[tuple[str, str]]:
    """``(path in archive, local path)`` of each file; a link's local path is its target, checked to stay inside."""
    real_root = os.path.realpath(root)
    for directory, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(
            d
            for d in dirnames
            if not d.startswith(".")
            and d not in SKIP_DIRS
            and not os.path.exists(os.path.join(directory, d, "pyvenv.cfg"))
        )
        for name in sorted(filenames):
            if not name.endswith(SUFFIXES):
                continue
            path = os.path.join(directory, name)
            arcname = os.path.relpath(path, root).replace(os.sep, "/")
            if not os.path.islink(path):
                yield arcname, path
                continue
            # Resolved here, once: the archive reads the target, so a link changed later cannot escape.
            target = os.path.realpath(path)
            if not _inside(target, real_root):
                _warn(f"{arcname} is left out of the code package: it links to {target}, outside {root}.")
            elif not os.path.isfile(target):
                _warn(f"{arcname} is left out of the code package: it links to {target}, which is not a file.")
            else:
                yield arcname, target


def collect(flow_file: str) -> list[tuple[str, str]]:
    """``(path in archive, local path)`` for every file of the package, sorted."""
    from headwater.plugins import hook

    root = os.path.dirname(os.path.abspath(flow_file))
    files: dict[str, str] = {}
    for arcname, path in _walk(root):
        files[arcname] = path
        if len(files) >= MAX_FILES:
            _warn(f"the code package stops at {MAX_FILES} files under {root}; keep flows in a folder of their own.")
            break
    extra: dict[str, str] = {}
    hook().register_code_package_files(flow_file=os.path.abspath(flow_file), register=extra.setdefault)
    files.update(extra)
    return sorted(files.items())


def fingerprint(files: list[tuple[str, str]]) -> str:
    """A hash of names, sizes and modification times: equal when the files have not changed."""
    hasher = blake3.blake3(__version__.encode())
    for arcname, path in files:
        st = os.stat(path)
        hasher.update(f"\0{arcname}\0{st.st_size}\0{st.st_mtime_ns}".encode())
    return hasher.hexdigest()


def build(files: list[tuple[str, str]]) -> bytes:
    """The archive (tar.gz) of ``files``: the same files always give the same bytes."""
    import gzip
    import tarfile

    raw = io.BytesIO()
    with (
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for arcname, path in files:
            with open(path, "rb") as f:
                data = f.read()
            info = tarfile.TarInfo(arcname)
            info.size = len(data)
            info.mtime = FIXED_MTIME
            info.mode = 0o755 if os.access(path, os.X_OK) else 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(data))
    return raw.getvalue()


def _read_cache(datastore: FlowDatastore, cache_path: str) -> dict[str, str]:
    """The fingerprint -> key cache; anything unreadable in it is forgotten (it is rebuilt at will)."""
    from headwater.datastore.cas import is_key

    try:
        cache = json.loads(datastore.storage.get(cache_path))
    except (FileNotFoundError, ValueError):
        return {}
    if not isinstance(cache, dict):
        return {}
    return {k: v for k, v in cache.items() if isinstance(v, str) and is_key(v)}


def store(datastore: FlowDatastore, flow_file: str) -> str:
    """Store the flow's code package (unless unchanged and already stored); returns its content key."""
    files = collect(flow_file)
    files_print = fingerprint(files)
    cache_path = f"{datastore.flow_name}/code-cache.json"
    cache = _read_cache(datastore, cache_path)
    key = cache.get(files_print)
    if key and datastore.cas.looks_whole(key):  # a damaged package is rebuilt and replaced, not reused
        return str(key)
    key = datastore.cas.save([build(files)]).key
    cache[files_print] = key
    if len(cache) > _CACHE_ENTRIES:
        cache = dict(list(cache.items())[-_CACHE_ENTRIES:])
    datastore.storage.put(cache_path, [json.dumps(cache).encode()])
    return key


def load(datastore: FlowDatastore, key: str) -> bytes:
    """The archive bytes of a stored code package."""
    (data,) = datastore.cas.load(key, writable=False)
    return bytes(data)
