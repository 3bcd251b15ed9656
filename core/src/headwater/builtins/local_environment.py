"""Built-in plugin: the ``local`` environment, the interpreter that runs the flow."""

from __future__ import annotations

from collections.abc import Callable

from headwater.environments import Environment
from headwater.hookspecs import hookimpl


@hookimpl(trylast=True)
def register_environments(register: Callable[..., None]) -> None:
    register("local", Environment)
