"""The flow command line: show, check, logs, dump, tag, --with, --quiet, --run-id-file, and `headwater`."""

import json
import subprocess
import sys

FLOW = """
from headwater import FlowSpec, step, Parameter


class CliFlow(FlowSpec):
    '''A flow for testing the command line.'''

    size = Parameter("size", help="How many items.", default=3)

    @step
    def start(self):
        '''Make the items.'''
        self.items = list(range(self.size))
        print("made", len(self.items), "items")
        self.next(self.square, foreach="items")

    @step
    def square(self):
        self.value = self.input ** 2
        print(f"squared {self.input}")
        self.next(self.join)

    @step
    def join(self, inputs):
        self.values = [i.value for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        import sys
        print("done", file=sys.stderr)
"""


def test_show_lists_steps_docs_and_transitions(flow_runner):
    path = flow_runner.write(FLOW)
    result = flow_runner.run(path, "show")
    assert result.returncode == 0, result.output
    out = result.stdout
    assert "A flow for testing the command line." in out
    assert "--size (default 3): How many items." in out
    assert "Step start  [start]" in out and "Make the items." in out
    assert "=> square for each item of `items`" in out
    assert "Step join  [join]" in out
    assert out.index("Step start") < out.index("Step square") < out.index("Step join") < out.index("Step end")


def test_check_passes_and_with_adds_decorators(flow_runner):
    path = flow_runner.write(FLOW)
    result = flow_runner.run(path, "check")
    assert result.returncode == 0 and "CliFlow is valid: 4 steps." in result.stdout
    shown = flow_runner.run(path, "--with", "retry:times=2", "--with", 'environment:vars={"A":"1","B":"2"}', "show")
    assert shown.returncode == 0, shown.output
    assert shown.stdout.count("@retry:times=2") == 4
    assert '@environment:vars={"A": "1", "B": "2"}' in shown.stdout


def test_unknown_decorator_lists_known_ones(flow_runner):
    path = flow_runner.write(FLOW)
    result = flow_runner.run(path, "--with", "retyr", "run")
    assert result.returncode == 1
    assert "Bad decorator: --with 'retyr': there is no step decorator 'retyr'. Did you mean `retry`?" in result.stderr
    for known in ("catch", "environment", "resources", "retry", "timeout"):
        assert known in result.stderr


def test_with_environment_reaches_the_task(flow_runner):
    path = flow_runner.write(
        """
import os
from headwater import FlowSpec, step

class EnvFlow(FlowSpec):
    @step
    def start(self):
        self.value = os.environ.get("GREETING")
        self.next(self.end)

    @step
    def end(self):
        pass
"""
    )
    result = flow_runner.run(path, "--with", 'environment:vars={"GREETING": "hi there"}', "run")
    assert result.returncode == 0, result.output
    assert result.run.data.value == "hi there"


def test_logs_dump_and_run_id_file(flow_runner, headwater_env):
    path = flow_runner.write(FLOW)
    run = flow_runner.run(path, "run", "--size", "2")
    assert run.returncode == 0, run.output
    run_id = run.run_id
    assert run_id and run_id.isdigit()

    logs = flow_runner.run(path, "logs", f"{run_id}/start")
    assert logs.returncode == 0 and logs.stdout.strip() == "made 2 items"
    both = flow_runner.run(path, "logs", f"{run_id}/square")
    assert "squared 0" in both.stdout and "squared 1" in both.stdout
    err = flow_runner.run(path, "logs", "--stderr", f"{run_id}/end")
    assert err.stdout.strip() == "done"
    missing = flow_runner.run(path, "logs", f"{run_id}/nope")
    assert missing.returncode == 1 and "has no step 'nope'" in missing.stderr

    out_file = headwater_env / "dump.pkl"
    dump = flow_runner.run(path, "dump", f"{run_id}/join", "--file", str(out_file))
    assert dump.returncode == 0, dump.output
    assert "values (list" in dump.stdout and "[0, 1]" in dump.stdout
    import pickle

    dumped = pickle.loads(out_file.read_bytes())
    (values,) = dumped.values()
    assert values["values"] == [0, 1] and values["size"] == 2


def test_quiet_shows_output_and_final_line_only(flow_runner):
    path = flow_runner.write(FLOW)
    result = flow_runner.run(path, "--quiet", "run")
    assert result.returncode == 0
    lines = result.stdout.strip().splitlines()
    assert not any(line.startswith("ok ") or "starting run" in line for line in lines)
    assert "[start/1] made 3 items" in lines
    assert lines[-1].startswith("Run CliFlow/") and "succeeded" in lines[-1]


def test_tags_add_remove_replace_list(flow_runner):
    path = flow_runner.write(FLOW)
    result = flow_runner.run(path, "run", "--tag", "first")
    run_id = result.run_id
    assert flow_runner.run(path, "tag", "add", "--run-id", run_id, "good", "baseline").returncode == 0
    assert sorted(result.run.user_tags) == ["baseline", "first", "good"]
    assert flow_runner.run(path, "tag", "remove", "--run-id", run_id, "first").returncode == 0
    replaced = flow_runner.run(path, "tag", "replace", "--run-id", run_id, "good", "best")
    assert replaced.returncode == 0
    assert sorted(result.run.user_tags) == ["baseline", "best"]
    bad = flow_runner.run(path, "tag", "remove", "--run-id", run_id, "nonexistent")
    assert bad.returncode == 1 and "has no user tag 'nonexistent'" in bad.stderr
    listing = flow_runner.run(path, "tag", "list")
    assert f"CliFlow/{run_id}  baseline, best" in listing.stdout
    from headwater.client import Flow

    assert [r.id for r in Flow("CliFlow").runs("best")] == [run_id]
    assert list(Flow("CliFlow").runs("first")) == []


def test_help_lists_parameters_and_commands(flow_runner):
    path = flow_runner.write(FLOW)
    result = flow_runner.run(path, "run", "--help")
    assert result.returncode == 0
    assert "--size INT" in result.stdout and "How many items. [default: 3]" in result.stdout
    assert "--max-workers" in result.stdout
    top = flow_runner.run(path, "--help")
    for command in ("run", "resume", "show", "check", "logs", "dump", "tag"):
        assert command in top.stdout
    assert "\n  step " not in top.stdout  # the task command is internal


def test_headwater_console_version_and_plugins():
    version = subprocess.run([sys.executable, "-m", "headwater", "version"], capture_output=True, text=True)
    from headwater import __version__

    assert version.returncode == 0 and version.stdout.startswith(f"headwater {__version__}")
    plugins = subprocess.run([sys.executable, "-m", "headwater", "plugins", "--json"], capture_output=True, text=True)
    data = json.loads(plugins.stdout)
    names = {p["name"]: p for p in data["plugins"]}
    assert {"local-storage", "retry", "catch", "timeout", "commands"} <= set(names)
    assert "resolve_task_policy" in names["retry"]["hooks"]
