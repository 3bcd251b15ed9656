"""Tests of ``headwater.lint``: every rule, where it points (file and line), and the shapes that are valid.

Each flow is written to its own file under ``tmp_path`` and imported, because the graph is parsed from
source. ``line(module, text)`` finds the expected line in that source, so the tests do not hard-code
line numbers.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path
from types import ModuleType

import pytest
from flowfiles import import_flow_module, line

from headwater import lint, plugins
from headwater.exceptions import GraphError, LintProblem
from headwater.graph import FlowGraph
from headwater.hookspecs import hookimpl

HEADER = """\
from headwater import FlowSpec, IncludeFile, JSONType, Parameter, catch, retry, step
from headwater.builtins.retry import RetryDecorator
from headwater.decorators import apply


def custom_retry(func=None, **attributes):
    '''A decorator that passes any attribute through, as plugin decorators do.'''
    return apply(RetryDecorator, func, **attributes)

"""


@pytest.fixture
def load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """``load(source)`` writes ``HEADER`` and the source to a new file, imports it, returns the module."""

    def _load(source: str) -> ModuleType:
        module = import_flow_module(tmp_path, "hw_test_lint", HEADER + textwrap.dedent(source))
        monkeypatch.setitem(sys.modules, module.__name__, module)
        return module

    return _load


def check(module: ModuleType, flow: str = "F") -> list[LintProblem]:
    return lint.check(FlowGraph(getattr(module, flow)))


def only(problems: list[LintProblem], rule: str) -> LintProblem:
    """The one problem of ``rule``; fails listing every problem otherwise."""
    found = [p for p in problems if p.rule == rule]
    assert len(found) == 1, problems
    return found[0]


def assert_at(problem: LintProblem, module: ModuleType, where: str | int, *words: str) -> None:
    """``problem`` is in the module's file, at line ``where`` (or the line holding that text), and its
    message contains each of ``words``."""
    expected = where if isinstance(where, int) else line(module, where)
    assert (problem.file, problem.line) == (module.__file__, expected), problem
    for word in words:
        assert word in problem.message, problem


# --------------------------------------------------------------------------------------------------------
# Valid shapes
# --------------------------------------------------------------------------------------------------------

_VALID = {
    "linear": """
        class F(FlowSpec):
            @step
            def start(self):
                self.next(self.a)

            @step
            def a(self):
                self.next(self.end)

            @step
            def end(self):
                pass
        """,
    "branch": """
        class F(FlowSpec):
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
        """,
    "nested-branch": """
        class F(FlowSpec):
            @step
            def start(self):
                self.next(self.a, self.b)

            @step
            def a(self):
                self.next(self.a1, self.a2)

            @step
            def a1(self):
                self.next(self.join_a)

            @step
            def a2(self):
                self.next(self.join_a)

            @step
            def join_a(self, inputs):
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
        """,
    "foreach": """
        class F(FlowSpec):
            @step
            def start(self):
                self.items = [1, 2]
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
        """,
    "nested-foreach-3-levels": """
        class F(FlowSpec):
            @step
            def start(self):
                self.next(self.f1, foreach="xs")

            @step
            def f1(self):
                self.next(self.f2, foreach="ys")

            @step
            def f2(self):
                self.next(self.body, foreach="zs")

            @step
            def body(self):
                self.next(self.j3)

            @step
            def j3(self, inputs):
                self.next(self.j2)

            @step
            def j2(self, inputs):
                self.next(self.j1)

            @step
            def j1(self, inputs):
                self.next(self.end)

            @step
            def end(self):
                pass
        """,
    "switch": """
        class F(FlowSpec):
            @step
            def start(self):
                self.next({"x": self.x, "y": self.y}, condition="choice")

            @step
            def x(self):
                self.next(self.after)

            @step
            def y(self):
                self.next(self.after)

            @step
            def after(self):
                self.next(self.end)

            @step
            def end(self):
                pass
        """,
    "switch-self-loop": """
        class F(FlowSpec):
            @step
            def start(self):
                self.next(self.poll)

            @step
            def poll(self):
                self.next({"again": self.poll, "done": self.end}, condition="status")

            @step
            def end(self):
                pass
        """,
    "switch-inside-foreach": """
        class F(FlowSpec):
            @step
            def start(self):
                self.next(self.body, foreach="items")

            @step
            def body(self):
                self.next({"x": self.x, "y": self.y}, condition="kind")

            @step
            def x(self):
                self.next(self.join)

            @step
            def y(self):
                self.next(self.join)

            @step
            def join(self, inputs):
                self.next(self.end)

            @step
            def end(self):
                pass
        """,
    "foreach-inside-branch": """
        class F(FlowSpec):
            @step
            def start(self):
                self.next(self.a, self.b)

            @step
            def a(self):
                self.next(self.body, foreach="items")

            @step
            def body(self):
                self.next(self.join_a)

            @step
            def join_a(self, inputs):
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
        """,
    "decorated-and-parameters": """
        class F(FlowSpec):
            alpha = Parameter("alpha", default=1)
            config = Parameter("config", type=JSONType, default='{"a": 1}')
            words = Parameter("words", default="a,b", separator=",")
            data = IncludeFile("data", required=False)

            @retry(times=2)
            @catch(var="error")
            @step
            def start(self):
                self.next(self.end)

            @step
            def end(self):
                pass
        """,
}
#: Sources of valid flows (dedented, so that tests can edit them with str.replace).
VALID = {shape: textwrap.dedent(source) for shape, source in _VALID.items()}


@pytest.mark.parametrize("shape", sorted(VALID))
def test_valid_shape_has_no_problem(load, shape):
    module = load(VALID[shape])
    graph = FlowGraph(module.F)
    assert lint.check(graph) == []
    assert lint.lint(graph) is None


def test_scopes_and_matching_joins_of_a_valid_graph(load):
    """A clean check annotates each step with its enclosing splits and pairs splits with joins."""
    graph = FlowGraph(load(VALID["nested-foreach-3-levels"]).F)
    assert lint.check(graph) == []
    assert graph["body"].scope == (("start", None), ("f1", None), ("f2", None))
    assert graph["j3"].scope == (("start", None), ("f1", None))
    assert graph["end"].scope == ()
    assert [(graph[s].matching_join, graph[j].matching_split) for s, j in [("f2", "j3"), ("f1", "j2")]] == [
        ("j3", "f2"),
        ("j2", "f1"),
    ]
    assert graph["start"].matching_join == "j1"

    branch = FlowGraph(load(VALID["foreach-inside-branch"]).F)
    assert lint.check(branch) == []
    assert branch["body"].scope == (("start", "a"), ("a", None))
    assert branch["b"].scope == (("start", "b"),)
    assert (branch["a"].matching_join, branch["start"].matching_join) == ("join_a", "join")


def test_switch_self_loop_is_not_a_cycle_but_a_loop_to_another_step_is(load):
    module = load(
        """
        class F(FlowSpec):
            @step
            def start(self):
                self.next(self.poll)

            @step
            def poll(self):
                self.next({"again": self.start_over, "done": self.end}, condition="status")

            @step
            def start_over(self):
                self.next(self.poll)

            @step
            def end(self):
                pass
        """
    )
    problem = only(check(module), "cycle")
    # Reported at the self.next that closes the loop.
    assert_at(problem, module, line(module, "def start_over") + 1, "poll", "start_over")
    assert problem.message == "Steps loop: poll -> start_over -> poll."
    assert "cycle" not in {p.rule for p in lint.check(FlowGraph(load(VALID["switch-self-loop"]).F))}


# --------------------------------------------------------------------------------------------------------
# start and end
# --------------------------------------------------------------------------------------------------------


def test_no_start_points_at_the_first_step(load):
    module = load(
        """
        class F(FlowSpec):
            @step
            def begin(self):
                self.next(self.end)

            @step
            def end(self):
                pass
        """
    )
    problem = only(check(module), "no-start")
    assert_at(problem, module, "def begin", "`start`", "F")


def test_no_end_points_at_start(load):
    module = load(
        """
        class F(FlowSpec):
            @step
            def start(self):
                self.next(self.finish)

            @step
            def finish(self):
                pass
        """
    )
    problems = check(module)
    assert_at(only(problems, "no-end"), module, "def start", "`end`", "F")
    assert_at(only(problems, "missing-next"), module, "def finish", "`finish`")


def test_flow_without_any_step_has_no_start_and_no_end(load):
    module = load(
        """
        class F(FlowSpec):
            pass
        """
    )
    problems = check(module)
    assert [p.rule for p in problems] == ["no-start", "no-end"]
    assert all((p.file, p.line) == (module.__file__, None) for p in problems)


def test_missing_next(load):
    module = load(
        """
        class F(FlowSpec):
            @step
            def start(self):
                self.next(self.a)

            @step
            def a(self):
                self.x = 1

            @step
            def end(self):
                pass
        """
    )
    problems = check(module)
    assert_at(only(problems, "missing-next"), module, "def a", "Step `a`")
    # With a transition unknown, reachability would mislead: `end` is not reported unreachable.
    assert [p.rule for p in problems] == ["missing-next"]


def test_misplaced_next(load):
    module = load(
        """
        class F(FlowSpec):
            @step
            def start(self):
                if self.flag:
                    self.next(self.a)
                else:
                    self.next(self.end)

            @step
            def a(self):
                self.next(self.end)

            @step
            def end(self):
                pass
        """
    )
    problems = check(module)
    assert [p.rule for p in problems] == ["misplaced-next"]
    assert_at(problems[0], module, "self.next(self.a)", "step `start`", "not the last statement")


def test_end_has_next_when_not_the_last_statement(load):
    module = load(
        """
        class F(FlowSpec):
            @step
            def start(self):
                self.next(self.end)

            @step
            def end(self):
                if self.again:
                    self.next(self.start)
                self.done = True
        """
    )
    assert_at(only(check(module), "end-has-next"), module, "self.next(self.start)", "`end`")


def test_end_has_next_when_it_is_the_last_statement(load):
    module = load(
        """
        class F(FlowSpec):
            @step
            def start(self):
                self.next(self.end)

            @step
            def end(self):
                self.next(self.start)
        """
    )
    assert_at(only(check(module), "end-has-next"), module, "self.next(self.start)", "`end`")


# --------------------------------------------------------------------------------------------------------
# self.next arguments
# --------------------------------------------------------------------------------------------------------

BAD_NEXT = """
class F(FlowSpec):
    @step
    def start(self):
        {call}

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
"""


@pytest.mark.parametrize(
    ("call", "words"),
    [
        ("self.next(self.a, end)", ["self.<step>", "got `end`"]),
        ("self.next('a')", ["got `'a'`"]),
        ("self.next(self.a, self.b, foreach='items')", ["exactly one step"]),
        ("self.next(self.a, foreach=items)", ["foreach= must be the name of an artifact"]),
        ("self.next(self.a, foreach=3)", ["foreach= must be the name of an artifact"]),
        ("self.next(self.a, condition='c')", ["condition= needs a dict"]),
        ("self.next({'x': self.a, 'y': self.b})", ["condition='<attribute name>'"]),
        ("self.next({'x': self.a, 'y': self.b}, condition=c)", ["condition='<attribute name>'"]),
        ("self.next({'x': self.a, 'y': 'b'}, condition='c')", ["maps a literal to self.<step>"]),
        ("self.next({k: self.a, 'y': self.b}, condition='c')", ["maps a literal to self.<step>"]),
        ("self.next({'x': self.a, 'y': self.b}, self.a, condition='c')", ["takes one dict"]),
        ("self.next(self.a, num_parallel=4)", ["@parallel / num_parallel is not supported"]),
        ("self.next(self.a, timeout=4)", ["unknown argument `timeout=`"]),
        ("self.next()", ["names no step"]),
    ],
)
def test_bad_next(load, call, words):
    module = load(BAD_NEXT.format(call=call))
    problems = [p for p in check(module) if p.rule == "bad-next"]
    assert problems, check(module)
    assert_at(problems[0], module, call, "Step `start`", *words)


def test_unknown_step_suggests_a_close_name(load):
    module = load(
        """
        class F(FlowSpec):
            @step
            def start(self):
                self.next(self.trian)

            @step
            def train(self):
                self.next(self.end)

            @step
            def end(self):
                pass
        """
    )
    problem = only(check(module), "unknown-step")
    assert_at(problem, module, "self.next(self.trian)", "Step `start`", "`trian`", "Did you mean `train`?")
    assert "add @step to `trian`" in problem.hint


def test_unknown_step_in_a_switch_case_without_a_close_name(load):
    module = load(
        """
        class F(FlowSpec):
            @step
            def start(self):
                self.next({"a": self.end, "b": self.zzzzzz}, condition="choice")

            @step
            def end(self):
                pass
        """
    )
    problem = only(check(module), "unknown-step")
    assert_at(problem, module, "self.zzzzzz", "Step `start`", "`zzzzzz`", "not a step of F")
    assert "Did you mean" not in problem.message


def test_start_in(load):
    module = load(
        """
        class F(FlowSpec):
            @step
            def start(self):
                self.next(self.a)

            @step
            def a(self):
                self.next({"again": self.start, "done": self.end}, condition="status")

            @step
            def end(self):
                pass
        """
    )
    problems = check(module)
    assert_at(only(problems, "start-in"), module, "self.start,", "Step `a`", "`start`")
    assert_at(only(problems, "cycle"), module, "self.start,", "start -> a -> start")


def test_unreachable(load):
    module = load(
        """
        class F(FlowSpec):
            @step
            def start(self):
                self.next(self.end)

            @step
            def orphan(self):
                self.next(self.end)

            @step
            def end(self):
                pass
        """
    )
    problems = check(module)
    assert [p.rule for p in problems] == ["unreachable"]
    assert_at(problems[0], module, "def orphan", "Step `orphan`")


def test_cycle_of_linear_steps(load):
    module = load(
        """
        class F(FlowSpec):
            @step
            def start(self):
                self.next(self.a)

            @step
            def a(self):
                self.next(self.b)

            @step
            def b(self):
                self.next(self.a)

            @step
            def end(self):
                pass
        """
    )
    problems = check(module)
    assert_at(only(problems, "cycle"), module, line(module, "def b") + 1, "Steps loop: a -> b -> a.")
    assert_at(only(problems, "unreachable"), module, "def end", "`end`")


def test_linear_step_going_to_itself_is_a_cycle(load):
    module = load(
        """
        class F(FlowSpec):
            @step
            def start(self):
                self.next(self.a)

            @step
            def a(self):
                self.next(self.a)

            @step
            def end(self):
                pass
        """
    )
    assert_at(only(check(module), "cycle"), module, line(module, "def a") + 1, "Steps loop: a -> a.")


# --------------------------------------------------------------------------------------------------------
# Joins and splits
# --------------------------------------------------------------------------------------------------------


def test_join_signature_with_three_arguments(load):
    module = load(
        VALID["branch"].replace("def join(self, inputs):", "def join(self, inputs, extra):"),
    )
    problem = only(check(module), "join-signature")
    assert_at(problem, module, "def join", "Step `join`", "3 arguments")


def test_start_cannot_be_a_join(load):
    module = load(VALID["linear"].replace("def start(self):", "def start(self, inputs):"))
    problem = only(check(module), "join-signature")
    assert_at(problem, module, "def start", "`start`", "cannot be a join")


def test_join_without_split(load):
    module = load(VALID["linear"].replace("def a(self):", "def a(self, inputs):"))
    problem = only(check(module), "join-without-split")
    assert_at(problem, module, "def a", "Step `a`", "outside any split")
    assert problem.hint.startswith("Write `def a(self)`")


def test_branches_meeting_at_a_non_join_step(load):
    module = load(VALID["branch"].replace("def join(self, inputs):", "def join(self):"))
    problem = only(check(module), "join-mismatch")
    assert_at(problem, module, "def join", "Step `join`", "on the branch `a` of `start`", "on the branch `b`")
    assert problem.hint == "Declare it `def join(self, inputs)` to join the branches."


def test_join_closing_several_splits(load):
    module = load(
        """
        class F(FlowSpec):
            @step
            def start(self):
                self.next({"x": self.s1, "y": self.s2}, condition="which")

            @step
            def s1(self):
                self.next(self.a, self.b)

            @step
            def s2(self):
                self.next(self.c, self.d)

            @step
            def a(self):
                self.next(self.j)

            @step
            def b(self):
                self.next(self.j)

            @step
            def c(self):
                self.next(self.j)

            @step
            def d(self):
                self.next(self.j)

            @step
            def j(self, inputs):
                self.next(self.end)

            @step
            def end(self):
                pass
        """
    )
    problem = only(check(module), "join-mismatch")
    assert_at(problem, module, "def j(", "Join `j`", "closes several splits: s1, s2")


TWO_JOINS = """
    class F(FlowSpec):
        @step
        def start(self):
            self.next(self.a, self.b)

        @step
        def a(self):
            self.next(self.j1)

        @step
        def b(self):
            self.next(self.j2)

        @step
        def j1(self, inputs):
            self.next(self.end)

        @step
        def j2(self, inputs):
            self.next(self.end)

        @step
        def end(self):
            pass
    """


def test_one_split_closed_by_two_joins(load):
    module = load(TWO_JOINS)
    problem = only(check(module), "join-mismatch")
    assert problem.file == module.__file__
    # Which of the two joins is blamed depends on the traversal order.
    assert problem.line in (line(module, "def j1"), line(module, "def j2"))
    assert "Split `start` is closed by two joins" in problem.message
    assert "`j1`" in problem.message and "`j2`" in problem.message


def test_check_gives_the_same_problems_when_run_twice(load):
    graph = FlowGraph(load(TWO_JOINS).F)
    first = [str(p) for p in lint.check(graph)]
    assert len(first) == 1
    assert [str(p) for p in lint.check(graph)] == first


def test_end_reached_inside_a_foreach(load):
    module = load(
        """
        class F(FlowSpec):
            @step
            def start(self):
                self.next(self.body, foreach="items")

            @step
            def body(self):
                self.next(self.end)

            @step
            def end(self):
                pass
        """
    )
    problems = check(module)
    assert [p.rule for p in problems] == ["split-without-join", "join-mismatch"]
    assert_at(problems[0], module, 'foreach="items"', "The foreach at `start` is never joined")
    assert_at(problems[1], module, "def end", "`end` is reached inside the foreach of `start`")


def test_end_reached_on_two_branches(load):
    module = load(
        """
        class F(FlowSpec):
            @step
            def start(self):
                self.next(self.a, self.b)

            @step
            def a(self):
                self.next(self.end)

            @step
            def b(self):
                self.next(self.end)

            @step
            def end(self):
                pass
        """
    )
    problem = only(check(module), "join-mismatch")
    assert_at(problem, module, "def end", "Step `end`", "branch `a`", "branch `b`")


ORPHAN = "\n    @step\n    def orphan(self):\n        self.next(self.end)\n"


def test_unreachable_step_and_bad_join_are_reported_together(load):
    """One round of `check` lists both; neither hides the other (issue 6, item 14)."""
    source = VALID["branch"].replace("def join(self, inputs):", "def join(self):")
    assert {p.rule for p in check(load(source))} == {"join-mismatch"}
    problems = check(load(source + ORPHAN))
    assert sorted(p.rule for p in problems) == ["join-mismatch", "unreachable"]


def test_unreachable_step_with_a_reachable_missing_next_is_not_guessed(load):
    """`a`'s successor is unknown, so whether `orphan` is reachable is too; the bad join is still found."""
    source = (
        VALID["branch"]
        .replace("def join(self, inputs):", "def join(self):")
        .replace("def a(self):\n        self.next(self.join)", "def a(self):\n        pass")
    )
    module = load(source + ORPHAN)
    problems = check(module)
    assert sorted(p.rule for p in problems) == ["join-mismatch", "missing-next"], problems


