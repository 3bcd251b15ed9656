"""The plugin API v1, exercised by real third-party plugins installed as distributions.

Each plugin here imports only ``headwater`` and ``headwater.plugin``, as a published plugin must: it takes
over launching a step through a ``TaskHandle`` (output, state, failure reason, metadata), wraps commands,
records task metadata, refuses runs before anything is written, adds run tags, registers a flow
decorator, runs one task on several hosts, and drives a whole run as a deployer would, from the
generated container commands alone.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from headwater.testing import install_plugin

#: A compute plugin: `@remote` steps run as "jobs" in a fresh directory (a stand-in for a container),
#: from the container command, their output tailed from files as a remote log would be.
REMOTE_PLUGIN = '''
import os
import subprocess
import sys
import tempfile

from headwater.plugin import (
    HeadwaterError,
    StepDecorator,
    TaskHandle,
    hookimpl,
    task_command,
)


class RemoteDecorator(StepDecorator):
    name = "remote"
    defaults = {"hosts": 1, "queue_seconds": 0}


class JobHandle(TaskHandle):
    """One job per host; QUEUED until the first poll, then RUNNING; output read from log files."""

    poll_interval = 0.05

    def __init__(self, command, job_id, hosts, queue_seconds):
        super().__init__()
        import time
        self.state = "QUEUED"
        self.job_id = job_id
        self.metadata = {"job-id": job_id}
        self.command, self.hosts = command, hosts
        self.start_at = time.time() + queue_seconds  # the job waits in a queue before it runs
        self.procs, self.logs, self.offsets = [], [], []
        self.cancelled = False

    def _start(self):
        command, hosts, job_id = self.command, self.hosts, self.job_id
        self.workdir = tempfile.mkdtemp(prefix="hwtest-job-")
        env = {**os.environ, **command.env, "HWTEST_JOB_ID": job_id}
        env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
        for host in range(hosts):
            host_command = command.for_host(host, hosts) if hosts > 1 else command
            hostdir = os.path.join(self.workdir, str(host))
            os.makedirs(hostdir)
            out, err = (open(os.path.join(hostdir, name), "wb") for name in ("stdout", "stderr"))
            self.procs.append(
                subprocess.Popen(["/bin/sh", "-c", host_command.shell()], cwd=hostdir, env=env, stdout=out, stderr=err)
            )
            self.logs += [("stdout", out.name), ("stderr", err.name)]
            self.offsets += [0, 0]

    def read_output(self):
        import time
        if self.state == "QUEUED" and time.time() >= self.start_at and not self.cancelled:
            self._start()
            self.state = "RUNNING"
            self.running_since = time.time()
        chunks = []
        for i, (stream, path) in enumerate(self.logs):
            with open(path, "rb") as f:
                f.seek(self.offsets[i])
                data = f.read()
            self.offsets[i] += len(data)
            if data:
                chunks.append((stream, data))
        return chunks

    def poll(self):
        failures = int(os.environ.get("HWTEST_POLL_FAILS", "0"))
        self.polls = getattr(self, "polls", 0) + 1
        if self.polls <= failures:
            raise ConnectionError("throttled by the job API")
        if self.cancelled and not self.procs:  # terminated while it waited in the queue
            self.reason = f"job {self.job_id} was terminated while queued"
            return 143
        codes = [p.poll() for p in self.procs]
        if not codes or any(c is None for c in codes):
            return None
        code = next((c for c in codes if c), 0)
        if code:
            self.reason = f"job {self.job_id} failed: exit code {code} (OutOfMemoryError: container killed)"
        return code

    def kill(self, force=False):
        self.cancelled = True
        for p in self.procs:
            p.kill() if force else p.terminate()


@hookimpl
def register_step_decorators(register):
    register(RemoteDecorator)


@hookimpl
def launch_task(attempt, command):
    deco = attempt.step.decorator("remote")
    if deco is None:
        return None
    job_id = f"job-{attempt.step.name}-{attempt.task_id}-{attempt.attempt}"
    return JobHandle(task_command(attempt, where="container"), job_id, deco["hosts"], deco["queue_seconds"])


@hookimpl
def register_task_metadata(task, register):
    if "HWTEST_JOB_ID" in os.environ:
        register("remote-job", os.environ["HWTEST_JOB_ID"])


@hookimpl
def check_run(run):
    if os.environ.get("HWTEST_NO_QUEUE") and any(n.decorator("remote") for n in run.graph):
        raise HeadwaterError(f"{run.flow_name} has @remote steps but no job queue.", "Set HWTEST_QUEUE.")


@hookimpl
def register_run_tags(run, register):
    register("remote-plugin")
    register("launcher:remote", system=True)
'''

REMOTE_FLOW = """
import os, sys
from headwater import FlowSpec, Parameter, current, remote, step

