"""Tests of artifact storing, loading and persisting (pass-down by key, in-place changes kept).

A throwaway ``counting`` serializer plugin, registered through the real hook, proves when a value is
serialized again and when it is not.
"""

from __future__ import annotations

import datetime
import decimal
import fractions
import pickle
import threading
from collections import namedtuple
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from headwater import hookimpl, plugins
from headwater.datastore import artifacts
from headwater.datastore.artifacts import ArtifactSource, is_immutable, persist, serialize, type_name
from headwater.datastore.cas import ContentAddressedStore
from headwater.datastore.local import LocalStorage
from headwater.datastore.serializers import Serializer
from headwater.exceptions import BlobNotFound, CorruptBlobError, HeadwaterError, SerializationError

WHERE = "Step train (task MyFlow/1/train/2)"


class Point:
    def __init__(self, x: int, y: int) -> None:
        self.x, self.y = x, y

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Point) and (self.x, self.y) == (other.x, other.y)


class Tagged(str):
    """A str subclass: immutable text, but a ``__dict__`` that can change in place."""


def _explode() -> None:
    raise ValueError("class changed")


class Exploding:
    def __reduce__(self):
        return _explode, ()


class Refuses:
    def __reduce__(self):
        raise SerializationError("refused on purpose")


class CountingSerializer(Serializer):
    """Takes tuples and lists whose first item is "counted"; counts serialize calls."""

    name = "counting"
    priority = 500
    writable_buffers = False

    def __init__(self) -> None:
        self.calls = 0

    def can_serialize(self, obj: Any) -> bool:
        return type(obj) in (tuple, list) and len(obj) > 0 and obj[0] == "counted"

    def serialize(self, obj: Any) -> tuple[list[Any], dict[str, Any]]:
        self.calls += 1
        return [pickle.dumps(obj, protocol=5)], {"kind": type(obj).__name__}

    def deserialize(self, buffers: list[Any], info: dict[str, Any]) -> Any:
        return pickle.loads(buffers[0])


@pytest.fixture
def counting(headwater_env: Path):
    serializer = CountingSerializer()

    class Plugin:
        @hookimpl
        def register_serializers(self, register):
            register(serializer)

    name = plugins.register_plugin(Plugin(), name="test-counting-serializer")
    yield serializer
    if plugins.get_plugin_manager().get_plugin(name) is not None:
        plugins.unregister_plugin(name)


@pytest.fixture
def cas(headwater_env: Path) -> ContentAddressedStore:
    return ContentAddressedStore(LocalStorage(str(headwater_env / "store")), "Flow/data")


def blob_count(cas: ContentAddressedStore) -> int:
    return sum(1 for p in Path(cas.storage.uri("Flow/data")).rglob("*") if p.is_file())


def source_of(cas: ContentAddressedStore, values: dict[str, Any]) -> ArtifactSource:
    manifest = {name: artifacts.store(cas, name, value, "parent") for name, value in values.items()}
    return ArtifactSource(cas, manifest, "MyFlow/1/start/1")


# -- store and load -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        {"a": [1, 2, 3], "b": ("x", None)},
        b"raw bytes",
        Point(1, 2),
        "text",
        [],
        None,
    ],
    ids=["dict", "bytes", "object", "str", "empty-list", "none"],
)
def test_store_and_load_round_trip(cas: ContentAddressedStore, value: Any) -> None:
    entry = artifacts.store(cas, "value", value, WHERE)
    assert entry["type"] == type_name(value)
    assert cas.exists(entry["key"])
    assert artifacts.load(cas, "value", entry, WHERE) == value


def test_manifest_entries(cas: ContentAddressedStore) -> None:
    raw = artifacts.store(cas, "raw", b"12345", WHERE)
    assert raw == {"type": "bytes", "serializer": "bytes", "key": raw["key"], "size": 5}
    point = artifacts.store(cas, "point", Point(1, 2), WHERE)
    assert point["type"] == f"{__name__}.Point"
    assert point["serializer"] == "pickle"
    assert point["info"] == {"protocol": 5}
    assert set(point) == {"type", "serializer", "info", "key", "size"}


