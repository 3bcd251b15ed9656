"""Regressions found in review: fork safety, exit behaviour, resume after code changes, odd graphs."""

import os
import pty
import subprocess
import sys

from headwater.client import Run
from headwater.runtime.context import encode_input_paths
from headwater.testing import install_plugin


def test_stderr_stays_stderr_on_a_terminal(flow_runner, headwater_env):
    """On a terminal the live display must not capture the tasks' stderr (it did, through rich)."""
    path = flow_runner.write(
        """
import sys
from headwater import FlowSpec, step

class TtyFlow(FlowSpec):
    @step
    def start(self):
        print("to stdout")
        print("to stderr " + "x" * 120, file=sys.stderr)
        self.next(self.end)

    @step
    def end(self):
        pass
"""
    )
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    env["TERM"] = "xterm"
    leader, follower = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, str(path), "run", "--run-id-file", str(headwater_env / "id")],
        stdout=follower,
        stderr=follower,
        env=env,
        cwd=headwater_env,
    )
    os.close(follower)
    output = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    assert proc.wait(timeout=60) == 0, output.decode(errors="replace")
    run = Run(f"TtyFlow/{(headwater_env / 'id').read_text()}", _namespace_check=False)
    task = run["start"].task
    assert task.stdout == "to stdout\n"
    assert task.stderr == "to stderr " + "x" * 120 + "\n"  # one line, not wrapped, not in stdout


def test_no_deadlock_when_the_runtime_hashed_large_data_before_forking(flow_runner, headwater_env):
    """The runtime hashes the code package and parameters; a task hashing large data must not hang."""
    (headwater_env / "bulk.py").write_text("DATA = " + repr(os.urandom(96 * 1024).hex()) + "\n")
    notes = headwater_env / "notes.bin"
    notes.write_bytes(os.urandom(256 * 1024))
    path = flow_runner.write(
        f"""
from headwater import FlowSpec, IncludeFile, step, timeout

class HashFlow(FlowSpec):
    notes = IncludeFile("notes", is_text=False, default={str(notes)!r})

    @timeout(seconds=60)
    @step
    def start(self):
        self.big = list(range(200_000))
        self.size = len(self.notes)
        self.next(self.end)

    @step
    def end(self):
        assert len(self.big) == 200_000
"""
    )
    result = flow_runner.run(path, "run", timeout=120)
    assert result.returncode == 0, result.output
    assert result.run.data.size == 256 * 1024


def test_task_exit_runs_atexit_handlers_and_joins_threads(flow_runner, headwater_env):
    done_file, thread_file = headwater_env / "atexit.txt", headwater_env / "thread.txt"
    path = flow_runner.write(
        f"""
import atexit, threading, time
from headwater import FlowSpec, step

class ExitFlow(FlowSpec):
    @step
    def start(self):
        atexit.register(lambda: open({str(done_file)!r}, "w").write("tracker closed"))
        def later():
            time.sleep(0.5)
            open({str(thread_file)!r}, "w").write("thread finished")
        threading.Thread(target=later).start()
        self.next(self.end)

    @step
    def end(self):
        pass
"""
    )
    result = flow_runner.run(path, "run")
    assert result.returncode == 0, result.output
    assert done_file.read_text() == "tracker closed"
    assert thread_file.read_text() == "thread finished"


FLOW_V1 = """
from headwater import FlowSpec, step

class ChangeFlow(FlowSpec):
    @step
    def start(self):
        self.x = 1
        self.next(self.train)

    @step
    def train(self):
        self.model = "m1"
        self.next(self.report)

    @step
    def report(self):
        raise RuntimeError("report is broken")
        self.next(self.end)

    @step
    def end(self):
        pass
"""

FLOW_V2 = """
from headwater import FlowSpec, step

class ChangeFlow(FlowSpec):
    @step
    def start(self):
        self.x = 1
        self.next(self.train)

    @step
    def train(self):
        self.model = "m1"
        self.next(self.evaluate)

    @step
    def evaluate(self):
        self.score = 0.9
        self.next(self.report)

    @step
    def report(self):
        self.summary = (self.model, self.score)
        self.next(self.end)

    @step
    def end(self):
        pass
"""


def test_resume_follows_the_current_code_not_the_old_transitions(flow_runner):
    path = flow_runner.write(FLOW_V1)
    first = flow_runner.run(path, "run")
    assert first.returncode == 1
    flow_runner.write(FLOW_V2)
    second = flow_runner.run(path, "resume")
    assert second.returncode == 0, second.output
    assert "clone:  start (1 task)" in second.stdout
    assert "train (its transitions changed)" in second.stdout
    assert second.run.data.summary == ("m1", 0.9)

    third = flow_runner.run(path, "resume", "report")  # a resume of a resume
    assert third.returncode == 0, third.output
    cloned_train = third.run["train"].task
    assert cloned_train.origin_pathspec == f"ChangeFlow/{second.run_id}/train/{second.run['train'].task.id}"


def test_output_of_a_clone_of_a_clone_is_the_original_output(flow_runner):
    path = flow_runner.write(
        """
from headwater import FlowSpec, step

class TwiceFlow(FlowSpec):
    @step
    def start(self):
        print("computed once")
        self.next(self.end)

    @step
    def end(self):
        pass
"""
    )
    first = flow_runner.run(path, "run")
    second = flow_runner.run(path, "resume", "end")
    third = flow_runner.run(path, "resume", "end")
    assert [r.returncode for r in (first, second, third)] == [0, 0, 0]
    start = third.run["start"].task
    assert start.origin_pathspec == f"TwiceFlow/{first.run_id}/start/{first.run['start'].task.id}"
    assert start.stdout == "computed once\n"