def test_unreachable_step_with_its_own_missing_next_is_reported_with_it(load):
    source = VALID["linear"] + "\n    @step\n    def orphan(self):\n        self.x = 1\n"
    module = load(source)
    problems = check(module)
    assert sorted(p.rule for p in problems) == ["missing-next", "unreachable"], problems
    assert_at(only(problems, "unreachable"), module, "def orphan", "`orphan`")


def test_a_misspelt_target_does_not_make_its_intended_steps_unreachable(load):
    module = load(VALID["linear"].replace("self.next(self.a)", "self.next(self.aa)"))
    problems = check(module)
    assert [p.rule for p in problems] == ["unknown-step"], problems
    assert "Did you mean" in problems[0].message or "`a`" in problems[0].message


def test_a_cycle_and_an_unreachable_step_are_reported_together(load):
    source = (
        VALID["linear"].replace("def a(self):\n        self.next(self.end)", "def a(self):\n        self.next(self.b)")
        + "\n    @step\n    def b(self):\n        self.next(self.a)\n\n    @step\n    def c(self):\n        pass\n"
    )
    problems = check(load(source))
    # `c` has no self.next, but it is not reachable, so the rest of the graph is known
    rules = sorted(p.rule for p in problems)
    assert rules == ["cycle", "missing-next", "unreachable", "unreachable"], problems


