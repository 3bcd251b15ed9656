"""Tests of ``headwater.decorators`` and the standard step decorators (retry, catch, timeout, resources,
environment): attribute checks and coercion, ``--with`` specs, attaching to steps, and the task policies
the built-in plugins derive from them."""

from __future__ import annotations

import os
from types import SimpleNamespace

import pytest

from headwater import FlowSpec, catch, environment, resources, retry, step, timeout
from headwater import plugins as plugin_registry
from headwater.builtins import catch as catch_plugin
from headwater.builtins import environment_vars as environment_plugin
from headwater.builtins import retry as retry_plugin
from headwater.builtins import timeout as timeout_plugin
from headwater.builtins.catch import CatchDecorator
from headwater.builtins.environment_vars import EnvironmentDecorator
from headwater.builtins.resources import ResourcesDecorator
from headwater.builtins.retry import RetryDecorator
from headwater.builtins.timeout import TimeoutDecorator
from headwater.decorators import (
    FlowDecorator,
    InvalidDecorator,
    StepDecorator,
    apply,
    attach,
    definition_problems,
    from_spec,
    split_spec,
    with_decorators,
)
from headwater.exceptions import DecoratorError, PluginError
from headwater.graph import FlowGraph
from headwater.hookspecs import hookimpl
from headwater.runtime.context import TaskAttempt, TaskCommand, TaskPolicy

BUILTINS = {
    cls.name: cls
    for cls in (RetryDecorator, CatchDecorator, TimeoutDecorator, ResourcesDecorator, EnvironmentDecorator)
}


class Sample(StepDecorator):
    """A decorator for testing the base class."""

    name = "sample"
    defaults = {"size": 1, "label": None}

    def validate(self):
        self._number("size", int, minimum=1)


class Tagged(StepDecorator):
    """A decorator that a step may carry several times."""

    name = "tagged"
    defaults = {"tag": ""}
    allow_multiple = True


def tagged(func=None, **attributes):
    return apply(Tagged, func, **attributes)


class PolicyFlow(FlowSpec):
    @retry(times=2, minutes_between_retries=0.5)
    @step
    def start(self):
        self.next(self.middle)

    @retry
    @catch(var="failure")
    @timeout(minutes=10)
    @step
    def middle(self):
        self.next(self.quick)

    @timeout(seconds=10)
    @step
    def quick(self):
        self.next(self.end)

    @resources(cpu=2, memory=1024)
    @environment(vars={"A": "1"})
    @step
    def end(self):
        pass


@pytest.fixture(scope="module")
def policy_graph():
    return FlowGraph(PolicyFlow)


@pytest.fixture
def plugin_manager(monkeypatch):
    """A fresh plugin manager with the built-ins only (no installed plugins); forgotten after the test."""
    monkeypatch.setenv("HEADWATER_LOAD_PLUGINS", "")
    monkeypatch.delenv("HEADWATER_DISABLE_PLUGINS", raising=False)
    plugin_registry.reset()
    yield plugin_registry
    plugin_registry.reset()


# --------------------------------------------------------------------------------------------------------
# The base classes
# --------------------------------------------------------------------------------------------------------


def test_defaults_and_explicit_attributes():
    deco = Sample({"label": "x"})
    assert deco.attributes == {"size": 1, "label": "x"}
    assert deco.explicit == frozenset({"label"})
    assert deco.statically_defined
    assert deco["label"] == "x"
    assert not Sample(statically_defined=False).statically_defined


def test_unknown_attribute_lists_the_valid_ones():
    with pytest.raises(DecoratorError) as info:
        Sample({"sise": 2, "colour": "red"})
    assert info.value.message == "@sample has no attribute 'colour', 'sise'."
    assert info.value.hint == "Valid attributes of @sample: size, label."


def test_unknown_attribute_of_a_decorator_without_attributes():
    class Bare(StepDecorator):
        name = "bare"

    with pytest.raises(DecoratorError) as info:
        Bare({"x": 1})
    assert info.value.hint == "Valid attributes of @bare: none."


@pytest.mark.parametrize(("given", "expected"), [("3", 3), (3, 3), (None, None)])
def test_number_coerces_or_keeps_none(given, expected):
    assert Sample({"size": given})["size"] == expected


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("big", "@sample(size='big'): size must be a whole number."),
        ([1], "@sample(size=[1]): size must be a whole number."),
        (0, "@sample(size=0): size must be at least 1."),
    ],
)
def test_number_errors_name_the_attribute(given, message):
    with pytest.raises(DecoratorError) as info:
        Sample({"size": given})
    assert info.value.message == message


