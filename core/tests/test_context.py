"""Tests of the runtime's small helpers: input-path encoding, task policies and task command lines."""

from __future__ import annotations

import dataclasses
import sys
from types import SimpleNamespace

import pytest

from headwater.runtime.context import (
    TaskAttempt,
    TaskCommand,
    TaskPolicy,
    decode_input_paths,
    encode_input_paths,
)

# -- input paths --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("paths", "encoded"),
    [
        ([], ""),
        (["start/1"], "start:1"),
        (["a/1", "a/2", "a/3"], "a:1-3"),
        (["a/1", "a/3", "a/5"], "a:1,3,5"),
        (["a/1", "a/2", "a/4", "a/5", "a/6", "a/9"], "a:1-2,4-6,9"),
        (["a/3", "a/2", "a/1"], "a:3,2,1"),
        (["a/1", "a/1"], "a:1,1"),
        (["a/1", "a/2", "b/7", "b/8", "c/4"], "a:1-2;b:7-8;c:4"),
        (["a/1", "b/2", "a/3"], "a:1;b:2;a:3"),
        (["a/1", "b/2", "a/2"], "a:1;b:2;a:2"),
        (["a/x", "a/1", "a/2", "a/y"], "a:x,1-2,y"),
        (["a/sfn-abc", "a/t-9"], "a:sfn%2Dabc,t%2D9"),
        (["a/10", "a/11", "a/x", "a/12"], "a:10-11,x,12"),
    ],
    ids=[
        "empty",
        "single",
        "range",
        "gaps",
        "ranges-and-single",
        "descending",
        "duplicate",
        "several-steps",
        "interleaved",
        "interleaved-adjacent",
        "non-numeric",
        "non-numeric-with-dash",
        "non-numeric-breaks-range",
    ],
)
def test_encode_and_decode_input_paths(paths: list[str], encoded: str) -> None:
    assert encode_input_paths(paths) == encoded
    assert decode_input_paths(encoded) == paths


def test_wide_foreach_join_encodes_short() -> None:
    paths = [f"body/{n}" for n in range(2, 10_002)]
    encoded = encode_input_paths(paths)
    assert encoded == "body:2-10001"
    assert decode_input_paths(encoded) == paths


def test_wide_join_with_gaps_round_trips() -> None:
    paths = [f"body/{n}" for n in range(1, 10_001) if n % 1000 != 0] + ["other/5"]
    encoded = encode_input_paths(paths)
    assert len(encoded) < 150
    assert encoded.startswith("body:1-999,1001-1999,")
    assert encoded.endswith(";other:5")
    assert decode_input_paths(encoded) == paths


@pytest.mark.parametrize(
    "paths",
    [["a/007"], ["a/3-4"], ["a/x,y"]],
    ids=["leading-zeros", "digits-dash-digits", "comma"],
)
def test_unusual_task_ids_round_trip(paths: list[str]) -> None:
    assert decode_input_paths(encode_input_paths(paths)) == paths


# -- TaskPolicy ---------------------------------------------------------------------------------------------


def test_policy_defaults() -> None:
    policy = TaskPolicy()
    assert (policy.user_retries, policy.fallback_retries, policy.retry_delay_seconds, policy.timeout_seconds) == (
        0,
        0,
        0.0,
        0.0,
    )
    assert policy.max_attempts == 1


def test_policy_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        TaskPolicy().user_retries = 3


def test_combine_with_none_is_the_same_policy() -> None:
    policy = TaskPolicy(2, 1, 5.0, 60.0)
    assert policy.combine(None) is policy


def test_combine_takes_the_larger_retries_and_delay() -> None:
    combined = TaskPolicy(user_retries=3, retry_delay_seconds=1.0).combine(
        TaskPolicy(user_retries=1, fallback_retries=1, retry_delay_seconds=10.0)
    )
    assert combined == TaskPolicy(user_retries=3, fallback_retries=1, retry_delay_seconds=10.0, timeout_seconds=0.0)
    assert combined.max_attempts == 5


@pytest.mark.parametrize(
    ("mine", "theirs", "expected"),
    [(0, 0, 0.0), (0, 30, 30), (45, 0, 45), (60, 30, 30), (30, 60, 30)],
)
def test_combine_takes_the_smaller_non_zero_timeout(mine: float, theirs: float, expected: float) -> None:
    combined = TaskPolicy(timeout_seconds=mine).combine(TaskPolicy(timeout_seconds=theirs))
    assert combined.timeout_seconds == expected
    assert TaskPolicy(timeout_seconds=theirs).combine(TaskPolicy(timeout_seconds=mine)).timeout_seconds == expected


