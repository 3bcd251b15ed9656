"""Lint rules over a parsed graph; each finding says where (``file:line``) and what to do.

The rules: ``start`` and ``end`` exist; every transition names a real step, once, and a split never goes
straight into its join; every step is reachable; no
cycles except a conditional step that loops back to itself; each step is reached from one place in the
split structure (so parallel branches meet only at a join); each join closes exactly one split and is
declared ``def step(self, inputs)``; reserved names are not used. Plugins add rules through the
``check_graph`` hook. ``lint`` raises one ``GraphError`` listing every problem.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from headwater.exceptions import GraphError, LintProblem
from headwater.graph import FOREACH, SPLIT, SWITCH, FlowGraph, StepNode, suggest

if TYPE_CHECKING:
    from headwater.flowspec import FlowSpec

#: Names a step or parameter may not take: they are methods and attributes of ``FlowSpec``.
RESERVED_NAMES = frozenset({"next", "input", "index", "foreach_stack", "merge_artifacts", "name", "script_name", "cmd"})


def check(graph: FlowGraph) -> list[LintProblem]:
    """Every problem of the graph: parse problems first, then the structural rules."""
    from headwater.parameters import parameter_problems

    problems = list(graph.problems)
    for message, hint, param_file, param_line in parameter_problems(graph.flow):
        problems.append(LintProblem("bad-parameter", message, hint, param_file, param_line))
    for klass in graph.flow.__mro__:
        if klass in (_flowspec(), object):
            continue
        for name in sorted(RESERVED_NAMES & set(vars(klass)) - set(graph.nodes)):
            file, line = _definition_line(klass, name)
            problems.append(
                LintProblem(
                    "reserved-name",
                    f"{klass.__name__} defines `{name}`, a name FlowSpec uses itself.",
                    "Rename it.",
                    file or graph.file,
                    line,
                )
            )
    nodes = graph.nodes
    anchor = nodes.get("start") or next(iter(nodes.values()), None)
    where = (anchor.file, anchor.line) if anchor else (graph.file, None)

    for required in ("start", "end"):
        if required not in nodes:
            problems.append(
                LintProblem(
                    f"no-{required}",
                    f"{graph.name} has no `{required}` step.",
                    f"Add a method `{required}` decorated with @step.",
                    *where,
                )
            )
    for node in nodes.values():
        problems += _check_node(graph, node)
    if "start" in nodes:
        # Every rule runs in one round; only what an unknown transition would make up is held back.
        unknown = _unknown_transitions(graph)
        if not unknown & graph.reachable():  # a step whose successors are unknown might reach any step
            problems += _check_reachability(graph)
        cycles = _check_cycles(graph)
        problems += cycles
        if not cycles:  # scopes along a loop are meaningless
            problems += _check_scopes(graph, complete=not unknown)
    return sorted(problems, key=lambda p: (p.file or "", p.line or 0))


def _unknown_transitions(graph: FlowGraph) -> set[str]:
    """Steps whose successors are not (all) known: no readable self.next, a malformed one, or one that
    names something that is not a step (a typo: the step meant is not reached through it)."""
    bad_next = {(p.file, p.line) for p in graph.problems if p.rule == "bad-next"}
    return {
        node.name
        for node in graph.nodes.values()
        if (not node.out_funcs and node.name != "end")
        or (node.file, node.next_line) in bad_next
        or any(target not in graph.nodes for target in node.out_funcs)
    }


def _definition_line(klass: type, name: str) -> tuple[str | None, int | None]:
    """Where ``name`` is assigned in the body of ``klass`` (only used to report an error)."""
    import ast
    import inspect
    import textwrap

    try:
        lines, first = inspect.getsourcelines(klass)
        file = inspect.getsourcefile(klass)
    except (OSError, TypeError):
        return None, None
    class_def = ast.parse(textwrap.dedent("".join(lines))).body[0]
    for statement in getattr(class_def, "body", []):
        targets = getattr(statement, "targets", None) or [getattr(statement, "target", None)]
        if any(getattr(t, "id", None) == name for t in targets):
            return file, first + statement.lineno - 1
    return file, first


def _flowspec() -> type:
    from headwater.flowspec import FlowSpec

    return FlowSpec


def _check_node(graph: FlowGraph, node: StepNode) -> list[LintProblem]:
    found = []
    if node.name in RESERVED_NAMES or node.name.startswith("_"):
        found.append(
            LintProblem(
                "reserved-name",
                f"Step name `{node.name}` is reserved.",
                "Rename the step; names starting with `_` and FlowSpec's own attributes are reserved.",
                node.file,
                node.line,
            )
        )
    if node.num_args > 2 or node.num_args < 1:
        found.append(
            LintProblem(
                "join-signature",
                f"Step `{node.name}` takes {node.num_args} arguments.",
                "A step is `def name(self)`; a join is `def name(self, inputs)`.",
                node.file,
                node.line,
            )
        )
    if node.name == "start" and node.is_join:
        found.append(
            LintProblem(
                "join-signature", "The `start` step cannot be a join.", "Write `def start(self)`.", node.file, node.line
            )
        )
    for target in node.out_funcs:
        if target not in graph.nodes:
            found.append(
                LintProblem(
                    "unknown-step",
                    f"Step `{node.name}` goes to `{target}`, which is not a step of {graph.name}."
                    + suggest(target, list(graph.nodes)),
                    f"Point self.next at a method decorated with @step, or add @step to `{target}`.",
                    node.file,
                    node.next_line,
                )
            )
        if target == "start":
            found.append(
                LintProblem(
                    "start-in",
                    f"Step `{node.name}` goes back to `start`.",
                    "Nothing may lead to `start`.",
                    node.file,
                    node.next_line,
                )
            )
    if len(set(node.out_funcs)) != len(node.out_funcs) and node.transition != SWITCH:
        found.append(
            LintProblem(
                "duplicate-target",
                f"Step `{node.name}` names the same step twice in self.next.",
                "Name each branch once; for several tasks of one step use foreach=.",
                node.file,
                node.next_line,
            )
        )
    if node.transition in (SPLIT, FOREACH):
        for target in node.out_funcs:
            if target in graph.nodes and graph.nodes[target].is_join:
                found.append(
                    LintProblem(
                        "split-to-join",
                        f"Step `{node.name}` splits straight into the join `{target}`.",
                        "Put at least one step on each branch between the split and its join.",
                        node.file,
                        node.next_line,
                    )
                )
    if node.transition == SWITCH and len(node.switch_cases) < 2 and node.condition:
        found.append(
            LintProblem(
                "switch-cases",
                f"Step `{node.name}` is conditional but has {len(node.switch_cases)} case.",
                "Give a conditional self.next at least two cases, or use a plain self.next(self.x).",
                node.file,
                node.next_line,
            )
        )
    for deco in node.decorators:
        found += deco.lint(graph, node)
    return found


def _check_reachability(graph: FlowGraph) -> list[LintProblem]:
    reachable = graph.reachable()
    return [
        LintProblem(
            "unreachable",
            f"Step `{node.name}` cannot be reached from `start`.",
            f"Point a self.next at `{node.name}`, or delete it.",
            node.file,
            node.line,
        )
        for node in graph.nodes.values()
        if node.name not in reachable
    ]


def _check_cycles(graph: FlowGraph) -> list[LintProblem]:
    """Depth-first search for cycles; a conditional step's edge to itself is the one allowed loop."""
    state: dict[str, int] = {}
    found: list[LintProblem] = []

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        node = graph.nodes[name]
        for child in node.out_funcs:
            if child not in graph.nodes or (child == name and node.transition == SWITCH):
                continue
            if state.get(child) == 1:
                loop = path[path.index(child) :] + [child]
                found.append(
                    LintProblem(
                        "cycle",
                        f"Steps loop: {' -> '.join(loop)}.",
                        "Only a conditional step may loop, and only back to itself "
                        "(self.next({'again': self.<same step>, 'done': self.x}, condition=...)).",
                        node.file,
                        node.next_line,
                    )
                )
            elif child not in state:
                visit(child, path + [child])
        state[name] = 2

    visit("start", ["start"])
    return found


