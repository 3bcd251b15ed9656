"""``run`` and ``resume``: start a run, or a new run that reuses what an earlier one finished.

Each parameter of the flow becomes an option of ``run``; values are checked before any task starts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from headwater import config
from headwater.parameters import JSONTypeClass, flow_parameters


def _run_options(func: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("--tag", "tags", multiple=True, help="Add a tag to the run (repeatable)."),
        # at least 1 each: 0 workers would wait forever, a negative limit is meaningless; a bad value from
        # the configuration fails in get_int, naming the variable or the file it came from
        click.option(
            "--max-workers",
            type=click.IntRange(min=1),
            default=lambda: config.get_int("max_workers", minimum=1) or config.cpu_count(),
            show_default="number of CPUs",
            help="Tasks run at the same time.",
        ),
        click.option(
            "--max-num-splits",
            type=click.IntRange(min=1),
            default=lambda: config.get_int("max_num_splits", minimum=1),
            show_default="100",
            help="Largest foreach allowed (a guard against runaway splits).",
        ),
        click.option(
            "--max-log-size",
            type=click.IntRange(min=1),
            default=lambda: config.get_int("max_log_size_mb", minimum=1),
            show_default="10",
            help="MB of output kept per task attempt and stream (the end is kept).",
        ),
        click.option("--run-id-file", type=click.Path(dir_okay=False), help="Write the run id to this file."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _parameter_option(param: Any) -> click.Option:
    kind = (
        "JSON" if isinstance(param.type, JSONTypeClass) else ("PATH" if param.IS_FILE else param.type.__name__.upper())
    )
    help_text = param.help or ""
    if param.required:
        help_text += " [required]"
    elif param.show_default and param.default is not None and not callable(param.default):
        help_text += f" [default: {param.default}]"
    return click.Option([f"--{param.name}", f"param__{param.attr}"], metavar=kind, help=help_text.strip() or None)


def run_command(flow: type) -> click.Command:
    params = flow_parameters(flow)

    @click.command("run", help="Run the flow, every step and task, on this machine.")
    @_run_options
    @click.pass_obj
    def run(
        state: Any,
        tags: tuple[str, ...],
        max_workers: int,
        max_num_splits: int,
        max_log_size: int,
        run_id_file: str | None,
        **values: Any,
    ) -> int:
        from headwater.runtime.run import execute_run

        given = {name[len("param__") :]: value for name, value in values.items()}
        return execute_run(state, given, list(tags), max_workers, max_num_splits, max_log_size, run_id_file)

    for param in reversed(params):
        run.params.insert(0, _parameter_option(param))
    return run


@click.command("resume")
@click.argument("step", required=False)
@click.option("--origin-run-id", help="The run to resume (default: the latest run of this flow).")
@_run_options
@click.pass_obj
def resume(
    state: Any,
    step: str | None,
    origin_run_id: str | None,
    tags: tuple[str, ...],
    max_workers: int,
    max_num_splits: int,
    max_log_size: int,
    run_id_file: str | None,
) -> int:
    """Re-run what failed (or STEP and everything after it), cloning every task that succeeded.

    Cloned tasks reuse the earlier run's artifacts without copying them; the plan is printed first.
    """
    from headwater.runtime.run import execute_run

    return execute_run(
        state, {}, list(tags), max_workers, max_num_splits, max_log_size, run_id_file, resume=(origin_run_id, step)
    )
