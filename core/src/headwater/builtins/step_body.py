"""Built-in plugin: run the user's step body (the last answer to ``execute_step``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from headwater.hookspecs import hookimpl

if TYPE_CHECKING:
    from headwater.runtime.task import TaskContext


@hookimpl(trylast=True)
def execute_step(task: TaskContext) -> bool:
    task.call_step_function()
    return True
