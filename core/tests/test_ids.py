"""Tests of the checks on flow names, step names, run ids and task ids (``headwater.ids``)."""

from __future__ import annotations

import pytest

from headwater.exceptions import HeadwaterError, InvalidIdError
from headwater.ids import (
    MAX_ID_LENGTH,
    validate_flow_name,
    validate_run_id,
    validate_step_name,
    validate_task_id,
)

GOOD_IDS = ["1732770000123456", "0", "sfn-1234abcd", "a", "run_2.b-c", "X" * MAX_ID_LENGTH, "a..b"]
BAD_IDS = ["", "..", ".", "../1", "1/2", "/abs", "a\0b", "a b", "-1", "_1", ".hidden", "é1", "1\n", "X" * 129, 5, None]


@pytest.mark.parametrize("value", GOOD_IDS)
def test_valid_run_and_task_ids_are_returned(value: str) -> None:
    assert validate_run_id(value) == value
    assert validate_task_id(value) == value


@pytest.mark.parametrize("value", BAD_IDS, ids=repr)
def test_invalid_run_and_task_ids_are_refused(value: object) -> None:
    with pytest.raises(InvalidIdError) as info:
        validate_run_id(value)
    assert info.value.message.startswith(f"{value!r}"[:40])
    assert "is not a valid run id" in info.value.message
    assert "at most 128 characters" in (info.value.hint or "")
    with pytest.raises(InvalidIdError, match="is not a valid task id"):
        validate_task_id(value)


@pytest.mark.parametrize("value", ["HelloFlow", "_parameters", "start", "a1"])
def test_valid_names(value: str) -> None:
    assert validate_flow_name(value) == value
    assert validate_step_name(value) == value


@pytest.mark.parametrize("value", ["", "..", "a/b", "1abc", "a-b", "a\0", "Flow ", None, 3], ids=repr)
def test_invalid_names_are_refused(value: object) -> None:
    with pytest.raises(InvalidIdError, match="is not a valid flow name") as info:
        validate_flow_name(value)
    assert "Python identifier" in (info.value.hint or "")
    with pytest.raises(InvalidIdError, match="is not a valid step name"):
        validate_step_name(value)


def test_the_error_is_a_headwater_error_and_shortens_long_values() -> None:
    with pytest.raises(HeadwaterError) as info:
        validate_run_id("x/" * 500)
    assert len(info.value.message) < 120