def test_switch_with_one_case(load):
    module = load(
        """
        class F(FlowSpec):
            @step
            def start(self):
                self.next({"only": self.end}, condition="choice")

            @step
            def end(self):
                pass
        """
    )
    problem = only(check(module), "switch-cases")
    assert_at(problem, module, "self.next({", "Step `start`", "1 case")


# --------------------------------------------------------------------------------------------------------
# Names, parameters and decorators
# --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["next", "_x", "index", "merge_artifacts"])
def test_reserved_step_name(load, name):
    module = load(VALID["linear"].replace("self.a", f"self.{name}").replace("def a(self)", f"def {name}(self)"))
    problem = only(check(module), "reserved-name")
    assert_at(problem, module, f"def {name}(", f"Step name `{name}`")


def test_reserved_flow_attribute_name(load):
    module = load(VALID["linear"].replace("class F(FlowSpec):", "class F(FlowSpec):\n    input = 3\n"))
    problem = only(check(module), "reserved-name")
    assert problem.file == module.__file__
    assert "F defines `input`" in problem.message


def test_reserved_flow_attribute_name_has_a_line(load):
    module = load(VALID["linear"].replace("class F(FlowSpec):", "class F(FlowSpec):\n    input = 3\n"))
    assert_at(only(check(module), "reserved-name"), module, "input = 3", "`input`")


