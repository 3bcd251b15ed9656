"""End-to-end tests: each runs in its own folder and datastore (the ``headwater_env`` fixture)."""

import pytest

#: Test modules whose every test runs on each datastore backend, unchanged (issue 8: the core's end-to-end
#: flow tests run against both backends).
BOTH_BACKENDS = {"test_examples", "test_flow_shapes"}


def pytest_generate_tests(metafunc):
    if metafunc.module.__name__.rsplit(".", 1)[-1] in BOTH_BACKENDS:
        metafunc.fixturenames.append("datastore_backend")
        backends = [pytest.param("local", id="local"), pytest.param("s3", marks=pytest.mark.s3, id="s3")]
        metafunc.parametrize("datastore_backend", backends)


@pytest.fixture(autouse=True)
def _isolated(request, headwater_env):
    callspec = getattr(request.node, "callspec", None)
    on_s3 = callspec is not None and callspec.params.get("datastore_backend") == "s3"
    if on_s3:
        request.getfixturevalue("s3_root")  # this test's runs go to a fresh bucket on the local S3 server
    yield headwater_env
    if on_s3:
        assert not (headwater_env / ".headwater").exists(), "a run on S3 wrote a local datastore"


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
