"""Built-in plugin: ``@schedule(hourly, daily, weekly, cron, timezone)`` on a flow class.

A declaration: running the flow here ignores it; a deployer (Step Functions) turns it into a schedule.
``cron`` takes a five-field expression (``"0 6 * * 1-5"``); otherwise the flow runs daily at midnight UTC,
or hourly or weekly when asked.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from headwater.decorators import FlowDecorator, apply_flow
from headwater.exceptions import DecoratorError
from headwater.hookspecs import hookimpl


class ScheduleDecorator(FlowDecorator):
    """Run the deployed flow on a schedule: ``@schedule(daily=True)``, ``@schedule(cron="0 6 * * *")``."""

    name = "schedule"
    defaults = {"hourly": False, "daily": True, "weekly": False, "cron": None, "timezone": None}

    def validate(self) -> None:
        a = self.attributes
        chosen = [key for key in ("hourly", "weekly") if a[key]] + (["cron"] if a["cron"] else [])
        if len(chosen) > 1:
            raise DecoratorError(f"@schedule got {' and '.join(chosen)}.", "Give one of hourly, daily, weekly, cron.")
        cron = a["cron"]
        if cron is not None and (not isinstance(cron, str) or len(cron.split()) not in (5, 6)):
            raise DecoratorError(
                f"@schedule(cron={cron!r}) is not a cron expression.", 'Write five fields, e.g. cron="0 6 * * 1-5".'
            )

    @property
    def cron(self) -> str:
        """The schedule as a five-field cron expression (minute hour day month weekday)."""
        a = self.attributes
        if a["cron"]:
            return str(a["cron"])
        if a["hourly"]:
            return "0 * * * *"
        if a["weekly"]:
            return "0 0 * * 0"
        return "0 0 * * *"


def schedule(flow: Any = None, **attributes: Any) -> Any:
    """Run the flow on a schedule once deployed (``hourly``, ``daily``, ``weekly`` or ``cron``)."""
    return apply_flow(ScheduleDecorator, flow, **attributes)


@hookimpl(trylast=True)
def register_flow_decorators(register: Callable[..., None]) -> None:
    register(ScheduleDecorator)