def test_reserved_name_through_an_inherited_parameter_attribute(load):
    module = load(
        VALID["linear"].replace(
            "class F(FlowSpec):", "class Base(FlowSpec):\n    index = Parameter('idx')\n\n\nclass F(Base):"
        )
    )
    assert "Base defines `index`" in only(check(module), "reserved-name").message


@pytest.mark.parametrize(
    ("definition", "words"),
    [
        ("p = Parameter('tag')", ["'tag' is reserved"]),
        ("p = Parameter('max-workers', default=2)", ["'max-workers' is reserved"]),
        ("p = Parameter('max_workers', default=2)", ["'max_workers' is reserved"]),
        ("p = Parameter('p', type=list)", ["'p'", "type <class 'list'> is not supported"]),
        ("p = Parameter('p', default=3, separator=',')", ["'p'", "separator only works with string"]),
        ("p = Parameter('p', hiden=True)", ["'p'", "unknown argument(s) hiden"]),
        ("p = Parameter('')", ["non-empty string"]),
        ("p = IncludeFile('tags')", ["'tags' is reserved"]),
    ],
)
def test_bad_parameter(load, definition, words):
    module = load(VALID["linear"].replace("class F(FlowSpec):", f"class F(FlowSpec):\n    {definition}\n"))
    assert_at(only(check(module), "bad-parameter"), module, definition, *words)


