"""The plugin API: every name a Headwater plugin needs, from one module.

A plugin imports ``headwater`` (the user API) and ``headwater.plugin`` (this module), nothing else of the
core: what is here is the contract, documented in ``docs/hooks.md`` and kept stable across minor
versions; everything else may change. Names are loaded on first use, so importing this module costs
nothing until a name is used.

- Hooks: ``hookimpl`` marks an implementation (the specs are in ``headwater.hookspecs``).
- Decorators: ``StepDecorator``, ``FlowDecorator`` (subclass them, register them by name).
- The graph: ``FlowGraph``, ``StepNode``, ``LintProblem`` (``check_graph`` rules).
- Runs and tasks: ``RunContext``, ``TaskAttempt``, ``TaskPolicy``, ``TaskContext`` (inside a task),
  ``TaskCommand`` and ``task_command`` (the command of an attempt, here or in a container),
  ``TaskHandle`` (what ``launch_task`` returns), ``FlowCLIState`` (``click.pass_obj`` in flow commands).
- Deployers: ``deployment``, ``task_command_template``, ``Placeholder``, ``PLACEHOLDERS``, ``init_run``,
  ``finish_run``, ``read_transition``, ``Transition``, ``START_INPUT``, ``encode_input_paths``,
  ``decode_input_paths``, ``flow_parameters`` and ``Parameter`` (a state machine's input schema).
- Storage and data: ``StorageBackend``, ``Serializer``, ``FlowDatastore``, ``artifact_file``.
- Environments: ``Environment``.
- Configuration and errors: ``config_value``, ``username``, ``HeadwaterError`` and its subclasses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from headwater._current import current
    from headwater.cli.flow_cli import FlowCLIState
    from headwater.datastore.records import FlowDatastore
    from headwater.datastore.serializers import Serializer
    from headwater.datastore.storage import StorageBackend
    from headwater.decorators import FlowDecorator, StepDecorator
    from headwater.environments import Environment
    from headwater.exceptions import (
        ConfigError,
        DatastoreError,
        DecoratorError,
        HeadwaterError,
        LintProblem,
        NotFoundError,
        PluginError,
    )
    from headwater.graph import FlowGraph, StepNode
    from headwater.hookspecs import hookimpl
    from headwater.parameters import Parameter, flow_parameters
    from headwater.runtime.command import step_policy, task_command, task_command_template
    from headwater.runtime.context import (
        PLACEHOLDERS,
        Placeholder,
        RunContext,
        TaskAttempt,
        TaskCommand,
        TaskPolicy,
        decode_input_paths,
        encode_input_paths,
    )
    from headwater.runtime.deploy import Transition, deployment, finish_run, init_run, read_transition
    from headwater.runtime.handle import TaskHandle
    from headwater.runtime.task import TaskContext

_EXPORTS = {
    "hookimpl": "headwater.hookspecs",
    "current": "headwater._current",
    "StepDecorator": "headwater.decorators",
    "FlowDecorator": "headwater.decorators",
    "FlowGraph": "headwater.graph",
    "StepNode": "headwater.graph",
    "LintProblem": "headwater.exceptions",
    "HeadwaterError": "headwater.exceptions",
    "ConfigError": "headwater.exceptions",
    "DatastoreError": "headwater.exceptions",
    "DecoratorError": "headwater.exceptions",
    "NotFoundError": "headwater.exceptions",
    "PluginError": "headwater.exceptions",
    "RunContext": "headwater.runtime.context",
    "TaskAttempt": "headwater.runtime.context",
    "TaskCommand": "headwater.runtime.context",
    "TaskPolicy": "headwater.runtime.context",
    "Placeholder": "headwater.runtime.context",
    "PLACEHOLDERS": "headwater.runtime.context",
    "encode_input_paths": "headwater.runtime.context",
    "decode_input_paths": "headwater.runtime.context",
    "TaskHandle": "headwater.runtime.handle",
    "TaskContext": "headwater.runtime.task",
    "task_command": "headwater.runtime.command",
    "task_command_template": "headwater.runtime.command",
    "step_policy": "headwater.runtime.command",
    "deployment": "headwater.runtime.deploy",
    "init_run": "headwater.runtime.deploy",
    "finish_run": "headwater.runtime.deploy",
    "read_transition": "headwater.runtime.deploy",
    "Transition": "headwater.runtime.deploy",
    "FlowCLIState": "headwater.cli.flow_cli",
    "StorageBackend": "headwater.datastore.storage",
    "Serializer": "headwater.datastore.serializers",
    "FlowDatastore": "headwater.datastore.records",
    "Environment": "headwater.environments",
    "Parameter": "headwater.parameters",
    "flow_parameters": "headwater.parameters",
}

__all__ = [
    "PLACEHOLDERS",
    "START_INPUT",
    "ConfigError",
    "DatastoreError",
    "DecoratorError",
    "Environment",
    "FlowCLIState",
    "FlowDatastore",
    "FlowDecorator",
    "FlowGraph",
    "HeadwaterError",
    "LintProblem",
    "NotFoundError",
    "Parameter",
    "Placeholder",
    "PluginError",
    "RunContext",
    "Serializer",
    "StepDecorator",
    "StepNode",
    "StorageBackend",
    "TaskAttempt",
    "TaskCommand",
    "TaskContext",
    "TaskHandle",
    "TaskPolicy",
    "Transition",
    "artifact_file",
    "config_value",
    "current",
    "decode_input_paths",
    "deployment",
    "encode_input_paths",
    "finish_run",
    "flow_parameters",
    "hookimpl",
    "init_run",
    "read_transition",
    "step_policy",
    "task_command",
    "task_command_template",
    "username",
]


#: What the exported values that are neither classes nor functions are (for the generated reference).
VALUES = {
    "hookimpl": "Marks a hook implementation: `@hookimpl`, `@hookimpl(tryfirst=True)`, `@hookimpl(wrapper=True)`.",
    "current": "The running task's `current`; plugins add fields with `register_current_fields`.",
    "START_INPUT": "The input path of a run's `start` task (its parameters), for deployers: `_parameters/0`.",
    "PLACEHOLDERS": "The names a deployer fills in per task: "
    + ", ".join(("run_id", "task_id", "input_paths", "split_index", "retry_count"))
    + ".",
}


#: The input path of every run's ``start`` task: the parameters pseudo-task (see ``init_run``).
START_INPUT = "_parameters/0"


def __getattr__(name: str) -> Any:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'headwater.plugin' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


def config_value(name: str, default: Any = None) -> Any:
    """A configuration value: ``HEADWATER_<NAME>``, then the project and profile files, then ``default``.

    Plugins read their settings this way (``config_value("batch_job_queue")``), so users set them like
    the core's: an environment variable, or a key in ``.headwater/config.json``.
    """
    from headwater import config

    return config.get(name, default)


def username() -> str:
    """Who runs Headwater here (``HEADWATER_USER``, then the login name)."""
    from headwater import config

    return config.username()


def artifact_file(datastore: FlowDatastore, entry: dict[str, Any]) -> str:
    """The address of an artifact's bytes as a plain file another service can read (a model for an endpoint).

    ``entry`` is the artifact's manifest entry (``Task(...)["model"]._entry``, or from a task's record).
    Only ``bytes`` artifacts have a plain form: their bytes are written once, unframed and uncompressed,
    under ``<Flow>/files/<key>`` next to the blobs, and that object's URI (a path, ``s3://...``) is returned.
    """
    from headwater.datastore.artifacts import load

    if entry.get("serializer") != "bytes":
        raise _errors().HeadwaterError(
            f"Artifact of type {entry.get('type')} has no plain-file form (only bytes artifacts do).",
            "Store the file's bytes as the artifact (self.model = open(path, 'rb').read()).",
        )
    key = str(entry["key"])
    path = f"{datastore.flow_name}/files/{key}"
    if not datastore.storage.exists(path):
        data = load(datastore.cas, "artifact", entry, datastore.flow_name)
        datastore.storage.put(path, [data], overwrite=False)
    return datastore.storage.uri(path)


def _errors() -> Any:
    from headwater import exceptions

    return exceptions
