"""Pytest fixtures for flows and plugins (registered through the ``pytest11`` entry point).

- ``headwater_env``: an isolated datastore and configuration for one test (returns its folder);
- ``flow_runner``: ``flow_runner.write(source)`` a throwaway flow and ``flow_runner.run(path, "run", ...)``
  it through the real CLI; ``result.run`` is the client's ``Run``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from headwater.testing import FlowResult, run_flow, write_flow


@pytest.fixture
def headwater_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A folder with its own datastore, config home and working directory.

    Third-party plugins are not loaded, except those named in ``HEADWATER_TEST_LOAD_PLUGINS`` (a plugin's
    own test suite sets it to the plugin's entry-point name).
    """
    load_plugins = os.environ.get("HEADWATER_TEST_LOAD_PLUGINS", "")  # read before it is cleared below
    for name in list(os.environ):
        # METAFLOW_RUN_<NAME> sets parameter values too: a user's shell must not change a test's run
        if name.startswith(("HEADWATER_", "METAFLOW_RUN_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HEADWATER_DATASTORE_ROOT", str(tmp_path / ".headwater"))
    monkeypatch.setenv("HEADWATER_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HEADWATER_LOAD_PLUGINS", load_plugins)
    monkeypatch.setenv("HEADWATER_TEST_LOAD_PLUGINS", load_plugins)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.chdir(tmp_path)
    from headwater import client, config, plugins

    monkeypatch.setattr(config, "_file_cache", {})
    monkeypatch.setattr(client.core, "_datastores", {})
    monkeypatch.setattr(client.core, "_namespace", client.core._UNSET)
    plugins.reset()  # plugins registered in this process by an earlier test are forgotten
    yield tmp_path
    plugins.reset()


class FlowRunner:
    """Writes flows into a test's folder and runs them through the real command line."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def write(self, source: str, filename: str = "flow.py") -> Path:
        return write_flow(self.directory, source, filename)

    def run(self, flow_file: Path, *args: str, **kwargs: Any) -> FlowResult:
        return run_flow(flow_file, *args, **kwargs)


@pytest.fixture
def flow_runner(headwater_env: Path) -> FlowRunner:
    return FlowRunner(headwater_env)
