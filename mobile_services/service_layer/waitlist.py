"""Reacting to freed seats and new stops: tell the people who were waiting.

Waiting lists must not spam: an entry is offered each new stop of its commune once
(idempotency key per entry and plan / visit), at most ``MAX_OFFERS`` times in all.

A freed seat is worth more than a notice: it is *held* for the oldest request of the
commune for ``waitlist_hold_minutes`` (nobody else can take it meanwhile) and offered by
SMS; OUI books it (the dialogue waits on that seat, :func:`conversation.await_hold_answer`),
NON passes it to the next request at once (:class:`~events.HeldSeatDeclined`), and so does
silence as soon as the every-minute pass sees the hold run out (:class:`~events.HoldExpired`);
at most ``MAX_OFFERS_PER_STOP`` offers of one stop per request, never to opted-out or
unreachable numbers. Requests close after ``waitlist_entry_days`` and the resident is told.
A booking serves its resident's requests for the same help wherever they wait
(:func:`settle_requests_served`).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import exists
from sqlmodel import Session, col, select

from config import Settings
from mobile_services.domain import commands, events
from mobile_services.domain.phones import is_mobile
from mobile_services.service_layer.booking import (
    FreeSlot,
    _visit_context,
    crew_skills,
    enqueue,
    live_seats,
    messaging_rules,
    open_holds,
    open_requests,
    renderer,
)
from mobile_services.service_layer.holds import HeldSeat, lapse_all, release_hold
from mobile_services.service_layer.unit_of_work import UnitOfWork
from mobile_services.storage import tables as t
from notifications.ports import Clock
from scheduler.timing import in_quiet_hours

logger = logging.getLogger(__name__)

MAX_OFFERS = 3
#: How many times one request is offered a seat of the same stop (held, unanswered, passed on).
MAX_OFFERS_PER_STOP = 3
#: A hold shorter than this is not worth an SMS.
MIN_HOLD = timedelta(minutes=10)


def _open_entries(session: Session, commune_id: int) -> list[t.WaitlistEntry]:
    return list(
        session.exec(
            select(t.WaitlistEntry)
            .where(
                t.WaitlistEntry.commune_id == commune_id,
                t.WaitlistEntry.status == "open",
                t.WaitlistEntry.notified_count < MAX_OFFERS,
            )
            .order_by(col(t.WaitlistEntry.created_at), col(t.WaitlistEntry.id))
        ).all()
    )


#: A notice the resident has had, or is about to have (pending): they know of that stop.
_TOLD = ("pending", "sending", "sent", "delivered", "unknown")


def _offer(
    session: Session,
    entry: t.WaitlistEntry,
    visit: t.Visit,
    commune: t.Commune,
    key: str,
    settings: Settings,
    now: datetime,
    *,
    instead: datetime | None = None,
) -> bool:
    resident = session.get(t.Resident, entry.resident_id)
    if resident is None:
        return False
    message = enqueue(
        session,
        resident=resident,
        kind="waitlist_offer",
        body=renderer(settings.timezone).render("waitlist_offer", commune=commune.name, start=visit.start_at, instead=instead),
        key=key,
        due_at=now,
        now=now,
        expires_at=visit.start_at,
        visit_id=visit.id,
    )
    if message is None:
        return False
    entry.notified_count += 1
    session.add(entry)
    return True


def offer_new_stops(session: Session, *, plan_id: int, now: datetime, settings: Settings) -> int:
    """A plan being published brings stops to communes where people wait: tell each of them once.

    Called inside the publishing transaction (:mod:`publishing`), so the offers are part of
    what a publication shows before it is confirmed, and are rolled back with it.

    A new version of a published week re-points what waiting residents were told of the
    earlier ones, by the last notice each had about their commune (:func:`_last_notices`):
    a notice not sent yet about an old version's stop is withdrawn (the new version's own
    replaces it), a stop the new version keeps (same place, same time) is not announced
    again, and a resident told of a stop the new version dropped hears of the next one
    there instead ("pas de passage le ..., le prochain est le ...") or, when none is left,
    that it is cancelled (``waitlist_stop_cancelled``).
    """
    plan = session.get(t.Plan, plan_id)
    assert plan is not None
    rows = session.exec(
        select(t.Visit, t.Commune)
        .join(t.Site, col(t.Site.id) == t.Visit.site_id)
        .join(t.Commune, col(t.Commune.id) == t.Site.commune_id)
        .where(t.Visit.plan_id == plan_id, t.Visit.status == "planned", t.Visit.start_at > now)
        .order_by(col(t.Visit.start_at))
    ).all()
    first_visit: dict[int, tuple[t.Visit, t.Commune]] = {}
    for visit, commune in rows:
        first_visit.setdefault(commune.id, (visit, commune))  # type: ignore[arg-type]
    kept = {(visit.site_id, visit.start_at) for visit, _ in rows}
    versions = set(
        session.exec(
            select(t.Plan.id).where(t.Plan.territory_id == plan.territory_id, t.Plan.week == plan.week, t.Plan.id != plan_id)
        ).all()
    )
    if versions:
        _withdraw_pending_notices(session, versions)  # type: ignore[arg-type]
    last = _last_notices(session, territory_id=plan.territory_id, now=now)
    dropped = {
        key: visit
        for key, (message, visit) in last.items()
        if message.kind == "waitlist_offer" and visit.plan_id in versions and (visit.site_id, visit.start_at) not in kept
    }
    offered = 0
    for visit, commune in first_visit.values():
        for entry in _open_entries(session, commune.id):  # type: ignore[arg-type]
            key = (entry.resident_id, commune.id)
            gone = dropped.pop(key, None)  # type: ignore[arg-type]
            told = last.get(key)  # type: ignore[arg-type]
            if gone is None and told is not None and told[0].kind == "waitlist_offer" and _same_stop(told[1], visit):
                continue  # they know of this very stop already
            instead = gone.start_at if gone is not None else None
            if _offer(session, entry, visit, commune, f"waitlist:{entry.id}:plan:{plan_id}", settings, now, instead=instead):
                offered += 1
    render = renderer(settings.timezone).render
    for (resident_id, commune_id), gone in dropped.items():
        entry = session.exec(
            select(t.WaitlistEntry).where(
                t.WaitlistEntry.resident_id == resident_id, t.WaitlistEntry.commune_id == commune_id,
                t.WaitlistEntry.status == "open",
            )
        ).first()  # fmt: skip
        resident = session.get(t.Resident, resident_id)
        commune_row = session.get(t.Commune, commune_id)
        if entry is None or resident is None or commune_row is None:
            continue  # served or closed meanwhile: nothing they wait for was taken away
        enqueue(
            session, resident=resident, kind="waitlist_stop_cancelled",
            body=render("waitlist_stop_cancelled", commune=commune_row.name, start=gone.start_at),
            key=f"waitlist:{entry.id}:plan:{plan_id}:dropped", due_at=now, now=now, expires_at=gone.start_at,
            visit_id=gone.id,
        )  # fmt: skip
    logger.info("plan %s: %d new-stop offers queued for waiting residents", plan_id, offered)
    return offered


#: What the waiting list is told about stops: a stop planned, a stop announced then dropped.
_NOTICE_KINDS = ("waitlist_offer", "waitlist_stop_cancelled")


def _same_stop(a: t.Visit, b: t.Visit) -> bool:
    return (a.site_id, a.start_at) == (b.site_id, b.start_at)


def _withdraw_pending_notices(session: Session, plan_ids: set[int]) -> None:
    """Notices not sent yet about stops of other versions are withdrawn (and give the offer back)."""
    for message, commune_id in session.exec(
        select(t.Message, t.Site.commune_id)
        .join(t.Visit, col(t.Visit.id) == t.Message.visit_id)
        .join(t.Site, col(t.Site.id) == t.Visit.site_id)
        .where(col(t.Message.kind).in_(_NOTICE_KINDS), t.Message.status == "pending", col(t.Visit.plan_id).in_(plan_ids))
    ).all():
        message.status = "withdrawn"
        session.add(message)
        entry = session.exec(
            select(t.WaitlistEntry).where(
                t.WaitlistEntry.resident_id == message.resident_id, t.WaitlistEntry.commune_id == commune_id,
                t.WaitlistEntry.status == "open",
            )
        ).first()  # fmt: skip
        if message.kind == "waitlist_offer" and entry is not None and entry.notified_count > 0:
            entry.notified_count -= 1  # never sent: it does not use up one of the request's offers
            session.add(entry)
    session.flush()


def _last_notices(session: Session, *, territory_id: int, now: datetime) -> dict[tuple[int, int], tuple[t.Message, t.Visit]]:
    """(resident, commune) -> the last notice they had (or will have) about a coming stop there, with its stop."""
    last: dict[tuple[int, int], tuple[t.Message, t.Visit]] = {}
    for message, visit, commune_id in session.exec(
        select(t.Message, t.Visit, t.Commune.id)
        .join(t.Visit, col(t.Visit.id) == t.Message.visit_id)
        .join(t.Site, col(t.Site.id) == t.Visit.site_id)
        .join(t.Commune, col(t.Commune.id) == t.Site.commune_id)
        .where(
            col(t.Message.kind).in_(_NOTICE_KINDS),
            col(t.Message.status).in_(_TOLD),
            col(t.Message.resident_id).is_not(None),
            t.Commune.territory_id == territory_id,
            t.Visit.start_at > now,
        )
        .order_by(col(t.Message.id))
    ).all():
        last[(message.resident_id, commune_id)] = (message, visit)  # type: ignore[index]
    return last


# --------------------------------------------------------------------------- freed seats


def offer_freed_seat(event: events.BookingCancelled, *, uow: UnitOfWork, clock: Clock, settings: Settings) -> None:
    """A cancelled seat is held for the first person waiting in that commune, who answers OUI or NON."""
    now = clock.now()
    with uow:
        session = uow.session
        slot = session.get(t.Slot, event.slot_id)
        freed = session.get(t.Booking, event.booking_id)
        if slot is None or freed is None:
            return
        offer_seat(session, slot=slot, seat=freed.seat, freed_booking_id=freed.id, now=now, settings=settings)  # type: ignore[arg-type]
        uow.commit()


def pass_on_freed_seats(command: commands.PassOnFreedSeats, *, uow: UnitOfWork, clock: Clock, settings: Settings) -> int:
    """Holds that ran out lapse, and seats freed by a cancellation and still free go to the
    next person waiting (every minute).

    A lapsed hold is an event (:class:`events.HoldExpired`) whose handlers pass its seat on
    and look after a resident who lost a booking; this pass also offers a seat freed during
    the quiet hours (no SMS then: the offer waits for the morning). Returns the number of
    new offers this pass made.
    """
    now = clock.now()
    with uow:
        lapsed = lapse_all(uow.session, now=now)
        offered = _offer_freed_seats(uow.session, now=now, settings=settings)
        uow.commit()
    if offered or lapsed:
        logger.info("%d holds ran out; %d freed seats offered to the waiting list", lapsed, offered)
    return offered


def pass_on_released_seat(
    event: events.HeldSeatDeclined | events.HoldExpired, *, uow: UnitOfWork, clock: Clock, settings: Settings
) -> None:
    """A held seat let go or run out goes to the next person waiting at once, not a minute later.

    The same rule as the every-minute pass, for this one slot: only a seat some cancellation
    freed is offered (a free seat that was never booked is announced by the stop's own notice),
    and an offer already made is never made twice (the seat is held again once offered).
    """
    now = clock.now()
    with uow:
        offered = _offer_freed_seats(uow.session, now=now, settings=settings, slot_id=event.slot_id)
        uow.commit()
    if offered:
        logger.info("hold %s ended (%s): its seat offered to the next person waiting", event.hold_id, type(event).__name__)


def _offer_freed_seats(session: Session, *, now: datetime, settings: Settings, slot_id: int | None = None) -> int:
    """Offer each seat freed by a cancellation, still free, at a published stop where people wait."""
    query = (
        select(t.Booking, t.Slot)
        .join(t.Slot, col(t.Slot.id) == t.Booking.slot_id)
        .join(t.Visit, col(t.Visit.id) == t.Booking.visit_id)
        .join(t.Plan, col(t.Plan.id) == t.Visit.plan_id)
        .join(t.Site, col(t.Site.id) == t.Visit.site_id)
        .where(
            t.Booking.status == "cancelled",
            t.Plan.status == "published",
            t.Visit.status == "planned",
            t.Slot.start_at > now + timedelta(minutes=settings.booking_cutoff_minutes),
            exists().where(t.WaitlistEntry.commune_id == t.Site.commune_id, t.WaitlistEntry.status == "open"),
        )
    )
    if slot_id is not None:
        query = query.where(t.Booking.slot_id == slot_id)
    offered = 0
    for booking_row, slot in session.exec(query.order_by(col(t.Slot.start_at), col(t.Booking.id))).all():
        if offer_seat(session, slot=slot, seat=booking_row.seat, freed_booking_id=booking_row.id, now=now, settings=settings):  # type: ignore[arg-type]
            offered += 1
    return offered


def offer_seat(
    session: Session, *, slot: t.Slot, seat: int, freed_booking_id: int, now: datetime, settings: Settings
) -> t.SeatHold | None:
    """Hold ``seat`` of ``slot`` for the next person waiting in its commune and tell them; None if nobody.

    Nothing is offered when the seat is taken or already held, the stop is not of the
    published week, the hold would end too close to the booking cutoff, or SMS may not be
    sent now (quiet hours: :func:`pass_on_freed_seats` offers it in the morning).
    """
    visit, plan, site, commune = _visit_context(session, slot.visit_id)
    if visit.status != "planned" or plan.status != "published":
        return None  # a stop of a superseded version: its copy in the new one carries its seats
    expires_at = min(
        now + timedelta(minutes=settings.waitlist_hold_minutes), slot.start_at - timedelta(minutes=settings.booking_cutoff_minutes)
    )
    if expires_at - now < MIN_HOLD or in_quiet_hours(now, messaging_rules(settings)):
        return None
    locked = session.exec(select(t.Slot).where(t.Slot.id == slot.id).with_for_update()).one()
    lapse_all(session, now=now, slot_id=locked.id)  # their seats may be held again
    if seat in live_seats(session, locked.id, now):  # type: ignore[arg-type]
        return None
    found = _next_waiting(session, commune_id=commune.id, visit=visit, slot=locked, now=now, settings=settings)  # type: ignore[arg-type]
    if found is None:
        return None
    entry, resident, service_id = found
    hold = t.SeatHold(
        slot_id=locked.id,  # type: ignore[arg-type]
        resident_id=resident.id,  # type: ignore[arg-type]
        service_id=service_id,
        cancelled_booking_id=freed_booking_id,
        seat=seat,
        created_at=now,
        expires_at=expires_at,
        waitlist_entry_id=entry.id,
    )
    session.add(hold)
    session.flush()
    enqueue(
        session,
        resident=resident,
        kind="waitlist_seat_offer",
        body=renderer(settings.timezone).render("waitlist_seat_offer", commune=commune.name, start=locked.start_at, hold_until=expires_at),
        key=f"waitlist_hold:{hold.id}",
        due_at=now,
        now=now,
        expires_at=expires_at,
        visit_id=visit.id,
    )
    entry.notified_count += 1
    session.add(entry)
    from mobile_services.conversation import await_hold_answer  # the dialogue module imports this one

    free = FreeSlot(
        slot_id=locked.id, visit_id=visit.id, start_at=locked.start_at, end_at=locked.end_at, site_name=site.name,  # type: ignore[arg-type]
        commune_id=commune.id, commune_name=commune.name, seats_left=1,  # type: ignore[arg-type]
    )  # fmt: skip
    await_hold_answer(
        session, phone=resident.phone, held=HeldSeat(hold=hold, slot=free), commune_id=entry.commune_id,  # type: ignore[arg-type]
        commune_name=commune.name, now=now,
    )  # fmt: skip
    logger.info("seat %s of slot %s held for waiting entry %s until %s", seat, locked.id, entry.id, expires_at.isoformat())
    return hold


def _next_waiting(
    session: Session, *, commune_id: int, visit: t.Visit, slot: t.Slot, now: datetime, settings: Settings
) -> tuple[t.WaitlistEntry, t.Resident, int | None] | None:
    """The request of the commune to offer this seat to, with the service to book.

    Skipped: requests past ``waitlist_entry_days``; residents who opted out, cannot receive
    SMS, already booked this stop, hold another offer right now, said NON to this stop, or
    were offered it ``MAX_OFFERS_PER_STOP`` times; a service this crew cannot give.
    """
    oldest = now - timedelta(days=settings.waitlist_entry_days)
    skills = crew_skills(session, visit)
    eligible: list[tuple[int, t.WaitlistEntry, t.Resident]] = []
    for entry in session.exec(
        select(t.WaitlistEntry)
        .where(t.WaitlistEntry.commune_id == commune_id, t.WaitlistEntry.status == "open", t.WaitlistEntry.created_at > oldest)
        .order_by(col(t.WaitlistEntry.created_at), col(t.WaitlistEntry.id))
    ):
        resident = session.get(t.Resident, entry.resident_id)
        if resident is None or resident.opted_out or resident.unreachable or not resident.phone or not is_mobile(resident.phone):
            continue
        service = session.get(t.Service, entry.service_id) if entry.service_id is not None else None
        if slot.service_id is not None and entry.service_id not in (None, slot.service_id):
            continue
        if service is not None and service.required_skill and service.required_skill not in skills:
            continue
        if session.exec(
            select(t.Booking.id).where(
                t.Booking.resident_id == resident.id, t.Booking.visit_id == visit.id,
                col(t.Booking.status).in_(t.LIVE_BOOKING_STATUSES),
            )
        ).first() is not None:  # fmt: skip
            continue
        if session.exec(
            select(t.SeatHold.id).where(
                t.SeatHold.resident_id == resident.id, t.SeatHold.status == "open", t.SeatHold.expires_at > now
            )
        ).first() is not None:  # fmt: skip
            continue  # one offer at a time: a single OUI must say which seat it takes
        offers = session.exec(
            select(t.SeatHold.status)
            .join(t.Slot, col(t.Slot.id) == t.SeatHold.slot_id)
            .where(t.SeatHold.waitlist_entry_id == entry.id, t.Slot.visit_id == visit.id)
        ).all()
        if "declined" in offers or len(offers) >= MAX_OFFERS_PER_STOP:
            continue
        eligible.append((len(offers), entry, resident))
    if not eligible:
        return None
    # those asked least often for this stop first (a silence passes the seat to the next),
    # then the oldest request
    _, entry, resident = min(eligible, key=lambda e: e[0])
    return entry, resident, slot.service_id if slot.service_id is not None else entry.service_id


def expire_waitlist_entries(command: commands.ExpireWaitlistEntries, *, uow: UnitOfWork, clock: Clock, settings: Settings) -> int:
    """Requests older than ``waitlist_entry_days`` are closed and the resident told (daily)."""
    now = clock.now()
    oldest = now - timedelta(days=settings.waitlist_entry_days)
    closed = 0
    with uow:
        session = uow.session
        for entry in session.exec(
            select(t.WaitlistEntry).where(t.WaitlistEntry.status == "open", t.WaitlistEntry.created_at <= oldest)
        ).all():
            entry.status = "expired"
            session.add(entry)
            closed += 1
            resident = session.get(t.Resident, entry.resident_id)
            commune = session.get(t.Commune, entry.commune_id)
            if resident is None or commune is None:
                continue
            enqueue(
                session,
                resident=resident,
                kind="waitlist_expired",
                body=renderer(settings.timezone).render("waitlist_expired", commune=commune.name, since=entry.created_at.astimezone(settings.tz).date()),
                key=f"waitlist:{entry.id}:expired",
                due_at=now,
                now=now,
                expires_at=now + timedelta(days=2),
            )
        uow.commit()
    if closed:
        logger.info("%d waiting-list requests expired", closed)
    return closed


def forget_unreachable(
    event: events.ResidentOptedOut | events.ResidentUnreachable, *, uow: UnitOfWork, clock: Clock
) -> None:
    """A resident who said STOP, or whose number cannot get SMS, waits for nothing and holds nothing.

    Their waiting-list requests close (no offer could reach them) and a seat held for them
    is let go at once (:class:`events.HeldSeatDeclined`), so the next person waiting gets it.
    """
    now = clock.now()
    reason = "opted_out" if isinstance(event, events.ResidentOptedOut) else "unreachable"
    with uow:
        session = uow.session
        for entry in open_requests(session, event.resident_id):
            entry.status = "closed"
            session.add(entry)
        for hold in open_holds(session, event.resident_id):
            release_hold(session, hold_id=hold.id, now=now, reason=reason)  # type: ignore[arg-type]
        uow.commit()


def settle_requests_served(event: events.SlotBooked, *, uow: UnitOfWork, clock: Clock) -> None:
    """A booking serves its resident's other requests for the same help, wherever they wait.

    Why: a resident of a hamlet offered a slot in the next village (slots nearby are offered
    when their own commune has none) still had a request open for their own commune: it
    went on counting as demand there, and brought them offers they no longer needed. Their
    open requests for the same service (or for any help) are marked served, and a seat
    still held for them elsewhere is let go (:class:`events.HeldSeatDeclined`, ``booked``) to
    the next person waiting. A request for another service stays open.
    """
    if not event.others_open:
        return  # nothing else was open for them when they booked: nothing to settle
    now = clock.now()
    with uow:
        session = uow.session
        booking_row = session.get(t.Booking, event.booking_id)
        if booking_row is None or booking_row.status not in t.LIVE_BOOKING_STATUSES:
            return  # cancelled meanwhile: it serves nothing
        service_id = booking_row.service_id

        def same_help(wanted: int | None) -> bool:
            return wanted is None or service_id is None or wanted == service_id

        served = 0
        for entry in open_requests(session, event.resident_id):
            if same_help(entry.service_id):
                entry.status = "served"
                session.add(entry)
                served += 1
        phone = session.exec(select(t.Resident.phone).where(t.Resident.id == event.resident_id)).first()
        for hold in open_holds(session, event.resident_id):
            if hold.id == event.hold_id or not same_help(hold.service_id):
                continue
            if release_hold(session, hold_id=hold.id, now=now, reason="booked") and phone:  # type: ignore[arg-type]
                from mobile_services.conversation import drop_hold_answer  # the dialogue module imports this one

                drop_hold_answer(session, phone=phone, hold_id=hold.id, now=now)  # type: ignore[arg-type]
        uow.commit()
    if served:
        logger.info("booking %s served %d other waiting-list requests of its resident", event.booking_id, served)