class RemoteFlow(FlowSpec):
    crash = Parameter("crash", default=False)

    @step
    def start(self):
        self.x = 20
        self.next(self.far)

    @remote
    @step
    def far(self):
        print("far away, then no newline", end="")
        self.y = self.x + 1
        self.where = os.getcwd()
        if self.crash:
            os._exit(137)
        self.next(self.end)

    @step
    def end(self):
        self.total = self.y + 1
"""


@pytest.fixture
def remote_plugin(headwater_env, monkeypatch):
    site = headwater_env / "site"
    install_plugin(site, "hwtest_remote", REMOTE_PLUGIN)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("HEADWATER_LOAD_PLUGINS", "hwtest_remote")
    return site


def test_a_plugin_launches_a_step_through_its_handle(flow_runner, remote_plugin, headwater_env):
    path = flow_runner.write(REMOTE_FLOW)
    result = flow_runner.run(path, "run")
    assert result.returncode == 0, result.output
    run = result.run
    far = run["far"].task
    assert (far.data.y, run.data.total) == (21, 22)
    assert Path(far.data.where).name == "0" and "hwtest-job-" in far.data.where  # ran in the job's folder
    # The live view announced the job's states; its output was streamed with the usual prefix.
    assert f"[far/{far.id}] QUEUED" in result.output and f"[far/{far.id}] RUNNING" in result.output
    assert f"[far/{far.id}] far away, then no newline" in result.output
    assert "far away, then no newline" in far.stdout
    # Metadata from the launcher (scheduling process) and from the task (in the job), through the client.
    job_id = f"job-far-{far.id}-0"
    assert far.metadata_dict["job-id"] == job_id
    assert far.metadata_dict["remote-job"] == job_id
    assert {m.name for m in far.metadata} >= {"attempt", "host", "pid", "job-id", "remote-job"}
    assert "remote-job" not in run["start"].task.metadata_dict  # a local task has none
    # Run tags added by the plugin: a user tag and an immutable system tag.
    assert "remote-plugin" in run.user_tags and "launcher:remote" in run.system_tags


def test_a_failed_job_reports_the_launchers_reason(flow_runner, remote_plugin):
    path = flow_runner.write(REMOTE_FLOW)
    result = flow_runner.run(path, "run", "--crash", "true")
    assert result.returncode == 1
    far = result.run["far"].task
    reason = f"job job-far-{far.id}-0 failed: exit code 137 (OutOfMemoryError: container killed)"
    assert reason[0].upper() + reason[1:] + "." in result.output  # shown under the failure header
    assert far.exception.message == reason
    assert far.metadata_dict["job-id"] == f"job-far-{far.id}-0"


def test_a_plugin_refuses_a_run_before_anything_is_written(flow_runner, remote_plugin, headwater_env, monkeypatch):
    monkeypatch.setenv("HWTEST_NO_QUEUE", "1")
    path = flow_runner.write(REMOTE_FLOW)
    result = flow_runner.run(path, "run")
    assert result.returncode == 1
    assert "RemoteFlow has @remote steps but no job queue." in result.stderr and "Set HWTEST_QUEUE." in result.stderr
    assert "Traceback" not in result.output
    assert not (headwater_env / ".headwater" / "RemoteFlow" / "runs").exists()


def test_one_task_on_several_hosts_commits_once(flow_runner, remote_plugin):
    path = flow_runner.write(
        """
import os
from headwater import FlowSpec, Parameter, current, remote, step

class HostsFlow(FlowSpec):
    fail_host = Parameter("fail_host", default=-1)

    @step
    def start(self):
        self.next(self.train)

    @remote(hosts=2)
    @step
    def train(self):
        self.parallel = tuple(current.parallel)
        print("host", current.parallel.node_index)
        if current.parallel.node_index == self.fail_host:
            raise RuntimeError("this host broke")
        self.next(self.end)

    @step
    def end(self):
        pass
