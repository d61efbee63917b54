"""What happened at a stop, as the counsellor records it on their page.

Bookings become ``attended`` or ``no_show`` (a mistake can be corrected either way); the
residents seen without a booking are counted per stop (``visit.walk_ins``). Walk-ins feed
the demand model: each commune and day gets one ``walk_in`` demand signal weighing the
walk-ins of its stops that day, which the planner counts like any other signal.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlmodel import Session, col, select

from mobile_services.domain import commands
from mobile_services.domain.exceptions import BookingRefused, NotFound
from mobile_services.service_layer.unit_of_work import UnitOfWork
from mobile_services.storage import tables as t
from notifications.ports import Clock

logger = logging.getLogger(__name__)

__all__ = ["MAX_WALK_INS", "record_attendance", "record_walk_ins"]

#: More than this at one stop is a typing mistake, not a day's work.
MAX_WALK_INS = 200
_MARKABLE = ("confirmed", "attended", "no_show")
#: A counsellor may mark a booking from a little before its slot (the resident came early).
_EARLY = timedelta(minutes=30)


def _own_visit(session: Session, counsellor_id: int, visit_id: int) -> t.Visit:
    """The visit, if the counsellor is in its crew and its plan is the published one."""
    visit = session.get(t.Visit, visit_id)
    plan = session.get(t.Plan, visit.plan_id) if visit is not None else None
    if visit is None or plan is None or plan.status != "published" or counsellor_id not in visit.crew:
        raise NotFound(f"visit {visit_id} is not one of counsellor {counsellor_id}'s", "Passage introuvable.")
    return visit


def record_attendance(command: commands.RecordAttendance, *, uow: UnitOfWork, clock: Clock) -> str:
    with uow:
        session = uow.session
        booking = session.exec(select(t.Booking).where(t.Booking.id == command.booking_id).with_for_update()).first()
        if booking is None:
            raise NotFound(f"booking {command.booking_id} not found", "Rendez-vous introuvable.")
        _own_visit(session, command.counsellor_id, booking.visit_id)
        if booking.status not in _MARKABLE:
            raise BookingRefused(f"booking {booking.id} is {booking.status}", "Ce rendez-vous a été annulé.")
        slot = session.get(t.Slot, booking.slot_id)
        if slot is None or slot.start_at > clock.now() + _EARLY:
            raise BookingRefused(f"booking {booking.id} has not started", "Ce rendez-vous n'a pas encore commencé.")
        booking.status = "attended" if command.attended else "no_show"
        session.add(booking)
        uow.commit()
        logger.info("booking %s marked %s", booking.id, booking.status)
        return booking.status


def record_walk_ins(command: commands.RecordWalkIns, *, uow: UnitOfWork, clock: Clock) -> int:
    if not 0 <= command.count <= MAX_WALK_INS:
        raise BookingRefused(f"walk-in count {command.count}", f"Indiquez un nombre entre 0 et {MAX_WALK_INS}.")
    with uow:
        session = uow.session
        visit = _own_visit(session, command.counsellor_id, command.visit_id)
        visit.walk_ins = command.count
        session.add(visit)
        session.flush()
        site = session.get(t.Site, visit.site_id)
        assert site is not None
        same_day = session.exec(
            select(t.Visit.walk_ins)
            .join(t.Site, col(t.Site.id) == t.Visit.site_id)
            .join(t.Plan, col(t.Plan.id) == t.Visit.plan_id)
            .where(t.Site.commune_id == site.commune_id, t.Visit.day == visit.day, t.Plan.status == "published")
        ).all()
        total = sum(count or 0 for count in same_day)
        signal = session.exec(
            select(t.DemandSignal).where(
                t.DemandSignal.commune_id == site.commune_id,
                t.DemandSignal.source == "walk_in",
                t.DemandSignal.observed_on == visit.day,
            )
        ).first()
        if signal is None:
            signal = t.DemandSignal(commune_id=site.commune_id, source="walk_in", weight=total, observed_on=visit.day)
        signal.weight = float(total)
        session.add(signal)
        uow.commit()
        logger.info("visit %s: %s walk-ins recorded", visit.id, command.count)
        return command.count
