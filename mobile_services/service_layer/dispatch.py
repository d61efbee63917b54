"""Outbox dispatch: send what is due, exactly once or visibly not at all.

DESIGN.md section 4. One run takes due rows **one at a time**:

1. **Attempt** in its own transaction, committed *before* the provider call: the
   next due ``pending`` row (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several
   dispatchers share the outbox; SQLite runs one writer at a time under
   ``BEGIN IMMEDIATE``) becomes ``sending`` with ``claimed_at`` = the attempt's time.
   Rows met on the way that are past their validity expire, quiet-hour reminders are
   postponed, rows of opted-out residents are withdrawn, and a late day-before
   reminder gives way to the two-hours-before one already due (one SMS, not two).
2. **Send** that row with the injected :class:`~notifications.ports.SmsSender`.
3. **Record** the outcome: SID -> ``sent``; permanent error -> ``failed`` and the
   resident flagged when the number is the problem; 429/5xx/connection refused ->
   ``pending`` again with exponential backoff; read timeout -> ``unknown``, never
   retried blindly (Twilio has no idempotency key).

No row is ever claimed without being attempted, so a process killed at any point
leaves at most one row uncertain: the one in flight, still ``sending``. Once older
than ``outbox_stale_after_seconds`` (longer than any provider call) it becomes
``unknown``, and reconciliation (:mod:`mobile_services.service_layer.reconciliation`)
asks the provider what became of it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from config import Settings
from mobile_services.domain import commands, events
from mobile_services.domain.phones import mask
from mobile_services.service_layer.booking import CREW_KINDS, REPLY_KINDS, messaging_rules
from mobile_services.service_layer.unit_of_work import UnitOfWork
from mobile_services.storage import tables as t
from notifications.ports import Clock, OutgoingSms, SendOutcome, SendResult, SmsSender
from scheduler.timing import MessagingRules, in_quiet_hours, next_allowed, validity_seconds

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
BASE_BACKOFF_S = 30
MAX_BACKOFF_S = 3600


@dataclass(kw_only=True)
class DispatchReport:
    """What one dispatch run did (printed by the CLI, logged by the scheduler)."""

    claimed: int = 0
    sent: int = 0
    failed: int = 0
    retried: int = 0
    unknown: int = 0
    expired: int = 0
    postponed: int = 0
    withdrawn: int = 0
    stale: int = 0
    outcomes: dict[int, str] = field(default_factory=dict)


def backoff(attempts: int, retry_after_s: float | None = None) -> timedelta:
    """Exponential backoff (30 s, 1 min, 2 min... capped at 1 h), never below Retry-After."""
    seconds = min(MAX_BACKOFF_S, BASE_BACKOFF_S * 2 ** max(0, attempts - 1))
    if retry_after_s is not None:
        seconds = max(seconds, int(retry_after_s))
    return timedelta(seconds=seconds)


def mark_stale_unknown(uow: UnitOfWork, now: datetime, settings: Settings, report: DispatchReport) -> int:
    """Rows left ``sending`` by a dispatcher that died mid-call become ``unknown``.

    ``sending`` is only ever set right before a provider call, so a row older than
    any call can take was in flight when its process died: the request may or may
    not have reached the provider, and only reconciliation can tell.
    """
    threshold = now - timedelta(seconds=settings.outbox_stale_after_seconds)
    with uow:
        stale = uow.session.exec(
            select(t.Message).where(t.Message.status == "sending", col(t.Message.claimed_at) < threshold)
        ).all()
        for message in stale:
            message.status = "unknown"
            message.error_code = "interrupted"
            uow.session.add(message)
            logger.warning("outbox %s was in flight when its dispatcher stopped: unknown until reconciled", message.id)
        uow.commit()
    report.stale += len(stale)
    return len(stale)


def claim_next(uow: UnitOfWork, now: datetime, settings: Settings, report: DispatchReport) -> t.Message | None:
    """Mark the next sendable due row ``sending`` (attempted) and commit; None when none is due.

    The commit happens before the provider call: a crash after it leaves this one row
    uncertain, never a batch.
    """
    rules = messaging_rules(settings)
    with uow:
        session = uow.session
        postgres = session.get_bind().dialect.name == "postgresql"
        while True:
            query = (
                select(t.Message)
                .where(t.Message.status == "pending", t.Message.due_at <= now)
                .order_by(col(t.Message.due_at), col(t.Message.id))
                .limit(1)
            )
            if postgres:
                query = query.with_for_update(skip_locked=True)
            message = session.exec(query).first()
            if message is None:
                uow.commit()
                return None
            if _triage(session, message, now, rules, report):
                message.status = "sending"
                message.claimed_at = now
                message.attempts += 1
                session.add(message)
                uow.commit()
                report.claimed += 1
                return message
            session.add(message)
            session.flush()


def _triage(session: Session, message: t.Message, now: datetime, rules: MessagingRules, report: DispatchReport) -> bool:
    """True when ``message`` is to be sent now; otherwise settle it (expire, withdraw, postpone)."""
    resident = session.get(t.Resident, message.resident_id) if message.resident_id else None
    if message.expires_at is not None and message.expires_at <= now:
        message.status = "expired"
        report.expired += 1
    elif resident is not None and resident.opted_out or message.recipient is None:
        message.status = "withdrawn"
        report.withdrawn += 1
    elif message.kind not in REPLY_KINDS | CREW_KINDS and in_quiet_hours(now, rules):
        message.due_at = next_allowed(now, rules)
        if message.expires_at is not None and message.due_at >= message.expires_at:
            message.status = "expired"
            report.expired += 1
        else:
            report.postponed += 1
    elif message.kind == "reminder_day_before" and _later_reminder_due(session, message, now):
        message.status = "expired"  # superseded: the two-hours-before reminder says the same, later
        report.expired += 1
    else:
        return True
    return False


def _later_reminder_due(session: Session, message: t.Message, now: datetime) -> bool:
    """True when this booking's two-hours-before reminder is due and still sendable too."""
    if message.booking_id is None:
        return False
    later = session.exec(
        select(t.Message.id).where(
            t.Message.booking_id == message.booking_id,
            t.Message.kind == "reminder_hours_before",
            t.Message.status == "pending",
            t.Message.due_at <= now,
            col(t.Message.expires_at).is_(None) | (col(t.Message.expires_at) > now),
        )
    ).first()
    return later is not None


