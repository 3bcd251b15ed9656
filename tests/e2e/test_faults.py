"""Fault tests: the core under SIGKILLs, concurrency, damaged files and hostile ids, with bounded counts.

Each scenario uses a fixed random seed (printed) and prints one summary line, shown by ``pytest -s``.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from headwater import Flow, Run, Step, Task, namespace
from headwater.exceptions import CorruptBlobError, DatastoreError, InvalidIdError, NotFoundError

pytestmark = pytest.mark.slow

FLOW = """
import os, subprocess, time
from pathlib import Path
from headwater import FlowSpec, step


class FaultFlow(FlowSpec):
    @step
    def start(self):
        self.items = list(range(8))
        self.next(self.body, foreach="items")

    @step
    def body(self):
        markers = os.environ.get("MARKERS")
        if markers:  # a task, and a process it starts and leaves running: neither may outlive the run
            (Path(markers) / f"t-{os.getpid()}").touch()
            (Path(markers) / f"c-{subprocess.Popen(['sleep', '60']).pid}").touch()
        time.sleep(0.15)
        self.value = self.input * 10
        self.blob = [self.input] * 100
        self.next(self.join)

    @step
    def join(self, inputs):
        self.values = [i.value for i in inputs]
        self.next(self.end)

    @step
    def end(self):
        self.total = sum(self.values)
