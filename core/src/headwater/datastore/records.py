"""Where runs, tasks and attempts live in a datastore, and the small JSON records that describe them.

Layout under the storage root (the same on every backend)::

    <Flow>/data/<k[:2]>/<key>                       content-addressed blobs
    <Flow>/runs/<run_id>/run.json                   written once when the run starts
    <Flow>/runs/<run_id>/end.json                   written once when the run ends
    <Flow>/runs/<run_id>/tags.json                  user tags changed after the run started
    <Flow>/runs/<run_id>/<step>/<task>/<a>.start.json   attempt ``a`` began (by the task)
    <Flow>/runs/<run_id>/<step>/<task>/<a>.done.json    attempt ``a`` ended: manifest and outcome
    <Flow>/runs/<run_id>/<step>/<task>/<a>.stdout       captured output, and <a>.stderr (only when not empty)

``<a>.done.json`` is the attempt's manifest and its done marker in one atomic write: readers trust an
attempt only once it exists, so a task killed half-way leaves nothing that looks finished. The datastore
is the source of truth for the client: nothing else is needed to read a run back.
"""

from __future__ import annotations

import json
import time
from typing import Any

from headwater.datastore.cas import ContentAddressedStore
from headwater.datastore.storage import StorageBackend
from headwater.exceptions import DatastoreError, HeadwaterError, NotFoundError
from headwater.ids import (
    is_valid_name,
    is_valid_run_id,
    is_valid_task_id,
    validate_flow_name,
    validate_run_id,
    validate_step_name,
    validate_task_id,
)

PARAMETERS_STEP = "_parameters"
PARAMETERS_TASK = "0"
RECORD_VERSION = 1
_LOG_STREAMS = frozenset({"stdout", "stderr"})


def dumps(record: dict[str, Any]) -> bytes:
    return json.dumps(record, separators=(",", ":"), default=str).encode()


