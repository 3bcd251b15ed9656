"""The runtime as a process: Ctrl-C, being killed, and two runs at once in one datastore."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from headwater.client import Run
from headwater.runtime.context import encode_input_paths

pytestmark = pytest.mark.slow

SLEEPY = """
import os, time
from pathlib import Path
from headwater import FlowSpec, step, Parameter

MARKERS = Path(os.environ["MARKERS"])

class SleepyFlow(FlowSpec):
    fast = Parameter("fast", default="0,1")

    @step
    def start(self):
        self.items = [0, 1, 2, 3]
        self.next(self.body, foreach="items")

    @step
    def body(self):
        (MARKERS / f"started-{self.input}").write_text(str(os.getpid()))
        fast = {int(x) for x in self.fast.split(",") if x}
        if self.input not in fast and not os.environ.get("NO_SLEEP"):
            time.sleep(60)
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


def wait_for(condition, timeout=30, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is not alive for our purpose
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] != "Z"
    except OSError:
        return True


@pytest.fixture
def sleepy(flow_runner, headwater_env, monkeypatch):
    markers = headwater_env / "markers"
    markers.mkdir()
    monkeypatch.setenv("MARKERS", str(markers))
    return flow_runner.write(SLEEPY), markers


def start(path, *args, **kwargs):
    run_id_file = Path(path).parent / f"run-id-{time.time_ns()}"
    proc = subprocess.Popen(
        [sys.executable, str(path), "run", "--max-workers", "2", "--run-id-file", str(run_id_file), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **kwargs,
    )
    wait_for(lambda: run_id_file.exists() and run_id_file.read_text(), what="the run to start")
    return proc, run_id_file.read_text()


def task_pids(markers, indices):
    return [int((markers / f"started-{i}").read_text()) for i in indices]


def no_temp_files(root):
    return [p for p in Path(root).rglob(".tmp-*")]


def test_ctrl_c_stops_every_task_and_fails_the_run(sleepy, headwater_env):
    path, markers = sleepy
    proc, run_id = start(path, "--fast", "")
    wait_for(lambda: (markers / "started-0").exists() and (markers / "started-1").exists(), what="two tasks")
    pids = task_pids(markers, [0, 1])
    proc.send_signal(signal.SIGINT)
    output, _ = proc.communicate(timeout=30)
    assert proc.returncode == 130, output
    assert "was interrupted" in output
    wait_for(lambda: not any(alive(p) for p in pids), timeout=10, what="tasks to stop")
    run = Run(f"SleepyFlow/{run_id}", _namespace_check=False)
    # The console, the end record and Run.status use one word for it (issue 6, item 18).
    assert run.status == "interrupted" and not run.successful
    assert run._end["reason"] == "interrupted"
    bodies = list(run["body"])
    assert len(bodies) == 2 and all(not t.successful for t in bodies)
    assert all("interrupted" in t.exception.message for t in bodies)
    assert not (markers / "started-2").exists()  # nothing new was launched
    assert no_temp_files(headwater_env / ".headwater") == []


def test_killed_runtime_takes_its_tasks_along_and_resume_finishes(sleepy, headwater_env):
    path, markers = sleepy
    proc, run_id = start(path)
    wait_for(lambda: (markers / "started-2").exists() and (markers / "started-3").exists(), what="slow tasks")
    slow_pids = task_pids(markers, [2, 3])
    proc.kill()  # SIGKILL: no chance to clean up
    proc.communicate(timeout=10)
    wait_for(lambda: not any(alive(p) for p in slow_pids), timeout=15, what="orphaned tasks to die")

    killed = Run(f"SleepyFlow/{run_id}", _namespace_check=False)
    assert not killed.finished
    assert killed.status == "stopped"
    finished = sorted(t.data.value for t in killed["body"] if t.successful)
    assert finished == [0, 10]

    for name in ("started-0", "started-1", "started-2", "started-3"):
        (markers / name).unlink()
    resumed = subprocess.run(
        [sys.executable, str(path), "resume", "--origin-run-id", run_id],
        capture_output=True,
        text=True,
        env={**os.environ, "NO_SLEEP": "1"},
        timeout=60,
    )
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "clone:  start (1 task), body (2 tasks)" in resumed.stdout
    assert sorted(p.name for p in markers.iterdir()) == ["started-2", "started-3"]  # only these re-ran
    latest = next(r for r in Run(f"SleepyFlow/{run_id}", _namespace_check=False)._ds.run_ids() if r != run_id)
    assert Run(f"SleepyFlow/{latest}", _namespace_check=False).data.values == [0, 10, 20, 30]
    assert no_temp_files(headwater_env / ".headwater") == []


def test_two_runs_of_one_flow_at_once(flow_runner):
    path = flow_runner.write(
        """
import time
from headwater import FlowSpec, step, Parameter

class TwinFlow(FlowSpec):
    base = Parameter("base", default=0)

    @step
    def start(self):
        self.items = list(range(6))
        self.next(self.body, foreach="items")

    @step
    def body(self):
        time.sleep(0.05)
        self.value = self.base + self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.value for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass
"""
    )
    procs = [
        subprocess.Popen(
            [sys.executable, str(path), "run", "--base", str(base), "--run-id-file", str(path.parent / f"id-{base}")],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for base in (100, 1000)
    ]
    outputs = [p.communicate(timeout=60)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    ids = [(path.parent / f"id-{base}").read_text() for base in (100, 1000)]
    assert ids[0] != ids[1]
    totals = [Run(f"TwinFlow/{i}", _namespace_check=False).data.total for i in ids]
    assert totals == [600 + 15, 6000 + 15]


LEAVER = """
import multiprocessing, os, signal, subprocess, time
from pathlib import Path
from headwater import FlowSpec, step

MARKERS = Path(os.environ["MARKERS"])


def square(x):
    return x * x


class LeaverFlow(FlowSpec):
    @step
    def start(self):
        self.items = [0, 1]
        self.next(self.body, foreach="items")

    @step
    def body(self):
        mode = os.environ["MODE"]
        pids = [subprocess.Popen(["sleep", "300"]).pid]
        # A daemon that left the task's process group and whose parent is gone.
        daemon = MARKERS / f"daemon-{self.input}"
        subprocess.run(["sh", "-c", f"sleep 300 & echo $! > {daemon}"], start_new_session=True, check=True)
        pids.append(int(daemon.read_text()))
        if mode == "pool":
            pool = multiprocessing.get_context("fork").Pool(2)
            assert pool.map(square, [1, 2]) == [1, 4]
            pids += [p.pid for p in pool._pool]
        if mode == "ignore":
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        (MARKERS / f"pids-{self.input}").write_text(" ".join(map(str, pids)))
        (MARKERS / f"started-{self.input}").write_text(str(os.getpid()))
        if mode != "normal":
            time.sleep(3)  # the runtime is killed meanwhile
        self.value = self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        self.values = [i.value for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        pass
"""


@pytest.fixture
def leaver(flow_runner, headwater_env, monkeypatch):
    markers = headwater_env / "markers"
    markers.mkdir()
    monkeypatch.setenv("MARKERS", str(markers))
    return flow_runner.write(LEAVER), markers


def step_pids(markers):
    return [int(p) for i in (0, 1) for p in (markers / f"pids-{i}").read_text().split()]


def test_processes_a_step_leaves_behind_end_with_it(leaver, monkeypatch):
    path, markers = leaver
    monkeypatch.setenv("MODE", "normal")
    proc, _ = start(path)
    output, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, output
    pids = step_pids(markers)
    assert len(pids) == 4
    wait_for(lambda: not any(alive(p) for p in pids), timeout=30, what="the step's processes to end")


@pytest.mark.parametrize("mode", ["pool", "ignore"])
def test_killed_runtime_takes_every_process_of_the_run_along(leaver, monkeypatch, mode):
    path, markers = leaver
    monkeypatch.setenv("MODE", mode)
    proc, run_id = start(path)
    wait_for(lambda: (markers / "started-0").exists() and (markers / "started-1").exists(), what="two tasks")
    tasks = task_pids(markers, [0, 1])
    pids = step_pids(markers)
    assert len(pids) == (8 if mode == "pool" else 4)
    proc.kill()
    proc.communicate(timeout=10)
    wait_for(lambda: not any(alive(p) for p in tasks + pids), timeout=30, what="every process of the run to end")
    killed = Run(f"LeaverFlow/{run_id}", _namespace_check=False)
    # The tasks have exited, so any commit they made is there: none may be (one ignoring SIGTERM did).
    assert [t.successful for t in killed["body"]] == [False, False]
    assert killed.status == "stopped"


def test_a_task_told_to_stop_does_not_commit_even_if_it_ignores_sigterm(leaver, monkeypatch):
    path, markers = leaver
    monkeypatch.setenv("MODE", "ignore")
    proc, run_id = start(path)
    wait_for(lambda: (markers / "started-0").exists() and (markers / "started-1").exists(), what="two tasks")
    proc.send_signal(signal.SIGINT)  # the tasks ignore the SIGTERM that follows; they finish within the grace
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, output
    assert output.count("the runtime told it to stop; this attempt's result is discarded") == 2, output
    run = Run(f"LeaverFlow/{run_id}", _namespace_check=False)
    assert [t.successful for t in run["body"]] == [False, False]
    assert run.status == "interrupted"


def test_nothing_commits_into_a_run_that_has_ended(flow_runner):
    path = flow_runner.write(
        """
from headwater import FlowSpec, step

class EndedFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
"""
    )
    result = flow_runner.run(path, "run")
    assert result.returncode == 0
    task = result.run["start"].task
    late = subprocess.run(
        [sys.executable, str(path), "step", "start", "--run-id", result.run_id, "--task-id", "99"]
        + ["--input-paths", encode_input_paths(task._record["input_paths"])],
        capture_output=True,
        text=True,
    )
    assert "the run already ended (succeeded); this attempt's result is discarded" in late.stderr, late.stderr
    ds = Run(f"EndedFlow/{result.run_id}", _namespace_check=False)._ds
    assert ds.attempt_done(result.run_id, "start", "99", 0) is None


def test_running_out_of_file_descriptors_throttles_launches(flow_runner):
    import resource

    path = flow_runner.write(
        """
import time
from headwater import FlowSpec, step

class ManyFlow(FlowSpec):
    @step
    def start(self):
        self.items = list(range(40))
        self.next(self.body, foreach="items")

    @step
    def body(self):
        time.sleep(0.2)
        self.value = self.input * 2
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(i.value for i in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass
"""
    )
    run_id_file = path.parent / "run-id"
    result = subprocess.run(
        [sys.executable, str(path), "run", "--max-workers", "20", "--run-id-file", str(run_id_file)],
        capture_output=True,
        text=True,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64)),
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Out of file descriptors with " in result.stdout + result.stderr
    assert "raise the limit (now 64) with `ulimit -n 4096` or lower --max-workers." in result.stdout + result.stderr
    run = Run(f"ManyFlow/{run_id_file.read_text()}", _namespace_check=False)
    assert run.data.total == 2 * sum(range(40))
    assert len(list(run["body"])) == 40

    # So few descriptors that not even one task can start: the run fails, saying what to do.
    starved = subprocess.run(
        [sys.executable, str(path), "run", "--max-workers", "20"],
        capture_output=True,
        text=True,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (8, 8)),
        timeout=300,
    )
    assert starved.returncode == 1, starved.stdout + starved.stderr
    assert (
        "The task could not be started: OSError: [Errno 24] Too many open files. Each running task holds 3 of the "
        "runtime's open files; raise the limit (now 8) with `ulimit -n 4096` or lower --max-workers.\n"
    ) in starved.stdout + starved.stderr
