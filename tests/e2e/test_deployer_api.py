"""The deployer API: a whole run replayed from the generated container commands alone, without the scheduler.

A throwaway deployer plugin adds a `replay` command to the flow CLI. Like a Step Functions compiler it
gets one command template per step from ``headwater.plugin`` (placeholders for run id, task id, input
paths, foreach index and attempt), creates the run with ``init_run``, and then plays orchestrator: it
runs each task's command in a fresh empty directory as its own process (the code package is unpacked
there by the command's bootstrap), and reads each finished task's transition to decide what to start
next. The replayed run must hold exactly the artifacts of a normal run.
"""

import os
import subprocess
import sys

from headwater.client import Run
from headwater.testing import install_plugin

DEPLOYER_PLUGIN = """
import itertools
import os
import subprocess
import sys
import tempfile

import click

from headwater.plugin import START_INPUT, deployment, hookimpl, init_run, read_transition, task_command_template


def orchestrate(state, run_id):
    run = deployment(state)
    graph = run.graph
    templates = {node.name: task_command_template(run, node) for node in graph}
    init_run(state, run_id, {}, ["replayed"], code_key=run.code_package)
    ids = itertools.count(1)
    queue = [("start", [START_INPUT], None)]
    joins = {}
    env = {**os.environ, "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")}
    while queue:
        step, inputs, split = queue.pop(0)
        task_id = str(next(ids))
        command = templates[step].substitute(
            run_id=run_id, task_id=task_id, input_paths=inputs, split_index=split, retry_count=0
        )
        assert not command.placeholders(), command.placeholders()
        workdir = tempfile.mkdtemp(prefix="hwtest-container-")
        done = subprocess.run(["/bin/sh", "-c", command.shell()], cwd=workdir, env={**env, **command.env})
        if done.returncode:
            raise SystemExit(f"{step}/{task_id} failed")
        path = f"{step}/{task_id}"
        t = read_transition(run.datastore, run_id, step, task_id)
        indices = tuple(frame["index"] for frame in t.foreach_stack)
        if t.type == "foreach":
            queue += [(t.next[0], [path], i) for i in range(t.num_splits)]
            continue
        for child in t.next:
            node = graph[child]
            if not node.is_join:
                queue.append((child, [path], None))
                continue
            split_node = graph[node.matching_split]
            if split_node.transition == "foreach":
                key, expected, order = (child, indices[:-1]), t.foreach_stack[-1]["num_splits"], indices[-1]
            else:
                key, expected = (child, indices), len(split_node.out_funcs)
                order = split_node.out_funcs.index(graph[step].scope[-1][1])
            arrived = joins.setdefault(key, {})
            arrived[order] = path
            if len(arrived) == expected:
                queue.append((child, [arrived[k] for k in sorted(arrived)], None))


@click.command("replay")
@click.option("--run-id", required=True)
@click.pass_obj
def replay(state, run_id):
    orchestrate(state, run_id)
    return 0


@hookimpl
def register_flow_commands(cli, flow):
    cli.add_command(replay)
"""

FLOW = """
from headwater import FlowSpec, Parameter, step

class ShapesFlow(FlowSpec):
    scale = Parameter("scale", default=3)

    @step
    def start(self):
        self.groups = [[1, 2], [3, 4, 5]]
        self.next(self.outer, foreach="groups")

    @step
    def outer(self):
        self.group = self.input
        self.next(self.inner, foreach="group")

    @step
    def inner(self):
        self.value = self.input * self.scale
        self.next(self.inner_join)

    @step
    def inner_join(self, inputs):
        self.group_total = sum(i.value for i in inputs)
        self.next(self.outer_join)

    @step
    def outer_join(self, inputs):
        self.totals = [i.group_total for i in inputs]
        self.big = "big" if sum(self.totals) > 20 else "small"
        self.next({"big": self.shout, "small": self.whisper}, condition="big")

    @step
    def shout(self):
        self.word = "BIG"
        self.next(self.fork)

    @step
    def whisper(self):
        self.word = "small"
        self.next(self.fork)

    @step
    def fork(self):
        self.next(self.left, self.right)

    @step
    def left(self):
        self.side = "left " + self.word
        self.next(self.meet)

    @step
    def right(self):
        self.side = "right " + self.word
        self.next(self.meet)

    @step
    def meet(self, inputs):
        self.sides = [i.side for i in inputs]
        self.merge_artifacts(inputs, exclude=["side"])
        self.next(self.end)

    @step
    def end(self):
        self.summary = (self.totals, self.sides)
"""


def _artifacts_by_place(run):
    """``{(step, foreach indices): {artifact: content key}}`` for every task of a run."""
    found = {}
    for step in run:
        for task in step:
            stack = task._record.get("foreach_stack") or []
            place = (step.id, tuple(frame["index"] for frame in stack))
            assert place not in found, place
            found[place] = {a.id: a.sha for a in task}
    return found


def test_a_run_replayed_from_the_generated_commands_alone_is_identical(flow_runner, headwater_env, monkeypatch):
    site = headwater_env / "site"
    install_plugin(site, "hwtest_deployer", DEPLOYER_PLUGIN)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("HEADWATER_LOAD_PLUGINS", "hwtest_deployer")
    path = flow_runner.write(FLOW)
    normal = flow_runner.run(path, "run")
    assert normal.returncode == 0, normal.output
    assert normal.run.data.summary == ([9, 36], ["left BIG", "right BIG"])

    done = subprocess.run(
        [sys.executable, str(path), "replay", "--run-id", "replay-1"],
        capture_output=True,
        text=True,
        cwd=headwater_env,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    replayed = Run("ShapesFlow/replay-1", _namespace_check=False)
    assert replayed.successful and replayed.status == "succeeded"  # its end task marked it
    assert "replayed" in replayed.user_tags
    assert replayed.data.summary == normal.run.data.summary
    expected = _artifacts_by_place(normal.run)
    assert len(expected) == 1 + 2 + 5 + 2 + 1 + 1 + 1 + 2 + 1 + 1  # every task of the shapes, branch taken
    assert _artifacts_by_place(replayed) == expected


def test_templates_name_their_placeholders_and_the_transition_command(flow_runner, headwater_env):
    path = flow_runner.write(FLOW)
    normal = flow_runner.run(path, "run")
    assert normal.returncode == 0, normal.output
    run = normal.run
    start = run["start"].task
    shown = subprocess.run(
        [sys.executable, str(path), "transition", f"{run.id}/start/{start.id}"], capture_output=True, text=True
    )
    assert shown.returncode == 0, shown.stderr
    import json

    assert json.loads(shown.stdout) == {
        "type": "foreach",
        "next": ["outer"],
        "num_splits": 2,
        "chosen": None,
        "foreach_stack": [],
        "iteration": 0,
    }
    switch = run["outer_join"].task
    chosen = subprocess.run(
        [sys.executable, str(path), "transition", f"{run.id}/outer_join/{switch.id}"], capture_output=True, text=True
    )
    assert json.loads(chosen.stdout)["chosen"] == "shout"
