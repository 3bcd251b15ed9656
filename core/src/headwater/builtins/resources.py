"""Built-in plugin: ``@resources(cpu, memory, gpu, disk)``, a declaration read by compute plugins.

Locally it changes nothing; ``@batch`` and other compute plugins size their jobs from it (taking the
larger of their own values and these).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from headwater.decorators import StepDecorator, apply
from headwater.hookspecs import hookimpl


class ResourcesDecorator(StepDecorator):
    name = "resources"
    defaults = {"cpu": 1, "memory": 4096, "gpu": None, "disk": None, "shared_memory": None}

    def validate(self) -> None:
        self._number("cpu", float)
        for key in ("memory", "gpu", "disk", "shared_memory"):
            self._number(key, int)


def resources(
    func: Any = None,
    *,
    cpu: float = 1,
    memory: int = 4096,
    gpu: int | None = None,
    disk: int | None = None,
    shared_memory: int | None = None,
) -> Any:
    """Declare what the step needs: CPUs, memory and disk in MB, GPUs (used by compute plugins)."""
    given = {"cpu": cpu, "memory": memory, "gpu": gpu, "disk": disk, "shared_memory": shared_memory}
    return apply(ResourcesDecorator, func, **{k: v for k, v in given.items() if v is not None})


@hookimpl(trylast=True)
def register_step_decorators(register: Callable[..., None]) -> None:
    register(ResourcesDecorator)
