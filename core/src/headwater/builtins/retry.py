"""Built-in plugin: ``@retry(times, minutes_between_retries)``.

Locally a failed attempt is retried at once unless ``minutes_between_retries`` is given, so a bug shows up
fast on a laptop; remote compute plugins apply the delay (2 minutes by default), as Metaflow does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from headwater.decorators import StepDecorator, apply
from headwater.exceptions import DecoratorError
from headwater.hookspecs import hookimpl
from headwater.runtime.context import TaskPolicy

if TYPE_CHECKING:
    from headwater.graph import StepNode


class RetryDecorator(StepDecorator):
    name = "retry"
    defaults = {"times": 3, "minutes_between_retries": 2}

    def validate(self) -> None:
        self._number("times", int)
        self._number("minutes_between_retries", float)
        if self.attributes["times"] > 100:
            raise DecoratorError(f"@retry(times={self.attributes['times']}) is more than 100 retries.", "Use fewer.")


def retry(func: Any = None, *, times: int = 3, minutes_between_retries: float | None = None) -> Any:
    """Retry the step's tasks up to ``times`` more times when they fail.

    ``minutes_between_retries`` (default 2) is waited locally only when given explicitly.
    """
    attributes: dict[str, Any] = {"times": times}
    if minutes_between_retries is not None:
        attributes["minutes_between_retries"] = minutes_between_retries
    return apply(RetryDecorator, func, **attributes)


@hookimpl(trylast=True)
def register_step_decorators(register: Callable[..., None]) -> None:
    register(RetryDecorator)


@hookimpl
def resolve_task_policy(step: StepNode, flow: type) -> TaskPolicy | None:
    deco = step.decorator("retry")
    if deco is None:
        return None
    delay = deco["minutes_between_retries"] * 60 if "minutes_between_retries" in deco.explicit else 0.0
    return TaskPolicy(user_retries=deco["times"], retry_delay_seconds=delay)
