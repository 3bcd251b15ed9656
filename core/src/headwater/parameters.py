"""Flow parameters: ``Parameter``, ``JSONType`` and ``IncludeFile``.

A parameter is a class attribute of the flow that becomes an option of ``run``; its value is resolved and
checked once, before any task starts, stored as a read-only artifact, and visible as ``self.<name>`` in
every step. ``IncludeFile`` reads a local file at launch and stores its content in the content-addressed
store, so remote tasks and later readers see exactly the bytes the run started with.
"""

from __future__ import annotations

import inspect
import json
import mmap
import os
import stat
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from headwater.exceptions import ParameterError

if TYPE_CHECKING:
    from headwater.flowspec import FlowSpec

#: Names that clash with options of ``run``/``resume`` (with ``-`` or ``_``).
RESERVED_PARAMETER_NAMES = frozenset(
    {
        "params",
        "with",
        "tag",
        "tags",
        "namespace",
        "obj",
        "decospecs",
        "run-id-file",
        "max-num-splits",
        "max-workers",
        "max-log-size",
        "user-namespace",
        "run-id",
        "task-id",
        "runner-attribute-file",
        "origin-run-id",
        "quiet",
        "debug",
        "datastore",
        "datastore-root",
        "environment",
        "help",
        "json",
    }
)


class JSONTypeClass:
    """Parameter type whose command-line value is parsed as JSON."""

    name = "JSON"

    def convert(self, value: Any, parameter: str) -> Any:
        if not isinstance(value, str):
            return value
        try:
            return json.loads(value)
        except ValueError as e:
            raise ParameterError(
                f"--{parameter}: {value!r} is not valid JSON ({e}).",
                f"Pass valid JSON, e.g. --{parameter} '{{\"key\": 1}}'.",
            ) from None

    def __repr__(self) -> str:
        return "JSONType"


JSONType = JSONTypeClass()


class ParameterContext:
    """What a callable default receives: enough to compute a value at launch."""

    def __init__(self, flow_name: str, user_name: str, parameter_name: str) -> None:
        self.flow_name = flow_name
        self.user_name = user_name
        self.parameter_name = parameter_name

    def __repr__(self) -> str:
        return f"ParameterContext(flow_name={self.flow_name!r}, parameter_name={self.parameter_name!r})"


