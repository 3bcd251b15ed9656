"""Starting a run or a resume: everything between ``python flow.py run`` and the scheduler's first task.

In order: lint the graph, resolve every parameter, ask plugins (``check_run``), resolve the environment
and collect run tags, so that anything wrong fails before anything is written; store the code package;
store the parameters (or, for a resume, clone the origin's) as the ``_parameters`` pseudo-task every
``start`` reads, then the run record; call ``before_run``; schedule; write the end record. Whatever
happens after the run record exists, an end record is written.
"""

from __future__ import annotations

import datetime
import os
import socket
import sys
import time
import types
from typing import TYPE_CHECKING, Any

from headwater import config
from headwater._version import __version__
from headwater.datastore.artifacts import store
from headwater.datastore.records import PARAMETERS_STEP, PARAMETERS_TASK, FlowDatastore, new_run_id
from headwater.exceptions import ConfigError, DatastoreError, HeadwaterError, ParameterError, ResumeError
from headwater.parameters import Parameter, ParameterContext, flow_parameters

if TYPE_CHECKING:
    from headwater.cli.flow_cli import FlowCLIState
    from headwater.flowspec import FlowSpec
    from headwater.runtime.context import RunContext


def resolve_parameters(flow: type[FlowSpec], given: dict[str, Any], user: str) -> dict[str, Any]:
    """Every parameter's value for this run (by attribute name); raises ParameterError on the first bad one."""
    values = {}
    for param in flow_parameters(flow):
        try:
            values[param.attr] = param.resolve(given.get(param.attr), ParameterContext(flow.__name__, user, param.name))
        except ParameterError as e:
            raise ParameterError(f"{flow.__name__} {e.message}", e.hint) from e.__cause__
    return values


def class_constants(flow: type) -> dict[str, Any]:
    """Plain class attributes of the flow (not steps, parameters or functions): stored like parameters."""
    from headwater.flowspec import FlowSpec

    found: dict[str, Any] = {}
    for klass in reversed(flow.__mro__):
        if klass is object or issubclass(FlowSpec, klass):
            continue
        for name, value in vars(klass).items():
            skip = (Parameter, property, staticmethod, classmethod, types.FunctionType, types.ModuleType, type)
            if name.startswith("_") or isinstance(value, skip) or callable(value):
                found.pop(name, None)
                continue
            found[name] = value
    return found


def parameters_record(datastore: FlowDatastore, flow: type, values: dict[str, Any]) -> dict[str, Any]:
    """The ``_parameters`` pseudo-task's record: parameter values and class constants stored as artifacts."""
    where = f"{flow.__name__}, parameters"
    manifest = {}
    for name, value in class_constants(flow).items():
        try:
            manifest[name] = store(datastore.cas, name, value, where)
        except Exception:  # a constant that cannot be stored is still readable from the class
            continue
    for name, value in values.items():
        manifest[name] = store(datastore.cas, name, value, where)
    now = time.time()
    return {
        "ok": True,
        "started_at": now,
        "finished_at": now,
        "manifest": manifest,
        "parameters": list(values),
        "foreach_stack": [],
        "iteration": 0,
        "transition": {"type": "linear", "next": ["start"]},
    }


def create_run(
    datastore: FlowDatastore, record: dict[str, Any], parameters: dict[str, Any], run_id: str | None = None
) -> str:
    """Store a new run: its parameters first, its ``run.json`` last, so a run is listed only once complete.

    The parameters record is written exclusively, which reserves the id (two runs starting in the same
    microsecond get consecutive ids); a crash before ``run.json`` leaves a folder no one lists as a run.
    """
    candidate = int(run_id) if run_id is not None and run_id.isdigit() else None
    while True:
        chosen = run_id if run_id is not None and candidate is None else str(candidate or new_run_id())
        if datastore.write_attempt_done(chosen, PARAMETERS_STEP, PARAMETERS_TASK, 0, parameters):
            break
        if run_id is not None:
            raise DatastoreError(f"Run id {run_id} is already taken in {datastore.storage.uri(datastore.flow_name)}.")
        candidate = int(chosen) + 1
    return datastore.create_run(record, run_id=chosen)


