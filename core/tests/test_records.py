"""Tests of the run, task and attempt records kept in a datastore (``FlowDatastore``)."""

from __future__ import annotations

import datetime
import json
import threading
from pathlib import Path

import pytest

from headwater.datastore import records
from headwater.datastore.local import LocalStorage
from headwater.datastore.records import PARAMETERS_STEP, RECORD_VERSION, FlowDatastore, dumps
from headwater.exceptions import DatastoreError, HeadwaterError, InvalidIdError, NotFoundError


@pytest.fixture
def ds(tmp_path: Path) -> FlowDatastore:
    return FlowDatastore(LocalStorage(str(tmp_path / "store")), "MyFlow")


def read_json(ds: FlowDatastore, path: str) -> dict:
    return json.loads(Path(ds.storage.uri(path)).read_bytes())


# -- helpers ------------------------------------------------------------------------------------------------


def test_dumps_is_compact_and_stringifies_unknown_types() -> None:
    when = datetime.datetime(2024, 5, 6, 7, 8, 9)
    assert dumps({"a": 1, "b": [1, 2], "when": when}) == b'{"a":1,"b":[1,2],"when":"2024-05-06 07:08:09"}'


def test_new_run_id_is_numeric_and_increasing() -> None:
    first = records.new_run_id()
    second = records.new_run_id()
    assert first.isdigit() and len(first) >= 16  # microseconds since the epoch
    assert int(second) >= int(first)


def test_paths_and_repr(ds: FlowDatastore) -> None:
    assert ds.run_path("12") == "MyFlow/runs/12"
    assert ds.task_path("12", "train", "3") == "MyFlow/runs/12/train/3"
    assert ds.cas.prefix == "MyFlow/data"
    assert repr(ds) == f"FlowDatastore({ds.storage.uri('MyFlow')!r})"


@pytest.mark.parametrize("bad", ["..", "../../../../elsewhere/x", "../OtherFlow/runs/1", "a\0b", "/etc", "a b", ""])
def test_every_path_builder_refuses_ids_that_leave_the_flow_folder(ds: FlowDatastore, bad: str) -> None:
    calls = [
        lambda: ds.run_path(bad),
        lambda: ds.task_path("1", bad, "1"),
        lambda: ds.task_path("1", "start", bad),
        lambda: ds.run_record(bad),
        lambda: ds.run_end(bad),
        lambda: ds.write_run_end(bad, {"status": "failed"}),
        lambda: ds.create_run({}, run_id=bad),
        lambda: ds.steps(bad),
        lambda: ds.task_ids("1", bad),
        lambda: ds.write_attempt_start(bad, "start", "1", 0, {}),
        lambda: ds.write_attempt_done("1", "start", bad, 0, {"ok": True, "manifest": {}}),
        lambda: ds.attempt_done("1", bad, "1", 0),
        lambda: ds.latest_ok(bad, "start", "1"),
        lambda: ds.attempts("1", "start", bad),
        lambda: ds.save_log(bad, "start", "1", 0, "stdout", b"x"),
        lambda: ds.load_log("1", "start", bad, 0, "stdout"),
    ]
    for call in calls:
        with pytest.raises(InvalidIdError):
            call()
    root = Path(ds.storage.uri())
    assert not any(root.parent.rglob("*.json")), "nothing was written anywhere"


def test_flow_names_attempts_and_log_streams_are_checked(ds: FlowDatastore) -> None:
    with pytest.raises(InvalidIdError, match="not a valid flow name"):
        FlowDatastore(ds.storage, "../Other")
    with pytest.raises(DatastoreError, match="not a number"):
        ds.write_attempt_start("1", "start", "1", "0/../../x", {})  # type: ignore[arg-type]
    with pytest.raises(DatastoreError, match="not a log stream"):
        ds.save_log("1", "start", "1", 0, "../../run.json", b"x")


# -- runs ---------------------------------------------------------------------------------------------------


