"""Every hook a Headwater plugin can implement, grouped by family.

This module is the plugin contract. Each hook's docstring says when it fires, what its return value means,
and whether **all implementations run** (an observer, or a registry fed through a ``register`` callback) or
**the first answer wins** (``firstresult=True``). The plugin authors' reference is generated from these
docstrings. Plugins mark implementations with ``from headwater import hookimpl``. The core's own
behaviour (local storage, pickle, the standard decorators, the local environment) is implemented as
plugins of this same contract, marked ``trylast`` where it is a default another plugin may override.

Registries take a ``register`` callback rather than return values, so the host can grow keyword
arguments without breaking plugins. When two plugins register the same name, the first registration
wins, in pluggy's call order: ``tryfirst`` implementations, then the most recently registered plugin
first, and the built-ins (all ``trylast``) last, so any installed plugin can override a built-in.

Hook names follow families: ``register_*`` feed a registry through a callback; ``before_*``,
``after_*`` and ``on_*`` observe; ``check_*`` and ``resolve_*`` are asked by every plugin and the answers
combined; ``execute_step`` is the one hook where the first answer wins.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import click

    from headwater.datastore.serializers import Serializer
    from headwater.datastore.storage import StorageBackend
    from headwater.decorators import FlowDecorator, StepDecorator
    from headwater.environments import Environment
    from headwater.exceptions import LintProblem
    from headwater.flowspec import FlowSpec
    from headwater.graph import FlowGraph, StepNode
    from headwater.runtime.context import RunContext, TaskAttempt, TaskCommand, TaskPolicy
    from headwater.runtime.task import TaskContext

PROJECT = "headwater"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# --------------------------------------------------------------------------------------------------------
# Graph: decorators by name, and extra rules over the parsed graph
# --------------------------------------------------------------------------------------------------------


@hookspec
def register_step_decorators(register: Callable[[type[StepDecorator]], None]) -> None:
    """Make step decorators known by name, so ``--with NAME`` and plugin lookups resolve them.

    Fires once, the first time the decorator registry is needed. All implementations run.

    :param register: call ``register(DecoratorClass)`` for each ``StepDecorator`` subclass; its ``name``
        attribute is the name used on the command line. The first registration of a name wins (see the
        module docstring), so a plugin can override a built-in.
    """


@hookspec
def register_flow_decorators(register: Callable[[type[FlowDecorator]], None]) -> None:
    """Make flow-level decorators (applied to the ``FlowSpec`` class) known by name.

    Fires once, when the decorator registry is first needed. All implementations run.

    :param register: call ``register(DecoratorClass)`` for each ``FlowDecorator`` subclass.
    """


@hookspec
def check_graph(graph: FlowGraph, flow: type[FlowSpec]) -> list[LintProblem] | None:
    """Add validation rules over the parsed graph (a scheduler rejecting shapes it cannot compile).

    Fires after the core's own lint rules, before any command that runs or shows the flow. All
    implementations run; every problem returned is reported together with the core's.

    :param graph: the statically parsed graph, with the decorators of each step.
    :param flow: the flow class.
    :return: a list of ``LintProblem`` (empty or None when the graph is fine).
    """


# --------------------------------------------------------------------------------------------------------
# Runtime, parent side: the process that schedules tasks
# --------------------------------------------------------------------------------------------------------


@hookspec
def before_run(run: RunContext) -> None:
    """A run (or a resume) is about to schedule its first task.

    Fires in the scheduling process after the run record, parameters and code package are stored. All
    implementations run. Raise a ``HeadwaterError`` to refuse the run with a clear message.

    :param run: the run being started: flow, graph, run id, datastore, options, parameters.
    """


@hookspec
def after_run(run: RunContext, succeeded: bool) -> None:
    """A run has ended, successfully or not, and its final record is written.

    All implementations run; exceptions are reported as warnings and do not change the run's outcome.

    :param run: the run that ended.
    :param succeeded: True when every task succeeded.
    """


@hookspec
def before_task_launch(attempt: TaskAttempt, command: TaskCommand) -> None:
    """The task-launch seam: inspect or rewrite the command that runs one task attempt.

    Fires in the scheduling process for every attempt, just before it starts. All implementations run,
    each seeing the previous ones' changes, in pluggy's call order: ``tryfirst`` implementations, then
    the most recently registered plugin first, and ``trylast`` ones last. Change ``command`` in place: swap
    ``command.executable`` (another interpreter), replace ``command.subcommand`` (run the task elsewhere,
    e.g. ``["batch", "step", name]``), add ``command.options`` or ``command.env``. When the command keeps
    this interpreter and flow file, the local runtime runs it in a process forked from the pre-warmed
    parent; otherwise it starts it as a new process. Either way the task does the same thing.

    :param attempt: the task attempt: run, step, task id, attempt number, inputs.
    :param command: the command line that will run the attempt.
    """


@hookspec
def resolve_task_policy(step: StepNode, flow: type[FlowSpec]) -> TaskPolicy | None:
    """The retry policy of a step's tasks: how often to retry, how long to wait, when to give up.

    Fires once per step when a run starts. All implementations run; the runtime combines the policies
    returned field by field, keeping the largest retry counts and delay and the smallest timeout
    (``None`` means no opinion).

    :param step: the ``StepNode`` (name, decorators, transition).
    :param flow: the flow class.
    :return: a ``TaskPolicy(user_retries, fallback_retries, retry_delay_seconds, timeout_seconds)`` or None.
    """


# --------------------------------------------------------------------------------------------------------
# Runtime, task side: inside the process that runs one task attempt
# --------------------------------------------------------------------------------------------------------


@hookspec
def register_current_fields(task: TaskContext, register: Callable[[str, Any], None]) -> None:
    """Add fields to ``current`` for this task (``current.<name>`` inside the step).

    Fires once per task attempt, before ``before_step``. All implementations run. The first registration
    of a name wins (see the module docstring); a core field (``run_id``, ``pathspec``, ...) cannot be
    replaced.

    :param task: the task attempt being run.
    :param register: call ``register(name, value)`` for each field.
    """


@hookspec
def before_step(task: TaskContext) -> None:
    """The step's inputs are loaded and ``current`` is set; its body is about to run.

    All implementations run. An exception here fails the attempt as if the step had raised it.

    :param task: the task attempt; ``task.flow`` is the flow object the body will see as ``self``.
    """


@hookspec(firstresult=True)
def execute_step(task: TaskContext) -> bool | None:
    """Run the step body: the seam for wrapping it (``@timeout``) or replacing it (``@catch`` fallback).

    The first answer wins: the core's implementation (``trylast``) calls the user's function and returns
    True; a plugin may return True first to replace the body. Wrap the body with
    ``@hookimpl(wrapper=True)`` and ``yield`` (pluggy new-style wrappers): code before the ``yield``
    runs before the body, an exception from the body is raised at the ``yield``.

    :param task: the task attempt. The core's implementation calls ``task.call_step_function()``; a
        replacement sets artifacts on ``task.flow`` and calls ``task.flow.next(...)`` itself.
    :return: True once the body has been run or replaced.
    """


@hookspec
def after_step(task: TaskContext) -> None:
    """The step body returned normally; its artifacts are not yet stored.

    All implementations run; they may still set artifacts on ``task.flow``. An exception fails the attempt.

    :param task: the task attempt.
    """


@hookspec
def on_step_exception(task: TaskContext, exception: BaseException) -> None:
    """The step body (or a ``before_step``/``after_step`` hook) raised.

    All implementations run; they observe and cannot swallow the exception (``@catch`` does its work in a
    later fallback attempt, so a crash of the whole process is caught too).

    :param task: the task attempt.
    :param exception: what was raised.
    """


@hookspec
def after_task(task: TaskContext, succeeded: bool) -> None:
    """The attempt is committed to the datastore (or recorded as failed) and the process is about to exit.

    All implementations run; exceptions are reported and do not change the outcome.

    :param task: the task attempt.
    :param succeeded: True when the attempt's artifacts were committed as successful.
    """


# --------------------------------------------------------------------------------------------------------
# Datastore: storage backends, serializers, code package contents
# --------------------------------------------------------------------------------------------------------


@hookspec
def register_storage_backends(register: Callable[[str, type[StorageBackend]], None]) -> None:
    """Make storage backends known by the name given to ``--datastore`` (``local``, ``s3``).

    Fires once, when a datastore is first opened. All implementations run.

    :param register: call ``register(name, BackendClass)``; the class implements ``StorageBackend``.
    """


@hookspec
def register_serializers(register: Callable[[Serializer], None]) -> None:
    """Add artifact serializers; for each artifact the highest-priority one that accepts it is used.

    Fires once, when the first artifact is stored or loaded. All implementations run. Pickle (protocol 5,
    large buffers out of band) is the built-in fallback at the lowest priority.

    :param register: call ``register(serializer)`` with a ``Serializer`` instance.
    """


@hookspec
def register_code_package_files(flow_file: str, register: Callable[[str, str], None]) -> None:
    """Add files to the code package stored with every run.

    Fires when a run starts and its code package is built. All implementations run; the first
    registration of a path in the archive wins.

    :param flow_file: absolute path of the flow's file.
    :param register: call ``register(path_in_archive, local_path)`` for each file to include.
    """


# --------------------------------------------------------------------------------------------------------
# Environment: what interpreter and bootstrap a task uses
# --------------------------------------------------------------------------------------------------------


@hookspec
def register_environments(register: Callable[[str, type[Environment]], None]) -> None:
    """Make task environments known by the name given to ``--environment`` (``local``, ``conda``).

    Fires once, when a run starts. All implementations run. An ``Environment`` resolves before the run
    and gives, per step, the interpreter and the bootstrap commands, locally and in a container.

    :param register: call ``register(name, EnvironmentClass)``.
    """


# --------------------------------------------------------------------------------------------------------
# CLI: command groups and options for ``python flow.py`` and for ``headwater``
# --------------------------------------------------------------------------------------------------------


@hookspec
def register_flow_commands(cli: click.Group, flow: type[FlowSpec]) -> None:
    """Add commands or command groups to the flow CLI (``python flow.py batch ...``).

    Fires once per process and flow class, when the flow CLI is built. All implementations run. A
    command reaches the flow, its graph and the top-level options through ``click.pass_obj``
    (a ``FlowCLIState``).

    :param cli: the flow's top-level click group; call ``cli.add_command(...)``.
    :param flow: the flow class (its parameters become options of ``run``).
    """


@hookspec
def register_flow_options(register: Callable[[click.Option], None]) -> None:
    """Add top-level options to the flow CLI (``python flow.py --my-option X run``).

    Fires once per process, when the flow CLI is built. All implementations run. The values reach
    plugins through ``RunContext.options`` and are passed on to every task's command.

    :param register: call ``register(click.Option([...]))`` for each option.
    """


@hookspec
def register_console_commands(cli: click.Group) -> None:
    """Add commands to the ``headwater`` console command (``headwater my-command``).

    Fires once per process, when the console CLI is built. All implementations run.

    :param cli: the ``headwater`` click group; call ``cli.add_command(...)``.
    """
