"""The scheduler: one single-threaded event loop that decides what runs next and watches it run.

It starts ``start``, then, as each task commits, reads the transition it recorded and queues what follows:
the next step, every branch of a split, one task per foreach item, the chosen case of a conditional, or
a join once all the tasks it waits for have arrived. At most ``max_workers`` attempts run at once; their
output is read from pipes as it comes and shown line by line. A failed attempt is retried as its policy
allows; a task that fails for good stops new launches while running tasks finish, so a resume has as
much as possible to clone. Ctrl-C stops every task and records the run as failed.

Being single-threaded is deliberate: tasks are forked from this process, and forking a process that
has other threads running is unsafe.
"""

from __future__ import annotations

import dataclasses
import errno
import os
import selectors
import signal
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from headwater._attempts import attempt_label
from headwater.datastore.records import PARAMETERS_STEP, PARAMETERS_TASK
from headwater.exceptions import HeadwaterError
from headwater.graph import END, FOREACH, StepNode
from headwater.plugins import call_first
from headwater.runtime.command import step_policy, task_command
from headwater.runtime.context import RunContext, TaskAttempt
from headwater.runtime.display import PlainDisplay, RunSummary, StepProgress
from headwater.runtime.handle import TaskHandle
from headwater.runtime.launch import UNKNOWN_STATUS, CliRunner, LocalTaskHandle, configure, warm_up
from headwater.runtime.resume import ClonePlan, TaskKey

#: Seconds a stopped task gets to exit after SIGTERM before it is killed.
STOP_GRACE = 5.0
#: Consecutive failed polls of a launcher's handle after which its attempt is given up.
HANDLE_FAILURES = 5


@dataclass
class PendingTask:
    step: str
    task_id: str
    input_paths: list[str]
    split_index: int | None
    key: TaskKey
    attempt: int = 0
    not_before: float = 0.0


def _exit_reason(code: int | None) -> str:
    if code is None or code == UNKNOWN_STATUS:
        return "the task's process ended with an unknown status (it was reaped elsewhere)"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        hint = " (out of memory?)" if -code == signal.SIGKILL else ""
        return f"the task's process was killed by {name}{hint} before it committed"
    if code == 0:
        return "the task's process exited before committing its result (did the step call os._exit?)"
    return f"the task's process exited with status {code} before committing its result"


def _out_of_descriptors(error: BaseException) -> bool:
    return isinstance(error, OSError) and error.errno in (errno.EMFILE, errno.ENFILE)


def _descriptors_advice() -> str:
    try:
        import resource

        limit = f" (now {resource.getrlimit(resource.RLIMIT_NOFILE)[0]})"
    except (ImportError, OSError, ValueError):
        limit = ""
    return (
        f"Each running task holds 3 of the runtime's open files; raise the limit{limit} with `ulimit -n 4096` "
        "or lower --max-workers"
    )


