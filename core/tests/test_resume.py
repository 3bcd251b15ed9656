"""``headwater.runtime.resume``: which tasks of an earlier run are cloned, and what the plan says runs again."""

from __future__ import annotations

from flowfiles import import_flow_module

from headwater import lint
from headwater.datastore.local import LocalStorage
from headwater.datastore.records import FlowDatastore
from headwater.graph import FlowGraph
from headwater.runtime.resume import plan

SOURCE = """
from headwater import FlowSpec, step

class F(FlowSpec):
    @step
    def start(self):
        self.items = [1, 2, 3]
        self.next(self.each, foreach="items")

    @step
    def each(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass
"""


def _done(ds: FlowDatastore, run_id: str, step: str, task_id: str, **record: object) -> None:
    ds.write_attempt_done(run_id, step, task_id, 0, {"ok": True, "manifest": {}, **record})


def test_a_foreach_stopped_half_way_says_how_many_tasks_run_again(tmp_path) -> None:
    flow = import_flow_module(tmp_path, "resume_flow", SOURCE).F
    graph = FlowGraph(flow)
    lint.check(graph)
    ds = FlowDatastore(LocalStorage(str(tmp_path / "ds")), "F")
    _done(ds, "7", "_parameters", "0", transition={"type": "linear", "next": ["start"]})
    ds.create_run({"flow": "F"}, run_id="7")
    foreach = {"type": "foreach", "next": ["each"], "var": "items", "num_splits": 3}
    _done(ds, "7", "start", "1", input_paths=["_parameters/0"], transition=foreach)
    frame = {"step": "start", "task": "1", "var": "items", "index": 0, "num_splits": 3}
    _done(
        ds,
        "7",
        "each",
        "2",
        input_paths=["start/1"],
        foreach_stack=[frame],
        transition={"type": "linear", "next": ["join"]},
    )
    # Tasks 3 and 4 of `each` never started: the run was stopped (no failure anywhere).
    result = plan(ds, graph, "7", None)
    assert result.cloned_counts == {"start": 1, "each": 1}
    assert result.rerun["each"] == "2 of 3 tasks"
    assert result.describe(graph)[1] == "  re-run: each (2 of 3 tasks), join (not run), end (not run)"
