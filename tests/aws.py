"""A local AWS for the tests: moto's server on 127.0.0.1 at a free port, reached by boto3 over real HTTP.

Nothing is patched: the code under test (and every flow subprocess it starts) finds the server through
boto3's own configuration, ``AWS_ENDPOINT_URL``, with dummy credentials.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass
class LocalAWS:
    endpoint: str

    def env(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    def new_bucket(self) -> str:
        import boto3

        name = f"hw-{uuid.uuid4().hex[:12]}"
        client = boto3.session.Session().client("s3", endpoint_url=self.endpoint, **_credentials())
        client.create_bucket(Bucket=name)
        return name


def _credentials() -> dict[str, str]:
    return {"aws_access_key_id": "testing", "aws_secret_access_key": "testing", "region_name": "us-east-1"}


def start_local_aws() -> Iterator[LocalAWS]:
    """Start moto's server in this process (a thread) for the whole session; stopped at the end."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    os.environ.setdefault("MOTO_PORT", str(port))
    try:
        yield LocalAWS(f"http://{host}:{port}")
    finally:
        server.stop()