"""
    )
    ok = flow_runner.run(path, "run")
    assert ok.returncode == 0, ok.output
    train = ok.run["train"].task
    assert train.data.parallel == ("127.0.0.1", 2, 0)  # host 0's artifacts are the task's
    assert "host 0" in train.stdout and "host 1" in train.stdout
    ds = ok.run._ds
    assert ds.host_done(ok.run.id, "train", train.id, 0, 1)["ok"] is True
    broken = flow_runner.run(path, "run", "--fail_host", "1")
    assert broken.returncode == 1
    task = broken.run["train"].task
    assert not task.successful
    assert "1 of 1 other hosts did not succeed: host 1 (RuntimeError: this host broke)" in task.exception.message


OWNER_PLUGIN = """
from headwater.plugin import DecoratorError, FlowDecorator, hookimpl


class OwnerDecorator(FlowDecorator):
    name = "owner"
    defaults = {"team": None}

    def validate(self):
        if not isinstance(self.attributes["team"], str):
            raise DecoratorError(f"@owner(team={self.attributes['team']!r}) needs a team name.", "Write @owner(team='ml').")


@hookimpl
def register_flow_decorators(register):
    register(OwnerDecorator)


@hookimpl
def register_current_fields(task, register):
    for deco in task.graph.flow_decorators:
        if deco.name == "owner":
            register("team", deco["team"])
"""


def test_a_plugins_flow_decorator_is_importable_and_validated(flow_runner, headwater_env, monkeypatch):
    site = headwater_env / "site"
    install_plugin(site, "hwtest_owner", OWNER_PLUGIN)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("HEADWATER_LOAD_PLUGINS", "hwtest_owner")
    source = """
from headwater import FlowSpec, current, owner, project, step

@owner(team=TEAM)
@project(name="fraud")
class OwnedFlow(FlowSpec):
    @step
    def start(self):
        self.team = current.team
        self.project = (current.project_name, current.branch_name)
        self.next(self.end)

    @step
    def end(self):
        pass
"""
    path = flow_runner.write(source.replace("TEAM", '"ml"'))
    result = flow_runner.run(path, "run")
    assert result.returncode == 0, result.output
    start = result.run["start"].task
    assert start.data.team == "ml"
    assert start.data.project == ("fraud", f"user.{result.run._record['user']}")
    assert "project:fraud" in result.run.system_tags  # the built-in @project works through the same seams
    assert "@owner(team='ml')" in flow_runner.run(path, "show").stdout
    bad = flow_runner.run(flow_runner.write(source.replace("TEAM", "5"), "bad.py"), "check")
    assert bad.returncode == 1
    assert "bad.py:3: OwnedFlow: @owner(team=5) needs a team name. Write @owner(team='ml')." in bad.stderr


BROKEN_PLUGIN = """
from headwater.plugin import hookimpl

@hookimpl
def register_step_decorators(register):
    raise RuntimeError("decorator table missing")

@hookimpl
def check_graph(graph, flow, options):
    raise KeyError("rules")
"""


def test_a_plugin_that_raises_in_a_hook_is_named(flow_runner, headwater_env, monkeypatch):
    site = headwater_env / "site"
    install_plugin(site, "hwtest_broken", BROKEN_PLUGIN)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]))
    monkeypatch.setenv("HEADWATER_LOAD_PLUGINS", "hwtest_broken")
    path = flow_runner.write(
        """
from headwater import FlowSpec, retry, step

