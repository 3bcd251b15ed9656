"""The ``s3`` storage backend: a datastore under ``s3://bucket/prefix``, through boto3 (``headwater[s3]``).

Every object is written by one ``PutObject``, which S3 makes visible whole or not at all, so readers never
see half an object; ``put(overwrite=False)`` is a conditional write (``If-None-Match: *``), so two runs
racing for one id or one blob cannot both win. Endpoint, credentials and region come from boto3's own
configuration chain (``AWS_ENDPOINT_URL``, profiles, instance roles), never from Headwater settings.

boto3 is imported on first use, and each process makes its own client: the runtime forks tasks, and a
client (with its pooled connections) must never be shared across a fork.
"""

from __future__ import annotations

import os
from typing import IO, Any

from headwater.datastore.storage import Chunks, StorageBackend
from headwater.exceptions import ConfigError, DatastoreError

_clients: dict[int, Any] = {}


def s3_client() -> Any:
    """This process's S3 client (boto3's configuration chain; standard retry mode)."""
    pid = os.getpid()
    if pid not in _clients:
        _clients.clear()  # a forked child drops its parent's client and connections
        try:
            import boto3
            from botocore.config import Config
        except ImportError:
            raise ConfigError(
                "The s3 datastore needs boto3.", 'Install Headwater with its S3 extra: pip install "headwater[s3]".'
            ) from None
        config = Config(retries={"max_attempts": 10, "mode": "standard"}, max_pool_connections=32)
        _clients[pid] = boto3.session.Session().client("s3", config=config)
    return _clients[pid]


def split_url(url: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` as ``("bucket", "some/prefix")``; a ConfigError for anything else."""
    if not url.startswith("s3://") or not url[5:].split("/", 1)[0]:
        raise ConfigError(f"{url!r} is not an S3 address.", "Write it as s3://bucket or s3://bucket/prefix.")
    bucket, _, prefix = url[5:].partition("/")
    return bucket, prefix.strip("/")


class _Body:
    """A ``GetObject`` body as the binary stream ``StorageBackend.open`` promises (read, readinto, close)."""

    def __init__(self, body: Any) -> None:
        self._body = body

    def read(self, size: int = -1) -> bytes:
        data: bytes = self._body.read() if size is None or size < 0 else self._body.read(size)
        return data

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data = self._body.read(len(view))
        view[: len(data)] = data
        return len(data)

    def seekable(self) -> bool:
        return False

    def close(self) -> None:
        self._body.close()

    def __enter__(self) -> _Body:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class S3Storage(StorageBackend):
    """A datastore in an S3 bucket (or any S3-compatible store that ``AWS_ENDPOINT_URL`` points at)."""

    name = "s3"

    def __init__(self, root: str) -> None:
        super().__init__(root.rstrip("/"))
        self.bucket, self.prefix = split_url(root)

    def _key(self, path: str) -> str:
        return "/".join(part for part in (self.prefix, path) if part)

    def _error(self, error: Exception, path: str, action: str) -> Exception:
        return DatastoreError(*explain(error, self.uri(path), action))

    def put(self, path: str, chunks: Chunks, overwrite: bool = True) -> bool:
        body = b"".join(memoryview(chunk).cast("B") for chunk in chunks)
        extra = {} if overwrite else {"IfNoneMatch": "*"}
        try:
            s3_client().put_object(Bucket=self.bucket, Key=self._key(path), Body=body, **extra)
        except Exception as e:
            if not overwrite and error_code(e) in ("PreconditionFailed", "412", "ConditionalRequestConflict"):
                return False
            raise self._error(e, path, "write") from None
        return True

    def open(self, path: str) -> IO[bytes]:
        try:
            response = s3_client().get_object(Bucket=self.bucket, Key=self._key(path))
        except Exception as e:
            if error_code(e) in ("NoSuchKey", "404", "NotFound"):
                raise FileNotFoundError(self.uri(path)) from None
            raise self._error(e, path, "read") from None
        return _Body(response["Body"])  # type: ignore[return-value]

    def exists(self, path: str) -> bool:
        try:
            s3_client().head_object(Bucket=self.bucket, Key=self._key(path))
        except Exception as e:
            if error_code(e) in ("NoSuchKey", "404", "NotFound"):
                return False
            raise self._error(e, path, "look up") from None
        return True

    def list(self, prefix: str) -> list[str]:
        base = self._key(prefix)
        base = base + "/" if base else ""
        names: list[str] = []
        try:
            pages = (
                s3_client().get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=base, Delimiter="/")
            )
            for page in pages:
                names += [p["Prefix"][len(base) :].rstrip("/") for p in page.get("CommonPrefixes", [])]
                names += [o["Key"][len(base) :] for o in page.get("Contents", [])]
        except Exception as e:
            raise self._error(e, prefix, "list") from None
        return [name for name in names if name]

    def delete(self, path: str) -> None:
        try:
            s3_client().delete_object(Bucket=self.bucket, Key=self._key(path))
        except Exception as e:
            raise self._error(e, path, "delete") from None

    def uri(self, path: str = "") -> str:
        key = self._key(path)
        return f"s3://{self.bucket}/{key}" if key else f"s3://{self.bucket}"


def error_code(error: Exception) -> str:
    response = getattr(error, "response", None)
    if not isinstance(response, dict):
        return ""
    return str(response.get("Error", {}).get("Code", "")) or str(
        response.get("ResponseMetadata", {}).get("HTTPStatusCode", "")
    )


def explain(error: Exception, url: str, action: str) -> tuple[str, str | None]:
    """A boto3 failure as ``(message, hint)`` naming the URL and what to check (shared with ``S3``)."""
    code = error_code(error)
    kind = type(error).__name__
    if code in ("NoSuchKey", "404", "NotFound"):
        return f"Cannot {action} {url}: there is no such object.", "Pass return_missing=True to get it as missing."
    if code == "NoSuchBucket":
        bucket = url[5:].split("/", 1)[0]
        return (
            f"Cannot {action} {url}: the bucket {bucket!r} does not exist.",
            "Create it, or point --datastore-root (HEADWATER_DATASTORE_ROOT) at one that does.",
        )
    if code in ("AccessDenied", "403", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken"):
        return (
            f"Cannot {action} {url}: access denied ({code}).",
            "Check the AWS credentials boto3 finds (profile, AWS_ACCESS_KEY_ID) and the bucket's policy.",
        )
    if kind in ("NoCredentialsError", "PartialCredentialsError"):
        return (
            f"Cannot {action} {url}: no AWS credentials were found.",
            "Configure them as boto3 expects: a profile (AWS_PROFILE), AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, or an instance role.",
        )
    if kind in ("EndpointConnectionError", "ConnectTimeoutError"):
        return (
            f"Cannot {action} {url}: S3 is not reachable ({error}).",
            "Check the network, and AWS_ENDPOINT_URL if you use an S3-compatible server.",
        )
    return f"Cannot {action} {url}: {kind}: {error}.", None
