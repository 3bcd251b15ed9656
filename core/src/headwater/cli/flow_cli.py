"""``python flow.py ...``: the command line of one flow.

The top-level group holds the options every command shares (``--datastore``, ``--datastore-root``,
``--environment``, ``--with``, ``--quiet``, ``--debug`` and plugins' options); the commands themselves
(``run``, ``resume``, ``step``, ``show``, ``check``, ``logs``, ``dump``, ``tag``) are added through the
``register_flow_commands`` hook, by the core's built-in plugin exactly as by any other. The group is
built once per flow class, so tasks forked from the runtime reuse it.

Errors are part of the interface: a ``HeadwaterError`` prints its message and hint without a traceback
(unless ``--debug``) and exits non-zero.
"""

from __future__ import annotations

import os
import sys
import traceback
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import click

from headwater import config
from headwater.exceptions import HeadwaterError

if TYPE_CHECKING:
    from headwater.datastore.records import FlowDatastore
    from headwater.flowspec import FlowSpec
    from headwater.graph import FlowGraph


@dataclass
class FlowCLIState:
    """What every command of a flow's CLI shares: the flow, its graph and the top-level options."""

    flow: type[FlowSpec]
    flow_file: str
    options: dict[str, Any] = field(default_factory=dict)
    _graph: FlowGraph | None = None
    _datastore: FlowDatastore | None = None

    @property
    def name(self) -> str:
        return self.flow.__name__

    @property
    def quiet(self) -> bool:
        return bool(self.options.get("quiet"))

    def graph(self, lint: bool = True) -> FlowGraph:
        """The flow's graph with ``--with`` decorators; linted (core rules and plugins') unless ``lint=False``."""
        if self._graph is None:
            from headwater import lint as lint_module
            from headwater.decorators import with_decorators
            from headwater.graph import FlowGraph

            graph = with_decorators(FlowGraph.of(self.flow), list(self.options.get("with") or ()))
            if lint:
                lint_module.lint(graph, self.flow, options=self.options)
            else:
                lint_module.check(graph)  # computes splits and joins; a task needs them
            self._graph = graph
        return self._graph

    def datastore(self) -> FlowDatastore:
        if self._datastore is None:
            from headwater.datastore.records import FlowDatastore
            from headwater.plugins import lookup, storage_backends

            given_root = self.options.get("datastore_root")
            if self.options["datastore"] == "local" and str(given_root or "").startswith("s3://"):
                self.options["datastore"] = "s3"  # an s3:// root alone selects the S3 datastore
            backend = lookup("datastore", self.options["datastore"], storage_backends())
            root = given_root or backend.default_root(self.flow_file)
            if not root:
                raise HeadwaterError(
                    f"The {self.options['datastore']} datastore needs a root.",
                    "Pass --datastore-root or set HEADWATER_DATASTORE_ROOT.",
                )
            self.options["datastore_root"] = root
            self._datastore = FlowDatastore(backend(root), self.name)
        return self._datastore

    def task_top_args(self) -> list[str]:
        """Top-level options every task's command repeats, so it sees the same flow and datastore."""
        self.datastore()
        args = [
            "--quiet",
            "--datastore",
            self.options["datastore"],
            "--datastore-root",
            str(self.options["datastore_root"]),
            *(["--environment", self.options["environment"]] if self.options.get("environment") else []),
        ]
        from headwater.runtime.context import render_options

        for spec in self.options.get("with") or ():
            args += ["--with", spec]
        return args + render_options(dict(sorted(self.options.get("plugin_options", {}).items())))


_groups: dict[type, click.Group] = {}


def _known_name(kind: str, registry: str) -> Any:
    """A click callback: the option's value must name a registered ``kind``.

    A name the user mistyped is their mistake, not a plugin's: it is reported with the option (or the
    configuration it came from), a close match and the known names, not under "Plugin error".
    """

    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        from headwater import plugins
        from headwater.decorators import split_spec
        from headwater.exceptions import ConfigError, DecoratorError
        from headwater.graph import suggest

        known = getattr(plugins, registry)()
        option = f"--{(param.name or '').replace('_', '-').rstrip('-')}"
        for given in value if isinstance(value, tuple) else [value]:
            name = split_spec(given)[0] if kind == "step decorator" else given
            if name is None or name in known:
                continue
            where = f"{option} {given!r}"
            if ctx.get_parameter_source(param.name or "") is click.core.ParameterSource.DEFAULT:
                origin = config.lookup(param.name or "")[1]  # a variable, or the file that holds the key
                if origin is None:
                    where = f"the default {option}"
                else:
                    where = origin if origin.startswith("HEADWATER_") else f"{origin}, key {param.name!r}"
            error = DecoratorError if kind == "step decorator" else ConfigError
            raise error(
                f"{where}: there is no {kind} {name!r}." + suggest(name, list(known)),
                f"Known {kind}s: {', '.join(sorted(known)) or 'none'}. A plugin that provides {name!r} may not be "
                "installed (`headwater plugins` lists what is).",
            )
        return value

    return callback


