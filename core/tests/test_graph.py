"""Tests of ``headwater.graph``: the flow's graph, parsed statically from the source of its steps.

Flows whose shape is all that matters are defined at module level (this file is real source, which the
parser reads). Tests about line numbers, files and inheritance across files write the flow into
``tmp_path`` and import it, so the expected lines can be looked up in a small, known source.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path
from types import ModuleType

import pytest
from flowfiles import import_flow_module, line

from headwater import FlowSpec, catch, retry, step
from headwater.graph import END, FOREACH, LINEAR, SPLIT, SWITCH, FlowGraph, StepNode, suggest

# --------------------------------------------------------------------------------------------------------
# Flows of every shape
# --------------------------------------------------------------------------------------------------------


class LinearFlow(FlowSpec):
    """A flow in a straight line."""

    @step
    def start(self):
        """Begin here."""
        self.x = 1
        self.next(self.middle)

    @retry(times=2)
    @catch(var="err")
    @step
    def middle(self):
        self.next(self.end)

    @step
    def end(self):
        pass


class BranchFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.a, self.b)

    @step
    def a(self):
        self.next(self.join)

    @step
    def b(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


class ForeachFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.fan)

    @step
    def fan(self):
        self.items = [1, 2, 3]
        self.next(self.body, foreach="items")

    @step
    def body(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


class SwitchFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.choose)

    @step
    def choose(self):
        self.choice = "x"
        self.next({"x": self.x, "y": self.y, "z": self.y}, condition="choice")

    @step
    def x(self):
        self.next(self.end)

    @step
    def y(self):
        self.next(self.end)

    @step
    def end(self):
        pass


class LoopFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.poll)

    @step
    def poll(self):
        self.status = "done"
        self.next({"again": self.poll, "done": self.end}, condition="status")

    @step
    def end(self):
        pass


class IntCaseFlow(FlowSpec):
    @step
    def start(self):
        self.n = 1
        self.next({1: self.one, 2: self.two}, condition="n")

    @step
    def one(self):
        self.next(self.end)

    @step
    def two(self):
        self.next(self.end)

    @step
    def end(self):
        pass


class OrphanFlow(FlowSpec):
    """A valid line plus a step nothing points at."""

    @step
    def start(self):
        self.next(self.end)

    @step
    def orphan(self):
        self.next(self.end)

    @step
    def end(self):
        pass


class BaseFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.a)

    @step
    def a(self):
        self.next(self.end)

    @step
    def end(self):
        pass


class ChildFlow(BaseFlow):
    """Overrides `a` so that it goes through a new step `b`."""

    @step
    def a(self):
        self.next(self.b)

    @step
    def b(self):
        self.next(self.end)


def names(nodes) -> list[str]:
    return [n.name for n in nodes]


# --------------------------------------------------------------------------------------------------------
# Flows written to files, for line numbers and files
# --------------------------------------------------------------------------------------------------------


@pytest.fixture
def load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """``load(source)`` writes ``HEADER`` and the source to a new file, imports it, returns the module."""

    def _load(source: str) -> ModuleType:
        module = import_flow_module(tmp_path, "hw_test_graph", HEADER + textwrap.dedent(source))
        monkeypatch.setitem(sys.modules, module.__name__, module)
        return module

    return _load


HEADER = "from headwater import FlowSpec, step, retry\n"


# --------------------------------------------------------------------------------------------------------
# Transitions
# --------------------------------------------------------------------------------------------------------


def test_linear_flow_transitions_and_links():
    graph = FlowGraph(LinearFlow)
    assert names(graph) == ["start", "middle", "end"]
    assert [n.transition for n in graph] == [LINEAR, LINEAR, END]
    assert [n.type for n in graph] == ["start", "linear", "end"]
    assert graph["start"].out_funcs == ["middle"]
    assert graph["middle"].out_funcs == ["end"]
    assert graph["end"].out_funcs == []
    assert graph["start"].in_funcs == []
    assert graph["middle"].in_funcs == ["start"]
    assert graph["end"].in_funcs == ["middle"]
    assert graph.problems == []


def test_split_targets_and_join_detected_by_inputs_argument():
    graph = FlowGraph(BranchFlow)
    start, join = graph["start"], graph["join"]
    assert start.transition == SPLIT
    # `start` keeps its own type whatever its transition (as in Metaflow).
    assert start.type == "start"
    assert start.out_funcs == ["a", "b"]
    assert join.num_args == 2
    assert join.is_join
    assert join.type == "join"
    assert join.in_funcs == ["a", "b"]
    assert not graph["a"].is_join
    assert graph["a"].type == "linear"


def test_foreach_records_its_artifact():
    graph = FlowGraph(ForeachFlow)
    fan = graph["fan"]
    assert fan.transition == FOREACH
    assert fan.type == "foreach"
    assert fan.foreach_param == "items"
    assert fan.out_funcs == ["body"]
    assert graph["body"].in_funcs == ["fan"]
    assert graph["body"].foreach_param is None


def test_switch_records_condition_cases_and_distinct_targets():
    graph = FlowGraph(SwitchFlow)
    choose = graph["choose"]
    assert choose.transition == SWITCH
    assert choose.type == "switch"
    assert choose.condition == "choice"
    assert choose.switch_cases == {"x": "x", "y": "y", "z": "y"}
    # Two cases going to `y` give one edge.
    assert choose.out_funcs == ["x", "y"]
    assert graph["x"].in_funcs == graph["y"].in_funcs == ["choose"]
    assert graph["end"].in_funcs == ["x", "y"]
    assert "choose" not in choose.out_funcs  # not a loop


def test_switch_self_loop():
    graph = FlowGraph(LoopFlow)
    poll = graph["poll"]
    assert "poll" in poll.out_funcs and poll.transition == "switch"  # a self-loop
    assert poll.out_funcs == ["poll", "end"]
    assert poll.in_funcs == ["start", "poll"]
    assert "start" not in graph["start"].out_funcs


def test_switch_case_keys_keep_their_literal_type_but_to_dict_uses_strings():
    graph = FlowGraph(IntCaseFlow)
    assert graph["start"].switch_cases == {1: "one", 2: "two"}
    assert graph["start"].to_dict()["cases"] == {"1": "one", "2": "two"}


def test_end_step_has_end_transition_even_with_a_body():
    graph = FlowGraph(ForeachFlow)
    end = graph["end"]
    assert end.transition == END
    assert end.out_funcs == []
    assert end.type == "end"


def test_step_without_next_is_parsed_as_end_and_reported(load):
    """A step without self.next is parsed as END (and reported by the linter); its type says so."""
    module = load(
        """
        class F(FlowSpec):
            @step
            def start(self):
                self.next(self.dangling)

            @step
            def dangling(self):
                pass

            @step
            def end(self):
                pass
        """
    )
    graph = FlowGraph(module.F)
    assert graph["dangling"].transition == END
    assert graph["dangling"].type == "end"
    assert [p.rule for p in graph.problems] == ["missing-next"]


# --------------------------------------------------------------------------------------------------------
# Decorators, docs, names
# --------------------------------------------------------------------------------------------------------


def test_decorators_on_nodes_in_source_order():
    middle = FlowGraph(LinearFlow)["middle"]
    assert [d.name for d in middle.decorators] == ["retry", "catch"]
    assert middle.decorator("retry")["times"] == 2
    assert middle.decorator("catch")["var"] == "err"
    assert middle.decorator("timeout") is None
    assert FlowGraph(LinearFlow)["start"].decorators == []


def test_docstring_of_step():
    graph = FlowGraph(LinearFlow)
    assert graph["start"].doc == "Begin here."
    assert graph["end"].doc == ""


def test_graph_name_file_and_container_protocol():
    graph = FlowGraph(LinearFlow)
    assert graph.name == "LinearFlow"
    assert graph.flow is LinearFlow
    assert graph.file == __file__
    assert "middle" in graph
    assert "nope" not in graph
    assert isinstance(graph["middle"], StepNode)
    with pytest.raises(KeyError):
        graph["nope"]
    assert repr(graph["start"]) == "StepNode('start', start, next=['middle'])"


# --------------------------------------------------------------------------------------------------------
# Line numbers and files
# --------------------------------------------------------------------------------------------------------


def test_line_is_the_def_and_next_line_is_the_self_next_call(load):
    module = load(
        """
        class F(FlowSpec):
            @step
            def start(self):
                self.x = 1
                self.next(self.middle)

            @retry(times=1)
            @step
            def middle(self):
                self.y = 2
                self.next(
                    self.end
                )

            @step
            def end(self):
                self.z = 3
        """
    )
    graph = FlowGraph(module.F)
    path = module.__file__
    start, middle, end = graph["start"], graph["middle"], graph["end"]
    assert (start.file, start.line, start.next_line) == (path, line(module, "def start"), line(module, "self.middle)"))
    # A decorated step: the line is the `def`, not the first decorator.
    assert middle.line == line(module, "def middle")
    # A call spread over several lines: the line where it starts.
    assert middle.next_line == line(module, "self.end") - 1
    assert (end.line, end.next_line) == (line(module, "def end"), line(module, "def end"))
    assert start.location == f"{path}:{line(module, 'def start')}"
    assert graph.file == path


def test_to_dict_reports_line_and_decorator_specs(load):
    module = load(
        """
        class F(FlowSpec):
            @step
            def start(self):
                self.next(self.end)

            @retry(times=4)
            @step
            def end(self):
                '''The end.'''
        """
    )
    end = FlowGraph(module.F)["end"].to_dict()
    assert end == {
        "name": "end",
        "type": "end",
        "transition": END,
        "next": [],
        "foreach": None,
        "condition": None,
        "cases": {},
        "join": False,
        "doc": "The end.",
        "line": line(module, "def end"),
        "decorators": ["retry:times=4"],
    }


def test_parse_problems_are_kept_on_the_graph_with_their_line(load):
    module = load(
        """
        class F(FlowSpec):
            @step
            def start(self):
                if True:
                    self.next(self.end)
                self.x = 1

            @step
            def end(self):
                pass
        """
    )
    graph = FlowGraph(module.F)
    [problem] = graph.problems
    assert problem.rule == "misplaced-next"
    assert (problem.file, problem.line) == (module.__file__, line(module, "self.next(self.end)"))
    assert graph["start"].out_funcs == []


def test_unknown_target_is_kept_as_an_edge_but_not_linked(load):
    """The parser records what was written; the linter judges it (``unknown-step``)."""
    module = load(
        """
        class F(FlowSpec):
            @step
            def start(self):
                self.next(self.missing)

            @step
            def end(self):
                pass
        """
    )
    graph = FlowGraph(module.F)
    assert graph["start"].out_funcs == ["missing"]
    assert graph.problems == []
    assert "missing" not in graph


NO_SOURCE_FLOW = """
from headwater import FlowSpec, step

