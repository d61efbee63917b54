"""What to do with a due outbox row before anyone sends it: send, expire, withdraw, postpone.

Pure: the dispatcher reads a whole claimed batch and the two facts triage needs about
it (which residents opted out, which bookings already have their two-hours-before
reminder due) in one query each, then asks :func:`triage` row by row. Deciding in
memory for a batch, rather than loading each row's resident and sibling reminder one
query at a time, is what keeps the per-message cost of dispatch low.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from mobile_services.service_layer.booking import CREW_KINDS, REPLY_KINDS
from scheduler.timing import MessagingRules, in_quiet_hours, next_allowed

#: Replies and staff messages go at any hour: the person is waiting for them.
ANY_HOUR_KINDS = REPLY_KINDS | CREW_KINDS


class Verdict(enum.Enum):
    SEND = "send"
    EXPIRE = "expire"
    """Past its validity, or a day-before reminder superseded by the later one already due."""
    WITHDRAW = "withdraw"
    """The resident opted out, or the row was anonymised (no recipient)."""
    POSTPONE = "postpone"
    """Quiet hours: due again at their end (``Decision.due_at``)."""


@dataclass(frozen=True, slots=True)
class DueRow:
    """The columns of a due outbox row that dispatch needs, read in the claim statement."""

    id: int
    recipient: str | None
    resident_id: int | None
    booking_id: int | None
    kind: str
    body: str
    idempotency_key: str
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class Decision:
    verdict: Verdict
    due_at: datetime | None = None


_SEND = Decision(Verdict.SEND)
_EXPIRE = Decision(Verdict.EXPIRE)
_WITHDRAW = Decision(Verdict.WITHDRAW)


def triage(
    row: DueRow, now: datetime, rules: MessagingRules, *, opted_out: bool, later_reminder_due: bool
) -> Decision:
    """The rules in the order they always applied: validity, consent, quiet hours, supersession.

    ``later_reminder_due``: this row's booking has a two-hours-before reminder that is
    pending, due and still valid; a day-before reminder then gives way (one SMS, not two).
    """
    if row.expires_at is not None and row.expires_at <= now:
        return _EXPIRE
    if opted_out or row.recipient is None:
        return _WITHDRAW
    if row.kind not in ANY_HOUR_KINDS and in_quiet_hours(now, rules):
        due_at = next_allowed(now, rules)
        if row.expires_at is not None and due_at >= row.expires_at:
            return _EXPIRE
        return Decision(Verdict.POSTPONE, due_at)
    if row.kind == "reminder_day_before" and later_reminder_due:
        return _EXPIRE
    return _SEND
