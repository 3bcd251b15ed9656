"""Reading runs back: ``Metaflow``, ``Flow``, ``Run``, ``Step``, ``Task``, ``DataArtifact``, namespaces.

Everything is read from the datastore's records, which are the source of truth (no service, no index
to keep in sync). Objects are addressed by pathspec (``Run("HelloFlow/1732...")``), reached by iteration
or by name (``run["train"]``), and load artifacts only when asked (``task.data.model``). The namespace
(``user:<you>`` by default, ``namespace(None)`` for everyone's) filters what ``Flow.runs()`` lists; asking
for an object outside it by pathspec raises an error that says how to see it.
"""

from __future__ import annotations

import datetime
import io
import os
import warnings
from collections.abc import Iterator
from functools import cached_property
from typing import Any

from headwater import config
from headwater.datastore.artifacts import Entry, load
from headwater.datastore.records import FlowDatastore
from headwater.exceptions import CaughtException, DatastoreError, HeadwaterError, NamespaceError, NotFoundError
from headwater.ids import validate_flow_name, validate_run_id, validate_step_name, validate_task_id

_UNSET = object()
_namespace: Any = _UNSET
_datastores: dict[tuple[str, str, str], FlowDatastore] = {}


# --------------------------------------------------------------------------------------------------------
# Namespaces and datastore
# --------------------------------------------------------------------------------------------------------


def default_namespace() -> str:
    """``user:<username>``: the runs you started."""
    return f"user:{config.username()}"


def namespace(ns: str | None) -> str | None:
    """Set the namespace for this process: a tag such as ``user:alice``, or None for every run."""
    global _namespace
    _namespace = ns
    return ns


def get_namespace() -> str | None:
    return default_namespace() if _namespace is _UNSET else _namespace


def metadata(spec: str) -> str:
    """Point the client at a datastore: ``"local@/path/to/.headwater"`` (or a plain path); returns it.

    Metaflow's ``metadata()``; here the datastore holds the metadata too.
    """
    kind, at, root = spec.partition("@")
    if not at:
        kind, root = "local", spec
    config.client_datastore = (kind, os.path.abspath(root) if kind == "local" else root)
    return get_metadata()


def get_metadata() -> str:
    """The datastore the client reads, as ``"<type>@<root>"``."""
    kind, root = datastore_root()
    return f"{kind}@{root}"


def default_metadata() -> str:
    """Forget ``metadata(...)``: read the configured or nearest datastore again; returns it (or its type)."""
    config.client_datastore = None
    try:
        return get_metadata()
    except NotFoundError:
        return str(config.get("datastore"))


def datastore_root() -> tuple[str, str]:
    """``(datastore type, root)`` the client reads.

    In order: ``metadata(...)`` (or, inside a running task, the run's own datastore); configuration;
    the nearest ``.headwater`` above the working directory.
    """
    if config.client_datastore is not None:
        return config.client_datastore
    kind = str(config.get("datastore"))
    root = config.get("datastore_root")
    if root:
        if kind == "local" and str(root).startswith("s3://"):
            kind = "s3"  # an s3:// root alone selects the S3 datastore
        return kind, str(root)
    found = config.find_upwards(os.getcwd())
    if found is None:
        known = config.known_datastores()
        hint = "Run a flow here first, work from the flow's folder, or set HEADWATER_DATASTORE_ROOT"
        if known:
            hint += f"; datastores your runs used: {', '.join(known[:5])}"
        raise NotFoundError(f"No Headwater datastore in {os.getcwd()} or any folder above it.", hint + ".")
    return kind, found


def _storage() -> Any:
    """The storage backend of the datastore the client reads."""
    from headwater.plugins import lookup, storage_backends

    kind, root = datastore_root()
    return lookup("datastore", kind, storage_backends())(root)


def _flow_datastore(flow_name: str) -> FlowDatastore:
    key = (*datastore_root(), flow_name)
    if key not in _datastores:
        _datastores[key] = FlowDatastore(_storage(), flow_name)
    return _datastores[key]