def test_create_run_writes_the_record(ds: FlowDatastore) -> None:
    run_id = ds.create_run({"flow": "MyFlow", "user": "ana", "tags": ["x"]})
    assert run_id.isdigit()
    record = ds.run_record(run_id)
    assert record == {"flow": "MyFlow", "user": "ana", "tags": ["x"], "version": RECORD_VERSION, "run_id": run_id}
    assert read_json(ds, f"MyFlow/runs/{run_id}/run.json") == record


def test_create_run_with_an_explicit_id(ds: FlowDatastore) -> None:
    assert ds.create_run({"n": 1}, run_id="42") == "42"
    assert ds.run_record("42")["n"] == 1


def test_create_run_refuses_an_explicit_id_that_is_taken(ds: FlowDatastore) -> None:
    ds.create_run({"n": 1}, run_id="42")
    with pytest.raises(HeadwaterError) as info:
        ds.create_run({"n": 2}, run_id="42")
    assert "Run id 42 is already taken" in info.value.message
    assert ds.storage.uri("MyFlow") in info.value.message
    assert ds.run_record("42")["n"] == 1  # the first record is untouched


def test_create_run_skips_ids_that_are_taken(ds: FlowDatastore, monkeypatch: pytest.MonkeyPatch) -> None:
    # A stopped clock makes every new run start from the same candidate id.
    monkeypatch.setattr(records, "new_run_id", lambda: "1000")
    ds.create_run({"n": "taken"}, run_id="1001")
    ids = [ds.create_run({"n": i}) for i in range(3)]
    assert ids == ["1000", "1002", "1003"]
    assert [ds.run_record(i)["n"] for i in ids] == [0, 1, 2]
    assert ds.run_record("1001")["n"] == "taken"
    assert all(ds.run_record(i)["run_id"] == i for i in ids)


@pytest.mark.parametrize("stopped_clock", [False, True], ids=["real-clock", "stopped-clock"])
def test_concurrent_create_run_gives_distinct_ids(
    ds: FlowDatastore, monkeypatch: pytest.MonkeyPatch, stopped_clock: bool
) -> None:
    if stopped_clock:
        monkeypatch.setattr(records, "new_run_id", lambda: "5000")
    created: list[tuple[int, str]] = []
    lock = threading.Lock()
    barrier = threading.Barrier(8)

    def worker(n: int) -> None:
        barrier.wait()
        for i in range(5):
            run_id = ds.create_run({"worker": n, "i": i})
            with lock:
                created.append((n * 10 + i, run_id))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ids = [run_id for _, run_id in created]
    assert len(ids) == 40
    assert len(set(ids)) == 40
    assert sorted(ds.run_ids()) == sorted(ids)
    for tag, run_id in created:  # each id holds the record of the call that got it
        record = ds.run_record(run_id)
        assert record["worker"] * 10 + record["i"] == tag
    if stopped_clock:
        assert sorted(ids, key=int) == [str(5000 + i) for i in range(40)]


def test_run_ids_newest_first_numerically(ds: FlowDatastore) -> None:
    for run_id in ("5", "100", "20", "9"):
        ds.create_run({}, run_id=run_id)
    ds.storage.put("MyFlow/runs/notes/readme", [b"not a run"])
    assert ds.run_ids() == ["100", "20", "9", "5"]
    assert ds.latest_run_id() == "100"
    assert ds.latest_run_id(exclude="100") == "20"


def test_run_ids_list_every_valid_id_newest_first(ds: FlowDatastore) -> None:
    ds.create_run({"created_at": 2000.0}, run_id="sfn-new")  # created after run 1000000000
    ds.create_run({"created_at": 500.0}, run_id="sfn-old")
    ds.create_run({}, run_id="1000000000")  # microseconds: 1000 s after the epoch
    ds.create_run({}, run_id="2500000000")
    ds.storage.put("MyFlow/runs/sfn-damaged/run.json", [b"{"])
    ds.storage.put("MyFlow/runs/.hidden/run.json", [b"{}"])
    ds.storage.put("MyFlow/runs/no record/x", [b"{}"])
    assert ds.run_ids() == ["2500000000", "sfn-new", "1000000000", "sfn-old", "sfn-damaged"]