def _origin_run_id(datastore: FlowDatastore) -> str | None:
    """The run a plain ``resume`` continues: the newest complete run that is not running any more."""
    from headwater.client.core import Run

    for run_id in datastore.run_ids():
        try:
            if Run._from(datastore, datastore.flow_name, run_id).status != "running":
                return run_id
        except HeadwaterError:  # damaged: not a run to resume
            continue
    return None


def _script_as_typed(flow_file: str) -> str:
    """The flow's path as the user would type it from here (relative when below the working directory)."""
    relative = os.path.relpath(flow_file)
    return flow_file if relative.startswith("..") else relative


def prepare_run(
    state: FlowCLIState,
    values: dict[str, Any],
    tags: list[str],
    max_num_splits: int,
    origin_run_id: str | None = None,
    resume_step: str | None = None,
) -> RunContext:
    """Everything that can refuse a run, before anything is written: the environment is chosen and
    resolved, plugins are asked (``check_run``) and add their tags (``register_run_tags``), the step
    policies are combined, and the code package is stored (content-addressed: nothing is visible)."""
    from headwater import code_package
    from headwater.environments import select_environment
    from headwater.plugins import call_each
    from headwater.runtime.command import step_policy
    from headwater.runtime.context import RunContext

    flow, graph, datastore = state.flow, state.graph(), state.datastore()
    user = config.username()
    environment = select_environment(flow, graph, state.options)
    run = RunContext(
        flow=flow,
        graph=graph,
        flow_file=state.flow_file,
        run_id=None,
        datastore=datastore,
        environment=environment,
        options=state.options,
        parameters=values,
        user=user,
        tags=sorted(set(tags)),
        system_tags=[
            f"user:{user}",
            f"headwater_version:{__version__}",
            f"python_version:{sys.version_info.major}.{sys.version_info.minor}",
            f"date:{datetime.date.today().isoformat()}",
        ],
        origin_run_id=origin_run_id,
        resume_step=resume_step,
        top_args=state.task_top_args(),
        max_num_splits=max_num_splits,
    )
    call_each("check_run", run=run)
    environment.resolve(datastore)

    def add_tag(tag: str, system: bool = False) -> None:
        target = run.system_tags if system else run.tags
        if tag not in target:
            target.append(tag)

    call_each("register_run_tags", run=run, register=add_tag)
    run.tags.sort()
    run.policies = {node.name: step_policy(node, flow) for node in graph}
    run.code_package = code_package.store(datastore, state.flow_file)
    return run


def run_record(run: RunContext, runtime: dict[str, Any]) -> dict[str, Any]:
    """The ``run.json`` of a run prepared by ``prepare_run`` (``runtime``: who drives it)."""
    return {
        "flow": run.flow_name,
        "user": run.user,
        "created_at": time.time(),
        "tags": run.tags,
        "system_tags": run.system_tags,
        "origin_run_id": run.origin_run_id,
        "resume_step": run.resume_step,
        "code_package": run.code_package,
        "flow_file": os.path.basename(run.flow_file),
        "parameters": [p.attr for p in flow_parameters(run.flow)],
        "graph": run.graph.to_dict(),
        "datastore": run.options["datastore"],
        "environment": run.options.get("environment"),
        "runtime": runtime,
    }


def _check_run_id_file(path: str | None) -> None:
    """Fail before anything is written when ``--run-id-file`` cannot be written."""
    if not path:
        return
    try:
        with open(path, "a", encoding="utf-8"):
            pass
    except OSError as e:
        raise ConfigError(f"Cannot write --run-id-file {path}: {e.strerror or e}.", "Pass a writable path.") from None


