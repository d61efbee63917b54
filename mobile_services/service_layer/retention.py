"""Retention: nothing personal outlives ``retention_days`` (DESIGN.md section 3).

- Residents inactive that long are anonymised, unless a booking of theirs is still to
  come: the phone number goes (resident, outbox, inbound messages, conversation), and
  the texts that could identify someone; bookings and counts stay, so the
  coordinator's statistics survive.
- Traces of anyone else age out the same way, resident or not: numbers that texted
  but never booked have no resident row, only inbound messages and a dialogue state.
  Inbound messages, outbox rows and dialogue states older than the period lose their
  number and text whoever they belong to (the MessageSid stays: it only deduplicates).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlmodel import Session, col, delete, select

from mobile_services.domain import commands
from mobile_services.service_layer.unit_of_work import UnitOfWork
from mobile_services.storage import tables as t
from notifications.ports import Clock

logger = logging.getLogger(__name__)

ERASED = "[effacé]"
WEB_CODE_RETENTION = timedelta(days=1)


def anonymise_inactive_residents(command: commands.AnonymiseInactiveResidents, *, uow: UnitOfWork, clock: Clock) -> int:
    now = clock.now()
    threshold = now - timedelta(days=command.older_than_days)
    with uow:
        session = uow.session
        upcoming = (
            select(t.Booking.resident_id)
            .join(t.Slot, col(t.Slot.id) == t.Booking.slot_id)
            .where(col(t.Booking.status).in_(t.LIVE_BOOKING_STATUSES), t.Slot.end_at > now)
        )
        residents = session.exec(
            select(t.Resident).where(
                col(t.Resident.phone).is_not(None),
                col(t.Resident.id).not_in(upcoming),
                (col(t.Resident.last_seen_at) < threshold)
                | (col(t.Resident.last_seen_at).is_(None) & (col(t.Resident.created_at) < threshold)),
            )
        ).all()
        for resident in residents:
            phone = resident.phone
            for message in session.exec(select(t.Message).where(t.Message.resident_id == resident.id)):
                message.recipient = None
                message.body = ERASED
                if message.status == "pending":
                    message.status = "withdrawn"
                session.add(message)
            for inbound in session.exec(select(t.InboundMessage).where(t.InboundMessage.from_phone == phone)):
                inbound.from_phone = None
                inbound.body = ERASED
                inbound.reply = None
                session.add(inbound)
            session.exec(delete(t.Conversation).where(col(t.Conversation.phone) == phone))  # type: ignore[call-overload]
            for entry in session.exec(select(t.WaitlistEntry).where(t.WaitlistEntry.resident_id == resident.id)):
                entry.status = "expired"
                session.add(entry)
            resident.phone = None
            resident.anonymised_at = now
            session.add(resident)
        # One-time codes serve for minutes: their numbers and SMS go after a day.
        stale = now - WEB_CODE_RETENTION
        for code in session.exec(select(t.WebCode).where(col(t.WebCode.phone).is_not(None), t.WebCode.created_at < stale)):
            code.phone = None
            session.add(code)
        for message in session.exec(
            select(t.Message).where(t.Message.kind == "login_code", col(t.Message.recipient).is_not(None), t.Message.created_at < stale)
        ):
            message.recipient = None
            message.body = ERASED
            session.add(message)
        traces = _forget_old_traces(session, threshold)
        uow.commit()
    logger.info("retention: %d residents anonymised, %d older messages and dialogues erased", len(residents), traces)
    return len(residents)


def _forget_old_traces(session: Session, threshold: datetime) -> int:
    """Erase numbers and texts older than ``threshold`` that no resident row points to."""
    erased = 0
    for inbound in session.exec(
        select(t.InboundMessage).where(
            t.InboundMessage.received_at < threshold,
            col(t.InboundMessage.from_phone).is_not(None) | (t.InboundMessage.body != ERASED),
        )
    ):
        inbound.from_phone = None
        inbound.body = ERASED
        inbound.reply = None
        session.add(inbound)
        erased += 1
    for message in session.exec(
        select(t.Message).where(t.Message.created_at < threshold, col(t.Message.recipient).is_not(None))
    ):
        message.recipient = None
        message.body = ERASED
        if message.status == "pending":
            message.status = "withdrawn"
        session.add(message)
        erased += 1
    result = session.exec(delete(t.Conversation).where(col(t.Conversation.updated_at) < threshold))  # type: ignore[call-overload]
    return erased + int(result.rowcount or 0)