def _describe(scope: tuple[tuple[str, str | None], ...]) -> str:
    if not scope:
        return "outside any split"
    split, branch = scope[-1]
    return f"inside the foreach of `{split}`" if branch is None else f"on the branch `{branch}` of `{split}`"


def _check_scopes(graph: FlowGraph, complete: bool = True) -> list[LintProblem]:
    """Give each step its enclosing splits; a step reached with two different scopes is an error.

    With ``complete`` false some transitions are unknown, so a split that seems never joined may be joined
    through them: that rule is skipped (the others only follow transitions that are known)."""
    nodes = graph.nodes
    for node in nodes.values():  # computed afresh each time, so checking twice gives the same answer
        node.scope, node.matching_join, node.matching_split = (), None, None
    found: list[LintProblem] = []
    scopes: dict[str, tuple[tuple[str, str | None], ...]] = {"start": ()}
    closes: dict[str, set[str]] = {}
    todo = ["start"]
    while todo:
        node = nodes[todo.pop()]
        scope = scopes[node.name]
        for child_name in node.out_funcs:
            if child_name == node.name or child_name not in nodes:
                continue
            child = nodes[child_name]
            if node.transition == SPLIT:
                child_scope = scope + ((node.name, child_name),)
            elif node.transition == FOREACH:
                child_scope = scope + ((node.name, None),)
            else:
                child_scope = scope
            if child.is_join:
                if not child_scope:
                    if child.num_args > 2:  # already reported as a bad signature: join or not is unclear
                        continue
                    found.append(
                        LintProblem(
                            "join-without-split",
                            f"Step `{child_name}` takes `inputs`, but `{node.name}` reaches it outside any split.",
                            f"Write `def {child_name}(self)` (one input), or make an earlier step split.",
                            child.file,
                            child.line,
                        )
                    )
                    continue
                closes.setdefault(child_name, set()).add(child_scope[-1][0])
                child_scope = child_scope[:-1]
            if child_name not in scopes:
                scopes[child_name] = child_scope
                todo.append(child_name)
            elif scopes[child_name] != child_scope:
                known = scopes[child_name]
                hint = (
                    f"Declare it `def {child_name}(self, inputs)` to join the branches."
                    if not child.is_join and len(known) == len(child_scope)
                    else "Branches of a split must meet at one join before anything else joins them."
                )
                found.append(
                    LintProblem(
                        "join-mismatch",
                        f"Step `{child_name}` is reached {_describe(known)} and also "
                        f"{_describe(child_scope)} (from `{node.name}`).",
                        hint,
                        child.file,
                        child.line,
                    )
                )
    if found:
        return found
    for name, scope in scopes.items():
        nodes[name].scope = scope
    for join_name, splits in closes.items():
        join = nodes[join_name]
        if len(splits) > 1:
            found.append(
                LintProblem(
                    "join-mismatch",
                    f"Join `{join_name}` closes several splits: {', '.join(sorted(splits))}.",
                    "Give each split its own join.",
                    join.file,
                    join.line,
                )
            )
            continue
        split = nodes[next(iter(splits))]
        if split.matching_join not in (None, join_name):
            found.append(
                LintProblem(
                    "join-mismatch",
                    f"Split `{split.name}` is closed by two joins, `{split.matching_join}` and `{join_name}`.",
                    "All branches of a split must meet at the same join.",
                    join.file,
                    join.line,
                )
            )
        split.matching_join = join_name
        join.matching_split = split.name
    for node in nodes.values():
        if complete and node.transition in (SPLIT, FOREACH) and node.matching_join is None and node.name in scopes:
            found.append(
                LintProblem(
                    "split-without-join",
                    f"The {'foreach' if node.transition == FOREACH else 'split'} at `{node.name}` is never joined.",
                    "Its branches must meet at a step declared `def name(self, inputs)` before `end`.",
                    node.file,
                    node.next_line,
                )
            )
    end = nodes.get("end")
    if end is not None and end.scope:
        found.append(
            LintProblem(
                "join-mismatch",
                f"`end` is reached {_describe(end.scope)}, before the split is joined.",
                "Add a join step (def name(self, inputs)) before `end`.",
                end.file,
                end.line,
            )
        )
    return found


def plugin_problems(graph: FlowGraph, options: dict[str, Any] | None = None) -> list[LintProblem]:
    """What plugins' ``check_graph`` rules find; a rule that raises is a problem naming its plugin."""
    from headwater.exceptions import PluginError
    from headwater.plugins import call_each

    errors: list[PluginError] = []
    found = call_each("check_graph", errors=errors, graph=graph, flow=graph.flow, options=dict(options or {}))
    problems = [problem for problems in found for problem in problems]
    return problems + [LintProblem("plugin-error", e.message, e.hint or "", graph.file, None) for e in errors]


def lint(
    graph: FlowGraph, flow: type[FlowSpec] | None = None, plugins: bool = True, options: dict[str, Any] | None = None
) -> None:
    """Raise a ``GraphError`` listing every problem of the graph (core rules and plugins' rules, together)."""
    from headwater.decorators import flow_decorator_problems

    problems = check(graph) + flow_decorator_problems(graph)
    if plugins:
        problems += plugin_problems(graph, options)
    if problems:
        raise GraphError(graph.name, problems)
