"""``inputs`` of a join step: the tasks that meet there, each a read-only view of its artifacts.

Reach an input by position (``inputs[0].x``), by iterating (``for inp in inputs``), or, for a branch join,
by the name of the step it came from (``inputs.train_a.x``). Artifacts load lazily, one at a time, so a
join over thousands of foreach tasks reads only what it uses.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from headwater.exceptions import StepUsageError

if TYPE_CHECKING:
    from headwater.datastore.artifacts import ArtifactSource
    from headwater.runtime.task import TaskContext


class InputView:
    """One input task of a join: its artifacts as attributes, plus ``input``, ``index`` and ``foreach_stack()``."""

    def __init__(
        self, task: TaskContext, step: str, task_id: str, record: dict[str, Any], source: ArtifactSource
    ) -> None:
        self._hw_task = task
        self._hw_step = step
        self._hw_task_id = task_id
        self._hw_record = record
        self._hw_source = source

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_hw_") or name.startswith("__"):
            raise AttributeError(name)
        source = self._hw_source
        if name in source:
            return source.get(name)
        flow_cls = self._hw_task.flow_cls
        if hasattr(flow_cls, name):
            return getattr(flow_cls, name)
        available = ", ".join(sorted(source.names())) or "none"
        raise AttributeError(
            f"Input {self._hw_step}/{self._hw_task_id} of join `{self._hw_task.node.name}` has no artifact "
            f"`{name}`. Its artifacts: {available}."
        )

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_hw_"):
            object.__setattr__(self, name, value)
            return
        raise StepUsageError(
            f"Inputs of a join are read-only (tried to set `{name}` on input {self._hw_step}/{self._hw_task_id}).",
            f"Set the value on self instead: self.{name} = ...",
        )

    @property
    def index(self) -> int | None:
        stack = self._hw_record.get("foreach_stack") or []
        return stack[-1]["index"] if stack else None

    @property
    def input(self) -> Any:
        stack = self._hw_record.get("foreach_stack") or []
        if not stack:
            return None
        return self._hw_task.item_of(stack[-1])

    def foreach_stack(self) -> list[tuple[int, int, Any]]:
        stack = self._hw_record.get("foreach_stack") or []
        return [(f["index"], f["num_splits"], self._hw_task.item_of(f)) for f in stack]

    def __repr__(self) -> str:
        return f"<input {self._hw_step}/{self._hw_task_id}>"


class Inputs:
    """The inputs of a join, in a stable order (branch order, or foreach index)."""

    def __init__(self, views: list[InputView]) -> None:
        self._views = views

    def __iter__(self) -> Iterator[InputView]:
        return iter(self._views)

    def __len__(self) -> int:
        return len(self._views)

    def __getitem__(self, index: int) -> InputView:
        return self._views[index]

    def __getattr__(self, step: str) -> InputView:
        if step.startswith("_"):
            raise AttributeError(step)
        matches = [v for v in self._views if v._hw_step == step]
        if len(matches) == 1:
            return matches[0]
        steps = sorted({v._hw_step for v in self._views})
        if not matches:
            raise AttributeError(
                f"This join has no input from step `{step}`. Its inputs come from: {', '.join(steps)}."
            )
        raise AttributeError(
            f"This join has {len(matches)} inputs from step `{step}` (a foreach); use inputs[i] or iterate."
        )

    def __repr__(self) -> str:
        return f"<inputs of {len(self._views)} tasks>"
