"""Tests of ``headwater.plugins``: discovery through real entry points, switches, registries, ``headwater plugins``.

Each test builds throwaway plugin distributions on disk (a module plus a ``<name>-1.0.dist-info`` folder with
``METADATA`` and ``entry_points.txt``), puts that folder on ``sys.path`` and rebuilds the manager, so what is
exercised is ``importlib.metadata`` and pluggy as a user's installation would drive them. Plugins really
installed in the environment are kept out (``HEADWATER_LOAD_PLUGINS`` lists only the test's own), except in the
one test of the default, which loads everything installed.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from headwater import hookimpl, plugins
from headwater.exceptions import PluginError

BUILTIN_NAMES = {name for name, _ in plugins.DEFAULT_PLUGINS}

GOOD_SOURCE = """
    from headwater import hookimpl
    from headwater.datastore.local import LocalStorage

    CALLS = []

    class MemoryStorage(LocalStorage):
        pass

    @hookimpl
    def register_storage_backends(register):
        register("memory", MemoryStorage)

    @hookimpl
    def after_run(run, succeeded):
        CALLS.append(succeeded)
"""

OTHER_SOURCE = """
    from headwater import hookimpl
    from headwater.environments import Environment

    class OtherEnvironment(Environment):
        name = "other"

    @hookimpl
    def register_environments(register):
        register("other", OtherEnvironment)
