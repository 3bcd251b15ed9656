"""The flow's graph, read statically from the source of its ``@step`` methods.

Each step's last statement must be ``self.next(...)``; the shape of that call gives the step's
transition: ``linear`` (one target), ``split`` (several targets, run in parallel), ``foreach`` (one target,
``foreach="var"``), ``switch`` (a dict of targets and ``condition="var"``, exactly one taken), or ``end``
(the ``end`` step, no ``self.next``). A step that takes ``inputs`` is a join. Nothing runs to build the
graph, so ``check`` and ``show`` work on any flow. Problems found while parsing are kept on the graph
and reported by the linter (``headwater.lint``) together with the structural rules.
"""

from __future__ import annotations

import ast
import difflib
import inspect
import linecache
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from headwater.exceptions import LintProblem

if TYPE_CHECKING:
    from headwater.decorators import FlowDecorator, StepDecorator
    from headwater.flowspec import FlowSpec

LINEAR, SPLIT, FOREACH, SWITCH, END = "linear", "split", "foreach", "switch", "end"


class StepNode:
    """One step: its transition, targets, decorators and where it is written."""

    def __init__(self, name: str, func: Any, file: str, line: int) -> None:
        self.name = name
        self.func = func
        self.file = file
        #: Line of the ``def`` statement.
        self.line = line
        #: Line of the step's ``self.next`` call (or of the ``def`` when there is none).
        self.next_line = line
        self.doc = inspect.getdoc(func) or ""
        self.transition: str = END
        self.out_funcs: list[str] = []
        self.in_funcs: list[str] = []
        self.foreach_param: str | None = None
        self.condition: str | None = None
        self.switch_cases: dict[Any, str] = {}
        self.num_args = 1
        self.decorators: list[StepDecorator] = list(getattr(func, "__hw_decorators__", ()))
        #: Enclosing splits, outermost first: ``(split_step, branch_step)``; branch is None for foreach.
        self.scope: tuple[tuple[str, str | None], ...] = ()
        #: For a join: the split it closes. For a split or foreach: the join that closes it.
        self.matching_split: str | None = None
        self.matching_join: str | None = None

    @property
    def is_join(self) -> bool:
        return self.num_args >= 2

    @property
    def type(self) -> str:
        """Metaflow-style node type: start, end, join, linear, split, foreach or switch."""
        if self.name == "start":
            return "start"
        if self.transition == END:
            return "end"
        if self.is_join and self.transition == LINEAR:
            return "join"
        return self.transition

    @property
    def location(self) -> str:
        return f"{self.file}:{self.line}"

    def decorator(self, name: str) -> StepDecorator | None:
        """This step's decorator called ``name``, or None."""
        for deco in self.decorators:
            if deco.name == name:
                return deco
        return None

    def copy(self) -> StepNode:
        clone = object.__new__(StepNode)
        clone.__dict__.update(self.__dict__)
        clone.decorators = list(self.decorators)
        clone.out_funcs = list(self.out_funcs)
        clone.in_funcs = list(self.in_funcs)
        clone.switch_cases = dict(self.switch_cases)
        return clone

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "transition": self.transition,
            "next": list(self.out_funcs),
            "foreach": self.foreach_param,
            "condition": self.condition,
            "cases": {str(k): v for k, v in self.switch_cases.items()},
            "join": self.is_join,
            "doc": self.doc,
            "line": self.line,
            "decorators": [d.spec() for d in self.decorators],
        }

    def __repr__(self) -> str:
        return f"StepNode({self.name!r}, {self.type}, next={self.out_funcs})"


