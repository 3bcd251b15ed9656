"""Starting task attempts as processes, and collecting their output and exit status.

A command that keeps this interpreter and flow file runs in a child *forked* from the scheduling process,
which has already imported Headwater, the flow and the flow's own imports: the child parses the same
command line the flow CLI would and runs it, so it does exactly what ``python flow.py step ...`` does,
in milliseconds. Any other command (another interpreter, a wrapper) is started as a new process. Each
task gets its own process group, so Ctrl-C reaches only the scheduler, which then stops the tasks itself.
No process of a run outlives it: a forked task is the subreaper of what its step starts and ends all of it
before it exits; on Linux it also takes its whole group down if the scheduler is killed; and when the
scheduler reaps a task it kills whatever is left in the task's group.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from headwater.exceptions import TaskInterrupted
from headwater.runtime.handle import TaskHandle

if TYPE_CHECKING:
    from headwater.runtime.context import TaskAttempt, TaskCommand

#: Exit status of a task whose process was reaped by someone else (the real status is lost).
UNKNOWN_STATUS = 10_000

#: Runs the flow CLI in-process with the given arguments; returns the exit status.
CliRunner = Callable[[list[str]], int]

_PR_SET_PDEATHSIG = 1
_PR_SET_CHILD_SUBREAPER = 36
#: Sent by Linux to a forked task when the scheduler dies. Not SIGTERM, which a step may ignore: a
#: real-time signal no library uses, whose handler takes the task's whole group down.
_ORPHANED: int = signal.SIGRTMIN + 3 if hasattr(signal, "SIGRTMIN") else signal.SIGTERM
#: Sent to a forked task (not its group) with the scheduler's SIGTERM: a step may ignore SIGTERM, but a task
#: told to stop must not commit (``told_to_stop``).
_TOLD_TO_STOP: int = signal.SIGRTMIN + 4 if hasattr(signal, "SIGRTMIN") else 0
#: True in a task once the scheduler has asked it to stop.
told_to_stop = False
#: Seconds the processes a step left behind get to exit after SIGTERM before they are killed.
DESCENDANTS_GRACE = 2.0
#: Tells the task which process runs its run, so it does not commit once that process is gone.
RUNTIME_PID_ENV = "HEADWATER_RUNTIME_PID"
_prctl: Any = None
_fflush: Any = None
_STOP_SIGNALS = {signal.SIGINT, signal.SIGTERM, signal.SIGCHLD} | ({_TOLD_TO_STOP} if _TOLD_TO_STOP else set())


def warm_up() -> None:
    """Import, in the scheduler, everything a forked task would otherwise import for itself.

    A forked child inherits the parent's modules; whatever it imports on its own is paid again by every
    task. This keeps a task's start to the cost of ``fork``.
    """
    global _prctl, _fflush
    import getpass  # noqa: F401  (config.username)

    import headwater._current
    import headwater.inputs
    import headwater.lint
    import headwater.runtime.task  # noqa: F401
    from headwater import config, plugins
    from headwater.datastore import cas

    cas.hash_threads = False  # see cas.hash_threads: this process forks
    plugins.serializers()
    config.username()
    if _prctl is None:
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            _prctl = libc.prctl if sys.platform.startswith("linux") else False
            _fflush = libc.fflush
        except Exception:
            _prctl = _fflush = False


def os_threads() -> int:
    """Threads of this process, native ones included (1 where it cannot be read)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Threads:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 1


def _die_with_parent(parent: int) -> None:
    """On Linux: be told when the scheduler dies, and adopt whatever the step orphans (no-op elsewhere)."""
    if not _prctl:
        return
    try:
        # Orphans of the step re-parent to the task, so it can end them (``_end_descendants``).
        _prctl(_PR_SET_CHILD_SUBREAPER, 1)
        signal.signal(_TOLD_TO_STOP, _stop_requested)
        signal.signal(_ORPHANED, _orphaned)
        _prctl(_PR_SET_PDEATHSIG, _ORPHANED)
    except Exception:
        return
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(143)


def _stop_requested(signum: int, frame: Any) -> None:
    global told_to_stop
    told_to_stop = True


def _orphaned(signum: int, frame: Any) -> None:
    """The scheduler died: nobody will commit this task. End the step's processes, then this one."""
    try:
        _end_descendants(DESCENDANTS_GRACE)
    finally:
        try:
            os.killpg(0, signal.SIGKILL)  # the task itself, and any member of its group left
        finally:
            os._exit(137)


def _children() -> list[int]:
    """This process's children, from ``/proc`` (every thread's), as a subreaper sees them."""
    pids: list[int] = []
    try:
        for tid in os.listdir("/proc/self/task"):
            with open(f"/proc/self/task/{tid}/children") as f:
                pids += [int(p) for p in f.read().split()]
    except OSError:
        pass
    return pids


