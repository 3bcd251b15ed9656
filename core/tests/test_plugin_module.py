"""``headwater.plugin``: the one public module plugins import, and the environment choice it documents."""

from __future__ import annotations

from pathlib import Path

import pytest
from flowfiles import import_flow_module

from headwater import plugin, plugins
from headwater.datastore.artifacts import store
from headwater.datastore.local import LocalStorage
from headwater.datastore.records import FlowDatastore
from headwater.environments import Environment, select_environment
from headwater.exceptions import HeadwaterError, PluginError
from headwater.graph import FlowGraph


def test_every_exported_name_resolves_and_is_documented() -> None:
    for name in plugin.__all__:
        assert getattr(plugin, name) is not None, name
    assert set(plugin.VALUES) <= set(plugin.__all__)
    with pytest.raises(AttributeError, match="no attribute 'Scheduler'"):
        plugin.Scheduler


def test_artifact_file_gives_the_plain_bytes_of_a_bytes_artifact(tmp_path) -> None:
    ds = FlowDatastore(LocalStorage(str(tmp_path)), "F")
    payload = b"\x00model weights\xff" * 1000
    entry = store(ds.cas, "model", payload, "test")
    uri = plugin.artifact_file(ds, entry)
    assert uri == str(tmp_path / "F" / "files" / entry["key"])
    assert Path(uri).read_bytes() == payload
    assert plugin.artifact_file(ds, entry) == uri  # written once, found again
    with pytest.raises(HeadwaterError, match="no plain-file form"):
        plugin.artifact_file(ds, store(ds.cas, "x", {"a": 1}, "test"))


class _GpuEnvironment(Environment):
    name = "gpu-env"

    @classmethod
    def applies_to(cls, graph: FlowGraph) -> bool:
        return any(node.name == "train" for node in graph)

    def executable(self, step, where="local"):  # type: ignore[no-untyped-def]
        return "/opt/gpu/bin/python" if where == "container" else super().executable(step, where)


class _OtherEnvironment(_GpuEnvironment):
    name = "other-env"


class _EnvPlugin:
    def __init__(self, *classes: type[Environment]) -> None:
        self.classes = classes

    @plugins.hookspecs.hookimpl
    def register_environments(self, register):  # type: ignore[no-untyped-def]
        for cls in self.classes:
            register(cls.name, cls)


@pytest.fixture
def env_plugins(monkeypatch):
    monkeypatch.setenv("HEADWATER_LOAD_PLUGINS", "")
    plugins.reset()
    yield
    plugins.reset()


SOURCE = """
from headwater import FlowSpec, step

class F(FlowSpec):
    @step
    def start(self):
        self.next(self.STEP)

    @step
    def STEP(self):
        self.next(self.end)

    @step
    def end(self):
        pass
"""


def test_an_environment_switches_itself_on_for_the_flows_that_need_it(tmp_path, env_plugins) -> None:
    plugins.register_plugin(_EnvPlugin(_GpuEnvironment), name="gpu-env-plugin")
    train = import_flow_module(tmp_path, "train_flow", SOURCE.replace("STEP", "train")).F
    plain = import_flow_module(tmp_path, "plain_flow", SOURCE.replace("STEP", "other")).F
    options: dict = {"environment": None}
    chosen = select_environment(train, FlowGraph(train), options)
    assert type(chosen) is _GpuEnvironment and options["environment"] == "gpu-env"
    assert chosen.executable(FlowGraph(train)["train"], "container") == "/opt/gpu/bin/python"
    assert type(select_environment(plain, FlowGraph(plain), {"environment": None})) is Environment
    # Named explicitly, the choice is the user's.
    assert type(select_environment(train, FlowGraph(train), {"environment": "local"})) is Environment
    plugins.register_plugin(_EnvPlugin(_OtherEnvironment), name="other-env-plugin")
    with pytest.raises(PluginError, match=r"several environments apply to this flow \(gpu-env, other-env\)"):
        select_environment(train, FlowGraph(train), {"environment": None})