class SafeFlow(FlowSpec):
    @retry(times=1)
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
"""
    )
    result = flow_runner.run(path, "check")
    assert result.returncode == 1
    assert "Traceback" not in result.output
    # The registry failure is a warning naming the plugin; the built-in decorators still resolve.
    assert (
        "Plugin 'hwtest_broken' failed in its register_step_decorators hook: RuntimeError: decorator table missing"
        in result.stderr
    )
    assert "Plugin 'hwtest_broken' failed in its check_graph hook: KeyError: 'rules'" in result.stderr
    assert "HEADWATER_DISABLE_PLUGINS=hwtest_broken" in result.stderr
    disabled = flow_runner.run(path, "run", env={"HEADWATER_DISABLE_PLUGINS": "hwtest_broken"})
    assert disabled.returncode == 0, disabled.output


def test_the_test_kit_loads_the_plugin_under_test(pytester_env_with_plugin):
    loaded, load_plugins = pytester_env_with_plugin
    assert load_plugins == "hwtest_kit"
    assert loaded == ["hwtest_kit"]


@pytest.fixture
def pytester_env_with_plugin(tmp_path, monkeypatch):
    """``headwater_env`` must load the plugin named in HEADWATER_TEST_LOAD_PLUGINS (a plugin's own tests)."""
    site = tmp_path / "kit-site"
    install_plugin(site, "hwtest_kit", "from headwater.plugin import hookimpl\n")
    code = (
        "import os, json\n"
        "from headwater import plugins\n"
        "infos, _ = plugins.plugin_infos()\n"
        "print(json.dumps([[i.name for i in infos if not i.builtin], os.environ['HEADWATER_LOAD_PLUGINS']]))\n"
    )
    test_file = tmp_path / "test_kit_probe.py"
    test_file.write_text(
        "import subprocess, sys\n"
        "def test_probe(headwater_env):\n"
        f"    out = subprocess.run([sys.executable, '-c', {code!r}], capture_output=True, text=True, check=True)\n"
        "    open('probe.json', 'w').write(out.stdout)\n"
        "    import shutil; shutil.copy('probe.json', " + repr(str(tmp_path / "probe.json")) + ")\n"
    )
    env = {
        **os.environ,
        "HEADWATER_TEST_LOAD_PLUGINS": "hwtest_kit",
        "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test_file)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    loaded, load_plugins = json.loads((tmp_path / "probe.json").read_text())
    return loaded, load_plugins


@pytest.mark.slow
def test_time_a_job_waits_in_a_queue_does_not_count_against_its_timeout(flow_runner, remote_plugin):
    """The runtime's own deadline for @timeout(seconds=1) is 6 s; the job waits 7 s before it runs."""
    path = flow_runner.write(
        """
from headwater import FlowSpec, remote, step, timeout

class QueuedFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.far)

    @timeout(seconds=1)
    @remote(queue_seconds=7)
    @step
    def far(self):
        self.ran = True
        self.next(self.end)

    @step
    def end(self):
        pass
"""
    )
    result = flow_runner.run(path, "run")
    assert result.returncode == 0, result.output
    assert result.run["far"].task.data.ran is True


def test_registering_a_plugin_rebuilds_the_flow_cli(tmp_path, monkeypatch):
    """A plugin registered at run time (a test, a notebook) sees its commands in the flow's CLI."""
    import click

    from headwater import hookimpl, plugins
    from headwater.cli.flow_cli import build_cli
    from headwater.testing import write_flow

    monkeypatch.setenv("HEADWATER_LOAD_PLUGINS", "")
    plugins.reset()
    flow_file = write_flow(
        tmp_path,
        "from headwater import FlowSpec, step\n\nclass CliFlow(FlowSpec):\n    @step\n    def start(self):\n        self.next(self.end)\n\n    @step\n    def end(self):\n        pass\n",
    )
    import importlib.util

    spec = importlib.util.spec_from_file_location("cli_flow_module", flow_file)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "cli_flow_module", module)
    spec.loader.exec_module(module)
    assert "hello" not in build_cli(module.CliFlow).commands

    class HelloPlugin:
        @hookimpl
        def register_flow_commands(self, cli, flow):
            cli.add_command(click.Command("hello", callback=lambda: None))

    name = plugins.register_plugin(HelloPlugin(), name="hello-plugin")
    try:
        assert "hello" in build_cli(module.CliFlow).commands
    finally:
        plugins.unregister_plugin(name)
        plugins.reset()


def test_a_launcher_whose_poll_fails_fails_its_attempt_not_the_run(flow_runner, remote_plugin):
    path = flow_runner.write(REMOTE_FLOW)
    flaky = flow_runner.run(path, "run", env={"HWTEST_POLL_FAILS": "3"})  # a throttled API, for a while
    assert flaky.returncode == 0, flaky.output
    lost = flow_runner.run(path, "run", env={"HWTEST_POLL_FAILS": "1000"})
    assert lost.returncode == 1
    assert "Traceback" not in lost.output
    far = lost.run["far"].task
    assert far.exception.message == "its launcher lost track of it: ConnectionError: throttled by the job API"
    assert lost.run.status == "failed"
