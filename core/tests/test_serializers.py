"""Tests of the built-in serializers: ``bytes`` as-is, and pickle protocol 5 with out-of-band buffers."""

from __future__ import annotations

import pickle
import threading

import numpy as np
import pytest

from headwater.datastore.serializers import BytesSerializer, PickleSerializer, Serializer
from headwater.plugins import serializers as registered_serializers


class BytesSubclass(bytes):
    pass


def round_trip(serializer: Serializer, obj: object, writable: bool = True) -> object:
    buffers, info = serializer.serialize(obj)
    convert = bytearray if writable else bytes
    return serializer.deserialize([convert(memoryview(b).cast("B")) for b in buffers], info)


# -- registry -----------------------------------------------------------------------------------------------


def test_built_ins_are_registered_bytes_first_and_pickle_last(headwater_env) -> None:
    names = [s.name for s in registered_serializers()]
    assert names[0] == "bytes"
    assert names[-1] == "pickle"


def test_base_serializer_refuses_everything() -> None:
    base = Serializer()
    assert base.can_serialize(b"x") is False
    with pytest.raises(TypeError, match="Serializer cannot serialize int"):
        base.serialize(1)
    with pytest.raises(TypeError):
        base.deserialize([], {})


# -- bytes --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("obj", "accepted"),
    [
        (b"data", True),
        (b"", True),
        (bytearray(b"data"), False),
        (memoryview(b"data"), False),
        (BytesSubclass(b"data"), False),
        ("data", False),
        (None, False),
    ],
    ids=["bytes", "empty", "bytearray", "memoryview", "subclass", "str", "none"],
)
def test_bytes_serializer_accepts_only_exact_bytes(obj: object, accepted: bool) -> None:
    assert BytesSerializer().can_serialize(obj) is accepted


def test_bytes_serializer_stores_the_object_itself() -> None:
    data = b"\x00\x01payload"
    buffers, info = BytesSerializer().serialize(data)
    assert buffers == [data]
    assert buffers[0] is data  # not copied
    assert info == {}
    assert BytesSerializer.writable_buffers is False


@pytest.mark.parametrize("buffer", [b"abc", bytearray(b"abc"), memoryview(b"abc")])
def test_bytes_serializer_returns_exact_bytes(buffer: object) -> None:
    value = BytesSerializer().deserialize([buffer], {})
    assert type(value) is bytes
    assert value == b"abc"


def test_bytes_serializer_wants_exactly_one_buffer() -> None:
    with pytest.raises(ValueError):
        BytesSerializer().deserialize([b"a", b"b"], {})


# -- pickle -------------------------------------------------------------------------------------------------


def test_pickle_accepts_anything_and_uses_protocol_5() -> None:
    serializer = PickleSerializer()
    assert serializer.can_serialize(object()) is True
    buffers, info = serializer.serialize({"a": [1, 2, (3, "x")]})
    assert info == {"protocol": 5}
    assert len(buffers) == 1
    assert buffers[0][1] == 5  # PROTO opcode argument
    assert round_trip(serializer, {"a": [1, 2, (3, "x")]}) == {"a": [1, 2, (3, "x")]}


def test_large_bytearray_round_trips() -> None:
    payload = bytearray(b"\xab" * 1_000_000)
    loaded = round_trip(PickleSerializer(), {"blob": payload})
    assert loaded == {"blob": payload}
    assert type(loaded["blob"]) is bytearray


def test_large_bytearray_is_pickled_in_band() -> None:
    """Documented limit: pickle copies a bytearray into its stream; only PickleBuffer objects go out of band."""
    payload = bytearray(b"\xab" * 1_000_000)
    buffers, _ = PickleSerializer().serialize({"blob": payload})
    assert len(buffers) == 1 and len(buffers[0]) > 1_000_000


def test_pickle_buffer_goes_out_of_band_uncopied() -> None:
    payload = bytearray(b"\xcd" * 100_000)
    buffers, _ = PickleSerializer().serialize(pickle.PickleBuffer(payload))
    assert len(buffers) == 2
    assert len(buffers[0]) < 100
    assert isinstance(buffers[1], memoryview)
    assert buffers[1].obj is payload  # a view of the object, not a copy
    loaded = round_trip(PickleSerializer(), pickle.PickleBuffer(payload))
    assert bytes(loaded) == bytes(payload)


def test_numpy_array_goes_out_of_band_and_round_trips() -> None:
    array = np.arange(250_000, dtype=np.float64).reshape(500, 500)
    buffers, _ = PickleSerializer().serialize(array)
    assert len(buffers) == 2
    assert len(buffers[0]) < 1000
    assert memoryview(buffers[1]).nbytes == array.nbytes
    loaded = round_trip(PickleSerializer(), array)
    assert isinstance(loaded, np.ndarray)
    assert loaded.dtype == np.float64
    assert loaded.shape == (500, 500)
    assert np.array_equal(loaded, array)


def test_several_arrays_keep_their_order() -> None:
    first, second = np.zeros(1000, dtype=np.int32), np.ones(500, dtype=np.int16)
    buffers, _ = PickleSerializer().serialize([first, second])
    assert [memoryview(b).nbytes for b in buffers[1:]] == [4000, 1000]
    loaded = round_trip(PickleSerializer(), [first, second])
    assert np.array_equal(loaded[0], first) and loaded[0].dtype == np.int32
    assert np.array_equal(loaded[1], second) and loaded[1].dtype == np.int16


def test_numpy_array_from_writable_buffers_is_writable() -> None:
    loaded = round_trip(PickleSerializer(), np.arange(1000), writable=True)
    assert loaded.flags.writeable is True
    loaded[0] = 42
    assert loaded[0] == 42


def test_numpy_array_from_read_only_buffers_is_read_only() -> None:
    loaded = round_trip(PickleSerializer(), np.arange(1000), writable=False)
    assert loaded.flags.writeable is False
    assert np.array_equal(loaded, np.arange(1000))


def test_non_contiguous_array_is_copied_in_band_and_round_trips() -> None:
    base = np.arange(100_000, dtype=np.int64)
    strided = base[::2]
    assert not strided.flags.c_contiguous
    buffers, _ = PickleSerializer().serialize(strided)
    assert len(buffers) == 1  # no contiguous buffer to hand out: pickle copies it
    loaded = round_trip(PickleSerializer(), strided)
    assert np.array_equal(loaded, strided)
    assert loaded.shape == (50_000,)


def test_fortran_ordered_array_round_trips() -> None:
    array = np.asfortranarray(np.arange(600, dtype=np.float32).reshape(20, 30))
    loaded = round_trip(PickleSerializer(), array)
    assert np.array_equal(loaded, array)
    assert loaded.flags.f_contiguous


def test_small_bytes_stay_in_band() -> None:
    buffers, _ = PickleSerializer().serialize(b"x" * 100_000)
    assert len(buffers) == 1  # bytes are not PickleBuffers: no out-of-band buffer
    assert round_trip(PickleSerializer(), b"x" * 100_000) == b"x" * 100_000


def test_unpicklable_object_raises() -> None:
    with pytest.raises(TypeError, match="lock"):
        PickleSerializer().serialize({"lock": threading.Lock()})


def test_local_class_cannot_be_pickled() -> None:
    class Local:
        pass

    with pytest.raises((AttributeError, pickle.PicklingError)):
        PickleSerializer().serialize(Local())
