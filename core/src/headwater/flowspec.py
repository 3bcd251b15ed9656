"""``FlowSpec`` and ``@step``: how a data scientist writes a flow.

A flow is a class of ``@step`` methods. Anything a step sets on ``self`` is an artifact: it is stored in the
content-addressed store when the step ends and is visible to every later step, loaded lazily on first
read. ``self.next(...)`` names what runs next; the runtime checks the call against the graph parsed from
the source. Calling the class (``MyFlow()`` under ``__main__``) starts the command line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from headwater.exceptions import StepUsageError

if TYPE_CHECKING:
    from headwater.inputs import Inputs
    from headwater.parameters import Parameter
    from headwater.runtime.task import TaskContext

F = TypeVar("F", bound=Callable[..., Any])


def step(func: F) -> F:
    """Mark a method of a ``FlowSpec`` as a step. It must be the innermost decorator."""
    func._hw_is_step = True  # type: ignore[attr-defined]
    func.__dict__.setdefault("__hw_decorators__", [])
    return func


class FlowSpec:
    """Base class of every flow.

    Inside a step: set artifacts on ``self``; call ``self.next(...)`` last; in a foreach body read
    ``self.input`` and ``self.index``; in a join, read ``inputs`` and call ``self.merge_artifacts(inputs)``.
    """

    _hw_task: TaskContext | None = None

    def __init__(self, use_cli: bool = True) -> None:
        if use_cli:
            from headwater.cli.flow_cli import main

            main(type(self))

    # -- artifacts ------------------------------------------------------------------------------------------

    def __getattr__(self, name: str) -> Any:
        # Called only when normal lookup fails: the artifact comes from this task's inputs.
        task = self.__dict__.get("_hw_task")
        if task is None or name.startswith("__"):
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        value = task.read_artifact(name)
        self.__dict__[name] = value
        return value

    def _hw_read_parameter(self, param: Parameter) -> Any:
        task = self.__dict__.get("_hw_task")
        if task is None:
            return param
        return task.read_parameter(param.attr)

    # -- transitions ----------------------------------------------------------------------------------------

    def next(self, *targets: Any, foreach: str | None = None, condition: str | None = None) -> None:
        """Name the step(s) that run after this one.

        ``self.next(self.a)``; ``self.next(self.a, self.b)`` (in parallel, then a join);
        ``self.next(self.a, foreach="items")`` (one task per item); or
        ``self.next({"x": self.a, "y": self.b}, condition="choice")`` (the case ``self.choice`` names).
        """
        self._task("self.next").record_next(self, targets, foreach, condition)

    # -- foreach --------------------------------------------------------------------------------------------

    @property
    def input(self) -> Any:
        """The item of the innermost foreach that this task handles (None outside a foreach)."""
        return self._task("self.input").foreach_item(-1)

    @property
    def index(self) -> int | None:
        """The index of this task in the innermost foreach (None outside a foreach)."""
        stack = self._task("self.index").foreach_stack
        return stack[-1]["index"] if stack else None

    def foreach_stack(self) -> list[tuple[int, int, Any]]:
        """``(index, num_splits, value)`` for each enclosing foreach, outermost first."""
        task = self._task("self.foreach_stack()")
        return [
            (frame["index"], frame["num_splits"], task.foreach_item(level))
            for level, frame in enumerate(task.foreach_stack)
        ]

    # -- joins ----------------------------------------------------------------------------------------------

    def merge_artifacts(
        self, inputs: Inputs, exclude: list[str] | None = None, include: list[str] | None = None
    ) -> None:
        """Copy into this join every artifact of ``inputs`` not set here, failing on disagreements.

        Artifacts are compared by content key, so nothing is loaded. ``include`` keeps only those names
        (each must exist in some input); ``exclude`` skips names. They cannot be combined.
        """
        self._task("merge_artifacts").merge_artifacts(self, inputs, exclude or [], include or [])

    # -- helpers --------------------------------------------------------------------------------------------

    def _task(self, what: str) -> TaskContext:
        task = self.__dict__.get("_hw_task")
        if task is None:
            raise StepUsageError(
                f"{what} only works inside a running step.",
                f"Run the flow: python {self.script_name or 'flow.py'} run",
            )
        return task

    def _artifact_items(self) -> Iterator[tuple[str, Any]]:
        """The attributes this step set or read: what persisting the task looks at."""
        for name, value in self.__dict__.items():
            if not name.startswith("_hw_"):
                yield name, value

    @property
    def name(self) -> str:
        """The flow's name (its class name)."""
        return type(self).__name__

    @name.setter
    def name(self, value: Any) -> None:
        raise StepUsageError(
            "`name` is reserved: it is the flow's name.", "Store the value under another name, e.g. self.model_name."
        )

    @property
    def script_name(self) -> str:
        import os
        import sys

        module = sys.modules.get(type(self).__module__)
        return os.path.basename(getattr(module, "__file__", "") or "")
