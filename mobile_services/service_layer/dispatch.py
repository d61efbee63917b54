"""Outbox dispatch: send what is due, exactly once or visibly not at all.

DESIGN.md section 4. One run:

1. **Claim** in its own transaction, committed *before* any provider call: due
   ``pending`` rows become ``sending`` (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so
   several dispatchers share the outbox; SQLite runs one writer at a time under
   ``BEGIN IMMEDIATE``). Rows past their validity expire; reminders due in quiet hours
   are postponed; rows of opted-out residents are withdrawn.
2. **Send** each claimed row with the injected :class:`~notifications.ports.SmsSender`.
3. **Record** the outcome: SID -> ``sent``; permanent error -> ``failed`` and the
   resident flagged when the number is the problem; 429/5xx/connection refused ->
   ``pending`` again with exponential backoff; read timeout -> ``unknown``, never
   retried (Twilio has no idempotency key), reconciled by the status callback.

A crash between 1 and 3 leaves the row ``sending``; the next run turns rows stuck
there into ``unknown``. They are never sent again automatically, so a crash can lose
a message (visible in ``mobile-services sms outbox``) but never send one twice.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlmodel import col, select

from config import Settings
from mobile_services.domain import commands, events
from mobile_services.domain.phones import mask
from mobile_services.service_layer.booking import CREW_KINDS, REPLY_KINDS, messaging_rules
from mobile_services.service_layer.unit_of_work import UnitOfWork
from mobile_services.storage import tables as t
from notifications.ports import Clock, OutgoingSms, SendOutcome, SendResult, SmsSender
from scheduler.timing import in_quiet_hours, next_allowed, validity_seconds

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
BASE_BACKOFF_S = 30
MAX_BACKOFF_S = 3600
STALE_SENDING_AFTER = timedelta(minutes=10)


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


def claim_due(uow: UnitOfWork, now: datetime, settings: Settings, limit: int, report: DispatchReport) -> list[t.Message]:
    """Mark due rows ``sending`` and commit; return them (detached) for sending."""
    rules = messaging_rules(settings)
    with uow:
        session = uow.session
        for stuck in session.exec(
            select(t.Message).where(t.Message.status == "sending", col(t.Message.claimed_at) < now - STALE_SENDING_AFTER)
        ):
            stuck.status = "unknown"
            session.add(stuck)
            report.stale += 1
            logger.warning("outbox %s stuck in sending: marked unknown, will not be resent", stuck.id)
        query = (
            select(t.Message)
            .where(t.Message.status == "pending", t.Message.due_at <= now)
            .order_by(col(t.Message.due_at), col(t.Message.id))
            .limit(limit)
        )
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        claimed: list[t.Message] = []
        for message in session.exec(query).all():
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
            else:
                message.status = "sending"
                message.claimed_at = now
                message.attempts += 1
                claimed.append(message)
            session.add(message)
        uow.commit()
    report.claimed = len(claimed)
    return claimed


def record_outcome(uow: UnitOfWork, message_id: int, result: SendResult, now: datetime, report: DispatchReport) -> None:
    with uow:
        session = uow.session
        message = session.get(t.Message, message_id)
        assert message is not None
        outcome = result.outcome
        if outcome is SendOutcome.SENT:
            if message.provider_sid is None:
                message.provider_sid = result.provider_sid
            message.provider_status = message.provider_status or result.provider_status
            if message.status in ("sending", "unknown"):  # a fast callback may already have moved it on
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
    for message in claim_due(uow, now, settings, limit, report):
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
    return report


def dispatch_due_messages(
    command: commands.DispatchDueMessages, *, uow: UnitOfWork, sms: SmsSender, clock: Clock, settings: Settings
) -> DispatchReport:
    return dispatch_due(uow, sms, clock.now(), settings, limit=command.limit)