"""


class PluginSite:
    """A folder on ``sys.path`` holding throwaway installed distributions."""

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root = root
        self.modules: list[str] = []
        self.entry_point_names: list[str] = []
        self._monkeypatch = monkeypatch

    def add(self, dist: str, entry_points: dict[str, str], modules: dict[str, str], version: str = "1.0") -> None:
        """Install distribution ``dist`` with ``entry_points`` (name -> ``module[:attr]``) and ``modules``."""
        for module, source in modules.items():
            (self.root / f"{module}.py").write_text(textwrap.dedent(source), encoding="utf-8")
            self.modules.append(module)
        info = self.root / f"{dist.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n", encoding="utf-8")
        lines = ["[headwater]"] + [f"{name} = {value}" for name, value in entry_points.items()]
        (info / "entry_points.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
        importlib.invalidate_caches()
        # Only this test's plugins, never the ones installed in the environment running the tests.
        self.entry_point_names += entry_points
        self._monkeypatch.setenv("HEADWATER_LOAD_PLUGINS", ",".join(self.entry_point_names))

    def add_good(self) -> None:
        self.add("headwater-good", {"good": "hw_good"}, {"hw_good": GOOD_SOURCE})

    def add_other(self) -> None:
        self.add("headwater-other", {"other": "hw_other"}, {"hw_other": OTHER_SOURCE})

    def add_broken(self) -> None:
        self.add(
            "headwater-broken",
            {"broken": "hw_broken"},
            {"hw_broken": "raise ImportError(\"cannot import name 'thing' from 'missing_dependency'\")\n"},
        )


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PluginSite]:
    for name in list(os.environ):
        if name.startswith("HEADWATER_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HEADWATER_LOAD_PLUGINS", "")
    root = tmp_path / "site"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    plugins.reset()
    result = PluginSite(root, monkeypatch)
    yield result
    plugins.reset()
    for module in result.modules:
        sys.modules.pop(module, None)


def infos_by_name() -> dict[str, plugins.PluginInfo]:
    infos, _ = plugins.plugin_infos()
    return {info.name: info for info in infos}


def third_party_names() -> set[str]:
    infos, _ = plugins.plugin_infos()
    return {info.name for info in infos if not info.builtin}


def warning_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("headwater: warning:")]


# --------------------------------------------------------------------------------------------------------
# Discovery
# --------------------------------------------------------------------------------------------------------


def test_good_plugin_is_loaded_lazily_and_listed(site: PluginSite) -> None:
    site.add_good()
    assert "hw_good" not in sys.modules  # nothing is imported before the manager is first used

    info = infos_by_name()["good"]

    assert info.builtin is False
    assert info.module == "hw_good"
    assert info.distribution == "headwater-good"
    assert info.version == "1.0"
    assert info.hooks == ["after_run", "register_storage_backends"]
    memory = sys.modules["hw_good"].MemoryStorage
    assert plugins.storage_backends()["memory"] is memory


def test_without_switches_every_installed_plugin_loads(site: PluginSite, monkeypatch: pytest.MonkeyPatch) -> None:
    site.add_good()
    site.add_other()
    monkeypatch.delenv("HEADWATER_LOAD_PLUGINS")

    assert {"good", "other"} <= third_party_names()


def test_plugin_hooks_are_called(site: PluginSite) -> None:
    site.add_good()

    plugins.hook().after_run(run=None, succeeded=True)

    assert sys.modules["hw_good"].CALLS == [True]


def test_builtins_are_listed_first_and_marked_builtin(site: PluginSite) -> None:
    from headwater import __version__

    site.add_good()
    infos, failed = plugins.plugin_infos()

    assert failed == {}
    flags = [info.builtin for info in infos]
    assert flags == sorted(flags, reverse=True), "built-ins must come before installed plugins"
    builtins = [info for info in infos if info.builtin]
    assert {info.name for info in builtins} == BUILTIN_NAMES
    assert all(info.distribution == "headwater" and info.version == __version__ for info in builtins)
    assert infos[-1].name == "good"


def test_hookimpl_is_reexported_from_the_package() -> None:
    import headwater
    from headwater import hookspecs

    assert headwater.hookimpl is hookspecs.hookimpl


BROKEN_CASES = {
    "import-error": ("hw_broken", "raise ImportError(\"cannot import name 'thing' from 'missing_dependency'\")\n"),
    "runtime-error": ("hw_broken", "raise RuntimeError('plugin misconfigured')\n"),
    "missing-attribute": ("hw_broken:plugin_object", "VALUE = 1\n"),
}


@pytest.mark.parametrize("case", sorted(BROKEN_CASES))
def test_broken_plugin_warns_once_and_the_rest_keep_working(
    site: PluginSite, case: str, capsys: pytest.CaptureFixture[str]
) -> None:
    entry, source = BROKEN_CASES[case]
    site.add("headwater-broken", {"broken": entry}, {"hw_broken": source})
    site.add_good()

    infos, failed = plugins.plugin_infos()
    plugins.hook().after_run(run=None, succeeded=False)
    backends = plugins.storage_backends()
    plugins.plugin_infos()  # asking again must not warn again

    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1, err
    (line,) = warning_lines(err)
    assert "'broken'" in line
    assert "headwater-broken" in line
    assert "HEADWATER_DISABLE_PLUGINS=broken" in line
    assert list(failed) == ["broken"]
    expected_type = {
        "import-error": "ImportError",
        "runtime-error": "RuntimeError",
        "missing-attribute": "AttributeError",
    }
    assert failed["broken"].startswith(expected_type[case] + ":")
    assert "broken" not in {info.name for info in infos}
    assert {"good"} | BUILTIN_NAMES == {info.name for info in infos}
    assert {"memory", "local"} <= set(backends)
    assert sys.modules["hw_good"].CALLS == [False]


def test_plugin_failing_hook_validation_is_ignored_entirely(
    site: PluginSite, capsys: pytest.CaptureFixture[str]
) -> None:
    site.add(
        "headwater-badargs",
        {"badargs": "hw_badargs"},
        {
            "hw_badargs": """
                from headwater import hookimpl

                CALLS = []

                @hookimpl
                def after_run(run, succeeded):
                    CALLS.append(succeeded)

                @hookimpl
                def before_run(run, not_an_argument_of_the_spec):
                    pass
            """
        },
    )

    _, failed = plugins.plugin_infos()
    plugins.hook().after_run(run=None, succeeded=True)

    assert "badargs" in failed
    assert "not_an_argument_of_the_spec" in failed["badargs"]
    assert "badargs" not in third_party_names()
    assert plugins.get_plugin_manager().get_plugin("badargs") is None
    assert sys.modules["hw_badargs"].CALLS == []  # none of its hooks stayed half-registered
    assert any("'badargs'" in line for line in warning_lines(capsys.readouterr().err))


def test_entry_point_named_like_a_builtin_is_ignored_with_a_warning(
    site: PluginSite, capsys: pytest.CaptureFixture[str]
) -> None:
    site.add("headwater-fakeretry", {"retry": "hw_fakeretry"}, {"hw_fakeretry": "VALUE = 1\n"})

    info = infos_by_name()["retry"]

    assert info.builtin is True
    assert info.module == "headwater.builtins.retry"
    (line,) = warning_lines(capsys.readouterr().err)
    assert "'retry'" in line and "headwater-fakeretry" in line and "built-in" in line


# --------------------------------------------------------------------------------------------------------
# Switches
# --------------------------------------------------------------------------------------------------------


def test_disable_plugins_blocks_an_entry_point(site: PluginSite, monkeypatch: pytest.MonkeyPatch) -> None:
    site.add_good()
    site.add_other()
    monkeypatch.delenv("HEADWATER_LOAD_PLUGINS")  # the block-list on its own, as a user would set it
    monkeypatch.setenv("HEADWATER_DISABLE_PLUGINS", " good ,unrelated")

    names = third_party_names()

    assert "good" not in names
    assert "other" in names
    assert "hw_good" not in sys.modules, "a blocked plugin's code must not even be imported"
    assert "memory" not in plugins.storage_backends()
    assert "other" in plugins.environments()


def test_disable_plugins_blocks_a_builtin_by_its_name(site: PluginSite, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEADWATER_DISABLE_PLUGINS", "timeout")

    names = set(infos_by_name())
    decorators = plugins.step_decorators()

    assert "timeout" not in names
    assert BUILTIN_NAMES - {"timeout"} <= names
    assert "timeout" not in decorators
    assert "retry" in decorators


def test_load_plugins_is_an_allow_list(site: PluginSite, monkeypatch: pytest.MonkeyPatch) -> None:
    site.add_good()
    site.add_other()
    monkeypatch.setenv("HEADWATER_LOAD_PLUGINS", "other")

    names = set(infos_by_name())

    assert "other" in names
    assert "good" not in names
    assert names >= BUILTIN_NAMES, "the allow-list applies to installed plugins, not to built-ins"
    assert "hw_good" not in sys.modules


def test_load_plugins_empty_loads_no_installed_plugin(site: PluginSite, monkeypatch: pytest.MonkeyPatch) -> None:
    site.add_good()
    site.add_broken()
    monkeypatch.setenv("HEADWATER_LOAD_PLUGINS", "")

    infos, failed = plugins.plugin_infos()

    assert [info.name for info in infos if not info.builtin] == []
    assert {info.name for info in infos} == BUILTIN_NAMES
    assert failed == {}
    assert "hw_good" not in sys.modules and "hw_broken" not in sys.modules


def test_disable_wins_over_allow(site: PluginSite, monkeypatch: pytest.MonkeyPatch) -> None:
    site.add_good()
    monkeypatch.setenv("HEADWATER_LOAD_PLUGINS", "good")
    monkeypatch.setenv("HEADWATER_DISABLE_PLUGINS", "good")

    assert "good" not in third_party_names()


@pytest.mark.parametrize(("value", "traced"), [("1", True), ("0", False), ("", False), (None, False)])
def test_trace_plugins_prints_hook_calls(
    site: PluginSite,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    value: str | None,
    traced: bool,
) -> None:
    site.add_good()
    if value is not None:
        monkeypatch.setenv("HEADWATER_TRACE_PLUGINS", value)

    plugins.hook().after_run(run=None, succeeded=True)

    err = capsys.readouterr().err
    trace = [line for line in err.splitlines() if line.startswith("headwater-trace:")]
    assert any("after_run" in line for line in trace) is traced
    assert any("finish after_run" in line for line in trace) is traced
    if not traced:
        assert err == ""


def test_misspelled_hook_gets_a_warning_naming_it(site: PluginSite, capsys: pytest.CaptureFixture[str]) -> None:
    site.add(
        "headwater-typo",
        {"typo": "hw_typo"},
        {
            "hw_typo": """
                from headwater import hookimpl

                @hookimpl
                def register_storage_backend(register):
                    raise AssertionError("an unknown hook is never called")

                @hookimpl
                def after_run(run, succeeded):
                    pass
            """
        },
    )

    info = infos_by_name()["typo"]
    plugins.storage_backends()

    (line,) = warning_lines(capsys.readouterr().err)
    assert "'typo'" in line
    assert "register_storage_backend" in line
    assert "after_run" in info.hooks, "the plugin's correctly named hooks still work"


def test_every_plugin_with_a_misspelled_hook_gets_a_warning(
    site: PluginSite, capsys: pytest.CaptureFixture[str]
) -> None:
    source = """
        from headwater import hookimpl

        @hookimpl
        def register_storage_backend(register):
            pass
    """
    site.add("headwater-typo-one", {"typo1": "hw_typo1"}, {"hw_typo1": source})
    site.add("headwater-typo-two", {"typo2": "hw_typo2"}, {"hw_typo2": source})

    plugins.plugin_infos()

    lines = warning_lines(capsys.readouterr().err)
    assert len(lines) == 2
    assert any("'typo1'" in line for line in lines)
    assert any("'typo2'" in line for line in lines)


# --------------------------------------------------------------------------------------------------------
# Precedence and registries
# --------------------------------------------------------------------------------------------------------

OVERRIDE_SOURCE = """
    from headwater import hookimpl
    from headwater.datastore.local import LocalStorage
    from headwater.decorators import StepDecorator
    from headwater.environments import Environment

    class MyRetry(StepDecorator):
        name = "retry"

    class MyLocalStorage(LocalStorage):
        pass

    class MyLocalEnvironment(Environment):
        pass

    @hookimpl
    def register_step_decorators(register):
        register(MyRetry)

    @hookimpl
    def register_storage_backends(register):
        register("local", MyLocalStorage)

    @hookimpl
    def register_environments(register):
        register("local", MyLocalEnvironment)