class Parameter:
    """A value given at launch (``--name value``), read-only inside steps as ``self.<attribute>``.

    ``type`` is ``str``, ``int``, ``float``, ``bool`` or ``JSONType``; by default the type of ``default``,
    else ``str``. ``default`` may be a callable taking a ``ParameterContext`` (or nothing), evaluated when
    the run starts. ``separator`` splits a string value into a list.
    """

    IS_FILE = False

    def __init__(
        self,
        name: str,
        default: Any = None,
        type: Any = None,
        help: str | None = None,
        required: bool = False,
        show_default: bool = True,
        separator: str | None = None,
        **kwargs: Any,
    ) -> None:
        caller = sys._getframe(1)
        while caller.f_back is not None and caller.f_code.co_filename == __file__:
            caller = caller.f_back
        #: Where the parameter is defined, for error messages.
        self.defined_at = (caller.f_code.co_filename, caller.f_lineno)
        #: Definition mistakes, reported by the linter (never raised while the class is being built).
        self.problems: list[tuple[str, str]] = []
        if not isinstance(name, str) or not name:
            self.problems.append((f"Parameter name must be a non-empty string, got {name!r}.", "Name the parameter."))
            name = str(name)
        if name in RESERVED_PARAMETER_NAMES or name.replace("_", "-") in RESERVED_PARAMETER_NAMES:
            self.problems.append(
                (
                    f"Parameter name {name!r} is reserved: it is an option of `run`.",
                    "Choose another name for the parameter.",
                )
            )
        unknown = set(kwargs) - {"hidden"}
        if unknown:
            self.problems.append(
                (
                    f"Parameter {name!r} got unknown argument(s) {', '.join(sorted(unknown))}.",
                    "Parameter takes default, type, help, required, show_default, separator.",
                )
            )
        self.name = name
        self.default = default
        self.help = help
        self.required = required
        self.show_default = show_default
        self.separator = separator
        self.attr = name.replace("-", "_")
        if type is None:
            type = builtins_type(default) if default is not None and not callable(default) else str
        if type not in (str, int, float, bool) and not isinstance(type, JSONTypeClass):
            self.problems.append(
                (f"Parameter {name!r}: type {type!r} is not supported.", "Use str, int, float, bool or JSONType.")
            )
            type = str
        self.type = type
        if separator is not None and self.type is not str:
            self.problems.append(
                (
                    f"Parameter {name!r}: separator only works with string parameters.",
                    "Remove separator, or make the parameter a string.",
                )
            )
        if default is not None and not callable(default):
            # caught here, with the definition's file:line, rather than at `run` as if the user passed it
            try:
                self.convert(default)
            except ParameterError:
                kind = type_name(self.type)
                self.problems.append(
                    (
                        f"Parameter {name!r}: its default {default!r} is not a valid {kind}.",
                        f"Make the default {_article(kind)} {kind}, or declare the type= that it is.",
                    )
                )

    # -- descriptor: read-only inside steps ------------------------------------------------------------

    def __set_name__(self, owner: type, attr: str) -> None:
        self.attr = attr

    def __get__(self, obj: FlowSpec | None, owner: type | None = None) -> Any:
        if obj is None:
            return self
        return obj._hw_read_parameter(self)

    def __set__(self, obj: FlowSpec, value: Any) -> None:
        from headwater.exceptions import StepUsageError

        raise StepUsageError(
            f"Parameter `{self.attr}` is read-only inside steps.",
            f"Store a new value under another name, e.g. self.{self.attr}_value = ...",
        )

    # -- resolution at launch ---------------------------------------------------------------------------

    def convert(self, value: Any) -> Any:
        """Turn a command-line or default value into the parameter's type; raise ParameterError."""
        if value is None:
            return None
        if isinstance(self.type, JSONTypeClass):
            return self.type.convert(value, self.name)
        if self.type is bool and isinstance(value, str):
            lowered = value.strip().lower()
            if lowered in ("1", "true", "t", "yes", "y", "on"):
                return True
            if lowered in ("0", "false", "f", "no", "n", "off"):
                return False
            raise ParameterError(f"--{self.name}: {value!r} is not a boolean.", "Pass true or false.")
        if isinstance(value, self.type) and not (self.type is int and isinstance(value, bool)):
            return value
        try:
            if self.type is int and isinstance(value, float) and not value.is_integer():
                raise ValueError(value)
            if self.type is bool and value not in (0, 1):
                raise ValueError(value)
            return self.type(value)
        except (TypeError, ValueError):
            raise ParameterError(
                f"--{self.name}: {value!r} is not a valid {self.type.__name__}.",
                f"Pass {'an' if self.type is int else 'a'} {self.type.__name__}, e.g. --{self.name} {self.type(1) if self.type in (int, float) else 'value'}.",
            ) from None

    @property
    def environment_variables(self) -> tuple[str, str]:
        """The variables that give a value when the command line does not (the Metaflow spelling second)."""
        suffix = self.name.upper().replace("-", "_")
        return f"HEADWATER_RUN_{suffix}", f"METAFLOW_RUN_{suffix}"

    def resolve(self, given: Any, context: ParameterContext) -> Any:
        """The value for this run: from the command line (``given``, None when absent), else from the
        variable ``HEADWATER_RUN_<NAME>`` (or ``METAFLOW_RUN_<NAME>``), else the default."""
        value, variable, from_default = given, None, ""
        if value is None:
            variable = next((v for v in self.environment_variables if os.environ.get(v)), None)  # "" is unset
            value = os.environ[variable] if variable else None
        if value is None:
            value, from_default = self.default, f"its default {self.default!r} is"
            if callable(value) and not isinstance(value, type):
                value = _call_default(self, value, context)
                from_default = f"its default function returned {value!r}, which is"
        if value is None:
            if self.required:
                raise ParameterError(
                    f"--{self.name} is required.",
                    f"Pass --{self.name} <value> to `run`, or set {self.environment_variables[0]}.",
                )
            return None
        try:
            value = self.convert(value)
        except ParameterError:
            # the messages of convert() speak of a command-line value; say where this one came from instead
            kind = type_name(self.type)
            if variable:
                raise ParameterError(
                    f"--{self.name}: {variable}={value!r} is not a valid {kind}.",
                    f"Set {variable} to {_article(kind)} {kind}, or unset it.",
                ) from None
            if from_default:
                file, line = self.defined_at
                raise ParameterError(
                    f"--{self.name}: {from_default} not a valid {kind}.",
                    f"Fix the default ({file}:{line}), or pass --{self.name} explicitly.",
                ) from None
            raise
        if self.separator is not None and isinstance(value, str):
            value = value.split(self.separator)
        return value

    def __repr__(self) -> str:
        return f"Parameter({self.name!r}, default={self.default!r}, type={getattr(self.type, '__name__', self.type)})"


def type_name(kind: Any) -> str:
    return "JSON value" if isinstance(kind, JSONTypeClass) else getattr(kind, "__name__", str(kind))


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def builtins_type(value: Any) -> Any:
    kind = type(value)
    return kind if kind in (str, int, float, bool) else JSONType if isinstance(value, (dict, list, tuple)) else str


