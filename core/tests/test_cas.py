"""Tests of the content-addressed store: keys, round trips, deduplication, compression and corruption."""

from __future__ import annotations

import array
import os
import struct
from pathlib import Path

import blake3
import pytest

from headwater.datastore import cas as cas_module
from headwater.datastore.cas import (
    CODEC_NONE,
    CODEC_ZSTD,
    MAGIC,
    MIN_COMPRESS_SIZE,
    BlobRef,
    ContentAddressedStore,
    blob_key,
)
from headwater.datastore.local import LocalStorage
from headwater.exceptions import BlobNotFound, CorruptBlobError, DatastoreError

#: Bytes before the first stored buffer of a one-buffer blob: magic, codec, count, then raw and stored size.
ONE_BUFFER_HEADER = 4 + 1 + 4 + 16


@pytest.fixture
def cas(tmp_path: Path) -> ContentAddressedStore:
    return ContentAddressedStore(LocalStorage(str(tmp_path / "store")), "Flow/data")


def blob_file(cas: ContentAddressedStore, key: str) -> Path:
    return Path(cas.storage.uri(cas.path(key)))


def stored_files(cas: ContentAddressedStore) -> list[Path]:
    return sorted(p for p in Path(cas.storage.uri("Flow/data")).rglob("*") if p.is_file())


def codec_of(cas: ContentAddressedStore, key: str) -> int:
    return blob_file(cas, key).read_bytes()[4]


# -- keys ---------------------------------------------------------------------------------------------------


def test_key_is_blake3_of_lengths_and_bytes() -> None:
    expected = blake3.blake3(struct.pack("<IQQ", 2, 3, 2) + b"abcde").hexdigest()
    assert blob_key([b"abc", b"de"]) == expected
    assert len(expected) == 64


def test_same_content_gives_the_same_key_whatever_the_buffer_type() -> None:
    key = blob_key([b"hello", b"world"])
    assert blob_key([bytearray(b"hello"), memoryview(b"world")]) == key
    assert blob_key([b"hello", b"world"]) == key


def test_key_depends_on_buffer_boundaries_and_content() -> None:
    assert blob_key([b"ab", b"c"]) != blob_key([b"a", b"bc"])
    assert blob_key([b"abc"]) != blob_key([b"abc", b""])
    assert blob_key([b"abc"]) != blob_key([b"abd"])
    assert blob_key([]) != blob_key([b""])


def test_key_of_a_typed_memoryview_hashes_its_raw_bytes() -> None:
    values = array.array("d", [1.5, -2.25, 3.0])
    assert blob_key([memoryview(values)]) == blob_key([values.tobytes()])


def test_save_returns_key_and_raw_size_and_uses_the_layout(cas: ContentAddressedStore) -> None:
    ref = cas.save([b"abc", b"defg"])
    assert ref == BlobRef(blob_key([b"abc", b"defg"]), 7)
    assert cas.path(ref.key) == f"Flow/data/{ref.key[:2]}/{ref.key}"
    assert blob_file(cas, ref.key).is_file()
    assert cas.exists(ref.key) is True
    assert cas.exists("0" * 64) is False


