"""End-to-end tests: each runs in its own folder and datastore (the ``headwater_env`` fixture)."""

import pytest


@pytest.fixture(autouse=True)
def _isolated(headwater_env):
    return headwater_env
