"""What a run shows while it works: plain lines, or a live view on a terminal.

Both displays receive the same events from the scheduler. Task output is streamed line by line with a
``[step/task]`` prefix. Like any Unix tool, the runtime keeps the two streams apart: a task's stdout and
the progress lines go to stdout; a task's stderr, failure reports (with their tracebacks) and warnings go
to stderr, so ``run 2>err.log`` captures every error. ``PlainDisplay`` writes lines only (for logs, pipes, ``NO_COLOR``);
``LiveDisplay`` (rich, imported only when used) keeps a table of steps at the bottom of the terminal
(running, done, failed, retried, elapsed) with the output scrolling above it, and ends with a summary.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from typing import Any, TextIO


@dataclass
class StepProgress:
    """Counters of one step, as the scheduler updates them."""

    name: str
    queued: int = 0
    running: int = 0
    done: int = 0
    cloned: int = 0
    failed: int = 0
    retried: int = 0
    first_start: float | None = None
    last_end: float | None = None
    reported: bool = False
    #: Running attempts by the state their launcher reports, when not plainly "running" (``RUNNABLE``, ...).
    states: dict[str, int] = field(default_factory=dict)

    @property
    def pending(self) -> int:
        return self.queued + self.running

    def elapsed(self, now: float) -> float:
        if self.first_start is None:
            return 0.0
        return (self.last_end if self.pending == 0 and self.last_end else now) - self.first_start


@dataclass
class RunSummary:
    flow_name: str
    run_id: str
    succeeded: bool
    elapsed: float
    tasks_done: int
    tasks_cloned: int
    tasks_failed: list[str] = field(default_factory=list)
    interrupted: bool = False
    hint: str | None = None
    tasks_stopped: list[str] = field(default_factory=list)


def _fmt_seconds(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.2f} s" if seconds < 10 else f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


def step_line(progress: StepProgress, now: float) -> str:
    """``train: 5 tasks, 1 failed, 2 retried (2.50 s)``: what a step did, once it is done."""
    count = progress.done + progress.cloned + progress.failed
    parts = [f"{count} task{'s' if count != 1 else ''}"]
    for label, number in (("failed", progress.failed), ("cloned", progress.cloned), ("retried", progress.retried)):
        if number:
            parts.append(f"{number} {label}")
    return f"{progress.name}: {', '.join(parts)} ({_fmt_seconds(progress.elapsed(now))})"


def summary_line(summary: RunSummary) -> str:
    what = f"{summary.tasks_done} task{'s' if summary.tasks_done != 1 else ''}"
    if summary.tasks_cloned:
        what += f" ({summary.tasks_cloned} cloned)"
    if summary.interrupted:
        state = "was interrupted"
    else:
        state = "succeeded" if summary.succeeded else "failed"
    line = f"Run {summary.flow_name}/{summary.run_id} {state}: {what} in {_fmt_seconds(summary.elapsed)}"
    for label, tasks in (("failed", summary.tasks_failed), ("stopped", summary.tasks_stopped)):
        if tasks:
            line += f"; {label}: {', '.join(tasks[:5])}"
            if len(tasks) > 5:
                line += f" and {len(tasks) - 5} more"
    return line + "."


class PlainDisplay:
    """Lines on a stream: task output with a prefix, step completions, errors and a summary."""

    #: How often ``tick`` wants to be called (None: only when something happens).
    refresh_interval: float | None = None

    def __init__(self, out: TextIO | None = None, quiet: bool = False, err: TextIO | None = None) -> None:
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.quiet = quiet

    def _write(self, text: str) -> None:
        self.out.write(text if text.endswith("\n") else text + "\n")
        self.out.flush()

    def _write_err(self, text: str) -> None:
        self.out.flush()  # what came before on stdout shows first when both go to one terminal or file
        self.err.write(text if text.endswith("\n") else text + "\n")
        self.err.flush()

    def info(self, text: str) -> None:
        if not self.quiet:
            self._write(text)

    def warning(self, text: str) -> None:
        """Something the user should know that is not a task's failure (always shown, on stderr)."""
        self._write_err(text)

    def task_output(self, prefix: str, stream: str, line: str) -> None:
        if stream == "stderr":
            self._write_err(f"[{prefix}] {line}")
        else:
            self.out.write(f"[{prefix}] {line}\n")

    def step_done(self, progress: StepProgress, now: float) -> None:
        if not self.quiet:
            self._write(f"{'x' if progress.failed else 'ok'} {step_line(progress, now)}")

    def task_state(self, prefix: str, state: str) -> None:
        """A launcher reported a new state for a running attempt (a remote job: ``RUNNABLE``, ``RUNNING``)."""
        if not self.quiet:
            self._write(f"[{prefix}] {state}")

    def error(self, header: str, body: str) -> None:
        self._write_err(header)
        if body:
            self._write_err(body.rstrip("\n"))

    def tick(self, steps: list[StepProgress], now: float) -> None:
        self.out.flush()

    def finish(self, summary: RunSummary) -> None:
        self._write(summary_line(summary))
        if summary.hint:
            self._write(summary.hint)

    def close(self) -> None:
        self.out.flush()
        self.err.flush()