def test_duplicate_parameter_names(load):
    module = load(
        VALID["linear"].replace(
            "class F(FlowSpec):",
            "class F(FlowSpec):\n    first = Parameter('size')\n    second = Parameter('size', default=2)\n",
        )
    )
    problem = only(check(module), "bad-parameter")
    assert_at(problem, module, "second = ", "Parameters `first` and `second` both use the name 'size'")


def test_decorator_placed_below_step(load):
    """Reported at the first decorator's line: the function's first line."""
    module = load(
        """
        class F(FlowSpec):
            @step
            @retry
            def start(self):
                self.next(self.end)

            @step
            def end(self):
                pass
        """
    )
    problem = only(check(module), "bad-decorator")
    assert_at(problem, module, line(module, "def start") - 2)
    assert problem.message == "Step `start`: @retry must be placed above @step (@step is the innermost decorator)."


def test_same_decorator_twice(load):
    module = load(
        """
        class F(FlowSpec):
            @step
            def start(self):
                self.next(self.end)

            @retry
            @retry(times=1)
            @step
            def end(self):
                pass
        """
    )
    problem = only(check(module), "bad-decorator")
    assert_at(problem, module, line(module, "@retry(times=1)") - 1, "Step `end`", "@retry is given twice")


@pytest.mark.parametrize(
    ("decorator", "words"),
    [
        ("@retry(times='x')", ["@retry(times='x'): times must be a whole number"]),
        ("@retry(times=101)", ["more than 100 retries"]),
        ("@catch(var='not a name')", ["var must be an artifact name"]),
        ("@custom_retry(tims=2)", ["@retry has no attribute 'tims'"]),
    ],
)
def test_bad_decorator_attributes(load, decorator, words):
    """Reported by the linter at the step's `def`, not raised while the class is built."""
    module = load(VALID["linear"].replace("    @step\n    def a(self)", f"    {decorator}\n    @step\n    def a(self)"))
    assert_at(only(check(module), "bad-decorator"), module, "def a(", *words)