def test_numpy_artifact_round_trip_stays_writable(cas: ContentAddressedStore) -> None:
    array = np.arange(100_000, dtype=np.float64)
    entry = artifacts.store(cas, "array", array, WHERE)
    assert entry["type"] == "numpy.ndarray"
    assert entry["size"] >= array.nbytes
    loaded = artifacts.load(cas, "array", entry, WHERE)
    assert np.array_equal(loaded, array)
    assert loaded.flags.writeable is True


def test_equal_values_share_one_blob(cas: ContentAddressedStore) -> None:
    first = artifacts.store(cas, "a", {"k": list(range(100))}, WHERE)
    second = artifacts.store(cas, "b", {"k": list(range(100))}, WHERE)
    assert first["key"] == second["key"]
    assert blob_count(cas) == 1


def test_type_name() -> None:
    assert type_name(1) == "int"
    assert type_name(Point(0, 0)) == f"{__name__}.Point"
    assert type_name(datetime.date(2020, 1, 1)) == "datetime.date"


# -- serialize errors ---------------------------------------------------------------------------------------


def test_unpicklable_artifact_names_the_artifact_its_type_and_the_step(headwater_env: Path) -> None:
    with pytest.raises(SerializationError) as info:
        serialize("lock", threading.Lock(), WHERE)
    error = info.value
    assert error.message.startswith(f"{WHERE}: artifact `self.lock` (_thread.lock) cannot be stored: TypeError:")
    assert "del self.lock" in (error.hint or "")
    assert isinstance(error.__cause__, TypeError)


def test_unpicklable_value_inside_a_container(headwater_env: Path) -> None:
    with pytest.raises(SerializationError, match=r"`self.state` \(dict\)"):
        serialize("state", {"lock": threading.Lock()}, WHERE)


def test_headwater_errors_pass_through_serialize_unchanged(headwater_env: Path) -> None:
    with pytest.raises(SerializationError) as info:
        serialize("thing", Refuses(), WHERE)
    assert info.value.message == "refused on purpose"


def test_store_of_an_unpicklable_artifact_writes_nothing(cas: ContentAddressedStore) -> None:
    with pytest.raises(SerializationError):
        artifacts.store(cas, "lock", threading.Lock(), WHERE)
    assert blob_count(cas) == 0


# -- load errors --------------------------------------------------------------------------------------------


def test_load_of_a_corrupted_blob_names_the_artifact(cas: ContentAddressedStore) -> None:
    entry = artifacts.store(cas, "model", list(range(1000)), WHERE)
    path = Path(cas.storage.uri(cas.path(entry["key"])))
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptBlobError) as info:
        artifacts.load(cas, "model", entry, WHERE)
    message = info.value.message
    assert message.startswith(f"Artifact `model` of {WHERE} cannot be loaded.")
    assert entry["key"] in message
    assert "Delete it and re-run" in (info.value.hint or "")


def test_load_of_a_missing_blob_names_the_artifact(cas: ContentAddressedStore) -> None:
    entry = artifacts.store(cas, "model", [1, 2, 3], WHERE)
    cas.storage.delete(cas.path(entry["key"]))
    with pytest.raises(BlobNotFound, match="`model`"):
        artifacts.load(cas, "model", entry, WHERE)


def test_load_of_a_missing_blob_raises_blob_not_found(cas: ContentAddressedStore) -> None:
    entry = artifacts.store(cas, "model", [1, 2, 3], WHERE)
    cas.storage.delete(cas.path(entry["key"]))
    with pytest.raises(BlobNotFound, match=entry["key"]):
        artifacts.load(cas, "model", entry, WHERE)


def test_unknown_serializer(cas: ContentAddressedStore) -> None:
    entry = {**artifacts.store(cas, "x", [1], WHERE), "serializer": "parquet"}
    with pytest.raises(SerializationError) as info:
        artifacts.load(cas, "x", entry, WHERE)
    assert "'parquet'" in info.value.message
    assert "not installed" in info.value.message
    assert "headwater plugins" in (info.value.hint or "")


