"""What a deployer (Step Functions, a cron, any orchestrator) needs to run a flow without the scheduler.

An orchestrator replaces the local scheduler: it creates the run (``init``, the ``init`` command), runs
each step's command (``deployment`` + ``task_command_template``, placeholders filled per task), and
decides what comes next by reading each finished task's transition (``read_transition``, the
``transition`` command): how many foreach items to start, which case of a conditional was taken. A run
created this way records ``"scheduler": "external"`` and is marked successful when its ``end`` task
commits; the orchestrator marks it failed (``finish_run``) when it gives up.
"""

from __future__ import annotations

import socket
import sys
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from headwater.datastore.records import FlowDatastore
from headwater.exceptions import NotFoundError
from headwater.runtime.context import Placeholder, RunContext

if TYPE_CHECKING:
    from headwater.cli.flow_cli import FlowCLIState

#: ``run.json``'s ``runtime.scheduler`` for runs an orchestrator drives.
EXTERNAL = "external"


@dataclass(frozen=True)
class Transition:
    """Where a finished task went: ``type`` (linear, split, foreach, switch, end) and what follows."""

    type: str
    next: list[str]
    #: For a foreach: how many tasks of ``next[0]`` to start (split indices 0 .. num_splits-1).
    num_splits: int | None = None
    #: For a conditional: the case taken (the one step in ``next``).
    chosen: str | None = None
    #: Enclosing foreach frames of the task (``index``, ``num_splits``), outermost first.
    foreach_stack: list[dict[str, Any]] = field(default_factory=list)
    #: For a step that loops back to itself: how many times it has run before this task.
    iteration: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "next": self.next,
            "num_splits": self.num_splits,
            "chosen": self.chosen,
            "foreach_stack": [{"index": f["index"], "num_splits": f["num_splits"]} for f in self.foreach_stack],
            "iteration": self.iteration,
        }


def read_transition(datastore: FlowDatastore, run_id: str, step: str, task_id: str) -> Transition:
    """The transition a task recorded when it succeeded; NotFoundError when it has not (yet)."""
    record = datastore.latest_ok(run_id, step, task_id)
    if record is None:
        raise NotFoundError(
            f"Task {datastore.flow_name}/{run_id}/{step}/{task_id} has no successful attempt.",
            "Read the transition once the task has succeeded.",
        )
    transition = record.get("transition") or {"type": "end", "next": []}
    kind = str(transition.get("type"))
    return Transition(
        type=kind,
        next=list(transition.get("next") or []),
        num_splits=int(transition["num_splits"]) if kind == "foreach" else None,
        chosen=transition["next"][0] if kind == "switch" else None,
        foreach_stack=list(record.get("foreach_stack") or []),
        iteration=int(record.get("iteration", 0)),
    )


def deployment(state: FlowCLIState, tags: list[str] | None = None) -> RunContext:
    """A run as a deployer sees it before any run exists: the run id is ``Placeholder("run_id")``.

    Everything a run checks first is done (lint with plugins' rules, ``check_run``, the environment
    resolved, run tags collected, policies combined) and the code package is stored, so
    ``task_command_template(run, step)`` gives the exact command every task of ``step`` will run (in a
    container: unpack the code, bootstrap the environment, run the step). Runs created with
    ``init_run`` for this deployment record the same code package.
    """
    from headwater import config
    from headwater.runtime.run import prepare_run

    run = prepare_run(state, {}, list(tags or []), int(config.get_int("max_num_splits") or 100))
    run.run_id = Placeholder("run_id")
    return run


def init_run(
    state: FlowCLIState, run_id: str, given: dict[str, Any], tags: list[str], code_key: str | None = None
) -> str:
    """Create a run an orchestrator will drive: code package, parameters, run record. Returns the run id.

    The run is prepared exactly as ``run`` prepares one (plugins' ``check_run`` and run tags included),
    and records ``"scheduler": "external"``.
    """
    from headwater import config
    from headwater.runtime.run import create_run, parameters_record, prepare_run, resolve_parameters, run_record

    values = resolve_parameters(state.flow, given, config.username())
    run = prepare_run(state, values, tags, int(config.get_int("max_num_splits") or 100))
    run.code_package = code_key or run.code_package
    runtime = {"scheduler": EXTERNAL, "host": socket.gethostname(), "python": sys.version.split()[0]}
    return create_run(
        run.datastore, run_record(run, runtime), parameters_record(run.datastore, run.flow, values), run_id
    )


def finish_run(datastore: FlowDatastore, run_id: str, status: str, reason: str | None = None) -> None:
    """Record how an orchestrated run ended (``succeeded``, ``failed``); the first record wins."""
    record = {"status": status, "finished_at": time.time(), "reason": reason}
    datastore.write_run_end(run_id, record, overwrite=False)


def is_external(datastore: FlowDatastore, run_id: str) -> bool:
    """Whether an orchestrator, not the local scheduler, drives the run."""
    runtime = datastore.run_record(run_id).get("runtime") or {}
    return runtime.get("scheduler") == EXTERNAL
