"""Helpers for testing flows and plugins: write a throwaway flow, run it as a user would, read it back.

``run_flow`` runs ``python flow.py ...`` in a subprocess (the real CLI, the real runtime) and returns a
``FlowResult`` whose ``run`` is the client's ``Run``. The pytest fixtures in
``headwater.pytest_plugin`` wrap these with an isolated datastore per test.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def write_flow(directory: str | os.PathLike[str], source: str, filename: str = "flow.py") -> Path:
    """Write ``source`` (dedented) to ``directory/filename`` and return its path.

    When the source has no ``if __name__ == "__main__":`` block, one that starts the flow's CLI is added.
    """
    path = Path(directory) / filename
    text = textwrap.dedent(source).lstrip("\n")
    path.write_text(text, encoding="utf-8")
    name = _flow_class_name(path)
    if name and "__main__" not in text:
        path.write_text(f'{text.rstrip()}\n\n\nif __name__ == "__main__":\n    {name}()\n', encoding="utf-8")
    return path


@dataclass
class FlowResult:
    """What a flow command did: exit status, output, and (for run/resume) the run it made."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str
    run_id: str | None = None
    flow_name: str | None = None
    env: dict[str, str] = field(default_factory=dict)

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    @property
    def run(self) -> Any:
        """The client ``Run`` of this command's run (any namespace)."""
        from headwater.client import Run

        if self.run_id is None or self.flow_name is None:
            raise AssertionError(f"no run was created by {self.args}:\n{self.output}")
        return Run(f"{self.flow_name}/{self.run_id}", _namespace_check=False)

    def __repr__(self) -> str:
        return f"FlowResult({' '.join(self.args[1:])!r}, returncode={self.returncode})"


def install_plugin(directory: str | os.PathLike[str], name: str, source: str, version: str = "1.0") -> Path:
    """Install a throwaway plugin as a real distribution: ``name.py`` plus ``name-<version>.dist-info``.

    Its entry point (group ``headwater``) is ``name = name``. Put ``directory`` on ``PYTHONPATH`` (and on
    ``sys.path`` for in-process use) and, when ``HEADWATER_LOAD_PLUGINS`` is set, add ``name`` to it.
    """
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    (root / f"{name}.py").write_text(textwrap.dedent(source), encoding="utf-8")
    info = root / f"{name}-{version}.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(f"[headwater]\n{name} = {name}\n", encoding="utf-8")
    return root


def _flow_class_name(path: Path) -> str | None:
    import ast

    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and any(
            getattr(base, "id", getattr(base, "attr", None)) == "FlowSpec" for base in node.bases
        ):
            return node.name
    return None


def run_flow(
    flow_file: str | os.PathLike[str],
    *args: str,
    env: dict[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    timeout: float = 600,
) -> FlowResult:
    """Run ``python flow_file *args`` like a user would; ``run``/``resume`` results carry their run id."""
    path = Path(flow_file)
    command = [sys.executable, str(path), *args]
    run_id_file = None
    if any(a in ("run", "resume") for a in args):
        handle, run_id_file = tempfile.mkstemp(prefix="hw-run-id-")
        os.close(handle)
        command += ["--run-id-file", run_id_file]
    full_env = {**os.environ, **(env or {})}
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, env=full_env, cwd=cwd or path.parent, timeout=timeout
        )
        run_id = None
        if run_id_file:
            run_id = Path(run_id_file).read_text().strip() or None
    finally:
        if run_id_file:
            os.unlink(run_id_file)
    return FlowResult(command, done.returncode, done.stdout, done.stderr, run_id, _flow_class_name(path), env or {})
