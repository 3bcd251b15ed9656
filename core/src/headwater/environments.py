"""Task environments: which interpreter runs a step, and what must run before it.

The ``local`` environment uses the interpreter running the flow. Other environments (``conda``, ``pypi``)
come from plugins through the ``register_environments`` hook and are chosen with ``--environment``. An
environment resolves once before the run (lock, build, cache) and then answers per step.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from headwater.graph import FlowGraph, StepNode
    from headwater.runtime.context import RunContext


class Environment:
    """Base class; the defaults describe the local interpreter."""

    name: ClassVar[str] = "local"

    def __init__(self, flow: type, graph: FlowGraph, options: dict[str, Any]) -> None:
        self.flow = flow
        self.graph = graph
        self.options = options

    def resolve(self, run: RunContext) -> None:
        """Prepare every step's environment before the first task starts (raise to refuse the run)."""

    def executable(self, step: StepNode) -> str:
        """The Python interpreter that runs this step's tasks on this machine."""
        return sys.executable

    def bootstrap_commands(self, step: StepNode, where: str) -> list[str]:
        """Shell commands that prepare the step's environment; ``where`` is ``"local"`` or ``"container"``."""
        return []
