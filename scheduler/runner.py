"""APScheduler 3.11 with static jobs and a leader lock (DESIGN.md section 4).

Jobs have fixed ids and ``replace_existing=True`` and live in memory: nothing is
pickled, so a code change never silently drops a job. On PostgreSQL several
processes may run the scheduler; the one holding ``pg_try_advisory_lock`` on a
dedicated connection runs the jobs, the others stand by and retry. The lock only
saves work: the outbox row locks make a double dispatch harmless anyway. No cron job
runs between 02:00 and 03:00 local time (skipped or doubled on DST nights).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import Engine, text
from sqlalchemy.engine import Connection

from config import Settings
from scheduler import jobs

logger = logging.getLogger(__name__)

#: First half of our advisory lock key ("mobi" in ASCII); the second half is a hash of
#: the schema, so two deployments sharing a database (one schema each) elect their own leader.
ADVISORY_LOCK_NAMESPACE = 0x6D6F6269


class LeaderLock:
    """Who runs the jobs. SQLite (one machine, one scheduler) is always the leader."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._connection: Connection | None = None
        self._held = engine.dialect.name != "postgresql"
        self._guard = threading.Lock()

    def is_leader(self) -> bool:
        with self._guard:
            if self._held:
                return True
            try:
                if self._connection is None:
                    self._connection = self.engine.connect()
                held = self._connection.execute(
                    text("SELECT pg_try_advisory_lock(:namespace, hashtext(current_schema()))"),
                    {"namespace": ADVISORY_LOCK_NAMESPACE},
                ).scalar()
                self._connection.commit()
            except Exception:  # noqa: BLE001 - lost connection: not leader, retry later
                logger.warning("leader lock unavailable", exc_info=True)
                self._close()
                return False
            self._held = bool(held)
            if self._held:
                logger.info("this process now runs the scheduled jobs")
            return self._held

    def release(self) -> None:
        with self._guard:
            if self._held and self._connection is not None:
                # Unlock explicitly: the server ends a closed session a little later, and
                # until then the next process asking for the lock is refused.
                try:
                    self._connection.execute(
                        text("SELECT pg_advisory_unlock(:namespace, hashtext(current_schema()))"),
                        {"namespace": ADVISORY_LOCK_NAMESPACE},
                    )
                    self._connection.commit()
                except Exception:  # noqa: BLE001 - the session ends anyway with the connection
                    logger.warning("leader lock: explicit unlock failed", exc_info=True)
            self._close()
            self._held = self.engine.dialect.name != "postgresql"

    def _close(self) -> None:
        if self._connection is not None:
            try:
                # Invalidate rather than return to the pool: the lock belongs to the
                # database session, which must end for the next leader to get it.
                self._connection.invalidate()
                self._connection.close()
            finally:
                self._connection = None


def _as_leader(lock: LeaderLock, job: Callable[..., None]) -> Callable[..., None]:
    def run(*args: Any) -> None:
        if not lock.is_leader():
            return
        try:
            job(*args)
        except Exception:  # noqa: BLE001 - a failing run must not stop the next ones
            logger.exception("scheduled job %s failed", job.__name__)

    run.__name__ = job.__name__
    return run


def add_jobs(scheduler: BaseScheduler, bus: jobs.Bus, settings: Settings, lock: LeaderLock) -> None:
    scheduler.add_job(
        _as_leader(lock, jobs.dispatch_outbox), IntervalTrigger(seconds=settings.dispatch_interval_seconds),
        args=[bus], id="dispatch_outbox", replace_existing=True, max_instances=1, coalesce=True,
    )
    scheduler.add_job(
        _as_leader(lock, jobs.pass_on_freed_seats), IntervalTrigger(minutes=1),
        args=[bus], id="pass_on_freed_seats", replace_existing=True, max_instances=1, coalesce=True,
    )
    scheduler.add_job(
        _as_leader(lock, jobs.expire_waitlist_entries), CronTrigger(hour=9, minute=30, timezone=settings.tz),
        args=[bus], id="expire_waitlist_entries", replace_existing=True, coalesce=True,
    )
    scheduler.add_job(
        _as_leader(lock, jobs.send_day_itineraries), CronTrigger(hour=6, minute=0, timezone=settings.tz),
        # after downtime it still runs once (the SMS is keyed by person and day; none once the day began)
        args=[bus], id="send_day_itineraries", replace_existing=True, coalesce=True, misfire_grace_time=4 * 3600,
    )
    scheduler.add_job(
        _as_leader(lock, jobs.draft_next_week),
        CronTrigger(
            day_of_week=settings.weekly_draft_weekday, hour=settings.weekly_draft_at.hour,
            minute=settings.weekly_draft_at.minute, timezone=settings.tz,
        ),
        args=[bus], id="draft_next_week", replace_existing=True, coalesce=True,
    )
    scheduler.add_job(
        _as_leader(lock, jobs.anonymise_inactive), CronTrigger(hour=4, minute=10, timezone=settings.tz),
        args=[bus, settings.retention_days], id="anonymise_inactive", replace_existing=True, coalesce=True,
    )


def start_background(bus: jobs.Bus, settings: Settings, engine: Engine) -> tuple[BackgroundScheduler, LeaderLock]:
    """The scheduler inside ``serve`` (embedded default)."""
    lock = LeaderLock(engine)
    scheduler = BackgroundScheduler(timezone=settings.tz)
    add_jobs(scheduler, bus, settings, lock)
    scheduler.start()
    return scheduler, lock
