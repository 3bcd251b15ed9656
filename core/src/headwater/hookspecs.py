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
combined; ``task_command`` lets every plugin add to a task's command; ``execute_step`` and ``launch_task``
are the hooks where the first answer wins. Types a plugin needs come from ``headwater.plugin``.
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
    from headwater.runtime.handle import TaskHandle
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

    Example::

        class GpuDecorator(StepDecorator):
            name = "gpu"
            defaults = {"count": 1}

        @hookimpl
        def register_step_decorators(register):
            register(GpuDecorator)  # now `@gpu(count=2)`, `from headwater import gpu`, `--with gpu`
    """


@hookspec
def register_flow_decorators(register: Callable[[type[FlowDecorator]], None]) -> None:
    """Make flow-level decorators (applied to the ``FlowSpec`` class) known by name.

    Fires once, when the decorator registry is first needed. All implementations run. A registered
    flow decorator is importable from ``headwater`` (``from headwater import schedule``); its ``validate``
    and ``lint`` methods are run by the linter.

    :param register: call ``register(DecoratorClass)`` for each ``FlowDecorator`` subclass.

    Example::

        class OwnerDecorator(FlowDecorator):
            name = "owner"
            defaults = {"team": None}

        @hookimpl
        def register_flow_decorators(register):
            register(OwnerDecorator)  # @owner(team="ml") above `class MyFlow(FlowSpec)`
    """


@hookspec
def check_graph(graph: FlowGraph, flow: type[FlowSpec], options: dict[str, Any]) -> list[LintProblem] | None:
    """Add validation rules over the parsed graph (a scheduler rejecting shapes it cannot compile).

    Fires with the core's own lint rules, before any command that runs the flow, every time (also when
    the core found problems: all are reported together). All implementations run. A rule that raises is
    reported as a problem of the plugin that raised, named.

    :param graph: the statically parsed graph, with the decorators of each step (``--with`` ones included).
    :param flow: the flow class.
    :param options: the flow CLI's top-level options (``datastore``, ``environment``, plugins' options).
    :return: a list of ``LintProblem`` (empty or None when the graph is fine).

    Example::

        @hookimpl
        def check_graph(graph, flow, options):
            return [
                LintProblem("gpu-local", f"Step `{n.name}` asks for a GPU.", "Add @batch.", n.file, n.line)
                for n in graph if n.decorator("gpu") and not n.decorator("batch")
            ]
    """


# --------------------------------------------------------------------------------------------------------
# Runtime, parent side: the process that schedules tasks
# --------------------------------------------------------------------------------------------------------


@hookspec
def check_run(run: RunContext) -> None:
    """Refuse a run before anything is written (no queue configured, a datastore the plugin cannot use).

    Fires in the scheduling process after the graph is linted and the parameters are resolved, before the
    run's environment is resolved and before any record exists (``run.run_id`` is None). All
    implementations run. Raise a ``HeadwaterError`` naming what to set: the run stops with that message
    and leaves nothing behind.

    :param run: the run about to start: flow, graph, datastore, environment, options, parameters, tags.

    Example::

        @hookimpl
        def check_run(run):
            if any(n.decorator("gpu") for n in run.graph) and run.options["datastore"] == "local":
                raise HeadwaterError("@gpu steps need a shared datastore.", "Pass --datastore s3.")
    """


@hookspec
def register_run_tags(run: RunContext, register: Callable[..., None]) -> None:
    """Add tags to a run before it is created (``@project`` adds ``project:<name>``).

    Fires after ``check_run``, before the run record is written. All implementations run.

    :param run: the run about to start (``run.run_id`` is None).
    :param register: call ``register(tag)`` for a user tag (it can be removed later), or
        ``register(tag, system=True)`` for a system tag (immutable, used by namespaces).

    Example::

        @hookimpl
        def register_run_tags(run, register):
            register(f"team:{os.environ.get('TEAM', 'none')}", system=True)
    """


@hookspec
def before_run(run: RunContext) -> None:
    """A run (or a resume) is about to schedule its first task.

    Fires in the scheduling process after the run record, parameters and code package are stored. All
    implementations run. Raising here fails the run (it is recorded as failed); to refuse a run without
    leaving a record, use ``check_run``.

    :param run: the run being started: flow, graph, run id, datastore, options, parameters.

    Example::

        @hookimpl
        def before_run(run):
            print(f"tracking {run.pathspec}")
    """


@hookspec
def after_run(run: RunContext, succeeded: bool) -> None:
    """A run has ended, successfully or not, and its final record is written.

    All implementations run; exceptions are reported as warnings and do not change the run's outcome.

    :param run: the run that ended.
    :param succeeded: True when every task succeeded.

    Example::

        @hookimpl
        def after_run(run, succeeded):
            notify_slack(f"{run.pathspec} {'succeeded' if succeeded else 'failed'}")
    """


@hookspec
def task_command(attempt: TaskAttempt, command: TaskCommand) -> None:
    """Add to the command that runs a task attempt: environment variables, a wrapper, bootstrap, options.

    The command builder (``headwater.plugin.task_command``) is pure: it fires this hook for every attempt
    the local runtime launches (``command.where == "local"``), for every container command a compute
    plugin asks for (``"container"``), and for every step of a deployer's templates (``attempt.template``
    is True; ids are ``Placeholder``s). All implementations run, each seeing the previous ones' changes:
    ``tryfirst`` ones first (the built-in ``@environment`` is one, so plugins see its variables), then the
    most recently registered plugin first, ``trylast`` last. Change ``command`` in place; do not start
    anything here. A command with a ``prefix``, another interpreter or bootstrap commands is spawned as a
    new process locally; otherwise it is forked from the pre-warmed runtime.

    :param attempt: the task attempt: run, step, task id, attempt number, inputs, policy.
    :param command: the command being built (``executable``, ``script``, ``top_args``, ``step``,
        ``options``, ``env``, ``prefix``, ``bootstrap``, ``where``).

    Example::

        @hookimpl
        def task_command(attempt, command):
            if attempt.step.decorator("lowpriority"):
                command.prefix = ["nice", "-n", "10", *command.prefix]
                command.env["OMP_NUM_THREADS"] = "1"
    """


@hookspec(firstresult=True)
def launch_task(attempt: TaskAttempt, command: TaskCommand) -> TaskHandle | None:
    """Start a task attempt and return a handle the runtime follows it with.

    Fires in the scheduling process for every attempt, with the local command already built. The first
    answer wins: a compute plugin returns a ``TaskHandle`` for the attempts it runs (those of its
    decorated steps) and None for the others; the built-in launcher (``trylast``) runs the rest on this
    machine. A plugin that runs the attempt elsewhere builds the command for there with
    ``headwater.plugin.task_command(attempt, where="container")``. An exception fails the attempt with
    its message (and is retried as the step's policy allows).

    :param attempt: the task attempt to start.
    :param command: the command that runs it on this machine.
    :return: a ``TaskHandle`` (its output, a state for the live view, exit status and a reason, kill),
        or None to let the next implementation launch it.

    Example::

        @hookimpl
        def launch_task(attempt, command):
            if attempt.step.decorator("remote") is None:
                return None
            job = submit(task_command(attempt, where="container").shell())
            return RemoteJobHandle(job)  # a TaskHandle subclass: poll(), kill(), read_output(), state
    """


@hookspec
def resolve_task_policy(step: StepNode, flow: type[FlowSpec]) -> TaskPolicy | None:
    """The retry policy of a step's tasks: how often to retry, how long to wait, when to give up.

    Fires once per step when a run starts (and when a deployer builds its templates). All
    implementations run; the runtime combines the policies returned field by field, keeping the largest
    retry counts and delay and the smallest timeout (``None`` means no opinion).

    :param step: the ``StepNode`` (name, decorators, transition).
    :param flow: the flow class.
    :return: a ``TaskPolicy(user_retries, fallback_retries, retry_delay_seconds, timeout_seconds)`` or None.

    Example::

        @hookimpl
        def resolve_task_policy(step, flow):
            return TaskPolicy(user_retries=2) if step.decorator("flaky") else None
    """


# --------------------------------------------------------------------------------------------------------
# Runtime, task side: inside the process that runs one task attempt
# --------------------------------------------------------------------------------------------------------


@hookspec
def register_task_metadata(task: TaskContext, register: Callable[[str, Any], None]) -> None:
    """Record facts about this task attempt (a job id, an environment's lock hash, a host).

    Fires once per attempt in the task's process, wherever it runs, before ``before_step``. All
    implementations run. Values are stored with the attempt's records and read back with
    ``Task.metadata`` / ``Task.metadata_dict``. (A launcher records what only the scheduling process
    knows through ``TaskHandle.metadata``.)

    :param task: the task attempt being run.
    :param register: call ``register(name, value)`` with a JSON-able value.

    Example::

        @hookimpl
        def register_task_metadata(task, register):
            if "AWS_BATCH_JOB_ID" in os.environ:
                register("aws-batch-job-id", os.environ["AWS_BATCH_JOB_ID"])
    """


@hookspec
def register_current_fields(task: TaskContext, register: Callable[[str, Any], None]) -> None:
    """Add fields to ``current`` for this task (``current.<name>`` inside the step).

    Fires once per task attempt, before ``before_step``. All implementations run. The first registration
    of a name wins (see the module docstring); a core field (``run_id``, ``pathspec``, ...) cannot be
    replaced.

    :param task: the task attempt being run.
    :param register: call ``register(name, value)`` for each field.

    Example::

        @hookimpl
        def register_current_fields(task, register):
            register("gpu_count", int(os.environ.get("GPU_COUNT", "0")))  # current.gpu_count
    """


@hookspec
def before_step(task: TaskContext) -> None:
    """The step's inputs are loaded and ``current`` is set; its body is about to run.

    All implementations run. An exception here fails the attempt as if the step had raised it.

    :param task: the task attempt; ``task.flow`` is the flow object the body will see as ``self``.

    Example::

        @hookimpl
        def before_step(task):
            task.flow.started_on = socket.gethostname()  # an artifact every task of the flow gets
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

    Example::

        @hookimpl(wrapper=True)
        def execute_step(task):
            started = time.perf_counter()
            try:
                return (yield)  # the body runs here
            finally:
                print(f"{task.node.name} took {time.perf_counter() - started:.2f} s")
    """


@hookspec
def after_step(task: TaskContext) -> None:
    """The step body returned normally; its artifacts are not yet stored.

    All implementations run; they may still set artifacts on ``task.flow``. An exception fails the attempt.

    :param task: the task attempt.

    Example::

        @hookimpl
        def after_step(task):
            if task.node.decorator("checksum"):
                task.flow.checksum = hash_artifacts(task.flow)
    """


@hookspec
def on_step_exception(task: TaskContext, exception: BaseException) -> None:
    """The step body (or a ``before_step``/``after_step`` hook) raised.

    All implementations run; they observe and cannot swallow the exception (``@catch`` does its work in a
    later fallback attempt, so a crash of the whole process is caught too).

    :param task: the task attempt.
    :param exception: what was raised.

    Example::

        @hookimpl
        def on_step_exception(task, exception):
            report_to_sentry(exception, tags={"pathspec": task.pathspec})
    """


@hookspec
def after_task(task: TaskContext, succeeded: bool) -> None:
    """The attempt is committed to the datastore (or recorded as failed) and the process is about to exit.

    All implementations run; exceptions are reported and do not change the outcome.

    :param task: the task attempt.
    :param succeeded: True when the attempt's artifacts were committed as successful.

    Example::

        @hookimpl
        def after_task(task, succeeded):
            metrics.increment("tasks", tags={"step": task.node.name, "ok": succeeded})
    """


# --------------------------------------------------------------------------------------------------------
# Datastore: storage backends, serializers, code package contents
# --------------------------------------------------------------------------------------------------------


@hookspec
def register_storage_backends(register: Callable[[str, type[StorageBackend]], None]) -> None:
    """Make storage backends known by the name given to ``--datastore`` (``local``, ``s3``).

    Fires once, when a datastore is first opened. All implementations run.

    :param register: call ``register(name, BackendClass)``; the class implements ``StorageBackend``.

    Example::

        class MemoryStorage(StorageBackend):
            name = "memory"
            ...  # put, open, exists, list, delete, uri

        @hookimpl
        def register_storage_backends(register):
            register("memory", MemoryStorage)  # --datastore memory
    """


@hookspec
def register_serializers(register: Callable[[Serializer], None]) -> None:
    """Add artifact serializers; for each artifact the highest-priority one that accepts it is used.

    Fires once, when the first artifact is stored or loaded. All implementations run. Pickle (protocol 5,
    large buffers out of band) is the built-in fallback at the lowest priority.

    :param register: call ``register(serializer)`` with a ``Serializer`` instance.

    Example::

        class ArrowSerializer(Serializer):
            name, priority = "arrow", 50
            def can_serialize(self, obj): return type(obj).__name__ == "Table"
            def serialize(self, obj): return [table_to_ipc(obj)], {}
            def deserialize(self, buffers, info): return ipc_to_table(buffers[0])

        @hookimpl
        def register_serializers(register):
            register(ArrowSerializer())
    """


@hookspec
def register_code_package_files(flow_file: str, register: Callable[[str, str], None]) -> None:
    """Add files to the code package stored with every run.

    Fires when a run starts and its code package is built. All implementations run; the first
    registration of a path in the archive wins.

    :param flow_file: absolute path of the flow's file.
    :param register: call ``register(path_in_archive, local_path)`` for each file to include.

    Example::

        @hookimpl
        def register_code_package_files(flow_file, register):
            config = os.path.join(os.path.dirname(flow_file), "model.yaml")
            if os.path.exists(config):
                register("model.yaml", config)
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

    Example::

        class UvEnvironment(Environment):
            name = "uv"
            @classmethod
            def applies_to(cls, graph): return any(n.decorator("uv") for n in graph)
            def executable(self, step, where="local"): return f"{self.prefix(step)}/bin/python"

        @hookimpl
        def register_environments(register):
            register("uv", UvEnvironment)
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

    Example::

        @click.command("count")
        @click.pass_obj
        def count(state):
            click.echo(f"{state.name} has {len(state.graph().nodes)} steps")

        @hookimpl
        def register_flow_commands(cli, flow):
            cli.add_command(count)  # python flow.py count
    """


@hookspec
def register_flow_options(register: Callable[[click.Option], None]) -> None:
    """Add top-level options to the flow CLI (``python flow.py --my-option X run``).

    Fires once per process, when the flow CLI is built. All implementations run. The values reach
    plugins through ``RunContext.options`` and are passed on to every task's command.

    :param register: call ``register(click.Option([...]))`` for each option.

    Example::

        @hookimpl
        def register_flow_options(register):
            register(click.Option(["--team"], default=None, help="Team that owns the run."))
            # read it in a hook as run.options["team"]; every task's command repeats it
    """


@hookspec
def register_console_commands(cli: click.Group) -> None:
    """Add commands to the ``headwater`` console command (``headwater my-command``).

    Fires once per process, when the console CLI is built. All implementations run.

    :param cli: the ``headwater`` click group; call ``cli.add_command(...)``.

    Example::

        @click.command("whoami")
        def whoami():
            click.echo(getpass.getuser())

        @hookimpl
        def register_console_commands(cli):
            cli.add_command(whoami)  # headwater whoami
    """