def test_create_run_with_a_deployer_id(ds: FlowDatastore) -> None:
    assert ds.create_run({"n": 1}, run_id="sfn-1234abcd") == "sfn-1234abcd"
    assert ds.run_record("sfn-1234abcd")["run_id"] == "sfn-1234abcd"
    with pytest.raises(DatastoreError, match="already taken"):
        ds.create_run({"n": 2}, run_id="sfn-1234abcd")


def test_listings_skip_names_that_are_not_ids(ds: FlowDatastore) -> None:
    ds.write_attempt_start("1", "start", "1", 0, {})
    ds.storage.put("MyFlow/runs/1/bad step/1/0.start.json", [b"{}"])
    ds.storage.put("MyFlow/runs/1/start/.odd/0.start.json", [b"{}"])
    assert ds.steps("1") == ["start"]
    assert ds.task_ids("1", "start") == ["1"]


def test_no_runs(ds: FlowDatastore) -> None:
    assert ds.run_ids() == []
    assert ds.latest_run_id() is None
    ds.create_run({}, run_id="7")
    assert ds.latest_run_id(exclude="7") is None


def test_missing_run_record(ds: FlowDatastore) -> None:
    with pytest.raises(NotFoundError) as info:
        ds.run_record("123")
    assert info.value.message == f"Run MyFlow/123 does not exist in {ds.storage.uri()}."
    assert info.value.hint == "List the runs with Flow('MyFlow').runs()."


def test_damaged_record_is_a_datastore_error_naming_the_file(ds: FlowDatastore) -> None:
    ds.storage.put("MyFlow/runs/5/run.json", [b""])  # e.g. left empty by a power loss (writes never fsync)
    with pytest.raises(DatastoreError, match=r"runs/5/run\.json"):
        ds.run_record("5")


def test_run_end(ds: FlowDatastore) -> None:
    run_id = ds.create_run({})
    assert ds.run_end(run_id) is None
    ds.write_run_end(run_id, {"status": "ok", "finished_at": 12.5})
    assert ds.run_end(run_id) == {"status": "ok", "finished_at": 12.5, "version": RECORD_VERSION}


def test_run_tags(ds: FlowDatastore) -> None:
    run_id = ds.create_run({"tags": ["original"]})
    assert ds.run_tags(run_id) is None
    ds.write_run_tags(run_id, ["b", "a", "b"])
    assert ds.run_tags(run_id) == ["a", "b"]
    ds.write_run_tags(run_id, [])
    assert ds.run_tags(run_id) == []
    assert ds.run_record(run_id)["tags"] == ["original"]


# -- tasks and attempts -------------------------------------------------------------------------------------


def test_steps_exclude_parameters_and_run_files(ds: FlowDatastore) -> None:
    run_id = ds.create_run({})
    ds.write_run_end(run_id, {})
    ds.write_run_tags(run_id, ["t"])
    ds.write_attempt_done(run_id, PARAMETERS_STEP, records.PARAMETERS_TASK, 0, {"ok": True})
    ds.write_attempt_start(run_id, "start", "1", 0, {})
    ds.write_attempt_done(run_id, "end", "2", 0, {"ok": True})
    assert sorted(ds.steps(run_id)) == ["end", "start"]
    assert ds.steps("404") == []


def test_task_ids_sort_numerically(ds: FlowDatastore) -> None:
    for task_id in ("10", "2", "1", "33"):
        ds.write_attempt_start("1", "train", task_id, 0, {})
    assert ds.task_ids("1", "train") == ["1", "2", "10", "33"]
    assert ds.task_ids("1", "missing") == []


