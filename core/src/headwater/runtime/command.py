"""The task command builder: the one command line that runs a task attempt, for here or for a container.

``task_command`` is pure (it starts nothing): the local runtime calls it for every attempt, a compute
plugin calls it again with ``where="container"`` to get what its job must run, and a deployer calls
``task_command_template`` to get, per step, the same command with placeholders for what only the
orchestrator knows (run id, task id, input paths, foreach index, attempt). The core builds the base
(interpreter and bootstrap from the run's environment, the flow file, the top-level options, the step's
options); every ``task_command`` hook implementation then adds to it, in pluggy's call order.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from headwater.graph import FOREACH
from headwater.runtime.context import Placeholder, RunContext, TaskAttempt, TaskCommand, TaskPolicy, encode_input_paths

if TYPE_CHECKING:
    from headwater.graph import StepNode

WHERE = ("local", "container")


def task_command(attempt: TaskAttempt, where: str = "local") -> TaskCommand:
    """The command that runs ``attempt``: locally (the flow file's absolute path, this machine's
    interpreter) or in a container (the flow file relative to the unpacked code package, the
    environment's container interpreter and bootstrap commands)."""
    from headwater.plugins import call_each

    if where not in WHERE:
        raise ValueError(f"where must be one of {WHERE}, not {where!r}")
    run, step = attempt.run, attempt.step
    input_paths: Any = Placeholder("input_paths") if attempt.template else encode_input_paths(attempt.input_paths)
    options: dict[str, Any] = {
        "run_id": run.run_id,
        "task_id": attempt.task_id,
        "input_paths": input_paths,
        "split_index": attempt.split_index,
        "retry_count": Placeholder("retry_count") if attempt.template else attempt.attempt,
        "max_user_code_retries": attempt.policy.user_retries,
        "max_num_splits": run.max_num_splits,
        "tag": list(run.tags),
        "origin_run_id": run.origin_run_id,
    }
    command = TaskCommand(
        executable=run.environment.executable(step, where),
        script=run.flow_file if where == "local" else os.path.basename(run.flow_file),
        top_args=list(run.top_args),
        step=step.name,
        options=options,
        # Locally the scheduler shows a failure from the task's record; the task need not print it too.
        env={"HEADWATER_TASK_ERRORS": "record"} if where == "local" else {},
        bootstrap=[*_code_bootstrap(run, where), *run.environment.bootstrap_commands(step, where)],
        where=where,
    )
    call_each("task_command", attempt=attempt, command=command)
    return command


def _code_bootstrap(run: RunContext, where: str) -> list[str]:
    """In a container, the task starts in an empty directory: first fetch and unpack the run's code."""
    if where != "container":
        return []
    if not run.code_package:
        raise ValueError("A container command needs the run's code package (RunContext.code_package) stored first.")
    import shlex

    options = run.options
    unpack = [
        "python",
        "-m",
        "headwater",
        "package",
        "unpack",
        "--datastore",
        str(options["datastore"]),
        "--datastore-root",
        str(options["datastore_root"]),
        "--flow",
        run.flow_name,
        "--key",
        run.code_package,
        ".",
    ]
    return [" ".join(shlex.quote(part) for part in unpack)]


def step_policy(step: StepNode, flow: type) -> TaskPolicy:
    """The retry and timeout policy of a step's tasks: every plugin's answer, combined."""
    from headwater.plugins import call_each

    policy = TaskPolicy()
    for found in call_each("resolve_task_policy", step=step, flow=flow):
        policy = policy.combine(found)
    return policy


def follows_foreach(run: RunContext, step: StepNode) -> bool:
    """Whether the step's tasks each take one item of a foreach (they need ``--split-index``)."""
    return any(run.graph[parent].transition == FOREACH for parent in step.in_funcs if parent in run.graph)


def template_attempt(run: RunContext, step: StepNode, policy: TaskPolicy) -> TaskAttempt:
    """A task attempt of ``step`` whose ids are placeholders (see ``TaskAttempt.template``)."""
    split: Any = Placeholder("split_index") if follows_foreach(run, step) else None
    return TaskAttempt(run, step, Placeholder("task_id"), 0, [], split, policy, template=True)


def task_command_template(run: RunContext, step: StepNode, where: str = "container") -> TaskCommand:
    """The command of any task of ``step``, with placeholders a deployer fills in per task.

    ``run.run_id`` should be ``Placeholder("run_id")``; the others (``task_id``, ``input_paths``,
    ``split_index`` for a step that follows a foreach, ``retry_count``) are placeholders here.
    """
    policy = run.policies.get(step.name) or step_policy(step, run.flow)
    return task_command(template_attempt(run, step, policy), where)
