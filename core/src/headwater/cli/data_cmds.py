"""``logs``, ``dump`` and ``tag``: look at and label what runs left in the datastore."""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from typing import Any

import click

from headwater._attempts import attempt_label
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
@click.option(
    "--attempt",
    type=click.IntRange(min=0),
    help="Show the attempt with this retry_count (0 is the first attempt) instead of the latest.",
)
@click.pass_obj
def logs(state: Any, pathspec: str, which: str, attempt: int | None) -> int:
    """Show the output of the tasks at RUN_ID/STEP[/TASK_ID]."""
    streams = ["stdout", "stderr"] if which == "both" else [which]
    blocks = []
    for task in _tasks(state, pathspec):
        if attempt is not None:
            started = task._attempts[0]
            if attempt not in started:
                raise NotFoundError(
                    f"Task {task.pathspec} has no {attempt_label(attempt)}.",
                    f"Its attempts (give --attempt the retry_count): "
                    f"{', '.join(attempt_label(a) for a in sorted(started)) or 'none'}.",
                )
            task = type(task)._from(task.parent, task.id, attempt)
        blocks += [(task, stream, getattr(task, stream)) for stream in streams]
    blocks = [block for block in blocks if block[2]]
    if not blocks:  # an empty answer would look like a failure to read
        on = " or ".join(streams)
        click.echo(f"{pathspec}: no output on {on}" + (f" ({attempt_label(attempt)})." if attempt is not None else "."))
        return 0
    for task, stream, text in blocks:
        if len(blocks) > 1:
            click.echo(f"--- {task.parent.id}/{task.id}, {attempt_label(task.current_attempt)}, {stream} ---")
        click.echo(text, nl=not text.endswith("\n"))
    return 0


@click.command("dump")
@click.argument("pathspec")
@click.option(
    "--max-value-size",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="Characters of each value shown.",
)
@click.option("--include", help="Comma-separated artifact names to show.")
@click.option("--private", is_flag=True, help="Also show artifacts whose names start with _.")
@click.option("--file", "path", type=click.Path(dir_okay=False), help="Also pickle {task: {name: value}} to this file.")
@click.pass_obj
def dump(state: Any, pathspec: str, max_value_size: int, include: str | None, private: bool, path: str | None) -> int:
    """Show the artifacts of the tasks at RUN_ID/STEP[/TASK_ID]."""
    wanted = {n.strip() for n in include.split(",") if n.strip()} if include else None
    tasks = [(task, list(task)) for task in _tasks(state, pathspec)]
    if wanted is not None:
        present = {artifact.id for _, artifacts in tasks for artifact in artifacts}
        missing = sorted(wanted - present)
        if missing:
            shown = sorted(n for n in present if private or not n.startswith("_")) or ["none"]
            raise NotFoundError(
                f"{pathspec} has no artifact {', '.join(map(repr, missing))}.", f"Its artifacts: {', '.join(shown)}."
            )
    everything: dict[str, dict[str, Any]] = {}
    for task, artifacts in tasks:
        click.echo(f"{task.pathspec}:")
        values: dict[str, Any] = {}
        for artifact in artifacts:
            # a name asked for with --include is shown even when private
            if (artifact.id not in wanted) if wanted is not None else (artifact.id.startswith("_") and not private):
                continue
            value = artifact.data
            values[artifact.id] = value
            click.echo(f"  {artifact.id} ({artifact.type}, {artifact.size} bytes): {_shown(value, max_value_size)}")
        everything[task.pathspec] = values
    if path:
        with open(path, "wb") as f:
            pickle.dump(everything, f, protocol=5)
        click.echo(f"Artifacts written to {path}")
    return 0


#: Below this many characters the whole repr is built, so the message can say how much was left out.
_EXACT_REPR = 1 << 20


def _shown(value: Any, limit: int) -> str:
    """``repr(value)`` cut to ``limit`` characters, without building the whole text of a large value."""
    text, more = _preview(value, limit)
    if not more:
        return text
    if _cheap(value):
        full = repr(value)
        return full[:limit] + f"... ({len(full) - limit} more characters)"
    return text + "... (shortened; --file saves the whole value)"


def _cheap(value: Any) -> bool:
    """Whether the whole repr of ``value`` is small enough to build just to count it."""
    if isinstance(value, (str, bytes, bytearray)):
        return len(value) < _EXACT_REPR // 4
    if type(value) in (list, tuple, dict, set, frozenset):
        return len(value) < 1000 and all(_cheap(item) for item in (value.items() if isinstance(value, dict) else value))
    return True


def _preview(value: Any, limit: int) -> tuple[str, bool]:
    """The first ``limit`` characters of the repr and whether there is more, built piece by piece."""
    pieces, length = [], 0
    for piece in _repr_pieces(value, limit, set()):
        pieces.append(piece)
        length += len(piece)
        if length > limit:
            return "".join(pieces)[:limit], True
    return "".join(pieces), False


_BRACKETS: dict[type, tuple[str, str]] = {
    list: ("[", "]"),
    tuple: ("(", ")"),
    set: ("{", "}"),
    frozenset: ("frozenset({", "})"),
}


def _repr_pieces(value: Any, limit: int, active: set[int]) -> Iterator[str]:
    """``repr(value)`` as pieces, in order, for the built-in containers; strings and bytes are sliced."""
    kind = type(value)
    if kind in (str, bytes, bytearray) and len(value) > limit:
        # every character takes at least one in the repr, so the slice's repr is longer than the limit
        yield repr(value[: limit + 1])
        return
    if kind not in _BRACKETS and kind is not dict:
        yield repr(value)
        return
    if id(value) in active:  # a container inside itself, as repr shows it
        yield "{...}" if kind is dict else "[...]"
        return
    if not value:
        yield repr(value)
        return
    active.add(id(value))
    open_, close = ("{", "}") if kind is dict else _BRACKETS[kind]
    yield open_
    for i, item in enumerate(value.items() if kind is dict else value):
        if i:
            yield ", "
        if kind is dict:
            yield from _repr_pieces(item[0], limit, active)
            yield ": "
            item = item[1]
        yield from _repr_pieces(item, limit, active)
    if kind is tuple and len(value) == 1:
        yield ","
    yield close
    active.discard(id(value))


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
    run_ids = list(ds.run_ids())
    if not run_ids:
        click.echo(f"{state.name} has no runs yet, so no tags.")
        return 0
    for rid in run_ids:
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