def test_key_does_not_depend_on_compression(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data = b"a" * 10**6
    compressed = ContentAddressedStore(LocalStorage(str(tmp_path / "one")), "Flow/data")
    key_compressed = compressed.save([data]).key
    monkeypatch.setattr(cas_module, "COMPRESS_RATIO", 0.0)  # nothing pays: store raw
    raw = ContentAddressedStore(LocalStorage(str(tmp_path / "two")), "Flow/data")
    key_raw = raw.save([data]).key
    assert codec_of(compressed, key_compressed) == CODEC_ZSTD
    assert codec_of(raw, key_raw) == CODEC_NONE
    assert key_compressed == key_raw == blob_key([data])
    assert compressed.load(key_compressed) == raw.load(key_raw) == [bytearray(data)]


# -- round trips --------------------------------------------------------------------------------------------


def test_multi_buffer_round_trip_keeps_exact_boundaries(cas: ContentAddressedStore) -> None:
    buffers = [b"abc", b"", bytearray(b"defgh"), memoryview(b"z"), os.urandom(5000)]
    key = cas.save(buffers).key
    loaded = cas.load(key)
    assert [len(b) for b in loaded] == [3, 0, 5, 1, 5000]
    assert [bytes(b) for b in loaded] == [bytes(b) for b in buffers]


def test_compressed_multi_buffer_round_trip(cas: ContentAddressedStore) -> None:
    buffers = [b"x" * 200_000, os.urandom(1000), b"", b"yz" * 10]
    key = cas.save(buffers).key
    assert codec_of(cas, key) == CODEC_ZSTD
    assert [bytes(b) for b in cas.load(key)] == [bytes(b) for b in buffers]
    assert [bytes(b) for b in cas.load(key, writable=False)] == [bytes(b) for b in buffers]


def test_large_compressible_buffer_round_trip(cas: ContentAddressedStore) -> None:
    data = b"0123456789abcdef" * (9 * 1024 * 1024 // 16)  # above the threshold for threaded compression
    key = cas.save([data]).key
    assert codec_of(cas, key) == CODEC_ZSTD
    assert blob_file(cas, key).stat().st_size < len(data) // 50
    assert cas.load(key, writable=False) == [data]


@pytest.mark.parametrize("data", [b"tiny", os.urandom(10_000), b"a" * 10_000], ids=["tiny", "random", "compressible"])
def test_writable_buffers_can_be_written_without_changing_the_blob(cas: ContentAddressedStore, data: bytes) -> None:
    """Writable loads are private (mapped copy-on-write, or copied): writing never touches the stored blob."""
    key = cas.save([data, b"second"]).key
    writable = cas.load(key, writable=True)
    assert [memoryview(b).readonly for b in writable] == [False, False]
    memoryview(writable[0])[0] ^= 0xFF
    assert bytes(writable[0]) != data
    assert [bytes(b) for b in cas.load(key, writable=False)] == [data, b"second"]
    read_only = cas.load(key, writable=False)
    assert all(isinstance(b, bytes) or memoryview(b).readonly for b in read_only)


def test_empty_buffer_list(cas: ContentAddressedStore) -> None:
    ref = cas.save([])
    assert ref.size == 0
    assert cas.load(ref.key) == []
    assert blob_file(cas, ref.key).read_bytes() == MAGIC + bytes([CODEC_NONE]) + struct.pack("<I", 0)


def test_zero_length_buffers(cas: ContentAddressedStore) -> None:
    ref = cas.save([b"", b""])
    assert ref.size == 0
    assert cas.load(ref.key) == [bytearray(), bytearray()]
    assert cas.load(ref.key, writable=False) == [b"", b""]
    assert ref.key != cas.save([b""]).key


# -- deduplication ------------------------------------------------------------------------------------------


def test_saving_twice_writes_one_file_and_never_rewrites_it(cas: ContentAddressedStore) -> None:
    data = os.urandom(20_000)
    first = cas.save([data])
    path = blob_file(cas, first.key)
    before = path.stat()
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns - 10**9))  # so a rewrite would show
    marked = path.stat()
    second = cas.save([bytearray(data)])
    after = path.stat()
    assert second == first
    assert stored_files(cas) == [path]
    assert (after.st_ino, after.st_mtime_ns) == (marked.st_ino, marked.st_mtime_ns)


def test_different_content_gives_different_files(cas: ContentAddressedStore) -> None:
    keys = {cas.save([bytes([i]) * 10]).key for i in range(5)}
    assert len(keys) == 5
    assert len(stored_files(cas)) == 5


# -- compression --------------------------------------------------------------------------------------------


def test_compressible_data_is_stored_compressed(cas: ContentAddressedStore) -> None:
    data = b"a" * 10**6
    key = cas.save([data]).key
    assert codec_of(cas, key) == CODEC_ZSTD
    assert blob_file(cas, key).stat().st_size < len(data) // 100
    assert cas.load(key) == [bytearray(data)]


def test_incompressible_data_is_stored_raw(cas: ContentAddressedStore) -> None:
    data = os.urandom(10**6)
    key = cas.save([data]).key
    assert codec_of(cas, key) == CODEC_NONE
    assert blob_file(cas, key).stat().st_size == ONE_BUFFER_HEADER + len(data)
    assert blob_file(cas, key).read_bytes()[ONE_BUFFER_HEADER:] == data


