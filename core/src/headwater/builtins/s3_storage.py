"""Built-in plugin: the ``s3`` storage backend (``--datastore s3``, or a ``s3://`` datastore root).

boto3 comes with ``headwater[s3]`` and is imported only when an S3 datastore is used.
"""

from __future__ import annotations

from collections.abc import Callable

from headwater.datastore.s3 import S3Storage
from headwater.hookspecs import hookimpl


@hookimpl(trylast=True)
def register_storage_backends(register: Callable[..., None]) -> None:
    register("s3", S3Storage)
