"""``S3``: reading and writing S3 objects from a step or a notebook, with Metaflow's surface.

``S3(run=self)`` keeps keys under the run (``<HEADWATER_DATATOOLS_S3ROOT>/<Flow>/<run id>``, the root being
``<datastore root>/data`` by default), ``S3(s3root="s3://bucket/prefix")`` under a prefix, and ``S3()``
takes full ``s3://`` URLs. Downloads land in a temporary directory that is removed when the ``with``
block ends; ``get_many``/``put_many`` transfer in parallel on a pool of threads (in the task's process,
never in the runtime's, which forks). boto3 comes with ``headwater[s3]`` and is imported on first use.
A missing key, bucket or credentials, or access denied, raises an ``S3Error`` naming the URL.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from headwater.exceptions import HeadwaterError

#: Parallel transfers of ``*_many`` calls.
WORKERS = 16


class S3Error(HeadwaterError):
    """An S3 request failed: the message names the URL and what to check."""

    headline = "S3 error"


@dataclass(frozen=True)
class S3GetObject:
    """A ranged get: ``S3GetObject(key, offset, length)`` reads ``length`` bytes from ``offset``."""

    key: str
    offset: int = 0
    length: int | None = None


class S3Object:
    """An object got, put or looked up: ``url``, ``key``, ``exists``, and once downloaded ``path``,
    ``blob``, ``text``, ``size``."""

    def __init__(
        self, url: str, key: str, path: str | None = None, size: int | None = None, info: dict[str, Any] | None = None
    ) -> None:
        self.url = url
        self.key = key
        self.path = path
        self._size = size
        self._info = info or {}

    @property
    def exists(self) -> bool:
        return self._size is not None

    @property
    def downloaded(self) -> bool:
        return self.path is not None

    @property
    def size(self) -> int | None:
        return self._size

    @property
    def blob(self) -> bytes:
        if self.path is None:
            raise S3Error(f"{self.url} was not downloaded.", "Use get() to download it (info() only looks it up).")
        with open(self.path, "rb") as f:
            return f.read()

    @property
    def text(self) -> str:
        return self.blob.decode("utf-8")

    @property
    def content_type(self) -> str | None:
        return self._info.get("ContentType")

    @property
    def metadata(self) -> dict[str, str]:
        return dict(self._info.get("Metadata") or {})

    @property
    def last_modified(self) -> Any:
        return self._info.get("LastModified")

    def __repr__(self) -> str:
        return f"<S3Object {self.url} ({'missing' if not self.exists else f'{self.size} bytes'})>"


class S3:
    """See the module docstring. Use it as a context manager so downloads are removed afterwards."""

    def __init__(
        self,
        tmproot: str = ".",
        bucket: str | None = None,
        prefix: str | None = None,
        run: Any = None,
        s3root: str | None = None,
    ) -> None:
        if run is not None:
            s3root = _run_root(run)
        elif bucket is not None:
            s3root = f"s3://{bucket}/{(prefix or '').strip('/')}".rstrip("/")
        self.root = s3root.rstrip("/") if s3root else None
        if self.root is not None and not self.root.startswith("s3://"):
            raise S3Error(f"{self.root!r} is not an S3 address.", "Write it as s3://bucket/prefix.")
        self._tmpdir = tempfile.mkdtemp(dir=tmproot if os.path.isdir(tmproot) else None, prefix="headwater-s3-")

    def __enter__(self) -> S3:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Remove every downloaded file."""
        shutil.rmtree(self._tmpdir, ignore_errors=True)

    # -- addresses -----------------------------------------------------------------------------------------

    def _url(self, key: str) -> str:
        if key.startswith("s3://"):
            return key
        if self.root is None:
            raise S3Error(f"{key!r} is not a full s3:// URL, and this S3 has no root.", "Pass s3root=, run= or a URL.")
        return f"{self.root}/{key.lstrip('/')}" if key else self.root

    def _key_of(self, url: str) -> str:
        if self.root is not None and url.startswith(self.root + "/"):
            return url[len(self.root) + 1 :]
        return url

    # -- reading -------------------------------------------------------------------------------------------

    def info(self, key: str, return_missing: bool = False) -> S3Object:
        """Look an object up without downloading it."""
        url = self._url(key)
        bucket, name = _split(url)
        try:
            head = _client().head_object(Bucket=bucket, Key=name)
        except Exception as e:
            if return_missing and _missing(e):
                return S3Object(url, self._key_of(url))
            raise _error(e, url, "look up") from None
        return S3Object(url, self._key_of(url), size=int(head["ContentLength"]), info=head)

    def info_many(self, keys: Iterable[str], return_missing: bool = False) -> list[S3Object]:
        return self._parallel(lambda k: self.info(k, return_missing), keys)

    def get(self, key: str | S3GetObject | None = None, return_missing: bool = False) -> S3Object:
        """Download one object (``S3GetObject`` for a byte range) into the temporary directory."""
        ranged = key if isinstance(key, S3GetObject) else None
        url = self._url(ranged.key if ranged is not None else (key if isinstance(key, str) else ""))
        bucket, name = _split(url)
        extra: dict[str, Any] = {}
        if ranged is not None:
            end = "" if ranged.length is None else str(ranged.offset + ranged.length - 1)
            extra["Range"] = f"bytes={ranged.offset}-{end}"
        try:
            response = _client().get_object(Bucket=bucket, Key=name, **extra)
        except Exception as e:
            if return_missing and _missing(e):
                return S3Object(url, self._key_of(url))
            raise _error(e, url, "download") from None
        fd, path = tempfile.mkstemp(dir=self._tmpdir)
        size = 0
        with os.fdopen(fd, "wb") as f:
            for chunk in response["Body"].iter_chunks(1 << 20):
                f.write(chunk)
                size += len(chunk)
        return S3Object(url, self._key_of(url), path, size, response)

    def get_many(self, keys: Iterable[str | S3GetObject], return_missing: bool = False) -> list[S3Object]:
        """Download several objects in parallel, in the order given."""
        return self._parallel(lambda k: self.get(k, return_missing), keys)

    def list_paths(self, keys: Iterable[str] | None = None) -> list[S3Object]:
        """What is directly under each prefix (objects, and sub-prefixes as objects that do not exist)."""
        return [obj for key in (keys or [""]) for obj in self._list(key, recursive=False)]

    def list_recursive(self, keys: Iterable[str] | None = None) -> list[S3Object]:
        """Every object under each prefix."""
        return [obj for key in (keys or [""]) for obj in self._list(key, recursive=True)]

    def get_recursive(self, keys: Iterable[str]) -> list[S3Object]:
        """Download every object under each prefix."""
        return self.get_many([obj.url for obj in self.list_recursive(keys)])

    def get_all(self) -> list[S3Object]:
        """Download every object under this S3's root."""
        return self.get_recursive([""])

    def _list(self, key: str, recursive: bool) -> list[S3Object]:
        url = self._url(key)
        bucket, prefix = _split(url)
        prefix = prefix + "/" if prefix and not prefix.endswith("/") else prefix
        options: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
        if not recursive:
            options["Delimiter"] = "/"
        found: list[S3Object] = []
        try:
            for page in _client().get_paginator("list_objects_v2").paginate(**options):
                for entry in page.get("Contents", []):
                    object_url = f"s3://{bucket}/{entry['Key']}"
                    found.append(S3Object(object_url, self._key_of(object_url), size=int(entry["Size"])))
                for common in page.get("CommonPrefixes", []):
                    prefix_url = f"s3://{bucket}/{common['Prefix'].rstrip('/')}"
                    found.append(S3Object(prefix_url, self._key_of(prefix_url)))
        except Exception as e:
            raise _error(e, url, "list") from None
        return found

    # -- writing -------------------------------------------------------------------------------------------

    def put(self, key: str, obj: str | bytes, overwrite: bool = True) -> str:
        """Store ``obj`` (text is written as UTF-8) at ``key``; returns its URL."""
        data = obj.encode("utf-8") if isinstance(obj, str) else bytes(obj)
        return self._put(key, data, overwrite)

    def put_many(self, key_objs: Iterable[tuple[str, str | bytes]], overwrite: bool = True) -> list[tuple[str, str]]:
        """Store several objects in parallel; returns ``(key, url)`` pairs."""
        pairs = list(key_objs)
        urls = self._parallel(lambda pair: self.put(pair[0], pair[1], overwrite), pairs)
        return [(key, url) for (key, _), url in zip(pairs, urls, strict=True)]

    def put_files(self, key_paths: Iterable[tuple[str, str]], overwrite: bool = True) -> list[tuple[str, str]]:
        """Upload local files in parallel (boto3's managed transfer: multipart for large ones)."""
        pairs = list(key_paths)
        urls = self._parallel(lambda pair: self._upload(pair[0], pair[1], overwrite), pairs)
        return [(key, url) for (key, _), url in zip(pairs, urls, strict=True)]

    def _put(self, key: str, data: bytes, overwrite: bool) -> str:
        url = self._url(key)
        bucket, name = _split(url)
        extra = {} if overwrite else {"IfNoneMatch": "*"}
        try:
            _client().put_object(Bucket=bucket, Key=name, Body=data, **extra)
        except Exception as e:
            if not overwrite and _code(e) in ("PreconditionFailed", "412"):
                return url
            raise _error(e, url, "upload") from None
        return url

    def _upload(self, key: str, path: str, overwrite: bool) -> str:
        url = self._url(key)
        if not overwrite and self.info(key, return_missing=True).exists:
            return url
        bucket, name = _split(url)
        try:
            _client().upload_file(path, bucket, name)
        except FileNotFoundError:
            raise S3Error(f"Cannot upload {path} to {url}: the file does not exist.") from None
        except Exception as e:
            raise _error(e, url, "upload") from None
        return url

    def _parallel(self, work: Any, items: Iterable[Any]) -> list[Any]:
        items = list(items)
        if len(items) <= 1:
            return [work(item) for item in items]
        with ThreadPoolExecutor(max_workers=min(WORKERS, len(items))) as pool:
            return list(pool.map(work, items))


