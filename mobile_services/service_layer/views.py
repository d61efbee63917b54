"""Read models for pages: plain data a template can show, read in one short transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from mobile_services.service_layer.booking import DEFAULT_BRING
from mobile_services.service_layer.holds import open_hold_for
from mobile_services.service_layer.unit_of_work import UnitOfWork
from mobile_services.storage import tables as t


@dataclass(frozen=True, kw_only=True)
class HeldSeatView:
    """The seat kept for the resident after this booking's stop was cancelled."""

    start_at: datetime
    end_at: datetime
    site_name: str
    commune_name: str
    expires_at: datetime


@dataclass(frozen=True, kw_only=True)
class BookingView:
    booking_id: int
    status: str
    start_at: datetime
    end_at: datetime
    site_name: str
    site_address: str
    commune_name: str
    service_label: str
    bring: list[str]
    accessible: bool
    changed_at: datetime
    sequence: int
    held_seat: HeldSeatView | None = None
    latitude: float | None = None
    longitude: float | None = None


def booking_by_token(uow: UnitOfWork, token: str, now: datetime | None = None) -> BookingView | None:
    """The booking a public link points to; None for an unknown or revoked token.

    With ``now``: a cancelled booking also shows the seat still held in its place, if any.
    """
    if not token or len(token) > 64:
        return None
    with uow:
        row = uow.session.exec(
            select(t.Booking, t.Slot, t.Visit, t.Site, t.Commune)
            .join(t.Slot, t.Slot.id == t.Booking.slot_id)  # type: ignore[arg-type]
            .join(t.Visit, t.Visit.id == t.Booking.visit_id)  # type: ignore[arg-type]
            .join(t.Site, t.Site.id == t.Visit.site_id)  # type: ignore[arg-type]
            .join(t.Commune, t.Commune.id == t.Site.commune_id)  # type: ignore[arg-type]
            .where(t.Booking.token == token)
        ).first()
        if row is None:
            return None
        booking, slot, visit, site, commune = row
        service = uow.session.get(t.Service, booking.service_id) if booking.service_id else None
        held_seat = None
        hold = open_hold_for(uow.session, cancelled_booking_id=booking.id, now=now) if now is not None else None  # type: ignore[arg-type]
        if hold is not None:
            held_slot = uow.session.get(t.Slot, hold.slot_id)
            held_site = uow.session.get(t.Site, uow.session.get(t.Visit, held_slot.visit_id).site_id)  # type: ignore[union-attr]
            held_commune = uow.session.get(t.Commune, held_site.commune_id)  # type: ignore[union-attr]
            held_seat = HeldSeatView(
                start_at=held_slot.start_at,  # type: ignore[union-attr]
                end_at=held_slot.end_at,  # type: ignore[union-attr]
                site_name=held_site.name,  # type: ignore[union-attr]
                commune_name=held_commune.name,  # type: ignore[union-attr]
                expires_at=hold.expires_at,
            )
        return BookingView(
            booking_id=booking.id,  # type: ignore[arg-type]
            status=booking.status,
            start_at=slot.start_at,
            end_at=slot.end_at,
            site_name=site.name,
            site_address=site.address,
            commune_name=commune.name,
            service_label=service.label if service else "Accompagnement numérique",
            bring=list(service.documents) if service and service.documents else DEFAULT_BRING.split(", "),
            accessible=site.accessible,
            changed_at=booking.changed_at or booking.created_at,
            sequence=booking.ical_sequence + (1 if booking.status in ("cancelled", "moved") else 0),
            held_seat=held_seat,
            latitude=site.latitude,
            longitude=site.longitude,
        )


# --------------------------------------------------------------------------- stop page


@dataclass(frozen=True, kw_only=True)
class OfferedService:
    service_id: int
    label: str
    documents: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class FreeTime:
    slot_id: int
    start_at: datetime
    end_at: datetime
    seats_left: int
    service_id: int | None = None
    """The group workshop this slot is for (None: an individual appointment)."""


@dataclass(frozen=True, kw_only=True)
class StopOffer:
    """A stop as its public page shows it: where, when, and what can still be booked."""

    visit_id: int
    start_at: datetime
    end_at: datetime
    site_name: str
    site_address: str
    accessible: bool
    commune_name: str
    insee_code: str
    services: tuple[OfferedService, ...]
    """Services the common slots serve (the form's choice of motif)."""
    times: tuple[FreeTime, ...]
    """Free common slots, one per time."""
    longer: tuple[tuple[OfferedService, FreeTime], ...]
    """Free slots of services longer than the common slots (their own duration)."""
    workshops: tuple[tuple[OfferedService, FreeTime], ...]
    bookable: bool


def stop_offer(session: Session, visit: t.Visit, now: datetime, cutoff_minutes: int) -> StopOffer:
    """Free slots of a published stop by service (individual times, group workshops)."""
    from mobile_services.service_layer.booking import crew_skills, seats_taken

    site = session.get(t.Site, visit.site_id)
    assert site is not None
    commune = session.get(t.Commune, site.commune_id)
    assert commune is not None
    skills = crew_skills(session, visit)
    catalogue = session.exec(select(t.Service).order_by(col(t.Service.id))).all()
    by_id = {s.id: s for s in catalogue}
    not_before = now + timedelta(minutes=cutoff_minutes)
    slots = session.exec(
        select(t.Slot)
        .where(t.Slot.visit_id == visit.id, t.Slot.walk_in == False, t.Slot.start_at >= not_before)  # noqa: E712
        .order_by(col(t.Slot.start_at), col(t.Slot.desk))
    ).all()
    taken = seats_taken(session, [s.id for s in slots], now)  # type: ignore[misc]
    times: list[FreeTime] = []
    longer: list[tuple[OfferedService, FreeTime]] = []
    workshops: list[tuple[OfferedService, FreeTime]] = []
    seen: set[tuple[int | None, datetime]] = set()
    for slot in slots:
        left = slot.capacity - taken.get(slot.id, 0)
        if left <= 0 or (slot.service_id, slot.start_at) in seen:
            continue  # two desks at one time look the same to a resident: offer one
        seen.add((slot.service_id, slot.start_at))
        free = FreeTime(slot_id=slot.id, start_at=slot.start_at, end_at=slot.end_at, seats_left=left, service_id=slot.service_id)  # type: ignore[arg-type]
        if slot.service_id is None:
            times.append(free)
        elif slot.service_id in by_id:
            (workshops if by_id[slot.service_id].is_group else longer).append((_offered(by_id[slot.service_id]), free))
    common = min((int((f.end_at - f.start_at).total_seconds() // 60) for f in times), default=0)
    services = tuple(
        _offered(s)
        for s in catalogue
        if not s.is_group and (s.required_skill is None or s.required_skill in skills) and s.duration_minutes <= common
    )
    plan = session.get(t.Plan, visit.plan_id)
    return StopOffer(
        visit_id=visit.id,  # type: ignore[arg-type]
        start_at=visit.start_at,
        end_at=visit.end_at,
        site_name=site.name,
        site_address=site.address,
        accessible=site.accessible,
        commune_name=commune.name,
        insee_code=commune.insee_code,
        services=services,
        times=tuple(times),
        longer=tuple(longer),
        workshops=tuple(workshops),
        bookable=visit.status == "planned" and plan is not None and plan.status == "published",
    )


def _offered(service: t.Service) -> OfferedService:
    return OfferedService(service_id=service.id, label=service.label, documents=tuple(service.documents))  # type: ignore[arg-type]