class LiveDisplay(PlainDisplay):
    """A rich live table of steps under the streamed output (terminal only)."""

    refresh_interval = 0.1

    def __init__(self, title: str, quiet: bool = False) -> None:
        super().__init__(sys.stdout, quiet, sys.stderr)
        from rich.console import Console
        from rich.live import Live

        self.console = Console(highlight=False)
        self.err_console = Console(stderr=True, highlight=False)
        self.title = title
        self.started = time.time()
        self.steps: list[StepProgress] = []
        # No redirection of sys.stdout/sys.stderr: forked tasks would inherit it.
        self.live = Live(
            console=self.console, auto_refresh=False, transient=True, redirect_stdout=False, redirect_stderr=False
        )
        self.live.start()
        self._last = 0.0

    def _write(self, text: str) -> None:
        self.console.print(text.rstrip("\n"), markup=False, highlight=False, soft_wrap=True)

    def _print_err(self, *renderables: Any, **options: Any) -> None:
        """Print on stderr; when stderr is a terminal (the same one, as a rule), above the live table."""
        live = self.live.is_started and self.err_console.is_terminal
        if live:  # the table is redrawn in place on stdout: take it away while stderr writes
            self.live.stop()
        for renderable in renderables:
            self.err_console.print(renderable, **options)
        if live:
            self.live.start(refresh=True)

    def warning(self, text: str) -> None:
        self._print_err(text.rstrip("\n"), style="yellow", markup=False, highlight=False, soft_wrap=True)

    def task_output(self, prefix: str, stream: str, line: str) -> None:
        from rich.text import Text

        text = Text(f"[{prefix}] ", style="dim" if stream == "stdout" else "red")
        text.append(line)
        if stream == "stderr":
            self._print_err(text, soft_wrap=True)
        else:
            self.console.print(text, soft_wrap=True)

    def error(self, header: str, body: str) -> None:
        from rich.text import Text

        lines = [Text(header, style="bold red")] + ([Text(body.rstrip("\n"))] if body else [])
        self._print_err(*lines, soft_wrap=True)

    def step_done(self, progress: StepProgress, now: float) -> None:
        if self.quiet:
            return
        from rich.text import Text

        line = Text("✗ " if progress.failed else "✓ ", style="red" if progress.failed else "green")
        line.append(step_line(progress, now))
        self.console.print(line)

    def _table(self, steps: list[StepProgress], now: float) -> Any:
        from rich.table import Table

        table = Table(
            box=None, padding=(0, 2), title=f"{self.title}  {_fmt_seconds(now - self.started)}", title_justify="left"
        )
        for column in ("step", "running", "done", "failed", "retried", "elapsed"):
            table.add_column(column, justify="left" if column == "step" else "right")
        for progress in steps:
            if progress.first_start is None and not progress.queued:
                continue
            done = progress.done + progress.cloned
            table.add_row(
                progress.name,
                (f"[yellow]{progress.running}[/yellow]" if progress.running else "0")
                + "".join(f" [dim]{n} {state}[/dim]" for state, n in sorted(progress.states.items())),
                f"[green]{done}[/green]" + (f" [dim]({progress.cloned} cloned)[/dim]" if progress.cloned else ""),
                f"[red]{progress.failed}[/red]" if progress.failed else "0",
                str(progress.retried),
                _fmt_seconds(progress.elapsed(now)),
            )
        return table

    def tick(self, steps: list[StepProgress], now: float) -> None:
        if now - self._last < self.refresh_interval:
            return
        self._last = now
        self.steps = steps
        self.live.update(self._table(steps, now), refresh=True)

    def finish(self, summary: RunSummary) -> None:
        self.live.stop()
        style = "bold green" if summary.succeeded else "bold red"
        self.console.print(summary_line(summary), style=style, markup=False, highlight=False)
        if summary.hint:
            self.console.print(summary.hint, markup=False, highlight=False)

    def close(self) -> None:
        self.live.stop()


def make_display(title: str, quiet: bool = False) -> PlainDisplay:
    """A live view on a colour-capable terminal, plain lines otherwise (or with ``NO_COLOR``)."""
    if sys.stdout.isatty() and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb":
        return LiveDisplay(title, quiet)
    return PlainDisplay(quiet=quiet)
