"""The storage backend interface: the only layer that knows where bytes live.

A backend is small on purpose (put atomically, open for reading, exists, list, delete) so that a new one
(S3, another object store) is a single class. Paths are ``/``-separated and relative to the backend's root.
A missing path raises ``FileNotFoundError`` from every backend.
"""

from __future__ import annotations

import builtins
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import IO, Any, ClassVar

#: What ``put`` accepts: bytes-like objects, written one after the other.
Chunks = Sequence[Any]


class StorageBackend(ABC):
    """Bytes in, bytes out, atomically; subclasses implement every method below."""

    #: The ``--datastore`` name this backend is registered under.
    name: ClassVar[str] = ""

    def __init__(self, root: str) -> None:
        self.root = root

    @classmethod
    def default_root(cls, flow_file: str | None) -> str | None:
        """Where the datastore lives when no ``--datastore-root`` is given (None: it must be given)."""
        return None

    @abstractmethod
    def put(self, path: str, chunks: Chunks, overwrite: bool = True) -> bool:
        """Write the concatenation of ``chunks`` to ``path`` atomically: readers see all of it or nothing.

        With ``overwrite=False`` an existing object is left alone and False is returned.
        """
        ...

    @abstractmethod
    def open(self, path: str) -> IO[bytes]:
        """A binary stream of the object at ``path`` (``read``, ``readinto``, ``close``)."""
        ...

    def get(self, path: str) -> bytes:
        """The whole object at ``path``."""
        with self.open(path) as f:
            return f.read()

    def map(self, path: str, writable: bool) -> Any | None:
        """The object at ``path`` mapped into memory (a buffer), or None when this backend cannot map.

        ``writable=True`` asks for a private mapping: writes change this process's copy, never the object.
        Backends that keep bytes elsewhere (S3) return None and the object is read instead.
        """
        return None

    @abstractmethod
    def exists(self, path: str) -> bool: ...

    @abstractmethod
    def list(self, prefix: str) -> list[str]:
        """Names directly under ``prefix`` (objects and sub-prefixes), empty when there are none."""
        ...

    @abstractmethod
    def delete(self, path: str) -> None:
        """Remove the object at ``path``; no error if it is already gone."""
        ...

    def remove_leftovers(self, older_than_minutes: float = 60) -> builtins.list[str]:
        """Remove what interrupted writes left behind, older than ``older_than_minutes``; returns their paths.

        Leftovers are never data (``list`` does not show them). A backend whose writes leave nothing
        behind (an object store's single-request put) has nothing to remove.
        """
        return []

    @abstractmethod
    def uri(self, path: str = "") -> str:
        """A full address for messages (``/abs/path``, ``s3://bucket/key``)."""
        ...

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.uri()!r})"