def test_whole_number_attribute_rejects_a_fraction():
    with pytest.raises(DecoratorError, match="whole number"):
        RetryDecorator({"times": 2.5})


@pytest.mark.parametrize(
    ("attributes", "spec"),
    [
        ({}, "sample"),
        ({"size": 2}, "sample:size=2"),
        ({"size": 2, "label": "a,b"}, 'sample:label="a,b",size=2'),
    ],
)
def test_spec_lists_explicit_attributes_as_json(attributes, spec):
    deco = Sample(attributes)
    assert deco.spec() == spec
    assert repr(deco) == f"@{spec}"


def test_flow_decorator_defaults_and_unknown_attribute():
    class Schedule(FlowDecorator):
        name = "schedule"
        defaults = {"cron": None, "daily": True}

    deco = Schedule({"cron": "0 * * * *"})
    assert deco.attributes == {"cron": "0 * * * *", "daily": True}
    assert deco["daily"] is True
    with pytest.raises(DecoratorError) as info:
        Schedule({"hourly": True})
    assert info.value.message == "@schedule has no attribute 'hourly'."
    assert info.value.hint == "Valid attributes of @schedule: cron, daily."


# --------------------------------------------------------------------------------------------------------
# Attaching decorators to steps
# --------------------------------------------------------------------------------------------------------


def test_decorators_attach_in_source_order():
    @retry(times=1)
    @catch
    @step
    def body(self):
        pass

    assert [d.name for d in body.__hw_decorators__] == ["retry", "catch"]
    assert definition_problems(body) == []


def test_decorator_below_step_is_recorded_not_raised():
    @step
    @retry
    def body(self):
        pass

    assert body.__hw_decorators__ == []
    assert definition_problems(body) == ["@retry must be placed above @step (@step is the innermost decorator)."]


def test_same_decorator_twice_is_recorded_and_the_first_one_kept():
    @retry(times=5)
    @retry(times=1)
    @step
    def body(self):
        pass

    assert [d["times"] for d in body.__hw_decorators__] == [1]
    assert definition_problems(body) == ["@retry is given twice; keep one."]


def test_decorator_allowing_multiple_instances():
    @tagged(tag="b")
    @tagged(tag="a")
    @step
    def body(self):
        pass

    assert [d["tag"] for d in body.__hw_decorators__] == ["b", "a"]
    assert definition_problems(body) == []


def test_bad_attributes_give_an_invalid_decorator_reported_by_lint(policy_graph):
    @retry(times="often")
    @step
    def body(self):
        pass

    [deco] = body.__hw_decorators__
    assert isinstance(deco, InvalidDecorator)
    assert deco.name == "retry"
    assert deco.attributes == {}
    [problem] = deco.lint(policy_graph, policy_graph["start"])
    assert problem.rule == "bad-decorator"
    assert problem.message == "Step `start`: @retry(times='often'): times must be a whole number."
    assert (problem.file, problem.line) == (policy_graph["start"].file, policy_graph["start"].line)


def test_bare_timeout_is_recorded_for_the_linter_not_raised():
    @timeout
    @step
    def body(self):
        pass

    assert isinstance(body.__hw_decorators__[0], InvalidDecorator)


def test_attach_requires_a_step_function():
    def plain(self):
        pass

    assert attach(plain, Sample()) is plain
    assert definition_problems(plain) == ["@sample must be placed above @step (@step is the innermost decorator)."]


# --------------------------------------------------------------------------------------------------------
# --with specs
# --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("retry", ("retry", {})),
        ("retry:", ("retry", {})),
        (" retry : times = 2 ", ("retry", {"times": 2})),
        ("retry:times=2,minutes_between_retries=0.5", ("retry", {"times": 2, "minutes_between_retries": 0.5})),
        ("catch:var=error,print_exception=false", ("catch", {"var": "error", "print_exception": False})),
        ('catch:var="error"', ("catch", {"var": "error"})),
        ('environment:vars={"A":"1","B":"2"}', ("environment", {"vars": {"A": "1", "B": "2"}})),
        ('environment:vars={"A": "x,y"},other=[1, 2]', ("environment", {"vars": {"A": "x,y"}, "other": [1, 2]})),
        ("sample:label='a,b',size=3", ("sample", {"label": "'a,b'", "size": 3})),
        ("sample:label=a=b", ("sample", {"label": "a=b"})),
        ("resources:gpu=null", ("resources", {"gpu": None})),
    ],
)
def test_split_spec(spec, expected):
    assert split_spec(spec) == expected