def test_artifact_stored_by_a_plugin_that_is_gone(cas: ContentAddressedStore, counting: CountingSerializer) -> None:
    entry = artifacts.store(cas, "pair", ("counted", 1), WHERE)
    assert entry["serializer"] == "counting"
    assert entry["info"] == {"kind": "tuple"}
    assert artifacts.load(cas, "pair", entry, WHERE) == ("counted", 1)
    plugins.unregister_plugin("test-counting-serializer")
    with pytest.raises(SerializationError, match="'counting'"):
        artifacts.load(cas, "pair", entry, WHERE)


def test_deserialize_error_names_the_artifact(cas: ContentAddressedStore) -> None:
    entry = artifacts.store(cas, "obj", Exploding(), WHERE)
    with pytest.raises(SerializationError) as info:
        artifacts.load(cas, "obj", entry, WHERE)
    assert info.value.message == f"Artifact `obj` of {WHERE} cannot be deserialized: ValueError: class changed."
    assert isinstance(info.value.__cause__, ValueError)


def test_headwater_error_is_the_base(cas: ContentAddressedStore) -> None:
    assert issubclass(SerializationError, HeadwaterError)
    assert issubclass(CorruptBlobError, HeadwaterError)


# -- is_immutable -------------------------------------------------------------------------------------------

Pair = namedtuple("Pair", "a b")


@pytest.mark.parametrize(
    "value",
    [
        "text",
        b"bytes",
        7,
        2.5,
        1j,
        True,
        None,
        range(5),
        decimal.Decimal("1.1"),
        fractions.Fraction(1, 3),
        datetime.date(2024, 1, 1),
        datetime.datetime(2024, 1, 1, 12),
        datetime.time(1, 2),
        datetime.timedelta(seconds=3),
        datetime.timezone.utc,
        (),
        (1, ("a", (None, b"x"))),
        frozenset({1, "a", (2, 3)}),
        (frozenset({("x", 1)}), "y"),
        tuple(range(1000)),
    ],
)
def test_immutable_values(value: Any) -> None:
    assert is_immutable(value) is True


@pytest.mark.parametrize(
    "value",
    [
        [1],
        {},
        {"a": 1},
        set(),
        bytearray(b"x"),
        (1, [2]),
        (
            (
                1,
                ({},),
            ),
        ),
        frozenset({(1, Pair(0, 0))}),
        Point(0, 0),
        np.zeros(3),
        Pair(1, 2),  # a tuple subclass may carry state: treated as mutable
        tuple(range(1001)),  # over the budget: not checked, so not trusted
    ],
)
def test_mutable_values(value: Any) -> None:
    assert is_immutable(value) is False


# -- ArtifactSource -----------------------------------------------------------------------------------------


def test_source_loads_lazily_and_caches(cas: ContentAddressedStore) -> None:
    source = source_of(cas, {"a": [1, 2], "b": "two"})
    assert source.names() == ["a", "b"]
    assert "a" in source and "zzz" not in source
    assert source.loaded == {}
    first = source.get("a")
    assert first == [1, 2]
    assert source.get("a") is first
    assert list(source.loaded) == ["a"]
    with pytest.raises(KeyError):
        source.get("zzz")


# -- persist ------------------------------------------------------------------------------------------------


def test_unchanged_loaded_mutable_value_keeps_its_entry(
    cas: ContentAddressedStore, counting: CountingSerializer
) -> None:
    source = source_of(cas, {"data": ["counted", [1, 2, 3]]})
    entry = source.manifest["data"]
    blobs = blob_count(cas)
    value = source.get("data")
    manifest = persist(cas, [("data", value)], {"data": entry}, source, WHERE)
    assert manifest["data"] is entry
    assert blob_count(cas) == blobs
    assert counting.calls == 2  # stored once, serialized once more to check for in-place changes


def test_immutable_loaded_value_is_not_serialized_again(
    cas: ContentAddressedStore, counting: CountingSerializer
) -> None:
    source = source_of(cas, {"pair": ("counted", ("nested", frozenset({1, 2})))})
    entry = source.manifest["pair"]
    assert counting.calls == 1
    value = source.get("pair")
    manifest = persist(cas, [("pair", value)], {"pair": entry}, source, WHERE)
    assert manifest["pair"] is entry
    assert counting.calls == 1  # passed down by key, never serialized again