class FlowGraph:
    """All steps of a flow class, linked, with the parse problems found on the way."""

    def __init__(self, flow: type[FlowSpec]) -> None:
        self.name = flow.__name__
        self.flow = flow
        self.nodes: dict[str, StepNode] = {}
        self.problems: list[LintProblem] = []
        for name, func in _step_functions(flow):
            node = _parse_step(name, func, self.problems)
            self.nodes[name] = node
        self.file = _source_file(flow, self.nodes)
        self.nodes = dict(sorted(self.nodes.items(), key=lambda kv: (kv[1].file, kv[1].line)))
        for node in self.nodes.values():
            for target in node.out_funcs:
                if target in self.nodes and node.name not in self.nodes[target].in_funcs:
                    self.nodes[target].in_funcs.append(node.name)

    @classmethod
    def of(cls, flow: type[FlowSpec]) -> FlowGraph:
        """The graph of ``flow``, parsed once per class."""
        cached = flow.__dict__.get("_hw_graph")
        if cached is None:
            cached = cls(flow)
            flow._hw_graph = cached  # type: ignore[attr-defined]
        return cached

    @property
    def flow_decorators(self) -> list[FlowDecorator]:
        """Decorators applied to the flow class (``@schedule``, ...), outermost first."""
        return list(self.flow.__dict__.get("__hw_flow_decorators__") or [])

    def __getitem__(self, name: str) -> StepNode:
        return self.nodes[name]

    def __contains__(self, name: object) -> bool:
        return name in self.nodes

    def __iter__(self) -> Iterator[StepNode]:
        return iter(self.nodes.values())

    def copy(self) -> FlowGraph:
        clone = object.__new__(FlowGraph)
        clone.__dict__.update(self.__dict__)
        clone.nodes = {name: node.copy() for name, node in self.nodes.items()}
        clone.problems = list(self.problems)
        return clone

    def topological(self) -> list[StepNode]:
        """Steps in the order a reader follows them: from ``start``, each after all its parents."""
        order: list[StepNode] = []
        seen: set[str] = set()

        def visit(name: str) -> None:
            if name in seen or name not in self.nodes:
                return
            node = self.nodes[name]
            parents = [p for p in node.in_funcs if p != name]
            if any(p not in seen for p in parents if p in reachable):
                return
            seen.add(name)
            order.append(node)
            for child in node.out_funcs:
                visit(child)

        reachable = self.reachable()
        visit("start")
        order += [n for n in self.nodes.values() if n.name not in seen]
        return order

    def reachable(self) -> set[str]:
        seen: set[str] = set()
        todo = ["start"] if "start" in self.nodes else []
        while todo:
            name = todo.pop()
            if name in seen or name not in self.nodes:
                continue
            seen.add(name)
            todo.extend(self.nodes[name].out_funcs)
        return seen

    def descendants(self, name: str) -> set[str]:
        """``name`` and every step reachable from it."""
        seen: set[str] = set()
        todo = [name]
        while todo:
            step = todo.pop()
            if step in seen or step not in self.nodes:
                continue
            seen.add(step)
            todo.extend(self.nodes[step].out_funcs)
        return seen

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "file": self.file, "steps": [n.to_dict() for n in self.topological()]}


# --------------------------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------------------------


def _step_functions(flow: type) -> list[tuple[str, Any]]:
    """``(name, function)`` for every ``@step`` of the class and its bases (subclass wins)."""
    steps: dict[str, Any] = {}
    for klass in reversed(flow.__mro__):
        for name, value in vars(klass).items():
            if getattr(value, "_hw_is_step", False):
                steps[name] = value
            elif name in steps:
                del steps[name]
    return list(steps.items())


def _source_file(flow: type, nodes: dict[str, StepNode]) -> str:
    """The file the flow class is written in (its steps' file when the module cannot say)."""
    try:
        found = inspect.getsourcefile(flow)
    except (TypeError, OSError):  # a class whose module is not in sys.modules, or typed at a prompt
        found = None
    if found:
        return found
    return next((node.file for node in nodes.values()), "<unknown>")


_ast_cache: dict[str, dict[int, ast.FunctionDef | ast.AsyncFunctionDef]] = {}


def _function_defs(filename: str) -> dict[int, ast.FunctionDef | ast.AsyncFunctionDef]:
    """Function definitions of a source file, keyed by their first line (first decorator included)."""
    if filename not in _ast_cache:
        source = "".join(linecache.getlines(filename))
        defs: dict[int, ast.FunctionDef | ast.AsyncFunctionDef] = {}
        if source:
            for node in ast.walk(ast.parse(source, filename)):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    first = min([d.lineno for d in node.decorator_list] + [node.lineno])
                    defs[first] = node
        _ast_cache[filename] = defs
    return _ast_cache[filename]


def _parse_step(name: str, func: Any, problems: list[LintProblem]) -> StepNode:
    from headwater.decorators import definition_problems

    code = func.__code__
    filename = code.co_filename
    node = StepNode(name, func, filename, code.co_firstlineno)
    node.num_args = code.co_argcount
    for message in definition_problems(func):
        problems.append(LintProblem("bad-decorator", f"Step `{name}`: {message}", "", filename, code.co_firstlineno))
    fdef = _function_defs(filename).get(code.co_firstlineno)
    if fdef is None:
        problems.append(
            LintProblem(
                "no-source",
                f"The source of step `{name}` cannot be read, so its transitions are unknown.",
                "Define the flow in a .py file (or a notebook cell) whose source Python can find.",
                filename,
                code.co_firstlineno,
            )
        )
        return node
    node.line = node.next_line = fdef.lineno
    _parse_transition(node, fdef, problems)
    return node


def _is_self_next(call: ast.AST) -> bool:
    return (
        isinstance(call, ast.Call)
        and isinstance(call.func, ast.Attribute)
        and call.func.attr == "next"
        and isinstance(call.func.value, ast.Name)
        and call.func.value.id == "self"
    )


def _self_attr(expr: ast.AST) -> str | None:
    if isinstance(expr, ast.Attribute) and isinstance(expr.value, ast.Name) and expr.value.id == "self":
        return expr.attr
    return None


