"""Booking rules, shared by the SMS conversation, the web pages and the CLI.

Session-level functions run inside the caller's transaction and return the events to
emit; the command handlers at the bottom wrap them in a unit of work.

Over-booking is impossible by construction: the slot row is locked (``SELECT ... FOR
UPDATE`` on PostgreSQL; SQLite transactions start with ``BEGIN IMMEDIATE`` and so
run one writer at a time), the free seat is computed under that lock, and a partial
unique index on ``(slot_id, seat)`` for live bookings is the last line of defence.
The confirmation and the reminders are inserted in the same transaction (transactional
outbox): a booking never exists without its messages, nor messages without a booking.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Protocol

from sqlalchemy import Row, bindparam
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from config import Settings
from mobile_services.domain import commands, events
from mobile_services.domain.exceptions import BookingRefused, NotFound
from mobile_services.domain.messages import Event
from mobile_services.domain.phones import is_mobile, mask, normalise_phone
from mobile_services.service_layer import reference_data
from mobile_services.service_layer.unit_of_work import UnitOfWork
from mobile_services.storage import tables as t
from notifications.ports import Clock
from notifications.rendering import SmsRenderer
from scheduler.timing import MessagingRules, reminders

logger = logging.getLogger(__name__)

__all__ = [
    "BookingConfirmation",
    "FreeSlot",
    "UpcomingBooking",
    "book",
    "cancel",
    "free_slots",
    "join_waitlist",
    "normalise_phone",
    "services_offered",
    "set_opt_out",
    "upcoming_bookings",
]

DEFAULT_BRING = "pièce d'identité, identifiants, justificatifs"
#: Room for the documents in the confirmation (booking_confirmation clips there as a last resort).
CONFIRMATION_BRING_CHARS = 45
#: Message kinds that answer something the resident just did: sent even in quiet hours.
REPLY_KINDS = frozenset({"confirmation", "cancellation_ack", "login_code"})
#: Crews leave before the quiet hours end: their day's SMS is not held until 08:00.
CREW_KINDS = frozenset({"day_itinerary", "staff_day_changed"})

_REFUSALS_FR = {
    "slot_full": "Ce créneau est complet.",
    "too_late": "Il est trop tard pour réserver ce créneau.",
    "already_booked": "Vous avez déjà un rendez-vous lors de ce passage.",
    "opted_out": "Vous avez demandé à ne plus recevoir nos SMS : envoyez START pour les réactiver.",
    "not_bookable": "Ce créneau n'est pas réservable.",
    "not_live": "Ce rendez-vous est déjà annulé ou passé.",
    "service_not_offered": "Ce service n'est pas proposé lors de ce passage.",
    "hold_lapsed": "Cette place n'est plus gardée pour vous : envoyez RDV par SMS pour voir les créneaux libres.",
}


def refused(code: str, detail: str = "") -> BookingRefused:
    error = BookingRefused(f"booking refused: {code}{' (' + detail + ')' if detail else ''}", _REFUSALS_FR[code])
    error.code = code  # type: ignore[attr-defined]
    return error


@lru_cache(maxsize=8)
def renderer(tz: str) -> SmsRenderer:
    """One renderer per time zone (building the Jinja2 environment is not free)."""
    return SmsRenderer(tz=tz)


def messaging_rules(settings: Settings) -> MessagingRules:
    return MessagingRules(
        tz=settings.tz,
        day_before_at=settings.reminder_day_before_at,
        hours_before=settings.reminder_hours_before,
        quiet_start=settings.quiet_hours_start,
        quiet_end=settings.quiet_hours_end,
        min_lead=timedelta(minutes=settings.reminder_min_lead_minutes),
    )


@dataclass(frozen=True, kw_only=True)
class BookingConfirmation:
    booking_id: int
    token: str
    slot_id: int
    visit_id: int
    start_at: datetime
    end_at: datetime
    site_name: str
    commune_name: str
    service_label: str | None
    link: str


@dataclass(frozen=True, kw_only=True)
class FreeSlot:
    slot_id: int
    visit_id: int
    start_at: datetime
    end_at: datetime
    site_name: str
    commune_id: int
    commune_name: str
    seats_left: int


@dataclass(frozen=True, kw_only=True)
class UpcomingBooking:
    booking_id: int
    start_at: datetime
    commune_name: str
    site_name: str
    site_address: str = ""
    service_id: int | None = None
    token: str = ""


# --------------------------------------------------------------------------- residents


_RESIDENT_BY_PHONE = select(t.Resident).where(t.Resident.phone == bindparam("phone"))


def find_resident(session: Session, phone: str) -> t.Resident | None:
    """The resident with this phone (E.164), if they ever booked or waited."""
    return session.exec(_RESIDENT_BY_PHONE, params={"phone": phone}).first()


def resident_for(session: Session, phone: str, now: datetime, *, commune_id: int | None = None) -> t.Resident:
    """The resident with this phone (E.164), created on first contact."""
    resident = find_resident(session, phone)
    if resident is None:
        resident = t.Resident(phone=phone, commune_id=commune_id, created_at=now, last_seen_at=now)
        try:
            with session.begin_nested():
                session.add(resident)
            return resident
        except IntegrityError:  # created meanwhile by a concurrent request
            resident = session.exec(_RESIDENT_BY_PHONE, params={"phone": phone}).one()
    resident.last_seen_at = now
    if resident.commune_id is None and commune_id is not None:
        resident.commune_id = commune_id
    session.add(resident)
    return resident


@dataclass(frozen=True)
class Outgoing:
    """One SMS to queue for a resident, unless a row with its idempotency key exists."""

    kind: str
    body: str
    key: str
    due_at: datetime
    expires_at: datetime | None = None
    booking_id: int | None = None
    visit_id: int | None = None


def enqueue(
    session: Session,
    *,
    resident: t.Resident,
    kind: str,
    body: str,
    key: str,
    due_at: datetime,
    now: datetime,
    expires_at: datetime | None = None,
    booking_id: int | None = None,
    visit_id: int | None = None,
) -> t.Message | None:
    """Insert an outbox row once per idempotency key; nothing to opted-out or non-mobile numbers."""
    queued = enqueue_all(
        session,
        resident=resident,
        messages=[Outgoing(kind, body, key, due_at, expires_at, booking_id, visit_id)],
        now=now,
    )
    return queued[0] if queued else None


def enqueue_all(session: Session, *, resident: t.Resident, messages: Sequence[Outgoing], now: datetime) -> list[t.Message]:
    """:func:`enqueue` for several SMS to one resident, with one query for their keys (a
    booking queues its confirmation and two reminders at once)."""
    if not messages or resident.opted_out or resident.phone is None or not is_mobile(resident.phone):
        return []
    keys = [m.key for m in messages]
    known = set(session.execute(_KNOWN_KEYS, {"keys": keys}).scalars().all())
    queued = [
        t.Message(
            recipient=resident.phone,
            resident_id=resident.id,
            booking_id=m.booking_id,
            visit_id=m.visit_id,
            kind=m.kind,
            body=m.body,
            idempotency_key=m.key,
            due_at=m.due_at,
            expires_at=m.expires_at,
            created_at=now,
        )
        for m in messages
        if m.key not in known
    ]
    session.add_all(queued)
    return queued


def withdraw_pending(session: Session, *, booking_id: int | None = None, resident_id: int | None = None) -> int:
    """Cancel messages not yet handed to the provider (a cancelled booking sends no reminder)."""
    query = select(t.Message).where(t.Message.status == "pending")
    if booking_id is not None:
        query = query.where(t.Message.booking_id == booking_id)
    if resident_id is not None:
        query = query.where(t.Message.resident_id == resident_id)
    count = 0
    for message in session.exec(query):
        message.status = "withdrawn"
        session.add(message)
        count += 1
    return count


# --------------------------------------------------------------------------- booking

_REMINDER_TEMPLATES = {"reminder_day_before": "reminder_day_before", "reminder_hours_before": "reminder_two_hours"}


def queue_reminders(
    session: Session,
    *,
    booking: t.Booking,
    resident: t.Resident,
    slot: t.Slot,
    site: t.Site,
    commune: t.Commune,
    now: datetime,
    settings: Settings,
    also: Sequence[Outgoing] = (),
) -> None:
    """The reminders still worth sending for this booking in this slot (keys carry the slot,
    so a booking moved to another slot gets fresh reminders), queued with ``also``."""
    render = renderer(settings.timezone).render
    outgoing = [
        *also,
        *(
            Outgoing(
                kind=reminder.kind,
                body=render(_REMINDER_TEMPLATES[reminder.kind], start=slot.start_at, site=site.name, commune=commune.name),
                key=f"booking:{booking.id}:slot:{slot.id}:{reminder.kind}",
                due_at=reminder.due_at,
                expires_at=reminder.expires_at,
                booking_id=booking.id,
            )
            for reminder in reminders(slot.start_at, now, messaging_rules(settings))
        ),
    ]
    enqueue_all(session, resident=resident, messages=outgoing, now=now)


def _minutes(slot: t.Slot) -> int:
    return int((slot.end_at - slot.start_at).total_seconds() // 60)


_VISIT_CONTEXT = (
    select(t.Visit, t.Plan, t.Site, t.Commune)
    .join(t.Plan, col(t.Plan.id) == t.Visit.plan_id)
    .join(t.Site, col(t.Site.id) == t.Visit.site_id)
    .join(t.Commune, col(t.Commune.id) == t.Site.commune_id)
    .where(t.Visit.id == bindparam("visit_id"))
)


def _visit_context(session: Session, visit_id: int) -> tuple[t.Visit, t.Plan, t.Site, t.Commune]:
    """A stop with its plan, site and commune, in one query (every booking reads them)."""
    row = session.exec(_VISIT_CONTEXT, params={"visit_id": visit_id}).one()
    return row  # type: ignore[return-value]


def crew_skills(session: Session, visit: t.Visit) -> set[str]:
    return crew_skills_by_visit(session, [visit])[visit.id]  # type: ignore[index]


class _Crewed(Protocol):
    """A stop as far as its crew goes: a :class:`t.Visit`, or a row of its id and crew."""

    @property
    def id(self) -> int | None: ...
    @property
    def crew(self) -> list[int]: ...


# The statements every booking SMS runs are built once: building one costs about as much
# as running it (SQLAlchemy caches the SQL, not the statement object).
_SKILLS = select(t.Counsellor.id, t.Counsellor.skills).where(col(t.Counsellor.id).in_(bindparam("ids", expanding=True)))
_HELD = select(t.SeatHold.slot_id, t.SeatHold.seat, t.SeatHold.resident_id).where(
    col(t.SeatHold.slot_id).in_(bindparam("slot_ids", expanding=True)),
    t.SeatHold.status == "open",
    t.SeatHold.expires_at > bindparam("now"),
)
_BOOKED_COUNTS = (
    select(t.Booking.slot_id, func.count())
    .where(
        col(t.Booking.slot_id).in_(bindparam("slot_ids", expanding=True)),
        col(t.Booking.status).in_(t.LIVE_BOOKING_STATUSES),
    )
    .group_by(t.Booking.slot_id)
)
_BOOKED_SEATS = select(t.Booking.seat).where(
    t.Booking.slot_id == bindparam("slot_id"), col(t.Booking.status).in_(t.LIVE_BOOKING_STATUSES)
)
_SLOT_LOCKED = select(t.Slot).where(t.Slot.id == bindparam("slot_id")).with_for_update()
_ALREADY_BOOKED = select(t.Booking.id).where(
    t.Booking.visit_id == bindparam("visit_id"),
    t.Booking.resident_id == bindparam("resident_id"),
    col(t.Booking.status).in_(t.LIVE_BOOKING_STATUSES),
)
_KNOWN_KEYS = select(t.Message.idempotency_key).where(col(t.Message.idempotency_key).in_(bindparam("keys", expanding=True)))


_OPEN_HOLDS_OF = select(t.SeatHold).where(t.SeatHold.resident_id == bindparam("resident_id"), t.SeatHold.status == "open")
_OPEN_REQUESTS_OF = select(t.WaitlistEntry).where(
    t.WaitlistEntry.resident_id == bindparam("resident_id"), t.WaitlistEntry.status == "open"
)


def open_holds(session: Session, resident_id: int) -> Sequence[t.SeatHold]:
    """Seats held for this resident and not yet taken, let go or lapsed (expired ones included)."""
    return session.exec(_OPEN_HOLDS_OF, params={"resident_id": resident_id}).all()


def open_requests(session: Session, resident_id: int) -> Sequence[t.WaitlistEntry]:
    """This resident's waiting-list requests still open, in every commune."""
    return session.exec(_OPEN_REQUESTS_OF, params={"resident_id": resident_id}).all()


