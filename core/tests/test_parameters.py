"""Tests of ``headwater.parameters``: types, conversion of values, defaults resolved at launch,
``IncludeFile``, the read-only descriptor, and the definition problems the linter reports."""

from __future__ import annotations

import inspect
import os

import pytest

from headwater import FlowSpec, IncludeFile, JSONType, Parameter
from headwater.exceptions import ParameterError, StepUsageError
from headwater.parameters import ParameterContext, builtins_type, flow_parameters, parameter_problems

CONTEXT = ParameterContext("MyFlow", "alice", "p")


def this_line() -> int:
    """The line of the caller (where a Parameter is created on the same line)."""
    frame = inspect.currentframe()
    assert frame is not None and frame.f_back is not None
    return frame.f_back.f_lineno


# --------------------------------------------------------------------------------------------------------
# Types
# --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("default", "expected"),
    [
        ("text", str),
        (3, int),
        (1.5, float),
        (True, bool),
        ({"a": 1}, JSONType),
        ([1, 2], JSONType),
        (None, str),
        (lambda: 3, str),
    ],
)
def test_type_is_inferred_from_the_default(default, expected):
    assert Parameter("p", default=default).type is expected


def test_explicit_type_wins_over_the_default():
    assert Parameter("p", default="3", type=int).type is int
    assert Parameter("p", default=3, type=float).type is float


def test_builtins_type_of_other_values_is_str():
    assert builtins_type(b"bytes") is str
    assert builtins_type((1, 2)) is JSONType  # a tuple default is JSON, like a list


def test_unsupported_type_is_a_problem_and_falls_back_to_str():
    param = Parameter("p", type=list)
    assert param.type is str
    assert param.problems == [
        ("Parameter 'p': type <class 'list'> is not supported.", "Use str, int, float, bool or JSONType.")
    ]


def test_jsontype_repr_and_name():
    assert repr(JSONType) == "JSONType"
    assert JSONType.name == "JSON"
    assert repr(Parameter("p", default={"a": 1})) == "Parameter('p', default={'a': 1}, type=JSONType)"
    assert repr(Parameter("p", default=3)) == "Parameter('p', default=3, type=int)"


# --------------------------------------------------------------------------------------------------------
# convert()
# --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [
        (str, "hello", "hello"),
        (str, 5, "5"),
        (int, "42", 42),
        (int, 7, 7),
        (int, True, 1),
        (float, "1e3", 1000.0),
        (float, 2, 2.0),
        (float, "-0.5", -0.5),
        (bool, "true", True),
        (bool, " Yes ", True),
        (bool, "on", True),
        (bool, "1", True),
        (bool, "F", False),
        (bool, "no", False),
        (bool, "off", False),
        (bool, False, False),
        (JSONType, '{"a": [1, 2]}', {"a": [1, 2]}),
        (JSONType, "3", 3),
        (JSONType, {"already": "parsed"}, {"already": "parsed"}),
    ],
)
def test_convert_good_values(kind, value, expected):
    result = Parameter("p", type=kind).convert(value)
    assert result == expected
    assert type(result) is type(expected)


def test_convert_none_is_none():
    assert Parameter("p", type=int).convert(None) is None


@pytest.mark.parametrize(
    ("kind", "value", "message", "hint"),
    [
        (int, "abc", "--count: 'abc' is not a valid int.", "Pass an int, e.g. --count 1."),
        (int, "2.5", "--count: '2.5' is not a valid int.", "Pass an int, e.g. --count 1."),
        (float, "fast", "--count: 'fast' is not a valid float.", "Pass a float, e.g. --count 1.0."),
        (bool, "maybe", "--count: 'maybe' is not a boolean.", "Pass true or false."),
    ],
)
def test_convert_bad_values_name_the_parameter(kind, value, message, hint):
    with pytest.raises(ParameterError) as info:
        Parameter("count", type=kind).convert(value)
    assert (info.value.message, info.value.hint) == (message, hint)


def test_convert_bad_json_names_the_parameter():
    with pytest.raises(ParameterError) as info:
        Parameter("config", type=JSONType).convert("{not json")
    assert info.value.message.startswith("--config: '{not json' is not valid JSON (")
    assert info.value.hint == "Pass valid JSON, e.g. --config '{\"key\": 1}'."


# --------------------------------------------------------------------------------------------------------
# resolve(): defaults, callables, required, separator
# --------------------------------------------------------------------------------------------------------