"""


@pytest.mark.parametrize(
    ("registry", "key", "attr"),
    [
        ("step_decorators", "retry", "MyRetry"),
        ("storage_backends", "local", "MyLocalStorage"),
        ("environments", "local", "MyLocalEnvironment"),
    ],
)
def test_installed_plugin_overrides_a_builtin_registry_entry(
    site: PluginSite, registry: str, key: str, attr: str
) -> None:
    site.add("headwater-override", {"override": "hw_override"}, {"hw_override": OVERRIDE_SOURCE})

    found = getattr(plugins, registry)()

    assert found[key] is getattr(sys.modules["hw_override"], attr)


def test_builtin_registry_defaults_are_trylast(site: PluginSite) -> None:
    """The design's precedence rule: every built-in that feeds a registry is marked ``trylast``."""
    pm = plugins.get_plugin_manager()
    for hook_name in ["register_storage_backends", "register_serializers", "register_environments"]:
        builtin_impls = [i for i in getattr(pm.hook, hook_name).get_hookimpls() if i.plugin_name in BUILTIN_NAMES]
        assert builtin_impls, hook_name
        assert all(i.trylast for i in builtin_impls), hook_name


def test_builtin_step_decorators_are_trylast(site: PluginSite) -> None:
    impls = plugins.get_plugin_manager().hook.register_step_decorators.get_hookimpls()
    builtin_impls = [i for i in impls if i.plugin_name in BUILTIN_NAMES]
    assert {i.plugin_name for i in builtin_impls} >= {"retry", "catch", "timeout"}
    assert all(i.trylast for i in builtin_impls), [i.plugin_name for i in builtin_impls if not i.trylast]


