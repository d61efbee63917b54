"""APScheduler 3.11 with static jobs and a leader lock (DESIGN.md section 4).

Jobs have fixed ids and ``replace_existing=True`` and live in memory: nothing is
pickled, so a code change never silently drops a job. Any number of processes may
run the scheduler; only the leader runs the jobs:

- **PostgreSQL**: the leader holds ``pg_try_advisory_lock`` on a dedicated
  connection (its own, never from the pool, so nothing can silently swap it for a
  fresh session). Before **each** job it checks, on that connection, that its
  session still holds the lock: a connection cut by ``pg_terminate_backend``, a
  server restart or an idle timeout ends the session and frees the lock, which
  another process may take at once. The old leader sees the check fail, logs it,
  runs nothing, and competes for the lock again like any standby. A standby tries
  the lock each time a job fires, so it takes over within one dispatch interval of
  the leader's death (the server ends a killed client's session at once; TCP
  keepalives bound the wait when the network goes silent).
- **SQLite** (one machine): a lock file next to the database keeps it to one process.

The lock only saves work: correctness comes from the outbox, whose rows are
claimed in batches under ``FOR UPDATE SKIP LOCKED`` / ``BEGIN IMMEDIATE`` with a
lease, and attempted one at a time, fenced on the claim.
No cron job runs between 02:00 and 03:00 local time (skipped or doubled on DST
nights); interval jobs do not care about the wall clock.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import psycopg
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from filelock import FileLock, Timeout
from sqlalchemy import Engine

from config import Settings
from scheduler import jobs

logger = logging.getLogger(__name__)

#: First half of our advisory lock key ("mobi" in ASCII); the second half is a hash of
#: the schema, so two deployments sharing a database (one schema each) elect their own leader.
ADVISORY_LOCK_NAMESPACE = 0x6D6F6269

_TRY_LOCK = "SELECT pg_try_advisory_lock(%s, hashtext(current_schema()))"
_STILL_HELD = """
    SELECT count(*) FROM pg_locks
    WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted AND objsubid = 2
      AND classid::bigint = %s AND objid::bigint = (hashtext(current_schema())::bigint & 4294967295)
"""
_UNLOCK = "SELECT pg_advisory_unlock(%s, hashtext(current_schema()))"
#: libpq options for the lock connection: notice a dead peer in about 30 s.
_KEEPALIVE = {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5, "keepalives_count": 3, "connect_timeout": 10}


class LeaderLock(Protocol):
    """Who runs the jobs: ``is_leader()`` is asked right before each job."""

    def is_leader(self) -> bool: ...

    def release(self) -> None: ...


def leader_lock(engine: Engine) -> LeaderLock:
    """The lock that fits the database: advisory lock on PostgreSQL, lock file on SQLite."""
    if engine.dialect.name == "postgresql":
        return PostgresLeaderLock(engine)
    database = engine.url.database
    if not database or database == ":memory:":
        return FileLeaderLock(None)
    return FileLeaderLock(Path(database).with_name(Path(database).name + ".scheduler.lock"))


class PostgresLeaderLock:
    """``pg_try_advisory_lock`` held by this process's own session, re-checked before each job."""

    def __init__(self, engine: Engine) -> None:
        self._conninfo = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._connection: psycopg.Connection[Any] | None = None
        self._held = False
        self._guard = threading.Lock()

    def is_leader(self) -> bool:
        with self._guard:
            if self._held:
                if self._still_held():
                    return True
                logger.error("lost the scheduler lock (its database session ended): this process stops running jobs")
                self._held = False
                self._close()
            return self._acquire()

    def _still_held(self) -> bool:
        assert self._connection is not None
        try:
            count = self._connection.execute(_STILL_HELD, (ADVISORY_LOCK_NAMESPACE,)).fetchone()
        except psycopg.Error:
            return False
        return bool(count and count[0] == 1)

    def _acquire(self) -> bool:
        try:
            if self._connection is None or self._connection.closed:
                self._connection = psycopg.connect(self._conninfo, autocommit=True, **_KEEPALIVE)
            row = self._connection.execute(_TRY_LOCK, (ADVISORY_LOCK_NAMESPACE,)).fetchone()
        except psycopg.Error as exc:
            logger.warning("scheduler lock unavailable (%s): standing by", type(exc).__name__)
            self._close()
            return False
        self._held = bool(row and row[0])
        if self._held:
            logger.info("this process now runs the scheduled jobs (pid %d)", os.getpid())
        return self._held

    def release(self) -> None:
        with self._guard:
            if self._held and self._connection is not None:
                # Unlock explicitly: the server may notice the closed session a little later.
                try:
                    self._connection.execute(_UNLOCK, (ADVISORY_LOCK_NAMESPACE,))
                except psycopg.Error:
                    logger.warning("scheduler lock: explicit unlock failed; the session end frees it")
            self._held = False
            self._close()

    def _close(self) -> None:
        if self._connection is not None:
            try:
                self._connection.close()
            finally:
                self._connection = None


