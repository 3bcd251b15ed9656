"""Built-in plugin: the ``bytes`` serializer and the ``pickle`` fallback."""

from __future__ import annotations

from collections.abc import Callable

from headwater.datastore.serializers import BytesSerializer, PickleSerializer
from headwater.hookspecs import hookimpl


@hookimpl(trylast=True)
def register_serializers(register: Callable[..., None]) -> None:
    register(BytesSerializer())
    register(PickleSerializer())
