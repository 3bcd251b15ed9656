"""``from headwater import S3``: Metaflow's S3 client surface, against a local S3 server (moto, real HTTP)."""

import os

import pytest

from headwater import S3
from headwater.s3 import S3Error, S3GetObject

pytestmark = pytest.mark.s3


@pytest.fixture
def bucket(local_aws, monkeypatch):
    for name, value in local_aws.env().items():
        monkeypatch.setenv(name, value)
    return local_aws.new_bucket()


def test_put_get_list_info_and_ranges(bucket, tmp_path):
    root = f"s3://{bucket}/data"
    with S3(s3root=root, tmproot=str(tmp_path)) as s3:
        assert s3.put("a.txt", "hello") == f"{root}/a.txt"
        pairs = s3.put_many([(f"many/{i}", os.urandom(1000 + i)) for i in range(20)])
        assert [url for _, url in pairs] == [f"{root}/many/{i}" for i in range(20)]
        got = s3.get("a.txt")
        assert (got.text, got.size, got.exists, got.key) == ("hello", 5, True, "a.txt")
        assert os.path.dirname(got.path).startswith(str(tmp_path))
        many = s3.get_many([f"many/{i}" for i in range(20)])
        assert [o.size for o in many] == [1000 + i for i in range(20)]
        assert many[3].blob == s3.get(f"{root}/many/3").blob  # a full URL works too
        part = s3.get(S3GetObject("a.txt", 1, 3))
        assert part.blob == b"ell"
        assert sorted(o.key for o in s3.list_paths()) == ["a.txt", "many"]
        assert not next(o for o in s3.list_paths() if o.key == "many").exists  # a prefix
        assert len(s3.list_recursive(["many"])) == 20 and len(s3.get_recursive(["many"])) == 20
        assert len(s3.get_all()) == 21
        assert s3.info("a.txt").size == 5 and not s3.info("nope", return_missing=True).exists
        missing = s3.get("nope", return_missing=True)
        assert not missing.exists and not missing.downloaded
        with pytest.raises(S3Error, match=f"Cannot download {root}/nope: there is no such object"):
            s3.get("nope")
        local = tmp_path / "model.bin"
        local.write_bytes(b"\x01" * 100_000)
        assert s3.put_files([("model.bin", str(local))]) == [("model.bin", f"{root}/model.bin")]
        assert s3.get("model.bin").blob == local.read_bytes()
        downloads = os.path.dirname(got.path)
    assert not os.path.exists(downloads)  # removed when the block ends


def test_errors_name_the_url(bucket):
    with pytest.raises(S3Error, match="is not a full s3:// URL"):
        S3().get("relative/key")
    with S3() as s3, pytest.raises(S3Error, match="the bucket does not exist"):
        s3.put("s3://no-such-bucket-hw-client/x", b"1")


def test_s3_run_self_keeps_data_under_the_run(flow_runner, s3_root):
    path = flow_runner.write(
        """
from headwater import FlowSpec, S3, current, step

class DataFlow(FlowSpec):
    @step
    def start(self):
        with S3(run=self) as s3:
            self.url = s3.put("table.csv", "a,b\\n1,2\\n")
        self.next(self.end)

    @step
    def end(self):
        with S3(run=self) as s3:
            self.table = s3.get("table.csv").text
"""
    )
    result = flow_runner.run(path, "run")
    assert result.returncode == 0, result.output
    run = result.run
    assert run.data.table == "a,b\n1,2\n"
    assert run["start"].task.data.url == f"{s3_root}/data/DataFlow/{run.id}/table.csv"
