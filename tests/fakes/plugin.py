"""Pytest fixtures for the shipped test fakes.

Registered by the top-level `tests/conftest.py` (`pytest_plugins =
["tests.fakes.plugin"]`; pytest only accepts `pytest_plugins` there), so every
test can ask for `fake_twilio`.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.fake_twilio import FakeTwilioServer


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilioServer]:
    """A started fake Twilio API on 127.0.0.1 (random port), fresh for each test.

    Point the real sender at it with `api_base_url=fake_twilio.base_url` and
    the fake's `account_sid` / `auth_token`.
    """
    with FakeTwilioServer() as server:
        yield server