def test_bad_decorator_attributes_message_names_the_step(load):
    module = load(
        VALID["linear"].replace("    @step\n    def a(self)", "    @retry(times='x')\n    @step\n    def a(self)")
    )
    assert "`a`" in only(check(module), "bad-decorator").message


def test_unknown_decorator_attribute_hint_lists_the_valid_ones(load):
    module = load(
        VALID["linear"].replace("    @step\n    def a(self)", "    @custom_retry(tims=2)\n    @step\n    def a(self)")
    )
    assert only(check(module), "bad-decorator").hint == "Valid attributes of @retry: times, minutes_between_retries."


def test_catch_on_a_foreach_step(load):
    module = load(
        VALID["foreach"].replace("    @step\n    def start", "    @catch(var='error')\n    @step\n    def start")
    )
    problem = only(check(module), "catch-placement")
    assert_at(problem, module, "def start", "step `start`", "a foreach")


def test_catch_on_a_switch_step(load):
    module = load(VALID["switch"].replace("    @step\n    def start", "    @catch\n    @step\n    def start"))
    problem = only(check(module), "catch-placement")
    assert_at(problem, module, "def start", "step `start`", "a conditional")


def test_catch_on_a_split_or_join_is_allowed(load):
    source = VALID["branch"].replace("    @step\n    def start", "    @catch\n    @step\n    def start")
    source = source.replace("    @step\n    def join", "    @catch\n    @step\n    def join")
    assert check(load(source)) == []


