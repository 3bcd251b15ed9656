"""Where runs, tasks and attempts live in a datastore, and the small JSON records that describe them.

Layout under the storage root (the same on every backend)::

    <Flow>/data/<k[:2]>/<key>                       content-addressed blobs
    <Flow>/runs/<run_id>/run.json                   written once when the run starts
    <Flow>/runs/<run_id>/end.json                   written once when the run ends
    <Flow>/runs/<run_id>/tag-changes/<t>-<r>.json   one change of user tags (added, removed)
    <Flow>/runs/<run_id>/<step>/<task>/<a>.start.json   attempt ``a`` began (by the task)
    <Flow>/runs/<run_id>/<step>/<task>/<a>.done.json    attempt ``a`` ended: manifest and outcome
    <Flow>/runs/<run_id>/<step>/<task>/<a>.stdout       captured output, and <a>.stderr (only when not empty)

``<a>.done.json`` is the attempt's manifest and its done marker in one atomic write: readers trust an
attempt only once it exists, so a task killed half-way leaves nothing that looks finished. The datastore
is the source of truth for the client: nothing else is needed to read a run back.

User tags change without a lock on any backend: each change is its own immutable record, named by its
time in nanoseconds and a random suffix and written with ``overwrite=False``, so concurrent changes never
overwrite each other; the tags are the run's initial ``tags`` with every change folded in name order
(``tag-changes`` is not an identifier, so it can never be mistaken for a step). System tags live in
``run.json`` only and never change.

Every record is sealed like a blob is: the file is ``{"blake3":"<64 hex>","record":<body>}``, where the
hex digits are the BLAKE3 hash of the body's bytes exactly as stored (no re-serialization is needed to
check it, and the file stays plain JSON for ``jq``). Every read checks the seal and then the record's
shape (``_shapes``): a changed byte, a truncated file, a record without a seal, or a well-formed record
of the wrong shape raises ``DatastoreError`` naming the file and what to do, never a wrong result.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Sequence
from typing import Any

import blake3

from headwater.datastore import _shapes
from headwater.datastore._shapes import BadShape
from headwater.datastore.cas import ContentAddressedStore
from headwater.datastore.storage import StorageBackend
from headwater.exceptions import DatastoreError, HeadwaterError, NotFoundError, TagError
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
#: 2: records are sealed with a checksum.
RECORD_VERSION = 2
_LOG_STREAMS = frozenset({"stdout", "stderr"})
TAG_CHANGES = "tag-changes"
_TAG_CHANGE_NAME = re.compile(r"[0-9]{20}-[0-9a-f]{16}\.json")
#: Prefixes of the tags Headwater sets itself; no user tag may take one (nor any prefix of a run's own
#: system tags, so a plugin's system tags are protected too).
SYSTEM_TAG_PREFIXES = ("user:", "headwater_version:", "python_version:", "date:", "runtime:", "origin:")
MAX_TAG_LENGTH = 500


def dumps(record: dict[str, Any]) -> bytes:
    return json.dumps(record, separators=(",", ":"), default=str).encode()


_SEAL_HEAD = b'{"blake3":"'
_SEAL_MID = b'","record":'
_DIGEST_AT = len(_SEAL_HEAD)
_BODY_AT = _DIGEST_AT + 64 + len(_SEAL_MID)


def seal(record: dict[str, Any]) -> bytes:
    """The bytes of a record file: the record's JSON body with the BLAKE3 hash of that body in front."""
    body = dumps(record)
    return b"".join((_SEAL_HEAD, blake3.blake3(body).hexdigest().encode(), _SEAL_MID, body, b"}"))


