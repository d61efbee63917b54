"""The timed jobs: one tiny function each, building a command for the bus.

Reminders are not jobs: they are outbox rows with a due time, sent by the dispatch
job (DESIGN.md section 4), so a code change or a restart never loses one.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from typing import Any, Protocol

from mobile_services.domain import commands

logger = logging.getLogger(__name__)


class Bus(Protocol):
    def handle(self, message: Any) -> Any: ...


def dispatch_outbox(bus: Bus, budget_seconds: float = 0.0) -> None:
    """Send what is due (every ``dispatch_interval_seconds``).

    One command sends at most its ``limit`` (100, or 8 per sender); while runs come back
    full (a burst of reminders, a backlog after downtime) the job goes on with another,
    for up to ``budget_seconds``, instead of leaving the rest for the next tick: at 100
    messages a tick the outbox would drain at 5 messages a second. The budget (one interval) keeps a
    run short enough that a leader that lost its lock stops dispatching soon; the outbox
    claims keep any overlap harmless.
    """
    deadline = time.monotonic() + budget_seconds
    totals: Counter[str] = Counter()
    while True:
        report = bus.handle(commands.DispatchDueMessages())
        for name in ("claimed", "sent", "retried", "failed", "unknown", "expired", "stale", "skipped"):
            totals[name] += getattr(report, name)
        if report.claimed + report.skipped < report.limit or time.monotonic() >= deadline:
            break
    if totals["claimed"] or totals["expired"] or totals["stale"]:
        logger.info(
            "dispatch: %d sent, %d retried, %d failed, %d unknown, %d expired",
            totals["sent"], totals["retried"], totals["failed"], totals["unknown"], totals["expired"],
        )


def reconcile_outbox(bus: Bus) -> None:
    """Settle messages left ``unknown`` by asking the provider (every ``reconcile_interval_seconds``)."""
    bus.handle(commands.ReconcileUnknownMessages())


def anonymise_inactive(bus: Bus, retention_days: int) -> None:
    """Forget residents inactive for longer than the retention period (daily)."""
    bus.handle(commands.AnonymiseInactiveResidents(older_than_days=retention_days))


def pass_on_freed_seats(bus: Bus) -> None:
    """Seats freed and not taken go to the next person waiting (every minute)."""
    bus.handle(commands.PassOnFreedSeats())


def expire_waitlist_entries(bus: Bus) -> None:
    """Close waiting-list requests too old to be served (daily, in the morning: the SMS goes out)."""
    bus.handle(commands.ExpireWaitlistEntries())


def draft_next_week(bus: Bus) -> None:
    """Plan next week's draft and tell the coordinator (weekly, at the configured time)."""
    bus.handle(commands.DraftNextWeek())


def send_day_itineraries(bus: Bus) -> None:
    """Each driver and counsellor with a day gets its link (06:00; one SMS a day, also after downtime)."""
    bus.handle(commands.SendDayItineraries())
