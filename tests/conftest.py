"""End-to-end tests: each runs in its own folder and datastore (the ``headwater_env`` fixture)."""

import pytest


@pytest.fixture(autouse=True)
def _isolated(headwater_env):
    return headwater_env


@pytest.fixture(scope="session")
def local_aws():
    """moto's server on 127.0.0.1 for the whole test session (see tests/aws.py)."""
    pytest.importorskip("moto", reason="the AWS tests need moto[server] (requirements-test.txt)")
    from tests.aws import start_local_aws

    yield from start_local_aws()


@pytest.fixture
def s3_root(local_aws, headwater_env, monkeypatch):
    """A fresh bucket, with this test's runs stored in it: ``s3://<bucket>/headwater``."""
    for name, value in local_aws.env().items():
        monkeypatch.setenv(name, value)
    root = f"s3://{local_aws.new_bucket()}/headwater"
    monkeypatch.setenv("HEADWATER_DATASTORE_ROOT", root)
    return root