def _when(timestamp: float | None) -> datetime.datetime | None:
    return None if timestamp is None else datetime.datetime.fromtimestamp(timestamp).astimezone()


def _split(pathspec: str, parts: int, kind: str) -> list[str]:
    pieces = pathspec.strip("/").split("/")
    if len(pieces) != parts or not all(pieces):
        example = "/".join(["Flow", "run_id", "step", "task_id", "artifact"][:parts])
        raise NotFoundError(f"{pathspec!r} is not a {kind} pathspec.", f"A {kind} pathspec looks like {example!r}.")
    # Checked before anything is read: each piece becomes a folder name in the datastore.
    checks = (validate_flow_name, validate_run_id, validate_step_name, validate_task_id)
    for validate, piece in zip(checks, pieces[:4], strict=False):  # an artifact name is looked up, not a path
        validate(piece)
    return pieces


# --------------------------------------------------------------------------------------------------------
# Objects
# --------------------------------------------------------------------------------------------------------


class _ClientObject:
    _KIND = ""

    def __init__(self, pathspec: str) -> None:
        self.pathspec = pathspec

    @property
    def path_components(self) -> list[str]:
        return self.pathspec.split("/")

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.pathspec!r})"

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.pathspec == other.pathspec

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.pathspec))


class Metaflow:
    """Every flow in the datastore."""

    @property
    def flows(self) -> list[Flow]:
        storage = _storage()
        names = [n for n in storage.list("") if n.isidentifier() and storage.list(f"{n}/runs")]
        return [Flow(name) for name in sorted(names)]

    def __iter__(self) -> Iterator[Flow]:
        return iter(self.flows)

    def __repr__(self) -> str:
        return "Metaflow()"


class Flow(_ClientObject):
    """A flow: its runs, newest first."""

    _KIND = "flow"

    def __init__(self, pathspec: str) -> None:
        (name,) = _split(pathspec, 1, "flow")
        super().__init__(name)
        self.name = name
        self._ds = _flow_datastore(name)
        if not self._ds.run_ids():
            raise NotFoundError(
                f"Flow {name} has no runs in {self._ds.storage.uri()}.",
                "Check the flow's class name, or the datastore (HEADWATER_DATASTORE_ROOT).",
            )

    def runs(self, *tags: str) -> Iterator[Run]:
        """Runs in the current namespace that carry every tag given, newest first.

        Records are read only as far as the filter needs: with ``namespace(None)`` and no tags, listing
        a thousand runs reads one directory, and a damaged run is listed like the others (reading it
        raises ``DatastoreError`` naming the damaged file). When records are read to filter, a run whose
        record is damaged is skipped with a ``DamagedRunWarning`` naming the file, and one being created
        right now (no record yet) is skipped silently: one bad run never stops the listing of the others.
        """
        ns = get_namespace()
        for run_id in self._ds.run_ids():
            run = Run._from(self._ds, self.name, run_id)
            if ns is None and not tags:
                yield run
                continue
            try:
                if (ns is None or run._in_namespace(ns)) and all(tag in run.tags for tag in tags):
                    yield run
            except NotFoundError:  # a run being created right now has no record yet
                continue
            except DatastoreError as e:
                _skipped(run, e)

    def __iter__(self) -> Iterator[Run]:
        return self.runs()

    def __getitem__(self, run_id: str) -> Run:
        return Run(f"{self.name}/{run_id}")

    def _readable_runs(self) -> Iterator[Run]:
        """``runs()``, leaving out (with a warning) the runs whose record cannot be read."""
        for run in self.runs():
            try:
                _ = run._record
            except NotFoundError:  # being created right now
                continue
            except DatastoreError as e:
                _skipped(run, e)
                continue
            yield run

    @property
    def latest_run(self) -> Run | None:
        """The newest run in the namespace whose record can be read (a damaged one is skipped, with a warning)."""
        return next(self._readable_runs(), None)

    @property
    def latest_successful_run(self) -> Run | None:
        for run in self._readable_runs():
            try:
                if run.successful:
                    return run
            except DatastoreError as e:  # its end record is damaged: it cannot count as a success
                _skipped(run, e)
        return None