def crew_skills_by_visit(session: Session, visits: Sequence[_Crewed]) -> dict[int, set[str]]:
    """Skills of each visit's crew, in one query (the SMS dialogue asks for many visits)."""
    ids = {cid for visit in visits for cid in visit.crew}
    skills = dict(session.execute(_SKILLS, {"ids": list(ids)}).all()) if ids else {}
    return {visit.id: {s for cid in visit.crew for s in skills.get(cid, [])} for visit in visits}  # type: ignore[misc]


def held_seats(session: Session, slot_ids: list[int], now: datetime, *, except_resident: int | None = None) -> dict[int, set[int]]:
    """Seats of these slots kept for residents whose stop was cancelled (open, unexpired holds)."""
    held: dict[int, set[int]] = {}
    for slot_id, seat, resident_id in session.execute(_HELD, {"slot_ids": slot_ids, "now": now}):
        if except_resident is None or resident_id != except_resident:
            held.setdefault(slot_id, set()).add(seat)
    return held


def seats_taken(session: Session, slot_ids: list[int], now: datetime) -> dict[int, int]:
    """Seats of each slot booked or held (open, unexpired holds): what a free-seat count subtracts."""
    if not slot_ids:
        return {}
    counts: dict[int, int] = dict(session.execute(_BOOKED_COUNTS, {"slot_ids": slot_ids}).all())
    for slot_id, seats in held_seats(session, slot_ids, now).items():
        counts[slot_id] = counts.get(slot_id, 0) + len(seats)
    return counts


