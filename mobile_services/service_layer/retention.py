"""Retention: residents inactive for ``retention_days`` are anonymised (DESIGN.md section 3).

A resident with a booking still to come is kept. Anonymising removes the phone number
(resident, outbox, inbound messages, conversation) and the texts that could identify
someone; bookings and counts stay, so the coordinator's statistics survive.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlmodel import col, delete, select

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
        uow.commit()
    logger.info("retention: %d residents anonymised", len(residents))
    return len(residents)
