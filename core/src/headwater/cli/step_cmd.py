"""``step``: run one attempt of one task. Every task runs through this command, wherever it runs."""

from __future__ import annotations

from typing import Any

import click

from headwater import config
from headwater.exceptions import HeadwaterError


@click.command("step", hidden=True)
@click.argument("step_name")
@click.option("--run-id", required=True)
@click.option("--task-id", required=True)
@click.option("--input-paths", required=True, help="Encoded input task paths (step:1-3;other:4).")
@click.option("--split-index", type=int)
@click.option("--retry-count", type=int, default=0)
@click.option("--max-user-code-retries", type=int, default=0)
@click.option("--max-num-splits", type=int, default=100)
@click.option("--tag", "tags", multiple=True)
@click.option("--origin-run-id")
@click.option("--num-hosts", type=click.IntRange(min=1), default=1, help="Hosts running this task together.")
@click.option("--host-index", type=click.IntRange(min=0), default=0, help="This host (0 commits the task).")
@click.pass_obj
def step(
    state: Any,
    step_name: str,
    run_id: str,
    task_id: str,
    input_paths: str,
    split_index: int | None,
    retry_count: int,
    max_user_code_retries: int,
    max_num_splits: int,
    tags: tuple[str, ...],
    origin_run_id: str | None,
    num_hosts: int,
    host_index: int,
) -> int:
    """Run one task attempt: load inputs, run the step, store its artifacts, commit."""
    from headwater.runtime.context import decode_input_paths
    from headwater.runtime.task import TaskContext

    graph = state.graph(lint=False)
    if step_name not in graph:
        raise HeadwaterError(f"{graph.name} has no step `{step_name}`.")
    if host_index >= num_hosts:
        raise HeadwaterError(f"--host-index {host_index} is not below --num-hosts {num_hosts}.")
    datastore = state.datastore()
    # A step that reads runs with the client (Flow("Other")...) reads the datastore it runs in.
    config.client_datastore = (state.options["datastore"], str(state.options["datastore_root"]))
    user = config.username()
    task = TaskContext(
        state.flow,
        graph,
        graph[step_name],
        datastore,
        run_id,
        task_id,
        retry_count,
        decode_input_paths(input_paths),
        split_index=split_index,
        max_user_code_retries=max_user_code_retries,
        max_num_splits=max_num_splits,
        tags=list(tags),
        user=user,
        namespace=f"user:{user}",
        origin_run_id=origin_run_id,
        options=state.options,
        host_index=host_index,
        num_hosts=num_hosts,
    )
    return 0 if task.run() else 1
