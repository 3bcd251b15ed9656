"""Built-in plugin: the flow commands (run, resume, step, show, check, logs, dump, tag, init, transition)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from headwater.hookspecs import hookimpl

if TYPE_CHECKING:
    import click


@hookimpl(trylast=True)
def register_flow_commands(cli: click.Group, flow: type) -> None:
    from headwater.cli import data_cmds, deploy_cmds, info_cmds, run_cmds, step_cmd

    for command in (
        run_cmds.run_command(flow),
        run_cmds.resume,
        step_cmd.step,
        info_cmds.show,
        info_cmds.check,
        data_cmds.logs,
        data_cmds.dump,
        data_cmds.tag,
        deploy_cmds.init_command(flow),
        deploy_cmds.transition,
    ):
        cli.add_command(command)
