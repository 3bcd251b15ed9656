"""The ``local`` storage backend: a directory on this machine, written by temp file and rename.

The default root is the nearest ``.headwater`` directory above the flow's file, or a new one next to it.
Writes never fsync: atomic renames protect readers from a crashed or killed writer, which is the failure
a workflow runtime meets; durability across a power loss is the file system's business.
"""

from __future__ import annotations

import builtins
import mmap
import os
import time
from typing import IO, Any

from headwater.config import HEADWATER_DIR, find_upwards
from headwater.datastore.storage import Chunks, StorageBackend
from headwater.exceptions import DatastoreError

#: Temp files are named ``.tmp-<pid>-<random>`` next to their target until renamed into place.
TEMP_PREFIX = ".tmp-"
#: Files at least this large are memory-mapped when loaded (no copy); smaller ones are read.
MAP_AT_LEAST = 4 * 1024 * 1024


class LocalStorage(StorageBackend):
    """A datastore in a local directory."""

    name = "local"

    def __init__(self, root: str) -> None:
        super().__init__(os.path.abspath(root))
        self._made: set[str] = set()

    @classmethod
    def default_root(cls, flow_file: str | None) -> str:
        start = os.path.dirname(os.path.abspath(flow_file)) if flow_file else os.getcwd()
        return find_upwards(start) or os.path.join(start, HEADWATER_DIR)

    def _full(self, path: str) -> str:
        return os.path.join(self.root, path) if path else self.root

    def _makedirs(self, directory: str) -> None:
        if directory not in self._made:
            os.makedirs(directory, exist_ok=True)
            self._made.add(directory)

    def put(self, path: str, chunks: Chunks, overwrite: bool = True) -> bool:
        try:
            return self._put(path, chunks, overwrite)
        except (FileNotFoundError, FileExistsError):
            raise
        except OSError as e:  # a full disk, a read-only folder: name the path, not a traceback
            raise DatastoreError(
                f"Cannot write {self._full(path)}: {e.strerror or e}.",
                "Free some space or fix the folder's permissions (or choose another --datastore-root).",
            ) from None

    def _put(self, path: str, chunks: Chunks, overwrite: bool) -> bool:
        full = self._full(path)
        directory = os.path.dirname(full)
        self._makedirs(directory)
        tmp = os.path.join(directory, f"{TEMP_PREFIX}{os.getpid()}-{os.urandom(6).hex()}")
        try:
            try:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileNotFoundError:  # the folder was removed since we made it
                self._made.discard(directory)
                self._makedirs(directory)
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            try:
                for chunk in chunks:
                    view = memoryview(chunk).cast("B")
                    while view:
                        written = os.write(fd, view)
                        view = view[written:]
            finally:
                os.close(fd)
            if overwrite:
                os.replace(tmp, full)
                return True
            try:
                os.link(tmp, full)
            except FileExistsError:
                return False
            except OSError:  # a file system without hard links: check, then rename (not race-free)
                if os.path.exists(full):
                    return False
                os.replace(tmp, full)
                return True
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
            return True
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    def open(self, path: str) -> IO[bytes]:
        try:
            return open(self._full(path), "rb")
        except NotADirectoryError:  # a parent is a file: nothing can be stored there, so nothing is
            raise FileNotFoundError(self._full(path)) from None
        except PermissionError as e:
            raise DatastoreError(
                f"Cannot read {self._full(path)}: {e.strerror or e}.", "Fix the permissions."
            ) from None

    def get(self, path: str) -> bytes:
        with self.open(path) as f:
            return f.read()

    def map(self, path: str, writable: bool) -> Any | None:
        # Only large files: a mapping keeps a file descriptor open for as long as it lives.
        with self.open(path) as f:
            if os.fstat(f.fileno()).st_size < MAP_AT_LEAST:
                return None
            access = mmap.ACCESS_COPY if writable else mmap.ACCESS_READ
            return mmap.mmap(f.fileno(), 0, access=access)

    def exists(self, path: str) -> bool:
        return os.path.exists(self._full(path))

    def list(self, prefix: str) -> list[str]:
        try:
            return [name for name in os.listdir(self._full(prefix)) if not name.startswith(TEMP_PREFIX)]
        except (FileNotFoundError, NotADirectoryError):
            return []

    def delete(self, path: str) -> None:
        try:
            os.unlink(self._full(path))
        except FileNotFoundError:
            pass

    def remove_leftovers(self, older_than_minutes: float = 60) -> builtins.list[str]:
        # A writer still running owns a recent temp file; only files older than any write takes are removed.
        cutoff = time.time() - older_than_minutes * 60
        removed = []
        for directory, _, filenames in os.walk(self.root):
            for name in filenames:
                if not name.startswith(TEMP_PREFIX):
                    continue
                full = os.path.join(directory, name)
                try:
                    if os.lstat(full).st_mtime < cutoff:
                        os.unlink(full)
                        removed.append(os.path.relpath(full, self.root).replace(os.sep, "/"))
                except FileNotFoundError:  # renamed into place or removed meanwhile
                    continue
        return sorted(removed)

    def uri(self, path: str = "") -> str:
        return self._full(path)
