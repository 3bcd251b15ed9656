"""Issue 6 end to end: ids that would leave the datastore, damaged records, concurrent tags, broken runs."""

from __future__ import annotations

import pytest

from headwater import Flow, Run, namespace
from headwater.exceptions import InvalidIdError

FLOW = """
from headwater import FlowSpec, step


class SafeFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1, 2, 3, 4]
        self.next(self.body, foreach="items")

    @step
    def body(self):
        self.value = self.input * 10
        self.next(self.join)

    @step
    def join(self, inputs):
        self.values = [i.value for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        self.total = sum(self.values)
"""

OTHER = FLOW.replace("SafeFlow", "OtherFlow")


@pytest.fixture
def safe_run(flow_runner):
    path = flow_runner.write(FLOW)
    result = flow_runner.run(path, "run")
    assert result.returncode == 0, result.output
    return path, result


# -- ids and names ----------------------------------------------------------------------------------------


def test_tag_add_with_a_run_id_that_leaves_the_datastore_is_refused(flow_runner, safe_run, headwater_env):
    path, _ = safe_run
    for bad in ("../../../../elsewhere/x", "..", "/tmp/x"):
        result = flow_runner.run(path, "tag", "add", "--run-id", bad, "t")
        assert result.returncode == 1, result.output
        assert "is not a valid run id" in result.stderr and "Traceback" not in result.stderr
    assert not (headwater_env / "elsewhere").exists()
    assert not list(headwater_env.parent.glob("elsewhere"))
    missing = flow_runner.run(path, "tag", "add", "--run-id", "999", "t")
    assert missing.returncode == 1 and "does not exist" in missing.stderr
    assert not (headwater_env / ".headwater" / "SafeFlow" / "runs" / "999").exists()


def test_resume_from_another_flows_run_is_refused(flow_runner, safe_run):
    other_path = flow_runner.write(OTHER, "other.py")
    other = flow_runner.run(other_path, "run")
    assert other.returncode == 0, other.output
    path, _ = safe_run
    result = flow_runner.run(path, "resume", "--origin-run-id", f"../../OtherFlow/runs/{other.run_id}")
    assert result.returncode == 1, result.output
    assert "is not a valid run id" in result.stderr and "Traceback" not in result.stderr
    namespace(None)
    assert len(list(Flow("SafeFlow"))) == 1  # no run was made


def test_logs_and_dump_refuse_bad_ids(flow_runner, safe_run):
    path, result = safe_run
    for pathspec in ("../start", f"{result.run_id}/..", f"{result.run_id}/start/.."):
        out = flow_runner.run(path, "dump", pathspec)
        assert out.returncode == 1 and "is not a valid" in out.stderr and "Traceback" not in out.stderr


def test_client_refuses_names_and_ids_outside_the_flow(safe_run, headwater_env):
    _, result = safe_run
    namespace(None)
    # A folder that the unchecked paths would have reached: <root>/../runs/5 and <root>/SafeFlow/../x
    escape = headwater_env / "runs" / "5"
    escape.mkdir(parents=True)
    (escape / "run.json").write_text("{}")
    for call in (
        lambda: Flow(".."),
        lambda: Run("../5"),
        lambda: Run("SafeFlow/.."),
        lambda: Run(f"SafeFlow/{result.run_id}\0"),
        lambda: Flow("Safe\0Flow"),
        lambda: Flow("SafeFlow")[".."],
    ):
        with pytest.raises((InvalidIdError, Exception)) as info:
            call()
        assert isinstance(info.value, InvalidIdError) or "is not a run pathspec" in str(info.value)
        assert not isinstance(info.value, ValueError)