def test_tiny_blobs_are_never_compressed(cas: ContentAddressedStore) -> None:
    small = cas.save([b"a" * (MIN_COMPRESS_SIZE - 1)]).key
    split = cas.save([b"b" * (MIN_COMPRESS_SIZE // 2), b"b" * (MIN_COMPRESS_SIZE // 2 - 1)]).key
    at_threshold = cas.save([b"a" * MIN_COMPRESS_SIZE]).key
    assert codec_of(cas, small) == CODEC_NONE
    assert codec_of(cas, split) == CODEC_NONE
    assert blob_file(cas, small).stat().st_size == ONE_BUFFER_HEADER + MIN_COMPRESS_SIZE - 1
    assert codec_of(cas, at_threshold) == CODEC_ZSTD


# -- corruption and missing blobs ---------------------------------------------------------------------------


def assert_corrupt(cas: ContentAddressedStore, key: str, why: str) -> None:
    for writable in (True, False):
        with pytest.raises(CorruptBlobError) as info:
            cas.load(key, writable=writable)
        error = info.value
        assert isinstance(error, DatastoreError)
        assert key in error.message
        assert str(blob_file(cas, key)) in error.message
        assert why in error.message
        assert error.hint is not None and "Delete it and re-run the step" in error.hint
        assert "Delete it and re-run" in str(error)


def rewrite(path: Path, change) -> None:
    data = bytearray(path.read_bytes())
    path.write_bytes(bytes(change(data)))


def flip(offset: int):
    def change(data: bytearray) -> bytearray:
        data[offset] ^= 0x01
        return data

    return change


def test_flipped_byte_in_a_raw_payload(cas: ContentAddressedStore) -> None:
    key = cas.save([os.urandom(10_000)]).key
    assert codec_of(cas, key) == CODEC_NONE
    rewrite(blob_file(cas, key), flip(ONE_BUFFER_HEADER + 5000))
    assert_corrupt(cas, key, "its content does not match its key")


def test_flipped_byte_in_a_compressed_payload(cas: ContentAddressedStore) -> None:
    key = cas.save([b"abcdefgh" * 20_000]).key
    path = blob_file(cas, key)
    assert codec_of(cas, key) == CODEC_ZSTD
    size = path.stat().st_size
    rewrite(path, flip(ONE_BUFFER_HEADER + (size - ONE_BUFFER_HEADER) // 2))
    for writable in (True, False):
        with pytest.raises(CorruptBlobError, match=key):
            cas.load(key, writable=writable)


def test_truncated_blob(cas: ContentAddressedStore) -> None:
    key = cas.save([os.urandom(10_000)]).key
    rewrite(blob_file(cas, key), lambda data: data[:-1])
    assert_corrupt(cas, key, "it is truncated")


def test_truncated_compressed_blob(cas: ContentAddressedStore) -> None:
    key = cas.save([b"a" * 100_000]).key
    rewrite(blob_file(cas, key), lambda data: data[:-3])
    assert_corrupt(cas, key, "it is truncated")


@pytest.mark.parametrize("keep", [0, 3, 8, ONE_BUFFER_HEADER - 1], ids=["empty", "in-magic", "in-head", "in-sizes"])
def test_blob_truncated_inside_its_header(cas: ContentAddressedStore, keep: int) -> None:
    key = cas.save([os.urandom(100)]).key
    rewrite(blob_file(cas, key), lambda data: data[:keep])
    assert_corrupt(cas, key, "it is truncated")


def test_trailing_bytes(cas: ContentAddressedStore) -> None:
    key = cas.save([os.urandom(100)]).key
    rewrite(blob_file(cas, key), lambda data: data + b"\0")
    assert_corrupt(cas, key, "it has trailing bytes")


def test_broken_magic(cas: ContentAddressedStore) -> None:
    key = cas.save([os.urandom(100)]).key
    rewrite(blob_file(cas, key), flip(0))
    assert_corrupt(cas, key, "its header is not a Headwater blob header")


def test_unknown_codec(cas: ContentAddressedStore) -> None:
    key = cas.save([os.urandom(100)]).key

    def codec_7(data: bytearray) -> bytearray:
        data[4] = 7
        return data

    rewrite(blob_file(cas, key), codec_7)
    assert_corrupt(cas, key, "its header is not a Headwater blob header")


def test_absurd_buffer_count(cas: ContentAddressedStore) -> None:
    key = cas.save([os.urandom(100)]).key

    def many(data: bytearray) -> bytearray:
        data[5:9] = struct.pack("<I", 0xFFFFFFFF)
        return data

    rewrite(blob_file(cas, key), many)
    assert_corrupt(cas, key, "its header is not a Headwater blob header")


def test_blob_replaced_by_another_valid_blob(cas: ContentAddressedStore) -> None:
    key = cas.save([b"one"]).key
    other = cas.save([b"two"]).key
    blob_file(cas, key).write_bytes(blob_file(cas, other).read_bytes())
    assert_corrupt(cas, key, "its content does not match its key")


@pytest.mark.parametrize("writable", [True, False])
def test_corrupted_size_field(cas: ContentAddressedStore, writable: bool) -> None:
    key = cas.save([os.urandom(100)]).key

    def huge(data: bytearray) -> bytearray:
        data[9 + 7] = 0x7F  # top byte of the raw size of buffer 0
        return data

    rewrite(blob_file(cas, key), huge)
    with pytest.raises(CorruptBlobError, match=key):
        cas.load(key, writable=writable)


def test_missing_blob(cas: ContentAddressedStore) -> None:
    key = "ab" + "0" * 62
    with pytest.raises(BlobNotFound) as info:
        cas.load(key)
    assert key in info.value.message
    assert cas.storage.uri(cas.path(key)) in info.value.message
    assert "re-run the step" in (info.value.hint or "")


@pytest.mark.parametrize("key", ["../../../etc/passwd", "ab", "A" * 64, "0" * 63 + "/", None], ids=repr)
def test_a_key_of_the_wrong_shape_never_becomes_a_path(cas: ContentAddressedStore, key: object) -> None:
    with pytest.raises(CorruptBlobError, match="is not a blob key"):
        cas.load(key)  # type: ignore[arg-type]
    with pytest.raises(CorruptBlobError, match="is not a blob key"):
        cas.exists(key)  # type: ignore[arg-type]


# -- repair on save -----------------------------------------------------------------------------------------


def zero_tail(n: int):
    def change(data: bytearray) -> bytearray:
        data[-n:] = bytes(n)
        return data

    return change


@pytest.mark.parametrize(
    ("data", "damage"),
    [
        (os.urandom(10_000), lambda data: data[:-1]),  # cut short
        (os.urandom(10_000), lambda data: data[: ONE_BUFFER_HEADER - 3]),  # cut inside its header
        (os.urandom(10_000), lambda data: b""),  # left empty by a power loss
        (os.urandom(10_000), flip(ONE_BUFFER_HEADER + 5000)),  # a flipped byte in a small raw payload
        (os.urandom(10_000), lambda data: data + b"x"),  # trailing bytes
        (os.urandom(3 * 1024 * 1024), zero_tail(4096)),  # a large raw blob whose tail was never written
        (os.urandom(3 * 1024 * 1024), flip(ONE_BUFFER_HEADER + 5)),  # a large one damaged at its start
        (b"abcdefgh" * 20_000, lambda data: data[:-3]),  # a compressed blob cut short
        (b"abcdefgh" * 20_000, flip(4)),  # a compressed blob with a damaged codec byte
    ],
    ids=["short", "short-header", "empty", "flip", "trailing", "zero-tail", "large-flip", "zstd-short", "zstd-hdr"],
)
def test_saving_again_replaces_a_damaged_blob(cas: ContentAddressedStore, data: bytes, damage) -> None:
    key = cas.save([data]).key
    rewrite(blob_file(cas, key), damage)
    with pytest.raises(CorruptBlobError):
        cas.load(key)
    assert cas.save([data]) == BlobRef(key, len(data))
    assert bytes(cas.load(key)[0]) == data
    assert stored_files(cas) == [blob_file(cas, key)]


def test_an_intact_large_blob_is_not_rewritten(cas: ContentAddressedStore) -> None:
    data = os.urandom(3 * 1024 * 1024)
    path = blob_file(cas, cas.save([data]).key)
    inode = path.stat().st_ino
    cas.save([data])
    assert path.stat().st_ino == inode


def test_looks_whole(cas: ContentAddressedStore) -> None:
    key = cas.save([os.urandom(10_000)]).key
    assert cas.looks_whole(key) is True
    assert cas.looks_whole("0" * 64) is False
    rewrite(blob_file(cas, key), lambda data: data[:-1])
    assert cas.looks_whole(key) is False
