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
from headwater.exceptions import DatastoreError, HeadwaterError, InvalidIdError, NotFoundError, TagError


@pytest.fixture
def ds(tmp_path: Path) -> FlowDatastore:
    return FlowDatastore(LocalStorage(str(tmp_path / "store")), "MyFlow")


def read_json(ds: FlowDatastore, path: str) -> dict:
    return json.loads(Path(ds.storage.uri(path)).read_bytes())["record"]


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


def test_user_tags_fold_every_change_in_order(ds: FlowDatastore) -> None:
    run_id = ds.create_run({"tags": ["original"], "system_tags": ["user:ana", "date:2024-01-01"]})
    assert ds.user_tags(run_id) == ["original"]
    ds.change_tags(run_id, add=["b", "a", "b"])
    assert ds.user_tags(run_id) == ["a", "b", "original"]
    ds.change_tags(run_id, remove=["original", "a"])
    ds.change_tags(run_id, add=["x"], remove=["x", "b"])  # a replace of x by x keeps it
    assert ds.user_tags(run_id) == ["x"]
    assert ds.run_record(run_id)["tags"] == ["original"]
    changes = ds.storage.list(f"MyFlow/runs/{run_id}/{records.TAG_CHANGES}")
    assert len(changes) == 3 and all(name.endswith(".json") for name in changes)
    assert read_json(ds, f"MyFlow/runs/{run_id}/{records.TAG_CHANGES}/{sorted(changes)[0]}") == {
        "add": ["a", "b"],
        "remove": [],
        "version": RECORD_VERSION,
    }


@pytest.mark.parametrize("tag", ["user:bob", "date:2020-01-01", "headwater_version:9", "", "x" * 501, 5])
def test_system_tags_and_bad_tags_cannot_be_added_or_removed(ds: FlowDatastore, tag: object) -> None:
    run_id = ds.create_run({"tags": [], "system_tags": ["user:ana"]})
    with pytest.raises(TagError):
        ds.change_tags(run_id, add=[tag])  # type: ignore[list-item]
    with pytest.raises(TagError):
        ds.change_tags(run_id, remove=[tag])  # type: ignore[list-item]
    assert ds.storage.list(f"MyFlow/runs/{run_id}/{records.TAG_CHANGES}") == []


def test_a_plugins_system_tags_are_protected_too(ds: FlowDatastore) -> None:
    run_id = ds.create_run({"system_tags": ["project:fraud"]})
    with pytest.raises(TagError, match="system tag"):
        ds.change_tags(run_id, add=["project:other"])


def test_tags_of_a_run_that_does_not_exist_are_not_written(ds: FlowDatastore) -> None:
    with pytest.raises(NotFoundError):
        ds.change_tags("123", add=["t"])
    assert ds.storage.list("MyFlow/runs") == []


def test_concurrent_tag_changes_are_all_kept(ds: FlowDatastore) -> None:
    run_id = ds.create_run({"tags": []})
    barrier = threading.Barrier(10)

    def worker(n: int) -> None:
        barrier.wait()
        ds.change_tags(run_id, add=[f"t{n}"])

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert ds.user_tags(run_id) == sorted(f"t{n}" for n in range(10))


# -- tasks and attempts -------------------------------------------------------------------------------------


def test_steps_exclude_parameters_and_run_files(ds: FlowDatastore) -> None:
    run_id = ds.create_run({})
    ds.write_run_end(run_id, {})
    ds.change_tags(run_id, add=["t"])
    ds.write_attempt_done(run_id, PARAMETERS_STEP, records.PARAMETERS_TASK, 0, {"ok": True, "manifest": {}})
    ds.write_attempt_start(run_id, "start", "1", 0, {})
    ds.write_attempt_done(run_id, "end", "2", 0, {"ok": True, "manifest": {}})
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
    ds.write_attempt_done(*task, 0, {"ok": False, "manifest": {}})
    assert ds.latest_done(*task)["attempt"] == 0
    assert ds.latest_ok(*task) is None

    ds.write_attempt_start(*task, 1, {})
    ds.write_attempt_done(*task, 1, {"ok": True, "manifest": {}, "n": "first ok"})
    ds.write_attempt_start(*task, 2, {})  # started, never committed
    ds.save_log(*task, 1, "stdout", b"output")  # logs are not attempts
    assert ds.attempts(*task) == ([0, 1, 2], [0, 1])
    assert ds.latest_done(*task)["attempt"] == 1
    assert ds.latest_ok(*task)["n"] == "first ok"

    ds.write_attempt_done(*task, 2, {"ok": False, "manifest": {}})
    assert ds.latest_done(*task)["attempt"] == 2
    assert ds.latest_ok(*task)["attempt"] == 1


