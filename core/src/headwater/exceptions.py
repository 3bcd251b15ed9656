"""The error hierarchy every part of Headwater raises.

An error the user can act on is a ``HeadwaterError``: its message names what the user wrote (flow, step,
file and line, artifact, parameter) and its ``hint`` says what to do. The CLI prints it without a Python
traceback unless ``--debug`` is on. Exceptions raised by the user's own step code are never wrapped: the
runtime shows them with the user's frames exactly as Python prints them.
"""

from __future__ import annotations


class HeadwaterError(Exception):
    """Base of every error Headwater raises on purpose."""

    #: Short label the CLI prints before the message.
    headline = "Error"
    #: Process exit status when this error ends a command.
    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}\n{self.hint}"
        return self.message


class GraphError(HeadwaterError):
    """The flow's graph is not valid; raised by the linter with every problem found."""

    headline = "Flow is not valid"

    def __init__(self, flow_name: str, problems: list[LintProblem]) -> None:
        self.flow_name = flow_name
        self.problems = problems
        lines = [f"{flow_name} has {len(problems)} problem{'s' if len(problems) != 1 else ''}:"]
        lines += [f"  {p}" for p in problems]
        super().__init__("\n".join(lines))


class LintProblem:
    """One lint finding: where it is, what is wrong, what to do."""

    __slots__ = ("file", "hint", "line", "message", "rule")

    def __init__(self, rule: str, message: str, hint: str, file: str | None = None, line: int | None = None) -> None:
        self.rule = rule
        self.message = message
        self.hint = hint
        self.file = file
        self.line = line

    @property
    def location(self) -> str:
        if self.file is None:
            return ""
        return f"{self.file}:{self.line}" if self.line else self.file

    def __str__(self) -> str:
        where = f"{self.location}: " if self.file else ""
        return f"{where}{self.message} {self.hint}".rstrip()

    def __repr__(self) -> str:
        return f"LintProblem({self.rule!r}, {str(self)!r})"


class ParameterError(HeadwaterError):
    """A parameter value (or definition) is invalid; raised before any task starts."""

    headline = "Bad parameter"


class DecoratorError(HeadwaterError):
    """A decorator is unknown, misplaced or given bad attributes."""

    headline = "Bad decorator"


class ConfigError(HeadwaterError):
    """A configuration value or command-line option is invalid."""

    headline = "Configuration error"


class PluginError(HeadwaterError):
    """A plugin is missing or misbehaves."""

    headline = "Plugin error"


class DatastoreError(HeadwaterError):
    """The datastore cannot be read or written as asked."""

    headline = "Datastore error"


class BlobNotFound(DatastoreError):
    """A content-addressed blob is missing."""


class CorruptBlobError(DatastoreError):
    """A blob's bytes no longer match its key: it was changed or truncated on disk."""

    headline = "Corrupted artifact"


class SerializationError(HeadwaterError):
    """An artifact cannot be serialized (or deserialized)."""

    headline = "Artifact cannot be stored"


class StepUsageError(HeadwaterError):
    """A step used the flow API wrongly at run time (``self.next``, foreach, condition, joins)."""

    headline = "Step error"


class StepTimeout(HeadwaterError):
    """A step ran longer than its ``@timeout``; raised inside the step's own code."""

    headline = "Step timed out"


class HostsFailed(HeadwaterError):
    """A multi-host task failed because another of its hosts failed or never reported."""

    headline = "Task failed on another host"


class TaskInterrupted(BaseException):
    """Raised in a task when the runtime stops it (Ctrl-C, SIGTERM); BaseException so user code does not catch it."""


class NotFoundError(HeadwaterError):
    """A flow, run, step, task or artifact asked for by the client does not exist."""

    headline = "Not found"


class InvalidIdError(HeadwaterError):
    """A flow name, step name, run id or task id is not one that can be stored (``..``, ``/``, a NUL byte)."""

    headline = "Invalid name"


class TagError(HeadwaterError):
    """A tag cannot be added or removed (not a string, too long, or a system tag)."""

    headline = "Bad tag"


class NamespaceError(HeadwaterError):
    """A client object exists but is outside the current namespace."""

    headline = "Not in namespace"


class ResumeError(HeadwaterError):
    """A resume cannot start (no origin run, unknown step)."""

    headline = "Cannot resume"


class CaughtException(Exception):
    """What ``@catch(var=...)`` stores: the failure of an earlier attempt, as plain data.

    It keeps the type name, message and formatted traceback rather than the original exception object,
    so it can always be stored and loaded, even when the original exception could not be pickled.
    ``attempt`` is the failed attempt's ``retry_count`` (0 for the first attempt), as in the records.
    """

    def __init__(self, type: str, message: str, traceback: str | None = None, attempt: int = 0) -> None:
        super().__init__(type, message, traceback, attempt)
        self.type = type
        self.message = message
        self.traceback = traceback
        self.attempt = attempt

    @property
    def exception(self) -> str:
        """The message (Metaflow's ``MetaflowExceptionWrapper.exception``)."""
        return self.message

    @property
    def stacktrace(self) -> str | None:
        return self.traceback

    def __str__(self) -> str:
        return f"{self.type}: {self.message}"

    def __repr__(self) -> str:
        return f"CaughtException({self.type!r}, {self.message!r}, attempt={self.attempt})"
