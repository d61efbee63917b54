"""A pooled PostgreSQL connection that died while idle is replaced before anyone uses it.

The engine pings only connections that sat idle (``PING_AFTER_IDLE_S``), instead of every
checkout: these tests cut the server side of pooled connections, as a server restart or an
idle timeout does, and check that the next transaction still runs.
"""

from __future__ import annotations

import os
import time

import pytest
from sqlalchemy import text

from mobile_services.storage.db import make_engine, normalise_url
from tests.conftest import PG_URL_ENV

pytestmark = pytest.mark.skipif(not os.environ.get(PG_URL_ENV), reason="needs PostgreSQL")


def _backend_pid(engine) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _terminate(pid: int) -> None:
    admin = make_engine(normalise_url(os.environ[PG_URL_ENV]))
    try:
        with admin.connect() as connection:
            assert connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar()
            connection.commit()
    finally:
        admin.dispose()
    time.sleep(0.2)  # the backend exits asynchronously


def test_a_connection_cut_while_idle_is_replaced_unseen() -> None:
    engine = make_engine(os.environ[PG_URL_ENV], ping_after_idle_s=0.05)
    try:
        first = _backend_pid(engine)
        _terminate(first)  # it waits in the pool, dead
        second = _backend_pid(engine)  # no error reaches the caller
        assert second != first
        assert _backend_pid(engine) == second  # and the new one is kept in the pool
    finally:
        engine.dispose()


def test_a_connection_back_a_moment_ago_is_not_pinged() -> None:
    """Under load nothing is pinged: a dead connection back from use a moment ago is found
    by its next query, which fails (and the pool then replaces it)."""
    engine = make_engine(os.environ[PG_URL_ENV], ping_after_idle_s=3600)
    try:
        first = _backend_pid(engine)
        _terminate(first)
        with pytest.raises(Exception, match="(?i)terminat|closed|connection"):
            _backend_pid(engine)
        assert _backend_pid(engine) != first
    finally:
        engine.dispose()
