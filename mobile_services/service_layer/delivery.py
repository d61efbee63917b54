"""What became of the SMS we sent: Twilio's status callbacks and reconciliation.

Two ways to learn a message's fate (DESIGN.md section 4):

- **Status callbacks**: Twilio POSTs to ``/sms/status?outbox_id=N``. One only moves
  a row that was sent, with the very SID it was sent with; anything else (a row
  never sent, another SID, an id we never issued) is refused and changes nothing,
  because a callback is only as trustworthy as the row it names.
- **Reconciliation** (a scheduler job): a row left ``unknown`` (read timeout, or a
  dispatcher killed mid-call) is looked up with the provider: by SID when one came
  back, else among the messages to that number with that body created since the
  attempt. Found: it was sent (status copied). Provably absent: it goes back to
  ``pending`` and is sent once. Anything inconclusive leaves it ``unknown``: a
  message is never resent blindly (Twilio has no idempotency key). Bodies are compared
  exactly: our templates are GSM-7 only, which Twilio's smart encoding leaves alone.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from config import Settings
from mobile_services.domain import commands, events
from mobile_services.domain.exceptions import NotFound, StatusCallbackRefused
from mobile_services.domain.messages import Event
from mobile_services.service_layer.unit_of_work import UnitOfWork
from mobile_services.storage import tables as t
from notifications.ports import RECIPIENT_ERROR_CODES, Clock, ProviderMessage, SentSmsLookup, SmsSender
from notifications.webhooks import is_forward

logger = logging.getLogger(__name__)

_PROVIDER_TO_OUTBOX = {
    "queued": "sent",
    "accepted": "sent",
    "scheduled": "sent",
    "sending": "sent",
    "sent": "sent",
    "delivered": "delivered",
    "undelivered": "undelivered",
    "failed": "failed",
    "canceled": "failed",
}
#: Outbox statuses a provider status may still move (a row that left with a SID).
_MOVABLE = ("sent", "delivered", "undelivered", "failed")
#: Attempts older than this before the attempt time are not candidates: allows for
#: clock skew between us and the provider.
CLOCK_SKEW = timedelta(minutes=2)


def record_status_callback(
    session: Session, *, outbox_id: int | None, message_sid: str, status: str, error_code: str | None, now: datetime
) -> list[Event]:
    """Apply a provider status callback: idempotent, forward-only, and only to a sent row.

    Raises :class:`NotFound` for an outbox id (or SID) we do not have and
    :class:`StatusCallbackRefused` for a row never sent or sent with another SID;
    nothing is changed then. A callback racing the dispatcher (before the SID is
    recorded) is refused too: later callbacks, or reconciliation, bring the news.
    """
    if outbox_id is not None:
        message = session.get(t.Message, outbox_id)
    else:
        message = session.exec(select(t.Message).where(t.Message.provider_sid == message_sid)).first()
    if message is None:
        raise NotFound(f"status callback for an unknown message (outbox id {outbox_id})")
    if message.provider_sid is None:
        raise StatusCallbackRefused(f"status callback for outbox {message.id}, which was never sent")
    if message.provider_sid != message_sid:
        raise StatusCallbackRefused(f"status callback sid mismatch for outbox {message.id}")
    return apply_provider_status(session, message, status, error_code, now)


def apply_provider_status(
    session: Session, message: t.Message, status: str, error_code: str | None, now: datetime
) -> list[Event]:
    """Move ``message`` to what the provider says, if that is progress; flag dead numbers."""
    status = status.lower()
    if message.provider_status is None or is_forward(message.provider_status, status):
        message.provider_status = status
        mapped = _PROVIDER_TO_OUTBOX.get(status)
        if mapped is not None and message.status in (*_MOVABLE, "unknown", "sending"):
            message.status = mapped
            message.sent_at = message.sent_at or now
    if error_code:
        message.error_code = error_code
    session.add(message)
    produced: list[Event] = []
    if error_code and error_code.isdigit() and int(error_code) in RECIPIENT_ERROR_CODES and message.resident_id:
        resident = session.get(t.Resident, message.resident_id)
        if resident is not None and not resident.unreachable:
            resident.unreachable = True
            if int(error_code) == 21610:
                resident.opted_out = True
            session.add(resident)
            produced.append(events.ResidentUnreachable(resident_id=resident.id, error_code=error_code))  # type: ignore[arg-type]
    session.flush()
    return produced


def record_delivery_status(command: commands.RecordDeliveryStatus, *, uow: UnitOfWork, clock: Clock) -> None:
    """Apply a Twilio status callback in one transaction (idempotent, forward-only)."""
    with uow:
        for event in record_status_callback(
            uow.session, outbox_id=command.outbox_id, message_sid=command.message_sid,
            status=command.status, error_code=command.error_code, now=clock.now(),
        ):
            uow.emit(event)
        uow.commit()


# --------------------------------------------------------------------------- reconciliation


@dataclass(kw_only=True)
class ReconciliationReport:
    """What one reconciliation run settled (logged by the scheduler)."""

    looked_up: int = 0
    sent: int = 0
    not_sent: int = 0
    undecided: int = 0
    outcomes: dict[int, str] = field(default_factory=dict)


def reconcile_unknown_messages(
    command: commands.ReconcileUnknownMessages, *, uow: UnitOfWork, sms: SmsSender, clock: Clock, settings: Settings
) -> ReconciliationReport:
    """Settle ``unknown`` rows at least ``outbox_stale_after_seconds`` old with the provider."""
    report = ReconciliationReport()
    if not isinstance(sms, SentSmsLookup):
        logger.debug("reconciliation: the SMS backend cannot look messages up")
        return report
    now = clock.now()
    threshold = now - timedelta(seconds=settings.outbox_stale_after_seconds)
    with uow:
        # Newest first, and only rows that can be looked up: an anonymised row without a
        # SID stays unknown for good and must not hold the queue back.
        candidates = uow.session.exec(
            select(t.Message.id)
            .where(
                t.Message.status == "unknown",
                col(t.Message.claimed_at) < threshold,
                col(t.Message.provider_sid).is_not(None) | col(t.Message.recipient).is_not(None),
            )
            .order_by(col(t.Message.claimed_at).desc(), col(t.Message.id).desc())
            .limit(command.limit)
        ).all()
    for message_id in candidates:
        assert message_id is not None
        report.looked_up += 1
        try:
            _reconcile_one(uow, sms, message_id, now, report)
        except Exception:  # noqa: BLE001 - provider unreachable: stays unknown, next run tries again
            logger.warning("reconciliation of outbox %s failed; kept unknown", message_id, exc_info=True)
            report.undecided += 1
    if report.looked_up:
        logger.info(
            "reconciliation: %d looked up, %d were sent, %d back to pending, %d undecided",
            report.looked_up, report.sent, report.not_sent, report.undecided,
        )
    return report


def _reconcile_one(uow: UnitOfWork, lookup: SentSmsLookup, message_id: int, now: datetime, report: ReconciliationReport) -> None:
    with uow:
        message = uow.session.get(t.Message, message_id)
        assert message is not None
        recipient, body, sid, attempted = message.recipient, message.body, message.provider_sid, message.claimed_at
    found: ProviderMessage | None
    if sid is not None:
        found = lookup.fetch(sid)
        if found is None:
            logger.warning("reconciliation: outbox %s has a SID the provider does not know; kept unknown", message_id)
            report.undecided += 1
            return
    else:
        if recipient is None or attempted is None:
            report.undecided += 1
            return
        matches = lookup.find(to=recipient, body=body, created_after=attempted - CLOCK_SKEW)
        if matches is None:
            report.undecided += 1
            return
        with uow:
            taken = set(
                uow.session.exec(
                    select(t.Message.provider_sid).where(col(t.Message.provider_sid).in_([m.sid for m in matches]))
                ).all()
            )
        free = [m for m in matches if m.sid not in taken]
        found = free[-1] if free else None  # the oldest unclaimed one: our attempt came first
    with uow:
        session = uow.session
        message = session.get(t.Message, message_id)
        assert message is not None
        if message.status != "unknown":  # settled meanwhile (late outcome): what it says stands
            return
        if found is None:
            message.status = "pending"
            message.due_at = now
            message.error_code = None
            session.add(message)
            report.not_sent += 1
            logger.info("reconciliation: outbox %s never reached the provider; back to pending", message_id)
        else:
            message.provider_sid = found.sid
            message.status = "sent"
            message.provider_status = None
            message.error_code = None
            error = str(found.error_code) if found.error_code is not None else None
            for event in apply_provider_status(session, message, found.status, error, now):
                uow.emit(event)
            report.sent += 1
            logger.info("reconciliation: outbox %s had reached the provider (%s)", message_id, found.status)
        report.outcomes[message_id] = message.status
        uow.commit()