def test_split_spec_with_an_escaped_quote_in_a_json_string():
    assert split_spec(r'environment:vars={"A":"5\" tall"},x=1') == ("environment", {"vars": {"A": '5" tall'}, "x": 1})


@pytest.mark.parametrize("spec", ["retry:times", "retry:=2", "retry:times=1,,"])
def test_split_spec_rejects_parts_without_key_and_value(spec):
    with pytest.raises(DecoratorError) as info:
        split_spec(spec)
    assert info.value.message.startswith(f"--with {spec!r}: ")
    assert "is not key=value" in info.value.message
    assert info.value.hint == "Write --with retry:key=value,key2=value2."


def test_from_spec_builds_a_decorator_not_statically_defined():
    deco = from_spec('environment:vars={"A":"1","B":"2"}', BUILTINS)
    assert isinstance(deco, EnvironmentDecorator)
    assert deco["vars"] == {"A": "1", "B": "2"}
    assert deco.statically_defined is False
    assert deco.explicit == frozenset({"vars"})


def test_from_spec_unknown_name_lists_known_decorators():
    with pytest.raises(PluginError) as info:
        from_spec("retyr:times=2", BUILTINS)
    assert info.value.message == "Unknown step decorator 'retyr'."
    assert info.value.hint.startswith("Known step decorators: catch, environment, resources, retry, timeout.")


def test_from_spec_bad_attribute_is_a_decorator_error():
    with pytest.raises(DecoratorError, match=r"@retry has no attribute 'tims'"):
        from_spec("retry:tims=2", BUILTINS)


@pytest.mark.parametrize(
    "deco",
    [
        RetryDecorator({"times": 4, "minutes_between_retries": 1}),
        CatchDecorator({"var": "err", "print_exception": False}),
        TimeoutDecorator({"hours": 1, "seconds": 30}),
        ResourcesDecorator({"cpu": 2, "memory": 1024, "gpu": 1}),
        EnvironmentDecorator({"vars": {"A": "1", "B": "x,y"}}),
    ],
    ids=lambda d: d.name,
)
def test_spec_round_trips_through_from_spec(deco):
    again = from_spec(deco.spec(), BUILTINS)
    assert type(again) is type(deco)
    assert again.attributes == deco.attributes
    assert again.explicit == deco.explicit


def test_builtin_decorators_are_registered(plugin_manager):
    registry = plugin_manager.step_decorators()
    assert {name: registry[name] for name in BUILTINS} == BUILTINS


def test_with_decorators_adds_to_every_step_but_keeps_existing_ones(plugin_manager, policy_graph):
    graph = with_decorators(policy_graph, ["retry:times=7", "timeout:seconds=30"])
    assert graph is not policy_graph
    # `start` and `middle` keep their own @retry; the others get the one from --with.
    assert {node.name: node.decorator("retry")["times"] for node in graph} == {
        "start": 2,
        "middle": 3,
        "quick": 7,
        "end": 7,
    }
    assert {node.name: node.decorator("timeout").total_seconds for node in graph} == {
        "start": 30,
        "middle": 600,
        "quick": 10,
        "end": 30,
    }
    added = graph["end"].decorator("retry")
    assert added.statically_defined is False
    assert added is not graph["quick"].decorator("retry")
    # The graph it was given is unchanged.
    assert policy_graph["end"].decorator("retry") is None
    assert [d.name for d in policy_graph["quick"].decorators] == ["timeout"]


def test_with_decorators_without_specs_returns_the_same_graph(policy_graph):
    assert with_decorators(policy_graph, []) is policy_graph


def test_with_decorators_unknown_name(plugin_manager, policy_graph):
    with pytest.raises(PluginError, match="Unknown step decorator 'nope'"):
        with_decorators(policy_graph, ["nope"])


class _TaggedPlugin:
    @hookimpl
    def register_step_decorators(self, register):
        register(Tagged)


