"""What the scheduling process knows about a run and a task attempt, as the runtime hooks receive it."""

from __future__ import annotations

import dataclasses
import re
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
    """A run being executed (or resumed), as seen by the scheduling process and by deployers.

    ``run_id`` is None while the run is being checked (``check_run``, ``register_run_tags``: nothing is
    written yet), and a ``Placeholder`` in a deployer's command templates.
    """

    flow: type[FlowSpec]
    graph: FlowGraph
    flow_file: str
    run_id: str | None
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
    #: Top-level options every task's command repeats (datastore, ``--with``, plugins' options).
    top_args: list[str] = field(default_factory=list)
    max_num_splits: int = 100
    #: Each step's combined retry and timeout policy (``resolve_task_policy``), by step name.
    policies: dict[str, TaskPolicy] = field(default_factory=dict)

    @property
    def flow_name(self) -> str:
        return self.graph.name

    @property
    def pathspec(self) -> str:
        return f"{self.flow_name}/{self.run_id}"


@dataclass
class TaskAttempt:
    """One attempt of one task, about to be launched.

    In a deployer's template (``template`` True) the ids are ``Placeholder``s, ``input_paths`` is empty
    and ``attempt`` is 0: the orchestrator fills them in when it runs the task.
    """

    run: RunContext
    step: StepNode
    task_id: str
    attempt: int
    input_paths: list[str]
    split_index: int | None
    policy: TaskPolicy
    template: bool = False

    @property
    def pathspec(self) -> str:
        return f"{self.run.pathspec}/{self.step.name}/{self.task_id}"

    @property
    def is_fallback(self) -> bool:
        """True for attempts after the user's retries are used up (``@catch`` replaces the body)."""
        return self.attempt > self.policy.user_retries


class Placeholder(str):
    """A value a deployer fills in later (``{run_id}``, ``{task_id}``, ...): see ``TaskCommand.substitute``.

    It renders as ``{name}``; a deployer that prefers its own syntax passes ``placeholder=`` to ``argv``.
    """

    name: str

    def __new__(cls, name: str) -> Placeholder:
        obj = super().__new__(cls, "{" + name + "}")
        obj.name = name
        return obj

    def __getnewargs__(self) -> tuple[str]:  # so copies and pickles stay placeholders of the same name
        return (self.name,)


#: What a deployer must fill in for every task: the run, the task, its inputs, its foreach index, its attempt.
PLACEHOLDERS = ("run_id", "task_id", "input_paths", "split_index", "retry_count")


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
                args += [flag, item if isinstance(item, Placeholder) else str(item)]
        else:
            args += [flag, value if isinstance(value, Placeholder) else str(value)]
    return args


@dataclass
class TaskCommand:
    """The command line that runs one attempt: ``[prefix] executable script [top args] step NAME [options]``.

    Built by ``headwater.plugin.task_command`` for a place to run (``where``: ``"local"`` or
    ``"container"``); plugins add to it in the ``task_command`` hook. ``options`` render as ``--key value``
    (a list repeats the option, True gives a bare flag, None drops it); ``env`` is added to the task's
    environment; ``prefix`` is a wrapper program and its arguments (``["nice", "-n", "5"]``) placed
    before the interpreter; ``bootstrap`` holds shell commands a container runs before the task (the
    environment's, then plugins'). In a deployer's template some values are ``Placeholder``s.
    """

    executable: str
    script: str
    top_args: list[str]
    step: str
    options: dict[str, Any]
    env: dict[str, str] = field(default_factory=dict)
    prefix: list[str] = field(default_factory=list)
    bootstrap: list[str] = field(default_factory=list)
    where: str = "local"

    def args(self) -> list[str]:
        """Everything after the script: what the flow CLI parses."""
        return [*self.top_args, "step", self.step, *render_options(self.options)]

    def argv(self, placeholder: Any = None) -> list[str]:
        """The whole command line; ``placeholder(name)`` renders each placeholder left (default ``{name}``)."""
        argv = [*self.prefix, self.executable, self.script, *self.args()]
        if placeholder is not None:
            argv = [placeholder(a.name) if isinstance(a, Placeholder) else a for a in argv]
        return argv

    def placeholders(self) -> list[str]:
        """Names of the placeholders still in the command."""
        found = [a.name for a in self.argv() if isinstance(a, Placeholder)]
        found += [v.name for v in self.env.values() if isinstance(v, Placeholder)]
        return sorted(set(found), key=found.index)

    def for_host(self, index: int, count: int) -> TaskCommand:
        """The command of host ``index`` of ``count`` hosts running this one task (host 0 commits it).

        For launchers that run a task on several machines (distributed training); inside the task,
        ``current.parallel`` tells each host which it is, and ``HEADWATER_MAIN_HOST`` (set by the
        launcher in ``env``) names the address of host 0.
        """
        if not 0 <= index < count:
            raise ValueError(f"host {index} of {count}")
        return dataclasses.replace(self, options={**self.options, "num_hosts": count, "host_index": index})

    def substitute(self, **values: Any) -> TaskCommand:
        """A copy with placeholders replaced: ``substitute(run_id="sfn-1", task_id="7", input_paths=[...])``.

        ``input_paths`` may be given as a list of ``step/task`` paths (it is encoded); a ``split_index`` of
        None drops the option.
        """
        if "input_paths" in values and isinstance(values["input_paths"], (list, tuple)):
            values["input_paths"] = encode_input_paths(list(values["input_paths"]))

        def fill(value: Any) -> Any:
            if isinstance(value, Placeholder) and value.name in values:
                filled = values[value.name]
                return None if filled is None else str(filled)
            if isinstance(value, list):
                return [fill(v) for v in value]
            return value

        env = {k: fill(v) for k, v in self.env.items()}
        return dataclasses.replace(
            self,
            top_args=[a for a in map(fill, self.top_args) if a is not None],
            options={k: fill(v) for k, v in self.options.items()},
            env={k: v for k, v in env.items() if v is not None},
            prefix=[a for a in map(fill, self.prefix) if a is not None],
            bootstrap=list(self.bootstrap),
        )

    def shell(self, placeholder: Any = None) -> str:
        """One ``sh -c`` script: the bootstrap commands, then the task with its environment (all quoted).

        ``placeholder(name)`` renders each placeholder left as shell text, unquoted (a deployer's
        ``"${AWS_BATCH_JOB_ARRAY_INDEX}"``); without it a placeholder is quoted like any value.
        """
        import shlex

        def word(value: str) -> str:
            if placeholder is not None and isinstance(value, Placeholder):
                return str(placeholder(value.name))
            return shlex.quote(value)

        for name in self.env:
            if not _ENV_NAME.match(name):
                raise ValueError(f"{name!r} is not an environment variable name")
        env = [shlex.quote(f"{k}=") + word(v) for k, v in sorted(self.env.items())]
        task = " ".join(["exec", *(["env", *env] if env else []), *map(word, self.argv())])
        return "\n".join(["set -e", *self.bootstrap, task])

    def runs_in_this_interpreter(self, script: str) -> bool:
        """Whether the pre-warmed parent can run it by forking: no wrapper, same interpreter and flow file."""
        return not self.prefix and self.executable == sys.executable and self.script == script


_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

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
