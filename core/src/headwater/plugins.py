"""The plugin manager: built-ins and installed plugins, registered through one call, loaded lazily.

The core's built-ins (``DEFAULT_PLUGINS``) and the modules found under the entry-point group ``headwater``
are registered the same way, by ``_register``. Nothing here runs at ``import headwater``: the manager is
created on first use. A plugin that fails to import gives one warning naming it, and the rest keep
working. Switches, read from the environment:

- ``HEADWATER_LOAD_PLUGINS``: an allow-list of entry-point names (set it empty to load none);
- ``HEADWATER_DISABLE_PLUGINS``: a block-list of entry-point or built-in names;
- ``HEADWATER_TRACE_PLUGINS=1``: print every hook call and its result to stderr.

The registries that plugins feed through ``register_*`` hooks (decorators, storage backends,
serializers, environments) are built here too, once per process.
"""

from __future__ import annotations

import importlib
import os
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pluggy

from headwater import hookspecs
from headwater.exceptions import PluginError

if TYPE_CHECKING:
    from headwater.datastore.serializers import Serializer
    from headwater.datastore.storage import StorageBackend
    from headwater.decorators import FlowDecorator, StepDecorator
    from headwater.environments import Environment

ENTRY_POINT_GROUP = "headwater"

#: The core's own plugins, registered exactly like third-party ones (built-in name -> module).
DEFAULT_PLUGINS: tuple[tuple[str, str], ...] = (
    ("local-storage", "headwater.builtins.local_storage"),
    ("s3-storage", "headwater.builtins.s3_storage"),
    ("serializers", "headwater.builtins.serializers"),
    ("local-environment", "headwater.builtins.local_environment"),
    ("step-body", "headwater.builtins.step_body"),
    ("retry", "headwater.builtins.retry"),
    ("catch", "headwater.builtins.catch"),
    ("timeout", "headwater.builtins.timeout"),
    ("resources", "headwater.builtins.resources"),
    ("environment", "headwater.builtins.environment_vars"),
    ("commands", "headwater.builtins.commands"),
    ("local-launcher", "headwater.builtins.local_launcher"),
    ("project", "headwater.builtins.project"),
    ("schedule", "headwater.builtins.schedule"),
)


@dataclass
class PluginInfo:
    """What ``headwater plugins`` shows about one registered plugin."""

    name: str
    module: str
    builtin: bool
    distribution: str | None = None
    version: str | None = None
    hooks: list[str] = field(default_factory=list)


@dataclass
class _State:
    pm: pluggy.PluginManager
    infos: dict[str, PluginInfo] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    entry_points_loaded: bool = False


_state: _State | None = None


def _env_list(name: str) -> set[str] | None:
    value = os.environ.get(name)
    if value is None:
        return None
    return {part.strip() for part in value.split(",") if part.strip()}


def _warn(message: str) -> None:
    sys.stderr.write(f"headwater: warning: {' '.join(message.split())}\n")


def _has_spec(pm: pluggy.PluginManager, name: str) -> bool:
    caller = getattr(pm.hook, name, None)
    return caller is not None and caller.has_spec()


def _hook_names(pm: pluggy.PluginManager, plugin: object) -> list[str]:
    return sorted(caller.name for caller in (pm.get_hookcallers(plugin) or []) if caller.has_spec())


def _register(
    state: _State, plugin: object, name: str, module: str, builtin: bool, dist: EntryPoint | None = None
) -> None:
    """Register one plugin object, built-in or from an entry point; the single path for both."""
    pm = state.pm
    unknown = [
        attr
        for attr in dir(plugin)
        if getattr(getattr(plugin, attr, None), hookspecs.PROJECT + "_impl", None) is not None
        and not _has_spec(pm, attr)
    ]
    if unknown:
        _warn(f"plugin {name!r} implements unknown hook(s) {', '.join(unknown)}; they are never called.")
    pm.register(plugin, name=name)
    info = PluginInfo(name=name, module=module, builtin=builtin, hooks=_hook_names(pm, plugin))
    if builtin:
        from headwater._version import __version__

        info.distribution, info.version = "headwater", __version__
    elif dist is not None:
        info.distribution = dist.distribution
        info.version = dist.version
    state.infos[name] = info


def _load_builtins(state: _State) -> None:
    blocked = _env_list("HEADWATER_DISABLE_PLUGINS") or set()
    for name, module in DEFAULT_PLUGINS:
        if name in blocked:
            continue
        _register(state, importlib.import_module(module), name, module, builtin=True)


@dataclass(frozen=True)
class EntryPoint:
    """One ``name = module:attr`` line of an installed distribution's ``[headwater]`` entry points."""

    name: str
    value: str
    distribution: str
    version: str

    def load(self) -> object:
        module_name, _, attrs = self.value.partition(":")
        found: object = importlib.import_module(module_name.strip())
        for attr in filter(None, attrs.strip().split(".")):
            found = getattr(found, attr)
        return found