class Hidden(FlowSpec):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
"""


def test_flow_whose_source_file_is_gone_reports_no_source(tmp_path, monkeypatch):
    """The module is importable but its file no longer exists, so the steps cannot be parsed."""
    module = ModuleType("hw_test_graph_gone")
    module.__file__ = str(tmp_path / "gone.py")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    exec(compile(NO_SOURCE_FLOW, module.__file__, "exec"), module.__dict__)
    graph = FlowGraph(module.Hidden)
    assert [p.rule for p in graph.problems] == ["no-source", "no-source"]
    first = graph.problems[0]
    assert (first.file, first.line) == (module.__file__, 5)
    assert "`start`" in first.message
    # Without source the transitions are unknown.
    assert graph["start"].out_funcs == []


def test_flow_of_a_module_missing_from_sys_modules_reports_no_source():
    """exec'd code: the class's module is unknown, so the file is taken from the steps' code."""
    namespace: dict = {"__name__": "hw_test_graph_nowhere"}
    exec(compile(NO_SOURCE_FLOW, "<hidden flow>", "exec"), namespace)
    graph = FlowGraph(namespace["Hidden"])
    assert graph.file == "<hidden flow>"
    assert [p.rule for p in graph.problems] == ["no-source", "no-source"]
    assert {p.file for p in graph.problems} == {"<hidden flow>"}