def live_seats(session: Session, slot_id: int, now: datetime, *, resident_id: int | None = None) -> set[int]:
    """Seats of the slot that are booked, or held for someone other than ``resident_id``."""
    booked = set(session.execute(_BOOKED_SEATS, {"slot_id": slot_id}).scalars().all())
    return booked | held_seats(session, [slot_id], now, except_resident=resident_id).get(slot_id, set())


def book(
    session: Session,
    *,
    phone: str,
    slot_id: int,
    service_id: int | None,
    channel: str,
    now: datetime,
    settings: Settings,
    resident_commune_id: int | None = None,
) -> tuple[BookingConfirmation, list[Event]]:
    """Book one seat of a slot, with its confirmation and reminders, or refuse clearly.

    ``resident_commune_id`` is where the resident lives when they said so (they may book
    a stop in the next village); by default, the stop's commune.
    """
    phone = normalise_phone(phone)
    slot = session.exec(_SLOT_LOCKED, params={"slot_id": slot_id}).first()
    if slot is None or slot.walk_in:
        raise refused("not_bookable", f"slot {slot_id}")
    visit, plan, site, commune = _visit_context(session, slot.visit_id)
    if visit.status != "planned" or plan.status != "published":
        raise refused("not_bookable", f"visit {visit.id} {visit.status}, plan {plan.status}")
    if now > slot.start_at - timedelta(minutes=settings.booking_cutoff_minutes):
        raise refused("too_late")
    service = session.get(t.Service, service_id) if service_id is not None else None
    if service_id is not None and service is None:
        raise NotFound(f"unknown service {service_id}", "Service inconnu.")
    if service is not None and service.required_skill and service.required_skill not in crew_skills(session, visit):
        raise refused("service_not_offered", service.code)
    if slot.service_id is not None and service_id is not None and slot.service_id != service_id:
        raise refused("service_not_offered", "slot reserved for another service")
    if slot.service_id is None and service is not None and service.duration_minutes > _minutes(slot):
        raise refused("service_not_offered", f"{service.code} needs {service.duration_minutes} min")

    resident = resident_for(session, phone, now, commune_id=resident_commune_id or commune.id)
    if resident.opted_out and channel == "sms":
        raise refused("opted_out")
    session.flush()
    already = session.execute(_ALREADY_BOOKED, {"visit_id": visit.id, "resident_id": resident.id}).first()
    if already is not None:
        raise refused("already_booked")
    # The resident's open holds, all slots: the one on this slot is theirs to take; any
    # other is settled after the booking (SlotBooked), if any is left.
    holds_open = open_holds(session, resident.id)  # type: ignore[arg-type]
    hold = next((h for h in holds_open if h.slot_id == slot.id and h.expires_at > now), None)
    taken = live_seats(session, slot.id, now, resident_id=resident.id)  # type: ignore[arg-type]
    free = [hold.seat] if hold is not None and hold.seat not in taken else []
    free += sorted(set(range(1, slot.capacity + 1)) - taken - set(free))
    if not free:
        raise refused("slot_full")
    if hold is not None:  # the seat kept for them after their stop was cancelled: theirs now
        hold.status = "taken"
        session.add(hold)
    booking = t.Booking(
        slot_id=slot.id,  # type: ignore[arg-type]
        visit_id=visit.id,  # type: ignore[arg-type]
        resident_id=resident.id,  # type: ignore[arg-type]
        service_id=service_id if service_id is not None else slot.service_id,
        seat=free[0],
        channel=channel,
        token=secrets.token_urlsafe(24),
        created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(booking)
    except IntegrityError:
        # The unique index caught a race the lock should have prevented: refuse, never over-book.
        logger.warning("seat conflict on slot %s", slot.id)
        raise refused("slot_full") from None

    link = f"{settings.base_url}/r/{booking.token}"
    render = renderer(settings.timezone).render
    label = service.short_label if service is not None else "accompagnement numérique"
    bring = whole_documents(service.documents) if service is not None and service.documents else DEFAULT_BRING
    confirmation_sms = Outgoing(
        kind="confirmation",
        body=render(
            "booking_confirmation", service=label, start=slot.start_at, site=site.name, commune=commune.name,
            bring=bring, link=link,
        ),
        key=f"booking:{booking.id}:confirmation",
        due_at=now,
        expires_at=slot.start_at,
        booking_id=booking.id,
    )  # fmt: skip
    queue_reminders(
        session, booking=booking, resident=resident, slot=slot, site=site, commune=commune, now=now, settings=settings,
        also=[confirmation_sms],
    )  # fmt: skip
    waiting_elsewhere = False
    for entry in open_requests(session, resident.id):  # type: ignore[arg-type]
        if entry.commune_id != commune.id:
            waiting_elsewhere = True
            continue
        entry.status = "served"
        session.add(entry)
    session.flush()
    logger.info("booking %s on slot %s seat %s for %s via %s", booking.id, slot.id, booking.seat, mask(phone), channel)
    confirmation = BookingConfirmation(
        booking_id=booking.id,  # type: ignore[arg-type]
        token=booking.token,
        slot_id=slot.id,  # type: ignore[arg-type]
        visit_id=visit.id,  # type: ignore[arg-type]
        start_at=slot.start_at,
        end_at=slot.end_at,
        site_name=site.name,
        commune_name=commune.name,
        service_label=service.label if service is not None else None,
        link=link,
    )
    event = events.SlotBooked(
        booking_id=booking.id, slot_id=slot.id, visit_id=visit.id, resident_id=resident.id, channel=channel,  # type: ignore[arg-type]
        hold_id=hold.id if hold is not None else None,
        others_open=waiting_elsewhere or any(h is not hold for h in holds_open),
    )  # fmt: skip
    return confirmation, [event]


def cancel(
    session: Session,
    *,
    booking_id: int,
    phone: str | None,
    reason: str,
    now: datetime,
    settings: Settings,
    notify: bool = True,
) -> list[Event]:
    """Cancel a live booking, withdraw its pending reminders and acknowledge it."""
    booking = session.exec(select(t.Booking).where(t.Booking.id == booking_id).with_for_update()).first()
    resident = session.get(t.Resident, booking.resident_id) if booking is not None else None
    if booking is None or resident is None or (phone is not None and resident.phone != normalise_phone(phone)):
        raise NotFound(f"booking {booking_id} not found", "Rendez-vous introuvable.")
    if booking.status not in t.LIVE_BOOKING_STATUSES:
        raise refused("not_live")
    slot = session.get(t.Slot, booking.slot_id)
    assert slot is not None
    _, _, site, commune = _visit_context(session, booking.visit_id)
    booking.status = "cancelled"
    booking.cancelled_at = booking.changed_at = now
    session.add(booking)
    withdraw_pending(session, booking_id=booking.id)
    if notify:
        enqueue(
            session,
            resident=resident,
            kind="cancellation_ack",
            body=renderer(settings.timezone).render("cancellation_ack", start=slot.start_at, commune=commune.name),
            key=f"booking:{booking.id}:cancelled",
            due_at=now,
            now=now,
            booking_id=booking.id,
        )
    session.flush()
    logger.info("booking %s cancelled (%s)", booking.id, reason)
    return [
        events.BookingCancelled(
            booking_id=booking.id, slot_id=booking.slot_id, visit_id=booking.visit_id,  # type: ignore[arg-type]
            resident_id=resident.id, reason=reason,  # type: ignore[arg-type]
        )
    ]


def join_waitlist(
    session: Session, *, phone: str, commune_id: int, service_id: int | None, now: datetime
) -> tuple[int, list[Event]]:
    """Put a resident on the waiting list of a commune (idempotent); it feeds the planner."""
    phone = normalise_phone(phone)
    known = commune_id in reference_data.communes(session)  # kept per process; a new one is read
    if not known and session.get(t.Commune, commune_id) is None:
        raise NotFound(f"commune {commune_id} not found", "Commune inconnue.")
    resident = resident_for(session, phone, now, commune_id=commune_id)
    session.flush()
    entry = session.exec(
        select(t.WaitlistEntry).where(
            t.WaitlistEntry.resident_id == resident.id,
            t.WaitlistEntry.commune_id == commune_id,
            t.WaitlistEntry.status == "open",
        )
    ).first()
    if entry is not None:
        return entry.id, []  # type: ignore[return-value]
    entry = t.WaitlistEntry(resident_id=resident.id, commune_id=commune_id, service_id=service_id, created_at=now)  # type: ignore[arg-type]
    session.add(entry)
    session.flush()
    return entry.id, [events.JoinedWaitlist(entry_id=entry.id, resident_id=resident.id, commune_id=commune_id)]  # type: ignore[arg-type,list-item]


def set_opt_out(session: Session, *, phone: str, opted_out: bool, now: datetime) -> list[Event]:
    """Mirror STOP/ARRET and START: an opted-out number never gets another message."""
    phone = normalise_phone(phone)
    resident = resident_for(session, phone, now)
    changed = resident.opted_out != opted_out
    resident.opted_out = opted_out
    session.add(resident)
    session.flush()
    if opted_out:
        withdraw_pending(session, resident_id=resident.id)
    if opted_out and changed:
        return [events.ResidentOptedOut(resident_id=resident.id)]  # type: ignore[arg-type]
    return []


# --------------------------------------------------------------------------- queries


def _nearby_communes(session: Session, commune_id: int, radius_km: float) -> dict[int, tuple[reference_data.CommuneInfo, float]]:
    nearby = reference_data.nearby_communes(session, commune_id, radius_km)
    if nearby is None:
        raise NotFound(f"commune {commune_id} not found", "Commune inconnue.")
    return nearby


_UPCOMING_VISITS = (
    select(t.Visit.id, t.Visit.crew, t.Site.name.label("site_name"), t.Site.commune_id)  # type: ignore[attr-defined]
    .join(t.Site, col(t.Site.id) == t.Visit.site_id)
    .join(t.Plan, col(t.Plan.id) == t.Visit.plan_id)
    .where(
        col(t.Site.commune_id).in_(bindparam("commune_ids", expanding=True)),
        t.Plan.status == "published",
        t.Visit.status == "planned",
        t.Visit.end_at > bindparam("not_before"),
    )
    .order_by(col(t.Visit.start_at))
)
_BOOKABLE_SLOTS = (
    select(t.Slot.id, t.Slot.visit_id, t.Slot.service_id, t.Slot.start_at, t.Slot.end_at, t.Slot.capacity)
    .where(
        col(t.Slot.visit_id).in_(bindparam("visit_ids", expanding=True)),
        t.Slot.walk_in == False,  # noqa: E712
        t.Slot.start_at >= bindparam("not_before"),
    )
    .order_by(col(t.Slot.start_at), col(t.Slot.desk))
)
_WORKSHOPS = select(t.Slot.service_id).where(
    col(t.Slot.visit_id).in_(bindparam("visit_ids", expanding=True)),
    col(t.Slot.service_id).is_not(None),
    t.Slot.walk_in == False,  # noqa: E712
)


def _upcoming_visits(session: Session, commune_ids: list[int], not_before: datetime) -> Sequence[Row[Any]]:
    """The coming stops in these communes, as rows (id, crew, site name, commune id): every SMS
    that names a commune reads them, and whole Visit and Site objects cost several times more."""
    return session.execute(_UPCOMING_VISITS, {"commune_ids": commune_ids, "not_before": not_before}).all()


def free_slots(
    session: Session,
    *,
    commune_id: int,
    now: datetime,
    settings: Settings,
    service_id: int | None = None,
    limit: int = 3,
    radius_km: float = 12.0,
) -> list[FreeSlot]:
    """The next bookable slots for a resident of ``commune_id``: own commune first, then nearby."""
    nearby = _nearby_communes(session, commune_id, radius_km)
    not_before = now + timedelta(minutes=settings.booking_cutoff_minutes)
    catalogue = reference_data.services(session)
    service = next((s for s in catalogue if s.id == service_id), None) if service_id is not None else None
    visits = _upcoming_visits(session, list(nearby), not_before)
    if not visits:
        return []
    slots = session.execute(_BOOKABLE_SLOTS, {"visit_ids": [v.id for v in visits], "not_before": not_before}).all()
    counts = seats_taken(session, [s.id for s in slots], now)  # type: ignore[misc]
    by_visit = {v.id: v for v in visits}
    with_common = {s.visit_id for s in slots if s.service_id is None}
    group_ids = {s.id for s in catalogue if s.is_group} if service is None else set()
    skills_of = crew_skills_by_visit(session, visits) if service is not None and service.required_skill else {}
    candidates: list[tuple[float, datetime, FreeSlot]] = []
    seen_times: set[tuple[int, datetime]] = set()
    for slot in slots:
        visit = by_visit[slot.visit_id]
        if service is not None:
            if slot.service_id not in (None, service.id):
                continue
            if slot.service_id is None and service.duration_minutes > _minutes(slot):
                continue  # a longer service has slots of its own
            if service.required_skill and service.required_skill not in skills_of[visit.id]:  # type: ignore[index]
                continue
        elif slot.service_id is not None and (slot.service_id in group_ids or slot.visit_id in with_common):
            # group workshops are offered only when asked for; a stop whose crew gives only
            # longer services (no common slots) offers their slots to whoever asks for "a slot"
            continue
        left = slot.capacity - counts.get(slot.id, 0)
        if left <= 0 or (slot.visit_id, slot.start_at) in seen_times:
            continue  # two desks at the same time look the same to a resident: offer one
        seen_times.add((slot.visit_id, slot.start_at))
        commune, distance = nearby[visit.commune_id]
        candidates.append(
            (
                0.0 if visit.commune_id == commune_id else 1.0,
                slot.start_at,
                FreeSlot(
                    slot_id=slot.id,  # type: ignore[arg-type]
                    visit_id=visit.id,  # type: ignore[arg-type]
                    start_at=slot.start_at,
                    end_at=slot.end_at,
                    site_name=visit.site_name,
                    commune_id=visit.commune_id,
                    commune_name=commune.name,
                    seats_left=left,
                ),
            )
        )
    candidates.sort(key=lambda item: (item[0], item[1]))
    return [item[2] for item in candidates[:limit]]


def services_offered(session: Session, *, commune_id: int, now: datetime, settings: Settings, radius_km: float = 12.0) -> list[t.Service]:
    """Services the crews of the coming stops near the commune can handle."""
    nearby = _nearby_communes(session, commune_id, radius_km)
    visits = _upcoming_visits(session, list(nearby), now + timedelta(minutes=settings.booking_cutoff_minutes))
    if not visits:
        return []
    skills: set[str] = set().union(*crew_skills_by_visit(session, visits).values())
    services = reference_data.services(session)
    # group workshops are offered where a coming stop holds one
    workshops = set(session.execute(_WORKSHOPS, {"visit_ids": [v.id for v in visits]}).scalars().all())
    return [
        s
        for s in services
        if (not s.is_group and (s.required_skill is None or s.required_skill in skills)) or (s.is_group and s.id in workshops)
    ]


def whole_documents(documents: Sequence[str], limit: int = CONFIRMATION_BRING_CHARS) -> str:
    """The documents line of the confirmation: whole items only, never one cut mid-phrase.

    The confirmation has room for about ``limit`` characters of documents (it must also
    carry the place, the link and how to cancel in two SMS); the items that do not fit are
    replaced by "etc", the booking page (linked in the same SMS) listing them all, and the
    resident can also ask « quels papiers ? » to get the whole list by SMS.
    """
    kept: list[str] = []
    for index, item in enumerate(documents):
        candidate = ", ".join([*kept, item])
        last = index == len(documents) - 1
        if len(candidate) + (0 if last else len(", etc")) > limit:
            break
        kept.append(item)
    if len(kept) == len(documents):
        return ", ".join(kept)
    return ", ".join([*kept, "etc"]) if kept else "voir le lien"


_UPCOMING_BOOKINGS = (
    select(t.Booking, t.Slot, t.Site, t.Commune)
    .join(t.Resident, col(t.Resident.id) == t.Booking.resident_id)
    .join(t.Slot, col(t.Slot.id) == t.Booking.slot_id)
    .join(t.Visit, col(t.Visit.id) == t.Booking.visit_id)
    .join(t.Site, col(t.Site.id) == t.Visit.site_id)
    .join(t.Commune, col(t.Commune.id) == t.Site.commune_id)
    .where(
        t.Resident.phone == bindparam("phone"),
        col(t.Booking.status).in_(t.LIVE_BOOKING_STATUSES),
        t.Slot.start_at > bindparam("now"),
    )
    .order_by(col(t.Slot.start_at))
)


def upcoming_bookings(session: Session, *, phone: str, now: datetime) -> list[UpcomingBooking]:
    """Live bookings of a resident that have not started yet, soonest first."""
    phone = normalise_phone(phone)
    rows = session.exec(_UPCOMING_BOOKINGS, params={"phone": phone, "now": now}).all()
    return [
        UpcomingBooking(
            booking_id=b.id, start_at=s.start_at, commune_name=c.name, site_name=site.name,  # type: ignore[arg-type]
            site_address=site.address or "", service_id=b.service_id, token=b.token or "",
        )  # fmt: skip
        for b, s, site, c in rows
    ]


# --------------------------------------------------------------------------- command handlers


def book_slot(command: commands.BookSlot, *, uow: UnitOfWork, clock: Clock, settings: Settings) -> BookingConfirmation:
    with uow:
        confirmation, produced = book(
            uow.session, phone=command.phone, slot_id=command.slot_id, service_id=command.service_id,
            channel=command.channel, now=clock.now(), settings=settings, resident_commune_id=command.commune_id,
        )
        for event in produced:
            uow.emit(event)
        uow.commit()
        return confirmation


def cancel_booking(command: commands.CancelBooking, *, uow: UnitOfWork, clock: Clock, settings: Settings) -> None:
    with uow:
        for event in cancel(
            uow.session, booking_id=command.booking_id, phone=command.phone, reason=command.reason,
            now=clock.now(), settings=settings,
        ):
            uow.emit(event)
        uow.commit()


def add_to_waitlist(command: commands.JoinWaitlist, *, uow: UnitOfWork, clock: Clock) -> int:
    with uow:
        entry_id, produced = join_waitlist(
            uow.session, phone=command.phone, commune_id=command.commune_id, service_id=command.service_id, now=clock.now()
        )
        for event in produced:
            uow.emit(event)
        uow.commit()
        return entry_id


def change_opt_out(command: commands.SetOptOut, *, uow: UnitOfWork, clock: Clock) -> None:
    with uow:
        for event in set_opt_out(uow.session, phone=command.phone, opted_out=command.opted_out, now=clock.now()):
            uow.emit(event)
        uow.commit()
