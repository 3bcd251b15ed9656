"""The ``s3`` storage backend's contract, against a local S3 server over real HTTP (moto)."""

import os
import subprocess
import sys

import pytest

from headwater.datastore.cas import ContentAddressedStore
from headwater.exceptions import ConfigError, CorruptBlobError, DatastoreError

pytestmark = pytest.mark.s3


@pytest.fixture
def storage(local_aws, monkeypatch):
    for name, value in local_aws.env().items():
        monkeypatch.setenv(name, value)
    from headwater.datastore.s3 import S3Storage

    return S3Storage(f"s3://{local_aws.new_bucket()}/root/")


def test_put_get_exists_list_delete(storage):
    assert storage.uri() == f"s3://{storage.bucket}/root" and storage.uri("a/b") == f"s3://{storage.bucket}/root/a/b"
    assert storage.put("F/runs/1/run.json", [b"{", memoryview(b"}")]) is True
    assert storage.get("F/runs/1/run.json") == b"{}"
    assert storage.put("F/runs/1/run.json", [b"again"], overwrite=False) is False  # a conditional write
    assert storage.get("F/runs/1/run.json") == b"{}"
    storage.put("F/runs/2/run.json", [b"x"])
    storage.put("F/data/ab/abc", [b"blob"])
    assert sorted(storage.list("F")) == ["data", "runs"]
    assert sorted(storage.list("F/runs")) == ["1", "2"]
    assert storage.list("F/runs/1") == ["run.json"] and storage.list("nothing") == []
    assert storage.exists("F/data/ab/abc") and not storage.exists("F/data/ab/zzz")
    with storage.open("F/data/ab/abc") as f:
        buffer = bytearray(4)
        assert f.readinto(buffer) == 4 and bytes(buffer) == b"blob"
    storage.delete("F/data/ab/abc")
    assert not storage.exists("F/data/ab/abc")
    with pytest.raises(FileNotFoundError):
        storage.get("F/data/ab/abc")


def test_blobs_round_trip_and_are_verified(storage):
    cas = ContentAddressedStore(storage, "F/data")
    payload = os.urandom(2_000_000)
    ref = cas.save([b"header", payload])
    assert [bytes(b) for b in cas.load(ref.key)] == [b"header", payload]
    storage.put(cas.path(ref.key), [storage.get(cas.path(ref.key))[:-1] + b"X"])
    with pytest.raises(CorruptBlobError):
        cas.load(ref.key)


def test_bad_addresses_and_a_missing_bucket_say_what_to_do(storage):
    from headwater.datastore.s3 import S3Storage

    with pytest.raises(ConfigError, match="is not an S3 address"):
        S3Storage("s3:///nobucket")
    missing = S3Storage("s3://no-such-bucket-hw-test")
    with pytest.raises(DatastoreError, match="the bucket 'no-such-bucket-hw-test' does not exist"):
        missing.put("x", [b"1"])


def test_forked_children_make_their_own_client(storage):
    """The runtime forks tasks: a client (and its pooled connections) must never cross a fork."""
    from headwater.datastore import s3

    parent = s3.s3_client()
    storage.put("k", [b"parent"])
    pid = os.fork()
    if pid == 0:
        code = 0 if s3.s3_client() is not parent and storage.get("k") == b"parent" else 1
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert s3.s3_client() is parent


def test_import_headwater_does_not_import_boto3():
    code = "import sys, headwater, headwater.plugin; from headwater.builtins import s3_storage; print('boto3' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
