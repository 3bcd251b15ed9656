"""Built-in plugin: ``@timeout(seconds, minutes, hours)``.

Inside the task a timer interrupts the step body with ``StepTimeout`` (the traceback shows where the code
was); the scheduler also stops the attempt a little later, in case the body is stuck in native code
that never lets the interruption through.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

from headwater.decorators import StepDecorator, apply
from headwater.exceptions import DecoratorError, StepTimeout
from headwater.hookspecs import hookimpl
from headwater.runtime.context import TaskPolicy

if TYPE_CHECKING:
    from headwater.graph import StepNode
    from headwater.runtime.task import TaskContext


def _describe(seconds: float) -> str:
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:g} h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


class TimeoutDecorator(StepDecorator):
    name = "timeout"
    defaults = {"seconds": 0, "minutes": 0, "hours": 0}

    def validate(self) -> None:
        for key in self.defaults:
            self._number(key, float)
        if self.total_seconds <= 0:
            raise DecoratorError("@timeout needs a duration.", "Write e.g. @timeout(minutes=10).")

    @property
    def total_seconds(self) -> float:
        a = self.attributes
        return float(a["seconds"] + 60 * a["minutes"] + 3600 * a["hours"])


def timeout(func: Any = None, *, seconds: float = 0, minutes: float = 0, hours: float = 0) -> Any:
    """Fail the step's attempt when it runs longer than the given time (combine with ``@retry``)."""
    return apply(TimeoutDecorator, func, seconds=seconds, minutes=minutes, hours=hours)


@hookimpl(trylast=True)
def register_step_decorators(register: Callable[..., None]) -> None:
    register(TimeoutDecorator)


@hookimpl
def resolve_task_policy(step: StepNode, flow: type) -> TaskPolicy | None:
    deco = step.decorator("timeout")
    if deco is None:
        return None
    # The scheduler's own deadline comes a little after the in-task timer, as a safety net.
    seconds = deco.total_seconds  # type: ignore[attr-defined]
    return TaskPolicy(timeout_seconds=seconds + max(5.0, seconds * 0.1))


@hookimpl(wrapper=True)
def execute_step(task: TaskContext) -> Generator[None, Any, Any]:
    deco = task.node.decorator("timeout")
    if deco is None or not hasattr(signal, "setitimer"):
        return (yield)
    seconds = deco.total_seconds  # type: ignore[attr-defined]

    def interrupt(signum: int, frame: Any) -> None:
        raise StepTimeout(
            f"Step `{task.node.name}` timed out after {_describe(seconds)} (@timeout).",
            "Make the step faster, raise the limit, or add @retry to try again.",
        )

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return (yield)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
