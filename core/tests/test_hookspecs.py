"""Tests of ``headwater.hookspecs`` (the plugin contract) and of its generated reference, ``docs/hooks.md``.

The docstring of a hook spec is its contract, so it is checked like code: a summary line, whether all
implementations run or the first answer wins (and that this matches ``firstresult``), every parameter
documented, every annotation present. The reference page must be exactly what ``headwater.hookdoc`` renders
now, so a hook spec added or changed without regenerating the page fails here.
"""

from __future__ import annotations

import ast
import importlib.util
import inspect
import re
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from headwater import hookdoc, hookspecs

REPO = Path(__file__).resolve().parents[2]
HOOKS_MD = REPO / "docs" / "hooks.md"
REGENERATE = "run `python -m headwater.hookdoc > docs/hooks.md`"

SPECS: dict[str, Callable[..., Any]] = hookdoc.hook_specs()
ALL_RUN = "all implementations run"
FIRST_WINS = "first answer wins"

#: The families the architecture asks for (ARCHITECTURE.md, section 2), in the order of the spec module.
FAMILIES = ["Graph", "Runtime, parent side", "Runtime, task side", "Datastore", "Environment", "CLI"]


def _source_functions() -> dict[str, ast.FunctionDef]:
    tree = ast.parse(Path(hookspecs.__file__).read_text(encoding="utf-8"))
    return {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}


def _signature_as_written(node: ast.FunctionDef) -> str:
    """The signature straight from the source text, independently of ``inspect``."""
    returns = f" -> {ast.unparse(node.returns)}" if node.returns is not None else ""
    return f"{node.name}({ast.unparse(node.args)}){returns}"


def test_hook_specs_are_found() -> None:
    source_specs = {
        name
        for name, node in _source_functions().items()
        if any("hookspec" in ast.unparse(decorator) for decorator in node.decorator_list)
    }
    pm_specs = {name for name in dir(hookspecs) if hasattr(getattr(hookspecs, name), hookspecs.PROJECT + "_spec")}

    assert len(SPECS) >= 19
    assert set(SPECS) == source_specs == pm_specs


# --------------------------------------------------------------------------------------------------------
# (a) the docstring is the contract
# --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(SPECS))
def test_docstring_has_a_summary_line(name: str) -> None:
    doc = inspect.getdoc(SPECS[name]) or ""
    lines = doc.splitlines()

    assert lines, f"hook spec {name} has no docstring"
    assert lines[0].strip() and lines[0].rstrip().endswith("."), f"{name}: the first line must be a sentence"
    assert len(lines) == 1 or not lines[1].strip(), f"{name}: the summary line must be followed by a blank line"


@pytest.mark.parametrize("name", list(SPECS))
def test_docstring_says_all_run_or_first_wins(name: str) -> None:
    doc = " ".join((inspect.getdoc(SPECS[name]) or "").split()).lower()

    says = [phrase for phrase in (ALL_RUN, FIRST_WINS) if phrase in doc]

    assert len(says) == 1, f"{name}: say exactly one of 'All implementations run' / 'first answer wins'"


@pytest.mark.parametrize("name", list(SPECS))
def test_docstring_documents_every_parameter(name: str) -> None:
    doc = inspect.getdoc(SPECS[name]) or ""
    params = list(inspect.signature(SPECS[name]).parameters)

    documented = re.findall(r"^:param (\w+):", doc, flags=re.MULTILINE)

    for param in params:
        assert f":param {param}:" in doc, f"{name}: parameter {param!r} is not documented"
    assert documented == params, f"{name}: document each parameter once, in signature order, and no others"


@pytest.mark.parametrize("name", list(SPECS))
def test_docstring_documents_a_return_value_when_there_is_one(name: str) -> None:
    doc = inspect.getdoc(SPECS[name]) or ""
    returns = inspect.signature(SPECS[name]).return_annotation

    assert (":return:" in doc) is (returns != "None"), f"{name}: ':return:' iff the hook returns something"


# --------------------------------------------------------------------------------------------------------
# (b) fully typed
# --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(SPECS))
def test_every_argument_and_the_return_are_annotated(name: str) -> None:
    sig = inspect.signature(SPECS[name])

    for param in sig.parameters.values():
        assert param.annotation is not inspect.Parameter.empty, f"{name}: {param.name} is not annotated"
    assert sig.return_annotation is not inspect.Signature.empty, f"{name}: the return is not annotated"


# --------------------------------------------------------------------------------------------------------
# (d) providers and observers never mix
# --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(SPECS))
def test_firstresult_hooks_are_exactly_those_that_say_the_first_answer_wins(name: str) -> None:
    doc = " ".join((inspect.getdoc(SPECS[name]) or "").split()).lower()

    assert hookdoc.is_firstresult(SPECS[name]) is (FIRST_WINS in doc)


def test_is_firstresult_reads_the_marker() -> None:
    assert hookdoc.is_firstresult(hookspecs.execute_step) is True
    assert hookdoc.is_firstresult(hookspecs.before_run) is False


# --------------------------------------------------------------------------------------------------------
# The generated reference
# --------------------------------------------------------------------------------------------------------


def test_families_follow_the_section_banners() -> None:
    families = hookdoc.families()

    assert [f.title for f in families] == FAMILIES
    listed = [h.name for f in families for h in f.hooks]
    assert sorted(listed) == sorted(SPECS), "every hook spec is in exactly one family"
    assert listed == list(SPECS), "hooks keep their source order"
    assert all(f.hooks for f in families), "no empty family"
    assert {h.name for h in families[0].hooks} >= {"register_step_decorators", "check_graph"}
    assert {"task_command", "launch_task", "check_run"} <= {h.name for h in families[1].hooks}
    assert "execute_step" in {h.name for h in families[2].hooks}