def _skipped(run: Run, error: DatastoreError) -> None:
    warnings.warn(f"Skipped run {run.pathspec}: {error.message}", DamagedRunWarning, stacklevel=3)


class DamagedRunWarning(UserWarning):
    """A run was left out of a listing because one of its records is damaged (the message names the file)."""


class Run(_ClientObject):
    """One run: its steps, its status, and ``data`` (the artifacts of its ``end`` task)."""

    _KIND = "run"

    def __init__(self, pathspec: str, _namespace_check: bool = True) -> None:
        flow_name, run_id = _split(pathspec, 2, "run")
        super().__init__(f"{flow_name}/{run_id}")
        self.flow_name, self.id = flow_name, run_id
        self._ds = _flow_datastore(flow_name)
        self._ds.run_record(run_id)  # raises NotFoundError with a clear message
        if _namespace_check:
            ns = get_namespace()
            if ns is not None and not self._in_namespace(ns):
                raise NamespaceError(
                    f"Run {self.pathspec} is not in namespace {ns!r} (its user is {self._record.get('user')!r}).",
                    "Call namespace(None) to see every run, or namespace('user:<name>') for someone's.",
                )

    @classmethod
    def _from(cls, ds: FlowDatastore, flow_name: str, run_id: str) -> Run:
        """A run whose record is read when first needed."""
        run = cls.__new__(cls)
        _ClientObject.__init__(run, f"{flow_name}/{run_id}")
        run.flow_name, run.id, run._ds = flow_name, run_id, ds
        return run

    @cached_property
    def _record(self) -> dict[str, Any]:
        return self._ds.run_record(self.id)

    def _in_namespace(self, ns: str) -> bool:
        # System tags (user:<name>, ...) never change, so the common case reads run.json only.
        return ns in self._record.get("system_tags", ()) or ns in self.tags

    @property
    def user_tags(self) -> list[str]:
        return self._ds.user_tags(self.id, self._record)

    @property
    def system_tags(self) -> list[str]:
        return sorted(self._record.get("system_tags", []))

    @property
    def tags(self) -> list[str]:
        return sorted(set(self.user_tags) | set(self.system_tags))

    # Each change is one record of its own (see ``FlowDatastore.change_tags``): concurrent changes, from
    # any number of processes or machines, are all kept. System tags cannot be added or removed.

    def add_tag(self, tag: str) -> None:
        self.add_tags([tag])

    def add_tags(self, tags: list[str]) -> None:
        self._ds.change_tags(self.id, add=list(tags))

    def remove_tag(self, tag: str) -> None:
        self.remove_tags([tag])

    def remove_tags(self, tags: list[str]) -> None:
        self._ds.change_tags(self.id, remove=list(tags))

    def replace_tag(self, old: str, new: str) -> None:
        self.replace_tags([old], [new])

    def replace_tags(self, old: list[str], new: list[str]) -> None:
        """Remove ``old`` and add ``new`` in one change: no reader ever sees one without the other."""
        self._ds.change_tags(self.id, add=list(new), remove=list(old))

    @property
    def created_at(self) -> datetime.datetime | None:
        return _when(self._record.get("created_at"))

    @property
    def _end(self) -> dict[str, Any] | None:
        return self._ds.run_end(self.id)

    @property
    def finished(self) -> bool:
        """True when the ``end`` step finished (as in Metaflow); ``status`` tells a failed run from a live one."""
        end_task = self.end_task
        return end_task is not None and end_task.finished

    @property
    def successful(self) -> bool:
        end = self._end
        return end is not None and end.get("status") == "succeeded"

    @property
    def finished_at(self) -> datetime.datetime | None:
        """When the ``end`` step finished (None if it did not)."""
        end_task = self.end_task
        return end_task.finished_at if end_task is not None else None

    @property
    def status(self) -> str:
        """``succeeded``, ``failed``, ``running``, or ``stopped`` (its runtime died without finishing).

        Without an end record, a run started on this machine is ``stopped`` when its runtime's process is
        gone, has exited (a zombie), or is another process that reused the pid (it started after the run).
        A run started elsewhere cannot be checked from here and shows as ``running``.
        """
        end = self._end
        if end is not None:
            return str(end["status"])
        runtime = self._record.get("runtime") or {}
        import socket

        if runtime.get("host") == socket.gethostname() and runtime.get("pid"):
            return "running" if _process_alive(int(runtime["pid"]), self._record.get("created_at")) else "stopped"
        return "running"

    @property
    def origin_pathspec(self) -> str | None:
        origin = self._record.get("origin_run_id")
        return f"{self.flow_name}/{origin}" if origin else None

    @property
    def parameters(self) -> dict[str, Any]:
        """The run's parameter values."""
        record = self._ds.latest_ok(self.id, "_parameters", "0") or {}
        names = record.get("parameters", [])
        where = f"{self.pathspec} parameters"
        return {
            n: load(self._ds.cas, n, record["manifest"][n], where) for n in names if n in record.get("manifest", {})
        }

    def steps(self) -> Iterator[Step]:
        """Steps that ran, in the order of the graph."""
        present = set(self._ds.steps(self.id))
        order = [s["name"] for s in (self._record.get("graph") or {}).get("steps", [])]
        for name in order + sorted(present - set(order)):
            if name in present:
                yield Step._from(self, name)

    def __iter__(self) -> Iterator[Step]:
        return self.steps()

    def __getitem__(self, step: str) -> Step:
        if step not in self._ds.steps(self.id):
            raise KeyError(
                f"Run {self.pathspec} has no step {step!r} (steps: {', '.join(s.id for s in self.steps())})."
            )
        return Step._from(self, step)

    def __contains__(self, step: str) -> bool:
        return step in self._ds.steps(self.id)

    @property
    def end_task(self) -> Task | None:
        if "end" not in self._ds.steps(self.id):
            return None
        return next(iter(Step._from(self, "end").tasks()), None)

    @property
    def data(self) -> TaskData | None:
        """The artifacts of the ``end`` task (None when the run did not reach it)."""
        end = self.end_task
        return end.data if end is not None and end.successful else None

    @property
    def code(self) -> CodePackage | None:
        key = self._record.get("code_package")
        return CodePackage(self._ds, key, self._record.get("flow_file")) if key else None