def _call_default(param: Parameter, func: Callable[..., Any], context: ParameterContext) -> Any:
    try:
        try:
            takes_context = len(inspect.signature(func).parameters) > 0
        except (TypeError, ValueError):  # a builtin without a signature, such as time.time
            takes_context = False
        return func(context) if takes_context else func()
    except ParameterError:
        raise
    except Exception as e:
        raise ParameterError(
            f"--{param.name}: its default function raised {type(e).__name__}: {e}.",
            f"Fix the default, or pass --{param.name} explicitly.",
        ) from e


class IncludeFile(Parameter):
    """A local file, read when the run starts and stored content-addressed as the artifact's value.

    The option takes a path; inside steps ``self.<name>`` is the file's text (``is_text=True``, decoded with
    ``encoding``) or bytes.
    """

    IS_FILE = True

    def __init__(
        self,
        name: str,
        default: Any = None,
        is_text: bool = True,
        encoding: str = "utf-8",
        required: bool = False,
        help: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(name, default=default, type=str, help=help, required=required, **kwargs)
        self.is_text = is_text
        self.encoding = encoding

    def resolve(self, given: Any, context: ParameterContext) -> Any:
        path = super().resolve(given, context)
        if path is None:
            return None
        path = os.path.expanduser(str(path))
        try:
            return self._read(path)
        except OSError as e:
            raise ParameterError(
                f"--{self.name}: cannot read {path!r}: {e.strerror or e}.",
                f"Pass an existing file with --{self.name} <path>.",
            ) from None
        except UnicodeDecodeError as e:
            raise ParameterError(
                f"--{self.name}: {path!r} is not valid {self.encoding} text ({e.reason}).",
                "Pass is_text=False to read it as bytes, or set the right encoding=.",
            ) from None

    def _read(self, path: str) -> bytes | str:
        """The content of a regular file no larger than ``max_include_file_mb``, held once in memory.

        A FIFO would block (at open, then until its writer ends) and a device may never end, so anything
        but a regular file is refused; the open does not block on a FIFO. The file is mapped, not read, so
        its text is decoded straight from the page cache: no second copy of a large file in memory.
        """
        from headwater import config

        limit_mb = config.get_int("max_include_file_mb", minimum=1) or 1024
        limit = limit_mb * 1024 * 1024
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise ParameterError(
                    f"--{self.name}: {path!r} is {_file_kind(info.st_mode)}, not a regular file.",
                    "IncludeFile stores a file's whole content when the run starts: pass a regular file "
                    "(save what a pipe or device gives into one first).",
                )
            if info.st_size > limit:
                raise ParameterError(
                    f"--{self.name}: {path!r} is {info.st_size / 2**20:,.0f} MB, more than IncludeFile "
                    f"takes ({limit_mb:,} MB, the setting max_include_file_mb).",
                    "Read large data inside a step instead, or raise the limit: HEADWATER_MAX_INCLUDE_FILE_MB "
                    "or max_include_file_mb in .headwater/config.json.",
                )
            if info.st_size == 0:  # empty, or a file that does not report its size (/proc)
                data = bytearray()
                while chunk := os.read(fd, 1 << 20):
                    data += chunk
                    if len(data) > limit:
                        raise ParameterError(
                            f"--{self.name}: {path!r} holds more than {limit_mb:,} MB (max_include_file_mb).",
                            "Read large data inside a step instead, or raise max_include_file_mb.",
                        )
                return data.decode(self.encoding) if self.is_text else bytes(data)
            with mmap.mmap(fd, 0, access=mmap.ACCESS_READ) as view:
                return str(view, self.encoding) if self.is_text else bytes(view)
        finally:
            os.close(fd)


def _file_kind(mode: int) -> str:
    kinds = {
        stat.S_ISDIR: "a directory",
        stat.S_ISFIFO: "a named pipe (FIFO)",
        stat.S_ISCHR: "a character device",
        stat.S_ISBLK: "a block device",
        stat.S_ISSOCK: "a socket",
    }
    return next((name for test, name in kinds.items() if test(mode)), "a special file")


def flow_parameters(flow: type) -> list[Parameter]:
    """The parameters of a flow class and its bases, in definition order."""
    found: dict[str, Parameter] = {}
    for klass in reversed(flow.__mro__):
        for attr, value in vars(klass).items():
            if isinstance(value, Parameter):
                found[attr] = value
            elif attr in found:
                del found[attr]
    return list(found.values())


def parameter_problems(flow: type) -> list[tuple[str, str, str, int]]:
    """``(message, hint, file, line)`` for every mistake in the flow's parameter definitions."""
    found = []
    names: dict[str, str] = {}
    for param in flow_parameters(flow):
        file, line = param.defined_at
        found += [(message, hint, file, line) for message, hint in param.problems]
        if param.name in names:
            found.append(
                (
                    f"Parameters `{names[param.name]}` and `{param.attr}` both use the name {param.name!r}.",
                    "Give each parameter its own name.",
                    file,
                    line,
                )
            )
        names[param.name] = param.attr
    return found