def test_loaded_list_changed_in_place_gets_a_new_key(cas: ContentAddressedStore) -> None:
    source = source_of(cas, {"items": [1, 2, 3], "other": {"k": "v"}})
    old = source.manifest["items"]
    blobs = blob_count(cas)
    items = source.get("items")
    items.append(4)
    manifest = persist(cas, [("items", items)], dict(source.manifest), source, WHERE)
    new = manifest["items"]
    assert new["key"] != old["key"]
    assert new["type"] == "list"
    assert new["serializer"] == "pickle"
    assert blob_count(cas) == blobs + 1
    assert cas.exists(old["key"])  # the parent's blob is untouched
    assert artifacts.load(cas, "items", new, WHERE) == [1, 2, 3, 4]
    assert artifacts.load(cas, "items", old, WHERE) == [1, 2, 3]
    assert manifest["other"] is source.manifest["other"]


def test_loaded_array_changed_in_place_gets_a_new_key(cas: ContentAddressedStore) -> None:
    source = source_of(cas, {"weights": np.zeros(1000)})
    old = source.manifest["weights"]
    weights = source.get("weights")
    weights[10] = 1.0
    manifest = persist(cas, [("weights", weights)], {"weights": old}, source, WHERE)
    assert manifest["weights"]["key"] != old["key"]
    assert artifacts.load(cas, "weights", manifest["weights"], WHERE)[10] == 1.0


def test_loaded_str_subclass_changed_in_place_gets_a_new_key(cas: ContentAddressedStore) -> None:
    tagged = Tagged("name")
    tagged.note = "original"
    source = source_of(cas, {"label": tagged})
    old = source.manifest["label"]
    label = source.get("label")
    label.note = "changed"
    manifest = persist(cas, [("label", label)], {"label": old}, source, WHERE)
    assert artifacts.load(cas, "label", manifest["label"], WHERE).note == "changed"


def test_reassigned_value_gets_a_new_entry(cas: ContentAddressedStore) -> None:
    source = source_of(cas, {"count": 1, "items": [1]})
    source.get("count")
    source.get("items")
    manifest = persist(cas, [("count", 2), ("items", [1, 2])], dict(source.manifest), source, WHERE)
    assert manifest["count"]["key"] != source.manifest["count"]["key"]
    assert manifest["items"]["key"] != source.manifest["items"]["key"]
    assert artifacts.load(cas, "count", manifest["count"], WHERE) == 2
    assert artifacts.load(cas, "items", manifest["items"], WHERE) == [1, 2]


def test_reassigned_equal_value_is_stored_under_the_same_key(cas: ContentAddressedStore) -> None:
    source = source_of(cas, {"items": [1, 2]})
    source.get("items")
    blobs = blob_count(cas)
    manifest = persist(cas, [("items", [1, 2])], dict(source.manifest), source, WHERE)
    assert manifest["items"] is not source.manifest["items"]  # a new entry ...
    assert manifest["items"]["key"] == source.manifest["items"]["key"]  # ... of the same blob
    assert blob_count(cas) == blobs


def test_untouched_passdown_entries_are_kept(cas: ContentAddressedStore) -> None:
    source = source_of(cas, {"a": [1], "b": "bee", "c": {"x": 1}})
    passdown = dict(source.manifest)
    manifest = persist(cas, [("new", 42)], passdown, source, WHERE)
    assert set(manifest) == {"a", "b", "c", "new"}
    for name in ("a", "b", "c"):
        assert manifest[name] is passdown[name]
    assert artifacts.load(cas, "new", manifest["new"], WHERE) == 42
    assert "new" not in passdown  # the caller's dict is not changed


def test_persist_without_a_source_stores_every_value(cas: ContentAddressedStore) -> None:
    manifest = persist(cas, [("a", [1, 2]), ("b", b"raw")], {}, None, WHERE)
    assert sorted(manifest) == ["a", "b"]
    assert manifest["b"]["serializer"] == "bytes"
    assert blob_count(cas) == 2


def test_persist_of_an_unpicklable_value_names_the_step(cas: ContentAddressedStore) -> None:
    with pytest.raises(SerializationError, match=r"Step train .*`self.lock` \(_thread.lock\)"):
        persist(cas, [("ok", 1), ("lock", threading.Lock())], {}, None, WHERE)
