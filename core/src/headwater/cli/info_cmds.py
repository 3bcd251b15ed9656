"""``show`` and ``check``: read the graph from the source, without running anything."""

from __future__ import annotations

import os
from typing import Any

import click


@click.command("check")
@click.pass_obj
def check(state: Any) -> int:
    """Check the flow's graph and decorators; list every problem with file:line."""
    graph = state.graph()
    click.echo(f"{graph.name} is valid: {len(graph.nodes)} steps.")
    return 0


@click.command("show")
@click.pass_obj
def show(state: Any) -> int:
    """Show the steps, what each does (its docstring) and what follows it; then any problems."""
    from headwater import lint
    from headwater.exceptions import GraphError
    from headwater.parameters import flow_parameters

    # a graph with problems is still drawn: seeing it is often how the user finds the mistake
    graph = state.graph(lint=False)
    try:
        lint.lint(graph, state.flow, options=state.options)
        problems = None
    except GraphError as e:
        problems = e
    doc = (state.flow.__doc__ or "").strip()
    click.echo(f"{graph.name}  ({os.path.basename(graph.file)})")
    for deco in graph.flow_decorators:
        click.echo(f"  {deco!r}")
    if doc:
        click.echo("\n" + "\n".join("  " + line for line in doc.splitlines()))
    params = flow_parameters(state.flow)
    if params:
        click.echo("\nParameters:")
        for p in params:
            default = "" if p.default is None or callable(p.default) else f" (default {p.default!r})"
            click.echo(f"  --{p.name}{default}{': ' + p.help if p.help else ''}")
    for node in graph.topological():
        decos = " ".join("@" + d.spec() for d in node.decorators)
        kind = "no next step" if node.type == "end" and node.name != "end" else node.type  # a missing self.next
        click.echo(f"\nStep {node.name}  [{kind}]{'  ' + decos if decos else ''}")
        if node.doc:
            click.echo("\n".join("    " + line for line in node.doc.splitlines()))
        if node.transition == "foreach" and node.out_funcs:
            click.echo(f"    => {node.out_funcs[0]} for each item of `{node.foreach_param}`")
        elif node.transition == "switch":
            cases = ", ".join(f"{k!r}: {v}" for k, v in node.switch_cases.items())
            click.echo(f"    => by `{node.condition}`: {cases}")
        elif node.out_funcs:
            click.echo(f"    => {', '.join(node.out_funcs)}")
    if problems is not None:
        click.echo("")
        raise problems  # listed after the graph, as `check` lists them
    return 0