def test_attempt_records(ds: FlowDatastore) -> None:
    ds.write_attempt_start("1", "start", "1", 0, {"pid": 99})
    assert ds.attempt_start("1", "start", "1", 0) == {"pid": 99, "attempt": 0}
    assert ds.attempt_done("1", "start", "1", 0) is None
    assert ds.write_attempt_done("1", "start", "1", 0, {"ok": True, "manifest": {}}) is True
    assert ds.attempt_done("1", "start", "1", 0) == {
        "ok": True,
        "manifest": {},
        "version": RECORD_VERSION,
        "attempt": 0,
    }


def test_attempts_latest_done_and_latest_ok(ds: FlowDatastore) -> None:
    task = ("1", "train", "3")
    assert ds.attempts(*task) == ([], [])
    assert ds.latest_done(*task) is None
    assert ds.latest_ok(*task) is None

    ds.write_attempt_start(*task, 0, {})
    ds.write_attempt_done(*task, 0, {"ok": False})
    assert ds.latest_done(*task)["attempt"] == 0
    assert ds.latest_ok(*task) is None

    ds.write_attempt_start(*task, 1, {})
    ds.write_attempt_done(*task, 1, {"ok": True, "n": "first ok"})
    ds.write_attempt_start(*task, 2, {})  # started, never committed
    ds.save_log(*task, 1, "stdout", b"output")  # logs are not attempts
    assert ds.attempts(*task) == ([0, 1, 2], [0, 1])
    assert ds.latest_done(*task)["attempt"] == 1
    assert ds.latest_ok(*task)["n"] == "first ok"

    ds.write_attempt_done(*task, 2, {"ok": False})
    assert ds.latest_done(*task)["attempt"] == 2
    assert ds.latest_ok(*task)["attempt"] == 1


def test_attempt_numbers_sort_numerically(ds: FlowDatastore) -> None:
    task = ("1", "train", "3")
    for attempt in (10, 2, 9):
        ds.write_attempt_done(*task, attempt, {"ok": attempt != 10})
    assert ds.attempts(*task) == ([], [2, 9, 10])
    assert ds.latest_done(*task)["attempt"] == 10
    assert ds.latest_ok(*task)["attempt"] == 9


def test_write_attempt_done_does_not_replace_a_committed_attempt(ds: FlowDatastore) -> None:
    task = ("1", "train", "3")
    assert ds.write_attempt_done(*task, 0, {"ok": True, "by": "first"}) is True
    assert ds.write_attempt_done(*task, 0, {"ok": False, "by": "second"}) is False
    assert ds.attempt_done(*task, 0)["by"] == "first"
    assert ds.write_attempt_done(*task, 0, {"ok": False, "by": "third"}, overwrite=True) is True
    assert ds.attempt_done(*task, 0)["by"] == "third"


# -- logs ---------------------------------------------------------------------------------------------------


def test_logs(ds: FlowDatastore) -> None:
    task = ("1", "train", "3")
    ds.save_log(*task, 0, "stdout", b"hello\n")
    ds.save_log(*task, 0, "stderr", b"\xff binary ok")
    ds.save_log(*task, 1, "stdout", b"second attempt")
    assert ds.load_log(*task, 0, "stdout") == b"hello\n"
    assert ds.load_log(*task, 0, "stderr") == b"\xff binary ok"
    assert ds.load_log(*task, 1, "stdout") == b"second attempt"
    assert Path(ds.storage.uri("MyFlow/runs/1/train/3/0.stdout")).read_bytes() == b"hello\n"


def test_missing_log_is_empty(ds: FlowDatastore) -> None:
    assert ds.load_log("1", "train", "3", 0, "stdout") == b""
    ds.save_log("1", "train", "3", 0, "stdout", b"x")
    assert ds.load_log("1", "train", "3", 0, "stderr") == b""