def _process_alive(pid: int, since: float | None) -> bool:
    """Whether process ``pid`` runs and (where /proc tells) is the one that was running at time ``since``."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        pass
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
        with open("/proc/stat", "rb") as f:
            boot = next(float(line.split()[1]) for line in f if line.startswith(b"btime "))
    except (OSError, StopIteration, ValueError, IndexError):
        return True  # no /proc (macOS): the pid exists, which is all we can tell
    fields = stat[stat.rindex(b")") + 2 :].split()  # after "pid (command) ": state is field 3 of stat(5)
    if fields[0] in (b"Z", b"X"):  # exited, not yet reaped by its parent: the runtime is dead
        return False
    started = boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22: start time in clock ticks
    # The runtime starts before it writes the run record; a process that started later reused the pid.
    # btime is whole seconds, hence the margin.
    return since is None or started <= since + 2


class Step(_ClientObject):
    """One step of a run: its tasks (one, or one per foreach item)."""

    _KIND = "step"

    def __init__(self, pathspec: str, _namespace_check: bool = True) -> None:
        flow_name, run_id, step = _split(pathspec, 3, "step")
        run = Run(f"{flow_name}/{run_id}", _namespace_check)
        if step not in run:
            raise NotFoundError(f"Run {run.pathspec} has no step {step!r}.")
        self._init(run, step)

    def _init(self, run: Run, step: str) -> None:
        _ClientObject.__init__(self, f"{run.pathspec}/{step}")
        self.run, self.id = run, step

    @classmethod
    def _from(cls, run: Run, step: str) -> Step:
        obj = cls.__new__(cls)
        obj._init(run, step)
        return obj

    @property
    def tags(self) -> list[str]:
        return self.run.tags

    def tasks(self, *tags: str) -> Iterator[Task]:
        if any(tag not in self.run.tags for tag in tags):
            return
        for task_id in self.run._ds.task_ids(self.run.id, self.id):
            yield Task._from(self, task_id)

    def __iter__(self) -> Iterator[Task]:
        return self.tasks()

    def __getitem__(self, task_id: str) -> Task:
        if str(task_id) not in self.run._ds.task_ids(self.run.id, self.id):
            raise KeyError(f"Step {self.pathspec} has no task {task_id!r}.")
        return Task._from(self, str(task_id))

    @property
    def task(self) -> Task | None:
        """A task of this step (the first); the only one unless the step is in a foreach."""
        return next(self.tasks(), None)

    @property
    def created_at(self) -> datetime.datetime | None:
        times = [t.created_at for t in self.tasks() if t.created_at]
        return min(times) if times else None

    @property
    def finished_at(self) -> datetime.datetime | None:
        times = [t.finished_at for t in self.tasks()]
        return None if not times or None in times else max(times)  # type: ignore[type-var]


class Task(_ClientObject):
    """One task: its artifacts (``data``), outcome, output and attempts."""

    _KIND = "task"

    def __init__(self, pathspec: str, attempt: int | None = None, _namespace_check: bool = True) -> None:
        flow_name, run_id, step, task_id = _split(pathspec, 4, "task")
        parent = Step(f"{flow_name}/{run_id}/{step}", _namespace_check)
        if task_id not in parent.run._ds.task_ids(run_id, step):
            raise NotFoundError(f"Step {parent.pathspec} has no task {task_id!r}.")
        self._init(parent, task_id, attempt)

    def _init(self, step: Step, task_id: str, attempt: int | None = None) -> None:
        _ClientObject.__init__(self, f"{step.pathspec}/{task_id}")
        self.parent, self.id, self._attempt = step, task_id, attempt
        self._ds = step.run._ds

    @classmethod
    def _from(cls, step: Step, task_id: str, attempt: int | None = None) -> Task:
        obj = cls.__new__(cls)
        obj._init(step, task_id, attempt)
        return obj

    @property
    def _where(self) -> tuple[str, str, str]:
        return self.parent.run.id, self.parent.id, self.id

    @cached_property
    def _attempts(self) -> tuple[list[int], list[int]]:
        return self._ds.attempts(*self._where)

    @property
    def current_attempt(self) -> int:
        """The attempt shown by this object: the one asked for, else the latest."""
        if self._attempt is not None:
            return self._attempt
        started, done = self._attempts
        return max(started + done) if started or done else 0

    @cached_property
    def _record(self) -> dict[str, Any] | None:
        return self._ds.attempt_done(*self._where, self.current_attempt)

    @cached_property
    def _start(self) -> dict[str, Any] | None:
        return self._ds.attempt_start(*self._where, self.current_attempt)

    @property
    def tags(self) -> list[str]:
        return self.parent.run.tags

    @property
    def finished(self) -> bool:
        return self._record is not None

    @property
    def successful(self) -> bool:
        return bool(self._record and self._record.get("ok"))

    @property
    def created_at(self) -> datetime.datetime | None:
        source = self._record or self._start or {}
        return _when(source.get("started_at"))

    @property
    def finished_at(self) -> datetime.datetime | None:
        return _when(self._record.get("finished_at")) if self._record else None

    @property
    def exception(self) -> CaughtException | None:
        """The failure of this attempt, as recorded (type, message, traceback), or None."""
        info = (self._record or {}).get("exception")
        if not info:
            return None
        return CaughtException(info["type"], info["message"], info.get("traceback"), self.current_attempt)

    @property
    def index(self) -> int | None:
        """This task's index in its innermost foreach (None outside a foreach)."""
        stack = (self._record or {}).get("foreach_stack") or []
        return stack[-1]["index"] if stack else None

    @property
    def origin_pathspec(self) -> str | None:
        origin = (self._record or {}).get("origin")
        if not origin:
            return None
        return f"{self.parent.run.flow_name}/{origin['run_id']}/{self.parent.id}/{origin['task_id']}"

    @property
    def _manifest(self) -> dict[str, Entry]:
        return dict((self._record or {}).get("manifest") or {})

    @property
    def data(self) -> TaskData:
        """The task's artifacts as attributes: ``task.data.model`` (loaded when read)."""
        return TaskData(self)

    @property
    def artifacts(self) -> list[DataArtifact]:
        return [DataArtifact._from(self, name) for name in sorted(self._manifest)]

    def __iter__(self) -> Iterator[DataArtifact]:
        return iter(self.artifacts)

    def __getitem__(self, name: str) -> DataArtifact:
        if name not in self._manifest:
            raise KeyError(f"Task {self.pathspec} has no artifact {name!r}.")
        return DataArtifact._from(self, name)

    def __contains__(self, name: str) -> bool:
        return name in self._manifest

    def _log(self, stream: str) -> str:
        record = self._record or {}
        origin = record.get("origin")
        if origin:  # a cloned task shows the output of the task it was cloned from
            data = self._ds.load_log(
                origin["run_id"], self.parent.id, origin["task_id"], origin.get("attempt", 0), stream
            )
        else:
            data = self._ds.load_log(*self._where, self.current_attempt, stream)
        return data.decode("utf-8", "replace")

    @property
    def stdout(self) -> str:
        return self._log("stdout")

    @property
    def stderr(self) -> str:
        return self._log("stderr")

    @property
    def code(self) -> CodePackage | None:
        return self.parent.run.code

    @property
    def metadata(self) -> list[Metadata]:
        """Facts recorded about this attempt: where it ran (``host``, ``pid``), and what plugins recorded
        (a Batch job id, an environment's lock hash), from the task itself and from its launcher."""
        attempt = self.current_attempt
        start = self._start or {}
        created = _when(start.get("started_at"))
        found: dict[str, Any] = {}
        found.update(start.get("metadata") or {})
        found.update((self._record or {}).get("metadata") or {})
        found.update(self._ds.attempt_metadata(*self._where, attempt) if self._attempts[0] or self._attempts[1] else {})
        found.update({key: start[key] for key in ("host", "pid") if key in start}, attempt=attempt)  # the core's own
        return [Metadata(name, value, created, self) for name, value in found.items()]

    @property
    def metadata_dict(self) -> dict[str, Any]:
        """``metadata`` as ``{name: value}``."""
        return {m.name: m.value for m in self.metadata}