def unseal(data: bytes) -> Any:
    """The JSON value of a record file once its hash is checked; ``BadShape`` says what is wrong."""
    if not data:
        raise BadShape("it is empty (cut short by a crash?)")
    if (
        len(data) <= _BODY_AT
        or not data.startswith(_SEAL_HEAD)
        or data[_BODY_AT - len(_SEAL_MID) : _BODY_AT] != _SEAL_MID
        or not data.endswith(b"}")
    ):
        raise BadShape("it has no checksum (it was not written by this version of Headwater, or was cut short)")
    body = data[_BODY_AT:-1]
    if blake3.blake3(body).hexdigest().encode() != data[_DIGEST_AT : _DIGEST_AT + 64]:
        raise BadShape("its content does not match its checksum (it was changed after it was written)")
    try:
        return json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: nested too deep to be a record
        raise BadShape("its content is not valid JSON") from None


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

    def _read(self, path: str, check: Callable[[Any], dict[str, Any]], hint: str) -> dict[str, Any] | None:
        """The record at ``path`` (None when there is none), its seal and shape checked."""
        try:
            data = self.storage.get(path)
        except FileNotFoundError:
            return None
        try:
            return check(unseal(data))
        except BadShape as e:
            raise DatastoreError(f"The record {self.storage.uri(path)} is damaged: {e}.", hint) from None

    def _write(self, path: str, record: dict[str, Any], overwrite: bool = True) -> bool:
        return self.storage.put(path, [seal(record)], overwrite=overwrite)

    def _read_attempt(self, run_id: str, step: str, task_id: str, attempt: int, kind: str) -> dict[str, Any] | None:
        path = self.attempt_path(run_id, step, task_id, attempt, f"{kind}.json")
        if kind == "done":
            hint = "Delete it: the attempt then counts as unfinished, and resuming the run runs the task again."
            return self._read(path, lambda r: _shapes.check_done(r, attempt), hint)
        return self._read(path, lambda r: _shapes.check_start(r, attempt), "Delete it: it only records a start.")

    # -- runs ---------------------------------------------------------------------------------------------

    def create_run(self, record: dict[str, Any], run_id: str | None = None) -> str:
        """Store a new run record under a fresh id (never reusing one, even with concurrent runs).

        A given ``run_id`` (a deployer's, which need not be digits) is used as it is or refused if taken.
        """
        if run_id is not None:
            full = {**record, "version": RECORD_VERSION, "run_id": run_id}
            if self._write(f"{self.run_path(run_id)}/run.json", full, overwrite=False):
                return run_id
            raise DatastoreError(f"Run id {run_id} is already taken in {self.storage.uri(self.flow_name)}.")
        candidate = int(new_run_id())
        while True:
            full = {**record, "version": RECORD_VERSION, "run_id": str(candidate)}
            if self._write(f"{self.run_path(str(candidate))}/run.json", full, overwrite=False):
                return str(candidate)
            candidate += 1

    def run_record(self, run_id: str) -> dict[str, Any]:
        record = self._read(
            f"{self.run_path(run_id)}/run.json",
            lambda r: _shapes.check_run(r, self.flow_name, run_id),
            f"The run cannot be read without it: delete the run's folder {self.storage.uri(self.run_path(run_id))}.",
        )
        if record is None:
            raise NotFoundError(
                f"Run {self.flow_name}/{run_id} does not exist in {self.storage.uri()}.",
                f"List the runs with Flow({self.flow_name!r}).runs().",
            )
        return record

    def write_run_end(self, run_id: str, record: dict[str, Any], overwrite: bool = True) -> bool:
        """Record how the run ended; with ``overwrite=False`` an existing end record is kept (returns False)."""
        return self._write(f"{self.run_path(run_id)}/end.json", {**record, "version": RECORD_VERSION}, overwrite)

    def run_end(self, run_id: str) -> dict[str, Any] | None:
        hint = "Delete it: the run then shows as stopped, and can be resumed."
        return self._read(f"{self.run_path(run_id)}/end.json", _shapes.check_end, hint)

    def user_tags(self, run_id: str, record: dict[str, Any] | None = None) -> list[str]:
        """The run's user tags: those it started with (from ``record``, its run.json), then every change."""
        record = record if record is not None else self.run_record(run_id)
        tags = set(record.get("tags", []))
        folder = f"{self.run_path(run_id)}/{TAG_CHANGES}"
        hint = "Delete it: that tag change is then forgotten (add or remove the tags again if needed)."
        for name in sorted(n for n in self.storage.list(folder) if _TAG_CHANGE_NAME.fullmatch(n)):
            change = self._read(f"{folder}/{name}", _shapes.check_tag_change, hint)
            if change is not None:
                tags.difference_update(change["remove"])
                tags.update(change["add"])
        return sorted(tags)

    def change_tags(self, run_id: str, add: Sequence[str] = (), remove: Sequence[str] = ()) -> None:
        """Add and remove user tags of a run in one atomic change (a tag in both ends up present)."""
        record = self.run_record(run_id)  # the run must exist
        for tag in [*add, *remove]:
            self._check_user_tag(tag, record.get("system_tags", []))
        folder = f"{self.run_path(run_id)}/{TAG_CHANGES}"
        change = {"add": sorted(set(add)), "remove": sorted(set(remove)), "version": RECORD_VERSION}
        while not self._write(f"{folder}/{time.time_ns():020d}-{os.urandom(8).hex()}.json", change, overwrite=False):
            pass  # the same nanosecond and random suffix: vanishingly rare, and a new name fixes it

    def _check_user_tag(self, tag: Any, system_tags: list[str]) -> None:
        if not isinstance(tag, str) or not tag or len(tag) > MAX_TAG_LENGTH or "\0" in tag:
            raise TagError(
                f"{tag!r} is not a valid tag.", f"A tag is a non-empty string of at most {MAX_TAG_LENGTH} characters."
            )
        prefixes = set(SYSTEM_TAG_PREFIXES) | {t.partition(":")[0] + ":" for t in system_tags if ":" in t}
        if tag in system_tags or any(tag.startswith(prefix) for prefix in prefixes):
            raise TagError(
                f"{tag!r} is a system tag (or looks like one): system tags are set by Headwater and never change.",
                f"Choose a tag that does not start with {', '.join(sorted(prefixes))}.",
            )

    def run_ids(self) -> list[str]:
        """Every run of the flow, newest first.

        Digit ids are microseconds since the epoch and sort by value without reading a record; other ids
        (a deployer's) sort by their record's ``created_at``, read only for them (a folder without a record
        is not a run). A run whose record is damaged sorts last: listing never fails because of one run.
        """
        order: dict[str, float] = {}
        for name in self.storage.list(f"{self.flow_name}/runs"):
            if name.isdigit() and is_valid_run_id(name):
                # run.json is written last (after the parameters): without it the run was never created.
                if self.storage.exists(f"{self.flow_name}/runs/{name}/run.json"):
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
        self._write(path, {**record, "attempt": attempt})

    def write_attempt_done(
        self, run_id: str, step: str, task_id: str, attempt: int, record: dict[str, Any], overwrite: bool = False
    ) -> bool:
        """Commit an attempt. Without ``overwrite`` an attempt already committed is left as it is."""
        path = self.attempt_path(run_id, step, task_id, attempt, "done.json")
        full = {**record, "version": RECORD_VERSION, "attempt": attempt}
        return self._write(path, full, overwrite=overwrite)

    def attempt_done(self, run_id: str, step: str, task_id: str, attempt: int) -> dict[str, Any] | None:
        return self._read_attempt(run_id, step, task_id, attempt, "done")

    def attempt_start(self, run_id: str, step: str, task_id: str, attempt: int) -> dict[str, Any] | None:
        return self._read_attempt(run_id, step, task_id, attempt, "start")

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
        path = self.attempt_path(run_id, step, task_id, attempt, "launch.json")
        self._write(path, {"metadata": metadata, "version": RECORD_VERSION})

    def attempt_metadata(self, run_id: str, step: str, task_id: str, attempt: int) -> dict[str, Any]:
        path = self.attempt_path(run_id, step, task_id, attempt, "launch.json")
        record = self._read(path, _shapes.check_launch, "Delete it: only the launcher's notes are lost.")
        return dict((record or {}).get("metadata") or {})

    def write_host_done(
        self, run_id: str, step: str, task_id: str, attempt: int, host: int, record: dict[str, Any]
    ) -> None:
        """The outcome of one helper host of a multi-host task (host 0 commits the task itself)."""
        path = self.attempt_path(run_id, step, task_id, attempt, f"host-{int(host)}.json")
        self._write(path, {**record, "version": RECORD_VERSION})

    def host_done(self, run_id: str, step: str, task_id: str, attempt: int, host: int) -> dict[str, Any] | None:
        path = self.attempt_path(run_id, step, task_id, attempt, f"host-{int(host)}.json")
        return self._read(path, _shapes.check_host, "Delete it: that host's part then counts as unfinished.")

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
