"""One task attempt: load its inputs, run the step, persist its artifacts, commit. The ``step`` command.

This is the only code path for what a task does, wherever it runs (forked by the local runtime, in a
container on Batch, in a Step Functions state). Inputs are read from the datastore; the outcome, success
or failure, is committed as the attempt's ``done`` record, which is also how the scheduler learns what the
step chose to run next.
"""

from __future__ import annotations

import errno
import os
import signal
import socket
import sys
import threading
import time
import traceback
from typing import TYPE_CHECKING, Any

from headwater._attempts import attempt_label
from headwater._current import Parallel, current
from headwater.datastore.artifacts import ArtifactSource, Manifest, persist
from headwater.datastore.records import PARAMETERS_STEP, PARAMETERS_TASK, FlowDatastore
from headwater.exceptions import (
    DatastoreError,
    HeadwaterError,
    HostsFailed,
    SerializationError,
    StepUsageError,
    TaskInterrupted,
)
from headwater.graph import END, FOREACH, SWITCH, FlowGraph, StepNode
from headwater.inputs import Inputs, InputView

if TYPE_CHECKING:
    from headwater.flowspec import FlowSpec

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: Set when SIGINT really reached this process: a KeyboardInterrupt without it was raised by the step itself.
_interrupted_by: int | None = None


def _on_sigint(signum: int, frame: Any) -> None:
    global _interrupted_by
    _interrupted_by = signum
    raise KeyboardInterrupt


