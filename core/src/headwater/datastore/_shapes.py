"""The shape of each kind of record, checked every time one is read back.

A record that passed its checksum was written by Headwater, but it may have been written by another
version, copied from another run, or edited by hand and re-sealed. Code that reads records indexes into
them (``record["manifest"][name]["key"]``, ``frame["index"]``), so a record of the wrong shape must stop
at the door with a message naming its file, never deeper as a ``KeyError`` or ``TypeError``. Each
``check_*`` function raises ``BadShape`` with what is wrong; ``FlowDatastore`` turns it into a
``DatastoreError`` that names the file. Keys not listed here are allowed (plugins and newer versions add
some); listed keys must have the listed type.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from headwater.datastore.cas import is_key
from headwater.ids import is_valid_name, is_valid_run_id, is_valid_task_id

Check = Callable[[Any], bool]


class BadShape(ValueError):
    """A record is valid JSON but not of the shape its kind requires; the message says what is wrong."""


def _is_int(value: Any) -> bool:
    return type(value) is int


def _is_count(value: Any) -> bool:
    return type(value) is int and value >= 0


def _is_number(value: Any) -> bool:
    return type(value) in (int, float)


def _is_str(value: Any) -> bool:
    return isinstance(value, str)


def _is_bool(value: Any) -> bool:
    return type(value) is bool


def _is_dict(value: Any) -> bool:
    return isinstance(value, dict)


def _optional(check: Check) -> Check:
    return lambda value: value is None or check(value)


def _list_of(check: Check) -> Check:
    return lambda value: isinstance(value, list) and all(check(item) for item in value)


def _is_input_path(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    step, slash, task = value.partition("/")
    return bool(slash) and is_valid_name(step) and is_valid_task_id(task)


def _fields(record: Any, kind: str, required: dict[str, Check], optional: dict[str, Check]) -> dict[str, Any]:
    if not isinstance(record, dict):
        raise BadShape(f"a {kind} record is a JSON object, this one is {type(record).__name__}")
    for key, check in required.items():
        if key not in record:
            raise BadShape(f"it has no {key!r}")
        if not check(record[key]):
            raise BadShape(f"its {key!r} is not valid ({_shown(record[key])})")
    for key, check in optional.items():
        if key in record and not check(record[key]):
            raise BadShape(f"its {key!r} is not valid ({_shown(record[key])})")
    return record


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _graph(value: Any) -> bool:
    if value is None:
        return True
    steps = value.get("steps", []) if isinstance(value, dict) else None
    return isinstance(steps, list) and all(isinstance(s, dict) and is_valid_name(s.get("name")) for s in steps)


def _runtime(value: Any) -> bool:
    if value is None:
        return True
    return isinstance(value, dict) and _optional(_is_int)(value.get("pid")) and _optional(_is_str)(value.get("host"))


_RUN_OPTIONAL: dict[str, Check] = {
    "flow": _is_str,
    "user": _optional(_is_str),
    "created_at": _optional(_is_number),
    "tags": _list_of(_is_str),
    "system_tags": _list_of(_is_str),
    "origin_run_id": _optional(is_valid_run_id),
    "resume_step": _optional(is_valid_name),
    "code_package": _optional(is_key),
    "flow_file": _optional(_is_str),
    "parameters": _list_of(_is_str),
    "graph": _graph,
    "runtime": _runtime,
}


def check_run(record: Any, flow_name: str, run_id: str) -> dict[str, Any]:
    """``run.json``: written once when the run starts."""
    record = _fields(record, "run", {"version": _is_int, "run_id": _is_str}, _RUN_OPTIONAL)
    if record["run_id"] != run_id:
        raise BadShape(f"it is the record of run {record['run_id']!r}, not of {run_id!r} (copied from elsewhere?)")
    if record.get("flow", flow_name) != flow_name:
        raise BadShape(f"it is the record of a run of {record['flow']!r}, not of {flow_name!r}")
    return record


def check_end(record: Any) -> dict[str, Any]:
    """``end.json``: written once when the run ends."""
    optional: dict[str, Check] = {"finished_at": _optional(_is_number), "reason": _optional(_is_str)}
    return _fields(record, "run end", {"version": _is_int, "status": _is_str}, optional)


def check_tag_change(record: Any) -> dict[str, Any]:
    """``tag-changes/<time>-<random>.json``: tags added and removed by one change."""
    required: dict[str, Check] = {"version": _is_int, "add": _list_of(_is_str), "remove": _list_of(_is_str)}
    return _fields(record, "tag change", required, {})


_TASK_OPTIONAL: dict[str, Check] = {
    "started_at": _optional(_is_number),
    "finished_at": _optional(_is_number),
    "input_paths": _optional(_list_of(_is_input_path)),
    "split_index": _optional(_is_count),
    "origin_run_id": _optional(is_valid_run_id),
    "iteration": _is_count,
    "parameters": _list_of(_is_str),
    "exit_code": _optional(_is_int),
    "pid": _optional(_is_int),
    "host": _optional(_is_str),
    "metadata": _optional(_is_dict),
}


def check_launch(record: Any) -> dict[str, Any]:
    """``<a>.launch.json``: what the launcher learned about the attempt (a job id)."""
    return _fields(record, "launch", {"version": _is_int, "metadata": _is_dict}, {})


def check_host(record: Any) -> dict[str, Any]:
    """``<a>.host-<i>.json``: the outcome of one helper host of a multi-host task."""
    record = _fields(record, "host", {"version": _is_int, "ok": _is_bool}, {"host": _optional(_is_str)})
    _check_exception(record.get("exception"))
    return record


def check_start(record: Any, attempt: int) -> dict[str, Any]:
    """``<a>.start.json``: the attempt began."""
    record = _fields(record, "attempt start", {"attempt": _is_count}, _TASK_OPTIONAL)
    if record["attempt"] != attempt:
        raise BadShape(f"it is the record of attempt {record['attempt']}, not of attempt {attempt}")
    return record


def _check_entry(name: Any, entry: Any) -> None:
    if not isinstance(name, str) or not name:
        raise BadShape(f"its manifest names an artifact {_shown(name)}")
    where = f"the manifest entry of {name!r}"
    if not isinstance(entry, dict):
        raise BadShape(f"{where} is not an object")
    if not is_key(entry.get("key")):
        raise BadShape(f"{where} has no valid 'key' ({_shown(entry.get('key'))})")
    if not _is_count(entry.get("size")):
        raise BadShape(f"{where} has no valid 'size'")
    if not _is_str(entry.get("serializer")):
        raise BadShape(f"{where} has no valid 'serializer'")
    if not _optional(_is_str)(entry.get("type")) or not _optional(_is_dict)(entry.get("info")):
        raise BadShape(f"{where} has an invalid 'type' or 'info'")


def _check_frame(position: int, frame: Any) -> None:
    where = f"frame {position} of its foreach_stack"
    if not isinstance(frame, dict):
        raise BadShape(f"{where} is not an object")
    for key, check in (("step", is_valid_name), ("task", is_valid_task_id), ("var", _is_str)):
        if not check(frame.get(key)):
            raise BadShape(f"{where} has no valid {key!r}")
    if "run" in frame and not is_valid_run_id(frame["run"]):
        raise BadShape(f"{where} has no valid 'run'")
    index: Any = frame.get("index")
    splits: Any = frame.get("num_splits")
    if not _is_count(splits):
        raise BadShape(f"{where} has no valid 'num_splits'")
    if not _is_count(index) or index >= splits:
        raise BadShape(f"{where} has no valid 'index' (0 to {splits - 1})")


def _check_transition(transition: Any) -> None:
    if transition is None:
        return
    if not isinstance(transition, dict) or not _is_str(transition.get("type")):
        raise BadShape("its transition has no valid 'type'")
    if not _list_of(is_valid_name)(transition.get("next")):
        raise BadShape("its transition has no valid 'next' (a list of step names)")
    if transition["type"] == "foreach":
        if not _is_str(transition.get("var")):
            raise BadShape("its foreach transition has no valid 'var'")
        if not _is_count(transition.get("num_splits")):
            raise BadShape("its foreach transition has no valid 'num_splits'")


def _check_origin(origin: Any) -> None:
    if origin is None:
        return
    if not (
        isinstance(origin, dict)
        and is_valid_run_id(origin.get("run_id"))
        and is_valid_task_id(origin.get("task_id"))
        and _is_count(origin.get("attempt", 0))
    ):
        raise BadShape("its 'origin' is not a valid run_id, task_id and attempt")


def _check_exception(info: Any) -> None:
    if info is None:
        return
    if not (
        isinstance(info, dict)
        and _is_str(info.get("type"))
        and _is_str(info.get("message"))
        and _optional(_is_str)(info.get("traceback"))
        and _optional(_is_str)(info.get("report"))
    ):
        raise BadShape("its 'exception' is not a valid type, message and traceback")


def check_done(record: Any, attempt: int) -> dict[str, Any]:
    """``<a>.done.json``: the attempt's outcome and manifest, including every nested structure."""
    required: dict[str, Check] = {"version": _is_int, "attempt": _is_count, "ok": _is_bool, "manifest": _is_dict}
    record = _fields(record, "attempt", required, _TASK_OPTIONAL)
    if record["attempt"] != attempt:
        raise BadShape(f"it is the record of attempt {record['attempt']}, not of attempt {attempt}")
    for name, entry in record["manifest"].items():
        _check_entry(name, entry)
    stack = record.get("foreach_stack", [])
    if not isinstance(stack, list):
        raise BadShape("its 'foreach_stack' is not a list")
    for position, frame in enumerate(stack):
        _check_frame(position, frame)
    _check_transition(record.get("transition"))
    _check_origin(record.get("origin"))
    _check_exception(record.get("exception"))
    return record
