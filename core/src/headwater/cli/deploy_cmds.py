"""``init`` and ``transition``: the two commands an orchestrator needs besides ``step``.

``init`` creates a run (code package, parameters, run record) under an id the orchestrator chose;
``transition`` prints, as JSON, where a finished task went (foreach size, chosen case), so a state
machine or a shell script can decide what to start next. See ``headwater.runtime.deploy``.
"""

from __future__ import annotations

import json
from typing import Any

import click


def init_command(flow: type) -> click.Command:
    from headwater.cli.run_cmds import _parameter_option
    from headwater.parameters import flow_parameters

    @click.command("init", hidden=True)
    @click.option("--run-id", required=True, help="The id of the new run (chosen by the orchestrator).")
    @click.option("--tag", "tags", multiple=True, help="Add a tag to the run (repeatable).")
    @click.pass_obj
    def init(state: Any, run_id: str, tags: tuple[str, ...], **values: Any) -> int:
        """Create a run that an orchestrator drives: store the code package, the parameters and the run record."""
        from headwater.runtime.deploy import init_run

        given = {name[len("param__") :]: value for name, value in values.items()}
        click.echo(init_run(state, run_id, given, list(tags)))
        return 0

    for param in reversed(flow_parameters(flow)):
        init.params.insert(0, _parameter_option(param))
    return init


@click.command("transition", hidden=True)
@click.argument("pathspec")
@click.pass_obj
def transition(state: Any, pathspec: str) -> int:
    """Print, as JSON, where the finished task RUN_ID/STEP/TASK_ID went (type, next, num_splits, chosen)."""
    from headwater.exceptions import NotFoundError
    from headwater.runtime.deploy import read_transition

    parts = pathspec.strip("/").split("/")
    if len(parts) != 3:
        raise NotFoundError(f"{pathspec!r} is not RUN_ID/STEP/TASK_ID.", "Example: sfn-42/start/1")
    click.echo(json.dumps(read_transition(state.datastore(), *parts).to_dict()))
    return 0
