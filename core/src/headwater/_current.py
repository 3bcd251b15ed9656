"""``current``: what a running step knows about itself (flow, run, step, task, attempt, user, tags).

Outside a running task every field is None (``is_running_flow`` is False), so code that reads ``current``
can also be imported and tested on its own. Plugins add fields through the ``register_current_fields`` hook.
"""

from __future__ import annotations

from typing import Any, NamedTuple


class Parallel(NamedTuple):
    """``current.parallel``: the hosts of a multi-host task (one host: ``num_nodes`` 1, ``node_index`` 0)."""

    main_ip: str
    num_nodes: int
    node_index: int


_CORE_FIELDS = (
    "parallel",
    "flow_name",
    "run_id",
    "step_name",
    "task_id",
    "retry_count",
    "origin_run_id",
    "namespace",
    "username",
    "tags",
    "parameter_names",
)
#: Names a plugin's extra field cannot take: the core fields and the ones derived from them.
_PROTECTED = frozenset(_CORE_FIELDS) | {"pathspec", "is_running_flow"}


class Current:
    """The task-scoped singleton behind ``from headwater import current``."""

    def __init__(self) -> None:
        self._fields: dict[str, Any] = {}
        self._extra: dict[str, Any] = {}

    def _set(self, fields: dict[str, Any], extra: dict[str, Any] | None = None) -> None:
        self._fields = dict(fields)
        self._extra = {k: v for k, v in (extra or {}).items() if k not in _PROTECTED}

    def _clear(self) -> None:
        self._fields = {}
        self._extra = {}

    @property
    def is_running_flow(self) -> bool:
        """True inside a step of a running flow."""
        return bool(self._fields)

    @property
    def parallel(self) -> Parallel | None:
        """The task's hosts: ``main_ip``, ``num_nodes``, ``node_index`` (as Metaflow's ``current.parallel``)."""
        return self._fields.get("parallel")

    @property
    def flow_name(self) -> str | None:
        return self._fields.get("flow_name")

    @property
    def run_id(self) -> str | None:
        return self._fields.get("run_id")

    @property
    def step_name(self) -> str | None:
        return self._fields.get("step_name")

    @property
    def task_id(self) -> str | None:
        return self._fields.get("task_id")

    @property
    def retry_count(self) -> int | None:
        """The attempt number of this task, 0 for the first attempt (None outside a task)."""
        return self._fields.get("retry_count")

    @property
    def origin_run_id(self) -> str | None:
        """The run this one resumes, or None."""
        return self._fields.get("origin_run_id")

    @property
    def pathspec(self) -> str | None:
        """``Flow/run_id/step/task_id``, the address of this task for the client."""
        if not self._fields:
            return None
        return f"{self.flow_name}/{self.run_id}/{self.step_name}/{self.task_id}"

    @property
    def namespace(self) -> str | None:
        return self._fields.get("namespace")

    @property
    def username(self) -> str | None:
        return self._fields.get("username")

    @property
    def tags(self) -> list[str]:
        return list(self._fields.get("tags", ()))

    @property
    def parameter_names(self) -> list[str]:
        return list(self._fields.get("parameter_names", ()))

    def get(self, name: str, default: Any = None) -> Any:
        """A field by name, including the ones plugins add; ``default`` when unset."""
        if name in _PROTECTED:
            value = getattr(self, name) if self._fields else None
            return default if value is None else value
        return self._extra.get(name, default)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        extra = self.__dict__.get("_extra", {})
        if name in extra:
            return extra[name]
        raise AttributeError(
            f"current has no field `{name}`"
            + ("" if self.__dict__.get("_fields") else " (no flow is running in this process)")
            + f". Fields: {', '.join(sorted(_CORE_FIELDS + ('pathspec', 'is_running_flow') + tuple(extra)))}."
        )

    def __contains__(self, name: str) -> bool:
        return name in self._extra or (name in _PROTECTED and bool(self._fields))

    def __repr__(self) -> str:
        if not self._fields:
            return "<current: no flow running>"
        from headwater._attempts import attempt_label

        return f"<current {self.pathspec} {attempt_label(self.retry_count or 0)}>"


current = Current()