class Metadata:
    """One fact about a task attempt (Metaflow's ``Metadata``): ``name``, ``value``, ``created_at``, ``task``."""

    __slots__ = ("created_at", "name", "task", "value")

    def __init__(self, name: str, value: Any, created_at: datetime.datetime | None, task: Task) -> None:
        self.name = name
        self.value = value
        self.created_at = created_at
        self.task = task

    @property
    def type(self) -> str:
        return type(self.value).__name__

    def __repr__(self) -> str:
        return f"Metadata({self.name!r}, {self.value!r})"


class TaskData:
    """Artifacts of a task as attributes; each is loaded on first access."""

    def __init__(self, task: Task) -> None:
        self._task = task
        self._cache: dict[str, Any] = {}

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        manifest = self._task._manifest
        if name not in manifest:
            raise AttributeError(
                f"Task {self._task.pathspec} has no artifact {name!r}. Artifacts: {', '.join(sorted(manifest)) or 'none'}."
            )
        if name not in self._cache:
            self._cache[name] = load(self._task._ds.cas, name, manifest[name], self._task.pathspec)
        return self._cache[name]

    def __contains__(self, name: str) -> bool:
        return name in self._task._manifest

    def __dir__(self) -> list[str]:
        return sorted(self._task._manifest)

    def __repr__(self) -> str:
        return f"<data of {self._task.pathspec}: {', '.join(sorted(self._task._manifest))}>"