def test_with_decorators_adds_a_decorator_allowing_multiple_even_when_present(plugin_manager):
    class MultiFlow(FlowSpec):
        @tagged(tag="own")
        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass

    name = plugin_manager.register_plugin(_TaggedPlugin(), name="test-tagged")
    try:
        graph = with_decorators(FlowGraph(MultiFlow), ['tagged:tag="cli"'])
    finally:
        plugin_manager.unregister_plugin(name)
    assert [d["tag"] for d in graph["start"].decorators] == ["own", "cli"]
    assert [d["tag"] for d in graph["end"].decorators] == ["cli"]


# --------------------------------------------------------------------------------------------------------
# The standard decorators
# --------------------------------------------------------------------------------------------------------


def test_retry_defaults_and_coercion():
    deco = RetryDecorator()
    assert deco.attributes == {"times": 3, "minutes_between_retries": 2.0}
    assert RetryDecorator({"times": "4", "minutes_between_retries": "1.5"}).attributes == {
        "times": 4,
        "minutes_between_retries": 1.5,
    }


@pytest.mark.parametrize(
    ("attributes", "message"),
    [
        ({"times": 101}, "@retry(times=101) is more than 100 retries."),
        ({"times": -1}, "@retry(times=-1): times must be at least 0."),
        (
            {"minutes_between_retries": "soon"},
            "@retry(minutes_between_retries='soon'): minutes_between_retries must be a number.",
        ),
    ],
)
def test_retry_rejects_bad_values(attributes, message):
    with pytest.raises(DecoratorError) as info:
        RetryDecorator(attributes)
    assert info.value.message == message


def test_retry_function_marks_only_the_given_minutes_as_explicit():
    @retry
    @step
    def bare(self):
        pass

    @retry(times=1)
    @step
    def counted(self):
        pass

    @retry(minutes_between_retries=0)
    @step
    def immediate(self):
        pass

    assert bare.__hw_decorators__[0].explicit == frozenset()
    assert counted.__hw_decorators__[0].explicit == frozenset({"times"})
    assert immediate.__hw_decorators__[0].explicit == frozenset({"times", "minutes_between_retries"})


def test_retry_policy_waits_only_when_minutes_are_explicit(policy_graph):
    assert retry_plugin.resolve_task_policy(step=policy_graph["start"], flow=PolicyFlow) == TaskPolicy(
        user_retries=2, retry_delay_seconds=30.0
    )
    # @retry with the default of 2 minutes: retried at once locally.
    assert retry_plugin.resolve_task_policy(step=policy_graph["middle"], flow=PolicyFlow) == TaskPolicy(
        user_retries=3, retry_delay_seconds=0.0
    )
    assert retry_plugin.resolve_task_policy(step=policy_graph["quick"], flow=PolicyFlow) is None


def test_retry_policy_of_a_with_decorator_uses_explicit_minutes(plugin_manager, policy_graph):
    graph = with_decorators(policy_graph, ["retry:times=1,minutes_between_retries=2"])
    assert retry_plugin.resolve_task_policy(step=graph["end"], flow=PolicyFlow) == TaskPolicy(
        user_retries=1, retry_delay_seconds=120.0
    )


def test_catch_attributes():
    assert CatchDecorator().attributes == {"var": None, "print_exception": True}
    assert CatchDecorator({"var": "err"})["var"] == "err"


@pytest.mark.parametrize("var", ["", "1abc", "_private", "has space", 3])
def test_catch_rejects_a_var_that_is_not_an_artifact_name(var):
    with pytest.raises(DecoratorError) as info:
        CatchDecorator({"var": var})
    assert info.value.message == f"@catch(var={var!r}): var must be an artifact name."


def test_catch_policy_adds_one_fallback_attempt(policy_graph):
    policy = catch_plugin.resolve_task_policy(step=policy_graph["middle"], flow=PolicyFlow)
    assert policy == TaskPolicy(fallback_retries=1)
    assert policy.max_attempts == 2
    assert catch_plugin.resolve_task_policy(step=policy_graph["start"], flow=PolicyFlow) is None


def test_catch_lint_allows_linear_steps(policy_graph):
    middle = policy_graph["middle"]
    assert middle.decorator("catch").lint(policy_graph, middle) == []