def record_outcome(uow: UnitOfWork, message_id: int, result: SendResult, now: datetime, report: DispatchReport) -> None:
    with uow:
        session = uow.session
        message = session.get(t.Message, message_id)
        assert message is not None
        outcome = result.outcome
        if outcome is not SendOutcome.SENT and message.status not in ("sending", "unknown"):
            # Reconciliation settled it while the call hung: what it found stands.
            logger.warning("outbox %s already %s: late %s outcome ignored", message.id, message.status, outcome.value)
            return
        if outcome is SendOutcome.SENT:
            if message.provider_sid is None:
                message.provider_sid = result.provider_sid
            message.provider_status = message.provider_status or result.provider_status
            # "pending": reconciliation gave up on a call that outlived outbox_stale_after_seconds
            # and did find nothing yet; the provider has it after all, so it must not go again.
            if message.status in ("sending", "unknown", "pending"):
                message.status = "sent"
            message.sent_at = message.sent_at or now
            report.sent += 1
        elif outcome is SendOutcome.PERMANENT_ERROR:
            message.status = "failed"
            message.error_code = str(result.error_code) if result.error_code is not None else "permanent"
            report.failed += 1
            if result.recipient_unreachable and message.resident_id is not None:
                resident = session.get(t.Resident, message.resident_id)
                if resident is not None:
                    resident.unreachable = True
                    if result.error_code == 21610:
                        resident.opted_out = True
                    session.add(resident)
                    uow.emit(events.ResidentUnreachable(resident_id=resident.id, error_code=message.error_code))  # type: ignore[arg-type]
        elif outcome is SendOutcome.RETRYABLE:
            message.error_code = str(result.error_code or result.http_status or "retryable")
            if message.attempts >= MAX_ATTEMPTS:
                message.status = "failed"
                report.failed += 1
            else:
                message.status = "pending"
                message.due_at = now + backoff(message.attempts, result.retry_after_s)
                report.retried += 1
        else:
            message.status = "unknown"
            message.error_code = "timeout"
            report.unknown += 1
        report.outcomes[message_id] = message.status
        session.add(message)
        uow.commit()


def dispatch_due(
    uow: UnitOfWork, sender: SmsSender, now: datetime, settings: Settings, *, limit: int = 100
) -> DispatchReport:
    """One dispatch run (the scheduler calls it every ``dispatch_interval_seconds``)."""
    report = DispatchReport()
    mark_stale_unknown(uow, now, settings, report)
    for _ in range(limit):
        message = claim_next(uow, now, settings, report)
        if message is None:
            break
        send_one(uow, sender, message, now, report)
    return report


def send_one(uow: UnitOfWork, sender: SmsSender, message: t.Message, now: datetime, report: DispatchReport) -> None:
    """The provider call for one attempted row, then its outcome in its own transaction."""
    assert message.id is not None and message.recipient is not None
    sms = OutgoingSms(
        to=message.recipient,
        body=message.body,
        idempotency_key=message.idempotency_key,
        outbox_id=message.id,
        validity_period_s=validity_seconds(now, message.expires_at),
    )
    try:
        result = sender.send(sms)
    except Exception:  # noqa: BLE001 - the request may have left: never resend blindly
        logger.exception("sender crashed on outbox %s", message.id)
        result = SendResult.unknown("sender raised")
    logger.info("outbox %s (%s) to %s: %s", message.id, message.kind, mask(message.recipient), result.outcome.value)
    record_outcome(uow, message.id, result, now, report)


def dispatch_due_messages(
    command: commands.DispatchDueMessages, *, uow: UnitOfWork, sms: SmsSender, clock: Clock, settings: Settings
) -> DispatchReport:
    return dispatch_due(uow, sms, clock.now(), settings, limit=command.limit)
