"""The S3 datastore, end to end against a local S3 server (moto, over real HTTP): a flow written for local
runs runs unchanged with ``HEADWATER_DATASTORE_ROOT=s3://bucket/prefix``, and everything reads back."""

import subprocess
import sys

import pytest

from headwater.client import Flow, Run, namespace

pytestmark = pytest.mark.s3

FLOW = """
import os
from headwater import FlowSpec, Parameter, step

class CloudFlow(FlowSpec):
    scale = Parameter("scale", default=2)

    @step
    def start(self):
        self.items = ["a", "bb", "ccc"]
        self.blob = os.urandom(3 * 1024 * 1024)  # large enough to take the blob paths that map locally
        self.next(self.each, foreach="items")

    @step
    def each(self):
        if self.input == "bb" and not os.path.exists("fixed"):
            raise RuntimeError("bb is not ready")
        self.length = len(self.input) * self.scale
        print("length of", self.input, "is", self.length)
        self.next(self.join)

    @step
    def join(self, inputs):
        self.lengths = [i.length for i in inputs]
        self.blob_size = len(inputs[0].blob)
        self.next(self.end)

    @step
    def end(self):
        pass
"""


def test_a_flow_runs_resumes_and_reads_back_on_s3(flow_runner, s3_root, headwater_env):
    path = flow_runner.write(FLOW)
    failed = flow_runner.run(path, "run")
    assert failed.returncode == 1
    assert f"datastore {s3_root}" in failed.output  # an s3:// root alone selected the S3 datastore
    assert "RuntimeError: bb is not ready" in failed.output
    (headwater_env / "fixed").write_text("yes")
    resumed = flow_runner.run(path, "resume")
    assert resumed.returncode == 0, resumed.output
    assert "clone:  start (1 task), each (" in resumed.output and "re-run: each (failed)" in resumed.output

    namespace(None)
    run = Flow("CloudFlow").latest_successful_run
    assert run.id == resumed.run_id and run.successful
    join = run["join"].task
    assert join.data.lengths == [2, 4, 6] and join.data.blob_size == 3 * 1024 * 1024
    assert run.code is not None and "class CloudFlow" in run.code.flowspec
    assert not (headwater_env / ".headwater").exists()  # nothing was written locally
    bb = next(t for t in run["each"] if t.data.length == 4)
    assert "length of bb is 4" in bb.stdout

    logs = flow_runner.run(path, "logs", f"{run.id}/each/{bb.id}")
    assert logs.returncode == 0 and "length of bb is 4" in logs.stdout
    dump = flow_runner.run(path, "dump", f"{run.id}/join")
    assert dump.returncode == 0 and "lengths (list" in dump.stdout
    tagged = flow_runner.run(path, "tag", "add", "--run-id", run.id, "cloud")
    assert tagged.returncode == 0, tagged.output
    assert "cloud" in Run(f"CloudFlow/{run.id}").user_tags


def test_the_s3_datastore_named_explicitly_and_a_missing_bucket(flow_runner, s3_root, headwater_env):
    (headwater_env / "fixed").write_text("yes")
    path = flow_runner.write(FLOW)
    ok = flow_runner.run(path, "--datastore", "s3", "--datastore-root", s3_root + "-explicit", "run")
    assert ok.returncode == 0, ok.output
    missing = flow_runner.run(path, "--datastore-root", "s3://no-such-bucket-hw/x", "run")
    assert missing.returncode == 1
    assert "the bucket 'no-such-bucket-hw' does not exist" in missing.stderr
    assert "Traceback" not in missing.output


def test_the_client_reads_s3_runs_in_a_fresh_process(flow_runner, s3_root, headwater_env):
    (headwater_env / "fixed").write_text("yes")
    path = flow_runner.write(FLOW)
    assert flow_runner.run(path, "run").returncode == 0
    code = (
        "from headwater import Flow, namespace\n"
        "namespace(None)\n"
        "print(Flow('CloudFlow').latest_run.data is not None, Flow('CloudFlow').latest_run['join'].task.data.lengths)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=headwater_env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True [2, 4, 6]"


SLOW_FLOW = """
import os, time
from pathlib import Path
from headwater import FlowSpec, step

class SlowCloudFlow(FlowSpec):
    @step
    def start(self):
        self.items = list(range(4))
        self.next(self.each, foreach="items")

    @step
    def each(self):
        Path(os.environ["MARKERS"], f"started-{self.input}").write_text("1")
        if self.input >= 2 and not os.path.exists(os.path.join(os.environ["MARKERS"], "go")):
            time.sleep(60)  # the runtime is killed meanwhile
        self.value = self.input * 10
        self.next(self.join)

    @step
    def join(self, inputs):
        self.values = [i.value for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        pass
"""


@pytest.mark.slow
def test_two_runs_at_once_and_a_killed_runtime_resumed_on_s3(flow_runner, s3_root, headwater_env, monkeypatch):
    import os
    import signal

    from tests.e2e.test_processes import wait_for

    markers = headwater_env / "markers"
    markers.mkdir()
    monkeypatch.setenv("MARKERS", str(markers))
    path = flow_runner.write(SLOW_FLOW)
    (markers / "go").write_text("1")
    both = [
        subprocess.Popen(
            [sys.executable, str(path), "run"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=300)[0] for p in both]
    assert [p.returncode for p in both] == [0, 0], outputs
    namespace(None)
    runs = list(Flow("SlowCloudFlow").runs())
    assert len({r.id for r in runs}) == 2 and all(r.data is not None for r in runs)
    assert all(r["join"].task.data.values == [0, 10, 20, 30] for r in runs)

    (markers / "go").unlink()
    for marker in markers.glob("started-*"):
        marker.unlink()
    proc = subprocess.Popen([sys.executable, str(path), "run"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    wait_for(lambda: (markers / "started-2").exists() and (markers / "started-3").exists(), what="the slow tasks")
    os.kill(proc.pid, signal.SIGKILL)  # the runtime dies mid-run; its tasks go with it
    proc.wait(timeout=30)
    (markers / "go").write_text("1")
    resumed = flow_runner.run(path, "resume")
    assert resumed.returncode == 0, resumed.output
    assert resumed.run["join"].task.data.values == [0, 10, 20, 30]
    assert "clone:  start (1 task), each (" in resumed.output  # the items that finished before the kill