def test_timeout_total_seconds_and_validation():
    assert TimeoutDecorator({"seconds": 30, "minutes": 2, "hours": 1}).total_seconds == 3750.0
    assert TimeoutDecorator({"minutes": "1.5"}).total_seconds == 90.0
    with pytest.raises(DecoratorError) as info:
        TimeoutDecorator()
    assert (info.value.message, info.value.hint) == ("@timeout needs a duration.", "Write e.g. @timeout(minutes=10).")
    with pytest.raises(DecoratorError, match=r"seconds must be at least 0"):
        TimeoutDecorator({"seconds": -5, "minutes": 1})


def test_timeout_policy_adds_a_safety_margin(policy_graph):
    # At least 5 seconds, else 10 % of the limit.
    assert timeout_plugin.resolve_task_policy(step=policy_graph["quick"], flow=PolicyFlow) == TaskPolicy(
        timeout_seconds=15.0
    )
    assert timeout_plugin.resolve_task_policy(step=policy_graph["middle"], flow=PolicyFlow) == TaskPolicy(
        timeout_seconds=660.0
    )
    assert timeout_plugin.resolve_task_policy(step=policy_graph["start"], flow=PolicyFlow) is None


def test_policies_combine_field_by_field(policy_graph):
    middle = policy_graph["middle"]
    combined = TaskPolicy()
    for plugin in (retry_plugin, catch_plugin, timeout_plugin):
        combined = combined.combine(plugin.resolve_task_policy(step=middle, flow=PolicyFlow))
    assert combined == TaskPolicy(user_retries=3, fallback_retries=1, retry_delay_seconds=0.0, timeout_seconds=660.0)
    assert combined.max_attempts == 5


def test_resources_coercion_and_spec(policy_graph):
    deco = policy_graph["end"].decorator("resources")
    assert deco.attributes == {"cpu": 2.0, "memory": 1024, "gpu": None, "disk": None, "shared_memory": None}
    assert deco.spec() == "resources:cpu=2.0,memory=1024"
    assert ResourcesDecorator({"memory": "2048", "gpu": "1"}).attributes["memory"] == 2048
    assert ResourcesDecorator({"cpu": "0.5"})["cpu"] == 0.5


@pytest.mark.parametrize(
    ("attributes", "message"),
    [
        ({"cpu": "many"}, "@resources(cpu='many'): cpu must be a number."),
        ({"memory": "lots"}, "@resources(memory='lots'): memory must be a whole number."),
        ({"gpu": -1}, "@resources(gpu=-1): gpu must be at least 0."),
    ],
)
def test_resources_rejects_bad_values(attributes, message):
    with pytest.raises(DecoratorError) as info:
        ResourcesDecorator(attributes)
    assert info.value.message == message


def test_environment_values_become_strings():
    deco = EnvironmentDecorator({"vars": {"THREADS": 4, "FLAG": True}})
    assert deco["vars"] == {"THREADS": "4", "FLAG": "True"}
    assert EnvironmentDecorator()["vars"] == {}
    # The class default is not shared with instances.
    assert EnvironmentDecorator.defaults == {"vars": {}}


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ("A=1", "@environment(vars='A=1'): vars must be a dict."),
        ({"": "1"}, "@environment: '' is not a valid variable name."),
        ({"A=B": "1"}, "@environment: 'A=B' is not a valid variable name."),
        ({1: "1"}, "@environment: 1 is not a valid variable name."),
    ],
)
def test_environment_rejects_bad_vars(variables, message):
    with pytest.raises(DecoratorError) as info:
        EnvironmentDecorator({"vars": variables})
    assert info.value.message == message


def test_environment_adds_vars_to_the_task_command(policy_graph):
    command = TaskCommand("python", "flow.py", [], "end", {}, env={"KEEP": "1"})
    attempt = TaskAttempt(
        run=None,
        step=policy_graph["end"],
        task_id="1",
        attempt=0,
        input_paths=[],
        split_index=None,
        policy=TaskPolicy(),
    )
    environment_plugin.task_command(attempt=attempt, command=command)
    assert command.env == {"KEEP": "1", "A": "1"}


def test_environment_sets_vars_before_the_step(policy_graph, monkeypatch):
    monkeypatch.delenv("A", raising=False)
    task = SimpleNamespace(node=policy_graph["end"])
    environment_plugin.before_step(task=task)
    assert os.environ["A"] == "1"
    monkeypatch.delenv("A")
    environment_plugin.before_step(task=SimpleNamespace(node=policy_graph["start"]))
    assert "A" not in os.environ
