"""Artifact serializers: objects to buffers and back, chosen by priority.

A serializer returns a list of buffers rather than one byte string, so large payloads (a numpy array,
a bytes object) reach the content-addressed store without being copied. Plugins add serializers through
the ``register_serializers`` hook; the built-ins are ``bytes`` (a bytes object as-is) and ``pickle``
(protocol 5, out-of-band buffers), the fallback that accepts anything picklable.
"""

from __future__ import annotations

import pickle
from typing import Any, ClassVar


class Serializer:
    """Base class: ``can_serialize``, ``serialize`` and ``deserialize``; highest ``priority`` is tried first."""

    name: ClassVar[str] = ""
    priority: ClassVar[int] = 0
    #: Whether ``deserialize`` wants writable buffers (``bytearray``) rather than ``bytes``.
    writable_buffers: ClassVar[bool] = True

    def can_serialize(self, obj: Any) -> bool:
        return False

    def serialize(self, obj: Any) -> tuple[list[Any], dict[str, Any]]:
        """Buffers holding ``obj`` and a small JSON-able ``info`` dict kept in the manifest."""
        raise TypeError(f"{type(self).__name__} cannot serialize {type(obj).__name__}")

    def deserialize(self, buffers: list[Any], info: dict[str, Any]) -> Any:
        raise TypeError(f"{type(self).__name__} cannot deserialize")


class BytesSerializer(Serializer):
    """A ``bytes`` object is its own serialization: stored as one buffer, not copied."""

    name = "bytes"
    priority = 100
    writable_buffers = False

    def can_serialize(self, obj: Any) -> bool:
        return type(obj) is bytes

    def serialize(self, obj: Any) -> tuple[list[Any], dict[str, Any]]:
        return [obj], {}

    def deserialize(self, buffers: list[Any], info: dict[str, Any]) -> Any:
        (data,) = buffers
        return data if type(data) is bytes else bytes(data)


class PickleSerializer(Serializer):
    """Pickle protocol 5; buffers that support it (numpy arrays, ``PickleBuffer``) go out of band, uncopied."""

    name = "pickle"
    priority = -1000

    def can_serialize(self, obj: Any) -> bool:
        return True

    def serialize(self, obj: Any) -> tuple[list[Any], dict[str, Any]]:
        out_of_band: list[Any] = []

        def keep(buffer: pickle.PickleBuffer) -> bool:
            try:
                out_of_band.append(buffer.raw())
            except BufferError:  # not contiguous: let pickle copy it in band
                return True
            return False

        data = pickle.dumps(obj, protocol=5, buffer_callback=keep)
        return [data, *out_of_band], {"protocol": 5}

    def deserialize(self, buffers: list[Any], info: dict[str, Any]) -> Any:
        return pickle.loads(buffers[0], buffers=buffers[1:])