class InlinePlugin:
    """A plugin object registered at run time, feeding every registry."""

    def __init__(self) -> None:
        from headwater.datastore.local import LocalStorage
        from headwater.datastore.serializers import Serializer
        from headwater.decorators import StepDecorator
        from headwater.environments import Environment

        self.decorator = type("InlineDecorator", (StepDecorator,), {"name": "inline_deco"})
        self.storage = type("InlineStorage", (LocalStorage,), {})
        self.environment = type("InlineEnvironment", (Environment,), {})
        self.serializer = type("InlineSerializer", (Serializer,), {"name": "inline", "priority": 10})()

    @hookimpl
    def register_step_decorators(self, register):
        register(self.decorator)

    @hookimpl
    def register_storage_backends(self, register):
        register("inline", self.storage)

    @hookimpl
    def register_environments(self, register):
        register("inline", self.environment)

    @hookimpl
    def register_serializers(self, register):
        register(self.serializer)


def test_register_and_unregister_plugin_at_run_time_clear_the_registries(site: PluginSite) -> None:
    # Fill every registry first, so a stale cache would show.
    assert "inline_deco" not in plugins.step_decorators()
    assert "inline" not in plugins.storage_backends()
    assert "inline" not in plugins.environments()
    assert "inline" not in [s.name for s in plugins.serializers()]

    plugin = InlinePlugin()
    name = plugins.register_plugin(plugin, name="inline-plugin")

    assert name == "inline-plugin"
    assert plugins.step_decorators()["inline_deco"] is plugin.decorator
    assert plugins.storage_backends()["inline"] is plugin.storage
    assert plugins.environments()["inline"] is plugin.environment
    assert plugin.serializer in plugins.serializers()
    info = infos_by_name()["inline-plugin"]
    assert info.builtin is False
    assert info.hooks == [
        "register_environments",
        "register_serializers",
        "register_step_decorators",
        "register_storage_backends",
    ]

    plugins.unregister_plugin("inline-plugin")

    assert "inline_deco" not in plugins.step_decorators()
    assert "inline" not in plugins.storage_backends()
    assert "inline" not in plugins.environments()
    assert plugin.serializer not in plugins.serializers()
    assert "inline-plugin" not in infos_by_name()