def test_unwritable_run_id_file_is_a_clear_error_and_no_run_is_left(flow_runner, headwater_env):
    path = flow_runner.write(
        """
from headwater import FlowSpec, step

class IdFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
"""
    )
    done = subprocess.run(
        [sys.executable, str(path), "run", "--run-id-file", str(headwater_env / "no" / "such" / "dir" / "id")],
        capture_output=True,
        text=True,
        cwd=headwater_env,
    )
    assert done.returncode == 1
    assert "Cannot write --run-id-file" in done.stderr and "Traceback" not in done.stderr
    # Checked before anything is written: no half-created run blocks a later `resume` (issue 6, item 7).
    assert not (headwater_env / ".headwater" / "IdFlow" / "runs").exists()


def test_datastore_root_that_cannot_be_written(flow_runner, headwater_env):
    blocker = headwater_env / "blocker"
    blocker.write_text("a file, not a folder")
    path = flow_runner.write(
        """
from headwater import FlowSpec, step

class RootFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
"""
    )
    result = flow_runner.run(path, "--datastore-root", str(blocker / "store"), "run")
    assert result.returncode == 1
    assert "Datastore error: Cannot write" in result.stderr and "Traceback" not in result.stderr


def test_a_committed_attempt_is_not_committed_twice(flow_runner):
    path = flow_runner.write(
        """
from headwater import FlowSpec, step

class OnceFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
"""
    )
    result = flow_runner.run(path, "run")
    task = result.run["start"].task
    # Reopen the run: a step run into an ended run is discarded before it gets to try committing.
    (path.parent / ".headwater" / "OnceFlow" / "runs" / result.run_id / "end.json").unlink()
    again = subprocess.run(
        [
            sys.executable,
            str(path),
            "step",
            "start",
            "--run-id",
            result.run_id,
            "--task-id",
            task.id,
            "--input-paths",
            encode_input_paths(task._record["input_paths"]),
        ],
        capture_output=True,
        text=True,
    )
    assert again.returncode == 1
    assert "was already committed" in again.stderr


def test_name_is_reserved_with_a_clear_message(flow_runner):
    path = flow_runner.write(
        """
from headwater import FlowSpec, step

class NameFlow(FlowSpec):
    @step
    def start(self):
        self.name = "my model"
        self.next(self.end)

    @step
    def end(self):
        pass
"""
    )
    result = flow_runner.run(path, "run")
    assert result.returncode == 1
    assert "`name` is reserved: it is the flow's name." in result.output


def test_failed_run_is_not_finished_but_has_a_status(flow_runner):
    path = flow_runner.write(
        """
from headwater import FlowSpec, step

class FailFlow(FlowSpec):
    @step
    def start(self):
        raise ValueError("no")
        self.next(self.end)

    @step
    def end(self):
        pass
"""
    )
    run = flow_runner.run(path, "run").run
    assert (run.finished, run.successful, run.status, run.finished_at) == (False, False, "failed", None)


def test_merge_include_accepts_a_name_set_in_the_join(flow_runner):
    path = flow_runner.write(
        """
from headwater import FlowSpec, step

class MergeSetFlow(FlowSpec):
    @step
    def start(self):
        self.shared = "same"
        self.next(self.a, self.b)

    @step
    def a(self):
        self.next(self.join)

    @step
    def b(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.fresh = "set here"
        self.merge_artifacts(inputs, include=["shared", "fresh"])
        self.next(self.end)

    @step
    def end(self):
        pass
"""
    )
    result = flow_runner.run(path, "run")
    assert result.returncode == 0, result.output
    assert (result.run.data.shared, result.run.data.fresh) == ("same", "set here")


OPTION_PLUGIN = """
import click
from headwater import hookimpl

@hookimpl
def register_flow_options(register):
    register(click.Option(["--hw-level"], type=int, default=5))
    register(click.Option(["--hw-label"], multiple=True))

@hookimpl
def register_current_fields(task, register):
    register("level", task.options.get("hw_level"))
    register("labels", list(task.options.get("hw_label") or []))

@hookimpl
def launch_task(attempt, command):
    if attempt.step.name == "refused":
        raise RuntimeError("no credentials for the remote queue")
"""


def test_plugin_options_reach_tasks_and_a_refused_launch_fails_the_task(flow_runner, headwater_env, monkeypatch):
    site = headwater_env / "site"
    site.mkdir()
    install_plugin(site, "hwtest_options", OPTION_PLUGIN)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("HEADWATER_LOAD_PLUGINS", "hwtest_options")
    path = flow_runner.write(
        """
from headwater import FlowSpec, current, step, Parameter

class OptionFlow(FlowSpec):
    target = Parameter("target", default="end")

    @step
    def start(self):
        self.seen = (current.level, current.labels)
        self.next({"end": self.end, "refused": self.refused}, condition="target")

    @step
    def refused(self):
        self.next(self.end)

    @step
    def end(self):
        pass
"""
    )
    ok = flow_runner.run(path, "--hw-level", "0", "--hw-label", "a", "--hw-label", "b", "run")
    assert ok.returncode == 0, ok.output
    assert ok.run["start"].task.data.seen == (0, ["a", "b"])
    refused = flow_runner.run(path, "run", "--target", "refused")
    assert refused.returncode == 1
    assert (
        "could not be started: Plugin 'hwtest_options' failed in its launch_task hook: "
        "RuntimeError: no credentials for the remote queue. Update or fix the plugin, "
        "or switch it off with HEADWATER_DISABLE_PLUGINS=hwtest_options." in refused.output
    )
    assert refused.run.status == "failed"
