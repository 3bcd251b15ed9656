"""Starting a run or a resume: everything between ``python flow.py run`` and the scheduler's first task.

In order: lint the graph and resolve every parameter (so a bad graph or value fails before anything is
written); store the code package; create the run record; store the parameters (or, for a resume, clone
the origin's) as the ``_parameters`` pseudo-task every ``start`` reads; call ``before_run``; schedule;
write the end record. Whatever happens after the run record exists, an end record is written.
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
from headwater.datastore.records import PARAMETERS_STEP, PARAMETERS_TASK, FlowDatastore
from headwater.exceptions import ConfigError, ParameterError, ResumeError
from headwater.parameters import Parameter, ParameterContext, flow_parameters

if TYPE_CHECKING:
    from headwater.cli.flow_cli import FlowCLIState
    from headwater.flowspec import FlowSpec


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


def store_parameters(datastore: FlowDatastore, run_id: str, flow: type, values: dict[str, Any]) -> None:
    """Write the ``_parameters`` pseudo-task: parameter values and class constants as artifacts."""
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
    record = {
        "ok": True,
        "started_at": now,
        "finished_at": now,
        "manifest": manifest,
        "parameters": list(values),
        "foreach_stack": [],
        "iteration": 0,
        "transition": {"type": "linear", "next": ["start"]},
    }
    datastore.write_attempt_done(run_id, PARAMETERS_STEP, PARAMETERS_TASK, 0, record)


def _script_as_typed(flow_file: str) -> str:
    """The flow's path as the user would type it from here (relative when below the working directory)."""
    relative = os.path.relpath(flow_file)
    return flow_file if relative.startswith("..") else relative


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
    """Run (or resume, with ``resume=(origin_run_id, step)``) the flow; returns the exit status."""
    from headwater import code_package
    from headwater.cli.flow_cli import main
    from headwater.plugins import environments, hook, lookup
    from headwater.runtime import resume as resume_plan
    from headwater.runtime.context import RunContext
    from headwater.runtime.display import make_display
    from headwater.runtime.launch import warm_up
    from headwater.runtime.scheduler import Scheduler

    warm_up()  # before anything is hashed here: this process will fork tasks
    flow = state.flow
    graph = state.graph()
    datastore = state.datastore()
    if state.options["datastore"] == "local":
        config.remember_datastore(datastore.storage.uri())
    user = config.username()
    environment = lookup("environment", state.options["environment"], environments())(flow, graph, state.options)

    plan = None
    origin_params = None
    origin_run_id = resume_step = None
    values: dict[str, Any] = {}
    if resume is not None:
        origin_run_id, resume_step = resume
        origin_run_id = origin_run_id or datastore.latest_run_id()
        if origin_run_id is None:
            raise ResumeError(
                f"{flow.__name__} has no earlier run to resume in {datastore.storage.uri()}.",
                "Run it first: python " + os.path.basename(state.flow_file) + " run",
            )
        plan = resume_plan.plan(datastore, graph, origin_run_id, resume_step)
        origin_params = datastore.latest_ok(origin_run_id, PARAMETERS_STEP, PARAMETERS_TASK)
        if origin_params is None:
            raise ResumeError(f"Run {flow.__name__}/{origin_run_id} has no parameters record to resume from.")
        tags = sorted(set(tags) | set(datastore.run_record(origin_run_id).get("tags", [])))
    else:
        values = resolve_parameters(flow, given, user)

    code_key = code_package.store(datastore, state.flow_file)
    now = time.time()
    system_tags = [
        f"user:{user}",
        f"headwater_version:{__version__}",
        f"python_version:{sys.version_info.major}.{sys.version_info.minor}",
        f"date:{datetime.date.today().isoformat()}",
    ]
    run_id = datastore.create_run(
        {
            "flow": flow.__name__,
            "user": user,
            "created_at": now,
            "tags": sorted(set(tags)),
            "system_tags": system_tags,
            "origin_run_id": origin_run_id,
            "resume_step": resume_step,
            "code_package": code_key,
            "flow_file": os.path.basename(state.flow_file),
            "parameters": [p.attr for p in flow_parameters(flow)],
            "graph": graph.to_dict(),
            "datastore": state.options["datastore"],
            "runtime": {"pid": os.getpid(), "host": socket.gethostname(), "python": sys.version.split()[0]},
        }
    )
    display = None
    summary = None
    try:
        if run_id_file:
            try:
                with open(run_id_file, "w", encoding="utf-8") as f:
                    f.write(run_id)
            except OSError as e:
                raise ConfigError(f"Cannot write --run-id-file {run_id_file}: {e.strerror or e}.") from None
        display = make_display(f"{flow.__name__} {run_id}", quiet=state.quiet)
        if origin_params is not None:
            clone = {k: v for k, v in origin_params.items() if k != "attempt"}
            datastore.write_attempt_done(run_id, PARAMETERS_STEP, PARAMETERS_TASK, 0, clone)
        else:
            store_parameters(datastore, run_id, flow, values)
        run = RunContext(
            flow=flow,
            graph=graph,
            flow_file=state.flow_file,
            run_id=run_id,
            datastore=datastore,
            environment=environment,
            options=state.options,
            parameters=values,
            user=user,
            tags=sorted(set(tags)),
            system_tags=system_tags,
            code_package=code_key,
            origin_run_id=origin_run_id,
            resume_step=resume_step,
        )
        workers = f"{max_workers} worker{'s' if max_workers != 1 else ''}, datastore {datastore.storage.uri()}"
        if plan is None:
            display.info(f"{flow.__name__}: starting run {run_id} ({workers})")
        else:
            display.info(f"{flow.__name__}: run {run_id} resumes run {origin_run_id} ({workers}):")
            for line in plan.describe(graph):
                display.info(line)
        hook().before_run(run=run)
        environment.resolve(run)
        scheduler = Scheduler(
            run,
            display,
            lambda args: main(flow, args, standalone=False),
            state.task_top_args(),
            max_workers=max_workers,
            max_num_splits=max_num_splits,
            max_log_size=max_log_size_mb * 1024 * 1024,
            clone_plan=plan,
        )
        summary = scheduler.execute()
    finally:
        if summary is None:  # refused by a plugin, or the runtime itself failed: the run still ends
            if display is not None:
                display.close()
            datastore.write_run_end(run_id, {"status": "failed", "finished_at": time.time(), "reason": "crashed"})
    status = "succeeded" if summary.succeeded else "failed"
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