def test_attempt_numbers_sort_numerically(ds: FlowDatastore) -> None:
    task = ("1", "train", "3")
    for attempt in (10, 2, 9):
        ds.write_attempt_done(*task, attempt, {"ok": attempt != 10, "manifest": {}})
    assert ds.attempts(*task) == ([], [2, 9, 10])
    assert ds.latest_done(*task)["attempt"] == 10
    assert ds.latest_ok(*task)["attempt"] == 9


def test_write_attempt_done_does_not_replace_a_committed_attempt(ds: FlowDatastore) -> None:
    task = ("1", "train", "3")
    assert ds.write_attempt_done(*task, 0, {"ok": True, "manifest": {}, "by": "first"}) is True
    assert ds.write_attempt_done(*task, 0, {"ok": False, "manifest": {}, "by": "second"}) is False
    assert ds.attempt_done(*task, 0)["by"] == "first"
    assert ds.write_attempt_done(*task, 0, {"ok": False, "manifest": {}, "by": "third"}, overwrite=True) is True
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


# -- damaged records ----------------------------------------------------------------------------------------

KEY = "ab" * 32
FRAME = {"run": "1", "step": "start", "task": "1", "var": "items", "index": 3, "num_splits": 4}
GOOD_DONE = {
    "version": RECORD_VERSION,
    "attempt": 0,
    "ok": True,
    "manifest": {"x": {"key": KEY, "size": 3, "type": "int", "serializer": "pickle"}},
    "foreach_stack": [FRAME],
    "transition": {"type": "foreach", "next": ["body"], "var": "items", "num_splits": 2},
    "input_paths": ["start/1"],
    "origin": {"run_id": "5", "task_id": "2", "attempt": 0},
    "exception": None,
}
DONE = "MyFlow/runs/1/body/4/0.done.json"


def test_a_flipped_bit_in_a_done_record_is_caught(ds: FlowDatastore) -> None:
    ds.write_attempt_done("1", "body", "4", 0, GOOD_DONE)
    assert ds.latest_ok("1", "body", "4")["foreach_stack"][0]["index"] == 3
    path = Path(ds.storage.uri(DONE))
    path.write_bytes(path.read_bytes().replace(b'"index":3', b'"index":2'))
    with pytest.raises(DatastoreError) as info:
        ds.latest_ok("1", "body", "4")
    assert info.value.message == (
        f"The record {path} is damaged: its content does not match its checksum (it was changed after it was written)."
    )
    assert "Delete it" in (info.value.hint or "") and "resuming the run runs the task again" in (info.value.hint or "")


@pytest.mark.parametrize(
    "data",
    [b'{"ok":true,"manifest":{}}', b"", b'{"blake3":"' + b"0" * 64 + b'","record":{}}', b'{"blake3":"x"}'],
    ids=["plain-json", "empty", "wrong-hash", "truncated"],
)
def test_a_record_without_a_valid_checksum_is_damaged(ds: FlowDatastore, data: bytes) -> None:
    ds.storage.put(DONE, [data])
    with pytest.raises(DatastoreError, match=r"body/4/0\.done\.json is damaged"):
        ds.attempt_done("1", "body", "4", 0)


def _damaged(**changes: object) -> dict:
    record = json.loads(json.dumps(GOOD_DONE))
    for dotted, value in changes.items():
        *parents, last = dotted.split("__")
        target = record
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        index = int(last) if last.isdigit() else last
        if value is KeyError:
            del target[index]
        else:
            target[index] = value
    return record


@pytest.mark.parametrize(
    ("record", "why"),
    [
        ([1, 2], "is a JSON object, this one is list"),
        (_damaged(ok=KeyError), "has no 'ok'"),
        (_damaged(manifest=KeyError), "has no 'manifest'"),
        (_damaged(manifest=[]), "'manifest' is not valid"),
        (_damaged(attempt=1), "not of attempt 0"),
        (_damaged(manifest__x__key="../../etc/passwd"), "entry of 'x' has no valid 'key'"),
        (_damaged(manifest__x__size="3"), "entry of 'x' has no valid 'size'"),
        (_damaged(manifest__x=5), "entry of 'x' is not an object"),
        (_damaged(foreach_stack={"index": 1}), "'foreach_stack' is not a list"),
        (_damaged(foreach_stack__0__num_splits=KeyError), "no valid 'num_splits'"),
        (_damaged(foreach_stack__0__index=4), "no valid 'index' (0 to 3)"),
        (_damaged(foreach_stack__0__task="../x"), "no valid 'task'"),
        (_damaged(foreach_stack__0__run="../../Other/runs/1"), "no valid 'run'"),
        (_damaged(foreach_stack__0=[]), "frame 0 of its foreach_stack is not an object"),
        (_damaged(transition__num_splits=KeyError), "foreach transition has no valid 'num_splits'"),
        (_damaged(transition__next="body"), "transition has no valid 'next'"),
        (_damaged(transition__next=KeyError), "transition has no valid 'next'"),
        (_damaged(transition=[]), "transition has no valid 'type'"),
        (_damaged(input_paths=["../x"]), "'input_paths' is not valid"),
        (_damaged(origin={"run_id": ".."}), "'origin' is not a valid"),
        (_damaged(exception={"type": 1}), "'exception' is not a valid"),
        (_damaged(iteration=-1), "'iteration' is not valid"),
    ],
)
def test_a_done_record_of_the_wrong_shape_names_the_file(ds: FlowDatastore, record: object, why: str) -> None:
    ds.storage.put(DONE, [records.seal(record)])  # type: ignore[arg-type]
    with pytest.raises(DatastoreError) as info:
        ds.latest_ok("1", "body", "4")
    assert f"{ds.storage.uri(DONE)} is damaged: " in info.value.message
    assert why in info.value.message


