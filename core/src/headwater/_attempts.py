"""How an attempt is named to people: one vocabulary for the console, ``logs``, errors and reprs.

Records and the API count attempts from 0, as Metaflow's ``retry_count`` does (``Task.current_attempt``,
``CaughtException.attempt``, ``current.retry_count``, ``logs --attempt``, ``--retry-count``). People count
from 1, so every line meant to be read says both: ``attempt 2 of 3 (retry_count 1)``.
"""

from __future__ import annotations


def attempt_label(retry_count: int, max_attempts: int | None = None) -> str:
    """``attempt 1 of 3 (retry_count 0)``, or ``attempt 1 (retry_count 0)`` when the limit is not known."""
    of = f" of {max_attempts}" if max_attempts else ""
    return f"attempt {retry_count + 1}{of} (retry_count {retry_count})"