def test_flow_defined_in_a_main_module_without_file_reports_no_source(monkeypatch):
    monkeypatch.setitem(sys.modules, "__main__", ModuleType("__main__"))
    namespace: dict = {"__name__": "__main__"}
    exec(compile(NO_SOURCE_FLOW, "<stdin>", "exec"), namespace)
    graph = FlowGraph(namespace["Hidden"])
    assert graph.file == "<stdin>"
    assert [p.rule for p in graph.problems] == ["no-source", "no-source"]


# --------------------------------------------------------------------------------------------------------
# Inheritance
# --------------------------------------------------------------------------------------------------------


def test_subclass_overrides_a_step_and_adds_one():
    child = FlowGraph(ChildFlow)
    assert sorted(child.nodes) == ["a", "b", "end", "start"]
    assert child["a"].out_funcs == ["b"]
    assert child["a"].func is ChildFlow.a
    assert child["b"].in_funcs == ["a"]
    assert child["end"].in_funcs == ["b"]
    assert names(child.topological()) == ["start", "a", "b", "end"]
    # The base class's graph is not affected.
    base = FlowGraph(BaseFlow)
    assert sorted(base.nodes) == ["a", "end", "start"]
    assert base["a"].out_funcs == ["end"]
    assert base["end"].in_funcs == ["a"]


def test_subclass_in_another_file_takes_file_and_line_of_the_override(load):
    base = load(
        """
        class Base(FlowSpec):
            @step
            def start(self):
                self.next(self.a)

            @step
            def a(self):
                self.next(self.end)

            @step
            def end(self):
                pass
        """
    )
    child = load(
        f"""
        from headwater import step
        from {base.__name__} import Base

        class Child(Base):
            @step
            def a(self):
                self.note = "override"
                self.next(self.end)
        """
    )
    graph = FlowGraph(child.Child)
    assert (graph["a"].file, graph["a"].line) == (child.__file__, line(child, "def a"))
    assert graph["a"].next_line == line(child, "self.next(self.end)")
    assert (graph["start"].file, graph["start"].line) == (base.__file__, line(base, "def start"))
    assert (graph["end"].file, graph["end"].line) == (base.__file__, line(base, "def end"))
    assert graph["a"].out_funcs == ["end"]
    assert graph["end"].in_funcs == ["a"]