class FileLeaderLock:
    """One scheduler per SQLite database: an OS lock on a file next to it (freed when the process dies)."""

    def __init__(self, path: Path | None) -> None:
        self._lock = FileLock(str(path), thread_local=False) if path is not None else None
        self._announced = False

    def is_leader(self) -> bool:
        if self._lock is None:  # in-memory database: it lives in this process only
            return True
        if self._lock.is_locked:
            return True
        try:
            self._lock.acquire(timeout=0)
        except Timeout:
            return False
        logger.info("this process now runs the scheduled jobs (pid %d)", os.getpid())
        return True

    def release(self) -> None:
        if self._lock is not None and self._lock.is_locked:
            self._lock.release(force=True)


def _as_leader(lock: LeaderLock, job_id: str, job: Callable[..., None]) -> Callable[..., None]:
    def run(*args: Any) -> None:
        if not lock.is_leader():
            return
        logger.debug("job %s started (pid %d)", job_id, os.getpid())
        try:
            job(*args)
        except Exception:  # noqa: BLE001 - a failing run must not stop the next ones
            logger.exception("scheduled job %s failed", job_id)
        finally:
            logger.debug("job %s finished (pid %d)", job_id, os.getpid())

    run.__name__ = job.__name__
    return run


def add_jobs(scheduler: BaseScheduler, bus: jobs.Bus, settings: Settings, lock: LeaderLock) -> None:
    """The static jobs. Intervals come from the settings (tests shorten them)."""
    scheduler.add_job(
        _as_leader(lock, "dispatch_outbox", jobs.dispatch_outbox), IntervalTrigger(seconds=settings.dispatch_interval_seconds),
        args=[bus, settings.dispatch_interval_seconds], id="dispatch_outbox", replace_existing=True, max_instances=1,
        coalesce=True,
    )
    scheduler.add_job(
        _as_leader(lock, "reconcile_outbox", jobs.reconcile_outbox), IntervalTrigger(seconds=settings.reconcile_interval_seconds),
        args=[bus], id="reconcile_outbox", replace_existing=True, max_instances=1, coalesce=True,
    )
    scheduler.add_job(
        _as_leader(lock, "pass_on_freed_seats", jobs.pass_on_freed_seats), IntervalTrigger(minutes=1),
        args=[bus], id="pass_on_freed_seats", replace_existing=True, max_instances=1, coalesce=True,
    )
    scheduler.add_job(
        _as_leader(lock, "expire_waitlist_entries", jobs.expire_waitlist_entries), CronTrigger(hour=9, minute=30, timezone=settings.tz),
        args=[bus], id="expire_waitlist_entries", replace_existing=True, coalesce=True,
    )
    scheduler.add_job(
        _as_leader(lock, "send_day_itineraries", jobs.send_day_itineraries), CronTrigger(hour=6, minute=0, timezone=settings.tz),
        # after downtime it still runs once (the SMS is keyed by person and day; none once the day began)
        args=[bus], id="send_day_itineraries", replace_existing=True, coalesce=True, misfire_grace_time=4 * 3600,
    )
    scheduler.add_job(
        _as_leader(lock, "draft_next_week", jobs.draft_next_week),
        CronTrigger(
            day_of_week=settings.weekly_draft_weekday, hour=settings.weekly_draft_at.hour,
            minute=settings.weekly_draft_at.minute, timezone=settings.tz,
        ),
        args=[bus], id="draft_next_week", replace_existing=True, coalesce=True,
    )
    scheduler.add_job(
        _as_leader(lock, "anonymise_inactive", jobs.anonymise_inactive), CronTrigger(hour=4, minute=10, timezone=settings.tz),
        args=[bus, settings.retention_days], id="anonymise_inactive", replace_existing=True, coalesce=True,
    )


def start_background(bus: jobs.Bus, settings: Settings, engine: Engine) -> tuple[BackgroundScheduler, LeaderLock]:
    """The scheduler inside ``serve`` (embedded default)."""
    lock = leader_lock(engine)
    scheduler = BackgroundScheduler(timezone=settings.tz)
    add_jobs(scheduler, bus, settings, lock)
    scheduler.start()
    return scheduler, lock