def _catch_sigint() -> Any:
    """Note real SIGINTs (as Python's own handler does, raising KeyboardInterrupt); returns an undo."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = signal.getsignal(signal.SIGINT)
    if previous is not signal.default_int_handler:  # someone else handles it: leave it to them
        return lambda: None
    signal.signal(signal.SIGINT, _on_sigint)
    return lambda: signal.signal(signal.SIGINT, previous)


class TaskContext:
    """Everything one attempt knows; ``self`` of a step reaches it through ``self._hw_task``."""

    def __init__(
        self,
        flow_cls: type[FlowSpec],
        graph: FlowGraph,
        node: StepNode,
        datastore: FlowDatastore,
        run_id: str,
        task_id: str,
        attempt: int,
        input_paths: list[str],
        split_index: int | None = None,
        max_user_code_retries: int = 0,
        max_num_splits: int = 100,
        tags: list[str] | None = None,
        user: str = "unknown",
        namespace: str | None = None,
        origin_run_id: str | None = None,
        options: dict[str, Any] | None = None,
        host_index: int = 0,
        num_hosts: int = 1,
    ) -> None:
        self.flow_cls = flow_cls
        self.graph = graph
        self.node = node
        self.datastore = datastore
        self.run_id = run_id
        self.task_id = task_id
        self.attempt = attempt
        self.input_paths = input_paths
        self.split_index = split_index
        self.max_user_code_retries = max_user_code_retries
        self.max_num_splits = max_num_splits
        self.tags = tags or []
        self.user = user
        self.namespace = namespace
        self.origin_run_id = origin_run_id
        self.options = options or {}
        #: Multi-host tasks (distributed training): every host runs the step; host 0 commits the task.
        self.host_index = host_index
        self.num_hosts = num_hosts
        #: Facts recorded with the attempt (``register_task_metadata``), read back with ``Task.metadata``.
        self.metadata: dict[str, Any] = {}
        self.flow: FlowSpec = flow_cls.__new__(flow_cls)
        self.flow.__dict__["_hw_task"] = self
        self.transition: dict[str, Any] | None = None
        self.foreach_stack: list[dict[str, Any]] = []
        self.iteration = 0
        self.inputs: Inputs | None = None
        self.source: ArtifactSource = ArtifactSource(datastore.cas, {}, self.pathspec)
        self.parameter_names: list[str] = []
        self._foreach_values: dict[tuple[str, str, str], Any] = {}

    @property
    def pathspec(self) -> str:
        return f"{self.graph.name}/{self.run_id}/{self.node.name}/{self.task_id}"

    @property
    def is_fallback(self) -> bool:
        """True when the user's retries are used up and a plugin (``@catch``) may replace the body."""
        return self.attempt > self.max_user_code_retries

    @property
    def step_function(self) -> Any:
        return getattr(self.flow, self.node.name)

    # -- inputs ---------------------------------------------------------------------------------------------

    def _input_record(self, path: str) -> tuple[str, str, dict[str, Any]]:
        step, _, task_id = path.partition("/")
        record = self.datastore.latest_ok(self.run_id, step, task_id)
        if record is None:
            raise DatastoreError(
                f"Input {self.graph.name}/{self.run_id}/{path} of {self.pathspec} has no successful attempt.",
                "The input task failed or was never run; resume the run to re-run it.",
            )
        return step, task_id, record

    def load_inputs(self) -> None:
        params = self.datastore.latest_ok(self.run_id, PARAMETERS_STEP, PARAMETERS_TASK)
        if params is None:
            raise DatastoreError(f"Run {self.graph.name}/{self.run_id} has no parameters record.")
        self.parameter_names = list(params.get("parameters", []))
        cas = self.datastore.cas
        records = [self._input_record(path) for path in self.input_paths]
        if self.node.is_join:
            first_stack = list(records[0][2].get("foreach_stack") or [])
            split = self.graph.nodes.get(self.node.matching_split or "")
            self.foreach_stack = first_stack[:-1] if split is not None and split.transition == FOREACH else first_stack
            if split is not None and split.transition == FOREACH:
                records.sort(key=lambda r: r[2]["foreach_stack"][-1]["index"])
            views = [
                InputView(
                    self,
                    step,
                    task_id,
                    record,
                    ArtifactSource(cas, record["manifest"], f"{self.graph.name}/{self.run_id}/{step}/{task_id}"),
                )
                for step, task_id, record in records
            ]
            self.inputs = Inputs(views)
            self.source = ArtifactSource(cas, dict(params["manifest"]), self.pathspec)
            return
        if len(records) != 1:
            raise DatastoreError(f"Step `{self.node.name}` is not a join but got {len(records)} inputs.")
        step, task_id, record = records[0]
        stack = list(record.get("foreach_stack") or [])
        transition = record.get("transition") or {}
        if transition.get("type") == FOREACH:
            if self.split_index is None:
                raise DatastoreError(f"{self.pathspec} follows a foreach but was given no --split-index.")
            stack.append(
                {
                    "run": self.run_id,
                    "step": step,
                    "task": task_id,
                    "var": transition["var"],
                    "index": self.split_index,
                    "num_splits": transition["num_splits"],
                }
            )
        self.foreach_stack = stack
        self.iteration = int(record.get("iteration", 0)) + 1 if step == self.node.name else 0
        self.source = ArtifactSource(cas, dict(record["manifest"]), self.pathspec)

    # -- what FlowSpec asks for -----------------------------------------------------------------------------

    def read_artifact(self, name: str) -> Any:
        if name in self.source:
            return self.source.get(name)
        available = ", ".join(sorted(n for n in self.source.names() if n not in self.parameter_names)) or "none"
        hint = ""
        if self.node.is_join:
            hint = " In a join, read the branches' artifacts through `inputs`, or call self.merge_artifacts(inputs)."
        raise AttributeError(
            f"Step `{self.node.name}` of {self.graph.name} has no artifact `{name}`. Artifacts here: {available}.{hint}"
        )

    def read_parameter(self, attr: str) -> Any:
        return self.source.get(attr) if attr in self.source else None

    def item_of(self, frame: dict[str, Any]) -> Any:
        """The foreach item a frame of the foreach stack points at (loaded from the split task)."""
        run_id = frame.get("run", self.run_id)
        key = (run_id, frame["step"], frame["task"])
        if key not in self._foreach_values:
            record = self.datastore.latest_ok(run_id, frame["step"], frame["task"])
            if record is None:
                raise DatastoreError(f"Foreach split {frame['step']}/{frame['task']} has no successful attempt.")
            where = f"{self.graph.name}/{run_id}/{frame['step']}/{frame['task']}"
            self._foreach_values[key] = ArtifactSource(self.datastore.cas, record["manifest"], where).get(frame["var"])
        return _item_at(self._foreach_values[key], frame["index"])

    def foreach_item(self, level: int) -> Any:
        if not self.foreach_stack:
            return None
        return self.item_of(self.foreach_stack[level])

    def _target_name(self, target: Any) -> str:
        func = getattr(target, "__func__", target)
        if not getattr(func, "_hw_is_step", False):
            raise StepUsageError(
                f"Step `{self.node.name}` ({self.node.location}): self.next got {target!r}, which is not a step.",
                "Pass steps as self.<step_name>.",
            )
        return func.__name__

    def _artifact_for(self, flow: FlowSpec, name: str, role: str) -> Any:
        try:
            return getattr(flow, name)
        except AttributeError:
            raise StepUsageError(
                f"Step `{self.node.name}` ({self.node.file}:{self.node.next_line}): {role} `{name}` is not an artifact.",
                f"Set self.{name} in this step (or an earlier one) before calling self.next.",
            ) from None

    def record_next(self, flow: FlowSpec, targets: tuple[Any, ...], foreach: str | None, condition: str | None) -> None:
        node = self.node
        where = f"Step `{node.name}` ({node.file}:{node.next_line})"
        if self.transition is not None:
            raise StepUsageError(f"{where} called self.next twice.", "Call self.next exactly once, at the end.")
        if node.transition == END:
            raise StepUsageError(f"{where}: the end step cannot call self.next.")
        if targets and isinstance(targets[0], dict):
            cases = {key: self._target_name(t) for key, t in targets[0].items()}
            if condition is None:
                raise StepUsageError(f"{where}: a conditional self.next needs condition='<attribute>'.")
            value = self._artifact_for(flow, condition, "the condition")
            try:
                chosen = cases[value]
            except (KeyError, TypeError):
                raise StepUsageError(
                    f"{where}: the condition `{condition}` is {value!r}, which matches no case.",
                    f"Cases: {', '.join(map(repr, cases))}. Set self.{condition} to one of them.",
                ) from None
            self.transition = {"type": SWITCH, "next": [chosen], "value": repr(value)[:200]}
            return
        names = [self._target_name(t) for t in targets]
        if names != node.out_funcs or (foreach or None) != node.foreach_param:
            raise StepUsageError(
                f"{where}: self.next({', '.join(names)}) does not match the graph read from the source "
                f"({', '.join(node.out_funcs)}).",
                "Call self.next with literal steps as the last statement of the step.",
            )
        if foreach is None:
            self.transition = {"type": node.transition, "next": names}
            return
        values = self._artifact_for(flow, foreach, "the foreach")
        if isinstance(values, (set, frozenset)):
            raise StepUsageError(
                f"{where}: foreach over `{foreach}`, a {type(values).__name__}, whose order changes from one "
                "process to the next: tasks would get duplicated or missing items.",
                f"Give the foreach an ordered collection, e.g. self.{foreach} = sorted(self.{foreach}).",
            )
        try:
            count = len(values)
        except TypeError:
            try:
                count = sum(1 for _ in iter(values))
            except TypeError:
                raise StepUsageError(
                    f"{where}: foreach over `{foreach}`, but it is a {type(values).__name__}, which is not iterable.",
                    f"Set self.{foreach} to a list (or another iterable) of items.",
                ) from None
        if count == 0:
            raise StepUsageError(
                f"{where}: foreach over `{foreach}`, which is empty.",
                f"A foreach needs at least one item; check how self.{foreach} is built.",
            )
        if count > self.max_num_splits:
            raise StepUsageError(
                f"{where}: foreach over `{foreach}` would start {count} tasks, more than --max-num-splits "
                f"({self.max_num_splits}).",
                f"Raise the limit with `run --max-num-splits {count}` if this is intended.",
            )
        self.transition = {"type": FOREACH, "next": names, "var": foreach, "num_splits": count}

    def merge_artifacts(self, flow: FlowSpec, inputs: Inputs, exclude: list[str], include: list[str]) -> None:
        node = self.node
        where = f"merge_artifacts in `{node.name}` ({node.location})"
        if not node.is_join or self.inputs is None:
            raise StepUsageError(f"{where}: only a join step can merge artifacts.")
        if exclude and include:
            raise StepUsageError(f"{where}: give include= or exclude=, not both.")
        already = {name for name, _ in flow._artifact_items()}
        params = set(self.parameter_names)
        keys: dict[str, dict[str, list[str]]] = {}
        entries: dict[str, dict[str, Any]] = {}
        for view in inputs:
            for name, entry in view._hw_source.manifest.items():
                if name in params:
                    continue
                keys.setdefault(name, {}).setdefault(entry["key"], []).append(f"{view._hw_step}/{view._hw_task_id}")
                entries[name] = entry
        missing = [name for name in include if name not in keys and name not in already]
        if missing:
            raise StepUsageError(
                f"{where}: include names {', '.join(map(repr, missing))}, which no input has.",
                f"Inputs have: {', '.join(sorted(keys)) or 'no artifacts'}.",
            )
        names = [n for n in (include or keys) if n not in exclude and n not in already]
        conflicts = [n for n in names if len(keys[n]) > 1]
        if conflicts:
            first = conflicts[0]
            detail = "; ".join(", ".join(tasks) for tasks in keys[first].values())
            raise StepUsageError(
                f"{where}: the inputs disagree on {', '.join(f'`{c}`' for c in conflicts)} "
                f"(`{first}` differs between {detail}).",
                f"Set them on self before merging (e.g. self.{first} = inputs[0].{first}), or pass exclude=[...].",
            )
        for name in names:
            self.source.manifest[name] = entries[name]

    # -- running --------------------------------------------------------------------------------------------

    def call_step_function(self) -> None:
        """Run the user's step body (the core's ``execute_step``)."""
        if self.node.is_join:
            self.step_function(self.inputs)
        else:
            self.step_function()

    def _set_current(self, hook: Any) -> None:
        fields = {
            "parallel": Parallel(os.environ.get("HEADWATER_MAIN_HOST", "127.0.0.1"), self.num_hosts, self.host_index),
            "flow_name": self.graph.name,
            "run_id": self.run_id,
            "step_name": self.node.name,
            "task_id": self.task_id,
            "retry_count": self.attempt,
            "origin_run_id": self.origin_run_id,
            "namespace": self.namespace,
            "username": self.user,
            "tags": list(self.tags),
            "parameter_names": list(self.parameter_names),
        }
        current._set(fields)
        extra: dict[str, Any] = {}
        hook.register_current_fields(task=self, register=extra.setdefault)
        current._set(fields, extra)

    def run(self) -> bool:
        """Run the attempt to its committed outcome; True when it succeeded."""
        from headwater.plugins import hook as get_hook

        hook = get_hook()
        _raise_open_file_limit()
        started = time.time()
        try:
            hook.register_task_metadata(task=self, register=self.metadata.setdefault)
        except Exception as e:
            sys.stderr.write(f"headwater: warning: a plugin's register_task_metadata hook failed: {e!r}\n")
        if self.host_index == 0:
            self.datastore.write_attempt_start(
                self.run_id,
                self.node.name,
                self.task_id,
                self.attempt,
                {
                    "started_at": started,
                    "pid": os.getpid(),
                    "host": socket.gethostname(),
                    "input_paths": self.input_paths,
                    "metadata": self.metadata,
                },
            )
        base = {
            "started_at": started,
            "input_paths": self.input_paths,
            "split_index": self.split_index,
            "origin_run_id": self.origin_run_id,
            "metadata": self.metadata,
        }
        global _interrupted_by
        _interrupted_by = None
        restore_sigint = _catch_sigint()
        try:
            self.load_inputs()
            self._set_current(hook)
            hook.before_step(task=self)
            hook.execute_step(task=self)
            hook.after_step(task=self)
            if self.transition is None and self.node.transition != END:
                raise StepUsageError(
                    f"Step `{self.node.name}` ({self.node.location}) finished without calling self.next.",
                    "Make sure every path through the step reaches its final self.next(...) (no early return).",
                )
            manifest = self._persist()
            if self.num_hosts > 1 and self.host_index == 0:
                self._wait_for_hosts()
        except BaseException as e:
            restore_sigint()
            if isinstance(e, TaskInterrupted) or (isinstance(e, KeyboardInterrupt) and _interrupted_by is not None):
                # Stopped from outside: the scheduler, which knows why (Ctrl-C, timeout), records the attempt.
                current._clear()
                raise
            # Anything else, a KeyboardInterrupt the step raised itself included, is the step's failure.
            self._record_failure(hook, e, base)
            if isinstance(e, SystemExit):
                raise
            return False
        restore_sigint()
        record = {
            **base,
            "ok": True,
            "finished_at": time.time(),
            "manifest": manifest,
            "foreach_stack": self.foreach_stack,
            "iteration": self.iteration,
            "transition": self.transition,
        }
        if self.host_index > 0:  # a helper host of a multi-host task: host 0 commits the task
            self._commit_host(record)
            _notify(hook.after_task, task=self, succeeded=True)
            current._clear()
            return True
        if self._run_is_over():
            current._clear()
            return False
        if not self.datastore.write_attempt_done(self.run_id, self.node.name, self.task_id, self.attempt, record):
            raise DatastoreError(
                f"{self.pathspec}, {attempt_label(self.attempt)}, was already committed; this run of it is discarded.",
                "Each attempt is committed once: run it again with another --retry-count (or --task-id).",
            )
        if self.node.transition == END:
            self._finish_external_run()
        _notify(hook.after_task, task=self, succeeded=True)
        current._clear()
        return True

    def _run_is_over(self) -> bool:
        """True (and a message) when the run ended or its runtime is gone: nothing may commit into it then.

        A step that ignores SIGTERM can outlive a stop; committing afterwards would change a finished run.
        """
        from headwater.runtime import launch

        end = self.datastore.run_end(self.run_id)
        if end is not None:
            why = f"the run already ended ({end.get('reason') or end['status']})"
        elif not _runtime_alive():
            why = "the runtime that started it is gone"
        elif launch.told_to_stop:
            why = "the runtime told it to stop"
        else:
            return False
        sys.stderr.write(f"headwater: {self.pathspec}: {why}; this attempt's result is discarded.\n")
        return True

    def _finish_external_run(self) -> None:
        """An orchestrated run succeeds when its ``end`` task commits (no local scheduler records it)."""
        from headwater.runtime.deploy import finish_run, is_external

        if is_external(self.datastore, self.run_id):
            finish_run(self.datastore, self.run_id, "succeeded")

    def _commit_host(self, record: dict[str, Any]) -> None:
        """A helper host's outcome, which host 0 waits for before it commits the task."""
        outcome: dict[str, Any] = {
            k: record[k] for k in ("ok", "started_at", "finished_at", "exception") if k in record
        }
        self.datastore.write_host_done(
            self.run_id,
            self.node.name,
            self.task_id,
            self.attempt,
            self.host_index,
            {**outcome, "host": socket.gethostname()},
        )

    def _wait_for_hosts(self) -> None:
        """Host 0 commits only once every other host has finished its part, and only if all succeeded."""
        limit = float(os.environ.get("HEADWATER_HOSTS_WAIT_SECONDS", "3600"))
        deadline = time.time() + limit
        waiting = set(range(1, self.num_hosts))
        failed: list[str] = []
        while waiting:
            for host in sorted(waiting):
                outcome = self.datastore.host_done(self.run_id, self.node.name, self.task_id, self.attempt, host)
                if outcome is None:
                    continue
                waiting.discard(host)
                if not outcome.get("ok"):
                    error = outcome.get("exception") or {}
                    failed.append(f"host {host} ({error.get('type', 'failed')}: {error.get('message', '')})")
            if waiting and time.time() > deadline:
                failed += [f"host {h} (no result after {limit:g} s)" for h in sorted(waiting)]
                break
            if waiting:
                time.sleep(0.2)
        if failed:
            raise HostsFailed(
                f"{self.pathspec}: {len(failed)} of {self.num_hosts - 1} other hosts did not succeed: {'; '.join(failed)}.",
                "Each host's output is in its own log; the task is retried as its @retry allows.",
            )

    def _persist(self) -> Manifest:
        where = f"{self.graph.name}, step `{self.node.name}` ({self.node.location})"
        storing: list[tuple[str, Any]] = []

        def items() -> Any:
            for name, value in self.flow._artifact_items():
                storing[:] = [(name, value)]
                yield name, value
            storing.clear()

        try:
            return persist(self.datastore.cas, items(), self.source.manifest, self.source, where)
        except (SerializationError, MemoryError, OSError) as e:
            error = _out_of_resources(e, where, storing[0] if storing else None, self.datastore.storage.uri())
            if error is None:
                raise
            raise error from e

    def _record_failure(self, hook: Any, error: BaseException, base: dict[str, Any]) -> None:
        _notify(hook.on_step_exception, task=self, exception=error)
        info = describe_exception(error, self.node)
        record = {
            **base,
            "ok": False,
            "finished_at": time.time(),
            "manifest": {},
            "foreach_stack": self.foreach_stack,
            "iteration": self.iteration,
            "transition": None,
            "exception": info,
        }
        if self.host_index > 0:
            self._commit_host(record)
        elif not self._run_is_over():
            self.datastore.write_attempt_done(self.run_id, self.node.name, self.task_id, self.attempt, record)
        if os.environ.get("HEADWATER_TASK_ERRORS") != "record":
            sys.stderr.write(info["report"])
            sys.stderr.flush()
        _notify(hook.after_task, task=self, succeeded=False)
        current._clear()


