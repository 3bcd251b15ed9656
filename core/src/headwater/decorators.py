"""Step and flow decorators: declarative attributes attached to steps, resolved by name.

A decorator here only records *what the user asked for* (``@retry(times=2)``) and checks it; what it does
lives in hook implementations that read it from the step (``step.decorator("retry")``), so a compute plugin
can act on ``@resources`` without the core knowing the plugin. Decorators are registered by name through
the ``register_step_decorators`` hook, which is how ``--with NAME:key=value`` finds them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from headwater.exceptions import DecoratorError, LintProblem

if TYPE_CHECKING:
    from headwater.graph import FlowGraph, StepNode

F = TypeVar("F", bound=Callable[..., Any])


class StepDecorator:
    """Base of every step decorator. Subclasses set ``name`` and ``defaults``."""

    name: ClassVar[str] = ""
    defaults: ClassVar[dict[str, Any]] = {}
    #: Whether the same step may carry this decorator more than once.
    allow_multiple: ClassVar[bool] = False

    def __init__(self, attributes: dict[str, Any] | None = None, statically_defined: bool = True) -> None:
        given = dict(attributes or {})
        unknown = sorted(set(given) - set(self.defaults))
        if unknown:
            valid = ", ".join(self.defaults) or "none"
            raise DecoratorError(
                f"@{self.name} has no attribute {', '.join(map(repr, unknown))}.",
                f"Valid attributes of @{self.name}: {valid}.",
            )
        self.attributes: dict[str, Any] = {**self.defaults, **given}
        #: Attributes the user gave explicitly (the rest are defaults).
        self.explicit = frozenset(given)
        #: False when attached by ``--with`` rather than written in the source.
        self.statically_defined = statically_defined
        self.validate()

    def validate(self) -> None:
        """Check and normalise ``self.attributes``; raise ``DecoratorError`` naming the attribute."""

    def lint(self, graph: FlowGraph, step: StepNode) -> list[LintProblem]:
        """Rules that depend on where the decorator is used (e.g. not on a foreach step)."""
        return []

    def spec(self) -> str:
        """``name:key=value,...`` with the attributes that differ from the defaults, as ``--with`` takes it."""
        changed = sorted(k for k in self.attributes if self.attributes[k] != self.defaults.get(k))
        if not changed:
            return self.name
        parts = [f"{k}={json.dumps(self.attributes[k])}" for k in changed]
        return f"{self.name}:{','.join(parts)}"

    def __getitem__(self, key: str) -> Any:
        return self.attributes[key]

    def __repr__(self) -> str:
        return f"@{self.spec()}"

    # -- coercion helpers for validate() ------------------------------------------------------------------

    def _number(self, key: str, kind: type = float, minimum: float = 0) -> None:
        value = self.attributes[key]
        if value is None:
            return
        try:
            if isinstance(value, bool) or (kind is int and isinstance(value, float) and not value.is_integer()):
                raise ValueError(value)
            number = kind(value)
        except (TypeError, ValueError):
            raise DecoratorError(
                f"@{self.name}({key}={value!r}): {key} must be a {'whole ' if kind is int else ''}number.",
                f"Write e.g. @{self.name}({key}={kind(1)}).",
            ) from None
        if number < minimum:
            raise DecoratorError(f"@{self.name}({key}={value!r}): {key} must be at least {minimum}.")
        self.attributes[key] = number


class FlowDecorator:
    """Base of decorators applied to the ``FlowSpec`` class itself (``@schedule``, ``@project``).

    Like step decorators they only record what was asked: ``MyDecorator({"daily": True})(FlowClass)``
    adds itself to the class (``apply_flow`` supports ``@deco`` and ``@deco(key=value)``), plugins read it
    from ``graph.flow_decorators``, and the linter reports a bad one with the class's file and line.
    """

    name: ClassVar[str] = ""
    defaults: ClassVar[dict[str, Any]] = {}

    def __init__(self, attributes: dict[str, Any] | None = None) -> None:
        given = dict(attributes or {})
        unknown = sorted(set(given) - set(self.defaults))
        if unknown:
            raise DecoratorError(
                f"@{self.name} has no attribute {', '.join(map(repr, unknown))}.",
                f"Valid attributes of @{self.name}: {', '.join(self.defaults) or 'none'}.",
            )
        self.attributes = {**self.defaults, **given}
        #: Attributes the user gave explicitly (the rest are defaults).
        self.explicit = frozenset(given)
        self.validate()

    def validate(self) -> None:
        """Check and normalise ``self.attributes``; raise ``DecoratorError`` naming the attribute."""

    def lint(self, graph: FlowGraph) -> list[LintProblem]:
        """Rules that depend on the flow (a schedule on a flow with required parameters, ...)."""
        return []

    def __call__(self, flow: type) -> type:
        applied: list[FlowDecorator] = flow.__dict__.get("__hw_flow_decorators__") or []
        if any(d.name == self.name for d in applied):
            duplicate = InvalidFlowDecorator(self.name, DecoratorError(f"@{self.name} is given twice.", "Keep one."))
            flow.__hw_flow_decorators__ = [duplicate, *applied]  # type: ignore[attr-defined]
            return flow
        flow.__hw_flow_decorators__ = [self, *applied]  # type: ignore[attr-defined]
        return flow

    def __getitem__(self, key: str) -> Any:
        return self.attributes[key]

    def __repr__(self) -> str:
        changed = {k: v for k, v in self.attributes.items() if k in self.explicit}
        return f"@{self.name}({', '.join(f'{k}={v!r}' for k, v in changed.items())})"


class InvalidFlowDecorator(FlowDecorator):
    """Stands in for a flow decorator written with bad attributes; the linter reports it."""

    def __init__(self, name: str, error: DecoratorError) -> None:
        self.name = name  # type: ignore[misc]
        self.error = error
        self.attributes = {}
        self.explicit = frozenset()

    def lint(self, graph: FlowGraph) -> list[LintProblem]:
        line = getattr(graph.flow, "__firstlineno__", None)
        if line is None:
            import inspect

            try:
                line = inspect.getsourcelines(graph.flow)[1]
            except (OSError, TypeError):
                line = None
        message = f"{graph.name}: {self.error.message}"
        return [LintProblem("bad-decorator", message, self.error.hint or "", graph.file, line)]


def apply_flow(cls: type[FlowDecorator], flow: Any = None, **attributes: Any) -> Any:
    """Support both ``@deco`` and ``@deco(key=value)`` above a flow class."""
    try:
        deco: FlowDecorator = cls(attributes)
    except DecoratorError as e:
        deco = InvalidFlowDecorator(cls.name, e)
    return deco(flow) if flow is not None else deco


def flow_decorator_problems(graph: FlowGraph) -> list[LintProblem]:
    """What the flow's decorators find wrong (bad attributes, misuse), with the class's file and line."""
    found: list[LintProblem] = []
    for deco in graph.flow_decorators:
        found += deco.lint(graph)
    return found


class InvalidDecorator(StepDecorator):
    """Stands in for a decorator written with bad attributes; the linter reports it with file:line."""

    def __init__(self, name: str, error: DecoratorError) -> None:
        self.name = name  # type: ignore[misc]
        self.error = error
        self.attributes = {}
        self.explicit = frozenset()
        self.statically_defined = True

    def lint(self, graph: FlowGraph, step: StepNode) -> list[LintProblem]:
        message = f"Step `{step.name}`: {self.error.message}"
        return [LintProblem("bad-decorator", message, self.error.hint or "", step.file, step.line)]


def definition_problems(func: Any) -> list[str]:
    """Mistakes in how decorators were stacked on ``func`` (recorded, reported by the linter)."""
    return list(getattr(func, "__hw_problems__", ()))


def attach(func: F, deco: StepDecorator) -> F:
    """Attach ``deco`` to a step function; the function must already be a ``@step``.

    Misuse is recorded on the function rather than raised, so that the class can still be built and the
    linter can report every problem at once, with its file and line.
    """
    problems: list[str] = func.__dict__.setdefault("__hw_problems__", [])
    if not getattr(func, "_hw_is_step", False):
        problems.append(f"@{deco.name} must be placed above @step (@step is the innermost decorator).")
        return func
    existing: list[StepDecorator] = func.__dict__.setdefault("__hw_decorators__", [])
    if not deco.allow_multiple and any(d.name == deco.name for d in existing):
        problems.append(f"@{deco.name} is given twice; keep one.")
        return func
    existing.insert(0, deco)
    return func


def apply(cls: type[StepDecorator], func: Any, **attributes: Any) -> Any:
    """Support both ``@deco`` and ``@deco(key=value)`` for a decorator class."""
    try:
        deco: StepDecorator = cls() if func is not None else cls(attributes)
    except DecoratorError as e:
        deco = InvalidDecorator(cls.name, e)
    if func is not None:
        return attach(func, deco)
    return lambda f: attach(f, deco)


def split_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """Parse ``name:key=value,key=value`` (values may be JSON with commas) into name and attributes."""
    name, _, rest = spec.partition(":")
    name = name.strip()
    attributes: dict[str, Any] = {}
    if not rest.strip():
        return name, attributes
    parts, depth, quote, current, escaped = [], 0, "", "", False
    for ch in rest:
        if quote:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch in "[{(":
            depth += 1
        elif ch in "]})":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(current)
            current = ""
            continue
        current += ch
    parts.append(current)
    for part in parts:
        key, eq, raw = part.partition("=")
        if not eq or not key.strip():
            raise DecoratorError(
                f"--with {spec!r}: `{part}` is not key=value.", f"Write --with {name}:key=value,key2=value2."
            )
        try:
            value: Any = json.loads(raw)
        except ValueError:
            value = raw.strip()
        attributes[key.strip()] = value
    return name, attributes


def from_spec(spec: str, registry: dict[str, type[StepDecorator]]) -> StepDecorator:
    """Build a decorator from a ``--with`` spec, resolving its name through the registry."""
    from headwater.plugins import lookup

    name, attributes = split_spec(spec)
    cls = lookup("step decorator", name, registry)
    return cls(attributes, statically_defined=False)


def with_decorators(graph: FlowGraph, specs: list[str]) -> FlowGraph:
    """A copy of ``graph`` with ``--with`` decorators added to every step that lacks one of that name."""
    if not specs:
        return graph
    from headwater.plugins import step_decorators

    registry = step_decorators()
    graph = graph.copy()
    for spec in specs:
        for node in graph:
            deco = from_spec(spec, registry)
            if deco.allow_multiple or node.decorator(deco.name) is None:
                node.decorators.append(deco)
    return graph
