"""``TaskHandle``: how the scheduler follows an attempt that some launcher started, wherever it runs.

The ``launch_task`` hook returns one. The local launcher's handle is a forked or spawned process with its
output on pipes; a compute plugin's handle follows a job elsewhere (a Batch job, a training job) and hands
its log lines over through ``read_output``. The scheduler is one thread that forks tasks, so a handle
never starts threads in it and every method returns at once: do slow work (API calls) in a helper
process, or only every ``poll_interval`` seconds.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any


class TaskHandle(ABC):
    """A launched attempt. Subclasses implement ``poll`` and ``kill``; the rest has working defaults."""

    #: What the live view shows for the attempt while it runs (``"SUBMITTED"``, ``"RUNNABLE"``, ...).
    state: str = "running"
    #: When the attempt's own code started running (None while it waits in a queue); ``@timeout`` counts
    #: from here, so time spent queued elsewhere does not count against the step.
    running_since: float | None = None
    #: A human reason for a failure the task could not record itself ("out of memory", "spot reclaimed").
    reason: str | None = None
    #: True when the system running the attempt enforces the step's timeout itself (the scheduler then
    #: never stops the attempt for running too long).
    enforces_timeout: bool = False
    #: Seconds between calls of ``poll`` and ``read_output`` when the handle has no file descriptor to wait on.
    poll_interval: float = 0.5

    def __init__(self) -> None:
        #: Facts recorded with the attempt when it ends (a job id, a queue, a log stream): ``Task.metadata``.
        self.metadata: dict[str, Any] = {}

    def output_fds(self) -> dict[str, int]:
        """Pipes carrying the attempt's output, by stream (``"stdout"``, ``"stderr"``).

        Called once, at launch; from then on the scheduler owns them: it reads each to its end and closes it.
        """
        return {}

    def exit_fd(self) -> int | None:
        """A descriptor that becomes readable when the attempt ends (a pidfd), or None."""
        return None

    def read_output(self) -> list[tuple[str, bytes]]:
        """Output that arrived since the last call, as ``(stream, bytes)``, for handles without pipes."""
        return []

    @abstractmethod
    def poll(self) -> int | None:
        """The attempt's exit status once it has ended (0: its process ended normally), else None."""

    @abstractmethod
    def kill(self, force: bool = False) -> None:
        """Stop the attempt: politely first (``force=False``), then for good (``force=True``)."""

    def close(self) -> None:  # noqa: B027  (optional: most handles hold nothing)
        """Release what the handle holds (descriptors, connections); called once, after it ended."""