class Worker:
    """A launched attempt as the scheduler keeps it: its handle, its output so far, why it was stopped."""

    def __init__(self, key: int, attempt: TaskAttempt, handle: TaskHandle) -> None:
        self.key = key
        self.attempt = attempt
        self.handle = handle
        self.started = time.time()
        self.fds = dict(handle.output_fds())
        self.exit_fd = handle.exit_fd()
        self.next_poll = 0.0
        self.kill_reason: str | None = None
        self.kill_sent: float | None = None
        #: The launcher's state last shown ("running" for a local process, which is never announced).
        self.state = "running"
        self.poll_failures = 0
        #: The launcher's metadata as last recorded (written at launch, and again at the end if it grew).
        self.metadata_written: dict[str, Any] = {}
        self.partial = {"stdout": b"", "stderr": b""}
        self.logs: dict[str, list[bytes]] = {"stdout": [], "stderr": []}
        self.log_sizes = {"stdout": 0, "stderr": 0}
        self.log_dropped = {"stdout": 0, "stderr": 0}

    @property
    def prefix(self) -> str:
        a = self.attempt
        return f"{a.step.name}/{a.task_id}" + (f"#{a.attempt}" if a.attempt else "")

    def keep(self, stream: str, data: bytes, limit: int) -> None:
        """Store output for the attempt's log, keeping the last ``limit`` bytes."""
        self.logs[stream].append(data)
        self.log_sizes[stream] += len(data)
        chunks = self.logs[stream]
        while self.log_sizes[stream] > limit and len(chunks) > 1:
            dropped = chunks.pop(0)
            self.log_sizes[stream] -= len(dropped)
            self.log_dropped[stream] += len(dropped)

    def log_bytes(self, stream: str) -> bytes:
        data = b"".join(self.logs[stream])
        if self.log_dropped[stream]:
            data = f"[... {self.log_dropped[stream]} earlier bytes not kept ...]\n".encode() + data
        return data

    def stop(self, force: bool = False) -> None:
        try:
            self.handle.kill(force)
        except Exception as e:  # a plugin's handle: report, never let it stop the stopping of the others
            import sys

            sys.stderr.write(f"headwater: warning: stopping {self.prefix} failed: {type(e).__name__}: {e}\n")

    def poll(self) -> int | None:
        """The handle's exit status; a handle that keeps failing ends the attempt (it is retried as its
        policy allows) instead of the run: a throttled API call must not take the runtime down."""
        try:
            code = self.handle.poll()
        except Exception as e:
            self.poll_failures += 1
            if self.poll_failures < HANDLE_FAILURES:
                return None
            self.kill_reason = f"its launcher lost track of it: {type(e).__name__}: {e}"
            self.stop(force=True)
            return UNKNOWN_STATUS
        self.poll_failures = 0
        return code

    @property
    def handle_state(self) -> str:
        try:
            return str(self.handle.state)
        except Exception:
            return self.state