def execute_run(
    state: FlowCLIState,
    given: dict[str, Any],
    tags: list[str],
    max_workers: int,
    max_num_splits: int,
    max_log_size_mb: int,
    run_id_file: str | None,
    resume: tuple[str | None, str | None] | None = None,
) -> int:
    """Run (or resume, with ``resume=(origin_run_id, step)``) the flow; returns the exit status.

    Everything that can refuse the run (lint, parameters, plugins' ``check_run``, the environment's
    resolution, an unwritable ``--run-id-file``) happens before the first record is written.
    """
    from headwater.cli.flow_cli import main
    from headwater.plugins import hook
    from headwater.runtime import resume as resume_plan
    from headwater.runtime.display import make_display
    from headwater.runtime.launch import warm_up
    from headwater.runtime.scheduler import Scheduler

    warm_up()  # before anything is hashed here: this process will fork tasks
    flow = state.flow
    graph = state.graph()
    datastore = state.datastore()
    user = config.username()
    _check_run_id_file(run_id_file)

    plan = None
    origin_params = None
    origin_run_id = resume_step = None
    values: dict[str, Any] = {}
    if resume is not None:
        origin_run_id, resume_step = resume
        origin_run_id = origin_run_id or _origin_run_id(datastore)
        if origin_run_id is None:
            raise ResumeError(
                f"{flow.__name__} has no finished run to resume in {datastore.storage.uri()}.",
                "Run it first: python " + os.path.basename(state.flow_file) + " run",
            )
        plan = resume_plan.plan(datastore, graph, origin_run_id, resume_step)
        origin_params = datastore.latest_ok(origin_run_id, PARAMETERS_STEP, PARAMETERS_TASK)
        if origin_params is None:
            raise ResumeError(
                f"Run {flow.__name__}/{origin_run_id} has no parameters record to resume from.",
                "It was never fully created; resume another run with --origin-run-id.",
            )
        tags = sorted(set(tags) | set(datastore.user_tags(origin_run_id)))  # as they are now, changes included
    else:
        values = resolve_parameters(flow, given, user)

    run = prepare_run(state, values, tags, max_num_splits, origin_run_id, resume_step)
    if state.options["datastore"] == "local":
        config.remember_datastore(datastore.storage.uri())
    if origin_params is not None:
        params_record = {k: v for k, v in origin_params.items() if k not in ("attempt", "version")}
    else:
        params_record = parameters_record(datastore, flow, values)
    runtime = {"pid": os.getpid(), "host": socket.gethostname(), "python": sys.version.split()[0]}
    run.run_id = create_run(datastore, run_record(run, runtime), params_record)
    run_id = run.run_id
    display = None
    summary = None
    try:
        if run_id_file:
            with open(run_id_file, "w", encoding="utf-8") as f:
                f.write(run_id)
        display = make_display(f"{flow.__name__} {run_id}", quiet=state.quiet)
        workers = f"{max_workers} worker{'s' if max_workers != 1 else ''}, datastore {datastore.storage.uri()}"
        if plan is None:
            display.info(f"{flow.__name__}: starting run {run_id} ({workers})")
        else:
            display.info(f"{flow.__name__}: run {run_id} resumes run {origin_run_id} ({workers}):")
            for line in plan.describe(graph):
                display.info(line)
        hook().before_run(run=run)
        scheduler = Scheduler(
            run,
            display,
            lambda args: main(flow, args, standalone=False),
            max_workers=max_workers,
            max_log_size=max_log_size_mb * 1024 * 1024,
            clone_plan=plan,
        )
        summary = scheduler.execute()
    finally:
        if summary is None:  # refused by a plugin, or the runtime itself failed: the run still ends
            if display is not None:
                display.close()
            datastore.write_run_end(run_id, {"status": "failed", "finished_at": time.time(), "reason": "crashed"})
    # One vocabulary for the console, the records and Run.status: succeeded, failed, interrupted.
    status = "succeeded" if summary.succeeded else ("interrupted" if summary.interrupted else "failed")
    datastore.write_run_end(
        run_id,
        {
            "status": status,
            "finished_at": time.time(),
            "reason": "interrupted" if summary.interrupted else ("task failed" if summary.tasks_failed else None),
            "failed_tasks": summary.tasks_failed,
            "tasks": summary.tasks_done,
            "cloned": summary.tasks_cloned,
        },
    )
    try:
        hook().after_run(run=run, succeeded=summary.succeeded)
    except Exception as e:
        sys.stderr.write(f"headwater: warning: an after_run hook failed: {type(e).__name__}: {e}\n")
    if not summary.succeeded:
        command = f"python {_script_as_typed(state.flow_file)} resume --origin-run-id {run_id}"
        summary.hint = (
            f"Resume it with: {command}" if summary.interrupted else f"Fix the problem, then resume: {command}"
        )
    display.finish(summary)
    if summary.succeeded:
        return 0
    return 130 if summary.interrupted else 1
