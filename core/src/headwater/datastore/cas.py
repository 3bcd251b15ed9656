"""The content-addressed store: immutable blobs keyed by the BLAKE3 hash of their content.

A blob holds one or more buffers (pickle protocol 5 puts large arrays and bytes out of band, and they are
stored without being copied into one string). The key hashes the buffer lengths and the raw bytes, so the
same content always has the same key whatever the compression; an existing key is never written again,
which deduplicates across tasks, runs and retries. Blobs are compressed (zstd) only when a sample shows
it saves at least half the bytes. Every load re-hashes what it read: a blob changed on disk raises
``CorruptBlobError`` and is never returned as data.

Saving a key that is already stored checks the stored blob cheaply first (``looks_whole``) and replaces
it when it is damaged, so running a step again repairs a blob that a crash or a full disk cut short.

Layout of a stored blob: ``b"HWB1"``, codec byte, buffer count (u32), then per buffer its raw and stored
length (u64 each), then the stored buffers one after the other.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any, NamedTuple

import blake3

from headwater.datastore.storage import StorageBackend
from headwater.exceptions import BlobNotFound, CorruptBlobError

MAGIC = b"HWB1"
CODEC_NONE, CODEC_ZSTD = 0, 1
_HEAD = struct.Struct("<4sBI")
_SIZES = struct.Struct("<QQ")

#: Blobs smaller than this are never compressed: the saving cannot pay for the work.
MIN_COMPRESS_SIZE = 4096
#: Compress when a sample shrinks to this fraction of its size or less.
COMPRESS_RATIO = 0.5
_SAMPLE = 128 * 1024
#: On re-save, a raw buffer up to this size is compared with the stored bytes in full; larger ones in
#: stripes (the first, the last and some in between), which catches a cut-short or zero-filled write.
FULL_COMPARE_AT_MOST = 1024 * 1024
_STRIPE = 64 * 1024
_STRIPES = 16
#: Hex digits in a key (BLAKE3's default 32-byte digest).
KEY_LENGTH = 64
_HEX = frozenset("0123456789abcdef")


def is_key(key: object) -> bool:
    """Whether ``key`` has the shape of a blob key (64 lowercase hex digits), so it is safe in a path."""
    return isinstance(key, str) and len(key) == KEY_LENGTH and all(c in _HEX for c in key)


class BlobRef(NamedTuple):
    """A stored blob: its key and the total raw size of its buffers."""

    key: str
    size: int


def _views(buffers: Sequence[Any]) -> list[memoryview]:
    return [memoryview(b).cast("B") if not isinstance(b, memoryview) or b.format != "B" else b for b in buffers]


#: Hash large blobs on every core. The scheduling process turns this off: BLAKE3's threads live in a
#: global pool that a forked child inherits without its threads, and a child hashing there would hang.
hash_threads = True


def blob_key(buffers: Sequence[Any]) -> str:
    """The key of a blob made of ``buffers`` (hashing uses every core for large inputs)."""
    views = _views(buffers)
    hasher = blake3.blake3(max_threads=blake3.blake3.AUTO if hash_threads else 1)
    hasher.update(struct.pack(f"<I{len(views)}Q", len(views), *(v.nbytes for v in views)))
    for view in views:
        hasher.update(view)
    return hasher.hexdigest()


def _zstd() -> Any:
    import zstandard  # imported on first use: most runs never compress

    return zstandard


def _worth_compressing(views: list[memoryview]) -> bool:
    total = sum(v.nbytes for v in views)
    if total < MIN_COMPRESS_SIZE:
        return False
    largest = max(views, key=lambda v: v.nbytes)
    middle = largest.nbytes // 2
    sample = bytes(largest[: _SAMPLE // 2]) + bytes(largest[middle : middle + _SAMPLE // 2])
    compressed = _zstd().ZstdCompressor(level=1).compress(sample)
    return len(compressed) <= COMPRESS_RATIO * len(sample)


class ContentAddressedStore:
    """Blobs of one flow under ``<prefix>/<key[:2]>/<key>`` in a storage backend."""

    def __init__(self, storage: StorageBackend, prefix: str) -> None:
        self.storage = storage
        self.prefix = prefix

    def path(self, key: str) -> str:
        # A key comes from a record that may be damaged: only a real key's shape may become a path.
        if not is_key(key):
            raise CorruptBlobError(
                f"{str(key)[:80]!r} in {self.storage.uri(self.prefix)} is not a blob key (64 hex digits).",
                "The record that names it is damaged; re-run the step that wrote it.",
            )
        return f"{self.prefix}/{key[:2]}/{key}"

    def exists(self, key: str) -> bool:
        return self.storage.exists(self.path(key))

    def save(self, buffers: Sequence[Any], key: str | None = None) -> BlobRef:
        """Store ``buffers`` as one blob (unless its key is already stored) and return its reference."""
        views = _views(buffers)
        key = key or blob_key(views)
        size = sum(v.nbytes for v in views)
        path = self.path(key)
        replace = False
        if self.storage.exists(path):
            if self._looks_whole(path, key, views):
                return BlobRef(key, size)
            replace = True  # damaged (a killed writer, a full disk): this save repairs it
        codec = CODEC_ZSTD if _worth_compressing(views) else CODEC_NONE
        if codec == CODEC_ZSTD:
            zstandard = _zstd()
            stored: list[Any] = []
            for view in views:
                threads = -1 if view.nbytes > 8 * 1024 * 1024 else 0
                stored.append(zstandard.ZstdCompressor(level=1, threads=threads).compress(view))
        else:
            stored = list(views)
        header = bytearray(_HEAD.pack(MAGIC, codec, len(views)))
        for view, chunk in zip(views, stored, strict=True):
            header += _SIZES.pack(view.nbytes, memoryview(chunk).nbytes)
        self.storage.put(path, [header, *stored], overwrite=replace)
        return BlobRef(key, size)

    def looks_whole(self, key: str) -> bool:
        """Whether blob ``key`` is stored and its header and size agree (cheap: no hashing, one small read)."""
        try:
            return self._looks_whole(self.path(key), key, None)
        except FileNotFoundError:
            return False

    def _looks_whole(self, path: str, key: str, views: list[memoryview] | None) -> bool:
        """Whether the stored blob is whole, checked without hashing it.

        A full re-hash is never needed here: the key fixes the buffer count and every raw size, and the
        header records the stored sizes, so a blob cut short, padded, or with a damaged header fails the
        size checks; an uncompressed payload is also compared with ``views`` (whole when small, in stripes
        when large), which catches a tail that was never written. A byte flipped inside a compressed
        payload is left to ``load``, which re-hashes everything it reads.
        """
        try:
            with self.storage.open(path) as stream:
                codec, sizes = self._header(stream.read, key, path)
                if views is not None and [raw for raw, _ in sizes] != [v.nbytes for v in views]:
                    return False
                if not stream.seekable():  # a backend that streams: the header is all we check cheaply
                    return True
                start = stream.tell()
                if stream.seek(0, 2) - start != sum(stored for _, stored in sizes):
                    return False
                if codec != CODEC_NONE or views is None:
                    return True
                offset = start
                for view in views:
                    if not _same_bytes(stream, offset, view):
                        return False
                    offset += view.nbytes
                return True
        except CorruptBlobError:
            return False

    def load(self, key: str, writable: bool = True) -> list[Any]:
        """The buffers of blob ``key``, verified against the key.

        With ``writable=True`` the buffers can be written (numpy arrays unpickled on them stay writable):
        private memory mappings of the file where the backend can map (nothing is copied), otherwise
        ``bytearray``. With ``writable=False``: read-only mappings or ``bytes``.
        """
        path = self.path(key)
        try:
            # A mapping pays when the buffers can stay in it (pickle, numpy). A bytes value must be copied
            # anyway, and one read() copies faster than faulting in a mapping and copying from it.
            mapped = self.storage.map(path, writable) if writable else None
            buffers = self._from_mapping(mapped, key, path) if mapped is not None else None
            if buffers is None:
                with self.storage.open(path) as stream:
                    buffers = self._read(stream, key, path, writable)
        except FileNotFoundError:
            raise BlobNotFound(
                f"Blob {key} is missing from {self.storage.uri(path)}.",
                "The datastore was cleaned or moved; re-run the step that produced it.",
            ) from None
        if blob_key(buffers) != key:
            raise self._corrupt(key, path, "its content does not match its key")
        return buffers

    def _header(self, read: Any, key: str, path: str) -> tuple[int, list[tuple[int, int]]]:
        """Codec and ``(raw, stored)`` sizes of each buffer, read with ``read(n)``; checked for sanity."""
        head = read(_HEAD.size)
        if len(head) != _HEAD.size:
            raise self._corrupt(key, path, "it is truncated")
        magic, codec, count = _HEAD.unpack(head)
        if magic != MAGIC or codec not in (CODEC_NONE, CODEC_ZSTD) or count > 1 << 20:
            raise self._corrupt(key, path, "its header is not a Headwater blob header")
        sizes_raw = read(_SIZES.size * count)
        if len(sizes_raw) != _SIZES.size * count:
            raise self._corrupt(key, path, "it is truncated")
        sizes = [_SIZES.unpack_from(sizes_raw, i * _SIZES.size) for i in range(count)]
        if any(raw > 1 << 44 or (codec == CODEC_NONE and raw != stored) for raw, stored in sizes):
            raise self._corrupt(key, path, "its header holds impossible sizes")
        return codec, sizes

    def _from_mapping(self, mapped: Any, key: str, path: str) -> list[Any] | None:
        """Buffers as views of a memory mapping (no copy); None when the blob is compressed."""
        view = memoryview(mapped)
        offset = 0

        def read(n: int) -> Any:
            nonlocal offset
            chunk = view[offset : offset + n]
            offset += len(chunk)
            return chunk

        codec, sizes = self._header(read, key, path)
        if codec != CODEC_NONE:
            return None
        if offset + sum(raw for raw, _ in sizes) > len(view):
            raise self._corrupt(key, path, "it is truncated (its header announces more bytes than it holds)")
        buffers = []
        for raw, _ in sizes:
            buffers.append(view[offset : offset + raw])
            offset += raw
        if offset != len(view):
            raise self._corrupt(key, path, "it has trailing bytes")
        return buffers

    def _read(self, stream: Any, key: str, path: str, writable: bool) -> list[Any]:
        codec, sizes = self._header(stream.read, key, path)
        if not _sizes_fit(stream, sum(stored for _, stored in sizes)):
            raise self._corrupt(key, path, "it is truncated (its header announces more bytes than it holds)")
        buffers: list[Any] = []
        for raw_size, stored_size in sizes:
            if codec == CODEC_NONE:
                chunk = _read_exact(stream, raw_size, writable)
                if chunk is None:
                    raise self._corrupt(key, path, "it is truncated")
                buffers.append(chunk)
                continue
            data = _read_exact(stream, stored_size, False)
            if data is None:
                raise self._corrupt(key, path, "it is truncated")
            try:
                raw = _zstd().ZstdDecompressor().decompress(data, max_output_size=raw_size)
            except Exception:
                raise self._corrupt(key, path, "it cannot be decompressed") from None
            if len(raw) != raw_size:
                raise self._corrupt(key, path, "it decompresses to the wrong size")
            buffers.append(bytearray(raw) if writable else raw)
        if stream.read(1):
            raise self._corrupt(key, path, "it has trailing bytes")
        return buffers

    def _corrupt(self, key: str, path: str, why: str) -> CorruptBlobError:
        return CorruptBlobError(
            f"Blob {key} at {self.storage.uri(path)} is corrupted: {why}.",
            "It was changed after it was written. Delete it and re-run the step that produced it.",
        )


def _same_bytes(stream: Any, offset: int, view: memoryview) -> bool:
    """Whether the stream holds ``view``'s bytes at ``offset`` (all of them, or stripes of a large view)."""
    size = view.nbytes
    if size <= FULL_COMPARE_AT_MOST:
        regions = [(0, size)]
    else:
        step = (size - _STRIPE) // (_STRIPES - 1)
        regions = [(i * step, _STRIPE) for i in range(_STRIPES - 1)] + [(size - _STRIPE, _STRIPE)]
    for start, length in regions:
        stream.seek(offset + start)
        if stream.read(length) != view[start : start + length]:
            return False
    return True


def _sizes_fit(stream: Any, announced: int) -> bool:
    """Whether the stream holds ``announced`` more bytes (checked before allocating buffers that large)."""
    if announced > 1 << 44:  # 16 TiB: no real blob, a damaged header
        return False
    try:
        if not stream.seekable():
            return True
        here = stream.tell()
        end = stream.seek(0, 2)
        stream.seek(here)
    except (AttributeError, OSError):
        return True
    return bool(end - here >= announced)


def _read_exact(stream: Any, size: int, writable: bool) -> Any:
    """Exactly ``size`` bytes from ``stream`` as bytearray (writable) or bytes; None when it ends early."""
    if not writable:
        data = stream.read(size)
        return data if len(data) == size else None
    buffer = bytearray(size)
    view = memoryview(buffer)
    filled = 0
    while filled < size:
        n = stream.readinto(view[filled:])
        if not n:
            return None
        filled += n
    return buffer
