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
import os
import selectors
import signal
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from headwater.datastore.records import PARAMETERS_STEP, PARAMETERS_TASK
from headwater.graph import END, FOREACH, StepNode
from headwater.runtime.context import RunContext, TaskAttempt, TaskCommand, TaskPolicy, encode_input_paths
from headwater.runtime.display import PlainDisplay, RunSummary, StepProgress
from headwater.runtime.launch import UNKNOWN_STATUS, CliRunner, Worker, launch, warm_up
from headwater.runtime.resume import ClonePlan, TaskKey

#: Seconds a stopped task gets to exit after SIGTERM before it is killed.
STOP_GRACE = 5.0


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


class Scheduler:
    """Runs (or resumes) one run to its end; see the module docstring."""

    def __init__(
        self,
        run: RunContext,
        display: PlainDisplay,
        run_cli: CliRunner,
        top_args: list[str],
        max_workers: int,
        max_num_splits: int,
        max_log_size: int,
        clone_plan: ClonePlan | None = None,
    ) -> None:
        from headwater.plugins import hook

        self.hook = hook()
        self.run = run
        self.graph = run.graph
        self.datastore = run.datastore
        self.display = display
        self.run_cli = run_cli
        self.top_args = top_args
        self.max_workers = max(1, max_workers)
        self.max_num_splits = max_num_splits
        self.max_log_size = max_log_size
        self.plan = clone_plan
        self.policies = {node.name: self._policy(node) for node in self.graph}
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
        self.deadlines: dict[int, float] = {}
        self.launched: dict[str, PendingTask] = {}
        self.interrupts = 0
        self.wake_fds: list[int] = []
        warm_up()

    # -- setup ----------------------------------------------------------------------------------------------

    def _policy(self, node: StepNode) -> TaskPolicy:
        policy = TaskPolicy()
        for found in self.hook.resolve_task_policy(step=node, flow=self.run.flow):
            policy = policy.combine(found)
        return policy

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
            self.run.run_id,
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
            self.interrupts += 1
            if self.interrupts > 1:  # a second Ctrl-C: kill at once
                for worker in self.workers.values():
                    worker.signal(signal.SIGKILL)

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
        if any(w.pidfd is None for w in self.workers.values()):
            timeout = min(timeout, 0.02)
        for task in self.delayed:
            timeout = min(timeout, max(0.0, task.not_before - now))
        for deadline in self.deadlines.values():
            timeout = min(timeout, max(0.0, deadline - now))
        if self.queue and len(self.workers) < self.max_workers:
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
        for worker in list(self.workers.values()):
            if worker in exited or (worker.pidfd is None and worker.poll() is not None):
                self._reap(worker)

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
        while self.queue and len(self.workers) < self.max_workers and not self.stopping:
            task = self.queue.popleft()
            if self._clonable(task):
                self._clone(task)
            else:
                self._start(task)

    def _command(self, attempt: TaskAttempt) -> TaskCommand:
        run = self.run
        options: dict[str, Any] = {
            "run_id": run.run_id,
            "task_id": attempt.task_id,
            "input_paths": encode_input_paths(attempt.input_paths),
            "split_index": attempt.split_index,
            "retry_count": attempt.attempt,
            "max_user_code_retries": attempt.policy.user_retries,
            "max_num_splits": self.max_num_splits,
            "tag": list(run.tags),
            "origin_run_id": run.origin_run_id,
        }
        return TaskCommand(
            executable=run.environment.executable(attempt.step),
            script=run.flow_file,
            top_args=list(self.top_args),
            subcommand=["step", attempt.step.name],
            options=options,
            env={"HEADWATER_TASK_ERRORS": "record"},
        )

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
        command = self._command(attempt)
        try:
            self.hook.before_task_launch(attempt=attempt, command=command)
            worker = launch(attempt, command, self.run.flow_file, self.run_cli, self._inherited_fds)
        except Exception as e:  # a plugin refused the launch, or the OS did: this attempt fails
            self.launched[task.task_id] = task
            self.progress[task.step].queued -= 1
            self.progress[task.step].running += 1
            reason = f"the task could not be started: {type(e).__name__}: {e}"
            self._after_attempt(attempt, self._record_failure(attempt, time.time(), reason, None))
            return
        self.workers[worker.pid] = worker
        self.launched[task.task_id] = task
        for stream, fd in worker.fds.items():
            self.selector.register(fd, selectors.EVENT_READ, ("read", worker, stream))
        if worker.pidfd is not None:
            self.selector.register(worker.pidfd, selectors.EVENT_READ, ("exit", worker, None))
        timeout = attempt.policy.timeout_seconds
        if timeout:
            self.deadlines[worker.pid] = worker.started + timeout
        progress = self.progress[task.step]
        progress.queued -= 1
        progress.running += 1
        if progress.first_start is None:
            progress.first_start = worker.started

    # -- output ---------------------------------------------------------------------------------------------

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
        return True

    def _show(self, worker: Worker, stream: str, line: bytes) -> None:
        if b"\r" in line:
            line = line.rstrip(b"\r").rsplit(b"\r", 1)[-1]
        self.display.task_output(worker.prefix, stream, line.decode("utf-8", "replace"))

    def _close_pipe(self, worker: Worker, stream: str, fd: int) -> None:
        self.selector.unregister(fd)
        os.close(fd)
        worker.fds.pop(stream, None)

    def _drain(self, worker: Worker) -> None:
        """After the process ended: read what is left, then close (a grandchild may keep a pipe open)."""
        for stream, fd in list(worker.fds.items()):
            while self._read(worker, stream, fd):
                pass
            if stream in worker.fds:
                self._close_pipe(worker, stream, fd)
            if worker.partial[stream]:
                self._show(worker, stream, worker.partial[stream])
                worker.partial[stream] = b""

    # -- outcomes -------------------------------------------------------------------------------------------

    def _reap(self, worker: Worker) -> None:
        self._drain(worker)
        if worker.pidfd is not None:
            self.selector.unregister(worker.pidfd)
        code = worker.poll()
        while code is None:  # the pidfd said it exited; waitpid may lag by a moment
            time.sleep(0.001)
            code = worker.poll()
        worker.close()
        del self.workers[worker.pid]
        self.deadlines.pop(worker.pid, None)
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
        run_id, step, task_id = self.run.run_id, attempt.step.name, attempt.task_id
        self.datastore.write_attempt_done(run_id, step, task_id, attempt.attempt, record)
        return record

    def _finish(self, worker: Worker, code: int | None) -> None:
        attempt = worker.attempt
        run_id, step, task_id = self.run.run_id, attempt.step.name, attempt.task_id
        record = self.datastore.attempt_done(run_id, step, task_id, attempt.attempt)
        if record is None:
            record = self._record_failure(attempt, worker.started, worker.kill_reason or _exit_reason(code), code)
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
        header = f"Step {attempt.step.name} failed: task {attempt.pathspec}, attempt {number} of {policy.max_attempts}"
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
        self.datastore.write_attempt_done(self.run.run_id, task.step, task.task_id, 0, record)
        path = f"{task.step}/{task.task_id}"
        self.cloned.add(path)
        progress = self.progress[task.step]
        progress.queued -= 1
        progress.cloned += 1
        self._succeeded(task.step, task.task_id, record)
        self._report_finished_steps()

    # -- stopping -------------------------------------------------------------------------------------------

    def _check_deadlines(self) -> None:
        now = time.time()
        for pid, deadline in list(self.deadlines.items()):
            worker = self.workers.get(pid)
            if worker is None or now < deadline:
                continue
            if worker.kill_sent is None:
                worker.kill_reason = (
                    "the task was stopped by the runtime: it kept running after its @timeout "
                    "(native code that does not let the timeout interrupt it?)"
                )
                worker.signal(signal.SIGTERM)
                worker.kill_sent = now
                self.deadlines[pid] = now + STOP_GRACE
            else:
                worker.signal(signal.SIGKILL)
                self.deadlines.pop(pid)

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
            worker.signal(signal.SIGTERM)
        give_up = time.time() + STOP_GRACE
        killed = False
        while self.workers:  # a second Ctrl-C kills at once (see _catch_signals)
            if time.time() > give_up and not killed:
                for worker in self.workers.values():
                    worker.signal(signal.SIGKILL)
                killed = True
            self._wait(0.05)
        for progress in self.progress.values():
            progress.queued = 0
