"""A seat kept for a resident whose stop was cancelled, offered in the cancellation SMS.

Why: a re-planned week (a bus broke down, a counsellor is ill) can leave a booked
resident without a stop. Telling them is not enough: many booked from a basic phone and
will not go looking for another time. So the free seat that best replaces the lost one
(the resident's commune first, then the communes nearby, the closest in time to the lost
appointment) is kept for them for ``settings.seat_hold_hours`` and offered in the
cancellation SMS. OUI, or the button on the cancelled booking's page (:func:`take_held_seat`),
books that very seat (:func:`booking.book` takes the holder's seat), NON lets it go; if they do not answer, it is free again when the hold expires,
without any job having to run (every seat count skips expired holds).

A hold's end is an event: let go before its time (:func:`release_hold`),
:class:`~mobile_services.domain.events.HeldSeatDeclined`; run out
(:func:`lapse`, noticed by the every-minute pass or whenever its seat is needed),
:class:`~mobile_services.domain.events.HoldExpired`. Both pass the seat on at once; a
resident who let the seat replacing their lost booking run out joins their commune's
waiting list and is told so (:func:`after_replacement_lapsed`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from config import Settings
from mobile_services.domain import commands, events
from mobile_services.domain.messages import Event
from mobile_services.service_layer.booking import (
    BookingConfirmation,
    FreeSlot,
    book,
    enqueue,
    free_slots,
    join_waitlist,
    live_seats,
    refused,
    renderer,
)
from mobile_services.service_layer.unit_of_work import UnitOfWork, record
from mobile_services.storage import tables as t
from notifications.ports import Clock

logger = logging.getLogger(__name__)

#: A seat further than this from the lost appointment does not replace it.
OFFER_WITHIN = timedelta(days=7)
#: A hold shorter than this (the slot is about to close for booking) is not worth offering.
MIN_HOLD = timedelta(hours=1)
#: How many free slots are weighed (own commune and nearby, soonest first).
_CANDIDATES = 200
#: A hold that ran out longer ago than this (found late, after downtime) is let go quietly:
#: the resident is no longer told nor put on a waiting list for it.
LAPSE_NOTICE_WINDOW = timedelta(days=1)


@dataclass(frozen=True, kw_only=True)
class HeldSeat:
    hold: t.SeatHold
    slot: FreeSlot


def hold_replacement(
    session: Session,
    *,
    resident: t.Resident,
    cancelled: t.Booking,
    commune_id: int,
    lost_start: datetime,
    now: datetime,
    settings: Settings,
) -> HeldSeat | None:
    """Keep the best free seat for ``resident`` in place of ``cancelled``, or None.

    None when nothing suitable is free within ``OFFER_WITHIN`` of ``lost_start`` or the
    resident cannot be reached by SMS; the caller then puts them on the waiting list.
    """
    if resident.opted_out or resident.unreachable or not resident.phone:
        return None
    found = best_seat(
        session, resident_id=resident.id, service_id=cancelled.service_id, commune_id=commune_id,  # type: ignore[arg-type]
        lost_start=lost_start, now=now, settings=settings,
    )  # fmt: skip
    if found is None:
        return None
    free, seat, expires_at = found
    hold = t.SeatHold(
        slot_id=free.slot_id,
        resident_id=resident.id,  # type: ignore[arg-type]
        service_id=cancelled.service_id,
        cancelled_booking_id=cancelled.id,  # type: ignore[arg-type]
        seat=seat,
        created_at=now,
        expires_at=expires_at,
    )
    session.add(hold)
    session.flush()
    logger.info("seat %s of slot %s held for resident %s until %s", seat, free.slot_id, resident.id, expires_at.isoformat())
    return HeldSeat(hold=hold, slot=free)


def best_seat(
    session: Session,
    *,
    resident_id: int,
    service_id: int | None,
    commune_id: int,
    lost_start: datetime,
    now: datetime,
    settings: Settings,
    prefer: tuple[int, datetime] | None = None,
) -> tuple[FreeSlot, int, datetime] | None:
    """(slot, seat number, hold expiry) of the best free seat to keep, the slot row locked.

    Best: the (commune, start) in ``prefer`` when it is free (the seat already offered, after
    a re-plan), then the resident's commune before the others, then the closest in time to
    ``lost_start``. The hold lasts ``seat_hold_hours``, never past the slot's booking cutoff.
    """
    booked_visits = set(
        session.exec(
            select(t.Booking.visit_id).where(
                t.Booking.resident_id == resident_id, col(t.Booking.status).in_(t.LIVE_BOOKING_STATUSES)
            )
        ).all()
    )
    candidates = [
        s
        for s in free_slots(
            session, commune_id=commune_id, now=now, settings=settings, service_id=service_id, limit=_CANDIDATES
        )
        if abs(s.start_at - lost_start) <= OFFER_WITHIN and s.visit_id not in booked_visits
    ]
    candidates.sort(
        key=lambda s: ((s.commune_id, s.start_at) != prefer, s.commune_id != commune_id, abs(s.start_at - lost_start), s.start_at)
    )
    for free in candidates:
        expires_at = min(
            now + timedelta(hours=settings.seat_hold_hours), free.start_at - timedelta(minutes=settings.booking_cutoff_minutes)
        )
        if expires_at - now < MIN_HOLD:
            continue
        slot = session.exec(select(t.Slot).where(t.Slot.id == free.slot_id).with_for_update()).one()
        lapse_all(session, now=now, slot_id=slot.id)  # their seat numbers may be kept again
        seats = sorted(set(range(1, slot.capacity + 1)) - live_seats(session, slot.id, now))  # type: ignore[arg-type]
        if seats:
            return free, seats[0], expires_at
    return None


def release_hold(session: Session, *, hold_id: int, now: datetime, reason: str = "said_no") -> bool:
    """The seat is let go before its time (see :class:`events.HeldSeatDeclined` for ``reason``).

    False when the hold was not open, or had already run out (then it lapses instead).
    """
    hold = session.exec(select(t.SeatHold).where(t.SeatHold.id == hold_id).with_for_update()).first()
    if hold is None or hold.status != "open":
        return False
    if hold.expires_at <= now:
        lapse(session, hold)
        return False
    hold.status = "declined"
    session.add(hold)
    session.flush()
    record(session, events.HeldSeatDeclined(hold_id=hold.id, slot_id=hold.slot_id, resident_id=hold.resident_id, reason=reason))  # type: ignore[arg-type]
    logger.info("hold %s let go (%s)", hold.id, reason)
    return True


def lapse(session: Session, hold: t.SeatHold) -> None:
    """An open hold whose time ran out becomes ``expired`` (its seat may be held again)."""
    hold.status = "expired"
    session.add(hold)
    session.flush()
    record(session, events.HoldExpired(hold_id=hold.id, slot_id=hold.slot_id, resident_id=hold.resident_id))  # type: ignore[arg-type]


def lapse_all(session: Session, *, now: datetime, slot_id: int | None = None) -> int:
    """Every open hold already run out (of one slot, or all) lapses; returns how many."""
    query = select(t.SeatHold).where(t.SeatHold.status == "open", t.SeatHold.expires_at <= now)
    if slot_id is not None:
        query = query.where(t.SeatHold.slot_id == slot_id)
    stale = list(session.exec(query.order_by(col(t.SeatHold.expires_at), col(t.SeatHold.id))).all())
    for hold in stale:
        lapse(session, hold)
    return len(stale)


def open_hold_for(session: Session, *, cancelled_booking_id: int, now: datetime) -> t.SeatHold | None:
    """The seat still held in place of this cancelled booking, if any."""
    return session.exec(
        select(t.SeatHold).where(
            t.SeatHold.cancelled_booking_id == cancelled_booking_id,
            t.SeatHold.status == "open",
            t.SeatHold.expires_at > now,
        )
    ).first()


def take_held_seat(
    session: Session, *, cancelled_booking_id: int, now: datetime, settings: Settings
) -> tuple[BookingConfirmation, list[Event]]:
    """Book the seat held in place of ``cancelled_booking_id`` (the page's answer to the offer)."""
    hold = open_hold_for(session, cancelled_booking_id=cancelled_booking_id, now=now)
    resident = session.get(t.Resident, hold.resident_id) if hold is not None else None
    if hold is None or resident is None or not resident.phone:
        raise refused("hold_lapsed", f"booking {cancelled_booking_id}")
    return book(
        session, phone=resident.phone, slot_id=hold.slot_id, service_id=hold.service_id, channel="web", now=now,
        settings=settings,
    )  # fmt: skip


def handle_take_held_seat(
    command: commands.TakeHeldSeat, *, uow: UnitOfWork, clock: Clock, settings: Settings
) -> BookingConfirmation:
    with uow:
        confirmation, produced = take_held_seat(
            uow.session, cancelled_booking_id=command.cancelled_booking_id, now=clock.now(), settings=settings
        )
        for event in produced:
            uow.emit(event)
        uow.commit()
        return confirmation


def after_replacement_lapsed(event: events.HoldExpired, *, uow: UnitOfWork, clock: Clock, settings: Settings) -> None:
    """The seat that replaced a lost booking ran out unanswered: the resident still needs a stop.

    They join the waiting list of the commune whose stop they lost (they hear of the next
    stop there, and the planner counts them) and are told so, once. Nothing for an offer to
    the waiting list (its request simply stays open), a resident who has booked since, or
    one no SMS can reach.
    """
    now = clock.now()
    with uow:
        session = uow.session
        hold = session.get(t.SeatHold, event.hold_id)
        if hold is None or hold.status != "expired" or hold.waitlist_entry_id is not None:
            return
        if now - hold.expires_at > LAPSE_NOTICE_WINDOW:
            logger.info("hold %s ran out long ago: let go quietly", hold.id)
            return
        resident = session.get(t.Resident, hold.resident_id)
        lost = session.get(t.Booking, hold.cancelled_booking_id)
        offered = session.get(t.Slot, hold.slot_id)
        if resident is None or lost is None or offered is None or not resident.phone:
            return
        if resident.opted_out or resident.unreachable:
            return
        upcoming = session.exec(
            select(t.Booking.id)
            .join(t.Slot, col(t.Slot.id) == t.Booking.slot_id)
            .where(
                t.Booking.resident_id == resident.id,
                col(t.Booking.status).in_(t.LIVE_BOOKING_STATUSES),
                t.Slot.start_at > now,
            )
        ).first()
        if upcoming is not None:
            return  # they found a seat by themselves meanwhile
        home = _commune_of_visit(session, lost.visit_id)
        where = _commune_of_visit(session, offered.visit_id)
        if home is None or where is None:
            return
        _, waitlisted = join_waitlist(session, phone=resident.phone, commune_id=home.id, service_id=hold.service_id, now=now)  # type: ignore[arg-type]
        for produced in waitlisted:
            uow.emit(produced)
        enqueue(
            session, resident=resident, kind="hold_expired",
            body=renderer(settings.timezone).render(
                "hold_expired", offer_start=offered.start_at, offer_commune=where.name,
            ),
            key=f"hold:{hold.id}:expired", due_at=now, now=now, booking_id=lost.id,
        )  # fmt: skip
        uow.commit()
    logger.info("hold %s ran out: resident %s waits for the next stop", event.hold_id, event.resident_id)


def _commune_of_visit(session: Session, visit_id: int) -> t.Commune | None:
    return session.exec(
        select(t.Commune)
        .join(t.Site, col(t.Site.commune_id) == t.Commune.id)
        .join(t.Visit, col(t.Visit.site_id) == t.Site.id)
        .where(t.Visit.id == visit_id)
    ).first()