"""


def run_cmd(path: Path, *args: str, env: dict[str, str] | None = None, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(path), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=300,
        **kwargs,
    )


def start(path: Path, *args: str, env: dict[str, str] | None = None) -> tuple[subprocess.Popen, Path]:
    id_file = path.parent / f"id-{time.time_ns()}"
    proc = subprocess.Popen(
        [sys.executable, str(path), *args, "--max-workers", "2", "--run-id-file", str(id_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **(env or {})},
    )
    return proc, id_file


def wait_for(condition, timeout=60, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] != "Z"
    except OSError:
        return False


def result_of(run_id: str) -> tuple:
    run = Run(f"FaultFlow/{run_id}", _namespace_check=False)
    body = sorted((t.data.value, tuple(t.data.blob)) for t in run["body"] if t.successful)
    return run.data.values, run.data.total, body


@pytest.fixture
def fault_flow(flow_runner):
    namespace(None)
    return flow_runner.write(FLOW)


def test_random_sigkills_then_resume_give_the_clean_result(fault_flow, headwater_env):
    seed = 6001
    rng = random.Random(seed)
    clean = run_cmd(fault_flow, "run", "--run-id-file", str(fault_flow.parent / "clean-id"))
    assert clean.returncode == 0, clean.stdout + clean.stderr
    expected = result_of((fault_flow.parent / "clean-id").read_text())
    rounds, resumed_ok, runtime_kills, task_kills, leftovers = 10, 0, 0, 0, []
    for round_ in range(rounds):
        markers = headwater_env / f"markers-{round_}"
        markers.mkdir()
        proc, id_file = start(fault_flow, "run", env={"MARKERS": str(markers)})
        wait_for(lambda: any(markers.iterdir()), what="a task to start")
        time.sleep(rng.uniform(0.0, 0.6))
        running = [int(p.name[2:]) for p in markers.glob("t-*") if alive(int(p.name[2:]))]
        if rng.random() < 0.5 or not running:
            proc.kill()
            runtime_kills += 1
        else:
            os.kill(rng.choice(running), signal.SIGKILL)
            task_kills += 1
        proc.communicate(timeout=120)
        pids = [int(p.name[2:]) for p in markers.iterdir()]
        try:
            wait_for(lambda: not any(alive(p) for p in pids), timeout=20, what="the run's processes to end")
        except AssertionError:
            pass  # counted below
        leftovers += [p for p in pids if alive(p)]
        run_id = id_file.read_text()
        final = run_id
        for _ in range(5):
            if Run(f"FaultFlow/{final}", _namespace_check=False).successful:
                break
            resume_id = fault_flow.parent / f"resume-{time.time_ns()}"
            resumed = run_cmd(fault_flow, "resume", "--origin-run-id", final, "--run-id-file", str(resume_id))
            final = resume_id.read_text()
            assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        if result_of(final) == expected:
            resumed_ok += 1
    print(
        f"seed {seed}: {resumed_ok} of {rounds} SIGKILLs ({runtime_kills} of the runtime, {task_kills} of a task) "
        f"resumed to the clean result; {len(leftovers)} processes outlived their run"
    )
    assert (resumed_ok, leftovers) == (rounds, [])


def test_concurrent_runs_resumes_tags_and_reads(fault_flow):
    seed = 6002
    rng = random.Random(seed)
    base = run_cmd(fault_flow, "run", "--run-id-file", str(fault_flow.parent / "base-id"))
    assert base.returncode == 0, base.stderr
    base_id = (fault_flow.parent / "base-id").read_text()
    expected = result_of(base_id)
    procs = [start(fault_flow, "run")[0] for _ in range(2)]
    procs.append(start(fault_flow, "resume", "--origin-run-id", base_id)[0])
    tags = [f"t{i}-{rng.randrange(1000)}" for i in range(8)]
    taggers = [
        subprocess.Popen([sys.executable, str(fault_flow), "tag", "add", "--run-id", base_id, tag]) for tag in tags
    ]
    reads = read_errors = 0
    while any(p.poll() is None for p in procs + taggers):
        for run in Flow("FaultFlow").runs():
            reads += 1
            if run.successful:
                try:
                    assert run.data.total == expected[1]
                except Exception as e:  # counted and reported, never hidden
                    read_errors += 1
                    print(f"read error on {run.pathspec}: {type(e).__name__}: {e}")
        time.sleep(0.01)  # leave the runs some CPU
    codes = [p.wait(timeout=120) for p in procs + taggers]
    for p in procs:
        p.communicate()
    runs = list(Flow("FaultFlow").runs())
    finished = [r for r in runs if r.successful]
    same = sum(result_of(r.id) == expected for r in finished)
    kept = set(tags) <= set(Run(f"FaultFlow/{base_id}").user_tags)
    print(
        f"seed {seed}: {len(procs)} concurrent runs/resumes and {len(taggers)} tag adds; {same} of {len(finished)} "
        f"runs equal the clean result; {reads} client reads, {read_errors} failed; all tags kept: {kept}"
    )
    assert codes == [0] * len(codes)
    assert (len(finished), same, read_errors, kept) == (4, 4, 0, True)


def test_a_flipped_byte_in_a_blob_is_a_clear_error_and_rerunning_repairs_it(fault_flow, headwater_env):
    seed = 6003
    rng = random.Random(seed)
    clean = run_cmd(fault_flow, "run", "--run-id-file", str(fault_flow.parent / "id"))
    assert clean.returncode == 0, clean.stderr
    run_id = (fault_flow.parent / "id").read_text()
    producers: dict[str, tuple[str, str, str, object]] = {}  # blob key -> the first task that saved it
    run = Run(f"FaultFlow/{run_id}")
    for step in ("start", "body", "join", "end"):
        for task in run[step]:
            for art in task:
                if not art.id.startswith("_") and art.sha not in producers:
                    producers[art.sha] = (step, task.id, art.id, art.data)
    rounds, clear, repaired = 4, 0, 0
    for key in rng.sample(sorted(producers), rounds):
        step, task_id, name, value = producers[key]
        blob = headwater_env / ".headwater" / "FaultFlow" / "data" / key[:2] / key
        data = bytearray(blob.read_bytes())
        data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        blob.write_bytes(bytes(data))
        try:
            Task(f"FaultFlow/{run_id}/{step}/{task_id}")[name].data
        except CorruptBlobError as e:
            clear += f"Artifact `{name}`" in str(e)
        again = run_cmd(fault_flow, "resume", step, "--origin-run-id", run_id)
        assert again.returncode == 0, again.stdout + again.stderr
        repaired += Task(f"FaultFlow/{run_id}/{step}/{task_id}")[name].data == value
    print(
        f"seed {seed}: {clear} of {rounds} flipped blob bytes gave a CorruptBlobError naming the artifact; "
        f"{repaired} of {rounds} repaired by re-running the step"
    )
    assert (clear, repaired) == (rounds, rounds)


def test_a_flipped_byte_in_a_done_record_is_a_datastore_error_naming_it(fault_flow, headwater_env):
    seed = 6004
    rng = random.Random(seed)
    clean = run_cmd(fault_flow, "run", "--run-id-file", str(fault_flow.parent / "id"))
    assert clean.returncode == 0, clean.stderr
    run_id = (fault_flow.parent / "id").read_text()
    records = sorted((headwater_env / ".headwater" / "FaultFlow" / "runs" / run_id).glob("[!_]*/*/0.done.json"))
    rounds, clear = 20, 0
    for _ in range(rounds):
        record = rng.choice(records)
        original = record.read_bytes()
        data = bytearray(original)
        data[rng.randrange(len(data))] ^= 1 << rng.randrange(7)
        record.write_bytes(bytes(data))
        step, task_id = record.parent.parent.name, record.parent.name
        try:
            task = Task(f"FaultFlow/{run_id}/{step}/{task_id}")
            print(f"no error: {record} read as {task.successful}, {sorted(a.id for a in task)}")
        except DatastoreError as e:
            clear += str(record) in str(e)
        record.write_bytes(original)
    print(f"seed {seed}: {clear} of {rounds} flipped bytes in done records gave a DatastoreError naming the file")
    assert clear == rounds


BAD_IDS = ["../x", "/", "a/b", ".."]


def test_path_like_ids_are_refused_at_every_entry_point(fault_flow, headwater_env):
    clean = run_cmd(fault_flow, "run", "--run-id-file", str(fault_flow.parent / "id"))
    assert clean.returncode == 0, clean.stderr
    run_id = (fault_flow.parent / "id").read_text()
    before = sorted(str(p) for p in headwater_env.rglob("*"))
    commands = []
    for bad in BAD_IDS:
        commands += [
            ["resume", "--origin-run-id", bad],
            ["tag", "add", "--run-id", bad, "x"],
            ["tag", "remove", "--run-id", bad, "x"],
            ["tag", "list", "--run-id", bad],
            ["step", "start", "--run-id", bad, "--task-id", "1", "--input-paths", "_parameters/0"],
            ["step", "start", "--run-id", run_id, "--task-id", bad, "--input-paths", "_parameters/0"],
        ]
    # A pathspec's parts are split at "/", so there the hostile parts are ".." and a run id that climbs.
    for pathspec in ("../x/start/1", f"{run_id}/start/..", f"{run_id}/../1", "../start", f"{run_id}/.."):
        commands += [["logs", pathspec], ["dump", pathspec]]
    refused = []
    for command in commands:
        result = run_cmd(fault_flow, *command)
        if result.returncode == 1 and "Traceback" not in result.stderr and "is not " in result.stderr:
            refused.append(command)
        else:
            print(f"not refused: {command}: {result.returncode} {result.stderr.strip()[-300:]}")
    calls = []
    for bad in [*BAD_IDS, "a\0b"]:
        calls += [
            lambda bad=bad: Flow(bad),
            lambda bad=bad: Run(f"FaultFlow/{bad}"),
            lambda bad=bad: Step(f"FaultFlow/{run_id}/{bad}"),
            lambda bad=bad: Task(f"FaultFlow/{run_id}/start/{bad}"),
            lambda bad=bad: Flow("FaultFlow")[bad],
        ]
    client_refused = 0
    for call in calls:
        try:
            call()
        except InvalidIdError:
            client_refused += 1
        except NotFoundError as e:  # refused while parsing the pathspec, before any path is built
            client_refused += " is not a " in str(e) and "pathspec" in str(e)
        except Exception as e:
            print(f"not an InvalidIdError: {type(e).__name__}: {e}")
    after = sorted(str(p) for p in headwater_env.rglob("*"))
    print(
        f"{len(refused)} of {len(commands)} CLI commands and {client_refused} of {len(calls)} client calls "
        f"refused path-like ids; {len(set(after) - set(before))} files written"
    )
    assert [c for c in commands if c not in refused] == []
    assert client_refused == len(calls)
    assert sorted(set(after) - set(before)) == []
