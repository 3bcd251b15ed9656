"""Issue 6 end to end: ids that would leave the datastore, damaged records, concurrent tags, broken runs."""

from __future__ import annotations

import time

import pytest

from headwater import Flow, Run, namespace
from headwater.client import DamagedRunWarning
from headwater.datastore.local import LocalStorage
from headwater.datastore.records import FlowDatastore
from headwater.exceptions import DatastoreError, InvalidIdError, TagError

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


# -- damaged records ---------------------------------------------------------------------------------------


def _done_records(headwater_env, flow, run_id, step):
    return sorted((headwater_env / ".headwater" / flow / "runs" / run_id / step).glob("*/0.done.json"))


def test_a_flipped_digit_in_a_done_record_stops_resume_and_the_client(flow_runner, safe_run, headwater_env):
    path, result = safe_run
    (last,) = [
        p for p in _done_records(headwater_env, "SafeFlow", result.run_id, "body") if b'"index":3' in p.read_bytes()
    ]
    last.write_bytes(last.read_bytes().replace(b'"index":3', b'"index":2'))
    resumed = flow_runner.run(path, "resume", "--origin-run-id", result.run_id)
    assert resumed.returncode == 1, resumed.output
    assert f"{last} is damaged" in resumed.stderr and "checksum" in resumed.stderr
    assert "Traceback" not in resumed.stderr
    namespace(None)
    task = Run(f"SafeFlow/{result.run_id}")["body"][last.parent.name]
    with pytest.raises(DatastoreError, match="does not match its checksum"):
        _ = task.index


def test_one_damaged_run_does_not_break_listing_the_others(flow_runner, safe_run, headwater_env):
    path, first = safe_run
    second = flow_runner.run(path, "run")
    third = flow_runner.run(path, "run")
    runs = headwater_env / ".headwater" / "SafeFlow" / "runs"
    (runs / third.run_id / "run.json").write_text('["not", "a", "run"]')
    damaged = rf"SafeFlow/{third.run_id}: The record .*run\.json is damaged"
    with pytest.warns(DamagedRunWarning, match=damaged):  # the default namespace reads records to filter
        assert [r.id for r in Flow("SafeFlow")] == [second.run_id, first.run_id]
    with pytest.warns(DamagedRunWarning, match=damaged):
        assert Flow("SafeFlow").latest_run.id == second.run_id
    namespace(None)  # listing reads no record: the damaged run is listed, and reading it says why
    listed = list(Flow("SafeFlow"))
    assert [r.id for r in listed] == [third.run_id, second.run_id, first.run_id]
    with pytest.raises(DatastoreError, match=r"run\.json is damaged"):
        _ = listed[0].created_at
    with pytest.warns(DamagedRunWarning, match=damaged):
        assert Flow("SafeFlow").latest_run.id == second.run_id
    (runs / second.run_id / "end.json").write_text("{}")
    with pytest.warns(DamagedRunWarning) as warned:
        assert Flow("SafeFlow").latest_successful_run.id == first.run_id
    messages = [str(w.message) for w in warned]
    assert any(f"SafeFlow/{third.run_id}: " in m and "run.json is damaged" in m for m in messages)
    assert any(f"SafeFlow/{second.run_id}: " in m and "end.json is damaged" in m for m in messages)
    listing = flow_runner.run(path, "tag", "list")
    assert listing.returncode == 0, listing.output
    assert f"skipped run SafeFlow/{third.run_id}" in listing.stderr and "Traceback" not in listing.stderr
    assert f"SafeFlow/{first.run_id}" in listing.stdout and f"SafeFlow/{second.run_id}" in listing.stdout