def _parse_transition(
    node: StepNode, fdef: ast.FunctionDef | ast.AsyncFunctionDef, problems: list[LintProblem]
) -> None:
    body = list(fdef.body)
    tail = body[-1] if body else None
    tail_call = tail.value if isinstance(tail, ast.Expr) else None
    if tail_call is not None and _is_self_next(tail_call) and node.name != "end":
        assert isinstance(tail_call, ast.Call)
        node.next_line = tail_call.lineno
        _parse_next_call(node, tail_call, problems)
        return
    elsewhere = [n for n in ast.walk(fdef) if _is_self_next(n)]
    if node.name == "end":
        node.transition = END
        if elsewhere:
            line = elsewhere[0].lineno  # type: ignore[attr-defined]
            problems.append(
                LintProblem(
                    "end-has-next",
                    "The `end` step calls self.next, but nothing can follow it.",
                    "Remove the self.next call from `end`.",
                    node.file,
                    line,
                )
            )
        return
    if elsewhere:
        line = elsewhere[0].lineno  # type: ignore[attr-defined]
        problems.append(
            LintProblem(
                "misplaced-next",
                f"In step `{node.name}`, self.next is not the last statement of the step.",
                "Move a single self.next(...) to the end of the step; to choose a branch at run "
                "time use self.next({...}, condition='attr').",
                node.file,
                line,
            )
        )
    else:
        problems.append(
            LintProblem(
                "missing-next",
                f"Step `{node.name}` does not end with self.next(...).",
                "End the step with self.next(self.<next_step>); only the `end` step has no successor.",
                node.file,
                node.line,
            )
        )


def _parse_next_call(node: StepNode, call: ast.Call, problems: list[LintProblem]) -> None:
    def bad(message: str, hint: str) -> None:
        problems.append(LintProblem("bad-next", message, hint, node.file, call.lineno))

    kwargs = {k.arg: k.value for k in call.keywords}
    for key in kwargs:
        if key not in ("foreach", "condition"):
            what = "@parallel / num_parallel is not supported" if key == "num_parallel" else f"`{key}=`"
            bad(f"Step `{node.name}`: self.next got an unknown argument {what}.", "Use foreach= or condition=.")
    if call.args and isinstance(call.args[0], ast.Dict):
        if len(call.args) != 1:
            bad(f"Step `{node.name}`: a conditional self.next takes one dict.", "Pass only the dict.")
        cond = kwargs.get("condition")
        if not (isinstance(cond, ast.Constant) and isinstance(cond.value, str)):
            bad(
                f"Step `{node.name}`: a conditional self.next needs condition='<attribute name>'.",
                "Add condition='name_of_the_artifact_holding_the_choice'.",
            )
        else:
            node.condition = cond.value
        node.transition = SWITCH
        for key_node, value in zip(call.args[0].keys, call.args[0].values, strict=True):
            target = _self_attr(value)
            if not isinstance(key_node, ast.Constant) or target is None:
                bad(
                    f"Step `{node.name}`: each case of a conditional self.next maps a literal to self.<step>.",
                    "Write self.next({'a': self.step_a, 'b': self.step_b}, condition='attr').",
                )
                continue
            node.switch_cases[key_node.value] = target
            if target not in node.out_funcs:
                node.out_funcs.append(target)
        return
    if "condition" in kwargs:
        bad(
            f"Step `{node.name}`: condition= needs a dict of cases.",
            "Write self.next({'a': self.a, ...}, condition='attr').",
        )
    targets = []
    for arg in call.args:
        target = _self_attr(arg)
        if target is None:
            bad(
                f"Step `{node.name}`: self.next takes steps as self.<step>, got `{ast.unparse(arg)}`.",
                "Pass the next step(s) as attributes of self, e.g. self.next(self.train).",
            )
            continue
        targets.append(target)
    node.out_funcs = targets
    if not targets:
        bad(f"Step `{node.name}`: self.next() names no step.", "Pass the next step, e.g. self.next(self.end).")
        node.transition = LINEAR
        return
    if "foreach" in kwargs:
        var = kwargs["foreach"]
        if not (isinstance(var, ast.Constant) and isinstance(var.value, str)):
            bad(
                f"Step `{node.name}`: foreach= must be the name of an artifact, as a string.",
                "Write self.next(self.body, foreach='items') after setting self.items.",
            )
        else:
            node.foreach_param = var.value
        if len(targets) != 1:
            bad(f"Step `{node.name}`: a foreach goes to exactly one step.", "Pass one step with foreach=.")
        node.transition = FOREACH
    elif len(targets) > 1:
        node.transition = SPLIT
    else:
        node.transition = LINEAR


def suggest(name: str, choices: list[str]) -> str:
    """`` Did you mean `x`?`` when a close match exists."""
    close = difflib.get_close_matches(name, choices, n=1)
    return f" Did you mean `{close[0]}`?" if close else ""
