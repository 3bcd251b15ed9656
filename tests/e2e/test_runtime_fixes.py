"""Runtime defects found by fault tests and new users (issue 6): foreach order, resume's origin, half-made runs."""

import os
import socket
import time

from headwater.client import Flow, namespace

SET_FLOW = """
from headwater import FlowSpec, Parameter, step

class SetFlow(FlowSpec):
    kind = Parameter("kind", default="set")

    @step
    def start(self):
        words = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta"]
        self.items = set(words) if self.kind == "set" else {w: len(w) for w in words}
        self.next(self.each, foreach="items")

    @step
    def each(self):
        self.item = self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        self.seen = [i.item for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        pass
"""


def test_a_foreach_over_a_set_is_refused_with_what_to_do(flow_runner):
    path = flow_runner.write(SET_FLOW)
    result = flow_runner.run(path, "run")
    assert result.returncode == 1
    assert "foreach over `items`, a set, whose order changes from one process to the next" in result.output
    assert "self.items = sorted(self.items)" in result.output
    assert not result.run.successful


def test_a_foreach_over_a_dict_takes_its_keys_in_order(flow_runner):
    path = flow_runner.write(SET_FLOW)
    result = flow_runner.run(path, "run", "--kind", "dict")
    assert result.returncode == 0, result.output
    assert result.run["join"].task.data.seen == ["alpha", "beta", "gamma", "delta", "epsilon", "zeta"]


FAILING_FLOW = """
import os
from headwater import FlowSpec, step

class ResumeFlow(FlowSpec):
    @step
    def start(self):
        self.items = [1, 2, 3]
        self.next(self.each, foreach="items")

    @step
    def each(self):
        if self.input == 2 and not os.path.exists("fixed"):
            raise RuntimeError("not fixed yet")
        self.double = self.input * 2
        self.next(self.join)

    @step
    def join(self, inputs):
        self.doubles = [i.double for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        pass
"""


def test_resume_skips_a_run_that_is_still_running_and_names_every_rerun(flow_runner, headwater_env):
    path = flow_runner.write(FAILING_FLOW)
    failed = flow_runner.run(path, "run")
    assert failed.returncode == 1
    # A newer run of the flow, still running (its runtime is this test's process, alive, on this host).
    ds = failed.run._ds
    live_id = str(int(failed.run_id) + 1000)
    ds.write_attempt_done(live_id, "_parameters", "0", 0, {"ok": True, "manifest": {}, "parameters": []})
    runtime = {"pid": os.getpid(), "host": socket.gethostname()}
    ds.create_run({"flow": "ResumeFlow", "created_at": time.time(), "runtime": runtime}, run_id=live_id)
    (headwater_env / "fixed").write_text("yes")
    resumed = flow_runner.run(path, "resume")
    assert resumed.returncode == 0, resumed.output
    assert f"resumes run {failed.run_id}" in resumed.output  # not the live one
    assert resumed.run.data is not None and resumed.run["join"].task.data.doubles == [2, 4, 6]
    assert "re-run: each (failed)" in resumed.output


def test_a_half_created_run_is_not_a_run(flow_runner, headwater_env):
    path = flow_runner.write(FAILING_FLOW)
    (headwater_env / "fixed").write_text("yes")
    ok = flow_runner.run(path, "run")
    assert ok.returncode == 0, ok.output
    # What a kill between the parameters and the run record leaves: a folder with parameters only.
    ds = ok.run._ds
    ds.write_attempt_done("1", "_parameters", "0", 0, {"ok": True, "manifest": {}, "parameters": []})
    namespace(None)
    assert [run.id for run in Flow("ResumeFlow").runs()] == [ok.run_id]
    resumed = flow_runner.run(path, "resume")
    assert resumed.returncode == 0, resumed.output
    assert f"resumes run {ok.run_id}" in resumed.output
