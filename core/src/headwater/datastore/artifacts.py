"""Storing and loading artifacts: objects in, manifest entries out, and back.

A manifest maps an artifact name to ``{"key", "size", "type", "serializer"}`` (plus ``"info"`` when the
serializer has some). ``ArtifactSource`` reads one task's artifacts lazily and remembers what it loaded,
so that persisting a task can pass down, by key, every artifact the step only read: an immutable value
is never serialized again, and a mutable one is re-serialized only to check whether the step changed it
in place (as in Metaflow, such a change is kept).
"""

from __future__ import annotations

import datetime
import decimal
import fractions
from collections.abc import Iterable
from typing import Any

from headwater.datastore.cas import ContentAddressedStore, blob_key
from headwater.datastore.serializers import Serializer
from headwater.exceptions import BlobNotFound, CorruptBlobError, HeadwaterError, SerializationError

Entry = dict[str, Any]
Manifest = dict[str, Entry]

_IMMUTABLE = (
    str,
    bytes,
    int,
    float,
    complex,
    bool,
    type(None),
    range,
    decimal.Decimal,
    fractions.Fraction,
    datetime.date,
    datetime.datetime,
    datetime.time,
    datetime.timedelta,
    datetime.timezone,
)


def is_immutable(value: Any, budget: int = 1000) -> bool:
    """True when ``value`` cannot change in place (tuples and frozensets are checked, up to a budget)."""
    if type(value) in _IMMUTABLE:  # subclasses may carry mutable state
        return True
    if type(value) in (tuple, frozenset) and len(value) <= budget:
        return all(is_immutable(item, budget // 4) for item in value)
    return False


def type_name(value: Any) -> str:
    kind = type(value)
    return kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"


def _serializers() -> list[Serializer]:
    from headwater.plugins import serializers

    return serializers()


def serializer_named(name: str) -> Serializer:
    for serializer in _serializers():
        if serializer.name == name:
            return serializer
    raise SerializationError(
        f"Artifact was stored with the serializer {name!r}, which is not installed here.",
        "Install the plugin that provides it (`headwater plugins` lists what is installed).",
    )


def serialize(name: str, value: Any, where: str) -> tuple[list[Any], Entry]:
    """Buffers and a manifest entry (without key) for ``value``; ``where`` names the step for errors."""
    for serializer in _serializers():
        try:
            if not serializer.can_serialize(value):
                continue
            buffers, info = serializer.serialize(value)
        except HeadwaterError:
            raise
        except Exception as e:
            raise SerializationError(
                f"{where}: artifact `self.{name}` ({type_name(value)}) cannot be stored: {type(e).__name__}: {e}.",
                f"Artifacts must be serializable (picklable). Keep `{name}` in a local variable, "
                f"or `del self.{name}` before the step ends.",
            ) from e
        entry: Entry = {"type": type_name(value), "serializer": serializer.name}
        if info:
            entry["info"] = info
        return buffers, entry
    raise SerializationError(f"{where}: no serializer accepts artifact `self.{name}` ({type_name(value)}).")


def store(cas: ContentAddressedStore, name: str, value: Any, where: str) -> Entry:
    """Serialize and store one artifact; returns its manifest entry."""
    buffers, entry = serialize(name, value, where)
    ref = cas.save(buffers)
    entry.update(key=ref.key, size=ref.size)
    return entry


def load(cas: ContentAddressedStore, name: str, entry: Entry, where: str) -> Any:
    """Load one artifact from its manifest entry."""
    serializer = serializer_named(entry["serializer"])
    try:
        buffers = cas.load(entry["key"], writable=serializer.writable_buffers)
    except (CorruptBlobError, BlobNotFound) as e:
        raise type(e)(f"Artifact `{name}` of {where} cannot be loaded. {e.message}", e.hint) from None
    try:
        return serializer.deserialize(buffers, entry.get("info", {}))
    except Exception as e:
        raise SerializationError(
            f"Artifact `{name}` of {where} cannot be deserialized: {type(e).__name__}: {e}.",
            "The class it was made from may have changed or be missing here (pickle needs the same code).",
        ) from e


class ArtifactSource:
    """The artifacts of one task (or a merged set), loaded lazily by name and cached."""

    def __init__(self, cas: ContentAddressedStore, manifest: Manifest, where: str) -> None:
        self.cas = cas
        self.manifest = manifest
        self.where = where
        self.loaded: dict[str, Any] = {}

    def __contains__(self, name: str) -> bool:
        return name in self.manifest

    def names(self) -> list[str]:
        return list(self.manifest)

    def get(self, name: str) -> Any:
        """The value of artifact ``name``; KeyError when this task has none by that name."""
        if name not in self.loaded:
            self.loaded[name] = load(self.cas, name, self.manifest[name], self.where)
        return self.loaded[name]


def persist(
    cas: ContentAddressedStore,
    values: Iterable[tuple[str, Any]],
    passdown: Manifest,
    source: ArtifactSource | None,
    where: str,
) -> Manifest:
    """The manifest of a finished step: ``passdown`` updated with every value set or touched by the step.

    A value that is the very object loaded from ``source`` keeps its entry when it is immutable, or when
    serializing it again gives the same key; anything else is stored as a new blob (or found already
    stored, since blobs are deduplicated by content).
    """
    manifest = dict(passdown)
    for name, value in values:
        if source is not None and name in source.loaded and source.loaded[name] is value:
            entry = source.manifest[name]
            if is_immutable(value):
                manifest[name] = entry
                continue
            buffers, fresh = serialize(name, value, where)
            key = blob_key(buffers)
            if key == entry["key"]:
                manifest[name] = entry
                continue
            ref = cas.save(buffers, key=key)
            fresh.update(key=ref.key, size=ref.size)
            manifest[name] = fresh
            continue
        manifest[name] = store(cas, name, value, where)
    return manifest