# --------------------------------------------------------------------------------------------------------
# Reporting: order, GraphError, plugins
# --------------------------------------------------------------------------------------------------------


MANY_PROBLEMS = """
    class F(FlowSpec):
        @step
        def start(self):
            self.next(self.trian)

        @step
        def train(self):
            self.x = 1

        @step
        def end(self):
            pass
    """


def test_problems_are_sorted_by_line(load):
    module = load(MANY_PROBLEMS)
    problems = check(module)
    assert [p.rule for p in problems] == ["unknown-step", "missing-next"]
    assert [p.line for p in problems] == [line(module, "self.next(self.trian)"), line(module, "def train")]


def test_lint_raises_graph_error_listing_every_problem_with_file_and_line(load):
    module = load(MANY_PROBLEMS)
    graph = FlowGraph(module.F)
    with pytest.raises(GraphError) as info:
        lint.lint(graph)
    error = info.value
    assert error.flow_name == "F"
    assert [p.rule for p in error.problems] == ["unknown-step", "missing-next"]
    message = str(error)
    assert message.startswith("F has 2 problems:\n")
    assert f"  {module.__file__}:{line(module, 'self.next(self.trian)')}: Step `start` goes to `trian`" in message
    assert f"  {module.__file__}:{line(module, 'def train')}: Step `train` does not end with self.next" in message
    assert error.headline == "Flow is not valid"


def test_graph_error_with_one_problem_says_problem(load):
    module = load(VALID["linear"].replace("def a(self):", "def a(self, inputs, more):"))
    with pytest.raises(GraphError, match=r"^F has 1 problem:\n") as info:
        lint.lint(FlowGraph(module.F))
    assert len(info.value.problems) == 1


class _ExtraRule:
    """A throwaway plugin adding a rule: a step named `a` is rejected."""

    def __init__(self) -> None:
        self.calls = 0

    @hookimpl
    def check_graph(self, graph, flow):
        self.calls += 1
        node = graph.nodes.get("a")
        if node is None:
            return None
        return [LintProblem("no-a", f"Step `{node.name}` is not allowed here.", "Rename it.", node.file, node.line)]


