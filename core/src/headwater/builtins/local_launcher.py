"""Built-in plugin: launch every attempt on this machine (the last answer to ``launch_task``).

A command that keeps this interpreter and flow file is forked from the pre-warmed scheduler; anything
else (another interpreter, a wrapper, bootstrap commands) is started as a new process.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from headwater.hookspecs import hookimpl

if TYPE_CHECKING:
    from headwater.runtime.context import TaskAttempt, TaskCommand
    from headwater.runtime.handle import TaskHandle


@hookimpl(trylast=True)
def launch_task(attempt: TaskAttempt, command: TaskCommand) -> TaskHandle:
    from headwater.runtime.launch import launch

    return launch(attempt, command)
