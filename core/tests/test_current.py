"""Tests of ``headwater._current``: the ``current`` singleton outside and inside a task."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from headwater._current import Current, current

FIELDS: dict[str, Any] = {
    "flow_name": "HelloFlow",
    "run_id": "1700000000000001",
    "step_name": "start",
    "task_id": "7",
    "retry_count": 2,
    "origin_run_id": "1699999999999999",
    "namespace": "user:ada",
    "username": "ada",
    "tags": ["nightly", "team:ml"],
    "parameter_names": ["alpha"],
}

CORE_NAMES = ("flow_name", "run_id", "step_name", "task_id", "origin_run_id", "namespace", "username")


@pytest.fixture
def cur() -> Iterator[Current]:
    """A fresh ``Current``, so no test depends on (or leaks into) the process-wide singleton."""
    obj = Current()
    yield obj
    obj._clear()


@pytest.mark.parametrize("name", CORE_NAMES)
def test_outside_a_task_every_field_is_none(cur: Current, name: str) -> None:
    assert getattr(cur, name) is None


def test_outside_a_task(cur: Current) -> None:
    assert cur.is_running_flow is False
    assert cur.pathspec is None
    assert cur.tags == []
    assert cur.parameter_names == []
    # Outside a task every field is None, retry_count included (as in Metaflow).
    assert cur.retry_count is None
    assert "flow_name" not in cur
    assert repr(cur) == "<current: no flow running>"


def test_the_process_singleton_is_empty_outside_a_task() -> None:
    assert current.is_running_flow is False
    assert current.pathspec is None
    assert current.flow_name is None


def test_set_fills_the_core_fields(cur: Current) -> None:
    cur._set(FIELDS)

    assert cur.is_running_flow is True
    for name in CORE_NAMES:
        assert getattr(cur, name) == FIELDS[name]
    assert cur.retry_count == 2
    assert cur.tags == ["nightly", "team:ml"]
    assert cur.parameter_names == ["alpha"]
    assert cur.pathspec == "HelloFlow/1700000000000001/start/7"
    assert "run_id" in cur
    assert repr(cur) == "<current HelloFlow/1700000000000001/start/7 attempt 3 (retry_count 2)>"


def test_set_copies_its_input_and_tags_are_copies(cur: Current) -> None:
    fields = dict(FIELDS, tags=["a"])
    cur._set(fields)

    fields["run_id"] = "changed"
    cur.tags.append("c")

    assert cur.run_id == "1700000000000001"
    assert "c" not in cur.tags


def test_clear_empties_every_field(cur: Current) -> None:
    cur._set(FIELDS, {"card": "x"})

    cur._clear()

    assert cur.is_running_flow is False
    assert cur.run_id is None
    assert cur.pathspec is None
    assert cur.get("card") is None
    with pytest.raises(AttributeError):
        _ = cur.card


def test_plugin_extras_become_fields(cur: Current) -> None:
    card = object()
    cur._set(FIELDS, {"card": card, "batch_job_id": "job-1"})

    assert cur.card is card
    assert cur.batch_job_id == "job-1"
    assert cur.get("card") is card
    assert "card" in cur
    assert "missing" not in cur


def test_extras_cannot_shadow_core_fields(cur: Current) -> None:
    cur._set(FIELDS, {"run_id": "evil", "step_name": "evil", "tags": ["evil"], "card": 1})

    assert cur.run_id == "1700000000000001"
    assert cur.step_name == "start"
    assert cur.tags == ["nightly", "team:ml"]
    assert cur.get("run_id") == "1700000000000001"
    assert cur.get("tags") == ["nightly", "team:ml"]
    assert cur.card == 1


def test_extras_cannot_shadow_derived_fields(cur: Current) -> None:
    cur._set(FIELDS, {"pathspec": "evil", "is_running_flow": False})

    assert cur.pathspec == "HelloFlow/1700000000000001/start/7"
    assert cur.get("pathspec") == "HelloFlow/1700000000000001/start/7"
    assert cur.get("is_running_flow") is True


def test_get_reads_derived_fields(cur: Current) -> None:
    cur._set(FIELDS)

    assert cur.get("pathspec") == cur.pathspec
    assert cur.get("is_running_flow") is True


def test_unknown_attribute_lists_the_fields(cur: Current) -> None:
    with pytest.raises(AttributeError) as outside:
        _ = cur.no_such_field
    message = str(outside.value)
    assert "no_such_field" in message
    assert "no flow is running" in message
    for name in (*CORE_NAMES, "retry_count", "tags", "parameter_names", "pathspec", "is_running_flow"):
        assert name in message

    cur._set(FIELDS, {"card": 1})
    with pytest.raises(AttributeError) as inside:
        _ = cur.no_such_field
    assert "no flow is running" not in str(inside.value)
    assert "card" in str(inside.value), "the fields plugins added are listed too"
    assert not hasattr(cur, "no_such_field")


def test_private_names_are_never_extras(cur: Current) -> None:
    cur._set(FIELDS, {"_secret": 1})

    with pytest.raises(AttributeError):
        _ = cur._secret


def test_get_with_default(cur: Current) -> None:
    assert cur.get("flow_name") is None
    assert cur.get("flow_name", "fallback") == "fallback"
    assert cur.get("card", 42) == 42

    cur._set(FIELDS, {"card": None})

    assert cur.get("flow_name", "fallback") == "HelloFlow"
    assert cur.get("card", 42) is None, "a field set to None is set: the default is not used"
    assert cur.get("not_a_field", 42) == 42


def test_current_is_one_singleton() -> None:
    import headwater
    import headwater._current
    from headwater import current as imported

    assert imported is headwater._current.current
    assert headwater.current is headwater._current.current
    assert isinstance(imported, Current)