def test_a_half_created_run_is_listed_as_stopped_and_readable(flow_runner, safe_run, headwater_env):
    import os
    import signal
    import socket
    import subprocess
    import sys

    _, done = safe_run
    ds = FlowDatastore(LocalStorage(str(headwater_env / ".headwater")), "SafeFlow")
    runtime = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        record = {"created_at": time.time(), "runtime": {"pid": runtime.pid, "host": socket.gethostname()}}
        half = ds.create_run({"flow": "SafeFlow", **record})
        # The runtime is killed before it writes its parameters, and its parent has not reaped it yet.
        os.kill(runtime.pid, signal.SIGKILL)
        os.waitid(os.P_PID, runtime.pid, os.WEXITED | os.WNOWAIT)
        namespace(None)
        runs = list(Flow("SafeFlow"))
        assert [r.id for r in runs] == [half, done.run_id]
        run = runs[0]
        assert run.status == "stopped"
        assert (run.successful, run.finished, run.data, run.end_task, run.parameters) == (False, False, None, None, {})
        assert list(run.steps()) == [] and run.tags == []
    finally:
        runtime.wait()


def test_status_is_stopped_when_the_runtimes_pid_was_reused(headwater_env):
    import os
    import socket

    ds = FlowDatastore(LocalStorage(str(headwater_env / ".headwater")), "SafeFlow")
    host = socket.gethostname()
    # This test's own process is alive, but it started long after this run was created: a reused pid.
    reused = ds.create_run({"created_at": 1_000_000.0, "runtime": {"pid": os.getpid(), "host": host}})
    alive = ds.create_run({"created_at": time.time(), "runtime": {"pid": os.getpid(), "host": host}})
    namespace(None)
    assert Run(f"SafeFlow/{reused}").status == "stopped"
    assert Run(f"SafeFlow/{alive}").status == "running"


# -- tags --------------------------------------------------------------------------------------------------


def test_twenty_concurrent_tag_adds_are_all_kept(flow_runner, safe_run):
    import subprocess
    import sys

    path, result = safe_run
    command = [sys.executable, str(path), "tag", "add", "--run-id", result.run_id]
    procs = [
        subprocess.Popen([*command, f"t{n}"], cwd=path.parent, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for n in range(20)
    ]
    outputs = [p.communicate() for p in procs]
    assert [p.returncode for p in procs] == [0] * 20, outputs
    namespace(None)
    assert Run(f"SafeFlow/{result.run_id}").user_tags == sorted(f"t{n}" for n in range(20))


def test_tag_commands_refuse_system_tags(flow_runner, safe_run):
    path, result = safe_run
    run = result.run
    run.add_tags(["x"])
    for args in (["add", "user:mallory"], ["replace", "x", "date:2020-01-01"]):
        out = flow_runner.run(path, "tag", args[0], "--run-id", result.run_id, *args[1:])
        assert out.returncode == 1 and "system tag" in out.stderr and "Traceback" not in out.stderr
    with pytest.raises(TagError):
        run.replace_tag("x", "user:mallory")
    assert run.user_tags == ["x"] and "user:mallory" not in run.tags


# -- code packages -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("with_filter", [True, False], ids=["python-filter", "no-filter"])
def test_extracting_a_code_package_never_writes_outside_its_folder(headwater_env, monkeypatch, with_filter):
    import io
    import tarfile

    from headwater.client.core import CodePackage
    from headwater.exceptions import HeadwaterError

    if not with_filter:  # Pythons before 3.10.12 have no extraction filter
        monkeypatch.delattr(tarfile, "data_filter", raising=False)
    ds = FlowDatastore(LocalStorage(str(headwater_env / ".headwater")), "SafeFlow")
    for name, kind in (("../escape.py", tarfile.REGTYPE), ("link.py", tarfile.SYMTYPE)):
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w:gz") as tar:
            info = tarfile.TarInfo(name)
            info.type = kind
            info.linkname = "/etc/passwd" if kind == tarfile.SYMTYPE else ""
            data = b"print('escaped')\n" if kind == tarfile.REGTYPE else b""
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        key = ds.cas.save([raw.getvalue()]).key
        out = headwater_env / "out" / "code"
        with pytest.raises(HeadwaterError, match="nothing was extracted"):
            CodePackage(ds, key, "flow.py").extract(str(out))
        assert not (headwater_env / "out" / "escape.py").exists()
        assert not (out / "link.py").is_symlink()