def _flow_file(flow: type) -> str:
    module = sys.modules.get(flow.__module__)
    path = getattr(module, "__file__", None) or sys.argv[0]
    return os.path.abspath(path)


def build_cli(flow: type[FlowSpec]) -> click.Group:
    """The click group of a flow (built once per class)."""
    if flow in _groups:
        return _groups[flow]
    from headwater.plugins import call_each

    plugin_options: list[click.Option] = []
    call_each("register_flow_options", warn_only=True, register=plugin_options.append)
    plugin_names = {opt.name for opt in plugin_options}

    @click.group(
        name=os.path.basename(_flow_file(flow)),
        help=(flow.__doc__ or f"The {flow.__name__} flow.").strip().split("\n\n")[0],
        context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    )
    @click.option(
        "--datastore",
        default=lambda: config.get("datastore"),
        callback=_known_name("datastore", "storage_backends"),
        show_default="local",
        help="Where runs and artifacts are stored.",
    )
    @click.option(
        "--datastore-root",
        default=lambda: config.get("datastore_root"),
        help="Root of the datastore (default: the nearest .headwater directory).",
    )
    @click.option(
        "--environment",
        default=lambda: config.get("environment"),
        callback=_known_name("environment", "environments"),
        show_default="the one the flow's decorators ask for, else local",
        help="The environment tasks run in (local, or one a plugin provides: conda, pypi).",
    )
    @click.option(
        "--with",
        "with_",
        multiple=True,
        metavar="DECORATOR[:key=value,...]",
        callback=_known_name("step decorator", "step_decorators"),
        help="Add a step decorator to every step (repeatable).",
    )
    @click.option("--quiet", is_flag=True, help="Show only task output, errors and the final line.")
    @click.option("--debug", is_flag=True, help="Show Python tracebacks of Headwater's own errors.")
    @click.option(
        "--pylint/--no-pylint",
        default=True,
        help="Accepted for Metaflow's command lines; Headwater never runs pylint (`check` reads the graph).",
    )
    @click.pass_context
    def cli(
        ctx: click.Context,
        datastore: str,
        datastore_root: str | None,
        environment: str | None,
        with_: tuple[str, ...],
        quiet: bool,
        debug: bool,
        pylint: bool,
        **extra: Any,
    ) -> None:
        options: dict[str, Any] = {
            "datastore": datastore,
            "datastore_root": datastore_root,
            "environment": environment,
            "with": list(with_),
            "quiet": quiet,
            "debug": debug,
            "plugin_options": {k: v for k, v in extra.items() if k in plugin_names},
        }
        options.update({k: v for k, v in extra.items() if k in plugin_names})
        ctx.obj = FlowCLIState(flow, _flow_file(flow), options)

    cli.params.extend(plugin_options)
    call_each("register_flow_commands", warn_only=True, cli=cli, flow=flow)
    _groups[flow] = cli
    return cli


def render_error(error: HeadwaterError, debug: bool) -> None:
    """Print an error the user can act on: headline, message, hint; a traceback only with --debug."""
    if debug:
        traceback.print_exception(error)
    headline = f"{error.headline}:"
    if sys.stderr.isatty() and not os.environ.get("NO_COLOR"):
        headline = f"\033[1;31m{headline}\033[0m"
    sys.stderr.write(f"{headline} {error.message}\n" + (f"{error.hint}\n" if error.hint else ""))


def main(flow: type[FlowSpec], args: list[str] | None = None, standalone: bool = True) -> int:
    """Run the flow's CLI. ``standalone`` exits the process; otherwise the exit status is returned."""
    argv = list(sys.argv[1:] if args is None else args)
    debug = "--debug" in argv
    try:
        cli = build_cli(flow)
        result = cli.main(args=argv, prog_name=os.path.basename(_flow_file(flow)), standalone_mode=False)
        code = result if isinstance(result, int) else 0
    except HeadwaterError as e:
        render_error(e, debug)
        code = e.exit_code
    except click.exceptions.Exit as e:
        code = e.exit_code
    except click.ClickException as e:
        e.show()
        code = e.exit_code
    except click.Abort:
        sys.stderr.write("Aborted.\n")
        code = 130
    if standalone:
        sys.stdout.flush()
        sys.exit(code)
    return code