def _out_of_resources(
    error: BaseException, where: str, storing: tuple[str, Any] | None, root: str
) -> SerializationError | None:
    """What to say when storing artifacts ran out of memory or disk (not "make it picklable")."""
    cause: BaseException | None = error
    while cause is not None and not isinstance(cause, MemoryError):
        if isinstance(cause, OSError) and cause.errno in (errno.ENOSPC, errno.EDQUOT):
            break
        cause = cause.__cause__ or cause.__context__
    if cause is None:
        return None
    what = "the step's artifacts"
    if storing is not None:
        name, value = storing
        what = f"`self.{name}` ({_size_of(value)})"
    if isinstance(cause, MemoryError):
        return SerializationError(
            f"{where}: out of memory while storing {what}.",
            "Storing needs memory besides the value itself: free what the step no longer needs (del it, or keep "
            "intermediates in local variables), store large data in smaller artifacts, or give the step more memory.",
        )
    return SerializationError(
        f"{where}: disk full while storing {what} in the datastore at {root} ({cause.strerror or cause}).",
        "Free space there (old runs' data), or point HEADWATER_DATASTORE_ROOT at a disk with more room.",
    )


def _size_of(value: Any) -> str:
    """``ndarray of 8,000,000 bytes``: the value's own size where it tells (shallow otherwise)."""
    try:
        size = getattr(value, "nbytes", None)
        if not isinstance(size, int):
            size = len(value) if isinstance(value, (bytes, bytearray, str)) else sys.getsizeof(value)
    except Exception:
        return type(value).__name__
    return f"{type(value).__name__} of {size:,} bytes"


