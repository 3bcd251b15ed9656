"""The plugin authors' hook reference, generated from the hook specs.

It exists so the reference cannot drift from the contract: ``headwater.hookspecs`` is the only place a
hook is described, and this module turns it into Markdown (``docs/hooks.md``). Hooks are grouped by the
family banners of that module (the ``# ----`` comment blocks), in source order; each hook shows its name,
its signature with the annotations as written, whether all implementations run or the first answer wins,
its docstring, and its example (the ``Example::`` block of the docstring, as a Python code block). A test compares the committed page with ``render()``, so a hook spec added or changed
without regenerating the page fails the build.

``python -m headwater.hookdoc`` prints the page; ``python -m headwater.hookdoc --check FILE`` exits 1 when
``FILE`` differs from it.
"""

from __future__ import annotations

import argparse
import difflib
import inspect
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from headwater import hookspecs

_BANNER_RULE = re.compile(r"^# -{20,}\s*$")
_FIELD = re.compile(r"^:(param (?P<param>\w+)|return):\s*(?P<text>.*)$")
_RST_LITERAL = re.compile(r"``([^`]+)``")


@dataclass(frozen=True)
class Hook:
    """One hook spec as the reference shows it."""

    name: str
    signature: str
    firstresult: bool
    doc: str


@dataclass(frozen=True)
class Family:
    """A commented section of the spec module and the hooks under it, in source order."""

    title: str
    summary: str
    hooks: tuple[Hook, ...]


class _Verbatim(str):
    """An annotation string that ``inspect`` prints as written (without the quotes of ``repr``)."""

    def __repr__(self) -> str:
        return str(self)


def hook_specs(module: ModuleType = hookspecs) -> dict[str, Callable[..., Any]]:
    """The functions of ``module`` marked as hook specs, in source order."""
    marker = hookspecs.PROJECT + "_spec"
    found = [obj for obj in vars(module).values() if inspect.isfunction(obj) and hasattr(obj, marker)]
    return {func.__name__: func for func in sorted(found, key=lambda f: f.__code__.co_firstlineno)}


def is_firstresult(func: Callable[..., Any]) -> bool:
    """Whether the spec is ``firstresult=True`` (the first non-None answer wins)."""
    options = getattr(func, hookspecs.PROJECT + "_spec", None) or {}
    return bool(options.get("firstresult"))


def signature(func: Callable[..., Any]) -> str:
    """``name(arg: Annotation, ...) -> Return``, with the annotations as written in the source."""
    sig = inspect.signature(func)

    def verbatim(annotation: Any) -> Any:
        if annotation is inspect.Parameter.empty:
            return annotation
        return _Verbatim(annotation if isinstance(annotation, str) else inspect.formatannotation(annotation))

    params = [p.replace(annotation=verbatim(p.annotation)) for p in sig.parameters.values()]
    sig = sig.replace(parameters=params, return_annotation=verbatim(sig.return_annotation))
    return f"{func.__name__}{sig}"


def families(module: ModuleType = hookspecs) -> list[Family]:
    """The family sections of ``module`` with their hooks; ValueError for a hook outside any section."""
    lines = inspect.getsource(module).splitlines()
    banners: list[tuple[int, str, str]] = []  # (line number, title, summary)
    for i in range(len(lines) - 2):
        if _BANNER_RULE.match(lines[i]) and _BANNER_RULE.match(lines[i + 2]) and lines[i + 1].startswith("# "):
            title, _, summary = lines[i + 1][2:].strip().partition(":")
            banners.append((i + 1, title.strip(), summary.strip()))
    grouped: dict[int, list[Hook]] = {line: [] for line, _, _ in banners}
    for name, func in hook_specs(module).items():
        line = func.__code__.co_firstlineno
        above = [banner for banner, _, _ in banners if banner < line]
        if not above:
            raise ValueError(
                f"Hook spec {name!r} (line {line} of {module.__name__}) is not under a family banner; "
                "move it into one of the commented sections."
            )
        doc = inspect.getdoc(func) or ""
        grouped[above[-1]].append(Hook(name, signature(func), is_firstresult(func), doc))
    return [Family(title, summary, tuple(grouped[line])) for line, title, summary in banners]


