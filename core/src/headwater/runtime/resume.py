"""Resume: which tasks of an earlier run are cloned into the new run, and which run again.

A task is cloned when it succeeded in the origin run, its step is not the step named to re-run (nor
downstream of it), its recorded transition is still what the step's code says (the scheduler follows the
clone's recorded transition), and every task it read from was cloned too. Cloning copies the task's record (its
manifest of content keys): no artifact data is copied. Tasks are matched between runs by their place in
the flow, ``(step, foreach indices, loop iteration)``, so a foreach split into the same items lines up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from headwater.datastore.records import PARAMETERS_STEP, FlowDatastore
from headwater.exceptions import ResumeError
from headwater.graph import FlowGraph

TaskKey = tuple[str, tuple[int, ...], int]


def task_key(step: str, record: dict[str, Any]) -> TaskKey:
    indices = tuple(frame["index"] for frame in record.get("foreach_stack") or [])
    return step, indices, int(record.get("iteration", 0))


@dataclass
class ClonePlan:
    """The clonable tasks of the origin run, and why the other steps run again."""

    origin_run_id: str
    clonable: dict[TaskKey, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    #: Step -> why it runs again ("failed", "not run", "named to re-run", "downstream of x").
    rerun: dict[str, str] = field(default_factory=dict)
    cloned_counts: dict[str, int] = field(default_factory=dict)

    def describe(self, graph: FlowGraph) -> list[str]:
        """Lines that say, per step, what is cloned and what runs again."""
        counts = self.cloned_counts
        cloned = [
            f"{n.name} ({counts[n.name]} task{'s' if counts[n.name] != 1 else ''})"
            for n in graph.topological()
            if n.name in counts
        ]
        lines = [f"  clone:  {', '.join(cloned) if cloned else 'nothing'}"]
        reruns = [f"{node.name} ({self.rerun[node.name]})" for node in graph.topological() if node.name in self.rerun]
        lines.append(f"  re-run: {', '.join(reruns) if reruns else 'nothing'}")
        return lines


def plan(datastore: FlowDatastore, graph: FlowGraph, origin_run_id: str, resume_step: str | None) -> ClonePlan:
    """Read the origin run and decide, for each of its tasks, whether it can be cloned."""
    if resume_step is not None and resume_step not in graph:
        raise ResumeError(
            f"{graph.name} has no step `{resume_step}` to resume from.",
            f"Steps: {', '.join(n.name for n in graph.topological())}.",
        )
    datastore.run_record(origin_run_id)  # raises NotFoundError with a clear message
    forced = graph.descendants(resume_step) if resume_step else set()
    result = ClonePlan(origin_run_id)
    ok: dict[str, dict[str, Any]] = {}
    failed_steps: set[str] = set()
    unfinished_steps: set[str] = set()
    for step in datastore.steps(origin_run_id):
        for task_id in datastore.task_ids(origin_run_id, step):
            record = datastore.latest_ok(origin_run_id, step, task_id)
            if record is not None:
                ok[f"{step}/{task_id}"] = {**record, "_step": step, "_task": task_id}
            elif datastore.attempts(origin_run_id, step, task_id)[1]:
                failed_steps.add(step)
            else:  # started, never finished (the run was stopped or killed)
                unfinished_steps.add(step)

    def matches_graph(record: dict[str, Any]) -> bool:
        """Whether the code now would have gone where the task went (its successors are taken from it)."""
        node = graph[record["_step"]]
        transition = record.get("transition") or {}
        kind, targets = transition.get("type"), transition.get("next") or []
        if node.transition == "end":
            return not transition
        if kind != node.transition:
            return False
        if kind == "switch":
            return len(targets) == 1 and targets[0] in node.out_funcs
        if kind == "foreach":
            return targets == node.out_funcs and transition.get("var") == node.foreach_param
        return bool(targets == node.out_funcs)

    changed: set[str] = set()
    decided: dict[str, bool] = {}

    def clonable(path: str) -> bool:
        if path.startswith(PARAMETERS_STEP + "/"):
            return True
        if path not in decided:
            decided[path] = False  # guards against cycles in corrupted records
            record = ok.get(path)
            same_code = record is not None and record["_step"] in graph and matches_graph(record)
            if record is not None and record["_step"] in graph and not same_code:
                changed.add(record["_step"])
            decided[path] = (
                record is not None
                and same_code
                and record["_step"] not in forced
                and all(clonable(p) for p in record.get("input_paths") or [])
            )
        return decided[path]

    for path, record in ok.items():
        if clonable(path):
            step = record["_step"]
            result.clonable[task_key(step, record)] = (record["_task"], record)
            result.cloned_counts[step] = result.cloned_counts.get(step, 0) + 1
    expected = _expected_tasks(graph, result)
    for node in graph.topological():
        cloned = result.cloned_counts.get(node.name, 0)
        partly = cloned and (node.name in unfinished_steps or cloned < expected.get(node.name, cloned))
        if cloned and node.name not in failed_steps and not partly:
            continue
        if node.name == resume_step:
            result.rerun[node.name] = "named to re-run"
        elif node.name in changed:
            result.rerun[node.name] = "its transitions changed"
        elif node.name in forced:
            result.rerun[node.name] = f"after {resume_step}"
        elif node.name in failed_steps:
            result.rerun[node.name] = "failed"
        elif partly:
            total = expected.get(node.name)
            result.rerun[node.name] = f"{total - cloned} of {total} tasks" if total else "unfinished tasks"
        elif node.name in result.cloned_counts:
            continue
        else:
            result.rerun[node.name] = (
                "not run" if not any(r["_step"] == node.name for r in ok.values()) else "after a re-run step"
            )
    return result


def _expected_tasks(graph: FlowGraph, plan: ClonePlan) -> dict[str, int]:
    """How many tasks a step directly inside a foreach has, from the cloned foreach tasks' records.

    A step whose foreach split was cloned must have ``num_splits`` tasks for each clone; fewer cloned
    means the others run again (the origin stopped before it started them), and the plan says so.
    """
    expected: dict[str, int] = {}
    for _task, record in plan.clonable.values():
        transition = record.get("transition") or {}
        if transition.get("type") == "foreach":
            child = transition["next"][0]
            expected[child] = expected.get(child, 0) + int(transition["num_splits"])
    return {name: count for name, count in expected.items() if name in graph}