def test_given_value_wins_over_the_default_and_is_converted():
    param = Parameter("n", default=3)
    assert param.resolve(None, CONTEXT) == 3
    assert param.resolve("5", CONTEXT) == 5


def test_default_is_converted_to_the_declared_type():
    assert Parameter("n", default="7", type=int).resolve(None, CONTEXT) == 7


def test_callable_default_with_a_context_argument():
    seen = []

    def default(context):
        seen.append(context)
        return f"{context.flow_name}:{context.user_name}:{context.parameter_name}"

    assert Parameter("p", default=default).resolve(None, CONTEXT) == "MyFlow:alice:p"
    assert seen == [CONTEXT]
    # A value on the command line means the default is not called.
    assert Parameter("p", default=default).resolve("given", CONTEXT) == "given"
    assert len(seen) == 1


def test_callable_default_without_arguments_and_declared_type():
    assert Parameter("p", default=lambda: "12", type=int).resolve(None, CONTEXT) == 12


def test_callable_default_that_raises():
    def broken():
        return 1 / 0

    with pytest.raises(ParameterError) as info:
        Parameter("ratio", default=broken).resolve(None, CONTEXT)
    assert info.value.message == "--ratio: its default function raised ZeroDivisionError: division by zero."
    assert info.value.hint == "Fix the default, or pass --ratio explicitly."
    assert isinstance(info.value.__cause__, ZeroDivisionError)


def test_callable_default_raising_a_parameter_error_is_passed_through():
    def refuse(context):
        raise ParameterError("--p: refused by the default.")

    with pytest.raises(ParameterError) as info:
        Parameter("p", default=refuse).resolve(None, CONTEXT)
    assert info.value.message == "--p: refused by the default."


def test_callable_default_that_is_a_builtin_without_signature():
    import time

    assert isinstance(Parameter("started", default=time.time, type=float).resolve(None, CONTEXT), float)


def test_required_parameter_without_value():
    with pytest.raises(ParameterError) as info:
        Parameter("data-path", required=True).resolve(None, CONTEXT)
    assert (info.value.message, info.value.hint) == (
        "--data-path is required.",
        "Pass --data-path <value> to `run`, or set HEADWATER_RUN_DATA_PATH.",
    )


def test_required_parameter_whose_callable_default_gives_none():
    with pytest.raises(ParameterError, match=r"^--p is required\.\n"):
        Parameter("p", default=lambda: None, required=True).resolve(None, CONTEXT)


def test_required_parameter_uses_a_default_even_a_falsy_one():
    assert Parameter("p", default=0, required=True).resolve(None, CONTEXT) == 0
    assert Parameter("p", default="", required=True).resolve(None, CONTEXT) == ""


def test_optional_parameter_without_value_is_none():
    assert Parameter("p").resolve(None, CONTEXT) is None


def test_separator_splits_a_string_value():
    param = Parameter("words", default="a,b", separator=",")
    assert param.problems == []
    assert param.resolve(None, CONTEXT) == ["a", "b"]
    assert param.resolve("x", CONTEXT) == ["x"]
    assert param.resolve("x,,y", CONTEXT) == ["x", "", "y"]


def test_separator_on_a_non_string_parameter_is_a_problem():
    assert Parameter("n", default=3, separator=",").problems == [
        (
            "Parameter 'n': separator only works with string parameters.",
            "Remove separator, or make the parameter a string.",
        )
    ]


# --------------------------------------------------------------------------------------------------------
# IncludeFile
# --------------------------------------------------------------------------------------------------------


def test_include_file_reads_text(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("héllo\n", encoding="utf-8")
    param = IncludeFile("notes")
    assert param.IS_FILE
    assert param.type is str
    assert param.resolve(str(path), CONTEXT) == "héllo\n"


def test_include_file_default_path_and_encoding(tmp_path):
    path = tmp_path / "latin.txt"
    path.write_bytes("café".encode("latin-1"))
    assert IncludeFile("notes", default=str(path), encoding="latin-1").resolve(None, CONTEXT) == "café"


def test_include_file_reads_bytes(tmp_path):
    path = tmp_path / "blob.bin"
    path.write_bytes(b"\x00\xff\x10")
    assert IncludeFile("blob", is_text=False).resolve(str(path), CONTEXT) == b"\x00\xff\x10"


def test_include_file_expands_the_home_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "data.txt").write_text("home", encoding="utf-8")
    assert IncludeFile("data").resolve("~/data.txt", CONTEXT) == "home"


