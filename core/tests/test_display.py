"""headwater.runtime.display: what plain output says, and when the live view is chosen."""

import io

from headwater.runtime.display import PlainDisplay, RunSummary, StepProgress, make_display, summary_line


def summary(**changes):
    base = {"flow_name": "F", "run_id": "17", "succeeded": True, "elapsed": 1.234, "tasks_done": 3, "tasks_cloned": 0}
    return RunSummary(**{**base, **changes})


def test_summary_line_success_failure_interruption():
    assert summary_line(summary()) == "Run F/17 succeeded: 3 tasks in 1.23 s."
    assert summary_line(summary(tasks_done=1, tasks_cloned=1, elapsed=75)) == (
        "Run F/17 succeeded: 1 task (1 cloned) in 1m15s."
    )
    failed = summary(succeeded=False, tasks_failed=[f"F/17/s/{i}" for i in range(7)])
    assert summary_line(failed).endswith("; failed: F/17/s/0, F/17/s/1, F/17/s/2, F/17/s/3, F/17/s/4 and 2 more.")
    stopped = summary(succeeded=False, interrupted=True, tasks_stopped=["F/17/s/1"])
    assert summary_line(stopped) == "Run F/17 was interrupted: 3 tasks in 1.23 s; stopped: F/17/s/1."


def test_plain_display_lines_and_quiet():
    out = io.StringIO()
    display = PlainDisplay(out)
    display.info("starting")
    display.task_output("train/3", "stdout", "epoch 1")
    progress = StepProgress("train", done=4, failed=1, retried=2, first_start=10.0, last_end=12.5)
    display.step_done(progress, now=20.0)
    display.error("Step train failed:", "Traceback (most recent call last):\n  boom\n")
    display.finish(summary(hint="Resume it with: python f.py resume"))
    assert out.getvalue().splitlines() == [
        "starting",
        "[train/3] epoch 1",
        "x train: 5 tasks, 1 failed, 2 retried (2.50 s)",
        "Step train failed:",
        "Traceback (most recent call last):",
        "  boom",
        "Run F/17 succeeded: 3 tasks in 1.23 s.",
        "Resume it with: python f.py resume",
    ]
    quiet = io.StringIO()
    display = PlainDisplay(quiet, quiet=True)
    display.info("starting")
    display.step_done(progress, now=20.0)
    display.task_output("train/3", "stderr", "warning")
    assert quiet.getvalue() == "[train/3] warning\n"


def test_plain_lines_when_not_a_terminal_or_no_color(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert type(make_display("F 17")) is PlainDisplay  # pytest's stdout is not a terminal
    monkeypatch.setattr("sys.stdout.isatty", lambda: True)
    monkeypatch.setenv("NO_COLOR", "1")
    assert type(make_display("F 17")) is PlainDisplay