def _run_root(run: Any) -> str:
    """``<datatools root>/<Flow>/<run id>`` for a flow object inside a step (``run=self``)."""
    from headwater import config
    from headwater._current import current

    flow_name = current.flow_name or type(run).__name__
    run_id = current.run_id
    if run_id is None:
        raise S3Error("S3(run=self) works inside a running step.", "Pass s3root='s3://bucket/prefix' elsewhere.")
    root = config.get("datatools_s3root")
    if not root:
        datastore_root = str(config.get("datastore_root") or "")
        if not datastore_root.startswith("s3://"):
            raise S3Error(
                "S3(run=self) needs an S3 place for the run's data.",
                "Set HEADWATER_DATATOOLS_S3ROOT=s3://bucket/prefix, or use an S3 datastore root.",
            )
        root = datastore_root.rstrip("/") + "/data"
    return f"{str(root).rstrip('/')}/{flow_name}/{run_id}"


def _client() -> Any:
    from headwater.datastore.s3 import s3_client

    return s3_client()


def _split(url: str) -> tuple[str, str]:
    from headwater.datastore.s3 import split_url

    return split_url(url)


def _code(error: Exception) -> str:
    from headwater.datastore.s3 import error_code

    return error_code(error)


def _missing(error: Exception) -> bool:
    return _code(error) in ("NoSuchKey", "404", "NotFound")


def _error(error: Exception, url: str, action: str) -> S3Error:
    from headwater.datastore.s3 import explain

    if _code(error) == "NoSuchBucket":  # the URL names the bucket already
        return S3Error(f"Cannot {action} {url}: the bucket does not exist.", "Check the bucket's name.")
    return S3Error(*explain(error, url, action))