def _slug(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def _markdown(text: str) -> str:
    return _RST_LITERAL.sub(r"`\1`", text)


def _sentence(text: str) -> str:
    text = _markdown(text)
    if not text:
        return text
    return text[0].upper() + text[1:] + ("" if text.endswith(".") else ".")


def _doc_body(doc: str) -> list[str]:
    """The docstring as Markdown: prose kept, ``:param x:`` and ``:return:`` fields as a list."""
    prose: list[str] = []
    fields: list[list[str]] = []  # [label, text]
    example: list[str] | None = None
    for line in doc.splitlines():
        if line.strip() == "Example::":
            example = []
            continue
        if example is not None:
            example.append(line[4:] if line.startswith("    ") else line)
            continue
        match = _FIELD.match(line)
        if match:
            label = f"`{match['param']}`" if match["param"] else "returns"
            fields.append([label, match["text"].strip()])
        elif fields and line.startswith(" ") and line.strip():
            fields[-1][1] += " " + line.strip()
        elif not fields:
            prose.append(line)
    out = [_markdown(line) for line in prose]
    while out and not out[-1].strip():
        out.pop()
    params = [(label, text) for label, text in fields if label != "returns"]
    returns = [text for label, text in fields if label == "returns"]
    if params:
        out += ["", "Parameters:", ""]
        out += [f"- {label}: {_markdown(text)}" for label, text in params]
    for text in returns:
        out += ["", f"Returns: {_markdown(text)}"]
    if example is not None:
        while example and not example[0].strip():
            example.pop(0)
        while example and not example[-1].strip():
            example.pop()
        out += ["", "Example:", "", "```python", *example, "```"]
    return out


def render(module: ModuleType = hookspecs) -> str:
    """The hook reference for ``module`` as Markdown."""
    sections = families(module)
    summary = (inspect.getdoc(module) or "").split("\n\n")[0]
    out = [
        "# Hook reference",
        "",
        "<!-- Generated from core/src/headwater/hookspecs.py by `python -m headwater.hookdoc`. Do not edit by",
        "     hand: change the hook specs and run `python -m headwater.hookdoc > docs/hooks.md`. -->",
        "",
        _markdown(summary),
        "",
        "Implement a hook with a function or method of the same name marked `@hookimpl`",
        "(`from headwater import hookimpl`), and declare the module under the `headwater` entry-point group.",
        "A hook marked **all implementations run** calls every registered implementation (registries are fed",
        "through a `register` callback); a hook marked **first answer wins** (`firstresult=True`) stops at the",
        "first implementation that returns something other than None.",
        "",
    ]
    for family in sections:
        names = ", ".join(f"[`{h.name}`](#{_slug(h.name)})" for h in family.hooks)
        out.append(f"- [{family.title}](#{_slug(family.title)}): {names}")
    out.append("- [The plugin API: `headwater.plugin`](#the-plugin-api-headwaterplugin)")
    for family in sections:
        out += ["", f"## {family.title}"]
        if family.summary:
            out += ["", _sentence(family.summary)]
        for h in family.hooks:
            kind = "**First answer wins** (`firstresult=True`)." if h.firstresult else "**All implementations run.**"
            out += ["", f"### `{h.name}`", "", "```python", f"def {h.signature}", "```", "", kind, ""]
            out += _doc_body(h.doc)
    out += _plugin_api()
    return "\n".join(out).rstrip("\n") + "\n"


def _plugin_api() -> list[str]:
    """The names ``headwater.plugin`` exports, each with the first line of its docstring."""
    import importlib

    plugin = importlib.import_module("headwater.plugin")
    out = ["", "## The plugin API: `headwater.plugin`", "", _markdown((plugin.__doc__ or "").split("\n\n")[0]), ""]
    out += ["| name | what it is |", "| --- | --- |"]
    for name in plugin.__all__:
        value = getattr(plugin, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            summary = (inspect.getdoc(value) or "").split("\n\n")[0].replace("\n", " ")
            kind = "class" if inspect.isclass(value) else "function"
        else:
            summary, kind = plugin.VALUES[name], "value"
        cell = _markdown(summary).replace("|", "\\|")
        out.append(f"| `{name}` ({kind}) | {cell} |")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m headwater.hookdoc", description="Print the hook reference generated from headwater.hookspecs."
    )
    parser.add_argument("--check", metavar="FILE", help="exit 1 if FILE differs from the generated reference")
    args = parser.parse_args(argv)
    text = render()
    if args.check is None:
        sys.stdout.write(text)
        return 0
    path = Path(args.check)
    try:
        current = path.read_text(encoding="utf-8")
    except OSError as e:
        print(
            f"{path}: cannot read it ({e.strerror}). Generate it with `python -m headwater.hookdoc > {path}`.",
            file=sys.stderr,
        )
        return 1
    if current == text:
        return 0
    diff = difflib.unified_diff(
        current.splitlines(), text.splitlines(), f"{path} (on disk)", f"{path} (from hookspecs)", lineterm=""
    )
    print(
        f"{path} is out of date with headwater/hookspecs.py. Regenerate it with `python -m headwater.hookdoc > {path}`.",
        file=sys.stderr,
    )
    print("\n".join(list(diff)[:60]), file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