def _item_at(values: Any, index: int) -> Any:
    """Item ``index`` of a foreach collection: by position (a dict gives its keys, in order)."""
    if hasattr(values, "__getitem__") and not isinstance(values, dict):
        return values[index]
    for position, item in enumerate(values):
        if position == index:
            return item
    return None


def _runtime_alive() -> bool:
    """Whether the runtime process that launched this task still runs (True when none did: a deployed run)."""
    from headwater.runtime.launch import RUNTIME_PID_ENV

    pid = os.environ.get(RUNTIME_PID_ENV, "")
    if not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except OSError:
        pass
    return True


def _raise_open_file_limit() -> None:
    """Allow as many open files as the system lets us: each memory-mapped artifact holds one."""
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        wanted = hard if hard != resource.RLIM_INFINITY else 65536
        if soft < wanted:
            resource.setrlimit(resource.RLIMIT_NOFILE, (min(wanted, 65536), hard))
    except (ImportError, ValueError, OSError):
        pass


def _notify(hook_call: Any, **kwargs: Any) -> None:
    """Call an observer hook whose failure must not change the task's outcome."""
    try:
        hook_call(**kwargs)
    except Exception as e:
        sys.stderr.write(f"headwater: warning: a plugin's {hook_call.name} hook failed: {type(e).__name__}: {e}\n")