class DataArtifact(_ClientObject):
    """One artifact of a task: ``data`` (loaded when read), ``sha`` (its content key), ``size``, ``type``."""

    _KIND = "artifact"

    def __init__(self, pathspec: str, _namespace_check: bool = True) -> None:
        flow_name, run_id, step, task_id, name = _split(pathspec, 5, "artifact")
        task = Task(f"{flow_name}/{run_id}/{step}/{task_id}", _namespace_check=_namespace_check)
        if name not in task:
            raise NotFoundError(f"Task {task.pathspec} has no artifact {name!r}.")
        self._init(task, name)

    def _init(self, task: Task, name: str) -> None:
        _ClientObject.__init__(self, f"{task.pathspec}/{name}")
        self.task, self.id = task, name
        self._entry = task._manifest[name]

    @classmethod
    def _from(cls, task: Task, name: str) -> DataArtifact:
        obj = cls.__new__(cls)
        obj._init(task, name)
        return obj

    @property
    def data(self) -> Any:
        return load(self.task._ds.cas, self.id, self._entry, self.task.pathspec)

    @property
    def sha(self) -> str:
        return str(self._entry["key"])

    @property
    def size(self) -> int:
        return int(self._entry["size"])

    @property
    def type(self) -> str:
        return str(self._entry.get("type", "?"))

    @property
    def finished_at(self) -> datetime.datetime | None:
        return self.task.finished_at

    @property
    def created_at(self) -> datetime.datetime | None:
        return self.task.finished_at


