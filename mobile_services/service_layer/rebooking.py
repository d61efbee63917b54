"""When a new plan replaces a published one, bookings follow their stops.

A booking stays with a stop of the same site (same day preferred), else of the same
commune, the nearest in time. Within each new stop, CP-SAT (``routing.slots``) keeps
as many bookings as possible and moves them as little as possible; residents whose
time changed get a ``stop_moved`` SMS and fresh reminders, those who could not be kept
get ``stop_cancelled``. That SMS offers the best free seat nearby, kept for them
(:mod:`~mobile_services.service_layer.holds`; OUI books it); with none to offer, they join
the commune's waiting list, so they hear of the next stop. Every booking either keeps a
seat or is told: nobody turns up to an empty square. Seats still held from an earlier
re-plan follow too (:func:`carry_holds`).

All of that is the publication's own transaction (its preview measures it). What else
still points at the superseded version is re-pointed once it is committed, on
:class:`~events.PlanSuperseded` (:func:`follow_new_version`).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime

from sqlmodel import Session, col, select

from config import Settings
from mobile_services.conversation import await_hold_answer, drop_hold_answer, follow_hold, repoint_offers
from mobile_services.domain import events
from mobile_services.domain.messages import Event
from mobile_services.service_layer.booking import enqueue, join_waitlist, queue_reminders, renderer, withdraw_pending
from mobile_services.service_layer.holds import HeldSeat, best_seat, hold_replacement, lapse
from mobile_services.service_layer.unit_of_work import UnitOfWork
from mobile_services.storage import tables as t
from notifications.ports import Clock
from routing.slots import Booking as RoutingBooking
from routing.slots import Slot as RoutingSlot
from routing.slots import reassign_bookings

logger = logging.getLogger(__name__)

#: Bookings never move by more than this (a booking moved to another week is lost instead).
MAX_SHIFT_MIN = 4 * 24 * 60


def _minutes(moment: datetime) -> int:
    return int(moment.timestamp() // 60)


def carry_bookings(session: Session, previous: t.Plan, new: t.Plan, now: datetime, settings: Settings) -> list[Event]:
    old_rows = session.exec(
        select(t.Booking, t.Slot, t.Visit, t.Site)
        .join(t.Slot, col(t.Slot.id) == t.Booking.slot_id)
        .join(t.Visit, col(t.Visit.id) == t.Booking.visit_id)
        .join(t.Site, col(t.Site.id) == t.Visit.site_id)
        .where(
            t.Visit.plan_id == previous.id,
            col(t.Booking.status).in_(t.LIVE_BOOKING_STATUSES),
            t.Slot.start_at > now,
        )
    ).all()
    if not old_rows:
        return []
    new_visits = session.exec(
        select(t.Visit, t.Site)
        .join(t.Site, col(t.Site.id) == t.Visit.site_id)
        .where(t.Visit.plan_id == new.id, t.Visit.status == "planned", t.Visit.start_at > now)
    ).all()
    skills = {s.id: s.required_skill for s in session.exec(select(t.Service))}

    def target(old_visit: t.Visit, old_site: t.Site) -> t.Visit | None:
        same_site = [v for v, s in new_visits if s.id == old_site.id]
        same_commune = [v for v, s in new_visits if s.commune_id == old_site.commune_id]
        pool = same_site or same_commune
        if not pool:
            return None
        return min(pool, key=lambda v: abs((v.start_at - old_visit.start_at).total_seconds()))

    groups: dict[int, list[tuple[t.Booking, t.Slot, t.Visit, t.Site]]] = defaultdict(list)
    lost: list[tuple[t.Booking, t.Slot, t.Visit, t.Site]] = []
    for row in old_rows:
        new_visit = target(row[2], row[3])
        if new_visit is None:
            lost.append(row)
        else:
            groups[new_visit.id].append(row)  # type: ignore[index]

    produced: list[Event] = []
    render = renderer(settings.timezone).render
    visits_by_id = {v.id: (v, s) for v, s in new_visits}
    for visit_id, rows in groups.items():
        visit, site = visits_by_id[visit_id]
        commune = session.get(t.Commune, site.commune_id)
        assert commune is not None
        slots = session.exec(select(t.Slot).where(t.Slot.visit_id == visit_id).order_by(col(t.Slot.start_at))).all()
        routing_slots = [
            RoutingSlot(
                start=_minutes(s.start_at), end=_minutes(s.end_at),
                service_code=str(s.service_id) if s.service_id is not None else "rdv",
                capacity=s.capacity, walk_in=s.walk_in, desk=s.desk,
            )
            for s in slots
        ]
        seen_residents: set[int] = set()
        candidates = []
        for booking, slot, _, _ in rows:
            if booking.resident_id in seen_residents:
                lost.append((booking, slot, visit, site))  # one booking per resident per stop
                continue
            seen_residents.add(booking.resident_id)
            candidates.append((booking, slot))
        outcome = reassign_bookings(
            [
                RoutingBooking(
                    id=booking.id,  # type: ignore[arg-type]
                    service_code=str(slot.service_id) if slot.service_id is not None else "rdv",
                    start=_minutes(slot.start_at),
                    skill=skills.get(booking.service_id) if booking.service_id else None,
                )
                for booking, slot in candidates
            ],
            routing_slots,
            max_shift_min=MAX_SHIFT_MIN,
        )
        by_id = {booking.id: (booking, slot) for booking, slot in candidates}
        booking_site_id = {booking.id: old_site.id for booking, _, _, old_site in rows}
        seats: dict[int, int] = defaultdict(int)
        for kept in outcome.kept:
            booking, old_slot = by_id[kept.booking_id]
            new_slot = slots[kept.slot_index]
            seats[new_slot.id] += 1  # type: ignore[index]
            booking.slot_id, booking.visit_id, booking.seat = new_slot.id, visit_id, seats[new_slot.id]  # type: ignore[assignment,index]
            session.add(booking)
            resident = session.get(t.Resident, booking.resident_id)
            assert resident is not None
            # a new time, or a new place at the same time (the site has no stop left, another
            # site of the commune has): either way the resident is told and reminded anew
            if new_slot.start_at != old_slot.start_at or visit.site_id != booking_site_id[booking.id]:
                booking.ical_sequence += 1  # the calendar event changed: SEQUENCE goes up
                booking.changed_at = now
                session.add(booking)
                withdraw_pending(session, booking_id=booking.id)
                enqueue(
                    session, resident=resident, kind="stop_moved",
                    body=render("stop_moved", commune=commune.name, start=new_slot.start_at, site=site.name),
                    key=f"booking:{booking.id}:moved:{new_slot.id}", due_at=now, now=now, expires_at=new_slot.start_at,
                    booking_id=booking.id,
                )
                queue_reminders(
                    session, booking=booking, resident=resident, slot=new_slot, site=site, commune=commune,
                    now=now, settings=settings,
                )
        for booking_id in outcome.lost:
            booking, slot = by_id[booking_id]
            lost.append((booking, slot, visit, site))

    # One offer per resident: a single OUI must say which seat it takes (a seat still held
    # from an earlier re-plan counts; carry_holds moves it).
    held_for: set[int] = set(
        session.exec(select(t.SeatHold.resident_id).where(t.SeatHold.status == "open", t.SeatHold.expires_at > now)).all()
    )
    for booking, slot, old_visit, old_site in lost:
        commune = session.get(t.Commune, old_site.commune_id)
        resident = session.get(t.Resident, booking.resident_id)
        assert commune is not None and resident is not None
        booking.status = "cancelled"
        booking.cancelled_at = booking.changed_at = now
        session.add(booking)
        withdraw_pending(session, booking_id=booking.id)
        held = None
        if resident.id not in held_for:
            held = hold_replacement(
                session, resident=resident, cancelled=booking, commune_id=commune.id, lost_start=slot.start_at,  # type: ignore[arg-type]
                now=now, settings=settings,
            )
        if held is not None:
            held_for.add(resident.id)  # type: ignore[arg-type]
        offer = (
            {"offer_start": held.slot.start_at, "offer_commune": held.slot.commune_name, "hold_until": held.hold.expires_at}
            if held is not None
            else {}
        )
        enqueue(
            session, resident=resident, kind="stop_cancelled",
            body=render("stop_cancelled", old_start=slot.start_at, commune=commune.name, **offer),
            key=f"booking:{booking.id}:stop_cancelled", due_at=now, now=now, booking_id=booking.id,
        )
        if held is not None and resident.phone:
            await_hold_answer(
                session, phone=resident.phone, held=held, commune_id=commune.id, commune_name=commune.name, now=now  # type: ignore[arg-type]
            )
        elif resident.phone:
            _, waitlisted = join_waitlist(session, phone=resident.phone, commune_id=commune.id, service_id=booking.service_id, now=now)  # type: ignore[arg-type]
            produced.extend(waitlisted)
        produced.append(
            events.BookingCancelled(
                booking_id=booking.id, slot_id=booking.slot_id, visit_id=old_visit.id,  # type: ignore[arg-type]
                resident_id=resident.id, reason="stop_cancelled",  # type: ignore[arg-type]
            )
        )
    session.flush()
    logger.info("plan %s replaced %s: %d bookings lost", new.id, previous.id, len(lost))
    return produced


def carry_holds(session: Session, previous: t.Plan, new: t.Plan, now: datetime, settings: Settings) -> list[Event]:
    """Open holds on the slots of a superseded plan follow to the new one.

    Why: a second re-plan of the week (another breakdown) replaces every slot, held ones
    included; without this, the resident would answer OUI to a seat that no longer exists.
    The same time in the same commune is kept when the new plan still has a free seat
    there, silently (the offer the resident read is unchanged, deadline included);
    otherwise the best seat as for a new offer is held and the resident is told of the
    change; with none, the offer is withdrawn, they are told, and they join their commune's
    waiting list. Bookings are carried first (:func:`carry_bookings`): a confirmed booking
    outranks an offer not yet accepted. A resident who has since opted out or cannot be
    reached loses the hold without a message.
    """
    rows = session.exec(
        select(t.SeatHold, t.Slot, t.Site)
        .join(t.Slot, col(t.Slot.id) == t.SeatHold.slot_id)
        .join(t.Visit, col(t.Visit.id) == t.Slot.visit_id)
        .join(t.Site, col(t.Site.id) == t.Visit.site_id)
        .where(t.Visit.plan_id == previous.id, t.SeatHold.status == "open", t.SeatHold.expires_at > now)
        .order_by(col(t.SeatHold.created_at), col(t.SeatHold.id))
    ).all()
    produced: list[Event] = []
    render = renderer(settings.timezone).render
    for hold, old_slot, old_site in rows:
        resident = session.get(t.Resident, hold.resident_id)
        cancelled = session.get(t.Booking, hold.cancelled_booking_id)
        lost_slot = session.get(t.Slot, cancelled.slot_id) if cancelled is not None else None
        home = _commune_of_slot(session, lost_slot.id) if lost_slot is not None else None  # type: ignore[arg-type]
        offered = session.get(t.Commune, old_site.commune_id)
        assert resident is not None and cancelled is not None and lost_slot is not None and home is not None
        assert offered is not None
        home_name = session.get(t.Commune, home).name  # type: ignore[union-attr]
        reachable = not (resident.opted_out or resident.unreachable or not resident.phone)
        found = best_seat(
            session, resident_id=resident.id, service_id=hold.service_id, commune_id=home,  # type: ignore[arg-type]
            lost_start=lost_slot.start_at, now=now, settings=settings, prefer=(offered.id, old_slot.start_at),  # type: ignore[arg-type]
        ) if reachable else None  # fmt: skip
        if found is not None:
            free, seat, expires_at = found
            unchanged = (free.commune_id, free.start_at) == (offered.id, old_slot.start_at)
            if unchanged:
                expires_at = min(expires_at, hold.expires_at)  # the deadline the resident was given
            hold.slot_id, hold.seat, hold.expires_at = free.slot_id, seat, expires_at
            session.add(hold)
            session.flush()
            logger.info("hold %s carried to slot %s seat %s (offer %s)", hold.id, free.slot_id, seat, "kept" if unchanged else "changed")
            if not unchanged:
                enqueue(
                    session, resident=resident, kind="hold_moved",
                    body=render("hold_moved", offer_start=free.start_at, offer_commune=free.commune_name, hold_until=expires_at),
                    key=f"hold:{hold.id}:moved:{free.slot_id}", due_at=now, now=now, expires_at=expires_at,
                    booking_id=cancelled.id,
                )  # fmt: skip
            follow_hold(
                session, phone=resident.phone, held=HeldSeat(hold=hold, slot=free), told=not unchanged,  # type: ignore[arg-type]
                commune_id=home, commune_name=home_name, now=now,
            )  # fmt: skip
            continue
        hold.status = "withdrawn"
        session.add(hold)
        logger.info("hold %s withdrawn: the new plan %s has no seat to keep for resident %s", hold.id, new.id, resident.id)
        enqueue(
            session, resident=resident, kind="hold_withdrawn",
            body=render("hold_withdrawn", offer_start=old_slot.start_at, offer_commune=offered.name),
            key=f"hold:{hold.id}:withdrawn", due_at=now, now=now, booking_id=cancelled.id,
        )  # fmt: skip
        if reachable:
            drop_hold_answer(session, phone=resident.phone, hold_id=hold.id, now=now)  # type: ignore[arg-type]
            _, waitlisted = join_waitlist(session, phone=resident.phone, commune_id=home, service_id=hold.service_id, now=now)  # type: ignore[arg-type]
            produced.extend(waitlisted)
    session.flush()
    return produced


def follow_new_version(event: events.PlanSuperseded, *, uow: UnitOfWork, clock: Clock) -> None:
    """What still points at the superseded version follows the new one, or lets go.

    - A dialogue that offered the old version's slots offers the same times of the new one
      (:func:`conversation.repoint_offers`): the resident's "1" still books what they read.
    - A hold left open on the old version's slots past its time (the publication carries
      only live ones) lapses now, with its consequences (:class:`events.HoldExpired`),
      rather than at the next pass.

    Idempotent: a second run finds nothing left to move on the old version.
    """
    now = clock.now()
    with uow:
        session = uow.session
        old_slots = session.exec(
            select(t.Slot, t.Visit.site_id)
            .join(t.Visit, col(t.Visit.id) == t.Slot.visit_id)
            .where(t.Visit.plan_id == event.plan_id, t.Slot.walk_in == False)  # noqa: E712
        ).all()
        new_slots: dict[tuple[int, datetime, int | None], list[t.Slot]] = defaultdict(list)
        for slot, site_id in session.exec(
            select(t.Slot, t.Visit.site_id)
            .join(t.Visit, col(t.Visit.id) == t.Slot.visit_id)
            .where(t.Visit.plan_id == event.by_plan_id, t.Visit.status == "planned", t.Slot.walk_in == False)  # noqa: E712
            .order_by(col(t.Slot.desk), col(t.Slot.id))
        ):
            new_slots[(site_id, slot.start_at, slot.service_id)].append(slot)
        same: dict[int, int] = {}
        for slot, site_id in old_slots:
            equals = new_slots.get((site_id, slot.start_at, slot.service_id), [])
            if equals:
                twin = next((s for s in equals if s.desk == slot.desk), equals[0])
                same[slot.id] = twin.id  # type: ignore[index,assignment]
        dialogues = repoint_offers(session, slots=same, now=now) if same else 0
        lapsed = session.exec(
            select(t.SeatHold).where(
                col(t.SeatHold.slot_id).in_([slot.id for slot, _ in old_slots]),
                t.SeatHold.status == "open",
                t.SeatHold.expires_at <= now,
            )
        ).all() if old_slots else []  # fmt: skip
        for hold in lapsed:
            lapse(session, hold)
        uow.commit()
    logger.info(
        "plan %s superseded by %s: %d dialogues re-pointed, %d lapsed holds let go",
        event.plan_id, event.by_plan_id, dialogues, len(lapsed),
    )  # fmt: skip


def _commune_of_slot(session: Session, slot_id: int) -> int | None:
    return session.exec(
        select(t.Site.commune_id)
        .join(t.Visit, col(t.Visit.site_id) == t.Site.id)
        .join(t.Slot, col(t.Slot.visit_id) == t.Visit.id)
        .where(t.Slot.id == slot_id)
    ).first()