def test_include_file_missing_file(tmp_path):
    missing = str(tmp_path / "absent.csv")
    with pytest.raises(ParameterError) as info:
        IncludeFile("table").resolve(missing, CONTEXT)
    assert info.value.message == f"--table: cannot read {missing!r}: No such file or directory."
    assert info.value.hint == "Pass an existing file with --table <path>."


def test_include_file_bad_encoding(tmp_path):
    path = tmp_path / "binary.dat"
    path.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(ParameterError) as info:
        IncludeFile("table").resolve(str(path), CONTEXT)
    assert info.value.message == f"--table: {str(path)!r} is not valid utf-8 text (invalid start byte)."
    assert info.value.hint == "Pass is_text=False to read it as bytes, or set the right encoding=."


@pytest.mark.parametrize(("special", "kind"), [("/dev/null", "a character device"), (".", "a directory")])
def test_include_file_refuses_what_is_not_a_regular_file(headwater_env, special, kind):
    with pytest.raises(ParameterError) as info:
        IncludeFile("data").resolve(special, CONTEXT)
    assert info.value.message == f"--data: {special!r} is {kind}, not a regular file."
    assert "pass a regular file" in info.value.hint


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_include_file_refuses_a_fifo_without_waiting_for_a_writer(headwater_env):
    os.mkfifo(headwater_env / "pipe")
    with pytest.raises(ParameterError, match=r"'pipe' is a named pipe \(FIFO\), not a regular file"):
        IncludeFile("data").resolve("pipe", CONTEXT)


