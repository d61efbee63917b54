"""When messages are due. Pure: every function takes ``now`` and the rules as arguments.

Rules (DESIGN.md section 4): the day-before reminder goes at a Paris wall-clock time
(18:00 by default: the same wall-clock time in winter and summer, whatever the UTC
offset), the second one a fixed duration before the appointment; nothing leaves
during quiet hours (20:00-08:00); a reminder that can no longer arrive in time is
not sent at all, and the SMS carries a validity period so a delayed one expires at
the operator instead of arriving after the appointment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True, kw_only=True)
class MessagingRules:
    tz: ZoneInfo
    day_before_at: time = time(18, 0)
    hours_before: int = 2
    quiet_start: time = time(20, 0)
    quiet_end: time = time(8, 0)
    #: the two-hours-before reminder is useless later than this before the appointment
    min_lead: timedelta = timedelta(minutes=15)


@dataclass(frozen=True, kw_only=True)
class Reminder:
    kind: str
    due_at: datetime
    expires_at: datetime


def in_quiet_hours(moment: datetime, rules: MessagingRules) -> bool:
    local = moment.astimezone(rules.tz).time()
    if rules.quiet_start <= rules.quiet_end:
        return rules.quiet_start <= local < rules.quiet_end
    return local >= rules.quiet_start or local < rules.quiet_end


def next_allowed(moment: datetime, rules: MessagingRules) -> datetime:
    """``moment`` itself, or the end of the quiet hours it falls in (local wall-clock)."""
    if not in_quiet_hours(moment, rules):
        return moment
    local = moment.astimezone(rules.tz)
    end_today = datetime.combine(local.date(), rules.quiet_end, tzinfo=rules.tz)
    target = end_today if local < end_today else datetime.combine(local.date() + timedelta(days=1), rules.quiet_end, tzinfo=rules.tz)
    return target.astimezone(moment.tzinfo)


def reminders(appointment: datetime, now: datetime, rules: MessagingRules) -> list[Reminder]:
    """The reminders still worth sending for an appointment booked at ``now``.

    A reminder is dropped when its (quiet-hours adjusted) due time is not after
    ``now`` or would not leave it before the appointment; the day-before one is also
    dropped when the booking is made after it would have been sent.

    Misfire policy (what a dispatcher back from downtime does with them): the
    day-before reminder is still worth sending until the appointment starts (it
    spells out the date), the two-hours-before one only until ``min_lead`` before it
    (too late to come otherwise); ``expires_at`` carries that limit to the outbox.
    """
    result: list[Reminder] = []
    local_day = appointment.astimezone(rules.tz).date()
    day_before = datetime.combine(local_day - timedelta(days=1), rules.day_before_at, tzinfo=rules.tz)
    candidates = [("reminder_day_before", day_before)]
    if rules.hours_before > 0:
        candidates.append(("reminder_hours_before", appointment - timedelta(hours=rules.hours_before)))
    for kind, due in candidates:
        due = next_allowed(due, rules)
        expires = appointment - rules.min_lead if kind == "reminder_hours_before" else appointment
        if due <= now or due >= expires:
            continue
        result.append(Reminder(kind=kind, due_at=due, expires_at=expires))
    return result


def validity_seconds(now: datetime, expires_at: datetime | None, *, maximum: int = 36_000) -> int | None:
    """Seconds the operator may hold the SMS before dropping it (Twilio: 1..36000)."""
    if expires_at is None:
        return None
    remaining = int((expires_at - now).total_seconds())
    return max(1, min(maximum, remaining))