def _distribution_name(info_dir: str, entry: str) -> tuple[str, str]:
    """Name and version of a ``*.dist-info`` / ``*.egg-info`` folder, from its metadata file."""
    for filename in ("METADATA", "PKG-INFO"):
        try:
            with open(os.path.join(entry, info_dir, filename), encoding="utf-8") as f:
                fields = {}
                for line in f:
                    if not line.strip():
                        break
                    key, _, value = line.partition(":")
                    fields[key.strip().lower()] = value.strip()
                return fields.get("name", info_dir), fields.get("version", "?")
        except OSError:
            continue
    stem = info_dir.rsplit(".", 1)[0]
    name, _, version = stem.partition("-")
    return name, version or "?"


def scan_entry_points(group: str = ENTRY_POINT_GROUP, path: list[str] | None = None) -> list[EntryPoint]:
    """Entry points of ``group`` declared by the distributions on ``sys.path``, first found first.

    Reads ``entry_points.txt`` of each ``*.dist-info``/``*.egg-info`` folder directly: the same answer as
    ``importlib.metadata``, without importing it (and ``email``, ``zipfile``, ...), which would cost a
    run of the CLI and every notebook that reads runs tens of milliseconds.
    """
    found: list[EntryPoint] = []
    seen_dists: set[str] = set()
    header = f"[{group}]"
    for entry in path if path is not None else sys.path:
        directory = entry or os.getcwd()
        try:
            names = sorted(os.listdir(directory))
        except OSError:
            continue
        for info_dir in names:
            if not info_dir.endswith((".dist-info", ".egg-info")):
                continue
            try:
                with open(os.path.join(directory, info_dir, "entry_points.txt"), encoding="utf-8") as f:
                    text = f.read()
            except OSError:
                continue
            if header not in text:
                continue
            dist, version = _distribution_name(info_dir, directory)
            if dist.lower().replace("_", "-") in seen_dists:
                continue  # the same distribution again, later on the path: the first one is imported
            seen_dists.add(dist.lower().replace("_", "-"))
            section = None
            for line in text.splitlines():
                line = line.strip()
                if line.startswith("["):
                    section = line
                elif section == header and "=" in line and not line.startswith(("#", ";")):
                    name, _, value = line.partition("=")
                    found.append(EntryPoint(name.strip(), value.strip(), dist, version))
    return found


def _load_entry_points(state: _State) -> None:
    """Import every module of the ``headwater`` entry-point group, isolating failures."""
    state.entry_points_loaded = True
    allowed = _env_list("HEADWATER_LOAD_PLUGINS")
    blocked = _env_list("HEADWATER_DISABLE_PLUGINS") or set()
    if allowed is not None and not allowed:
        return
    seen: set[str] = set()
    for ep in scan_entry_points():
        if ep.name in seen:
            continue
        seen.add(ep.name)
        if ep.name in blocked or (allowed is not None and ep.name not in allowed):
            continue
        if state.pm.get_plugin(ep.name) is not None:
            _warn(f"plugin {ep.name!r} from {ep.distribution} clashes with a built-in; ignored.")
            continue
        try:
            plugin = ep.load()
            _register(state, plugin, ep.name, ep.value, builtin=False, dist=ep)
        except Exception as e:  # a broken plugin must not break the others
            reason = f"{type(e).__name__}: {e}"
            state.failed[ep.name] = reason
            _warn(
                f"plugin {ep.name!r} ({ep.distribution} {ep.version}) failed to load and is "
                f"ignored: {reason}. Reinstall or fix it, or set HEADWATER_DISABLE_PLUGINS={ep.name}."
            )


def _trace_writer(message: str) -> None:
    sys.stderr.write("headwater-trace: " + message)


def _state_or_create() -> _State:
    global _state
    if _state is None:
        pm = pluggy.PluginManager(hookspecs.PROJECT)
        pm.add_hookspecs(hookspecs)
        state = _State(pm=pm)
        _load_builtins(state)
        if os.environ.get("HEADWATER_TRACE_PLUGINS", "") not in ("", "0"):
            pm.trace.root.setwriter(_trace_writer)
            pm.enable_tracing()
        _state = state
    return _state


def get_plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager, with built-ins and installed plugins registered."""
    state = _state_or_create()
    if not state.entry_points_loaded:
        _load_entry_points(state)
    return state.pm


def hook() -> Any:
    """Shortcut for ``get_plugin_manager().hook``."""
    return get_plugin_manager().hook


def plugin_infos() -> tuple[list[PluginInfo], dict[str, str]]:
    """Registered plugins (built-ins first) and the ones that failed to load, with the reason."""
    state = _state_or_create()
    get_plugin_manager()
    infos = sorted(state.infos.values(), key=lambda i: (not i.builtin, i.name))
    return infos, dict(state.failed)


def register_plugin(plugin: object, name: str | None = None) -> str:
    """Register a plugin object at run time (tests, notebooks); returns its name."""
    state = _state_or_create()
    get_plugin_manager()
    plugin_name = name or getattr(plugin, "__name__", None) or type(plugin).__name__
    _register(state, plugin, plugin_name, getattr(plugin, "__module__", "?"), builtin=False)
    _forget_registries()
    return plugin_name


def unregister_plugin(name: str) -> None:
    state = _state_or_create()
    state.pm.unregister(name=name)
    state.infos.pop(name, None)
    _forget_registries()


def reset() -> None:
    """Forget every plugin and registry (tests)."""
    global _state
    _state = None
    _forget_registries()


def _forget_registries() -> None:
    """Drop everything built from the plugins' answers (registries, flow CLIs), to be built again."""
    _registries.clear()
    flow_cli = sys.modules.get("headwater.cli.flow_cli")
    if flow_cli is not None:
        flow_cli._groups.clear()