@pytest.mark.parametrize(
    ("name", "record", "read", "why"),
    [
        ("run.json", [], lambda ds: ds.run_record("1"), "is a JSON object"),
        ("run.json", {"version": 2}, lambda ds: ds.run_record("1"), "has no 'run_id'"),
        ("run.json", {"version": 2, "run_id": "7"}, lambda ds: ds.run_record("1"), "record of run '7'"),
        ("run.json", {"version": 2, "run_id": "1", "flow": "Other"}, lambda ds: ds.run_record("1"), "of 'Other'"),
        ("run.json", {"version": 2, "run_id": "1", "tags": 5}, lambda ds: ds.run_record("1"), "'tags' is not valid"),
        ("run.json", {"version": 2, "run_id": "1", "graph": {"steps": [1]}}, lambda ds: ds.run_record("1"), "graph"),
        ("run.json", {"version": 2, "run_id": "1", "code_package": "../x"}, lambda ds: ds.run_record("1"), "code_"),
        ("run.json", {"version": 2, "run_id": "1", "origin_run_id": ".."}, lambda ds: ds.run_record("1"), "origin"),
        ("end.json", {"version": 2}, lambda ds: ds.run_end("1"), "has no 'status'"),
        ("end.json", "done", lambda ds: ds.run_end("1"), "is a JSON object"),
        ("start/1/0.start.json", {"attempt": "0"}, lambda ds: ds.attempt_start("1", "start", "1", 0), "'attempt'"),
        ("start/1/0.start.json", {}, lambda ds: ds.attempt_start("1", "start", "1", 0), "has no 'attempt'"),
    ],
)
def test_other_records_of_the_wrong_shape_name_the_file(
    ds: FlowDatastore, name: str, record: object, read: object, why: str
) -> None:
    ds.storage.put(f"MyFlow/runs/1/{name}", [records.seal(record)])  # type: ignore[arg-type]
    with pytest.raises(DatastoreError) as info:
        read(ds)  # type: ignore[operator]
    assert f"runs/1/{name} is damaged: " in info.value.message
    assert why in info.value.message


@pytest.mark.parametrize("change", [{"tags": 5}, {"add": 5, "remove": [], "version": 2}, {"add": []}])
def test_a_damaged_tag_change_names_the_file(ds: FlowDatastore, change: dict) -> None:
    run_id = ds.create_run({})
    name = f"MyFlow/runs/{run_id}/{records.TAG_CHANGES}/{'1' * 20}-{'a' * 16}.json"
    ds.storage.put(name, [records.seal(change)])
    with pytest.raises(DatastoreError, match="is damaged") as info:
        ds.user_tags(run_id)
    assert ds.storage.uri(name) in info.value.message


def test_read_records_equal_what_was_written_and_clones_reseal(ds: FlowDatastore) -> None:
    ds.write_attempt_done("1", "body", "4", 0, GOOD_DONE)
    read = ds.attempt_done("1", "body", "4", 0)
    assert read == GOOD_DONE
    clone = {k: v for k, v in read.items() if k != "attempt"}  # what resume does with a record it read
    ds.write_attempt_done("2", "body", "4", 0, clone)
    assert ds.attempt_done("2", "body", "4", 0) == GOOD_DONE


def test_a_record_nested_too_deep_is_damaged(ds: FlowDatastore) -> None:
    body = b"[" * 100_000 + b"]" * 100_000
    digest = records.blake3.blake3(body).hexdigest().encode()
    ds.storage.put(DONE, [b'{"blake3":"' + digest + b'","record":' + body + b"}"])
    with pytest.raises(DatastoreError, match="its content is not valid JSON"):
        ds.attempt_done("1", "body", "4", 0)