def test_max_attempts_counts_every_retry() -> None:
    assert TaskPolicy(user_retries=2, fallback_retries=1).max_attempts == 4


def test_attempt_pathspec_and_fallback() -> None:
    run = SimpleNamespace(pathspec="MyFlow/17")
    step = SimpleNamespace(name="train")
    policy = TaskPolicy(user_retries=2, fallback_retries=1)
    attempts = [TaskAttempt(run, step, "4", n, ["start/1"], None, policy) for n in range(4)]  # type: ignore[arg-type]
    assert attempts[0].pathspec == "MyFlow/17/train/4"
    assert [a.is_fallback for a in attempts] == [False, False, False, True]


# -- TaskCommand --------------------------------------------------------------------------------------------


def command(**options) -> TaskCommand:
    return TaskCommand(
        executable="/usr/bin/python3",
        script="/proj/flow.py",
        top_args=["--quiet", "--datastore", "local"],
        step="train",
        options=options,
    )


def test_args_render_options() -> None:
    cmd = command(
        run_id="17",
        task_id=4,
        tag=["a", "b"],
        input_paths=("start:1",),
        debug=True,
        quiet_mode=False,
        origin_run_id=None,
        retry_count=0,
        split_index=3.5,
    )
    assert cmd.args() == [
        "--quiet",
        "--datastore",
        "local",
        "step",
        "train",
        "--run-id",
        "17",
        "--task-id",
        "4",
        "--tag",
        "a",
        "--tag",
        "b",
        "--input-paths",
        "start:1",
        "--debug",
        "--retry-count",
        "0",
        "--split-index",
        "3.5",
    ]


def test_argv_starts_with_the_interpreter_and_script() -> None:
    cmd = command(run_id="1")
    assert cmd.argv() == ["/usr/bin/python3", "/proj/flow.py", *cmd.args()]
    assert cmd.argv()[-2:] == ["--run-id", "1"]


def test_empty_list_option_renders_nothing() -> None:
    assert command(tag=[]).args() == ["--quiet", "--datastore", "local", "step", "train"]


def test_env_defaults_to_an_empty_dict_per_command() -> None:
    first, second = command(), command()
    first.env["X"] = "1"
    assert second.env == {}


def test_runs_in_this_interpreter() -> None:
    cmd = TaskCommand(sys.executable, "/proj/flow.py", [], "a", {})
    assert cmd.runs_in_this_interpreter("/proj/flow.py") is True
    assert cmd.runs_in_this_interpreter("/proj/other.py") is False
    other = TaskCommand("/opt/other/python", "/proj/flow.py", [], "a", {})
    assert other.runs_in_this_interpreter("/proj/flow.py") is False


def test_shell_quotes_everything_and_refuses_bad_variable_names(tmp_path):
    import subprocess

    marker = tmp_path / "pwned"
    cmd = TaskCommand(
        "echo",
        "flow.py",
        [],
        "a",
        {"run_id": f"$(touch {marker}) 'q' \"dq\" $HOME"},
        env={"VALUE": f"$(touch {marker})"},
    )
    out = subprocess.run(["/bin/sh", "-c", cmd.shell()], capture_output=True, text=True, check=True).stdout
    assert f"--run-id $(touch {marker}) 'q' \"dq\" $HOME" in out and not marker.exists()
    bad = TaskCommand("echo", "flow.py", [], "a", {}, env={f"$(touch {marker})X": "1"})
    with pytest.raises(ValueError, match="is not an environment variable name"):
        bad.shell()


def test_placeholders_survive_copies_and_render_as_the_deployer_asks():
    import copy
    import pickle

    from headwater.runtime.context import Placeholder

    cmd = TaskCommand(
        "python", "flow.py", [], "a", {"run_id": Placeholder("run_id"), "task_id": Placeholder("task_id")}
    )
    for clone in (copy.deepcopy(cmd), pickle.loads(pickle.dumps(cmd))):
        assert clone.placeholders() == ["run_id", "task_id"]
        assert "--run-id {run_id}" in " ".join(clone.argv())
    script = cmd.shell(placeholder=lambda name: f'"${{HW_{name.upper()}}}"')
    assert '--run-id "${HW_RUN_ID}" --task-id "${HW_TASK_ID}"' in script
    filled = cmd.substitute(run_id="sfn-1", task_id=None)
    assert filled.argv()[-2:] == ["--run-id", "sfn-1"] and filled.placeholders() == []
    assert cmd.for_host(1, 2).options["host_index"] == 1
