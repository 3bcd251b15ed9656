"""headwater.runtime.scheduler: how a task's output is read from its pipes and shown."""

import os
import selectors
import types

from headwater.runtime.scheduler import Scheduler, Worker


class Recorder:
    def __init__(self):
        self.lines = []

    def task_output(self, prefix, stream, line):
        self.lines.append((prefix, stream, line))


def reading_scheduler():
    """A scheduler with only what its output methods use (no run, no tasks)."""
    scheduler = Scheduler.__new__(Scheduler)
    scheduler.display = Recorder()
    scheduler.selector = selectors.DefaultSelector()
    scheduler.max_log_size = 1 << 20
    return scheduler


def piped_worker(scheduler):
    worker = Worker.__new__(Worker)
    worker.attempt = types.SimpleNamespace(step=types.SimpleNamespace(name="train"), task_id="3", attempt=0)
    worker.partial = {"stdout": b"", "stderr": b""}
    worker.logs = {"stdout": [], "stderr": []}
    worker.log_sizes = {"stdout": 0, "stderr": 0}
    worker.log_dropped = {"stdout": 0, "stderr": 0}
    worker.fds = {}
    pipes = {}
    for stream in ("stdout", "stderr"):
        read_end, write_end = os.pipe()
        os.set_blocking(read_end, False)
        worker.fds[stream] = read_end
        pipes[stream] = write_end
        scheduler.selector.register(read_end, selectors.EVENT_READ, ("read", worker, stream))
    return worker, pipes


def test_a_last_line_without_newline_is_shown_when_its_stream_ends():
    scheduler = reading_scheduler()
    worker, pipes = piped_worker(scheduler)
    os.write(pipes["stdout"], b"epoch 1\ndone")
    os.write(pipes["stderr"], b"warning: slow")
    for write_end in pipes.values():
        os.close(write_end)
    for stream in ("stdout", "stderr"):
        while scheduler._read(worker, stream, worker.fds[stream]):
            pass
    # Shown when the pipe closes, not only if the attempt is drained later (a stop may never drain it).
    assert scheduler.display.lines == [
        ("train/3", "stdout", "epoch 1"),
        ("train/3", "stdout", "done"),
        ("train/3", "stderr", "warning: slow"),
    ]
    assert worker.fds == {} and worker.partial == {"stdout": b"", "stderr": b""}
    assert worker.log_bytes("stdout") == b"epoch 1\ndone"