class CodePackage:
    """The code a run ran with: ``tarball`` bytes, ``files``, the flow's source (``flowspec``), ``extract``."""

    def __init__(self, ds: FlowDatastore, key: str, flow_file: str | None) -> None:
        self.key = key
        self._ds = ds
        self.script_name = flow_file

    @cached_property
    def tarball(self) -> bytes:
        from headwater import code_package

        return code_package.load(self._ds, self.key)

    def _open(self) -> Any:
        import tarfile

        return tarfile.open(fileobj=io.BytesIO(self.tarball), mode="r:gz")

    @property
    def files(self) -> list[str]:
        with self._open() as tar:
            return tar.getnames()

    @property
    def flowspec(self) -> str:
        """The source of the flow's file."""
        with self._open() as tar:
            member = tar.extractfile(self.script_name or "")
            if member is None:
                raise HeadwaterError(f"The code package has no {self.script_name!r}.")
            return member.read().decode("utf-8")

    def extract(self, path: str) -> str:
        """Write the package's files under ``path``; a package holding a link, or a name that leaves
        ``path``, is refused whole (Headwater never builds one: it was made or changed by hand)."""
        import tarfile

        root = os.path.realpath(path)
        with self._open() as tar:
            members = tar.getmembers()
            for member in members:
                target = os.path.realpath(os.path.join(root, member.name))
                if not (member.isfile() or member.isdir()) or os.path.commonpath([root, target]) != root:
                    raise HeadwaterError(
                        f"The code package {self.key} holds {member.name!r}, a link or a path outside {path}; "
                        "nothing was extracted.",
                        "Code packages hold plain files only: this one was not built by Headwater.",
                    )
            if hasattr(tarfile, "data_filter"):  # Python 3.10.12+: the standard library checks again
                tar.extractall(path, members=members, filter="data")
            else:
                tar.extractall(path, members=members)
        return path