def test_reset_forgets_run_time_plugins(site: PluginSite) -> None:
    plugins.register_plugin(InlinePlugin(), name="inline-plugin")
    assert "inline" in plugins.storage_backends()

    plugins.reset()

    assert "inline" not in plugins.storage_backends()
    assert "inline-plugin" not in infos_by_name()


def test_lookup_returns_the_entry_or_lists_known_names(site: PluginSite) -> None:
    backends = plugins.storage_backends()

    assert plugins.lookup("storage backend", "local", backends) is backends["local"]
    with pytest.raises(PluginError) as raised:
        plugins.lookup("storage backend", "nope", backends)

    error = raised.value
    assert "'nope'" in error.message
    assert error.hint is not None
    assert "Known storage backends: local, s3." in error.hint
    assert "headwater plugins" in error.hint


def test_lookup_in_an_empty_registry_says_none(site: PluginSite) -> None:
    with pytest.raises(PluginError) as raised:
        plugins.lookup("environment", "conda", {})

    assert raised.value.hint is not None
    assert "Known environments: none." in raised.value.hint


def test_serializers_are_sorted_by_priority_with_pickle_last(site: PluginSite) -> None:
    site.add(
        "headwater-serializers",
        {"serial": "hw_serial"},
        {
            "hw_serial": """
                from headwater import hookimpl
                from headwater.datastore.serializers import Serializer

                def make(name, priority):
                    return type(name, (Serializer,), {"name": name, "priority": priority})()

                @hookimpl
                def register_serializers(register):
                    register(make("low", -10))
                    register(make("high", 500))
                    register(make("mid", 50))
            """
        },
    )

    names = [s.name for s in plugins.serializers()]

    assert names == ["high", "bytes", "mid", "low", "pickle"]


# --------------------------------------------------------------------------------------------------------
# `headwater plugins` and plugin console commands
# --------------------------------------------------------------------------------------------------------