# --------------------------------------------------------------------------------------------------------
# Registries fed by register_* hooks
# --------------------------------------------------------------------------------------------------------

_registries: dict[str, Any] = {}


def _by_name(hook_name: str) -> dict[str, Any]:
    """What a ``register_*`` hook registers, by name; the first registration of a name wins.

    ``register(cls)`` names an entry by ``cls.name``; ``register(name, value)`` names it explicitly.
    """
    if hook_name not in _registries:
        found: dict[str, Any] = {}

        def register(*args: Any) -> None:
            name, value = (args[0].name, args[0]) if len(args) == 1 else args
            found.setdefault(name, value)

        call_each(hook_name, warn_only=True, register=register)
        _registries[hook_name] = found
    return _registries[hook_name]


def step_decorators() -> dict[str, type[StepDecorator]]:
    """Step decorator classes by name."""
    return _by_name("register_step_decorators")


def flow_decorators() -> dict[str, type[FlowDecorator]]:
    """Flow decorator classes by name."""
    return _by_name("register_flow_decorators")


def storage_backends() -> dict[str, type[StorageBackend]]:
    """Storage backend classes by ``--datastore`` name."""
    return _by_name("register_storage_backends")


def environments() -> dict[str, type[Environment]]:
    """Environment classes by ``--environment`` name."""
    return _by_name("register_environments")


def serializers() -> list[Serializer]:
    """Serializers, highest priority first (pickle last)."""
    if "serializers" not in _registries:
        found: list[Serializer] = []
        call_each("register_serializers", warn_only=True, register=found.append)
        _registries["serializers"] = sorted(found, key=lambda s: -s.priority)
    return _registries["serializers"]


def call_each(hook_name: str, warn_only: bool = False, errors: list[Any] | None = None, **kwargs: Any) -> list[Any]:
    """Call every implementation of ``hook_name`` in pluggy's order, naming the plugin when one fails.

    A ``HeadwaterError`` a plugin raises on purpose (a refusal) passes through unchanged. Any other
    exception becomes a ``PluginError`` naming the plugin and the hook: raised (the default), given as a
    warning after which the other plugins still run (``warn_only``), or appended to ``errors`` (the
    others still run): a broken plugin never shows up as a bare traceback. Returns the non-None results,
    in call order.
    """
    results = []
    for _impl, result in _each(hook_name, kwargs, warn_only, errors):
        if result is not None:
            results.append(result)
    return results


def call_first(hook_name: str, **kwargs: Any) -> Any:
    """The first non-None answer of ``hook_name`` (a ``firstresult`` hook), naming a plugin that fails."""
    for _impl, result in _each(hook_name, kwargs, False, None):
        if result is not None:
            return result
    return None


def _each(hook_name: str, kwargs: dict[str, Any], warn_only: bool, errors: list[Any] | None) -> Any:
    from headwater.exceptions import HeadwaterError

    caller = getattr(hook(), hook_name)
    for impl in reversed(caller.get_hookimpls()):
        if impl.hookwrapper or impl.wrapper:
            continue
        try:
            result = impl.function(*(kwargs[name] for name in impl.argnames))
        except HeadwaterError:
            raise
        except Exception as e:
            info = _state.infos.get(impl.plugin_name) if _state is not None else None
            if info is not None and info.builtin:  # the core itself (an OS error, or a bug): as it is
                raise
            message = f"Plugin {impl.plugin_name!r} failed in its {hook_name} hook: {type(e).__name__}: {e}"
            hint = f"Update or fix the plugin, or switch it off with HEADWATER_DISABLE_PLUGINS={impl.plugin_name}."
            if warn_only:
                _warn(f"{message}. {hint}")
                continue
            error = PluginError(message + ".", hint)
            if errors is None:
                raise error from e
            errors.append(error)
            continue
        yield impl, result


def lookup(kind: str, name: str, registry: dict[str, Any]) -> Any:
    """``registry[name]``, or a PluginError that lists the known names."""
    try:
        return registry[name]
    except KeyError:
        known = ", ".join(sorted(registry)) or "none"
        raise PluginError(
            f"Unknown {kind} {name!r}.",
            f"Known {kind}s: {known}. A plugin that provides {name!r} may not be installed "
            "(`headwater plugins` lists what is).",
        ) from None