class Scheduler:
    """Runs (or resumes) one run to its end; see the module docstring."""

    def __init__(
        self,
        run: RunContext,
        display: PlainDisplay,
        run_cli: CliRunner,
        max_workers: int,
        max_log_size: int,
        clone_plan: ClonePlan | None = None,
    ) -> None:
        assert run.run_id is not None, "the run record exists before tasks are scheduled"
        self.run = run
        self.run_id: str = run.run_id
        self.graph = run.graph
        self.datastore = run.datastore
        self.display = display
        self.max_workers = max(1, max_workers)
        self.max_log_size = max_log_size
        self.plan = clone_plan
        self.policies = run.policies or {node.name: step_policy(node, run.flow) for node in self.graph}
        self.queue: deque[PendingTask] = deque()
        self.delayed: list[PendingTask] = []
        self.workers: dict[int, Worker] = {}
        self.selector = selectors.DefaultSelector()
        self.next_task_id = 1
        self.progress = {node.name: StepProgress(node.name) for node in self.graph.topological()}
        self.ancestors = {node.name: self._ancestors(node.name) for node in self.graph}
        self.joins: dict[tuple[str, tuple[int, ...]], dict[int, str]] = {}
        self.cloned: set[str] = set()
        self.failed: list[str] = []
        self.stopped: list[str] = []
        self.stopping = False
        self.end_done = False
        self.next_worker = 0
        self.launched: dict[str, PendingTask] = {}
        self.interrupts = 0
        self.wake_fds: list[int] = []
        #: A launch ran out of file descriptors: no more launches until a running task ends.
        self.fd_starved = False
        self.fd_warned = False
        warm_up()
        configure(run_cli, self._inherited_fds)

    # -- setup ----------------------------------------------------------------------------------------------

    def _ancestors(self, name: str) -> set[str]:
        seen: set[str] = set()
        todo = list(self.graph[name].in_funcs)
        while todo:
            step = todo.pop()
            if step not in seen and step != name:
                seen.add(step)
                todo.extend(self.graph[step].in_funcs)
        return seen

    # -- the loop -------------------------------------------------------------------------------------------

    def execute(self) -> RunSummary:
        """Run every task; returns the summary (the end record is written by the caller)."""
        started = time.time()
        self._enqueue("start", [f"{PARAMETERS_STEP}/{PARAMETERS_TASK}"], None, ("start", (), 0))
        restore = self._catch_signals()
        try:
            while self.queue or self.delayed or self.workers:
                if self.interrupts:
                    self._stop_all("interrupted by Ctrl-C or SIGTERM")
                    break
                self._launch_ready()
                if not self.workers and not self.queue and not self.delayed:
                    break
                self._wait(self._select_timeout())
                self._check_deadlines()
                self._follow_states()
                self.display.tick(list(self.progress.values()), time.time())
        except BaseException:
            self._stop_all("because the runtime itself failed")  # never leave tasks behind
            raise
        finally:
            restore()
            self.selector.close()
        self._report_unfinished_joins()
        interrupted = self.interrupts > 0
        done = sum(p.done for p in self.progress.values())
        cloned = sum(p.cloned for p in self.progress.values())
        succeeded = not interrupted and not self.failed and self.end_done
        return RunSummary(
            self.run.flow_name,
            self.run_id,
            succeeded,
            time.time() - started,
            done + cloned,
            cloned,
            list(self.failed),
            interrupted,
            tasks_stopped=list(self.stopped),
        )

    def _catch_signals(self) -> Any:
        """Turn SIGINT/SIGTERM into a flag the loop checks, waking ``select`` through a pipe."""
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_r, False)
        os.set_blocking(wake_w, False)
        self.selector.register(wake_r, selectors.EVENT_READ, ("signal", None, None))

        def handler(signum: int, frame: Any) -> None:
            # Only a flag: the loop stops the tasks (a launcher's kill may be a network call, never run
            # inside a signal handler). A second Ctrl-C makes the stop immediate (see _stop_all).
            self.interrupts += 1

        self.wake_fds = [wake_r, wake_w]
        previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
        previous_fd = signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)

        def restore() -> None:
            signal.set_wakeup_fd(previous_fd)
            for sig, old in previous.items():
                signal.signal(sig, old)
            for fd in (wake_r, wake_w):
                os.close(fd)

        return restore

    def _select_timeout(self) -> float:
        now = time.time()
        timeout = self.display.refresh_interval or 1.0
        for worker in self.workers.values():
            if worker.exit_fd is None or not worker.fds:  # polled, not waited on
                timeout = min(timeout, max(0.0, worker.next_poll - now))
            deadline = self._deadline(worker)
            if deadline is not None:
                timeout = min(timeout, max(0.0, deadline - now))
        for task in self.delayed:
            timeout = min(timeout, max(0.0, task.not_before - now))
        if self.queue and len(self.workers) < self.max_workers and not self.fd_starved:
            timeout = 0.0
        return timeout

    def _wait(self, timeout: float) -> None:
        exited: list[Worker] = []
        for key, _ in self.selector.select(timeout):
            kind, worker, stream = key.data
            if kind == "exit":
                exited.append(worker)
            elif kind == "signal":
                try:
                    os.read(key.fd, 512)
                except BlockingIOError:
                    pass
            else:
                self._read(worker, stream, key.fd)
        now = time.time()
        for worker in list(self.workers.values()):
            if worker in exited:
                self._reap(worker)
            elif (worker.exit_fd is None or not worker.fds) and now >= worker.next_poll:
                worker.next_poll = now + worker.handle.poll_interval
                self._take_output(worker)  # a handle without pipes hands its output over here
                if worker.exit_fd is None and worker.poll() is not None:
                    self._reap(worker)

    def _follow_states(self) -> None:
        """Show what launchers report about running attempts (a remote job waiting in a queue)."""
        for progress in self.progress.values():
            progress.states.clear()
        for worker in self.workers.values():
            state = worker.handle_state
            if state != worker.state:
                worker.state = state
                self.display.task_state(worker.prefix, state)
            if state != "running":
                states = self.progress[worker.attempt.step.name].states
                states[state] = states.get(state, 0) + 1

    # -- launching ------------------------------------------------------------------------------------------

    def _enqueue(self, step: str, inputs: list[str], split_index: int | None, key: TaskKey) -> None:
        task = PendingTask(step, str(self.next_task_id), inputs, split_index, key)
        self.next_task_id += 1
        self.queue.append(task)
        self.progress[step].queued += 1

    def _launch_ready(self) -> None:
        now = time.time()
        if self.delayed:
            ready = [t for t in self.delayed if t.not_before <= now]
            self.delayed = [t for t in self.delayed if t.not_before > now]
            self.queue.extendleft(reversed(ready))
        while self.queue and len(self.workers) < self.max_workers and not self.stopping and not self.fd_starved:
            task = self.queue.popleft()
            if self._clonable(task):
                self._clone(task)
            else:
                self._start(task)

    def _inherited_fds(self) -> list[int]:
        fds = [key.fd for key in self.selector.get_map().values()] + self.wake_fds
        fileno = getattr(self.selector, "fileno", None)
        if fileno is not None:
            fds.append(fileno())
        return fds

    def _start(self, task: PendingTask) -> None:
        node = self.graph[task.step]
        attempt = TaskAttempt(
            self.run, node, task.task_id, task.attempt, task.input_paths, task.split_index, self.policies[task.step]
        )
        try:
            command = task_command(attempt)
            handle = call_first("launch_task", attempt=attempt, command=command)
            if not isinstance(handle, TaskHandle):
                raise TypeError(f"launch_task returned {handle!r}, not a TaskHandle")
        except Exception as e:  # a plugin refused the launch, or the OS did: this attempt fails
            if _out_of_descriptors(e) and self.workers:
                self._wait_for_descriptors(task)
                return
            self.launched[task.task_id] = task
            self.progress[task.step].queued -= 1
            self.progress[task.step].running += 1
            if isinstance(e, HeadwaterError):  # a plugin's refusal, or a plugin that failed, named
                said = " ".join(part.rstrip(".") + "." for part in (e.message, e.hint) if part)
                reason = f"the task could not be started: {said[:-1]}"
            else:
                reason = f"the task could not be started: {type(e).__name__}: {e}"
            if _out_of_descriptors(e):
                reason += f". {_descriptors_advice()}"
            self._after_attempt(attempt, self._record_failure(attempt, time.time(), reason, None))
            return
        try:
            worker = self._follow(attempt, handle)
        except Exception as e:  # a handle that cannot be followed: stop what it started, fail the attempt
            try:
                handle.kill(True)
                handle.close()
            except Exception:
                pass
            self.launched[task.task_id] = task
            self.progress[task.step].queued -= 1
            self.progress[task.step].running += 1
            reason = f"the task was started but cannot be followed: {type(e).__name__}: {e}"
            self._after_attempt(attempt, self._record_failure(attempt, time.time(), reason, None))
            return
        self.launched[task.task_id] = task
        progress = self.progress[task.step]
        progress.queued -= 1
        progress.running += 1
        if progress.first_start is None:
            progress.first_start = worker.started
        if handle.state != worker.state:  # a job that starts out queued says so at once
            self._follow_states()

    def _follow(self, attempt: TaskAttempt, handle: TaskHandle) -> Worker:
        """Register a launched attempt's descriptors and record what its launcher knows so far."""
        worker = Worker(self.next_worker, attempt, handle)
        registered: list[int] = []
        try:
            for stream, fd in worker.fds.items():
                self.selector.register(fd, selectors.EVENT_READ, ("read", worker, stream))
                registered.append(fd)
            if worker.exit_fd is not None:
                self.selector.register(worker.exit_fd, selectors.EVENT_READ, ("exit", worker, None))
                registered.append(worker.exit_fd)
        except Exception:
            for fd in registered:
                self.selector.unregister(fd)
            raise
        self.next_worker += 1
        self.workers[worker.key] = worker
        self._record_metadata(worker)  # a job id is known from the start: a killed runtime still leaves it
        return worker

    def _record_metadata(self, worker: Worker) -> None:
        metadata = dict(worker.handle.metadata)
        if metadata and metadata != worker.metadata_written:
            a = worker.attempt
            self.datastore.write_attempt_metadata(self.run_id, a.step.name, a.task_id, a.attempt, metadata)
            worker.metadata_written = metadata

    def _wait_for_descriptors(self, task: PendingTask) -> None:
        """Out of file descriptors: launch ``task`` again once a running task has ended and freed some."""
        self.queue.appendleft(task)
        self.fd_starved = True
        if not self.fd_warned:
            self.fd_warned = True
            self.display.info(
                f"Out of file descriptors with {len(self.workers)} task{'s' if len(self.workers) != 1 else ''} "
                "running: more start as running ones end. " + _descriptors_advice() + "."
            )

    # -- output ---------------------------------------------------------------------------------------------

    def _take_output(self, worker: Worker) -> None:
        """Output a handle without pipes collected since the last call."""
        try:
            chunks = worker.handle.read_output()
        except Exception as e:
            chunks = [("stderr", f"headwater: reading the task's output failed: {type(e).__name__}: {e}\n".encode())]
        for stream, data in chunks:
            self._received(worker, stream, data)

    def _read(self, worker: Worker, stream: str, fd: int) -> bool:
        """Read what is available now; False when nothing was (the pipe is closed at its end)."""
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return False
        except OSError:
            data = b""
        if not data:
            self._close_pipe(worker, stream, fd)
            return False
        self._received(worker, stream, data)
        return True

    def _received(self, worker: Worker, stream: str, data: bytes) -> None:
        worker.keep(stream, data, self.max_log_size)
        buffered = worker.partial[stream] + data
        *lines, rest = buffered.split(b"\n")
        if b"\r" in rest:  # a progress bar redrawing its line: only its latest state matters
            rest = rest.rsplit(b"\r", 1)[-1]
        if len(rest) > 65536:
            lines.append(rest)
            rest = b""
        worker.partial[stream] = rest
        for line in lines:
            self._show(worker, stream, line)

    def _show(self, worker: Worker, stream: str, line: bytes) -> None:
        if b"\r" in line:
            line = line.rstrip(b"\r").rsplit(b"\r", 1)[-1]
        self.display.task_output(worker.prefix, stream, line.decode("utf-8", "replace"))

    def _close_pipe(self, worker: Worker, stream: str, fd: int) -> None:
        self.selector.unregister(fd)
        os.close(fd)
        worker.fds.pop(stream, None)
        if worker.partial[stream]:  # the stream ended, so its last line (without a newline) is complete
            self._show(worker, stream, worker.partial[stream])
            worker.partial[stream] = b""

    def _drain(self, worker: Worker) -> None:
        """After the attempt ended: read what is left, then close (a grandchild may keep a pipe open)."""
        self._take_output(worker)
        for stream, fd in list(worker.fds.items()):
            while self._read(worker, stream, fd):
                pass
            if stream in worker.fds:
                self._close_pipe(worker, stream, fd)
        for stream in ("stdout", "stderr"):
            if worker.partial[stream]:
                self._show(worker, stream, worker.partial[stream])
                worker.partial[stream] = b""

    # -- outcomes -------------------------------------------------------------------------------------------

    def _reap(self, worker: Worker) -> None:
        if worker.exit_fd is not None:
            self.selector.unregister(worker.exit_fd)
        code = worker.poll()
        if code is None and not isinstance(worker.handle, LocalTaskHandle):
            worker.exit_fd = None  # a plugin's exit descriptor fired early: poll it as usual from now on
            return
        while code is None:  # the pidfd said it exited; waitpid may lag by a moment
            time.sleep(0.001)
            code = worker.poll()
        self._drain(worker)
        try:
            worker.handle.close()
        except Exception:
            pass
        del self.workers[worker.key]
        self.fd_starved = False  # its descriptors are free again
        self._finish(worker, code)

    def _record_failure(self, attempt: TaskAttempt, started: float, reason: str, code: int | None) -> dict[str, Any]:
        """The record of an attempt that ended without committing one itself."""
        record = {
            "ok": False,
            "started_at": started,
            "finished_at": time.time(),
            "input_paths": attempt.input_paths,
            "split_index": attempt.split_index,
            "manifest": {},
            "transition": None,
            "exit_code": code,
            "exception": {
                "type": "TaskStopped",
                "message": reason,
                "traceback": None,
                "in_user_code": False,
                "report": reason[0].upper() + reason[1:] + ".\n",
            },
        }
        run_id, step, task_id = self.run_id, attempt.step.name, attempt.task_id
        self.datastore.write_attempt_done(run_id, step, task_id, attempt.attempt, record)
        return record

    def _finish(self, worker: Worker, code: int | None) -> None:
        attempt = worker.attempt
        run_id, step, task_id = self.run_id, attempt.step.name, attempt.task_id
        record = self.datastore.attempt_done(run_id, step, task_id, attempt.attempt)
        self._record_metadata(worker)
        if record is None:
            reason = worker.kill_reason or worker.handle.reason or _exit_reason(code)
            record = self._record_failure(attempt, worker.started, reason, code)
        stderr = worker.log_bytes("stderr")
        if not record.get("ok"):
            stderr += (record.get("exception") or {}).get("report", "").encode()
        for stream, data in (("stdout", worker.log_bytes("stdout")), ("stderr", stderr)):
            if data:
                self.datastore.save_log(run_id, step, task_id, attempt.attempt, stream, data)
        self._after_attempt(attempt, record)

    def _after_attempt(self, attempt: TaskAttempt, record: dict[str, Any]) -> None:
        step, task_id = attempt.step.name, attempt.task_id
        progress = self.progress[step]
        progress.running -= 1
        progress.last_end = time.time()
        if record.get("ok") or attempt.attempt + 1 >= attempt.policy.max_attempts:
            self.launched.pop(task_id, None)  # no further attempt will need it
        if record.get("ok"):
            progress.done += 1
            self._succeeded(step, task_id, record)
        else:
            self._failed(attempt, record)
        self._report_finished_steps()

    def _succeeded(self, step: str, task_id: str, record: dict[str, Any]) -> None:
        if step == "end":
            self.end_done = True
        if not self.stopping:
            self._queue_successors(step, task_id, record)

    def _failed(self, attempt: TaskAttempt, record: dict[str, Any]) -> None:
        info = record.get("exception") or {}
        policy = attempt.policy
        number = attempt.attempt + 1
        progress = self.progress[attempt.step.name]
        label = attempt_label(attempt.attempt, policy.max_attempts)
        header = f"Step {attempt.step.name} failed: task {attempt.pathspec}, {label}"
        if number < policy.max_attempts and not self.stopping:
            fallback = number > policy.user_retries
            delay = 0.0 if fallback else policy.retry_delay_seconds
            progress.retried += 1
            progress.queued += 1
            if fallback:
                header += "; @catch will record the failure and go on"
            else:
                header += "; retrying" + (f" in {delay:g} s" if delay else "")
            self.display.error(header + ":", info.get("report", ""))
            retry = dataclasses.replace(
                self.launched[attempt.task_id], attempt=attempt.attempt + 1, not_before=time.time() + delay
            )
            if delay:
                self.delayed.append(retry)
            else:
                self.queue.appendleft(retry)
            return
        progress.failed += 1
        if self.interrupts:
            self.stopped.append(attempt.pathspec)
            return
        self.failed.append(attempt.pathspec)
        self.display.error(header + ":", info.get("report", ""))
        self._stop_launching()

    def _stop_launching(self) -> None:
        if self.stopping:
            return
        self.stopping = True
        for task in [*self.queue, *self.delayed]:
            self.progress[task.step].queued -= 1
        self.queue.clear()
        self.delayed.clear()
        if self.workers:
            self.display.info(
                f"Waiting for {len(self.workers)} running task{'s' if len(self.workers) != 1 else ''} to finish, "
                "so a resume can reuse them (Ctrl-C stops them now)."
            )

    def _queue_successors(self, step: str, task_id: str, record: dict[str, Any]) -> None:
        transition = record.get("transition") or {}
        node = self.graph[step]
        if node.transition == END or not transition:
            return
        stack = record.get("foreach_stack") or []
        indices = tuple(frame["index"] for frame in stack)
        path = f"{step}/{task_id}"
        if transition["type"] == FOREACH:
            child = transition["next"][0]
            for index in range(int(transition["num_splits"])):
                self._enqueue(child, [path], index, (child, indices + (index,), 0))
            return
        for child in transition["next"]:
            child_node = self.graph[child]
            if child_node.is_join:
                self._arrive(child_node, node, path, stack, indices)
            else:
                iteration = int(record.get("iteration", 0)) + 1 if child == step else 0
                self._enqueue(child, [path], None, (child, indices, iteration))

    def _arrive(
        self, join: StepNode, parent: StepNode, path: str, stack: list[dict[str, Any]], indices: tuple[int, ...]
    ) -> None:
        split = self.graph[join.matching_split or ""]
        if split.transition == FOREACH:
            group_key = (join.name, indices[:-1])
            expected = int(stack[-1]["num_splits"])
            order = int(stack[-1]["index"])
        else:
            group_key = (join.name, indices)
            expected = len(split.out_funcs)
            order = split.out_funcs.index(parent.scope[-1][1] or "")
        group = self.joins.setdefault(group_key, {})
        group[order] = path
        if len(group) == expected:
            del self.joins[group_key]
            self._enqueue(join.name, [group[k] for k in sorted(group)], None, (join.name, group_key[1], 0))

    def _report_finished_steps(self) -> None:
        now = time.time()
        pending = {p.name for p in self.progress.values() if p.pending}
        for progress in self.progress.values():
            finished = progress.done + progress.cloned + progress.failed
            if progress.reported or not finished or progress.pending:
                continue
            if self.stopping or not (self.ancestors[progress.name] & pending):
                progress.reported = True
                self.display.step_done(progress, now)

    def _report_unfinished_joins(self) -> None:
        """A join still waiting when nothing runs any more is a runtime bug; say so rather than end silently."""
        if self.interrupts or self.failed:
            return
        for (join, _), arrived in self.joins.items():
            self.failed.append(f"{self.run.pathspec}/{join}")
            self.display.error(
                f"Step {join} never started: it waits for inputs that will not come "
                f"(arrived: {', '.join(arrived.values())}).",
                "This is a bug in Headwater's runtime; please report it with the flow.\n",
            )

    # -- resume ---------------------------------------------------------------------------------------------

    def _clonable(self, task: PendingTask) -> bool:
        if self.plan is None or task.attempt or task.key not in self.plan.clonable:
            return False
        return all(p.startswith(PARAMETERS_STEP + "/") or p in self.cloned for p in task.input_paths)

    def _clone(self, task: PendingTask) -> None:
        assert self.plan is not None
        origin_task, origin = self.plan.clonable[task.key]
        record = {k: v for k, v in origin.items() if not k.startswith("_")}
        record.update(
            input_paths=task.input_paths,
            split_index=task.split_index,
            # A clone of a clone points at the task that really ran (its output lives there).
            origin=origin.get("origin")
            or {"run_id": self.plan.origin_run_id, "task_id": origin_task, "attempt": origin.get("attempt", 0)},
        )
        self.datastore.write_attempt_done(self.run_id, task.step, task.task_id, 0, record)
        path = f"{task.step}/{task.task_id}"
        self.cloned.add(path)
        progress = self.progress[task.step]
        progress.queued -= 1
        progress.cloned += 1
        self._succeeded(task.step, task.task_id, record)
        self._report_finished_steps()

    # -- stopping -------------------------------------------------------------------------------------------

    def _deadline(self, worker: Worker) -> float | None:
        """When the runtime stops the attempt for running too long (from when it started running)."""
        timeout = worker.attempt.policy.timeout_seconds
        since = worker.handle.running_since
        if worker.kill_sent is not None:  # asked to stop: killed after the grace period (-1: killed)
            return None if worker.kill_sent < 0 else worker.kill_sent + STOP_GRACE
        if not timeout or since is None or worker.handle.enforces_timeout:
            return None
        return since + timeout

    def _check_deadlines(self) -> None:
        now = time.time()
        for worker in list(self.workers.values()):
            deadline = self._deadline(worker)
            if deadline is None or now < deadline:
                continue
            if worker.kill_sent is None:
                worker.kill_reason = (
                    "the task was stopped by the runtime: it kept running after its @timeout "
                    "(native code that does not let the timeout interrupt it?)"
                )
                worker.stop()
                worker.kill_sent = now
            elif worker.kill_sent > 0:
                worker.stop(force=True)
                worker.kill_sent = -1.0  # killed: no deadline any more

    def _abandon(self, workers: list[Worker]) -> None:
        """Attempts that would not stop: release what they hold and record them as failed."""
        self.display.warning(f"Could not stop: {', '.join(w.prefix for w in workers)}.")
        for worker in workers:
            for fd in [*worker.fds.values(), *([worker.exit_fd] if worker.exit_fd is not None else [])]:
                try:
                    self.selector.unregister(fd)
                except (KeyError, ValueError):
                    pass
            for fd in worker.fds.values():  # the output pipes are the scheduler's (see TaskHandle.output_fds)
                os.close(fd)
            worker.fds.clear()
            try:
                worker.handle.close()
            except Exception:
                pass
            del self.workers[worker.key]
            a = worker.attempt
            if self.datastore.attempt_done(self.run_id, a.step.name, a.task_id, a.attempt) is None:
                reason = (worker.kill_reason or "the task was stopped") + "; it did not stop and was abandoned"
                self._record_failure(a, worker.started, reason, None)

    def _stop_all(self, reason: str) -> None:
        """Stop every running task (SIGTERM, then SIGKILL after a grace period) and record them as failed."""
        self.stopping = True
        self.queue.clear()
        self.delayed.clear()
        if self.workers:
            running = ", ".join(w.prefix for w in self.workers.values())
            self.display.info(f"Stopping {len(self.workers)} running task(s), {reason}: {running}")
        for worker in self.workers.values():
            worker.kill_reason = f"the task was stopped, {reason}"
            worker.stop()
        give_up = time.time() + STOP_GRACE
        killed = False
        while self.workers:
            now = time.time()
            if (now > give_up or self.interrupts > 1) and not killed:  # a second Ctrl-C kills at once
                for worker in self.workers.values():
                    worker.stop(force=True)
                killed = True
            if now > give_up + STOP_GRACE:  # killed and still not gone: never hang the runtime on it
                self._abandon(list(self.workers.values()))
                break
            try:
                self._wait(0.05)
                for worker in list(self.workers.values()):  # whatever the selector missed
                    if worker.exit_fd is not None and worker.poll() is not None:
                        self._reap(worker)
            except Exception as e:  # the runtime failing while it stops: keep stopping the rest
                self.display.warning(f"headwater: error while stopping tasks: {type(e).__name__}: {e}")
        for progress in self.progress.values():
            progress.queued = 0
