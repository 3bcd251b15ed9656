"""Built-in plugin: ``@project(name)`` on a flow class: runs and deployments of a project share a namespace.

Every run gets the system tags ``project:<name>`` and ``project_branch:<branch>``; the branch is
``user.<user>`` by default, ``test.<branch>`` with ``branch=``, and ``prod`` with ``production=True``
(as in Metaflow). Inside a step, ``current.project_name``, ``current.branch_name`` and
``current.is_production`` say which. Built through the public seams (``register_run_tags``,
``register_current_fields``), as a third-party plugin would.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from headwater.decorators import FlowDecorator, apply_flow
from headwater.exceptions import DecoratorError
from headwater.hookspecs import hookimpl

if TYPE_CHECKING:
    from headwater.runtime.context import RunContext
    from headwater.runtime.task import TaskContext

_NAME = re.compile(r"^[a-z0-9_]{1,128}$")


class ProjectDecorator(FlowDecorator):
    """Group the flow's runs and deployments under a project: ``@project(name="fraud")``."""

    name = "project"
    defaults = {"name": None, "branch": None, "production": False}

    def validate(self) -> None:
        for key in ("name", "branch"):
            value = self.attributes[key]
            if (key == "name" or value is not None) and not (isinstance(value, str) and _NAME.match(value)):
                raise DecoratorError(
                    f"@project({key}={value!r}): {key} must be lower-case letters, digits and _.",
                    'Write e.g. @project(name="fraud_model").',
                )

    def branch_name(self, user: str) -> str:
        if self.attributes["production"]:
            return "prod"
        if self.attributes["branch"]:
            return f"test.{self.attributes['branch']}"
        return f"user.{user}"


def project(flow: Any = None, **attributes: Any) -> Any:
    """Put the flow's runs and deployments in a project namespace (``project:<name>``)."""
    return apply_flow(ProjectDecorator, flow, **attributes)


def _project(graph: Any) -> ProjectDecorator | None:
    return next((d for d in graph.flow_decorators if isinstance(d, ProjectDecorator)), None)


@hookimpl(trylast=True)
def register_flow_decorators(register: Callable[..., None]) -> None:
    register(ProjectDecorator)


@hookimpl
def register_run_tags(run: RunContext, register: Callable[..., None]) -> None:
    deco = _project(run.graph)
    if deco is not None:
        register(f"project:{deco['name']}", system=True)
        register(f"project_branch:{deco.branch_name(run.user)}", system=True)


@hookimpl
def register_current_fields(task: TaskContext, register: Callable[[str, Any], None]) -> None:
    deco = _project(task.graph)
    if deco is not None:
        register("project_name", deco["name"])
        register("branch_name", deco.branch_name(task.user))
        register("is_production", bool(deco["production"]))
        register("project_flow_name", f"{deco['name']}.{deco.branch_name(task.user)}.{task.graph.name}")
