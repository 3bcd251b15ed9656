"""``headwater``: the console command for what is not tied to one flow (``plugins``, ``version``, ``package``)."""

from __future__ import annotations

import json
import sys

import click

from headwater._version import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(
    __version__, "--version", prog_name="headwater", message=f"%(prog)s %(version)s (Python {sys.version.split()[0]})"
)
def cli() -> None:
    """Headwater: data-science workflows as plain Python."""


@cli.command("version")
def version() -> None:
    """Print the installed version of Headwater."""
    click.echo(f"headwater {__version__} (Python {sys.version.split()[0]})")


@cli.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--hooks/--no-hooks", default=True, help="List the hooks each plugin implements.")
def plugins(as_json: bool, hooks: bool) -> None:
    """List built-in and installed plugins, their versions and the hooks they implement."""
    from headwater.plugins import plugin_infos

    infos, failed = plugin_infos()
    if as_json:
        data = {
            "plugins": [
                {
                    "name": i.name,
                    "builtin": i.builtin,
                    "module": i.module,
                    "distribution": i.distribution,
                    "version": i.version,
                    "hooks": i.hooks,
                }
                for i in infos
            ],
            "failed": failed,
        }
        click.echo(json.dumps(data, indent=2))
        return
    for info in infos:
        origin = "built-in" if info.builtin else f"{info.distribution or '?'} {info.version or ''}".strip()
        click.echo(f"{info.name}  ({origin}; {info.module})")
        if hooks:
            for name in info.hooks:
                click.echo(f"    {name}")
    for name, reason in failed.items():
        click.echo(f"{name}  (failed to load: {reason})")


@cli.group("package")
def package() -> None:
    """Code packages: the archive of a flow's code stored with every run."""


@package.command("unpack")
@click.option("--datastore", "kind", default="local", show_default=True, help="The datastore's type.")
@click.option("--datastore-root", "root", required=True, help="The datastore's root.")
@click.option("--flow", "flow_name", required=True, help="The flow's name.")
@click.option("--key", help="The package's content key (default: the run's).")
@click.option("--run-id", help="Unpack the code this run ran with.")
@click.argument("destination", default=".")
def package_unpack(kind: str, root: str, flow_name: str, key: str | None, run_id: str | None, destination: str) -> None:
    """Fetch a run's code package from the datastore and unpack it into DESTINATION (a fresh container's
    working directory: the first thing a remote task does)."""
    from headwater.client.core import CodePackage
    from headwater.datastore.records import FlowDatastore
    from headwater.exceptions import ConfigError
    from headwater.plugins import lookup, storage_backends

    datastore = FlowDatastore(lookup("datastore", kind, storage_backends())(root), flow_name)
    if key is None:
        if run_id is None:
            raise ConfigError("Give --key or --run-id.", "The run's record names its code package.")
        key = datastore.run_record(run_id).get("code_package")
        if not key:
            raise ConfigError(f"Run {flow_name}/{run_id} has no code package.")
    CodePackage(datastore, key, None).extract(destination)


def build() -> click.Group:
    from headwater.plugins import call_each

    call_each("register_console_commands", warn_only=True, cli=cli)
    return cli


def main() -> None:
    from headwater.cli.flow_cli import render_error
    from headwater.exceptions import HeadwaterError

    try:
        build().main(prog_name="headwater")
    except HeadwaterError as e:
        render_error(e, debug=False)
        sys.exit(e.exit_code)
