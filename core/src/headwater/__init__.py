"""Headwater: data-science workflows as plain Python.

Write a flow as a class of ``@step`` methods, run it with ``python flow.py run``, and read any past run
back with ``Flow``, ``Run``, ``Step`` and ``Task``. The names follow Metaflow's, so a Metaflow flow runs
here with its imports changed.

Names are imported on first use, so ``import headwater`` stays cheap.
"""

from headwater._version import __version__

_EXPORTS = {
    # writing flows
    "FlowSpec": "headwater.flowspec",
    "step": "headwater.flowspec",
    "Parameter": "headwater.parameters",
    "JSONType": "headwater.parameters",
    "IncludeFile": "headwater.parameters",
    "current": "headwater._current",
    "retry": "headwater.builtins.retry",
    "catch": "headwater.builtins.catch",
    "timeout": "headwater.builtins.timeout",
    "resources": "headwater.builtins.resources",
    "environment": "headwater.builtins.environment_vars",
    "project": "headwater.builtins.project",
    "schedule": "headwater.builtins.schedule",
    "StepDecorator": "headwater.decorators",
    "FlowDecorator": "headwater.decorators",
    # reading runs
    "Metaflow": "headwater.client",
    "Flow": "headwater.client",
    "Run": "headwater.client",
    "Step": "headwater.client",
    "Task": "headwater.client",
    "DataArtifact": "headwater.client",
    "namespace": "headwater.client",
    "get_namespace": "headwater.client",
    "default_namespace": "headwater.client",
    "metadata": "headwater.client",
    "get_metadata": "headwater.client",
    "default_metadata": "headwater.client",
    "S3": "headwater.s3",
    # errors and plugins
    "HeadwaterError": "headwater.exceptions",
    "CaughtException": "headwater.exceptions",
    "hookimpl": "headwater.hookspecs",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> object:
    module_name = _EXPORTS.get(name)
    if module_name is None:
        return _plugin_decorator(name)
    import importlib

    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def _plugin_decorator(name: str) -> object:
    """A step decorator provided by an installed plugin (``from headwater import batch``)."""
    import importlib.util

    if name.startswith("_") or importlib.util.find_spec(f"headwater.{name}") is not None:
        # A submodule not imported yet: let the import system load it.
        raise AttributeError(f"module 'headwater' has no attribute {name!r}")
    from headwater.plugins import flow_decorators, step_decorators

    step_cls = step_decorators().get(name)
    flow_cls = flow_decorators().get(name) if step_cls is None else None
    if step_cls is None and flow_cls is None:
        raise AttributeError(
            f"module 'headwater' has no attribute {name!r} (no installed plugin provides a decorator by that name)"
        )
    from headwater.decorators import apply, apply_flow

    def decorator(target: object = None, **attributes: object) -> object:
        if flow_cls is not None:
            return apply_flow(flow_cls, target, **attributes)
        return apply(step_cls, target, **attributes)  # type: ignore[arg-type]

    decorator.__name__ = name
    decorator.__doc__ = (step_cls or flow_cls).__doc__
    return decorator


def __dir__() -> list[str]:
    return sorted(__all__)
