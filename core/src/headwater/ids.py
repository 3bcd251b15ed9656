"""What a flow name, step name, run id and task id may be: each becomes a folder name in the datastore.

Every name or id that reaches a datastore path passes through one of these checks, so ``..``, ``/``, a NUL
byte or an absolute path can never point a read or a write outside the flow's folder. ``FlowDatastore``
calls them in its path builders (every caller is covered, whatever the entry point: the CLI, the client,
a record read back); the client and the CLI call them first as well, to name what the user typed.

- flow and step names are Python identifiers (the flow's class name, the step's method name; the
  parameters pseudo-step ``_parameters`` is one too);
- run and task ids are ``[A-Za-z0-9][A-Za-z0-9_.-]*``, at most 128 characters: local ids are digits
  (microseconds since the epoch), and a deployer may create ids such as ``sfn-1234abcd``.

Each check returns the value it accepted, so it can be used inline.
"""

from __future__ import annotations

import re

from headwater.exceptions import InvalidIdError

MAX_ID_LENGTH = 128
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _identifier(value: object, what: str, example: str) -> str:
    if not isinstance(value, str) or not value.isidentifier():
        raise InvalidIdError(
            f"{_shown(value)} is not a valid {what}.",
            f"A {what} is a Python identifier (letters, digits and _, not starting with a digit), e.g. {example}.",
        )
    return value


def _id(value: object, what: str) -> str:
    if not isinstance(value, str) or len(value) > MAX_ID_LENGTH or not _ID.fullmatch(value):
        raise InvalidIdError(
            f"{_shown(value)} is not a valid {what}.",
            f"A {what} is made of letters, digits, '_', '.' and '-', starts with a letter or digit and has at "
            f"most {MAX_ID_LENGTH} characters, e.g. 1732770000123456.",
        )
    return value


def validate_flow_name(name: object) -> str:
    """``name`` if it can be a flow's name, else ``InvalidIdError``."""
    return _identifier(name, "flow name", "HelloFlow")


def validate_step_name(name: object) -> str:
    """``name`` if it can be a step's name (or the ``_parameters`` pseudo-step), else ``InvalidIdError``."""
    return _identifier(name, "step name", "start")


def validate_run_id(run_id: object) -> str:
    """``run_id`` if it can be a run id, else ``InvalidIdError``."""
    return _id(run_id, "run id")


def validate_task_id(task_id: object) -> str:
    """``task_id`` if it can be a task id, else ``InvalidIdError``."""
    return _id(task_id, "task id")


def is_valid_run_id(run_id: object) -> bool:
    return isinstance(run_id, str) and len(run_id) <= MAX_ID_LENGTH and _ID.fullmatch(run_id) is not None


def is_valid_task_id(task_id: object) -> bool:
    return is_valid_run_id(task_id)


def is_valid_name(name: object) -> bool:
    """Whether ``name`` can be a flow or step name."""
    return isinstance(name, str) and name.isidentifier()
