"""Built-in plugin: ``@environment(vars={...})``: environment variables for the step's tasks.

They are set in the task's process before the step runs, and added to the task's command so that a
process started elsewhere (a container, another interpreter) gets them from the start. A library that
reads a variable when it is imported (``OMP_NUM_THREADS`` for numpy) sees it only in such a new process:
with the local fork it was imported by the parent already.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from headwater.decorators import StepDecorator, apply
from headwater.exceptions import DecoratorError
from headwater.hookspecs import hookimpl

if TYPE_CHECKING:
    from headwater.runtime.context import TaskAttempt, TaskCommand
    from headwater.runtime.task import TaskContext


class EnvironmentDecorator(StepDecorator):
    name = "environment"
    defaults: ClassVar[dict[str, Any]] = {"vars": {}}

    def validate(self) -> None:
        variables = self.attributes["vars"]
        if not isinstance(variables, dict):
            raise DecoratorError(
                f"@environment(vars={variables!r}): vars must be a dict.", "Write @environment(vars={'NAME': 'value'})."
            )
        for key in variables:
            if not isinstance(key, str) or not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", key):
                raise DecoratorError(
                    f"@environment: {key!r} is not a valid variable name.",
                    "Names are letters, digits and _, not starting with a digit (e.g. OMP_NUM_THREADS).",
                )
        self.attributes["vars"] = {k: str(v) for k, v in variables.items()}


def environment(func: Any = None, *, vars: dict[str, str] | None = None) -> Any:
    """Set environment variables for this step's tasks."""
    return apply(EnvironmentDecorator, func, vars=dict(vars or {}))


@hookimpl(trylast=True)
def register_step_decorators(register: Callable[..., None]) -> None:
    register(EnvironmentDecorator)


@hookimpl(tryfirst=True)  # first, so every other plugin sees (and may override) these variables
def task_command(attempt: TaskAttempt, command: TaskCommand) -> None:
    deco = attempt.step.decorator("environment")
    if deco is not None:
        command.env.update(deco["vars"])


@hookimpl
def before_step(task: TaskContext) -> None:
    deco = task.node.decorator("environment")
    if deco is not None:
        os.environ.update(deco["vars"])
