"""One task, one command: the `step` command gives what the runtime gives, and plugins can rewrite it."""

import os
import subprocess
import sys

from headwater.client import Run
from headwater.runtime.context import encode_input_paths
from headwater.testing import install_plugin

FLOW = """
from headwater import FlowSpec, step, Parameter

class StepCmdFlow(FlowSpec):
    scale = Parameter("scale", default=2)

    @step
    def start(self):
        self.items = ["a", "bb", "ccc"]
        self.next(self.body, foreach="items")

    @step
    def body(self):
        self.length = len(self.input) * self.scale
        self.next(self.join)

    @step
    def join(self, inputs):
        self.lengths = [i.length for i in inputs]
        self.next(self.left, self.right)

    @step
    def left(self):
        self.side = "left"
        self.next(self.meet)

    @step
    def right(self):
        self.side = "right"
        self.next(self.meet)

    @step
    def meet(self, inputs):
        self.sides = [i.side for i in inputs]
        self.merge_artifacts(inputs, exclude=["side"])
        self.next(self.end)

    @step
    def end(self):
        self.summary = (self.lengths, self.sides)
"""


def test_step_command_reproduces_every_task_of_a_run(flow_runner):
    path = flow_runner.write(FLOW)
    result = flow_runner.run(path, "run", "--scale", "3")
    assert result.returncode == 0, result.output
    original = result.run
    ds = original._ds

    # A second run made only of `step` commands, task by task, with the same ids and inputs.
    copy_id = ds.create_run({"flow": "StepCmdFlow", "note": "replayed by hand"})
    params = ds.latest_ok(original.id, "_parameters", "0")
    ds.write_attempt_done(copy_id, "_parameters", "0", 0, {k: v for k, v in params.items() if k != "attempt"})
    tasks = sorted((t for s in original for t in s), key=lambda t: int(t.id))
    for task in tasks:
        record = task._record
        args = [
            sys.executable,
            str(path),
            "step",
            task.parent.id,
            "--run-id",
            copy_id,
            "--task-id",
            task.id,
            "--input-paths",
            encode_input_paths(record["input_paths"]),
        ]
        if record["split_index"] is not None:
            args += ["--split-index", str(record["split_index"])]
        done = subprocess.run(args, capture_output=True, text=True)
        assert done.returncode == 0, done.stdout + done.stderr

    replay = Run(f"StepCmdFlow/{copy_id}", _namespace_check=False)
    for task in tasks:
        again = replay[task.parent.id][task.id]
        assert again.successful
        assert {a.id: a.sha for a in again} == {a.id: a.sha for a in task}, task.pathspec
    assert replay.end_task.data.summary == ([3, 6, 9], ["left", "right"])


PLUGIN = """
import os
from headwater import hookimpl

@hookimpl
def task_command(attempt, command):
    if attempt.step.name == "middle":  # wrap the command, as `env FOO=1 wrapper python flow.py ...`
        command.prefix = ["env", "HWTEST_FOO=1", os.environ["HWTEST_WRAPPER"], *command.prefix]
        command.env["HWTEST_REWRITTEN"] = f"{attempt.step.name}/{attempt.task_id}#{attempt.attempt}"
"""


def test_plugin_rewrites_the_command_of_one_step(flow_runner, headwater_env, monkeypatch):
    site = headwater_env / "site"
    site.mkdir()
    install_plugin(site, "hwtest_launch", PLUGIN)
    log = headwater_env / "wrapper.log"
    wrapper = headwater_env / "wrapper.sh"
    wrapper.write_text(f'#!/bin/sh\necho "$HWTEST_FOO $@" >> {log}\nexec "$@"\n')
    wrapper.chmod(0o755)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("HEADWATER_LOAD_PLUGINS", "hwtest_launch")
    monkeypatch.setenv("HWTEST_WRAPPER", str(wrapper))

    path = flow_runner.write(
        """
import os, sys
from headwater import FlowSpec, step

class SeamFlow(FlowSpec):
    @step
    def start(self):
        self.how = (sys.argv[1:2], os.environ.get("HWTEST_REWRITTEN"))
        self.next(self.middle)

    @step
    def middle(self):
        self.how = (sys.argv[1:2], os.environ.get("HWTEST_REWRITTEN"))
        self.foo = os.environ.get("HWTEST_FOO")
        self.next(self.end)

    @step
    def end(self):
        self.how = (sys.argv[1:2], os.environ.get("HWTEST_REWRITTEN"))
"""
    )
    result = flow_runner.run(path, "run")
    assert result.returncode == 0, result.output
    run = result.run
    # start and end were forked from the runtime (argv is the runtime's); middle went through the wrapper.
    assert run["start"].task.data.how == (["run"], None)
    assert run["end"].task.data.how == (["run"], None)
    middle = run["middle"].task
    assert middle.data.how == (["--quiet"], f"middle/{middle.id}#0")
    assert middle.data.foo == "1"
    logged = log.read_text().splitlines()
    assert len(logged) == 1
    assert logged[0].startswith(f"1 {sys.executable} {path} ")  # the wrapper got the whole command, unchanged
    assert f" step middle --run-id {run.id} --task-id {middle.id} " in logged[0]
