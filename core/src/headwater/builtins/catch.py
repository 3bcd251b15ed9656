"""Built-in plugin: ``@catch(var, print_exception)``: a failed step lets the flow continue.

When a task has failed on every attempt its ``@retry`` allows, one more *fallback* attempt runs: it does
not run the step body, stores the last failure as a ``CaughtException`` in ``self.<var>``, and follows the
step's transition. Because the fallback is a new attempt, a crash of the whole process (out of memory,
a segfault, a timeout kill) is caught too.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from headwater.decorators import StepDecorator, apply
from headwater.exceptions import CaughtException, DecoratorError, LintProblem
from headwater.graph import FOREACH, SWITCH
from headwater.hookspecs import hookimpl
from headwater.runtime.context import TaskPolicy

if TYPE_CHECKING:
    from headwater.graph import FlowGraph, StepNode
    from headwater.runtime.task import TaskContext


class CatchDecorator(StepDecorator):
    name = "catch"
    defaults = {"var": None, "print_exception": True}

    def validate(self) -> None:
        var = self.attributes["var"]
        if var is not None and (not isinstance(var, str) or not var.isidentifier() or var.startswith("_")):
            raise DecoratorError(f"@catch(var={var!r}): var must be an artifact name.", "Write @catch(var='error').")

    def lint(self, graph: FlowGraph, step: StepNode) -> list[LintProblem]:
        if step.transition in (FOREACH, SWITCH):
            kind = "a foreach" if step.transition == FOREACH else "a conditional"
            return [
                LintProblem(
                    "catch-placement",
                    f"@catch cannot be used on step `{step.name}`, which is {kind}.",
                    "After a failure the runtime could not know what to run next; move the risky code to "
                    "a step of its own and put @catch there.",
                    step.file,
                    step.line,
                )
            ]
        return []


def catch(func: Any = None, *, var: str | None = None, print_exception: bool = True) -> Any:
    """Let the flow go on when this step fails for good; the failure is stored in ``self.<var>``."""
    return apply(CatchDecorator, func, var=var, print_exception=print_exception)


@hookimpl(trylast=True)
def register_step_decorators(register: Callable[..., None]) -> None:
    register(CatchDecorator)


@hookimpl
def resolve_task_policy(step: StepNode, flow: type) -> TaskPolicy | None:
    return TaskPolicy(fallback_retries=1) if step.decorator("catch") is not None else None


def _last_failure(task: TaskContext) -> CaughtException:
    record = task.datastore.attempt_done(task.run_id, task.node.name, task.task_id, task.attempt - 1) or {}
    info = record.get("exception") or {}
    return CaughtException(
        info.get("type", "UnknownError"),
        info.get("message", "the previous attempt failed without a record"),
        info.get("traceback"),
        task.attempt - 1,
    )


@hookimpl(tryfirst=True)
def execute_step(task: TaskContext) -> bool | None:
    deco = task.node.decorator("catch")
    if deco is None or not task.is_fallback:
        return None
    failure = _last_failure(task)
    if deco["print_exception"]:
        sys.stderr.write(
            f"@catch: step `{task.node.name}` failed ({failure}); continuing"
            + (f" with self.{deco['var']} set to the failure.\n" if deco["var"] else ".\n")
        )
    if deco["var"]:
        setattr(task.flow, deco["var"], failure)
    if task.node.out_funcs:
        task.flow.next(*(getattr(task.flow, name) for name in task.node.out_funcs))
    return True
