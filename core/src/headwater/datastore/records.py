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
from headwater.exceptions import DatastoreError, NotFoundError

PARAMETERS_STEP = "_parameters"
PARAMETERS_TASK = "0"
RECORD_VERSION = 1
_RUN_FILES = frozenset({"run.json", "end.json", "tags.json"})


def dumps(record: dict[str, Any]) -> bytes:
    return json.dumps(record, separators=(",", ":"), default=str).encode()


def new_run_id() -> str:
    """A run id: microseconds since the epoch, so ids sort by start time (as Metaflow's local ids do)."""
    return str(time.time_ns() // 1000)


class FlowDatastore:
    """One flow's runs, tasks and blobs in a storage backend."""

    def __init__(self, storage: StorageBackend, flow_name: str) -> None:
        self.storage = storage
        self.flow_name = flow_name
        self.cas = ContentAddressedStore(storage, f"{flow_name}/data")

    def __repr__(self) -> str:
        return f"FlowDatastore({self.storage.uri(self.flow_name)!r})"

    # -- paths --------------------------------------------------------------------------------------------

    def run_path(self, run_id: str) -> str:
        return f"{self.flow_name}/runs/{run_id}"

    def task_path(self, run_id: str, step: str, task_id: str) -> str:
        return f"{self.flow_name}/runs/{run_id}/{step}/{task_id}"

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
        """Store a new run record under a fresh id (never reusing one, even with concurrent runs)."""
        candidate = int(run_id or new_run_id())
        while True:
            record = {**record, "version": RECORD_VERSION, "run_id": str(candidate)}
            if self.storage.put(f"{self.run_path(str(candidate))}/run.json", [dumps(record)], overwrite=False):
                return str(candidate)
            if run_id is not None:
                raise DatastoreError(f"Run id {run_id} is already taken in {self.storage.uri(self.flow_name)}.")
            candidate += 1

    def run_record(self, run_id: str) -> dict[str, Any]:
        record = self._read(f"{self.run_path(run_id)}/run.json")
        if record is None:
            raise NotFoundError(
                f"Run {self.flow_name}/{run_id} does not exist in {self.storage.uri()}.",
                f"List the runs with Flow({self.flow_name!r}).runs().",
            )
        return record

    def write_run_end(self, run_id: str, record: dict[str, Any], overwrite: bool = True) -> bool:
        """Record how the run ended; with ``overwrite=False`` an existing end record is kept (returns False)."""
        path = f"{self.run_path(run_id)}/end.json"
        return self.storage.put(path, [dumps({**record, "version": RECORD_VERSION})], overwrite=overwrite)

    def run_end(self, run_id: str) -> dict[str, Any] | None:
        return self._read(f"{self.run_path(run_id)}/end.json")

    def run_tags(self, run_id: str) -> list[str] | None:
        """User tags as changed after the run started, or None when never changed."""
        record = self._read(f"{self.run_path(run_id)}/tags.json")
        return None if record is None else list(record["tags"])

    def write_run_tags(self, run_id: str, tags: list[str]) -> None:
        self.storage.put(f"{self.run_path(run_id)}/tags.json", [dumps({"tags": sorted(set(tags))})])

    def run_ids(self) -> list[str]:
        """Every run of the flow, newest first."""
        names = self.storage.list(f"{self.flow_name}/runs")
        return sorted((n for n in names if n.isdigit()), key=int, reverse=True)

    def latest_run_id(self, exclude: str | None = None) -> str | None:
        for run_id in self.run_ids():
            if run_id != exclude:
                return run_id
        return None

    # -- tasks and attempts -------------------------------------------------------------------------------

    def steps(self, run_id: str) -> list[str]:
        """Steps with at least one task in the run (the parameters pseudo-step excluded)."""
        names = self.storage.list(self.run_path(run_id))
        return [n for n in names if n not in _RUN_FILES and n != PARAMETERS_STEP]

    def task_ids(self, run_id: str, step: str) -> list[str]:
        names = self.storage.list(f"{self.run_path(run_id)}/{step}")
        return sorted(names, key=lambda n: (len(n), n))

    def write_attempt_start(self, run_id: str, step: str, task_id: str, attempt: int, record: dict[str, Any]) -> None:
        path = f"{self.task_path(run_id, step, task_id)}/{attempt}.start.json"
        self.storage.put(path, [dumps({**record, "attempt": attempt})])

    def write_attempt_done(
        self, run_id: str, step: str, task_id: str, attempt: int, record: dict[str, Any], overwrite: bool = False
    ) -> bool:
        """Commit an attempt. Without ``overwrite`` an attempt already committed is left as it is."""
        path = f"{self.task_path(run_id, step, task_id)}/{attempt}.done.json"
        full = {**record, "version": RECORD_VERSION, "attempt": attempt}
        return self.storage.put(path, [dumps(full)], overwrite=overwrite)

    def attempt_done(self, run_id: str, step: str, task_id: str, attempt: int) -> dict[str, Any] | None:
        return self._read(f"{self.task_path(run_id, step, task_id)}/{attempt}.done.json")

    def attempt_start(self, run_id: str, step: str, task_id: str, attempt: int) -> dict[str, Any] | None:
        return self._read(f"{self.task_path(run_id, step, task_id)}/{attempt}.start.json")

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

    def write_attempt_metadata(
        self, run_id: str, step: str, task_id: str, attempt: int, metadata: dict[str, Any]
    ) -> None:
        """What the launcher learned about an attempt (a job id): written once, when the attempt ended."""
        path = f"{self.task_path(run_id, step, task_id)}/{attempt}.launch.json"
        self.storage.put(path, [dumps({"metadata": metadata, "version": RECORD_VERSION})])

    def attempt_metadata(self, run_id: str, step: str, task_id: str, attempt: int) -> dict[str, Any]:
        record = self._read(f"{self.task_path(run_id, step, task_id)}/{attempt}.launch.json")
        return dict((record or {}).get("metadata") or {})

    def write_host_done(
        self, run_id: str, step: str, task_id: str, attempt: int, host: int, record: dict[str, Any]
    ) -> None:
        """The outcome of one helper host of a multi-host task (host 0 commits the task itself)."""
        path = f"{self.task_path(run_id, step, task_id)}/{attempt}.host-{host}.json"
        self.storage.put(path, [dumps({**record, "version": RECORD_VERSION})])

    def host_done(self, run_id: str, step: str, task_id: str, attempt: int, host: int) -> dict[str, Any] | None:
        return self._read(f"{self.task_path(run_id, step, task_id)}/{attempt}.host-{host}.json")

    # -- logs ---------------------------------------------------------------------------------------------

    def save_log(self, run_id: str, step: str, task_id: str, attempt: int, stream: str, data: bytes) -> None:
        self.storage.put(f"{self.task_path(run_id, step, task_id)}/{attempt}.{stream}", [data])

    def load_log(self, run_id: str, step: str, task_id: str, attempt: int, stream: str) -> bytes:
        try:
            return self.storage.get(f"{self.task_path(run_id, step, task_id)}/{attempt}.{stream}")
        except FileNotFoundError:
            return b""
