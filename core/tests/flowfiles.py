"""Helpers for unit tests that need flows in real source files (the graph is read from the source)."""

import importlib.util
import itertools
import sys
import textwrap
from pathlib import Path
from types import ModuleType

_module_ids = itertools.count()


def import_flow_module(directory: Path, prefix: str, source: str) -> ModuleType:
    """Write ``source`` (dedented) to a new file in ``directory``, import it, and return the module.

    The module stays in ``sys.modules``, as a flow's module does; callers remove it (monkeypatch).
    """
    name = f"{prefix}_{next(_module_ids)}"
    path = directory / f"{name}.py"
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def line(module: ModuleType, text: str) -> int:
    """The 1-based line of the module's source that contains ``text`` (which must occur once)."""
    lines = Path(module.__file__).read_text(encoding="utf-8").splitlines()
    found = [i for i, source_line in enumerate(lines, 1) if text in source_line]
    assert len(found) == 1, f"{text!r} occurs on lines {found}"
    return found[0]
