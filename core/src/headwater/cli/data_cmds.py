"""``logs``, ``dump`` and ``tag``: look at and label what runs left in the datastore."""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from typing import Any

import click

from headwater.exceptions import DatastoreError, NotFoundError
from headwater.ids import validate_run_id, validate_step_name, validate_task_id


def _tasks(state: Any, pathspec: str) -> Iterator[Any]:
    """Tasks addressed by ``run_id/step`` or ``run_id/step/task_id``."""
    from headwater.client.core import Step

    parts = pathspec.strip("/").split("/")
    if len(parts) not in (2, 3):
        raise NotFoundError(
            f"{pathspec!r} is not RUN_ID/STEP or RUN_ID/STEP/TASK_ID.", "Example: 1732770000123456/start"
        )
    validate_run_id(parts[0])
    validate_step_name(parts[1])
    if len(parts) == 3:
        validate_task_id(parts[2])
    run = _run(state, parts[0])
    if parts[1] not in run:
        raise NotFoundError(f"Run {run.pathspec} has no step {parts[1]!r}.", f"Steps: {', '.join(s.id for s in run)}.")
    step = Step._from(run, parts[1])
    if len(parts) == 3:
        try:
            yield step[parts[2]]
        except KeyError as e:
            raise NotFoundError(str(e.args[0])) from None
        return
    yield from step.tasks()


@click.command("logs")
@click.argument("pathspec")
@click.option("--stdout", "which", flag_value="stdout", help="Only standard output.")
@click.option("--stderr", "which", flag_value="stderr", help="Only standard error.")
@click.option("--both", "which", flag_value="both", default=True, help="Both streams (the default).")
@click.option("--attempt", type=int, help="Show this attempt instead of the latest.")
@click.pass_obj
def logs(state: Any, pathspec: str, which: str, attempt: int | None) -> int:
    """Show the output of the tasks at RUN_ID/STEP[/TASK_ID]."""
    streams = ["stdout", "stderr"] if which == "both" else [which]
    blocks = []
    for task in _tasks(state, pathspec):
        if attempt is not None:
            task = type(task)._from(task.parent, task.id, attempt)
        blocks += [(task, stream, getattr(task, stream)) for stream in streams]
    blocks = [block for block in blocks if block[2]]
    for task, stream, text in blocks:
        if len(blocks) > 1:
            click.echo(f"--- {task.parent.id}/{task.id} (attempt {task.current_attempt}) {stream} ---")
        click.echo(text, nl=not text.endswith("\n"))
    return 0


@click.command("dump")
@click.argument("pathspec")
@click.option("--max-value-size", type=int, default=1000, show_default=True, help="Characters of each value shown.")
@click.option("--include", help="Comma-separated artifact names to show.")
@click.option("--private", is_flag=True, help="Also show artifacts whose names start with _.")
@click.option("--file", "path", type=click.Path(dir_okay=False), help="Also pickle {task: {name: value}} to this file.")
@click.pass_obj
def dump(state: Any, pathspec: str, max_value_size: int, include: str | None, private: bool, path: str | None) -> int:
    """Show the artifacts of the tasks at RUN_ID/STEP[/TASK_ID]."""
    wanted = {n.strip() for n in include.split(",")} if include else None
    everything: dict[str, dict[str, Any]] = {}
    for task in _tasks(state, pathspec):
        click.echo(f"{task.pathspec}:")
        values: dict[str, Any] = {}
        for artifact in task:
            if (wanted is not None and artifact.id not in wanted) or (artifact.id.startswith("_") and not private):
                continue
            value = artifact.data
            values[artifact.id] = value
            text = repr(value)
            if len(text) > max_value_size:
                text = text[:max_value_size] + f"... ({len(text) - max_value_size} more characters)"
            click.echo(f"  {artifact.id} ({artifact.type}, {artifact.size} bytes): {text}")
        everything[task.pathspec] = values
    if path:
        with open(path, "wb") as f:
            pickle.dump(everything, f, protocol=5)
        click.echo(f"Artifacts written to {path}")
    return 0


def _run(state: Any, run_id: str | None) -> Any:
    from headwater.client.core import Run

    ds = state.datastore()
    run_id = validate_run_id(run_id) if run_id is not None else ds.latest_run_id()
    if run_id is None:
        raise NotFoundError(f"{state.name} has no runs yet.")
    ds.run_record(run_id)  # a run that does not exist is not labelled: NotFoundError names it
    return Run._from(ds, state.name, run_id)


@click.group("tag")
def tag() -> None:
    """Add, remove, replace or list the user tags of runs."""


@tag.command("add")
@click.option("--run-id", help="The run (default: the latest).")
@click.argument("tags", nargs=-1, required=True)
@click.pass_obj
def tag_add(state: Any, run_id: str | None, tags: tuple[str, ...]) -> int:
    run = _run(state, run_id)
    run.add_tags(list(tags))
    click.echo(f"{run.pathspec}: {', '.join(run.user_tags)}")
    return 0


@tag.command("remove")
@click.option("--run-id", help="The run (default: the latest).")
@click.argument("tags", nargs=-1, required=True)
@click.pass_obj
def tag_remove(state: Any, run_id: str | None, tags: tuple[str, ...]) -> int:
    run = _run(state, run_id)
    missing = [t for t in tags if t not in run.user_tags]
    if missing:
        raise NotFoundError(
            f"{run.pathspec} has no user tag {', '.join(map(repr, missing))}.",
            f"Its tags: {', '.join(run.user_tags) or 'none'}.",
        )
    run.remove_tags(list(tags))
    click.echo(f"{run.pathspec}: {', '.join(run.user_tags) or '(no user tags)'}")
    return 0


@tag.command("replace")
@click.option("--run-id", help="The run (default: the latest).")
@click.argument("old")
@click.argument("new")
@click.pass_obj
def tag_replace(state: Any, run_id: str | None, old: str, new: str) -> int:
    run = _run(state, run_id)
    if old not in run.user_tags:
        raise NotFoundError(
            f"{run.pathspec} has no user tag {old!r}.", f"Its tags: {', '.join(run.user_tags) or 'none'}."
        )
    run.replace_tag(old, new)
    click.echo(f"{run.pathspec}: {', '.join(run.user_tags)}")
    return 0


@tag.command("list")
@click.option("--run-id", help="One run (default: every run).")
@click.pass_obj
def tag_list(state: Any, run_id: str | None) -> int:
    from headwater.client.core import Run

    if run_id:
        run = _run(state, run_id)
        click.echo(f"{run.pathspec}  {', '.join(run.user_tags) or '-'}  [{', '.join(run.system_tags)}]")
        return 0
    ds = state.datastore()
    for rid in ds.run_ids():
        run = Run._from(ds, state.name, rid)
        try:
            line = f"{run.pathspec}  {', '.join(run.user_tags) or '-'}  [{', '.join(run.system_tags)}]"
        except NotFoundError:  # being created right now
            continue
        except DatastoreError as e:  # one damaged run is reported, and the others still listed
            click.echo(f"headwater: warning: skipped run {run.pathspec}: {e.message}", err=True)
            continue
        click.echo(line)
    return 0