def _is_framework(filename: str) -> bool:
    return os.path.abspath(filename).startswith(_PACKAGE_DIR + os.sep)


def describe_exception(error: BaseException, node: StepNode) -> dict[str, Any]:
    """A JSON-able account of a failure: type, message, and the traceback of the user's own frames.

    When the error passed through the step body, the traceback starts at the step's frame, exactly as
    Python prints it, and framework frames above it are gone; a Headwater error raised *by* the framework
    on the user's behalf (``self.next`` misuse, ``@timeout``) also loses the framework frames below the
    user's last line. An error outside the step body (a corrupted input, an unserializable artifact)
    carries no traceback: its message says what to do.
    """
    tb = error.__traceback__
    step_code = getattr(node.func, "__code__", None)
    while tb is not None and tb.tb_frame.f_code is not step_code:
        tb = tb.tb_next
    in_user_code = tb is not None
    report = ""
    text = None
    message = str(error)
    if in_user_code:
        summary = traceback.TracebackException(type(error), error, tb, compact=True)
        if isinstance(error, HeadwaterError):
            frames = list(summary.stack)
            while len(frames) > 1 and _is_framework(frames[-1].filename):
                frames.pop()
            summary.stack = traceback.StackSummary.from_list(frames)
        text = "".join(summary.format())
        report = text
    elif isinstance(error, HeadwaterError):
        report = f"{error.headline}: {error}\n"
    else:
        text = "".join(traceback.format_exception(error))
        report = "Error outside the step's code (in Headwater or a plugin; please report it):\n" + text
    kind = type(error)
    return {
        "type": kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}",
        "message": message,
        "traceback": text,
        "in_user_code": in_user_code,
        "report": report,
    }