def test_subclass_can_remove_a_step_by_overriding_it_with_a_non_step(load):
    module = load(
        """
        class Base(FlowSpec):
            @step
            def start(self):
                self.next(self.end)

            @step
            def extra(self):
                self.next(self.end)

            @step
            def end(self):
                pass

        class Child(Base):
            extra = None
        """
    )
    assert "extra" in FlowGraph(module.Base)
    assert "extra" not in FlowGraph(module.Child)


# --------------------------------------------------------------------------------------------------------
# Order, reachability, descendants
# --------------------------------------------------------------------------------------------------------


def test_topological_order_puts_a_join_after_all_its_parents():
    assert names(FlowGraph(BranchFlow).topological()) == ["start", "a", "b", "join", "end"]
    assert names(FlowGraph(SwitchFlow).topological()) == ["start", "choose", "x", "y", "end"]
    assert names(FlowGraph(ForeachFlow).topological()) == ["start", "fan", "body", "join", "end"]


def test_topological_order_ignores_a_self_loop():
    assert names(FlowGraph(LoopFlow).topological()) == ["start", "poll", "end"]


def test_topological_order_ends_with_unreachable_steps():
    graph = FlowGraph(OrphanFlow)
    assert names(graph.topological()) == ["start", "end", "orphan"]
    assert graph.reachable() == {"start", "end"}


def test_reachable_is_empty_without_start(load):
    module = load(
        """
        class F(FlowSpec):
            @step
            def end(self):
                pass
        """
    )
    assert FlowGraph(module.F).reachable() == set()


def test_descendants_include_the_step_itself():
    graph = FlowGraph(BranchFlow)
    assert graph.descendants("a") == {"a", "join", "end"}
    assert graph.descendants("start") == {"start", "a", "b", "join", "end"}
    assert graph.descendants("end") == {"end"}
    assert FlowGraph(LoopFlow).descendants("poll") == {"poll", "end"}
    assert graph.descendants("nope") == set()


def test_graph_to_dict_lists_steps_in_topological_order():
    data = FlowGraph(BranchFlow).to_dict()
    assert data["name"] == "BranchFlow"
    assert data["file"] == __file__
    assert [s["name"] for s in data["steps"]] == ["start", "a", "b", "join", "end"]
    assert [s["type"] for s in data["steps"]] == ["start", "linear", "linear", "join", "end"]
    assert data["steps"][0]["next"] == ["a", "b"]
    assert data["steps"][3]["join"] is True


def test_to_dict_of_foreach_and_switch_nodes():
    foreach = FlowGraph(ForeachFlow)["fan"].to_dict()
    assert (foreach["type"], foreach["foreach"], foreach["next"]) == ("foreach", "items", ["body"])
    switch = FlowGraph(SwitchFlow)["choose"].to_dict()
    assert (switch["type"], switch["condition"]) == ("switch", "choice")
    assert switch["cases"] == {"x": "x", "y": "y", "z": "y"}
    assert FlowGraph(LinearFlow)["middle"].to_dict()["decorators"] == [
        "retry:times=2",
        'catch:var="err"',
    ]


# --------------------------------------------------------------------------------------------------------
# Caching and copies
# --------------------------------------------------------------------------------------------------------


def test_of_caches_the_graph_per_class():
    class Cached(LinearFlow):
        pass

    class CachedChild(Cached):
        pass

    first = FlowGraph.of(Cached)
    assert FlowGraph.of(Cached) is first
    assert FlowGraph(Cached) is not first
    # A subclass gets its own graph, not its parent's cached one.
    child = FlowGraph.of(CachedChild)
    assert child is not first
    assert child.name == "CachedChild"
    assert FlowGraph.of(CachedChild) is child


def test_copy_is_independent_of_the_original():
    graph = FlowGraph(LinearFlow)
    clone = graph.copy()
    clone["middle"].decorators.clear()
    clone.problems.append("marker")  # type: ignore[arg-type]
    clone.nodes.pop("end")
    assert [d.name for d in graph["middle"].decorators] == ["retry", "catch"]
    assert graph.problems == []
    assert "end" in graph
    assert clone["start"] is not graph["start"]
    assert clone.name == graph.name


# --------------------------------------------------------------------------------------------------------
# Suggestions
# --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "choices", "expected"),
    [
        ("trian", ["train", "start", "end"], " Did you mean `train`?"),
        ("edn", ["start", "end"], " Did you mean `end`?"),
        ("zzzzzz", ["start", "end"], ""),
        ("x", [], ""),
    ],
)
def test_suggest(name, choices, expected):
    assert suggest(name, choices) == expected