@pytest.mark.parametrize("name", list(SPECS))
def test_signature_is_rendered_as_written(name: str) -> None:
    node = _source_functions()[name]

    assert hookdoc.signature(SPECS[name]) == _signature_as_written(node)


@pytest.mark.parametrize("name", list(SPECS))
def test_every_hook_has_an_example_in_the_reference(name: str) -> None:
    doc = inspect.getdoc(SPECS[name]) or ""
    assert "\nExample::\n" in doc, f"{name}: add an `Example::` block to its docstring"
    section = HOOKS_MD.read_text(encoding="utf-8").split(f"### `{name}`", 1)[1].split("\n### ", 1)[0]
    assert "Example:\n\n```python\n" in section and "@hookimpl" in section.split("Example:", 1)[1]


def test_hooks_md_is_up_to_date() -> None:
    assert HOOKS_MD.exists(), f"docs/hooks.md is missing: {REGENERATE}"

    assert HOOKS_MD.read_text(encoding="utf-8") == hookdoc.render(), f"docs/hooks.md is out of date: {REGENERATE}"


@pytest.mark.parametrize("name", list(SPECS))
def test_hooks_md_documents_the_hook(name: str) -> None:
    """Datasette's test_plugin_hooks_are_documented: each hook's name and signature are on the page."""
    text = HOOKS_MD.read_text(encoding="utf-8")
    node = _source_functions()[name]
    doc = inspect.getdoc(SPECS[name]) or ""

    assert f"### `{name}`" in text
    assert f"def {_signature_as_written(node)}\n" in text
    section = text.split(f"### `{name}`", 1)[1].split("\n### ", 1)[0]
    expected = "**First answer wins**" if hookdoc.is_firstresult(SPECS[name]) else "**All implementations run.**"
    assert expected in section
    summary = doc.splitlines()[0].replace("``", "`")
    assert summary in section


def test_render_groups_hooks_under_family_headings() -> None:
    text = hookdoc.render()

    headings = [line[3:] for line in text.splitlines() if line.startswith("## ")]
    assert headings == [*FAMILIES, "The plugin API: `headwater.plugin`"]
    graph = text.split("## Graph", 1)[1].split("\n## ", 1)[0]
    assert "### `register_step_decorators`" in graph
    assert "### `execute_step`" not in graph
    assert "- `register`: call `register(DecoratorClass)`" in graph
    assert "Returns: a list of `LintProblem`" in graph


def _load_module(path: Path, name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BANNER = "# " + "-" * 104

SPEC_MODULE = f'''
"""Throwaway hook specs."""

from __future__ import annotations

from headwater.hookspecs import hookspec

{{before}}

{BANNER}
# Alpha: the first family
{BANNER}


@hookspec
def register_things(register: Callable[[str], None]) -> None:
    """Register things.

    All implementations run.

    :param register: call it.
    """


{BANNER}
# Beta: the second family
{BANNER}


@hookspec(firstresult=True)
def choose_thing(name: str) -> str | None:
    """Choose a thing.

    The first answer wins.

    :param name: the name.
    :return: the thing.
    """
'''


def test_a_new_hook_spec_shows_up_in_the_reference(tmp_path: Path) -> None:
    path = tmp_path / "fake_specs.py"
    path.write_text(SPEC_MODULE.replace("{before}", ""), encoding="utf-8")
    module = _load_module(path, "fake_specs_ok")

    families = hookdoc.families(module)
    text = hookdoc.render(module)

    assert [(f.title, f.summary, [h.name for h in f.hooks]) for f in families] == [
        ("Alpha", "the first family", ["register_things"]),
        ("Beta", "the second family", ["choose_thing"]),
    ]
    assert families[1].hooks[0].firstresult is True
    assert "def choose_thing(name: str) -> str | None\n" in text
    assert "def register_things(register: Callable[[str], None]) -> None\n" in text
    assert text.index("## Alpha") < text.index("### `register_things`") < text.index("## Beta")
    assert text != hookdoc.render(), "the reference changes when the specs do"


def test_a_hook_spec_outside_any_family_is_an_error(tmp_path: Path) -> None:
    stray = textwrap.dedent(
        '''
        @hookspec
        def stray_hook() -> None:
            """Nowhere. All implementations run."""
        '''
    )
    path = tmp_path / "stray_specs.py"
    path.write_text(SPEC_MODULE.replace("{before}", stray), encoding="utf-8")
    module = _load_module(path, "stray_specs")

    with pytest.raises(ValueError, match="stray_hook"):
        hookdoc.render(module)


def test_check_command(tmp_path: Path) -> None:
    def check(path: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "headwater.hookdoc", "--check", str(path)],
            capture_output=True,
            text=True,
            timeout=120,
        )

    fresh = tmp_path / "fresh.md"
    fresh.write_text(hookdoc.render(), encoding="utf-8")
    stale = tmp_path / "stale.md"
    stale.write_text(hookdoc.render().replace("### `before_run`", "### `before_the_run`"), encoding="utf-8")

    ok, out_of_date, missing = check(fresh), check(stale), check(tmp_path / "missing.md")

    assert ok.returncode == 0, ok.stderr
    assert ok.stdout == ok.stderr == ""
    assert out_of_date.returncode == 1
    assert "stale.md is out of date" in out_of_date.stderr
    assert "python -m headwater.hookdoc >" in out_of_date.stderr
    assert "-### `before_the_run`" in out_of_date.stderr
    assert missing.returncode == 1
    assert "missing.md" in missing.stderr


def test_module_prints_the_reference() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "headwater.hookdoc"], capture_output=True, text=True, timeout=120, cwd=REPO
    )

    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == hookdoc.render()