def test_plugins_command_lists_plugins_hooks_and_failures(site: PluginSite) -> None:
    from headwater.cli.console import build

    site.add_good()
    site.add_broken()

    result = CliRunner().invoke(build(), ["plugins"])

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert "good  (headwater-good 1.0; hw_good)" in lines
    index = lines.index("good  (headwater-good 1.0; hw_good)")
    assert lines[index + 1 : index + 3] == ["    after_run", "    register_storage_backends"]
    assert "retry  (built-in; headwater.builtins.retry)" in lines
    assert lines.index("retry  (built-in; headwater.builtins.retry)") < index
    assert any(line.startswith("broken  (failed to load: ImportError:") for line in lines)


def test_plugins_command_no_hooks(site: PluginSite) -> None:
    from headwater.cli.console import build

    site.add_good()

    result = CliRunner().invoke(build(), ["plugins", "--no-hooks"])

    assert result.exit_code == 0, result.output
    assert "good  (headwater-good 1.0; hw_good)" in result.stdout
    assert "register_storage_backends" not in result.stdout


def test_plugins_command_json(site: PluginSite) -> None:
    from headwater.cli.console import build

    site.add_good()
    site.add_broken()

    result = CliRunner().invoke(build(), ["plugins", "--json"])

    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) == {"plugins", "failed"}
    by_name = {p["name"]: p for p in data["plugins"]}
    assert by_name["good"] == {
        "name": "good",
        "builtin": False,
        "module": "hw_good",
        "distribution": "headwater-good",
        "version": "1.0",
        "hooks": ["after_run", "register_storage_backends"],
    }
    assert by_name["timeout"]["builtin"] is True
    assert by_name["timeout"]["distribution"] == "headwater"
    assert [p["builtin"] for p in data["plugins"]] == sorted((p["builtin"] for p in data["plugins"]), reverse=True)
    assert list(data["failed"]) == ["broken"]
    assert data["failed"]["broken"].startswith("ImportError:")


def test_plugins_command_in_a_subprocess(site: PluginSite, tmp_path: Path) -> None:
    site.add_good()
    site.add_broken()
    env = dict(os.environ)  # the fixture left only HEADWATER_LOAD_PLUGINS=good,broken
    assert env["HEADWATER_LOAD_PLUGINS"] == "good,broken"
    env["PYTHONPATH"] = os.pathsep.join([str(site.root), *filter(None, [os.environ.get("PYTHONPATH")])])
    env["NO_COLOR"] = "1"

    proc = subprocess.run(
        [sys.executable, "-m", "headwater", "plugins", "--json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )

    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    by_name = {p["name"]: p for p in data["plugins"]}
    assert by_name["good"]["distribution"] == "headwater-good"
    assert by_name["good"]["version"] == "1.0"
    assert by_name["good"]["hooks"] == ["after_run", "register_storage_backends"]
    assert set(by_name) >= BUILTIN_NAMES
    assert list(data["failed"]) == ["broken"]
    (line,) = warning_lines(proc.stderr)
    assert "'broken'" in line and "headwater-broken" in line


def test_plugin_adds_a_console_command(site: PluginSite) -> None:
    from headwater.cli import console

    site.add(
        "headwater-hello",
        {"hello": "hw_hello"},
        {
            "hw_hello": """
                import click
                from headwater import hookimpl

                @click.command("hello")
                def hello():
                    click.echo("hello from a plugin")

                @hookimpl
                def register_console_commands(cli):
                    cli.add_command(hello)
            """
        },
    )
    try:
        result = CliRunner().invoke(console.build(), ["hello"])
    finally:
        # build() adds to the module-level group; take the command off so other tests do not see it.
        console.cli.commands.pop("hello", None)

    assert result.exit_code == 0, result.output
    assert result.stdout == "hello from a plugin\n"


def test_import_headwater_does_not_import_pluggy_or_click() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", "import headwater, sys; print('pluggy' in sys.modules, 'click' in sys.modules)"],
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["False", "False"]