def _has_children() -> bool:
    """Reap the children that ended; True while any is left (one ``waitpid`` when there is none)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return False
        if pid == 0:
            return True


def _end_descendants(grace: float) -> None:
    """End every process the step started that still runs: SIGTERM, then SIGKILL after ``grace`` seconds.

    Called by a forked task as it exits. As the subreaper of its step, every process the step left behind
    is a child of the task or a descendant of one, so having no children means having nothing to end.
    """
    if not _has_children():
        return
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the group's SIGTERM is for the step's processes
    for pid in [0, *_children()]:  # the group, and children that left it (a new session)
        try:
            os.killpg(0, signal.SIGTERM) if pid == 0 else os.kill(pid, signal.SIGTERM)
        except OSError:
            pass
    deadline = time.monotonic() + grace
    while _has_children() and time.monotonic() < deadline:
        time.sleep(0.01)
    deadline = time.monotonic() + 5.0
    while _has_children() and time.monotonic() < deadline:
        # Killing a child re-parents its own children to this process: the next round kills those.
        for pid in _children():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.01)


def _interrupt(signum: int, frame: Any) -> None:
    raise TaskInterrupted(f"stopped by signal {signum}")


def _reset_child_state() -> None:
    """Make the forked child look like a fresh interpreter running the task."""
    import atexit

    from headwater.datastore import cas

    atexit._clear()  # the scheduler's exit handlers are not the task's
    cas.hash_threads = True  # this process has no inherited hashing pool (see cas.hash_threads)
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    # Whatever replaced the scheduler's streams (a live display, a notebook) must not capture the task's.
    for name in ("stdout", "stderr"):
        stream = getattr(sys, f"__{name}__", None)
        if stream is not None:
            setattr(sys, name, stream)
            try:
                stream.reconfigure(line_buffering=True)
            except (AttributeError, ValueError):
                pass
    numpy = sys.modules.get("numpy")
    if numpy is not None:  # a fresh interpreter would have fresh global random state
        try:
            numpy.random.seed()
        except Exception:
            pass


class LocalTaskHandle(TaskHandle):
    """An attempt running as a process on this machine: its pid, output pipes and pidfd."""

    def __init__(self, pid: int, out_fd: int, err_fd: int, popen: subprocess.Popen[bytes] | None) -> None:
        super().__init__()
        self.pid = pid
        self.fds = {"stdout": out_fd, "stderr": err_fd}
        self.popen = popen
        self.running_since = time.time()
        self.returncode: int | None = None
        self.pidfd: int | None = None
        for fd in (out_fd, err_fd):
            os.set_blocking(fd, False)
        if hasattr(os, "pidfd_open"):
            try:
                self.pidfd = os.pidfd_open(pid)
            except OSError:
                self.pidfd = None
        # Without a pidfd the scheduler must look for the exit itself, often.
        self.poll_interval = 0.02

    def output_fds(self) -> dict[str, int]:
        return self.fds

    def exit_fd(self) -> int | None:
        return self.pidfd

    def poll(self) -> int | None:
        """The exit status once the process has ended (negative: killed by that signal), else None."""
        if self.returncode is not None:
            return self.returncode
        if not self._ended():
            return None
        # Ended but not reaped yet, so its pid cannot name another process group: end what is left in it.
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except OSError:
            pass
        if self.popen is not None:
            self.returncode = self.popen.poll()
            return self.returncode
        try:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:  # reaped by someone else: the status is lost
            self.returncode = UNKNOWN_STATUS
            return self.returncode
        if pid == 0:
            return None
        self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def _ended(self) -> bool:
        """True once the process has exited (it stays a zombie, unreaped, until ``poll`` reaps it)."""
        if not hasattr(os, "waitid"):
            return True
        try:
            return os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
        except ChildProcessError:
            return True

    def kill(self, force: bool = False) -> None:
        if not force and self.popen is None and _TOLD_TO_STOP and _prctl:  # (the handler exists: see _fork)
            try:
                os.kill(self.pid, _TOLD_TO_STOP)
            except OSError:
                pass
        sig = signal.SIGKILL if force else signal.SIGTERM
        try:
            os.killpg(self.pid, sig)
        except (ProcessLookupError, PermissionError):
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass

    def close(self) -> None:
        # The output pipes belong to the scheduler once handed over (it closes each at its end); closing
        # them here again could close a newer task's pipe that reuses the number.
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None


#: How the local launcher runs a forked task's command line, and which descriptors a child must close:
#: set by the scheduler before its first launch (``configure``).
_run_cli: CliRunner | None = None
_close_in_child: Callable[[], list[int]] = list


def configure(run_cli: CliRunner, close_in_child: Callable[[], list[int]]) -> None:
    """Tell the local launcher how to run a command in a forked child (the flow's CLI, in-process)."""
    global _run_cli, _close_in_child
    _run_cli, _close_in_child = run_cli, close_in_child


def launch(attempt: TaskAttempt, command: TaskCommand) -> LocalTaskHandle:
    """Start the attempt's process here: forked when possible, spawned otherwise."""
    forkable = command.where == "local" and not command.bootstrap and hasattr(os, "fork")
    same = _run_cli is not None and forkable and command.runs_in_this_interpreter(attempt.run.flow_file)
    if same and not _threads_warned():  # (the threads warning is printed only when forking was possible)
        return _fork(command, _run_cli, _close_in_child())  # type: ignore[arg-type]
    return _spawn(command)


_warned_threads = False


def _threads_warned() -> bool:
    """True (and a warning, once) when this process runs other threads: forking it would be unsafe."""
    global _warned_threads
    threads = os_threads()
    if threads > 1 and not _warned_threads:
        _warned_threads = True
        sys.stderr.write(
            f"headwater: warning: the runtime process runs {threads} threads (started by the flow's imports?); "
            "tasks start as new processes, which is slower.\n"
        )
    return threads > 1


def _fork(command: TaskCommand, run_cli: CliRunner, inherited: list[int]) -> LocalTaskHandle:
    out_r, out_w = os.pipe()
    try:
        err_r, err_w = os.pipe()
    except OSError:  # out of descriptors: leave none behind, the scheduler retries the launch later
        os.close(out_r)
        os.close(out_w)
        raise
    parent = os.getpid()
    sys.stdout.flush()
    sys.stderr.flush()
    # Signals stay pending across fork until the child has its own handlers: the scheduler's handler,
    # copied into the child, would otherwise swallow a SIGTERM meant for the task.
    signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
    try:
        pid = os.fork()
    except OSError:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
        for fd in (out_r, out_w, err_r, err_w):
            os.close(fd)
        raise
    if pid != 0:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
    else:  # the task's process
        code = 1
        try:
            os.setpgid(0, 0)
            _die_with_parent(parent)
            os.dup2(out_w, 1)
            os.dup2(err_w, 2)
            for fd in (out_r, out_w, err_r, err_w, *inherited):
                try:
                    os.close(fd)
                except OSError:
                    pass
            # Opened once the inherited descriptors are closed: the scheduler may have used up its limit.
            devnull = os.open(os.devnull, os.O_RDONLY)
            if devnull != 0:
                os.dup2(devnull, 0)
                os.close(devnull)
            _reset_child_state()
            signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)
            os.environ.update(command.env)
            os.environ[RUNTIME_PID_ENV] = str(parent)
            code = run_cli(command.args())
            _finish_like_an_interpreter()
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        except TaskInterrupted:
            code = 143
        except KeyboardInterrupt:
            code = 130
        except BaseException:
            traceback.print_exc()
            code = 1
        finally:
            try:
                _end_descendants(DESCENDANTS_GRACE)
                sys.stdout.flush()
                sys.stderr.flush()
                if _fflush:
                    _fflush(None)  # C libraries' buffered output
            finally:
                os._exit(code)
    try:
        os.setpgid(pid, pid)  # also here, so signalling the group works before the child has run
    except OSError:
        pass
    os.close(out_w)
    os.close(err_w)
    return LocalTaskHandle(pid, out_r, err_r, None)


def _finish_like_an_interpreter() -> None:
    """What a fresh interpreter does at exit: join the task's threads, run its exit handlers."""
    import atexit
    import threading

    try:
        threading._shutdown()  # type: ignore[attr-defined]  # joins non-daemon threads, as at exit
    except Exception:
        pass
    atexit._run_exitfuncs()  # the step's own handlers (trackers ending their runs, pools)


def _spawn(command: TaskCommand) -> LocalTaskHandle:
    env = {**os.environ, **command.env, "PYTHONUNBUFFERED": "1", RUNTIME_PID_ENV: str(os.getpid())}
    argv = command.argv()
    if command.bootstrap:  # the environment's or a plugin's preparation first, in one shell
        argv = ["/bin/sh", "-c", command.shell()]
    popen = subprocess.Popen(
        argv,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        close_fds=True,
    )
    assert popen.stdout is not None and popen.stderr is not None
    out_fd, err_fd = os.dup(popen.stdout.fileno()), os.dup(popen.stderr.fileno())
    popen.stdout.close()
    popen.stderr.close()
    return LocalTaskHandle(popen.pid, out_fd, err_fd, popen)
