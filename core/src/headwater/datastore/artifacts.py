"""Storing and loading artifacts: objects in, manifest entries out, and back.

A manifest maps an artifact name to ``{"key", "size", "type", "serializer"}`` (plus ``"info"`` when the
serializer has some). ``ArtifactSource`` reads one task's artifacts lazily and remembers what it loaded,
so that persisting a task can pass down, by key, every artifact the step only read. As in Metaflow, a
change made in place (``self.rows.append(x)``) is kept, so a loaded value is checked before its key is
reused, as cheaply as its type allows:

- an immutable value (numbers, strings, bytes, tuples of those) cannot have changed;
- a list, dict or set of immutable values is compared, element by element, by identity with a
  snapshot of references taken when it was loaded (no serialization);
- anything else is serialized again and hashed: an unchanged value costs a hash, never a write.

New blobs of 1 MiB or more are hashed and written on a small thread pool while the next artifact is
serialized, so a step that stores several large artifacts uses both the disk and every core.
"""

from __future__ import annotations

import datetime
import decimal
import fractions
import operator
import os
from collections.abc import Iterable
from itertools import chain
from typing import TYPE_CHECKING, Any

from headwater.datastore.cas import ContentAddressedStore, blob_key
from headwater.datastore.serializers import Serializer
from headwater.exceptions import BlobNotFound, CorruptBlobError, HeadwaterError, SerializationError

if TYPE_CHECKING:
    from concurrent.futures import Future, ThreadPoolExecutor

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


_IMMUTABLE_SET = frozenset(_IMMUTABLE)


def is_immutable(value: Any, budget: int = 1000) -> bool:
    """True when ``value`` cannot change in place (tuples and frozensets are checked, up to a budget)."""
    if type(value) in _IMMUTABLE:  # subclasses may carry mutable state
        return True
    if type(value) in (tuple, frozenset) and len(value) <= budget:
        return all(is_immutable(item, budget // 4) for item in value)
    return False


def _scalars_only(items: Iterable[Any]) -> bool:
    return set(map(type, items)) <= _IMMUTABLE_SET


def snapshot(value: Any) -> tuple[Any, ...] | None:
    """References to compare with later, for a list, dict or set whose elements cannot change in place.

    Elements may be scalars or tuples of scalars (records); the type checks run at C speed (``map``).
    None when the value is not of that shape (it will be serialized again to be checked).
    """
    kind = type(value)
    if kind is set:
        return (kind, frozenset(value)) if _scalars_only(value) else None
    items: Any
    if kind is list:
        items = value
    elif kind is dict:
        if not _scalars_only(value.keys()):
            return None
        items = value.values()
    else:
        return None
    types = set(map(type, items))
    records = items if types == {tuple} else (x for x in items if type(x) is tuple)
    if types <= _IMMUTABLE_SET or (types <= _IMMUTABLE_SET | {tuple} and _scalars_only(chain.from_iterable(records))):
        return (kind, list(value.items()) if kind is dict else list(value))
    return None


def unchanged(value: Any, taken: tuple[Any, ...]) -> bool:
    """Whether ``value`` still holds exactly the references ``snapshot`` took."""
    kind, refs = taken
    if type(value) is not kind or len(value) != len(refs):
        return False
    if kind is set:
        return bool(value == refs)
    if kind is dict:
        pairs = value.items()
        return all(map(operator.is_, (k for k, _ in pairs), (k for k, _ in refs))) and all(
            map(operator.is_, value.values(), (v for _, v in refs))
        )
    return all(map(operator.is_, value, refs))


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
        #: For loaded containers of immutable values: references to detect in-place changes cheaply.
        self.snapshots: dict[str, tuple[Any, ...]] = {}

    def __contains__(self, name: str) -> bool:
        return name in self.manifest

    def names(self) -> list[str]:
        return list(self.manifest)

    def get(self, name: str) -> Any:
        """The value of artifact ``name``; KeyError when this task has none by that name."""
        if name not in self.loaded:
            value = load(self.cas, name, self.manifest[name], self.where)
            self.loaded[name] = value
            taken = snapshot(value)
            if taken is not None:
                self.snapshots[name] = taken
        return self.loaded[name]


#: Blobs at least this large are hashed and written on the pool; smaller ones right away.
_BACKGROUND_BYTES = 1 << 20


class _Writer:
    """Saves blobs, the large ones on a thread pool made on first use (small tasks never start one)."""

    def __init__(self, cas: ContentAddressedStore) -> None:
        self.cas = cas
        self.pool: ThreadPoolExecutor | None = None
        self.pending: list[tuple[str, Entry, Future[Any]]] = []

    def save(self, manifest: Manifest, name: str, entry: Entry, buffers: list[Any], key: str | None = None) -> None:
        if sum(memoryview(b).nbytes for b in buffers) < _BACKGROUND_BYTES:
            ref = self.cas.save(buffers, key)
            entry.update(key=ref.key, size=ref.size)
            manifest[name] = entry
            return
        if self.pool is None:
            from concurrent.futures import ThreadPoolExecutor  # only steps that store large data need it

            self.pool = ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1))
        self.pending.append((name, entry, self.pool.submit(self.cas.save, buffers, key)))

    def finish(self, manifest: Manifest) -> None:
        try:
            for name, entry, future in self.pending:
                ref = future.result()
                entry.update(key=ref.key, size=ref.size)
                manifest[name] = entry
        finally:
            if self.pool is not None:
                self.pool.shutdown()


def persist(
    cas: ContentAddressedStore,
    values: Iterable[tuple[str, Any]],
    passdown: Manifest,
    source: ArtifactSource | None,
    where: str,
) -> Manifest:
    """The manifest of a finished step: ``passdown`` updated with every value set or touched by the step.

    A value that is the very object loaded from ``source`` keeps its entry when it cannot have changed
    (see the module docstring); anything else is stored as a new blob, or found already stored, since
    blobs are deduplicated by content.
    """
    manifest = dict(passdown)
    writer = _Writer(cas)
    try:
        for name, value in values:
            if source is not None and name in source.loaded and source.loaded[name] is value:
                entry = source.manifest[name]
                taken = source.snapshots.get(name)
                if is_immutable(value) or (taken is not None and unchanged(value, taken)):
                    manifest[name] = entry
                    continue
                buffers, fresh = serialize(name, value, where)
                key = blob_key(buffers)
                if key == entry["key"]:
                    manifest[name] = entry
                    continue
                writer.save(manifest, name, fresh, buffers, key)
                continue
            buffers, fresh = serialize(name, value, where)
            writer.save(manifest, name, fresh, buffers)
    finally:
        writer.finish(manifest)
    return manifest
