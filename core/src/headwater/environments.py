"""Task environments: which interpreter runs a step, and what must run before it, here or in a container.

The ``local`` environment uses the interpreter running the flow. Other environments (``conda``, ``pypi``)
come from plugins through the ``register_environments`` hook. One environment serves a run: the one named
by ``--environment``, else the one that ``applies_to`` the flow (``@conda`` on a step switches conda on),
else ``local``. An environment resolves once before the run (lock, build, cache: from the graph and the
datastore alone, so a deployer can resolve without a run) and then answers per step, for ``where`` the
task runs: ``"local"`` (this machine) or ``"container"`` (a fresh machine with the code package unpacked).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from headwater.datastore.records import FlowDatastore
    from headwater.graph import FlowGraph, StepNode


class Environment:
    """Base class; the defaults describe the local interpreter (and ``python`` on a container's PATH)."""

    name: ClassVar[str] = "local"

    def __init__(self, flow: type, graph: FlowGraph, options: dict[str, Any]) -> None:
        self.flow = flow
        self.graph = graph
        self.options = options

    @classmethod
    def applies_to(cls, graph: FlowGraph) -> bool:
        """Whether this environment switches itself on for ``graph`` when ``--environment`` is not given."""
        return False

    def resolve(self, datastore: FlowDatastore) -> None:
        """Prepare every step's environment before anything is written (raise a HeadwaterError to refuse)."""

    def executable(self, step: StepNode, where: str = "local") -> str:
        """The Python interpreter that runs this step's tasks, here (``"local"``) or in a container."""
        return sys.executable if where == "local" else "python"

    def bootstrap_commands(self, step: StepNode, where: str = "local") -> list[str]:
        """Shell commands that prepare the step's environment before its task runs (``where`` as above)."""
        return []


def select_environment(flow: type, graph: FlowGraph, options: dict[str, Any]) -> Environment:
    """The run's environment: ``options["environment"]`` if given, else the one that applies, else local."""
    from headwater.exceptions import PluginError
    from headwater.plugins import environments, lookup

    registry = environments()
    name = options.get("environment")
    if not name:
        wanting = sorted(n for n, cls in registry.items() if n != "local" and cls.applies_to(graph))
        if len(wanting) > 1:
            raise PluginError(
                f"{graph.name}: several environments apply to this flow ({', '.join(wanting)}).",
                f"Choose one with --environment {wanting[0]} (or HEADWATER_ENVIRONMENT).",
            )
        name = wanting[0] if wanting else "local"
    environment: Environment = lookup("environment", name, registry)(flow, graph, options)
    options["environment"] = name
    return environment