def test_include_file_larger_than_the_limit_is_refused_before_reading(headwater_env, monkeypatch):
    (headwater_env / "big.txt").write_bytes(b"x" * (3 * 2**20 // 2))
    monkeypatch.setenv("HEADWATER_MAX_INCLUDE_FILE_MB", "1")
    with pytest.raises(ParameterError) as info:
        IncludeFile("data").resolve("big.txt", CONTEXT)
    assert (
        info.value.message
        == "--data: 'big.txt' is 2 MB, more than IncludeFile takes (1 MB, the setting max_include_file_mb)."
    )
    assert "HEADWATER_MAX_INCLUDE_FILE_MB" in info.value.hint
    monkeypatch.setenv("HEADWATER_MAX_INCLUDE_FILE_MB", "2")
    assert len(IncludeFile("data").resolve("big.txt", CONTEXT)) == 3 * 2**20 // 2
    if os.path.exists("/proc/self/status"):  # a file that reports no size is read up to the limit
        assert "Name:" in IncludeFile("data").resolve("/proc/self/status", CONTEXT)


def test_include_file_holds_one_copy_of_a_large_file(headwater_env):
    import tracemalloc

    size = 20 * 2**20
    (headwater_env / "big.txt").write_bytes(b"abcdefg\n" * (size // 8))
    for is_text, start in ((True, "abcdefg\n"), (False, b"abcdefg\n")):
        tracemalloc.start()
        try:
            value = IncludeFile("data", is_text=is_text).resolve("big.txt", CONTEXT)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert len(value) == size and value[:8] == start
        assert peak < 1.25 * size, is_text  # the text was read as bytes, then decoded: 2x
        del value


def test_include_file_optional_and_absent():
    assert IncludeFile("table").resolve(None, CONTEXT) is None


def test_include_file_required_and_absent():
    with pytest.raises(ParameterError, match=r"^--table is required\.\n"):
        IncludeFile("table", required=True).resolve(None, CONTEXT)


# --------------------------------------------------------------------------------------------------------
# The descriptor
# --------------------------------------------------------------------------------------------------------


class ParamFlow(FlowSpec):
    alpha = Parameter("alpha", default=1)
    ALPHA_LINE = this_line() - 1
    max_size = Parameter("max-size", default=2)
    renamed = Parameter("other-name")
    data = IncludeFile("data")
    DATA_LINE = this_line() - 1


def test_reading_on_the_class_or_outside_a_task_gives_the_parameter():
    assert isinstance(ParamFlow.alpha, Parameter)
    flow = ParamFlow(use_cli=False)
    assert flow.alpha is ParamFlow.__dict__["alpha"]
    assert flow.data is ParamFlow.__dict__["data"]


def test_attribute_name_comes_from_the_class_attribute():
    assert (ParamFlow.alpha.name, ParamFlow.alpha.attr) == ("alpha", "alpha")
    assert (ParamFlow.max_size.name, ParamFlow.max_size.attr) == ("max-size", "max_size")
    assert (ParamFlow.renamed.name, ParamFlow.renamed.attr) == ("other-name", "renamed")
    # Before being placed on a class, the attribute is derived from the name.
    assert Parameter("some-thing").attr == "some_thing"


def test_assigning_a_parameter_raises():
    flow = ParamFlow(use_cli=False)
    with pytest.raises(StepUsageError) as info:
        flow.max_size = 5
    assert info.value.message == "Parameter `max_size` is read-only inside steps."
    assert info.value.hint == "Store a new value under another name, e.g. self.max_size_value = ..."
    assert flow.max_size is ParamFlow.__dict__["max_size"]


def test_defined_at_points_at_the_user_source():
    assert ParamFlow.alpha.defined_at == (__file__, ParamFlow.ALPHA_LINE)
    # IncludeFile goes through Parameter.__init__; the line is still the user's.
    assert ParamFlow.data.defined_at == (__file__, ParamFlow.DATA_LINE)


# --------------------------------------------------------------------------------------------------------
# flow_parameters() and parameter_problems()
# --------------------------------------------------------------------------------------------------------


class BaseParams(FlowSpec):
    a = Parameter("a")
    b = Parameter("b", default=1)


class ChildParams(BaseParams):
    b = Parameter("b", default=2)
    c = Parameter("c")


class GrandchildParams(ChildParams):
    a = None


def test_flow_parameters_in_definition_order_with_overrides():
    assert [p.attr for p in flow_parameters(BaseParams)] == ["a", "b"]
    child = flow_parameters(ChildParams)
    assert [p.attr for p in child] == ["a", "b", "c"]
    assert child[1] is ChildParams.__dict__["b"]
    assert child[1].default == 2
    # A subclass can remove an inherited parameter.
    assert [p.attr for p in flow_parameters(GrandchildParams)] == ["b", "c"]


def test_flow_parameters_of_a_flow_without_any():
    class NoParams(FlowSpec):
        pass

    assert flow_parameters(NoParams) == []
    assert parameter_problems(NoParams) == []


@pytest.mark.parametrize("name", ["tag", "tags", "max-workers", "max_workers", "run_id", "with", "help"])
def test_reserved_parameter_names(name):
    assert Parameter(name).problems == [
        (f"Parameter name {name!r} is reserved: it is an option of `run`.", "Choose another name for the parameter.")
    ]


def test_non_reserved_names_have_no_problem():
    assert Parameter("learning-rate", default=0.1).problems == []
    assert Parameter("p", hidden=True).problems == []


def test_unknown_keyword_and_empty_name_are_problems():
    assert Parameter("p", hiden=True, colour="red").problems == [
        (
            "Parameter 'p' got unknown argument(s) colour, hiden.",
            "Parameter takes default, type, help, required, show_default, separator.",
        )
    ]
    assert Parameter("").problems[0] == ("Parameter name must be a non-empty string, got ''.", "Name the parameter.")


def test_parameter_problems_carry_file_and_line():
    class Problems(FlowSpec):
        good = Parameter("good")
        tag = Parameter("tag")
        TAG_LINE = this_line() - 1
        count = Parameter("count", default=1, separator=",")
        COUNT_LINE = this_line() - 1

    assert parameter_problems(Problems) == [
        (
            "Parameter name 'tag' is reserved: it is an option of `run`.",
            "Choose another name for the parameter.",
            __file__,
            Problems.TAG_LINE,
        ),
        (
            "Parameter 'count': separator only works with string parameters.",
            "Remove separator, or make the parameter a string.",
            __file__,
            Problems.COUNT_LINE,
        ),
    ]


def test_duplicate_parameter_names_reported_at_the_second_definition():
    class Duplicates(ChildParams):
        other = Parameter("c", default=5)
        OTHER_LINE = this_line() - 1

    assert parameter_problems(Duplicates) == [
        (
            "Parameters `c` and `other` both use the name 'c'.",
            "Give each parameter its own name.",
            __file__,
            Duplicates.OTHER_LINE,
        )
    ]


@pytest.mark.parametrize(
    ("kwargs", "shown", "kind"),
    [
        ({"default": 0.1, "type": int}, "0.1", "an int"),
        ({"default": "fast", "type": float}, "'fast'", "a float"),
        ({"default": "maybe", "type": bool}, "'maybe'", "a bool"),
        ({"default": "{nope", "type": JSONType}, "'{nope'", "a JSON value"),
    ],
)
def test_a_default_that_does_not_fit_the_type_is_a_definition_problem(kwargs, shown, kind):
    """Reported by `check` where it is written, not by `run` as if the user had passed it (issue 6, 15)."""
    assert Parameter("lr", **kwargs).problems == [
        (
            f"Parameter 'lr': its default {shown} is not a valid {kind.split(' ', 1)[1]}.",
            f"Make the default {kind}, or declare the type= that it is.",
        )
    ]


def test_the_linter_reports_a_bad_default_at_its_line():
    class BadDefault(FlowSpec):
        lr = Parameter("lr", default=0.1, type=int)
        LR_LINE = this_line() - 1
        # these fit (a string that converts; an int for a float) or are only known at launch
        n = Parameter("n", default="7", type=int)
        x = Parameter("x", default=3, type=float)
        later = Parameter("later", default=lambda: "x", type=int)

    assert parameter_problems(BadDefault) == [
        (
            "Parameter 'lr': its default 0.1 is not a valid int.",
            "Make the default an int, or declare the type= that it is.",
            __file__,
            BadDefault.LR_LINE,
        )
    ]


def test_a_computed_default_of_the_wrong_type_is_blamed_on_the_default_not_the_user():
    param = Parameter("lr", default=lambda: "fast", type=float)
    with pytest.raises(ParameterError) as info:
        param.resolve(None, CONTEXT)
    assert info.value.message == "--lr: its default function returned 'fast', which is not a valid float."
    assert info.value.hint == f"Fix the default ({__file__}:{param.defined_at[1]}), or pass --lr explicitly."


# --------------------------------------------------------------------------------------------------------
# Values from environment variables (HEADWATER_RUN_<NAME>, and Metaflow's METAFLOW_RUN_<NAME>)
# --------------------------------------------------------------------------------------------------------


@pytest.fixture
def no_run_variables(monkeypatch):
    import os

    for name in list(os.environ):
        if name.startswith(("HEADWATER_RUN_", "METAFLOW_RUN_")):
            monkeypatch.delenv(name)
    return monkeypatch


def test_a_variable_gives_the_value_when_the_command_line_does_not(no_run_variables):
    param = Parameter("learning-rate", default=0.1)
    assert param.resolve(None, CONTEXT) == 0.1
    no_run_variables.setenv("METAFLOW_RUN_LEARNING_RATE", "0.2")
    assert param.resolve(None, CONTEXT) == 0.2
    no_run_variables.setenv("HEADWATER_RUN_LEARNING_RATE", "0.3")  # Headwater's own spelling wins
    assert param.resolve(None, CONTEXT) == 0.3
    assert param.resolve("0.4", CONTEXT) == 0.4  # the command line wins over both


def test_an_empty_variable_counts_as_unset_and_a_required_parameter_names_it(no_run_variables):
    no_run_variables.setenv("HEADWATER_RUN_DATA", "")
    with pytest.raises(ParameterError) as info:
        Parameter("data", required=True).resolve(None, CONTEXT)
    assert "set HEADWATER_RUN_DATA" in info.value.hint


def test_a_bad_value_from_a_variable_names_the_variable(no_run_variables):
    no_run_variables.setenv("HEADWATER_RUN_N", "many")
    with pytest.raises(ParameterError) as info:
        Parameter("n", default=3).resolve(None, CONTEXT)
    assert info.value.message == "--n: HEADWATER_RUN_N='many' is not a valid int."
    assert info.value.hint == "Set HEADWATER_RUN_N to an int, or unset it."


def test_parameter_context_repr():
    assert repr(CONTEXT) == "ParameterContext(flow_name='MyFlow', parameter_name='p')"


def test_the_test_fixture_clears_parameter_variables_of_both_spellings(request, monkeypatch):
    monkeypatch.setenv("METAFLOW_RUN_LR", "0.2")
    monkeypatch.setenv("HEADWATER_RUN_LR", "0.3")
    request.getfixturevalue("headwater_env")
    assert "METAFLOW_RUN_LR" not in os.environ and "HEADWATER_RUN_LR" not in os.environ
    assert Parameter("lr", default=0.1).resolve(None, CONTEXT) == 0.1
