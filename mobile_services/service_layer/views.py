"""Read models for pages: plain data a template can show, read in one short transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import select

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
            changed_at=booking.cancelled_at or booking.created_at,
            sequence=visit.ical_sequence + (1 if booking.status != "confirmed" else 0),
            held_seat=held_seat,
        )