@pytest.fixture
def extra_rule(monkeypatch):
    """``_ExtraRule`` registered in a fresh plugin manager without installed plugins; removed after."""
    monkeypatch.setenv("HEADWATER_LOAD_PLUGINS", "")
    monkeypatch.delenv("HEADWATER_DISABLE_PLUGINS", raising=False)
    plugins.reset()
    rule = _ExtraRule()
    name = plugins.register_plugin(rule, name="test-extra-rule")
    yield rule
    plugins.unregister_plugin(name)
    plugins.reset()


def test_plugin_rules_are_reported_by_lint(load, extra_rule):
    module = load(VALID["linear"])
    graph = FlowGraph(module.F)
    with pytest.raises(GraphError) as info:
        lint.lint(graph, module.F)
    [problem] = info.value.problems
    assert (problem.rule, problem.line) == ("no-a", line(module, "def a"))
    # Without the flow the graph's own flow is used; with plugins off only the core's rules run.
    with pytest.raises(GraphError):
        lint.lint(graph)
    lint.lint(graph, module.F, plugins=False)
    assert extra_rule.calls == 2


def test_plugin_rules_run_and_report_with_the_core_rules(load, extra_rule):
    module = load(VALID["linear"].replace("def a(self):", "def a(self, inputs, more):"))
    with pytest.raises(GraphError) as info:
        lint.lint(FlowGraph(module.F), module.F)
    assert sorted(p.rule for p in info.value.problems) == ["join-signature", "no-a"]
    assert extra_rule.calls == 1


class _OptionsRule:
    def __init__(self) -> None:
        self.seen = []

    @hookimpl
    def check_graph(self, graph, flow, options):
        self.seen.append(dict(options))


class _BrokenRule:
    @hookimpl
    def check_graph(self, graph, flow, options):
        raise RuntimeError("rule crashed")


def test_plugin_rules_get_the_cli_options_and_a_crash_names_the_plugin(load, extra_rule):
    module = load(VALID["linear"].replace("def a(self):", "def b(self):").replace("self.a", "self.b"))
    options_rule = _OptionsRule()
    plugins.register_plugin(options_rule, name="test-options-rule")
    lint.lint(FlowGraph(module.F), module.F, options={"datastore": "local"})
    assert options_rule.seen == [{"datastore": "local"}]
    plugins.register_plugin(_BrokenRule(), name="test-broken-rule")
    with pytest.raises(GraphError) as info:
        lint.lint(FlowGraph(module.F), module.F)
    [problem] = info.value.problems
    assert problem.rule == "plugin-error"
    assert "'test-broken-rule'" in problem.message and "RuntimeError: rule crashed" in problem.message
    assert "HEADWATER_DISABLE_PLUGINS=test-broken-rule" in problem.hint


def test_split_straight_into_its_join(load):
    module = load(
        """
        class F(FlowSpec):
            @step
            def start(self):
                self.next(self.a, self.join)

            @step
            def a(self):
                self.next(self.join)

            @step
            def join(self, inputs):
                self.next(self.end)

            @step
            def end(self):
                pass
        """
    )
    problem = only(check(module), "split-to-join")
    assert problem.line == line(module, "self.next(self.a, self.join)")
    assert "`start` splits straight into the join `join`" in problem.message


def test_foreach_straight_into_a_join(load):
    module = load(
        """
        class F(FlowSpec):
            @step
            def start(self):
                self.items = [1, 2]
                self.next(self.join, foreach="items")

            @step
            def join(self, inputs):
                self.next(self.end)

            @step
            def end(self):
                pass
        """
    )
    assert only(check(module), "split-to-join").line == line(module, 'foreach="items"')


def test_the_same_branch_twice(load):
    module = load(
        """
        class F(FlowSpec):
            @step
            def start(self):
                self.next(self.a, self.a)

            @step
            def a(self):
                self.next(self.join)

            @step
            def join(self, inputs):
                self.next(self.end)

            @step
            def end(self):
                pass
        """
    )
    problem = only(check(module), "duplicate-target")
    assert problem.line == line(module, "self.next(self.a, self.a)")
    assert "names the same step twice" in problem.message
