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
    out, err = io.StringIO(), io.StringIO()
    display = PlainDisplay(out, err=err)
    display.info("starting")
    display.task_output("train/3", "stdout", "epoch 1")
    display.task_output("train/3", "stderr", "a warning")
    progress = StepProgress("train", done=4, failed=1, retried=2, first_start=10.0, last_end=12.5)
    display.step_done(progress, now=20.0)
    display.error("Step train failed:", "Traceback (most recent call last):\n  boom\n")
    display.warning("headwater: warning: something")
    display.finish(summary(hint="Resume it with: python f.py resume"))
    assert out.getvalue().splitlines() == [
        "starting",
        "[train/3] epoch 1",
        "x train: 5 tasks, 1 failed, 2 retried (2.50 s)",
        "Run F/17 succeeded: 3 tasks in 1.23 s.",
        "Resume it with: python f.py resume",
    ]
    assert err.getvalue().splitlines() == [
        "[train/3] a warning",
        "Step train failed:",
        "Traceback (most recent call last):",
        "  boom",
        "headwater: warning: something",
    ]
    quiet, quiet_err = io.StringIO(), io.StringIO()
    display = PlainDisplay(quiet, quiet=True, err=quiet_err)
    display.info("starting")
    display.step_done(progress, now=20.0)
    display.task_output("train/3", "stdout", "result")
    display.task_output("train/3", "stderr", "warning")
    assert quiet.getvalue() == "[train/3] result\n"
    assert quiet_err.getvalue() == "[train/3] warning\n"


def test_live_display_sends_task_stderr_and_failures_to_stderr(monkeypatch):
    from rich.console import Console

    from headwater.runtime.display import LiveDisplay

    display = LiveDisplay("F 17")
    out, err = io.StringIO(), io.StringIO()
    display.live.stop()
    display.console = Console(file=out, highlight=False, no_color=True, width=200)
    display.err_console = Console(file=err, highlight=False, no_color=True, width=200)
    display.live = type(display.live)(console=display.console, auto_refresh=False, transient=True)
    display.live.start()
    display.task_output("train/3", "stdout", "epoch 1")
    display.task_output("train/3", "stderr", "a warning")
    display.error("Step train failed:", "Traceback (most recent call last):\n  boom\n")
    display.finish(summary())
    assert "[train/3] epoch 1" in out.getvalue() and "Run F/17 succeeded" in out.getvalue()
    assert "warning" not in out.getvalue() and "boom" not in out.getvalue()
    assert err.getvalue().splitlines() == [
        "[train/3] a warning",
        "Step train failed:",
        "Traceback (most recent call last):",
        "  boom",
    ]


def test_plain_lines_when_not_a_terminal_or_no_color(monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert type(make_display("F 17")) is PlainDisplay  # pytest's stdout is not a terminal
    monkeypatch.setattr("sys.stdout.isatty", lambda: True)
    monkeypatch.setenv("NO_COLOR", "1")
    assert type(make_display("F 17")) is PlainDisplay
