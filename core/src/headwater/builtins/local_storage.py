"""Built-in plugin: the ``local`` storage backend (a directory on this machine)."""

from __future__ import annotations

from collections.abc import Callable

from headwater.datastore.local import LocalStorage
from headwater.hookspecs import hookimpl


@hookimpl(trylast=True)
def register_storage_backends(register: Callable[..., None]) -> None:
    register("local", LocalStorage)
