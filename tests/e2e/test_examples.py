"""Every example flow runs through the real CLI and its results read back through the client."""

import shutil
from pathlib import Path

import pytest

from headwater.testing import run_flow

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def example(headwater_env):
    def copy(name):
        target = headwater_env / name
        shutil.copy(EXAMPLES / name, target)
        return target

    return copy


def test_hello(example):
    result = run_flow(example("hello.py"), "run")
    assert result.returncode == 0, result.output
    run = result.run
    assert run.successful and run.finished
    assert run.data.message == "Hello from Headwater"
    assert [step.id for step in run] == ["start", "end"]
    assert "[end/2] start said: 'Hello from Headwater'" in result.stdout
    assert run["start"].task.stdout == "Hello from Headwater\n"


def test_branch_join(example):
    result = run_flow(example("branch_join.py"), "run")
    assert result.returncode == 0, result.output
    data = result.run.data
    assert data.predictions == {"mean": 4.5, "median": 5}
    assert data.best == "mean"
    assert data.data == list(range(10))
    assert "prediction" not in result.run["end"].task  # differing branch artifacts are not merged


def test_nested_foreach(example):
    result = run_flow(example("foreach_nested.py"), "run")
    assert result.returncode == 0, result.output
    run = result.run
    assert run.data.totals == {"fr": 8049, "nl": 8049, "jp": 8049}
    year_tasks = list(run["year"])
    assert len(year_tasks) == 6
    assert sorted(t.data.count for t in year_tasks) == [4024, 4024, 4024, 4025, 4025, 4025]
    assert len(list(run["join_years"])) == 3


def test_parameters(example, headwater_env):
    notes = headwater_env / "notes.txt"
    notes.write_text("remember the milk")
    args = ["run", "--alpha", "0.5", "--labels", "a,b", "--config", '{"depth": 4}', "--notes", str(notes)]
    result = run_flow(example("parameters.py"), *args)
    assert result.returncode == 0, result.output
    data = result.run.data
    assert (data.alpha, data.epochs, data.verbose, data.labels) == (0.5, 3, False, ["a", "b"])
    assert data.config == {"depth": 4}
    assert data.notes == "remember the milk"
    assert data.score == 0.5 * 3 * 4
    assert result.run.parameters["alpha"] == 0.5


def test_conditional(example):
    result = run_flow(example("conditional.py"), "run", "--threshold", "2")
    assert result.returncode == 0, result.output
    run = result.run
    assert run.data.note == "only 2 rounds"
    assert [s.id for s in run] == ["start", "refine", "decide", "investigate", "end"]
    assert len(list(run["refine"])) == 2


def test_resume_walkthrough(example):
    path = example("resume_walkthrough.py")
    first = run_flow(path, "run")
    assert first.returncode == 1
    assert "validation failed" in first.output
    assert first.run.status == "failed" and not first.run.successful

    second = run_flow(path, "resume", env={"RESUME_DEMO_FIXED": "1"})
    assert second.returncode == 0, second.output
    assert "clone:  start (1 task), square (5 tasks), total (1 task)" in second.stdout
    assert "re-run: validate (failed), end (not run)" in second.stdout
    run = second.run
    assert run.data.sum_of_squares == 30
    squares = list(run["square"])
    assert all(t.origin_pathspec and t.origin_pathspec.startswith(f"ResumeFlow/{first.run_id}/") for t in squares)
    assert run.origin_pathspec == f"ResumeFlow/{first.run_id}"
    assert f"resuming run {first.run_id}" in run["validate"].task.stdout