def new_run_id() -> str:
    """A run id: microseconds since the epoch, so ids sort by start time (as Metaflow's local ids do)."""
    return str(time.time_ns() // 1000)


class FlowDatastore:
    """One flow's runs, tasks and blobs in a storage backend."""

    def __init__(self, storage: StorageBackend, flow_name: str) -> None:
        self.storage = storage
        self.flow_name = validate_flow_name(flow_name)
        self.cas = ContentAddressedStore(storage, f"{flow_name}/data")

    def __repr__(self) -> str:
        return f"FlowDatastore({self.storage.uri(self.flow_name)!r})"

    # -- paths --------------------------------------------------------------------------------------------
    # Every path is built here, from ids checked here: nothing a caller passes can leave the flow's folder.

    def run_path(self, run_id: str) -> str:
        return f"{self.flow_name}/runs/{validate_run_id(run_id)}"

    def step_path(self, run_id: str, step: str) -> str:
        return f"{self.run_path(run_id)}/{validate_step_name(step)}"

    def task_path(self, run_id: str, step: str, task_id: str) -> str:
        return f"{self.step_path(run_id, step)}/{validate_task_id(task_id)}"

    def attempt_path(self, run_id: str, step: str, task_id: str, attempt: int, suffix: str) -> str:
        if type(attempt) is not int or attempt < 0:
            raise DatastoreError(f"Attempt {attempt!r} of {self.flow_name}/{run_id}/{step}/{task_id} is not a number.")
        return f"{self.task_path(run_id, step, task_id)}/{attempt}.{suffix}"

    def _read(self, path: str) -> dict[str, Any] | None:
        try:
            data = self.storage.get(path)
        except FileNotFoundError:
            return None
        try:
            return json.loads(data)
        except ValueError:
            raise DatastoreError(
                f"The record {self.storage.uri(path)} is damaged (not valid JSON).",
                "It was cut short by a crash or edited by hand; delete it (the run or task then shows as unfinished).",
            ) from None

    # -- runs ---------------------------------------------------------------------------------------------

    def create_run(self, record: dict[str, Any], run_id: str | None = None) -> str:
        """Store a new run record under a fresh id (never reusing one, even with concurrent runs).

        A given ``run_id`` (a deployer's, which need not be digits) is used as it is or refused if taken.
        """
        if run_id is not None:
            full = {**record, "version": RECORD_VERSION, "run_id": run_id}
            if self.storage.put(f"{self.run_path(run_id)}/run.json", [dumps(full)], overwrite=False):
                return run_id
            raise DatastoreError(f"Run id {run_id} is already taken in {self.storage.uri(self.flow_name)}.")
        candidate = int(new_run_id())
        while True:
            full = {**record, "version": RECORD_VERSION, "run_id": str(candidate)}
            if self.storage.put(f"{self.run_path(str(candidate))}/run.json", [dumps(full)], overwrite=False):
                return str(candidate)
            candidate += 1

    def run_record(self, run_id: str) -> dict[str, Any]:
        record = self._read(f"{self.run_path(run_id)}/run.json")
        if record is None:
            raise NotFoundError(
                f"Run {self.flow_name}/{run_id} does not exist in {self.storage.uri()}.",
                f"List the runs with Flow({self.flow_name!r}).runs().",
            )
        return record

    def write_run_end(self, run_id: str, record: dict[str, Any]) -> None:
        self.storage.put(f"{self.run_path(run_id)}/end.json", [dumps({**record, "version": RECORD_VERSION})])

    def run_end(self, run_id: str) -> dict[str, Any] | None:
        return self._read(f"{self.run_path(run_id)}/end.json")

    def run_tags(self, run_id: str) -> list[str] | None:
        """User tags as changed after the run started, or None when never changed."""
        record = self._read(f"{self.run_path(run_id)}/tags.json")
        return None if record is None else list(record["tags"])

    def write_run_tags(self, run_id: str, tags: list[str]) -> None:
        self.storage.put(f"{self.run_path(run_id)}/tags.json", [dumps({"tags": sorted(set(tags))})])

    def run_ids(self) -> list[str]:
        """Every run of the flow, newest first.

        Digit ids are microseconds since the epoch and sort by value without reading anything; other ids
        (a deployer's) sort by their record's ``created_at``, read only for them (a folder without a record
        is not a run). A run whose record is damaged sorts last: listing never fails because of one run.
        """
        order: dict[str, float] = {}
        for name in self.storage.list(f"{self.flow_name}/runs"):
            if name.isdigit() and is_valid_run_id(name):
                order[name] = int(name)
            elif is_valid_run_id(name):
                try:
                    created = self.run_record(name).get("created_at")
                except NotFoundError:
                    continue
                except HeadwaterError:
                    created = None
                order[name] = float(created) * 1e6 if isinstance(created, (int, float)) else float("-inf")
        return sorted(order, key=lambda n: (order[n], n), reverse=True)

    def latest_run_id(self, exclude: str | None = None) -> str | None:
        for run_id in self.run_ids():
            if run_id != exclude:
                return run_id
        return None

    # -- tasks and attempts -------------------------------------------------------------------------------

    def steps(self, run_id: str) -> list[str]:
        """Steps with at least one task in the run (the parameters pseudo-step excluded)."""
        names = self.storage.list(self.run_path(run_id))
        return [n for n in names if is_valid_name(n) and n != PARAMETERS_STEP]

    def task_ids(self, run_id: str, step: str) -> list[str]:
        names = self.storage.list(self.step_path(run_id, step))
        return sorted((n for n in names if is_valid_task_id(n)), key=lambda n: (len(n), n))

    def write_attempt_start(self, run_id: str, step: str, task_id: str, attempt: int, record: dict[str, Any]) -> None:
        path = self.attempt_path(run_id, step, task_id, attempt, "start.json")
        self.storage.put(path, [dumps({**record, "attempt": attempt})])

    def write_attempt_done(
        self, run_id: str, step: str, task_id: str, attempt: int, record: dict[str, Any], overwrite: bool = False
    ) -> bool:
        """Commit an attempt. Without ``overwrite`` an attempt already committed is left as it is."""
        path = self.attempt_path(run_id, step, task_id, attempt, "done.json")
        full = {**record, "version": RECORD_VERSION, "attempt": attempt}
        return self.storage.put(path, [dumps(full)], overwrite=overwrite)

    def attempt_done(self, run_id: str, step: str, task_id: str, attempt: int) -> dict[str, Any] | None:
        return self._read(self.attempt_path(run_id, step, task_id, attempt, "done.json"))

    def attempt_start(self, run_id: str, step: str, task_id: str, attempt: int) -> dict[str, Any] | None:
        return self._read(self.attempt_path(run_id, step, task_id, attempt, "start.json"))

    def attempts(self, run_id: str, step: str, task_id: str) -> tuple[list[int], list[int]]:
        """Attempt numbers that started and that are committed, each ascending."""
        started, done = [], []
        for name in self.storage.list(self.task_path(run_id, step, task_id)):
            number, _, kind = name.partition(".")
            if number.isdigit():
                if kind == "start.json":
                    started.append(int(number))
                elif kind == "done.json":
                    done.append(int(number))
        return sorted(started), sorted(done)

    def latest_done(self, run_id: str, step: str, task_id: str) -> dict[str, Any] | None:
        """The record of the task's latest committed attempt, or None."""
        _, done = self.attempts(run_id, step, task_id)
        return self.attempt_done(run_id, step, task_id, done[-1]) if done else None

    def latest_ok(self, run_id: str, step: str, task_id: str) -> dict[str, Any] | None:
        """The record of the task's latest successful attempt, or None."""
        _, done = self.attempts(run_id, step, task_id)
        for attempt in reversed(done):
            record = self.attempt_done(run_id, step, task_id, attempt)
            if record and record.get("ok"):
                return record
        return None

    # -- logs ---------------------------------------------------------------------------------------------

    def _log_path(self, run_id: str, step: str, task_id: str, attempt: int, stream: str) -> str:
        if stream not in _LOG_STREAMS:
            raise DatastoreError(f"{stream!r} is not a log stream (stdout or stderr).")
        return self.attempt_path(run_id, step, task_id, attempt, stream)

    def save_log(self, run_id: str, step: str, task_id: str, attempt: int, stream: str, data: bytes) -> None:
        self.storage.put(self._log_path(run_id, step, task_id, attempt, stream), [data])

    def load_log(self, run_id: str, step: str, task_id: str, attempt: int, stream: str) -> bytes:
        try:
            return self.storage.get(self._log_path(run_id, step, task_id, attempt, stream))
        except FileNotFoundError:
            return b""
