"""What the scheduling process knows about a run and a task attempt, as the runtime hooks receive it."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from headwater.datastore.records import FlowDatastore
    from headwater.environments import Environment
    from headwater.flowspec import FlowSpec
    from headwater.graph import FlowGraph, StepNode


@dataclass(frozen=True)
class TaskPolicy:
    """How a step's attempts are retried and bounded in time.

    ``user_retries``: extra attempts that run the step again. ``fallback_retries``: attempts after those,
    in which a plugin replaces the body (``@catch``). ``retry_delay_seconds``: wait before each retry.
    ``timeout_seconds``: the runtime stops an attempt that runs longer (0: no limit).
    """

    user_retries: int = 0
    fallback_retries: int = 0
    retry_delay_seconds: float = 0.0
    timeout_seconds: float = 0.0

    def combine(self, other: TaskPolicy | None) -> TaskPolicy:
        """Field by field, the larger value (a timeout: the smaller non-zero one)."""
        if other is None:
            return self
        timeouts = [t for t in (self.timeout_seconds, other.timeout_seconds) if t]
        return TaskPolicy(
            max(self.user_retries, other.user_retries),
            max(self.fallback_retries, other.fallback_retries),
            max(self.retry_delay_seconds, other.retry_delay_seconds),
            min(timeouts) if timeouts else 0.0,
        )

    @property
    def max_attempts(self) -> int:
        return 1 + self.user_retries + self.fallback_retries


@dataclass
class RunContext:
    """A run being executed (or resumed), as seen by the scheduling process."""

    flow: type[FlowSpec]
    graph: FlowGraph
    flow_file: str
    run_id: str
    datastore: FlowDatastore
    environment: Environment
    #: Top-level CLI options (``datastore``, ``datastore_root``, ``with``, plugin options, ...).
    options: dict[str, Any]
    parameters: dict[str, Any]
    user: str
    tags: list[str]
    system_tags: list[str]
    code_package: str | None = None
    origin_run_id: str | None = None
    resume_step: str | None = None

    @property
    def flow_name(self) -> str:
        return self.graph.name

    @property
    def pathspec(self) -> str:
        return f"{self.flow_name}/{self.run_id}"


@dataclass
class TaskAttempt:
    """One attempt of one task, about to be launched."""

    run: RunContext
    step: StepNode
    task_id: str
    attempt: int
    input_paths: list[str]
    split_index: int | None
    policy: TaskPolicy

    @property
    def pathspec(self) -> str:
        return f"{self.run.pathspec}/{self.step.name}/{self.task_id}"

    @property
    def is_fallback(self) -> bool:
        """True for attempts after the user's retries are used up (``@catch`` replaces the body)."""
        return self.attempt > self.policy.user_retries


def render_options(options: dict[str, Any]) -> list[str]:
    """``{"max_workers": 2, "tag": ["a", "b"], "quiet": True}`` as ``--max-workers 2 --tag a --tag b --quiet``.

    A list repeats the option, True gives a bare flag, None and False drop it.
    """
    args: list[str] = []
    for key, value in options.items():
        flag = "--" + key.replace("_", "-")
        if value is None or value is False:
            continue
        if value is True:
            args.append(flag)
        elif isinstance(value, (list, tuple)):
            for item in value:
                args += [flag, str(item)]
        else:
            args += [flag, str(value)]
    return args


@dataclass
class TaskCommand:
    """The command line that runs one attempt: ``executable script [top args] subcommand [options]``.

    Plugins rewrite it in the ``before_task_launch`` hook. ``options`` render as ``--key value`` (a list
    repeats the option, True gives a bare flag, None drops it); ``env`` is added to the environment.
    """

    executable: str
    script: str
    top_args: list[str]
    subcommand: list[str]
    options: dict[str, Any]
    env: dict[str, str] = field(default_factory=dict)

    def argv(self) -> list[str]:
        return [self.executable, self.script, *self.args()]

    def args(self) -> list[str]:
        """Everything after the script: what the flow CLI parses."""
        return [*self.top_args, *self.subcommand, *render_options(self.options)]

    def runs_in_this_interpreter(self, script: str) -> bool:
        """Whether the pre-warmed parent can run it by forking: same interpreter and flow file."""
        return self.executable == sys.executable and self.script == script


_ESCAPES = {"%": "%25", ",": "%2C", ";": "%3B", ":": "%3A", "-": "%2D"}


def _number(task_id: str) -> int | None:
    """The id as an int when it is a plain decimal number without leading zeros (so it round-trips)."""
    if task_id.isascii() and task_id.isdigit() and str(int(task_id)) == task_id:
        return int(task_id)
    return None


def _escape(task_id: str) -> str:
    return "".join(_ESCAPES.get(ch, ch) for ch in task_id)


def _unescape(text: str) -> str:
    for raw, escaped in reversed(list(_ESCAPES.items())):
        text = text.replace(escaped, raw)
    return text


def encode_input_paths(paths: list[str]) -> str:
    """``step/1, step/2, step/3, other/9`` as ``step:1-3;other:9`` (order kept), so wide joins stay short.

    Ids that are not plain numbers are kept as they are, with ``%,;:-`` escaped.
    """
    groups: list[tuple[str, list[str]]] = []
    for path in paths:
        step, _, task_id = path.partition("/")
        if groups and groups[-1][0] == step:
            groups[-1][1].append(task_id)
        else:
            groups.append((step, [task_id]))
    parts = []
    for step, ids in groups:
        ranges: list[str] = []
        start = prev = None
        for task_id in ids:
            number = _number(task_id)
            if number is not None and prev is not None and number == prev + 1:
                prev = number
                continue
            if start is not None:
                ranges.append(str(start) if start == prev else f"{start}-{prev}")
                start = prev = None
            if number is None:
                ranges.append(_escape(task_id))
            else:
                start = prev = number
        if start is not None:
            ranges.append(str(start) if start == prev else f"{start}-{prev}")
        parts.append(f"{step}:{','.join(ranges)}")
    return ";".join(parts)


def decode_input_paths(encoded: str) -> list[str]:
    """The inverse of ``encode_input_paths``."""
    paths: list[str] = []
    for part in filter(None, encoded.split(";")):
        step, _, ranges = part.partition(":")
        for item in ranges.split(","):
            first, dash, last = item.partition("-")
            if dash and _number(first) is not None and _number(last) is not None:
                paths += [f"{step}/{n}" for n in range(int(first), int(last) + 1)]
            else:
                paths.append(f"{step}/{_unescape(item)}")
    return paths
