"""The client API, as a notebook uses it: Metaflow, Flow, Run, Step, Task, DataArtifact and namespaces."""

import datetime

import pytest

from headwater import (
    DataArtifact,
    Flow,
    Metaflow,
    Run,
    Step,
    Task,
    default_metadata,
    default_namespace,
    get_metadata,
    get_namespace,
    metadata,
    namespace,
)
from headwater.exceptions import NamespaceError, NotFoundError

FLOW = """
import sys
from headwater import FlowSpec, step, Parameter

class ClientFlow(FlowSpec):
    fail = Parameter("fail", default=False, type=bool)

    @step
    def start(self):
        self.items = [10, 20]
        print("starting")
        self.next(self.body, foreach="items")

    @step
    def body(self):
        self.doubled = self.input * 2
        print("warning", self.input, file=sys.stderr)
        if self.fail and self.index == 1:
            raise RuntimeError("second item is bad")
        self.next(self.join)

    @step
    def join(self, inputs):
        self.doubled = [i.doubled for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        self.result = sum(self.doubled)
"""


@pytest.fixture
def runs(flow_runner):
    path = flow_runner.write(FLOW)
    ok = flow_runner.run(path, "run", "--tag", "good")
    bad = flow_runner.run(path, "run", "--fail", "true")
    other = flow_runner.run(path, "run", env={"HEADWATER_USER": "someone-else"})
    assert (ok.returncode, bad.returncode, other.returncode) == (0, 1, 0), ok.output + bad.output + other.output
    return ok, bad, other


def test_flow_runs_latest_and_namespaces(runs):
    ok, bad, other = runs
    assert get_namespace() == default_namespace() and default_namespace().startswith("user:")
    flow = Flow("ClientFlow")
    assert [r.id for r in flow.runs()] == [bad.run_id, ok.run_id]  # newest first, mine only
    assert flow.latest_run.id == bad.run_id
    assert flow.latest_successful_run.id == ok.run_id
    assert [r.id for r in flow.runs("good")] == [ok.run_id]
    assert [r.id for r in flow] == [bad.run_id, ok.run_id]
    with pytest.raises(NamespaceError, match="namespace"):
        Run(f"ClientFlow/{other.run_id}")

    namespace(None)
    assert [r.id for r in flow.runs()] == [other.run_id, bad.run_id, ok.run_id]
    assert Run(f"ClientFlow/{other.run_id}").successful
    namespace("user:someone-else")
    assert [r.id for r in Flow("ClientFlow")] == [other.run_id]
    assert [f.name for f in Metaflow().flows] == ["ClientFlow"]


def test_run_step_task_artifact(runs):
    ok, bad, _ = runs
    run = Run(f"ClientFlow/{ok.run_id}")
    assert run.successful and run.finished and run.status == "succeeded"
    assert isinstance(run.created_at, datetime.datetime) and run.finished_at >= run.created_at
    assert "good" in run.tags and "good" in run.user_tags and any(t.startswith("user:") for t in run.system_tags)
    assert run.data.result == 60
    assert run.end_task.pathspec == f"ClientFlow/{ok.run_id}/end/{run.end_task.id}"
    assert [s.id for s in run.steps()] == ["start", "body", "join", "end"]
    assert "body" in run and "nope" not in run

    body = run["body"]
    assert isinstance(body, Step) and body == Step(f"ClientFlow/{ok.run_id}/body")
    tasks = list(body)
    assert [t.index for t in tasks] == [0, 1]
    assert [t.data.doubled for t in tasks] == [20, 40]
    first = tasks[0]
    assert first == Task(first.pathspec)
    assert first.successful and first.finished and first.current_attempt == 0
    assert first.stderr == "warning 10\n" and first.stdout == ""
    assert first.exception is None
    assert "doubled" in first and "items" in first
    artifact = first["doubled"]
    assert isinstance(artifact, DataArtifact) and artifact.data == 20 and artifact.type == "int"
    assert len(artifact.sha) == 64 and artifact.size > 0
    assert DataArtifact(f"{first.pathspec}/doubled").sha == artifact.sha
    assert sorted(a.id for a in first) == ["doubled", "fail", "items"]
    assert run["start"].task.stdout == "starting\n"

    failed = Run(f"ClientFlow/{bad.run_id}")
    assert failed.status == "failed" and not failed.finished and not failed.successful and failed.data is None
    broken = [t for t in failed["body"] if not t.successful]
    assert len(broken) == 1 and broken[0].exception.type == "RuntimeError"
    assert "second item is bad" in broken[0].exception.traceback


def test_pathspec_errors_are_clear(runs):
    ok, _, _ = runs
    with pytest.raises(NotFoundError, match="does not exist"):
        Run("ClientFlow/123")
    with pytest.raises(NotFoundError, match="is not a run pathspec"):
        Run("ClientFlow")
    with pytest.raises(NotFoundError, match="has no runs"):
        Flow("NoSuchFlow")
    with pytest.raises(KeyError, match="has no step 'nope'"):
        Run(f"ClientFlow/{ok.run_id}")["nope"]
    task = Run(f"ClientFlow/{ok.run_id}").end_task
    with pytest.raises(AttributeError, match="has no artifact 'nope'"):
        task.data.nope


def test_code_package_and_parameters(runs):
    ok, _, _ = runs
    run = Run(f"ClientFlow/{ok.run_id}")
    assert run.parameters == {"fail": False}
    assert run.code.files == ["flow.py"]
    assert "class ClientFlow(FlowSpec)" in run.code.flowspec


def test_client_finds_the_datastore_from_the_working_directory(runs, headwater_env, monkeypatch):
    ok, _, _ = runs
    monkeypatch.delenv("HEADWATER_DATASTORE_ROOT")
    sub = headwater_env / "notebooks" / "deep"
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)
    assert Flow("ClientFlow").latest_successful_run.id == ok.run_id
    monkeypatch.chdir("/")
    from headwater.client import core

    monkeypatch.setattr(core, "_datastores", {})
    with pytest.raises(NotFoundError, match="No Headwater datastore"):
        Flow("ClientFlow")


def test_a_step_reads_another_flows_runs_from_its_own_datastore(headwater_env, monkeypatch):
    """As Metaflow's tutorial 03 does: the client inside a task reads the datastore the task runs in."""
    from headwater.testing import run_flow, write_flow

    monkeypatch.delenv("HEADWATER_DATASTORE_ROOT")
    project = headwater_env / "project"
    (project / ".headwater").mkdir(parents=True)
    (project / "a").mkdir()
    (project / "b").mkdir()
    producer = write_flow(
        project / "a",
        """
from headwater import FlowSpec, step

class ProducerFlow(FlowSpec):
    @step
    def start(self):
        self.stats = {"rows": 42}
        self.next(self.end)

    @step
    def end(self):
        pass
""",
    )
    consumer = write_flow(
        project / "b",
        """
from headwater import Flow, FlowSpec, get_metadata, step

class ConsumerFlow(FlowSpec):
    @step
    def start(self):
        self.where = get_metadata()
        self.rows = Flow("ProducerFlow").latest_successful_run.data.stats["rows"]
        self.next(self.end)

    @step
    def end(self):
        pass
""",
    )
    assert run_flow(producer, "run", cwd="/").returncode == 0
    result = run_flow(consumer, "run", cwd="/")  # from elsewhere: only the task's own datastore can be found
    assert result.returncode == 0, result.output
    metadata(f"local@{project / '.headwater'}")
    assert get_metadata() == f"local@{project / '.headwater'}"
    data = result.run.data
    assert data.rows == 42
    assert data.where == f"local@{project / '.headwater'}"
    default_metadata()
